//! Build and lookup cost of Envoy's ring hash and maglev (the simulator's code) and of the lab's
//! comparison algorithms, side by side with the crates a Rust user would pick instead, so each
//! figure reads as a ratio against a peer measured in the same run on the same machine.
//!
//! Lookups go from a key's 8 bytes to an endpoint, each structure hashing them its own way
//! (meshsim: xxHash64 as Envoy; pingora-ketama: CRC32; maglev, hash-rings, jumphash and
//! anchorhash: SipHash through `Hash`), because that is the work a caller pays for. The ring
//! hash is also measured at ketama's size (160 points per endpoint, `min = max = 160·N`), where
//! the two searches compare like for like; the maglev table against a bare `table[h % M]` over
//! the same `Box<[u32]>`, the floor any maglev lookup can reach.
//!
//! `cargo bench --bench ring`

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use meshsim::lab::{self, Algorithm, LabConfig, Placement};
use meshsim::lb::hash::maglev::Maglev;
use meshsim::lb::hash::ring_hash::RingHash;
use std::hash::Hasher;
use xxhash_rust::xxh64::{Xxh64, xxh64};

const SIZES: [usize; 3] = [10, 100, 1000];
/// Envoy's default maglev table, used for every maglev here.
const M: u64 = 65537;
/// Points per endpoint on a ketama ring (pingora-ketama's `Version::V1`).
const KETAMA_POINTS: u64 = 160;

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
        let points = KETAMA_POINTS * n as u64;
        g.bench_with_input(
            BenchmarkId::new("meshsim ring-hash min 1024", n),
            &n,
            |b, _| b.iter(|| RingHash::build(black_box(&hosts), 1024, 8 << 20)),
        );
        g.bench_with_input(
            BenchmarkId::new("meshsim ring-hash 160/host", n),
            &n,
            |b, _| b.iter(|| RingHash::build(black_box(&hosts), points, points)),
        );
        g.bench_with_input(BenchmarkId::new("meshsim maglev 65537", n), &n, |b, _| {
            b.iter(|| Maglev::build(black_box(&hosts), M))
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
        // Both maglev crates materialise the N × M permutation (8 bytes a slot, 0.5 GB at 1000
        // endpoints): slow and large, but it fits, so every size is measured.
        g.bench_with_input(BenchmarkId::new("maglev crate 65537", n), &n, |b, _| {
            b.iter(|| maglev::Maglev::with_capacity(black_box(sockets.clone()), M as usize))
        });
        g.bench_with_input(
            BenchmarkId::new("hash-rings maglev 65537", n),
            &n,
            |b, _| {
                b.iter(|| {
                    hash_rings::maglev::Ring::with_capacity_hint(
                        black_box(sockets.iter().collect()),
                        M as usize,
                    )
                })
            },
        );
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
        let points = KETAMA_POINTS * n as u64;
        let ring = RingHash::build(&hosts, 1024, 8 << 20);
        let ring160 = RingHash::build(&hosts, points, points);
        assert_eq!(ring160.len() as u64, points);
        let table = Maglev::build(&hosts, M);
        let mut ring_bench = |name: &str, ring: &RingHash| {
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| {
                    keys.iter()
                        .fold(0, |acc, k| acc ^ ring.choose(xxh64(k, 0), 0).unwrap().0)
                })
            });
        };
        ring_bench("meshsim ring-hash min 1024", &ring);
        ring_bench("meshsim ring-hash 160/host", &ring160);
        g.bench_with_input(BenchmarkId::new("meshsim maglev 65537", n), &n, |b, _| {
            b.iter(|| {
                keys.iter()
                    .fold(0, |acc, k| acc ^ table.choose(xxh64(k, 0), 0).unwrap().0)
            })
        });
        let bare: Box<[u32]> = table.table().into();
        // Read at run time, as a table's length is, so `%` stays a division as in `choose`.
        let m = black_box(bare.len() as u64);
        g.bench_with_input(BenchmarkId::new("bare table[h % M]", n), &n, |b, _| {
            b.iter(|| {
                keys.iter()
                    .fold(0, |acc, k| acc ^ bare[(xxh64(k, 0) % m) as usize])
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
        // `node_idx` stops at the point's index, short of the endpoint `choose` returns: the
        // cheapest lookup the crate offers.
        g.bench_with_input(
            BenchmarkId::new("pingora-ketama 160/host", n),
            &n,
            |b, _| b.iter(|| keys.iter().fold(0, |acc, k| acc ^ ketama.node_idx(k))),
        );
        let mg = maglev::Maglev::with_capacity(sockets.clone(), M as usize);
        g.bench_with_input(BenchmarkId::new("maglev crate 65537", n), &n, |b, _| {
            use maglev::ConsistentHasher;
            b.iter(|| {
                keys.iter()
                    .fold(0u16, |acc, k| acc ^ mg.get(k).unwrap().port())
            })
        });
        drop(mg);
        let hr = hash_rings::maglev::Ring::with_capacity_hint(sockets.iter().collect(), M as usize);
        g.bench_with_input(
            BenchmarkId::new("hash-rings maglev 65537", n),
            &n,
            |b, _| b.iter(|| keys.iter().fold(0u16, |acc, k| acc ^ hr.get_node(k).port())),
        );
        drop(hr);
        // anchorhash's default `RandomState` (SipHash-1-3): what a user gets without choosing.
        let anchor: anchorhash::AnchorHash<&[u8; 8], SocketAddr, _> =
            anchorhash::Builder::default()
                .with_resources(sockets.iter().copied())
                .build(n as u16);
        g.bench_with_input(BenchmarkId::new("anchorhash", n), &n, |b, _| {
            b.iter(|| {
                keys.iter()
                    .fold(0u16, |acc, k| acc ^ anchor.get_resource(k).unwrap().port())
            })
        });
        let jh = jumphash::JumpHasher::new_with_keys(0, 0);
        g.bench_with_input(BenchmarkId::new("jumphash", n), &n, |b, _| {
            b.iter(|| keys.iter().fold(0, |acc, k| acc ^ jh.slot(k, n as u32)))
        });
    }
    g.finish();
}

// ===== xxHash64: one-shot on bytes against the same hash through `std::hash::Hasher` =====
// (`Xxh64`, `write` then `finish`) on 8-, 16- and 32-byte keys: why the hot paths call the
// one-shot function, as Envoy's `HashUtil::xxHash64` does.

fn keys<const N: usize>() -> Vec<[u8; N]> {
    (0..4096u64)
        .map(|i| {
            let mut k = [0u8; N];
            for (j, c) in k.chunks_mut(8).enumerate() {
                c.copy_from_slice(&(i ^ (j as u64) << 32).to_le_bytes()[..c.len()]);
            }
            k
        })
        .collect()
}

fn streaming(k: &[u8]) -> u64 {
    let mut h = Xxh64::new(0);
    h.write(k);
    h.finish()
}

fn group<const N: usize>(c: &mut Criterion) {
    let keys = keys::<N>();
    assert!(keys.iter().all(|k| xxh64(k, 0) == streaming(k)));
    let mut g = c.benchmark_group("xxh64");
    // Per-key figures: criterion divides by the 4096 keys of one iteration.
    g.throughput(Throughput::Elements(keys.len() as u64));
    g.bench_with_input(BenchmarkId::new("one-shot xxh64(bytes)", N), &N, |b, _| {
        b.iter(|| keys.iter().fold(0, |acc, k| acc ^ xxh64(black_box(k), 0)))
    });
    g.bench_with_input(
        BenchmarkId::new("Xxh64 Hasher write+finish", N),
        &N,
        |b, _| b.iter(|| keys.iter().fold(0, |acc, k| acc ^ streaming(black_box(k)))),
    );
    g.finish();
}

fn xxhash(c: &mut Criterion) {
    group::<8>(c);
    group::<16>(c);
    group::<32>(c);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = build, lookup, xxhash
}
criterion_main!(benches);
