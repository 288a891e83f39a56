//! Any text as a short-form request, a JSONL request file, a test file and a traffic spec.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(r) = meshsim::route::Request::parse_short(&text) {
        let _ = (r.host(), r.port(), r.query_param("a"), r.path_only().len());
    }
    let _ = meshsim::config::traffic::parse_jsonl("fuzz.jsonl", &text);
    let _ = meshsim::check::parse_test_file("fuzz.yaml", &text);
    if let Ok(spec) = meshsim::config::traffic::parse_traffic("fuzz.yaml", &text)
        && let Ok(g) = meshsim::sim::stream::Generator::new(&spec, 1)
    {
        let _ = g.request(0);
    }
});
