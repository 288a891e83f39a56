//! Envoy's route retry policy (`RetryPolicy` in `route_components.proto`), as Istio fills it.

use crate::config::Duration;
use crate::trace::{RetrySettings, TryOutcome};

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

    /// The policy as trace data.
    pub fn to_trace(&self) -> RetrySettings {
        RetrySettings {
            num_retries: self.num_retries,
            retry_on: self.retry_on.clone(),
            retriable_status_codes: self.retriable_status_codes.clone(),
            per_try_timeout_ns: self.per_try_timeout.map(|d| d.nanos),
        }
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

/// What one upstream try produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamResult {
    /// A response with this status.
    Status(u16),
    /// The connection was refused or could not be made (`UF`).
    ConnectFailure,
    /// The connection was reset before a response (`UC`).
    Reset,
    /// The per-try timeout fired (`UT`); Envoy resets the try locally.
    PerTryTimeout,
}

impl From<UpstreamResult> for TryOutcome {
    fn from(r: UpstreamResult) -> Self {
        match r {
            UpstreamResult::Status(code) => TryOutcome::Status { code },
            UpstreamResult::ConnectFailure => TryOutcome::ConnectFailure,
            UpstreamResult::Reset => TryOutcome::Reset,
            UpstreamResult::PerTryTimeout => TryOutcome::PerTryTimeout,
        }
    }
}

impl From<TryOutcome> for UpstreamResult {
    fn from(o: TryOutcome) -> Self {
        match o {
            TryOutcome::Status { code } => UpstreamResult::Status(code),
            TryOutcome::ConnectFailure => UpstreamResult::ConnectFailure,
            TryOutcome::Reset => UpstreamResult::Reset,
            TryOutcome::PerTryTimeout => UpstreamResult::PerTryTimeout,
        }
    }
}

impl UpstreamResult {
    /// Short text for reports: `200`, `refused`, `reset`, `timeout`.
    pub fn label(&self) -> String {
        match self {
            UpstreamResult::Status(s) => s.to_string(),
            UpstreamResult::ConnectFailure => "refused".into(),
            UpstreamResult::Reset => "reset".into(),
            UpstreamResult::PerTryTimeout => "timeout".into(),
        }
    }

    /// The status the client would see if this were the last try, as Envoy answers it: the
    /// upstream's status, 503 for connection failures and resets, 504 for timeouts.
    pub fn client_status(&self) -> u16 {
        match self {
            UpstreamResult::Status(s) => *s,
            UpstreamResult::ConnectFailure | UpstreamResult::Reset => 503,
            UpstreamResult::PerTryTimeout => 504,
        }
    }
}

impl RetryPolicy {
    /// The `retry_on` condition under which Envoy retries this result, if any
    /// (`RetryStateImpl::wouldRetryFromHeaders` / `wouldRetryFromReset`; a per-try timeout is a
    /// local reset, so `connect-failure` and `refused-stream` do not retry it).
    pub fn retry_condition(&self, r: UpstreamResult) -> Option<&str> {
        let has = |c: &str| self.retry_on.iter().any(|x| x == c);
        let pick = |c: &'static str| has(c).then_some(c);
        match r {
            UpstreamResult::Status(s) => {
                if (500..=599).contains(&s) && has("5xx") {
                    return Some("5xx");
                }
                if matches!(s, 502..=504) && has("gateway-error") {
                    return Some("gateway-error");
                }
                if s == 409 && has("retriable-4xx") {
                    return Some("retriable-4xx");
                }
                if has("retriable-status-codes") && self.retriable_status_codes.contains(&s) {
                    return Some("retriable-status-codes");
                }
                None
            }
            UpstreamResult::ConnectFailure => pick("connect-failure")
                .or_else(|| pick("reset-before-request"))
                .or_else(|| pick("reset"))
                .or_else(|| pick("5xx"))
                .or_else(|| pick("gateway-error")),
            UpstreamResult::Reset | UpstreamResult::PerTryTimeout => pick("reset")
                .or_else(|| pick("5xx"))
                .or_else(|| pick("gateway-error")),
        }
    }
}

