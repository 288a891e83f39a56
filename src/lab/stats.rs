//! Load statistics over endpoints, computed as Envoy's benchmarks compute them
//! (`computeHitStats`: population standard deviation over the endpoints).

use serde::Serialize;

/// Keys per endpoint, summarised.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoadStats {
    /// Keys placed.
    pub keys: u64,
    /// Endpoints.
    pub endpoints: usize,
    /// Fewest keys on one endpoint.
    pub min: u64,
    /// Mean keys per endpoint (Envoy's `mean_hits`).
    pub mean: f64,
    /// Most keys on one endpoint.
    pub max: u64,
    /// `max / mean`: the over-provisioning the hottest endpoint needs.
    pub max_over_mean: f64,
    /// Population standard deviation (Envoy's `stddev_hits`).
    pub stddev: f64,
    /// Coefficient of variation, `stddev / mean` (Envoy's `relative_stddev_hits`).
    pub cv: f64,
    /// Median endpoint's keys over the mean.
    pub p50_over_mean: f64,
    /// 95th percentile endpoint's keys over the mean.
    pub p95_over_mean: f64,
    /// 99th percentile endpoint's keys over the mean.
    pub p99_over_mean: f64,
    /// Endpoints that got no key.
    pub zero: usize,
    /// Largest ratio of an endpoint's keys to its weighted fair share (equals `max_over_mean`
    /// when weights are equal).
    pub max_over_ideal: f64,
}

impl LoadStats {
    /// Summarises `hits` (per endpoint) given the endpoints' weights.
    pub fn new(hits: &[u64], weights: &[u32]) -> Self {
        let n = hits.len().max(1) as f64;
        let keys: u64 = hits.iter().sum();
        let mean = keys as f64 / n;
        let variance = hits.iter().map(|&h| (h as f64 - mean).powi(2)).sum::<f64>() / n;
        let stddev = variance.sqrt();
        let mut sorted = hits.to_vec();
        sorted.sort_unstable();
        let ratio = |x: f64| if mean > 0.0 { x / mean } else { 0.0 };
        // Nearest rank: the smallest value with at least p% of endpoints at or below it.
        let pct = |p: f64| -> f64 {
            if sorted.is_empty() {
                return 0.0;
            }
            let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
            ratio(sorted[rank.min(sorted.len()) - 1] as f64)
        };
        let wsum: f64 = weights.iter().map(|&w| w as f64).sum();
        let max_over_ideal = hits
            .iter()
            .zip(weights)
            .map(|(&h, &w)| {
                let fair = keys as f64 * w as f64 / wsum;
                if fair > 0.0 { h as f64 / fair } else { 0.0 }
            })
            .fold(0.0, f64::max);
        let max = sorted.last().copied().unwrap_or(0);
        LoadStats {
            keys,
            endpoints: hits.len(),
            min: sorted.first().copied().unwrap_or(0),
            mean,
            max,
            max_over_mean: ratio(max as f64),
            stddev,
            cv: ratio(stddev),
            p50_over_mean: pct(50.0),
            p95_over_mean: pct(95.0),
            p99_over_mean: pct(99.0),
            zero: hits.iter().filter(|&&h| h == 0).count(),
            max_over_ideal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_statistics() {
        let s = LoadStats::new(&[2, 4, 4, 4, 5, 5, 7, 9], &[1; 8]);
        assert_eq!(s.mean, 5.0);
        assert_eq!(s.stddev, 2.0); // the textbook population example
        assert_eq!(s.cv, 0.4);
        assert_eq!((s.min, s.max, s.zero), (2, 9, 0));
        assert_eq!(s.p50_over_mean, 4.0 / 5.0);
        assert_eq!(s.p99_over_mean, 9.0 / 5.0);
    }

    #[test]
    fn weighted_fair_share() {
        let s = LoadStats::new(&[100, 200], &[1, 2]);
        assert!((s.max_over_ideal - 1.0).abs() < 1e-12);
        assert!((s.max_over_mean - 200.0 / 150.0).abs() < 1e-12);
    }
}
