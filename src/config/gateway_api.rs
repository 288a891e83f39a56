//! `gateway.networking.k8s.io`: GatewayClass, Gateway, HTTPRoute, GRPCRoute and
//! ReferenceGrant (v1, v1beta1 and, where Istio still serves it, v1alpha2), as the CRDs
//! define them (`apis/v1/*_types.go` in kubernetes-sigs/gateway-api).
//!
//! Strict like the Istio kinds: a misspelt field is an error. Fields meshsim does not simulate
//! are accepted and kept only as "present", so that `simulate`, `explain` and `test` can say
//! they were ignored. The CRDs' defaults, which the API server would fill in before istiod
//! reads an object, are applied where the object is converted (`model::gateway_api`), not
//! here, so that what was written stays visible to validation.

use super::types::StringMap;
use serde::Deserialize;
use serde::de::IgnoredAny;

/// `spec` of a GatewayClass.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GatewayClassSpec {
    /// `istio.io/gateway-controller` for Istio's classes.
    pub controller_name: String,
    /// Implementation parameters (not simulated).
    pub parameters_ref: Option<IgnoredAny>,
    /// Free text.
    pub description: Option<String>,
}

/// `spec` of a Gateway (`gateway.networking.k8s.io`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeGatewaySpec {
    /// The GatewayClass (`istio` for Istio's ingress).
    pub gateway_class_name: String,
    /// Listeners.
    #[serde(default)]
    pub listeners: Vec<Listener>,
    /// Requested addresses (not simulated: meshsim's gateways answer on any address).
    pub addresses: Option<IgnoredAny>,
    /// Labels and annotations for the deployed resources.
    pub infrastructure: Option<IgnoredAny>,
    /// Backend TLS settings (not simulated).
    #[serde(rename = "backendTLS")]
    pub backend_tls: Option<IgnoredAny>,
    /// Listener sets allowed to attach (not simulated).
    pub allowed_listeners: Option<IgnoredAny>,
    /// Default scope (not simulated).
    pub default_scope: Option<IgnoredAny>,
}

/// A Gateway listener.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Listener {
    /// Name, unique in the Gateway (`sectionName` of parentRefs).
    pub name: String,
    /// Hostname (wildcard `*.example.com` allowed); none means any.
    pub hostname: Option<String>,
    /// Port.
    pub port: u32,
    /// `HTTP`, `HTTPS`, `TLS`, `TCP`, `UDP`.
    pub protocol: String,
    /// TLS settings (not simulated).
    pub tls: Option<IgnoredAny>,
    /// Which routes may attach.
    pub allowed_routes: Option<AllowedRoutes>,
}

/// `allowedRoutes`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AllowedRoutes {
    /// From which namespaces (default `Same`).
    pub namespaces: Option<RouteNamespaces>,
    /// Which kinds (default: those of the listener's protocol).
    pub kinds: Option<Vec<RouteGroupKind>>,
}

/// `allowedRoutes.namespaces`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RouteNamespaces {
    /// `All`, `Same` (default) or `Selector`.
    pub from: Option<String>,
    /// Namespace label selector for `Selector`.
    pub selector: Option<LabelSelector>,
}

/// A Kubernetes label selector.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LabelSelector {
    /// Labels that must be equal.
    #[serde(default)]
    pub match_labels: StringMap,
    /// Set-based requirements.
    #[serde(default)]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// `matchExpressions[]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    /// Label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`.
    pub operator: String,
    /// Values for `In` and `NotIn`.
    #[serde(default)]
    pub values: Vec<String>,
}

/// `{group, kind}`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RouteGroupKind {
    /// API group (default `gateway.networking.k8s.io`).
    pub group: Option<String>,
    /// Kind.
    pub kind: String,
}

/// `parentRefs[]`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ParentReference {
    /// Group (default `gateway.networking.k8s.io`; `""` for a Service).
    pub group: Option<String>,
    /// Kind (default `Gateway`).
    pub kind: Option<String>,
    /// Namespace (default: the route's).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Listener name.
    pub section_name: Option<String>,
    /// Listener (Gateway) or service (Service) port.
    pub port: Option<u32>,
}

