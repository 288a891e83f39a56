//! The hash-ring lab: how evenly a consistent-hashing structure spreads keys over endpoints,
//! how many keys move when the endpoint set changes, and what the structure costs.
//!
//! Envoy's ring hash and maglev are measured through the simulator's own code
//! ([`crate::lb::hash`]), so what the lab reports is what the simulated (and the real) Envoy
//! does. Jump, rendezvous, multi-probe and bounded-load hashing are here for comparison, one
//! module each, each citing the paper or source it follows.
//!
//! The lab is pure: keys, endpoints and the clock are inputs. [`study`] measures one algorithm;
//! [`envoy_bench`] reproduces Envoy's own load-balancer benchmarks; [`svg`] draws the picture.
//!
//! ```
//! use meshsim::lab::{self, Algorithm, Change, KeySpec, LabConfig};
//!
//! let hosts = lab::synthetic_endpoints(10, &[]);
//! let keys = KeySpec::uniform(10_000).generate();
//! let mut clock = || 0u64; // no timings in a doc test
//! let report = lab::study(Algorithm::Maglev, &hosts, &keys, &LabConfig::default(),
//!                         &[Change::Add(1)], &mut clock).unwrap();
//! assert_eq!(report.load.keys, 10_000);
//! // Maglev at 65537 slots is close to the ideal 1/11 disruption when one endpoint joins.
//! assert!(report.disruption[0].moved < 1.2 * report.disruption[0].ideal);
//! ```

pub mod bounded_load;
pub mod envoy_bench;
pub mod jump;
pub mod keys;
pub mod multi_probe;
pub mod rendezvous;
pub mod stats;
pub mod svg;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::lb::Host;
use crate::lb::hash::maglev::{self, Maglev};
use crate::lb::hash::ring_hash::{self, RingHash};

pub use keys::{KeyDist, KeyHash, KeySpec};
pub use stats::LoadStats;

/// A structure that places keys (64-bit key hashes) on endpoints.
///
/// `assign` takes `&mut self` because bounded-load hashing depends on the load placed so far;
/// the stateless algorithms ignore that.
pub trait Placement {
    /// The endpoint index for a key, or `None` when there are no endpoints.
    fn assign(&mut self, key: u64) -> Option<usize>;
    /// Bytes the structure holds (its tables; not allocator overhead).
    fn memory_bytes(&self) -> usize;
    /// Forgets load accumulated by `assign` (bounded load only).
    fn reset(&mut self) {}
}

impl Placement for RingHash {
    fn assign(&mut self, key: u64) -> Option<usize> {
        self.choose(key, 0).map(|(h, _)| h)
    }
    fn memory_bytes(&self) -> usize {
        // A u64 hash and a u32 host index per entry (Envoy: 24 bytes, hash and shared pointer),
        // and the bucket index that spares lookups a binary search.
        std::mem::size_of::<Self>() + self.heap_bytes()
    }
}

impl Placement for Maglev {
    fn assign(&mut self, key: u64) -> Option<usize> {
        self.choose(key, 0).map(|(h, _)| h)
    }
    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.heap_bytes()
    }
}

/// The algorithms the lab compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// Envoy's `RING_HASH` (ketama).
    RingHash,
    /// Envoy's `MAGLEV`.
    Maglev,
    /// Lamping–Veach jump hash.
    Jump,
    /// Rendezvous (highest random weight).
    Rendezvous,
    /// Multi-probe consistent hashing.
    MultiProbe,
    /// Envoy's bounded-load hashing (`hash_balance_factor`) over ring hash or maglev.
    BoundedLoad,
}

