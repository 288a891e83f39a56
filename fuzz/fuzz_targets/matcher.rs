//! A match block built from fuzzed strings, checked against a fuzzed request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshsim::config::{HttpMatchRequest, StringMatch};
use meshsim::route::{Request, RouteMatch};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\u{0}');
    let (regex, prefix, path, value) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or("/"),
        parts.next().unwrap_or(""),
    );
    let m = HttpMatchRequest {
        uri: Some(StringMatch {
            regex: Some(regex.to_string()),
            ..Default::default()
        }),
        headers: [(
            "cookie".to_string(),
            StringMatch {
                prefix: Some(prefix.to_string()),
                ..Default::default()
            },
        )]
        .into(),
        query_params: [(
            "q".to_string(),
            StringMatch {
                exact: Some(value.to_string()),
                ..Default::default()
            },
        )]
        .into(),
        ignore_uri_case: value.len() % 2 == 0,
        ..Default::default()
    };
    if let Ok(rm) = RouteMatch::from_istio(&m) {
        let req = Request::get("h")
            .with_path(path)
            .with_header("cookie", value);
        let _ = rm.check(&req);
        let _ = meshsim::validate::regex_error(regex);
    }
});
