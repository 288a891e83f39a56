//! `meshsim test --html`: the suite's results as one self-contained page, each failing test with
//! what was expected and what happened, the traffic graph of its first failing request, and the
//! trace `meshsim explain` would print for it.

use std::fmt::Write;

use super::{CSS, escape, graph, recorder::Recorder};
use crate::check::SuiteResult;
use crate::report::{RunInfo, explain_text};

/// The page for a suite.
pub fn page(suite: &SuiteResult, info: &RunInfo) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>meshsim test report</title>\n<style>{CSS}</style>\n</head>\n<body>"
    );
    let _ = writeln!(s, "<h1>meshsim test report</h1>");
    let (covered, total) = suite.coverage.counts();
    let _ = writeln!(s, "<h2>Inputs</h2>\n<dl>");
    for (k, v) in [
        ("files", info.files.join(", ")),
        ("Istio version", info.istio_version.clone()),
        ("seed", info.seed.to_string()),
        (
            "result",
            format!("{} passed, {} failed", suite.passed(), suite.failed()),
        ),
        (
            "coverage",
            format!(
                "{covered} of {total} rules and weighted destinations ({:.1}%)",
                suite.coverage.percent()
            ),
        ),
    ] {
        let _ = writeln!(s, "<dt>{k}</dt><dd>{}</dd>", escape(&v));
    }
    let _ = writeln!(s, "</dl>");
    let _ = writeln!(
        s,
        "<h2>Tests</h2>\n<table>\n<thead><tr><th>test</th><th>location</th><th>requests</th><th>result</th></tr></thead>\n<tbody>"
    );
    for t in &suite.tests {
        let verdict = if t.passed() {
            "<span class=\"ok\">passed</span>"
        } else {
            "<span class=\"bad\">FAILED</span>"
        };
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}:{}</td><td>{}</td><td>{verdict}</td></tr>",
            escape(&t.name),
            escape(&t.location.file),
            t.location.line,
            t.requests
        );
    }
    let _ = writeln!(s, "</tbody>\n</table>");
    for t in suite.tests.iter().filter(|t| !t.passed()) {
        let _ = writeln!(s, "<h2>FAILED: {}</h2>", escape(&t.name));
        let _ = writeln!(
            s,
            "<table class=\"text\">\n<thead><tr><th>check</th><th>expected</th><th>actual</th></tr></thead>\n<tbody>"
        );
        for f in &t.failures {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&f.what),
                escape(&f.expected),
                escape(&f.actual)
            );
        }
        let _ = writeln!(s, "</tbody>\n</table>");
        if let Some((req, d, trace)) = &t.first_failing {
            let mut rec = Recorder::new(false);
            rec.record(d);
            let _ = writeln!(
                s,
                "<h3>First failing request</h3>\n{}\n<pre>{}</pre>",
                graph::render(&rec),
                escape(&explain_text(req, d, trace))
            );
        }
    }
    let _ = writeln!(s, "</body>\n</html>");
    s
}
