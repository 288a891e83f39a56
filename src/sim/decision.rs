//! What the mesh did with one request.

use serde::Serialize;
use std::fmt;

/// Envoy response flags (as in access logs), in Envoy's printing order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Flags(u16);

impl Flags {
    /// UH: no healthy upstream.
    pub const UH: Flags = Flags(1);
    /// UT: upstream request timeout.
    pub const UT: Flags = Flags(1 << 1);
    /// UF: upstream connection failure.
    pub const UF: Flags = Flags(1 << 2);
    /// UC: upstream connection termination.
    pub const UC: Flags = Flags(1 << 3);
    /// UO: upstream overflow (circuit breaker).
    pub const UO: Flags = Flags(1 << 4);
    /// NR: no route.
    pub const NR: Flags = Flags(1 << 5);
    /// DI: delayed by fault injection.
    pub const DI: Flags = Flags(1 << 6);
    /// FI: aborted by fault injection.
    pub const FI: Flags = Flags(1 << 7);
    /// URX: upstream retry limit exceeded.
    pub const URX: Flags = Flags(1 << 8);
    /// NC: no cluster found.
    pub const NC: Flags = Flags(1 << 9);

    /// In the order of Envoy's `ResponseFlag` enum, which is the order `%RESPONSE_FLAGS%`
    /// prints them in.
    const NAMES: [&'static str; 10] = ["UH", "UT", "UF", "UC", "UO", "NR", "DI", "FI", "URX", "NC"];

    /// No flag.
    pub const NONE: Flags = Flags(0);

    /// Union.
    pub fn with(self, o: Flags) -> Flags {
        Flags(self.0 | o.0)
    }
    /// Contains all of `o`?
    pub fn contains(self, o: Flags) -> bool {
        self.0 & o.0 == o.0
    }
    /// No flag set?
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Flags {
    /// `-` when empty, else names joined with `,` (Envoy's `%RESPONSE_FLAGS%`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("-");
        }
        let mut first = true;
        for (i, n) in Self::NAMES.iter().enumerate() {
            if self.0 & (1 << i) != 0 {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(n)?;
                first = false;
            }
        }
        Ok(())
    }
}

impl Serialize for Flags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Which VirtualService rule a route came from: indices into `Mesh::virtual_services` and
/// their `http` lists; for delegated rules, also the delegate's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleRef {
    /// The VirtualService.
    pub virtual_service: usize,
    /// Its `http[]` rule.
    pub rule: usize,
    /// The delegate VirtualService and its rule.
    pub delegate: Option<(usize, usize)>,
}

/// An Istio destination.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct DestinationOut {
    /// Host (FQDN).
    pub host: String,
    /// Subset, if any.
    pub subset: Option<String>,
    /// Port.
    pub port: u32,
}

/// One try of the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// `IP:PORT`, or null when no endpoint was chosen.
    pub endpoint: Option<String>,
    /// The pod (or WorkloadEntry) behind it.
    pub workload: Option<String>,
    /// The status this try would give the client (503 for a refused or reset connection, 504
    /// for a per-try timeout).
    pub status: u16,
    /// What happened: the status, or `refused`, `reset`, `timeout`.
    pub outcome: String,
    /// When the try started (ms since the request arrived at the proxy's clock origin).
    #[serde(rename = "startMs", serialize_with = "as_ms")]
    pub start: u64,
    /// When it ended.
    #[serde(rename = "endMs", serialize_with = "as_ms")]
    pub end: u64,
}

impl Attempt {
    /// A request forwarded as is to the address the client dialled (`PassthroughCluster`):
    /// Envoy picks no endpoint of its own.
    pub fn passthrough(at: u64) -> Self {
        Attempt {
            endpoint: None,
            workload: None,
            status: 200,
            outcome: "200".into(),
            start: at,
            end: at,
        }
    }
}

/// Nanoseconds as milliseconds.
pub fn as_ms<S: serde::Serializer>(ns: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(*ns as f64 / 1e6)
}

