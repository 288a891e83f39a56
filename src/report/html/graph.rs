//! The traffic graph, in the spirit of Kiali's: client → routes → destinations (service and
//! subset) → endpoints, each edge labelled with its share of the requests and its success rate,
//! failing edges in red, mirrored copies dashed.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::escape;
use super::recorder::{Edge, Recorder};

/// Most endpoints drawn per destination; the rest are folded into one "+N more" node.
pub const MAX_ENDPOINTS: usize = 12;

const COLUMN_X: [f64; 4] = [85.0, 345.0, 610.0, 905.0];
const HALF: f64 = 78.0;
const ROW: f64 = 46.0;

/// Colour of an edge by its success rate: all good, some failures, mostly failing.
pub fn edge_colour(e: &Edge) -> &'static str {
    let rate = e.success_rate();
    if rate >= 0.999 {
        "#5a9"
    } else if rate >= 0.5 {
        "#e90"
    } else {
        "#d33"
    }
}

struct Node {
    label: String,
    y: f64,
}

fn place(labels: Vec<String>, height: f64) -> Vec<Node> {
    let n = labels.len().max(1) as f64;
    labels
        .into_iter()
        .enumerate()
        .map(|(i, label)| Node {
            label,
            y: height / 2.0 + (i as f64 - (n - 1.0) / 2.0) * ROW,
        })
        .collect()
}

fn find(nodes: &[Node], label: &str) -> f64 {
    nodes.iter().find(|n| n.label == label).map_or(0.0, |n| n.y)
}

/// Renders the graph for the recorded traffic.
pub fn render(rec: &Recorder) -> String {
    let total: u64 = rec
        .client_route
        .values()
        .map(|e| e.requests)
        .sum::<u64>()
        .max(1);
    let routes: Vec<String> = rec.client_route.keys().cloned().collect();
    let mut dests: Vec<String> = rec.route_destination.keys().map(|k| k.1.clone()).collect();
    for (_, m) in rec.mirrors.keys() {
        dests.push(format!("mirror: {m}"));
    }
    dests.sort();
    dests.dedup();
    let endpoint_edges = endpoint_edges(rec);
    let endpoints: Vec<String> = {
        let mut v: Vec<String> = endpoint_edges.keys().map(|k| k.1.clone()).collect();
        v.dedup();
        v
    };
    let rows = routes.len().max(dests.len()).max(endpoints.len()).max(1);
    let height = rows as f64 * ROW + 60.0;
    let client = place(vec!["client".into()], height);
    let routes = place(routes, height);
    let dests = place(dests, height);
    let endpoints = place(endpoints, height);

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="graph" viewBox="0 0 1000 {height:.0}" role="img" aria-label="Traffic graph">"#
    );
    let _ = writeln!(
        s,
        "<title>Traffic graph: client, routes, destinations and endpoints; edge labels give the share of requests and the success rate</title>"
    );
    for (i, head) in ["client", "route", "destination", "endpoint"]
        .iter()
        .enumerate()
    {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="18" text-anchor="middle" class="h">{head}</text>"#,
            COLUMN_X[i]
        );
    }
    let edge = |s: &mut String, x0: f64, y0: f64, x1: f64, y1: f64, e: &Edge, dashed: bool| {
        draw_edge(s, total, [x0, y0, x1, y1], e, dashed)
    };
    for (route, e) in &rec.client_route {
        edge(
            &mut s,
            COLUMN_X[0],
            client[0].y,
            COLUMN_X[1],
            find(&routes, route),
            e,
            false,
        );
    }
    for ((route, dest), e) in &rec.route_destination {
        edge(
            &mut s,
            COLUMN_X[1],
            find(&routes, route),
            COLUMN_X[2],
            find(&dests, dest),
            e,
            false,
        );
    }
    for ((route, m), n) in &rec.mirrors {
        let e = Edge {
            requests: *n,
            ok: *n,
            server_errors: 0,
        };
        let y1 = find(&dests, &format!("mirror: {m}"));
        edge(
            &mut s,
            COLUMN_X[1],
            find(&routes, route),
            COLUMN_X[2],
            y1,
            &e,
            true,
        );
    }
    for ((dest, ep), e) in &endpoint_edges {
        edge(
            &mut s,
            COLUMN_X[2],
            find(&dests, dest),
            COLUMN_X[3],
            find(&endpoints, ep),
            e,
            false,
        );
    }
    draw_nodes(&mut s, &[&client, &routes, &dests, &endpoints]);
    let _ = writeln!(s, "</svg>");
    s
}

