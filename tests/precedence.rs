//! Which VirtualService a sidecar uses when several could apply, as istiod decides it.

mod common;

use common::meshsim_text as meshsim;

fn scratch(name: &str, text: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!(
        "meshsim-precedence-{}-{name}.yaml",
        std::process::id()
    ));
    std::fs::write(&p, text).unwrap();
    p
}

fn route_of(file: &std::path::Path, url: &str) -> String {
    let (code, out, err) = meshsim(&[
        "simulate",
        "-f",
        file.to_str().unwrap(),
        "--request",
        &format!("GET {url}"),
        "-o",
        "jsonl",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    v["route"].as_str().unwrap_or("").to_string()
}

const ENTRY: &str = "apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [explicit.example.com, other.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
";

const WILD: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wild}
spec:
  hosts: [\"*.example.com\"]
  http: [{name: wild, route: [{destination: {host: other.example.com}}]}]
---
";

const EXACT: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: exact}
spec:
  hosts: [explicit.example.com]
  http: [{name: exact, route: [{destination: {host: explicit.example.com}}]}]
---
";

/// computeWildcardHostVirtualServiceIndex / MostSpecificHostMatch (pilot/pkg/model/sidecar.go,
/// config.go): a service takes the VirtualService with its exact host over a wildcard one,
/// whatever their order; the wildcard keeps the services no exact host names.
#[test]
fn an_exact_host_beats_a_wildcard_in_either_order() {
    for (name, text) in [
        ("wild-first", format!("{ENTRY}{WILD}{EXACT}")),
        ("exact-first", format!("{ENTRY}{EXACT}{WILD}")),
    ] {
        let f = scratch(name, &text);
        assert_eq!(
            route_of(&f, "http://explicit.example.com/"),
            "exact",
            "{name}"
        );
        assert_eq!(route_of(&f, "http://other.example.com/"), "wild", "{name}");
        let _ = std::fs::remove_file(&f);
    }
}

fn vs(name: &str, created: Option<&str>) -> String {
    let ts = created.map_or(String::new(), |t| format!(", creationTimestamp: \"{t}\""));
    format!(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}{ts}}}
spec:
  hosts: [web]
  http: [{{name: {name}, route: [{{destination: {{host: web}}}}]}}]
---
"
    )
}

const WEB: &str = "apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80}]
---
";

/// configCompareByCreationTime (pilot/pkg/model/config.go): the oldest VirtualService for a
/// host wins, then the name, then the namespace; file order plays no part.
#[test]
fn the_oldest_virtual_service_wins_then_the_name() {
    let f = scratch(
        "by-time",
        &format!(
            "{WEB}{}{}",
            vs("a-newer", Some("2026-02-01T00:00:00Z")),
            vs("b-older", Some("2026-01-01T00:00:00Z"))
        ),
    );
    assert_eq!(route_of(&f, "http://web/"), "b-older");
    let _ = std::fs::remove_file(&f);
    // Applied together (no timestamps, or the same second): the name decides.
    let f = scratch(
        "by-name",
        &format!("{WEB}{}{}", vs("zeta", None), vs("alpha", None)),
    );
    assert_eq!(route_of(&f, "http://web/"), "alpha");
    let _ = std::fs::remove_file(&f);
}

fn gateway_mesh(server_port: u32, extra: &str) -> String {
    format!(
        "{WEB}apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  template: {{metadata: {{labels: {{app: web}}}}}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: gw}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: {server_port}, name: http, protocol: HTTP}}
    hosts: [\"*\"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: web}}
spec:
  hosts: [\"*\"]
  gateways: [gw]
  http: [{{name: web, route: [{{destination: {{host: web}}}}]}}]
---
{extra}"
    )
}

fn gateway_status(file: &std::path::Path, port: u32) -> u64 {
    let (code, out, err) = meshsim(&[
        "simulate",
        "-f",
        file.to_str().unwrap(),
        "--gateway",
        "gw",
        "--request",
        &format!("GET http://shop.example.com:{port}/"),
        "-o",
        "jsonl",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    v["status"].as_u64().unwrap()
}

/// resolvePorts (pilot/pkg/model/gateway.go): a Gateway server port that is a port of the
/// Service in front of the gateway listens on its targetPort. Istio's default
/// istio-ingressgateway Service maps 80 → 8080 and 443 → 8443, so bookinfo's Gateway on 8080
/// answers `curl` on port 80, as does a Gateway on 80; the user's own Service replaces the
/// default.
#[test]
fn gateway_ports_go_through_the_gateway_service() {
    for (server, curl, status) in [
        (8080, 80, 200),
        (80, 80, 200),
        (8080, 8080, 200),
        (80, 443, 404),
    ] {
        let f = scratch(&format!("gw-{server}-{curl}"), &gateway_mesh(server, ""));
        let got = gateway_status(&f, curl);
        let _ = std::fs::remove_file(&f);
        // (80, 443): 443 reaches 8443, where no server listens: no listener, 404 NR.
        assert_eq!(got, status, "server {server}, curl {curl}");
    }
    let own = "apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  ports: [{name: http2, port: 80, targetPort: 9090}]
";
    let f = scratch("gw-own", &gateway_mesh(80, own));
    // Port 80 reaches the pods' 9090, where the server on 80 now listens.
    assert_eq!(gateway_status(&f, 80), 200);
    // 8080 is no port of this Service: it is listened on as is, and no server is there.
    assert_eq!(gateway_status(&f, 8080), 404);
    let _ = std::fs::remove_file(&f);
}
