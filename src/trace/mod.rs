//! Events for `explain`: what the router and the balancer did for one request, and why.
//!
//! The engine reports through a [`Tracer`]; the hot path uses [`NoTrace`], whose methods are
//! empty and vanish after inlining, and `explain` uses [`Trace`], which keeps the events.

use std::fmt;

/// One step of a decision.
#[derive(Clone, Debug, PartialEq)]
pub enum TraceEvent {
    /// The proxy and listener whose route table is used.
    Proxy(String),
    /// The virtual host chosen and why.
    VirtualHost {
        /// Its name.
        name: String,
        /// Which domain matched.
        matched: String,
        /// What it came from (a VirtualService, Istio's default route, a catch-all).
        source: String,
    },
    /// No virtual host matched.
    NoVirtualHost(String),
    /// A route was tried.
    RouteTried {
        /// Its label.
        label: String,
        /// `None` if it matched, else the first condition that failed.
        mismatch: Option<String>,
    },
    /// The weighted pick.
    WeightedPick {
        /// `stream_id % total`.
        value: u64,
        /// Total weight.
        total: u64,
        /// Chosen destination.
        chosen: String,
    },
    /// The cluster and its endpoints.
    Cluster {
        /// Name.
        name: String,
        /// LB policy.
        policy: String,
        /// Endpoint count.
        endpoints: usize,
    },
    /// The request hash.
    Hash(String),
    /// The load balancer's pick.
    Pick(String),
    /// A mirror decision.
    Mirror(String),
    /// Anything else worth saying.
    Note(String),
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceEvent::Proxy(p) => write!(f, "proxy: {p}"),
            TraceEvent::VirtualHost {
                name,
                matched,
                source,
            } => write!(f, "virtual host {name} ({source}), matched by {matched}"),
            TraceEvent::NoVirtualHost(why) => write!(f, "no virtual host: {why}"),
            TraceEvent::RouteTried {
                label,
                mismatch: None,
            } => write!(f, "{label}: matches"),
            TraceEvent::RouteTried {
                label,
                mismatch: Some(m),
            } => write!(f, "{label}: {m}"),
            TraceEvent::WeightedPick {
                value,
                total,
                chosen,
            } => write!(f, "weighted pick: random % {total} = {value} → {chosen}"),
            TraceEvent::Cluster {
                name,
                policy,
                endpoints,
            } => write!(f, "cluster {name}: {endpoints} endpoint(s), {policy}"),
            TraceEvent::Hash(h) => write!(f, "hash: {h}"),
            TraceEvent::Pick(p) => write!(f, "endpoint: {p}"),
            TraceEvent::Mirror(m) => write!(f, "mirror: {m}"),
            TraceEvent::Note(n) => f.write_str(n),
        }
    }
}

/// Receives events. Implementations decide what to keep.
pub trait Tracer {
    /// Is anyone listening? Lets the engine skip building expensive events.
    fn enabled(&self) -> bool;
    /// Records one event.
    fn event(&mut self, e: TraceEvent);
}

/// Keeps nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTrace;

impl Tracer for NoTrace {
    #[inline(always)]
    fn enabled(&self) -> bool {
        false
    }
    #[inline(always)]
    fn event(&mut self, _e: TraceEvent) {}
}

/// Keeps every event, in order.
#[derive(Clone, Debug, Default)]
pub struct Trace(pub Vec<TraceEvent>);

impl Tracer for Trace {
    fn enabled(&self) -> bool {
        true
    }
    fn event(&mut self, e: TraceEvent) {
        self.0.push(e);
    }
}
