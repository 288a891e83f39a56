//! RANDOM load balancing inside subset v1. `cargo run --example lb_random`

use meshsim::{Mesh, route::Request, sim::Simulator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mesh = Mesh::load(&["policies/lb-random"]).map_err(|d| format!("{d:?}"))?;
    let mut sim = Simulator::new(&mesh).map_err(|d| format!("{d:?}"))?;
    let picks: Vec<String> = (0..12)
        .map(|_| {
            sim.decide(&Request::get("myweb-service"))
                .workload
                .unwrap_or_default()
        })
        .collect();
    println!("{}", picks.join("\n"));
    Ok(())
}
