//! One thread's share of a batch run: route requests, count their outcomes, turn the counts
//! into a summary.

use crate::common::rng::{EntropySource, RequestEntropy};
use crate::compile::CompiledMesh;
use crate::lb::hash::{generate_hash, needs_connection, request_hash};
use crate::lb::{AnyLb, LbPolicy, LoadBalancer, PickContext};
use crate::route::{Action, Request, RouteTable, Source, split_authority};
use crate::sim::Simulator;
use crate::sim::decision::{Attempt, Decision, Flags};
use crate::sim::stream::RequestSource;
use crate::sim::summary::Summary;
use crate::sim::upstream::expected_endpoint_share;
use std::sync::Arc;

/// What a counter slot stands for; turned into a representative [`Decision`] at the end.
#[derive(Clone, Copy, Debug)]
enum Slot {
    /// 404 NR: no table, no virtual host or no route.
    NoRoute,
    /// 301 to HTTPS: a plain-HTTP request to a virtual host with `require_tls` (a gateway
    /// server's `httpsRedirect`).
    SslRedirect,
    /// A route that answers itself (redirect, direct response, block, passthrough).
    Answer {
        table: usize,
        vh: usize,
        route: usize,
    },
    /// A weighted cluster of a forwarding route; `host` None when no endpoint was chosen.
    Target {
        table: usize,
        vh: usize,
        route: usize,
        target: usize,
        host: Option<usize>,
    },
    /// A mirrored copy to a mirror's cluster.
    Mirror {
        table: usize,
        vh: usize,
        route: usize,
        mirror: usize,
        host: Option<usize>,
    },
}

/// The counter of [`Slot::SslRedirect`] (after [`Slot::NoRoute`]'s, 0).
const SSL_REDIRECT_SLOT: usize = 1;

/// Where a route's counts start: one slot for an answering route; per weighted cluster and
/// per mirror, a "no endpoint" slot followed by one slot per endpoint.
#[derive(Clone, Debug, Default)]
struct RouteSlots {
    answer: u32,
    targets: Vec<u32>,
    mirrors: Vec<Option<u32>>,
}

/// A route table one worker has met, with the proxy it belongs to.
struct KnownTable {
    gateway: Option<String>,
    source: Option<Source>,
    port: u32,
    table: Option<Arc<RouteTable>>,
    /// Per virtual host, per route.
    slots: Vec<Vec<RouteSlots>>,
}

/// A stateful balancer's pick, queued for the replay: the cluster and its first slot.
#[derive(Clone, Copy, Debug)]
struct Deferred {
    cluster: u32,
    base: u32,
}

/// One thread's share of a batch run.
pub(super) struct Worker<'a, 'm> {
    sim: &'a Simulator<'m>,
    /// Copies of the stateless balancers (a pick takes `&mut self`, even when it changes
    /// nothing); `None` for the stateful ones, which only the replay touches.
    lbs: Vec<Option<AnyLb>>,
    zeros: Vec<u32>,
    tables: Vec<KnownTable>,
    last: usize,
    slots: Vec<Slot>,
    counts: Vec<u64>,
    deferred: Vec<Deferred>,
    request: Request,
    /// The source's note of what `request` holds (RequestSource::fill_reusing).
    fill_state: u64,
    host: String,
    /// Scratch for the routes that can match a request (route/index.rs).
    candidates: Vec<u32>,
    /// The last (table, host) looked up and its virtual host: streams mostly repeat a host, and
    /// comparing it is cheaper than hashing it.
    last_host: (usize, String, Option<usize>),
}

impl<'a, 'm> Worker<'a, 'm> {
    pub(super) fn new(sim: &'a Simulator<'m>) -> Self {
        let lbs = sim
            .upstream
            .clusters
            .iter()
            .map(|c| (!c.lb.is_stateful()).then(|| c.lb.clone()))
            .collect();
        let most = sim
            .compiled
            .clusters
            .iter()
            .map(|c| c.hosts.len())
            .max()
            .unwrap_or(0);
        Worker {
            sim,
            lbs,
            zeros: vec![0; most],
            tables: Vec::new(),
            last: 0,
            slots: vec![Slot::NoRoute, Slot::SslRedirect],
            counts: vec![0, 0],
            deferred: Vec::new(),
            request: Request::get(""),
            fill_state: 0,
            host: String::new(),
            candidates: Vec::new(),
            last_host: (usize::MAX, String::new(), None),
        }
    }