/// `spec` of an HTTPRoute.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRouteSpec {
    /// Where it attaches.
    #[serde(default)]
    pub parent_refs: Vec<ParentReference>,
    /// Hostnames it serves (none: every hostname the listener allows).
    #[serde(default)]
    pub hostnames: Vec<String>,
    /// Rules (the CRD defaults a missing list to one rule matching `PathPrefix /`).
    pub rules: Option<Vec<HttpRouteRule>>,
}

/// One HTTPRoute rule.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRouteRule {
    /// Optional name (becomes the Envoy route name).
    pub name: Option<String>,
    /// Matches, ORed (none: `PathPrefix /`).
    #[serde(default)]
    pub matches: Vec<HttpRouteMatch>,
    /// Filters, in order.
    #[serde(default)]
    pub filters: Vec<HttpRouteFilter>,
    /// Backends.
    #[serde(default)]
    pub backend_refs: Vec<HttpBackendRef>,
    /// Request and backend timeouts.
    pub timeouts: Option<HttpRouteTimeouts>,
    /// Retries (Gateway API v1.2 `retry`).
    pub retry: Option<HttpRouteRetry>,
    /// Session persistence (not simulated).
    pub session_persistence: Option<IgnoredAny>,
}

/// One match: every condition must hold.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRouteMatch {
    /// Path (default `PathPrefix /`).
    pub path: Option<HttpPathMatch>,
    /// Headers.
    #[serde(default)]
    pub headers: Vec<HttpHeaderMatch>,
    /// Query parameters.
    #[serde(default)]
    pub query_params: Vec<HttpHeaderMatch>,
    /// Method.
    pub method: Option<String>,
}

/// `path`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpPathMatch {
    /// `Exact`, `PathPrefix` (default) or `RegularExpression`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Value (default `/`).
    pub value: Option<String>,
}

/// A header or query parameter match.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpHeaderMatch {
    /// `Exact` (default) or `RegularExpression`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// A filter: `type` and the field of that type.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRouteFilter {
    /// `RequestHeaderModifier`, `ResponseHeaderModifier`, `RequestMirror`,
    /// `RequestRedirect`, `URLRewrite`, `CORS`, `ExtensionRef`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Request header changes.
    pub request_header_modifier: Option<HttpHeaderFilter>,
    /// Response header changes.
    pub response_header_modifier: Option<HttpHeaderFilter>,
    /// A mirror.
    pub request_mirror: Option<HttpRequestMirror>,
    /// A redirect.
    pub request_redirect: Option<HttpRequestRedirect>,
    /// A rewrite.
    #[serde(rename = "urlRewrite")]
    pub url_rewrite: Option<HttpUrlRewrite>,
    /// CORS (not simulated: meshsim sends no preflights).
    pub cors: Option<IgnoredAny>,
    /// An implementation-specific filter (not simulated).
    pub extension_ref: Option<IgnoredAny>,
}

/// `requestHeaderModifier` / `responseHeaderModifier`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpHeaderFilter {
    /// Overwrite (or add).
    #[serde(default)]
    pub set: Vec<HttpHeader>,
    /// Append.
    #[serde(default)]
    pub add: Vec<HttpHeader>,
    /// Remove.
    #[serde(default)]
    pub remove: Vec<String>,
}

/// `{name, value}`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpHeader {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// `requestMirror`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRequestMirror {
    /// Where copies go.
    pub backend_ref: BackendObjectReference,
    /// Percent of requests mirrored.
    pub percent: Option<u32>,
    /// Fraction of requests mirrored.
    pub fraction: Option<Fraction>,
}

/// `{numerator, denominator}` (denominator default 100).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Fraction {
    /// Numerator.
    pub numerator: u32,
    /// Denominator (default 100).
    pub denominator: Option<u32>,
}

/// `requestRedirect`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRequestRedirect {
    /// `http` or `https`.
    pub scheme: Option<String>,
    /// New host.
    pub hostname: Option<String>,
    /// New path.
    pub path: Option<HttpPathModifier>,
    /// New port.
    pub port: Option<u32>,
    /// 301, 302 (default), 303, 307 or 308.
    pub status_code: Option<u16>,
}

