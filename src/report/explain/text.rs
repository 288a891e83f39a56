//! Events as the sentences `meshsim explain` prints: one line an event, with the teaching
//! "why" from [`super::why`] indented under it.

use super::why;
use crate::config::Duration;
use crate::trace::{
    Condition, ConditionMismatch, DestinationRef, HostKnowledge, LbPick, MatchKind, MirrorOutcome,
    NoHealthyCause, NoRetryReason, OutlierOutcome, ProxyRef, ResourceRef, RetrySettings, RouteRef,
    StringMatch, TraceEvent, TryOutcome, VirtualHostOrigin,
};

/// `12.5ms`: times on the simulated clock, as the decision's tries print them.
pub(crate) fn ms(ns: u64) -> String {
    format!("{:.1}ms", ns as f64 / 1e6)
}

/// A configured duration, as Istio writes it (`2s`, `250ms`).
fn dur(ns: u64) -> String {
    Duration { nanos: ns }.to_string()
}

/// The event as one line, followed by its "why" lines (indented by the caller).
pub fn event_lines(e: &TraceEvent) -> (String, Vec<String>) {
    let whys = why::of(e);
    (event_line(e), whys)
}

// Long because it is the table of sentences: one arm per event, each a line or two, so that
// every word `explain` prints about an event is found in one place.
fn event_line(e: &TraceEvent) -> String {
    match e {
        TraceEvent::Listener { proxy, port } => listener(proxy, *port),
        TraceEvent::NoListener { port } => {
            format!("no virtual host: the gateway has no server on port {port}: 404 NR")
        }
        TraceEvent::VirtualHost {
            name,
            domain,
            origin: o,
        } => format!(
            "virtual host {name} ({}), matched by {}",
            origin(o),
            domain_kind(domain)
        ),
        TraceEvent::NoVirtualHost { host } => {
            format!("no virtual host: no virtual host has a domain matching {host}: 404 NR")
        }
        TraceEvent::RouteTried { route, mismatch } => match mismatch {
            None => format!("{}: matches", route_label(route)),
            Some(m) => format!("{}: {}", route_label(route), mismatch_text(m)),
        },
        TraceEvent::NoRouteMatched => "no route matched: 404 NR".into(),
        TraceEvent::Redirect { status, location } => format!("redirect {status} to {location}"),
        TraceEvent::HttpsRedirect { location } => format!(
            "the gateway server has tls.httpsRedirect and the request is plain HTTP: 301 to {location}, before any route"
        ),
        TraceEvent::DirectResponse { status } => {
            format!("the route answers itself: direct response {status}")
        }
        TraceEvent::RegistryOnly { host, port, known } => format!(
            "{}: outboundTrafficPolicy is REGISTRY_ONLY, so istiod's block_all route answers 502",
            unrouted(host, *port, known)
        ),
        TraceEvent::Passthrough { host, port, known } => format!(
            "{}: ALLOW_ANY forwards it to the address the client dialled (PassthroughCluster), outside the mesh's routing",
            unrouted(host, *port, known)
        ),
        TraceEvent::OriginalDestination { cluster } => format!(
            "a ServiceEntry with resolution NONE: its own cluster {cluster} (ORIGINAL_DST) forwards to the address the client dialled, which REGISTRY_ONLY allows too (not ALLOW_ANY's PassthroughCluster)"
        ),
        TraceEvent::WeightedPick {
            value,
            total,
            weights,
            chosen,
        } => weighted_pick(*value, *total, weights, *chosen),
        TraceEvent::Hash {
            key,
            hash,
            policies,
        } => match (key, hash) {
            (Some(k), Some(h)) => format!("hash: {k} → xxHash64 {h}"),
            _ => format!(
                "hash: no {} on the request: Envoy picks a random endpoint",
                policies.join(" or ")
            ),
        },
        TraceEvent::FaultDelay { delay_ns } => {
            format!("fault injection delays the request by {} (DI)", dur(*delay_ns))
        }
        TraceEvent::FaultAbort { status } => format!(
            "fault injection aborts the request with {status} (FI): it never reaches the router, so it is neither retried nor mirrored"
        ),
        TraceEvent::UpstreamRequest {
            authority,
            path,
            set,
            removed,
            response_set,
            response_removed,
        } => upstream_request(
            authority,
            path,
            set,
            removed,
            response_set,
            response_removed,
        ),
        TraceEvent::Mirror {
            destination,
            outcome,
        } => mirror(destination, outcome),
        TraceEvent::NoCluster { cluster } => {
            format!("cluster {cluster} does not exist (no such service, port or subset): 503 NC")
        }
        TraceEvent::Cluster {
            name,
            policy,
            endpoints,
        } => format!("cluster {name}: {endpoints} endpoint(s), {policy}"),
        TraceEvent::RetryPolicy {
            retry,
            route_timeout_ns,
        } => retry_policy(retry.as_ref(), *route_timeout_ns),
        TraceEvent::NoHealthyUpstream { cause } => match cause {
            NoHealthyCause::NoEndpoints => {
                "no endpoint in the cluster: 503 UH (no healthy upstream)".into()
            }
            NoHealthyCause::AllEjected => {
                "every endpoint is ejected by outlier detection: 503 UH (no healthy upstream)"
                    .into()
            }
        },
        TraceEvent::EndpointPicked {
            attempt,
            endpoint,
            workload,
            pick,
            healthy,
        } => format!(
            "endpoint: {}{endpoint} ({workload}) by {}",
            if *attempt > 1 {
                format!("try {attempt}: ")
            } else {
                String::new()
            },
            pick_text(pick, *healthy)
        ),
        TraceEvent::PoolQueued { capacity } => format!(
            "connection pool full ({capacity} active): the try waits as a pending request"
        ),
        TraceEvent::PoolOverflow => {
            "connection pool and pending queue full: 503 UO (upstream overflow), not retried".into()
        }
        TraceEvent::ConnectionRefused {
            workload,
            down_until_ns,
        } => format!(
            "{workload} is down (crashed) until {}: connection refused",
            ms(*down_until_ns)
        ),
        TraceEvent::EndpointHangs { workload } => format!("{workload} will never answer this try"),
        TraceEvent::EndpointCrashes {
            workload,
            after_ns,
            restart_ns,
        } => format!(
            "{workload} will crash after {} (then refuses connections for {})",
            ms(*after_ns),
            dur(*restart_ns)
        ),
        TraceEvent::Outlier {
            endpoint,
            workload,
            outcome,
        } => outlier(endpoint, workload, outcome),
        TraceEvent::TryDone {
            attempt,
            outcome,
            elapsed_ns,
        } => format!(
            "try {attempt}: {} after {}",
            try_outcome(*outcome),
            ms(*elapsed_ns)
        ),
        TraceEvent::NotRetried { reason, .. } => match reason {
            NoRetryReason::NoPolicy => {
                "not retried: the route has no retry policy (attempts: 0)".into()
            }
            NoRetryReason::NotCovered { retry_on, .. } => {
                format!("not retried: retryOn {} does not cover it", retry_on.join(","))
            }
            NoRetryReason::CircuitBreakerOpen => {
                "retry circuit breaker open (maxRetries): not retried".into()
            }
        },
        TraceEvent::RetriesExhausted { condition } => {
            format!("retriable ({condition}) but no retries left: URX")
        }
        TraceEvent::Retry {
            condition,
            backoff_ns,
        } => format!("retry on {condition} after a back-off of {}", ms(*backoff_ns)),
        TraceEvent::RouteTimeout { after_ns } => {
            format!("route timeout after {}: 504 UT", ms(*after_ns))
        }
        TraceEvent::GaveUp {
            tries,
            after_ns,
            retries_left,
        } => format!(
            "meshsim stops after {tries} tries ({} simulated): Envoy would go on retrying ({retries_left} retries left) while the client waits; no answer is reported (status 0)",
            ms(*after_ns)
        ),
        TraceEvent::NoAnswer => "no answer and no timeout: the client waits forever (Istio's route timeout is off unless the VirtualService sets one)".into(),
    }
}

