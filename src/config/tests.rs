//! Policy test files, in meshsim's own format and in the two formats users bring from peers:
//! istio-config-validator's `testCases:` and Envoy's route check tool (`tests:` with `input`
//! and `validate`). The format is detected per file from its top-level keys and its first test.

use super::traffic::{HeaderValue, SourceSpec};
use super::virtual_service::{
    Delegate, Headers, HttpFaultInjection, HttpRedirect, HttpRewrite, HttpRouteDestination,
};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One value or a list (a list expands into one request per value).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// One.
    One(T),
    /// Several.
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    /// The values.
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// A meshsim test file: `tests:` with `request` and `expect`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// Seed for every test of the file (the command line's `--seed` otherwise).
    pub seed: Option<u64>,
    /// The tests.
    pub tests: Vec<TestSpec>,
}

/// The request(s) of a test: the short form, or fields whose lists expand as a cartesian
/// product.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum RequestInput {
    /// `GET http://myweb-service/ cookie:usertype=tester`.
    Short(String),
    /// Fields.
    Matrix(Box<RequestMatrix>),
}

/// Request fields; `authority`, `method`, `path` and `headers` may be lists.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestMatrix {
    /// Host header(s).
    pub authority: OneOrMany<String>,
    /// Method(s).
    pub method: Option<OneOrMany<String>>,
    /// Path(s), with query.
    pub path: Option<OneOrMany<String>>,
    /// A header set, or a list of header sets.
    pub headers: Option<OneOrMany<BTreeMap<String, HeaderValue>>>,
    /// The calling workload.
    pub source: Option<SourceSpec>,
    /// Entry gateway.
    pub gateway: Option<String>,
    /// The port the client connects to, when not the authority's.
    pub port: Option<u32>,
}

/// One test.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    /// Name shown in results.
    pub name: String,
    /// The request(s).
    pub request: RequestInput,
    /// Send each request this many times (default 1; shares default to 20,000).
    pub requests: Option<u64>,
    /// Seed for this test.
    pub seed: Option<u64>,
    /// What must hold.
    pub expect: Expect,
}

/// Expectations. Every field given must hold for every request, except `share` and
/// `same_endpoint`, which are about the whole stream; `not` holds when none of its fields does.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Route name (`http[].name`), `http[i]`, or `default` (Istio's default route).
    pub route: Option<String>,
    /// The VirtualService (`name` or `namespace/name`).
    #[serde(rename = "virtualService")]
    pub virtual_service: Option<String>,
    /// Destination host (short names resolve in `default`).
    pub host: Option<String>,
    /// The destination service's namespace.
    pub namespace: Option<String>,
    /// Destination subset.
    pub subset: Option<String>,
    /// Destination port.
    pub port: Option<u32>,
    /// Envoy cluster (`outbound|80|v2|host`).
    pub cluster: Option<String>,
    /// Endpoint `IP:PORT`.
    pub endpoint: Option<String>,
    /// Pod or WorkloadEntry; a trailing `*` matches a prefix.
    pub workload: Option<String>,
    /// Status the client sees.
    pub status: Option<u16>,
    /// Envoy response flags (`-` for none).
    pub flags: Option<String>,
    /// Redirect `Location` (or only its path, when it starts with `/`).
    pub redirect: Option<String>,
    /// Rewrite sent upstream.
    pub rewrite: Option<RewriteExpect>,
    /// What the upstream receives.
    pub upstream: Option<UpstreamExpect>,
    /// The response the client gets after the route's header changes.
    pub response: Option<ResponseExpect>,
    /// Hosts that receive a mirrored copy (all of them, any order).
    pub mirrors: Option<Vec<String>>,
    /// Tries: a number or a range `1..3`.
    pub attempts: Option<AttemptsExpect>,
    /// Shares of the stream: subset, host, workload, endpoint or route → `10% ± 1%`.
    pub share: Option<BTreeMap<String, String>>,
    /// Every request on the same endpoint.
    pub same_endpoint: Option<bool>,
    /// None of these may hold.
    pub not: Option<Box<Expect>>,
}

/// `rewrite: {uri, authority}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewriteExpect {
    /// Path sent upstream.
    pub uri: Option<String>,
    /// Authority sent upstream.
    pub authority: Option<String>,
}

/// `upstream: {authority, path, headers, absentHeaders}`: the request as the upstream
/// receives it, after rewrites and header changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpstreamExpect {
    /// `:authority`.
    pub authority: Option<String>,
    /// `:path`, with the query.
    pub path: Option<String>,
    /// Headers and their values (a repeated header's values joined with `,`).
    pub headers: Option<BTreeMap<String, String>>,
    /// Headers it must not receive.
    pub absent_headers: Option<Vec<String>>,
}

