//! Routing semantics, each checked against the rule it comes from (Istio's translation, Envoy's
//! router), on the tutorial's own files and on small meshes written for one rule each.

use meshsim::Mesh;
use meshsim::compile::IstioVersion;
use meshsim::route::{Request, Source as ReqSource};
use meshsim::sim::{Decision, SimOptions, Simulator};
use std::path::PathBuf;

fn seed(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/seed-policies"
    ))
    .join(name)
}

fn load(files: &[PathBuf]) -> Mesh {
    Mesh::load(files).unwrap_or_else(|d| panic!("{d:?}"))
}

/// Two versions of `web` (2 pods each) and a client, plus the policy under test.
const WORKLOADS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-v1}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: web, version: v1}}
    spec: {containers: [{name: web, ports: [{containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-v2}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: web, version: v2}}
    spec: {containers: [{name: web, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
"#;

fn mesh_with(policy: &str) -> Mesh {
    Mesh::from_yaml_str(&format!("{WORKLOADS}---\n{policy}"), "test.yaml")
        .unwrap_or_else(|d| panic!("{d:?}"))
}

fn decide(mesh: &Mesh, req: &Request) -> Decision {
    Simulator::new(mesh).unwrap().decide(req)
}

fn subset_of(mesh: &Mesh, req: &Request) -> Option<String> {
    decide(mesh, req).subset
}

/// Counts of decisions over `n` requests.
fn run(
    mesh: &Mesh,
    options: SimOptions,
    req: &Request,
    n: usize,
    f: impl Fn(&Decision) -> bool,
) -> usize {
    let mut sim = Simulator::with_options(mesh, options).unwrap();
    (0..n).filter(|_| f(&sim.decide(req))).count()
}

/// |observed − n·p| ≤ 3σ with σ = √(n·p·(1−p)).
fn within_3_sigma(observed: usize, n: usize, p: f64) -> bool {
    let sigma = (n as f64 * p * (1.0 - p)).sqrt();
    (observed as f64 - n as f64 * p).abs() <= 3.0 * sigma
}

// ===== the tutorial's outcomes, on its own files =====

#[test]
fn seed_canary_alone_sends_half_to_v2() {
    let mesh = load(&[seed("canary.yaml")]);
    let n = 100_000;
    let v2 = run(
        &mesh,
        SimOptions::default(),
        &Request::get("myweb-service"),
        n,
        |d| {
            d.workload
                .as_deref()
                .is_some_and(|w| w.starts_with("myweb-deployment-v2"))
        },
    );
    // Default route over six pods, three of them v2.
    assert!(within_3_sigma(v2, n, 0.5), "{v2}");
}

#[test]
fn seed_canary_10_percent() {
    let mesh = load(&[seed("canary.yaml"), seed("canary10percent.yaml")]);
    let n = 100_000;
    let v2 = run(
        &mesh,
        SimOptions::default(),
        &Request::get("myweb-service"),
        n,
        |d| d.subset.as_deref() == Some("v2"),
    );
    assert!(within_3_sigma(v2, n, 0.10), "{v2}");
}

#[test]
fn seed_cookie_canary_is_a_full_match_regex() {
    let mesh = load(&[seed("canary.yaml"), seed("canaryCookie.yaml")]);
    let cookie = |c: &str| Request::get("myweb-service").with_header("Cookie", c);
    let mut sim = Simulator::new(&mesh).unwrap();
    for _ in 0..100 {
        assert_eq!(
            sim.decide(&cookie("usertype=tester")).subset.as_deref(),
            Some("v2")
        );
        assert_eq!(
            sim.decide(&cookie("a=1;usertype=tester;b=2"))
                .subset
                .as_deref(),
            Some("v2")
        );
        assert_eq!(
            sim.decide(&Request::get("myweb-service")).subset.as_deref(),
            Some("v1")
        );
        assert_eq!(
            sim.decide(&cookie("usertype=other")).subset.as_deref(),
            Some("v1")
        );
    }
    // A browser puts a space after `;`: the tutorial's regex then fails to match the whole
    // header, and the tester lands on v1.
    assert_eq!(
        subset_of(&mesh, &cookie("a=1; usertype=tester")).as_deref(),
        Some("v1")
    );
    assert_eq!(
        subset_of(&mesh, &cookie("xusertype=tester")).as_deref(),
        Some("v1")
    );
}

#[test]
fn seed_mirror_copies_every_request_to_sniffer() {
    let mesh = load(&[
        seed("retryBackend.yaml"),
        seed("sniffer.yaml"),
        seed("copyVirtualService.yaml"),
    ]);
    let mut sim = Simulator::new(&mesh).unwrap();
    for _ in 0..1000 {
        let d = sim.decide(&Request::get("retry-service"));
        assert_eq!(d.status, 200);
        assert_eq!(d.mirrors.len(), 1);
        assert_eq!(d.mirrors[0].host, "sniffer.default.svc.cluster.local");
        assert!(
            d.mirrors[0]
                .workload
                .as_deref()
                .is_some_and(|w| w.starts_with("sniffer-"))
        );
        // Istio ≥ 1.28 no longer appends -shadow.
        assert_eq!(d.mirrors[0].authority, "retry-service");
    }
    let old = SimOptions {
        version: IstioVersion::TUTORIAL,
        seed: 1,
    };
    let mut sim = Simulator::with_options(&mesh, old).unwrap();
    let d = sim.decide(&Request::get("retry-service:80"));
    assert_eq!(d.mirrors[0].authority, "retry-service-shadow:80");
}

#[test]
fn seed_gateway_routes_the_external_host() {
    let mesh = load(&[seed("canary.yaml"), seed("gateway.yaml")]);
    let mut req = Request::get("myweb-service.domain.com");
    req.gateway = Some("istio-gateway".into());
    let d = decide(&mesh, &req);
    assert_eq!(d.status, 200);
    assert_eq!(
        d.destination.unwrap().host,
        "myweb-service.default.svc.cluster.local"
    );
    assert_eq!(
        d.virtual_service.as_deref(),
        Some("default/gateway-service")
    );
    // The port does not matter for the virtual host, the case neither.
    req.authority = "MyWeb-Service.Domain.com:80".into();
    assert_eq!(decide(&mesh, &req).status, 200);
    // Another host through the gateway: no virtual host, 404 NR.
    req.authority = "other.domain.com".into();
    let d = decide(&mesh, &req);
    assert_eq!((d.status, d.flags.to_string().as_str()), (404, "NR"));
    // From a sidecar the gateway-bound VirtualService does not apply: the host is unknown and
    // ALLOW_ANY passes it through.
    let d = decide(&mesh, &Request::get("myweb-service.domain.com"));
    assert!(d.passthrough);
    assert_eq!(d.route, Some("allow_any".into()));
}

#[test]
fn seed_service_entry_under_registry_only() {
    let mesh_cfg = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/policies/service-entry/mesh.yaml"
    ));
    let mesh = load(&[
        seed("serviceEntry.yaml"),
        seed("client.yaml"),
        mesh_cfg.clone(),
    ]);
    let d = decide(&mesh, &Request::get("httpbin.org"));
    assert_eq!(d.status, 200);
    assert!(
        d.passthrough,
        "resolution NONE forwards to the dialled address"
    );
    assert_eq!(d.cluster.as_deref(), Some("outbound|80||httpbin.org"));
    let d = decide(&mesh, &Request::get("www.google.com"));
    assert_eq!(d.status, 502);
    assert_eq!(d.route.as_deref(), Some("block_all"));
    // Without the ServiceEntry httpbin.org is blocked too; without REGISTRY_ONLY it passes.
    let blocked = load(&[seed("client.yaml"), mesh_cfg]);
    assert_eq!(decide(&blocked, &Request::get("httpbin.org")).status, 502);
    let open = load(&[seed("client.yaml")]);
    assert!(decide(&open, &Request::get("httpbin.org")).passthrough);
}

// ===== match semantics =====

fn vs(http: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: web}}\nspec:\n  hosts: [web]\n  http:\n{http}"
    )
}