impl Algorithm {
    /// Every algorithm, in the order comparison tables list them.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::RingHash,
        Algorithm::Maglev,
        Algorithm::Jump,
        Algorithm::Rendezvous,
        Algorithm::MultiProbe,
        Algorithm::BoundedLoad,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RingHash => "ring-hash",
            Algorithm::Maglev => "maglev",
            Algorithm::Jump => "jump",
            Algorithm::Rendezvous => "rendezvous",
            Algorithm::MultiProbe => "multi-probe",
            Algorithm::BoundedLoad => "bounded-load",
        }
    }

    /// Whether removing an endpoint moves only the keys it held (so no key moves between two
    /// endpoints that both survive). Envoy's ring rescales every host's point count when the
    /// host count changes, and maglev refills the table, so neither promises it.
    pub fn removal_is_minimal(self) -> bool {
        matches!(self, Algorithm::Jump | Algorithm::Rendezvous)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Algorithm::ALL.iter().map(|a| a.name()).collect();
                format!(
                    "unknown algorithm `{s}`; expected one of {} or all",
                    names.join(", ")
                )
            })
    }
}

/// Parameters of the structures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LabConfig {
    /// Ring hash `minimum_ring_size` (Envoy default 1024).
    pub minimum_ring_size: u64,
    /// Ring hash `maximum_ring_size` (Envoy default 8M).
    pub maximum_ring_size: u64,
    /// Maglev `table_size` (Envoy default 65537; must be prime).
    pub table_size: u64,
    /// Multi-probe probes per lookup.
    pub probes: u32,
    /// Bounded load: `hash_balance_factor` in percent.
    pub hash_balance_factor: u32,
    /// Bounded load: the base structure (ring hash or maglev).
    pub bounded_base: Algorithm,
}

impl Default for LabConfig {
    fn default() -> Self {
        LabConfig {
            minimum_ring_size: ring_hash::DEFAULT_MINIMUM_RING_SIZE,
            maximum_ring_size: ring_hash::DEFAULT_MAXIMUM_RING_SIZE,
            table_size: maglev::DEFAULT_TABLE_SIZE,
            probes: multi_probe::DEFAULT_PROBES,
            hash_balance_factor: 125,
            bounded_base: Algorithm::RingHash,
        }
    }
}

/// The lab's algorithm and sizes for a cluster's Envoy policy (ring hash or maglev), other
/// parameters taken from `base`; `None` for balancers that do not hash.
pub fn for_policy(lb: crate::lb::LbPolicy, base: &LabConfig) -> Option<(Algorithm, LabConfig)> {
    use crate::lb::LbPolicy;
    match lb {
        LbPolicy::RingHash {
            minimum_ring_size,
            maximum_ring_size,
        } => Some((
            Algorithm::RingHash,
            LabConfig {
                minimum_ring_size,
                maximum_ring_size,
                ..base.clone()
            },
        )),
        LbPolicy::Maglev { table_size } => Some((
            Algorithm::Maglev,
            LabConfig {
                table_size,
                ..base.clone()
            },
        )),
        _ => None,
    }
}

/// Why a structure cannot be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabError(pub String);

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LabError {}

/// Envoy's benchmark endpoints: `10.0.{i/256}.{i%256}:6379`, with optional weights (missing
/// entries weigh 1).
pub fn synthetic_endpoints(n: usize, weights: &[u32]) -> Vec<Host> {
    (0..n)
        .map(|i| Host {
            address: format!("10.0.{}.{}:6379", i / 256, i % 256),
            weight: weights.get(i).copied().unwrap_or(1).max(1),
        })
        .collect()
}

