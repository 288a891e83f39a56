//! The upstream half of a request, on a simulated clock: tries, per-try and route timeouts,
//! back-off between retries, host re-selection, endpoints that fail, hang or crash, connection
//! pools, and outlier ejection.
//!
//! A discrete-event loop: every future happening (a try's answer, a timeout, a crash, a retry's
//! start) is an event ordered by (time, sequence number), so ties resolve in a fixed order and
//! runs are reproducible. Requests overlap in time only when the stream says so (a rate, or
//! arrival times); one at a time, each request starts when the previous has finished.

use super::decision::{Attempt, Decision, Flags, LbChoice};
use crate::common::rng::SimRng;
use crate::compile::{Cluster, CompiledMesh};
use crate::lb::{AnyLb, LbPolicy, LoadBalancer, PickContext};
use crate::resilience::endpoint::Failure;
use crate::resilience::outlier::{HostOutlier, may_eject};
use crate::resilience::retry::{Backoff, RetryPolicy, UpstreamResult};
use crate::trace::{NoHealthyCause, NoRetryReason, OutlierOutcome, TraceEvent, Tracer, TryOutcome};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Tries of one request after which the simulation stops retrying it (status 0, a `gaveUp`
/// event): Envoy has no such limit, but a policy whose retries would outlast any run must not
/// take unbounded memory or time. Ten thousand tries is hours of simulated time at Envoy's
/// back-off.
pub const MAX_TRIES: u32 = 10_000;

/// Per-cluster state that changes as requests flow.
#[derive(Clone, Debug)]
pub(crate) struct ClusterState {
    /// The balancer over the healthy hosts.
    pub lb: AnyLb,
    /// Indices (into the cluster's hosts) of the hosts not ejected.
    healthy: Vec<usize>,
    seed: u64,
    /// Requests in flight per host.
    active: Vec<u32>,
    pool_active: u32,
    pending: VecDeque<usize>,
    retries_active: u32,
    outlier: Vec<HostOutlier>,
}

impl ClusterState {
    pub fn new(c: &Cluster, seed: u64) -> Self {
        ClusterState {
            lb: AnyLb::build(c.lb, &c.hosts, seed),
            healthy: (0..c.hosts.len()).collect(),
            seed,
            active: vec![0; c.hosts.len()],
            pool_active: 0,
            pending: VecDeque::new(),
            retries_active: 0,
            outlier: vec![HostOutlier::default(); c.hosts.len()],
        }
    }

    fn rebuild(&mut self, c: &Cluster) {
        self.healthy = (0..c.hosts.len())
            .filter(|&i| self.outlier[i].ejected_at.is_none())
            .collect();
        let hosts: Vec<_> = self.healthy.iter().map(|&i| c.hosts[i].clone()).collect();
        self.lb = AnyLb::build(c.lb, &hosts, self.seed);
    }
}

/// A flight slot and the index of the request occupying it: slots are reused, and an event
/// left over from an earlier request (its route timeout, say) must not touch a later one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Fid {
    slot: usize,
    request: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    StartAttempt(Fid),
    AttemptDone(Fid, u32, Outcome),
    PerTryTimeout(Fid, u32),
    RouteTimeout(Fid),
    Crash(usize),
    Sweep(usize),
}

/// `UpstreamResult` with a total order, for the event queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Status(u16),
    Reset,
}

#[derive(Clone, Debug)]
struct Current {
    host: usize,
    instance: usize,
    started: u64,
    id: u32,
    queued: bool,
    retry: bool,
}

/// A request past routing, waiting for or talking to an upstream.
#[derive(Debug)]
pub(crate) struct Flight {
    pub decision: Decision,
    pub arrival: u64,
    pub cluster: usize,
    pub hash: Option<u64>,
    pub first_random: [u64; 2],
    pub rng: SimRng,
    pub path: String,
    pub policy: Option<RetryPolicy>,
    pub per_try_timeout: Option<u64>,
    pub route_timeout: Option<u64>,
    pub trace: Option<Vec<TraceEvent>>,
    retries_left: u32,
    backoff: Backoff,
    attempts: u32,
    current: Option<Current>,
    tried: Vec<usize>,
    next_is_retry: bool,
}