/// A mirrored copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MirrorOut {
    /// Destination host.
    pub host: String,
    /// Subset, if any.
    pub subset: Option<String>,
    /// The authority of the copy (`-shadow` appended up to Istio 1.27).
    pub authority: String,
    /// Endpoint chosen, or null when the mirror cluster has none.
    pub endpoint: Option<String>,
    /// Workload chosen.
    pub workload: Option<String>,
}

/// The request as the upstream receives it: the authority and path after the route's
/// rewrites, and the client's headers after the route's changes. Headers Envoy adds on its own
/// (`x-forwarded-*`, `x-request-id`, `x-envoy-*`) are not listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamRequest {
    /// `:authority`.
    pub authority: String,
    /// `:path`, with the query.
    pub path: String,
    /// Headers in order, names lowercase: `[name, value]` pairs (a name may repeat).
    pub headers: Vec<(String, String)>,
}

impl UpstreamRequest {
    /// The values of a header joined with `,` (how HTTP folds a repeated header), or `None`.
    pub fn header(&self, name: &str) -> Option<String> {
        crate::route::header_value(&self.headers, name)
    }
}

/// The route's changes to the response (`response_headers_to_add` and `_to_remove`, the
/// weighted cluster's then the route's), applied by Envoy to whatever the upstream answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseHeaderChanges {
    /// Headers set (`append: false`) or appended.
    pub add: Vec<crate::route::HeaderAdd>,
    /// Headers removed (before the additions).
    pub remove: Vec<String>,
}

impl ResponseHeaderChanges {
    /// Applies the changes to the headers an upstream answered with.
    pub fn apply(&self, headers: &mut Vec<(String, String)>) {
        crate::route::apply_header_changes(&self.add, &self.remove, headers);
    }
}

/// How the balancer chose the first try's endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LbChoice {
    /// The cluster's policy (`ROUND_ROBIN`, `RING_HASH`, ...).
    pub policy: String,
    /// How it chose.
    pub pick: crate::trace::LbPick,
    /// How many endpoints it chose among.
    pub healthy: usize,
}

/// The decision for one request. Serialized (`simulate -o jsonl`) with camelCase keys, as
/// every JSON meshsim writes except Envoy's own configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// The request's index in its stream.
    pub index: u64,
    /// The VirtualService (`namespace/name`) whose rule matched, if any.
    pub virtual_service: Option<String>,
    /// The route: rule name, `http[i]`, `default` (Istio's default route), or null.
    pub route: Option<String>,
    /// For a route istiod generated from the Gateway API: `HTTPRoute ns/name rules[i].matches[j]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_route: Option<String>,
    /// The destination chosen.
    pub destination: Option<DestinationOut>,
    /// Its subset (also in `destination`).
    pub subset: Option<String>,
    /// The Envoy cluster.
    pub cluster: Option<String>,
    /// The endpoint `IP:PORT`.
    pub endpoint: Option<String>,
    /// The pod (or WorkloadEntry) behind the endpoint.
    pub workload: Option<String>,
    /// HTTP status the client sees.
    pub status: u16,
    /// Envoy response flags.
    pub flags: Flags,
    /// Every try.
    pub attempts: Vec<Attempt>,
    /// When the request arrived, on the simulated clock (ns).
    #[serde(rename = "arrivalMs", serialize_with = "as_ms")]
    pub arrival: u64,
    /// How long the client waited for the answer (ns).
    #[serde(rename = "durationMs", serialize_with = "as_ms")]
    pub duration: u64,
    /// Mirrored copies.
    pub mirrors: Vec<MirrorOut>,
    /// Forwarded to the caller's original destination (unknown host, `ALLOW_ANY`, or a
    /// ServiceEntry with resolution NONE).
    pub passthrough: bool,
    /// The `Location` of a redirect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
    /// The path sent upstream after a rewrite.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewrite_path: Option<String>,
    /// The authority sent upstream after a rewrite.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewrite_authority: Option<String>,
    /// What the upstream receives (forwarded requests only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamRequest>,
    /// The route's response header changes, when it has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_headers: Option<ResponseHeaderChanges>,
    /// The VirtualService rule that matched (for tests and coverage).
    #[serde(skip)]
    pub rule: Option<RuleRef>,
    /// Position of the chosen destination in the rule's `route` list.
    #[serde(skip)]
    pub destination_index: Option<usize>,
    /// How the load balancer chose the first try's endpoint (policy detail: rotation
    /// position, random value, hash and ring position or table slot).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lb: Option<LbChoice>,
    /// The hash key, when a hash policy applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash_key: Option<String>,
    /// A `Set-Cookie` Envoy adds (generated hash cookie).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_cookie: Option<String>,
    /// The chosen destination's weight and the route's total weight (weighted routes only).
    #[serde(skip)]
    pub weight: Option<(u32, u64)>,
    /// The share of its destination's requests the load balancer gives this endpoint on
    /// average, as a fraction (none for hashing balancers, whose shares depend on the keys).
    #[serde(skip)]
    pub endpoint_share: Option<(u64, u64)>,
}

