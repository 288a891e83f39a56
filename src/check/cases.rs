//! Test files of the three formats → one internal form, [`TestCase`].

use super::{Check, IcvExpect, TestCase};
use crate::config::tests::{
    AttemptsExpect, Expect, IcvFile, OneOrMany, RequestInput, RouteCheckFile, TestFile, TestFormat,
    detect_format,
};
use crate::config::{UnknownFields, YamlPath, parse_documents, parse_documents_with};
use crate::diag::{Diagnostic, Location, codes};
use crate::route::Request;
use crate::sim::stream::from_spec;

/// Requests in a stream test when `share` is expected and `requests` is not given.
pub const DEFAULT_SHARE_REQUESTS: u64 = 20_000;

/// Most requests one test may send (requests × expanded request list).
pub const MAX_TEST_REQUESTS: u64 = 10_000_000;

/// Parses one test file (any of the formats) as each format's own tool reads it. A file
/// that is not a test file is an error.
///
/// Unknown fields: istio-config-validator ignores them unless `--strict` (its
/// `ParseTestCases` calls `DisallowUnknownFields` only then), so here they are warnings,
/// with the field dropped; [`parse_test_file_strict`] makes them errors. meshsim's format
/// rejects them always (an unknown expectation would leave a test asserting nothing), as
/// does Envoy's route check tool (`RouterCheckTool::compareEntries` loads its tests as
/// protos, through the strict `TestUtility::loadFromFile`).
///
/// ```
/// use meshsim::check::{parse_test_file, parse_test_file_strict};
/// let text = "testCases:\n- description: home\n  wantMatch: true\n  owner: web-team\n  \
///             request: {authority: [web], method: [GET], uri: [/]}\n";
/// let (cases, diags) = parse_test_file("t.yml", text);
/// assert_eq!(cases.len(), 1);
/// assert!(!diags[0].is_error() && diags[0].message.starts_with("unknown field `owner`"));
/// let (cases, diags) = parse_test_file_strict("t.yml", text);
/// assert!(cases.is_empty() && diags[0].is_error());
/// ```
pub fn parse_test_file(file: &str, text: &str) -> (Vec<TestCase>, Vec<Diagnostic>) {
    parse_test_file_with(file, text, UnknownFields::Warn)
}

/// [`parse_test_file`] under `--strict`: unknown fields are errors in every format.
pub fn parse_test_file_strict(file: &str, text: &str) -> (Vec<TestCase>, Vec<Diagnostic>) {
    parse_test_file_with(file, text, UnknownFields::Reject)
}

fn parse_test_file_with(
    file: &str,
    text: &str,
    peer_unknown: UnknownFields,
) -> (Vec<TestCase>, Vec<Diagnostic>) {
    match detect_format(text) {
        Some(TestFormat::Meshsim) => meshsim_cases(file, text),
        Some(TestFormat::IstioConfigValidator) => icv_cases(file, text, peer_unknown),
        Some(TestFormat::RouteCheck) => route_check_cases(file, text),
        None => (
            Vec::new(),
            vec![
                Diagnostic::error(
                    codes::NOT_AN_OBJECT,
                    "not a test file: expected `tests:` (meshsim or Envoy's route check tool) or `testCases:` (istio-config-validator)",
                )
                .at(Location {
                    file: file.into(),
                    line: 1,
                    column: 1,
                }),
            ],
        ),
    }
}

fn expand(input: &RequestInput) -> Result<Vec<Request>, String> {
    match input {
        RequestInput::Short(s) => Ok(vec![Request::parse_short(s)?]),
        RequestInput::Matrix(m) => {
            let authorities = m.authority.to_vec();
            let methods = m
                .method
                .as_ref()
                .map_or(vec!["GET".to_string()], OneOrMany::to_vec);
            let paths = m
                .path
                .as_ref()
                .map_or(vec!["/".to_string()], OneOrMany::to_vec);
            let header_sets = m
                .headers
                .as_ref()
                .map_or(vec![Default::default()], OneOrMany::to_vec);
            let mut out = Vec::new();
            for a in &authorities {
                for me in &methods {
                    for p in &paths {
                        for h in &header_sets {
                            out.push(from_spec(&crate::config::traffic::RequestSpec {
                                authority: a.clone(),
                                method: Some(me.clone()),
                                scheme: None,
                                path: Some(p.clone()),
                                headers: h.clone(),
                                source: m.source.clone(),
                                gateway: m.gateway.clone(),
                                time: None,
                                port: m.port,
                            }));
                        }
                    }
                }
            }
            if out.is_empty() {
                return Err("the request lists expand to no request".into());
            }
            Ok(out)
        }
    }
}