const TO_V2_ELSE_V1: &str = "    route: [{destination: {host: web, subset: v2}}]\n  - route: [{destination: {host: web, subset: v1}}]\n";

fn with_match(m: &str) -> Mesh {
    mesh_with(&vs(&format!("  - match:\n    - {m}\n{TO_V2_ELSE_V1}")))
}

#[test]
fn header_names_are_case_insensitive_values_are_not() {
    let mesh = with_match("headers: {End-User: {exact: jason}}");
    let r = |n: &str, v: &str| subset_of(&mesh, &Request::get("web").with_header(n, v));
    assert_eq!(r("end-user", "jason").as_deref(), Some("v2"));
    assert_eq!(r("END-USER", "jason").as_deref(), Some("v2"));
    assert_eq!(r("end-user", "Jason").as_deref(), Some("v1"));
}

#[test]
fn regex_is_a_full_match_and_ignore_uri_case_skips_it() {
    let mesh = with_match("headers: {cookie: {regex: \"usertype=tester\"}}");
    let r = |v: &str| subset_of(&mesh, &Request::get("web").with_header("cookie", v));
    assert_eq!(r("usertype=tester").as_deref(), Some("v2"));
    assert_eq!(r("a=1; usertype=tester").as_deref(), Some("v1"));
    let mesh = with_match("{uri: {regex: \"/api/.*\"}, ignoreUriCase: true}");
    let p = |p: &str| subset_of(&mesh, &Request::get("web").with_path(p));
    assert_eq!(p("/api/x").as_deref(), Some("v2"));
    assert_eq!(
        p("/API/x").as_deref(),
        Some("v1"),
        "ignoreUriCase does not apply to regex"
    );
    let mesh = with_match("{uri: {prefix: /API}, ignoreUriCase: true}");
    assert_eq!(
        subset_of(&mesh, &Request::get("web").with_path("/api/x")).as_deref(),
        Some("v2")
    );
}

