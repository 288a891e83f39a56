//! Analysis: configurations Istio admits but that will hurt, found with what only a simulator
//! knows (endpoints, rings, exact rule shadowing). Every finding is a warning: the mesh runs,
//! some requests just will not go where their authors think. Codes are `MS20xx`; where
//! istioctl analyze has the same check, its code is named in the message.

mod not_simulated;
mod shadow;

pub use not_simulated::not_simulated;

use crate::compile::{IstioVersion, resolve_gateway_name, vs_gateways};
use crate::config::{Destination, Resource, VirtualService, YamlPath};
use crate::diag::{Code, Diagnostic, Diagnostics, codes};
use crate::lb::LbPolicy;
use crate::model::{Mesh, host_matches, labels_match, resolve_host};
use crate::sim::Simulator;
use std::collections::BTreeMap;

fn warn(r_origin: &crate::config::Origin, code: Code, path: &YamlPath, msg: String) -> Diagnostic {
    Diagnostic::warning(code, msg)
        .at(r_origin.locate(path))
        .with_path(path.to_string())
}

/// Runs every analysis.
pub fn analyze(mesh: &Mesh, version: IstioVersion) -> Diagnostics {
    let mut out = Vec::new();
    destinations(mesh, &mut out);
    empty_subsets(mesh, &mut out);
    gateways(mesh, &mut out);
    duplicates(mesh, &mut out);
    for r in mesh
        .virtual_services
        .iter()
        .filter(|r| !crate::model::gateway_api::is_generated(r))
    {
        shadow::unreachable_rules(r, &mut out);
        cookie_regexes(r, &mut out);
        retries(mesh, r, &mut out);
    }
    hash_behind_split(mesh, &mut out);
    small_rings(mesh, version, &mut out);
    let mut d = Diagnostics(out);
    d.sort();
    d
}

fn destination_refs(vs: &VirtualService) -> Vec<(YamlPath, &Destination)> {
    let mut v = Vec::new();
    for (i, h) in vs.http.iter().enumerate() {
        let p = YamlPath::root().key("spec").key("http").index(i);
        for (k, rd) in h.route.iter().enumerate() {
            v.push((p.key("route").index(k).key("destination"), &rd.destination));
        }
        if let Some(m) = &h.mirror {
            v.push((p.key("mirror"), m));
        }
        for (k, m) in h.mirrors.iter().enumerate() {
            v.push((p.key("mirrors").index(k).key("destination"), &m.destination));
        }
    }
    v
}

fn destinations(mesh: &Mesh, out: &mut Vec<Diagnostic>) {
    for r in mesh
        .virtual_services
        .iter()
        .filter(|r| !crate::model::gateway_api::is_generated(r))
    {
        for (p, d) in destination_refs(&r.spec) {
            let host = resolve_host(&d.host, &r.namespace);
            if mesh.topology.service(&host).is_none() {
                out.push(warn(&r.origin, codes::UNKNOWN_HOST, &p.key("host"), format!(
                    "destination host `{host}` is not declared by any Service or ServiceEntry loaded (IST0101): requests get 503 NC unless it is defined elsewhere"
                )));
                continue;
            }
            if let Some(sub) = &d.subset {
                let rule = crate::compile::rules_for(mesh, &host);
                if !rule.subsets.iter().any(|s| &s.name == sub) {
                    out.push(warn(&r.origin, codes::UNKNOWN_SUBSET, &p.key("subset"), format!(
                        "no DestinationRule defines subset `{sub}` of `{host}` (IST0101): requests get 503 NC"
                    )));
                }
            }
        }
    }
}

fn empty_subsets(mesh: &Mesh, out: &mut Vec<Diagnostic>) {
    for r in &mesh.destination_rules {
        let host = resolve_host(&r.spec.host, &r.namespace);
        let Some(svc) = mesh.topology.service(&host) else {
            continue;
        };
        for (i, s) in r.spec.subsets.iter().enumerate() {
            let any = svc
                .endpoints
                .iter()
                .flatten()
                .any(|e| labels_match(&s.labels, &mesh.topology.instances[e.instance].labels));
            if !any {
                let p = YamlPath::root()
                    .key("spec")
                    .key("subsets")
                    .index(i)
                    .key("labels");
                out.push(warn(&r.origin, codes::EMPTY_SUBSET, &p, format!(
                    "subset `{}` selects no endpoint of `{host}` (IST0173): requests to it get 503 UH",
                    s.name
                )));
            }
        }
    }
}

