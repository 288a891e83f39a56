//! Envoy's own load-balancer benchmarks, reproduced: the same endpoints, keys and statistics as
//! `test/extensions/load_balancing_policies/{ring_hash,maglev}/*_lb_benchmark.cc` (with
//! `common/benchmark_base_tester.h`), printed under Envoy's counter names so the figures can be
//! set beside the ones Envoy's maintainers posted (ring 100/65536/100000:
//! `relative_stddev_hits=0.0449153`, PR #5846).
//!
//! Endpoints are `10.0.{i/256}.{i%256}:6379`, keys `hashInt(i)` = xxHash64 of the 8 bytes of `i`
//! (seed 0); the structures are the simulator's own ring and table.

use serde::Serialize;

use super::{Placement, synthetic_endpoints};
use crate::lb::Host;
use crate::lb::hash::maglev::{DEFAULT_TABLE_SIZE, Maglev};
use crate::lb::hash::ring_hash::{DEFAULT_MAXIMUM_RING_SIZE, RingHash};

/// One benchmark run: its Envoy name (`benchmarkX/args`) and counters.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchRow {
    /// `RingHashLoadBalancerChooseHost/100/65536/100000` and so on.
    pub name: String,
    /// Counters in Envoy's order.
    pub counters: Vec<(String, f64)>,
}

fn hash_int(i: u64) -> u64 {
    xxhash_rust::xxh64::xxh64(&i.to_le_bytes(), 0)
}

/// `computeHitStats`: mean, population stddev, and their ratio over the hosts that were hit
/// (Envoy's map only holds hosts that got a key).
fn hit_stats(hits: &[u64]) -> Vec<(String, f64)> {
    let hit: Vec<f64> = hits.iter().filter(|&&h| h > 0).map(|&h| h as f64).collect();
    let n = hit.len() as f64;
    let mean = hit.iter().sum::<f64>() / n;
    let stddev = (hit.iter().map(|h| (h - mean).powi(2)).sum::<f64>() / n).sqrt();
    vec![
        ("mean_hits".into(), mean),
        ("stddev_hits".into(), stddev),
        ("relative_stddev_hits".into(), stddev / mean),
    ]
}

fn choose_host(p: &mut dyn Placement, hosts: usize, keys: u64) -> Vec<(String, f64)> {
    let mut hits = vec![0u64; hosts];
    for i in 0..keys {
        if let Some(h) = p.assign(hash_int(i)) {
            hits[h] += 1;
        }
    }
    hit_stats(&hits)
}

fn different(
    a: &mut dyn Placement,
    b: &mut dyn Placement,
    ha: &[Host],
    hb: &[Host],
    keys: u64,
) -> f64 {
    let mut n = 0u64;
    for i in 0..keys {
        let k = hash_int(i);
        let (x, y) = (a.assign(k), b.assign(k));
        // Envoy compares address strings.
        if x.map(|x| &ha[x].address) != y.map(|y| &hb[y].address) {
            n += 1;
        }
    }
    n as f64 / keys as f64 * 100.0
}

fn ring(hosts: &[Host], min_ring: u64) -> RingHash {
    RingHash::build(hosts, min_ring, DEFAULT_MAXIMUM_RING_SIZE)
}

/// `BaseTester(num_hosts, weighted_subset_percent, weight)`: the first `percent`% of hosts
/// weigh `weight`.
fn weighted_hosts(n: u64, percent: u64, weight: u32) -> Vec<Host> {
    let mut hosts = synthetic_endpoints(n as usize, &[]);
    for (i, h) in hosts.iter_mut().enumerate() {
        if (i as f64) < n as f64 * (percent as f64 / 100.0) {
            h.weight = weight.max(1);
        }
    }
    hosts
}