/// Builds the structure for an algorithm.
pub fn build(
    algorithm: Algorithm,
    hosts: &[Host],
    config: &LabConfig,
) -> Result<Box<dyn Placement>, LabError> {
    if hosts.is_empty() {
        return Err(LabError("no endpoints to place keys on".into()));
    }
    let weighted = hosts.windows(2).any(|w| w[0].weight != w[1].weight);
    Ok(match algorithm {
        Algorithm::RingHash => Box::new(RingHash::build(
            hosts,
            config.minimum_ring_size,
            config.maximum_ring_size,
        )),
        Algorithm::Maglev => Box::new(Maglev::build(hosts, config.table_size)),
        Algorithm::Jump if weighted => {
            return Err(LabError(
                "jump hash has no weights (given by --weights or --reweight)".into(),
            ));
        }
        Algorithm::Jump => Box::new(jump::Jump::new(hosts.len())),
        Algorithm::Rendezvous => Box::new(rendezvous::Rendezvous::new(hosts)),
        Algorithm::MultiProbe => Box::new(multi_probe::MultiProbe::new(hosts, config.probes)),
        Algorithm::BoundedLoad => {
            let base = match config.bounded_base {
                Algorithm::Maglev => {
                    bounded_load::Base::Maglev(Maglev::build(hosts, config.table_size))
                }
                Algorithm::RingHash => bounded_load::Base::RingHash(RingHash::build(
                    hosts,
                    config.minimum_ring_size,
                    config.maximum_ring_size,
                )),
                other => {
                    return Err(LabError(format!(
                        "bounded load runs over ring-hash or maglev, not {other}"
                    )));
                }
            };
            Box::new(bounded_load::BoundedLoad::new(
                base,
                hosts,
                config.hash_balance_factor,
            ))
        }
    })
}

/// A change to the endpoint set whose disruption is measured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Append this many endpoints (the next synthetic addresses).
    Add(usize),
    /// Remove this many endpoints from the end (the only removal jump hash supports, and what
    /// Envoy's host-loss benchmark does).
    Remove(usize),
    /// Set endpoint `index`'s weight.
    Reweight {
        /// Endpoint index.
        index: usize,
        /// New weight.
        weight: u32,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Add(n) => write!(f, "add {n}"),
            Change::Remove(n) => write!(f, "remove {n}"),
            Change::Reweight { index, weight } => write!(f, "reweight {index}={weight}"),
        }
    }
}

impl Change {
    /// The endpoint set after the change (indices of surviving endpoints are kept).
    pub fn apply(&self, hosts: &[Host]) -> Result<Vec<Host>, LabError> {
        let mut after = hosts.to_vec();
        match *self {
            Change::Add(n) => {
                // Next addresses in the same family; for a mesh's endpoints, new synthetic ones
                // that cannot collide with 10.0.x.y.
                for i in hosts.len()..hosts.len() + n {
                    after.push(Host {
                        address: format!(
                            "10.{}.{}.{}:6379",
                            64 + i / 65536,
                            (i / 256) % 256,
                            i % 256
                        ),
                        weight: 1,
                    });
                }
            }
            Change::Remove(n) => {
                if n >= hosts.len() {
                    return Err(LabError(format!(
                        "cannot remove {n} of {} endpoints: at least one must remain",
                        hosts.len()
                    )));
                }
                after.truncate(hosts.len() - n);
            }
            Change::Reweight { index, weight } => {
                let Some(h) = after.get_mut(index) else {
                    return Err(LabError(format!(
                        "cannot reweight endpoint {index}: there are {} (0..{})",
                        hosts.len(),
                        hosts.len()
                    )));
                };
                h.weight = weight.max(1);
            }
        }
        Ok(after)
    }
}

impl FromStr for Change {
    type Err = String;
    /// `add:N`, `remove:N` or `reweight:I=W`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("bad change `{s}`; expected add:N, remove:N or reweight:I=W");
        let (kind, arg) = s.split_once(':').ok_or_else(bad)?;
        match kind {
            "add" => arg.parse().map(Change::Add).map_err(|_| bad()),
            "remove" => arg.parse().map(Change::Remove).map_err(|_| bad()),
            "reweight" => {
                let (i, w) = arg.split_once('=').ok_or_else(bad)?;
                Ok(Change::Reweight {
                    index: i.parse().map_err(|_| bad())?,
                    weight: w.parse().map_err(|_| bad())?,
                })
            }
            _ => Err(bad()),
        }
    }
}

/// The keys that moved for one change.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Disruption {
    /// What changed.
    pub change: Change,
    /// Fraction of keys whose endpoint changed.
    pub moved: f64,
    /// The least any algorithm must move: the total-variation distance between the weight
    /// shares before and after (1/(N+1) when one of N+1 equal endpoints joins).
    pub ideal: f64,
    /// `moved / ideal`.
    pub ratio: f64,
    /// Fraction of keys that moved between two endpoints present (with unchanged weight) both
    /// before and after: movement the ideal never needs.
    pub between_survivors: f64,
}

