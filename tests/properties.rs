//! Properties over random configurations: weights are honoured within statistical bounds, the
//! same seed gives the same decisions, and decisions do not depend on how a stream is chunked.

use meshsim::Mesh;
use meshsim::route::Request;
use meshsim::sim::{SimOptions, Simulator};
use proptest::prelude::*;

fn mesh(weights: &[u32], lb: &str) -> Mesh {
    let mut y = String::new();
    for i in 0..weights.len() {
        y += &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: w{i}}}\nspec:\n  replicas: 2\n  template:\n    metadata: {{labels: {{app: web, v: s{i}}}}}\n---\n"
        );
    }
    y += "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{name: http, port: 80}]\n---\n";
    y += &format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: web}}\nspec:\n  host: web\n  trafficPolicy: {{loadBalancer: {lb}}}\n  subsets:\n"
    );
    for i in 0..weights.len() {
        y += &format!("  - {{name: s{i}, labels: {{v: s{i}}}}}\n");
    }
    y += "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web}\nspec:\n  hosts: [web]\n  http:\n  - route:\n";
    for (i, w) in weights.iter().enumerate() {
        y += &format!("    - {{destination: {{host: web, subset: s{i}}}, weight: {w}}}\n");
    }
    Mesh::from_yaml_str(&y, "prop.yaml").unwrap()
}

fn headers(i: u64) -> Request {
    Request::get("web").with_header("user", &format!("u{}", i % 97))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    #[test]
    fn weights_are_honoured(weights in prop::collection::vec(0u32..50, 2..5), seed in 0u64..1000) {
        prop_assume!(weights.iter().sum::<u32>() > 0);
        let m = mesh(&weights, "{simple: RANDOM}");
        let mut sim = Simulator::with_options(&m, SimOptions { seed, ..Default::default() }).unwrap();
        let n = 20_000u64;
        let mut counts = vec![0u64; weights.len()];
        for _ in 0..n {
            let d = sim.decide(&Request::get("web"));
            let s = d.subset.unwrap();
            counts[s[1..].parse::<usize>().unwrap()] += 1;
        }
        let total: u32 = weights.iter().sum();
        for (i, &w) in weights.iter().enumerate() {
            let p = w as f64 / total as f64;
            let sigma = (n as f64 * p * (1.0 - p)).sqrt();
            // 4.5σ: with a dozen cases of up to four destinations, a correct split fails this
            // with probability below 1e-4.
            prop_assert!((counts[i] as f64 - n as f64 * p).abs() <= 4.5 * sigma + 1e-9,
                "destination {i}: {} of {n}, expected share {p}", counts[i]);
        }
    }

    #[test]
    fn same_seed_same_decisions(weights in prop::collection::vec(1u32..10, 2..4), seed in any::<u64>()) {
        let m = mesh(&weights, "{simple: ROUND_ROBIN}");
        let run = || {
            let mut sim = Simulator::with_options(&m, SimOptions { seed, ..Default::default() }).unwrap();
            (0..500).map(|i| sim.decide(&headers(i))).collect::<Vec<_>>()
        };
        prop_assert_eq!(run(), run());
    }

    #[test]
    fn chunking_does_not_change_decisions(cut in 1u64..9000, seed in any::<u64>()) {
        // With RANDOM and ring hash the balancers keep no state, so a chunk started at `cut` by
        // a fresh simulator decides exactly as the sequential run does.
        for lb in ["{simple: RANDOM}", "{consistentHash: {httpHeaderName: user}}"] {
            let m = mesh(&[3, 1], lb);
            let opts = SimOptions { seed, ..Default::default() };
            let mut seq = Simulator::with_options(&m, opts).unwrap();
            let all: Vec<_> = (0..9000u64).map(|i| seq.decide(&headers(i))).collect();
            let mut chunk = Simulator::with_options(&m, opts).unwrap();
            chunk.seek(cut);
            for i in cut..(cut + 50).min(9000) {
                prop_assert_eq!(&chunk.decide(&headers(i)), &all[i as usize]);
            }
        }
    }
}

#[test]
fn hashed_requests_are_sticky() {
    let m = mesh(&[1], "{consistentHash: {httpHeaderName: user}}");
    let mut sim = Simulator::new(&m).unwrap();
    let tomas = Request::get("web").with_header("User", "tomas");
    let first = sim.decide(&tomas).endpoint;
    for _ in 0..200 {
        assert_eq!(sim.decide(&tomas).endpoint, first);
    }
}