    fn compiled(&self) -> &'a CompiledMesh<'m> {
        &self.sim.compiled
    }

    /// Routes requests `range` of `source`, whose random values start at entropy index
    /// `first_index`.
    pub(super) fn route_chunk<S: RequestSource + ?Sized>(
        &mut self,
        source: &S,
        range: (u64, u64),
        first_index: u64,
    ) {
        self.deferred.clear();
        let mut entropy = EntropySource::starting_at(self.sim.options.seed, first_index);
        let mut req = std::mem::replace(&mut self.request, Request::get(""));
        let mut state = self.fill_state;
        for i in range.0..range.1 {
            let e = entropy.next_request();
            match source.borrow(i) {
                Some(r) => self.route(r, &e),
                None => {
                    source.fill_reusing(i, &mut req, &mut state);
                    self.route(&req, &e);
                }
            }
        }
        self.request = req;
        self.fill_state = state;
    }

    /// Makes the stateful picks this worker queued, in order, on the simulator's own balancers
    /// (`master`, one per cluster): called for each chunk in stream order.
    pub(super) fn replay(&mut self, master: &mut [AnyLb]) {
        for d in &self.deferred {
            let slot = master[d.cluster as usize]
                .pick(&PickContext::default())
                .map_or(0, |p| p.host + 1);
            self.counts[d.base as usize + slot] += 1;
        }
        self.deferred.clear();
    }

    /// The table of the proxy that decides `req`, from this worker's cache.
    fn table_for(&mut self, req: &Request, port: Option<u32>) -> usize {
        let port = port.unwrap_or_else(|| req.default_port());
        let same =
            |t: &KnownTable| t.port == port && t.gateway == req.gateway && t.source == req.source;
        if self.tables.get(self.last).is_some_and(same) {
            return self.last;
        }
        if let Some(i) = self.tables.iter().position(same) {
            self.last = i;
            return i;
        }
        let proxy = self.sim.proxy_for(req);
        let table = self
            .sim
            .cached_table(&proxy, port)
            .or_else(|| self.compiled().route_table(&proxy, port).0.map(Arc::new));
        let index = self.tables.len();
        let slots = table
            .as_ref()
            .map(|t| self.lay_out(index, t))
            .unwrap_or_default();
        self.tables.push(KnownTable {
            gateway: req.gateway.clone(),
            source: req.source.clone(),
            port,
            table,
            slots,
        });
        self.last = index;
        index
    }

    /// Gives every outcome of every route of a table its counter.
    fn lay_out(&mut self, table: usize, t: &RouteTable) -> Vec<Vec<RouteSlots>> {
        let clusters = &self.compiled().clusters;
        let hosts = |c: Option<usize>| c.map_or(0, |c| clusters[c].hosts.len());
        let mut out = Vec::new();
        for (vh, v) in t.virtual_hosts.iter().enumerate() {
            let mut routes = Vec::new();
            for (route, r) in v.routes.iter().enumerate() {
                let mut rs = RouteSlots::default();
                match &r.action {
                    Action::Forward(f) => {
                        for (target, wt) in f.clusters.iter().enumerate() {
                            let base =
                                self.add_run(hosts(wt.target.cluster), |host| Slot::Target {
                                    table,
                                    vh,
                                    route,
                                    target,
                                    host,
                                });
                            rs.targets.push(base);
                        }
                        for (mirror, m) in f.mirrors.iter().enumerate() {
                            let base = m.target.cluster.map(|c| {
                                self.add_run(hosts(Some(c)), |host| Slot::Mirror {
                                    table,
                                    vh,
                                    route,
                                    mirror,
                                    host,
                                })
                            });
                            rs.mirrors.push(base);
                        }
                    }
                    _ => rs.answer = self.add_run(0, |_| Slot::Answer { table, vh, route }),
                }
                routes.push(rs);
            }
            out.push(routes);
        }
        out
    }

