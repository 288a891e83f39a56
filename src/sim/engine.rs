//! The decision engine.

use super::decision::Decision;
use super::summary::Summary;
use super::upstream::{Flight, Upstream, forward_trace};
use crate::common::rng::{EntropySource, RequestEntropy, SimRng};
use crate::compile::{CompiledMesh, IstioVersion, Proxy, resolve_gateway_name};
use crate::diag::{Diagnostic, Diagnostics};
use crate::lb::hash::Connection;
use crate::model::Mesh;
use crate::route::{Request, RouteTable, Target};
use crate::trace::{NoTrace, Trace, Tracer};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Settings of a simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimOptions {
    /// Whose translation and defaults to follow.
    pub version: IstioVersion,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            version: IstioVersion::NEWEST,
            seed: 1,
        }
    }
}

/// Decides what the mesh does with requests. Holds the compiled mesh and the state that
/// changes as requests flow (round-robin positions, requests in flight, crashed endpoints,
/// ejected hosts, the simulated clock), so decisions depend on the requests before them, as
/// in Envoy.
pub struct Simulator<'m> {
    pub(super) compiled: CompiledMesh<'m>,
    pub(super) options: SimOptions,
    tables: BTreeMap<(Proxy, u32), Option<Arc<RouteTable>>>,
    pub(super) upstream: Upstream,
    pub(super) entropy: EntropySource,
    diagnostics: Vec<Diagnostic>,
}

/// The outcome of routing a request: answered by the proxy itself, or on its way upstream
/// (starting at the given time, after any fault delay).
pub(super) enum Routed {
    Done(Box<Decision>),
    Flight(Box<Flight>, u64),
}

impl<'m> Simulator<'m> {
    /// A simulator with default options (newest Istio, seed 1).
    pub fn new(mesh: &'m Mesh) -> Result<Self, Diagnostics> {
        Self::with_options(mesh, SimOptions::default())
    }

    /// A simulator with options. Fails with located errors when the mesh cannot be compiled
    /// (a regex RE2 refuses, ...), checked on every route table a request could use.
    pub fn with_options(mesh: &'m Mesh, options: SimOptions) -> Result<Self, Diagnostics> {
        let compiled = CompiledMesh::new(mesh, options.version);
        let seeds: Vec<u64> = compiled
            .clusters
            .iter()
            .enumerate()
            .map(|(i, c)| {
                // Envoy seeds each worker's round robin with a random number; ours comes from
                // the seed and the cluster, so it is stable when other clusters change.
                SimRng::new(options.seed, 1 + i as u64).next_u64()
                    ^ crate::lb::hash::xx(c.name.as_bytes())
            })
            .collect();
        let upstream = Upstream::new(&compiled, &seeds);
        let mut sim = Simulator {
            compiled,
            options,
            tables: BTreeMap::new(),
            upstream,
            entropy: EntropySource::new(options.seed),
            diagnostics: Vec::new(),
        };
        // Build the tables of the default sidecar and of every gateway port up front, so that
        // configuration errors surface now rather than on the first unlucky request.
        let proxy = Proxy::Sidecar {
            namespace: "default".into(),
            labels: Default::default(),
        };
        let mut ports: Vec<u32> = mesh
            .topology
            .services
            .iter()
            .flat_map(|s| s.ports.iter().map(|p| p.number))
            .collect();
        ports.push(80);
        ports.sort_unstable();
        ports.dedup();
        for p in ports {
            sim.table(&proxy, p);
        }
        for g in &mesh.gateways {
            let gp = Proxy::Gateway {
                name: format!("{}/{}", g.namespace, g.name),
                labels: g.spec.selector.clone(),
            };
            for s in &g.spec.servers {
                if let Some(port) = &s.port {
                    sim.table(&gp, port.number);
                }
            }
        }
        let errors: Vec<Diagnostic> = sim
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .cloned()
            .collect();
        if errors.is_empty() {
            Ok(sim)
        } else {
            Err(Diagnostics(errors))
        }
    }

