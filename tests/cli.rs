//! The `meshsim` binary: output and exit codes.

use std::process::Command;

fn meshsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run meshsim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_a_policy_folder() {
    let (code, out, err) = meshsim(&["validate", "-f", "policies/canary-10-percent"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().next().unwrap(),
        "1 VirtualService, 1 DestinationRule, 3 Deployment (7 pods), 1 Service"
    );
    // The folder's own test file is recognised and skipped, not an error.
    assert!(
        out.contains("skipped: meshsim tests at policies/canary-10-percent/tests.yaml"),
        "{out}"
    );
    assert!(err.is_empty(), "{err}");
}

#[test]
fn validate_reports_every_error_and_exits_1() {
    let (code, out, err) = meshsim(&["validate", "-f", "tests/data/errors"]);
    assert_eq!(code, 1);
    assert_eq!(out.trim(), "1 DestinationRule");
    assert_eq!(
        err.lines().filter(|l| l.contains(": error[")).count(),
        7,
        "{err}"
    );
    assert!(err.contains(
        "tests/data/errors/crlf-three-docs.yaml:12:15: spec.http[0].route[0].weight: error[MS0012]: expected an integer, found `ten`"
    ), "{err}");
    assert!(
        err.contains("  = hint: did you mean `mirrorPercentage`?"),
        "{err}"
    );
    assert!(err.trim_end().ends_with("7 errors, 0 warnings"), "{err}");
}

#[test]
fn strict_turns_warnings_into_a_failure() {
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/seed-policies");
    let (code, out, err) = meshsim(&["validate", "-f", seed]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("ignored: DestinationPolicy myweb-service-policy"),
        "{out}"
    );
    assert!(err.contains("warning[MS0030]"), "{err}");
    // Warnings under --strict are findings in the input (1), never the usage code (2).
    let (code, _, _) = meshsim(&["validate", "--strict", "-f", seed]);
    assert_eq!(code, 1);
}

#[test]
fn json_output_lists_every_finding() {
    let (code, out, _) = meshsim(&[
        "validate",
        "-o",
        "json",
        "-f",
        "tests/data/errors/unknown-field.yaml",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let f = &v["findings"][0];
    assert_eq!(f["code"], "MS0013");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["line"], 13);
    assert_eq!(f["column"], 5);
    assert_eq!(f["path"], "spec.http[0].mirrorPercentag");
    assert_eq!(f["hint"], "did you mean `mirrorPercentage`?");
}

#[test]
fn missing_file_is_an_error_not_a_panic() {
    let (code, _, err) = meshsim(&["validate", "-f", "no/such/file.yaml"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no/such/file.yaml:1:1: error[MS0001]: cannot read"),
        "{err}"
    );
}

#[test]
fn simulate_prints_shares_with_expectations() {
    let (code, out, err) = meshsim(&[
        "simulate",
        "-f",
        "policies/canary-10-percent",
        "-n",
        "20000",
        "--request",
        "GET http://myweb-service/",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("20000 requests (20000 × GET http://myweb-service/), seed 1, Istio 1.31"),
        "{out}"
    );
    let line = out
        .lines()
        .find(|l| l.contains("myweb-service v2"))
        .unwrap();
    assert!(
        line.trim_end().ends_with("10.0%"),
        "expected share from the weights: {line}"
    );
    let count: u64 = line.split_whitespace().nth(4).unwrap().parse().unwrap();
    // 3σ of 20000 × 0.1.
    assert!(
        (count as f64 - 2000.0).abs() < 3.0 * (20000.0f64 * 0.1 * 0.9).sqrt(),
        "{line}"
    );
}

#[test]
fn simulate_jsonl_has_one_decision_per_request_in_order() {
    let dir = std::env::temp_dir().join(format!("meshsim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let reqs = dir.join("reqs.jsonl");
    std::fs::write(
        &reqs,
        "{\"authority\": \"myweb-service\", \"headers\": {\"cookie\": \"usertype=tester\"}}\n\n{\"authority\": \"myweb-service\"}\n{\"authority\": \"nowhere.example\"}\n",
    )
    .unwrap();
    let (code, out, err) = meshsim(&[
        "simulate",
        "-f",
        "policies/canary-cookie",
        "--requests",
        reqs.to_str().unwrap(),
        "-o",
        "jsonl",
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["route"], "tester");
    assert_eq!(lines[0]["subset"], "v2");
    assert_eq!(
        lines[0]["destination"]["host"],
        "myweb-service.default.svc.cluster.local"
    );
    assert_eq!(lines[0]["destination"]["port"], 80);
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["flags"], "-");
    assert!(
        lines[0]["workload"]
            .as_str()
            .unwrap()
            .starts_with("myweb-deployment-v2-")
    );
    assert_eq!(lines[0]["attempts"][0]["endpoint"], lines[0]["endpoint"]);
    assert_eq!(lines[1]["subset"], "v1");
    assert_eq!(lines[2]["route"], "allow_any");
    assert_eq!(lines[2]["endpoint"], serde_json::Value::Null);
    // Same input, same seed: byte-identical output.
    let (_, again, _) = meshsim(&[
        "simulate",
        "-f",
        "policies/canary-cookie",
        "--requests",
        reqs.to_str().unwrap(),
        "-o",
        "jsonl",
    ]);
    assert_eq!(out, again);
    // A bad line is located.
    std::fs::write(&reqs, "{\"authority\": \"a\"}\n{\"authorty\": \"a\"}\n").unwrap();
    let (code, _, err) = meshsim(&[
        "simulate",
        "-f",
        "policies/canary-cookie",
        "--requests",
        reqs.to_str().unwrap(),
    ]);
    // Invalid input: 1 (usage errors are 2).
    assert_eq!(code, 1);
    assert!(err.contains("reqs.jsonl:2:"), "{err}");
    assert!(err.contains("unknown field `authorty`"), "{err}");
}

#[test]
fn explain_says_which_condition_failed() {
    let (code, out, err) = meshsim(&[
        "explain",
        "-f",
        "policies/canary-cookie",
        "--request",
        "GET http://myweb-service/ cookie:a=1",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(
        "rule 0 \"tester\": header cookie \"a=1\" does not fully match regex ^(.*?; ?)?(usertype=tester)(;.*)?$"
    ), "{out}");
    assert!(out.contains("rule 1 \"default\": matches"), "{out}");
    assert!(
        out.contains(
            "virtual host myweb-service.default.svc.cluster.local:80 (VirtualService default/myweb)"
        ),
        "{out}"
    );
    assert!(
        out.contains("result: 200 -, route default/myweb default, myweb-service v1"),
        "{out}"
    );
}

#[test]
fn the_traffic_spec_of_a_policy_folder_is_used_by_default() {
    let (code, out, err) = meshsim(&["simulate", "-f", "policies/canary-cookie", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["requests"], 10000);
    let testers = v["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["route"] == "default/myweb tester")
        .unwrap();
    let n = testers["requests"].as_u64().unwrap();
    // One template in ten carries the cookie (in the middle of the header).
    assert!(
        (n as f64 - 1000.0).abs() < 3.0 * (10000.0f64 * 0.1 * 0.9).sqrt(),
        "{n}"
    );
}

#[test]
fn envoy_config_shows_what_istiod_generates() {
    let (code, out, err) = meshsim(&["envoy-config", "-f", "policies/canary-10-percent"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let vh = v["route_config"]["virtual_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|vh| vh["name"] == "myweb-service.default.svc.cluster.local:80")
        .unwrap();
    assert!(
        vh["domains"]
            .as_array()
            .unwrap()
            .contains(&"myweb-service".into())
    );
    let wc = &vh["routes"][0]["route"]["weighted_clusters"]["clusters"];
    assert_eq!(
        wc[0]["name"],
        "outbound|80|v1|myweb-service.default.svc.cluster.local"
    );
    assert_eq!(wc[0]["weight"], 90);
    assert_eq!(wc[1]["weight"], 10);
    // Istio's default retry policy on every route.
    let rp = &vh["routes"][0]["route"]["retry_policy"];
    assert_eq!(rp["num_retries"], 2);
    assert_eq!(
        rp["retry_on"],
        "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
    );
    let clusters = v["clusters"].as_array().unwrap();
    let v1 = clusters
        .iter()
        .find(|c| c["name"] == "outbound|80|v1|myweb-service.default.svc.cluster.local")
        .unwrap();
    assert_eq!(v1["lb_policy"], "LEAST_REQUEST");
    assert_eq!(
        v1["load_assignment"]["endpoints"][0]["lb_endpoints"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

/// `simulate` splits a summary's work over threads: the output is byte for byte the same
/// whatever the thread count, and the same as the request-by-request engine's (which the
/// visual report needs, so `--html` takes it).
#[test]
fn simulate_output_does_not_depend_on_threads() {
    let dir = std::env::temp_dir().join(format!("meshsim-threads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let html = dir.join("r.html");
    for policy in ["policies/canary-cookie", "policies/lb-header-hash"] {
        let run = |extra: &[&str]| {
            let mut args = vec!["simulate", "-f", policy, "-n", "150000", "-o", "json"];
            args.extend_from_slice(extra);
            let (code, out, err) = meshsim(&args);
            assert_eq!(code, 0, "{err}");
            out
        };
        let one = run(&["-j", "1"]);
        assert_eq!(run(&["-j", "2"]), one, "{policy}: 2 threads");
        assert_eq!(run(&["-j", "3"]), one, "{policy}: 3 threads");
        let engine = run(&["--html", html.to_str().unwrap()]);
        assert_eq!(engine, one, "{policy}: the engine, request by request");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
