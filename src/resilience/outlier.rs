//! Outlier detection (passive health checking) as Istio configures Envoy's: consecutive 5xx
//! and gateway errors eject a host for `baseEjectionTime × backoff`; a sweep every `interval`
//! brings hosts back; `maxEjectionPercent` caps how many hosts may be out. With the local-origin
//! split off (Istio's default), connection failures and resets count as 503 and timeouts as 504.
//!
//! Envoy's detector is `source/common/upstream/outlier_detection_impl.cc` (`DetectorImpl::
//! ejectHost`, `checkHostForUneject`, `onIntervalTimer`, `DetectorHostMonitorImpl::
//! putHttpResponseCode`); the two rules that changed in Envoy 1.28 are [`EjectionCap`] and
//! [`Backoff`].

use crate::config::{Duration, OutlierDetection};

/// How `max_ejection_percent` caps ejections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EjectionCap {
    /// Envoy ≥ 1.28: a host is ejected only if `100 × (ejected + 1) / hosts ≤
    /// max_ejection_percent`, so with the default 10% no host of a cluster of fewer than ten is
    /// ever ejected (`ejections_overflow` counts the refusals). Introduced in 1.28 behind
    /// `envoy.reloadable_features.check_mep_on_first_eject` (on by default; changelog 1.28.0,
    /// "Outlier detection will always respect max_ejection_percent now"), legacy path removed in
    /// 1.31.0. `always_eject_one_host` would restore a first ejection; istiod never sets it.
    Respected,
    /// Envoy < 1.28: `100 × ejected / hosts < max_ejection_percent`, counted before this
    /// ejection, so the first host is always ejected and the cap can be overshot by one.
    CheckedBefore,
}

/// How long ejections last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backoff {
    /// Envoy ≥ 1.28: `min(base × backoff, max_ejection_time)`, where the backoff grows by one
    /// per ejection and shrinks by one at every sweep once the host has been back for a whole
    /// `interval` (changelog 1.28.0: "A node must stay in healthy state for at least one period
    /// of check interval before ejection time multiplier is decremented").
    Decaying,
    /// Older Envoys, as meshsim modelled them before: `base × times ejected`, capped, never
    /// decaying.
    TimesEjected,
}

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
    /// How the percentage caps ejections (by Envoy version).
    pub cap: EjectionCap,
    /// How long ejections last (by Envoy version).
    pub backoff: Backoff,
}

impl OutlierConfig {
    /// Istio's `applyOutlierDetection` over Envoy's defaults, with the rules of the Envoy that
    /// the Istio release ships (`envoy_128` for Istio ≥ 1.20).
    pub fn from_istio(o: &OutlierDetection, envoy_128: bool) -> Self {
        let enforced = |v: Option<i64>, default: Option<u32>| match v {
            Some(0) => None,
            Some(n) if n > 0 => Some(n.min(u32::MAX as i64) as u32),
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
            cap: if envoy_128 {
                EjectionCap::Respected
            } else {
                EjectionCap::CheckedBefore
            },
            backoff: if envoy_128 {
                Backoff::Decaying
            } else {
                Backoff::TimesEjected
            },
        }
    }

    /// The ejection-time cap Envoy applies (`max_ejection_time`, never below the base).
    fn cap_nanos(&self) -> u64 {
        self.max_ejection_time
            .nanos
            .max(self.base_ejection_time.nanos)
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
    /// Envoy's `eject_time_backoff`, as of `unejected_at`.
    backoff: u32,
    /// When it last came back (ns).
    unejected_at: Option<u64>,
}

impl HostOutlier {
    /// Records a result (as an HTTP status); returns true if the host is in service and at a
    /// threshold. Envoy's monitor reports at `++consecutive == threshold`; since the counter is
    /// reset after every ejection attempt (`eject`, `refused`), `>=` reports the same results.
    pub fn record(&mut self, status: u16, cfg: &OutlierConfig) -> bool {
        if (500..=599).contains(&status) {
            self.consecutive_5xx = self.consecutive_5xx.saturating_add(1);
        } else {
            self.consecutive_5xx = 0;
        }
        if matches!(status, 502..=504) {
            self.consecutive_gateway = self.consecutive_gateway.saturating_add(1);
        } else {
            self.consecutive_gateway = 0;
        }
        self.ejected_at.is_none() && (self.reached_5xx(cfg) || self.reached_gateway(cfg))
    }

    fn reached_5xx(&self, cfg: &OutlierConfig) -> bool {
        cfg.consecutive_5xx
            .is_some_and(|n| self.consecutive_5xx >= n)
    }

