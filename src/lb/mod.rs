//! Load balancers, one file per Envoy algorithm, behind one trait.
//!
//! Mirrors Envoy's `source/extensions/load_balancing_policies/`: `round_robin`, `random`,
//! `least_request`, and the hashing ones under [`hash`] (`ring_hash`, `maglev`). Each balancer
//! is built once per cluster from its endpoints (the cold half) and then picks (the hot half).
//! Randomness is passed in, never drawn from a global source, so that picks are reproducible.
//! meshsim is locality-independent: every endpoint is in one priority and one locality.

pub mod edf;
pub mod hash;
mod least_request;
mod random;
mod round_robin;

pub use least_request::LeastRequest;
pub use random::Random;
pub use round_robin::RoundRobin;

use hash::{Maglev, RingHash};
use std::fmt;

/// The load-balancing policy of a cluster, in Envoy's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LbPolicy {
    /// `ROUND_ROBIN`.
    RoundRobin,
    /// `LEAST_REQUEST` (power of two choices).
    LeastRequest,
    /// `RANDOM`.
    Random,
    /// `RING_HASH` with Envoy's minimum and maximum ring sizes.
    RingHash {
        /// `minimum_ring_size` (default 1024).
        minimum_ring_size: u64,
        /// `maximum_ring_size` (default 8M; Istio never sets it).
        maximum_ring_size: u64,
    },
    /// `MAGLEV` with its table size (default 65537).
    Maglev {
        /// A prime.
        table_size: u64,
    },
    /// `CLUSTER_PROVIDED` on an `ORIGINAL_DST` cluster: the caller's own destination.
    Passthrough,
}

impl LbPolicy {
    /// Does the balancer pick by hash (ring hash, maglev)? Then a request without a hash key is
    /// given a random one, as Envoy does.
    pub fn is_hashing(self) -> bool {
        matches!(self, LbPolicy::RingHash { .. } | LbPolicy::Maglev { .. })
    }
}

impl fmt::Display for LbPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LbPolicy::RoundRobin => f.write_str("ROUND_ROBIN"),
            LbPolicy::LeastRequest => f.write_str("LEAST_REQUEST"),
            LbPolicy::Random => f.write_str("RANDOM"),
            LbPolicy::RingHash {
                minimum_ring_size, ..
            } => write!(f, "RING_HASH (minimum ring size {minimum_ring_size})"),
            LbPolicy::Maglev { table_size } => write!(f, "MAGLEV (table size {table_size})"),
            LbPolicy::Passthrough => f.write_str("PASSTHROUGH"),
        }
    }
}

/// An endpoint as a balancer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    /// `IP:PORT`, the string Envoy hashes for ring and table entries.
    pub address: String,
    /// Load-balancing weight (≥ 1).
    pub weight: u32,
}

/// What a pick needs from the request and the engine.
#[derive(Clone, Copy, Debug, Default)]
pub struct PickContext<'a> {
    /// The request's hash, when the route has a hash policy and the key was present.
    pub hash: Option<u64>,
    /// Random values for this pick (Envoy's `random()` calls, in order).
    pub random: [u64; 2],
    /// Requests in flight per host (least request); empty means none anywhere.
    pub active: &'a [u32],
    /// Host-selection attempt (hashing balancers step to the next entry, as Envoy's
    /// `chooseHost(hash, attempt)`); 0 for the first choice.
    pub attempt: u32,
}

/// The detail of a pick, for `explain`: the trace's own type, so a pick is reported as the
/// balancer made it.
pub use crate::trace::LbPick;

/// A chosen host.
#[derive(Clone, Debug, PartialEq)]
pub struct Pick {
    /// Index into the cluster's hosts.
    pub host: usize,
    /// How it was chosen.
    pub detail: LbPick,
}

/// The contract every balancer meets. `None` means no host (Envoy: 503, flag UH).
pub trait LoadBalancer {
    /// Chooses a host for one request (or one retry, with `attempt > 0`).
    fn pick(&mut self, ctx: &PickContext<'_>) -> Option<Pick>;
}

/// Any of Envoy's balancers (Istio's set is closed, so an enum rather than a box).
#[derive(Clone, Debug)]
pub enum AnyLb {
    /// Round robin.
    RoundRobin(RoundRobin),
    /// Least request.
    LeastRequest(LeastRequest),
    /// Random.
    Random(Random),
    /// Ring hash.
    RingHash(RingHash),
    /// Maglev.
    Maglev(Maglev),
    /// Original destination: no host list.
    Passthrough,
}

impl AnyLb {
    /// Builds the balancer for a policy and hosts. `seed` plays Envoy's per-worker `seed_`
    /// (where the round-robin rotation starts).
    pub fn build(policy: LbPolicy, hosts: &[Host], seed: u64) -> AnyLb {
        match policy {
            LbPolicy::RoundRobin => AnyLb::RoundRobin(RoundRobin::new(hosts, seed)),
            LbPolicy::LeastRequest => AnyLb::LeastRequest(LeastRequest::new(hosts, seed)),
            LbPolicy::Random => AnyLb::Random(Random::new(hosts.len())),
            LbPolicy::RingHash {
                minimum_ring_size,
                maximum_ring_size,
            } => AnyLb::RingHash(RingHash::build(hosts, minimum_ring_size, maximum_ring_size)),
            LbPolicy::Maglev { table_size } => AnyLb::Maglev(Maglev::build(hosts, table_size)),
            LbPolicy::Passthrough => AnyLb::Passthrough,
        }
    }
}

impl AnyLb {
    /// Does a pick depend on the picks before it (round robin's rotation, the EDF schedule of
    /// least request with unequal weights)? The others choose from the request's hash or random
    /// values alone, so their picks can be made in any order.
    pub fn is_stateful(&self) -> bool {
        match self {
            AnyLb::RoundRobin(_) => true,
            AnyLb::LeastRequest(l) => l.is_weighted(),
            AnyLb::Random(_) | AnyLb::RingHash(_) | AnyLb::Maglev(_) | AnyLb::Passthrough => false,
        }
    }
}

impl LoadBalancer for AnyLb {
    fn pick(&mut self, ctx: &PickContext<'_>) -> Option<Pick> {
        match self {
            AnyLb::RoundRobin(lb) => lb.pick(ctx),
            AnyLb::LeastRequest(lb) => lb.pick(ctx),
            AnyLb::Random(lb) => lb.pick(ctx),
            AnyLb::RingHash(lb) => lb.pick(ctx),
            AnyLb::Maglev(lb) => lb.pick(ctx),
            AnyLb::Passthrough => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The trait stays object-safe, so tools can hold any balancer behind a pointer.
    #[test]
    fn object_safe() {
        let hosts = [Host {
            address: "10.0.0.1:80".into(),
            weight: 1,
        }];
        let mut lb: Box<dyn LoadBalancer> = Box::new(AnyLb::build(LbPolicy::Random, &hosts, 0));
        assert_eq!(lb.pick(&PickContext::default()).unwrap().host, 0);
    }
}
