//! Envoy configuration export: the route configuration and clusters that correspond to the
//! compiled mesh, in Envoy's v3 JSON, as istiod would push them. `meshsim envoy-config` prints
//! them for people to read; the conformance suite runs them in a real Envoy.

mod cluster;

pub use cluster::{cluster, clusters};

use crate::compile::CompiledMesh;
use crate::config::Duration;
use crate::lb::hash::HashPolicy;
use crate::resilience::retry::RetryPolicy;
use crate::route::{
    Action, Forward, HeaderAdd, HeaderMatcher, HeaderOps, PathMatcher, Route, RouteMatch,
    RouteTable, StringMatcher,
};
use serde_json::{Value, json};

/// Protobuf JSON duration: seconds with up to nine decimals.
pub fn proto_duration(d: Duration) -> String {
    let secs = d.nanos / 1_000_000_000;
    let frac = d.nanos % 1_000_000_000;
    if frac == 0 {
        format!("{secs}s")
    } else {
        let f = format!("{frac:09}");
        format!("{secs}.{}s", f.trim_end_matches('0'))
    }
}

fn string_match(m: &StringMatcher) -> Option<Value> {
    match m {
        StringMatcher::Exact(e) => Some(json!({"exact": e})),
        StringMatcher::Prefix(p) => Some(json!({"prefix": p})),
        StringMatcher::Regex(r) => Some(json!({"safe_regex": {"regex": r.source}})),
        StringMatcher::Present => None,
    }
}

fn header_matcher(h: &HeaderMatcher) -> Value {
    let mut v = json!({"name": h.name});
    match string_match(&h.matcher) {
        Some(sm) => v["string_match"] = sm,
        None => v["present_match"] = json!(true),
    }
    if h.invert {
        v["invert_match"] = json!(true);
    }
    if h.treat_missing_as_empty {
        v["treat_missing_header_as_empty"] = json!(true);
    }
    v
}

fn route_match(m: &RouteMatch) -> Value {
    let mut v = match &m.path {
        PathMatcher::Prefix(p) => json!({"prefix": p}),
        PathMatcher::PathSeparatedPrefix(p) => json!({"path_separated_prefix": p}),
        PathMatcher::Exact(e) => json!({"path": e}),
        PathMatcher::Regex(r) => json!({"safe_regex": {"regex": r.source}}),
    };
    if !m.case_sensitive {
        v["case_sensitive"] = json!(false);
    }
    if !m.headers.is_empty() {
        v["headers"] = m.headers.iter().map(header_matcher).collect();
    }
    if !m.query.is_empty() {
        v["query_parameters"] = m
            .query
            .iter()
            .map(|q| {
                let mut o = json!({"name": q.name});
                match string_match(&q.matcher) {
                    Some(sm) => o["string_match"] = sm,
                    None => o["present_match"] = json!(true),
                }
                o
            })
            .collect();
    }
    v
}

fn hash_policy(p: &HashPolicy) -> Value {
    match p {
        HashPolicy::Header(h) => json!({"header": {"header_name": h}}),
        HashPolicy::Cookie {
            name,
            path,
            ttl_seconds,
        } => {
            let mut c = json!({"name": name});
            if let Some(t) = ttl_seconds {
                c["ttl"] = json!(format!("{t}s"));
            }
            if let Some(p) = path {
                c["path"] = json!(p);
            }
            json!({"cookie": c})
        }
        HashPolicy::SourceIp => json!({"connection_properties": {"source_ip": true}}),
        HashPolicy::QueryParameter(q) => json!({"query_parameter": {"name": q}}),
    }
}

fn retry_policy(p: &RetryPolicy) -> Value {
    let mut v = json!({
        "retry_on": p.retry_on_string(),
        "num_retries": p.num_retries,
        "host_selection_retry_max_attempts": p.host_selection_retry_max_attempts.to_string(),
    });
    if !p.retriable_status_codes.is_empty() {
        v["retriable_status_codes"] = json!(p.retriable_status_codes);
    }
    if let Some(t) = p.per_try_timeout {
        v["per_try_timeout"] = json!(proto_duration(t));
    }
    if p.previous_hosts {
        v["retry_host_predicate"] = json!([{
            "name": "envoy.retry_host_predicates.previous_hosts",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"}
        }]);
    }
    if let Some(b) = p.backoff_base {
        v["retry_back_off"] = json!({"base_interval": proto_duration(b)});
    }
    v
}

