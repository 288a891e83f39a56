//! The Kubernetes Gateway API as Istio implements it, checked against the Gateway API
//! project's own conformance suite (`tests/gateway-api/conformance/`: each test's manifests
//! and its requests with the expectations of its `.go` file, as data), and meshsim's own
//! findings for routes that do not attach.

mod common;

use common::meshsim_text as meshsim;

const DIR: &str = "tests/gateway-api/conformance";

/// Every extracted conformance test passes, each against the shared infrastructure plus its
/// own manifests, and none is silently left out.
#[test]
fn the_gateway_api_conformance_cases_pass() {
    let mut files: Vec<String> = std::fs::read_dir(DIR)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".tests.yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 40, "{} conformance tests", files.len());
    let base = format!("{DIR}/base.yaml");
    let mut cases = 0;
    for f in &files {
        let name = f.trim_end_matches(".tests.yaml");
        let manifests = format!("{DIR}/{name}.yaml");
        let tests = format!("{DIR}/{f}");
        let (code, out, err) = meshsim(&["test", "-f", &base, "-f", &manifests, "-t", &tests]);
        assert_eq!(code, 0, "{name}:\n{out}{err}");
        let summary = out
            .lines()
            .find(|l| l.ends_with(" failed"))
            .unwrap_or_else(|| panic!("{name}: no summary in\n{out}"));
        assert!(summary.ends_with(" passed, 0 failed"), "{name}: {summary}");
        cases += summary.split(' ').next().unwrap().parse::<u32>().unwrap();
    }
    assert_eq!(cases, 231, "every extracted case ran");
}

/// A route that cannot attach says why, with the reason its status would carry, at the
/// parentRef that fails (HTTPRouteHostnameIntersection's `no-intersecting-hosts`).
#[test]
fn routes_that_do_not_attach_are_reported_with_istios_reason() {
    let (code, _, err) = meshsim(&[
        "validate",
        "-f",
        &format!("{DIR}/base.yaml"),
        "-f",
        &format!("{DIR}/HTTPRouteHostnameIntersection.yaml"),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning[MS2020]: HTTPRoute gateway-conformance-infra/no-intersecting-hosts does not attach to Gateway gateway-conformance-infra/httproute-hostname-intersection (Accepted: False, NoMatchingListenerHostname): no hostnames matched parent hostname \"*.anotherwildcard.io\""),
        "{err}"
    );
}

/// Mesh routes (a Service parent): the producer's route for every caller, a consumer's only
/// for callers in its namespace, and there before the producer's.
#[test]
fn mesh_routes_follow_the_producer_and_consumer_rules() {
    let (code, out, err) = meshsim(&[
        "test",
        "-f",
        "tests/data/gateway-api/mesh-routes.yaml",
        "tests/data/gateway-api/mesh-routes.tests.yaml",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("4 passed, 0 failed"), "{out}");
    // Nothing about it is left unsimulated.
    assert!(!err.contains("MS0050"), "{err}");
}

/// istiod's deployment controller runs `<gateway>-<class>` for a managed Gateway: a Deployment
/// and a Service selecting `gateway.networking.k8s.io/gateway-name`, exposing `status-port`
/// 15021 and each distinct listener port (`extractServicePorts`); neither is counted as
/// written.
#[test]
fn a_managed_gateway_gets_its_deployment_and_service() {
    let mesh = meshsim::Mesh::load(&["policies/gateway-api-ingress"]).unwrap();
    let svc = mesh
        .topology
        .service("myweb-gateway-istio.default.svc.cluster.local")
        .expect("the deployed Service");
    let ports: Vec<u32> = svc.ports.iter().map(|p| p.number).collect();
    assert_eq!(ports, [15021, 80]);
    assert_eq!(svc.endpoints_for(80).map(<[_]>::len), Some(1));
    assert_eq!(
        mesh.summary(),
        "1 Gateway (Gateway API), 1 HTTPRoute, 3 Deployment (7 pods), 3 Service"
    );
}

/// `diff`, `envoy-config` and the HTML report take Gateway API input unchanged.
///
/// The tutorial's canary as a VirtualService (subsets) against the same canary as an HTTPRoute
/// (versioned Services): Envoy picks a weighted cluster by `random % total` in the route's
/// order, and both routes list 90 then 10, so with common random numbers every request keeps
/// its version; only the cluster's name changes.
#[test]
fn diff_envoy_config_and_the_report_take_gateway_api_input() {
    let (code, out, err) = meshsim(&[
        "diff",
        "-o",
        "json",
        "--before",
        "policies/canary-10-percent",
        "--after",
        "policies/gateway-api-canary",
        "--request",
        "GET http://myweb-service/",
        "-n",
        "2000",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let moves = v["moves"].as_array().unwrap();
    assert_eq!(moves.len(), 2, "{moves:?}");
    for m in moves {
        let from = m["from"].as_str().unwrap();
        let to = m["to"].as_str().unwrap();
        assert_eq!(from.replace(' ', "-"), to, "{m}");
    }
    let total: u64 = moves.iter().map(|m| m["requests"].as_u64().unwrap()).sum();
    assert_eq!(total, 2000);

    let (code, out, err) = meshsim(&[
        "envoy-config",
        "-f",
        "policies/gateway-api-ingress",
        "--gateway",
        "myweb-gateway",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let vhosts = v["route_config"]["virtual_hosts"].as_array().unwrap();
    assert_eq!(vhosts.len(), 1, "{vhosts:?}");
    assert_eq!(
        vhosts[0]["domains"],
        serde_json::json!(["myweb-service.domain.com"])
    );
    let routes = vhosts[0]["routes"].as_array().unwrap();
    assert_eq!(routes[0]["name"], "default.myweb.0");
    assert_eq!(routes[0]["match"]["path_separated_prefix"], "/v2");
    assert_eq!(
        routes[0]["route"]["regex_rewrite"],
        serde_json::json!({"pattern": {"regex": "^/v2(/?)(.*)"}, "substitution": "/\\2"})
    );
    assert_eq!(
        routes[0]["route"]["cluster_not_found_response_code"],
        "INTERNAL_SERVER_ERROR"
    );

    let html = std::env::temp_dir().join(format!("meshsim-gwapi-{}.html", std::process::id()));
    let (code, _, err) = meshsim(&[
        "simulate",
        "-f",
        "policies/gateway-api-ingress",
        "--gateway",
        "myweb-gateway",
        "--request",
        "GET http://myweb-service.domain.com/v2/x",
        "-n",
        "20",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let page = std::fs::read_to_string(&html).unwrap();
    let _ = std::fs::remove_file(&html);
    assert!(
        page.contains("HTTPRoute default/myweb rules[0]"),
        "the route named in the report"
    );
}
