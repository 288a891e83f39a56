//! No input makes meshsim panic, hang or grow without bound: random bytes, mutated policies,
//! random requests and headers, enormous numbers.

use meshsim::Mesh;
use meshsim::compile::IstioVersion;
use meshsim::route::{Request, RouteMatch};
use meshsim::sim::Simulator;
use proptest::prelude::*;

fn policies() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut texts = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for d in dirs {
        let mut files: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let mut all = String::new();
        for f in files {
            all += &std::fs::read_to_string(f).unwrap();
            all += "\n---\n";
        }
        texts.push(all);
    }
    texts
}

/// Everything meshsim does with a text: load, validate, analyze, compile, decide.
fn exercise(text: &str) {
    let (mesh, _) = Mesh::build([("fuzz.yaml", text)], Default::default());
    let _ = meshsim::validate::validate(&mesh, IstioVersion::NEWEST);
    let _ = meshsim::analyze::analyze(&mesh, IstioVersion::NEWEST);
    if let Ok(mut sim) = Simulator::new(&mesh) {
        for host in ["myweb-service", "retry-service", "httpbin.org", "x"] {
            let _ = sim.decide(
                &Request::get(host)
                    .with_header("cookie", "usertype=tester")
                    .with_header("user", "u"),
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_policies(which in 0usize..9, ops in prop::collection::vec((any::<u16>(), 0u8..6, any::<u16>()), 1..6)) {
        let texts = policies();
        let mut t = texts[which % texts.len()].clone().into_bytes();
        let tokens: [&[u8]; 6] = [b"&a ", b"*a", b"<<: *a\n", b"\n---\n", b"\t", b"{["];
        for (pos, op, arg) in ops {
            if t.is_empty() { break; }
            let p = pos as usize % t.len();
            match op {
                0 => { t.truncate(p); }
                1 => { let tok = tokens[arg as usize % tokens.len()]; t.splice(p..p, tok.iter().copied()); }
                2 => { let q = arg as usize % t.len(); t.swap(p, q); }
                3 => { let end = (p + (arg as usize % 40)).min(t.len()); t.drain(p..end); }
                4 => { t[p] = arg as u8; }
                _ => { let end = (p + (arg as usize % 200)).min(t.len()); let dup: Vec<u8> = t[p..end].to_vec(); t.splice(p..p, dup); }
            }
        }
        exercise(&String::from_utf8_lossy(&t));
    }

    #[test]
    fn random_short_requests(s in "\\PC{0,80}") {
        if let Ok(r) = Request::parse_short(&s) {
            let _ = r.host();
            let _ = r.port();
            let _ = r.query_param("a");
        }
    }

    #[test]
    fn matchers_on_random_requests(path in "\\PC{0,40}", value in "\\PC{0,40}", regex in "[a-z.*+?()|^$\\[\\]]{0,12}") {
        let m = meshsim::config::HttpMatchRequest {
            uri: Some(meshsim::config::StringMatch { regex: Some(regex.clone()), ..Default::default() }),
            headers: [("x".to_string(), meshsim::config::StringMatch { prefix: Some(value.clone()), ..Default::default() })].into(),
            ignore_uri_case: true,
            ..Default::default()
        };
        if let Ok(rm) = RouteMatch::from_istio(&m) {
            let req = Request::get("h").with_path(&path).with_header("x", &value);
            let _ = rm.check(&req);
        }
    }
}

#[test]
fn enormous_numbers_are_bounded_errors() {
    let big = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec:\n  replicas: 1000000000000\n  template: {metadata: {labels: {app: w}}}\n";
    let (_, d) = Mesh::build([("big.yaml", big)], Default::default());
    assert!(d.iter().any(|x| x.code.0 == "MS0031"), "{d:?}");
    let ring = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\nspec:\n  host: w\n  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: u, ringHash: {minimumRingSize: 1000000000000}}}}\n";
    let (mesh, _) = Mesh::build([("ring.yaml", ring)], Default::default());
    let v = meshsim::validate::validate(&mesh, IstioVersion::NEWEST);
    assert!(
        v.iter()
            .any(|x| x.code.0 == "MS1020" && x.message.contains("exceeds Envoy's maximum")),
        "{v:?}"
    );
    let table = ring.replace(
        "ringHash: {minimumRingSize: 1000000000000}",
        "maglev: {tableSize: 99999999977}",
    );
    let (mesh, _) = Mesh::build([("maglev.yaml", table.as_str())], Default::default());
    let v = meshsim::validate::validate(&mesh, IstioVersion::NEWEST);
    assert!(
        v.iter()
            .any(|x| x.message.contains("must be less than 5000011")),
        "{v:?}"
    );
    let huge_file = "a: ".to_string() + &"x".repeat(20 * 1024 * 1024);
    let (_, d) = Mesh::build([("huge.yaml", huge_file.as_str())], Default::default());
    assert!(d.has_errors());
}
