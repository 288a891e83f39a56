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

use super::super::{Host, LoadBalancer, Pick, PickContext, PickDetail};
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
        struct Entry {
            host: u32,
            weight: f64,
            offset: u64,
            skip: u64,
            next: u64,
            target_weight: f64,
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
                    offset: xxh64(key, 0) % m,
                    skip: xxh64(key, 1) % (m.max(2) - 1) + 1,
                    next: 0,
                    target_weight: 0.0,
                }
            })
            .collect();
        let max_w = entries.iter().map(|e| e.weight).fold(0.0f64, f64::max);
        const EMPTY: u32 = u32::MAX;
        let mut table = vec![EMPTY; m as usize];
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
                let mut c = (e.offset.wrapping_add(e.skip.wrapping_mul(e.next))) % m;
                while table[c as usize] != EMPTY {
                    e.next += 1;
                    c = (e.offset.wrapping_add(e.skip.wrapping_mul(e.next))) % m;
                }
                table[c as usize] = e.host;
                e.next += 1;
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
            detail: PickDetail::Hash {
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
