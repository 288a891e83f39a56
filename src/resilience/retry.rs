//! Envoy's route retry policy (`RetryPolicy` in `route_components.proto`), as Istio fills it.

use crate::config::Duration;

/// A route's retry policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first try.
    pub num_retries: u32,
    /// Envoy `retry_on` conditions, in order (`5xx`, `gateway-error`, `reset`, ...).
    pub retry_on: Vec<String>,
    /// Status codes for `retriable-status-codes`.
    pub retriable_status_codes: Vec<u16>,
    /// Timeout of each try (`None`: the route timeout bounds it).
    pub per_try_timeout: Option<Duration>,
    /// Whether retries avoid hosts already tried (`previous_hosts` predicate).
    pub previous_hosts: bool,
    /// Host re-selection attempts with the predicate.
    pub host_selection_retry_max_attempts: u32,
    /// Back-off base interval (`None`: Envoy's 25 ms).
    pub backoff_base: Option<Duration>,
    /// `previous_priorities` retry priority (retryRemoteLocalities).
    pub retry_remote_localities: bool,
}

impl RetryPolicy {
    /// `retry_on` as Envoy's comma-separated string.
    pub fn retry_on_string(&self) -> String {
        self.retry_on.join(",")
    }
}

/// The Envoy `retry_on` values Istio's validation accepts.
pub const RETRY_ON_VALUES: &[&str] = &[
    "5xx",
    "gateway-error",
    "reset",
    "reset-before-request",
    "connect-failure",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "retriable-headers",
    "envoy-ratelimited",
    "http3-post-connect-failure",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

/// Codes that Go's `http.StatusText` knows: Istio treats a `retryOn` token as a status code only
/// if it is one of these.
pub fn is_known_status(code: u32) -> bool {
    matches!(code,
        100..=103 | 200..=208 | 226 | 300..=305 | 307 | 308 | 400..=418 | 421..=426 | 428 | 429
        | 431 | 451 | 500..=508 | 510 | 511)
}
