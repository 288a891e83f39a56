//! Istio's admission rules: what the API server (its validating webhook and CRD schema) would
//! refuse, reported as located errors with stable codes. Deprecated fields are warnings.
//! Rules follow istio/istio `pkg/config/validation` (see the reference notes, §9).

mod rules;

pub use rules::{
    duration_error, header_name_error, host_error, is_prime, label_error, regex_error,
};

use crate::compile::IstioVersion;
use crate::config::{
    Destination, DestinationRule, Gateway, HttpRoute, LoadBalancerSettings, Origin,
    OutlierDetection, Resource, ServiceEntry, StringMap, TrafficPolicy, VirtualService,
    WorkloadEntry, YamlPath,
};
use crate::diag::{Code, Diagnostic, Diagnostics, codes};
use crate::model::Mesh;
use crate::resilience::retry::{RETRY_ON_VALUES, is_known_status};
use rules::{fault_percentage_error, is_dns_label, string_match_errors};

/// Collects findings for one resource, locating them through its span index.
struct Sink<'a> {
    origin: &'a Origin,
    out: &'a mut Vec<Diagnostic>,
}

impl Sink<'_> {
    fn push(&mut self, code: Code, error: bool, path: &YamlPath, msg: String) {
        let d = if error {
            Diagnostic::error(code, msg)
        } else {
            Diagnostic::warning(code, msg)
        };
        self.out
            .push(d.at(self.origin.locate(path)).with_path(path.to_string()));
    }
    fn err(&mut self, code: Code, path: &YamlPath, msg: impl Into<String>) {
        self.push(code, true, path, msg.into());
    }
    fn warn(&mut self, code: Code, path: &YamlPath, msg: impl Into<String>) {
        self.push(code, false, path, msg.into());
    }
}

/// Validates every resource of the mesh as Istio's admission would, for `version`.
pub fn validate(mesh: &Mesh, version: IstioVersion) -> Diagnostics {
    let mut out = Vec::new();
    for r in &mesh.virtual_services {
        virtual_service(r, version, &mut out);
    }
    for r in &mesh.destination_rules {
        destination_rule(r, &mut out);
    }
    for r in &mesh.gateways {
        gateway(r, &mut out);
    }
    for r in &mesh.service_entries {
        service_entry(r, &mut out);
    }
    for r in &mesh.workload_entries {
        let mut s = Sink {
            origin: &r.origin,
            out: &mut out,
        };
        workload_entry(&r.spec, &YamlPath::parse("spec"), &mut s);
    }
    let mut d = Diagnostics(out);
    d.sort();
    d
}

fn spec() -> YamlPath {
    YamlPath::root().key("spec")
}

fn labels(l: &StringMap, path: &YamlPath, s: &mut Sink<'_>) {
    for (k, v) in l {
        if let Some(e) = label_error(k, v) {
            s.err(codes::INVALID_LABEL, &path.key(k.clone()), e);
        }
    }
}

fn port_number(n: u32, path: &YamlPath, s: &mut Sink<'_>) {
    if !(1..=65535).contains(&n) {
        s.err(
            codes::INVALID_PORT,
            path,
            format!("port number {n} must be in the range 1..65535"),
        );
    }
}

fn duration(d: Option<crate::config::Duration>, path: &YamlPath, s: &mut Sink<'_>) {
    if let Some(e) = d.and_then(duration_error) {
        s.err(codes::INVALID_DURATION, path, e);
    }
}

fn destination(d: &Destination, path: &YamlPath, s: &mut Sink<'_>) {
    if d.host == "*" {
        s.err(
            codes::INVALID_HOST,
            &path.key("host"),
            "a destination host cannot be `*`",
        );
    } else if let Some(e) = host_error(&d.host) {
        s.err(codes::INVALID_HOST, &path.key("host"), e);
    }
    if let Some(sub) = &d.subset
        && !is_dns_label(sub)
    {
        s.err(
            codes::INVALID_SUBSET_NAME,
            &path.key("subset"),
            format!("subset `{sub}` is not a valid DNS-1123 label"),
        );
    }
    if let Some(p) = d.port {
        port_number(p.number, &path.key("port").key("number"), s);
    }
}