fn listener(proxy: &ProxyRef, port: u32) -> String {
    match proxy {
        ProxyRef::Sidecar { namespace, labels } => {
            let labels = if labels.is_empty() {
                String::new()
            } else {
                let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!(" with labels {}", l.join(","))
            };
            format!("proxy: sidecar in namespace {namespace}{labels}, listener port {port}")
        }
        ProxyRef::Gateway { name } => format!("proxy: gateway {name}, server port {port}"),
    }
}

/// Why a host has no route here: unknown (perhaps a typo), or known on other ports.
fn unrouted(host: &str, port: u32, known: &HostKnowledge) -> String {
    match known {
        HostKnowledge::Unknown { did_you_mean: None } => {
            format!("{host} is not in the registry")
        }
        HostKnowledge::Unknown {
            did_you_mean: Some(d),
        } => format!("{host} is not in the registry (did you mean {d}?)"),
        HostKnowledge::OtherPorts { service, ports } => format!(
            "{host} is a known service ({service}) but has no port {port} (its ports: {})",
            ports
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn resource(kind: &str, r: &ResourceRef) -> String {
    format!("{kind} {}/{}", r.namespace, r.name)
}

fn origin(o: &VirtualHostOrigin) -> String {
    match o {
        VirtualHostOrigin::VirtualService { resource: r } => resource("VirtualService", r),
        VirtualHostOrigin::Gateway { resources } => resources
            .iter()
            .map(|r| resource("VirtualService", r))
            .collect::<Vec<_>>()
            .join(" + "),
        VirtualHostOrigin::DefaultRoute => "no VirtualService: Istio's default route".into(),
        VirtualHostOrigin::AllowAny => {
            "no route for this host on this port, outboundTrafficPolicy ALLOW_ANY".into()
        }
        VirtualHostOrigin::RegistryOnly => {
            "no route for this host on this port, outboundTrafficPolicy REGISTRY_ONLY".into()
        }
        VirtualHostOrigin::Blackhole => {
            "no VirtualService is bound to this gateway port: istiod's blackhole virtual host, without routes".into()
        }
    }
}

fn domain_kind(domain: &str) -> String {
    if domain != "*" && (domain.starts_with('*') || domain.ends_with('*')) {
        format!("wildcard domain {domain}")
    } else {
        format!("domain {domain}")
    }
}

/// `rule 0 "tester"` for a VirtualService's rule; Envoy's route name for istiod's own.
pub fn route_label(r: &RouteRef) -> String {
    let name = r.name.as_deref().filter(|n| !n.is_empty());
    if let Some(from) = &r.from {
        return format!("{from} (Envoy route {:?})", name.unwrap_or(""));
    }
    match (&r.virtual_service, name) {
        (Some(_), Some(n)) => format!("rule {} {n:?}", r.rule),
        (Some(_), None) => format!("rule {}", r.rule),
        (None, Some(n)) => n.to_string(),
        (None, None) => match r.match_index {
            Some(j) => format!("http[{}].match[{j}]", r.rule),
            None => format!("http[{}]", r.rule),
        },
    }
}

/// `exact "x"`, `prefix "/a" (ignoring case)`, `regex ^a.*$`, `present`.
pub fn matcher_text(m: &StringMatch) -> String {
    let v = m.value.as_deref().unwrap_or("");
    let s = match m.kind {
        MatchKind::Exact => format!("exact {v:?}"),
        MatchKind::Prefix => format!("prefix {v:?}"),
        MatchKind::PathSeparatedPrefix => format!("path prefix {v:?} (whole segments)"),
        MatchKind::Regex => format!("regex {v}"),
        MatchKind::Present => "present".into(),
    };
    if m.ignore_case {
        s + " (ignoring case)"
    } else {
        s
    }
}

fn value_fails(value: &str, m: &StringMatch) -> String {
    let v = m.value.as_deref().unwrap_or("");
    match m.kind {
        MatchKind::Exact => format!("{value:?} is not exactly {v:?}"),
        MatchKind::Prefix => format!("{value:?} does not start with {v:?}"),
        MatchKind::PathSeparatedPrefix => format!(
            "{value:?} is neither {v:?} nor below it (a path prefix matches whole segments: {v:?} and {v:?}/...)"
        ),
        MatchKind::Regex => format!("{value:?} does not fully match regex {v}"),
        MatchKind::Present => format!("{value:?} is present"),
    }
}

/// The first failed condition: what it tested, what it expected, what it found.
pub fn mismatch_text(m: &ConditionMismatch) -> String {
    let found = m.found.as_deref();
    match (&m.condition, found, m.invert) {
        (Condition::Path, f, _) => format!(
            "path {:?} does not match {}",
            f.unwrap_or(""),
            matcher_text(&m.expected)
        ),
        (Condition::Header { name }, None, false) => format!("header {name} is absent"),
        (Condition::Header { name }, None, true) => format!(
            "header {name} is absent, and withoutHeaders {} needs it present",
            matcher_text(&m.expected)
        ),
        (Condition::Header { name }, Some(v), false) => {
            format!("header {name} {}", value_fails(v, &m.expected))
        }
        (Condition::Header { name }, Some(v), true) => format!(
            "header {name} {v:?} matches withoutHeaders {}",
            matcher_text(&m.expected)
        ),
        (Condition::Query { name }, None, _) => format!("query parameter {name} is absent"),
        (Condition::Query { name }, Some(v), _) => {
            format!("query parameter {name} {}", value_fails(v, &m.expected))
        }
    }
}

/// `myweb-service subset v2 (port 80)`.
pub fn destination_text(d: &DestinationRef) -> String {
    match &d.subset {
        Some(s) => format!("{} subset {s} (port {})", d.host, d.port),
        None => format!("{} (port {})", d.host, d.port),
    }
}

fn weighted_pick(
    value: u64,
    total: u64,
    weights: &[crate::trace::Weighted],
    chosen: usize,
) -> String {
    // The running sums Envoy compares `value` against, so a reader sees why this one.
    let mut begin = 0u64;
    let mut ranges = Vec::new();
    for w in weights {
        let end = begin + w.weight as u64;
        ranges.push(format!("[{begin},{end})"));
        begin = end;
    }
    let chosen_text = weights
        .get(chosen)
        .map_or("-".into(), |w| destination_text(&w.destination));
    format!(
        "weighted pick: random % {total} = {value} → {chosen_text} (weights {})",
        weights
            .iter()
            .zip(&ranges)
            .map(|(w, r)| format!("{} {r}", w.weight))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn mirror(d: &DestinationRef, o: &MirrorOutcome) -> String {
    let dest = destination_text(d);
    match o {
        MirrorOutcome::NotSampled {
            numerator,
            denominator,
        } => {
            format!("mirror: {dest} not mirrored this time ({numerator}/{denominator} of requests)")
        }
        MirrorOutcome::NoCluster { cluster } => format!(
            "mirror: {dest}: cluster {cluster} does not exist, Envoy skips the copy silently"
        ),
        MirrorOutcome::Sent {
            authority,
            endpoint,
        } => format!(
            "mirror: copy to {dest} as {authority} → {}",
            endpoint.as_deref().unwrap_or("no endpoint")
        ),
    }
}

fn retry_policy(p: Option<&RetrySettings>, route_timeout: Option<u64>) -> String {
    let Some(p) = p else {
        return "no retries (attempts: 0)".into();
    };
    format!(
        "retry policy: {} retries on {}{}{}{}",
        p.num_retries,
        p.retry_on.join(","),
        if p.retriable_status_codes.is_empty() {
            String::new()
        } else {
            format!(" (codes {:?})", p.retriable_status_codes)
        },
        p.per_try_timeout_ns
            .map_or(String::new(), |t| format!(", per-try timeout {}", dur(t))),
        route_timeout.map_or(", no route timeout".to_string(), |t| format!(
            ", route timeout {}",
            dur(t)
        )),
    )
}

/// How the balancer chose, in its own terms.
pub fn pick_text(p: &LbPick, n: usize) -> String {
    let n64 = n.max(1) as u64;
    match p {
        LbPick::RoundRobin { index } => {
            format!("round robin (position {} of {n})", index % n64)
        }
        LbPick::WeightedRoundRobin => "weighted round robin (EDF schedule)".into(),
        LbPick::Random { value } => format!("random ({value} % {n} = {})", value % n64),
        LbPick::LeastRequest {
            first,
            first_active,
            second,
            second_active,
        } => format!(
            "least request: candidates #{first} ({first_active} active) and #{second} ({second_active} active)"
        ),
        LbPick::WeightedLeastRequest => "least request (weighted, EDF)".into(),
        LbPick::Hash {
            hash,
            from_request: true,
            position,
        } => format!("hash {hash} at position {position}"),
        LbPick::Hash {
            hash,
            from_request: false,
            position,
        } => format!("random hash {hash} (no key) at position {position}"),
    }
}

/// `RING_HASH: hash 123 at position 7`: a decision's balancer choice.
pub fn lb_text(c: &crate::sim::LbChoice) -> String {
    format!("{}: {}", c.policy, pick_text(&c.pick, c.healthy))
}

fn outlier(endpoint: &str, workload: &str, o: &OutlierOutcome) -> String {
    match o {
        OutlierOutcome::Ejected { until_ns } => format!(
            "outlier detection ejects {endpoint} ({workload}) until the first sweep after {}",
            ms(*until_ns)
        ),
        OutlierOutcome::CapReached {
            ejected,
            hosts,
            max_percent,
        } => format!(
            "outlier detection does not eject {endpoint} ({workload}): {} of {hosts} hosts out would exceed maxEjectionPercent {max_percent}% (Envoy counts ejections_overflow)",
            ejected + 1
        ),
    }
}

fn try_outcome(o: TryOutcome) -> String {
    match o {
        TryOutcome::Status { code } => format!("status {code}"),
        TryOutcome::ConnectFailure => "connection refused".into(),
        TryOutcome::Reset => "connection reset, no response".into(),
        TryOutcome::PerTryTimeout => "per-try timeout".into(),
    }
}

/// `upstream receives GET web/api; headers: x-a: 1 set, x-b removed; response: ...`.
fn upstream_request(
    authority: &str,
    path: &str,
    set: &[(String, String)],
    removed: &[String],
    response_set: &[(String, String, bool)],
    response_removed: &[String],
) -> String {
    let mut parts = Vec::new();
    let mut changed: Vec<String> = set.iter().map(|(n, v)| format!("{n}: {v}")).collect();
    changed.extend(
        removed
            .iter()
            .filter(|n| !set.iter().any(|(s, _)| s == *n))
            .map(|n| format!("no {n}")),
    );
    if !changed.is_empty() {
        parts.push(format!("with {}", changed.join(", ")));
    }
    let mut response: Vec<String> = response_set
        .iter()
        .map(|(n, v, append)| format!("{n}: {v}{}", if *append { " (appended)" } else { "" }))
        .collect();
    response.extend(response_removed.iter().map(|n| format!("no {n}")));
    if !response.is_empty() {
        parts.push(format!("the response gets {}", response.join(", ")));
    }
    let rest = if parts.is_empty() {
        String::new()
    } else {
        format!("; {}", parts.join("; "))
    };
    format!("the upstream receives authority {authority}, path {path}{rest}")
}
