//! Route tables as istiod generates them for one proxy: a sidecar (`mesh`) or a gateway.
//!
//! Sidecar (`BuildSidecarVirtualHostWrapper`): per listener port, a virtual host for each
//! service with an HTTP port there, using the rules of the first mesh-bound VirtualService for
//! that host, or Istio's default route; VirtualService hosts outside the registry get their own
//! virtual host on port 80 only; then the catch-all (`allow_any` or `block_all`).
//!
//! Gateway (`buildGatewayHTTPRouteConfig`): per server port, a virtual host per host admitted by
//! both a server and a bound VirtualService, with the routes of every such VirtualService in
//! order and catch-all routes moved to the end.
//!
//! Per-proxy filtering (`match.port`, `match.gateways`, `match.sourceLabels`,
//! `match.sourceNamespace`) happens here, at generation time, never per request.

use super::cluster::{Cluster, cluster_name, hash_for_destination, rules_for};
use super::delegate::expand_delegates;
use crate::config::{Destination, Resource, StringMap, VirtualService};
use crate::diag::{Diagnostic, codes};
use crate::lb::hash::HashPolicy;
use crate::model::{Mesh, host_matches, resolve_host, service_aliases};
use crate::route::{
    Action, Forward, MirrorPolicy, PathMatcher, Route, RouteMatch, RouteTable, Target, VirtualHost,
    VirtualHostSource, WeightedTarget,
};
use std::collections::{BTreeMap, BTreeSet};

/// The proxy a route table is generated for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proxy {
    /// A sidecar of a workload with these labels, in this namespace.
    Sidecar {
        /// Namespace.
        namespace: String,
        /// Workload labels.
        labels: StringMap,
    },
    /// A gateway, by `namespace/name` of its Gateway resource.
    Gateway {
        /// `namespace/name`.
        name: String,
        /// The gateway workload's labels (its selector).
        labels: StringMap,
    },
}

impl Proxy {
    fn gateway_names(&self) -> BTreeSet<String> {
        match self {
            Proxy::Sidecar { .. } => ["mesh".to_string()].into(),
            Proxy::Gateway { name, .. } => [name.clone()].into(),
        }
    }
    fn labels(&self) -> &StringMap {
        match self {
            Proxy::Sidecar { labels, .. } | Proxy::Gateway { labels, .. } => labels,
        }
    }
    fn namespace(&self) -> &str {
        match self {
            Proxy::Sidecar { namespace, .. } => namespace,
            Proxy::Gateway { name, .. } => name.split('/').next().unwrap_or("default"),
        }
    }
}

/// Resolves a gateway reference written in a VirtualService of `namespace` to `ns/name`
/// (`resolveGatewayName`).
pub fn resolve_gateway_name(g: &str, namespace: &str) -> String {
    if g == "mesh" {
        return g.to_string();
    }
    if let Some(name) = g.strip_prefix("./") {
        return format!("{namespace}/{name}");
    }
    if g.contains('/') {
        return g.to_string();
    }
    // Legacy `name.ns.svc.cluster.local` or `name.ns`.
    if let Some((name, rest)) = g.split_once('.') {
        let ns = rest.split('.').next().unwrap_or(namespace);
        return format!("{ns}/{name}");
    }
    format!("{namespace}/{g}")
}

/// Top-level gateways of a VirtualService, resolved; empty means `mesh`.
pub fn vs_gateways(vs: &Resource<VirtualService>) -> Vec<String> {
    if vs.spec.gateways.is_empty() {
        return vec!["mesh".into()];
    }
    vs.spec
        .gateways
        .iter()
        .map(|g| resolve_gateway_name(g, &vs.namespace))
        .collect()
}

