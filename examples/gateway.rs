//! An ingress gateway admitting myweb-service.domain.com. `cargo run --example gateway`

use meshsim::{Mesh, route::Request, sim::Simulator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mesh = Mesh::load(&["policies/gateway"]).map_err(|d| format!("{d:?}"))?;
    let mut sim = Simulator::new(&mesh).map_err(|d| format!("{d:?}"))?;
    for (host, gateway) in [
        ("myweb-service.domain.com", Some("istio-gateway")),
        ("other.domain.com", Some("istio-gateway")),
        ("myweb-service.domain.com", None),
    ] {
        let mut req = Request::get(host);
        req.gateway = gateway.map(str::to_string);
        let d = sim.decide(&req);
        println!(
            "{host:<26} via {:<14} → {} {} {}",
            gateway.unwrap_or("sidecar"),
            d.status,
            d.flags,
            d.destination
                .map(|x| x.host)
                .unwrap_or_else(|| d.route.unwrap_or_default())
        );
    }
    Ok(())
}