/// The four header lists of a `Route` or `weighted_clusters` entry, where non-empty.
fn put_headers(v: &mut Value, h: &HeaderOps) {
    let adds = |l: &[HeaderAdd]| -> Value {
        l.iter()
            .map(|a| {
                json!({
                    "header": {"key": a.name, "value": a.value},
                    "append_action": if a.append { "APPEND_IF_EXISTS_OR_ADD" } else { "OVERWRITE_IF_EXISTS_OR_ADD" },
                })
            })
            .collect::<Vec<_>>()
            .into()
    };
    if !h.request_add.is_empty() {
        v["request_headers_to_add"] = adds(&h.request_add);
    }
    if !h.request_remove.is_empty() {
        v["request_headers_to_remove"] = json!(h.request_remove);
    }
    if !h.response_add.is_empty() {
        v["response_headers_to_add"] = adds(&h.response_add);
    }
    if !h.response_remove.is_empty() {
        v["response_headers_to_remove"] = json!(h.response_remove);
    }
}

fn forward(f: &Forward, shadow_suffix: bool) -> Value {
    let mut v = if f.weighted {
        json!({"weighted_clusters": {"clusters": f.clusters.iter().map(|c| {
            let mut w = json!({"name": c.target.cluster_name, "weight": c.weight});
            put_headers(&mut w, &c.headers);
            w
        }).collect::<Vec<_>>()}})
    } else {
        json!({"cluster": f.clusters[0].target.cluster_name})
    };
    // istiod's `setTimeout`: 0s (disabled) unless the VirtualService sets one, Envoy's own
    // default being 15 s; `max_grpc_timeout` follows it.
    let timeout = json!(f.timeout.map_or("0s".to_string(), proto_duration));
    v["timeout"] = timeout.clone();
    v["max_grpc_timeout"] = timeout;
    if let Some(r) = &f.retry_policy {
        v["retry_policy"] = retry_policy(r);
    }
    if !f.hash_policy.is_empty() {
        v["hash_policy"] = f.hash_policy.iter().map(hash_policy).collect();
    }
    if !f.mirrors.is_empty() {
        v["request_mirror_policies"] = f
            .mirrors
            .iter()
            .map(|m| {
                let mut o = json!({
                    "cluster": m.target.cluster_name,
                    "runtime_fraction": {"default_value": {
                        "numerator": m.numerator,
                        "denominator": if m.denominator == 100 { "HUNDRED" } else { "MILLION" },
                    }},
                    "trace_sampled": false,
                });
                if !shadow_suffix {
                    o["disable_shadow_host_suffix_append"] = json!(true);
                }
                o
            })
            .collect();
    }
    if let Some(h) = &f.host_rewrite {
        v["host_rewrite_literal"] = json!(h);
    }
    if f.cluster_not_found_status == 500 {
        v["cluster_not_found_response_code"] = json!("INTERNAL_SERVER_ERROR");
    }
    if let Some(rw) = &f.rewrite {
        if let Some((re, sub)) = &rw.regex {
            v["regex_rewrite"] = json!({"pattern": {"regex": re.source}, "substitution": sub});
        } else if let Some(p) = &rw.prefix {
            v["prefix_rewrite"] = json!(p);
        }
    }
    v
}

fn fault_config(f: &crate::resilience::fault::Fault) -> Value {
    let mut v =
        json!({"@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"});
    if let Some((d, pm)) = f.delay {
        v["delay"] = json!({
            "fixed_delay": proto_duration(d),
            "percentage": {"numerator": pm, "denominator": "MILLION"},
        });
    }
    if let Some((status, pm)) = f.abort {
        v["abort"] = json!({
            "http_status": status,
            "percentage": {"numerator": pm, "denominator": "MILLION"},
        });
    }
    v
}