#[test]
fn exact_and_regex_paths_ignore_the_query_prefix_does_not() {
    let mesh = with_match("uri: {exact: /a}");
    assert_eq!(
        subset_of(&mesh, &Request::get("web").with_path("/a?x=1")).as_deref(),
        Some("v2")
    );
    assert_eq!(
        subset_of(&mesh, &Request::get("web").with_path("/ab")).as_deref(),
        Some("v1")
    );
    let mesh = with_match("uri: {prefix: \"/a?x\"}");
    assert_eq!(
        subset_of(&mesh, &Request::get("web").with_path("/a?x=1")).as_deref(),
        Some("v2")
    );
    let mesh = with_match("uri: {prefix: /foo}");
    assert_eq!(
        subset_of(&mesh, &Request::get("web").with_path("/foobar")).as_deref(),
        Some("v2")
    );
}

#[test]
fn authority_sees_the_raw_host_with_its_port() {
    let mesh = with_match("authority: {exact: web}");
    assert_eq!(
        subset_of(&mesh, &Request::get("web")).as_deref(),
        Some("v2")
    );
    assert_eq!(
        subset_of(&mesh, &Request::get("web:80")).as_deref(),
        Some("v1")
    );
}

#[test]
fn method_scheme_and_query_params() {
    let mesh = with_match("{method: {exact: POST}, queryParams: {id: {regex: \"\\\\d+\"}}}");
    let mut r = Request::get("web").with_path("/?id=123&id=x");
    assert_eq!(subset_of(&mesh, &r).as_deref(), Some("v1"), "GET");
    r.method = "POST".into();
    assert_eq!(
        subset_of(&mesh, &r).as_deref(),
        Some("v2"),
        "first value 123 matches"
    );
    r.path = "/?id=a123".into();
    assert_eq!(subset_of(&mesh, &r).as_deref(), Some("v1"), "full match");
    let mesh = with_match("queryParams: {debug: {}}");
    assert_eq!(
        subset_of(&mesh, &Request::get("web").with_path("/?debug")).as_deref(),
        Some("v2")
    );
    assert_eq!(
        subset_of(&mesh, &Request::get("web").with_path("/")).as_deref(),
        Some("v1")
    );
    let mesh = with_match("scheme: {exact: https}");
    assert_eq!(
        subset_of(&mesh, &Request::get("web")).as_deref(),
        Some("v1")
    );
}

