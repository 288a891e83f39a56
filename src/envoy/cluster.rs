//! Envoy `Cluster`s as istiod builds them (`pilot/pkg/networking/core/cluster_builder.go`,
//! `cluster_traffic_policy.go`, `cluster_tls.go`): endpoints and load balancing, then the
//! DestinationRule's outlier detection, connection pool and client TLS.

use super::proto_duration;
use crate::compile::{Cluster, CompiledMesh};
use crate::config::{ClientTlsSettings, ConnectionPoolSettings, Duration, OutlierDetection};
use crate::lb::LbPolicy;
use crate::resilience::pool::PoolLimits;
use serde_json::{Value, json};
use std::net::IpAddr;

fn socket(address: &str) -> Option<(String, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    Some((
        host.trim_matches(|c| c == '[' || c == ']').to_string(),
        port.parse().ok()?,
    ))
}

/// `getDefaultCircuitBreakerThresholds` with `applyConnectionPool`'s overrides: every limit
/// 2^32−1 unless the DestinationRule gives a positive one.
fn circuit_breakers(l: &PoolLimits) -> Value {
    json!({"thresholds": [{
        "max_connections": l.max_connections,
        "max_pending_requests": l.max_pending,
        "max_requests": l.max_requests,
        "max_retries": l.max_retries,
    }]})
}

/// The mesh's `connectTimeout` (10 s by default), or the DestinationRule's `tcp.connectTimeout`.
fn connect_timeout(pool: Option<&ConnectionPoolSettings>) -> String {
    proto_duration(
        pool.and_then(|p| p.tcp.as_ref())
            .and_then(|t| t.connect_timeout)
            .unwrap_or(Duration::from_secs(10)),
    )
}

/// `applyConnectionPool`'s HTTP protocol options: idle timeout (http, else tcp), requests per
/// connection and connection lifetime, in `envoy.extensions.upstreams.http.v3.HttpProtocolOptions`
/// (which must say which protocol: istiod's default is explicit HTTP/1.1).
fn http_protocol_options(pool: Option<&ConnectionPoolSettings>) -> Option<Value> {
    let pool = pool?;
    let mut common = serde_json::Map::new();
    let idle = pool
        .http
        .as_ref()
        .and_then(|h| h.idle_timeout)
        .or_else(|| pool.tcp.as_ref().and_then(|t| t.idle_timeout));
    if let Some(t) = idle {
        common.insert("idle_timeout".into(), json!(proto_duration(t)));
    }
    if let Some(n) = pool
        .http
        .as_ref()
        .and_then(|h| h.max_requests_per_connection)
        .filter(|&n| n > 0)
    {
        common.insert("max_requests_per_connection".into(), json!(n));
    }
    if let Some(t) = pool.tcp.as_ref().and_then(|t| t.max_connection_duration) {
        common.insert("max_connection_duration".into(), json!(proto_duration(t)));
    }
    if common.is_empty() {
        return None;
    }
    Some(
        json!({"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "common_http_protocol_options": common,
            "explicit_http_config": {"http_protocol_options": {}},
        }}),
    )
}

/// `applyOutlierDetection`: success-rate ejection off, each consecutive-error detector written
/// only when the DestinationRule sets it (enforcing 100, or 0 for a value of 0), the interval,
/// base ejection time and a positive `maxEjectionPercent` copied, local-origin errors split on
/// request; and the panic threshold set to `minHealthPercent` (0, panic mode off, when unset).
fn outlier_detection(o: &OutlierDetection) -> (Value, Value) {
    let mut v = json!({"enforcing_success_rate": 0});
    let enforcing = |n: i64| if n > 0 { 100 } else { 0 };
    if let Some(n) = o.consecutive_5xx_errors {
        v["consecutive_5xx"] = json!(n.max(0));
        v["enforcing_consecutive_5xx"] = json!(enforcing(n));
    }
    if let Some(n) = o.consecutive_gateway_errors {
        v["consecutive_gateway_failure"] = json!(n.max(0));
        v["enforcing_consecutive_gateway_failure"] = json!(enforcing(n));
    }
    if let Some(d) = o.interval {
        v["interval"] = json!(proto_duration(d));
    }
    if let Some(d) = o.base_ejection_time {
        v["base_ejection_time"] = json!(proto_duration(d));
    }
    if let Some(p) = o.max_ejection_percent.filter(|&p| p > 0) {
        v["max_ejection_percent"] = json!(p.min(100));
    }
    if o.split_external_local_origin_errors == Some(true) {
        v["split_external_local_origin_errors"] = json!(true);
        if let Some(n) = o.consecutive_local_origin_failures.filter(|&n| n > 0) {
            v["consecutive_local_origin_failure"] = json!(n);
            v["enforcing_consecutive_local_origin_failure"] = json!(100);
        }
        v["enforcing_local_origin_success_rate"] = json!(0);
    }
    let panic = o.min_health_percent.unwrap_or(0).clamp(0, 100);
    (v, json!({"healthy_panic_threshold": {"value": panic}}))
}

