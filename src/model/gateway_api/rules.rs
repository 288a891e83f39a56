//! HTTPRoute rules → VirtualService `http` rules (`convertHTTPRoute`, `buildHTTPDestination`,
//! `buildDestination`, the filter constructors), one VirtualService per (parent, hostname),
//! merged across routes and sorted as `mergeHTTPRoutes` and `sortHTTPRoutes` do.

use super::attach::{self, ListenerInfo, ParentKind};
use super::{GENERATED, GatewayApi, PARENTS, ROUTE_SEMANTICS, RouteKind, RouteMeta, RuleOrigin};
use crate::config::gateway_api::{
    BackendObjectReference, GrpcRouteMatch, HttpBackendRef, HttpHeaderFilter, HttpRouteFilter,
    HttpRouteMatch, HttpRouteRetry, HttpRouteRule, HttpRouteSpec, HttpRouteTimeouts,
};
use crate::config::{
    Destination, Duration, HeaderOperations, Headers, HttpDirectResponse, HttpMatchRequest,
    HttpMirrorPolicy, HttpRedirect, HttpRetry, HttpRewrite, HttpRoute, HttpRouteDestination, Kind,
    Percent, PortSelector, RegexRewrite, Resource, StringMap, StringMatch, VirtualService,
    YamlPath,
};
use crate::diag::{Diagnostic, codes};
use std::collections::BTreeMap;

/// A rule that could not be converted at all: istiod drops the whole route.
struct HardError {
    path: YamlPath,
    reason: &'static str,
    message: String,
}

/// One route's converted rules (one `http` entry per match), for gateway or mesh parents.
struct ConvertedRoute {
    rules: Vec<(HttpRoute, RuleOrigin)>,
}

/// Every generated VirtualService, merged and sorted, with where each rule came from.
pub(super) fn virtual_services(
    api: &GatewayApi,
    listeners: &[ListenerInfo],
    service_exists: &dyn Fn(&str) -> bool,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(Resource<VirtualService>, Vec<RuleOrigin>)> {
    // Merge key → the VirtualServices of each route for that key, in route order.
    let mut by_key: BTreeMap<String, Vec<Piece>> = BTreeMap::new();
    let routes = (0..api.http_routes.len())
        .map(|i| (RouteKind::Http, i))
        .chain((0..api.grpc_routes.len()).map(|i| (RouteKind::Grpc, i)));
    for (kind, ri) in routes {
        let route = api.meta(kind, ri);
        let parents = attach::parents(api, listeners, &route, service_exists, diags);
        if parents.is_empty() {
            continue;
        }
        let mut converted: [Option<Option<ConvertedRoute>>; 2] = [None, None];
        let mut count = 0;
        for parent in parents {
            let mesh = matches!(parent.kind, ParentKind::Mesh { .. });
            let slot = &mut converted[usize::from(mesh)];
            let conv = slot.get_or_insert_with(|| {
                match convert_route(api, kind, ri, !mesh, service_exists, diags) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        diags.push(
                            Diagnostic::warning(
                                codes::ROUTE_DROPPED,
                                format!(
                                    "{} {}/{}: {} ({}): istiod drops the whole route, which routes nothing",
                                    kind.as_str(), route.namespace, route.name, e.message, e.reason
                                ),
                            )
                            .at(route.origin.locate(&e.path))
                            .with_path(e.path.to_string()),
                        );
                        None
                    }
                }
            });
            let Some(conv) = conv else { continue };
            let (key_base, hosts, gateways, port) = match &parent.kind {
                ParentKind::Listener(gw) => {
                    let hosts = route
                        .hostnames_or_any()
                        .into_iter()
                        .filter(|h| parent.allows_hostname(h))
                        .collect();
                    (gw.clone(), hosts, gw.clone(), None)
                }
                ParentKind::Mesh { host, port } => {
                    let key = match port {
                        Some(p) => format!("{}/{p}", route.namespace),
                        None => route.namespace.to_string(),
                    };
                    (key, vec![host.clone()], "mesh".to_string(), *port)
                }
            };
            let rules: Vec<(HttpRoute, RuleOrigin)> = conv
                .rules
                .iter()
                .map(|(r, o)| (augment_port_match(r.clone(), port), o.clone()))
                .collect();
            for h in hosts {
                let key = format!("{key_base}/{h}");
                by_key.entry(key).or_default().push(Piece {
                    kind,
                    route: ri,
                    config_name: format!("{}~{count}~{GENERATED}", route.name),
                    host: h,
                    gateway: gateways.clone(),
                    rules: rules.clone(),
                });
                count += 1;
            }
        }
    }
    // In key order, as the BTreeMap keeps them.
    by_key
        .into_iter()
        .map(|(k, pieces)| merge(api, &k, pieces))
        .collect()
}