    fn reached_gateway(&self, cfg: &OutlierConfig) -> bool {
        cfg.consecutive_gateway
            .is_some_and(|n| self.consecutive_gateway >= n)
    }

    /// After an ejection attempt that the cap refused: Envoy resets the counter that fired
    /// (`onConsecutiveErrorWorker`), so the next attempt comes after another full run of errors.
    pub fn refused(&mut self, cfg: &OutlierConfig) {
        if self.reached_5xx(cfg) {
            self.consecutive_5xx = 0;
        }
        if self.reached_gateway(cfg) {
            self.consecutive_gateway = 0;
        }
    }

    /// Ejects it at `now`.
    pub fn eject(&mut self, now: u64, cfg: &OutlierConfig) {
        if cfg.backoff == Backoff::Decaying {
            self.backoff = self.backoff_at(now, cfg);
            // `ejectHost`: the multiplier grows while `backoff × base < max + base`.
            let base = cfg.base_ejection_time.nanos.max(1);
            if u64::from(self.backoff).saturating_mul(base) < cfg.cap_nanos().saturating_add(base) {
                self.backoff += 1;
            }
        }
        self.ejected_at = Some(now);
        self.times_ejected += 1;
        self.consecutive_5xx = 0;
        self.consecutive_gateway = 0;
    }

    /// Brings it back at `now` (a sweep).
    pub fn uneject(&mut self, now: u64) {
        self.ejected_at = None;
        self.unejected_at = Some(now);
        self.consecutive_5xx = 0;
        self.consecutive_gateway = 0;
    }

    /// The backoff multiplier at `now` for a host that is in service: `onIntervalTimer`
    /// decrements it at every sweep (multiples of `interval`) at least one interval after the
    /// host came back.
    fn backoff_at(&self, now: u64, cfg: &OutlierConfig) -> u32 {
        let Some(back) = self.unejected_at else {
            return self.backoff;
        };
        let iv = cfg.interval.nanos.max(1);
        let first = (back + iv).div_ceil(iv) * iv;
        let sweeps = if now < first {
            0
        } else {
            (now - first) / iv + 1
        };
        self.backoff
            .saturating_sub(sweeps.min(u64::from(u32::MAX)) as u32)
    }

    /// When its ejection ends (ns).
    pub fn back_at(&self, cfg: &OutlierConfig) -> Option<u64> {
        self.ejected_at.map(|at| {
            let multiplier = match cfg.backoff {
                Backoff::Decaying => self.backoff,
                Backoff::TimesEjected => self.times_ejected.max(1),
            };
            at + (cfg
                .base_ejection_time
                .nanos
                .saturating_mul(u64::from(multiplier)))
            .min(cfg.cap_nanos())
        })
    }

