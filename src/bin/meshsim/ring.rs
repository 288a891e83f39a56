//! `meshsim ring`: the hash-ring lab. Distribution, disruption and cost of Envoy's ring hash and
//! maglev (the simulator's own code) against jump, rendezvous, multi-probe and bounded load.

use crate::load::{MeshArgs, load_mesh};
use meshsim::compile::{CompiledMesh, IstioVersion};
use meshsim::lab::{
    self, Algorithm, AlgorithmReport, Change, KeyDist, KeyHash, KeySpec, LabConfig,
};
use meshsim::lb::{Host, LbPolicy};
use std::fmt::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Algorithms to measure: ring-hash, maglev, jump, rendezvous, multi-probe, bounded-load,
    /// or all (comma-separated or repeated). With -f the cluster's own algorithm by default.
    #[arg(short, long, value_delimiter = ',')]
    algorithm: Vec<String>,
    /// Synthetic endpoints `10.0.{i/256}.{i%256}:6379` (Envoy's benchmark hosts).
    #[arg(long, default_value_t = 10, conflicts_with = "files")]
    endpoints: usize,
    /// Endpoint weights: a list `1,1,2` or pairs `I=W` (others weigh 1).
    #[arg(long, value_name = "W,W,...|I=W,...")]
    weights: Option<String>,
    /// Ring hash `minimum_ring_size` (Envoy default 1024).
    #[arg(long)]
    min_ring_size: Option<u64>,
    /// Ring hash `maximum_ring_size` (Envoy default 8388608).
    #[arg(long)]
    max_ring_size: Option<u64>,
    /// Maglev `table_size`, a prime (Envoy default 65537).
    #[arg(long)]
    table_size: Option<u64>,
    /// Multi-probe: probes per lookup.
    #[arg(long, default_value_t = lab::multi_probe::DEFAULT_PROBES)]
    probes: u32,
    /// Bounded load: Envoy's `hash_balance_factor` (percent, ≥ 100).
    #[arg(long, default_value_t = 125)]
    hash_balance_factor: u32,
    /// Bounded load: the structure it corrects (ring-hash or maglev).
    #[arg(long, default_value = "ring-hash")]
    bounded_base: String,
    /// Keys (requests) to place.
    #[arg(long, default_value_t = 100_000)]
    keys: u64,
    /// Key popularity: uniform (each key once) or zipf:S.
    #[arg(long, default_value = "uniform")]
    key_dist: String,
    /// Key hash: xxh64 (Envoy), siphash13 or murmur2 (Envoy's alternative).
    #[arg(long, default_value = "xxh64")]
    key_hash: String,
    /// Seed of the keys (0 with uniform xxh64 keys: Envoy's benchmark keys).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Disruption when this many endpoints are added.
    #[arg(long, value_name = "N")]
    add: Option<usize>,
    /// Disruption when this many endpoints are removed (from the end).
    #[arg(long, value_name = "N")]
    remove: Option<usize>,
    /// Disruption when endpoint I gets weight W.
    #[arg(long, value_name = "I=W")]
    reweight: Vec<String>,
    /// Use the endpoints and ring/table of a real mesh's hashing clusters.
    #[arg(short = 'f', long = "filename", value_name = "FILE_OR_DIR")]
    files: Vec<PathBuf>,
    /// With -f: only the cluster with this name (or containing this text).
    #[arg(long)]
    cluster: Option<String>,
    /// Istio version for -f.
    #[arg(long, default_value_t = IstioVersion::NEWEST, value_name = "VERSION")]
    istio_version: IstioVersion,
    /// Draw the ring or table and the load per endpoint into this SVG file.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Output format.
    #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
    output: String,
    /// Leave out timings, so the output is byte-identical from run to run.
    #[arg(long)]
    no_timing: bool,
    /// Reproduce Envoy's ring-hash and maglev benchmarks and print their counters.
    #[arg(long, conflicts_with_all = ["files", "algorithm"])]
    envoy_bench: bool,
}

/// One set of endpoints to measure: synthetic, or a mesh cluster.
struct Subject {
    title: String,
    hosts: Vec<Host>,
    config: LabConfig,
    algorithms: Vec<Algorithm>,
}

fn parse_algorithms(list: &[String]) -> Result<Vec<Algorithm>, String> {
    let mut out = Vec::new();
    for a in list {
        if a == "all" {
            out.extend(Algorithm::ALL);
        } else {
            out.push(a.parse()?);
        }
    }
    out.dedup();
    Ok(out)
}