    /// Adds counters for one outcome: the one without an endpoint, then one per endpoint of
    /// its `hosts`. Returns the first.
    fn add_run(&mut self, hosts: usize, slot: impl Fn(Option<usize>) -> Slot) -> u32 {
        let base = self.slots.len() as u32;
        self.slots.push(slot(None));
        self.slots.extend((0..hosts).map(|h| slot(Some(h))));
        self.counts.resize(self.slots.len(), 0);
        base
    }

    /// One request: what the engine's `route` and first try do when nothing fails, counted
    /// instead of described.
    fn route(&mut self, req: &Request, e: &RequestEntropy) {
        let (authority, port) = split_authority(&req.authority);
        let t = self.table_for(req, req.listener_port.or(port));
        let known = &self.tables[t];
        let Some(table) = known.table.as_deref() else {
            self.counts[0] += 1;
            return;
        };
        let host = if authority.bytes().any(|b| b.is_ascii_uppercase()) {
            self.host.clear();
            self.host.push_str(authority);
            self.host.make_ascii_lowercase();
            self.host.as_str()
        } else {
            authority
        };
        let vh = if self.last_host.0 == t && self.last_host.1 == host {
            self.last_host.2
        } else {
            let vh = table.lookup_virtual_host(host).map(|(vh, _)| vh);
            self.last_host.0 = t;
            self.last_host.1.clear();
            self.last_host.1.push_str(host);
            self.last_host.2 = vh;
            vh
        };
        let Some(vh) = vh else {
            self.counts[0] += 1;
            return;
        };
        if table.virtual_hosts[vh].require_tls && req.scheme != "https" {
            self.counts[SSL_REDIRECT_SLOT] += 1;
            return;
        }
        let routes = &table.virtual_hosts[vh].routes;
        let Some(ri) = table.first_match(vh, req, req.path_only(), &mut self.candidates) else {
            self.counts[0] += 1;
            return;
        };
        let slots = &known.slots[vh][ri];
        let fwd = match &routes[ri].action {
            Action::Forward(f) => f,
            _ => {
                self.counts[slots.answer as usize] += 1;
                return;
            }
        };
        let (ti, _) = fwd.pick(e.stream_id);
        let target = &fwd.clusters[ti].target;
        // The engine draws from the request's own generator in this order: the client's
        // ephemeral port (only when a hash policy reads the connection), then two values per
        // mirrored copy. The generator is made only when one of them needs it.
        let mut rng = None;
        let hash = if needs_connection(&fwd.hash_policy, req) {
            let r = rng.insert(e.aux_rng());
            let conn = self.sim.connection(req, target, r);
            generate_hash(&fwd.hash_policy, req, &conn).hash
        } else {
            request_hash(&fwd.hash_policy, req)
        };
        let clusters = &self.sim.compiled.clusters;
        for (mi, m) in fwd.mirrors.iter().enumerate() {
            if e.stream_id % m.denominator >= m.numerator {
                continue;
            }
            let (Some(mc), Some(base)) = (m.target.cluster, slots.mirrors[mi]) else {
                continue;
            };
            let r = rng.get_or_insert_with(|| e.aux_rng());
            let ctx = PickContext {
                hash: None,
                random: [r.next_u64(), r.next_u64()],
                active: &[],
                attempt: 0,
            };
            match &mut self.lbs[mc] {
                None => self.deferred.push(Deferred {
                    cluster: mc as u32,
                    base,
                }),
                Some(lb) => {
                    let slot = lb.pick(&ctx).map_or(0, |p| p.host + 1);
                    self.counts[base as usize + slot] += 1;
                }
            }
        }
        let base = slots.targets[ti];
        let Some(c) = target.cluster else {
            self.counts[base as usize] += 1;
            return;
        };
        let cluster = &clusters[c];
        if cluster.lb == LbPolicy::Passthrough || cluster.hosts.is_empty() {
            self.counts[base as usize] += 1;
            return;
        }
        let Some(lb) = &mut self.lbs[c] else {
            self.deferred.push(Deferred {
                cluster: c as u32,
                base,
            });
            return;
        };
        let hashing = cluster.lb.is_hashing();
        let ctx = PickContext {
            hash: hash.or(hashing.then_some(e.lb[0])),
            random: e.lb,
            active: &self.zeros[..cluster.hosts.len()],
            attempt: 0,
        };
        let slot = lb.pick(&ctx).map_or(0, |p| p.host + 1);
        self.counts[base as usize + slot] += 1;
    }

