//! Consistent hashing on the User header: each user sticks to one pod.
//! `cargo run --example lb_header_hash`

use meshsim::report::explain::lb_text;
use meshsim::{Mesh, route::Request, sim::Simulator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mesh = Mesh::load(&["policies/lb-header-hash"]).map_err(|d| format!("{d:?}"))?;
    let mut sim = Simulator::new(&mesh).map_err(|d| format!("{d:?}"))?;
    for user in ["tomas", "tomas", "tomas", "alice", "bob"] {
        let d = sim.decide(&Request::get("myweb-service").with_header("User", user));
        println!(
            "user {user:<6} → {} ({})",
            d.workload.unwrap_or_default(),
            d.lb.as_ref().map(lb_text).unwrap_or_default()
        );
    }
    Ok(())
}
