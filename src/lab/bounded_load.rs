//! Consistent hashing with bounded loads: Vahab Mirrokni, Mikkel Thorup and Morteza Zadimoghaddam
//! (SODA 2018, arXiv:1608.01350), as Envoy implements it for `hash_balance_factor`
//! (`ThreadAwareLoadBalancerBase::BoundedLoadHashingLoadBalancer`, `thread_aware_lb_impl.cc`).
//!
//! The base ring or table picks a host; if that host already holds more than its share of
//! `ceil((active + 1) * factor / 100)` slots (scaled by its normalised weight), the other hosts
//! are probed in a pseudo-random order seeded by the key hash (`std::mt19937(hash)` and Envoy's
//! own rejection-sampled `uniform_int`, reproduced here), and the first one under its bound wins;
//! if all are over, the least overloaded. Envoy counts active requests; the lab's static model
//! is the usual one for this algorithm: every key is a request that stays active, so a host's
//! load is the keys placed on it so far.

use super::Placement;
use crate::lb::Host;
use crate::lb::hash::maglev::Maglev;
use crate::lb::hash::ring_hash::RingHash;

/// The base structure whose first choice the bound corrects.
#[derive(Clone, Debug)]
pub enum Base {
    /// Envoy's ring hash.
    RingHash(RingHash),
    /// Envoy's maglev table.
    Maglev(Maglev),
}

/// Bounded-load hashing over a base.
#[derive(Clone, Debug)]
pub struct BoundedLoad {
    base: Base,
    factor: u32,
    weights: Box<[f64]>,
    active: Vec<u32>,
    total: u32,
    index: Vec<u32>,
}

impl BoundedLoad {
    /// `factor` is Envoy's `hash_balance_factor` in percent (≥ 100).
    pub fn new(base: Base, hosts: &[Host], factor: u32) -> Self {
        let sum: f64 = hosts.iter().map(|h| h.weight as f64).sum();
        BoundedLoad {
            base,
            factor: factor.max(100),
            weights: hosts.iter().map(|h| h.weight as f64 / sum).collect(),
            active: vec![0; hosts.len()],
            total: 0,
            index: (0..hosts.len() as u32).collect(),
        }
    }

    /// Envoy's `hostOverloadFactor`: active / slots.
    fn overload(&self, host: usize) -> f64 {
        let total_slots = ((self.total as u64 + 1) * self.factor as u64).div_ceil(100);
        let slots = ((total_slots as f64 * self.weights[host]).ceil() as u64).max(1);
        self.active[host] as f64 / slots as f64
    }

    fn choose(&mut self, hash: u64) -> Option<usize> {
        let host = match &self.base {
            Base::RingHash(r) => r.choose(hash, 0)?.0,
            Base::Maglev(m) => m.choose(hash, 0)?.0,
        };
        let mut least = (self.overload(host), host);
        if least.0 <= 1.0 {
            return Some(host);
        }
        let n = self.weights.len() as u32;
        for (i, v) in self.index.iter_mut().enumerate() {
            *v = i as u32;
        }
        let mut random = Mt19937::new(hash as u32);
        for i in 0..n {
            let j = random.uniform_int(n - i);
            self.index.swap(i as usize, (i + j) as usize);
            let alt = self.index[i as usize] as usize;
            if alt == host {
                continue;
            }
            let f = self.overload(alt);
            if f <= 1.0 {
                return Some(alt);
            }
            if least.0 > f {
                least = (f, alt);
            }
        }
        Some(least.1)
    }
}

impl Placement for BoundedLoad {
    fn assign(&mut self, key: u64) -> Option<usize> {
        let host = self.choose(key)?;
        self.active[host] += 1;
        self.total += 1;
        Some(host)
    }

    fn memory_bytes(&self) -> usize {
        let base = match &self.base {
            Base::RingHash(r) => r.heap_bytes(),
            Base::Maglev(m) => m.heap_bytes(),
        };
        std::mem::size_of::<Self>() + base + self.weights.len() * 16
    }

    fn reset(&mut self) {
        self.active.fill(0);
        self.total = 0;
    }
}

/// The 32-bit Mersenne Twister, `std::mt19937` (Matsumoto and Nishimura, 1998).
pub struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    /// `std::mt19937(seed)`: the seed is taken modulo 2^32.
    pub fn new(seed: u32) -> Self {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            state[i] = 1812433253u32
                .wrapping_mul(state[i - 1] ^ (state[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, index: 624 }
    }

    /// The next output.
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            for i in 0..624 {
                let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7fff_ffff);
                let mut v = self.state[(i + 397) % 624] ^ (y >> 1);
                if y & 1 != 0 {
                    v ^= 0x9908_b0df;
                }
                self.state[i] = v;
            }
            self.index = 0;
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// Envoy's `uniform_int(random, k)`: `[0, k)` by division with rejection.
    pub fn uniform_int(&mut self, k: u32) -> u32 {
        let bucket = ((u32::MAX as u64) + 1) / k as u64;
        loop {
            let x = (self.next_u32() as u64 / bucket) as u32;
            if x < k {
                return x;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The C++ standard fixes it: "the 10000th consecutive invocation of a default-constructed
    // object of type mt19937 shall produce the value 4123659995" ([rand.predef]); the default
    // seed is 5489.
    #[test]
    fn mt19937_matches_the_standard() {
        let mut mt = Mt19937::new(5489);
        let mut v = 0;
        for _ in 0..10_000 {
            v = mt.next_u32();
        }
        assert_eq!(v, 4123659995);
    }

    #[test]
    fn load_never_exceeds_the_bound_when_a_host_is_free() {
        let hosts: Vec<Host> = (0..20)
            .map(|i| Host {
                address: format!("10.0.0.{i}:80"),
                weight: 1,
            })
            .collect();
        let ring = RingHash::build(&hosts, 64, 1 << 23);
        let mut b = BoundedLoad::new(Base::RingHash(ring), &hosts, 125);
        for i in 0..10_000u64 {
            let h = xxhash_rust::xxh64::xxh64(&i.to_le_bytes(), 0);
            b.assign(h).unwrap();
            // After placing request t, every host holds at most ceil(ceil(t * 1.25) / 20) + 1.
            let cap = ((b.total as u64 * 125).div_ceil(100) as f64 / 20.0).ceil() as u32 + 1;
            assert!(
                b.active.iter().all(|&a| a <= cap),
                "{:?} cap {cap}",
                b.active
            );
        }
    }
}
