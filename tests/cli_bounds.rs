//! One exit-code table for every command (0 success, 1 invalid input or failed checks, 2
//! usage), refused absurd counts, and memory that stays bounded whatever the policy asks for.

mod common;

use common::meshsim_text as meshsim;

#[test]
fn usage_errors_exit_2_and_invalid_input_exits_1() {
    let sim = |extra: &[&str]| {
        let mut a = vec!["simulate", "-f", "policies/canary-cookie"];
        a.extend_from_slice(extra);
        meshsim(&a)
    };
    for (extra, needle) in [
        (&["-n", "0"][..], "-n 0: give at least one request"),
        (
            &["-n", "18446744073709551615"][..],
            "more than 10000000000 requests in one run is refused",
        ),
        (
            &["-n", "-3"][..],
            "the number of requests cannot be negative",
        ),
        (
            &["-n", "shop"][..],
            "-n is the number of requests (`-n 100`); the namespace of objects that name none is `--namespace shop`",
        ),
        (&["--no-such-flag"][..], "unexpected argument"),
        (
            &["--request", "GET http://myweb-service/", "-H", "no colon"][..],
            "expected a header as 'Name: value'",
        ),
        (
            &[
                "--request",
                "GET http://myweb-service/",
                "--gateway",
                "nope",
            ][..],
            "gateway `nope` is not in the mesh",
        ),
    ] {
        let (code, _, err) = sim(extra);
        assert_eq!(code, 2, "{extra:?}: {err}");
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
    let (code, _, err) = meshsim(&[
        "explain",
        "-f",
        "policies/canary-cookie",
        "--request",
        "GET http://myweb-service/",
        "--rate",
        "10/s",
    ]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = meshsim(&[
        "envoy-config",
        "-f",
        "policies/gateway",
        "--gateway",
        "nope",
    ]);
    assert_eq!(code, 2, "{err}");
    // kubectl's `-n NAMESPACE` where meshsim has no count: the flag it means, never a silent
    // reading of `-n` as something else.
    for command in ["validate", "test", "envoy-config"] {
        let (code, _, err) = meshsim(&[command, "-f", "policies/gateway", "-n", "shop"]);
        assert_eq!(code, 2, "{command}: {err}");
        assert!(
            err.contains("-n shop: the namespace of objects that name none is `--namespace shop`"),
            "{command}: {err}"
        );
    }

    // Invalid input: a YAML error.
    let dir = std::env::temp_dir().join(format!("meshsim-codes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec: {hosts: [x], http: [{route: [{destination: {host: x}, wieght: 1}]}]}\n").unwrap();
    let (code, _, err) = meshsim(&["simulate", "-f", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    let _ = std::fs::remove_dir_all(&dir);

    // The table is in --help.
    let (code, out, _) = meshsim(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Exit status: 0 success; 1 invalid input"),
        "{out}"
    );
}

/// `retries.attempts: 2147483647` with no route timeout against a backend that always fails:
/// Envoy would retry for years. meshsim stops each request after MAX_TRIES tries and says so,
/// within a 1 GB address-space limit (it took more than 2.5 GB in seconds before).
#[test]
fn endless_retries_stay_within_bounded_memory() {
    let dir = std::env::temp_dir().join(format!("meshsim-endless-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy("policies/retry/workloads.yaml", dir.join("workloads.yaml")).unwrap();
    std::fs::write(
        dir.join("policy.yaml"),
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: retry-vs}\nspec:\n  hosts: [retry-service]\n  http:\n  - route: [{destination: {host: retry-service}}]\n    retries: {attempts: 2147483647, perTryTimeout: 1s, retryOn: \"5xx,reset,connect-failure\"}\n",
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    let bin = env!("CARGO_BIN_EXE_meshsim");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 1000000 && exec \"{bin}\" simulate -f \"{d}\" --request 'GET http://retry-service/?failRate=100' -n 3 -o json"
        ))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["statuses"][0]["status"], 0, "{v}");
    assert_eq!(v["tries"][0]["tries"], 10_000, "{v}");
    let (code, out, err) = meshsim(&[
        "explain",
        "-f",
        d,
        "--request",
        "GET http://retry-service/?failRate=100",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let last = doc["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"], "gaveUp", "{last}");
    assert_eq!(last["tries"], 10_000);
    assert_eq!(last["retriesLeft"], 2_147_483_647u64 - 9_999);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Ctrl-C during a long run stops it and prints what was decided so far (exit 130), instead
/// of losing it: a run of a billion requests interrupted after a second reports a summary of
/// the requests it decided.
#[test]
fn ctrl_c_prints_what_was_decided() {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args([
            "simulate",
            "-f",
            "policies/canary-10-percent",
            "-n",
            "1000000000",
            "-o",
            "json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("meshsim: interrupted: "), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = v["requests"].as_u64().unwrap();
    assert!(n > 0 && n < 1_000_000_000, "{n}");
    let routed: u64 = v["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(routed, n, "the summary is of exactly the requests decided");
}