fn gateways(mesh: &Mesh, out: &mut Vec<Diagnostic>) {
    for r in mesh
        .virtual_services
        .iter()
        .filter(|r| !crate::model::gateway_api::is_generated(r))
    {
        for (i, g) in r.spec.gateways.iter().enumerate() {
            if g == "mesh" {
                continue;
            }
            let name = resolve_gateway_name(g, &r.namespace);
            let p = YamlPath::root().key("spec").key("gateways").index(i);
            let Some(gw) = mesh
                .gateways
                .iter()
                .find(|x| format!("{}/{}", x.namespace, x.name) == name)
            else {
                out.push(warn(
                    &r.origin,
                    codes::UNKNOWN_GATEWAY,
                    &p,
                    format!("gateway `{name}` is not defined in the files loaded (IST0101)"),
                ));
                continue;
            };
            let admits = r.spec.hosts.iter().any(|h| {
                let h = resolve_host(h, &r.namespace);
                gw.spec.servers.iter().flat_map(|s| &s.hosts).any(|sh| {
                    let pat = sh
                        .split_once('/')
                        .map_or(sh.as_str(), |x| x.1)
                        .to_ascii_lowercase();
                    host_matches(&pat, &h) || host_matches(&h, &pat)
                })
            });
            if !admits {
                out.push(warn(&r.origin, codes::HOST_NOT_IN_GATEWAY, &p, format!(
                    "gateway `{name}` admits none of this VirtualService's hosts (IST0132): it gets no routes there"
                )));
            }
        }
    }
}

fn duplicates(mesh: &Mesh, out: &mut Vec<Diagnostic>) {
    let mut by_host: BTreeMap<String, &Resource<VirtualService>> = BTreeMap::new();
    for r in mesh
        .virtual_services
        .iter()
        .filter(|r| !crate::model::gateway_api::is_generated(r))
    {
        if !vs_gateways(r).iter().any(|g| g == "mesh") {
            continue;
        }
        for (i, h) in r.spec.hosts.iter().enumerate() {
            let host = resolve_host(h, &r.namespace);
            match by_host.get(&host) {
                Some(first) => {
                    let p = YamlPath::root().key("spec").key("hosts").index(i);
                    out.push(
                        warn(&r.origin, codes::CONFLICTING_VIRTUAL_SERVICES, &p, format!(
                            "VirtualService {}/{} also routes `{host}` for sidecars; Istio does not merge them and uses only the first (the oldest, then by name; IST0109)",
                            first.namespace, first.name
                        ))
                        .with_note(first.origin.start(), "the VirtualService that applies"),
                    );
                }
                None => {
                    by_host.insert(host, r);
                }
            }
        }
    }
    let mut seen: BTreeMap<String, &Resource<crate::config::DestinationRule>> = BTreeMap::new();
    for r in &mesh.destination_rules {
        let host = resolve_host(&r.spec.host, &r.namespace);
        match seen.get(&host) {
            Some(first) => {
                let both_policies =
                    first.spec.traffic_policy.is_some() && r.spec.traffic_policy.is_some();
                out.push(
                    warn(&r.origin, codes::MERGED_DESTINATION_RULES, &YamlPath::parse("spec.host"), format!(
                        "DestinationRule {}/{} is also for `{host}`: Istio merges them, the first definition of a subset wins{}",
                        first.namespace,
                        first.name,
                        if both_policies { ", and this trafficPolicy is ignored" } else { "" }
                    ))
                    .with_note(first.origin.start(), "the first DestinationRule"),
                );
            }
            None => {
                seen.insert(host, r);
            }
        }
    }
}

/// A literal `name=value` inside a cookie regex, if there is one.
fn cookie_pair(regex: &str) -> Option<String> {
    let re = regex::Regex::new(r"[A-Za-z0-9_\-]+=[A-Za-z0-9_\-]+").ok()?;
    re.find(regex).map(|m| m.as_str().to_string())
}