impl Flight {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        decision: Decision,
        arrival: u64,
        cluster: usize,
        hash: Option<u64>,
        first_random: [u64; 2],
        rng: SimRng,
        path: String,
        policy: Option<RetryPolicy>,
        route_timeout: Option<u64>,
        traced: bool,
    ) -> Self {
        let route_timeout = route_timeout.filter(|&t| t > 0);
        // Envoy: a per-try timeout not below the route timeout is no per-try timeout.
        let per_try_timeout = policy
            .as_ref()
            .and_then(|p| p.per_try_timeout)
            .map(|d| d.nanos)
            .filter(|&t| t > 0 && route_timeout.is_none_or(|g| t < g));
        Flight {
            retries_left: policy.as_ref().map_or(0, |p| p.num_retries),
            backoff: Backoff::new(policy.as_ref().and_then(|p| p.backoff_base)),
            decision,
            arrival,
            cluster,
            hash,
            first_random,
            rng,
            path,
            policy,
            per_try_timeout,
            route_timeout,
            trace: traced.then(Vec::new),
            attempts: 0,
            current: None,
            tried: Vec::new(),
            next_is_retry: false,
        }
    }

    fn note(&mut self, e: impl FnOnce() -> TraceEvent) {
        if let Some(t) = &mut self.trace {
            t.push(e());
        }
    }
}

/// The mutable world: clock, events, cluster and endpoint state, requests in flight.
#[derive(Debug)]
pub(crate) struct Upstream {
    pub now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64, Event)>>,
    pub clusters: Vec<ClusterState>,
    down_until: Vec<u64>,
    flights: Vec<Option<Flight>>,
    free: Vec<usize>,
    /// Finished requests: (index, decision, trace).
    pub done: Vec<(u64, Decision, Option<Vec<TraceEvent>>)>,
    sweep_at: Vec<Option<u64>>,
}

impl Upstream {
    pub fn new(compiled: &CompiledMesh<'_>, seeds: &[u64]) -> Self {
        Upstream {
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            clusters: compiled
                .clusters
                .iter()
                .zip(seeds)
                .map(|(c, &s)| ClusterState::new(c, s))
                .collect(),
            down_until: vec![0; compiled.mesh.topology.instances.len()],
            flights: Vec::new(),
            free: Vec::new(),
            done: Vec::new(),
            sweep_at: vec![None; compiled.clusters.len()],
        }
    }

