//! Policy diff: one request stream through the mesh before and after a change, with common
//! random numbers (request `i` draws the same random values on both sides, because entropy
//! depends only on the seed and the index), so every difference comes from the configuration and
//! none from sampling noise.
//!
//! ```
//! use meshsim::{Mesh, route::Request, sim::Simulator};
//!
//! let yaml = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}, ports: [{port: 80}]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2, template: {metadata: {labels: {app: web}}}}\n";
//! let mesh = Mesh::from_yaml_str(yaml, "mesh.yaml").unwrap();
//! let (mut before, mut after) = (Simulator::new(&mesh).unwrap(), Simulator::new(&mesh).unwrap());
//! let stream = vec![Request::get("web"); 100];
//! let diff = meshsim::diff::compare(&mut before, &mut after, &stream);
//! assert_eq!(diff.requests, 100);
//! assert!(diff.is_empty(), "the same mesh on both sides changes nothing");
//! ```

use std::borrow::Borrow;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::route::Request;
use crate::sim::{Decision, Latencies, Simulator};
use crate::trace::Trace;

/// Requests traced for examples: beyond them, examples come only from earlier requests, so a
/// long stream is not slowed down by tracing.
pub const TRACE_LIMIT: u64 = 100_000;

/// Runs `stream` through both simulators, request by request, and returns the difference.
/// Give both simulators the same seed: request `i` then draws the same random values on both
/// sides. Examples carry the `explain` events of both sides.
pub fn compare<R: Borrow<Request>>(
    before: &mut Simulator<'_>,
    after: &mut Simulator<'_>,
    stream: impl IntoIterator<Item = R>,
) -> Diff {
    let mut diff = Diff::default();
    for (i, req) in stream.into_iter().enumerate() {
        let req = req.borrow();
        if (i as u64) < TRACE_LIMIT && diff.wants_example() {
            let (b, tb) = before.explain(req);
            let (a, ta) = after.explain(req);
            diff.record(req, &b, &a, Some((tb, ta)));
        } else {
            let (b, a) = (before.decide(req), after.decide(req));
            diff.record(req, &b, &a, None);
        }
    }
    diff
}

/// Examples kept per kind of change.
pub const EXAMPLES_PER_KIND: usize = 3;

/// Most requests of a timed comparison: the "before" side's decisions are held until the
/// "after" side is run, so memory grows with the stream.
pub const MAX_TIMED_REQUESTS: u64 = 2_000_000;

/// Like [`compare`] for a stream whose requests arrive at given times and overlap (the
/// simulator's `run`): both sides see the same arrivals. Examples carry no traces, since a
/// request's trace depends on the requests in flight around it.
pub fn compare_timed(
    before: &mut Simulator<'_>,
    after: &mut Simulator<'_>,
    arrivals: impl Iterator<Item = (u64, Request)> + Clone,
) -> Diff {
    let requests: Vec<Request> = arrivals
        .clone()
        .take(MAX_TIMED_REQUESTS as usize)
        .map(|(_, r)| r)
        .collect();
    let mut decided: Vec<Decision> = Vec::with_capacity(requests.len());
    before.run(arrivals.clone().take(requests.len()), |d| decided.push(d));
    let mut diff = Diff::default();
    let mut i = 0;
    after.run(arrivals.take(requests.len()), |a| {
        if let (Some(req), Some(b)) = (requests.get(i), decided.get(i)) {
            diff.record(req, b, &a, None);
        }
        i += 1;
    });
    diff
}

/// What changed for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// The route (VirtualService rule) changed.
    Route,
    /// The destination host or subset changed.
    Destination,
    /// Same destination, another endpoint (consistent hashing: a lost session).
    Endpoint,
    /// The status changed.
    Status,
    /// The set of mirrored copies changed.
    Mirrors,
}

impl ChangeKind {
    /// All kinds, in report order.
    pub const ALL: [ChangeKind; 5] = [
        ChangeKind::Route,
        ChangeKind::Destination,
        ChangeKind::Endpoint,
        ChangeKind::Status,
        ChangeKind::Mirrors,
    ];
}

/// An example request with both decisions, and their traces when they were kept.
#[derive(Clone, Debug)]
pub struct Example {
    /// Index in the stream.
    pub index: u64,
    /// The request.
    pub request: Request,
    /// Before.
    pub before: Decision,
    /// After.
    pub after: Decision,
    /// The `explain` events of both sides (rendered by [`crate::report::explain`]).
    pub traces: Option<(Trace, Trace)>,
}

/// One side's counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Side {
    /// Requests per route label.
    pub routes: BTreeMap<String, u64>,
    /// Requests per destination label.
    pub destinations: BTreeMap<String, u64>,
    /// Requests per (destination, endpoint or workload).
    pub endpoints: BTreeMap<(String, String), u64>,
    /// Requests per status.
    pub statuses: BTreeMap<u16, u64>,
    /// Answered 2xx/3xx.
    pub ok: u64,
    /// Tries made.
    pub tries: u64,
    /// Client latency.
    pub latency: Latencies,
}

/// A decision's route and destination labels, computed once per request and side.
struct Labels {
    route: String,
    destination: String,
}

