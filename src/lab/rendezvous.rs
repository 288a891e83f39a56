//! Rendezvous hashing (highest random weight): David Thaler and Chinya Ravishankar, "Using
//! Name-Based Mappings to Increase Hit Rates" (IEEE/ACM ToN, 1998). Weighted with the
//! logarithmic method of Schindelhauer and Schomaker, "Weighted Distributed Hash Tables" (SPAA
//! 2005): endpoint `i` scores `w_i / -ln(u_i)`, `u_i` uniform in (0, 1) from the key and the
//! endpoint, and the highest score wins.
//!
//! As in Damian Gryski's Go implementation (go-rendezvous), each endpoint's name is hashed once
//! at build time and mixed with the key hash per lookup, so a lookup is N cheap mixes, not N
//! string hashes. Removing an endpoint moves only the keys it owned: every other endpoint's
//! score for a key is unchanged.

use super::Placement;
use crate::lb::Host;
use xxhash_rust::xxh64::xxh64;

/// Endpoints pre-hashed, with their weights.
#[derive(Clone, Debug)]
pub struct Rendezvous {
    nodes: Box<[(u64, f64)]>,
    weighted: bool,
}

impl Rendezvous {
    /// Builds over `hosts`, hashing each address with xxHash64.
    pub fn new(hosts: &[Host]) -> Self {
        let weighted = hosts.windows(2).any(|w| w[0].weight != w[1].weight);
        Rendezvous {
            nodes: hosts
                .iter()
                .map(|h| (xxh64(h.address.as_bytes(), 0), h.weight as f64))
                .collect(),
            weighted,
        }
    }
}

/// MurmurHash3's 64-bit finaliser: a bijection with full avalanche, so `mix(key ^ node)` is a
/// fresh uniform value per (key, node) pair.
#[inline]
pub fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51afd7ed558ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ceb9fe1a85ec53);
    k ^ (k >> 33)
}

impl Placement for Rendezvous {
    fn assign(&mut self, key: u64) -> Option<usize> {
        if !self.weighted {
            // Equal weights: the largest mixed value wins; no logarithms needed.
            return self
                .nodes
                .iter()
                .enumerate()
                .max_by_key(|(i, (h, _))| (fmix64(key ^ h), std::cmp::Reverse(*i)))
                .map(|(i, _)| i);
        }
        let mut best: Option<(f64, usize)> = None;
        for (i, &(h, w)) in self.nodes.iter().enumerate() {
            // 53 random bits, offset by half a step so u is never 0 or 1.
            let u = ((fmix64(key ^ h) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            let score = w / -u.ln();
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, i));
            }
        }
        best.map(|(_, i)| i)
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.nodes.len() * std::mem::size_of::<(u64, f64)>()
    }
}