#[test]
fn without_headers() {
    let mesh = with_match("withoutHeaders: {x-canary: {exact: \"no\"}}");
    let r = |h: Option<&str>| {
        let mut req = Request::get("web");
        if let Some(v) = h {
            req = req.with_header("x-canary", v);
        }
        subset_of(&mesh, &req)
    };
    assert_eq!(r(None).as_deref(), Some("v2"), "absent counts as empty");
    assert_eq!(r(Some("yes")).as_deref(), Some("v2"));
    assert_eq!(r(Some("no")).as_deref(), Some("v1"));
    let mesh = with_match("withoutHeaders: {x-canary: {}}");
    let present = |h: bool| {
        let mut req = Request::get("web");
        if h {
            req = req.with_header("x-canary", "any");
        }
        subset_of(&mesh, &req)
    };
    assert_eq!(present(false).as_deref(), Some("v2"));
    assert_eq!(present(true).as_deref(), Some("v1"));
}

#[test]
fn source_labels_and_gateways_filter_per_client_not_per_request() {
    let mesh = mesh_with(&vs(
        "  - match:\n    - sourceLabels: {app: client}\n    route: [{destination: {host: web, subset: v2}}]\n",
    ));
    let mut from_client = Request::get("web");
    from_client.source = Some(ReqSource {
        labels: [("app".to_string(), "client".to_string())].into(),
        ..Default::default()
    });
    assert_eq!(subset_of(&mesh, &from_client).as_deref(), Some("v2"));
    // For other clients every rule is filtered out: Istio's default route, not a 404.
    let d = decide(&mesh, &Request::get("web"));
    assert_eq!(d.status, 200);
    assert_eq!(d.route.as_deref(), Some("default"));
    assert_eq!(d.subset, None);
    // A block bound to another gateway is dropped for sidecars; one bound to mesh is kept.
    let mesh = mesh_with(&vs(&format!(
        "  - match:\n    - gateways: [some-gateway]\n{TO_V2_ELSE_V1}"
    )));
    assert_eq!(
        subset_of(&mesh, &Request::get("web")).as_deref(),
        Some("v1")
    );
    let mesh = mesh_with(&vs(&format!(
        "  - match:\n    - gateways: [mesh]\n{TO_V2_ELSE_V1}"
    )));
    assert_eq!(
        subset_of(&mesh, &Request::get("web")).as_deref(),
        Some("v2")
    );
    // A port other than the listener's drops the block.
    let mesh = mesh_with(&vs(&format!(
        "  - match:\n    - port: 8080\n{TO_V2_ELSE_V1}"
    )));
    assert_eq!(
        subset_of(&mesh, &Request::get("web")).as_deref(),
        Some("v1")
    );
}

#[test]
fn host_forms_resolve_to_the_service() {
    let mesh = with_match("headers: {x: {exact: \"1\"}}");
    for host in [
        "web",
        "web.default",
        "web.default.svc",
        "web.default.svc.cluster.local",
        "WEB:80",
    ] {
        let d = decide(&mesh, &Request::get(host).with_header("x", "1"));
        assert_eq!(d.subset.as_deref(), Some("v2"), "{host}");
    }
    // From another namespace, the short name is not a domain of the service.
    let mut r = Request::get("web");
    r.source = Some(ReqSource {
        namespace: Some("other".into()),
        ..Default::default()
    });
    assert!(decide(&mesh, &r).passthrough);
}

// ===== outcomes without a matching route =====

