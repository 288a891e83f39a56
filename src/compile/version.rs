//! The Istio version profile: behaviours that changed between releases and that users trip on.

use crate::lb::LbPolicy;
use std::fmt;
use std::str::FromStr;

/// An Istio `1.x` release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IstioVersion {
    /// The minor version (`4` for 1.4).
    pub minor: u32,
}

impl IstioVersion {
    /// The newest release meshsim models (the default).
    pub const NEWEST: IstioVersion = IstioVersion { minor: 31 };
    /// The release of the tutorial meshsim grew from.
    pub const TUTORIAL: IstioVersion = IstioVersion { minor: 4 };

    /// Load balancer when a DestinationRule sets none: ROUND_ROBIN before 1.14, LEAST_REQUEST
    /// since (istio commit e048ab8).
    pub fn default_lb(self) -> LbPolicy {
        if self.minor < 14 {
            LbPolicy::RoundRobin
        } else {
            LbPolicy::LeastRequest
        }
    }

    /// Whether mirrored requests get `-shadow` appended to their authority: yes up to 1.27; 1.28
    /// sets `disable_shadow_host_suffix_append` by default.
    pub fn shadow_suffix(self) -> bool {
        self.minor <= 27
    }

    /// Whether the Envoy of this release has 1.28's outlier detection: `max_ejection_percent`
    /// respected from the first ejection and an ejection backoff that decays while a host is
    /// healthy. Istio 1.20 is the first release on Envoy 1.28.
    pub fn envoy_128_outlier_detection(self) -> bool {
        self.minor >= 20
    }

    /// Whether istiod drops a redirect's `:80` under http and `:443` under https (`ApplyRedirect`
    /// since 1.18: "Do not put explicit :80 or :443 when its http/https").
    pub fn redirect_drops_default_port(self) -> bool {
        self.minor >= 18
    }

    /// Whether weights had to sum to 100 (validation before 1.15).
    pub fn weights_sum_to_100(self) -> bool {
        self.minor < 15
    }
}

impl Default for IstioVersion {
    fn default() -> Self {
        Self::NEWEST
    }
}

impl fmt::Display for IstioVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1.{}", self.minor)
    }
}

impl FromStr for IstioVersion {
    type Err = String;
    /// `1.4`, `1.28`, `1.28.1` (the patch is ignored).
    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.trim().trim_start_matches('v').split('.');
        let major = parts.next().and_then(|p| p.parse::<u32>().ok());
        let minor = parts.next().and_then(|p| p.parse::<u32>().ok());
        match (major, minor) {
            (Some(1), Some(minor)) if minor <= Self::NEWEST.minor => Ok(IstioVersion { minor }),
            (Some(1), Some(minor)) => Err(format!(
                "Istio 1.{minor} is newer than the newest version meshsim models ({})",
                Self::NEWEST
            )),
            _ => Err(format!("`{s}` is not an Istio version such as 1.4 or 1.28")),
        }
    }
}