    /// Whether a sweep at `now` brings it back.
    pub fn due_back(&self, now: u64, cfg: &OutlierConfig) -> bool {
        self.back_at(cfg).is_some_and(|t| now >= t)
    }
}

/// May one more host be ejected, with `ejected` of `total` out already?
pub fn may_eject(ejected: usize, total: usize, cfg: &OutlierConfig) -> bool {
    let max = u64::from(cfg.max_ejection_percent.min(100)) * total as u64;
    match cfg.cap {
        EjectionCap::Respected => 100 * (ejected as u64 + 1) <= max,
        EjectionCap::CheckedBefore => 100 * (ejected as u64) < max,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn cfg(o: OutlierDetection, envoy_128: bool) -> OutlierConfig {
        OutlierConfig::from_istio(&o, envoy_128)
    }

    #[test]
    fn ejection_and_return() {
        let cfg = cfg(
            OutlierDetection {
                consecutive_5xx_errors: Some(2),
                interval: Some(Duration::from_secs(1)),
                base_ejection_time: Some(Duration::from_secs(30)),
                ..Default::default()
            },
            true,
        );
        let mut h = HostOutlier::default();
        assert!(!h.record(503, &cfg));
        assert!(!h.record(200, &cfg), "a success resets the count");
        assert!(!h.record(500, &cfg));
        assert!(h.record(503, &cfg));
        h.eject(0, &cfg);
        assert!(!h.due_back(30 * S - 1, &cfg));
        assert!(h.due_back(30 * S, &cfg));
        // Istio's defaults over Envoy's: 5 consecutive 5xx, gateway errors not enforced, 10%.
        let d = OutlierConfig::from_istio(&OutlierDetection::default(), true);
        assert_eq!(d.consecutive_5xx, Some(5));
        assert_eq!(d.consecutive_gateway, None);
        assert_eq!(d.max_ejection_percent, 10);
    }

    // DetectorImpl::ejectHost (Envoy 1.40): `100 × (ejections_active + 1) / hosts ≤ max`.
    #[test]
    fn envoy_128_respects_max_ejection_percent_from_the_first_host() {
        let d = cfg(OutlierDetection::default(), true);
        assert!(
            !may_eject(0, 3, &d),
            "1 of 3 is 33% > 10%: ejections_overflow"
        );
        assert!(!may_eject(0, 9, &d), "1 of 9 is 11.1% > 10%");
        assert!(may_eject(0, 10, &d), "1 of 10 is exactly 10%");
        assert!(!may_eject(1, 10, &d));
        assert!(may_eject(1, 20, &d));
        let half = cfg(
            OutlierDetection {
                max_ejection_percent: Some(50),
                ..Default::default()
            },
            true,
        );
        assert!(may_eject(0, 3, &half), "33% ≤ 50%");
        assert!(!may_eject(1, 3, &half), "67% > 50%");
        assert!(may_eject(1, 4, &half), "50% ≤ 50%");
        let all = cfg(
            OutlierDetection {
                max_ejection_percent: Some(100),
                ..Default::default()
            },
            true,
        );
        assert!(may_eject(2, 3, &all));
        assert!(!may_eject(3, 3, &all));
    }

    // Envoy < 1.28: `100 × ejections_active / hosts < max`, before this ejection.
    #[test]
    fn older_envoys_always_eject_the_first_host_and_may_overshoot() {
        let d = cfg(OutlierDetection::default(), false);
        assert!(may_eject(0, 3, &d));
        assert!(!may_eject(1, 3, &d));
        assert!(may_eject(1, 20, &d), "5% < 10%, then 10%");
        assert!(!may_eject(2, 20, &d));
        let half = cfg(
            OutlierDetection {
                max_ejection_percent: Some(50),
                ..Default::default()
            },
            false,
        );
        assert!(
            may_eject(1, 3, &half),
            "33% < 50%: a second host goes, 67% out"
        );
    }

    #[test]
    fn a_refused_ejection_restarts_the_count() {
        let c = cfg(
            OutlierDetection {
                consecutive_5xx_errors: Some(3),
                ..Default::default()
            },
            true,
        );
        let mut h = HostOutlier::default();
        assert!(!h.record(503, &c) && !h.record(503, &c));
        assert!(h.record(503, &c));
        h.refused(&c);
        assert!(
            !h.record(503, &c) && !h.record(503, &c),
            "counting again from zero"
        );
        assert!(h.record(503, &c));
    }

    // `eject_time_backoff`: +1 per ejection (bounded), −1 per sweep after a whole healthy
    // interval; the ejection lasts min(base × backoff, max_ejection_time).
    #[test]
    fn the_backoff_grows_with_ejections_and_decays_while_healthy() {
        let c = cfg(
            OutlierDetection {
                interval: Some(Duration::from_secs(10)),
                base_ejection_time: Some(Duration::from_secs(30)),
                ..Default::default()
            },
            true,
        );
        let mut h = HostOutlier::default();
        h.eject(5 * S, &c);
        assert_eq!(h.back_at(&c), Some(35 * S));
        h.uneject(40 * S);
        // Failing again before a whole interval has passed: no decay, twice the base.
        h.eject(45 * S, &c);
        assert_eq!(h.back_at(&c), Some(105 * S));
        h.uneject(110 * S);
        // Back at 110 s: the sweeps at 120 s and 130 s each take one off (2 → 0), then +1.
        h.eject(131 * S, &c);
        assert_eq!(h.back_at(&c), Some(161 * S));
        // Many ejections in a row reach the 300 s cap and stay there.
        // (Each time failing again 2 s after its return, before a sweep could decay it.)
        let mut h = HostOutlier::default();
        let mut t = 0;
        for _ in 0..20 {
            h.eject(t, &c);
            t = h.back_at(&c).unwrap();
            h.uneject(t);
            t += 2 * S;
        }
        h.eject(t, &c);
        assert_eq!(h.back_at(&c), Some(t + 300 * S));
        // The older rule multiplies by the number of ejections and never forgets.
        let old = cfg(OutlierDetection::default(), false);
        let mut h = HostOutlier::default();
        h.eject(0, &old);
        h.uneject(30 * S);
        h.eject(10_000 * S, &old);
        assert_eq!(h.back_at(&old), Some(10_060 * S));
    }
}