/// `buildUpstreamClusterTLSContext` for SIMPLE and MUTUAL with files: certificates through the
/// proxy's file SDS (`file-cert:CERT~KEY`, `file-root:CA`), SANs matched exactly, TLS 1.2–1.3.
/// ISTIO_MUTUAL takes the workload certificate from istiod's SDS (`default`, `ROOTCA`), with
/// SNI `outbound_.PORT_.SUBSET_.HOST` and Istio's ALPN. DISABLE (or no mode) is plaintext.
/// `credentialName` Secrets are served by istiod's ADS (`kubernetes://NAME`).
fn transport_socket(c: &Cluster, tls: &ClientTlsSettings) -> Option<Value> {
    let mode = tls.mode.as_deref().unwrap_or("DISABLE");
    let sds = |name: &str| -> Value {
        if name.starts_with("kubernetes://") {
            json!({"name": name, "sds_config": {"ads": {}, "resource_api_version": "V3"}})
        } else {
            json!({"name": name, "sds_config": {"api_config_source": {
                "api_type": "GRPC", "transport_api_version": "V3",
                "grpc_services": [{"envoy_grpc": {"cluster_name": "sds-grpc"}}],
            }, "resource_api_version": "V3"}})
        }
    };
    let sans = |names: &[String]| -> Value {
        names
            .iter()
            .map(|n| json!({"exact": n}))
            .collect::<Vec<_>>()
            .into()
    };
    let mut common = json!({"tls_params": {
        "tls_minimum_protocol_version": "TLSv1_2",
        "tls_maximum_protocol_version": "TLSv1_3",
    }});
    let mut typed = json!({"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"});
    match mode {
        "ISTIO_MUTUAL" => {
            common["tls_certificate_sds_secret_configs"] = json!([sds("default")]);
            common["combined_validation_context"] = json!({
                "default_validation_context": {"match_subject_alt_names": sans(&tls.subject_alt_names)},
                "validation_context_sds_secret_config": sds("ROOTCA"),
            });
            common["alpn_protocols"] = json!(["istio-peer-exchange", "istio"]);
            let sni = tls.sni.clone().unwrap_or_else(|| {
                format!(
                    "outbound_.{}_.{}_.{}",
                    c.port,
                    c.subset.as_deref().unwrap_or(""),
                    c.host
                )
            });
            typed["sni"] = json!(sni);
        }
        "SIMPLE" | "MUTUAL" => {
            if mode == "MUTUAL" {
                let cert = match (
                    &tls.credential_name,
                    &tls.client_certificate,
                    &tls.private_key,
                ) {
                    (Some(n), _, _) => format!("kubernetes://{n}"),
                    (None, Some(c), Some(k)) => format!("file-cert:{c}~{k}"),
                    // istiod refuses MUTUAL without a certificate and key: no TLS at all.
                    _ => return None,
                };
                common["tls_certificate_sds_secret_configs"] = json!([sds(&cert)]);
            }
            let root = match (&tls.credential_name, &tls.ca_certificates) {
                (Some(n), _) => Some(format!("kubernetes://{n}-cacert")),
                (None, Some(ca)) => Some(format!("file-root:{ca}")),
                (None, None) => None,
            };
            if tls.insecure_skip_verify == Some(true) {
                common["validation_context"] = json!({});
            } else if let Some(root) = root {
                let mut default = json!({});
                if !tls.subject_alt_names.is_empty() {
                    default["match_subject_alt_names"] = sans(&tls.subject_alt_names);
                }
                if let Some(crl) = &tls.ca_crl {
                    default["crl"] = json!({"filename": crl});
                }
                common["combined_validation_context"] = json!({
                    "default_validation_context": default,
                    "validation_context_sds_secret_config": sds(&root),
                });
            }
            if let Some(sni) = &tls.sni {
                typed["sni"] = json!(sni);
            }
        }
        _ => return None,
    }
    typed["common_tls_context"] = common;
    Some(json!({"name": "envoy.transport_sockets.tls", "typed_config": typed}))
}

