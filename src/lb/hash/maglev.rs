//! Envoy's maglev (`maglev/maglev_lb.cc`; Eisenbud et al., NSDI 2016, §3.4).
//!
//! Hosts are sorted by their key (the `IP:PORT` string), so the table does not depend on the
//! order endpoints arrive in. Each host has `offset = xx(key) % M` and
//! `skip = xx(key, seed 1) % (M - 1) + 1`; the table is filled round by round, each host taking
//! its next free preferred slot, a host with a fraction `k` of the largest weight taking a turn
//! only every `1/k`-th round. The permutation is computed on the fly, never materialised.
//!
//! Lookup: `table[hash % M]`; a retry (`attempt > 0`) first XORs the hash with
//! `u64::MAX - attempt + 1`.

use super::super::{Host, LbPick, LoadBalancer, Pick, PickContext};
use xxhash_rust::xxh64::xxh64;

/// Envoy's default table size (a prime).
pub const DEFAULT_TABLE_SIZE: u64 = 65537;

/// The maglev lookup table.
#[derive(Clone, Debug, Default)]
pub struct Maglev {
    table: Box<[u32]>,
}

impl Maglev {
    /// Builds the table of size `table_size` (a prime; Envoy rejects others).
    pub fn build(hosts: &[Host], table_size: u64) -> Self {
        let m = table_size;
        if hosts.is_empty() || m == 0 {
            return Maglev::default();
        }
        let sum: f64 = hosts.iter().map(|h| h.weight as f64).sum();
        // Envoy's `permutation(entry)` is `(offset + skip * next) % M` with `next` counting the
        // host's probes; `slot` holds that value and steps by `skip` (mod M), which is the same
        // sequence without a division per probe.
        struct Entry {
            host: u32,
            weight: f64,
            target_weight: f64,
            slot: u64,
            skip: u64,
        }
        let mut order: Vec<usize> = (0..hosts.len()).collect();
        order.sort_by(|&a, &b| hosts[a].address.cmp(&hosts[b].address).then(a.cmp(&b)));
        let mut entries: Vec<Entry> = order
            .iter()
            .map(|&i| {
                let key = hosts[i].address.as_bytes();
                Entry {
                    host: i as u32,
                    weight: hosts[i].weight as f64 * 1.0 / sum,
                    target_weight: 0.0,
                    slot: xxh64(key, 0) % m,
                    skip: xxh64(key, 1) % (m.max(2) - 1) + 1,
                }
            })
            .collect();
        let max_w = entries.iter().map(|e| e.weight).fold(0.0f64, f64::max);
        // Probes mostly hit taken slots late in the fill; a bitmap of taken slots (8 KiB for
        // 65537) stays in L1 where the table would not.
        let mut taken = vec![0u64; (m as usize).div_ceil(64)];
        let is_taken = |taken: &[u64], c: u64| taken[(c / 64) as usize] >> (c % 64) & 1 != 0;
        let step = |e: &mut Entry| {
            e.slot += e.skip;
            if e.slot >= m {
                e.slot -= m;
            }
        };
        let mut table = vec![0u32; m as usize];
        let mut filled = 0u64;
        let mut iteration = 1u64;
        while filled < m {
            for e in entries.iter_mut() {
                if filled >= m {
                    break;
                }
                if (iteration as f64) * e.weight < e.target_weight {
                    continue;
                }
                e.target_weight += max_w;
                while is_taken(&taken, e.slot) {
                    step(e);
                }
                let c = e.slot;
                taken[(c / 64) as usize] |= 1 << (c % 64);
                table[c as usize] = e.host;
                step(e);
                filled += 1;
            }
            iteration += 1;
        }
        Maglev {
            table: table.into_boxed_slice(),
        }
    }

    /// Table size.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Is the table empty?
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Envoy's `chooseHost(hash, attempt)`: `(host, slot)`.
    #[inline]
    pub fn choose(&self, hash: u64, attempt: u32) -> Option<(usize, usize)> {
        if self.table.is_empty() {
            return None;
        }
        let h = if attempt > 0 {
            hash ^ (u64::MAX - attempt as u64 + 1)
        } else {
            hash
        };
        let slot = (h % self.table.len() as u64) as usize;
        Some((self.table[slot] as usize, slot))
    }

    /// Bytes the table holds on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.table.len() * 4
    }

    /// The table: host index per slot.
    pub fn table(&self) -> &[u32] {
        &self.table
    }
}

