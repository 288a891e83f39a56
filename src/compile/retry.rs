//! istiod's `retry.ConvertPolicy`: the VirtualService's `retries` (or their absence) into an
//! Envoy retry policy, with the defaults of the chosen Istio version.

use super::version::IstioVersion;
use crate::config::HttpRetry;
use crate::resilience::retry::{RetryPolicy, is_known_status};

/// Istio's default policy: 2 retries on connect-failure, refused-stream, unavailable, cancelled
/// and retriable-status-codes (503 up to 1.23, none since 1.24), previous_hosts with 5
/// host-selection attempts — except on consistent-hash routes since 1.23.
pub fn default_policy(version: IstioVersion, consistent_hash: bool) -> RetryPolicy {
    RetryPolicy {
        num_retries: 2,
        retry_on: [
            "connect-failure",
            "refused-stream",
            "unavailable",
            "cancelled",
            "retriable-status-codes",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        retriable_status_codes: if version.minor <= 23 {
            vec![503]
        } else {
            vec![]
        },
        per_try_timeout: None,
        previous_hosts: !(consistent_hash && version.minor >= 23),
        host_selection_retry_max_attempts: 5,
        backoff_base: None,
        retry_remote_localities: false,
    }
}

/// `ConvertPolicy(in, hashPolicy)`: `None` when `attempts` ≤ 0 disables retries.
pub fn convert(
    retries: Option<&HttpRetry>,
    consistent_hash: bool,
    version: IstioVersion,
) -> Option<RetryPolicy> {
    let mut out = default_policy(version, consistent_hash);
    let Some(r) = retries else {
        return Some(out);
    };
    if r.attempts <= 0 {
        return None;
    }
    out.num_retries = r.attempts as u32;
    if let Some(on) = r.retry_on.as_deref().filter(|s| !s.is_empty()) {
        let mut conds = Vec::new();
        let mut codes = Vec::new();
        for part in on.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.parse::<u32>() {
                Ok(c) if is_known_status(c) => codes.push(c as u16),
                _ => conds.push(part.to_string()),
            }
        }
        if !codes.is_empty() && !conds.iter().any(|c| c.contains("retriable-status-codes")) {
            conds.push("retriable-status-codes".into());
        }
        out.retry_on = conds;
        out.retriable_status_codes = codes;
    }
    if let Some(t) = r.per_try_timeout {
        out.per_try_timeout = Some(t);
    }
    if version.minor >= 26 {
        if let Some(p) = r.retry_ignore_previous_hosts {
            out.previous_hosts = p;
        }
        out.backoff_base = r.backoff;
    }
    out.retry_remote_localities = r.retry_remote_localities == Some(true);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(minor: u32) -> IstioVersion {
        IstioVersion { minor }
    }

    #[test]
    fn defaults_by_version() {
        let old = convert(None, false, v(4)).unwrap();
        assert_eq!(old.num_retries, 2);
        assert_eq!(old.retriable_status_codes, [503]);
        assert!(old.previous_hosts);
        let new = convert(None, true, v(31)).unwrap();
        assert!(new.retriable_status_codes.is_empty());
        assert!(
            !new.previous_hosts,
            "consistent-hash routes keep affinity since 1.23"
        );
        assert!(convert(None, true, v(22)).unwrap().previous_hosts);
    }

    #[test]
    fn explicit_policies() {
        let r = |on: &str, attempts| HttpRetry {
            attempts,
            retry_on: Some(on.into()),
            ..Default::default()
        };
        let p = convert(Some(&r("gateway-error, 503 ,reset,999", 3)), false, v(31)).unwrap();
        assert_eq!(p.num_retries, 3);
        assert_eq!(
            p.retry_on,
            ["gateway-error", "reset", "999", "retriable-status-codes"]
        );
        assert_eq!(p.retriable_status_codes, [503]);
        assert!(convert(Some(&r("5xx", 0)), false, v(31)).is_none());
        // The tutorial's policy: no retryOn keeps the default conditions.
        let tutorial = HttpRetry {
            attempts: 15,
            per_try_timeout: Some(crate::config::Duration::from_secs(1)),
            ..Default::default()
        };
        let p = convert(Some(&tutorial), false, v(4)).unwrap();
        assert_eq!(
            p.retry_on_string(),
            "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
        );
        assert_eq!(p.retriable_status_codes, [503]);
    }
}