#[test]
fn no_route_no_cluster_no_endpoint() {
    let mesh = mesh_with(&vs(
        "  - match:\n    - uri: {exact: /only}\n    route: [{destination: {host: web, subset: v1}}]\n",
    ));
    let d = decide(&mesh, &Request::get("web").with_path("/other"));
    assert_eq!((d.status, d.flags.to_string()), (404, "NR".into()));
    assert_eq!(d.route, None);
    // A subset no DestinationRule defines: 503 NC. A subset selecting no pod: 503 UH.
    let mesh = mesh_with(&vs("  - route: [{destination: {host: web, subset: v9}}]\n"));
    let d = decide(&mesh, &Request::get("web"));
    assert_eq!((d.status, d.flags.to_string()), (503, "NC".into()));
    assert_eq!(
        d.cluster.as_deref(),
        Some("outbound|80|v9|web.default.svc.cluster.local")
    );
    let mesh = mesh_with(&vs("  - route: [{destination: {host: web, subset: v3}}]\n"));
    let d = decide(&mesh, &Request::get("web"));
    assert_eq!((d.status, d.flags.to_string()), (503, "UH".into()));
    // No VirtualService: the default route to all four pods.
    let mesh = mesh_with("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}");
    let d = decide(&mesh, &Request::get("web"));
    assert_eq!(d.route.as_deref(), Some("default"));
    assert_eq!(
        d.cluster.as_deref(),
        Some("outbound|80||web.default.svc.cluster.local")
    );
    assert!(d.endpoint.unwrap().ends_with(":8080"));
}

// ===== weights =====

#[test]
fn weights_are_relative_and_zero_weights_are_dropped() {
    let mesh = mesh_with(&vs(
        "  - route:\n    - {destination: {host: web, subset: v1}, weight: 1}\n    - {destination: {host: web, subset: v2}, weight: 3}\n    - {destination: {host: web, subset: v3}, weight: 0}\n",
    ));
    let n = 40_000;
    let v2 = run(&mesh, SimOptions::default(), &Request::get("web"), n, |d| {
        d.subset.as_deref() == Some("v2")
    });
    assert!(within_3_sigma(v2, n, 0.75), "{v2}");
    let v3 = run(&mesh, SimOptions::default(), &Request::get("web"), n, |d| {
        d.subset.as_deref() == Some("v3")
    });
    assert_eq!(v3, 0);
    // A lone destination takes everything whatever its weight.
    let mesh = mesh_with(&vs(
        "  - route:\n    - {destination: {host: web, subset: v1}, weight: 5}\n",
    ));
    let v1 = run(
        &mesh,
        SimOptions::default(),
        &Request::get("web"),
        1000,
        |d| d.subset.as_deref() == Some("v1"),
    );
    assert_eq!(v1, 1000);
}

// ===== mirrors =====

#[test]
fn mirror_percentages_and_mirrors_list() {
    let mesh = mesh_with(&vs(
        "  - route: [{destination: {host: web, subset: v1}}]\n    mirror: {host: web, subset: v2}\n    mirrorPercentage: {value: 25}\n",
    ));
    let n = 40_000;
    let m = run(&mesh, SimOptions::default(), &Request::get("web"), n, |d| {
        !d.mirrors.is_empty()
    });
    assert!(within_3_sigma(m, n, 0.25), "{m}");
    let mesh = mesh_with(&vs(
        "  - route: [{destination: {host: web, subset: v1}}]\n    mirrors:\n    - {destination: {host: web, subset: v2}}\n    - {destination: {host: web, subset: v9}, percentage: {value: 50}}\n    - {destination: {host: web, subset: v2}, percentage: {value: 0}}\n",
    ));
    let mut sim = Simulator::new(&mesh).unwrap();
    for _ in 0..100 {
        let d = sim.decide(&Request::get("web"));
        // v9 does not exist: Envoy skips that copy silently; 0% means no mirror.
        assert_eq!(d.mirrors.len(), 1);
        assert_eq!(d.mirrors[0].subset.as_deref(), Some("v2"));
        assert_eq!(
            d.subset.as_deref(),
            Some("v1"),
            "a copy never changes the primary"
        );
    }
}

// ===== delegates =====

