//! The downstream half of a request, in the stages Envoy runs them: the listener (which proxy,
//! which port, hence which route table), the virtual host (`findVirtualHost`), the route (the
//! first whose match holds), the route action (redirect, direct response, or forward with
//! rewrites), then the filters before the router (fault), the mirrors and the cluster. Each
//! stage reports typed events; none writes a sentence.

use super::decision::{
    Attempt, Decision, Flags, MirrorOut, ResponseHeaderChanges, UpstreamRequest,
};
use super::engine::{Routed, Simulator, shadow_host};
use super::upstream::Flight;
use crate::common::rng::{RequestEntropy, SimRng};
use crate::compile::Proxy;
use crate::lb::hash::{Connection, RequestHash, generate_hash, needs_connection};
use crate::lb::{LbPolicy, LoadBalancer, PickContext};
use crate::model::Mesh;
use crate::route::{
    Action, Forward, MirrorPolicy, Request, Route, RouteTable, Target, VirtualHost,
    VirtualHostSource,
};
use crate::trace::{
    DestinationRef, HostKnowledge, MirrorOutcome, ProxyRef, ResourceRef, RouteRef, TraceEvent,
    Tracer, VirtualHostOrigin, Weighted,
};
use std::sync::Arc;

impl Simulator<'_> {
    /// Routing: one request, with its random values, reported to `t`. Either the proxy
    /// answers itself, or the request leaves for an upstream.
    pub(super) fn route(
        &mut self,
        req: &Request,
        index: u64,
        e: &RequestEntropy,
        arrival: u64,
        t: &mut impl Tracer,
    ) -> Routed {
        let mut d = Decision::empty(index, arrival);
        let mesh = self.compiled.mesh;
        let Some(table) = self.listener(req, t) else {
            return not_routed(d);
        };
        let Some(vh) = virtual_host(&table, req, mesh, t) else {
            return not_routed(d);
        };
        // VirtualHostImpl::getRouteFromEntries: `require_tls: ALL` and a scheme other than
        // https give the SSL redirect route, whatever the routes are.
        if vh.require_tls && req.scheme != "https" {
            let location = format!("https://{}{}", req.authority, req.path);
            t.emit(|| TraceEvent::HttpsRedirect {
                location: location.clone(),
            });
            d.status = 301;
            d.redirect = Some(location);
            return Routed::Done(Box::new(d));
        }
        let Some(route) = match_route(vh, req, mesh, t) else {
            t.emit(|| TraceEvent::NoRouteMatched);
            return not_routed(d);
        };
        d.set_route(mesh, route);
        let known = || crate::model::host_knowledge(mesh, &req.host(), req.source_namespace());
        match route_action(route, req, arrival, &mut d, known, t) {
            Some(fwd) => self.forward(req, route, fwd, e, arrival, d, t),
            None => Routed::Done(Box::new(d)),
        }
    }

    /// Stage 1, the listener: the proxy deciding the request (its entry gateway, or its
    /// source's sidecar) and the port, hence the route table. `None` when a gateway has no
    /// server on that port.
    fn listener(&mut self, req: &Request, t: &mut impl Tracer) -> Option<Arc<RouteTable>> {
        let proxy = self.proxy_for(req);
        let port = req.arrival_port();
        t.emit(|| TraceEvent::Listener {
            proxy: match &proxy {
                Proxy::Sidecar { namespace, labels } => ProxyRef::Sidecar {
                    namespace: namespace.clone(),
                    labels: labels.clone(),
                },
                Proxy::Gateway { name, .. } => ProxyRef::Gateway { name: name.clone() },
            },
            port,
        });
        let table = self.table(&proxy, port);
        if table.is_none() {
            t.emit(|| TraceEvent::NoListener { port });
        }
        table
    }

    /// Stage 5, forwarding: the weighted pick and rewrites, the request hash, the fault
    /// filter, the mirrors, then the cluster; the tries are the upstream's.
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &mut self,
        req: &Request,
        route: &Route,
        fwd: &Forward,
        e: &RequestEntropy,
        arrival: u64,
        mut d: Decision,
        t: &mut impl Tracer,
    ) -> Routed {
        let (ci, value) = fwd.pick(e.stream_id);
        let wt = &fwd.clusters[ci];
        if let Some(value) = value {
            t.emit(|| TraceEvent::WeightedPick {
                value,
                total: fwd.total_weight,
                weights: fwd
                    .clusters
                    .iter()
                    .map(|c| Weighted {
                        destination: destination_ref(&c.target),
                        weight: c.weight,
                    })
                    .collect(),
                chosen: ci,
            });
        }
        let target = &wt.target;
        d.set_destination(fwd, wt);
        d.rewrite_path = fwd.rewritten_path(&route.matcher, req);
        d.rewrite_authority = fwd.host_rewrite.clone();
        upstream_request(fwd, wt, req, &mut d, t);

        let mut rng = e.aux_rng();
        let rh = self.request_hash(req, fwd, target, &mut rng, t);
        d.hash_key = rh.key.clone();
        d.set_cookie = rh.set_cookie.clone();

        let start = match fault(fwd, arrival, &mut rng, &mut d, t) {
            Ok(start) => start,
            Err(()) => return Routed::Done(Box::new(d)),
        };
        for m in &fwd.mirrors {
            if let Some(out) = self.mirror(req, fwd, m, e.stream_id, &mut rng, t) {
                d.mirrors.push(out);
            }
        }
        let Some(c) = self.upstream_cluster(target, t) else {
            d.status = fwd.cluster_not_found_status;
            d.flags = d.flags.with(Flags::NC);
            d.duration = start - arrival;
            return Routed::Done(Box::new(d));
        };
        if self.compiled.clusters[c].lb == LbPolicy::Passthrough {
            t.emit(|| TraceEvent::OriginalDestination {
                cluster: target.cluster_name.clone(),
            });
            d.status = 200;
            d.passthrough = true;
            d.duration = start - arrival;
            d.attempts.push(Attempt::passthrough(start));
            return Routed::Done(Box::new(d));
        }
        t.emit(|| TraceEvent::RetryPolicy {
            retry: fwd.retry_policy.as_ref().map(|p| p.to_trace()),
            route_timeout_ns: fwd.timeout.map(|t| t.nanos),
        });
        let flight = Flight::new(
            d,
            arrival,
            c,
            rh.hash,
            e.lb,
            rng,
            req.path.clone(),
            fwd.retry_policy.clone(),
            fwd.timeout.map(|t| t.nanos),
            t.enabled(),
        );
        Routed::Flight(Box::new(flight), start)
    }

    /// The hash a consistent-hash balancer uses, from the route's hash policies (drawing the
    /// connection's ephemeral port only when a policy hashes the source address).
    fn request_hash(
        &self,
        req: &Request,
        fwd: &Forward,
        target: &Target,
        rng: &mut SimRng,
        t: &mut impl Tracer,
    ) -> RequestHash {
        let conn = if needs_connection(&fwd.hash_policy, req) {
            self.connection(req, target, rng)
        } else {
            Connection::default()
        };
        let rh = generate_hash(&fwd.hash_policy, req, &conn);
        if !fwd.hash_policy.is_empty() {
            t.emit(|| TraceEvent::Hash {
                key: rh.key.clone(),
                hash: rh.hash,
                policies: fwd.hash_policy.iter().map(|p| p.to_string()).collect(),
            });
        }
        rh
    }

    /// One mirror policy: once per request, decided by the same `stream_id` as the weighted
    /// pick (Envoy's `shouldShadow`); the copy's endpoint is picked as the cluster's balancer
    /// would, and its answer is never awaited.
    fn mirror(
        &mut self,
        req: &Request,
        fwd: &Forward,
        m: &MirrorPolicy,
        stream_id: u64,
        rng: &mut SimRng,
        t: &mut impl Tracer,
    ) -> Option<MirrorOut> {
        let destination = || destination_ref(&m.target);
        if stream_id % m.denominator >= m.numerator {
            t.emit(|| TraceEvent::Mirror {
                destination: destination(),
                outcome: MirrorOutcome::NotSampled {
                    numerator: m.numerator,
                    denominator: m.denominator,
                },
            });
            return None;
        }
        let Some(mc) = m.target.cluster else {
            t.emit(|| TraceEvent::Mirror {
                destination: destination(),
                outcome: MirrorOutcome::NoCluster {
                    cluster: m.target.cluster_name.clone(),
                },
            });
            return None;
        };
        let base = fwd
            .host_rewrite
            .clone()
            .unwrap_or_else(|| req.authority.clone());
        let authority = if self.options.version.shadow_suffix() {
            shadow_host(&base)
        } else {
            base
        };
        let ctx = PickContext {
            hash: None,
            random: [rng.next_u64(), rng.next_u64()],
            active: &[],
            attempt: 0,
        };
        let pick = self.upstream.clusters[mc].lb.pick(&ctx);
        let cluster = &self.compiled.clusters[mc];
        let instances = &self.compiled.mesh.topology.instances;
        let (endpoint, workload) = match pick {
            Some(p) => (
                Some(cluster.hosts[p.host].address.clone()),
                Some(instances[cluster.instances[p.host]].name.clone()),
            ),
            None => (None, None),
        };
        t.emit(|| TraceEvent::Mirror {
            destination: destination(),
            outcome: MirrorOutcome::Sent {
                authority: authority.clone(),
                endpoint: endpoint.clone(),
            },
        });
        Some(MirrorOut {
            host: m.target.host.clone(),
            subset: m.target.subset.clone(),
            authority,
            endpoint,
            workload,
        })
    }

    /// The destination's cluster, if it exists (else 503 NC).
    fn upstream_cluster(&self, target: &Target, t: &mut impl Tracer) -> Option<usize> {
        let Some(c) = target.cluster else {
            t.emit(|| TraceEvent::NoCluster {
                cluster: target.cluster_name.clone(),
            });
            return None;
        };
        let cluster = &self.compiled.clusters[c];
        t.emit(|| TraceEvent::Cluster {
            name: cluster.name.clone(),
            policy: cluster.lb.to_string(),
            endpoints: cluster.hosts.len(),
        });
        Some(c)
    }
}