/// Every distribution and disruption benchmark of Envoy's ring-hash and maglev suites, with
/// Envoy's arguments.
pub fn run() -> Vec<BenchRow> {
    let mut rows = Vec::new();
    for &min_ring in &[65536u64, 256000] {
        for &n in &[100u64, 200, 500] {
            let hosts = synthetic_endpoints(n as usize, &[]);
            rows.push(BenchRow {
                name: format!("RingHashLoadBalancerChooseHost/{n}/{min_ring}/100000"),
                counters: choose_host(&mut ring(&hosts, min_ring), hosts.len(), 100_000),
            });
        }
    }
    for &min_ring in &[65536u64, 256000] {
        for lose in 1..=3u64 {
            let a = synthetic_endpoints(500, &[]);
            let b = synthetic_endpoints(500 - lose as usize, &[]);
            let pct = different(
                &mut ring(&a, min_ring),
                &mut ring(&b, min_ring),
                &a,
                &b,
                10_000,
            );
            rows.push(BenchRow {
                name: format!("RingHashLoadBalancerHostLoss/500/{min_ring}/{lose}/10000"),
                counters: vec![
                    ("percent_different".into(), pct),
                    (
                        "host_loss_over_N_optimal".into(),
                        lose as f64 / 500.0 * 100.0,
                    ),
                ],
            });
        }
    }
    for &n in &[100u64, 200, 500] {
        let hosts = synthetic_endpoints(n as usize, &[]);
        let mut table = Maglev::build(&hosts, DEFAULT_TABLE_SIZE);
        rows.push(BenchRow {
            name: format!("MaglevLoadBalancerChooseHost/{n}/100000"),
            counters: choose_host(&mut table, hosts.len(), 100_000),
        });
    }
    for lose in 1..=3u64 {
        let a = synthetic_endpoints(500, &[]);
        let b = synthetic_endpoints(500 - lose as usize, &[]);
        let mut ta = Maglev::build(&a, DEFAULT_TABLE_SIZE);
        let mut tb = Maglev::build(&b, DEFAULT_TABLE_SIZE);
        rows.push(BenchRow {
            name: format!("MaglevLoadBalancerHostLoss/500/{lose}/10000"),
            counters: vec![
                (
                    "percent_different".into(),
                    different(&mut ta, &mut tb, &a, &b, 10_000),
                ),
                (
                    "host_loss_over_N_optimal".into(),
                    lose as f64 / 500.0 * 100.0,
                ),
            ],
        });
    }
    let weighted = [
        (5u64, 1u32, 1u32, 10_000u64),
        (5, 1, 127, 1000),
        (5, 127, 1, 10_000),
        (50, 1, 127, 1000),
        (50, 127, 1, 10_000),
        (95, 1, 127, 1000),
        (95, 127, 1, 10_000),
        (95, 25, 75, 1000),
        (95, 75, 25, 10_000),
    ];
    for (pct, w0, w1, keys) in weighted {
        let a = weighted_hosts(500, pct, w0);
        let b = weighted_hosts(500, pct, w1);
        let mut ta = Maglev::build(&a, DEFAULT_TABLE_SIZE);
        let mut tb = Maglev::build(&b, DEFAULT_TABLE_SIZE);
        let share = |w: u32| {
            let wh = pct as f64;
            100.0 * (wh * w as f64) / (wh * w as f64 + (100.0 - wh))
        };
        rows.push(BenchRow {
            name: format!("MaglevLoadBalancerWeighted/500/{pct}/{w0}/{w1}/{keys}"),
            counters: vec![
                (
                    "percent_different".into(),
                    different(&mut ta, &mut tb, &a, &b, keys),
                ),
                (
                    "optimal_percent_different".into(),
                    (share(w0) - share(w1)).abs(),
                ),
            ],
        });
    }
    rows
}

/// A number as Google Benchmark prints a counter's digits: six significant digits, trailing
/// zeros dropped (C's `%g`).
pub fn format_g(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let exp = x.abs().log10().floor() as i32;
    if !(-5..6).contains(&exp) {
        let s = format!("{:.5e}", x);
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = m.trim_end_matches('0').trim_end_matches('.');
        let e: i32 = e.parse().unwrap_or(0);
        return format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (5 - exp).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_format() {
        assert_eq!(format_g(0.044915312), "0.0449153");
        assert_eq!(format_g(1000.0), "1000");
        assert_eq!(format_g(44.91531), "44.9153");
        assert_eq!(format_g(0.2), "0.2");
        assert_eq!(format_g(1234567.0), "1.23457e+06");
    }
}