fn parse_weights(s: &str, n: usize) -> Result<Vec<u32>, String> {
    let bad = |x: &str| format!("--weights: `{x}` is not a weight (a positive integer) or I=W");
    let mut w = vec![1u32; n];
    for (pos, item) in s.split(',').map(str::trim).enumerate() {
        let (i, v) = match item.split_once('=') {
            Some((i, v)) => (i.parse::<usize>().map_err(|_| bad(item))?, v),
            None => (pos, item),
        };
        let v: u32 = v.parse().map_err(|_| bad(item))?;
        if v == 0 {
            return Err(format!(
                "--weights: `{item}`: weights are at least 1, as in Envoy"
            ));
        }
        *w.get_mut(i)
            .ok_or_else(|| format!("--weights: endpoint {i} does not exist (there are {n})"))? = v;
    }
    Ok(w)
}

fn is_prime(n: u64) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

fn base_config(args: &Args) -> Result<LabConfig, String> {
    let d = LabConfig::default();
    let c = LabConfig {
        minimum_ring_size: args.min_ring_size.unwrap_or(d.minimum_ring_size),
        maximum_ring_size: args.max_ring_size.unwrap_or(d.maximum_ring_size),
        table_size: args.table_size.unwrap_or(d.table_size),
        probes: args.probes.max(1),
        hash_balance_factor: args.hash_balance_factor,
        bounded_base: args.bounded_base.parse()?,
    };
    check_config(&c)?;
    Ok(c)
}

fn check_config(c: &LabConfig) -> Result<(), String> {
    if !is_prime(c.table_size) {
        return Err(format!(
            "--table-size {}: maglev's table size must be prime (Envoy rejects others); try 65537 or 655373",
            c.table_size
        ));
    }
    if c.minimum_ring_size == 0 || c.minimum_ring_size > c.maximum_ring_size {
        return Err(format!(
            "ring size: minimum {} must be at least 1 and at most the maximum {}",
            c.minimum_ring_size, c.maximum_ring_size
        ));
    }
    if c.maximum_ring_size > 8 * 1024 * 1024 {
        return Err("--max-ring-size: Envoy limits rings to 8M entries (8388608)".into());
    }
    if c.hash_balance_factor < 100 {
        return Err("--hash-balance-factor: at least 100 (percent of the mean load)".into());
    }
    Ok(())
}

fn subjects(args: &Args) -> Result<Vec<Subject>, String> {
    let config = base_config(args)?;
    let requested = parse_algorithms(&args.algorithm)?;
    if args.files.is_empty() {
        if args.endpoints == 0 || args.endpoints > 65_536 {
            return Err("--endpoints: between 1 and 65536".into());
        }
        let weights = match &args.weights {
            Some(w) => parse_weights(w, args.endpoints)?,
            None => Vec::new(),
        };
        return Ok(vec![Subject {
            title: format!("{} synthetic endpoints 10.0.x.y:6379", args.endpoints),
            hosts: lab::synthetic_endpoints(args.endpoints, &weights),
            config,
            algorithms: if requested.is_empty() {
                vec![Algorithm::RingHash]
            } else {
                requested
            },
        }]);
    }
    let mesh = load_mesh(&MeshArgs {
        files: args.files.clone(),
        istio_version: args.istio_version,
        seed: 0,
        strict: false,
        namespace: None,
    })?;
    let compiled = CompiledMesh::new(&mesh, args.istio_version);
    let mut out = Vec::new();
    for c in &compiled.clusters {
        if let Some(want) = &args.cluster
            && !c.name.contains(want.as_str())
        {
            continue;
        }
        let (own, mut cfg) = match lab::for_policy(c.lb, &config) {
            Some(x) => x,
            None if args.cluster.is_some() => (Algorithm::RingHash, config.clone()),
            None => continue,
        };
        if c.hosts.is_empty() {
            continue;
        }
        // Flags still override the policy's sizes, to see what another size would give.
        if let Some(m) = args.min_ring_size {
            cfg.minimum_ring_size = m;
        }
        if let Some(t) = args.table_size {
            cfg.table_size = t;
        }
        check_config(&cfg)?;
        let overridden = match c.lb {
            LbPolicy::RingHash {
                minimum_ring_size, ..
            } if minimum_ring_size != cfg.minimum_ring_size => {
                format!(
                    ", measured with minimum ring size {}",
                    cfg.minimum_ring_size
                )
            }
            LbPolicy::Maglev { table_size } if table_size != cfg.table_size => {
                format!(", measured with table size {}", cfg.table_size)
            }
            _ => String::new(),
        };
        let mut hosts = c.hosts.clone();
        if let Some(w) = &args.weights {
            let ws = parse_weights(w, hosts.len())?;
            for (h, w) in hosts.iter_mut().zip(ws) {
                h.weight = w;
            }
        }
        out.push(Subject {
            title: format!(
                "cluster {} ({} endpoints, {}{overridden})",
                c.name,
                hosts.len(),
                c.lb
            ),
            hosts,
            config: cfg,
            algorithms: if requested.is_empty() {
                vec![own]
            } else {
                requested.clone()
            },
        });
    }
    if out.is_empty() {
        return Err(match &args.cluster {
            Some(n) => format!("no cluster with endpoints matches `{n}`"),
            None => "no cluster in the mesh uses consistentHash with endpoints; \
                     name one with --cluster to measure it anyway"
                .into(),
        });
    }
    Ok(out)
}

