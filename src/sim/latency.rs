//! Latency distribution with bounded memory: exact values while there are few distinct ones
//! (fixed latencies, timeouts), a log-linear histogram (1/64 relative precision) beyond.

use std::collections::BTreeMap;

const EXACT_LIMIT: usize = 4096;

/// Client-observed latencies, in nanoseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Latencies {
    exact: BTreeMap<u64, u64>,
    hist: Option<Vec<u64>>,
    count: u64,
    max: u64,
}

fn index(v: u64) -> usize {
    if v < 128 {
        return v as usize;
    }
    let e = 63 - v.leading_zeros() as usize;
    let sub = ((v >> (e - 6)) & 63) as usize;
    128 + (e - 7) * 64 + sub
}

fn lower(i: usize) -> u64 {
    if i < 128 {
        return i as u64;
    }
    let e = (i - 128) / 64 + 7;
    let sub = ((i - 128) % 64) as u64;
    (64 + sub) << (e - 6)
}

impl Latencies {
    /// Adds one value.
    pub fn record(&mut self, ns: u64) {
        self.record_n(ns, 1);
    }

    /// Adds a value `n` times.
    pub fn record_n(&mut self, ns: u64, n: u64) {
        if n == 0 {
            return;
        }
        self.count += n;
        self.max = self.max.max(ns);
        match &mut self.hist {
            Some(h) => h[index(ns)] += n,
            None => {
                *self.exact.entry(ns).or_default() += n;
                if self.exact.len() > EXACT_LIMIT {
                    let mut h = vec![0u64; index(u64::MAX) + 1];
                    for (v, c) in std::mem::take(&mut self.exact) {
                        h[index(v)] += c;
                    }
                    self.hist = Some(h);
                }
            }
        }
    }

    /// Merges another distribution.
    pub fn merge(&mut self, o: &Latencies) {
        match &o.hist {
            None => {
                for (v, c) in &o.exact {
                    self.record_n(*v, *c);
                }
            }
            Some(h) => {
                for (i, c) in h.iter().enumerate() {
                    self.record_n(lower(i), *c);
                }
                self.max = self.max.max(o.max);
            }
        }
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The largest value.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Nearest-rank percentile (`p` in 0..=100): exact while values are few, else the lower
    /// bound of the histogram bucket.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        match &self.hist {
            None => {
                for (v, c) in &self.exact {
                    seen += c;
                    if seen >= rank {
                        return *v;
                    }
                }
            }
            Some(h) => {
                for (i, c) in h.iter().enumerate() {
                    seen += c;
                    if seen >= rank {
                        return lower(i);
                    }
                }
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_percentiles_with_few_values() {
        let mut l = Latencies::default();
        for _ in 0..90 {
            l.record(1_000_000_000);
        }
        for _ in 0..10 {
            l.record(5_000_000_000);
        }
        assert_eq!(l.percentile(50.0), 1_000_000_000);
        assert_eq!(l.percentile(90.0), 1_000_000_000);
        assert_eq!(l.percentile(91.0), 5_000_000_000);
        assert_eq!(l.max(), 5_000_000_000);
    }

    #[test]
    fn histogram_has_bounded_relative_error() {
        let mut l = Latencies::default();
        for v in 0..100_000u64 {
            l.record(v * 1000 + 7);
        }
        let p50 = l.percentile(50.0) as f64;
        let exact = 50_000.0 * 1000.0;
        assert!((p50 - exact).abs() / exact < 1.0 / 64.0 + 1e-3, "{p50}");
        for v in [0u64, 1, 127, 128, 1000, 1 << 40, u64::MAX] {
            assert!(lower(index(v)) <= v);
        }
    }
}
