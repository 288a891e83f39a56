//! Line charts as inline SVG, Grafana-like: axes with ticks and labels, one colour per series,
//! a legend, and a `<title>` so screen readers and print keep the meaning.

use std::fmt::Write;

use super::escape;

/// One line.
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points (x, y); x in the chart's x unit.
    pub points: Vec<(f64, f64)>,
}

/// A chart's text.
pub struct Axes<'a> {
    /// Heading.
    pub title: &'a str,
    /// x-axis label.
    pub x_label: &'a str,
    /// y-axis label.
    pub y_label: &'a str,
    /// Fixed y maximum (e.g. 100 for a percentage), else from the data.
    pub y_max: Option<f64>,
}

/// A categorical colour, stable per index; starts at blue so that red stays the graph's colour
/// for failure.
pub fn colour(i: usize) -> String {
    format!("hsl({:.1},65%,45%)", (210.0 + i as f64 * 137.508) % 360.0)
}

/// "Nice" tick step for a range: 1, 2 or 5 times a power of ten.
fn step(max: f64) -> f64 {
    let raw = (max / 5.0).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

fn label(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e9 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// One series as a polyline in the plot area (`[left, top, width, height]`, scaled to
/// `[xmax, ymax]`).
fn polyline(
    s: &mut String,
    ser: &Series,
    i: usize,
    [l, t, pw, ph]: [f64; 4],
    [xmax, ymax]: [f64; 2],
) {
    let pts: Vec<String> = ser
        .points
        .iter()
        .map(|(x, y)| {
            format!(
                "{:.1},{:.1}",
                l + x / xmax * pw,
                t + ph - (y / ymax).min(1.0) * ph
            )
        })
        .collect();
    // The title carries the series' range, so that a reader (and a test) can check it
    // against the tables without reading coordinates.
    let (lo, hi) = ser
        .points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, y)| {
            (lo.min(y), hi.max(y))
        });
    let _ = writeln!(
        s,
        r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"><title>{}: {} to {}</title></polyline>"#,
        colour(i),
        pts.join(" "),
        escape(&ser.name),
        label(if lo.is_finite() { lo } else { 0.0 }),
        label(if hi.is_finite() { hi } else { 0.0 })
    );
}

/// Renders a chart of `series` (440 × 240).
pub fn line_chart(axes: &Axes<'_>, series: &[Series]) -> String {
    let rows = series.len().div_ceil(3).max(1);
    let (w, h) = (440.0, 226.0 + 14.0 * rows as f64);
    let (l, r, t) = (56.0, 12.0, 28.0);
    let (pw, ph) = (w - l - r, 150.0);
    let xmax = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let ymax = axes.y_max.unwrap_or_else(|| {
        series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(0.0f64, f64::max)
            * 1.1
    });
    // All zeros still get a readable axis.
    let ymax = if ymax > 0.0 { ymax } else { 1.0 };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{}">"#,
        escape(axes.title)
    );
    let _ = writeln!(s, "<title>{}</title>", escape(axes.title));
    let _ = writeln!(
        s,
        r#"<text x="{l}" y="16" class="h">{}</text>"#,
        escape(axes.title)
    );
    let ys = step(ymax);
    let mut v = 0.0;
    while v <= ymax + 1e-9 {
        let y = t + ph - v / ymax * ph;
        let _ = writeln!(
            s,
            r##"<line x1="{l}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            l + pw,
            l - 4.0,
            y + 4.0,
            label(v)
        );
        v += ys;
    }
    let xs = step(xmax);
    let mut v = 0.0;
    while v <= xmax + 1e-9 {
        let x = l + v / xmax * pw;
        let _ = writeln!(
            s,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            t + ph + 14.0,
            label(v)
        );
        v += xs;
    }
    let _ = writeln!(
        s,
        r##"<line x1="{l}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#444"/><line x1="{l}" y1="{t}" x2="{l}" y2="{:.1}" stroke="#444"/>"##,
        t + ph,
        l + pw,
        t + ph,
        t + ph
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        l + pw / 2.0,
        t + ph + 30.0,
        escape(axes.x_label)
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(14,{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        t + ph / 2.0,
        escape(axes.y_label)
    );
    for (i, ser) in series.iter().enumerate() {
        polyline(&mut s, ser, i, [l, t, pw, ph], [xmax, ymax]);
        let (lx, ly) = (
            l + (i % 3) as f64 * 130.0,
            t + ph + 50.0 + (i / 3) as f64 * 14.0,
        );
        let _ = writeln!(
            s,
            r#"<rect x="{lx:.1}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{ly:.1}">{}</text>"#,
            ly - 9.0,
            colour(i),
            lx + 14.0,
            escape(&ser.name)
        );
    }
    let _ = writeln!(s, "</svg>");
    s
}