/// 404 NR: no listener, virtual host or route.
fn not_routed(mut d: Decision) -> Routed {
    d.status = 404;
    d.flags = Flags::NR;
    Routed::Done(Box::new(d))
}

/// Stage 2, the virtual host: Envoy's `findVirtualHost` on the authority without its port.
fn virtual_host<'t>(
    table: &'t RouteTable,
    req: &Request,
    mesh: &Mesh,
    t: &mut impl Tracer,
) -> Option<&'t VirtualHost> {
    let host = req.host();
    let Some((i, matched)) = table.find_virtual_host(&host) else {
        t.emit(|| TraceEvent::NoVirtualHost {
            host: host.to_string(),
        });
        return None;
    };
    let vh = &table.virtual_hosts[i];
    t.emit(|| TraceEvent::VirtualHost {
        name: vh.name.clone(),
        domain: matched.domain().to_string(),
        origin: origin(&vh.source, mesh),
    });
    Some(vh)
}

/// Stage 3, the route: the first whose match holds, in order. Only an explanation asks why
/// the others did not.
fn match_route<'v>(
    vh: &'v VirtualHost,
    req: &Request,
    mesh: &Mesh,
    t: &mut impl Tracer,
) -> Option<&'v Route> {
    let path = req.path_only();
    for r in &vh.routes {
        let matched = r.matcher.matches_path(req, path);
        t.emit(|| TraceEvent::RouteTried {
            route: route_ref(r, mesh),
            mismatch: r.matcher.check(req).err(),
        });
        if matched {
            return Some(r);
        }
    }
    None
}

