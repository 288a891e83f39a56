//! Envoy's ring hash ("ketama"), `ring_hash/ring_hash_lb.cc`.
//!
//! Build: normalize host weights to fractions of the total; `scale = min(ceil(min_w *
//! min_ring_size) / min_w, max_ring_size)`; walk the hosts in order keeping running sums
//! (`target += scale * w`, one entry while `current < target`), each entry hashing
//! `"<address>_<i>"` with xxHash64; sort by hash. The f64 arithmetic is done in Envoy's order,
//! because the running sums decide how many entries each host gets.
//!
//! Lookup: the first entry whose hash is ≥ the request hash, wrapping to entry 0 (what Envoy's
//! ketama binary search returns, ties and wrap-around included; the tests keep that loop and
//! check the two agree). A retry (`attempt > 0`) moves to the entry `attempt` places further.
//!
//! Envoy's loop branches on every level, and a mispredicted level costs more than the load it
//! waits for, so lookups here take a different route to the same entry. Ring hashes are
//! uniform, so the top bits of a request hash say where in the sorted array its answer lies: a
//! bucket index on those bits (one to two entries a bucket) gives the first entry that can be
//! the answer, and the answer is that entry plus the number of entries below the hash in a
//! window as long as the largest bucket, counted without a branch. So a lookup is three
//! independent-ish loads and a count, whatever the ring's size, where a binary search waits on
//! one load per level. A ring whose hashes crowd into few buckets (a poor hash function) gets a
//! branch-free binary search over the window instead.

use super::super::{Host, LbPick, LoadBalancer, Pick, PickContext};
use super::xx;

/// Envoy's default maximum ring size (8M).
pub const DEFAULT_MAXIMUM_RING_SIZE: u64 = 8 * 1024 * 1024;
/// Envoy's default minimum ring size.
pub const DEFAULT_MINIMUM_RING_SIZE: u64 = 1024;

/// Windows up to this many entries are counted whole rather than searched.
const LINEAR_WINDOW: usize = 16;

/// The ring: hashes and host indices, sorted by hash, with an index on the hashes' top bits.
#[derive(Clone, Debug)]
pub struct RingHash {
    /// The sorted hashes, then `u64::MAX` padding so that a window read from any bucket stays in
    /// bounds (as `u64::MAX` is below no hash, padding never counts).
    hashes: Box<[u64]>,
    hosts: Box<[u32]>,
    /// `buckets[b]` is the first entry whose hash's top bits are ≥ `b`.
    buckets: Box<[u32]>,
    /// `64 -` the number of top bits the buckets use.
    shift: u32,
    /// Places a hash's answer can take from its bucket's first entry: one more than the largest
    /// bucket holds (1 for an empty ring).
    window: u32,
}

