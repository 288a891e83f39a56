//! The visual report: one self-contained HTML file (inline SVG and CSS, no script, no fetches)
//! with the traffic graph, Grafana-like panels over simulated time, per-route tables of
//! configured against observed weights, the ring or table of consistent-hash destinations, and
//! the inputs that make the run reproducible. It reads with scripting disabled and prints.

pub mod charts;
pub mod graph;
pub mod recorder;
pub mod tests_page;

use std::fmt::Write;

use charts::{Axes, Series, line_chart};
pub use recorder::Recorder;

use super::RunInfo;
use crate::Mesh;
use crate::compile::CompiledMesh;
use crate::config::{HttpMatchRequest, StringMatch};
use crate::lab::{self, KeySpec, LabConfig};
use crate::sim::{Summary, short_host};

/// Escapes text for HTML and XML: the one the ring lab's SVG uses.
pub use crate::lab::svg::escape;

const CSS: &str = r#"
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px auto; max-width: 1040px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ccc; }
svg { width: 100%; height: auto; font: 11px sans-serif; }
svg .h { font-weight: bold; font-size: 12px; } svg .e { fill: #333; font-size: 10px; }
.panels { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2), th:nth-child(3), td:nth-child(3) { text-align: left; }
.text th, .text td { text-align: left; }
.bad { color: #c22; font-weight: bold; } .ok { color: #286; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; }
dt { font-weight: bold; }
@media print { .panels { grid-template-columns: 1fr 1fr; } h2 { break-after: avoid; } svg { break-inside: avoid; } }
"#;

/// The observed share's band: expected ± 3 standard deviations of a binomial proportion over
/// `n` requests (about 99.7% of runs fall inside when the policy is what it says).
pub fn band(expected: f64, n: u64) -> (f64, f64) {
    let sd = (expected * (1.0 - expected) / n.max(1) as f64).sqrt();
    (
        (expected - 3.0 * sd).max(0.0),
        (expected + 3.0 * sd).min(1.0),
    )
}

/// The whole page.
pub fn page(
    summary: &Summary,
    rec: &Recorder,
    info: &RunInfo,
    compiled: Option<&CompiledMesh<'_>>,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>meshsim report</title>\n<style>{CSS}</style>\n</head>\n<body>"
    );
    let _ = writeln!(s, "<h1>meshsim report</h1>");
    inputs(&mut s, summary, info);
    let _ = writeln!(s, "<h2>Traffic graph</h2>\n{}", graph::render(rec));
    panels(&mut s, summary, rec);
    routes(&mut s, summary, rec, compiled.map(|c| c.mesh));
    if let Some(c) = compiled {
        rings(&mut s, rec, c);
    }
    let _ = writeln!(s, "</body>\n</html>");
    s
}

fn inputs(s: &mut String, summary: &Summary, info: &RunInfo) {
    let _ = writeln!(s, "<h2>Inputs</h2>\n<dl>");
    let rows = [
        ("files", info.files.join(", ")),
        ("Istio version", info.istio_version.clone()),
        ("seed", info.seed.to_string()),
        ("requests", summary.requests.to_string()),
        ("from", info.requests_from.clone()),
        (
            "success rate",
            format!("{:.2}%", summary.success_rate() * 100.0),
        ),
    ];
    for (k, v) in rows {
        let _ = writeln!(s, "<dt>{k}</dt><dd>{}</dd>", escape(&v));
    }
    let _ = writeln!(s, "</dl>");
}

fn panels(s: &mut String, summary: &Summary, rec: &Recorder) {
    let (scale, x_label) = if rec.timed {
        (1e-9, "simulated time (s)")
    } else {
        (1.0, "request number")
    };
    let x = |i: usize| (i as f64 + 0.5) * rec.width as f64 * scale;
    let width_s = rec.width as f64 * scale;
    let mut names: Vec<&String> = rec
        .buckets
        .iter()
        .flat_map(|b| b.destinations.keys())
        .collect();
    names.sort();
    names.dedup();
    // Timed: requests per second of simulated time. Untimed: each destination's share of the
    // bucket's requests, since there is no clock to divide by.
    let per = if rec.timed {
        "requests per second"
    } else {
        "% of requests"
    };
    let value = |i: usize, n: u64| {
        if rec.timed {
            n as f64 / (width_s * rec.coverage(i))
        } else {
            n as f64 * 100.0 / rec.buckets[i].requests.max(1) as f64
        }
    };
    let per_dest: Vec<Series> = names
        .iter()
        .map(|name| Series {
            name: (*name).clone(),
            points: rec
                .buckets
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    (
                        x(i),
                        value(i, b.destinations.get(*name).copied().unwrap_or(0)),
                    )
                })
                .collect(),
        })
        .collect();
    let nonempty = || {
        rec.buckets
            .iter()
            .enumerate()
            .filter(|(_, b)| b.requests > 0)
    };
    let success = vec![Series {
        name: "success rate".into(),
        points: nonempty()
            .map(|(i, b)| (x(i), b.ok as f64 * 100.0 / b.requests as f64))
            .collect(),
    }];
    let retries = vec![Series {
        name: "retries per request".into(),
        points: nonempty()
            .map(|(i, b)| (x(i), (b.tries - b.requests) as f64 / b.requests as f64))
            .collect(),
    }];
    let _ = writeln!(s, "<h2>Panels</h2>\n<div class=\"panels\">");
    let title = format!("Requests by destination ({per})");
    s.push_str(&line_chart(
        &Axes {
            title: &title,
            x_label,
            y_label: per,
            y_max: None,
        },
        &per_dest,
    ));
    s.push_str(&line_chart(
        &Axes {
            title: "Success rate (2xx/3xx)",
            x_label,
            y_label: "%",
            y_max: Some(100.0),
        },
        &success,
    ));
    if summary.has_resilience() {
        // Latencies::percentile takes percent (50.0), not a fraction.
        let lat: Vec<Series> = [("p50", 50.0), ("p90", 90.0), ("p99", 99.0)]
            .iter()
            .map(|(n, p)| Series {
                name: (*n).into(),
                points: nonempty()
                    .map(|(i, b)| (x(i), b.latency.percentile(*p) as f64 / 1e6))
                    .collect(),
            })
            .collect();
        s.push_str(&line_chart(
            &Axes {
                title: "Latency percentiles",
                x_label,
                y_label: "ms",
                y_max: None,
            },
            &lat,
        ));
    }
    s.push_str(&line_chart(
        &Axes {
            title: "Retries per request",
            x_label,
            y_label: "retries",
            y_max: None,
        },
        &retries,
    ));
    let _ = writeln!(s, "</div>");
}

