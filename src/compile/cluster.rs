//! Clusters as istiod builds them: one per service port (`outbound|PORT||HOST`) and one per
//! DestinationRule subset (`outbound|PORT|SUBSET|HOST`), each with its endpoints and its
//! load-balancing policy after Istio's precedence rules.

use super::version::IstioVersion;
use crate::config::{
    DestinationRule, LoadBalancerSettings, Resolution, Resource, SimpleLb, TrafficPolicy,
};
use crate::lb::hash::{HashPolicy, maglev, ring_hash};
use crate::lb::{Host, LbPolicy};
use crate::model::{Mesh, ServiceKind, host_matches, labels_match, resolve_host};
use crate::resilience::outlier::OutlierConfig;
use crate::resilience::pool::PoolLimits;
use std::collections::BTreeMap;

/// An Envoy cluster.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// `outbound|PORT|SUBSET|HOST`.
    pub name: String,
    /// Service host (FQDN).
    pub host: String,
    /// Service port.
    pub port: u32,
    /// Subset name, if any.
    pub subset: Option<String>,
    /// Endpoints, in EDS order.
    pub hosts: Vec<Host>,
    /// The topology instance behind each host.
    pub instances: Vec<usize>,
    /// Load-balancing policy.
    pub lb: LbPolicy,
    /// Hash policy for Istio's default route to this cluster (top-level or port-level
    /// consistentHash of the DestinationRule).
    pub default_hash_policy: Vec<HashPolicy>,
    /// Outlier detection, if the DestinationRule sets it.
    pub outlier: Option<OutlierConfig>,
    /// Connection-pool limits.
    pub pool: PoolLimits,
    /// The DestinationRule settings behind this cluster, for the export.
    pub settings: ClusterSettings,
}

/// The DestinationRule settings in force for a cluster, as written: `envoy-config` translates
/// them as istiod does (`applyOutlierDetection`, `applyConnectionPool`,
/// `buildUpstreamClusterTLSContext`).
#[derive(Clone, Debug, Default)]
pub struct ClusterSettings {
    /// `outlierDetection`.
    pub outlier_detection: Option<crate::config::OutlierDetection>,
    /// `connectionPool`.
    pub connection_pool: Option<crate::config::ConnectionPoolSettings>,
    /// Client `tls`.
    pub tls: Option<crate::config::ClientTlsSettings>,
}

/// Builds the name Istio gives a cluster.
pub fn cluster_name(port: u32, subset: Option<&str>, host: &str) -> String {
    format!("outbound|{port}|{}|{host}", subset.unwrap_or(""))
}

/// The DestinationRules that apply to a host, merged as istiod does: the first one (in apply
/// order) with an exact host wins the top-level policy, subsets are unioned (first definition
/// of a name wins). Wildcard hosts apply when no exact one exists.
pub struct ConsolidatedRule<'m> {
    /// Top-level traffic policy.
    pub traffic_policy: Option<&'m TrafficPolicy>,
    /// Subsets: name → (labels, subset policy).
    pub subsets: Vec<&'m crate::config::Subset>,
}

/// Finds the DestinationRules for `host`.
pub fn rules_for<'m>(mesh: &'m Mesh, host: &str) -> ConsolidatedRule<'m> {
    let resolved = |r: &Resource<DestinationRule>| resolve_host(&r.spec.host, &r.namespace);
    let exact: Vec<&Resource<DestinationRule>> = mesh
        .destination_rules
        .iter()
        .filter(|r| resolved(r) == host)
        .collect();
    let chosen: Vec<&Resource<DestinationRule>> = if exact.is_empty() {
        // The most specific wildcard (longest pattern) wins.
        let mut wild: Vec<&Resource<DestinationRule>> = mesh
            .destination_rules
            .iter()
            .filter(|r| {
                let h = resolved(r);
                h.starts_with('*') && host_matches(&h, host)
            })
            .collect();
        wild.sort_by_key(|r| std::cmp::Reverse(resolved(r).len()));
        wild.into_iter().take(1).collect()
    } else {
        exact
    };
    let mut subsets: Vec<&crate::config::Subset> = Vec::new();
    for r in &chosen {
        for s in &r.spec.subsets {
            if !subsets.iter().any(|x| x.name == s.name) {
                subsets.push(s);
            }
        }
    }
    ConsolidatedRule {
        traffic_policy: chosen.iter().find_map(|r| r.spec.traffic_policy.as_ref()),
        subsets,
    }
}

