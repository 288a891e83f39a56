//! Envoy's ring hash ("ketama"), `ring_hash/ring_hash_lb.cc`.
//!
//! Build: normalize host weights to fractions of the total; `scale = min(ceil(min_w *
//! min_ring_size) / min_w, max_ring_size)`; walk the hosts in order keeping running sums
//! (`target += scale * w`, one entry while `current < target`), each entry hashing
//! `"<address>_<i>"` with xxHash64; sort by hash. The f64 arithmetic is done in Envoy's order,
//! because the running sums decide how many entries each host gets.
//!
//! Lookup: the first entry whose hash is ≥ the request hash, wrapping to entry 0 (Envoy's ketama
//! binary search, written as a partition point: same answers). A retry (`attempt > 0`) moves to
//! the entry `attempt` places further.

use super::super::{Host, LoadBalancer, Pick, PickContext, PickDetail};
use super::xx;

/// Envoy's default maximum ring size (8M).
pub const DEFAULT_MAXIMUM_RING_SIZE: u64 = 8 * 1024 * 1024;
/// Envoy's default minimum ring size.
pub const DEFAULT_MINIMUM_RING_SIZE: u64 = 1024;

/// The ring: hashes and host indices, sorted by hash.
#[derive(Clone, Debug, Default)]
pub struct RingHash {
    hashes: Box<[u64]>,
    hosts: Box<[u32]>,
}

impl RingHash {
    /// Builds the ring over `hosts` (in the order Envoy receives them).
    pub fn build(hosts: &[Host], minimum_ring_size: u64, maximum_ring_size: u64) -> Self {
        Self::build_with(hosts, minimum_ring_size, maximum_ring_size, xx)
    }

