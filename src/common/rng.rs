//! Seeded random streams.
//!
//! Envoy's randomness (BoringSSL `RAND_bytes`) cannot be reproduced, so meshsim draws its own
//! from ChaCha8 and makes every draw a function of `(seed, request index)` only:
//!
//! - requests are grouped in blocks of [`BLOCK`]; block `b` has its own generator, keyed by the
//!   seed and `b`, so a block can be simulated on any thread and the output does not depend on
//!   the thread count;
//! - each request takes exactly [`RequestEntropy::WORDS`] values from its block, whatever its
//!   route does, so two meshes given the same stream see the same random values request by
//!   request (common random numbers, used by `diff`);
//! - variable-length needs (retries, back-off, endpoint failures) come from a per-request
//!   generator seeded by [`RequestEntropy::aux`], so they never shift later requests.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Requests per entropy block.
pub const BLOCK: u64 = 4096;

/// A seeded generator (ChaCha8). Deterministic across platforms and versions of meshsim that
/// keep the same `rand_chacha` major version.
#[derive(Clone, Debug)]
pub struct SimRng(ChaCha8Rng);

impl SimRng {
    /// A generator for `(seed, stream)`: independent streams for independent purposes.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&0x6d65_7368_7369_6d00u64.to_le_bytes()); // "meshsim\0"
        let mut r = ChaCha8Rng::from_seed(key);
        r.set_stream(stream);
        SimRng(r)
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A uniform value in `[0, 1)`.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        unit(self.next_u64())
    }

    /// A uniform value in `[0, n)` (n > 0), by widening multiplication (no modulo bias worth
    /// speaking of at 64 bits).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        scale(self.next_u64(), n)
    }
}

/// 64 random bits → `[0, 1)`, from the top 53.
#[inline]
pub fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// 64 random bits → `[0, n)`, by widening multiplication.
#[inline]
pub fn scale(bits: u64, n: u64) -> u64 {
    ((bits as u128 * n as u128) >> 64) as u64
}

/// SplitMix64 from a hashed starting point: a few good random values, cheap to start anywhere.
///
/// Generated traffic draws two or three values per request, addressed by the request's index;
/// starting a ChaCha generator for that costs more than routing the request. SplitMix64
/// passes BigCrush, and hashing `(seed, index)` into the starting state keeps the streams of
/// neighbouring indices unrelated.
#[derive(Clone, Copy, Debug)]
pub struct IndexRng(u64);

impl IndexRng {
    const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The generator of item `index` of the stream keyed by `seed`.
    #[inline]
    pub fn new(seed: u64, index: u64) -> Self {
        IndexRng(Self::mix(seed ^ Self::mix(index.wrapping_add(Self::GAMMA))))
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(Self::GAMMA);
        Self::mix(self.0)
    }
}

/// The random values one request consumes, always the same count, in a documented order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestEntropy {
    /// Envoy's per-stream random value (`stream_id`): it picks the weighted cluster and decides
    /// mirroring (both from the same value, as in Envoy, so they are correlated there too).
    pub stream_id: u64,
    /// Values for the load balancer's first pick (RANDOM uses one, LEAST_REQUEST two, a hash
    /// policy without a key one).
    pub lb: [u64; 2],
    /// Seed for everything of variable length (mirror load balancing, retries, faults).
    pub aux: u64,
}

impl RequestEntropy {
    /// How many values each request takes from its block.
    pub const WORDS: u64 = 4;

    /// Draws one request's values.
    #[inline]
    pub fn draw(rng: &mut SimRng) -> Self {
        RequestEntropy {
            stream_id: rng.next_u64(),
            lb: [rng.next_u64(), rng.next_u64()],
            aux: rng.next_u64(),
        }
    }

    /// A generator for this request's variable-length draws.
    pub fn aux_rng(&self) -> SimRng {
        SimRng::new(self.aux, 1)
    }
}

/// Hands out [`RequestEntropy`] for request indices 0, 1, 2, ... of a seeded run.
#[derive(Clone, Debug)]
pub struct EntropySource {
    seed: u64,
    block: u64,
    rng: SimRng,
    next: u64,
}

impl EntropySource {
    /// Starts at request 0.
    pub fn new(seed: u64) -> Self {
        Self::starting_at(seed, 0)
    }

    /// Starts at `index` (which must be a multiple of [`BLOCK`] for a parallel worker, or any
    /// index: the generator skips forward within the block).
    pub fn starting_at(seed: u64, index: u64) -> Self {
        let block = index / BLOCK;
        let mut rng = SimRng::new(seed, 2 + block);
        // Seek instead of drawing: ChaCha's position is a counter (in 32-bit words, two per
        // value), so a worker can start anywhere in a block at no cost.
        rng.0
            .set_word_pos(((index % BLOCK) * RequestEntropy::WORDS * 2) as u128);
        EntropySource {
            seed,
            block,
            rng,
            next: index,
        }
    }

    /// The values of the next request.
    #[inline]
    pub fn next_request(&mut self) -> RequestEntropy {
        if self.next / BLOCK != self.block {
            self.block = self.next / BLOCK;
            self.rng = SimRng::new(self.seed, 2 + self.block);
        }
        self.next += 1;
        RequestEntropy::draw(&mut self.rng)
    }

    /// Index of the next request.
    pub fn position(&self) -> u64 {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_depends_only_on_seed_and_index() {
        let mut a = EntropySource::new(7);
        let all: Vec<_> = (0..3 * BLOCK + 5).map(|_| a.next_request()).collect();
        for start in [0, 1, BLOCK - 1, BLOCK, 2 * BLOCK + 3] {
            let mut b = EntropySource::starting_at(7, start);
            assert_eq!(b.next_request(), all[start as usize], "index {start}");
        }
        let mut c = EntropySource::new(8);
        assert_ne!(c.next_request(), all[0]);
    }

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut r = SimRng::new(1, 0);
        let mut counts = [0u32; 10];
        for _ in 0..100_000 {
            counts[r.below(10) as usize] += 1;
        }
        for c in counts {
            assert!((9_500..10_500).contains(&c), "{counts:?}");
        }
    }
}