/// An Envoy `Cluster`.
pub fn cluster(c: &Cluster) -> Value {
    let settings = &c.settings;
    let pool = settings.connection_pool.as_ref();
    if c.lb == LbPolicy::Passthrough {
        return json!({
            "name": c.name, "type": "ORIGINAL_DST", "lb_policy": "CLUSTER_PROVIDED",
            "connect_timeout": connect_timeout(pool), "circuit_breakers": circuit_breakers(&c.pool),
        });
    }
    let all_ips = c
        .hosts
        .iter()
        .all(|h| socket(&h.address).is_some_and(|(a, _)| a.parse::<IpAddr>().is_ok()));
    let endpoints: Vec<Value> = c
        .hosts
        .iter()
        .filter_map(|h| {
            let (address, port) = socket(&h.address)?;
            Some(json!({
                "endpoint": {"address": {"socket_address": {"address": address, "port_value": port}}},
                "load_balancing_weight": h.weight.max(1),
            }))
        })
        .collect();
    let mut v = json!({
        "name": c.name,
        "type": if all_ips { "STATIC" } else { "STRICT_DNS" },
        "connect_timeout": connect_timeout(pool),
        "circuit_breakers": circuit_breakers(&c.pool),
        "load_assignment": {"cluster_name": c.name, "endpoints": [{"lb_endpoints": endpoints}]},
    });
    match c.lb {
        LbPolicy::RoundRobin => v["lb_policy"] = json!("ROUND_ROBIN"),
        LbPolicy::LeastRequest => v["lb_policy"] = json!("LEAST_REQUEST"),
        LbPolicy::Random => v["lb_policy"] = json!("RANDOM"),
        LbPolicy::RingHash {
            minimum_ring_size,
            maximum_ring_size,
        } => {
            v["lb_policy"] = json!("RING_HASH");
            v["ring_hash_lb_config"] = json!({
                "minimum_ring_size": minimum_ring_size.to_string(),
                "maximum_ring_size": maximum_ring_size.to_string(),
            });
        }
        LbPolicy::Maglev { table_size } => {
            v["lb_policy"] = json!("MAGLEV");
            v["maglev_lb_config"] = json!({"table_size": table_size.to_string()});
        }
        LbPolicy::Passthrough => {}
    }
    if let Some(o) = &settings.outlier_detection {
        let (od, common_lb) = outlier_detection(o);
        v["outlier_detection"] = od;
        v["common_lb_config"] = common_lb;
    }
    if let Some(opts) = http_protocol_options(pool) {
        v["typed_extension_protocol_options"] = opts;
    }
    if let Some(ts) = settings.tls.as_ref().and_then(|t| transport_socket(c, t)) {
        v["transport_socket"] = ts;
    }
    v
}

/// Every cluster, plus Istio's `PassthroughCluster` and `BlackHoleCluster`.
pub fn clusters(compiled: &CompiledMesh<'_>) -> Vec<Value> {
    let mut v: Vec<Value> = compiled.clusters.iter().map(cluster).collect();
    v.push(json!({"name": "PassthroughCluster", "type": "ORIGINAL_DST", "lb_policy": "CLUSTER_PROVIDED", "connect_timeout": "10s"}));
    v.push(json!({"name": "BlackHoleCluster", "type": "STATIC", "connect_timeout": "10s"}));
    v
}
