//! Jump consistent hash: John Lamping and Eric Veach, "A Fast, Minimal Memory, Consistent Hash
//! Algorithm" (2014, arXiv:1406.2294), the `JumpConsistentHash` function of its Figure 1.
//!
//! No structure at all: the bucket is computed from the key with a linear congruential walk. It
//! is minimally disruptive only when buckets are added or removed at the end, and it has no
//! weights; meshsim's lab therefore always removes the last endpoints, as Envoy's host-loss
//! benchmark does.

use super::Placement;

/// Jump hash over `n` buckets.
#[derive(Clone, Debug)]
pub struct Jump {
    buckets: u32,
}

impl Jump {
    /// `buckets` endpoints, numbered in order.
    pub fn new(buckets: usize) -> Self {
        Jump {
            buckets: buckets as u32,
        }
    }
}

/// The paper's function, verbatim: `b` jumps forward while `j < buckets`.
#[inline]
pub fn jump_consistent_hash(mut key: u64, buckets: u32) -> u32 {
    let (mut b, mut j) = (-1i64, 0i64);
    while j < buckets as i64 {
        b = j;
        key = key.wrapping_mul(2862933555777941757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}

impl Placement for Jump {
    fn assign(&mut self, key: u64) -> Option<usize> {
        (self.buckets > 0).then(|| jump_consistent_hash(key, self.buckets) as usize)
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_in_range() {
        assert_eq!(jump_consistent_hash(1, 1), 0);
        assert_eq!(jump_consistent_hash(0xdeadbeef, 1), 0);
        for buckets in 1..64 {
            assert!(jump_consistent_hash(0xdeadbeef, buckets) < buckets);
        }
    }

    #[test]
    fn growing_moves_keys_only_to_the_new_bucket() {
        for key in 0..10_000u64 {
            let k = xxhash_rust::xxh64::xxh64(&key.to_le_bytes(), 0);
            let before = jump_consistent_hash(k, 10);
            let after = jump_consistent_hash(k, 11);
            assert!(after == before || after == 10);
        }
    }
}