/// Stage 4, the route action: the proxy answers itself (redirect, direct response, Istio's
/// REGISTRY_ONLY block or ALLOW_ANY passthrough) or forwards (`Some`).
fn route_action<'r>(
    route: &'r Route,
    req: &Request,
    arrival: u64,
    d: &mut Decision,
    known: impl Fn() -> HostKnowledge,
    t: &mut impl Tracer,
) -> Option<&'r Forward> {
    let port = req.arrival_port();
    match &route.action {
        Action::Forward(f) => return Some(f),
        Action::Redirect(rd) => {
            d.status = rd.status;
            let location = rd.location(req);
            t.emit(|| TraceEvent::Redirect {
                status: rd.status,
                location: location.clone(),
            });
            d.redirect = Some(location);
        }
        Action::DirectResponse { status } => {
            // Envoy has no response flag for a direct response.
            d.status = *status;
            t.emit(|| TraceEvent::DirectResponse { status: *status });
        }
        Action::Block => {
            d.status = 502;
            t.emit(|| TraceEvent::RegistryOnly {
                host: req.host().to_string(),
                port,
                known: known(),
            });
        }
        Action::Passthrough => {
            d.status = 200;
            d.passthrough = true;
            d.cluster = Some("PassthroughCluster".into());
            d.attempts.push(Attempt::passthrough(arrival));
            t.emit(|| TraceEvent::Passthrough {
                host: req.host().to_string(),
                port,
                known: known(),
            });
        }
    }
    None
}