/// Builds routes from a VirtualService for a proxy and listener port
/// (`BuildHTTPRoutesForVirtualService`); empty when every block is filtered out.
pub(crate) fn routes_for_vs(
    ctx: &Ctx<'_>,
    vs_index: usize,
    proxy: &Proxy,
    port: u32,
) -> Vec<Route> {
    let vs = &ctx.mesh.virtual_services[vs_index];
    let rules = expand_delegates(ctx.mesh, vs_index, ctx.diags_sink());
    let gateway_semantics = crate::model::gateway_api::use_gateway_semantics(vs);
    let gw_names = proxy.gateway_names();
    let mut out = Vec::new();
    'rules: for er in &rules {
        let http = &er.rule;
        let blocks: Vec<Option<(usize, &crate::config::HttpMatchRequest)>> =
            if http.matches.is_empty() {
                vec![None]
            } else {
                http.matches.iter().enumerate().map(Some).collect()
            };
        for block in blocks {
            if let Some((_, m)) = block {
                if m.port.is_some_and(|p| p != 0 && p != port) {
                    continue;
                }
                let gateways: Vec<String> = m
                    .gateways
                    .iter()
                    .map(|g| resolve_gateway_name(g, &vs.namespace))
                    .collect();
                let source_ok = if !gateways.is_empty() {
                    gateways.iter().any(|g| gw_names.contains(g))
                } else {
                    crate::model::labels_match(&m.source_labels, proxy.labels())
                        && m.source_namespace
                            .as_deref()
                            .is_none_or(|ns| ns == proxy.namespace())
                };
                if !source_ok {
                    continue;
                }
            }
            let matcher = match block {
                None => RouteMatch::any(),
                Some((_, m)) => match RouteMatch::from_istio(m) {
                    Ok(rm) => rm,
                    Err(e) => {
                        let origin = &ctx.mesh.virtual_services[er.origin_vs].origin;
                        let path = er.path.key("match");
                        ctx.report(
                            Diagnostic::error(codes::INVALID_VALUE, e)
                                .at(origin.locate(&path))
                                .with_path(path.to_string()),
                        );
                        continue;
                    }
                },
            };
            let name = match (
                http.name.as_deref(),
                block.and_then(|(_, m)| m.name.as_deref()),
            ) {
                (Some(r), Some(m)) => Some(format!("{r}.{m}")),
                (Some(r), None) => Some(r.to_string()),
                (None, Some(m)) => Some(format!(".{m}")),
                (None, None) => None,
            };
            let mut route = Route {
                name,
                virtual_service: Some(vs_index),
                rule: er.root_rule,
                match_index: block.map(|(j, _)| j),
                delegate: er.delegate,
                action: action(ctx, er, port),
                matcher,
            };
            if gateway_semantics {
                apply_gateway_semantics(&mut route);
            }
            redirect_prefix(&mut route);
            let catch_all = route.matcher.is_catch_all();
            out.push(route);
            if block.is_none() || catch_all {
                break 'rules;
            }
        }
    }
    out
}

/// What istiod needs while building: the mesh, the clusters, and a place for problems.
pub(crate) struct Ctx<'a> {
    pub mesh: &'a Mesh,
    pub clusters: &'a [Cluster],
    pub cluster_index: &'a BTreeMap<String, usize>,
    pub version: super::IstioVersion,
    pub diags: std::cell::RefCell<Vec<Diagnostic>>,
}

impl Ctx<'_> {
    fn report(&self, d: Diagnostic) {
        let mut v = self.diags.borrow_mut();
        if !v.contains(&d) {
            v.push(d);
        }
    }
    fn diags_sink(&self) -> &std::cell::RefCell<Vec<Diagnostic>> {
        &self.diags
    }
}

fn target(
    ctx: &Ctx<'_>,
    d: &Destination,
    namespace: &str,
    listener_port: u32,
) -> (Target, Option<u32>) {
    if d.host.is_empty() {
        // GetDestinationCluster: "only happens when the gateway-api BackendRef is invalid".
        let port = d.port.map_or(listener_port, |p| p.number);
        let t = Target {
            cluster_name: "UnknownService".into(),
            cluster: None,
            host: String::new(),
            subset: None,
            port,
        };
        return (t, None);
    }
    let host = resolve_host(&d.host, namespace);
    let svc = ctx.mesh.topology.service(&host);
    let explicit = d.port.map(|p| p.number).filter(|&p| p != 0);
    let port = explicit.unwrap_or_else(|| match svc {
        Some(s) if s.ports.len() == 1 => s.ports[0].number,
        _ => listener_port,
    });
    let subset = d.subset.clone().filter(|s| !s.is_empty());
    let name = cluster_name(port, subset.as_deref(), &host);
    let cluster = ctx.cluster_index.get(&name).copied();
    (
        Target {
            cluster_name: name,
            cluster,
            host,
            subset,
            port,
        },
        explicit,
    )
}

fn percent_fraction(value: f64) -> (u64, u64) {
    // istiod: translatePercentToFractionalPercent, value × 10000 out of a million.
    ((value * 10_000.0).round().max(0.0) as u64, 1_000_000)
}

