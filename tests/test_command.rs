//! `meshsim test`: passing and failing suites, every expectation kind's failure message, the
//! peers' formats, coverage gates, JSON and JUnit.

use std::process::Command;

fn meshsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NO_COLOR")
        .output()
        .expect("run meshsim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const MESH: &str = "tests/data/testmesh/mesh.yaml";

#[test]
fn a_passing_suite() {
    let (code, out, err) = meshsim(&["test", "-f", MESH, "tests/data/testmesh/passing.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\n4 passed, 0 failed\n"), "{out}");
    assert!(
        out.starts_with("ok      redirect\n"),
        "piped output has no colour codes: {out:?}"
    );
    assert!(
        out.contains("coverage: 6 of 6 rules and weighted destinations (100.0%)"),
        "{out}"
    );
}

#[test]
fn every_expectation_kind_fails_with_a_clear_message() {
    let (code, out, _) = meshsim(&["test", "-f", MESH, "-t", "tests/data/testmesh/failing.yaml"]);
    assert_eq!(code, 1);
    for line in [
        "FAILED  wrong route (tests/data/testmesh/failing.yaml:3:9)",
        "route: expected api, got old",
        "virtualService: expected other, got default/web",
        "host: expected sniffer, got web.default.svc.cluster.local",
        "subset: expected v2, got v1",
        "port: expected 9090, got 80",
        "cluster: expected outbound|80|v2|web.default.svc.cluster.local, got outbound|80|v1|web.default.svc.cluster.local",
        "endpoint: expected 1.2.3.4:80, got ",
        "workload: expected web-v2-*, got web-v1-",
        "status: expected 200, got 503",
        "flags: expected UH, got URX",
        "redirect: expected /elsewhere, got http://web.example.com/new",
        "rewrite uri: expected /v3, got /v2",
        "mirrors: expected [], got [\"sniffer\"]",
        "attempts: expected 1..2, got 3",
        "share v2: expected 50.00% ± 5.00%, got ",
        "same_endpoint: expected true, got 4 distinct endpoint(s)",
        "not subset: expected anything but v1, got v1",
        "0 passed, 17 failed",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    // The first failing request is explained, with how many failed.
    assert!(
        out.contains("first failing request (#1; 1 of 1 requests failed): GET http://web/old"),
        "{out}"
    );
    assert!(out.contains("rule 0 \"old\": matches"), "{out}");
    // A stream expectation shows where the requests went, not request #1's trace.
    let share = &out[out.find("FAILED  wrong share").unwrap()..];
    let share = &share[..share[1..].find("FAILED").unwrap()];
    assert!(
        share.contains("observed over 2000 requests: web v1 76.20% (1524), web v2 23.80% (476)"),
        "{share}"
    );
    assert!(!share.contains("first failing request"), "{share}");
}

#[test]
fn json_and_junit() {
    let junit = std::env::temp_dir().join(format!("meshsim-junit-{}.xml", std::process::id()));
    let (code, out, _) = meshsim(&[
        "test",
        "-f",
        MESH,
        "tests/data/testmesh/failing.yaml",
        "-o",
        "json",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["failed"], 17);
    assert_eq!(v["tests"][0]["name"], "wrong route");
    assert_eq!(v["tests"][0]["line"], 3);
    assert_eq!(v["tests"][0]["failures"][0]["what"], "route");
    assert_eq!(v["tests"][0]["failures"][0]["expected"], "api");
    let xml = std::fs::read_to_string(&junit).unwrap();
    let _ = std::fs::remove_file(&junit);
    assert!(xml.starts_with(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"17\" failures=\"17\">"
    ));
    assert!(xml.contains(
        "<testcase name=\"wrong route\" classname=\"tests/data/testmesh/failing.yaml\">"
    ));
    assert!(xml.contains("<failure message=\"route: expected api, got old\">"));
    assert!(xml.contains("mirrors: expected [], got [&quot;sniffer&quot;]"));
    assert_eq!(
        xml.matches("<testcase").count(),
        xml.matches("</testcase>").count()
    );
}

#[test]
fn coverage_gate() {
    let (code, out, err) = meshsim(&[
        "test",
        "-f",
        "policies/canary-10-percent",
        "--fail-under",
        "100",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    // Only the redirect rule: the others are not exercised.
    let only_one = std::env::temp_dir().join(format!("meshsim-one-{}.yaml", std::process::id()));
    std::fs::write(
        &only_one,
        "tests:\n- name: redirect\n  request: \"GET http://web/old\"\n  expect: {status: 301}\n",
    )
    .unwrap();
    let (code, out, err) = meshsim(&[
        "test",
        "-f",
        MESH,
        only_one.to_str().unwrap(),
        "--fail-under",
        "50",
    ]);
    let _ = std::fs::remove_file(&only_one);
    assert_eq!(code, 1);
    assert!(out.contains("1 passed, 0 failed"), "{out}");
    assert!(
        out.contains("coverage: 1 of 6 rules and weighted destinations (16.7%); not exercised:"),
        "{out}"
    );
    assert!(
        out.contains("  default/web http[3] \"split\" route[1] (web v2)"),
        "{out}"
    );
    assert!(
        err.contains("coverage 16.7% is under --fail-under 50%"),
        "{err}"
    );
}

#[test]
fn errors_in_test_files_point_at_the_line() {
    let bad = std::env::temp_dir().join(format!("meshsim-bad-{}.yaml", std::process::id()));
    std::fs::write(
        &bad,
        "tests:\n- name: typo\n  request: {authority: web}\n  expect: {subste: v1}\n",
    )
    .unwrap();
    let (code, _, err) = meshsim(&["test", "-f", MESH, bad.to_str().unwrap()]);
    let _ = std::fs::remove_file(&bad);
    // An invalid test file is invalid input: 1. meshsim's format is strict without --strict (a
    // misspelt expectation would leave the test asserting nothing).
    assert_eq!(code, 1);
    assert!(
        err.contains(":4:12: tests[0].expect.subste: error[MS0013]: unknown field `subste`"),
        "{err}"
    );
    assert!(err.contains("did you mean `subset`?"), "{err}");
}

#[test]
fn every_shipped_policy_passes_its_tests() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut n = 0;
    for e in std::fs::read_dir(root).unwrap() {
        let dir = e.unwrap().path();
        if !dir.join("tests.yaml").is_file() {
            continue;
        }
        n += 1;
        let (code, out, err) = meshsim(&["test", "-f", dir.to_str().unwrap()]);
        assert_eq!(code, 0, "{}:\n{out}{err}", dir.display());
        assert!(out.contains(" passed, 0 failed"), "{out}");
    }
    assert!(n >= 9, "every policy folder ships tests.yaml ({n})");
}

const PEERS: &str = "../shared/peer-suites/istio-config-validator";

#[test]
fn istio_config_validator_suites_run_unchanged() {
    let vs = format!("{PEERS}/virtualservice.yml");
    let multi = format!("{PEERS}/multidocument_virtualservice.yml");
    let tests = format!("{PEERS}/virtualservice_test.yml");
    let (code, out, err) = meshsim(&["test", "-f", &vs, "-f", &multi, "-t", &tests]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("6 passed, 0 failed"), "{out}");
    // The delegate suite: istio-config-validator matches a delegate's rules without the root's
    // match; Istio merges them, and drops a delegate rule whose regex conflicts with the root's
    // and a rule whose delegate does not exist. meshsim follows Istio, says why, and these
    // three cases fail.
    let (code, out, err) = meshsim(&[
        "test",
        "-f",
        &format!("{PEERS}/delegate_virtualservice.yml"),
        "-t",
        &format!("{PEERS}/virtualservice_delegate_test.yml"),
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("0 passed, 3 failed"), "{out}");
    assert!(err.contains("warning[MS0041]: rule 0 of delegate example/merchants-delegate conflicts with the match of rule 0 of example/merchants"), "{err}");
    assert!(err.contains("warning[MS0040]: delegate VirtualService example/seller-delegate not found; Istio drops this rule"), "{err}");
    assert!(
        err.contains("warning[MS0041]: rule 0 of delegate example/product-delegate conflicts"),
        "{err}"
    );
}

#[test]
fn envoy_route_check_suites_run_unchanged() {
    let rc = format!("{PEERS}/router-check");
    let (code, out, err) = meshsim(&[
        "test",
        "-f",
        &format!("{rc}/reviews-virtualservice.yml"),
        "-f",
        &format!("{rc}/details-virtualservice.yaml"),
        "-t",
        &format!("{rc}/reviews_test.yaml"),
        "-t",
        &format!("{rc}/details_test.yml"),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("4 passed, 0 failed"), "{out}");
}

#[test]
fn a_test_cannot_ask_for_unbounded_work() {
    let big = std::env::temp_dir().join(format!("meshsim-big-{}.yaml", std::process::id()));
    std::fs::write(&big, "tests:\n- name: forever\n  requests: 1000000000000\n  request: {authority: web}\n  expect: {status: 200}\n").unwrap();
    let (code, _, err) = meshsim(&["test", "-f", MESH, big.to_str().unwrap()]);
    let _ = std::fs::remove_file(&big);
    assert_eq!(code, 1);
    assert!(
        err.contains(
            ":3:13: tests[0].requests: error[MS0031]: a test may send at most 10000000 requests"
        ),
        "{err}"
    );
}

/// A test that names what the mesh lacks could only pass or fail by accident: each such name,
/// `requests: 0` and an impossible status is a located error before any request is sent.
#[test]
fn tests_naming_what_the_mesh_lacks_are_errors() {
    let bad = std::env::temp_dir().join(format!("meshsim-names-{}.yaml", std::process::id()));
    std::fs::write(
        &bad,
        "tests:
- name: a subset that does not exist
  request: {authority: web}
  expect: {share: {v3: 0% ± 1%}}
- name: no such subset either
  request: {authority: web}
  expect: {not: {subset: v9}}
- name: no such rule
  request: {authority: web}
  expect: {route: splitt}
- name: nothing sent
  requests: 0
  request: {authority: web}
  expect: {status: 200}
- name: not a status
  request: {authority: web}
  expect: {status: 999}
- name: fine
  request: {authority: web}
  expect: {share: {v1: 50% ± 10%, web-v2-*: 50% ± 10%}}
",
    )
    .unwrap();
    let (code, _, err) = meshsim(&["test", "-f", MESH, bad.to_str().unwrap()]);
    let _ = std::fs::remove_file(&bad);
    assert_eq!(code, 1, "{err}");
    for needle in [
        ":2:9: test \"a subset that does not exist\": share `v3` names no subset",
        ":5:9: test \"no such subset either\": not: subset `v9` is defined by no DestinationRule (subsets: v1, v2)",
        ":8:9: test \"no such rule\": route `splitt` is the name of no rule",
        ":11:9: test \"nothing sent\": requests: 0 sends nothing",
        ":15:9: test \"not a status\": status 999 is not an HTTP status",
        "meshsim: 5 problem(s) in the test files",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert!(!err.contains("\"fine\""), "{err}");
}

/// `meshsim test -f policies`: each folder's tests run against that folder's own mesh, not one
/// merged mesh (where canary-cookie's and canary-10-percent's VirtualServices would replace
/// each other and their tests fail).
#[test]
fn each_policy_folder_runs_its_own_suite() {
    let (code, out, err) = meshsim(&["test", "-f", "policies"]);
    assert_eq!(code, 0, "{out}{err}");
    let folders = std::fs::read_dir("policies").unwrap().count();
    assert!(
        out.contains(&format!("{folders} suite(s), 0 failed")),
        "{out}"
    );
    assert!(out.contains("== policies/canary-cookie\n"), "{out}");
    assert!(out.contains("== policies/retry\n"), "{out}");
    let (code, _, err) = meshsim(&["test", "-f", "policies", "-o", "json"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("run them one at a time for -o json"), "{err}");
}

/// istio-config-validator's CI runs `-t examples/ examples/`: a test folder that also holds
/// configs. Files without test cases in a `-t` folder are skipped, as the peer skips them; a
/// file named on its own must be a test file.
#[test]
fn configs_in_a_test_folder_are_skipped() {
    let dir = std::env::temp_dir().join(format!("meshsim-tfolder-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(MESH, dir.join("mesh.yaml")).unwrap();
    std::fs::write(
        dir.join("tests.yaml"),
        "tests:\n- name: web answers\n  request: {authority: web, path: /api}\n  expect: {status: 200}\n",
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    let (code, out, err) = meshsim(&["test", "-f", d, "-t", d]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 passed, 0 failed"), "{out}");
    let mesh = dir.join("mesh.yaml");
    let (code, _, err) = meshsim(&["test", "-f", d, "-t", mesh.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The README's example test file runs as it stands against the policy it names.
#[test]
fn the_readme_example_passes_against_its_policy() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let section = &readme[readme.find("### Policy tests").unwrap()..];
    let yaml = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("an example");
    assert!(
        yaml.contains("policies/canary-cookie"),
        "it names its policy"
    );
    let f = std::env::temp_dir().join(format!("meshsim-readme-{}.yaml", std::process::id()));
    std::fs::write(&f, yaml).unwrap();
    let (code, out, err) = meshsim(&[
        "test",
        "-f",
        "policies/canary-cookie",
        "-t",
        f.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&f);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("3 passed, 0 failed"), "{out}");
}

/// istio-config-validator reads its test files leniently unless `--strict` (Go's JSON decoder
/// ignores unknown fields; `DisallowUnknownFields` only under its `--strict`): its users'
/// suites with fields it ignores run unchanged, each such field a located warning; `--strict`
/// makes them errors.
#[test]
fn istio_config_validator_unknown_fields_warn_unless_strict() {
    let original = std::fs::read_to_string(format!("{PEERS}/virtualservice_test.yml")).unwrap();
    let text = original
        .replacen(
            "    wantMatch: true\n",
            "    wantMatch: true\n    owner: web-team\n",
            1,
        )
        .replacen(
            "        host: users.users.svc.cluster.local\n",
            "        host: users.users.svc.cluster.local\n        subsett: v1\n",
            1,
        );
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let (owner, subset) = (line_of("owner: web-team"), line_of("subsett: v1"));
    let f = std::env::temp_dir().join(format!("meshsim-icv-lenient-{}.yml", std::process::id()));
    std::fs::write(&f, &text).unwrap();
    let file = f.to_str().unwrap();
    let vs = format!("{PEERS}/virtualservice.yml");
    let multi = format!("{PEERS}/multidocument_virtualservice.yml");
    let (code, out, err) = meshsim(&["test", "-f", &vs, "-f", &multi, "-t", file]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("6 passed, 0 failed"), "{out}");
    for needle in [
        format!("{file}:{owner}:5: testCases[0].owner: warning[MS0013]: unknown field `owner`"),
        format!(
            "{file}:{subset}:9: testCases[0].route[0].destination.subsett: warning[MS0013]: unknown field `subsett`"
        ),
        "did you mean `subset`?".to_string(),
        "ignored (pass --strict to make it an error)".to_string(),
    ] {
        assert!(err.contains(&needle), "missing {needle:?} in:\n{err}");
    }
    let (code, out, err) = meshsim(&["test", "--strict", "-f", &vs, "-f", &multi, "-t", file]);
    let _ = std::fs::remove_file(&f);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(&format!(
            "{file}:{owner}:5: testCases[0].owner: error[MS0013]: unknown field `owner`"
        )),
        "{err}"
    );
}

/// `upstream` and `response` expectations: what the backend receives after the route's
/// rewrites and header changes, and the response headers the client gets; each can fail.
#[test]
fn upstream_and_response_expectations_hold_and_can_fail() {
    let (code, out, err) = meshsim(&[
        "test",
        "-f",
        "tests/data/headers/mesh.yaml",
        "tests/data/headers/tests.yaml",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 passed, 0 failed"), "{out}");
    let wrong = std::env::temp_dir().join(format!("meshsim-upstream-{}.yaml", std::process::id()));
    std::fs::write(
        &wrong,
        "tests:
- name: wrong
  request: {authority: web, headers: {x-gone: \"1\"}}
  expect:
    upstream: {path: /other, headers: {x-set: old}, absentHeaders: [x-dest]}
    response: {headers: {server: envoy}}
",
    )
    .unwrap();
    let (code, out, _) = meshsim(&[
        "test",
        "-f",
        "tests/data/headers/mesh.yaml",
        wrong.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&wrong);
    assert_eq!(code, 1, "{out}");
    for needle in [
        "upstream path: expected /other, got /",
        "upstream header x-set: expected old, got new",
        "upstream header x-dest: expected (absent), got d",
        "response header server: expected envoy, got (absent)",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}