/// The fault filter, before the router: a delay (the start moves), then an abort
/// (`Err`: answered, never routed, retried or mirrored).
fn fault(
    fwd: &Forward,
    arrival: u64,
    rng: &mut SimRng,
    d: &mut Decision,
    t: &mut impl Tracer,
) -> Result<u64, ()> {
    let mut start = arrival;
    let Some(fault) = &fwd.fault else {
        return Ok(start);
    };
    if let Some((delay, pm)) = fault.delay
        && rng.below(1_000_000) < pm
    {
        start += delay.nanos;
        d.flags = d.flags.with(Flags::DI);
        t.emit(|| TraceEvent::FaultDelay {
            delay_ns: delay.nanos,
        });
    }
    if let Some((status, pm)) = fault.abort
        && rng.below(1_000_000) < pm
    {
        d.status = status;
        d.flags = d.flags.with(Flags::FI);
        d.duration = start - arrival;
        t.emit(|| TraceEvent::FaultAbort { status });
        return Err(());
    }
    Ok(start)
}

fn origin(source: &VirtualHostSource, mesh: &Mesh) -> VirtualHostOrigin {
    let resource = |i| virtual_service_ref(i, mesh);
    match source {
        VirtualHostSource::VirtualService(i) => VirtualHostOrigin::VirtualService {
            resource: resource(*i),
        },
        VirtualHostSource::Gateway(v) => VirtualHostOrigin::Gateway {
            resources: v.iter().map(|&i| resource(i)).collect(),
        },
        VirtualHostSource::DefaultRoute => VirtualHostOrigin::DefaultRoute,
        VirtualHostSource::AllowAny => VirtualHostOrigin::AllowAny,
        VirtualHostSource::BlockAll => VirtualHostOrigin::RegistryOnly,
        VirtualHostSource::Blackhole => VirtualHostOrigin::Blackhole,
    }
}

fn route_ref(r: &Route, mesh: &Mesh) -> RouteRef {
    RouteRef {
        virtual_service: r.virtual_service.map(|i| virtual_service_ref(i, mesh)),
        rule: r.rule,
        match_index: r.match_index,
        name: r.name.clone(),
        from: r
            .virtual_service
            .and_then(|i| mesh.gateway_api.describe(i, r.rule)),
    }
}

fn virtual_service_ref(i: usize, mesh: &Mesh) -> ResourceRef {
    let vs = &mesh.virtual_services[i];
    ResourceRef {
        namespace: vs.namespace.clone(),
        name: vs.name.clone(),
    }
}

fn destination_ref(t: &Target) -> DestinationRef {
    DestinationRef {
        host: t.host.clone(),
        subset: t.subset.clone(),
        port: t.port,
    }
}

/// What the upstream receives and what the route changes in the response: the weighted
/// cluster's header changes, then the route's (Envoy's `WeightedClusterEntry` evaluates its
/// own parser before its parent route's, so the route's `set` wins).
fn upstream_request(
    fwd: &Forward,
    wt: &crate::route::WeightedTarget,
    req: &Request,
    d: &mut Decision,
    t: &mut impl Tracer,
) {
    let mut headers = req.headers.clone();
    wt.headers.apply_request(&mut headers);
    fwd.headers.apply_request(&mut headers);
    let upstream = UpstreamRequest {
        authority: d
            .rewrite_authority
            .clone()
            .unwrap_or_else(|| req.authority.clone()),
        path: d.rewrite_path.clone().unwrap_or_else(|| req.path.clone()),
        headers,
    };
    let response =
        [&wt.headers, &fwd.headers]
            .iter()
            .fold(ResponseHeaderChanges::default(), |mut r, h| {
                r.remove.extend(h.response_remove.iter().cloned());
                r.add.extend(h.response_add.iter().cloned());
                r
            });
    if upstream.authority != req.authority
        || upstream.path != req.path
        || upstream.headers != req.headers
        || !response.add.is_empty()
        || !response.remove.is_empty()
    {
        t.emit(|| TraceEvent::UpstreamRequest {
            authority: upstream.authority.clone(),
            path: upstream.path.clone(),
            set: upstream
                .headers
                .iter()
                .filter(|h| !req.headers.contains(h))
                .cloned()
                .collect(),
            removed: req
                .headers
                .iter()
                .filter(|h| !upstream.headers.contains(h))
                .map(|(n, _)| n.clone())
                .collect(),
            response_set: response
                .add
                .iter()
                .map(|a| (a.name.clone(), a.value.clone(), a.append))
                .collect(),
            response_removed: response.remove.clone(),
        });
    }
    d.response_headers =
        (!response.add.is_empty() || !response.remove.is_empty()).then_some(response);
    d.upstream = Some(upstream);
}
