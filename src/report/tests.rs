//! Rendering of policy test results: text (optionally coloured), JSON and JUnit XML.

use crate::check::SuiteResult;
use serde_json::{Value, json};
use std::fmt::Write;

/// Text output: one line per test, details for failures (with the trace of the first failing
/// request, and the analysis findings of the rules it tried), the summary line, coverage.
pub fn text(r: &SuiteResult, colour: bool, findings: &[crate::analyze::RuleFinding]) -> String {
    let paint = |code: &str, s: &str| {
        if colour {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    for t in &r.tests {
        if t.passed() {
            let _ = writeln!(out, "{}      {}", paint("32", "ok"), t.name);
            continue;
        }
        let _ = writeln!(
            out,
            "{}  {} ({})",
            paint("31", "FAILED"),
            t.name,
            t.location
        );
        for f in &t.failures {
            let _ = writeln!(
                out,
                "          {}: expected {}, got {}",
                f.what, f.expected, f.actual
            );
        }
        if !t.observed.is_empty() {
            let n = t.requests.max(1) as f64;
            let parts: Vec<String> = t
                .observed
                .iter()
                .map(|(k, c)| format!("{k} {:.2}% ({c})", *c as f64 * 100.0 / n))
                .collect();
            let _ = writeln!(
                out,
                "          observed over {} requests: {}",
                t.requests,
                parts.join(", ")
            );
        }
        if let Some((req, d, trace)) = &t.first_failing {
            let _ = writeln!(
                out,
                "          first failing request (#{}; {} of {} requests failed): {req}",
                d.index + 1,
                t.failing_requests,
                t.requests
            );
            out.push_str(&super::explain::events_text_noting(
                &trace.0,
                "            ",
                findings,
            ));
            let _ = write!(
                out,
                "            {}",
                super::explain::result_text(d, "            ")
            );
        }
    }
    let _ = writeln!(out, "{} passed, {} failed", r.passed(), r.failed());
    let (hit, total) = r.coverage.counts();
    let _ = write!(
        out,
        "coverage: {hit} of {total} rules and weighted destinations ({:.1}%)",
        r.coverage.percent()
    );
    let uncovered = r.coverage.uncovered();
    if uncovered.is_empty() {
        out.push('\n');
    } else {
        let _ = writeln!(out, "; not exercised:");
        for u in uncovered {
            let _ = writeln!(out, "  {}", u.label);
        }
    }
    out
}

/// JSON output.
pub fn json(r: &SuiteResult) -> Value {
    let (hit, total) = r.coverage.counts();
    json!({
        "tests": r.tests.iter().map(|t| json!({
            "name": t.name,
            "file": &*t.location.file,
            "line": t.location.line,
            "passed": t.passed(),
            "requests": t.requests,
            "failingRequests": t.failing_requests,
            "observed": t.observed.iter().map(|(k, c)| json!({"to": k, "requests": c})).collect::<Vec<_>>(),
            "failures": t.failures.iter().map(|f| json!({
                "what": f.what, "expected": f.expected, "actual": f.actual,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "passed": r.passed(),
        "failed": r.failed(),
        "coverage": {
            "exercised": hit,
            "total": total,
            "percent": r.coverage.percent(),
            "uncovered": r.coverage.uncovered().iter().map(|u| u.label.clone()).collect::<Vec<_>>(),
        },
    })
}

fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => o.push(c),
        }
    }
    o
}

/// JUnit XML, as CI systems read it.
pub fn junit(r: &SuiteResult) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites tests=\"{}\" failures=\"{}\">\n  <testsuite name=\"meshsim\" tests=\"{}\" failures=\"{}\">",
        r.tests.len(),
        r.failed(),
        r.tests.len(),
        r.failed()
    );
    for t in &r.tests {
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"{}\"",
            xml_escape(&t.name),
            xml_escape(&t.location.file)
        );
        if t.passed() {
            out.push_str("/>\n");
            continue;
        }
        out.push_str(">\n");
        let msg = t
            .failures
            .iter()
            .map(|f| format!("{}: expected {}, got {}", f.what, f.expected, f.actual))
            .collect::<Vec<_>>()
            .join("; ");
        let _ = writeln!(
            out,
            "      <failure message=\"{}\">{}</failure>\n    </testcase>",
            xml_escape(&msg),
            xml_escape(&format!("{}: {msg}", t.location))
        );
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
