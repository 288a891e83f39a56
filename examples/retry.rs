//! The tutorial's retry lesson: a backend that hangs 5 s and crashes with 50% probability, and a
//! retry policy without retryOn. `cargo run --example retry`

use meshsim::report::explain::events_text;
use meshsim::{Mesh, route::Request, sim::Simulator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mesh = Mesh::load(&["policies/retry"]).map_err(|d| format!("{d:?}"))?;
    let mut sim = Simulator::new(&mesh).map_err(|d| format!("{d:?}"))?;
    let req = Request::get("retry-service").with_path("/?failRate=50");
    let reqs = vec![req.clone(); 2000];
    let s = sim.simulate(&reqs);
    println!(
        "success rate {:.1}% over {} requests",
        s.success_rate() * 100.0,
        s.requests
    );
    for ((status, flags), n) in &s.statuses {
        println!("  {status} {flags:<6} {n}");
    }
    let (d, trace) = sim.explain(&Request::get("retry-service").with_path("/?failRate=100"));
    println!("a request that hits a hanging pod:");
    print!("{}", events_text(&trace.0, "  "));
    println!("  → {} {}", d.status, d.flags);
    Ok(())
}
