//! Mirroring: every request to retry-service is copied to the sniffer.
//! `cargo run --example mirror`

use meshsim::{Mesh, route::Request, sim::Simulator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mesh = Mesh::load(&["policies/mirror"]).map_err(|d| format!("{d:?}"))?;
    let mut sim = Simulator::new(&mesh).map_err(|d| format!("{d:?}"))?;
    for _ in 0..3 {
        let d = sim.decide(&Request::get("retry-service"));
        let m = &d.mirrors[0];
        println!(
            "request → {} ({}); copy → {} ({}) with authority {}",
            d.endpoint.unwrap_or_default(),
            d.workload.unwrap_or_default(),
            m.endpoint.clone().unwrap_or_default(),
            m.workload.clone().unwrap_or_default(),
            m.authority
        );
    }
    Ok(())
}
