//! The batch path allocates per run, never per request: the allocations of a 200k-request run
//! and of a 2k-request run differ by at most a few buffer growths. Counted by a global
//! allocator, so this file holds a single test (tests in one binary share the allocator).

use meshsim::Mesh;
use meshsim::config::traffic::parse_traffic;
use meshsim::route::Request;
use meshsim::sim::stream::Generator;
use meshsim::sim::{Simulator, Stream};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a side
// effect that touches no memory of the allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_of(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

#[test]
fn requests_cost_no_allocation() {
    let dir = format!("{}/policies", env!("CARGO_MANIFEST_DIR"));
    for (policy, make) in [
        (
            "canary-cookie",
            Box::new(|n: u64| {
                let text = std::fs::read_to_string(format!(
                    "{}/policies/canary-cookie/traffic.yaml",
                    env!("CARGO_MANIFEST_DIR")
                ))
                .expect("the traffic spec is shipped");
                let spec = parse_traffic("traffic.yaml", &text).expect("parses");
                Stream::Generated(Box::new(Generator::new(&spec, 7).expect("valid")), n)
            }) as Box<dyn Fn(u64) -> Stream>,
        ),
        (
            "lb-header-hash",
            Box::new(|n: u64| {
                Stream::List(
                    (0..n)
                        .map(|i| {
                            Request::get("myweb-service").with_header("user", &format!("u{i}"))
                        })
                        .collect(),
                )
            }),
        ),
        (
            "canary-10-percent",
            Box::new(|n: u64| Stream::Repeat(Box::new(Request::get("myweb-service")), n)),
        ),
    ] {
        let mesh = Mesh::load(&[format!("{dir}/{policy}")]).expect("loads");
        let run = |n: u64| {
            let stream = make(n);
            let mut sim = Simulator::new(&mesh).expect("compiles");
            assert!(sim.batchable());
            allocations_of(|| {
                let s = sim.summarize(&stream, 1);
                assert_eq!(s.requests, n);
            })
        };
        let (small, large) = (run(2_000), run(200_000));
        assert!(
            large <= small + 16,
            "{policy}: {small} allocations for 2k requests, {large} for 200k"
        );
    }
}
