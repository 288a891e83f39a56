//! Requests the way curl and kubectl take them, and explanations that teach: `-H`, quoted
//! short forms, `Host`, `--gateway`, `--source`, `explain --index`, and the errors and
//! warnings a mistyped request gets instead of a confident passthrough 200.
//!
//! The tutorial's own files (`../shared/seed-policies/`) are used where the lesson is the
//! tutorial's; the suite skips them loudly when that folder is not beside the repository.

mod common;

use std::path::Path;

use common::meshsim_text as meshsim;

/// The seed tutorial's folder, or `None` with a line saying the test did not run.
fn seeds(test: &str) -> Option<&'static str> {
    let dir = "../shared/seed-policies";
    if Path::new(env!("CARGO_MANIFEST_DIR")).join(dir).is_dir() {
        Some(dir)
    } else {
        eprintln!("{test}: NOT RUN: ../shared/seed-policies is not beside the repository");
        None
    }
}

/// The tutorial's gotcha: a browser sends `a=1; usertype=tester` (a space after `;`), which the
/// tutorial's regex `^(.*?;)?(usertype=tester)(;.*)?$` does not match, so the tester lands on
/// v1. Given with curl's -H, and in the short form with a quoted value, explain says where.
#[test]
fn the_browser_cookie_is_explained_with_the_tutorial_files() {
    let Some(s) = seeds("the_browser_cookie_is_explained_with_the_tutorial_files") else {
        return;
    };
    let (canary, cookie) = (format!("{s}/canary.yaml"), format!("{s}/canaryCookie.yaml"));
    let curl_style = [
        "explain",
        "-f",
        &canary,
        "-f",
        &cookie,
        "--request",
        "GET http://myweb-service/",
        "-H",
        "Cookie: a=1; usertype=tester",
    ];
    let quoted = [
        "explain",
        "-f",
        &canary,
        "-f",
        &cookie,
        "--request",
        r#"GET http://myweb-service/ cookie:"a=1; usertype=tester""#,
    ];
    for args in [&curl_style[..], &quoted[..]] {
        let (code, out, err) = meshsim(args);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("rule 0: header cookie \"a=1; usertype=tester\" does not fully match regex ^(.*?;)?(usertype=tester)(;.*)?$"),
            "{out}"
        );
        assert!(
            out.contains("why: it would match without the ' ' after \"a=1;\" (character 5)"),
            "{out}"
        );
        assert!(out.contains("myweb-service v1"), "{out}");
    }
    // Without the space, the same regex sends the tester to v2.
    let (code, out, err) = meshsim(&[
        "explain",
        "-f",
        &canary,
        "-f",
        &cookie,
        "--request",
        "GET http://myweb-service/",
        "-H",
        "Cookie: a=1;usertype=tester",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rule 0: matches"), "{out}");
    assert!(out.contains("myweb-service v2"), "{out}");
}

/// The tutorial's gateway check is `curl -H "Host: myweb-service.domain.com" <gateway IP>`:
/// the Host header is the authority Envoy routes on.
#[test]
fn a_host_header_reaches_the_gateway_virtual_host() {
    let Some(s) = seeds("a_host_header_reaches_the_gateway_virtual_host") else {
        return;
    };
    let (canary, gateway) = (format!("{s}/canary.yaml"), format!("{s}/gateway.yaml"));
    let base = [
        "-f",
        &canary,
        "-f",
        &gateway,
        "--gateway",
        "istio-gateway",
        "--request",
        "GET http://20.50.1.2/",
        "-H",
        "Host: myweb-service.domain.com",
    ];
    let (code, out, err) = meshsim(&[&["explain"][..], &base[..]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("proxy: gateway default/istio-gateway, server port 80"),
        "{out}"
    );
    assert!(
        out.contains("matched by domain myweb-service.domain.com"),
        "{out}"
    );
    assert!(out.contains("result: 200 -"), "{out}");
    assert!(out.contains("(myweb-deployment-v"), "{out}");
    // simulate takes --gateway and -H too.
    let (code, out, err) =
        meshsim(&[&["simulate", "-n", "50", "-o", "json"][..], &base[..]].concat());
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["routes"][0]["route"], "default/gateway-service http[0]");
    assert_eq!(v["routes"][0]["requests"], 50);
    // Without the Host header, the gateway has no virtual host for the IP.
    let (_, out, _) = meshsim(&[
        "explain",
        "-f",
        &canary,
        "-f",
        &gateway,
        "--gateway",
        "istio-gateway",
        "--request",
        "GET http://20.50.1.2/",
    ]);
    assert!(out.contains("result: 404 NR"), "{out}");
}

/// `--source` names the calling workload, whose sidecar keeps only the rules whose
/// `sourceLabels` it matches.
#[test]
fn source_labels_choose_the_callers_rules() {
    let dir = std::env::temp_dir().join(format!("meshsim-source-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let vs = dir.join("vs.yaml");
    std::fs::write(
        &vs,
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: myweb-from-client}\nspec:\n  hosts: [myweb-service]\n  http:\n  - match: [{sourceLabels: {app: client}}]\n    route: [{destination: {host: myweb-service, subset: v2}}]\n  - route: [{destination: {host: myweb-service, subset: v1}}]\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: myweb}\nspec:\n  host: myweb-service\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n",
    )
    .unwrap();
    let files = ["-f", "policies/canary-cookie/workloads.yaml"];
    let run = |extra: &[&str]| {
        let mut args = vec!["explain"];
        args.extend_from_slice(&files);
        args.extend([
            "-f",
            vs.to_str().unwrap(),
            "--request",
            "GET http://myweb-service/",
        ]);
        args.extend_from_slice(extra);
        let (code, out, err) = meshsim(&args);
        assert_eq!(code, 0, "{err}");
        out
    };
    let from_client = run(&["--source", "app=client", "--source-namespace", "default"]);
    assert!(
        from_client.contains("sidecar in namespace default with labels app=client"),
        "{from_client}"
    );
    assert!(from_client.contains("myweb-service v2"), "{from_client}");
    let anyone = run(&[]);
    assert!(anyone.contains("myweb-service v1"), "{anyone}");
    let (code, _, err) = meshsim(&[
        "explain",
        "-f",
        "policies/canary-cookie",
        "--request",
        "GET http://myweb-service/",
        "--source",
        "app",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("expected labels as key=value"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `explain --index N` decides the requests before N first: request 9 of this stream meets a
/// pod that crashed under an earlier request, is refused, and is retried on connect-failure.
#[test]
fn explain_traces_the_nth_request_of_a_stream() {
    let (code, out, err) = meshsim(&[
        "explain",
        "-f",
        "policies/retry",
        "--request",
        "GET http://retry-service/?failRate=50",
        "-n",
        "12",
        "--index",
        "9",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("request #9 of the stream: GET http://retry-service/?failRate=50"),
        "{out}"
    );
    let refused = out.find("is down (crashed)").expect("a crashed pod");
    let retried = out.find("retry on connect-failure").expect("retried");
    assert!(refused < retried, "{out}");
    // The first request of the same stream meets no crash.
    let (_, first, _) = meshsim(&[
        "explain",
        "-f",
        "policies/retry",
        "--request",
        "GET http://retry-service/?failRate=50",
        "-n",
        "12",
    ]);
    assert!(!first.contains("is down (crashed)"), "{first}");
    let (code, _, err) = meshsim(&[
        "explain",
        "-f",
        "policies/retry",
        "--request",
        "GET http://retry-service/",
        "-n",
        "3",
        "--index",
        "3",
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains("the stream has 3 request(s), numbered from 0"),
        "{err}"
    );
}

/// Mistakes a user makes typing a request: each is an error or a did-you-mean, never a
/// silent passthrough 200.
#[test]
fn mistyped_requests_get_errors_or_did_you_mean() {
    let explain = |request: &str, extra: &[&str]| {
        let mut args = vec![
            "explain",
            "-f",
            "policies/canary-cookie",
            "--request",
            request,
        ];
        args.extend_from_slice(extra);
        meshsim(&args)
    };
    let (code, _, err) = explain("get http://myweb-service/", &[]);
    assert_ne!(code, 0);
    assert!(
        err.contains("`get`: HTTP methods are case-sensitive"),
        "{err}"
    );
    assert!(err.contains("write `GET`"), "{err}");

    let (code, out, err) = explain("myweb-service/", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("`myweb-service/` has no scheme: taken as http://myweb-service/"),
        "{err}"
    );
    assert!(out.contains("myweb-service v1"), "{out}");

    let (code, out, err) = explain("GET http://myweb-servce/", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("host `myweb-servce` is not in the mesh; did you mean `myweb-service`?"),
        "{err}"
    );
    assert!(out.contains("(did you mean myweb-service?)"), "{out}");

    let (code, _, err) = explain("GET http://myweb-service/", &["--gateway", "istio-gatewy"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("gateway `istio-gatewy` is not in the mesh"),
        "{err}"
    );

    let (code, _, err) = explain(r#"GET http://myweb-service/ cookie:"a=1"#, &[]);
    assert_ne!(code, 0);
    assert!(err.contains("is never closed"), "{err}");
}

/// A known service on a port it does not have is not "not in the registry"; a ServiceEntry
/// with resolution NONE is its own ORIGINAL_DST cluster, not ALLOW_ANY's PassthroughCluster.
#[test]
fn hosts_without_a_route_say_what_the_mesh_knows_of_them() {
    let (code, out, err) = meshsim(&[
        "explain",
        "-f",
        "policies/canary-cookie",
        "--request",
        "GET http://myweb-service:8080/",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("myweb-service is a known service (myweb-service.default.svc.cluster.local) but has no port 8080 (its ports: 80)"),
        "{out}"
    );
    assert!(!out.contains("not in the registry"), "{out}");

    let (code, out, err) = meshsim(&[
        "explain",
        "-f",
        "policies/service-entry",
        "--request",
        "GET http://httpbin.org/get",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("a ServiceEntry with resolution NONE: its own cluster outbound|80||httpbin.org (ORIGINAL_DST)"),
        "{out}"
    );
    assert!(out.contains("original destination (ORIGINAL_DST)"), "{out}");
    assert!(!out.contains(", PassthroughCluster"), "{out}");
}

/// The tutorial's retry policy sets no retryOn: explain names Istio's defaults, and which
/// conditions would have retried the per-try timeout.
#[test]
fn a_failure_that_is_not_retried_says_which_retry_on_would_cover_it() {
    let (code, out, err) = meshsim(&[
        "explain",
        "-f",
        "policies/retry",
        "--request",
        "GET http://retry-service/?failRate=100",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("why: connect-failure, refused-stream, unavailable, cancelled, retriable-status-codes are Istio's default conditions"),
        "{out}"
    );
    assert!(
        out.contains(
            "why: retryOn values that would retry a per-try timeout: 5xx, gateway-error, reset"
        ),
        "{out}"
    );
}

/// Analysis findings that explain the outcome are shown beside the rule they concern, in
/// explain and in a failing test's trace, not only by validate: the tutorial's cookie regex
/// gets MS2010 with its fix.
#[test]
fn analysis_findings_are_shown_beside_their_rule() {
    let Some(s) = seeds("analysis_findings_are_shown_beside_their_rule") else {
        return;
    };
    let (canary, cookie) = (format!("{s}/canary.yaml"), format!("{s}/canaryCookie.yaml"));
    let (code, out, err) = meshsim(&[
        "explain",
        "-f",
        &canary,
        "-f",
        &cookie,
        "--request",
        "GET http://myweb-service/",
        "-H",
        "Cookie: a=1; usertype=tester",
    ]);
    assert_eq!(code, 0, "{err}");
    let rule0 = out.find("  rule 0: header cookie").expect("rule 0 tried");
    let finding = out.find("analysis: warning[MS2010]").expect("the finding");
    let rule1 = out.find("  rule 1: matches").expect("rule 1");
    assert!(rule0 < finding && finding < rule1, "{out}");
    assert!(
        out.contains("hint: allow other cookies and the space browsers put after `;`"),
        "{out}"
    );

    let dir = std::env::temp_dir().join(format!("meshsim-finding-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tests = dir.join("tests.yaml");
    std::fs::write(
        &tests,
        "tests:\n- name: a browser tester reaches v2\n  request: {authority: myweb-service, headers: {cookie: \"a=1; usertype=tester\"}}\n  expect: {subset: v2}\n",
    )
    .unwrap();
    let (code, out, _) = meshsim(&[
        "test",
        "-f",
        &canary,
        "-f",
        &cookie,
        "-t",
        tests.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED"), "{out}");
    let rule0 = out.find("rule 0: header cookie").expect("the trace");
    let finding = out.find("analysis: warning[MS2010]").expect("the finding");
    assert!(rule0 < finding, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