    /// Turns the counts into a summary, one representative decision per non-zero counter.
    pub(super) fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for (slot, &n) in self.slots.iter().zip(&self.counts) {
            if n == 0 {
                continue;
            }
            match *slot {
                Slot::Mirror {
                    table,
                    vh,
                    route,
                    mirror,
                    host,
                } => {
                    let t = self.tables[table].table.as_deref().expect("laid out");
                    let Action::Forward(f) = &t.virtual_hosts[vh].routes[route].action else {
                        continue;
                    };
                    let m = &f.mirrors[mirror];
                    let endpoint = match (m.target.cluster, host) {
                        (Some(c), Some(h)) => {
                            Some(self.compiled().clusters[c].hosts[h].address.clone())
                        }
                        _ => None,
                    };
                    s.record_mirror(&m.target.host, m.target.subset.as_deref(), endpoint, n);
                }
                _ => s.record_n(&self.representative(*slot), n),
            }
        }
        s
    }

    /// The decision the engine makes for requests that land in `slot`, in the fields a
    /// summary reads.
    fn representative(&self, slot: Slot) -> Decision {
        let mut d = Decision::empty(0, 0);
        let (table, vh, route) = match slot {
            Slot::NoRoute | Slot::Mirror { .. } => {
                d.status = 404;
                d.flags = Flags::NR;
                return d;
            }
            Slot::SslRedirect => {
                d.status = 301;
                return d;
            }
            Slot::Answer { table, vh, route }
            | Slot::Target {
                table, vh, route, ..
            } => (table, vh, route),
        };
        let mesh = self.compiled().mesh;
        let r = &self.tables[table]
            .table
            .as_deref()
            .expect("laid out")
            .virtual_hosts[vh]
            .routes[route];
        d.set_route(mesh, r);
        let fwd = match (&r.action, slot) {
            (Action::Forward(f), Slot::Target { .. }) => f,
            (Action::Redirect(rd), _) => {
                d.status = rd.status;
                return d;
            }
            (Action::DirectResponse { status }, _) => {
                d.status = *status;
                return d;
            }
            (Action::Block, _) => {
                d.status = 502;
                return d;
            }
            (Action::Passthrough, _) => {
                d.status = 200;
                d.passthrough = true;
                d.attempts.push(Attempt::passthrough(0));
                return d;
            }
            (Action::Forward(_), _) => unreachable!("forwarding routes count per target"),
        };
        let Slot::Target { target, host, .. } = slot else {
            unreachable!("matched above")
        };
        let wt = &fwd.clusters[target];
        let t = &wt.target;
        d.set_destination(fwd, wt);
        let Some(c) = t.cluster else {
            d.status = fwd.cluster_not_found_status;
            d.flags = Flags::NC;
            return d;
        };
        let cluster = &self.compiled().clusters[c];
        if cluster.lb == LbPolicy::Passthrough {
            d.status = 200;
            d.passthrough = true;
            d.attempts.push(Attempt::passthrough(0));
            return d;
        }
        let Some(h) = host else {
            d.status = 503;
            d.flags = Flags::UH;
            return d;
        };
        let endpoint = cluster.hosts[h].address.clone();
        let workload = mesh.topology.instances[cluster.instances[h]].name.clone();
        d.endpoint_share = expected_endpoint_share(cluster, h);
        d.status = 200;
        d.attempts.push(Attempt {
            endpoint: Some(endpoint.clone()),
            workload: Some(workload.clone()),
            status: 200,
            outcome: "200".into(),
            start: 0,
            end: 0,
        });
        d.endpoint = Some(endpoint);
        d.workload = Some(workload);
        d
    }
}