impl Decision {
    /// Request `index`, arrived at `arrival`, before anything is decided (status 0).
    pub fn empty(index: u64, arrival: u64) -> Self {
        Decision {
            index,
            virtual_service: None,
            route: None,
            http_route: None,
            destination: None,
            subset: None,
            cluster: None,
            endpoint: None,
            workload: None,
            status: 0,
            flags: Flags::NONE,
            attempts: Vec::new(),
            arrival,
            duration: 0,
            mirrors: Vec::new(),
            passthrough: false,
            redirect: None,
            rewrite_path: None,
            rewrite_authority: None,
            upstream: None,
            response_headers: None,
            rule: None,
            destination_index: None,
            lb: None,
            hash_key: None,
            set_cookie: None,
            weight: None,
            endpoint_share: None,
        }
    }

    /// Records the route that matched: its label, VirtualService and rule.
    pub(crate) fn set_route(&mut self, mesh: &crate::model::Mesh, route: &crate::route::Route) {
        self.route = Some(route.label());
        self.http_route = route
            .virtual_service
            .and_then(|i| mesh.gateway_api.describe(i, route.rule));
        self.virtual_service = route.virtual_service.map(|i| {
            let vs = &mesh.virtual_services[i];
            format!("{}/{}", vs.namespace, vs.name)
        });
        self.rule = route.virtual_service.map(|vs| RuleRef {
            virtual_service: vs,
            rule: route.rule,
            delegate: route.delegate,
        });
    }

    /// Records the weighted cluster the route picked.
    pub(crate) fn set_destination(
        &mut self,
        fwd: &crate::route::Forward,
        wt: &crate::route::WeightedTarget,
    ) {
        let t = &wt.target;
        self.destination_index = Some(wt.index);
        if fwd.weighted {
            self.weight = Some((wt.weight, fwd.total_weight));
        }
        self.destination = Some(DestinationOut {
            host: t.host.clone(),
            subset: t.subset.clone(),
            port: t.port,
        });
        self.subset = t.subset.clone();
        self.cluster = Some(t.cluster_name.clone());
    }

    /// `host` or `host subset` of the destination, for reports.
    pub fn destination_label(&self) -> String {
        match &self.destination {
            None => "-".to_string(),
            Some(d) => match &d.subset {
                Some(s) => format!("{} {s}", short_host(&d.host)),
                None => short_host(&d.host).to_string(),
            },
        }
    }

    /// `namespace/vs route` or `route`, for reports; for a route istiod generated from the
    /// Gateway API, the route rule it came from (the generated VirtualService's name teaches
    /// nothing).
    pub fn route_label(&self) -> String {
        if let Some(h) = &self.http_route {
            return h.clone();
        }
        match (&self.virtual_service, &self.route) {
            (Some(vs), Some(r)) => format!("{vs} {r}"),
            (None, Some(r)) => r.clone(),
            (_, None) => "(no route)".to_string(),
        }
    }
}

/// `name.ns.svc.cluster.local` → `name` when the namespace is `default`, else `name.ns`.
pub fn short_host(host: &str) -> &str {
    match host.strip_suffix(".svc.cluster.local") {
        Some(h) => h.strip_suffix(".default").unwrap_or(h),
        None => host,
    }
}
