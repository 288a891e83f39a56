//! Envoy's ROUND_ROBIN (`round_robin/round_robin_lb.h`).
//!
//! With equal weights, a rotation index that starts at the worker's `seed_`; with unequal
//! weights, the EDF scheduler built with `createWithPicks(seed_ % 429496729)`. Envoy's seed is a
//! random number per worker, so its rotation matches ours "up to where it starts".

use super::edf::EdfScheduler;
use super::{Host, LbPick, LoadBalancer, Pick, PickContext};

/// Round robin over a fixed host list.
#[derive(Clone, Debug)]
pub struct RoundRobin {
    n: usize,
    index: u64,
    weights: Vec<f64>,
    edf: Option<EdfScheduler>,
}

impl RoundRobin {
    /// Builds the rotation; `seed` is where it starts.
    pub fn new(hosts: &[Host], seed: u64) -> Self {
        let weighted = hosts.len() >= 2 && hosts.iter().any(|h| h.weight != hosts[0].weight);
        let weights: Vec<f64> = hosts.iter().map(|h| h.weight as f64).collect();
        let edf = weighted
            .then(|| EdfScheduler::create_with_picks(&weights, (seed as u32) % 429_496_729));
        RoundRobin {
            n: hosts.len(),
            index: seed,
            weights,
            edf,
        }
    }
}

impl LoadBalancer for RoundRobin {
    fn pick(&mut self, _ctx: &PickContext<'_>) -> Option<Pick> {
        if self.n == 0 {
            return None;
        }
        if let Some(edf) = &mut self.edf {
            let w = &self.weights;
            let host = edf.pick_and_add(|i| w[i])?;
            return Some(Pick {
                host,
                detail: LbPick::WeightedRoundRobin,
            });
        }
        let index = self.index;
        self.index = self.index.wrapping_add(1);
        Some(Pick {
            host: (index % self.n as u64) as usize,
            detail: LbPick::RoundRobin { index },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(weights: &[u32]) -> Vec<Host> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| Host {
                address: format!("127.0.0.1:{}", 80 + i),
                weight: w,
            })
            .collect()
    }

    fn run(lb: &mut RoundRobin, n: usize) -> Vec<usize> {
        (0..n)
            .map(|_| lb.pick(&PickContext::default()).unwrap().host)
            .collect()
    }

    // Envoy round_robin_lb_test.cc `Normal` (seed 0) and `Seed` (seed 1, three hosts).
    #[test]
    fn envoy_unweighted_vectors() {
        assert_eq!(
            run(&mut RoundRobin::new(&hosts(&[1, 1]), 0), 5),
            [0, 1, 0, 1, 0]
        );
        assert_eq!(
            run(&mut RoundRobin::new(&hosts(&[1, 1, 1]), 1), 4),
            [1, 2, 0, 1]
        );
    }

    #[test]
    fn envoy_weighted_vector() {
        assert_eq!(
            run(&mut RoundRobin::new(&hosts(&[1, 2]), 0), 6),
            [1, 0, 1, 1, 0, 1]
        );
    }

    #[test]
    fn empty_cluster_has_no_host() {
        assert!(
            RoundRobin::new(&[], 0)
                .pick(&PickContext::default())
                .is_none()
        );
    }
}