    fn schedule(&mut self, at: u64, e: Event) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, e)));
    }

    /// Is any request still in flight?
    pub fn busy(&self) -> bool {
        self.flights.iter().any(Option::is_some)
    }

    /// Starts a flight at `start` (now, or later after a fault delay); arms the route timeout.
    pub fn launch(&mut self, compiled: &CompiledMesh<'_>, f: Flight, start: u64) {
        let id = match self.free.pop() {
            Some(i) => i,
            None => {
                self.flights.push(None);
                self.flights.len() - 1
            }
        };
        let timeout = f.route_timeout;
        let fid = Fid {
            slot: id,
            request: f.decision.index,
        };
        self.flights[id] = Some(f);
        if let Some(t) = timeout {
            self.schedule(start + t, Event::RouteTimeout(fid));
        }
        if start > self.now {
            self.schedule(start, Event::StartAttempt(fid));
        } else {
            self.start_attempt(compiled, id);
        }
    }

    /// Runs events up to and including time `until` (all of them with `None`).
    pub fn run_until(&mut self, compiled: &CompiledMesh<'_>, until: Option<u64>) {
        while let Some(&Reverse((t, _, e))) = self.queue.peek() {
            if until.is_some_and(|u| t > u) {
                break;
            }
            self.queue.pop();
            self.now = self.now.max(t);
            self.handle(compiled, e);
        }
        if let Some(u) = until {
            self.now = self.now.max(u);
        }
    }

    /// Runs events until no request is in flight (timers of idle clusters may remain).
    pub fn run_until_idle(&mut self, compiled: &CompiledMesh<'_>) {
        while self.busy() {
            let Some(Reverse((t, _, e))) = self.queue.pop() else {
                // A request waits for something that will never happen (an endpoint that
                // never answers, and no timeout): Envoy would wait forever too.
                self.abandon_all();
                break;
            };
            self.now = self.now.max(t);
            self.handle(compiled, e);
        }
    }

    fn abandon_all(&mut self) {
        for id in 0..self.flights.len() {
            if self.flights[id].is_some() {
                self.finish_with(id, 0, Flags::NONE, TraceEvent::NoAnswer);
            }
        }
    }

    fn live(&self, fid: Fid) -> bool {
        self.flights
            .get(fid.slot)
            .and_then(Option::as_ref)
            .is_some_and(|f| f.decision.index == fid.request)
    }

    fn handle(&mut self, compiled: &CompiledMesh<'_>, e: Event) {
        match e {
            Event::StartAttempt(fid) => {
                if self.live(fid) {
                    self.start_attempt(compiled, fid.slot);
                }
            }
            Event::AttemptDone(fid, attempt, outcome) => {
                if self.is_current(fid, attempt) {
                    let r = match outcome {
                        Outcome::Status(s) => UpstreamResult::Status(s),
                        Outcome::Reset => UpstreamResult::Reset,
                    };
                    self.end_attempt(compiled, fid.slot, r);
                }
            }
            Event::PerTryTimeout(fid, attempt) => {
                if self.is_current(fid, attempt) {
                    self.end_attempt(compiled, fid.slot, UpstreamResult::PerTryTimeout);
                }
            }
            Event::RouteTimeout(fid) => {
                if self.live(fid) {
                    let id = fid.slot;
                    let now = self.now;
                    // The try in progress, if any, is cut short: record it as it stands.
                    if let Some(f) = self.flights[id].as_mut()
                        && let Some(cur) = f.current.clone()
                        && !cur.queued
                    {
                        let cluster = &compiled.clusters[f.cluster];
                        f.decision.attempts.push(Attempt {
                            endpoint: Some(cluster.hosts[cur.host].address.clone()),
                            workload: Some(
                                compiled.mesh.topology.instances[cur.instance].name.clone(),
                            ),
                            status: 504,
                            outcome: "timeout".into(),
                            start: cur.started,
                            end: now,
                        });
                    }
                    self.release(compiled, id);
                    if let Some(f) = self.flights[id].as_mut() {
                        let waited = now - f.arrival;
                        f.note(|| TraceEvent::RouteTimeout { after_ns: waited });
                    }
                    self.finish(id, 504, Flags::UT);
                }
            }
            Event::Crash(instance) => self.crash(compiled, instance),
            Event::Sweep(c) => self.sweep(compiled, c),
        }
    }

    fn is_current(&self, fid: Fid, attempt: u32) -> bool {
        self.live(fid)
            && self.flights[fid.slot]
                .as_ref()
                .and_then(|f| f.current.as_ref())
                .is_some_and(|c| c.id == attempt && !c.queued)
    }

    /// Picks a host and sends the try (or queues it behind the connection pool).
    fn start_attempt(&mut self, compiled: &CompiledMesh<'_>, id: usize) {
        let now = self.now;
        let f = self.flights[id].as_mut().expect("flight");
        let c = f.cluster;
        let cluster = &compiled.clusters[c];
        let st = &mut self.clusters[c];
        f.attempts += 1;
        let attempt = f.attempts;
        let retry = f.next_is_retry;
        if st.healthy.is_empty() {
            let cause = if cluster.hosts.is_empty() {
                NoHealthyCause::NoEndpoints
            } else {
                NoHealthyCause::AllEjected
            };
            f.note(|| TraceEvent::NoHealthyUpstream { cause });
            self.finish(id, 503, Flags::UH);
            return;
        }
        // Host selection: on a retry, the previous_hosts predicate makes Envoy re-select up to
        // host_selection_retry_max_attempts times; hashing balancers step along the ring.
        let reselect = if retry {
            f.policy
                .as_ref()
                .filter(|p| p.previous_hosts)
                .map_or(0, |p| p.host_selection_retry_max_attempts)
        } else {
            0
        };
        let hashing = cluster.lb.is_hashing();
        let active: Vec<u32> = st.healthy.iter().map(|&h| st.active[h]).collect();
        let mut chosen = None;
        let mut hash_random = None;
        for sel in 0..=reselect {
            let random = if attempt == 1 && sel == 0 {
                f.first_random
            } else {
                [f.rng.next_u64(), f.rng.next_u64()]
            };
            let hash = f.hash.or_else(|| {
                if hashing {
                    Some(*hash_random.get_or_insert(random[0]))
                } else {
                    None
                }
            });
            let ctx = PickContext {
                hash,
                random,
                active: &active,
                attempt: if hashing { sel } else { 0 },
            };
            let Some(p) = st.lb.pick(&ctx) else { break };
            let host = st.healthy[p.host];
            let rejected = retry && reselect > 0 && f.tried.contains(&host);
            chosen = Some((host, p.detail));
            if !rejected {
                break;
            }
        }
        let Some((host, detail)) = chosen else {
            self.finish(id, 503, Flags::UH);
            return;
        };
        let instance = cluster.instances[host];
        let address = cluster.hosts[host].address.clone();
        let workload = compiled.mesh.topology.instances[instance].name.clone();
        let n = st.healthy.len();
        f.note(|| TraceEvent::EndpointPicked {
            attempt,
            endpoint: address.clone(),
            workload: workload.clone(),
            pick: detail,
            healthy: n,
        });
        if attempt == 1 {
            f.decision.endpoint_share = expected_endpoint_share(cluster, host);
            f.decision.lb = Some(LbChoice {
                policy: cluster.lb.to_string(),
                pick: detail,
                healthy: n,
            });
        }
        f.current = Some(Current {
            host,
            instance,
            started: now,
            id: attempt,
            queued: false,
            retry,
        });
        // Circuit breakers: HTTP/1.1 connections serve one request each.
        let limits = cluster.pool;
        let capacity = limits.max_connections.min(limits.max_requests);
        if st.pool_active >= capacity {
            if (st.pending.len() as u32) < limits.max_pending {
                st.pending.push_back(id);
                if let Some(cur) = f.current.as_mut() {
                    cur.queued = true;
                }
                f.note(|| TraceEvent::PoolQueued { capacity });
            } else {
                f.current = None;
                f.note(|| TraceEvent::PoolOverflow);
                self.finish(id, 503, Flags::UO);
            }
            return;
        }
        self.send(compiled, id);
    }

    /// The try reaches the endpoint: decide what the endpoint does and when.
    fn send(&mut self, compiled: &CompiledMesh<'_>, id: usize) {
        let now = self.now;
        let f = self.flights[id].as_mut().expect("flight");
        let cur = f.current.clone().expect("a current try");
        let st = &mut self.clusters[f.cluster];
        st.pool_active += 1;
        st.active[cur.host] += 1;
        if cur.retry {
            st.retries_active += 1;
        }
        if let Some(c) = f.current.as_mut() {
            c.started = now;
            c.queued = false;
        }
        let fid = Fid {
            slot: id,
            request: f.decision.index,
        };
        let inst = &compiled.mesh.topology.instances[cur.instance];
        let b = &inst.behaviour;
        let mut events: Vec<(u64, Event)> = Vec::new();
        if self.down_until[cur.instance] > now {
            let back = self.down_until[cur.instance];
            f.note(|| TraceEvent::ConnectionRefused {
                workload: inst.name.clone(),
                down_until_ns: back,
            });
            // Connection refused is immediate: the try ends now.
            self.end_attempt(compiled, id, UpstreamResult::ConnectFailure);
            return;
        }
        let rate = b.fail_rate_for(&f.path);
        let fails = rate > 0.0 && f.rng.next_f64() < rate;
        if !fails {
            let t = b.latency.sample(&mut f.rng);
            events.push((
                now + t,
                Event::AttemptDone(fid, cur.id, Outcome::Status(200)),
            ));
        } else {
            let delay = b.failure_delay.unwrap_or(b.latency).sample(&mut f.rng);
            let name = inst.name.clone();
            match b.failure {
                Failure::Status(s) => {
                    events.push((
                        now + delay,
                        Event::AttemptDone(fid, cur.id, Outcome::Status(s)),
                    ));
                }
                Failure::Reset => {
                    events.push((now + delay, Event::AttemptDone(fid, cur.id, Outcome::Reset)));
                }
                Failure::Timeout => {
                    f.note(|| TraceEvent::EndpointHangs { workload: name });
                }
                Failure::Crash => {
                    f.note(|| TraceEvent::EndpointCrashes {
                        workload: name,
                        after_ns: delay,
                        restart_ns: b.restart.nanos,
                    });
                    events.push((now + delay, Event::Crash(cur.instance)));
                }
            }
        }
        if let Some(ptt) = f.per_try_timeout {
            events.push((now + ptt, Event::PerTryTimeout(fid, cur.id)));
        }
        for (t, e) in events {
            self.schedule(t, e);
        }
    }

    /// Frees the current try's connection and hands it to the first pending request.
    fn release(&mut self, compiled: &CompiledMesh<'_>, id: usize) {
        let Some(f) = self.flights[id].as_mut() else {
            return;
        };
        let Some(cur) = f.current.take() else { return };
        let st = &mut self.clusters[f.cluster];
        if cur.queued {
            st.pending.retain(|&x| x != id);
            return;
        }
        st.pool_active -= 1;
        st.active[cur.host] -= 1;
        if cur.retry {
            st.retries_active -= 1;
        }
        if let Some(next) = st.pending.pop_front() {
            self.send(compiled, next);
        }
    }

    /// A try ended with `r`: record it, let outlier detection see it, then retry or finish.
    fn end_attempt(&mut self, compiled: &CompiledMesh<'_>, id: usize, r: UpstreamResult) {
        let (c, host) = {
            let f = self.flights[id].as_ref().expect("flight");
            (f.cluster, f.current.as_ref().expect("a current try").host)
        };
        self.record_try(compiled, id, r);
        self.release(compiled, id);
        self.outlier_detection(compiled, id, c, host, r);
        self.retry_or_finish(compiled, id, r);
    }

    /// The try joins the decision's list, and its endpoint becomes the decision's.
    fn record_try(&mut self, compiled: &CompiledMesh<'_>, id: usize, r: UpstreamResult) {
        let now = self.now;
        let f = self.flights[id].as_mut().expect("flight");
        let cur = f.current.as_ref().expect("a current try");
        let (host, started) = (cur.host, cur.started);
        let cluster = &compiled.clusters[f.cluster];
        let address = cluster.hosts[host].address.clone();
        let workload = compiled.mesh.topology.instances[cluster.instances[host]]
            .name
            .clone();
        let attempt = f.attempts;
        f.note(|| TraceEvent::TryDone {
            attempt,
            outcome: TryOutcome::from(r),
            elapsed_ns: now - started,
        });
        // A set (bounded by the cluster's hosts), however many tries there are.
        if !f.tried.contains(&host) {
            f.tried.push(host);
        }
        f.decision.attempts.push(Attempt {
            endpoint: Some(address.clone()),
            workload: Some(workload.clone()),
            status: r.client_status(),
            outcome: r.label(),
            start: started,
            end: now,
        });
        f.decision.endpoint = Some(address);
        f.decision.workload = Some(workload);
    }

    /// Outlier detection sees every result (local-origin failures as 503/504) and ejects the
    /// host once it crosses a threshold, unless `maxEjectionPercent` forbids it
    /// (`DetectorImpl::ejectHost`).
    fn outlier_detection(
        &mut self,
        compiled: &CompiledMesh<'_>,
        id: usize,
        c: usize,
        host: usize,
        r: UpstreamResult,
    ) {
        let now = self.now;
        let cluster = &compiled.clusters[c];
        let Some(cfg) = &cluster.outlier else { return };
        let st = &mut self.clusters[c];
        if !st.outlier[host].record(r.client_status(), cfg) {
            return;
        }
        let ejected = st.outlier.iter().filter(|o| o.ejected_at.is_some()).count();
        let outcome = if may_eject(ejected, cluster.hosts.len(), cfg) {
            st.outlier[host].eject(now, cfg);
            st.rebuild(cluster);
            let due = st.outlier[host].back_at(cfg).unwrap_or(now);
            let iv = cfg.interval.nanos.max(1);
            let sweep = due.div_ceil(iv) * iv;
            if self.sweep_at[c].is_none_or(|s| s > sweep) {
                self.sweep_at[c] = Some(sweep);
                self.schedule(sweep, Event::Sweep(c));
            }
            OutlierOutcome::Ejected { until_ns: due }
        } else {
            st.outlier[host].refused(cfg);
            OutlierOutcome::CapReached {
                ejected,
                hosts: cluster.hosts.len(),
                max_percent: cfg.max_ejection_percent,
            }
        };
        if let Some(f) = self.flights[id].as_mut() {
            f.note(|| TraceEvent::Outlier {
                endpoint: cluster.hosts[host].address.clone(),
                workload: compiled.mesh.topology.instances[cluster.instances[host]]
                    .name
                    .clone(),
                outcome,
            });
        }
    }

    /// Envoy's retry state: retry when `retryOn` covers the result, retries are left and the
    /// cluster's retry budget allows it (after a back-off); else the result is final.
    fn retry_or_finish(&mut self, compiled: &CompiledMesh<'_>, id: usize, r: UpstreamResult) {
        let now = self.now;
        let f = self.flights[id].as_mut().expect("flight");
        let flag = match r {
            UpstreamResult::Status(_) => Flags::NONE,
            UpstreamResult::ConnectFailure => Flags::UF,
            UpstreamResult::Reset => Flags::UC,
            UpstreamResult::PerTryTimeout => Flags::UT,
        };
        let cond = f
            .policy
            .as_ref()
            .and_then(|p| p.retry_condition(r).map(str::to_string));
        let Some(cond) = cond else {
            if !matches!(r, UpstreamResult::Status(s) if s < 500) {
                let reason = match &f.policy {
                    None => NoRetryReason::NoPolicy,
                    Some(p) => NoRetryReason::NotCovered {
                        retry_on: p.retry_on.clone(),
                        retriable_status_codes: p.retriable_status_codes.clone(),
                    },
                };
                f.note(|| TraceEvent::NotRetried {
                    reason,
                    outcome: r.into(),
                });
            }
            self.finish(id, r.client_status(), flag);
            return;
        };
        if f.retries_left == 0 {
            f.note(|| TraceEvent::RetriesExhausted { condition: cond });
            self.finish(id, r.client_status(), flag.with(Flags::URX));
            return;
        }
        let c = f.cluster;
        if self.clusters[c].retries_active >= compiled.clusters[c].pool.max_retries {
            let f = self.flights[id].as_mut().expect("flight");
            f.note(|| TraceEvent::NotRetried {
                reason: NoRetryReason::CircuitBreakerOpen,
                outcome: r.into(),
            });
            self.finish(id, r.client_status(), flag);
            return;
        }
        let f = self.flights[id].as_mut().expect("flight");
        if f.attempts >= MAX_TRIES {
            // Envoy would go on (retries.attempts can be 2^31 - 1, at least 25 ms apart: years);
            // the simulation stops here so that memory and time stay bounded, and says so.
            let (tries, after_ns, retries_left) = (f.attempts, now - f.arrival, f.retries_left);
            f.note(|| TraceEvent::GaveUp {
                tries,
                after_ns,
                retries_left,
            });
            self.finish(id, 0, Flags::NONE);
            return;
        }
        f.retries_left -= 1;
        f.next_is_retry = true;
        let random = f.rng.next_u64();
        let wait = f.backoff.next(random) * 1_000_000;
        f.note(|| TraceEvent::Retry {
            condition: cond,
            backoff_ns: wait,
        });
        let fid = Fid {
            slot: id,
            request: f.decision.index,
        };
        self.schedule(now + wait, Event::StartAttempt(fid));
    }

    fn crash(&mut self, compiled: &CompiledMesh<'_>, instance: usize) {
        let restart = compiled.mesh.topology.instances[instance]
            .behaviour
            .restart
            .nanos;
        self.down_until[instance] = self.down_until[instance].max(self.now + restart);
        // Every connection to the process is reset.
        let victims: Vec<usize> = (0..self.flights.len())
            .filter(|&i| {
                self.flights[i]
                    .as_ref()
                    .and_then(|f| f.current.as_ref())
                    .is_some_and(|c| c.instance == instance && !c.queued)
            })
            .collect();
        for id in victims {
            self.end_attempt(compiled, id, UpstreamResult::Reset);
        }
    }

    fn sweep(&mut self, compiled: &CompiledMesh<'_>, c: usize) {
        let cluster = &compiled.clusters[c];
        let Some(cfg) = &cluster.outlier else { return };
        self.sweep_at[c] = None;
        let now = self.now;
        let st = &mut self.clusters[c];
        let mut changed = false;
        for o in st.outlier.iter_mut() {
            if o.due_back(now, cfg) {
                o.uneject(now);
                changed = true;
            }
        }
        if changed {
            st.rebuild(cluster);
        }
        // The next sweep that can bring someone back.
        let next = st.outlier.iter().filter_map(|o| o.back_at(cfg)).min();
        if let Some(due) = next {
            let iv = cfg.interval.nanos.max(1);
            let at = due.div_ceil(iv).max(now / iv + 1) * iv;
            self.sweep_at[c] = Some(at);
            self.schedule(at, Event::Sweep(c));
        }
    }

    fn finish(&mut self, id: usize, status: u16, flags: Flags) {
        let now = self.now;
        let Some(mut f) = self.flights[id].take() else {
            return;
        };
        self.free.push(id);
        f.decision.status = status;
        f.decision.flags = f.decision.flags.with(flags);
        f.decision.duration = now - f.arrival;
        self.done.push((f.decision.index, f.decision, f.trace));
    }

    fn finish_with(&mut self, id: usize, status: u16, flags: Flags, event: TraceEvent) {
        if let Some(f) = self.flights[id].as_mut() {
            f.note(|| event);
            f.current = None;
        }
        self.finish(id, status, flags);
    }
}

/// The long-run share of a cluster's requests that its balancer gives host `i`: uniform for
/// RANDOM (Envoy ignores weights there) and for equal weights, proportional to the weights for
/// the EDF schedules; none for hashing balancers.
pub(crate) fn expected_endpoint_share(c: &Cluster, i: usize) -> Option<(u64, u64)> {
    let n = c.hosts.len() as u64;
    let equal = c.hosts.iter().all(|h| h.weight == c.hosts[0].weight);
    match c.lb {
        LbPolicy::Random => Some((1, n)),
        LbPolicy::RoundRobin | LbPolicy::LeastRequest if equal => Some((1, n)),
        LbPolicy::RoundRobin | LbPolicy::LeastRequest => {
            let total: u64 = c.hosts.iter().map(|h| h.weight as u64).sum();
            Some((c.hosts[i].weight as u64, total))
        }
        _ => None,
    }
}

/// Hands a finished flight's events to the caller's tracer.
pub(crate) fn forward_trace(t: &mut impl Tracer, events: Option<Vec<TraceEvent>>) {
    if let Some(es) = events {
        for e in es {
            t.event(e);
        }
    }
}