/// The load-balancer settings in force at a port: port-level settings replace the
/// destination-level policy as a whole (`MergeTrafficPolicy`).
fn lb_at_port(policy: Option<&TrafficPolicy>, port: u32) -> (bool, Option<&LoadBalancerSettings>) {
    let Some(p) = policy else {
        return (false, None);
    };
    if let Some(pl) = p
        .port_level_settings
        .iter()
        .find(|pl| pl.port.is_some_and(|x| x.number == port))
    {
        return (true, pl.load_balancer.as_ref());
    }
    (false, p.load_balancer.as_ref())
}

/// The effective load-balancer settings of a cluster: the subset's (or its port-level ones)
/// over the top level's (or its port-level ones).
pub fn effective_lb<'m>(
    rule: &ConsolidatedRule<'m>,
    subset: Option<&'m crate::config::Subset>,
    port: u32,
) -> Option<&'m LoadBalancerSettings> {
    let (_, top) = lb_at_port(rule.traffic_policy, port);
    if let Some(sp) = subset.and_then(|s| s.traffic_policy.as_ref()) {
        let (port_level, lb) = lb_at_port(Some(sp), port);
        if port_level || lb.is_some() {
            return lb;
        }
    }
    top
}

/// The connection pool, outlier detection and client TLS in force for a cluster.
#[derive(Clone, Copy, Debug, Default)]
pub struct Resilience<'m> {
    /// `connectionPool`.
    pub pool: Option<&'m crate::config::ConnectionPoolSettings>,
    /// `outlierDetection`.
    pub outlier: Option<&'m crate::config::OutlierDetection>,
    /// `tls`.
    pub tls: Option<&'m crate::config::ClientTlsSettings>,
}

/// The connection pool, outlier detection and client TLS in force for a cluster, with the
/// same precedence as the load balancer (`MergeSubsetTrafficPolicy`,
/// `GetPortLevelTrafficPolicy`): a port-level entry replaces its level whole, a subset's
/// component replaces the top level's.
pub fn effective_resilience<'m>(
    rule: &ConsolidatedRule<'m>,
    subset: Option<&'m crate::config::Subset>,
    port: u32,
) -> Resilience<'m> {
    fn at_port(p: &TrafficPolicy, port: u32) -> (bool, Resilience<'_>) {
        match p
            .port_level_settings
            .iter()
            .find(|pl| pl.port.is_some_and(|x| x.number == port))
        {
            Some(pl) => (
                true,
                Resilience {
                    pool: pl.connection_pool.as_ref(),
                    outlier: pl.outlier_detection.as_ref(),
                    tls: pl.tls.as_ref(),
                },
            ),
            None => (
                false,
                Resilience {
                    pool: p.connection_pool.as_ref(),
                    outlier: p.outlier_detection.as_ref(),
                    tls: p.tls.as_ref(),
                },
            ),
        }
    }
    let mut out = rule
        .traffic_policy
        .map(|p| at_port(p, port).1)
        .unwrap_or_default();
    if let Some(sp) = subset.and_then(|s| s.traffic_policy.as_ref()) {
        let (port_level, r) = at_port(sp, port);
        if port_level {
            out = r;
        } else {
            out.pool = r.pool.or(out.pool);
            out.outlier = r.outlier.or(out.outlier);
            out.tls = r.tls.or(out.tls);
        }
    }
    out
}

/// Envoy's policy for Istio's settings (`applyLoadBalancer`, `ApplyRingHashLoadBalancer`).
pub fn lb_policy(lb: Option<&LoadBalancerSettings>, version: IstioVersion) -> LbPolicy {
    let Some(lb) = lb else {
        return version.default_lb();
    };
    if let Some(ch) = &lb.consistent_hash {
        if let Some(m) = &ch.maglev {
            return LbPolicy::Maglev {
                table_size: m
                    .table_size
                    .filter(|&t| t > 0)
                    .unwrap_or(maglev::DEFAULT_TABLE_SIZE),
            };
        }
        let min = ch
            .ring_hash
            .as_ref()
            .and_then(|r| r.minimum_ring_size)
            .or(ch.minimum_ring_size)
            .filter(|&m| m > 0)
            .unwrap_or(ring_hash::DEFAULT_MINIMUM_RING_SIZE);
        return LbPolicy::RingHash {
            minimum_ring_size: min,
            maximum_ring_size: ring_hash::DEFAULT_MAXIMUM_RING_SIZE,
        };
    }
    match lb.simple {
        None | Some(SimpleLb::Unspecified) => version.default_lb(),
        Some(SimpleLb::LeastConn | SimpleLb::LeastRequest) => LbPolicy::LeastRequest,
        Some(SimpleLb::RoundRobin) => LbPolicy::RoundRobin,
        Some(SimpleLb::Random) => LbPolicy::Random,
        Some(SimpleLb::Passthrough) => LbPolicy::Passthrough,
    }
}

