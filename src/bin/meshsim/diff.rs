//! `meshsim diff`: one request stream through the mesh before and after a change.

use crate::failure::Failure;
use crate::load::{MeshArgs, RequestArgs, build_stream, load_mesh, simulator};
use meshsim::compile::IstioVersion;
use meshsim::diff::{ChangeKind, Diff};
use meshsim::report::explain::{Explanation, explain_text};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

#[derive(clap::Args)]
pub struct Args {
    /// The mesh before the change (files or folders).
    #[arg(
        long,
        value_name = "FILE_OR_DIR",
        required_unless_present = "before_git"
    )]
    before: Vec<PathBuf>,
    /// The mesh after the change (files or folders).
    #[arg(long, value_name = "FILE_OR_DIR", required = true)]
    after: Vec<PathBuf>,
    /// Take "before" from this git revision of the --after paths (e.g. HEAD, origin/main).
    #[arg(long, value_name = "REV", conflicts_with = "before")]
    before_git: Option<String>,
    #[command(flatten)]
    requests: RequestArgs,
    /// Istio version whose behaviour to follow.
    #[arg(long, default_value_t = IstioVersion::NEWEST, value_name = "VERSION")]
    istio_version: IstioVersion,
    /// Seed of every random choice (the same on both sides).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fail (exit 1) when something loaded on either side is not simulated, instead of
    /// warning about it.
    #[arg(long)]
    strict: bool,
    /// Output format.
    #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
    output: String,
    /// Gate: fail when more than PCT% of requests change destination (host or subset).
    #[arg(long, value_name = "PCT")]
    max_moved: Option<f64>,
    /// Gate: fail when more than PCT% of requests succeed before and fail after.
    #[arg(long, value_name = "PCT")]
    max_new_errors: Option<f64>,
    /// Gate: fail when more than PCT% of requests change endpoint within the same destination.
    #[arg(long, value_name = "PCT")]
    max_endpoint_moved: Option<f64>,
    /// Without it, any status change fails the diff; with it, statuses may change.
    #[arg(long)]
    allow_status_change: bool,
}