/// istiod's `ApplyRedirect` (`pilot/pkg/networking/core/route/route.go`).
fn redirect(
    ctx: &Ctx<'_>,
    er: &super::delegate::ExpandedRule,
    r: &crate::config::HttpRedirect,
    listener_port: u32,
) -> Action {
    let status = match r.redirect_code {
        None | Some(0) | Some(301) => 301,
        Some(c @ (302 | 303 | 307 | 308)) => c as u16,
        Some(c) => {
            // istiod logs "Redirect Code %d is not yet supported" and emits the route with no
            // action, which Envoy refuses (a route needs one). Validation lets 300..=399 through.
            let origin = &ctx.mesh.virtual_services[er.origin_vs].origin;
            let path = er.path.key("redirect").key("redirectCode");
            ctx.report(
                Diagnostic::warning(
                    codes::INVALID_REDIRECT,
                    format!("redirectCode {c} is accepted by validation but istiod does not translate it: the route gets no action and Envoy rejects the route configuration; meshsim answers {c} with the Location as if it did"),
                )
                .at(origin.locate(&path))
                .with_path(path.to_string()),
            );
            c as u16
        }
    };
    let mut port = r.port.or_else(|| {
        (r.derive_port.as_deref() == Some("FROM_REQUEST_PORT")).then_some(listener_port)
    });
    // "Do not put explicit :80 or :443 when its http/https" (Istio ≥ 1.18), judged by the
    // redirect's scheme or, without one, the listener's. meshsim's listeners are plaintext.
    if ctx.version.redirect_drops_default_port() {
        let scheme = r.scheme.as_deref().unwrap_or("http");
        if (port == Some(80) && scheme == "http") || (port == Some(443) && scheme == "https") {
            port = None;
        }
    }
    Action::Redirect(crate::route::Redirect {
        status,
        scheme: r.scheme.clone(),
        authority: r.authority.clone().filter(|a| !a.is_empty()),
        port: port.filter(|&p| p != 0),
        uri: r.uri.clone(),
        prefix_rewrite: r.prefix_rewrite.clone().map(|p| (p, String::new())),
    })
}

/// istiod's route action for one rule: a redirect, a direct response, or a forward to
/// weighted clusters with hash policy, retries, mirrors, fault and rewrites.
fn action(ctx: &Ctx<'_>, er: &super::delegate::ExpandedRule, port: u32) -> Action {
    let http = &er.rule;
    let namespace = er.namespace.as_str();
    if let Some(r) = &http.redirect {
        return redirect(ctx, er, r, port);
    }
    if let Some(d) = &http.direct_response {
        return Action::DirectResponse {
            status: d.status as u16,
        };
    }
    check_weight_total(ctx, er);
    let weighted = http.route.len() > 1;
    let (mut clusters, hash_policy) = weighted_clusters(ctx, er, port);
    if clusters.is_empty() {
        // Every destination weighs 0: Istio's validation rejects the VirtualService ("total
        // destination weight = 0") and validate reports it; Envoy would refuse an empty
        // weighted_clusters. Answer as a route with nowhere to go rather than panic.
        return Action::DirectResponse { status: 500 };
    }
    let total_weight = clusters.iter().map(|c| c.weight as u64).sum();
    // istiod drops previous_hosts only for single-destination routes with a hash policy.
    let consistent_hash = http.route.len() == 1 && !hash_policy.is_empty();
    let retry_policy = super::retry::convert(http.retries.as_ref(), consistent_hash, ctx.version);
    let mut headers = http
        .headers
        .as_ref()
        .map(header_operations)
        .unwrap_or_default();
    if !weighted && let Some(lone) = clusters.first_mut() {
        headers.extend(&std::mem::take(&mut lone.headers));
    }
    Action::Forward(Box::new(Forward {
        clusters,
        weighted,
        total_weight,
        hash_policy,
        mirrors: mirror_policies(ctx, http, namespace, port),
        timeout: http.timeout,
        retry_policy,
        fault: http
            .fault
            .as_ref()
            .map(crate::resilience::fault::Fault::from_istio),
        host_rewrite: host_rewrite(http),
        rewrite: uri_rewrite(http),
        headers,
        // applyHTTPRouteDestination: "return 500 for invalid backends".
        cluster_not_found_status: if gateway_semantics(ctx, er) { 500 } else { 503 },
    }))
}

fn gateway_semantics(ctx: &Ctx<'_>, er: &super::delegate::ExpandedRule) -> bool {
    crate::model::gateway_api::use_gateway_semantics(&ctx.mesh.virtual_services[er.origin_vs])
}

