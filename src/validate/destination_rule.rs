//! DestinationRule: Istio's `ValidateDestinationRule` and its traffic policy (load balancer,
//! outlier detection, connection pool).

use super::Sink;
use super::common::{duration, labels, port_number, spec};
use super::rules::{host_error, is_dns_label, is_prime};
use crate::config::{
    DestinationRule, LoadBalancerSettings, OutlierDetection, Resource, TrafficPolicy, YamlPath,
};
use crate::diag::{Diagnostic, codes};

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

pub(super) fn destination_rule(r: &Resource<DestinationRule>, out: &mut Vec<Diagnostic>) {
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