/// Copies the `paths` as they are at `rev` into a fresh folder (via `git`), keeping their
/// relative layout; returns the folder and the copies' paths.
fn checkout(rev: &str, paths: &[PathBuf]) -> Result<(PathBuf, Vec<PathBuf>), String> {
    let git = |args: &[&str]| -> Result<String, String> {
        let out = Command::new("git")
            .args(args)
            .output()
            .map_err(|e| format!("git: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let root = std::env::temp_dir().join(format!("meshsim-before-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut out = Vec::new();
    for p in paths {
        let spec = p.to_string_lossy();
        let files = git(&[
            "ls-tree",
            "-r",
            "--name-only",
            "--full-name",
            rev,
            "--",
            &spec,
        ])?;
        let prefix = git(&["rev-parse", "--show-prefix"])?.trim().to_string();
        if files.trim().is_empty() {
            return Err(format!("{}: not in git revision {rev}", p.display()));
        }
        for f in files.lines() {
            let text = git(&["show", &format!("{rev}:{f}")])?;
            // Keep the path relative to where the command runs, as the user wrote it.
            let rel = f.strip_prefix(&prefix).unwrap_or(f);
            let dest = root.join(rel);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            std::fs::write(&dest, text).map_err(|e| format!("{}: {e}", dest.display()))?;
        }
        out.push(root.join(p));
    }
    Ok((root, out))
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let (scratch, before_paths) = match &args.before_git {
        Some(rev) => {
            let (root, paths) = checkout(rev, &args.after)?;
            (Some(root), paths)
        }
        None => (None, args.before.clone()),
    };
    let result = compare(&args, before_paths);
    if let Some(root) = scratch {
        let _ = std::fs::remove_dir_all(root);
    }
    result
}

fn compare(args: &Args, before_paths: Vec<PathBuf>) -> Result<ExitCode, Failure> {
    let side = |files: Vec<PathBuf>| MeshArgs {
        files,
        istio_version: args.istio_version,
        seed: args.seed,
        strict: args.strict,
        namespace: None,
    };
    let (mb, ma) = (side(before_paths), side(args.after.clone()));
    let before_mesh = load_mesh(&mb)?;
    let after_mesh = load_mesh(&ma)?;
    // Both sides' findings, each once.
    crate::load::report_not_simulated_in(&[&before_mesh, &after_mesh], args.strict)?;
    let mut before = simulator(&before_mesh, &mb)?;
    let mut after = simulator(&after_mesh, &ma)?;
    let (stream, from) = build_stream(&after_mesh, &ma, &args.requests)?;
    let diff = if args.requests.rate.is_some() || stream.has_times() {
        if stream.len() > meshsim::diff::MAX_TIMED_REQUESTS {
            return Err(crate::failure::usage(format!(
                "a timed diff holds one side's decisions in memory: at most {} requests",
                meshsim::diff::MAX_TIMED_REQUESTS
            )));
        }
        let interval = args.requests.rate.map(|r| 1e9 / r);
        let stream = &stream;
        let arrivals = (0..stream.len()).map(move |i| {
            let req = stream.get(i);
            let at = match interval {
                Some(iv) => (i as f64 * iv) as u64,
                None => req.time.unwrap_or(0),
            };
            (at, req)
        });
        meshsim::diff::compare_timed(&mut before, &mut after, arrivals)
    } else {
        // Requests are generated one at a time: memory does not grow with the stream.
        let requests = (0..stream.len()).map(|i| stream.get(i));
        meshsim::diff::compare(&mut before, &mut after, requests)
    };
    let label = |p: &[PathBuf]| {
        p.iter()
            .map(|x| x.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let before_label = match &args.before_git {
        Some(rev) => format!("{} at {rev}", label(&args.after)),
        None => label(&args.before),
    };
    let gates = gates(args, &diff);
    if args.output == "json" {
        println!(
            "{}",
            serde_json::to_string_pretty(&json(
                &diff,
                &before_label,
                &label(&args.after),
                &from,
                &gates
            ))
            .unwrap_or_default()
        );
    } else {
        print!(
            "{}",
            table(&diff, &before_label, &label(&args.after), &from)
        );
    }
    for g in &gates {
        eprintln!("meshsim: gate failed: {g}");
    }
    Ok(if gates.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

fn gates(args: &Args, d: &Diff) -> Vec<String> {
    let mut failed = Vec::new();
    let mut gate = |name: &str, limit: Option<f64>, value: f64, what: &str| {
        if let Some(l) = limit
            && value * 100.0 > l + 1e-9
        {
            failed.push(format!(
                "{name}: {} of requests {what}, more than {l}%",
                pct(value)
            ));
        }
    };
    gate(
        "--max-moved",
        args.max_moved,
        d.fraction(ChangeKind::Destination),
        "changed destination",
    );
    gate(
        "--max-new-errors",
        args.max_new_errors,
        d.new_error_fraction(),
        "now fail",
    );
    gate(
        "--max-endpoint-moved",
        args.max_endpoint_moved,
        d.fraction(ChangeKind::Endpoint),
        "changed endpoint",
    );
    if !args.allow_status_change && d.fraction(ChangeKind::Status) > 0.0 {
        failed.push(format!(
            "status changed for {} of requests (pass --allow-status-change to accept)",
            pct(d.fraction(ChangeKind::Status))
        ));
    }
    failed
}

fn shares<K: Ord + Clone>(
    b: &std::collections::BTreeMap<K, u64>,
    a: &std::collections::BTreeMap<K, u64>,
    n: u64,
) -> Vec<(K, f64, f64)> {
    let mut keys: Vec<&K> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    let f = |m: &std::collections::BTreeMap<K, u64>, k: &K| {
        m.get(k).copied().unwrap_or(0) as f64 / n.max(1) as f64
    };
    keys.into_iter()
        .map(|k| (k.clone(), f(b, k), f(a, k)))
        .collect()
}

fn kind_name(k: ChangeKind) -> &'static str {
    match k {
        ChangeKind::Route => "route changed",
        ChangeKind::Destination => "destination changed",
        ChangeKind::Endpoint => "endpoint changed (same destination)",
        ChangeKind::Status => "status changed",
        ChangeKind::Mirrors => "mirrors changed",
    }
}

fn table(d: &Diff, before: &str, after: &str, from: &str) -> String {
    let mut s = String::new();
    let n = d.requests;
    let _ = writeln!(
        s,
        "{n} requests ({from}) through\n  before: {before}\n  after:  {after}\n"
    );
    let section = |s: &mut String, title: &str, rows: Vec<(String, f64, f64)>| {
        let w = rows
            .iter()
            .map(|r| r.0.chars().count())
            .max()
            .unwrap_or(0)
            .max(title.len());
        let _ = writeln!(
            s,
            "{title:<w$}  {:>8}  {:>8}  {:>8}",
            "BEFORE", "AFTER", "DELTA"
        );
        for (k, b, a) in rows {
            let _ = writeln!(
                s,
                "{k:<w$}  {:>8}  {:>8}  {:>+7.2}%",
                pct(b),
                pct(a),
                (a - b) * 100.0
            );
        }
        s.push('\n');
    };
    section(
        &mut s,
        "ROUTE",
        shares(&d.before.routes, &d.after.routes, n),
    );
    section(
        &mut s,
        "DESTINATION",
        shares(&d.before.destinations, &d.after.destinations, n),
    );
    let eps = shares(&d.before.endpoints, &d.after.endpoints, n)
        .into_iter()
        .map(|((dst, ep), b, a)| (format!("{dst}  {ep}"), b, a))
        .collect();
    section(&mut s, "ENDPOINT", eps);
    let _ = writeln!(s, "CHANGED REQUESTS");
    for k in ChangeKind::ALL {
        let _ = writeln!(s, "  {:<36} {:>8}", kind_name(k), pct(d.fraction(k)));
    }
    for ((b, a), c) in &d.moves {
        let _ = writeln!(s, "    {b} -> {a}: {c}");
    }
    for ((b, a), c) in &d.status_changes {
        let _ = writeln!(s, "    status {b} -> {a}: {c}");
    }
    let _ = writeln!(
        s,
        "  {:<36} {:>8}",
        "succeeded before, fail after",
        pct(d.new_error_fraction())
    );
    let rate = |x: &meshsim::diff::Side| x.ok as f64 / n.max(1) as f64;
    let _ = writeln!(
        s,
        "  success rate {} -> {}",
        pct(rate(&d.before)),
        pct(rate(&d.after))
    );
    let _ = writeln!(
        s,
        "  tries per request {:.3} -> {:.3}",
        d.before.tries as f64 / n.max(1) as f64,
        d.after.tries as f64 / n.max(1) as f64
    );
    let ms = |x: &meshsim::diff::Side, p: f64| x.latency.percentile(p) as f64 / 1e6;
    let _ = writeln!(
        s,
        "  latency p50/p90/p99 ms {:.1}/{:.1}/{:.1} -> {:.1}/{:.1}/{:.1}",
        ms(&d.before, 0.5),
        ms(&d.before, 0.9),
        ms(&d.before, 0.99),
        ms(&d.after, 0.5),
        ms(&d.after, 0.9),
        ms(&d.after, 0.99)
    );
    if d.is_empty() {
        let _ = writeln!(s, "\nno request changed");
        return s;
    }
    for (k, examples) in &d.examples {
        let _ = writeln!(s, "\nEXAMPLES: {}", kind_name(*k));
        for e in examples {
            let _ = writeln!(s, "#{} {}", e.index, e.request);
            if let Some((b, a)) = &e.traces {
                let b = explain_text(&e.request, &e.before, b);
                let a = explain_text(&e.request, &e.after, a);
                let _ = writeln!(s, "  before:\n{}", indent(&b));
                let _ = writeln!(s, "  after:\n{}", indent(&a));
            }
        }
    }
    s
}

fn indent(t: &str) -> String {
    t.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn json(d: &Diff, before: &str, after: &str, from: &str, gates: &[String]) -> serde_json::Value {
    use serde_json::json;
    let n = d.requests;
    let rows = |v: Vec<(String, f64, f64)>| -> Vec<serde_json::Value> {
        v.into_iter()
            .map(|(k, b, a)| json!({"name": k, "before": b, "after": a, "delta": a - b}))
            .collect()
    };
    let eps = shares(&d.before.endpoints, &d.after.endpoints, n)
        .into_iter()
        .map(|((dst, ep), b, a)| json!({"destination": dst, "endpoint": ep, "before": b, "after": a, "delta": a - b}))
        .collect::<Vec<_>>();
    let changed: serde_json::Map<String, serde_json::Value> = ChangeKind::ALL
        .iter()
        .map(|k| {
            (
                serde_json::to_value(k)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
                json!(d.fraction(*k)),
            )
        })
        .collect();
    json!({
        "before": before,
        "after": after,
        "requests": n,
        "from": from,
        "routes": rows(shares(&d.before.routes, &d.after.routes, n)),
        "destinations": rows(shares(&d.before.destinations, &d.after.destinations, n)),
        "endpoints": eps,
        "changed": changed,
        "moves": d.moves.iter().map(|((b, a), c)| json!({"from": b, "to": a, "requests": c})).collect::<Vec<_>>(),
        "statusChanges": d.status_changes.iter().map(|((b, a), c)| json!({"from": b, "to": a, "requests": c})).collect::<Vec<_>>(),
        "newErrors": d.new_error_fraction(),
        "successRate": {"before": d.before.ok as f64 / n.max(1) as f64, "after": d.after.ok as f64 / n.max(1) as f64},
        "examples": d.examples.iter().map(|(k, v)| json!({"kind": k, "requests": v.iter().map(|e| json!({"index": e.index, "request": e.request.to_string(), "before": e.traces.as_ref().map(|t| Explanation::new(&e.request, &e.before, &t.0)), "after": e.traces.as_ref().map(|t| Explanation::new(&e.request, &e.after, &t.1))})).collect::<Vec<_>>()})).collect::<Vec<_>>(),
        "gatesFailed": gates,
    })
}