    /// The compiled mesh (clusters, route tables).
    pub fn compiled(&self) -> &CompiledMesh<'m> {
        &self.compiled
    }

    /// The options in force.
    pub fn options(&self) -> SimOptions {
        self.options
    }

    /// Warnings found while compiling (missing delegates, ...).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    pub(super) fn table(&mut self, proxy: &Proxy, port: u32) -> Option<Arc<RouteTable>> {
        if let Some(t) = self.tables.get(&(proxy.clone(), port)) {
            return t.clone();
        }
        let (t, diags) = self.compiled.route_table(proxy, port);
        for d in diags {
            if !self.diagnostics.contains(&d) {
                self.diagnostics.push(d);
            }
        }
        let t = t.map(Arc::new);
        self.tables.insert((proxy.clone(), port), t.clone());
        t
    }

    /// A route table already built for this proxy and port (without building it: `None` also
    /// when it was never asked for).
    pub(super) fn cached_table(&self, proxy: &Proxy, port: u32) -> Option<Arc<RouteTable>> {
        self.tables.get(&(proxy.clone(), port)).cloned().flatten()
    }

    /// The proxy a request is decided by: its entry gateway, or the sidecar of its source.
    pub fn proxy_for(&self, req: &Request) -> Proxy {
        match &req.gateway {
            Some(g) => {
                let name = resolve_gateway_name(g, "default");
                let labels = self
                    .compiled
                    .mesh
                    .gateways
                    .iter()
                    .find(|gw| format!("{}/{}", gw.namespace, gw.name) == name)
                    .map(|gw| gw.spec.selector.clone())
                    .unwrap_or_default();
                Proxy::Gateway { name, labels }
            }
            None => Proxy::Sidecar {
                namespace: req.source_namespace().to_string(),
                labels: req
                    .source
                    .as_ref()
                    .map(|s| s.labels.clone())
                    .unwrap_or_default(),
            },
        }
    }

    /// The name of the virtual host a request would use (for route check tool tests).
    pub fn virtual_host_name(&mut self, req: &Request) -> Option<String> {
        let proxy = self.proxy_for(req);
        let port = req.arrival_port();
        let table = self.table(&proxy, port)?;
        let (i, _) = table.find_virtual_host(&req.host())?;
        Some(table.virtual_hosts[i].name.clone())
    }

    /// Moves to request `index` of the stream: the next decision uses that request's random
    /// values. Random values depend only on the seed and the index, so a stream can be cut into
    /// chunks anywhere (the load balancers' own state, such as a round-robin position, still
    /// depends on the requests this simulator has seen).
    pub fn seek(&mut self, index: u64) {
        self.entropy = EntropySource::starting_at(self.options.seed, index);
    }

    /// Decides the next request of the stream. Requests decided this way do not overlap in
    /// time: each arrives when the previous has been answered (or at its own `time`, if later).
    pub fn decide(&mut self, req: &Request) -> Decision {
        self.decide_traced(req, &mut NoTrace)
    }

    /// Decides the next request and explains it.
    pub fn explain(&mut self, req: &Request) -> (Decision, Trace) {
        let mut t = Trace::default();
        let d = self.decide_traced(req, &mut t);
        (d, t)
    }

    /// Decides the next request with Envoy's per-stream random value given (the route check
    /// tool's `random_value`): the weighted-cluster pick and the mirror decisions use it.
    pub fn decide_with_random_value(&mut self, req: &Request, stream_id: u64) -> Decision {
        let mut e = self.entropy.next_request();
        e.stream_id = stream_id;
        let index = self.entropy.position() - 1;
        self.decide_entropy(req, index, e, &mut NoTrace)
    }

    fn decide_traced(&mut self, req: &Request, t: &mut impl Tracer) -> Decision {
        let e = self.entropy.next_request();
        let index = self.entropy.position() - 1;
        self.decide_entropy(req, index, e, t)
    }

    fn decide_entropy(
        &mut self,
        req: &Request,
        index: u64,
        e: RequestEntropy,
        t: &mut impl Tracer,
    ) -> Decision {
        let arrival = self.upstream.now.max(req.time.unwrap_or(0));
        self.upstream.run_until(&self.compiled, Some(arrival));
        match self.route(req, index, &e, arrival, t) {
            Routed::Done(d) => *d,
            Routed::Flight(f, start) => {
                self.upstream.launch(&self.compiled, *f, start);
                self.upstream.run_until_idle(&self.compiled);
                let (_, d, events) = self.upstream.done.pop().expect("the request finished");
                forward_trace(t, events);
                d
            }
        }
    }

    /// Runs a stream whose requests arrive at given times (nanoseconds on the simulated clock,
    /// non-decreasing) and may overlap: requests in flight hold connections, count for least
    /// request, and see each other's crashes. Decisions go to `sink` in input order.
    pub fn run(
        &mut self,
        arrivals: impl IntoIterator<Item = (u64, Request)>,
        mut sink: impl FnMut(Decision),
    ) {
        let mut pending: BTreeMap<u64, Decision> = BTreeMap::new();
        let mut next_out = self.entropy.position();
        let flush = |pending: &mut BTreeMap<u64, Decision>,
                     next_out: &mut u64,
                     sink: &mut dyn FnMut(Decision)| {
            while let Some(d) = pending.remove(next_out) {
                sink(d);
                *next_out += 1;
            }
        };
        for (at, req) in arrivals {
            let at = at.max(self.upstream.now);
            self.upstream.run_until(&self.compiled, Some(at));
            for (i, d, _) in self.upstream.done.drain(..) {
                pending.insert(i, d);
            }
            flush(&mut pending, &mut next_out, &mut sink);
            let e = self.entropy.next_request();
            let index = self.entropy.position() - 1;
            match self.route(&req, index, &e, at, &mut NoTrace) {
                Routed::Done(d) => {
                    pending.insert(index, *d);
                }
                Routed::Flight(f, start) => self.upstream.launch(&self.compiled, *f, start),
            }
            for (i, d, _) in self.upstream.done.drain(..) {
                pending.insert(i, d);
            }
            flush(&mut pending, &mut next_out, &mut sink);
        }
        self.upstream.run_until_idle(&self.compiled);
        for (i, d, _) in self.upstream.done.drain(..) {
            pending.insert(i, d);
        }
        flush(&mut pending, &mut next_out, &mut sink);
    }

    /// Runs a stream through the engine, keeping only the summary (memory does not grow with
    /// the stream). [`summarize`](Self::summarize) gives the same summary faster, on several
    /// threads.
    pub fn simulate<'r>(&mut self, stream: impl IntoIterator<Item = &'r Request>) -> Summary {
        let mut s = Summary::default();
        for r in stream {
            let d = self.decide(r);
            s.record(&d);
        }
        s
    }

    /// The downstream connection a request arrives on: from the pod it names (`source.ip`, or
    /// the first pod whose labels match `source.labels`), else from the default client
    /// ([`DEFAULT_CLIENT_IP`]): every request through a sidecar comes over some connection,
    /// so Envoy always has addresses to hash. Each request is a new connection, from a port
    /// the client's kernel picks (drawn from `rng`), to the service's address.
    pub(super) fn connection(
        &self,
        req: &Request,
        target: &Target,
        rng: &mut SimRng,
    ) -> Connection {
        let mesh = self.compiled.mesh;
        let ip = req.source.as_ref().and_then(|s| {
            s.ip.clone().or_else(|| {
                (!s.labels.is_empty())
                    .then(|| {
                        mesh.topology
                            .instances
                            .iter()
                            .find(|i| crate::model::labels_match(&s.labels, &i.labels))
                            .map(|i| i.address.clone())
                    })
                    .flatten()
            })
        });
        let ip = ip.unwrap_or_else(|| DEFAULT_CLIENT_IP.to_string());
        let port = 32768 + rng.below(28232);
        let vip = crate::lb::hash::xx(target.host.as_bytes());
        Connection {
            remote: Some(format!("{ip}:{port}")),
            local: Some(format!(
                "10.96.{}.{}:{}",
                (vip >> 8) & 0xff,
                vip & 0xff,
                target.port
            )),
        }
    }
}

/// The address of the client a request comes from when it names no source (and no pod matches
/// its labels): outside the 10.0.0.0/8 range meshsim gives pods, so it is never mistaken for
/// one.
pub const DEFAULT_CLIENT_IP: &str = "172.16.0.1";

/// Envoy's `shadowAppendedHost`: `-shadow` before the port.
pub fn shadow_host(authority: &str) -> String {
    match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => {
            format!("{}-shadow{}", &authority[..i], &authority[i..])
        }
        _ => format!("{authority}-shadow"),
    }
}

#[cfg(test)]
mod tests {
    use super::shadow_host;

    // Envoy shadow_writer_impl.cc examples.
    #[test]
    fn shadow_suffix_goes_before_the_port() {
        assert_eq!(shadow_host("foo"), "foo-shadow");
        assert_eq!(shadow_host("foo:8080"), "foo-shadow:8080");
        assert_eq!(shadow_host("[::1]:80"), "[::1]-shadow:80");
        assert_eq!(shadow_host("[::1]"), "[::1]-shadow");
    }
}