/// What the Gateway API's semantics change in one route (`TranslateRouteMatch`,
/// `applyHTTPRouteDestination`, `ApplyRedirect`): a `PathPrefix` other than `/` is Envoy's
/// `path_separated_prefix`; a rewrite to `/` removes the matched prefix by regex.
fn apply_gateway_semantics(route: &mut Route) {
    if let PathMatcher::Prefix(p) = &route.matcher.path
        && p != "/"
    {
        route.matcher.path = PathMatcher::PathSeparatedPrefix(p.trim_end_matches('/').to_string());
    }
    let matched = match &route.matcher.path {
        PathMatcher::PathSeparatedPrefix(p) => p.clone(),
        _ => String::new(),
    };
    if let Action::Forward(f) = &mut route.action
        && let Some(rw) = f.rewrite.as_mut()
        && rw.regex.is_none()
        && rw.prefix.as_deref() == Some("/")
        && let Ok(re) =
            crate::route::Regex::new(&format!("^{}(/?)(.*)", regex_syntax::escape(&matched)))
    {
        // "hold `/` in case the entire path is removed"
        rw.prefix = None;
        rw.regex = Some((re, "/\\2".into()));
    }
}

/// A redirect's `prefix_rewrite` replaces what the route matched: its prefix, or its exact
/// path (Envoy's `currentUrlPathAfterRewrite`; a regex match rewrites nothing).
fn redirect_prefix(route: &mut Route) {
    if let Action::Redirect(r) = &mut route.action
        && let Some((_, m)) = r.prefix_rewrite.as_mut()
    {
        *m = match &route.matcher.path {
            PathMatcher::PathSeparatedPrefix(p) | PathMatcher::Prefix(p) => p.clone(),
            PathMatcher::Exact(e) => e.clone(),
            PathMatcher::Regex(_) => String::new(),
        };
    }
}

/// Before Istio 1.20 (weights relative since then), a split must total 100 or istiod
/// rejects the VirtualService.
fn check_weight_total(ctx: &Ctx<'_>, er: &super::delegate::ExpandedRule) {
    let http = &er.rule;
    if !ctx.version.weights_sum_to_100() || http.route.len() <= 1 {
        return;
    }
    let total: i64 = http.route.iter().map(|r| r.weight as i64).sum();
    if total != 100 {
        let origin = &ctx.mesh.virtual_services[er.origin_vs].origin;
        let path = er.path.key("route");
        ctx.report(
            Diagnostic::error(
                codes::INVALID_VALUE,
                format!(
                    "total destination weight {total} != 100: Istio {} rejects this VirtualService (weights are relative since 1.15)",
                    ctx.version
                ),
            )
            .at(origin.locate(&path))
            .with_path(path.to_string()),
        );
    }
}

/// The rule's destinations as `weighted_clusters` (zero weights dropped, as istiod does) and
/// the hash policies their DestinationRules ask for.
fn weighted_clusters(
    ctx: &Ctx<'_>,
    er: &super::delegate::ExpandedRule,
    port: u32,
) -> (Vec<WeightedTarget>, Vec<HashPolicy>) {
    let http = &er.rule;
    let mut hash_policy: Vec<HashPolicy> = Vec::new();
    let mut clusters = Vec::new();
    let weighted = http.route.len() > 1;
    for (index, rd) in http.route.iter().enumerate() {
        if weighted && rd.weight <= 0 {
            continue;
        }
        let (t, explicit_port) = target(ctx, &rd.destination, &er.namespace, port);
        let rule = rules_for(ctx.mesh, &t.host);
        if let Some(h) = hash_for_destination(&rule, t.subset.as_deref(), explicit_port) {
            hash_policy.push(h);
        }
        clusters.push(WeightedTarget {
            target: t,
            weight: if weighted { rd.weight as u32 } else { 0 },
            index,
            headers: rd
                .headers
                .as_ref()
                .map(header_operations)
                .unwrap_or_default(),
        });
    }
    (clusters, hash_policy)
}

/// `mirror` (with `mirrorPercentage` or the deprecated `mirrorPercent`) and `mirrors`, as
/// Envoy's `request_mirror_policies`; a 0% mirror is none.
fn mirror_policies(
    ctx: &Ctx<'_>,
    http: &crate::config::HttpRoute,
    namespace: &str,
    port: u32,
) -> Vec<MirrorPolicy> {
    let mut mirrors = Vec::new();
    if let Some(m) = &http.mirror {
        let frac = match (&http.mirror_percentage, http.mirror_percent) {
            (Some(p), _) => (p.value > 0.0).then(|| percent_fraction(p.value)),
            (None, Some(p)) => (p > 0).then_some((p as u64, 100)),
            (None, None) => Some((100, 100)),
        };
        if let Some((numerator, denominator)) = frac {
            mirrors.push(MirrorPolicy {
                target: target(ctx, m, namespace, port).0,
                numerator,
                denominator,
            });
        }
    }
    for m in &http.mirrors {
        let frac = match &m.percentage {
            Some(p) => (p.value > 0.0).then(|| percent_fraction(p.value)),
            None => Some((100, 100)),
        };
        if let Some((numerator, denominator)) = frac {
            mirrors.push(MirrorPolicy {
                target: target(ctx, &m.destination, namespace, port).0,
                numerator,
                denominator,
            });
        }
    }
    mirrors
}

