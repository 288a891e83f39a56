//! Any bytes as a YAML file: load, validate, analyze, compile and decide a few requests.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshsim::Mesh;
use meshsim::compile::IstioVersion;
use meshsim::route::Request;
use meshsim::sim::Simulator;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (mesh, _) = Mesh::build([("fuzz.yaml", text.as_ref())], Default::default());
    let _ = meshsim::validate::validate(&mesh, IstioVersion::NEWEST);
    let _ = meshsim::analyze::analyze(&mesh, IstioVersion::NEWEST);
    if let Ok(mut sim) = Simulator::new(&mesh) {
        for host in ["myweb-service", "retry-service", "httpbin.org", "web"] {
            let _ = sim.decide(&Request::get(host).with_header("cookie", "usertype=tester"));
        }
    }
});