/// The VirtualService of one route for one key, before merging.
struct Piece {
    kind: RouteKind,
    route: usize,
    config_name: String,
    host: String,
    gateway: String,
    rules: Vec<(HttpRoute, RuleOrigin)>,
}

/// `mergeHTTPRoutes`: the pieces by creation time, namespace and config name; their rules
/// concatenated and sorted (stably) by `sortHTTPRoutes`; named after the key.
fn merge(
    api: &GatewayApi,
    key: &str,
    mut pieces: Vec<Piece>,
) -> (Resource<VirtualService>, Vec<RuleOrigin>) {
    let route = |p: &Piece| api.meta(p.kind, p.route);
    // A missing creationTimestamp is Go's zero time: the oldest.
    pieces.sort_by(|a, b| {
        let (ra, rb) = (route(a), route(b));
        ra.creation_timestamp
            .unwrap_or("")
            .cmp(rb.creation_timestamp.unwrap_or(""))
            .then_with(|| ra.namespace.cmp(rb.namespace))
            .then_with(|| a.config_name.cmp(&b.config_name))
    });
    let base = route(&pieces[0]);
    let parents: Vec<String> = pieces
        .iter()
        .map(|p| {
            let r = route(p);
            format!("{}/{}.{}", r.kind.as_str(), r.name, r.namespace)
        })
        .collect();
    let mut rules: Vec<(HttpRoute, RuleOrigin)> = pieces
        .iter()
        .flat_map(|p| p.rules.iter().cloned())
        .collect();
    rules.sort_by(|(a, _), (b, _)| http_route_order(a, b));
    let mut annotations = StringMap::new();
    annotations.insert(PARENTS.into(), parents.join(","));
    annotations.insert(ROUTE_SEMANTICS.into(), "gateway".into());
    let (http, origins): (Vec<HttpRoute>, Vec<RuleOrigin>) = rules.into_iter().unzip();
    let vs = Resource {
        kind: Kind::VirtualService,
        api_version: "networking.istio.io/v1".into(),
        name: key.replace('/', "~"),
        namespace: base.namespace.to_string(),
        labels: StringMap::new(),
        annotations,
        creation_timestamp: base.creation_timestamp.map(str::to_string),
        spec: VirtualService {
            hosts: vec![pieces[0].host.clone()],
            gateways: vec![pieces[0].gateway.clone()],
            http,
            ..VirtualService::default()
        },
        origin: base.origin.clone(),
    };
    (vs, origins)
}

/// `sortHTTPRoutes`' comparator as an ordering (used with a stable sort): rules without a
/// match last; then Exact > Prefix > Regex > no uri, longer values first, a method match
/// first, more header matches, more query matches.
fn http_route_order(a: &HttpRoute, b: &HttpRoute) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a.matches.first(), b.matches.first()) {
        (None, None) => Equal,
        (None, _) => Greater,
        (_, None) => Less,
        (Some(m1), Some(m2)) => {
            let (r1, r2) = (uri_rank(m1), uri_rank(m2));
            let (l1, l2) = (uri_len(m1), uri_len(m2));
            r2.cmp(&r1)
                .then(l2.cmp(&l1))
                .then(m2.method.is_some().cmp(&m1.method.is_some()))
                .then(m2.headers.len().cmp(&m1.headers.len()))
                .then(m2.query_params.len().cmp(&m1.query_params.len()))
        }
    }
}

fn uri_rank(m: &HttpMatchRequest) -> i32 {
    match &m.uri {
        None => -1,
        Some(u) if u.exact.is_some() => 3,
        Some(u) if u.prefix.is_some() => 2,
        Some(u) if u.regex.is_some() => 1,
        Some(_) => -1,
    }
}

fn uri_len(m: &HttpMatchRequest) -> usize {
    m.uri.as_ref().map_or(0, |u| {
        u.exact
            .as_ref()
            .or(u.prefix.as_ref())
            .or(u.regex.as_ref())
            .map_or(0, String::len)
    })
}