/// The authority sent upstream: `rewrite.authority` first, then an `:authority`/`host` set or
/// added by the rule's headers, then by a lone destination's.
fn host_rewrite(http: &crate::config::HttpRoute) -> Option<String> {
    let set_authority = |h: Option<&crate::config::Headers>| {
        h.and_then(|h| {
            h.request.as_ref().and_then(|r| {
                r.set
                    .iter()
                    .chain(r.add.iter())
                    .find(|(k, _)| is_authority(k))
                    .map(|(_, v)| v.clone())
            })
        })
    };
    http.rewrite
        .as_ref()
        .and_then(|r| r.authority.clone())
        .or_else(|| set_authority(http.headers.as_ref()))
        .or_else(|| {
            (http.route.len() == 1)
                .then(|| set_authority(http.route[0].headers.as_ref()))
                .flatten()
        })
}

/// `rewrite.uri` (a prefix rewrite) or `uriRegexRewrite`, and `rewrite.authority`.
fn uri_rewrite(http: &crate::config::HttpRoute) -> Option<crate::route::Rewrite> {
    http.rewrite.as_ref().and_then(|r| {
        let regex = r.uri_regex_rewrite.as_ref().and_then(|rr| {
            crate::route::Regex::new(&rr.pattern)
                .ok()
                .map(|re| (re, rr.rewrite.clone()))
        });
        (r.uri.is_some() || regex.is_some() || r.authority.is_some()).then(|| {
            crate::route::Rewrite {
                prefix: r.uri.clone(),
                regex,
                authority: r.authority.clone(),
            }
        })
    })
}

fn is_authority(name: &str) -> bool {
    name.eq_ignore_ascii_case(":authority") || name.eq_ignore_ascii_case("host")
}

/// istiod's `TranslateHeadersOperations` (`pilot/pkg/networking/core/route/route.go`): `set`
/// overwrites and `add` appends, each sorted by name, sets first; pseudo-headers and `host`
/// are dropped from every list (`dropInternal`; an authority becomes `host_rewrite_literal`).
fn header_operations(h: &crate::config::Headers) -> crate::route::HeaderOps {
    use crate::route::HeaderAdd;
    let internal = |k: &str| k.starts_with(':') || k.eq_ignore_ascii_case("host");
    let adds = |ops: Option<&crate::config::HeaderOperations>| -> Vec<HeaderAdd> {
        let Some(ops) = ops else { return vec![] };
        let entries = |m: &crate::config::StringMap, append: bool| {
            m.iter()
                .filter(|(k, _)| !internal(k))
                .map(|(k, v)| HeaderAdd {
                    name: k.clone(),
                    value: v.clone(),
                    append,
                })
                .collect::<Vec<_>>()
        };
        let mut out = entries(&ops.set, false);
        out.extend(entries(&ops.add, true));
        out
    };
    let removes = |ops: Option<&crate::config::HeaderOperations>| -> Vec<String> {
        ops.map(|o| o.remove.iter().filter(|k| !internal(k)).cloned().collect())
            .unwrap_or_default()
    };
    crate::route::HeaderOps {
        request_add: adds(h.request.as_ref()),
        request_remove: removes(h.request.as_ref()),
        response_add: adds(h.response.as_ref()),
        response_remove: removes(h.response.as_ref()),
    }
}

fn default_route(cluster: Option<&Cluster>, host: &str, port: u32, ctx: &Ctx<'_>) -> Route {
    let name = cluster_name(port, None, host);
    Route {
        name: Some("default".into()),
        virtual_service: None,
        rule: 0,
        match_index: None,
        delegate: None,
        matcher: RouteMatch::any(),
        action: Action::Forward(Box::new(Forward {
            clusters: vec![WeightedTarget {
                target: Target {
                    cluster: ctx.cluster_index.get(&name).copied(),
                    cluster_name: name,
                    host: host.to_string(),
                    subset: None,
                    port,
                },
                weight: 0,
                index: 0,
                headers: Default::default(),
            }],
            weighted: false,
            total_weight: 0,
            hash_policy: cluster
                .map(|c| c.default_hash_policy.clone())
                .unwrap_or_default(),
            mirrors: vec![],
            timeout: None,
            retry_policy: super::retry::convert(None, false, ctx.version),
            fault: None,
            host_rewrite: None,
            rewrite: None,
            headers: Default::default(),
            cluster_not_found_status: 503,
        })),
    }
}

