//! Resilience mechanisms in Envoy's terms: endpoint behaviour, retry policies and back-off,
//! fault injection, outlier detection and connection-pool limits. Pure data and rules; the
//! simulated clock and the event loop are in `sim`.

pub mod endpoint;
pub mod fault;
pub mod outlier;
pub mod pool;
pub mod retry;