/// `response: {backendHeaders, headers, absentHeaders}`: the response headers the client
/// gets when the upstream answers with `backendHeaders` (none by default) and the route's
/// response header changes apply.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResponseExpect {
    /// What the upstream answers with.
    pub backend_headers: Option<BTreeMap<String, String>>,
    /// Headers the client must get, with their values.
    pub headers: Option<BTreeMap<String, String>>,
    /// Headers the client must not get.
    pub absent_headers: Option<Vec<String>>,
}

/// `attempts: 3` or `attempts: "1..3"`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum AttemptsExpect {
    /// Exactly.
    Exact(u32),
    /// A range, inclusive: `1..3`.
    Range(String),
}

/// istio-config-validator's file: `testCases:`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IcvFile {
    /// The cases.
    pub test_cases: Vec<IcvCase>,
}

/// One istio-config-validator case.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IcvCase {
    /// Name.
    pub description: String,
    /// Whether the matched rule must have the fields below (or must not).
    pub want_match: bool,
    /// Requests, as a cartesian product.
    pub request: IcvRequest,
    /// Expected `route` of the matched rule.
    pub route: Option<Vec<HttpRouteDestination>>,
    /// Expected `redirect`.
    pub redirect: Option<HttpRedirect>,
    /// Expected `rewrite`.
    pub rewrite: Option<HttpRewrite>,
    /// Expected `fault`.
    pub fault: Option<HttpFaultInjection>,
    /// Expected `headers`.
    pub headers: Option<Headers>,
    /// Expected `delegate` of the root rule.
    pub delegate: Option<Delegate>,
}

/// istio-config-validator's request lists.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IcvRequest {
    /// Authorities.
    pub authority: Vec<String>,
    /// Methods.
    pub method: Vec<String>,
    /// Paths.
    pub uri: Vec<String>,
    /// Headers of every request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// Envoy's route check tool file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteCheckFile {
    /// The tests.
    pub tests: Vec<RouteCheckTest>,
}

/// One route check test.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteCheckTest {
    /// Name.
    pub test_name: String,
    /// The request.
    pub input: RouteCheckInput,
    /// What must hold.
    pub validate: RouteCheckValidate,
}

/// The route check tool's request.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteCheckInput {
    /// Host header.
    pub authority: String,
    /// Path.
    pub path: String,
    /// Method.
    pub method: Option<String>,
    /// Extra headers.
    #[serde(default)]
    pub additional_request_headers: Vec<RouteCheckHeader>,
    /// The random value for weighted clusters (`stream_id`).
    pub random_value: Option<u64>,
    /// Whether the request came over TLS.
    pub ssl: Option<bool>,
    /// Whether the request is internal.
    pub internal: Option<bool>,
}

/// A header of the route check tool.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteCheckHeader {
    /// Name.
    pub key: String,
    /// Value.
    pub value: String,
}

/// The route check tool's expectations (those meshsim evaluates).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteCheckValidate {
    /// Cluster chosen.
    pub cluster_name: Option<String>,
    /// Virtual host chosen.
    pub virtual_host_name: Option<String>,
    /// Path after rewrite.
    pub path_rewrite: Option<String>,
    /// Host after rewrite.
    pub host_rewrite: Option<String>,
    /// Redirect path.
    pub path_redirect: Option<String>,
    /// Redirect status.
    pub code_redirect: Option<u16>,
}

/// Which format a file is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestFormat {
    /// meshsim's own.
    Meshsim,
    /// istio-config-validator's `testCases:`.
    IstioConfigValidator,
    /// Envoy's route check tool.
    RouteCheck,
}

/// Detects the format from the text, or `None` if it is not a test file.
pub fn detect_format(text: &str) -> Option<TestFormat> {
    let keys = super::top_level_keys(text);
    if keys.iter().any(|k| k == "testCases") {
        return Some(TestFormat::IstioConfigValidator);
    }
    if keys.iter().any(|k| k == "tests") {
        // Route check tool tests have `input` and `validate`; meshsim's `request` and `expect`.
        let route_check = text.lines().any(|l| {
            let t = l.trim_start().trim_start_matches("- ");
            t.starts_with("input:") || t.starts_with("validate:") || t.starts_with("test_name:")
        });
        return Some(if route_check {
            TestFormat::RouteCheck
        } else {
            TestFormat::Meshsim
        });
    }
    None
}