fn parse_attempts(a: &AttemptsExpect) -> Result<(u32, u32), String> {
    match a {
        AttemptsExpect::Exact(n) => Ok((*n, *n)),
        AttemptsExpect::Range(s) => {
            let (lo, hi) = s.split_once("..").ok_or_else(|| {
                format!("attempts `{s}`: expected a number or a range such as 1..3")
            })?;
            let lo = lo
                .trim()
                .parse()
                .map_err(|_| format!("attempts `{s}`: bad lower bound"))?;
            let hi = hi
                .trim()
                .trim_start_matches('=')
                .parse()
                .map_err(|_| format!("attempts `{s}`: bad upper bound"))?;
            if lo > hi {
                return Err(format!(
                    "attempts `{s}`: the lower bound is above the upper"
                ));
            }
            Ok((lo, hi))
        }
    }
}

/// `10% ± 1%`, `10%+-1%`, `0.1 ± 0.01` → (0.10, 0.01).
pub fn parse_share(s: &str) -> Result<(f64, f64), String> {
    let norm = s.replace("+/-", "±").replace("+-", "±");
    let (e, t) = norm
        .split_once('±')
        .ok_or_else(|| format!("share `{s}`: expected `10% ± 1%`"))?;
    let num = |x: &str| -> Result<f64, String> {
        let x = x.trim();
        match x.strip_suffix('%') {
            Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
            None => x.parse::<f64>(),
        }
        .map_err(|_| format!("share `{s}`: `{x}` is not a number or percentage"))
    };
    let (e, t) = (num(e)?, num(t)?);
    if !(0.0..=1.0).contains(&e) || !(0.0..=1.0).contains(&t) {
        return Err(format!(
            "share `{s}`: shares and tolerances are between 0% and 100%"
        ));
    }
    Ok((e, t))
}

fn check_of(e: &Expect) -> Result<Check, String> {
    let mut shares = Vec::new();
    for (k, v) in e.share.iter().flatten() {
        let (exp, tol) = parse_share(v)?;
        shares.push((k.clone(), exp, tol));
    }
    Ok(Check {
        route: e.route.clone(),
        virtual_service: e.virtual_service.clone(),
        host: e.host.clone(),
        namespace: e.namespace.clone(),
        subset: e.subset.clone(),
        port: e.port,
        cluster: e.cluster.clone(),
        endpoint: e.endpoint.clone(),
        workload: e.workload.clone(),
        status: e.status,
        flags: e.flags.clone(),
        redirect: e.redirect.clone(),
        rewrite_uri: e.rewrite.as_ref().and_then(|r| r.uri.clone()),
        rewrite_authority: e.rewrite.as_ref().and_then(|r| r.authority.clone()),
        upstream: e.upstream.clone(),
        response: e.response.clone(),
        mirrors: e.mirrors.clone(),
        attempts: e.attempts.as_ref().map(parse_attempts).transpose()?,
        shares,
        same_endpoint: e.same_endpoint,
        not: e.not.as_deref().map(check_of).transpose()?.map(Box::new),
        icv: None,
        virtual_host: None,
    })
}

