//! `meshsim simulate --html`: a self-contained page whose numbers are the summary's, whose SVG
//! is well-formed, and which a real browser (headless Chromium, when installed) renders without
//! console errors.

mod common;

use common::meshsim;
use common::xml::assert_well_formed_xml;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where reports and screenshots are kept (CI artifacts under `target/`).
fn out_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/html-report");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes the report for a policy folder and returns (page, summary JSON).
fn report(name: &str, extra: &[&str]) -> (PathBuf, String, serde_json::Value) {
    let path = out_dir().join(format!("{name}.html"));
    let policy = format!("policies/{name}");
    let mut args = vec!["simulate", "-f", &policy, "-o", "json"];
    args.extend(extra);
    let html = path.to_str().unwrap().to_string();
    args.extend(["--html", &html]);
    let out = meshsim(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (path.clone(), std::fs::read_to_string(&path).unwrap(), json)
}

fn svgs(page: &str) -> Vec<&str> {
    page.match_indices("<svg ")
        .map(|(i, _)| {
            let end = page[i..].find("</svg>").unwrap() + i + "</svg>".len();
            &page[i..end]
        })
        .collect()
}

#[test]
fn cookie_canary_page_holds_the_summary_numbers() {
    let (_, page, json) = report("canary-cookie", &[]);
    // Every route/destination count of the summary appears in the route table row.
    for d in json["destinations"].as_array().unwrap() {
        let route = d["route"].as_str().unwrap();
        let row = format!(
            "<td>{}</td><td>{}</td>",
            d["destination"].as_str().unwrap(),
            d["requests"]
        );
        let line = page
            .lines()
            .find(|l| l.starts_with(&format!("<tr><td>{route}</td>")))
            .unwrap_or_else(|| panic!("no row for {route}"));
        assert!(line.contains(&row), "missing {row} in {line}");
    }
    // Each route's match conditions, as the policy states them.
    assert!(page.contains(
        "<tr><td>default/myweb tester</td><td>header cookie ~ ^(.*?; ?)?(usertype=tester)(;.*)?$</td>"
    ));
    assert!(page.contains("<tr><td>default/myweb default</td><td>any request</td>"));
    assert!(page.contains("<dt>requests</dt><dd>10000</dd>"));
    assert!(page.contains("<dt>seed</dt><dd>1</dd>"));
    // Inputs say which files, so the report is reproducible.
    assert!(page.contains("<dt>files</dt><dd>policies/canary-cookie</dd>"));
    // The graph shows each destination's share of all requests, as the summary counts them.
    let v1 = json["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["destination"] == "myweb-service v1")
        .and_then(|d| d["requests"].as_u64())
        .expect("v1 gets requests");
    let label = format!("{:.1}% · 100.0% ok", v1 as f64 / 100.0);
    assert!(page.contains(&label), "route edge label {label}");
    for svg in svgs(&page) {
        assert_well_formed_xml(svg);
    }
    assert!(svgs(&page).len() >= 4, "graph and at least three panels");
}

#[test]
fn page_is_self_contained() {
    let (_, page, _) = report("canary-10-percent", &["-n", "2000"]);
    for needle in ["<script", "src=", "href=", "@import", "url(", "<link"] {
        assert!(
            !page.contains(needle),
            "page fetches or runs something: {needle}"
        );
    }
    assert!(page.starts_with("<!DOCTYPE html>"));
    // A weighted split: configured 90/10 against observed, with its band and verdict.
    assert!(page.contains("<td>90.0%</td>"), "configured weight");
    assert!(page.contains("within") || page.contains("outside"));
}

#[test]
fn mirrored_copies_are_drawn_dashed() {
    let (_, page, json) = report("mirror", &["-n", "200"]);
    let copies: u64 = json["mirrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["copies"].as_u64().unwrap())
        .sum();
    assert!(copies > 0, "the mirror policy mirrors");
    assert!(page.contains(&format!(
        r#"stroke-dasharray="6 4"><title>{copies} copies mirrored"#
    )));
}

#[test]
fn consistent_hash_destination_gets_its_ring() {
    let (_, page, _) = report(
        "lb-header-hash",
        &[
            "--request",
            "GET http://myweb-service/ user:alice",
            "-n",
            "50",
        ],
    );
    assert!(page.contains("<h2>Consistent hashing</h2>"));
    // The destination's ring, at the size Envoy builds by default for the policy.
    assert!(page.contains("(minimum_ring_size 1024)"), "ring caption");
    assert!(
        page.contains("ring-hash over 3 endpoints"),
        "ring panel heading"
    );
    // Each endpoint is named on the page itself, not only in a tooltip.
    for ep in ["10.79.16.1:80", "10.79.16.2:80", "10.79.16.3:80"] {
        assert!(
            page.contains(&format!(
                "rotate(-60)\" text-anchor=\"end\" font-size=\"10\">{ep}</text>"
            )),
            "{ep} labelled"
        );
    }
    // ... and around the ring, with the share of the circle it owns; the shares add up.
    let total: f64 = ["10.79.16.1:80", "10.79.16.2:80", "10.79.16.3:80"]
        .iter()
        .map(|ep| {
            let at = page
                .find(&format!("\">{ep} "))
                .unwrap_or_else(|| panic!("{ep} named on the ring"));
            let rest = &page[at + ep.len() + 3..];
            rest[..rest.find("%</text>").expect("a share")]
                .parse::<f64>()
                .unwrap()
        })
        .sum();
    assert!((total - 100.0).abs() < 0.2, "ring shares sum to {total}");
}

/// A suite with one failing test: the page lists both, and the failure shows expected against
/// actual, the graph of the failing request and its trace.
fn failing_suite_page(name: &str) -> (PathBuf, String) {
    let dir = out_dir();
    let tests = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &tests,
        "tests:\n\
         - name: testers get v2\n  request: {authority: myweb-service, headers: {cookie: \"usertype=tester\"}}\n  expect: {subset: v2}\n\
         - name: wrongly expects testers on v1\n  request: {authority: myweb-service, headers: {cookie: \"usertype=tester\"}}\n  expect: {subset: v1}\n",
    )
    .unwrap();
    let html = dir.join(format!("{name}.html"));
    let out = meshsim(&[
        "test",
        "-f",
        "policies/canary-cookie",
        tests.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "one test fails");
    (html.clone(), std::fs::read_to_string(&html).unwrap())
}

#[test]
fn test_report_shows_failures_with_their_graph() {
    let (_, page) = failing_suite_page("test-report");
    assert!(page.contains("<dd>1 passed, 1 failed</dd>"));
    assert!(page.contains("<h2>FAILED: wrongly expects testers on v1</h2>"));
    assert!(page.contains("<tr><td>subset</td><td>v1</td><td>v2</td></tr>"));
    assert!(
        page.contains("rule 0 &quot;tester&quot;: matches"),
        "the explain trace"
    );
    let graphs = svgs(&page);
    assert_eq!(graphs.len(), 1, "one graph, for the one failing test");
    assert_well_formed_xml(graphs[0]);
    assert!(graphs[0].contains("myweb-service v2"));
}

fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("CHROMIUM_BIN") {
        return Some(PathBuf::from(p));
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|b| {
            Command::new("sh")
                .args(["-c", &format!("command -v {b}")])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        })
}

/// Headless Chromium, a fresh profile, no network: returns (stderr, DOM) and writes a PNG.
fn render(browser: &Path, page: &Path, png: &Path) -> (String, String) {
    let profile = out_dir().join(format!(
        "profile-{}",
        page.file_stem().unwrap().to_string_lossy()
    ));
    let _ = std::fs::remove_dir_all(&profile);
    let url = format!("file://{}", page.display());
    let common = [
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        format!("--user-data-dir={}", profile.display()),
        "--proxy-server=127.0.0.1:9".into(), // any fetch would fail: no network
        "--enable-logging=stderr".into(),
        "--v=0".into(),
        "--window-size=1100,2200".into(),
    ];
    let shot = Command::new(browser)
        .args(&common)
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .output()
        .unwrap();
    let dom = Command::new(browser)
        .args(&common)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    (
        String::from_utf8_lossy(&shot.stderr).to_string() + &String::from_utf8_lossy(&dom.stderr),
        String::from_utf8_lossy(&dom.stdout).to_string(),
    )
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "needs headless Chromium (apt install chromium, or CHROMIUM_BIN)"
)]
fn a_browser_renders_the_reports() {
    // build.rs saw a browser when the tests were built (else the test is ignored).
    let browser = chromium().expect("no Chromium any more (build.rs found one): rebuild the tests");
    // Tests run in parallel: this one writes its own copy of the failing suite's page.
    let (path, _) = failing_suite_page("test-report-browser");
    let png = out_dir().join("test-report.png");
    let (log, dom) = render(&browser, &path, &png);
    assert!(!log.contains("CONSOLE"), "test report: {log}");
    assert!(dom.contains("FAILED: wrongly expects testers on v1"));
    assert!(std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0) > 10_000);
    for (name, extra) in [
        ("canary-cookie", vec![]),
        (
            "retry",
            vec![
                "--request",
                "GET http://retry-service/?failRate=50",
                "-n",
                "400",
                "--rate",
                "20/s",
            ],
        ),
    ] {
        let (path, _, _) = report(name, &extra);
        let png = out_dir().join(format!("{name}.png"));
        let _ = std::fs::remove_file(&png);
        let (log, dom) = render(&browser, &path, &png);
        let console_errors: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
            .collect();
        assert!(console_errors.is_empty(), "{name}: {console_errors:?}");
        let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
        assert!(size > 20_000, "{name}: screenshot of {size} bytes");
        // The browser's DOM holds the graph with edges and the panels with lines.
        assert!(dom.contains("class=\"graph\""), "{name}: no graph");
        assert!(
            dom.matches("<path d=\"M").count() >= 3,
            "{name}: graph edges"
        );
        assert!(
            dom.matches("class=\"chart\"").count() >= 3,
            "{name}: panels"
        );
        assert!(dom.contains("<polyline"), "{name}: panel lines");
        if name == "retry" {
            // Half the tries fail: the failing edges are red, latency is plotted.
            assert!(
                dom.contains("stroke=\"#d33\""),
                "retry: failing edges in red"
            );
            assert!(dom.contains("Latency percentiles"), "retry: latency panel");
        }
    }
}