/// The route hash policy for a consistent-hash setting (`consistentHashToHashPolicy`).
pub fn hash_policy(lb: Option<&LoadBalancerSettings>) -> Option<HashPolicy> {
    let ch = lb?.consistent_hash.as_ref()?;
    if let Some(h) = &ch.http_header_name {
        return Some(HashPolicy::Header(h.to_ascii_lowercase()));
    }
    if let Some(c) = &ch.http_cookie {
        return Some(HashPolicy::Cookie {
            name: c.name.clone(),
            path: c.path.clone(),
            ttl_seconds: c.ttl.map(|t| t.nanos / 1_000_000_000),
        });
    }
    if ch.use_source_ip == Some(true) {
        return Some(HashPolicy::SourceIp);
    }
    ch.http_query_parameter_name
        .as_ref()
        .map(|q| HashPolicy::QueryParameter(q.clone()))
}

/// Builds every cluster of the mesh, sorted by name.
pub fn build_clusters(mesh: &Mesh, version: IstioVersion) -> Vec<Cluster> {
    let mut out = Vec::new();
    for svc in &mesh.topology.services {
        let rule = rules_for(mesh, &svc.hostname);
        let original_dst = matches!(
            svc.kind,
            ServiceKind::ServiceEntry {
                resolution: Resolution::None,
                ..
            }
        );
        for (pi, port) in svc.ports.iter().enumerate() {
            let eps = &svc.endpoints[pi];
            let mut add = |subset: Option<&crate::config::Subset>| {
                let lb_settings = effective_lb(&rule, subset, port.number);
                let mut lb = lb_policy(lb_settings, version);
                if original_dst {
                    lb = LbPolicy::Passthrough;
                }
                let selected: Vec<_> = eps
                    .iter()
                    .filter(|e| {
                        subset.is_none_or(|s| {
                            labels_match(&s.labels, &mesh.topology.instances[e.instance].labels)
                        })
                    })
                    .collect();
                let (_, top_lb) = lb_at_port(rule.traffic_policy, port.number);
                let res = effective_resilience(&rule, subset, port.number);
                out.push(Cluster {
                    name: cluster_name(port.number, subset.map(|s| s.name.as_str()), &svc.hostname),
                    host: svc.hostname.clone(),
                    port: port.number,
                    subset: subset.map(|s| s.name.clone()),
                    hosts: selected
                        .iter()
                        .map(|e| Host {
                            address: e.address.clone(),
                            weight: e.weight.max(1),
                        })
                        .collect(),
                    instances: selected.iter().map(|e| e.instance).collect(),
                    lb,
                    default_hash_policy: hash_policy(top_lb).into_iter().collect(),
                    outlier: res.outlier.map(|o| {
                        OutlierConfig::from_istio(o, version.envoy_128_outlier_detection())
                    }),
                    pool: PoolLimits::from_istio(res.pool),
                    settings: ClusterSettings {
                        outlier_detection: res.outlier.cloned(),
                        connection_pool: res.pool.cloned(),
                        tls: res.tls.cloned(),
                    },
                });
            };
            add(None);
            for s in &rule.subsets {
                add(Some(s));
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    out
}

/// Index of clusters by name.
pub fn index(clusters: &[Cluster]) -> BTreeMap<String, usize> {
    clusters
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.clone(), i))
        .collect()
}

/// The consistent-hash policy a route destination gets (`hashForHTTPDestination`), first hit
/// wins: subset port-level, subset, top-level port-level, top-level. Port-level settings count
/// only when the VirtualService names the destination port.
pub fn hash_for_destination(
    rule: &ConsolidatedRule<'_>,
    subset: Option<&str>,
    explicit_port: Option<u32>,
) -> Option<HashPolicy> {
    let at_port = |p: &TrafficPolicy| -> Option<HashPolicy> {
        let port = explicit_port?;
        let pl = p
            .port_level_settings
            .iter()
            .find(|pl| pl.port.is_some_and(|x| x.number == port))?;
        hash_policy(pl.load_balancer.as_ref())
    };
    let sub = subset.and_then(|name| rule.subsets.iter().find(|s| s.name == name));
    if let Some(sp) = sub.and_then(|s| s.traffic_policy.as_ref())
        && let Some(h) = at_port(sp).or_else(|| hash_policy(sp.load_balancer.as_ref()))
    {
        return Some(h);
    }
    let top = rule.traffic_policy?;
    at_port(top).or_else(|| hash_policy(top.load_balancer.as_ref()))
}
