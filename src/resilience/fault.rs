//! Fault injection (`envoy.filters.http.fault`), applied before the router: a delay, then an
//! abort, each drawn separately. An unset percentage means no request (istio/api corrected its
//! documentation in 2022); the deprecated integer `percent` is used when `percentage` is unset.

use crate::config::{Duration, HttpFaultInjection};

/// A fraction of requests, out of a million.
pub type PerMillion = u64;

/// Envoy's fault settings for a route.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fault {
    /// Fixed delay and the share of requests delayed.
    pub delay: Option<(Duration, PerMillion)>,
    /// Status and the share of requests aborted.
    pub abort: Option<(u16, PerMillion)>,
}

impl Fault {
    /// From Istio's `HTTPFaultInjection`.
    pub fn from_istio(f: &HttpFaultInjection) -> Self {
        let per_million =
            |pct: Option<f64>| (pct.unwrap_or(0.0).clamp(0.0, 100.0) * 10_000.0).round() as u64;
        Fault {
            delay: f.delay.as_ref().and_then(|d| {
                let pct = d
                    .percentage
                    .map(|p| p.value)
                    .or(d.percent.map(|p| p as f64));
                d.fixed_delay.map(|fd| (fd, per_million(pct)))
            }),
            abort: f.abort.as_ref().and_then(|a| {
                a.http_status
                    .filter(|s| (200..=600).contains(s))
                    .map(|s| (s as u16, per_million(a.percentage.map(|p| p.value))))
            }),
        }
    }
}