fn route(r: &Route, shadow_suffix: bool) -> Value {
    let mut v = json!({"match": route_match(&r.matcher)});
    if let Action::Forward(f) = &r.action
        && let Some(fault) = &f.fault
    {
        v["typed_per_filter_config"] = json!({"envoy.filters.http.fault": fault_config(fault)});
    }
    if let Some(n) = &r.name {
        v["name"] = json!(n);
    }
    match &r.action {
        Action::Forward(f) => {
            v["route"] = forward(f, shadow_suffix);
            put_headers(&mut v, &f.headers);
        }
        Action::Redirect(rd) => {
            let code = match rd.status {
                302 => "FOUND",
                303 => "SEE_OTHER",
                307 => "TEMPORARY_REDIRECT",
                308 => "PERMANENT_REDIRECT",
                _ => "MOVED_PERMANENTLY",
            };
            let mut o = json!({"response_code": code});
            if let Some(a) = &rd.authority {
                o["host_redirect"] = json!(a);
            }
            if let Some((p, _)) = &rd.prefix_rewrite {
                o["prefix_rewrite"] = json!(p);
            } else if let Some(u) = &rd.uri {
                o["path_redirect"] = json!(u);
            }
            if let Some(s) = &rd.scheme {
                o["scheme_redirect"] = json!(s);
            }
            if let Some(p) = rd.port {
                o["port_redirect"] = json!(p);
            }
            v["redirect"] = o;
        }
        Action::DirectResponse { status } => v["direct_response"] = json!({"status": status}),
        Action::Block => v["direct_response"] = json!({"status": 502}),
        Action::Passthrough => {
            v["route"] = json!({"cluster": "PassthroughCluster", "timeout": "0s"});
        }
    }
    v
}

/// An Envoy `RouteConfiguration` for a route table.
pub fn route_configuration(table: &RouteTable, shadow_suffix: bool) -> Value {
    json!({
        "name": table.port.to_string(),
        "virtual_hosts": table.virtual_hosts.iter().map(|vh| {
            let mut v = json!({
                "name": vh.name,
                "domains": vh.domains,
                "routes": vh.routes.iter().map(|r| route(r, shadow_suffix)).collect::<Vec<_>>(),
                // istiod sets this on every virtual host: upstreams see x-envoy-attempt-count.
                "include_request_attempt_count": true,
            });
            if vh.require_tls {
                v["require_tls"] = json!("ALL");
            }
            v
        }).collect::<Vec<_>>(),
        "validate_clusters": false,
        "ignore_port_in_host_matching": true,
    })
}

/// A complete bootstrap: one HTTP listener at `listen` serving `table`, every cluster, and an
/// admin interface at `admin` (loopback addresses, for the conformance suite).
pub fn bootstrap(
    compiled: &CompiledMesh<'_>,
    table: &RouteTable,
    listen: (&str, u16),
    admin: (&str, u16),
) -> Value {
    let shadow_suffix = compiled.version.shadow_suffix();
    let mut all_clusters = clusters(compiled);
    all_clusters.push(sds_grpc());
    json!({
        // Istio's node identity form (`sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local`);
        // Envoy requires one for SDS secrets.
        "node": {
            "id": format!("sidecar~{}~meshsim.default~default.svc.cluster.local", listen.0),
            "cluster": "meshsim.default",
        },
        "admin": {"address": {"socket_address": {"address": admin.0, "port_value": admin.1}}},
        "static_resources": {
            "listeners": [{
                "name": format!("outbound_{}", table.port),
                "address": {"socket_address": {"address": listen.0, "port_value": listen.1}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                        "stat_prefix": format!("outbound_0.0.0.0_{}", table.port),
                        "route_config": route_configuration(table, shadow_suffix),
                        "http_filters": [
                            {
                                // Empty at listener level; routes enable faults through
                                // typed_per_filter_config, as istiod does.
                                "name": "envoy.filters.http.fault",
                                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"}
                            },
                            {
                                "name": "envoy.filters.http.router",
                                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}
                            }
                        ],
                    }
                }]}],
            }],
            "clusters": all_clusters,
        }
    })
}

/// The `sds-grpc` cluster of Istio's bootstrap (`tools/packaging/common/envoy_bootstrap.json`):
/// the workload's SDS server on a local socket, which client TLS settings refer to.
fn sds_grpc() -> Value {
    json!({
        "name": "sds-grpc",
        "type": "STATIC",
        "connect_timeout": "1s",
        "typed_extension_protocol_options": {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "explicit_http_config": {"http2_protocol_options": {}},
        }},
        "load_assignment": {"cluster_name": "sds-grpc", "endpoints": [{"lb_endpoints": [{"endpoint": {
            "address": {"pipe": {"path": "./var/run/secrets/workload-spiffe-uds/socket"}}
        }}]}]},
    })
}
