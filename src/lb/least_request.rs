//! Envoy's LEAST_REQUEST (`least_request/least_request_lb.cc`), Istio's default since 1.14.
//!
//! Equal weights: power of two choices — a candidate `hosts[r0 % n]`, a second sample
//! `hosts[r1 % n]` that replaces it only with *strictly* fewer active requests (samples may
//! repeat). Unequal weights: the EDF scheduler on `weight / (active + 1)` (bias 1.0), weights
//! taken when a host is re-inserted. With no request in flight anywhere, both reduce to a
//! (weighted) random-like choice, as in Envoy.

use super::edf::EdfScheduler;
use super::{Host, LbPick, LoadBalancer, Pick, PickContext};

/// Least request over a fixed host list.
#[derive(Clone, Debug)]
pub struct LeastRequest {
    n: usize,
    weights: Vec<f64>,
    edf: Option<EdfScheduler>,
}

impl LeastRequest {
    /// Builds it; `seed` starts the EDF rotation when weights differ.
    pub fn new(hosts: &[Host], seed: u64) -> Self {
        let weighted = hosts.len() >= 2 && hosts.iter().any(|h| h.weight != hosts[0].weight);
        let weights: Vec<f64> = hosts.iter().map(|h| h.weight as f64).collect();
        let edf = weighted
            .then(|| EdfScheduler::create_with_picks(&weights, (seed as u32) % 429_496_729));
        LeastRequest {
            n: hosts.len(),
            weights,
            edf,
        }
    }
}

impl LeastRequest {
    /// Do the weights differ (so that picks follow a schedule that each pick advances)?
    pub fn is_weighted(&self) -> bool {
        self.edf.is_some()
    }
}

impl LoadBalancer for LeastRequest {
    fn pick(&mut self, ctx: &PickContext<'_>) -> Option<Pick> {
        if self.n == 0 {
            return None;
        }
        let active = |i: usize| ctx.active.get(i).copied().unwrap_or(0);
        if let Some(edf) = &mut self.edf {
            let w = &self.weights;
            let host = edf.pick_and_add(|i| w[i] / (active(i) as f64 + 1.0))?;
            return Some(Pick {
                host,
                detail: LbPick::WeightedLeastRequest,
            });
        }
        let n = self.n as u64;
        let first = (ctx.random[0] % n) as usize;
        let second = (ctx.random[1] % n) as usize;
        let host = if active(second) < active(first) {
            second
        } else {
            first
        };
        Some(Pick {
            host,
            detail: LbPick::LeastRequest {
                first,
                first_active: active(first),
                second,
                second_active: active(second),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(n: usize) -> Vec<Host> {
        (0..n)
            .map(|i| Host {
                address: format!("127.0.0.1:{}", 80 + i),
                weight: 1,
            })
            .collect()
    }

    // Envoy least_request_lb_test.cc `Normal`: rq_active 1 and 2, samples 2%2 and 3%2 → host 0;
    // with rq_active 2 and 1 → host 1.
    #[test]
    fn envoy_p2c_vector() {
        let mut lb = LeastRequest::new(&hosts(2), 0);
        let ctx = |active| PickContext {
            hash: None,
            random: [2, 3],
            active,
            attempt: 0,
        };
        assert_eq!(lb.pick(&ctx(&[1, 2])).unwrap().host, 0);
        assert_eq!(lb.pick(&ctx(&[2, 1])).unwrap().host, 1);
    }

    // `WeightImbalance`: weights 1 and 2, nothing active → 1,0,1,1,0,1.
    #[test]
    fn envoy_weight_imbalance_vector() {
        let hs = vec![
            Host {
                address: "a".into(),
                weight: 1,
            },
            Host {
                address: "b".into(),
                weight: 2,
            },
        ];
        let mut lb = LeastRequest::new(&hs, 0);
        let got: Vec<_> = (0..6)
            .map(|_| lb.pick(&PickContext::default()).unwrap().host)
            .collect();
        assert_eq!(got, [1, 0, 1, 1, 0, 1]);
    }
}
