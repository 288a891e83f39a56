//! DestinationRule load-balancing settings → Envoy clusters and route hash policies, with
//! Istio's precedence (subset over top level, port level replacing the level it is on).

use meshsim::Mesh;
use meshsim::lb::LbPolicy;
use meshsim::route::Request;
use meshsim::sim::Simulator;

const WORKLOADS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-v1}
spec:
  replicas: 3
  template:
    metadata: {labels: {app: web, version: v1}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-v2}
spec:
  replicas: 3
  template:
    metadata: {labels: {app: web, version: v2}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80}, {name: http-admin, port: 9000}]
"#;

fn clusters(dr: &str) -> Vec<(String, LbPolicy)> {
    let mesh = Mesh::from_yaml_str(&format!("{WORKLOADS}---\n{dr}"), "lb.yaml").unwrap();
    let sim = Simulator::new(&mesh).unwrap();
    sim.compiled()
        .clusters
        .iter()
        .map(|c| (c.name.clone(), c.lb))
        .collect()
}

fn lb_of(cs: &[(String, LbPolicy)], port: u32, subset: &str) -> LbPolicy {
    let name = format!("outbound|{port}|{subset}|web.default.svc.cluster.local");
    cs.iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("{name}"))
        .1
}

const DR_HEAD: &str = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web}\nspec:\n  host: web\n";

#[test]
fn subset_policy_overrides_the_top_level() {
    let cs = clusters(&format!(
        "{DR_HEAD}  trafficPolicy: {{loadBalancer: {{simple: RANDOM}}}}\n  subsets:\n  - {{name: v1, labels: {{version: v1}}}}\n  - name: v2\n    labels: {{version: v2}}\n    trafficPolicy: {{loadBalancer: {{simple: ROUND_ROBIN}}}}\n"
    ));
    assert_eq!(lb_of(&cs, 80, ""), LbPolicy::Random);
    assert_eq!(lb_of(&cs, 80, "v1"), LbPolicy::Random);
    assert_eq!(lb_of(&cs, 80, "v2"), LbPolicy::RoundRobin);
}

#[test]
fn port_level_settings_replace_the_level_they_are_on() {
    let cs = clusters(&format!(
        "{DR_HEAD}  trafficPolicy:\n    loadBalancer: {{simple: RANDOM}}\n    portLevelSettings:\n    - port: {{number: 9000}}\n      loadBalancer: {{simple: ROUND_ROBIN}}\n    - port: {{number: 80}}\n      connectionPool: {{tcp: {{maxConnections: 10}}}}\n  subsets:\n  - {{name: v1, labels: {{version: v1}}}}\n"
    ));
    assert_eq!(lb_of(&cs, 9000, ""), LbPolicy::RoundRobin);
    assert_eq!(lb_of(&cs, 9000, "v1"), LbPolicy::RoundRobin);
    // Port 80's settings replace the whole policy: no loadBalancer there means the default,
    // not the top level's RANDOM.
    assert_eq!(lb_of(&cs, 80, ""), LbPolicy::LeastRequest);
}

#[test]
fn consistent_hash_variants() {
    let ring = |ch: &str| {
        let cs = clusters(&format!(
            "{DR_HEAD}  trafficPolicy: {{loadBalancer: {{consistentHash: {ch}}}}}\n"
        ));
        lb_of(&cs, 80, "")
    };
    assert_eq!(
        ring("{httpHeaderName: user}"),
        LbPolicy::RingHash {
            minimum_ring_size: 1024,
            maximum_ring_size: 8 * 1024 * 1024
        }
    );
    assert_eq!(
        ring("{httpHeaderName: user, ringHash: {minimumRingSize: 64}}"),
        LbPolicy::RingHash {
            minimum_ring_size: 64,
            maximum_ring_size: 8 * 1024 * 1024
        }
    );
    assert_eq!(
        ring("{httpHeaderName: user, minimumRingSize: 2048}"),
        LbPolicy::RingHash {
            minimum_ring_size: 2048,
            maximum_ring_size: 8 * 1024 * 1024
        }
    );
    assert_eq!(
        ring("{useSourceIp: true, maglev: {tableSize: 251}}"),
        LbPolicy::Maglev { table_size: 251 }
    );
    assert_eq!(
        ring("{httpHeaderName: user, maglev: {}}"),
        LbPolicy::Maglev { table_size: 65537 }
    );
}

#[test]
fn hash_policy_comes_from_the_destination_and_can_disagree_with_the_cluster() {
    // A top-level hash with a subset that uses ROUND_ROBIN: the route hashes, the cluster does
    // not, so requests of one user rotate over the pods (Istio's translation, not a bug here).
    let dr = format!(
        "{DR_HEAD}  trafficPolicy: {{loadBalancer: {{consistentHash: {{httpHeaderName: user}}}}}}\n  subsets:\n  - {{name: v1, labels: {{version: v1}}}}\n  - name: v2\n    labels: {{version: v2}}\n    trafficPolicy: {{loadBalancer: {{simple: ROUND_ROBIN}}}}\n"
    );
    let vs = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web}\nspec:\n  hosts: [web]\n  http:\n  - match: [{headers: {x-v2: {}}}]\n    route: [{destination: {host: web, subset: v2}}]\n  - route: [{destination: {host: web, subset: v1}}]\n";
    let mesh = Mesh::from_yaml_str(&format!("{WORKLOADS}---\n{dr}---\n{vs}"), "lb.yaml").unwrap();
    let mut sim = Simulator::new(&mesh).unwrap();
    let tomas = Request::get("web").with_header("user", "tomas");
    let sticky: std::collections::BTreeSet<_> =
        (0..30).map(|_| sim.decide(&tomas).endpoint).collect();
    assert_eq!(sticky.len(), 1, "v1 inherits the ring hash: sticky");
    let rr = tomas.clone().with_header("x-v2", "1");
    let rotating: std::collections::BTreeSet<_> =
        (0..30).map(|_| sim.decide(&rr).endpoint).collect();
    assert_eq!(
        rotating.len(),
        3,
        "v2's cluster is ROUND_ROBIN whatever the route hashes"
    );
    let d = sim.decide(&rr);
    assert!(d.hash_key.is_some(), "the route still computes the hash");
}