impl Default for RingHash {
    fn default() -> Self {
        Self::from_sorted(Vec::new())
    }
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
        let mut key: Vec<u8> = Vec::new();
        for (idx, (host, w)) in hosts.iter().zip(&normalized).enumerate() {
            target += scale * w;
            key.clear();
            key.extend_from_slice(host.address.as_bytes());
            key.push(b'_');
            let prefix = key.len();
            let mut i = 0u64;
            while current < target {
                key.truncate(prefix);
                key.extend_from_slice(crate::common::decimal::digits(i, &mut [0; 20]).as_bytes());
                entries.push((hash(&key), idx as u32));
                i += 1;
                current += 1.0;
            }
        }
        entries.sort_unstable_by_key(|e| e.0);
        Self::from_sorted(entries)
    }

    /// The ring over entries already sorted by hash, with its bucket index.
    fn from_sorted(entries: Vec<(u64, u32)>) -> Self {
        debug_assert!(entries.is_sorted_by_key(|e| e.0));
        let len = entries.len();
        assert!(len < u32::MAX as usize, "ring of {len} entries");
        // About one entry per bucket: fewer buckets deepen the search, more cost memory.
        let bits = len.max(2).ilog2().min(32);
        let shift = 64 - bits;
        let mut hashes = Vec::with_capacity(len + 1);
        hashes.extend(entries.iter().map(|e| e.0));
        // Sorted hashes visit the counts in order, so this is one sequential pass.
        let mut buckets = vec![0u32; 1usize << bits];
        for &h in &hashes {
            buckets[(h >> shift) as usize] += 1;
        }
        let deepest = buckets.iter().copied().max().unwrap_or(0) as usize;
        let mut first = 0u32;
        for b in buckets.iter_mut() {
            (*b, first) = (first, first + *b);
        }
        // The answer for a hash in bucket b lies in buckets[b]..=buckets[b + 1], the first entry
        // of the next bucket included.
        let window = deepest + 1;
        let pad = if window <= LINEAR_WINDOW { window } else { 1 };
        hashes.resize(len + pad, u64::MAX);
        RingHash {
            hashes: hashes.into_boxed_slice(),
            hosts: entries.iter().map(|e| e.1).collect(),
            buckets: buckets.into_boxed_slice(),
            shift,
            window: window as u32,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Is the ring empty?
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Bytes the ring holds on the heap: a hash and a host index per entry, and the bucket index.
    pub fn heap_bytes(&self) -> usize {
        self.hashes.len() * 8 + self.hosts.len() * 4 + self.buckets.len() * 4
    }

    /// The ring index a hash lands on: the first entry whose hash is ≥ `hash`, or 0 if there is
    /// none (Envoy's wrap-around), 0 on an empty ring.
    #[inline]
    pub fn position(&self, hash: u64) -> usize {
        let b = (hash >> self.shift) as usize;
        let first = self.buckets[b] as usize;
        let window = self.window as usize;
        let last = self.hosts.len();
        let base = if window <= LINEAR_WINDOW {
            // Sorted, so the entries below `hash` are exactly those before the answer.
            let below = self.hashes[first..first + window]
                .iter()
                .map(|&h| (h < hash) as usize)
                .sum::<usize>();
            first + below
        } else {
            // Crowded buckets (a poor hash function): a binary search over the window, halving
            // a power of two, reads past the ring clamped onto the `u64::MAX` after it.
            let mut base = first;
            let mut step = window.next_power_of_two() / 2;
            while step > 0 {
                if self.hashes[(base + step - 1).min(last)] < hash {
                    base += step;
                }
                step /= 2;
            }
            base
        };
        if base == last { 0 } else { base }
    }

    /// Envoy's `chooseHost(hash, attempt)`: the host index, or `None` on an empty ring.
    #[inline]
    pub fn choose(&self, hash: u64, attempt: u32) -> Option<(usize, usize)> {
        if self.hosts.is_empty() {
            return None;
        }
        let mut i = self.position(hash);
        if attempt > 0 {
            i = (i + attempt as usize) % self.hosts.len();
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
            detail: LbPick::Hash {
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
    use proptest::prelude::*;

    /// Envoy's `RingHashLoadBalancer::Ring::chooseHost` search, line for line (ketama's, with
    /// signed indices), kept as the reference [`RingHash::position`] must agree with.
    fn envoy_position(ring: &[u64], h: u64) -> usize {
        let mut lowp: i64 = 0;
        let mut highp: i64 = ring.len() as i64;
        let mut midp: i64;
        loop {
            midp = (lowp + highp) / 2;
            if midp == ring.len() as i64 {
                midp = 0;
                break;
            }
            let midval = ring[midp as usize];
            let midval1 = if midp == 0 {
                0
            } else {
                ring[midp as usize - 1]
            };
            if h <= midval && h > midval1 {
                break;
            }
            if midval < h {
                lowp = midp + 1;
            } else {
                highp = midp - 1;
            }
            if lowp > highp {
                midp = 0;
                break;
            }
        }
        midp as usize
    }

    fn ring_of(mut hashes: Vec<u64>) -> RingHash {
        hashes.sort_unstable();
        RingHash::from_sorted(
            hashes
                .iter()
                .enumerate()
                .map(|(i, &h)| (h, i as u32))
                .collect(),
        )
    }

    /// Hashes crowded into few values (duplicates, runs in one bucket, 0 and `u64::MAX`) or
    /// spread over the whole range.
    fn ring_hashes() -> impl Strategy<Value = Vec<u64>> {
        let crowded = prop_oneof![
            Just(0u64),
            Just(u64::MAX),
            0u64..8,
            (u64::MAX - 8)..=u64::MAX,
            any::<u64>().prop_map(|h| h & 0xF000_0000_0000_000F),
            any::<u64>(),
        ];
        prop_oneof![
            prop::collection::vec(crowded, 0..300),
            prop::collection::vec(any::<u64>(), 0..3000),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        // The bucketed search lands where Envoy's loop does, for the ring's own hashes, their
        // neighbours, the extremes and random hashes.
        #[test]
        fn position_is_envoys(hashes in ring_hashes(), extra in prop::collection::vec(any::<u64>(), 16)) {
            let ring = ring_of(hashes);
            let sorted: Vec<u64> = ring.entries().map(|e| e.0).collect();
            let mut probes = vec![0, 1, u64::MAX, u64::MAX - 1];
            probes.extend(&extra);
            for &h in &sorted {
                probes.extend([h, h.wrapping_sub(1), h.wrapping_add(1)]);
            }
            for h in probes {
                if sorted.is_empty() {
                    prop_assert_eq!(ring.position(h), 0);
                    prop_assert!(ring.choose(h, 0).is_none());
                } else {
                    let want = envoy_position(&sorted, h);
                    prop_assert_eq!(ring.position(h), want, "hash {}", h);
                    prop_assert_eq!(ring.choose(h, 3).unwrap().1, (want + 3) % sorted.len());
                }
            }
        }
    }

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