/// A rule's `match` blocks in short form: `uri prefix /api, header cookie ~ ^(.*?;)?(a=1)` per
/// block, blocks joined by "or" (Istio ORs blocks and ANDs conditions inside one).
pub fn describe_matches(matches: &[HttpMatchRequest]) -> String {
    fn sm(what: &str, m: &StringMatch) -> String {
        match (&m.exact, &m.prefix, &m.regex) {
            (Some(e), _, _) => format!("{what} = {e}"),
            (_, Some(p), _) => format!("{what} prefix {p}"),
            (_, _, Some(r)) => format!("{what} ~ {r}"),
            _ => format!("{what} present"),
        }
    }
    if matches.is_empty() {
        return "any request".into();
    }
    matches
        .iter()
        .map(|m| {
            let mut parts = Vec::new();
            for (what, v) in [
                ("uri", &m.uri),
                ("scheme", &m.scheme),
                ("method", &m.method),
                ("authority", &m.authority),
            ] {
                if let Some(v) = v {
                    parts.push(sm(what, v));
                }
            }
            for (k, v) in &m.headers {
                parts.push(sm(&format!("header {k}"), v));
            }
            for (k, v) in &m.without_headers {
                parts.push(format!("not {}", sm(&format!("header {k}"), v)));
            }
            for (k, v) in &m.query_params {
                parts.push(sm(&format!("query {k}"), v));
            }
            if let Some(p) = m.port {
                parts.push(format!("port {p}"));
            }
            if !m.source_labels.is_empty() {
                let l: Vec<String> = m
                    .source_labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                parts.push(format!("source {}", l.join(",")));
            }
            if !m.gateways.is_empty() {
                parts.push(format!("gateways {}", m.gateways.join(",")));
            }
            if parts.is_empty() {
                "any request".to_string()
            } else {
                parts.join(" and ")
            }
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

fn matches_of(rec: &Recorder, mesh: Option<&Mesh>, route: &str) -> String {
    let (Some(mesh), Some(r)) = (mesh, rec.route_rules.get(route)) else {
        return "-".into();
    };
    let (vs, rule) = r.delegate.unwrap_or((r.virtual_service, r.rule));
    mesh.virtual_services
        .get(vs)
        .and_then(|v| v.spec.http.get(rule))
        .map_or("-".into(), |h| describe_matches(&h.matches))
}

fn routes(s: &mut String, summary: &Summary, rec: &Recorder, mesh: Option<&Mesh>) {
    let _ = writeln!(
        s,
        "<h2>Routes: configured against observed</h2>\n<p>Band: the configured weight ± 3 standard deviations of a proportion over the route's requests.</p>\n<table>\n<thead><tr><th>route</th><th>matches</th><th>destination</th><th>requests</th><th>configured</th><th>observed</th><th>band</th><th></th></tr></thead>\n<tbody>"
    );
    // In rule order (VirtualService, then its http[] position), as the proxy tries them; rows
    // of istiod's own routes (no rule) last.
    let mut rows: Vec<_> = summary.destinations.iter().collect();
    rows.sort_by_key(|((route, dest), _)| {
        let rule = rec
            .route_rules
            .get(route)
            .map_or((usize::MAX, usize::MAX), |r| (r.virtual_service, r.rule));
        (rule, route.clone(), dest.clone())
    });
    for ((route, dest), c) in rows {
        let n = summary.routes.get(route).copied().unwrap_or(0);
        let observed = c.count as f64 / n.max(1) as f64;
        let (cfg, band_text, verdict) = match c.expected {
            Some(e) => {
                let (lo, hi) = band(e, n);
                let inside = observed >= lo - 1e-12 && observed <= hi + 1e-12;
                (
                    format!("{:.1}%", e * 100.0),
                    format!("{:.1}–{:.1}%", lo * 100.0, hi * 100.0),
                    if inside {
                        "<span class=\"ok\">within</span>"
                    } else {
                        "<span class=\"bad\">outside</span>"
                    },
                )
            }
            None => ("-".into(), "-".into(), ""),
        };
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{cfg}</td><td>{:.1}%</td><td>{band_text}</td><td>{verdict}</td></tr>",
            escape(route),
            escape(&matches_of(rec, mesh, route)),
            escape(dest),
            c.count,
            observed * 100.0
        );
    }
    let _ = writeln!(s, "</tbody>\n</table>");
}

fn rings(s: &mut String, rec: &Recorder, compiled: &CompiledMesh<'_>) {
    let mut panels = Vec::new();
    // The same keys for every destination, generated once, and only if one hashes.
    let mut keys: Option<Vec<u64>> = None;
    for c in &compiled.clusters {
        let label = match &c.subset {
            Some(sub) => format!("{} {sub}", short_host(&c.host)),
            None => short_host(&c.host).to_string(),
        };
        if c.hosts.is_empty() || !rec.route_destination.keys().any(|k| k.1 == label) {
            continue;
        }
        let Some((algorithm, config)) = lab::for_policy(c.lb, &LabConfig::default()) else {
            continue;
        };
        let keys = keys.get_or_insert_with(|| KeySpec::uniform(100_000).generate());
        let Ok(report) = lab::study(algorithm, &c.hosts, keys, &config, &[], &mut || 0) else {
            continue;
        };
        let (arcs, caption) = lab::svg::picture(algorithm, &c.hosts, &config);
        panels.push((label, c.hosts.clone(), report, arcs, caption));
    }
    if panels.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "<h2>Consistent hashing</h2>\n<p>Each endpoint's share of 100,000 uniformly hashed keys on the ring or table Envoy builds for the destination (the ring lab's view: <code>meshsim ring -f</code>).</p>"
    );
    for (label, hosts, report, arcs, caption) in &panels {
        let _ = writeln!(s, "<h3>{}</h3>", escape(label));
        s.push_str(&lab::svg::render(&[lab::svg::Panel {
            report,
            hosts,
            arcs,
            caption,
        }]));
    }
}
