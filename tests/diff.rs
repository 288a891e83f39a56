//! `meshsim diff`: one stream, two meshes, common random numbers.

mod common;

use common::meshsim;
use meshsim::Mesh;
use meshsim::compile::{CompiledMesh, IstioVersion};
use meshsim::lab::{self, Algorithm, LabConfig};
use meshsim::lb::hash::xx;
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/diff-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn diff_json(args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let mut all = vec!["diff", "-o", "json"];
    all.extend(args);
    let out = meshsim(&all);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    (
        out.status.code(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn share(v: &serde_json::Value, list: &str, name: &str, side: &str) -> f64 {
    v[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .map_or(0.0, |r| r[side].as_f64().unwrap())
}

/// The tutorial's 90/10 canary before, its cookie canary after, `n` copies of `request`.
fn canary_to_cookie(
    request: &str,
    n: &str,
    extra: &[&str],
) -> (Option<i32>, serde_json::Value, String) {
    let mut a = vec![
        "--before",
        "policies/canary-10-percent",
        "--after",
        "policies/canary-cookie",
    ];
    a.extend(["--request", request, "-n", n, "--allow-status-change"]);
    a.extend(extra);
    diff_json(&a)
}

/// The 90/10 canary against the cookie canary: cookie-less requests that were on v2 (about 10%)
/// all move to v1, and nothing else moves (common random numbers: the v1 requests keep their
/// pick).
#[test]
fn canary_to_cookie_canary_moves_the_v2_share_to_v1() {
    let (_, v, _) = canary_to_cookie("GET http://myweb-service/", "5000", &[]);
    let before_v2 = share(&v, "destinations", "myweb-service v2", "before");
    assert!(
        (before_v2 - 0.10).abs() < 0.02,
        "the 10% canary: {before_v2}"
    );
    assert_eq!(v["changed"]["destination"].as_f64().unwrap(), before_v2);
    let moves = v["moves"].as_array().unwrap();
    assert_eq!(moves.len(), 1, "{moves:?}");
    assert_eq!(moves[0]["from"], "myweb-service v2");
    assert_eq!(moves[0]["to"], "myweb-service v1");
    assert_eq!(share(&v, "destinations", "myweb-service v1", "after"), 1.0);
}

/// Tester requests: all go to v2 after the change; none of those already on v2 leaves it.
#[test]
fn tester_requests_on_v2_stay_on_v2() {
    let (_, v, _) = canary_to_cookie(
        "GET http://myweb-service/ cookie:usertype=tester",
        "3000",
        &[],
    );
    assert_eq!(share(&v, "destinations", "myweb-service v2", "after"), 1.0);
    for m in v["moves"].as_array().unwrap() {
        assert_eq!(m["from"], "myweb-service v1", "a tester left v2: {m}");
        assert_eq!(m["to"], "myweb-service v2");
    }
    let before_v1 = share(&v, "destinations", "myweb-service v1", "before");
    assert_eq!(v["changed"]["destination"].as_f64().unwrap(), before_v1);
}

#[test]
fn identical_meshes_give_an_empty_diff() {
    let out = meshsim(&[
        "diff",
        "--before",
        "policies/retry",
        "--after",
        "policies/retry",
        "-n",
        "500",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("no request changed"), "{text}");
}

/// A copy of the retry scenario whose backend has no pods (Envoy answers 503, no healthy
/// upstream), in a scratch folder of its own.
fn retry_without_pods(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = scratch(name);
    copy_dir(&root.join("policies/retry"), &dir);
    let w = std::fs::read_to_string(dir.join("workloads.yaml")).unwrap();
    let without = w.replace("replicas: 3", "replicas: 0");
    assert_ne!(w, without);
    std::fs::write(dir.join("workloads.yaml"), without).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// A fourth v1 replica under a ring-hash DestinationRule: the sessions that lose their endpoint
/// are exactly those whose key lands elsewhere on the new ring (computed on Envoy's ring here).
#[test]
fn adding_a_replica_moves_the_sessions_the_ring_implies() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = scratch("ring-replica");
    let (before, after) = (dir.join("before"), dir.join("after"));
    copy_dir(&root.join("policies/lb-header-hash"), &before);
    copy_dir(&root.join("policies/lb-header-hash"), &after);
    let w = std::fs::read_to_string(after.join("workloads.yaml")).unwrap();
    std::fs::write(
        after.join("workloads.yaml"),
        w.replacen("replicas: 3", "replicas: 4", 1),
    )
    .unwrap();
    let users: Vec<String> = (0..2000).map(|i| format!("user-{i}")).collect();
    let jsonl: String = users
        .iter()
        .map(|u| format!("{{\"authority\":\"myweb-service\",\"headers\":{{\"User\":\"{u}\"}}}}\n"))
        .collect();
    let requests = dir.join("requests.jsonl");
    std::fs::write(&requests, jsonl).unwrap();
    let (_, v, _) = diff_json(&[
        "--before",
        before.to_str().unwrap(),
        "--after",
        after.to_str().unwrap(),
        "--requests",
        requests.to_str().unwrap(),
    ]);
    // The expectation, straight from the ring Envoy builds on each side.
    let ring = |d: &Path| {
        let (mesh, _) = Mesh::load_all(&[d]);
        let c = CompiledMesh::new(&mesh, IstioVersion::NEWEST);
        let cluster = c
            .clusters
            .iter()
            .find(|c| c.name.starts_with("outbound|80|v1|"))
            .unwrap();
        let mut p = lab::build(Algorithm::RingHash, &cluster.hosts, &LabConfig::default()).unwrap();
        users
            .iter()
            .map(|u| {
                cluster.hosts[p.assign(xx(u.as_bytes())).unwrap()]
                    .address
                    .clone()
            })
            .collect::<Vec<_>>()
    };
    let (rb, ra) = (ring(&before), ring(&after));
    let moved = rb.iter().zip(&ra).filter(|(b, a)| b != a).count() as f64 / users.len() as f64;
    assert!(
        moved > 0.1,
        "a fourth replica takes about a quarter of the sessions: {moved}"
    );
    assert_eq!(v["changed"]["endpoint"].as_f64().unwrap(), moved);
    assert_eq!(v["changed"]["destination"].as_f64().unwrap(), 0.0);
}

#[test]
fn gates_fail_with_a_one_line_reason() {
    let request = "GET http://myweb-service/";
    let (code, v, err) = canary_to_cookie(request, "2000", &["--max-moved", "5"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("gate failed: --max-moved:") && err.contains("more than 5%"),
        "{err}"
    );
    assert_eq!(v["gatesFailed"].as_array().unwrap().len(), 1);
    let loose = ["--max-moved", "20", "--max-new-errors", "0"];
    let (code, _, err) = canary_to_cookie(request, "2000", &loose);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn status_changes_fail_unless_allowed() {
    let dir = retry_without_pods("no-pods");
    let run = |extra: &[&str]| {
        let mut a = vec![
            "--before",
            "policies/retry",
            "--after",
            dir.to_str().unwrap(),
        ];
        a.extend(["--request", "GET http://retry-service/", "-n", "50"]);
        a.extend(extra);
        diff_json(&a)
    };
    let (code, v, err) = run(&[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("status changed for 100.00% of requests"),
        "{err}"
    );
    assert_eq!(v["newErrors"].as_f64().unwrap(), 1.0);
    assert_eq!(v["statusChanges"][0]["to"], 503);
    let (code, _, _) = run(&["--allow-status-change"]);
    assert_eq!(code, Some(0));
    let (code, _, err) = run(&["--allow-status-change", "--max-new-errors", "1"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("--max-new-errors: 100.00% of requests now fail"),
        "{err}"
    );
}

/// Overlapping requests (`--rate`) are compared too: identical meshes give nothing, and with no
/// pods behind the service every request that succeeded now fails.
#[test]
fn timed_streams_are_compared_too() {
    let same = meshsim(&[
        "diff",
        "--before",
        "policies/retry",
        "--after",
        "policies/retry",
        "--request",
        "GET http://retry-service/?failRate=50",
        "-n",
        "300",
        "--rate",
        "20/s",
    ]);
    assert_eq!(same.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&same.stdout).contains("no request changed"));
    let dir = retry_without_pods("timed-no-pods");
    let (code, v, _) = diff_json(&[
        "--before",
        "policies/retry",
        "--after",
        dir.to_str().unwrap(),
        "--request",
        "GET http://retry-service/",
        "-n",
        "200",
        "--rate",
        "50/s",
        "--allow-status-change",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(v["requests"], 200);
    assert_eq!(v["successRate"]["before"].as_f64().unwrap(), 1.0);
    assert_eq!(v["newErrors"].as_f64().unwrap(), 1.0);
}

#[test]
fn before_can_come_from_a_git_revision() {
    let dir = scratch("git");
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q"]);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&root.join("policies/canary-10-percent"), &dir.join("mesh"));
    git(&["add", "."]);
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-qm",
        "canary",
    ]);
    // The working tree now has the cookie canary's policy instead.
    copy_dir(&root.join("policies/canary-cookie"), &dir.join("mesh"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args([
            "diff",
            "--before-git",
            "HEAD",
            "--after",
            "mesh",
            "--request",
            "GET http://myweb-service/",
            "-n",
            "1000",
            "--allow-status-change",
            "-o",
            "json",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["before"], "mesh at HEAD");
    assert!(
        v["changed"]["destination"].as_f64().unwrap() > 0.05,
        "the canary's v2 share moved"
    );
}