fn is_http(protocol: &str) -> bool {
    matches!(
        protocol,
        "HTTP" | "HTTP2" | "GRPC" | "GRPC-WEB" | "UNSPECIFIED"
    )
}

/// The sidecar route table for one listener port.
/// The mesh-bound VirtualServices a sidecar in `client_ns` considers, in the order the first
/// for a host wins: `SelectVirtualServices` puts Gateway API routes of the proxy's own
/// namespace first (the "consumer override"), and `buildSidecarVirtualHostsForVirtualService`
/// drops a Gateway API route from another namespace than its Service's ("Gateway allows only
/// routes from the namespace of the proxy, or namespace of the destination").
fn sidecar_virtual_services(mesh: &Mesh, client_ns: &str) -> Vec<usize> {
    let gateway_semantics = crate::model::gateway_api::use_gateway_semantics;
    let mut order: Vec<usize> = (0..mesh.virtual_services.len())
        .filter(|&i| {
            let vs = &mesh.virtual_services[i];
            !vs.spec.hosts.is_empty()
                && vs_gateways(vs).iter().any(|g| g == "mesh")
                && (!gateway_semantics(vs)
                    || vs.namespace == client_ns
                    || vs.spec.hosts.iter().any(|h| {
                        mesh.topology
                            .service(&resolve_host(h, &vs.namespace))
                            .is_some_and(|s| s.namespace == vs.namespace)
                    }))
        })
        .collect();
    order.sort_by_key(|&i| {
        let vs = &mesh.virtual_services[i];
        !(gateway_semantics(vs) && vs.namespace == client_ns)
    });
    order
}

/// `computeWildcardHostVirtualServiceIndex` (pilot/pkg/model/sidecar.go) with
/// `MostSpecificHostMatch` (pilot/pkg/model/config.go): for each service, the VirtualService
/// whose host matches it most specifically (its exact host, else the longest wildcard), the
/// first in order for a host several name.
fn most_specific_virtual_services(
    mesh: &Mesh,
    order: &[usize],
    services: &[&crate::model::Service],
) -> BTreeMap<String, usize> {
    let mut exact: BTreeMap<String, usize> = BTreeMap::new();
    let mut wildcard: BTreeMap<String, usize> = BTreeMap::new();
    for &vi in order {
        let vs = &mesh.virtual_services[vi];
        for h in &vs.spec.hosts {
            let host = resolve_host(h, &vs.namespace);
            let index = if host.starts_with('*') {
                &mut wildcard
            } else {
                &mut exact
            };
            index.entry(host).or_insert(vi);
        }
    }
    let mut out = BTreeMap::new();
    for s in services {
        let found = exact.get(&s.hostname).copied().or_else(|| {
            wildcard
                .iter()
                .filter(|(w, _)| s.hostname.ends_with(&w[1..]))
                .max_by_key(|(w, _)| w.len())
                .map(|(_, &vi)| vi)
        });
        if let Some(vi) = found {
            out.insert(s.hostname.clone(), vi);
        }
    }
    out
}