/// `augmentPortMatch`: a Service parentRef's port restricts every rule to that port.
fn augment_port_match(mut r: HttpRoute, port: Option<u32>) -> HttpRoute {
    if let Some(p) = port {
        if r.matches.is_empty() {
            r.matches.push(HttpMatchRequest::default());
        }
        for m in &mut r.matches {
            m.port = Some(p);
        }
    }
    r
}

/// The CRD defaults the API server applies to an HTTPRoute's rules: no `rules` is one rule,
/// a rule without `matches` matches `PathPrefix /`, and so does a match without `path`.
fn defaulted_rules(spec: &HttpRouteSpec) -> Vec<HttpRouteRule> {
    let default_match = || HttpRouteMatch {
        path: Some(crate::config::gateway_api::HttpPathMatch {
            kind: Some("PathPrefix".into()),
            value: Some("/".into()),
        }),
        ..HttpRouteMatch::default()
    };
    let mut rules = spec.rules.clone().unwrap_or_else(|| {
        vec![HttpRouteRule {
            matches: vec![default_match()],
            ..HttpRouteRule::default()
        }]
    });
    for r in &mut rules {
        if r.matches.is_empty() {
            r.matches.push(default_match());
        }
        for m in &mut r.matches {
            if m.path.is_none() {
                m.path = default_match().path;
            }
        }
    }
    rules
}

/// One rule of either kind, as `convertHTTPRoute` and `convertGRPCRoute` read it.
struct RuleSpec<'a> {
    name: Option<&'a str>,
    filters: &'a [HttpRouteFilter],
    backend_refs: &'a [HttpBackendRef],
    timeouts: Option<&'a HttpRouteTimeouts>,
    retry: Option<&'a HttpRouteRetry>,
}

impl<'a> RuleSpec<'a> {
    fn of_http(r: &'a HttpRouteRule) -> Self {
        RuleSpec {
            name: r.name.as_deref(),
            filters: &r.filters,
            backend_refs: &r.backend_refs,
            timeouts: r.timeouts.as_ref(),
            retry: r.retry.as_ref(),
        }
    }
}

/// Every rule of one route, split into one `http` entry per match (`HTTPRouteCollection`,
/// `GRPCRouteCollection`; a GRPCRoute rule without matches is one entry without a match).
fn convert_route(
    api: &GatewayApi,
    kind: RouteKind,
    ri: usize,
    enforce_ref_grant: bool,
    service_exists: &dyn Fn(&str) -> bool,
    diags: &mut Vec<Diagnostic>,
) -> Result<ConvertedRoute, HardError> {
    let route = api.meta(kind, ri);
    // The HTTPRoute's rules after the CRD defaults, owned here and borrowed below.
    let http_rules = match kind {
        RouteKind::Http => defaulted_rules(&api.http_routes[ri].spec),
        RouteKind::Grpc => Vec::new(),
    };
    let rules: Vec<(RuleSpec<'_>, Vec<Option<HttpMatchRequest>>)> = match kind {
        RouteKind::Http => http_rules
            .iter()
            .map(|r| {
                let matches = r.matches.iter().map(|m| Some(convert_match(m))).collect();
                (RuleSpec::of_http(r), matches)
            })
            .collect(),
        RouteKind::Grpc => api.grpc_routes[ri]
            .spec
            .rules
            .iter()
            .map(|r| {
                let mut matches: Vec<Option<HttpMatchRequest>> =
                    r.matches.iter().map(|m| Some(grpc_match(m))).collect();
                if matches.is_empty() {
                    matches.push(None);
                }
                let spec = RuleSpec {
                    name: r.name.as_deref(),
                    filters: &r.filters,
                    backend_refs: &r.backend_refs,
                    timeouts: None,
                    retry: None,
                };
                (spec, matches)
            })
            .collect(),
    };
    let mut out = Vec::new();
    for (n, (rule, matches)) in rules.iter().enumerate() {
        let rule_path = YamlPath::root().key("spec").key("rules").index(n);
        let ctx = RuleCtx {
            api,
            route: &route,
            rule_path: &rule_path,
            enforce_ref_grant,
            service_exists,
        };
        // A match the CRD's defaults added is not one the user can look up.
        let written = match kind {
            RouteKind::Http => api.http_routes[ri]
                .spec
                .rules
                .as_ref()
                .and_then(|r| r.get(n))
                .is_some_and(|r| !r.matches.is_empty()),
            RouteKind::Grpc => true,
        };
        for (j, m) in matches.iter().enumerate() {
            let r = convert_rule(&ctx, rule, n, m.clone(), diags)?;
            out.push((
                r,
                RuleOrigin {
                    kind,
                    route: ri,
                    rule: n,
                    match_index: m.as_ref().filter(|_| written).map(|_| j),
                },
            ));
        }
    }
    Ok(ConvertedRoute { rules: out })
}

