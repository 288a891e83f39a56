//! `networking.istio.io` DestinationRule, as in istio/api `destination_rule.proto`.

use super::types::{Duration, PortSelector, StringMap};
use serde::Deserialize;
use serde::de::IgnoredAny;

/// `spec` of a DestinationRule.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DestinationRule {
    /// The service host.
    pub host: String,
    /// Policy for all subsets (unless a subset overrides it).
    pub traffic_policy: Option<TrafficPolicy>,
    /// Named groups of endpoints.
    #[serde(default)]
    pub subsets: Vec<Subset>,
    /// Namespaces this is visible to.
    #[serde(default)]
    pub export_to: Vec<String>,
    /// Workloads this applies to (sidecar scoping; accepted, not simulated).
    pub workload_selector: Option<WorkloadSelector>,
}

/// `WorkloadSelector`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadSelector {
    /// Labels to match.
    #[serde(default)]
    pub match_labels: StringMap,
}

/// `Subset`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Subset {
    /// Subset name, used in `destination.subset`.
    pub name: String,
    /// Endpoints whose labels contain all of these.
    #[serde(default)]
    pub labels: StringMap,
    /// Overrides of the top-level policy.
    pub traffic_policy: Option<TrafficPolicy>,
}

/// `TrafficPolicy`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TrafficPolicy {
    /// Load balancing.
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Connection pool (circuit breaker) limits.
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Outlier detection (passive health checking).
    pub outlier_detection: Option<OutlierDetection>,
    /// Client TLS: exported as istiod does, not simulated.
    pub tls: Option<ClientTlsSettings>,
    /// Per-port overrides.
    #[serde(default)]
    pub port_level_settings: Vec<PortTrafficPolicy>,
    /// Tunnel settings (accepted, not simulated).
    pub tunnel: Option<IgnoredAny>,
    /// PROXY protocol (accepted, not simulated).
    pub proxy_protocol: Option<IgnoredAny>,
    /// Retry budget (accepted, not simulated yet).
    pub retry_budget: Option<IgnoredAny>,
}

/// `TrafficPolicy.PortTrafficPolicy`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PortTrafficPolicy {
    /// The port this applies to.
    pub port: Option<PortSelector>,
    /// Load balancing.
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Connection pool.
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Outlier detection.
    pub outlier_detection: Option<OutlierDetection>,
    /// Client TLS: exported as istiod does, not simulated.
    pub tls: Option<ClientTlsSettings>,
}

/// `ClientTLSSettings`: how a sidecar originates TLS to a destination.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientTlsSettings {
    /// `DISABLE`, `SIMPLE`, `MUTUAL` or `ISTIO_MUTUAL`.
    pub mode: Option<String>,
    /// Client certificate file (MUTUAL).
    pub client_certificate: Option<String>,
    /// Client key file (MUTUAL).
    pub private_key: Option<String>,
    /// CA bundle file.
    pub ca_certificates: Option<String>,
    /// A Secret holding the certificates (gateways, or sidecars with a workloadSelector).
    pub credential_name: Option<String>,
    /// Names the server certificate must carry.
    #[serde(default)]
    pub subject_alt_names: Vec<String>,
    /// SNI to send.
    pub sni: Option<String>,
    /// Skip verifying the server certificate.
    pub insecure_skip_verify: Option<bool>,
    /// Certificate revocation list file.
    pub ca_crl: Option<String>,
}

/// `LoadBalancerSettings`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoadBalancerSettings {
    /// A simple algorithm.
    pub simple: Option<SimpleLb>,
    /// Consistent hashing.
    pub consistent_hash: Option<ConsistentHashLb>,
    /// Locality settings (accepted; meshsim is locality-independent).
    pub locality_lb_setting: Option<IgnoredAny>,
    /// Slow start window.
    pub warmup_duration_secs: Option<Duration>,
    /// Slow start (newer form).
    pub warmup: Option<IgnoredAny>,
    /// Zone-aware load balancing (Istio 1.31; accepted, not simulated).
    pub zone_aware_lb_setting: Option<IgnoredAny>,
}

/// `LoadBalancerSettings.SimpleLB`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SimpleLb {
    /// Istio's default for the version.
    Unspecified,
    /// Deprecated; Istio maps it to LEAST_REQUEST.
    LeastConn,
    /// Envoy RANDOM.
    Random,
    /// Original destination.
    Passthrough,
    /// Envoy ROUND_ROBIN.
    RoundRobin,
    /// Envoy LEAST_REQUEST.
    LeastRequest,
}

