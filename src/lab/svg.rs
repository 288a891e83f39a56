//! A self-contained SVG of one algorithm's placement: the ring (or maglev table) with each
//! endpoint's arcs in its own colour, and the keys per endpoint as bars against the fair share.
//!
//! Exact arcs are drawn when there are at most [`MAX_ARCS`] runs; beyond that (a 65537-slot
//! table over 100 endpoints) the circle is cut into [`MAX_ARCS`] sectors, each coloured by the
//! endpoint owning most of it, and the caption says so. Browsers stay responsive and the file
//! stays small.

use std::fmt::Write;

use super::{Algorithm, AlgorithmReport, LabConfig, build};
use crate::lb::Host;
use crate::lb::hash::maglev::Maglev;
use crate::lb::hash::ring_hash::RingHash;

/// Most arcs drawn exactly.
pub const MAX_ARCS: usize = 4096;

/// A run of the circle owned by one endpoint, as fractions of a turn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arc {
    /// Start (0..1).
    pub start: f64,
    /// End (start..=1).
    pub end: f64,
    /// Owning endpoint.
    pub host: usize,
}

/// The circle for an algorithm, and a caption saying what it shows.
pub fn picture(algorithm: Algorithm, hosts: &[Host], config: &LabConfig) -> (Vec<Arc>, String) {
    const TURN: f64 = 18_446_744_073_709_551_616.0; // 2^64
    match algorithm {
        Algorithm::RingHash => {
            let ring = RingHash::build(hosts, config.minimum_ring_size, config.maximum_ring_size);
            let entries: Vec<(u64, usize)> = ring.entries().collect();
            // Entry i owns the hashes after entry i-1 up to its own; the first also owns the
            // wrap-around past the last.
            let owners: Vec<(f64, f64, usize)> = entries
                .iter()
                .enumerate()
                .map(|(i, &(h, host))| {
                    let start = if i == 0 {
                        0.0
                    } else {
                        entries[i - 1].0 as f64 / TURN
                    };
                    (start, h as f64 / TURN, host)
                })
                .chain(entries.first().map(|&(_, host)| {
                    (entries.last().map_or(0.0, |e| e.0 as f64 / TURN), 1.0, host)
                }))
                .collect();
            let caption = format!(
                "ring of {} entries (minimum_ring_size {}), position = hash / 2^64",
                entries.len(),
                config.minimum_ring_size
            );
            (merge(&owners), caption)
        }
        Algorithm::Maglev => {
            let table = Maglev::build(hosts, config.table_size);
            let m = table.len() as f64;
            let owners: Vec<(f64, f64, usize)> = table
                .table()
                .iter()
                .enumerate()
                .map(|(s, &h)| (s as f64 / m, (s + 1) as f64 / m, h as usize))
                .collect();
            let caption = format!(
                "maglev table of {} slots, slot = hash mod size",
                table.len()
            );
            (merge(&owners), caption)
        }
        other => {
            // No ring: colour the hash space by who owns each sector's midpoint.
            let Ok(mut p) = build(other, hosts, config) else {
                return (Vec::new(), String::new());
            };
            let owners: Vec<(f64, f64, usize)> = (0..MAX_ARCS)
                .map(|i| {
                    let mid = ((i as f64 + 0.5) / MAX_ARCS as f64 * TURN) as u64;
                    let host = p.assign(mid).unwrap_or(0);
                    p.reset();
                    (
                        i as f64 / MAX_ARCS as f64,
                        (i + 1) as f64 / MAX_ARCS as f64,
                        host,
                    )
                })
                .collect();
            let caption = format!("key hash space in {MAX_ARCS} sectors, owner of each midpoint");
            (merge(&owners), caption)
        }
    }
}