pub(crate) fn sidecar_table(ctx: &Ctx<'_>, proxy: &Proxy, port: u32) -> RouteTable {
    let mesh = ctx.mesh;
    let client_ns = proxy.namespace().to_string();
    let services: Vec<&crate::model::Service> = mesh
        .topology
        .services
        .iter()
        .filter(|s| {
            s.ports
                .iter()
                .any(|p| p.number == port && is_http(&p.protocol))
        })
        .collect();
    let mut claimed: BTreeSet<String> = BTreeSet::new();
    let mut vhosts: Vec<VirtualHost> = Vec::new();
    let candidates = sidecar_virtual_services(mesh, &client_ns);
    let most_specific = most_specific_virtual_services(mesh, &candidates, &services);
    for vi in candidates {
        let vs = &mesh.virtual_services[vi];
        let routes = routes_for_vs(ctx, vi, proxy, port);
        if routes.is_empty() {
            continue;
        }
        let mut non_registry = Vec::new();
        let mut matched = false;
        for h in &vs.spec.hosts {
            let host = resolve_host(h, &vs.namespace);
            let svcs: Vec<&&crate::model::Service> = if host.contains('*') {
                // A wildcard host takes only the services it is the most specific host for.
                services
                    .iter()
                    .filter(|s| {
                        host_matches(&host, &s.hostname)
                            && most_specific.get(&s.hostname) == Some(&vi)
                    })
                    .collect()
            } else {
                services.iter().filter(|s| s.hostname == host).collect()
            };
            let in_registry = mesh.topology.service(&host).is_some()
                || (host.contains('*')
                    && mesh
                        .topology
                        .services
                        .iter()
                        .any(|s| host_matches(&host, &s.hostname)));
            if !in_registry {
                non_registry.push(host.clone());
            }
            for s in svcs {
                matched = true;
                if claimed.insert(s.hostname.clone()) {
                    vhosts.push(VirtualHost {
                        name: format!("{}:{port}", s.hostname),
                        domains: service_aliases(&s.hostname, &client_ns),
                        routes: routes.clone(),
                        source: VirtualHostSource::VirtualService(vi),
                        require_tls: false,
                    });
                }
            }
        }
        // Hosts outside the registry only get a virtual host on port 80 (istiod's hack).
        if !non_registry.is_empty() && (port == 80 || matched) {
            vhosts.push(VirtualHost {
                name: format!("{}:{port}", non_registry.join(",")),
                domains: non_registry,
                routes,
                source: VirtualHostSource::VirtualService(vi),
                require_tls: false,
            });
        }
    }
    for s in &services {
        if claimed.contains(&s.hostname) {
            continue;
        }
        let name = cluster_name(port, None, &s.hostname);
        let cluster = ctx.cluster_index.get(&name).map(|&i| &ctx.clusters[i]);
        vhosts.push(VirtualHost {
            name: format!("{}:{port}", s.hostname),
            domains: service_aliases(&s.hostname, &client_ns),
            routes: vec![default_route(cluster, &s.hostname, port, ctx)],
            source: VirtualHostSource::DefaultRoute,
            require_tls: false,
        });
    }
    // Domains are unique across virtual hosts: the first one keeps a duplicate.
    let mut seen = BTreeSet::new();
    for vh in &mut vhosts {
        vh.domains.retain(|d| seen.insert(d.clone()));
    }
    vhosts.retain(|vh| !vh.domains.is_empty());
    vhosts.push(catch_all(mesh));
    RouteTable {
        port,
        virtual_hosts: vhosts,
        ..RouteTable::default()
    }
}

/// The sidecar's last virtual host, for hosts no other one has: `allow_any`
/// (PassthroughCluster) or `block_all` (502), by `outboundTrafficPolicy`.
fn catch_all(mesh: &Mesh) -> VirtualHost {
    let (name, action, source) = match mesh.outbound_traffic_policy {
        crate::config::OutboundMode::AllowAny => (
            "allow_any",
            Action::Passthrough,
            VirtualHostSource::AllowAny,
        ),
        crate::config::OutboundMode::RegistryOnly => {
            ("block_all", Action::Block, VirtualHostSource::BlockAll)
        }
    };
    VirtualHost {
        name: name.into(),
        domains: vec!["*".into()],
        routes: vec![Route {
            name: Some(name.into()),
            virtual_service: None,
            rule: 0,
            match_index: None,
            delegate: None,
            matcher: RouteMatch::any(),
            action,
        }],
        source,
        require_tls: false,
    }
}