/// `LoadBalancerSettings.ConsistentHashLB`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConsistentHashLb {
    /// Hash on a header.
    pub http_header_name: Option<String>,
    /// Hash on a cookie.
    pub http_cookie: Option<HttpCookie>,
    /// Hash on the source IP.
    pub use_source_ip: Option<bool>,
    /// Hash on a query parameter.
    pub http_query_parameter_name: Option<String>,
    /// Ring hash settings.
    pub ring_hash: Option<RingHash>,
    /// Maglev settings.
    pub maglev: Option<Maglev>,
    /// Deprecated ring size.
    pub minimum_ring_size: Option<u64>,
}

/// `ConsistentHashLB.HTTPCookie`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpCookie {
    /// Cookie name.
    pub name: String,
    /// Cookie path.
    pub path: Option<String>,
    /// Lifetime of a generated cookie.
    pub ttl: Option<Duration>,
    /// Extra attributes of a generated cookie.
    #[serde(default)]
    pub attributes: Vec<CookieAttribute>,
}

/// `ConsistentHashLB.HTTPCookie.Attribute`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CookieAttribute {
    /// Name.
    pub name: String,
    /// Value.
    pub value: Option<String>,
}

/// `ConsistentHashLB.RingHash`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RingHash {
    /// Minimum ring size (Envoy default 1024).
    pub minimum_ring_size: Option<u64>,
}

/// `ConsistentHashLB.MagLev`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Maglev {
    /// Table size, a prime (Envoy default 65537).
    pub table_size: Option<u64>,
}

/// `ConnectionPoolSettings`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConnectionPoolSettings {
    /// TCP limits.
    pub tcp: Option<TcpSettings>,
    /// HTTP limits.
    pub http: Option<HttpSettings>,
}

/// `ConnectionPoolSettings.TCPSettings`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TcpSettings {
    /// Maximum connections.
    pub max_connections: Option<i64>,
    /// Connect timeout.
    pub connect_timeout: Option<Duration>,
    /// Keepalive (accepted, not simulated).
    pub tcp_keepalive: Option<IgnoredAny>,
    /// Maximum connection duration.
    pub max_connection_duration: Option<Duration>,
    /// Idle timeout.
    pub idle_timeout: Option<Duration>,
}

/// `ConnectionPoolSettings.HTTPSettings`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpSettings {
    /// Maximum pending requests.
    pub http1_max_pending_requests: Option<i64>,
    /// Maximum active requests.
    pub http2_max_requests: Option<i64>,
    /// Requests per connection.
    pub max_requests_per_connection: Option<i64>,
    /// Maximum concurrent retries.
    pub max_retries: Option<i64>,
    /// Idle timeout.
    pub idle_timeout: Option<Duration>,
    /// `DEFAULT`, `DO_NOT_UPGRADE` or `UPGRADE`.
    pub h2_upgrade_policy: Option<String>,
    /// Use the client's protocol.
    pub use_client_protocol: Option<bool>,
    /// Maximum concurrent streams.
    pub max_concurrent_streams: Option<i64>,
    /// HTTP/2 PING keepalives to upstreams (Istio 1.31; accepted, not simulated).
    pub http2_keep_alive: Option<IgnoredAny>,
}

/// `OutlierDetection`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OutlierDetection {
    /// Deprecated.
    pub consecutive_errors: Option<i64>,
    /// Split local-origin errors.
    pub split_external_local_origin_errors: Option<bool>,
    /// Local-origin failures before ejection.
    pub consecutive_local_origin_failures: Option<i64>,
    /// 502/503/504 before ejection.
    pub consecutive_gateway_errors: Option<i64>,
    /// 5xx before ejection.
    #[serde(rename = "consecutive5xxErrors")]
    pub consecutive_5xx_errors: Option<i64>,
    /// Sweep interval.
    pub interval: Option<Duration>,
    /// Base ejection time.
    pub base_ejection_time: Option<Duration>,
    /// Maximum share of hosts ejected.
    pub max_ejection_percent: Option<i64>,
    /// Panic threshold.
    pub min_health_percent: Option<i64>,
}