/// Merges adjacent runs of the same owner; past [`MAX_ARCS`] runs, bins into sectors by
/// majority (weighted by length).
fn merge(owners: &[(f64, f64, usize)]) -> Vec<Arc> {
    let mut arcs: Vec<Arc> = Vec::new();
    for &(start, end, host) in owners {
        if end <= start {
            continue;
        }
        match arcs.last_mut() {
            Some(a) if a.host == host && (a.end - start).abs() < 1e-15 => a.end = end,
            _ => arcs.push(Arc { start, end, host }),
        }
    }
    if arcs.len() <= MAX_ARCS {
        return arcs;
    }
    let mut sectors: Vec<Arc> = Vec::with_capacity(MAX_ARCS);
    let mut j = 0;
    for s in 0..MAX_ARCS {
        let (lo, hi) = (s as f64 / MAX_ARCS as f64, (s + 1) as f64 / MAX_ARCS as f64);
        let mut best: Vec<(usize, f64)> = Vec::new();
        while j < arcs.len() && arcs[j].end <= lo {
            j += 1;
        }
        let mut k = j;
        while k < arcs.len() && arcs[k].start < hi {
            let overlap = arcs[k].end.min(hi) - arcs[k].start.max(lo);
            match best.iter_mut().find(|(h, _)| *h == arcs[k].host) {
                Some(b) => b.1 += overlap,
                None => best.push((arcs[k].host, overlap)),
            }
            k += 1;
        }
        let host = best
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .map_or(0, |b| b.0);
        match sectors.last_mut() {
            Some(a) if a.host == host => a.end = hi,
            _ => sectors.push(Arc {
                start: lo,
                end: hi,
                host,
            }),
        }
    }
    sectors
}

/// Most endpoints named around the circle; past it the bars' colours and tooltips name them.
const MAX_RING_LABELS: usize = 24;

/// Each endpoint named inside the circle (outside, long addresses would leave the panel),
/// next to the middle of its longest arc, with its share
/// of the circle (the share of uniformly hashed keys it owns). A label that would overlap one
/// already placed tries the endpoint's next-longest arcs, and is left out past a few.
fn ring_labels(s: &mut String, hosts: &[Host], arcs: &[Arc], (cx, cy, r): (f64, f64, f64)) {
    if hosts.len() > MAX_RING_LABELS {
        return;
    }
    let mut share = vec![0.0; hosts.len()];
    let mut by_host: Vec<Vec<&Arc>> = vec![Vec::new(); hosts.len()];
    for a in arcs.iter().filter(|a| a.host < hosts.len()) {
        share[a.host] += a.end - a.start;
        by_host[a.host].push(a);
    }
    let mut placed: Vec<(f64, f64)> = Vec::new();
    for (host, own) in by_host.iter_mut().enumerate() {
        own.sort_by(|a, b| (b.end - b.start).total_cmp(&(a.end - a.start)));
        let spot = own.iter().take(6).find_map(|a| {
            let t = (a.start + a.end) / 2.0 * std::f64::consts::TAU - std::f64::consts::FRAC_PI_2;
            let (x, y) = (cx + (r - 32.0) * t.cos(), cy + (r - 32.0) * t.sin());
            let free = placed
                .iter()
                .all(|&(px, py)| (py - y).abs() >= 13.0 || (px - x).abs() >= 120.0);
            free.then_some((x, y, t.cos()))
        });
        let Some((x, y, cos)) = spot else { continue };
        placed.push((x, y));
        let anchor = if cos > 0.2 {
            "end"
        } else if cos < -0.2 {
            "start"
        } else {
            "middle"
        };
        let _ = writeln!(
            s,
            r#"<text x="{x:.2}" y="{:.2}" text-anchor="{anchor}" font-size="10" fill="{}">{} {:.1}%</text>"#,
            y + 4.0,
            colour(host),
            escape(&hosts[host].address),
            share[host] * 100.0
        );
    }
}

fn colour(i: usize) -> String {
    format!("hsl({:.1},65%,50%)", (i as f64 * 137.508) % 360.0)
}

/// Escapes text for XML (SVG) and HTML; the report reuses it.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One algorithm's panel: its report, the endpoints, and its circle with caption.
pub struct Panel<'a> {
    /// What was measured.
    pub report: &'a AlgorithmReport,
    /// The endpoints, in the report's order.
    pub hosts: &'a [Host],
    /// The circle, from [`picture`].
    pub arcs: &'a [Arc],
    /// What the circle shows.
    pub caption: &'a str,
}

const PANEL_W: f64 = 980.0;
const PANEL_H: f64 = 640.0;

