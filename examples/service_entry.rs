//! REGISTRY_ONLY with a ServiceEntry for httpbin.org. `cargo run --example service_entry`

use meshsim::{Mesh, route::Request, sim::Simulator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mesh = Mesh::load(&["policies/service-entry"]).map_err(|d| format!("{d:?}"))?;
    let mut sim = Simulator::new(&mesh).map_err(|d| format!("{d:?}"))?;
    for host in ["httpbin.org", "www.google.com"] {
        let d = sim.decide(&Request::get(host));
        println!(
            "{host:<15} → {} ({})",
            d.status,
            d.route.unwrap_or_default()
        );
    }
    Ok(())
}
