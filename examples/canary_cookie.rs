//! The tutorial's cookie canary: testers (cookie `usertype=tester`) get v2, everyone else v1.
//! `cargo run --example canary_cookie`

use meshsim::{Mesh, route::Request, sim::Simulator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mesh = Mesh::load(&["policies/canary-cookie"]).map_err(|d| format!("{d:?}"))?;
    let mut sim = Simulator::new(&mesh).map_err(|d| format!("{d:?}"))?;
    for cookie in [
        "",
        "usertype=tester",
        "session=42; usertype=tester; theme=dark",
        "usertype=testers",
    ] {
        let mut req = Request::get("myweb-service");
        if !cookie.is_empty() {
            req = req.with_header("cookie", cookie);
        }
        let d = sim.decide(&req);
        println!(
            "cookie {:<42} → subset {} on {}",
            format!("{cookie:?}"),
            d.subset.unwrap_or_default(),
            d.workload.unwrap_or_default()
        );
    }
    Ok(())
}