/// The SVG document: one panel per algorithm, stacked.
pub fn render(panels: &[Panel<'_>]) -> String {
    let (w, h) = (PANEL_W, PANEL_H * panels.len().max(1) as f64);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    for (i, p) in panels.iter().enumerate() {
        let _ = writeln!(s, r#"<g transform="translate(0,{})">"#, i as f64 * PANEL_H);
        panel(&mut s, p);
        let _ = writeln!(s, "</g>");
    }
    let _ = writeln!(s, "</svg>");
    s
}

fn panel(s: &mut String, p: &Panel<'_>) {
    let (report, hosts, arcs, caption) = (p.report, p.hosts, p.arcs, p.caption);
    let l = &report.load;
    let _ = writeln!(
        s,
        r#"<text x="20" y="28" font-size="18">{} over {} endpoints, {} keys</text>"#,
        report.algorithm, l.endpoints, l.keys
    );
    let _ = writeln!(
        s,
        r#"<text x="20" y="48">max/mean {:.3}   cv {:.4}   min {}   max {}   zero-key endpoints {}</text>"#,
        l.max_over_mean, l.cv, l.min, l.max, l.zero
    );
    // The circle.
    let (cx, cy, r) = (260.0, 300.0, 190.0);
    let _ = writeln!(s, r#"<g fill="none" stroke-width="44">"#);
    for a in arcs {
        let title = hosts
            .get(a.host)
            .map_or(String::new(), |h| escape(&h.address));
        if a.end - a.start >= 1.0 - 1e-12 {
            let _ = writeln!(
                s,
                r#"<circle cx="{cx}" cy="{cy}" r="{r}" stroke="{}"><title>{title}</title></circle>"#,
                colour(a.host)
            );
            continue;
        }
        let point = |f: f64| {
            let t = f * std::f64::consts::TAU - std::f64::consts::FRAC_PI_2;
            (cx + r * t.cos(), cy + r * t.sin())
        };
        let (x0, y0) = point(a.start);
        let (x1, y1) = point(a.end);
        let large = if a.end - a.start > 0.5 { 1 } else { 0 };
        let _ = writeln!(
            s,
            r#"<path d="M{x0:.2},{y0:.2} A{r},{r} 0 {large} 1 {x1:.2},{y1:.2}" stroke="{}"><title>{title}</title></path>"#,
            colour(a.host)
        );
    }
    let _ = writeln!(s, "</g>");
    ring_labels(s, hosts, arcs, (cx, cy, r));
    let _ = writeln!(
        s,
        r#"<text x="{cx}" y="{}" text-anchor="middle">{}</text>"#,
        cy + r + 50.0,
        escape(caption)
    );
    // Bars against the fair share.
    let (bx, by, bw, bh) = (540.0, 90.0, 410.0, 400.0);
    let n = report.hits.len().max(1);
    let wsum: f64 = hosts.iter().map(|h| h.weight as f64).sum::<f64>().max(1.0);
    let fair: Vec<f64> = hosts
        .iter()
        .map(|h| l.keys as f64 * h.weight as f64 / wsum)
        .collect();
    let top = report
        .hits
        .iter()
        .map(|&x| x as f64)
        .chain(fair.iter().copied())
        .fold(1.0, f64::max)
        * 1.05;
    let step = bw / n as f64;
    let _ = writeln!(
        s,
        r#"<text x="{bx}" y="{}">keys per endpoint (bars, in the arcs' colours), fair share by weight (line)</text>"#,
        by - 12.0
    );
    let _ = writeln!(
        s,
        r##"<line x1="{bx}" y1="{}" x2="{}" y2="{}" stroke="#444"/>"##,
        by + bh,
        bx + bw,
        by + bh
    );
    for (i, &hits) in report.hits.iter().enumerate() {
        let height = hits as f64 / top * bh;
        let title = hosts.get(i).map_or(String::new(), |h| escape(&h.address));
        let _ = writeln!(
            s,
            r#"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{}"><title>{title}: {hits} keys</title></rect>"#,
            bx + i as f64 * step,
            by + bh - height,
            (step * 0.9).max(0.5),
            height,
            colour(i)
        );
    }
    // Each bar named under it (the ring's arcs share the bars' colours), while they fit.
    if n <= 24 {
        for (i, h) in hosts.iter().enumerate().take(n) {
            let x = bx + (i as f64 + 0.45) * step;
            let _ = writeln!(
                s,
                r#"<text transform="translate({x:.2},{:.2}) rotate(-60)" text-anchor="end" font-size="10">{}</text>"#,
                by + bh + 24.0,
                escape(&h.address)
            );
        }
    }
    let mut d = String::new();
    for (i, f) in fair.iter().enumerate() {
        let y = by + bh - f / top * bh;
        let _ = write!(
            d,
            "{}{:.2},{y:.2} {:.2},{y:.2}",
            if i == 0 { "M" } else { " L" },
            bx + i as f64 * step,
            bx + (i + 1) as f64 * step
        );
    }
    let _ = writeln!(
        s,
        r#"<path d="{d}" fill="none" stroke="black" stroke-width="1.5"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{bx}" y="{}">0</text><text x="{bx}" y="{}">{:.0}</text>"#,
        by + bh + 16.0,
        by + 12.0,
        top
    );
}