impl LoadBalancer for Maglev {
    fn pick(&mut self, ctx: &PickContext<'_>) -> Option<Pick> {
        let (hash, from_request) = match ctx.hash {
            Some(h) => (h, true),
            None => (ctx.random[0], false),
        };
        let (host, slot) = self.choose(hash, ctx.attempt)?;
        Some(Pick {
            host,
            detail: LbPick::Hash {
                hash,
                from_request,
                position: slot as u64,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::loopback_hosts as hosts;

    /// Envoy's fill as `maglev_lb.cc` writes it: `permutation = (offset + skip * next) % M`
    /// recomputed per probe, the table itself telling which slots are taken.
    fn envoy_table(hosts: &[Host], m: u64) -> Vec<u32> {
        let sum: f64 = hosts.iter().map(|h| h.weight as f64).sum();
        let mut order: Vec<usize> = (0..hosts.len()).collect();
        order.sort_by(|&a, &b| hosts[a].address.cmp(&hosts[b].address).then(a.cmp(&b)));
        // (host, weight, offset, skip, next, target_weight)
        let mut entries: Vec<(u32, f64, u64, u64, u64, f64)> = order
            .iter()
            .map(|&i| {
                let key = hosts[i].address.as_bytes();
                let w = hosts[i].weight as f64 * 1.0 / sum;
                (
                    i as u32,
                    w,
                    xxh64(key, 0) % m,
                    xxh64(key, 1) % (m - 1) + 1,
                    0,
                    0.0,
                )
            })
            .collect();
        let max_w = entries.iter().map(|e| e.1).fold(0.0f64, f64::max);
        let mut table = vec![u32::MAX; m as usize];
        let (mut filled, mut iteration) = (0u64, 1u64);
        while filled < m {
            for e in entries.iter_mut() {
                if filled >= m {
                    break;
                }
                if (iteration as f64) * e.1 < e.5 {
                    continue;
                }
                e.5 += max_w;
                let mut c = (e.2 + e.3 * e.4) % m;
                while table[c as usize] != u32::MAX {
                    e.4 += 1;
                    c = (e.2 + e.3 * e.4) % m;
                }
                table[c as usize] = e.0;
                e.4 += 1;
                filled += 1;
            }
            iteration += 1;
        }
        table
    }

    // The incremental fill is Envoy's, slot for slot, weighted or not, small table or large.
    #[test]
    fn fill_is_envoys() {
        let synthetic = |n: u32, weights: &[u32]| -> Vec<Host> {
            (0..n)
                .map(|i| Host {
                    address: format!("10.0.{}.{}:6379", i / 256, i % 256),
                    weight: weights.get(i as usize).copied().unwrap_or(1),
                })
                .collect()
        };
        let cases = [
            (hosts(90..96, &[]), 7),
            (hosts(90..92, &[1, 2]), 17),
            (synthetic(1, &[]), 65537),
            (synthetic(100, &[]), 65537),
            (synthetic(37, &[5, 1, 3, 1, 1, 2, 7]), 10007),
            (synthetic(1000, &[]), 65537),
            (synthetic(3000, &[2; 40]), 5003),
        ];
        for (hs, m) in cases {
            assert_eq!(
                Maglev::build(&hs, m).table(),
                envoy_table(&hs, m),
                "{} hosts, M {m}",
                hs.len()
            );
        }
    }

    // maglev_lb_test.cc `Basic` (table 7) and `BasicStability` (same after shuffling).
    #[test]
    fn envoy_basic() {
        let m = Maglev::build(&hosts(90..96, &[]), 7);
        assert_eq!(m.table(), [2, 4, 0, 1, 5, 0, 3]);
        let mut shuffled = hosts(90..96, &[]);
        shuffled.reverse();
        let m2 = Maglev::build(&shuffled, 7);
        let addr = |m: &Maglev, hs: &[Host]| {
            m.table()
                .iter()
                .map(|&i| hs[i as usize].address.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(addr(&m, &hosts(90..96, &[])), addr(&m2, &shuffled));
    }

    // `BasicWithRetryHostPredicate` (hash 10) and `Weighted` (table 17, weights 1 and 2).
    #[test]
    fn envoy_retry_and_weighted() {
        let m = Maglev::build(&hosts(90..96, &[]), 7);
        assert_eq!(m.choose(10, 0).unwrap().0, 1);
        assert_eq!(m.choose(10, 1).unwrap().0, 0);
        assert_eq!(m.choose(10, 2).unwrap().0, 5);
        let w = Maglev::build(&hosts(90..92, &[1, 2]), 17);
        assert_eq!(
            w.table(),
            [1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1]
        );
    }
}