fn cookie_regexes(r: &Resource<VirtualService>, out: &mut Vec<Diagnostic>) {
    for (i, h) in r.spec.http.iter().enumerate() {
        for (j, m) in h.matches.iter().enumerate() {
            for (name, sm) in &m.headers {
                if !name.eq_ignore_ascii_case("cookie") {
                    continue;
                }
                let Some(src) = sm.regex.as_deref() else {
                    continue;
                };
                let Ok(re) = crate::route::Regex::new(src) else {
                    continue;
                };
                let Some(pair) = cookie_pair(src) else {
                    continue;
                };
                if !re.is_match(&pair) {
                    continue;
                }
                let tries = [
                    format!("{pair}; b=2"),
                    format!("a=1; {pair}; b=2"),
                    format!("a=1; {pair}"),
                ];
                let failing: Vec<&String> = tries.iter().filter(|t| !re.is_match(t)).collect();
                if let Some(first) = failing.first() {
                    let p = YamlPath::root()
                        .key("spec")
                        .key("http")
                        .index(i)
                        .key("match")
                        .index(j)
                        .key("headers")
                        .key(name.clone())
                        .key("regex");
                    out.push(
                        warn(&r.origin, codes::COOKIE_REGEX_POSITION, &p, format!(
                            "the regex must match the whole cookie header, and it misses `{pair}` in {} of 3 browser positions, e.g. `cookie: {first}`",
                            failing.len()
                        ))
                        .with_hint(format!("allow other cookies and the space browsers put after `;`: ^(.*?; ?)?({pair})(;.*)?$")),
                    );
                }
            }
        }
    }
}

fn retries(mesh: &Mesh, r: &Resource<VirtualService>, out: &mut Vec<Diagnostic>) {
    let gateway_only = !vs_gateways(r).iter().any(|g| g == "mesh");
    for (i, h) in r.spec.http.iter().enumerate() {
        let p = YamlPath::root().key("spec").key("http").index(i);
        let Some(rt) = &h.retries else { continue };
        if let (Some(t), Some(ptt)) = (h.timeout, rt.per_try_timeout)
            && rt.attempts > 0
        {
            let tries = rt.attempts as u64 + 1;
            if ptt.nanos.saturating_mul(tries) > t.nanos {
                let fit = (t.nanos / ptt.nanos.max(1)).max(1);
                out.push(warn(&r.origin, codes::RETRIES_EXCEED_TIMEOUT, &p.key("retries"), format!(
                    "{tries} tries of up to {ptt} each do not fit in the route timeout {t}: at most {fit} tr{} of hanging requests can happen before 504",
                    if fit == 1 { "y" } else { "ies" }
                )));
            }
        }
        if gateway_only {
            let mesh_hosts: Vec<String> = r
                .spec
                .hosts
                .iter()
                .map(|h| resolve_host(h, &r.namespace))
                .filter(|h| mesh.topology.service(h).is_some())
                .collect();
            let targets: Vec<String> = h
                .route
                .iter()
                .map(|rd| resolve_host(&rd.destination.host, &r.namespace))
                .filter(|h| mesh.topology.service(h).is_some())
                .chain(mesh_hosts)
                .collect();
            if let Some(t) = targets.first() {
                out.push(warn(&r.origin, codes::GATEWAY_ONLY_RETRIES, &p.key("retries"), format!(
                    "this VirtualService is bound to gateways only: its retry policy applies to requests entering there, not to sidecars calling `{t}`, which get Istio's default policy"
                )));
            }
        }
    }
}

fn hash_behind_split(mesh: &Mesh, out: &mut Vec<Diagnostic>) {
    for r in mesh
        .virtual_services
        .iter()
        .filter(|r| !crate::model::gateway_api::is_generated(r))
    {
        for (i, h) in r.spec.http.iter().enumerate() {
            let weighted: Vec<&crate::config::HttpRouteDestination> =
                h.route.iter().filter(|d| d.weight > 0).collect();
            if weighted.len() < 2 {
                continue;
            }
            let hashed = weighted.iter().any(|d| {
                let host = resolve_host(&d.destination.host, &r.namespace);
                let rule = crate::compile::rules_for(mesh, &host);
                crate::compile::hash_for_destination(
                    &rule,
                    d.destination.subset.as_deref(),
                    d.destination.port.map(|p| p.number),
                )
                .is_some()
            });
            if hashed {
                let p = YamlPath::root()
                    .key("spec")
                    .key("http")
                    .index(i)
                    .key("route");
                out.push(warn(&r.origin, codes::HASH_BEHIND_SPLIT, &p, "the weighted split picks a destination at random for every request, before the consistent hash: one user's requests spread over the destinations by weight, and stay sticky only within each".to_string()));
            }
        }
    }
}

