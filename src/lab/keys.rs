//! The keys the lab places: which keys (ids), how often each occurs, and how they are hashed.
//!
//! Key `i` is the 8 little-endian bytes of the id `i` (shifted by the seed), hashed: with
//! xxHash64 and seed 0 this is exactly Envoy's benchmark `hashInt(i)`. A Zipf distribution
//! draws ids by popularity from a seeded ChaCha stream, so a few hot keys carry much of the load,
//! as cache keys and user ids do in production.

use std::fmt;
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use siphasher::sip::SipHasher13;

use crate::lb::hash::murmur2;

/// How a key's bytes become the 64-bit hash a balancer sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyHash {
    /// xxHash64, seed 0: Envoy's `HashUtil::xxHash64`, the default.
    Xxh64,
    /// SipHash-1-3 with zero keys (Rust's std hasher family).
    Sip13,
    /// MurmurHash2 64A: Envoy's `MURMUR_HASH_2` option.
    Murmur2,
}

impl KeyHash {
    /// Hashes bytes.
    pub fn hash(self, bytes: &[u8]) -> u64 {
        match self {
            KeyHash::Xxh64 => xxhash_rust::xxh64::xxh64(bytes, 0),
            KeyHash::Sip13 => SipHasher13::new_with_keys(0, 0).hash(bytes),
            KeyHash::Murmur2 => murmur2(bytes),
        }
    }
}

impl FromStr for KeyHash {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "xxh64" | "xxhash64" => Ok(KeyHash::Xxh64),
            "siphash13" | "sip13" => Ok(KeyHash::Sip13),
            "murmur2" => Ok(KeyHash::Murmur2),
            _ => Err(format!(
                "unknown key hash `{s}`; expected xxh64, siphash13 or murmur2"
            )),
        }
    }
}

/// Which ids occur.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyDist {
    /// Every id once: ids 0..keys.
    Uniform,
    /// Ids drawn with probability ∝ 1/(rank+1)^s from a space as large as the key count.
    Zipf(f64),
}

impl FromStr for KeyDist {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "uniform" {
            return Ok(KeyDist::Uniform);
        }
        if let Some(x) = s.strip_prefix("zipf:")
            && let Ok(v) = x.parse::<f64>()
            && v.is_finite()
            && v > 0.0
        {
            return Ok(KeyDist::Zipf(v));
        }
        Err(format!(
            "bad key distribution `{s}`; expected uniform or zipf:S with S > 0"
        ))
    }
}

impl fmt::Display for KeyDist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyDist::Uniform => f.write_str("uniform"),
            KeyDist::Zipf(s) => write!(f, "zipf:{s}"),
        }
    }
}

/// A reproducible stream of keys.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct KeySpec {
    /// How many keys (requests).
    pub count: u64,
    /// Which ids occur.
    pub dist: KeyDist,
    /// How ids are hashed.
    pub hash: KeyHash,
    /// Seed: shifts the ids and seeds the Zipf draws. Seed 0 with uniform xxh64 keys is Envoy's
    /// `hashInt(0..count)`.
    pub seed: u64,
}

impl KeySpec {
    /// `count` uniform xxHash64 keys, seed 0 (Envoy's benchmark keys).
    pub fn uniform(count: u64) -> Self {
        KeySpec {
            count,
            dist: KeyDist::Uniform,
            hash: KeyHash::Xxh64,
            seed: 0,
        }
    }

    /// The key hashes, in order.
    pub fn generate(&self) -> Vec<u64> {
        let offset = self.seed.wrapping_shl(40);
        let hash = |id: u64| self.hash.hash(&id.wrapping_add(offset).to_le_bytes());
        match self.dist {
            KeyDist::Uniform => (0..self.count).map(hash).collect(),
            KeyDist::Zipf(s) => {
                let cdf = zipf_cdf(self.count.max(1), s);
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                (0..self.count)
                    .map(|_| {
                        let u: f64 = rng.random();
                        let rank = cdf.partition_point(|&c| c < u).min(cdf.len() - 1);
                        hash(rank as u64)
                    })
                    .collect()
            }
        }
    }
}

/// Cumulative probabilities of ranks 0..n under Zipf(s).
fn zipf_cdf(n: u64, s: f64) -> Vec<f64> {
    let mut cdf: Vec<f64> = Vec::with_capacity(n as usize);
    let mut acc = 0.0;
    for r in 1..=n {
        acc += (r as f64).powf(-s);
        cdf.push(acc);
    }
    for c in &mut cdf {
        *c /= acc;
    }
    cdf
}

#[cfg(test)]
mod tests {
    use super::*;

    // The one-shot SipHash-1-3 is the streaming `Hasher`'s value (what `--key-hash siphash13`
    // always printed), without the per-key hasher state.
    #[test]
    fn siphash_one_shot_is_the_hashers() {
        use std::hash::Hasher;
        for len in [0usize, 3, 8, 16, 33] {
            let bytes: Vec<u8> = (0..len as u8).collect();
            let mut h = SipHasher13::new_with_keys(0, 0);
            h.write(&bytes);
            assert_eq!(KeyHash::Sip13.hash(&bytes), h.finish());
        }
    }

    // Envoy's hashInt(i): xxHash64 of the 8 raw (little-endian on x86) bytes of i, seed 0.
    #[test]
    fn uniform_keys_are_envoys_hash_int() {
        let keys = KeySpec::uniform(3).generate();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(*k, xxhash_rust::xxh64::xxh64(&(i as u64).to_le_bytes(), 0));
        }
    }

    #[test]
    fn zipf_rank_zero_is_most_popular() {
        let spec = KeySpec {
            dist: KeyDist::Zipf(1.1),
            ..KeySpec::uniform(100_000)
        };
        let keys = spec.generate();
        let top = KeyHash::Xxh64.hash(&0u64.to_le_bytes());
        let share = keys.iter().filter(|&&k| k == top).count() as f64 / keys.len() as f64;
        // P(rank 0) = 1 / H(100000, 1.1); H ≈ 7.8 for these parameters.
        let h: f64 = (1..=100_000u64).map(|r| (r as f64).powf(-1.1)).sum();
        assert!(
            (share - 1.0 / h).abs() < 0.01,
            "share {share} vs {}",
            1.0 / h
        );
        assert_eq!(keys, spec.generate(), "seeded, so reproducible");
    }
}
