//! `networking.istio.io` VirtualService, field for field as in istio/api `virtual_service.proto`
//! (camelCase in YAML). Unknown fields are errors, as Istio's API server rejects them.

use super::types::{Duration, Percent, PortSelector, StringMap, StringMatch};
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::BTreeMap;

/// `spec` of a VirtualService.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VirtualService {
    /// Destination hosts this applies to (short names are expanded with the namespace).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Gateways (and/or `mesh`) the rules apply to; empty means `mesh`.
    #[serde(default)]
    pub gateways: Vec<String>,
    /// HTTP rules, first match wins.
    #[serde(default)]
    pub http: Vec<HttpRoute>,
    /// TLS routes: accepted, not simulated.
    #[serde(default)]
    pub tls: Option<IgnoredAny>,
    /// TCP routes: accepted, not simulated.
    #[serde(default)]
    pub tcp: Option<IgnoredAny>,
    /// Namespaces this is visible to.
    #[serde(default)]
    pub export_to: Vec<String>,
}

/// One `http[]` rule.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRoute {
    /// Rule name (used in route names and in our reports).
    pub name: Option<String>,
    /// Match blocks, ORed; fields within a block ANDed. Empty matches everything.
    #[serde(default, rename = "match")]
    pub matches: Vec<HttpMatchRequest>,
    /// Weighted destinations.
    #[serde(default)]
    pub route: Vec<HttpRouteDestination>,
    /// A redirect instead of a route.
    pub redirect: Option<HttpRedirect>,
    /// A direct response instead of a route.
    pub direct_response: Option<HttpDirectResponse>,
    /// Delegate to another VirtualService.
    pub delegate: Option<Delegate>,
    /// Rewrite of URI/authority before forwarding.
    pub rewrite: Option<HttpRewrite>,
    /// Overall timeout of the request (all tries).
    pub timeout: Option<Duration>,
    /// Retry policy.
    pub retries: Option<HttpRetry>,
    /// Fault injection.
    pub fault: Option<HttpFaultInjection>,
    /// Mirror destination (one).
    pub mirror: Option<Destination>,
    /// Percentage of requests mirrored (unset = 100%).
    pub mirror_percentage: Option<Percent>,
    /// Deprecated integer form of `mirrorPercentage`.
    pub mirror_percent: Option<u32>,
    /// Several mirrors, each with its own percentage.
    #[serde(default)]
    pub mirrors: Vec<HttpMirrorPolicy>,
    /// CORS policy (accepted, not simulated).
    pub cors_policy: Option<CorsPolicy>,
    /// Header manipulation.
    pub headers: Option<Headers>,
}

/// One match block.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpMatchRequest {
    /// Name of the match block (appended to the route name).
    pub name: Option<String>,
    /// Path match (without the query string for exact and regex).
    pub uri: Option<StringMatch>,
    /// `:scheme` match.
    pub scheme: Option<StringMatch>,
    /// `:method` match.
    pub method: Option<StringMatch>,
    /// `:authority` match against the raw Host value, port included.
    pub authority: Option<StringMatch>,
    /// Header matches (names case-insensitive).
    #[serde(default)]
    pub headers: BTreeMap<String, StringMatch>,
    /// Headers that must not match.
    #[serde(default)]
    pub without_headers: BTreeMap<String, StringMatch>,
    /// Query parameter matches.
    #[serde(default)]
    pub query_params: BTreeMap<String, StringMatch>,
    /// Port of the listener (applied when config is generated).
    pub port: Option<u32>,
    /// Labels of the calling workload (applied when config is generated).
    #[serde(default)]
    pub source_labels: StringMap,
    /// Namespace of the calling workload.
    pub source_namespace: Option<String>,
    /// Gateways this block applies to.
    #[serde(default)]
    pub gateways: Vec<String>,
    /// Case-insensitive exact and prefix URI matching.
    #[serde(default)]
    pub ignore_uri_case: bool,
    /// Statistics prefix (accepted, not simulated).
    pub stat_prefix: Option<String>,
}

/// A weighted destination.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRouteDestination {
    /// Where to send.
    pub destination: Destination,
    /// Relative weight (Istio ≥ 1.15: any non-negative value).
    #[serde(default)]
    pub weight: i32,
    /// Header manipulation for this destination.
    pub headers: Option<Headers>,
}

/// `Destination`: a host, optional subset, optional port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Destination {
    /// Service host (short, namespaced or FQDN).
    pub host: String,
    /// DestinationRule subset.
    pub subset: Option<String>,
    /// Port of the service.
    pub port: Option<PortSelector>,
}