fn meshsim_cases(file: &str, text: &str) -> (Vec<TestCase>, Vec<Diagnostic>) {
    let (docs, mut diags) = parse_documents::<TestFile>(file, text);
    let mut out = Vec::new();
    for (doc, origin) in docs {
        for (i, t) in doc.tests.iter().enumerate() {
            let path = YamlPath::root().key("tests").index(i);
            let location = origin.locate(&path.key("name"));
            let requests = expand(&t.request);
            let check = check_of(&t.expect);
            match (requests, check) {
                (Ok(requests), Ok(_))
                    if t.requests
                        .unwrap_or(1)
                        .saturating_mul(requests.len() as u64)
                        > MAX_TEST_REQUESTS =>
                {
                    diags.push(
                        Diagnostic::error(
                            codes::OUT_OF_RANGE,
                            format!("a test may send at most {MAX_TEST_REQUESTS} requests"),
                        )
                        .at(origin.locate(&path.key("requests")))
                        .with_path(path.key("requests").to_string()),
                    );
                }
                (Ok(requests), Ok(check)) => {
                    let repeat = t.requests.unwrap_or(if check.shares.is_empty() {
                        1
                    } else {
                        DEFAULT_SHARE_REQUESTS
                    });
                    out.push(TestCase {
                        name: t.name.clone(),
                        location,
                        requests,
                        repeat,
                        seed: t.seed.or(doc.seed),
                        random_value: None,
                        check,
                    });
                }
                (Err(e), _) => diags.push(
                    Diagnostic::error(codes::INVALID_VALUE, e)
                        .at(origin.locate(&path.key("request")))
                        .with_path(path.key("request").to_string()),
                ),
                (_, Err(e)) => diags.push(
                    Diagnostic::error(codes::INVALID_VALUE, e)
                        .at(origin.locate(&path.key("expect")))
                        .with_path(path.key("expect").to_string()),
                ),
            }
        }
    }
    (out, diags)
}

fn icv_cases(file: &str, text: &str, unknown: UnknownFields) -> (Vec<TestCase>, Vec<Diagnostic>) {
    let (docs, diags) = parse_documents_with::<IcvFile>(file, text, unknown);
    let mut out = Vec::new();
    for (doc, origin) in docs {
        for (i, c) in doc.test_cases.iter().enumerate() {
            let path = YamlPath::root().key("testCases").index(i);
            let mut requests = Vec::new();
            for a in &c.request.authority {
                for m in &c.request.method {
                    for u in &c.request.uri {
                        let mut r = Request::get(a);
                        r.method = m.to_ascii_uppercase();
                        r.path = u.clone();
                        for (k, v) in &c.request.headers {
                            r.headers.push((k.to_ascii_lowercase(), v.clone()));
                        }
                        requests.push(r);
                    }
                }
            }
            out.push(TestCase {
                name: c.description.clone(),
                location: origin.locate(&path.key("description")),
                requests,
                repeat: 1,
                seed: None,
                random_value: None,
                check: Check {
                    icv: Some(IcvExpect {
                        want_match: c.want_match,
                        route: c.route.clone(),
                        redirect: c.redirect.clone(),
                        rewrite: c.rewrite.clone(),
                        fault: c.fault.clone(),
                        headers: c.headers.clone(),
                        delegate: c.delegate.clone(),
                    }),
                    ..Check::default()
                },
            });
        }
    }
    (out, diags)
}

fn route_check_cases(file: &str, text: &str) -> (Vec<TestCase>, Vec<Diagnostic>) {
    let (docs, diags) = parse_documents::<RouteCheckFile>(file, text);
    let mut out = Vec::new();
    for (doc, origin) in docs {
        for (i, t) in doc.tests.iter().enumerate() {
            let path = YamlPath::root().key("tests").index(i);
            let mut r = Request::get(&t.input.authority);
            r.path = t.input.path.clone();
            if let Some(m) = &t.input.method {
                r.method = m.to_ascii_uppercase();
            }
            if t.input.ssl == Some(true) {
                r.scheme = "https".into();
            }
            for h in &t.input.additional_request_headers {
                r.headers
                    .push((h.key.to_ascii_lowercase(), h.value.clone()));
            }
            let v = &t.validate;
            out.push(TestCase {
                name: t.test_name.clone(),
                location: origin.locate(&path.key("test_name")),
                requests: vec![r],
                repeat: 1,
                seed: None,
                random_value: t.input.random_value,
                check: Check {
                    cluster: v.cluster_name.clone(),
                    virtual_host: v.virtual_host_name.clone(),
                    rewrite_uri: v.path_rewrite.clone(),
                    rewrite_authority: v.host_rewrite.clone(),
                    redirect: v.path_redirect.clone(),
                    status: v.code_redirect,
                    ..Check::default()
                },
            });
        }
    }
    (out, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_tolerances() {
        assert_eq!(parse_share("10% ± 1%").unwrap(), (0.1, 0.01));
        assert_eq!(parse_share("0.9+-0.05").unwrap(), (0.9, 0.05));
        assert!(parse_share("10%").is_err());
        assert!(parse_share("120% ± 1%").is_err());
    }
}
