//! Rendering: pure functions from summaries, decisions and traces to text or JSON.

pub mod explain;
pub mod html;
mod table;
pub mod tests;

pub use explain::{explain_json, explain_text};
pub use table::Table;

use crate::sim::{Decision, Summary};
use serde_json::{Value, json};
use std::fmt::Write;

/// What a run was, so that reports are reproducible.
#[derive(Clone, Debug, Default)]
pub struct RunInfo {
    /// Files and folders loaded.
    pub files: Vec<String>,
    /// Istio version profile.
    pub istio_version: String,
    /// Seed.
    pub seed: u64,
    /// Where the requests came from.
    pub requests_from: String,
}

fn pct(n: u64, of: u64) -> String {
    if of == 0 {
        "-".into()
    } else {
        format!("{:.1}%", n as f64 * 100.0 / of as f64)
    }
}

/// The human summary: routes, destinations (with expected shares), endpoints, statuses,
/// mirrors.
pub fn summary_table(s: &Summary, info: &RunInfo) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} requests ({}), seed {}, Istio {}",
        s.requests, info.requests_from, info.seed, info.istio_version
    );
    let n = s.requests;
    let mut t = Table::new(["ROUTE", "REQUESTS", "SHARE"]);
    for (r, c) in &s.routes {
        t.row([r.clone(), c.to_string(), pct(*c, n)]);
    }
    out.push('\n');
    out.push_str(&t.render());
    if !s.destinations.is_empty() {
        let mut t = Table::new([
            "ROUTE",
            "DESTINATION",
            "REQUESTS",
            "SHARE OF ROUTE",
            "EXPECTED",
        ]);
        for ((r, d), c) in &s.destinations {
            let route_total = s.routes.get(r).copied().unwrap_or(0);
            t.row([
                r.clone(),
                d.clone(),
                c.count.to_string(),
                pct(c.count, route_total),
                c.expected
                    .map_or("-".into(), |e| format!("{:.1}%", e * 100.0)),
            ]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
    if !s.endpoints.is_empty() {
        let mut t = Table::new([
            "DESTINATION",
            "ENDPOINT",
            "WORKLOAD",
            "REQUESTS",
            "SHARE OF DESTINATION",
            "EXPECTED",
        ]);
        for ((d, e, w), c) in &s.endpoints {
            let dest_total = s.destination_count(d);
            t.row([
                d.clone(),
                e.clone(),
                w.clone(),
                c.count.to_string(),
                pct(c.count, dest_total),
                c.expected
                    .map_or("-".into(), |x| format!("{:.1}%", x * 100.0)),
            ]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
    let mut t = Table::new(["STATUS", "FLAGS", "REQUESTS", "SHARE"]);
    for ((st, f), c) in &s.statuses {
        t.row([st.to_string(), f.clone(), c.to_string(), pct(*c, n)]);
    }
    out.push('\n');
    out.push_str(&t.render());
    if !s.mirrors.is_empty() {
        let mut t = Table::new(["MIRRORED TO", "ENDPOINT", "COPIES", "SHARE OF REQUESTS"]);
        for ((h, e), c) in &s.mirrors {
            t.row([h.clone(), e.clone(), c.to_string(), pct(*c, n)]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
    if s.has_resilience() {
        let ms = |ns: u64| format!("{:.1}ms", ns as f64 / 1e6);
        let _ = writeln!(
            out,
            "\nsuccess rate {:.2}% ({} of {}); latency p50 {}, p90 {}, p99 {}, max {}",
            s.success_rate() * 100.0,
            s.succeeded,
            n,
            ms(s.latency.percentile(50.0)),
            ms(s.latency.percentile(90.0)),
            ms(s.latency.percentile(99.0)),
            ms(s.latency.max()),
        );
        let mut t = Table::new(["TRIES", "REQUESTS", "SHARE"]);
        for (k, c) in &s.tries {
            t.row([k.to_string(), c.to_string(), pct(*c, n)]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
    if s.passthrough > 0 {
        let _ = writeln!(
            out,
            "\n{} request(s) passed through to the address the client dialled (PassthroughCluster)",
            s.passthrough
        );
    }
    out
}

/// The summary as JSON.
pub fn summary_json(s: &Summary, info: &RunInfo) -> Value {
    json!({
        "inputs": {
            "files": info.files,
            "istioVersion": info.istio_version,
            "seed": info.seed,
            "requestsFrom": info.requests_from,
        },
        "requests": s.requests,
        "routes": s.routes.iter().map(|(r, c)| json!({"route": r, "requests": c})).collect::<Vec<_>>(),
        "destinations": s.destinations.iter().map(|((r, d), c)| json!({
            "route": r, "destination": d, "requests": c.count, "expectedShareOfRoute": c.expected,
        })).collect::<Vec<_>>(),
        "endpoints": s.endpoints.iter().map(|((d, e, w), c)| json!({
            "destination": d, "endpoint": e, "workload": w, "requests": c.count,
            "expectedShareOfDestination": c.expected,
        })).collect::<Vec<_>>(),
        "statuses": s.statuses.iter().map(|((st, f), c)| json!({
            "status": st, "flags": f, "requests": c,
        })).collect::<Vec<_>>(),
        "mirrors": s.mirrors.iter().map(|((h, e), c)| json!({
            "destination": h, "endpoint": e, "copies": c,
        })).collect::<Vec<_>>(),
        "passthrough": s.passthrough,
        "succeeded": s.succeeded,
        "successRate": s.success_rate(),
        "tries": s.tries.iter().map(|(k, c)| json!({"tries": k, "requests": c})).collect::<Vec<_>>(),
        "latencyMs": {
            "p50": s.latency.percentile(50.0) as f64 / 1e6,
            "p90": s.latency.percentile(90.0) as f64 / 1e6,
            "p99": s.latency.percentile(99.0) as f64 / 1e6,
            "max": s.latency.max() as f64 / 1e6,
        },
    })
}

/// One decision as a JSON line.
pub fn decision_json(d: &Decision) -> String {
    serde_json::to_string(d).unwrap_or_default()
}