    /// Builds with another hash function (Envoy's `MURMUR_HASH_2` option, or the ring lab's).
    pub fn build_with(
        hosts: &[Host],
        minimum_ring_size: u64,
        maximum_ring_size: u64,
        hash: impl Fn(&[u8]) -> u64,
    ) -> Self {
        if hosts.is_empty() {
            return RingHash::default();
        }
        let sum: f64 = hosts.iter().map(|h| h.weight as f64).sum();
        let normalized: Vec<f64> = hosts.iter().map(|h| h.weight as f64 * 1.0 / sum).collect();
        let min_w = normalized.iter().copied().fold(1.0f64, f64::min);
        let scale =
            ((min_w * minimum_ring_size as f64).ceil() / min_w).min(maximum_ring_size as f64);
        let mut entries: Vec<(u64, u32)> = Vec::with_capacity(scale.ceil() as usize);
        let mut current = 0.0f64;
        let mut target = 0.0f64;
        let mut key = String::new();
        for (idx, (host, w)) in hosts.iter().zip(&normalized).enumerate() {
            target += scale * w;
            let mut i = 0u64;
            while current < target {
                key.clear();
                key.push_str(&host.address);
                key.push('_');
                key.push_str(&i.to_string());
                entries.push((hash(key.as_bytes()), idx as u32));
                i += 1;
                current += 1.0;
            }
        }
        entries.sort_unstable_by_key(|e| e.0);
        RingHash {
            hashes: entries.iter().map(|e| e.0).collect(),
            hosts: entries.iter().map(|e| e.1).collect(),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Is the ring empty?
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The ring index a hash lands on.
    #[inline]
    pub fn position(&self, hash: u64) -> usize {
        let i = self.hashes.partition_point(|&h| h < hash);
        if i == self.hashes.len() { 0 } else { i }
    }

    /// Envoy's `chooseHost(hash, attempt)`: the host index, or `None` on an empty ring.
    #[inline]
    pub fn choose(&self, hash: u64, attempt: u32) -> Option<(usize, usize)> {
        if self.hashes.is_empty() {
            return None;
        }
        let mut i = self.position(hash);
        if attempt > 0 {
            i = (i + attempt as usize) % self.hashes.len();
        }
        Some((self.hosts[i] as usize, i))
    }

    /// Entries per host index (for the ring lab and reports).
    pub fn entries_per_host(&self, hosts: usize) -> Vec<u64> {
        let mut v = vec![0u64; hosts];
        for &h in self.hosts.iter() {
            v[h as usize] += 1;
        }
        v
    }

    /// The sorted `(hash, host)` entries.
    pub fn entries(&self) -> impl Iterator<Item = (u64, usize)> + '_ {
        self.hashes
            .iter()
            .zip(self.hosts.iter())
            .map(|(&h, &i)| (h, i as usize))
    }
}

impl LoadBalancer for RingHash {
    fn pick(&mut self, ctx: &PickContext<'_>) -> Option<Pick> {
        let (hash, from_request) = match ctx.hash {
            Some(h) => (h, true),
            None => (ctx.random[0], false),
        };
        let (host, position) = self.choose(hash, ctx.attempt)?;
        Some(Pick {
            host,
            detail: PickDetail::Hash {
                hash,
                from_request,
                position: position as u64,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::murmur2;
    use super::*;

    use super::super::loopback_hosts as hosts;

    // ring_hash_lb_test.cc `Basic`: hosts :90..:95, minimum ring 12.
    #[test]
    fn envoy_basic() {
        let ring = RingHash::build(&hosts(90..96, &[]), 12, DEFAULT_MAXIMUM_RING_SIZE);
        let expect: [(u64, usize); 12] = [
            (833437586790550860, 4),
            (928266305478181108, 2),
            (1033482794131418490, 0),
            (3551244743356806947, 5),
            (3851675632748031481, 3),
            (5583722120771150861, 1),
            (6311230543546372928, 1),
            (7700377290971790572, 3),
            (13144177310400110813, 5),
            (13444792449719432967, 2),
            (15516499411664133160, 4),
            (16117243373044804889, 0),
        ];
        assert_eq!(ring.entries().collect::<Vec<_>>(), expect);
        let host = |h| ring.choose(h, 0).unwrap().0;
        assert_eq!(host(0), 4);
        assert_eq!(host(u64::MAX), 4);
        assert_eq!(host(3551244743356806947), 5);
        assert_eq!(host(3551244743356806948), 3);
        assert_eq!(host(16117243373044804880), 0);
        // `BasicWithRetryHostPredicate`: attempts walk the ring.
        assert_eq!(ring.choose(0, 1).unwrap().0, 2);
        assert_eq!(ring.choose(0, 2).unwrap().0, 0);
        assert_eq!(ring.choose(0, 13).unwrap().0, 2);
    }

    // `BasicWithMurmur2`: hosts :80..:85.
    #[test]
    fn envoy_murmur2() {
        let ring =
            RingHash::build_with(&hosts(80..86, &[]), 12, DEFAULT_MAXIMUM_RING_SIZE, murmur2);
        let host = |h| ring.choose(h, 0).unwrap().0;
        assert_eq!(host(0), 5);
        assert_eq!(host(1358027074129602069), 3);
        assert_eq!(host(10150910876324007730), 2);
    }

    // `UnevenHosts` and `HostWeightedTinyRing`.
    #[test]
    fn envoy_uneven_and_weighted() {
        let ring = RingHash::build(&hosts(80..82, &[]), 3, DEFAULT_MAXIMUM_RING_SIZE);
        assert_eq!(ring.len(), 4);
        assert_eq!(ring.choose(0, 0).unwrap().0, 0);
        let ring = RingHash::build(&hosts(90..93, &[1, 2, 3]), 6, 6);
        assert_eq!(ring.entries_per_host(3), [1, 2, 3]);
        for (h, want) in [
            (928266305478181108, 2),
            (4443673547860492590, 2),
            (5583722120771150861, 1),
            (6311230543546372928, 1),
            (13444792449719432967, 2),
            (16117243373044804889, 0),
        ] {
            assert_eq!(ring.choose(h, 0).unwrap().0, want, "{h}");
        }
    }

    // `HostWeightedLargeRing` and `LargeFractionalScale`: hits of evenly spaced hashes.
    #[test]
    fn envoy_large_rings() {
        let count = |ring: &RingHash, n: u64, hosts: usize| {
            let mut c = vec![0; hosts];
            for i in 0..n {
                c[ring.choose(i * (u64::MAX / n), 0).unwrap().0] += 1;
            }
            c
        };
        let ring = RingHash::build(&hosts(90..93, &[1, 2, 3]), 6144, DEFAULT_MAXIMUM_RING_SIZE);
        assert_eq!(ring.entries_per_host(3), [1024, 2048, 3072]);
        assert_eq!(count(&ring, 6000, 3), [987, 1932, 3081]);
        let ring = RingHash::build(&hosts(90..92, &[]), 1023, 1023);
        assert_eq!(ring.entries_per_host(2), [512, 511]);
        assert_eq!(count(&ring, 1023, 2), [526, 497]);
    }
}