struct RuleCtx<'a> {
    api: &'a GatewayApi,
    route: &'a RouteMeta<'a>,
    rule_path: &'a YamlPath,
    enforce_ref_grant: bool,
    service_exists: &'a dyn Fn(&str) -> bool,
}

/// `createGRPCURIMatch` and `createGRPCHeadersMatch`: gRPC's `/<service>/<method>` as path
/// matches.
fn grpc_match(m: &GrpcRouteMatch) -> HttpMatchRequest {
    let string = |regex: bool, v: String| {
        if regex {
            StringMatch {
                regex: Some(v),
                ..StringMatch::default()
            }
        } else {
            StringMatch {
                exact: Some(v),
                ..StringMatch::default()
            }
        }
    };
    let uri = m.method.as_ref().and_then(|mm| {
        let regex = mm.kind.as_deref() == Some("RegularExpression");
        match (mm.service.as_deref(), mm.method.as_deref(), regex) {
            (None, None, _) => None,
            (Some(s), None, false) => Some(StringMatch {
                prefix: Some(format!("/{s}/")),
                ..StringMatch::default()
            }),
            (Some(s), None, true) => Some(string(true, format!("/{s}/.+"))),
            (None, Some(me), _) => Some(string(true, format!("/[^/]+/{me}"))),
            (Some(s), Some(me), r) => Some(string(r, format!("/{s}/{me}"))),
        }
    });
    let mut headers = BTreeMap::new();
    for h in &m.headers {
        headers.insert(
            h.name.clone(),
            string(
                h.kind.as_deref() == Some("RegularExpression"),
                h.value.clone(),
            ),
        );
    }
    HttpMatchRequest {
        uri,
        headers,
        ..HttpMatchRequest::default()
    }
}

/// `convertHTTPRoute` for one rule and one of its matches.
fn convert_rule(
    ctx: &RuleCtx<'_>,
    rule: &RuleSpec<'_>,
    n: usize,
    m: Option<HttpMatchRequest>,
    diags: &mut Vec<Diagnostic>,
) -> Result<HttpRoute, HardError> {
    let route = ctx.route;
    let mut out = HttpRoute {
        name: Some(rule.name.map_or_else(
            || format!("{}.{}.{n}", route.namespace, route.name),
            str::to_string,
        )),
        matches: m.into_iter().collect(),
        ..HttpRoute::default()
    };
    for (fi, f) in rule.filters.iter().enumerate() {
        let path = ctx.rule_path.key("filters").index(fi);
        apply_filter(ctx, f, &path, &mut out, diags)?;
    }
    if let Some(retry) = rule.retry {
        let mut retry_on = vec![
            "connect-failure".to_string(),
            "refused-stream".into(),
            "unavailable".into(),
            "cancelled".into(),
        ];
        retry_on.extend(retry.codes.iter().map(u16::to_string));
        let attempts = retry.attempts.unwrap_or(2) as i32;
        out.retries = Some(HttpRetry {
            attempts,
            retry_on: (attempts != 0).then(|| retry_on.join(",")),
            backoff: retry
                .backoff
                .as_deref()
                .and_then(|b| Duration::parse(b).ok()),
            ..HttpRetry::default()
        });
    }
    if let Some(t) = rule.timeouts {
        let parse = |s: &Option<String>| {
            s.as_deref()
                .and_then(|v| Duration::parse(v).ok())
                .filter(|d| d.nanos != 0)
        };
        if let Some(d) = parse(&t.request) {
            out.timeout = Some(d);
        }
        if let Some(d) = parse(&t.backend_request) {
            match out.retries.as_mut() {
                Some(r) => r.per_try_timeout = Some(d),
                None => out.timeout = Some(d),
            }
        }
    }
    let weight_sum: u64 = rule
        .backend_refs
        .iter()
        .map(|b| u64::from(b.weight.unwrap_or(1)))
        .sum();
    if weight_sum == 0 && out.redirect.is_none() {
        // "when there are no >0 weight backends return 500".
        out.direct_response = Some(HttpDirectResponse {
            status: 500,
            body: None,
        });
        return Ok(out);
    }
    out.route = destinations(ctx, rule.backend_refs, diags)?;
    Ok(out)
}

