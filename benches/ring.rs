//! Build and lookup cost of Envoy's ring hash and maglev (the simulator's code) and of the lab's
//! comparison algorithms, side by side with the crates a Rust user would pick instead, so each
//! figure reads as a ratio against a peer measured in the same run on the same machine.
//!
//! Lookups go from a key's 8 bytes to an endpoint, each structure hashing them its own way
//! (meshsim: xxHash64 as Envoy; pingora-ketama: CRC32; maglev and jumphash: SipHash through
//! `Hash`), because that is the work a caller pays for.
//!
//! `cargo bench --bench ring`

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use meshsim::lab::{self, Algorithm, LabConfig, Placement};
use meshsim::lb::hash::maglev::Maglev;
use meshsim::lb::hash::ring_hash::RingHash;
use xxhash_rust::xxh64::xxh64;

const SIZES: [usize; 3] = [10, 100, 1000];

fn addrs(n: usize) -> Vec<SocketAddr> {
    lab::synthetic_endpoints(n, &[])
        .iter()
        .map(|h| h.address.parse().unwrap())
        .collect()
}

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("build");
    for n in SIZES {
        let hosts = lab::synthetic_endpoints(n, &[]);
        let sockets = addrs(n);
        g.bench_with_input(
            BenchmarkId::new("meshsim ring-hash min 1024", n),
            &n,
            |b, _| b.iter(|| RingHash::build(black_box(&hosts), 1024, 8 << 20)),
        );
        g.bench_with_input(
            BenchmarkId::new("meshsim ring-hash min 65536", n),
            &n,
            |b, _| b.iter(|| RingHash::build(black_box(&hosts), 65536, 8 << 20)),
        );
        g.bench_with_input(BenchmarkId::new("meshsim maglev 65537", n), &n, |b, _| {
            b.iter(|| Maglev::build(black_box(&hosts), 65537))
        });
        let buckets: Vec<_> = sockets
            .iter()
            .map(|a| pingora_ketama::Bucket::new(*a, 1))
            .collect();
        g.bench_with_input(
            BenchmarkId::new("pingora-ketama 160/host", n),
            &n,
            |b, _| b.iter(|| pingora_ketama::Continuum::new(black_box(&buckets))),
        );
        // The maglev crate materialises the whole N × M permutation (8 bytes each): half a
        // gigabyte at 1000 endpoints, so that size is left out.
        if n <= 100 {
            g.bench_with_input(BenchmarkId::new("maglev crate 65537", n), &n, |b, _| {
                b.iter(|| maglev::Maglev::with_capacity(black_box(sockets.clone()), 65537))
            });
        }
        g.bench_with_input(BenchmarkId::new("hash-rings maglev", n), &n, |b, _| {
            b.iter(|| hash_rings::maglev::Ring::new(black_box(sockets.iter().collect())))
        });
    }
    g.finish();
}

fn lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("lookup");
    let keys: Vec<[u8; 8]> = (0..4096u64).map(|i| i.to_le_bytes()).collect();
    // Per-key figures: criterion divides by the 4096 keys of one iteration.
    g.throughput(Throughput::Elements(keys.len() as u64));
    for n in SIZES {
        let hosts = lab::synthetic_endpoints(n, &[]);
        let sockets = addrs(n);
        let ring = RingHash::build(&hosts, 1024, 8 << 20);
        let table = Maglev::build(&hosts, 65537);
        g.bench_with_input(
            BenchmarkId::new("meshsim ring-hash min 1024", n),
            &n,
            |b, _| {
                b.iter(|| {
                    keys.iter()
                        .fold(0, |acc, k| acc ^ ring.choose(xxh64(k, 0), 0).unwrap().0)
                })
            },
        );
        g.bench_with_input(BenchmarkId::new("meshsim maglev 65537", n), &n, |b, _| {
            b.iter(|| {
                keys.iter()
                    .fold(0, |acc, k| acc ^ table.choose(xxh64(k, 0), 0).unwrap().0)
            })
        });
        for algorithm in [
            Algorithm::Jump,
            Algorithm::Rendezvous,
            Algorithm::MultiProbe,
        ] {
            let mut p: Box<dyn Placement> =
                lab::build(algorithm, &hosts, &LabConfig::default()).unwrap();
            g.bench_with_input(
                BenchmarkId::new(format!("meshsim {algorithm}"), n),
                &n,
                |b, _| {
                    b.iter(|| {
                        keys.iter()
                            .fold(0, |acc, k| acc ^ p.assign(xxh64(k, 0)).unwrap())
                    })
                },
            );
        }
        let buckets: Vec<_> = sockets
            .iter()
            .map(|a| pingora_ketama::Bucket::new(*a, 1))
            .collect();
        let ketama = pingora_ketama::Continuum::new(&buckets);
        g.bench_with_input(
            BenchmarkId::new("pingora-ketama 160/host", n),
            &n,
            |b, _| b.iter(|| keys.iter().fold(0, |acc, k| acc ^ ketama.node_idx(k))),
        );
        if n <= 100 {
            let mg = maglev::Maglev::with_capacity(sockets.clone(), 65537);
            g.bench_with_input(BenchmarkId::new("maglev crate 65537", n), &n, |b, _| {
                use maglev::ConsistentHasher;
                b.iter(|| {
                    keys.iter()
                        .fold(0u16, |acc, k| acc ^ mg.get(k).unwrap().port())
                })
            });
        }
        let jh = jumphash::JumpHasher::new_with_keys(0, 0);
        g.bench_with_input(BenchmarkId::new("jumphash", n), &n, |b, _| {
            b.iter(|| keys.iter().fold(0, |acc, k| acc ^ jh.slot(k, n as u32)))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = build, lookup
}
criterion_main!(benches);