impl Labels {
    fn of(d: &Decision) -> Self {
        Labels {
            route: d.route_label(),
            destination: d.destination_label(),
        }
    }
}

impl Side {
    fn record(&mut self, d: &Decision, l: &Labels) {
        *self.routes.entry(l.route.clone()).or_default() += 1;
        let dest = l.destination.clone();
        *self.destinations.entry(dest.clone()).or_default() += 1;
        if let Some(ep) = d.workload.clone().or_else(|| d.endpoint.clone()) {
            *self.endpoints.entry((dest, ep)).or_default() += 1;
        }
        *self.statuses.entry(d.status).or_default() += 1;
        self.ok += (200..400).contains(&d.status) as u64;
        self.tries += d.attempts.len().max(1) as u64;
        self.latency.record(d.duration);
    }
}

/// The difference between two runs of one stream.
#[derive(Clone, Debug, Default)]
pub struct Diff {
    /// Requests compared.
    pub requests: u64,
    /// Before the change.
    pub before: Side,
    /// After the change.
    pub after: Side,
    /// Requests per kind of change.
    pub changed: BTreeMap<ChangeKind, u64>,
    /// Moves between destinations: (before, after) → requests.
    pub moves: BTreeMap<(String, String), u64>,
    /// Requests that succeeded before and fail after (status ≥ 400 or no answer).
    pub new_errors: u64,
    /// Requests that failed before and succeed after.
    pub fixed_errors: u64,
    /// Status transitions (before, after) → requests, for changed statuses.
    pub status_changes: BTreeMap<(u16, u16), u64>,
    /// A few examples per kind.
    pub examples: BTreeMap<ChangeKind, Vec<Example>>,
}

fn mirrors(d: &Decision) -> Vec<(&str, Option<&str>)> {
    let mut v: Vec<_> = d
        .mirrors
        .iter()
        .map(|m| (m.host.as_str(), m.endpoint.as_deref()))
        .collect();
    v.sort();
    v
}

fn ok(status: u16) -> bool {
    (200..400).contains(&status)
}

impl Diff {
    /// The kinds of change between two decisions for the same request.
    pub fn kinds(before: &Decision, after: &Decision) -> Vec<ChangeKind> {
        Self::kinds_labelled(before, after, &Labels::of(before), &Labels::of(after))
    }

    fn kinds_labelled(
        before: &Decision,
        after: &Decision,
        bl: &Labels,
        al: &Labels,
    ) -> Vec<ChangeKind> {
        let mut k = Vec::new();
        if bl.route != al.route {
            k.push(ChangeKind::Route);
        }
        if bl.destination != al.destination {
            k.push(ChangeKind::Destination);
        } else if before.endpoint != after.endpoint {
            k.push(ChangeKind::Endpoint);
        }
        if before.status != after.status {
            k.push(ChangeKind::Status);
        }
        if mirrors(before) != mirrors(after) {
            k.push(ChangeKind::Mirrors);
        }
        k
    }

    /// Whether an example of any of these kinds is still wanted (so the caller traces).
    pub fn wants_example(&self) -> bool {
        ChangeKind::ALL.iter().any(|k| {
            self.examples
                .get(k)
                .is_none_or(|v| v.len() < EXAMPLES_PER_KIND)
        })
    }

    /// Adds one request's two decisions (and their `explain` events, when traced).
    pub fn record(
        &mut self,
        req: &Request,
        before: &Decision,
        after: &Decision,
        traces: Option<(Trace, Trace)>,
    ) {
        let index = self.requests;
        self.requests += 1;
        let (bl, al) = (Labels::of(before), Labels::of(after));
        self.before.record(before, &bl);
        self.after.record(after, &al);
        let kinds = Self::kinds_labelled(before, after, &bl, &al);
        if kinds.contains(&ChangeKind::Destination) {
            *self
                .moves
                .entry((bl.destination, al.destination))
                .or_default() += 1;
        }
        if before.status != after.status {
            *self
                .status_changes
                .entry((before.status, after.status))
                .or_default() += 1;
        }
        match (ok(before.status), ok(after.status)) {
            (true, false) => self.new_errors += 1,
            (false, true) => self.fixed_errors += 1,
            _ => {}
        }
        for k in kinds {
            *self.changed.entry(k).or_default() += 1;
            let ex = self.examples.entry(k).or_default();
            if ex.len() < EXAMPLES_PER_KIND {
                ex.push(Example {
                    index,
                    request: req.clone(),
                    before: before.clone(),
                    after: after.clone(),
                    traces: traces.clone(),
                });
            }
        }
    }

    /// Fraction of requests with this kind of change.
    pub fn fraction(&self, kind: ChangeKind) -> f64 {
        self.changed.get(&kind).copied().unwrap_or(0) as f64 / self.requests.max(1) as f64
    }

    /// Fraction of requests that succeeded before and fail after.
    pub fn new_error_fraction(&self) -> f64 {
        self.new_errors as f64 / self.requests.max(1) as f64
    }

    /// No request changed in any way.
    pub fn is_empty(&self) -> bool {
        self.changed.values().all(|&n| n == 0)
    }
}