/// `createURIMatch`, `createHeadersMatch`, `createQueryParamsMatch`, `createMethodMatch`.
fn convert_match(m: &HttpRouteMatch) -> HttpMatchRequest {
    let string_match = |kind: Option<&str>, v: &str| match kind {
        Some("RegularExpression") => StringMatch {
            regex: Some(v.to_string()),
            ..StringMatch::default()
        },
        _ => StringMatch {
            exact: Some(v.to_string()),
            ..StringMatch::default()
        },
    };
    let uri = m.path.as_ref().map(|p| {
        let value = p.value.clone().unwrap_or_else(|| "/".into());
        match p.kind.as_deref() {
            Some("Exact") => StringMatch {
                exact: Some(value),
                ..StringMatch::default()
            },
            Some("RegularExpression") => StringMatch {
                regex: Some(value),
                ..StringMatch::default()
            },
            // "When specified, a trailing `/` is ignored."
            _ => StringMatch {
                prefix: Some(if value == "/" {
                    value
                } else {
                    value.trim_end_matches('/').to_string()
                }),
                ..StringMatch::default()
            },
        }
    });
    let mut headers = BTreeMap::new();
    for h in &m.headers {
        headers
            .entry(h.name.clone())
            .or_insert_with(|| string_match(h.kind.as_deref(), &h.value));
    }
    let mut query_params = BTreeMap::new();
    for q in &m.query_params {
        query_params
            .entry(q.name.clone())
            .or_insert_with(|| string_match(q.kind.as_deref(), &q.value));
    }
    HttpMatchRequest {
        uri,
        headers,
        query_params,
        method: m.method.as_ref().map(|v| string_match(None, v)),
        ..HttpMatchRequest::default()
    }
}