/// Exact share of the hash space each host owns on a ring.
pub fn ring_shares(ring: &crate::lb::hash::RingHash, hosts: usize) -> Vec<f64> {
    let mut shares = vec![0.0f64; hosts];
    let entries: Vec<(u64, usize)> = ring.entries().collect();
    if entries.is_empty() {
        return shares;
    }
    let two64 = 18_446_744_073_709_551_616.0f64;
    let mut prev = 0u64;
    for &(h, host) in &entries {
        shares[host] += (h - prev) as f64 / two64;
        prev = h;
    }
    // Above the last entry, hashes wrap to the first.
    shares[entries[0].1] += (u64::MAX - prev) as f64 / two64;
    shares
}

fn small_rings(mesh: &Mesh, version: IstioVersion, out: &mut Vec<Diagnostic>) {
    let Ok(sim) = Simulator::with_options(mesh, crate::sim::SimOptions { version, seed: 1 }) else {
        return;
    };
    for c in &sim.compiled().clusters {
        let LbPolicy::RingHash {
            minimum_ring_size,
            maximum_ring_size,
        } = c.lb
        else {
            continue;
        };
        if c.subset.is_some() || c.hosts.len() < 2 {
            continue;
        }
        let ring = crate::lb::hash::RingHash::build(&c.hosts, minimum_ring_size, maximum_ring_size);
        let shares = ring_shares(&ring, c.hosts.len());
        let total_w: f64 = c.hosts.iter().map(|h| h.weight as f64).sum();
        let worst = c
            .hosts
            .iter()
            .zip(&shares)
            .map(|(h, s)| s / (h.weight as f64 / total_w))
            .fold(0.0f64, f64::max);
        if worst > 1.25 {
            let Some(dr) = mesh
                .destination_rules
                .iter()
                .find(|d| resolve_host(&d.spec.host, &d.namespace) == c.host)
            else {
                continue;
            };
            let per = ring.len() / c.hosts.len();
            out.push(warn(&dr.origin, codes::SMALL_RING, &YamlPath::parse("spec.trafficPolicy.loadBalancer.consistentHash"), format!(
                "with a ring of {} entries over {} endpoints of {} (about {per} each), the busiest endpoint owns {worst:.2}× its fair share of the hash space",
                ring.len(),
                c.hosts.len(),
                c.name
            ))
            .with_hint("raise ringHash.minimumRingSize (Envoy's default is 1024) or use maglev"));
        }
    }
}

/// An analysis finding about one rule of a VirtualService, to show beside that rule where a
/// request's trace tries it (`explain`, a failing test's first failing request).
#[derive(Clone, Debug, PartialEq)]
pub struct RuleFinding {
    /// The VirtualService.
    pub virtual_service: crate::trace::ResourceRef,
    /// Its `http[]` rule.
    pub rule: usize,
    /// The finding.
    pub finding: Diagnostic,
}

/// The findings among `diags` that concern a VirtualService's `http[i]` rule: located in
/// that VirtualService's document (the last one of its file starting at or before the
/// finding's line) with a path under `spec.http[i]`.
///
/// ```
/// use meshsim::{Mesh, analyze};
/// use meshsim::compile::IstioVersion;
/// let mesh = Mesh::load(&["tests/invalid/analysis-cookie-regex.yaml"]).unwrap();
/// let found = analyze::analyze(&mesh, IstioVersion::NEWEST);
/// let by_rule = analyze::rule_findings(&mesh, &found);
/// assert_eq!(by_rule[0].rule, 0);
/// assert_eq!(by_rule[0].finding.code.0, "MS2010");
/// ```
pub fn rule_findings(mesh: &Mesh, diags: &Diagnostics) -> Vec<RuleFinding> {
    let mut out = Vec::new();
    for d in &diags.0 {
        let Some(loc) = &d.location else { continue };
        let Some(rule) = d
            .path
            .strip_prefix("spec.http[")
            .and_then(|rest| rest.split(']').next())
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        let vs = mesh
            .virtual_services
            .iter()
            .filter(|r| r.origin.file == loc.file && r.origin.line <= loc.line)
            .max_by_key(|r| r.origin.line);
        if let Some(r) = vs {
            out.push(RuleFinding {
                virtual_service: crate::trace::ResourceRef {
                    namespace: r.namespace.clone(),
                    name: r.name.clone(),
                },
                rule,
                finding: d.clone(),
            });
        }
    }
    out
}