/// `HTTPRedirect`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRedirect {
    /// New path.
    pub uri: Option<String>,
    /// New authority.
    pub authority: Option<String>,
    /// New port.
    pub port: Option<u32>,
    /// `FROM_PROTOCOL_DEFAULT` or `FROM_REQUEST_PORT`.
    pub derive_port: Option<String>,
    /// New scheme.
    pub scheme: Option<String>,
    /// Status code (default 301).
    pub redirect_code: Option<u32>,
    /// Replaces the matched path prefix (Istio 1.31's `prefixRewrite`, which istiod's Gateway
    /// API conversion also sets for `ReplacePrefixMatch`); `ApplyRedirect` prefers it to `uri`.
    pub prefix_rewrite: Option<String>,
}

/// `HTTPDirectResponse`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpDirectResponse {
    /// Status code.
    pub status: u32,
    /// Body.
    pub body: Option<HttpBody>,
}

/// `HTTPBody`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpBody {
    /// Text body.
    pub string: Option<String>,
    /// Base64 body.
    pub bytes: Option<String>,
}

/// `Delegate`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Delegate {
    /// Name of the delegate VirtualService.
    pub name: String,
    /// Its namespace (default: the root's).
    pub namespace: Option<String>,
}

/// `HTTPRewrite`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRewrite {
    /// Replaces the matched prefix (or the whole path for exact matches).
    pub uri: Option<String>,
    /// New authority.
    pub authority: Option<String>,
    /// Regex rewrite of the path.
    pub uri_regex_rewrite: Option<RegexRewrite>,
}

/// `RegexRewrite`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegexRewrite {
    /// RE2 pattern.
    #[serde(rename = "match")]
    pub pattern: String,
    /// Substitution (`\1` groups).
    pub rewrite: String,
}

/// `HTTPRetry`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRetry {
    /// Retries after the first try (0 disables retries).
    #[serde(default)]
    pub attempts: i32,
    /// Timeout of each try.
    pub per_try_timeout: Option<Duration>,
    /// Comma-separated Envoy retry conditions and status codes.
    pub retry_on: Option<String>,
    /// Retry in other localities.
    pub retry_remote_localities: Option<bool>,
    /// Whether retries avoid hosts already tried (Istio ≥ 1.26).
    pub retry_ignore_previous_hosts: Option<bool>,
    /// Base back-off interval (Istio ≥ 1.26).
    pub backoff: Option<Duration>,
}

/// `HTTPFaultInjection`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpFaultInjection {
    /// Delay before forwarding.
    pub delay: Option<FaultDelay>,
    /// Abort with a status.
    pub abort: Option<FaultAbort>,
}

/// `HTTPFaultInjection.Delay`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FaultDelay {
    /// Fixed delay.
    pub fixed_delay: Option<Duration>,
    /// Not supported by Istio.
    pub exponential_delay: Option<Duration>,
    /// Share of requests delayed (unset = none).
    pub percentage: Option<Percent>,
    /// Deprecated integer percentage.
    pub percent: Option<i32>,
}

/// `HTTPFaultInjection.Abort`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FaultAbort {
    /// HTTP status to answer with.
    pub http_status: Option<i32>,
    /// gRPC status name.
    pub grpc_status: Option<String>,
    /// HTTP/2 error (rejected by Istio).
    pub http2_error: Option<String>,
    /// Share of requests aborted (unset = none).
    pub percentage: Option<Percent>,
}

/// `HTTPMirrorPolicy` (an entry of `mirrors`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpMirrorPolicy {
    /// Where copies go.
    pub destination: Destination,
    /// Share mirrored (unset = 100%).
    pub percentage: Option<Percent>,
}

/// `CorsPolicy` (accepted and checked for typos, not simulated).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CorsPolicy {
    /// Allowed origins.
    #[serde(default)]
    pub allow_origins: Vec<StringMatch>,
    /// Deprecated allowed origins.
    #[serde(default)]
    pub allow_origin: Vec<String>,
    /// Allowed methods.
    #[serde(default)]
    pub allow_methods: Vec<String>,
    /// Allowed headers.
    #[serde(default)]
    pub allow_headers: Vec<String>,
    /// Exposed headers.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// Max age.
    pub max_age: Option<Duration>,
    /// Allow credentials.
    pub allow_credentials: Option<bool>,
    /// `FORWARD` or `IGNORE`.
    pub unmatched_preflights: Option<String>,
}

/// `Headers`: request and response manipulation.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Headers {
    /// On the request.
    pub request: Option<HeaderOperations>,
    /// On the response.
    pub response: Option<HeaderOperations>,
}

/// `Headers.HeaderOperations`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HeaderOperations {
    /// Overwrite.
    #[serde(default)]
    pub set: StringMap,
    /// Append.
    #[serde(default)]
    pub add: StringMap,
    /// Remove.
    #[serde(default)]
    pub remove: Vec<String>,
}