/// One filter onto the rule; an unsupported type drops the route (`InvalidFilter`).
fn apply_filter(
    ctx: &RuleCtx<'_>,
    f: &HttpRouteFilter,
    path: &YamlPath,
    out: &mut HttpRoute,
    diags: &mut Vec<Diagnostic>,
) -> Result<(), HardError> {
    // convertGRPCRoute knows only the header modifiers and mirrors.
    let grpc = ctx.route.kind == RouteKind::Grpc;
    let kind = match f.kind.as_str() {
        "RequestHeaderModifier" | "ResponseHeaderModifier" | "RequestMirror" => f.kind.as_str(),
        _ if grpc => "",
        k => k,
    };
    match kind {
        "RequestHeaderModifier" => {
            if let Some(h) = f
                .request_header_modifier
                .as_ref()
                .and_then(header_operations)
            {
                out.headers.get_or_insert_with(Headers::default).request = Some(h);
            }
        }
        "ResponseHeaderModifier" => {
            if let Some(h) = f
                .response_header_modifier
                .as_ref()
                .and_then(header_operations)
            {
                out.headers.get_or_insert_with(Headers::default).response = Some(h);
            }
        }
        "RequestRedirect" => {
            if let Some(r) = &f.request_redirect {
                out.redirect = Some(redirect(r));
            }
        }
        "URLRewrite" => {
            if let Some(r) = &f.url_rewrite {
                out.rewrite = Some(rewrite(r));
            }
        }
        "RequestMirror" => {
            if let Some(m) = &f.request_mirror {
                let bpath = path.key("requestMirror").key("backendRef");
                match destination(ctx, &m.backend_ref, &bpath, diags) {
                    Ok(Some(dest)) => {
                        let percentage = match (&m.fraction, m.percent) {
                            (Some(fr), _) => Some(Percent {
                                value: 100.0 * f64::from(fr.numerator)
                                    / f64::from(fr.denominator.unwrap_or(100)),
                            }),
                            (None, Some(p)) => Some(Percent {
                                value: f64::from(p),
                            }),
                            (None, None) => None,
                        };
                        out.mirrors.push(HttpMirrorPolicy {
                            destination: dest,
                            percentage,
                        });
                    }
                    // An invalid mirror backend is dropped and the rule stays, for an
                    // HTTPRoute; a GRPCRoute is dropped whole.
                    Ok(None) if grpc => {
                        return Err(HardError {
                            path: bpath,
                            reason: "InvalidDestination",
                            message: "the mirror's backend does not resolve".into(),
                        });
                    }
                    Ok(None) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        // CORS is accepted (reported as not simulated: meshsim sends no preflights).
        "CORS" => {}
        _ => {
            return Err(HardError {
                path: path.key("type"),
                reason: "InvalidFilter",
                message: format!("unsupported filter type {:?}", f.kind),
            });
        }
    }
    Ok(())
}

/// `createHeadersFilter`: names lowercased, the first of duplicates kept.
fn header_operations(f: &HttpHeaderFilter) -> Option<HeaderOperations> {
    if f.set.is_empty() && f.add.is_empty() && f.remove.is_empty() {
        return None;
    }
    let map = |list: &[crate::config::gateway_api::HttpHeader]| {
        let mut m = StringMap::new();
        for h in list {
            m.entry(h.name.to_ascii_lowercase())
                .or_insert_with(|| h.value.clone());
        }
        m
    };
    Some(HeaderOperations {
        set: map(&f.set),
        add: map(&f.add),
        remove: f.remove.clone(),
    })
}

/// `createRedirectFilter`, with the CRD's default status code 302.
fn redirect(r: &crate::config::gateway_api::HttpRequestRedirect) -> HttpRedirect {
    let mut out = HttpRedirect {
        redirect_code: Some(u32::from(r.status_code.unwrap_or(302))),
        authority: r.hostname.clone(),
        scheme: r.scheme.clone(),
        ..HttpRedirect::default()
    };
    match r.port {
        Some(p) => out.port = Some(p),
        // "When empty, port (if specified) of the request is used."
        None if r.scheme.is_some() => out.derive_port = Some("FROM_PROTOCOL_DEFAULT".into()),
        None => out.derive_port = Some("FROM_REQUEST_PORT".into()),
    }
    if let Some(p) = &r.path {
        match p.kind.as_str() {
            "ReplaceFullPath" => out.uri = p.replace_full_path.clone(),
            "ReplacePrefixMatch" => out.prefix_rewrite = p.replace_prefix_match.clone(),
            _ => {}
        }
    }
    out
}

/// `createRewriteFilter`.
fn rewrite(r: &crate::config::gateway_api::HttpUrlRewrite) -> HttpRewrite {
    let mut out = HttpRewrite {
        authority: r.hostname.clone(),
        ..HttpRewrite::default()
    };
    if let Some(p) = &r.path {
        match p.kind.as_str() {
            "ReplacePrefixMatch" => {
                let v = p.replace_prefix_match.as_deref().unwrap_or("");
                let v = v.trim_end_matches('/');
                // `/` means removing the prefix.
                out.uri = Some(if v.is_empty() { "/".into() } else { v.into() });
            }
            "ReplaceFullPath" => {
                out.uri_regex_rewrite = Some(RegexRewrite {
                    pattern: "/.*".into(),
                    rewrite: p.replace_full_path.clone().unwrap_or_default(),
                });
            }
            _ => {}
        }
    }
    out
}

/// `buildHTTPDestination`: zero weights dropped, a lone destination unweighted, invalid
/// backends kept (their share answers 500).
fn destinations(
    ctx: &RuleCtx<'_>,
    refs: &[HttpBackendRef],
    diags: &mut Vec<Diagnostic>,
) -> Result<Vec<HttpRouteDestination>, HardError> {
    let mut out = Vec::new();
    for (bi, b) in refs.iter().enumerate() {
        let weight = b.weight.unwrap_or(1);
        if weight == 0 {
            continue;
        }
        let path = ctx.rule_path.key("backendRefs").index(bi);
        let obj = BackendObjectReference {
            group: b.group.clone(),
            kind: b.kind.clone(),
            name: b.name.clone(),
            namespace: b.namespace.clone(),
            port: b.port,
        };
        let dest = destination(ctx, &obj, &path, diags)?.unwrap_or_default();
        let mut headers = None;
        for (fi, f) in b.filters.iter().enumerate() {
            let fpath = path.key("filters").index(fi);
            let (req, resp) = match f.kind.as_str() {
                "RequestHeaderModifier" => (
                    f.request_header_modifier
                        .as_ref()
                        .and_then(header_operations),
                    None,
                ),
                "ResponseHeaderModifier" => (
                    None,
                    f.response_header_modifier
                        .as_ref()
                        .and_then(header_operations),
                ),
                other => {
                    return Err(HardError {
                        path: fpath.key("type"),
                        reason: "InvalidFilter",
                        message: format!("unsupported filter type {other:?} on a backendRef"),
                    });
                }
            };
            let h: &mut Headers = headers.get_or_insert_with(Headers::default);
            if req.is_some() {
                h.request = req;
            }
            if resp.is_some() {
                h.response = resp;
            }
        }
        out.push(HttpRouteDestination {
            destination: dest,
            weight: weight as i32,
            headers,
        });
    }
    if out.len() == 1 {
        out[0].weight = 0;
    }
    Ok(out)
}

/// `buildDestination`. `Ok(None)`: a soft error (the destination's share answers 500, or a
/// mirror is dropped), reported here; `Err`: the route is dropped.
fn destination(
    ctx: &RuleCtx<'_>,
    b: &BackendObjectReference,
    path: &YamlPath,
    diags: &mut Vec<Diagnostic>,
) -> Result<Option<Destination>, HardError> {
    let route = ctx.route;
    let group = b.group.as_deref().unwrap_or("");
    let kind = b.kind.as_deref().unwrap_or("Service");
    let ns = b
        .namespace
        .clone()
        .unwrap_or_else(|| route.namespace.to_string());
    let soft = |diags: &mut Vec<Diagnostic>, reason: &str, message: String| {
        diags.push(
            Diagnostic::warning(
                codes::BACKEND_NOT_RESOLVED,
                format!(
                    "{} {}/{}: {message} (ResolvedRefs: False, {reason}): its share of requests gets 500",
                    route.kind.as_str(), route.namespace, route.name
                ),
            )
            .at(route.origin.locate(path))
            .with_path(path.to_string()),
        );
    };
    if ctx.enforce_ref_grant
        && ns != route.namespace
        && !ctx.api.reference_grants.iter().any(|g| {
            g.namespace == ns
                && g.spec.from.iter().any(|f| {
                    f.group == crate::config::GATEWAY_API
                        && f.kind == route.kind.as_str()
                        && f.namespace == route.namespace
                })
                && g.spec.to.iter().any(|t| {
                    t.group == group
                        && t.kind == kind
                        && t.name.as_ref().is_none_or(|n| *n == b.name)
                })
        })
    {
        soft(
            diags,
            "RefNotPermitted",
            format!(
                "backendRef {}/{ns} not accessible to a {} in namespace {:?} (missing a ReferenceGrant?)",
                b.name,
                route.kind.as_str(),
                route.namespace
            ),
        );
        return Ok(None);
    }
    let port = |b: &BackendObjectReference| {
        b.port.ok_or_else(|| HardError {
            path: path.clone(),
            reason: "InvalidDestination",
            message: "port is required in backendRef".into(),
        })
    };
    match (group, kind) {
        ("", "Service") => {
            if b.name.contains('.') {
                return Err(HardError {
                    path: path.key("name"),
                    reason: "InvalidDestination",
                    message: format!(
                        "service name invalid; the name of the Service must be used, not the hostname: {:?}",
                        b.name
                    ),
                });
            }
            let port = port(b)?;
            let host = format!("{}.{ns}.{}", b.name, crate::model::CLUSTER_DOMAIN);
            if !(ctx.service_exists)(&host) {
                soft(
                    diags,
                    "BackendNotFound",
                    format!("backend({host}) not found"),
                );
            }
            Ok(Some(Destination {
                host,
                subset: None,
                port: Some(PortSelector { number: port }),
            }))
        }
        ("networking.istio.io", "Hostname") => Ok(Some(Destination {
            host: b.name.clone(),
            subset: None,
            port: Some(PortSelector { number: port(b)? }),
        })),
        _ => {
            soft(
                diags,
                "InvalidKind",
                format!("referencing unsupported backendRef: group {group:?} kind {kind:?}"),
            );
            Ok(None)
        }
    }
}