/// Everything the lab measured for one algorithm.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlgorithmReport {
    /// Which algorithm.
    pub algorithm: Algorithm,
    /// Load per endpoint, summarised.
    pub load: LoadStats,
    /// Keys per endpoint, in endpoint order.
    pub hits: Vec<u64>,
    /// Bytes the structure holds.
    pub memory_bytes: usize,
    /// Build time (ns, by the caller's clock).
    pub build_ns: u64,
    /// Lookup time per key (ns, by the caller's clock).
    pub lookup_ns_per_key: f64,
    /// Disruption per requested change.
    pub disruption: Vec<Disruption>,
}

/// Places every key and counts hits per endpoint.
pub fn assign_all(p: &mut dyn Placement, keys: &[u64], endpoints: usize) -> Vec<u32> {
    p.reset();
    keys.iter()
        .map(|&k| {
            p.assign(k)
                .map_or(u32::MAX, |e| e.min(endpoints - 1) as u32)
        })
        .collect()
}

/// Measures one algorithm: builds it over `hosts`, places `keys`, and for each change rebuilds
/// and counts moved keys. `clock` returns nanoseconds (the caller's; tests pass a fake).
pub fn study(
    algorithm: Algorithm,
    hosts: &[Host],
    keys: &[u64],
    config: &LabConfig,
    changes: &[Change],
    clock: &mut dyn FnMut() -> u64,
) -> Result<AlgorithmReport, LabError> {
    let t0 = clock();
    let mut placement = build(algorithm, hosts, config)?;
    let t1 = clock();
    let before = assign_all(placement.as_mut(), keys, hosts.len());
    let t2 = clock();
    let mut hits = vec![0u64; hosts.len()];
    for &e in &before {
        hits[e as usize] += 1;
    }
    let weights: Vec<u32> = hosts.iter().map(|h| h.weight).collect();
    let load = LoadStats::new(&hits, &weights);
    let mut disruption = Vec::with_capacity(changes.len());
    for change in changes {
        let after_hosts = change.apply(hosts)?;
        let mut p = build(algorithm, &after_hosts, config)?;
        let after = assign_all(p.as_mut(), keys, after_hosts.len());
        disruption.push(measure_disruption(
            change,
            hosts,
            &after_hosts,
            &before,
            &after,
        ));
    }
    Ok(AlgorithmReport {
        algorithm,
        load,
        hits,
        memory_bytes: placement.memory_bytes(),
        build_ns: t1.saturating_sub(t0),
        lookup_ns_per_key: t2.saturating_sub(t1) as f64 / keys.len().max(1) as f64,
        disruption,
    })
}

fn measure_disruption(
    change: &Change,
    before_hosts: &[Host],
    after_hosts: &[Host],
    before: &[u32],
    after: &[u32],
) -> Disruption {
    let share = |hs: &[Host], i: usize| -> f64 {
        let sum: f64 = hs.iter().map(|h| h.weight as f64).sum();
        hs.get(i).map_or(0.0, |h| h.weight as f64 / sum)
    };
    let n = before_hosts.len().max(after_hosts.len());
    let ideal: f64 = (0..n)
        .map(|i| (share(before_hosts, i) - share(after_hosts, i)).max(0.0))
        .sum();
    let stable = |i: u32| -> bool {
        let i = i as usize;
        i < before_hosts.len()
            && i < after_hosts.len()
            && before_hosts[i].weight == after_hosts[i].weight
    };
    let (mut moved, mut between) = (0u64, 0u64);
    for (&b, &a) in before.iter().zip(after) {
        if b != a {
            moved += 1;
            if stable(a) && stable(b) {
                between += 1;
            }
        }
    }
    let k = before.len().max(1) as f64;
    let moved = moved as f64 / k;
    Disruption {
        change: change.clone(),
        moved,
        ideal,
        ratio: if ideal > 0.0 { moved / ideal } else { 0.0 },
        between_survivors: between as f64 / k,
    }
}
