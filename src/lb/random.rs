//! Envoy's RANDOM (`random/random_lb.cc`): `hosts[random() % n]`. Host weights are ignored, as
//! in Envoy.

use super::{LbPick, LoadBalancer, Pick, PickContext};

/// Uniform random choice.
#[derive(Clone, Debug)]
pub struct Random {
    n: usize,
}

impl Random {
    /// Over `n` hosts.
    pub fn new(n: usize) -> Self {
        Random { n }
    }
}

impl LoadBalancer for Random {
    fn pick(&mut self, ctx: &PickContext<'_>) -> Option<Pick> {
        if self.n == 0 {
            return None;
        }
        let value = ctx.random[0];
        Some(Pick {
            host: (value % self.n as u64) as usize,
            detail: LbPick::Random { value },
        })
    }
}