#[test]
fn generated_cookie_is_reported_and_then_sticky() {
    let dr = format!(
        "{DR_HEAD}  trafficPolicy: {{loadBalancer: {{consistentHash: {{httpCookie: {{name: session, path: /, ttl: 60s}}}}}}}}\n"
    );
    let mesh = Mesh::from_yaml_str(&format!("{WORKLOADS}---\n{dr}"), "lb.yaml").unwrap();
    let mut sim = Simulator::new(&mesh).unwrap();
    let mut first = Request::get("web");
    first.source = Some(meshsim::route::Source {
        ip: Some("10.1.2.3".into()),
        ..Default::default()
    });
    let d = sim.decide(&first);
    let set = d.set_cookie.clone().expect("Envoy generates the cookie");
    assert!(
        set.starts_with("session=\"") && set.ends_with("\"; Max-Age=60; Path=/; HttpOnly"),
        "{set}"
    );
    let value = set.split('"').nth(1).unwrap();
    assert_eq!(value.len(), 16);
    // The client sends the cookie back: the same endpoint, every time.
    let back = Request::get("web").with_header("cookie", &format!("session={value}"));
    for _ in 0..20 {
        assert_eq!(sim.decide(&back).endpoint, d.endpoint);
    }
    // Without a ttl, a missing cookie means no hash: a random endpoint each time.
    let dr = format!(
        "{DR_HEAD}  trafficPolicy: {{loadBalancer: {{consistentHash: {{httpCookie: {{name: session}}}}}}}}\n"
    );
    let mesh = Mesh::from_yaml_str(&format!("{WORKLOADS}---\n{dr}"), "lb.yaml").unwrap();
    let mut sim = Simulator::new(&mesh).unwrap();
    let spread: std::collections::BTreeSet<_> = (0..200)
        .map(|_| sim.decide(&Request::get("web")).endpoint)
        .collect();
    assert_eq!(spread.len(), 6);
    assert!(sim.decide(&Request::get("web")).set_cookie.is_none());
}

#[test]
fn source_ip_hashing_sticks_one_client_to_one_pod() {
    let dr = format!(
        "{DR_HEAD}  trafficPolicy: {{loadBalancer: {{consistentHash: {{useSourceIp: true}}}}}}\n"
    );
    let mesh = Mesh::from_yaml_str(&format!("{WORKLOADS}---\n{dr}"), "lb.yaml").unwrap();
    let mut sim = Simulator::new(&mesh).unwrap();
    let from = |ip: &str| {
        let mut r = Request::get("web");
        r.source = Some(meshsim::route::Source {
            ip: Some(ip.into()),
            ..Default::default()
        });
        r
    };
    let mut per_client = std::collections::BTreeSet::new();
    for i in 0..50 {
        let r = from(&format!("10.9.0.{i}"));
        let e = sim.decide(&r).endpoint;
        assert_eq!(sim.decide(&r).endpoint, e);
        per_client.insert(e);
    }
    assert!(per_client.len() > 1, "different clients spread over pods");
}

/// Every request through a sidecar arrives over a connection: one that names no source comes
/// from the default client, so a cookie with a ttl is generated for it (and its endpoint is the
/// one the cookie hashes to), and source-IP hashing sends all such requests to one pod.
#[test]
fn requests_without_a_source_come_from_the_default_client() {
    let dr = format!(
        "{DR_HEAD}  trafficPolicy: {{loadBalancer: {{consistentHash: {{httpCookie: {{name: sid, path: /app, ttl: 600s}}}}}}}}\n"
    );
    let mesh = Mesh::from_yaml_str(&format!("{WORKLOADS}---\n{dr}"), "lb.yaml").unwrap();
    let mut sim = Simulator::new(&mesh).unwrap();
    let mut spread = std::collections::BTreeSet::new();
    for _ in 0..100 {
        let d = sim.decide(&Request::get("web"));
        let set = d.set_cookie.clone().expect("the cookie is generated");
        let value = set.split('"').nth(1).unwrap().to_string();
        assert_eq!(
            set,
            format!("sid=\"{value}\"; Max-Age=600; Path=/app; HttpOnly")
        );
        let back = Request::get("web").with_header("cookie", &format!("sid={value}"));
        assert_eq!(sim.decide(&back).endpoint, d.endpoint);
        spread.insert(d.endpoint);
    }
    assert!(spread.len() > 1, "each request is a new connection");
    let dr = format!(
        "{DR_HEAD}  trafficPolicy: {{loadBalancer: {{consistentHash: {{useSourceIp: true}}}}}}\n"
    );
    let mesh = Mesh::from_yaml_str(&format!("{WORKLOADS}---\n{dr}"), "lb.yaml").unwrap();
    let mut sim = Simulator::new(&mesh).unwrap();
    let one: std::collections::BTreeSet<_> = (0..50)
        .map(|_| sim.decide(&Request::get("web")).endpoint)
        .collect();
    assert_eq!(one.len(), 1, "{one:?}");
    let mut from_default = Request::get("web");
    from_default.source = Some(meshsim::route::Source {
        ip: Some(meshsim::sim::DEFAULT_CLIENT_IP.into()),
        ..Default::default()
    });
    assert_eq!(Some(&sim.decide(&from_default).endpoint), one.iter().next());
}