/// Endpoints per destination, busiest first, folded beyond MAX_ENDPOINTS.
fn endpoint_edges(rec: &Recorder) -> BTreeMap<(String, String), Edge> {
    let mut endpoint_edges: BTreeMap<(String, String), Edge> = BTreeMap::new();
    let mut per_dest: BTreeMap<&str, Vec<(&String, &Edge)>> = BTreeMap::new();
    for ((d, ep), e) in &rec.destination_endpoint {
        per_dest.entry(d.as_str()).or_default().push((ep, e));
    }
    for (d, mut eps) in per_dest {
        eps.sort_by(|a, b| b.1.requests.cmp(&a.1.requests).then(a.0.cmp(b.0)));
        for (i, (ep, e)) in eps.iter().enumerate() {
            let label = if i < MAX_ENDPOINTS {
                (*ep).clone()
            } else {
                format!("{d}: +{} more", eps.len() - MAX_ENDPOINTS)
            };
            let slot = endpoint_edges.entry((d.to_string(), label)).or_default();
            slot.requests += e.requests;
            slot.ok += e.ok;
            slot.server_errors += e.server_errors;
        }
    }
    endpoint_edges
}

/// One edge: a curve whose width is the share of requests and whose colour is its health,
/// labelled near its target (where fanned-out edges are a row apart); mirrors are dashed.
fn draw_edge(s: &mut String, total: u64, [x0, y0, x1, y1]: [f64; 4], e: &Edge, dashed: bool) {
    let share = e.requests as f64 / total as f64;
    let width = 1.0 + 7.0 * share;
    let colour = if dashed { "#86c" } else { edge_colour(e) };
    let dash = if dashed {
        r#" stroke-dasharray="6 4""#
    } else {
        ""
    };
    let (sx, ex) = (x0 + HALF, x1 - HALF);
    let mx = (sx + ex) / 2.0;
    let text = if dashed {
        format!("{} mirrored ({:.1}%)", e.requests, share * 100.0)
    } else {
        let mut t = format!(
            "{:.1}% · {:.1}% ok",
            share * 100.0,
            e.success_rate() * 100.0
        );
        if e.server_errors > 0 {
            let _ = write!(
                t,
                " · {:.1}% 5xx",
                e.server_errors as f64 * 100.0 / e.requests as f64
            );
        }
        t
    };
    let _ = writeln!(
        s,
        r#"<path d="M{sx:.1},{y0:.1} C{mx:.1},{y0:.1} {mx:.1},{y1:.1} {ex:.1},{y1:.1}" fill="none" stroke="{colour}" stroke-width="{width:.2}"{dash}><title>{}</title></path>"#,
        escape(&if dashed {
            format!(
                "{} copies mirrored (fire and forget: their answers are ignored)",
                e.requests
            )
        } else {
            format!(
                "{text}: {} requests, {} ok, {} 5xx",
                e.requests, e.ok, e.server_errors
            )
        })
    );
    // Labelled near the target, where fanned-out edges are a row apart.
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="end" class="e">{}</text>"#,
        ex - 6.0,
        y1 - 5.0,
        escape(&text)
    );
}

/// The boxes of every column, with their full label as a tooltip.
fn draw_nodes(s: &mut String, columns: &[&Vec<Node>; 4]) {
    for (col, nodes) in columns.iter().enumerate() {
        for n in nodes.iter() {
            let x = COLUMN_X[col];
            let _ = writeln!(
                s,
                r##"<g><title>{}</title><rect x="{:.1}" y="{:.1}" width="{}" height="26" rx="6" fill="#f4f6fa" stroke="#567"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text></g>"##,
                escape(&n.label),
                x - HALF,
                n.y - 13.0,
                2.0 * HALF,
                n.y + 4.0,
                escape(&shorten(&n.label, 24))
            );
        }
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let head: String = s.chars().take(max - 1).collect();
        format!("{head}…")
    }
}
