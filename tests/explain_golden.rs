//! Golden tests of `meshsim explain`, text and JSON, on every shipped policy and on a mesh that
//! reaches every stage (tests/golden/explain/cases.tsv lists them). The JSON is also parsed
//! into the documented types (`meshsim::report::explain::Explanation`, which refuse unknown
//! fields), written again and compared, and every key and event in it must be documented in
//! docs/explain-json.md.
//!
//! `MESHSIM_BLESS=1 cargo test --test explain_golden` rewrites the golden files; review every
//! changed line before committing them, since a golden file is only as right as its review.

mod common;

use meshsim::report::explain::Explanation;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

struct Case {
    name: String,
    input: String,
    request: String,
    gateway: Option<String>,
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/explain")
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(golden_dir().join("cases.tsv")).unwrap();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(
            cols.len() >= 3,
            "cases.tsv:{}: want NAME, FOLDER and REQUEST, tab-separated",
            i + 1
        );
        out.push(Case {
            name: cols[0].into(),
            input: cols[1].into(),
            request: cols[2].into(),
            gateway: cols.get(3).map(|g| g.to_string()),
        });
    }
    out
}

fn explain(c: &Case, json: bool) -> String {
    let mut args = vec!["explain", "-f", &c.input, "--request", &c.request];
    if let Some(g) = &c.gateway {
        args.extend(["--gateway", g]);
    }
    if json {
        args.extend(["-o", "json"]);
    }
    let out = common::meshsim(&args);
    assert!(
        out.status.success(),
        "{}: {}",
        c.name,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Compares with the golden file (or writes it, when blessing); returns the mismatches.
fn check(name: &str, actual: &str, bless: bool) -> Option<String> {
    let path = golden_dir().join(name);
    if bless {
        std::fs::write(&path, actual).unwrap();
        return None;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected == actual {
        return None;
    }
    let first = expected
        .lines()
        .zip(actual.lines())
        .position(|(a, b)| a != b)
        .unwrap_or(expected.lines().count().min(actual.lines().count()));
    Some(format!(
        "{name}: differs from line {}:\n  golden: {:?}\n  actual: {:?}",
        first + 1,
        expected.lines().nth(first).unwrap_or("<end>"),
        actual.lines().nth(first).unwrap_or("<end>")
    ))
}

#[test]
fn explain_text_and_json_match_their_golden_files() {
    let bless = std::env::var_os("MESHSIM_BLESS").is_some();
    let cases = cases();
    let policies: BTreeSet<String> = std::fs::read_dir("policies")
        .unwrap()
        .map(|e| format!("policies/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    let covered: BTreeSet<String> = cases.iter().map(|c| c.input.clone()).collect();
    let missing: Vec<_> = policies.difference(&covered).collect();
    assert!(missing.is_empty(), "no golden case for {missing:?}");
    let mut failures = Vec::new();
    for c in &cases {
        failures.extend(check(&format!("{}.txt", c.name), &explain(c, false), bless));
        failures.extend(check(&format!("{}.json", c.name), &explain(c, true), bless));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn explain_json_round_trips_through_the_documented_types() {
    for c in cases() {
        let raw = explain(&c, true);
        let value: Value = serde_json::from_str(&raw).unwrap();
        let doc: Explanation = serde_json::from_str(&raw)
            .unwrap_or_else(|e| panic!("{}: does not parse as Explanation: {e}", c.name));
        assert_eq!(doc.schema, "meshsim.explain/v1");
        assert_eq!(serde_json::to_value(&doc).unwrap(), value, "{}", c.name);
    }
}

fn keys(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                out.insert(k.clone());
                if let ("event" | "kind" | "on", Value::String(s)) = (k.as_str(), x) {
                    out.insert(s.clone());
                }
                keys(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
        _ => {}
    }
}

/// The camelCase names of `TraceEvent`'s variants, read from its source: the document must
/// name each, including those no golden case reaches.
fn event_names() -> Vec<String> {
    let src = std::fs::read_to_string("src/trace/events.rs").unwrap();
    let body = &src[src.find("pub enum TraceEvent {").unwrap()..];
    let body = &body[..body.find("\n}\n").unwrap()];
    body.lines()
        .filter_map(|l| {
            let t = l.strip_prefix("    ")?;
            let first = t.chars().next()?;
            if !first.is_ascii_uppercase() {
                return None;
            }
            let name: String = t.chars().take_while(|c| c.is_alphanumeric()).collect();
            let mut chars = name.chars();
            let head = chars.next()?.to_ascii_lowercase();
            Some(std::iter::once(head).chain(chars).collect())
        })
        .collect()
}

#[test]
fn every_json_key_and_event_is_documented() {
    let doc = std::fs::read_to_string("docs/explain-json.md").unwrap();
    let mut seen = BTreeSet::new();
    for c in cases() {
        keys(
            &serde_json::from_str(&explain(&c, true)).unwrap(),
            &mut seen,
        );
    }
    let names = event_names();
    assert!(names.len() > 30, "read the variants: {names:?}");
    seen.extend(names);
    let undocumented: Vec<_> = seen
        .iter()
        .filter(|k| !doc.contains(&format!("`{k}`")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "docs/explain-json.md does not mention {undocumented:?}"
    );
}
