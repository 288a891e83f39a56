//! Routing decisions per second: match, weighted pick and load-balancer pick, no retries, on
//! one thread, through [`Simulator::summarize`] (the path `meshsim simulate` takes).
//!
//! Each iteration decides a stream of 1M requests that cycles over a fixed set of distinct
//! requests (built once, outside the timing, and borrowed as a request list is), so the figure
//! covers what a user's stream costs apart from generating it: the request's random values,
//! finding the virtual host, matching routes in order, the weighted pick, hashing, the
//! balancer's pick, counting.
//!
//! `cargo bench --bench decide`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use meshsim::Mesh;
use meshsim::route::Request;
use meshsim::sim::{RequestSource, Simulator};

/// `n` requests cycling over `requests`.
struct Cycle<'a> {
    requests: &'a [Request],
    n: u64,
}

impl RequestSource for Cycle<'_> {
    fn len(&self) -> u64 {
        self.n
    }
    fn fill(&self, index: u64, out: &mut Request) {
        out.clone_from(&self.requests[(index % self.requests.len() as u64) as usize]);
    }
    fn borrow(&self, index: u64) -> Option<&Request> {
        Some(&self.requests[(index % self.requests.len() as u64) as usize])
    }
}

const STREAM: u64 = 1_000_000;

fn policy(name: &str) -> Mesh {
    Mesh::load(&[format!("{}/policies/{name}", env!("CARGO_MANIFEST_DIR"))]).expect("loads")
}

/// A VirtualService with 200 rules, each matching a path regex and a header regex (an API
/// gateway's worth of routes), over 4 services; requests spread over all rules and some match
/// none of them (the last rule is a catch-all).
fn two_hundred_rules() -> Mesh {
    let mut y = String::new();
    for v in 0..4 {
        y += &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: api-v{v}}}\nspec:\n  replicas: 3\n  template:\n    metadata: {{labels: {{app: api, version: v{v}}}}}\n    spec: {{containers: [{{name: api, ports: [{{containerPort: 8080}}]}}]}}\n---\n"
        );
    }
    y += "apiVersion: v1\nkind: Service\nmetadata: {name: api}\nspec:\n  selector: {app: api}\n  ports: [{port: 80, targetPort: 8080, name: http}]\n---\n";
    y += "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: api}\nspec:\n  host: api\n  subsets:\n";
    for v in 0..4 {
        y += &format!("  - {{name: v{v}, labels: {{version: v{v}}}}}\n");
    }
    y += "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: api}\nspec:\n  hosts: [api]\n  http:\n";
    for i in 0..199 {
        y += &format!(
            "  - name: r{i}\n    match:\n    - uri: {{regex: \"/svc{i}/[a-z]+/[0-9]+\"}}\n      headers: {{x-tenant: {{regex: \"tenant-[0-9]+\"}}}}\n    route: [{{destination: {{host: api, subset: v{}}}}}]\n",
            i % 4
        );
    }
    y += "  - name: fallback\n    route: [{destination: {host: api, subset: v0}}]\n";
    Mesh::from_yaml_str(&y, "200-rules.yaml").expect("the generated mesh loads")
}

fn decide(c: &mut Criterion) {
    let mut g = c.benchmark_group("decide");
    g.throughput(Throughput::Elements(STREAM));
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(4));

    let cookie = policy("canary-cookie");
    let cookie_requests: Vec<Request> = (0..1000)
        .map(|i| {
            let c = if i % 10 == 0 {
                format!("session={i}; usertype=tester; theme=dark")
            } else {
                format!("session={i};theme=dark")
            };
            Request::get("myweb-service").with_header("cookie", &c)
        })
        .collect();
    let canary = policy("canary-10-percent");
    let canary_requests = vec![Request::get("myweb-service")];
    let hash = policy("lb-header-hash");
    let hash_requests: Vec<Request> = (0..1000)
        .map(|i| Request::get("myweb-service").with_header("user", &format!("user-{i}")))
        .collect();
    let rules = two_hundred_rules();
    let rules_requests: Vec<Request> = (0..1000)
        .map(|i| {
            // Rules 0..199, plus 1 in 11 matching none of them.
            let path = if i % 11 == 10 {
                format!("/other/{i}")
            } else {
                format!("/svc{}/items/{i}", (i * 37) % 199)
            };
            Request::get("api")
                .with_path(&path)
                .with_header("x-tenant", &format!("tenant-{}", i % 50))
        })
        .collect();

    for (name, mesh, requests) in [
        ("canary-cookie", &cookie, &cookie_requests),
        ("canary-10-percent", &canary, &canary_requests),
        ("lb-header-hash", &hash, &hash_requests),
        ("200 regex rules", &rules, &rules_requests),
    ] {
        let mut sim = Simulator::new(mesh).expect("compiles");
        assert!(sim.batchable(), "{name} takes the batch path");
        let stream = Cycle {
            requests,
            n: STREAM,
        };
        g.bench_function(name, |b| {
            b.iter(|| black_box(sim.summarize(black_box(&stream), 1)))
        });
    }
    g.finish();
}

/// The whole of `meshsim simulate` on the cookie canary apart from loading: its traffic spec
/// generated request by request, on one thread and on two (same output, checked in
/// tests/batch.rs and tests/cli.rs).
fn threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("simulate canary-cookie traffic");
    const N: u64 = 2_000_000;
    g.throughput(Throughput::Elements(N));
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(6));
    let mesh = policy("canary-cookie");
    let text = std::fs::read_to_string(format!(
        "{}/policies/canary-cookie/traffic.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("shipped");
    let spec = meshsim::config::traffic::parse_traffic("traffic.yaml", &text).expect("parses");
    let stream = meshsim::sim::Stream::Generated(
        Box::new(meshsim::sim::stream::Generator::new(&spec, 7).expect("valid")),
        N,
    );
    for threads in [1, 2] {
        let mut sim = Simulator::new(&mesh).expect("compiles");
        g.bench_function(format!("{threads} thread(s)"), |b| {
            b.iter(|| black_box(sim.summarize(&stream, threads)))
        });
    }
    g.finish();
}

/// The engine's own path, `Simulator::decide` one request at a time (what `-o jsonl`, `--html`,
/// `meshsim test` and `diff` take): routing stage by stage with tracing compiled out, the
/// upstream's event loop, and a full `Decision` per request.
fn engine(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine decide");
    const N: usize = 100_000;
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(4));
    let cookie = policy("canary-cookie");
    let cookie_requests: Vec<Request> = (0..N)
        .map(|i| {
            let c = if i % 10 == 0 {
                format!("session={i}; usertype=tester")
            } else {
                format!("session={i}")
            };
            Request::get("myweb-service").with_header("cookie", &c)
        })
        .collect();
    let retry = policy("retry");
    let retry_requests: Vec<Request> = (0..N)
        .map(|_| Request::get("retry-service").with_path("/?failRate=0"))
        .collect();
    for (name, mesh, requests) in [
        ("canary-cookie", &cookie, &cookie_requests),
        ("retry", &retry, &retry_requests),
    ] {
        let mut sim = Simulator::new(mesh).expect("compiles");
        g.bench_function(name, |b| {
            b.iter(|| {
                for r in requests {
                    black_box(sim.decide(black_box(r)));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, decide, threads, engine);
criterion_main!(benches);