#[test]
fn delegate_rules_are_merged_under_the_root() {
    let root = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: root}\nspec:\n  hosts: [web]\n  http:\n  - match: [{uri: {prefix: /api}}]\n    delegate: {name: child}\n  - route: [{destination: {host: web, subset: v1}}]\n";
    let child = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: child}\nspec:\n  http:\n  - name: v2\n    match: [{uri: {prefix: /api/v2}}]\n    route: [{destination: {host: web, subset: v2}}]\n  - name: conflict\n    match: [{uri: {prefix: /other}}]\n    route: [{destination: {host: web, subset: v3}}]\n  - name: rest\n    route: [{destination: {host: web, subset: v1}}]\n";
    let mesh = mesh_with(&format!("{root}---\n{child}"));
    let d = decide(&mesh, &Request::get("web").with_path("/api/v2/x"));
    assert_eq!(d.subset.as_deref(), Some("v2"));
    assert_eq!(d.route.as_deref(), Some("v2"));
    // The child rule without matches inherits the root's /api.
    let d = decide(&mesh, &Request::get("web").with_path("/api/v1"));
    assert_eq!(
        (d.subset.as_deref(), d.route.as_deref()),
        (Some("v1"), Some("rest"))
    );
    // /other conflicts with the root's /api: that rule disappears.
    let d = decide(&mesh, &Request::get("web").with_path("/other"));
    assert_eq!(d.subset.as_deref(), Some("v1"));
    assert_eq!(d.route.as_deref(), Some("http[1]"));
}

// ===== version profile =====

#[test]
fn default_load_balancer_follows_the_version() {
    let mesh = load(&[seed("canary.yaml")]);
    let lb = |v: IstioVersion| {
        let sim = Simulator::with_options(
            &mesh,
            SimOptions {
                version: v,
                seed: 1,
            },
        )
        .unwrap();
        sim.compiled().clusters[0].lb.to_string()
    };
    assert_eq!(lb(IstioVersion::TUTORIAL), "ROUND_ROBIN");
    assert_eq!(lb(IstioVersion::NEWEST), "LEAST_REQUEST");
    // Round robin visits the six pods in turn.
    let mut sim = Simulator::with_options(
        &mesh,
        SimOptions {
            version: IstioVersion::TUTORIAL,
            seed: 3,
        },
    )
    .unwrap();
    let first: Vec<_> = (0..12)
        .map(|_| sim.decide(&Request::get("myweb-service")).endpoint.unwrap())
        .collect();
    assert_eq!(first[..6], first[6..]);
    let mut distinct = first[..6].to_vec();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 6);
}

#[test]
fn weights_had_to_sum_to_100_before_istio_1_15() {
    let mesh = mesh_with(&vs(
        "  - route:\n    - {destination: {host: web, subset: v1}, weight: 1}\n    - {destination: {host: web, subset: v2}, weight: 3}\n",
    ));
    let old = SimOptions {
        version: "1.14".parse().unwrap(),
        seed: 1,
    };
    let errors = Simulator::with_options(&mesh, old)
        .err()
        .expect("Istio 1.14 rejects it");
    let e = errors.iter().next().unwrap();
    assert_eq!(e.path, "spec.http[0].route");
    assert!(
        e.message.starts_with("total destination weight 4 != 100"),
        "{}",
        e.message
    );
    let new = SimOptions {
        version: "1.15".parse().unwrap(),
        seed: 1,
    };
    assert!(Simulator::with_options(&mesh, new).is_ok());
}

#[test]
fn endpoint_shares_have_expectations_for_non_hash_balancers() {
    let mesh = load(&[seed("canary.yaml"), seed("canary10percent.yaml")]);
    let mut sim = Simulator::new(&mesh).unwrap();
    let reqs = vec![Request::get("myweb-service"); 30_000];
    let s = sim.simulate(&reqs);
    for ((dest, _, _), c) in &s.endpoints {
        assert_eq!(c.expected, Some(1.0 / 3.0), "{dest}");
        let n = s.destination_count(dest) as f64;
        let sigma = (n / 3.0 * (2.0 / 3.0)).sqrt();
        assert!(
            (c.count as f64 - n / 3.0).abs() <= 4.0 * sigma,
            "{dest}: {} of {n}",
            c.count
        );
    }
}

