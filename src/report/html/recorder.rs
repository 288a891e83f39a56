//! What the HTML report needs beyond the [`Summary`](crate::sim::Summary): the traffic graph's
//! edges with their status mix, and a timeline. Memory is bounded: the graph grows with the
//! configuration, the timeline holds at most [`MAX_BUCKETS`] buckets, doubling their width when
//! the stream outgrows them.

use std::collections::BTreeMap;

use crate::sim::Decision;
use crate::sim::{Latencies, RuleRef, short_host};

/// Most buckets on the time axis.
pub const MAX_BUCKETS: usize = 60;

/// Requests over one edge of the graph, by outcome.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Edge {
    /// Requests.
    pub requests: u64,
    /// Answered with 2xx or 3xx.
    pub ok: u64,
    /// Answered with 5xx.
    pub server_errors: u64,
}

impl Edge {
    fn add(&mut self, status: u16) {
        self.requests += 1;
        if (200..400).contains(&status) {
            self.ok += 1;
        } else if status >= 500 {
            self.server_errors += 1;
        }
    }

    /// Share of requests answered 2xx/3xx.
    pub fn success_rate(&self) -> f64 {
        if self.requests == 0 {
            1.0
        } else {
            self.ok as f64 / self.requests as f64
        }
    }
}

/// One slice of the time axis.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bucket {
    /// Requests that arrived in it.
    pub requests: u64,
    /// Of which succeeded (2xx/3xx).
    pub ok: u64,
    /// Tries made (first tries and retries).
    pub tries: u64,
    /// Requests per destination label.
    pub destinations: BTreeMap<String, u64>,
    /// Client-observed latency.
    pub latency: Latencies,
}

impl Bucket {
    fn merge(&mut self, o: &Bucket) {
        self.requests += o.requests;
        self.ok += o.ok;
        self.tries += o.tries;
        for (k, v) in &o.destinations {
            *self.destinations.entry(k.clone()).or_default() += v;
        }
        self.latency.merge(&o.latency);
    }
}

/// Collects edges and the timeline from decisions.
#[derive(Clone, Debug)]
pub struct Recorder {
    /// Client → route.
    pub client_route: BTreeMap<String, Edge>,
    /// Route → destination.
    pub route_destination: BTreeMap<(String, String), Edge>,
    /// Destination → endpoint (workload name, or the address).
    pub destination_endpoint: BTreeMap<(String, String), Edge>,
    /// The rule behind each route label (first seen), to show its match conditions.
    pub route_rules: BTreeMap<String, RuleRef>,
    /// Route → mirror host: copies sent.
    pub mirrors: BTreeMap<(String, String), u64>,
    /// Whether the x axis is simulated time (ns) rather than the request index.
    pub timed: bool,
    /// Width of one bucket (ns, or requests).
    pub width: u64,
    /// The timeline.
    pub buckets: Vec<Bucket>,
    /// The largest x recorded (so the last, partial bucket is not read as a drop).
    pub last_x: u64,
    index: u64,
}

impl Recorder {
    /// A recorder whose time axis is simulated time (`timed`) or the request index.
    pub fn new(timed: bool) -> Self {
        Recorder {
            client_route: BTreeMap::new(),
            route_destination: BTreeMap::new(),
            destination_endpoint: BTreeMap::new(),
            route_rules: BTreeMap::new(),
            mirrors: BTreeMap::new(),
            timed,
            // 100 ms or 1 request to start with; doubled as needed.
            width: if timed { 100_000_000 } else { 1 },
            buckets: Vec::new(),
            last_x: 0,
            index: 0,
        }
    }

    /// Adds one decision.
    pub fn record(&mut self, d: &Decision) {
        let route = d.route_label();
        if let Some(r) = d.rule
            && !self.route_rules.contains_key(&route)
        {
            self.route_rules.insert(route.clone(), r);
        }
        self.client_route
            .entry(route.clone())
            .or_default()
            .add(d.status);
        let dest = d.destination_label();
        if d.destination.is_some() {
            self.route_destination
                .entry((route.clone(), dest.clone()))
                .or_default()
                .add(d.status);
            if let Some(ep) = d.workload.clone().or_else(|| d.endpoint.clone()) {
                self.destination_endpoint
                    .entry((dest.clone(), ep))
                    .or_default()
                    .add(d.status);
            }
        }
        for m in &d.mirrors {
            let target = match &m.subset {
                Some(s) => format!("{} {s}", short_host(&m.host)),
                None => short_host(&m.host).to_string(),
            };
            *self.mirrors.entry((route.clone(), target)).or_default() += 1;
        }
        let x = if self.timed { d.arrival } else { self.index };
        self.index += 1;
        self.last_x = self.last_x.max(x);
        while x / self.width >= MAX_BUCKETS as u64 {
            self.halve();
        }
        let i = (x / self.width) as usize;
        if self.buckets.len() <= i {
            self.buckets.resize_with(i + 1, Bucket::default);
        }
        let b = &mut self.buckets[i];
        b.requests += 1;
        b.ok += (200..400).contains(&d.status) as u64;
        b.tries += d.attempts.len().max(1) as u64;
        if d.destination.is_some() {
            *b.destinations.entry(dest).or_default() += 1;
        }
        b.latency.record(d.duration);
    }

    /// How much of bucket `i`'s width the stream covered (1 for all but the last).
    pub fn coverage(&self, i: usize) -> f64 {
        let start = i as u64 * self.width;
        let covered = (self.last_x + 1).saturating_sub(start).min(self.width);
        covered.max(1) as f64 / self.width as f64
    }

    /// Doubles the bucket width, merging neighbours.
    fn halve(&mut self) {
        self.width *= 2;
        let old = std::mem::take(&mut self.buckets);
        for pair in old.chunks(2) {
            let mut b = pair[0].clone();
            if let Some(o) = pair.get(1) {
                b.merge(o);
            }
            self.buckets.push(b);
        }
    }
}