/// The latency chart follows the summary: on the tutorial's retry lesson (failRate=50, pods
/// that hang 5 s then crash) the p50 series reaches the summary's p50, where it used to sit
/// flat at 0 ms (percentiles were asked for as fractions of a percent).
#[test]
fn the_latency_chart_agrees_with_the_summary() {
    let (_, page, json) = report(
        "retry",
        &[
            "--request",
            "GET http://retry-service/?failRate=50",
            "-n",
            "300",
        ],
    );
    let p50 = json["latencyMs"]["p50"].as_f64().unwrap();
    assert!(p50 > 100.0, "the lesson's median is slow: {p50}");
    let title = page
        .split("<title>p50: ")
        .nth(1)
        .expect("a p50 series")
        .split("</title>")
        .next()
        .unwrap();
    let (lo, hi) = title.split_once(" to ").unwrap();
    let (lo, hi): (f64, f64) = (lo.parse().unwrap(), hi.parse().unwrap());
    assert!(
        hi >= p50 * 0.5 && hi > 0.0,
        "p50 series {lo}..{hi}, summary p50 {p50}"
    );
    assert!(lo <= p50 * 2.0, "p50 series {lo}..{hi}, summary p50 {p50}");
}

/// The routes table lists rules in the order the proxy tries them (rule 0 "tester" before
/// rule 1 "default"), not alphabetically.
#[test]
fn the_routes_table_is_in_rule_order() {
    let (_, page, _) = report("canary-cookie", &["-n", "2000"]);
    let table = &page[page
        .find("<h2>Routes: configured against observed</h2>")
        .unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    let tester = table
        .find("<td>default/myweb tester</td>")
        .expect("tester row");
    let default = table
        .find("<td>default/myweb default</td>")
        .expect("default row");
    assert!(tester < default, "{table}");
}