fn changes(args: &Args) -> Result<Vec<Change>, String> {
    let mut out = Vec::new();
    if let Some(n) = args.add {
        out.push(Change::Add(n));
    }
    if let Some(n) = args.remove {
        out.push(Change::Remove(n));
    }
    for r in &args.reweight {
        out.push(format!("reweight:{r}").parse()?);
    }
    Ok(out)
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    if args.envoy_bench {
        return envoy_bench(&args);
    }
    if args.keys == 0 || args.keys > 100_000_000 {
        return Err("--keys: between 1 and 100000000".into());
    }
    let spec = KeySpec {
        count: args.keys,
        dist: args.key_dist.parse::<KeyDist>()?,
        hash: args.key_hash.parse::<KeyHash>()?,
        seed: args.seed,
    };
    let changes = changes(&args)?;
    let subjects = subjects(&args)?;
    let keys = spec.generate();
    let start = Instant::now();
    let mut clock = || start.elapsed().as_nanos() as u64;
    let mut results: Vec<(Subject, Vec<AlgorithmReport>)> = Vec::new();
    for s in subjects {
        let mut reports = Vec::new();
        for &a in &s.algorithms {
            match lab::study(a, &s.hosts, &keys, &s.config, &changes, &mut clock) {
                Ok(r) => reports.push(r),
                // In a comparison, one algorithm that cannot take part (jump has no weights)
                // does not cancel the others.
                Err(e) if s.algorithms.len() > 1 => eprintln!("meshsim: {a} left out: {e}"),
                Err(e) => return Err(format!("{a}: {e}")),
            }
        }
        results.push((s, reports));
    }
    if let Some(path) = &args.svg {
        let pictures: Vec<_> = results
            .iter()
            .flat_map(|(s, rs)| {
                rs.iter()
                    .map(move |r| (s, r, lab::svg::picture(r.algorithm, &s.hosts, &s.config)))
            })
            .collect();
        let panels: Vec<_> = pictures
            .iter()
            .map(|(s, r, (arcs, caption))| lab::svg::Panel {
                report: r,
                hosts: &s.hosts,
                arcs,
                caption,
            })
            .collect();
        std::fs::write(path, lab::svg::render(&panels))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let out = if args.output == "json" {
        json(&spec, &results, args.no_timing)
    } else {
        table(&spec, &results, args.no_timing)
    };
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

fn json(spec: &KeySpec, results: &[(Subject, Vec<AlgorithmReport>)], no_timing: bool) -> String {
    let subjects: Vec<_> = results
        .iter()
        .map(|(s, rs)| {
            let algorithms: Vec<_> = rs
                .iter()
                .map(|r| {
                    let mut v = serde_json::to_value(r).unwrap_or_default();
                    if no_timing && let Some(o) = v.as_object_mut() {
                        o.remove("build_ns");
                        o.remove("lookup_ns_per_key");
                    }
                    v
                })
                .collect();
            serde_json::json!({
                "subject": s.title,
                "endpoints": s.hosts.iter().map(|h| serde_json::json!({"address": h.address, "weight": h.weight})).collect::<Vec<_>>(),
                "config": s.config,
                "algorithms": algorithms,
            })
        })
        .collect();
    let v = serde_json::json!({ "keys": spec, "subjects": subjects });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

fn bytes(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

fn table(spec: &KeySpec, results: &[(Subject, Vec<AlgorithmReport>)], no_timing: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "keys: {} ({}, {:?} key hash, seed {})",
        spec.count, spec.dist, spec.hash, spec.seed
    );
    for (subject, reports) in results {
        let _ = writeln!(s, "\n{}", subject.title);
        let mut head = vec![
            "algorithm",
            "min",
            "mean",
            "max",
            "max/mean",
            "stddev",
            "cv",
            "p50",
            "p95",
            "p99",
            "zero",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        if !no_timing {
            head.extend(["build".into(), "ns/key".into()]);
        }
        head.push("memory".into());
        if let Some(r) = reports.first() {
            for d in &r.disruption {
                head.push(format!("{} moved (×ideal)", d.change));
            }
        }
        let mut rows = vec![head];
        for r in reports {
            let l = &r.load;
            let mut row = vec![
                r.algorithm.to_string(),
                l.min.to_string(),
                format!("{:.1}", l.mean),
                l.max.to_string(),
                format!("{:.3}", l.max_over_mean),
                format!("{:.1}", l.stddev),
                format!("{:.4}", l.cv),
                format!("{:.3}", l.p50_over_mean),
                format!("{:.3}", l.p95_over_mean),
                format!("{:.3}", l.p99_over_mean),
                l.zero.to_string(),
            ];
            if !no_timing {
                row.push(format!("{:.2} ms", r.build_ns as f64 / 1e6));
                row.push(format!("{:.1}", r.lookup_ns_per_key));
            }
            row.push(bytes(r.memory_bytes));
            for d in &r.disruption {
                row.push(format!("{:.3}% ({:.2}×)", d.moved * 100.0, d.ratio));
            }
            rows.push(row);
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for row in &rows {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (cell, w))| {
                    if i == 0 {
                        format!("{cell:<w$}")
                    } else {
                        format!("{cell:>w$}")
                    }
                })
                .collect();
            let _ = writeln!(s, "{}", line.join("  ").trim_end());
        }
        // Few endpoints (a real policy's pods): show each one's keys against its fair share.
        if subject.hosts.len() <= 32 && !reports.is_empty() {
            let wsum: f64 = subject.hosts.iter().map(|h| h.weight as f64).sum();
            let aw = subject
                .hosts
                .iter()
                .map(|h| h.address.len())
                .max()
                .unwrap_or(0);
            let names: Vec<String> = reports
                .iter()
                .map(|r| format!("{:>14}", r.algorithm.name()))
                .collect();
            let _ = writeln!(s, "{:<aw$}  weight  {}", "endpoint", names.join(""));
            for (i, h) in subject.hosts.iter().enumerate() {
                let fair = spec.count as f64 * h.weight as f64 / wsum;
                let cells: Vec<String> = reports
                    .iter()
                    .map(|r| format!("{:>8} {:.2}×", r.hits[i], r.hits[i] as f64 / fair))
                    .collect();
                let _ = writeln!(s, "{:<aw$}  {:>6}  {}", h.address, h.weight, cells.join(""));
            }
        }
        if let Some(r) = reports.first() {
            for d in &r.disruption {
                let _ = writeln!(
                    s,
                    "ideal for {}: {:.3}% of keys (the weight share that changes hands; an uneven structure can move less)",
                    d.change,
                    d.ideal * 100.0
                );
            }
        }
    }
    s
}

fn envoy_bench(args: &Args) -> Result<ExitCode, String> {
    let rows = lab::envoy_bench::run();
    if args.output == "json" {
        let v: Vec<_> = rows
            .iter()
            .map(|r| {
                let counters: serde_json::Map<String, serde_json::Value> = r
                    .counters
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::json!(v)))
                    .collect();
                serde_json::json!({"name": r.name, "counters": counters})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Envoy's load-balancer benchmarks (hosts 10.0.x.y:6379, keys hashInt(i)), as Google Benchmark prints counters:"
    );
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for r in &rows {
        let counters: Vec<String> = r
            .counters
            .iter()
            .map(|(k, v)| format!("{k}={}", lab::envoy_bench::format_g(*v)))
            .collect();
        println!("{:<width$}  {}", r.name, counters.join(" "));
    }
    Ok(ExitCode::SUCCESS)
}
