//! Connection-pool limits (Envoy's circuit breakers) as Istio sets them: every limit is 2^32−1
//! unless the DestinationRule's `connectionPool` gives a positive value.

use crate::config::ConnectionPoolSettings;

/// Limits of one cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolLimits {
    /// `tcp.maxConnections`: requests served at once over HTTP/1.1 connections.
    pub max_connections: u32,
    /// `http.http1MaxPendingRequests`: requests waiting for a connection.
    pub max_pending: u32,
    /// `http.http2MaxRequests`: requests active at once.
    pub max_requests: u32,
    /// `http.maxRetries`: retries in progress at once.
    pub max_retries: u32,
}

impl Default for PoolLimits {
    fn default() -> Self {
        PoolLimits {
            max_connections: u32::MAX,
            max_pending: u32::MAX,
            max_requests: u32::MAX,
            max_retries: u32::MAX,
        }
    }
}

impl PoolLimits {
    /// From a DestinationRule's `connectionPool` (values ≤ 0 leave Istio's default).
    pub fn from_istio(c: Option<&ConnectionPoolSettings>) -> Self {
        let mut l = PoolLimits::default();
        let Some(c) = c else {
            return l;
        };
        let pos = |v: Option<i64>| v.filter(|&x| x > 0).map(|x| x.min(u32::MAX as i64) as u32);
        if let Some(t) = &c.tcp
            && let Some(v) = pos(t.max_connections)
        {
            l.max_connections = v;
        }
        if let Some(h) = &c.http {
            if let Some(v) = pos(h.http1_max_pending_requests) {
                l.max_pending = v;
            }
            if let Some(v) = pos(h.http2_max_requests) {
                l.max_requests = v;
            }
            if let Some(v) = pos(h.max_retries) {
                l.max_retries = v;
            }
        }
        l
    }
}
