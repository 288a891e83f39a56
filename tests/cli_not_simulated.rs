//! What is loaded but not simulated is said where the answer is shown (simulate, explain,
//! test, diff: once, on stderr), fails under `--strict`, and is never said of what is modelled.

mod common;

use common::meshsim_text as meshsim;

const UNMODELLED: &str = "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all}
spec: {}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default}
spec: {egress: [{hosts: [\"./*\"]}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec: {parentRefs: [{name: gw}], rules: [{sessionPersistence: {sessionName: s}}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db}
spec:
  hosts: [db]
  tcp: [{route: [{destination: {host: db}}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: myweb-locality}
spec:
  host: myweb-service
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
      localityLbSetting: {enabled: true}
    tls: {mode: ISTIO_MUTUAL}
";

#[test]
fn unmodelled_resources_and_fields_are_said_once_and_fail_under_strict() {
    let dir = std::env::temp_dir().join(format!("meshsim-unmodelled-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let extra = dir.join("extra.yaml");
    std::fs::write(&extra, UNMODELLED).unwrap();
    let x = extra.to_str().unwrap();
    let wanted = [
        "extra.yaml:2:1: warning[MS0050]: AuthorizationPolicy deny-all (security.istio.io/v1): loaded but not simulated",
        "warning[MS0050]: Sidecar default (networking.istio.io/v1): loaded but not simulated",
        "spec.rules[0].sessionPersistence: warning[MS0050]: HTTPRoute default/web: sessionPersistence: loaded but not simulated",
        "spec.tcp: warning[MS0050]: VirtualService default/db: TCP routes: loaded but not simulated",
        "spec.trafficPolicy.loadBalancer.localityLbSetting: warning[MS0050]: DestinationRule default/myweb-locality: localityLbSetting",
        "spec.trafficPolicy.tls: warning[MS0050]: DestinationRule default/myweb-locality: client TLS",
    ];
    let request = ["--request", "GET http://myweb-service/"];
    let runs: Vec<Vec<&str>> = vec![
        [
            &[
                "simulate",
                "-f",
                "policies/canary-cookie",
                "-f",
                x,
                "-n",
                "5",
            ][..],
            &request,
        ]
        .concat(),
        [
            &["explain", "-f", "policies/canary-cookie", "-f", x][..],
            &request,
        ]
        .concat(),
        vec!["test", "-f", "policies/canary-cookie", "-f", x],
        [
            &[
                "diff",
                "--before",
                "policies/canary-cookie",
                "--before",
                x,
                "--after",
                "policies/canary-cookie",
                "--after",
                x,
            ][..],
            &request,
        ]
        .concat(),
    ];
    for args in &runs {
        let (code, _, err) = meshsim(args);
        assert_eq!(code, 0, "{args:?}: {err}");
        for w in wanted {
            assert_eq!(err.matches(w).count(), 1, "{args:?}: {w}\n{err}");
        }
        let mut strict = args.clone();
        strict.push("--strict");
        let (code, _, err) = meshsim(&strict);
        assert_eq!(code, 1, "{strict:?}: {err}");
        assert!(err.contains("loaded but not simulated (--strict)"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every shipped policy and the explain stages mesh use only modelled fields (outlier
/// detection, pools, consistent hashing, faults, mirrors, redirects, retries, timeouts): none
/// is listed.
#[test]
fn modelled_fields_are_never_listed() {
    let dirs: Vec<String> = std::fs::read_dir("policies")
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    for d in &dirs {
        let (code, _, err) = meshsim(&["test", "-f", d]);
        assert_eq!(code, 0, "{d}: {err}");
        assert!(!err.contains("MS0050"), "{d}: {err}");
    }
    let (code, _, err) = meshsim(&[
        "simulate",
        "-f",
        "tests/data/explain/stages.yaml",
        "--request",
        "GET http://shop/",
        "-n",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("MS0050"), "{err}");
}
