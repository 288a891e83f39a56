//! Resilience mechanisms in Envoy's terms: retry policies (and, with the resilience model,
//! back-off, timeouts, faults and outlier detection).

pub mod retry;