/// Envoy's `JitteredExponentialBackOffStrategy`: each call returns `random % interval` (ms),
/// then doubles the interval up to the maximum (10 × base by default: 25 ms → 250 ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    next_ms: u64,
    max_ms: u64,
}

impl Backoff {
    /// From the policy's base (default 25 ms); below 1 ms rounds up to 1 ms.
    pub fn new(base: Option<Duration>) -> Self {
        let base = base.map_or(25, |b| b.as_millis().max(1));
        Backoff {
            next_ms: base,
            max_ms: base * 10,
        }
    }

    /// The next wait, in milliseconds.
    pub fn next(&mut self, random: u64) -> u64 {
        let interval = self.next_ms;
        self.next_ms = if self.next_ms < self.max_ms / 2 {
            self.next_ms * 2
        } else {
            self.max_ms
        };
        (random % interval).min(self.max_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(on: &[&str], codes: &[u16]) -> RetryPolicy {
        RetryPolicy {
            num_retries: 2,
            retry_on: on.iter().map(|s| s.to_string()).collect(),
            retriable_status_codes: codes.to_vec(),
            per_try_timeout: None,
            previous_hosts: true,
            host_selection_retry_max_attempts: 5,
            backoff_base: None,
            retry_remote_localities: false,
        }
    }

    #[test]
    fn conditions_as_envoy_applies_them() {
        use UpstreamResult::*;
        let istio_default = policy(
            &[
                "connect-failure",
                "refused-stream",
                "unavailable",
                "cancelled",
                "retriable-status-codes",
            ],
            &[],
        );
        assert_eq!(
            istio_default.retry_condition(ConnectFailure),
            Some("connect-failure")
        );
        assert_eq!(
            istio_default.retry_condition(PerTryTimeout),
            None,
            "the tutorial's hidden lesson"
        );
        assert_eq!(istio_default.retry_condition(Reset), None);
        assert_eq!(
            istio_default.retry_condition(Status(503)),
            None,
            "1.24+: 503 no longer retried by default"
        );
        let old_default = policy(&["connect-failure", "retriable-status-codes"], &[503]);
        assert_eq!(
            old_default.retry_condition(Status(503)),
            Some("retriable-status-codes")
        );
        let later = policy(&["gateway-error", "reset", "5xx"], &[]);
        assert_eq!(later.retry_condition(PerTryTimeout), Some("reset"));
        assert_eq!(later.retry_condition(Status(500)), Some("5xx"));
        assert_eq!(later.retry_condition(Status(404)), None);
        let gw = policy(&["gateway-error"], &[]);
        assert_eq!(gw.retry_condition(Status(500)), None);
        assert_eq!(gw.retry_condition(Status(504)), Some("gateway-error"));
        assert_eq!(gw.retry_condition(PerTryTimeout), Some("gateway-error"));
        assert_eq!(
            policy(&["retriable-4xx"], &[]).retry_condition(Status(409)),
            Some("retriable-4xx")
        );
        assert_eq!(
            policy(&["refused-stream"], &[]).retry_condition(ConnectFailure),
            None
        );
    }

    #[test]
    fn backoff_intervals_double_to_the_cap() {
        let mut b = Backoff::new(None);
        // random = u64::MAX - 0 gives interval - 1 for each interval: 24, 49, 99, 199, 249, 249.
        let waits: Vec<u64> = (0..6).map(|_| b.next(u64::MAX)).collect();
        let expect: Vec<u64> = [25u64, 50, 100, 200, 250, 250]
            .iter()
            .map(|i| u64::MAX % i)
            .collect();
        assert_eq!(waits, expect);
        let mut b = Backoff::new(None);
        for i in [25u64, 50, 100, 200, 250, 250, 250] {
            assert!(b.next(123_456_789) < i);
        }
    }
}