/// Redirect `Location`s by the rules of Envoy's `Http::Utility::newUri` over istiod's
/// `ApplyRedirect` (the conformance suite checks the same forms against Envoy 1.40).
#[test]
fn redirect_locations_keep_the_query_and_follow_envoys_port_rules() {
    let rules = [
        ("/uri", "{uri: /new}"),
        ("/own", "{uri: \"/new?y=2\"}"),
        ("/https", "{scheme: https}"),
        ("/port-80", "{port: 80}"),
        ("/port", "{port: 8443}"),
        ("/req-port", "{derivePort: FROM_REQUEST_PORT}"),
        ("/c307", "{uri: /t, redirectCode: 307}"),
    ];
    let mut http = String::new();
    for (p, r) in rules {
        http += &format!("  - match: [{{uri: {{prefix: {p}}}}}]\n    redirect: {r}\n");
    }
    http += "  - route: [{destination: {host: web}}]\n";
    let m = mesh_with(&vs(&http));
    let loc = |authority: &str, path: &str, version: &str| {
        let mut sim = Simulator::with_options(
            &m,
            SimOptions {
                version: version.parse().unwrap(),
                seed: 1,
            },
        )
        .unwrap();
        let d = sim.decide(&Request::get(authority).with_path(path));
        (d.status, d.redirect.unwrap_or_default())
    };
    let l = |a, p| loc(a, p, "1.31");
    // The request's query is kept unless the uri has its own.
    assert_eq!(l("web", "/uri?x=1"), (301, "http://web/new?x=1".into()));
    assert_eq!(l("web", "/own?x=1"), (301, "http://web/new?y=2".into()));
    // The authority's port stays, unless the scheme changes from its default port or a port
    // is redirected.
    assert_eq!(l("web:80", "/uri"), (301, "http://web:80/new".into()));
    assert_eq!(l("web:80", "/https"), (301, "https://web/https".into()));
    assert_eq!(l("web:80", "/port"), (301, "http://web:8443/port".into()));
    // istiod drops an explicit :80 under http (and the request's port stays).
    assert_eq!(
        l("web:80", "/port-80"),
        (301, "http://web:80/port-80".into())
    );
    assert_eq!(l("web", "/req-port"), (301, "http://web/req-port".into()));
    // Before 1.18 istiod kept it.
    assert_eq!(
        loc("web", "/req-port", "1.17"),
        (301, "http://web:80/req-port".into())
    );
    assert_eq!(l("web", "/c307?q"), (307, "http://web/t?q".into()));
}

/// A VirtualService's `headers` as istiod translates them (`TranslateHeadersOperations`):
/// sets before adds, sorted by name, pseudo-headers and `host` dropped (the authority becomes
/// the host rewrite), a lone destination's changes after the rule's.
#[test]
fn header_changes_translate_as_istiod() {
    use meshsim::compile::Proxy;
    use meshsim::route::{Action, HeaderAdd};
    let m = mesh_with(&vs(
        "  - headers:\n      request:\n        set: {x-b: '2', x-a: '1', ':authority': new-host}\n        add: {x-c: '3', host: ignored}\n        remove: [x-gone, ':path']\n      response: {set: {x-r: r}, remove: [server]}\n    route:\n    - destination: {host: web, subset: v1}\n      headers: {request: {set: {x-dest: v1}}, response: {add: {x-rd: d}}}\n",
    ));
    let sim = Simulator::new(&m).unwrap();
    let proxy = Proxy::Sidecar {
        namespace: "default".into(),
        labels: Default::default(),
    };
    let table = sim.compiled().route_table(&proxy, 80).0.unwrap();
    let vh = table
        .virtual_hosts
        .iter()
        .find(|v| v.domains.iter().any(|d| d == "web"))
        .unwrap();
    let Action::Forward(f) = &vh.routes[0].action else {
        panic!("a forward")
    };
    let add = |n: &str, v: &str, append| HeaderAdd {
        name: n.into(),
        value: v.into(),
        append,
    };
    assert_eq!(
        f.headers.request_add,
        [
            add("x-a", "1", false),
            add("x-b", "2", false),
            add("x-c", "3", true),
            add("x-dest", "v1", false)
        ]
    );
    assert_eq!(f.headers.request_remove, ["x-gone"]);
    assert_eq!(
        f.headers.response_add,
        [add("x-r", "r", false), add("x-rd", "d", true)]
    );
    assert_eq!(f.headers.response_remove, ["server"]);
    assert_eq!(f.host_rewrite.as_deref(), Some("new-host"));
    assert!(f.clusters[0].headers.is_empty(), "moved to the route");
}