fn gateway_ref(g: &str, path: &YamlPath, s: &mut Sink<'_>) {
    if g == "mesh" {
        return;
    }
    let ok = match g.split_once('/') {
        Some((ns, name)) => {
            (ns == "." || is_dns_label(ns)) && host_error(name).is_none() && !name.contains('*')
        }
        None => host_error(g).is_none() && !g.contains('*'),
    };
    if !ok {
        s.err(
            codes::INVALID_GATEWAY_REF,
            path,
            format!("gateway `{g}` is neither `mesh`, `name` nor `namespace/name`"),
        );
    } else if !g.contains('/') && g.contains('.') {
        s.warn(
            codes::DEPRECATED,
            path,
            format!("gateway `{g}`: prefer the `namespace/name` format"),
        );
    }
}

fn virtual_service(r: &Resource<VirtualService>, version: IstioVersion, out: &mut Vec<Diagnostic>) {
    let vs = &r.spec;
    let mut s = Sink {
        origin: &r.origin,
        out,
    };
    let p = spec();
    let mesh_bound = vs.gateways.is_empty() || vs.gateways.iter().any(|g| g == "mesh");
    let delegate = vs.hosts.is_empty();
    if delegate && !vs.gateways.is_empty() {
        s.err(
            codes::INVALID_DELEGATE,
            &p.key("gateways"),
            "a delegate VirtualService (one without hosts) must not set gateways",
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, h) in vs.hosts.iter().enumerate() {
        let hp = p.key("hosts").index(i);
        if h == "*" && mesh_bound {
            s.err(
                codes::INVALID_HOST,
                &hp,
                "wildcard host * is not allowed for virtual services bound to the mesh gateway",
            );
        } else if let Some(e) = host_error(h) {
            s.err(codes::INVALID_HOST, &hp, e);
        }
        if !seen.insert(h.to_ascii_lowercase()) {
            s.err(
                codes::INVALID_HOST,
                &hp,
                format!("duplicate hosts in virtual service: `{h}`"),
            );
        }
    }
    for (i, g) in vs.gateways.iter().enumerate() {
        gateway_ref(g, &p.key("gateways").index(i), &mut s);
    }
    if vs.http.is_empty() && vs.tcp.is_none() && vs.tls.is_none() {
        s.err(
            codes::INVALID_ACTION,
            &p,
            "http, tcp or tls must be provided in virtual service",
        );
    }
    let last = vs.http.len().saturating_sub(1);
    for (i, h) in vs.http.iter().enumerate() {
        http_route(
            h,
            &p.key("http").index(i),
            delegate,
            i == last,
            version,
            &mut s,
        );
    }
}

fn http_route(
    h: &HttpRoute,
    p: &YamlPath,
    in_delegate: bool,
    _last: bool,
    version: IstioVersion,
    s: &mut Sink<'_>,
) {
    let has_route = !h.route.is_empty();
    if h.delegate.is_some() {
        if in_delegate {
            s.err(
                codes::INVALID_DELEGATE,
                &p.key("delegate"),
                "a delegate VirtualService cannot delegate again",
            );
        }
        if has_route || h.redirect.is_some() {
            s.err(
                codes::INVALID_DELEGATE,
                &p.key("delegate"),
                "a rule with `delegate` must not set `route` or `redirect`",
            );
        }
    } else if !has_route && h.redirect.is_none() && h.direct_response.is_none() {
        s.err(
            codes::INVALID_ACTION,
            p,
            "HTTP route, redirect or direct_response is required",
        );
    }
    if h.redirect.is_some() {
        for (f, set) in [
            ("route", has_route),
            ("fault", h.fault.is_some()),
            ("rewrite", h.rewrite.is_some()),
            ("directResponse", h.direct_response.is_some()),
        ] {
            if set {
                s.err(
                    codes::INVALID_ACTION,
                    &p.key(f),
                    format!("HTTP route cannot contain both `redirect` and `{f}`"),
                );
            }
        }
    }
    if h.direct_response.is_some() {
        for (f, set) in [
            ("route", has_route),
            ("fault", h.fault.is_some()),
            ("rewrite", h.rewrite.is_some()),
        ] {
            if set {
                s.err(
                    codes::INVALID_ACTION,
                    &p.key(f),
                    format!("HTTP route cannot contain both `directResponse` and `{f}`"),
                );
            }
        }
        if let Some(d) = &h.direct_response
            && !(200..=600).contains(&d.status)
        {
            s.err(
                codes::INVALID_ACTION,
                &p.key("directResponse").key("status"),
                format!("status {} is not in range 200-599", d.status),
            );
        }
    }
    for (j, m) in h.matches.iter().enumerate() {
        let mp = p.key("match").index(j);
        for (field, sm, empty_ok) in [
            ("uri", &m.uri, true),
            ("scheme", &m.scheme, false),
            ("method", &m.method, false),
            ("authority", &m.authority, false),
        ] {
            if let Some(sm) = sm {
                for (sub, e) in string_match_errors(sm, empty_ok) {
                    let path = if sub.is_empty() {
                        mp.key(field)
                    } else {
                        mp.key(field).key(sub)
                    };
                    let code = if sub == "regex" {
                        codes::INVALID_REGEX
                    } else {
                        codes::INVALID_STRING_MATCH
                    };
                    s.err(code, &path, e);
                }
            }
        }
        for (kind, map) in [
            ("headers", &m.headers),
            ("withoutHeaders", &m.without_headers),
            ("queryParams", &m.query_params),
        ] {
            for (name, sm) in map {
                let np = mp.key(kind).key(name.clone());
                if kind != "queryParams"
                    && let Some(e) = header_name_error(name)
                {
                    s.err(codes::INVALID_HEADER_NAME, &np, e);
                }
                for (sub, e) in string_match_errors(sm, false) {
                    let path = if sub.is_empty() {
                        np.clone()
                    } else {
                        np.key(sub)
                    };
                    let code = if sub == "regex" {
                        codes::INVALID_REGEX
                    } else {
                        codes::INVALID_STRING_MATCH
                    };
                    s.err(code, &path, e);
                }
            }
        }
        if let Some(port) = m.port {
            port_number(port, &mp.key("port"), s);
        }
        labels(&m.source_labels, &mp.key("sourceLabels"), s);
        for (k, g) in m.gateways.iter().enumerate() {
            gateway_ref(g, &mp.key("gateways").index(k), s);
        }
    }
    // Destinations and weights.
    for (k, rd) in h.route.iter().enumerate() {
        let rp = p.key("route").index(k);
        destination(&rd.destination, &rp.key("destination"), s);
        if rd.weight < 0 {
            s.err(
                codes::INVALID_WEIGHT,
                &rp.key("weight"),
                format!("weight {} < 0", rd.weight),
            );
        }
        if version.weights_sum_to_100() && rd.weight > 100 {
            s.err(
                codes::INVALID_WEIGHT,
                &rp.key("weight"),
                format!("weight {} > 100", rd.weight),
            );
        }
    }
    if h.route.len() > 1 {
        let total: i64 = h.route.iter().map(|r| r.weight as i64).sum();
        if total == 0 {
            s.err(
                codes::INVALID_WEIGHT,
                &p.key("route"),
                "total destination weight = 0",
            );
        } else if version.weights_sum_to_100() && total != 100 {
            s.err(
                codes::INVALID_WEIGHT,
                &p.key("route"),
                format!("total destination weight {total} != 100 (Istio {version})"),
            );
        }
    }
    duration(h.timeout, &p.key("timeout"), s);
    if let Some(r) = &h.retries {
        let rp = p.key("retries");
        if r.attempts < 0 {
            s.err(
                codes::INVALID_RETRIES,
                &rp.key("attempts"),
                "attempts cannot be negative",
            );
        }
        if r.attempts == 0
            && (r.per_try_timeout.is_some()
                || r.retry_on.is_some()
                || r.retry_remote_localities.is_some())
        {
            s.err(
                codes::INVALID_RETRIES,
                &rp,
                "http retry policy configured when attempts are set to 0 (disabled)",
            );
        }
        duration(r.per_try_timeout, &rp.key("perTryTimeout"), s);
        duration(r.backoff, &rp.key("backoff"), s);
        if let Some(on) = &r.retry_on {
            for token in on.split(',') {
                let known = RETRY_ON_VALUES.contains(&token)
                    || token.parse::<u32>().is_ok_and(is_known_status);
                if !known {
                    let hint = if token.trim() != token {
                        " (Istio does not trim spaces around `,`)"
                    } else {
                        ""
                    };
                    s.err(
                        codes::INVALID_RETRY_ON,
                        &rp.key("retryOn"),
                        format!("`{token}` is not a valid retryOn value{hint}"),
                    );
                }
            }
        }
    }
    if let Some(f) = &h.fault {
        let fp = p.key("fault");
        if f.delay.is_none() && f.abort.is_none() {
            s.err(
                codes::INVALID_FAULT,
                &fp,
                "HTTP fault injection must have an abort and/or a delay",
            );
        }
        if let Some(d) = &f.delay {
            let dp = fp.key("delay");
            if d.exponential_delay.is_some() {
                s.err(
                    codes::INVALID_FAULT,
                    &dp.key("exponentialDelay"),
                    "exponentialDelay is not supported yet",
                );
            }
            if d.fixed_delay.is_none() && d.exponential_delay.is_none() {
                s.err(codes::INVALID_FAULT, &dp, "a delay needs fixedDelay");
            }
            duration(d.fixed_delay, &dp.key("fixedDelay"), s);
            if let Some(e) = d.percentage.and_then(|pc| fault_percentage_error(pc.value)) {
                s.err(
                    codes::INVALID_PERCENTAGE,
                    &dp.key("percentage").key("value"),
                    e,
                );
            }
            if d.percent.is_some() {
                s.warn(
                    codes::DEPRECATED,
                    &dp.key("percent"),
                    "`percent` is deprecated; use `percentage`",
                );
            }
        }
        if let Some(a) = &f.abort {
            let ap = fp.key("abort");
            if let Some(st) = a.http_status
                && !(200..=600).contains(&st)
            {
                s.err(
                    codes::INVALID_FAULT,
                    &ap.key("httpStatus"),
                    format!("httpStatus {st} is not in range 200-599"),
                );
            }
            if a.http2_error.is_some() {
                s.err(
                    codes::INVALID_FAULT,
                    &ap.key("http2Error"),
                    "HTTP/2 abort fault injection not supported yet",
                );
            }
            if a.http_status.is_none() && a.grpc_status.is_none() && a.http2_error.is_none() {
                s.warn(
                    codes::INVALID_FAULT,
                    &ap,
                    "an abort without httpStatus or grpcStatus does nothing",
                );
            }
            if let Some(e) = a.percentage.and_then(|pc| fault_percentage_error(pc.value)) {
                s.err(
                    codes::INVALID_PERCENTAGE,
                    &ap.key("percentage").key("value"),
                    e,
                );
            }
        }
    }
    if h.mirror.is_some() && !h.mirrors.is_empty() {
        s.err(
            codes::INVALID_MIRROR,
            &p.key("mirrors"),
            "`mirror` and `mirrors` cannot both be set",
        );
    }
    if let Some(m) = &h.mirror {
        destination(m, &p.key("mirror"), s);
    }
    if let Some(pc) = h.mirror_percentage {
        if pc.value > 100.0 {
            s.err(
                codes::INVALID_PERCENTAGE,
                &p.key("mirrorPercentage").key("value"),
                "mirror_percentage must have a max value of 100",
            );
        } else if pc.value < 0.0 {
            s.err(
                codes::INVALID_PERCENTAGE,
                &p.key("mirrorPercentage").key("value"),
                "mirror_percentage must have a min value of 0",
            );
        }
    }
    if let Some(mp) = h.mirror_percent {
        s.warn(
            codes::DEPRECATED,
            &p.key("mirrorPercent"),
            "`mirrorPercent` is deprecated; use `mirrorPercentage`",
        );
        if mp > 100 {
            s.err(
                codes::INVALID_PERCENTAGE,
                &p.key("mirrorPercent"),
                "mirror_percent must have a max value of 100",
            );
        }
    }
    for (k, m) in h.mirrors.iter().enumerate() {
        let mp = p.key("mirrors").index(k);
        destination(&m.destination, &mp.key("destination"), s);
        if let Some(pc) = m.percentage
            && !(0.0..=100.0).contains(&pc.value)
        {
            s.err(
                codes::INVALID_PERCENTAGE,
                &mp.key("percentage").key("value"),
                format!("mirror percentage {} is not within 0..100", pc.value),
            );
        }
    }
    if let Some(r) = &h.redirect {
        let rp = p.key("redirect");
        if let Some(c) = r.redirect_code
            && !matches!(c, 301 | 302 | 303 | 307 | 308)
        {
            s.err(codes::INVALID_REDIRECT, &rp.key("redirectCode"), format!("redirect code {c} is not a 3xx redirect Envoy supports (301, 302, 303, 307, 308)"));
        }
        if let Some(sc) = &r.scheme
            && sc != "http"
            && sc != "https"
        {
            s.err(
                codes::INVALID_REDIRECT,
                &rp.key("scheme"),
                format!("scheme `{sc}` must be http or https"),
            );
        }
        if r.uri.is_none()
            && r.authority.is_none()
            && r.scheme.is_none()
            && r.port.is_none()
            && r.derive_port.is_none()
        {
            s.err(
                codes::INVALID_REDIRECT,
                &rp,
                "redirect must specify URI, authority, scheme, or port",
            );
        }
        if let Some(port) = r.port {
            port_number(port, &rp.key("port"), s);
        }
    }
    if let Some(rw) = &h.rewrite {
        let wp = p.key("rewrite");
        if rw.uri.is_some() && rw.uri_regex_rewrite.is_some() {
            s.err(
                codes::INVALID_REWRITE,
                &wp,
                "rewrite may specify only one of `uri` and `uriRegexRewrite`",
            );
        }
        if rw.uri.is_none() && rw.uri_regex_rewrite.is_none() && rw.authority.is_none() {
            s.err(
                codes::INVALID_REWRITE,
                &wp,
                "rewrite must specify uri, uriRegexRewrite, or authority",
            );
        }
        if let Some(rr) = &rw.uri_regex_rewrite
            && let Some(e) = regex_error(&rr.pattern)
        {
            s.err(
                codes::INVALID_REGEX,
                &wp.key("uriRegexRewrite").key("match"),
                e,
            );
        }
    }
}

fn load_balancer(lb: &LoadBalancerSettings, p: &YamlPath, s: &mut Sink<'_>) {
    if lb.simple.is_some() && lb.consistent_hash.is_some() {
        s.err(
            codes::INVALID_LOAD_BALANCER,
            p,
            "set only one of `simple` and `consistentHash`",
        );
    }
    let Some(ch) = &lb.consistent_hash else {
        return;
    };
    let cp = p.key("consistentHash");
    let keys = [
        ch.http_header_name.is_some(),
        ch.http_cookie.is_some(),
        ch.use_source_ip == Some(true),
        ch.http_query_parameter_name.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if keys > 1 {
        s.err(codes::INVALID_LOAD_BALANCER, &cp, "consistentHash takes one hash key: httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName");
    }
    if let Some(c) = &ch.http_cookie {
        if c.name.is_empty() {
            s.err(
                codes::INVALID_LOAD_BALANCER,
                &cp.key("httpCookie").key("name"),
                "name required for HttpCookie",
            );
        }
        if let Some(t) = c.ttl
            && !t.nanos.is_multiple_of(1_000_000)
        {
            s.err(
                codes::INVALID_DURATION,
                &cp.key("httpCookie").key("ttl"),
                format!("ttl {t} is finer than 1ms"),
            );
        }
    }
    if ch.minimum_ring_size.is_some() {
        if ch.ring_hash.is_some() || ch.maglev.is_some() {
            s.err(
                codes::INVALID_LOAD_BALANCER,
                &cp.key("minimumRingSize"),
                "the deprecated minimumRingSize cannot be combined with ringHash or maglev",
            );
        } else {
            s.warn(
                codes::DEPRECATED,
                &cp.key("minimumRingSize"),
                "minimumRingSize is deprecated; use ringHash.minimumRingSize",
            );
        }
    }
    if ch.ring_hash.is_some() && ch.maglev.is_some() {
        s.err(
            codes::INVALID_LOAD_BALANCER,
            &cp,
            "set only one of ringHash and maglev",
        );
    }
    if let Some(rh) = &ch.ring_hash
        && let Some(m) = rh.minimum_ring_size
        && m > crate::lb::hash::ring_hash::DEFAULT_MAXIMUM_RING_SIZE
    {
        s.err(
            codes::INVALID_LOAD_BALANCER,
            &cp.key("ringHash").key("minimumRingSize"),
            format!(
                "minimumRingSize {m} exceeds Envoy's maximum ring size {}",
                crate::lb::hash::ring_hash::DEFAULT_MAXIMUM_RING_SIZE
            ),
        );
    }
    if let Some(mg) = &ch.maglev {
        let tp = cp.key("maglev").key("tableSize");
        match mg.table_size {
            None | Some(0) => s.err(
                codes::INVALID_LOAD_BALANCER,
                &cp.key("maglev"),
                "tableSize must be set for maglev",
            ),
            Some(t) if t >= 5_000_011 => s.err(
                codes::INVALID_LOAD_BALANCER,
                &tp,
                format!("table size {t} must be less than 5000011"),
            ),
            Some(t) if !is_prime(t) => s.err(
                codes::INVALID_LOAD_BALANCER,
                &tp,
                format!("table size {t} must be a prime number"),
            ),
            _ => {}
        }
    }
}

fn outlier(o: &OutlierDetection, p: &YamlPath, s: &mut Sink<'_>) {
    for (f, d) in [
        ("interval", o.interval),
        ("baseEjectionTime", o.base_ejection_time),
    ] {
        duration(d, &p.key(f), s);
    }
    for (f, v) in [
        ("maxEjectionPercent", o.max_ejection_percent),
        ("minHealthPercent", o.min_health_percent),
    ] {
        if let Some(v) = v
            && !(0..=100).contains(&v)
        {
            s.err(
                codes::INVALID_OUTLIER,
                &p.key(f),
                format!("{f} {v} must be in range 0..100"),
            );
        }
    }
    for (f, v) in [
        ("consecutive5xxErrors", o.consecutive_5xx_errors),
        ("consecutiveGatewayErrors", o.consecutive_gateway_errors),
        (
            "consecutiveLocalOriginFailures",
            o.consecutive_local_origin_failures,
        ),
    ] {
        if v.is_some_and(|v| v < 0) {
            s.err(
                codes::INVALID_OUTLIER,
                &p.key(f),
                format!("{f} cannot be negative"),
            );
        }
    }
    if o.consecutive_local_origin_failures.is_some()
        && o.split_external_local_origin_errors != Some(true)
    {
        s.err(
            codes::INVALID_OUTLIER,
            &p.key("consecutiveLocalOriginFailures"),
            "consecutiveLocalOriginFailures requires splitExternalLocalOriginErrors",
        );
    }
    if o.consecutive_errors.is_some() {
        s.warn(codes::DEPRECATED, &p.key("consecutiveErrors"), "consecutiveErrors is deprecated (and ignored); use consecutive5xxErrors or consecutiveGatewayErrors");
    }
}

fn pool(c: &crate::config::ConnectionPoolSettings, p: &YamlPath, s: &mut Sink<'_>) {
    if c.tcp.is_none() && c.http.is_none() {
        s.err(
            codes::INVALID_POOL,
            p,
            "connection pool must have at least one field: tcp or http",
        );
    }
    if let Some(t) = &c.tcp {
        if t.max_connections.is_some_and(|v| v < 0) {
            s.err(
                codes::INVALID_POOL,
                &p.key("tcp").key("maxConnections"),
                "max connections must be non-negative",
            );
        }
        duration(t.connect_timeout, &p.key("tcp").key("connectTimeout"), s);
    }
    if let Some(h) = &c.http {
        for (f, v) in [
            ("http1MaxPendingRequests", h.http1_max_pending_requests),
            ("http2MaxRequests", h.http2_max_requests),
            ("maxRequestsPerConnection", h.max_requests_per_connection),
            ("maxRetries", h.max_retries),
            ("maxConcurrentStreams", h.max_concurrent_streams),
        ] {
            if v.is_some_and(|v| v < 0) {
                s.err(
                    codes::INVALID_POOL,
                    &p.key("http").key(f),
                    format!("{f} must be non-negative"),
                );
            }
        }
        duration(h.idle_timeout, &p.key("http").key("idleTimeout"), s);
    }
}

fn traffic_policy(tp: &TrafficPolicy, p: &YamlPath, s: &mut Sink<'_>) {
    if tp.load_balancer.is_none()
        && tp.connection_pool.is_none()
        && tp.outlier_detection.is_none()
        && tp.tls.is_none()
        && tp.port_level_settings.is_empty()
        && tp.tunnel.is_none()
        && tp.proxy_protocol.is_none()
        && tp.retry_budget.is_none()
    {
        s.err(
            codes::EMPTY_POLICY,
            p,
            "traffic policy must have at least one field",
        );
    }
    if let Some(lb) = &tp.load_balancer {
        load_balancer(lb, &p.key("loadBalancer"), s);
    }
    if let Some(o) = &tp.outlier_detection {
        outlier(o, &p.key("outlierDetection"), s);
    }
    if let Some(c) = &tp.connection_pool {
        pool(c, &p.key("connectionPool"), s);
    }
    for (i, pl) in tp.port_level_settings.iter().enumerate() {
        let pp = p.key("portLevelSettings").index(i);
        match pl.port {
            None => s.err(
                codes::INVALID_PORT,
                &pp,
                "portTrafficPolicy must have valid port",
            ),
            Some(port) => port_number(port.number, &pp.key("port").key("number"), s),
        }
        if pl.load_balancer.is_none()
            && pl.connection_pool.is_none()
            && pl.outlier_detection.is_none()
            && pl.tls.is_none()
        {
            s.err(
                codes::EMPTY_POLICY,
                &pp,
                "port traffic policy must have at least one field",
            );
        }
        if let Some(lb) = &pl.load_balancer {
            load_balancer(lb, &pp.key("loadBalancer"), s);
        }
        if let Some(o) = &pl.outlier_detection {
            outlier(o, &pp.key("outlierDetection"), s);
        }
        if let Some(c) = &pl.connection_pool {
            pool(c, &pp.key("connectionPool"), s);
        }
    }
}

fn destination_rule(r: &Resource<DestinationRule>, out: &mut Vec<Diagnostic>) {
    let dr = &r.spec;
    let mut s = Sink {
        origin: &r.origin,
        out,
    };
    let p = spec();
    if let Some(e) = host_error(&dr.host) {
        s.err(codes::INVALID_HOST, &p.key("host"), e);
    }
    if let Some(tp) = &dr.traffic_policy {
        traffic_policy(tp, &p.key("trafficPolicy"), &mut s);
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, sub) in dr.subsets.iter().enumerate() {
        let sp = p.key("subsets").index(i);
        if !is_dns_label(&sub.name) {
            s.err(
                codes::INVALID_SUBSET_NAME,
                &sp.key("name"),
                format!(
                    "subset name `{}` is invalid: use a DNS-1123 label",
                    sub.name
                ),
            );
        }
        if !names.insert(sub.name.clone()) {
            s.err(
                codes::DUPLICATE_SUBSET,
                &sp.key("name"),
                format!("duplicate subset names: {}", sub.name),
            );
        }
        labels(&sub.labels, &sp.key("labels"), &mut s);
        if let Some(tp) = &sub.traffic_policy {
            traffic_policy(tp, &sp.key("trafficPolicy"), &mut s);
        }
    }
}

fn gateway(r: &Resource<Gateway>, out: &mut Vec<Diagnostic>) {
    let mut s = Sink {
        origin: &r.origin,
        out,
    };
    let p = spec();
    if r.spec.servers.is_empty() {
        s.err(
            codes::INVALID_SERVER,
            &p,
            "gateway must have at least one server",
        );
    }
    labels(&r.spec.selector, &p.key("selector"), &mut s);
    for (i, sv) in r.spec.servers.iter().enumerate() {
        let sp = p.key("servers").index(i);
        match &sv.port {
            None => s.err(codes::INVALID_SERVER, &sp, "server must have a port"),
            Some(port) => {
                port_number(port.number, &sp.key("port").key("number"), &mut s);
                if let Some(pr) = &port.protocol
                    && !matches!(
                        pr.to_ascii_uppercase().as_str(),
                        "HTTP"
                            | "HTTPS"
                            | "GRPC"
                            | "HTTP2"
                            | "MONGO"
                            | "TCP"
                            | "TLS"
                            | "GRPC-WEB"
                            | "REDIS"
                            | "MYSQL"
                            | "HTTP_PROXY"
                    )
                {
                    s.err(
                        codes::INVALID_SERVER,
                        &sp.key("port").key("protocol"),
                        format!("unrecognized protocol `{pr}`"),
                    );
                }
            }
        }
        if sv.hosts.is_empty() {
            s.err(
                codes::INVALID_SERVER,
                &sp.key("hosts"),
                "server config must contain at least one host",
            );
        }
        for (k, h) in sv.hosts.iter().enumerate() {
            let name = h.split_once('/').map_or(h.as_str(), |x| x.1);
            if let Some(e) = host_error(name) {
                s.err(codes::INVALID_HOST, &sp.key("hosts").index(k), e);
            }
        }
    }
}

fn service_entry(r: &Resource<ServiceEntry>, out: &mut Vec<Diagnostic>) {
    let se = &r.spec;
    let mut s = Sink {
        origin: &r.origin,
        out,
    };
    let p = spec();
    if se.hosts.is_empty() {
        s.err(
            codes::INVALID_SERVICE_ENTRY,
            &p.key("hosts"),
            "service entry must have at least one host",
        );
    }
    for (i, h) in se.hosts.iter().enumerate() {
        let hp = p.key("hosts").index(i);
        if h == "*" {
            s.err(codes::INVALID_HOST, &hp, "invalid host `*`");
        } else if let Some(e) = host_error(h) {
            s.err(codes::INVALID_HOST, &hp, e);
        }
    }
    if se.ports.is_empty() && se.workload_selector.is_none() {
        s.err(
            codes::INVALID_SERVICE_ENTRY,
            &p.key("ports"),
            "service entry must have at least one port",
        );
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, port) in se.ports.iter().enumerate() {
        let pp = p.key("ports").index(i);
        port_number(port.number, &pp.key("number"), &mut s);
        if let Some(t) = port.target_port {
            port_number(t, &pp.key("targetPort"), &mut s);
        }
        if let Some(n) = &port.name
            && !names.insert(n.clone())
        {
            s.err(
                codes::INVALID_SERVICE_ENTRY,
                &pp.key("name"),
                format!("port name `{n}` already defined"),
            );
        }
    }
    if se.workload_selector.is_some() && !se.endpoints.is_empty() {
        s.err(
            codes::INVALID_SERVICE_ENTRY,
            &p.key("workloadSelector"),
            "only one of workloadSelector or endpoints is allowed",
        );
    }
    use crate::config::Resolution;
    match se.resolution {
        Some(Resolution::Static) => {
            if se.endpoints.is_empty() && se.workload_selector.is_none() {
                s.err(
                    codes::INVALID_SERVICE_ENTRY,
                    &p.key("endpoints"),
                    "endpoints must be provided with STATIC resolution",
                );
            }
            for (i, ep) in se.endpoints.iter().enumerate() {
                if ep.address.parse::<std::net::IpAddr>().is_err()
                    && !ep.address.starts_with("unix://")
                {
                    s.err(
                        codes::INVALID_SERVICE_ENTRY,
                        &p.key("endpoints").index(i).key("address"),
                        format!(
                            "endpoint address `{}` is not an IP (STATIC resolution)",
                            ep.address
                        ),
                    );
                }
            }
        }
        Some(Resolution::Dns | Resolution::DnsRoundRobin) if se.endpoints.is_empty() => {
            for (i, h) in se.hosts.iter().enumerate() {
                if h.starts_with('*') {
                    s.err(
                        codes::INVALID_SERVICE_ENTRY,
                        &p.key("hosts").index(i),
                        format!("wildcard host `{h}` cannot be resolved by DNS"),
                    );
                }
            }
        }
        _ => {}
    }
    for (i, ep) in se.endpoints.iter().enumerate() {
        workload_entry(ep, &p.key("endpoints").index(i), &mut s);
    }
}

fn workload_entry(we: &WorkloadEntry, p: &YamlPath, s: &mut Sink<'_>) {
    if we.address.is_empty() {
        s.err(
            codes::INVALID_WORKLOAD_ENTRY,
            &p.key("address"),
            "address must be set",
        );
    }
    for (name, port) in &we.ports {
        port_number(*port, &p.key("ports").key(name.clone()), s);
    }
    labels(&we.labels, &p.key("labels"), s);
}