/// The gateway route table for the port the gateway listens on, `listen` (its servers'
/// ports through `resolvePorts` with the Services in front of it, `service_ports`). `None`
/// when the gateway has no server there.
pub(crate) fn gateway_table(
    ctx: &Ctx<'_>,
    gateways: &[usize],
    proxy: &Proxy,
    listen: u32,
    service_ports: &[(u32, u32)],
) -> Option<RouteTable> {
    let mesh = ctx.mesh;
    // The servers on this port of every Gateway the proxy serves (a Gateway API Gateway is
    // one Istio Gateway per listener), each with its Gateway's `ns/name` and namespace.
    let servers: Vec<(String, &str, &crate::config::Server)> = gateways
        .iter()
        .flat_map(|&gi| {
            let gw = &mesh.gateways[gi];
            let name = format!("{}/{}", gw.namespace, gw.name);
            gw.spec
                .servers
                .iter()
                .filter(|s| {
                    s.port.as_ref().is_some_and(|p| {
                        super::gateway_ports::resolve(service_ports, p.number) == listen
                    })
                })
                .map(move |s| (name.clone(), gw.namespace.as_str(), s))
        })
        .collect();
    // Routes are built for the server's own port number (buildGatewayHTTPRouteConfig:
    // `servers[0].Port.Number`), which `match.port` and redirects see.
    let port = servers
        .first()?
        .2
        .port
        .as_ref()
        .map_or(listen, |p| p.number);
    // VirtualServicesForGateway: Gateway API routes in the proxy's namespace first ("to give
    // the consumer override preference"), then the rest in order.
    let own_ns = proxy.namespace();
    let mut vs_order: Vec<usize> = (0..mesh.virtual_services.len()).collect();
    vs_order.sort_by_key(|&i| {
        let vs = &mesh.virtual_services[i];
        !(crate::model::gateway_api::use_gateway_semantics(vs) && vs.namespace == own_ns)
    });
    // domain → (VirtualService indices, routes)
    let mut by_domain: BTreeMap<String, (Vec<usize>, Vec<Route>)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut redirect: BTreeSet<String> = BTreeSet::new();
    for vi in vs_order {
        let vs = &mesh.virtual_services[vi];
        let bound = vs_gateways(vs);
        if !servers.iter().any(|(name, _, _)| bound.contains(name)) {
            continue;
        }
        let mut routes: Option<Vec<Route>> = None;
        for h in &vs.spec.hosts {
            let vs_host = resolve_host(h, &vs.namespace);
            for (gw_name, gw_namespace, server) in &servers {
                if !bound.contains(gw_name) {
                    continue;
                }
                for sh in &server.hosts {
                    let (ns, pattern) = match sh.split_once('/') {
                        Some((ns, p)) => (ns, p),
                        None => ("*", sh.as_str()),
                    };
                    let ns_ok = ns == "*"
                        || (ns == "." && vs.namespace == *gw_namespace)
                        || ns == vs.namespace;
                    if !ns_ok {
                        continue;
                    }
                    let pattern = pattern.to_ascii_lowercase();
                    let domain = if host_matches(&pattern, &vs_host) {
                        vs_host.clone()
                    } else if host_matches(&vs_host, &pattern) {
                        pattern.clone()
                    } else {
                        continue;
                    };
                    let rs = routes.get_or_insert_with(|| routes_for_vs(ctx, vi, proxy, port));
                    if rs.is_empty() {
                        continue;
                    }
                    if server.tls.as_ref().is_some_and(|t| t.https_redirect) {
                        redirect.insert(domain.clone());
                    }
                    let entry = by_domain.entry(domain.clone()).or_insert_with(|| {
                        order.push(domain.clone());
                        (Vec::new(), Vec::new())
                    });
                    if !entry.0.contains(&vi) {
                        entry.0.push(vi);
                        entry.1.extend(rs.iter().cloned());
                    }
                }
            }
        }
    }
    let vhosts = gateway_virtual_hosts(&servers, by_domain, order, redirect, port);
    Some(RouteTable {
        port,
        virtual_hosts: vhosts,
        ..RouteTable::default()
    })
}

/// The gateway's virtual hosts, in order, from the routes gathered per domain: every host of
/// a server with `tls.httpsRedirect` requires TLS, with or without VirtualServices
/// (buildGatewayHTTPRouteConfig sets `RequireTls: ALL`, and adds a route-less virtual host for
/// the hosts no VirtualService took); with no virtual host at all, istiod's `blackhole:PORT`.
fn gateway_virtual_hosts(
    servers: &[(String, &str, &crate::config::Server)],
    mut by_domain: BTreeMap<String, (Vec<usize>, Vec<Route>)>,
    mut order: Vec<String>,
    mut redirect: BTreeSet<String>,
    port: u32,
) -> Vec<VirtualHost> {
    for (_, _, server) in servers
        .iter()
        .filter(|(_, _, s)| s.tls.as_ref().is_some_and(|t| t.https_redirect))
    {
        for h in &server.hosts {
            let h = h
                .split_once('/')
                .map_or(h.as_str(), |(_, h)| h)
                .to_ascii_lowercase();
            redirect.insert(h.clone());
            if let std::collections::btree_map::Entry::Vacant(e) = by_domain.entry(h.clone()) {
                order.push(h);
                e.insert((Vec::new(), Vec::new()));
            }
        }
    }
    let mut vhosts = Vec::new();
    if order.is_empty() {
        // "no virtual hosts": a blackhole virtual host for the port, matching every domain
        // and routing nothing (404 NR).
        vhosts.push(VirtualHost {
            name: format!("blackhole:{port}"),
            domains: vec!["*".into()],
            routes: Vec::new(),
            source: VirtualHostSource::Blackhole,
            require_tls: false,
        });
    }
    for d in order {
        let (vss, mut routes) = by_domain.remove(&d).unwrap_or_default();
        // Catch-all routes go last (stable), as istiod's SortVHostRoutes does.
        routes.sort_by_key(|r| r.matcher.is_catch_all());
        vhosts.push(VirtualHost {
            name: format!("{d}:{port}"),
            require_tls: redirect.contains(&d),
            domains: vec![d],
            routes,
            source: VirtualHostSource::Gateway(vss),
        });
    }
    vhosts
}