/// `urlRewrite`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpUrlRewrite {
    /// New host.
    pub hostname: Option<String>,
    /// New path.
    pub path: Option<HttpPathModifier>,
}

/// `path` of a redirect or rewrite.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpPathModifier {
    /// `ReplaceFullPath` or `ReplacePrefixMatch`.
    #[serde(rename = "type")]
    pub kind: String,
    /// For `ReplaceFullPath`.
    pub replace_full_path: Option<String>,
    /// For `ReplacePrefixMatch`.
    pub replace_prefix_match: Option<String>,
}

/// A reference to a backend object.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BackendObjectReference {
    /// Group (default `""`, core).
    pub group: Option<String>,
    /// Kind (default `Service`).
    pub kind: Option<String>,
    /// Name.
    pub name: String,
    /// Namespace (default: the route's).
    pub namespace: Option<String>,
    /// Port (required for Services).
    pub port: Option<u32>,
}

/// `backendRefs[]` of an HTTPRoute rule.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpBackendRef {
    /// Group (default `""`).
    pub group: Option<String>,
    /// Kind (default `Service`).
    pub kind: Option<String>,
    /// Name.
    pub name: String,
    /// Namespace (default: the route's).
    pub namespace: Option<String>,
    /// Port.
    pub port: Option<u32>,
    /// Weight (default 1).
    pub weight: Option<u32>,
    /// Filters for this backend only.
    #[serde(default)]
    pub filters: Vec<HttpRouteFilter>,
}

/// `timeouts`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRouteTimeouts {
    /// The whole request (`10s`, `1m`; `0s` disables).
    pub request: Option<String>,
    /// Each try to a backend.
    pub backend_request: Option<String>,
}

/// `retry`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRouteRetry {
    /// Status codes that are retried.
    #[serde(default)]
    pub codes: Vec<u16>,
    /// Tries after the first.
    pub attempts: Option<u32>,
    /// Back-off between tries.
    pub backoff: Option<String>,
}

/// `spec` of a GRPCRoute.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GrpcRouteSpec {
    /// Where it attaches.
    #[serde(default)]
    pub parent_refs: Vec<ParentReference>,
    /// Hostnames.
    #[serde(default)]
    pub hostnames: Vec<String>,
    /// Rules.
    #[serde(default)]
    pub rules: Vec<GrpcRouteRule>,
}

/// One GRPCRoute rule.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GrpcRouteRule {
    /// Optional name.
    pub name: Option<String>,
    /// Matches, ORed.
    #[serde(default)]
    pub matches: Vec<GrpcRouteMatch>,
    /// Filters.
    #[serde(default)]
    pub filters: Vec<HttpRouteFilter>,
    /// Backends.
    #[serde(default)]
    pub backend_refs: Vec<HttpBackendRef>,
    /// Session persistence (not simulated).
    pub session_persistence: Option<IgnoredAny>,
}

/// A GRPCRoute match.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GrpcRouteMatch {
    /// Service and method.
    pub method: Option<GrpcMethodMatch>,
    /// Headers.
    #[serde(default)]
    pub headers: Vec<HttpHeaderMatch>,
}

/// `method` of a GRPCRoute match.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GrpcMethodMatch {
    /// `Exact` (default) or `RegularExpression`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Fully qualified service (`foo.bar.Baz`).
    pub service: Option<String>,
    /// Method.
    pub method: Option<String>,
}

/// `spec` of a ReferenceGrant.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReferenceGrantSpec {
    /// Who may refer.
    #[serde(default)]
    pub from: Vec<ReferenceGrantFrom>,
    /// To what, in the grant's namespace.
    #[serde(default)]
    pub to: Vec<ReferenceGrantTo>,
}

/// `from[]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReferenceGrantFrom {
    /// Group of the referring kind.
    pub group: String,
    /// Referring kind.
    pub kind: String,
    /// Its namespace.
    pub namespace: String,
}

/// `to[]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReferenceGrantTo {
    /// Group of the referred kind (`""` for Services).
    pub group: String,
    /// Referred kind.
    pub kind: String,
    /// Only this name (none: any).
    pub name: Option<String>,
}
