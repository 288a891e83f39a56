//! VirtualService: Istio's `ValidateVirtualService` and `validateHTTPRoute`, one function per
//! part of a rule (action, matches, destinations, retries, fault, mirrors, redirect, rewrite).

use super::Sink;
use super::common::{destination, duration, gateway_ref, labels, port_number, spec};
use super::rules::{
    fault_percentage_error, header_name_error, host_error, regex_error, string_match_errors,
};
use crate::compile::IstioVersion;
use crate::config::{
    HttpFaultInjection, HttpMatchRequest, HttpRedirect, HttpRetry, HttpRewrite, HttpRoute,
    Resource, VirtualService, YamlPath,
};
use crate::diag::{Diagnostic, codes};
use crate::resilience::retry::{RETRY_ON_VALUES, is_known_status};

pub(super) fn virtual_service(
    r: &Resource<VirtualService>,
    version: IstioVersion,
    out: &mut Vec<Diagnostic>,
) {
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

/// One `http[]` rule, part by part (Istio's `validateHTTPRoute`).
fn http_route(
    h: &HttpRoute,
    p: &YamlPath,
    in_delegate: bool,
    _last: bool,
    version: IstioVersion,
    s: &mut Sink<'_>,
) {
    http_action(h, p, in_delegate, s);
    for (j, m) in h.matches.iter().enumerate() {
        http_match(m, &p.key("match").index(j), s);
    }
    http_destinations(h, p, version, s);
    duration(h.timeout, &p.key("timeout"), s);
    if let Some(r) = &h.retries {
        retries(r, &p.key("retries"), s);
    }
    if let Some(f) = &h.fault {
        fault(f, &p.key("fault"), s);
    }
    mirrors(h, p, s);
    if let Some(r) = &h.redirect {
        redirect(r, &p.key("redirect"), s);
    }
    if let Some(rw) = &h.rewrite {
        rewrite(rw, &p.key("rewrite"), s);
    }
}

/// What the rule does: exactly one of route, redirect, direct response or delegate, and
/// nothing that contradicts it.
fn http_action(h: &HttpRoute, p: &YamlPath, in_delegate: bool, s: &mut Sink<'_>) {
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
}

/// A match block: string matches, header and query names, port, source labels, gateways.
fn http_match(m: &HttpMatchRequest, mp: &YamlPath, s: &mut Sink<'_>) {
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

/// Destinations and weights (which must sum to 100 before Istio 1.20).
fn http_destinations(h: &HttpRoute, p: &YamlPath, version: IstioVersion, s: &mut Sink<'_>) {
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
}

/// `retries`: attempts, timeouts and `retryOn` tokens.
fn retries(r: &HttpRetry, rp: &YamlPath, s: &mut Sink<'_>) {
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
            rp,
            "http retry policy configured when attempts are set to 0 (disabled)",
        );
    }
    duration(r.per_try_timeout, &rp.key("perTryTimeout"), s);
    duration(r.backoff, &rp.key("backoff"), s);
    if let Some(on) = &r.retry_on {
        for token in on.split(',') {
            let known =
                RETRY_ON_VALUES.contains(&token) || token.parse::<u32>().is_ok_and(is_known_status);
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

/// `fault`: a delay and/or an abort, with valid percentages.
fn fault(f: &HttpFaultInjection, fp: &YamlPath, s: &mut Sink<'_>) {
    if f.delay.is_none() && f.abort.is_none() {
        s.err(
            codes::INVALID_FAULT,
            fp,
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

/// `mirror`, `mirrors` and their percentages.
fn mirrors(h: &HttpRoute, p: &YamlPath, s: &mut Sink<'_>) {
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
}

/// `redirect`: a code Envoy supports, a scheme, and something to redirect to.
fn redirect(r: &HttpRedirect, rp: &YamlPath, s: &mut Sink<'_>) {
    if let Some(c) = r.redirect_code
        && !matches!(c, 301 | 302 | 303 | 307 | 308)
    {
        s.err(
            codes::INVALID_REDIRECT,
            &rp.key("redirectCode"),
            format!(
                "redirect code {c} is not a 3xx redirect Envoy supports (301, 302, 303, 307, 308)"
            ),
        );
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
            rp,
            "redirect must specify URI, authority, scheme, or port",
        );
    }
    if let Some(port) = r.port {
        port_number(port, &rp.key("port"), s);
    }
}

/// `rewrite`: one URI rewrite at most, and a valid regex.
fn rewrite(rw: &HttpRewrite, wp: &YamlPath, s: &mut Sink<'_>) {
    if rw.uri.is_some() && rw.uri_regex_rewrite.is_some() {
        s.err(
            codes::INVALID_REWRITE,
            wp,
            "rewrite may specify only one of `uri` and `uriRegexRewrite`",
        );
    }
    if rw.uri.is_none() && rw.uri_regex_rewrite.is_none() && rw.authority.is_none() {
        s.err(
            codes::INVALID_REWRITE,
            wp,
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
