//! Outlier detection (passive health checking) as Istio configures Envoy's: consecutive 5xx
//! and gateway errors eject a host for `baseEjectionTime × ejections`; a sweep every `interval`
//! brings hosts back; at most `maxEjectionPercent` of the hosts are out (but at least one may
//! be). With the local-origin split off (Istio's default), connection failures and resets count
//! as 503 and timeouts as 504.

use crate::config::{Duration, OutlierDetection};

/// Envoy's effective outlier-detection settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutlierConfig {
    /// Consecutive 5xx before ejection, if enforced.
    pub consecutive_5xx: Option<u32>,
    /// Consecutive 502/503/504 before ejection, if enforced.
    pub consecutive_gateway: Option<u32>,
    /// Sweep interval.
    pub interval: Duration,
    /// Base ejection time.
    pub base_ejection_time: Duration,
    /// Cap of the ejection time.
    pub max_ejection_time: Duration,
    /// Maximum share of hosts ejected, percent.
    pub max_ejection_percent: u32,
}

impl OutlierConfig {
    /// Istio's `applyOutlierDetection` over Envoy's defaults.
    pub fn from_istio(o: &OutlierDetection) -> Self {
        let enforced = |v: Option<i64>, default: Option<u32>| match v {
            Some(0) => None,
            Some(n) if n > 0 => Some(n as u32),
            _ => default,
        };
        OutlierConfig {
            consecutive_5xx: enforced(o.consecutive_5xx_errors, Some(5)),
            consecutive_gateway: enforced(o.consecutive_gateway_errors, None),
            interval: o.interval.unwrap_or(Duration::from_secs(10)),
            base_ejection_time: o.base_ejection_time.unwrap_or(Duration::from_secs(30)),
            max_ejection_time: Duration::from_secs(300),
            max_ejection_percent: o
                .max_ejection_percent
                .filter(|&p| p > 0)
                .map_or(10, |p| p.min(100) as u32),
        }
    }
}

/// One host's detector state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostOutlier {
    consecutive_5xx: u32,
    consecutive_gateway: u32,
    /// Ejected since this time (ns), if ejected.
    pub ejected_at: Option<u64>,
    /// How many times it was ejected.
    pub times_ejected: u32,
}

impl HostOutlier {
    /// Records a result (as an HTTP status); returns true if the host crossed a threshold.
    pub fn record(&mut self, status: u16, cfg: &OutlierConfig) -> bool {
        if (500..=599).contains(&status) {
            self.consecutive_5xx += 1;
        } else {
            self.consecutive_5xx = 0;
        }
        if matches!(status, 502..=504) {
            self.consecutive_gateway += 1;
        } else {
            self.consecutive_gateway = 0;
        }
        self.ejected_at.is_none()
            && (cfg
                .consecutive_5xx
                .is_some_and(|n| self.consecutive_5xx >= n)
                || cfg
                    .consecutive_gateway
                    .is_some_and(|n| self.consecutive_gateway >= n))
    }

    /// Ejects it at `now`.
    pub fn eject(&mut self, now: u64) {
        self.ejected_at = Some(now);
        self.times_ejected += 1;
        self.consecutive_5xx = 0;
        self.consecutive_gateway = 0;
    }

    /// When its ejection ends (ns): `baseEjectionTime × ejections`, capped at the maximum.
    pub fn back_at(&self, cfg: &OutlierConfig) -> Option<u64> {
        self.ejected_at.map(|at| {
            let cap = cfg
                .max_ejection_time
                .nanos
                .max(cfg.base_ejection_time.nanos);
            at + (cfg.base_ejection_time.nanos * self.times_ejected.max(1) as u64).min(cap)
        })
    }

    /// Whether a sweep at `now` brings it back.
    pub fn due_back(&self, now: u64, cfg: &OutlierConfig) -> bool {
        self.back_at(cfg).is_some_and(|t| now >= t)
    }
}

/// May one more host be ejected, with `ejected` of `total` out already?
pub fn may_eject(ejected: usize, total: usize, cfg: &OutlierConfig) -> bool {
    ejected == 0 || (100 * (ejected + 1)) as u64 <= cfg.max_ejection_percent as u64 * total as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ejection_and_return() {
        let cfg = OutlierConfig::from_istio(&OutlierDetection {
            consecutive_5xx_errors: Some(2),
            interval: Some(Duration::from_secs(1)),
            base_ejection_time: Some(Duration::from_secs(30)),
            ..Default::default()
        });
        let mut h = HostOutlier::default();
        assert!(!h.record(503, &cfg));
        assert!(!h.record(200, &cfg), "a success resets the count");
        assert!(!h.record(500, &cfg));
        assert!(h.record(503, &cfg));
        h.eject(0);
        assert!(!h.due_back(29_999_999_999, &cfg));
        assert!(h.due_back(30_000_000_000, &cfg));
        // Defaults: 5 consecutive 5xx, gateway errors not enforced, 10% but at least one host.
        let d = OutlierConfig::from_istio(&OutlierDetection::default());
        assert_eq!(d.consecutive_5xx, Some(5));
        assert_eq!(d.consecutive_gateway, None);
        assert!(may_eject(0, 3, &d));
        assert!(!may_eject(1, 3, &d));
        assert!(may_eject(1, 20, &d));
    }
}
