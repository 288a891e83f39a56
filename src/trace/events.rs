//! The event types, in the order of Envoy's stages: listener → virtual host → route match →
//! route action → cluster and endpoint → tries.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One step of a decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "event",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum TraceEvent {
    // ---- listener
    /// The proxy and the listener port whose route table decides the request.
    Listener {
        /// Which proxy.
        proxy: ProxyRef,
        /// The listener (sidecar) or server (gateway) port.
        port: u32,
    },
    /// The gateway has no server on the port: nothing listens there.
    NoListener {
        /// The port asked for.
        port: u32,
    },

    // ---- virtual host
    /// The virtual host chosen, by which of its domains, and where it came from.
    VirtualHost {
        /// Its name (`host:port` as istiod names it).
        name: String,
        /// The domain that matched the authority.
        domain: String,
        /// The resource it was built from.
        origin: VirtualHostOrigin,
    },
    /// No virtual host has a domain matching the authority: 404 NR.
    NoVirtualHost {
        /// The authority's host.
        host: String,
    },

    // ---- route match
    /// A route was tried, in order.
    RouteTried {
        /// Which route.
        route: RouteRef,
        /// `None` if it matched, else the first condition that failed.
        mismatch: Option<ConditionMismatch>,
    },
    /// No route of the virtual host matched: 404 NR.
    NoRouteMatched,

    // ---- route action
    /// The route redirects.
    Redirect {
        /// 301, 302, ...
        status: u16,
        /// The `Location` header.
        location: String,
    },
    /// The virtual host requires TLS (a gateway server's `tls.httpsRedirect`) and the request
    /// came in plain: Envoy answers 301 to `https://` before looking at any route.
    HttpsRedirect {
        /// The `Location` header (`createSslRedirectPath`: the Host and path as sent).
        location: String,
    },
    /// The route answers itself (`directResponse`, or istiod's 500 for a rule with no weight).
    DirectResponse {
        /// The status.
        status: u16,
    },
    /// A host outside the registry under `outboundTrafficPolicy: REGISTRY_ONLY`: 502.
    RegistryOnly {
        /// The authority's host.
        host: String,
        /// The port.
        port: u32,
        /// What the mesh knows of the host.
        known: HostKnowledge,
    },
    /// A host outside the registry under `ALLOW_ANY`: forwarded to the address dialled.
    Passthrough {
        /// The authority's host.
        host: String,
        /// The port.
        port: u32,
        /// What the mesh knows of the host.
        known: HostKnowledge,
    },
    /// The weighted-cluster pick: Envoy's `random % total` against the running weights.
    WeightedPick {
        /// `random % total`.
        value: u64,
        /// The sum of the weights.
        total: u64,
        /// Every destination with its weight, in the route's order.
        weights: Vec<Weighted>,
        /// The index (into `weights`) chosen.
        chosen: usize,
    },
    /// The request's hash for a consistent-hash balancer.
    Hash {
        /// The key hashed (e.g. `cookie user=tomas`), if the request had one.
        key: Option<String>,
        /// Its xxHash64.
        hash: Option<u64>,
        /// The hash policies, as configured (for when no key was found).
        policies: Vec<String>,
    },
    /// The fault filter delays the request (flag DI).
    FaultDelay {
        /// The delay.
        delay_ns: u64,
    },
    /// The fault filter aborts the request (flag FI): never routed, retried or mirrored.
    FaultAbort {
        /// The status returned.
        status: u16,
    },
    /// What the upstream will receive, when the route changes the request or the response:
    /// the authority and path after rewrites, the headers set or appended and removed, and
    /// the response header changes.
    UpstreamRequest {
        /// `:authority` sent upstream.
        authority: String,
        /// `:path` sent upstream.
        path: String,
        /// `[name, value]` pairs the upstream sees that the client did not send.
        set: Vec<(String, String)>,
        /// Header names the client sent whose values the upstream does not see.
        removed: Vec<String>,
        /// Response headers set or appended: `[name, value, append]`.
        response_set: Vec<(String, String, bool)>,
        /// Response headers removed.
        response_removed: Vec<String>,
    },
    /// One mirror policy's decision.
    Mirror {
        /// The mirror destination.
        destination: DestinationRef,
        /// What happened.
        outcome: MirrorOutcome,
    },

    // ---- cluster and endpoint
    /// The destination's cluster does not exist: 503 NC.
    NoCluster {
        /// The cluster name Envoy looked for.
        cluster: String,
    },
    /// The cluster the request goes to.
    Cluster {
        /// Its name.
        name: String,
        /// Its load-balancing policy.
        policy: String,
        /// How many endpoints it has.
        endpoints: usize,
    },
    /// The destination is a ServiceEntry with `resolution: NONE`: its own ORIGINAL_DST cluster
    /// forwards to the address the client dialled (allowed under REGISTRY_ONLY too).
    OriginalDestination {
        /// The cluster (`outbound|PORT||HOST`).
        cluster: String,
    },
    /// The retry policy and route timeout in force.
    RetryPolicy {
        /// The policy, or `None` (Istio's `attempts: 0`).
        retry: Option<RetrySettings>,
        /// The route timeout, if any.
        route_timeout_ns: Option<u64>,
    },
    /// No endpoint to send a try to: 503 UH.
    NoHealthyUpstream {
        /// Why.
        cause: NoHealthyCause,
    },
    /// The load balancer picked an endpoint for a try.
    EndpointPicked {
        /// 1 for the first try.
        attempt: u32,
        /// The endpoint's address.
        endpoint: String,
        /// Its workload (pod).
        workload: String,
        /// How the balancer chose it.
        pick: LbPick,
        /// How many endpoints the balancer chose among.
        healthy: usize,
    },
    /// The connection pool is full: the try waits as a pending request.
    PoolQueued {
        /// Concurrent requests the pool allows.
        capacity: u32,
    },
    /// The pool and the pending queue are full: 503 UO, not retried.
    PoolOverflow,
    /// The endpoint's process is down: the connection is refused.
    ConnectionRefused {
        /// Its workload.
        workload: String,
        /// When it is back.
        down_until_ns: u64,
    },
    /// The endpoint will never answer this try.
    EndpointHangs {
        /// Its workload.
        workload: String,
    },
    /// The endpoint will crash during this try, then refuse connections while it restarts.
    EndpointCrashes {
        /// Its workload.
        workload: String,
        /// After how long.
        after_ns: u64,
        /// How long it stays down.
        restart_ns: u64,
    },
    /// Outlier detection counted enough failures to eject the endpoint.
    Outlier {
        /// The endpoint's address.
        endpoint: String,
        /// Its workload.
        workload: String,
        /// Ejected, or kept because of `maxEjectionPercent`.
        outcome: OutlierOutcome,
    },
    /// A try ended.
    TryDone {
        /// 1 for the first try.
        attempt: u32,
        /// How.
        outcome: TryOutcome,
        /// How long it took.
        elapsed_ns: u64,
    },
    /// The try's outcome is final.
    NotRetried {
        /// Why.
        reason: NoRetryReason,
        /// The outcome that was not retried.
        outcome: TryOutcome,
    },
    /// Retriable, but the retries are used up (flag URX).
    RetriesExhausted {
        /// The `retryOn` condition that matched.
        condition: String,
    },
    /// The try is retried after a back-off.
    Retry {
        /// The `retryOn` condition that matched.
        condition: String,
        /// The back-off drawn.
        backoff_ns: u64,
    },
    /// The route timeout fired: 504 UT.
    RouteTimeout {
        /// Time since the request arrived.
        after_ns: u64,
    },
    /// Nothing will ever answer and no timeout is set: the client waits forever.
    NoAnswer,
    /// The simulation stopped retrying after `MAX_TRIES` tries; Envoy would go on.
    GaveUp {
        /// Tries made.
        tries: u32,
        /// Simulated time since the request arrived.
        after_ns: u64,
        /// Retries Envoy still had.
        retries_left: u32,
    },
}

/// What the mesh knows of a host that has no virtual host on this port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum HostKnowledge {
    /// Nothing: not a service, ServiceEntry or VirtualService host.
    Unknown {
        /// A known host one or two edits away, if any (a typo?).
        did_you_mean: Option<String>,
    },
    /// A known service, but not on this port.
    OtherPorts {
        /// The service's host.
        service: String,
        /// Its ports.
        ports: Vec<u32>,
    },
}

/// A proxy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum ProxyRef {
    /// A workload's sidecar.
    Sidecar {
        /// Its namespace.
        namespace: String,
        /// The workload's labels.
        labels: BTreeMap<String, String>,
    },
    /// A gateway, by its Gateway resource.
    Gateway {
        /// `namespace/name`.
        name: String,
    },
}

/// A resource by namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// Where a virtual host came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum VirtualHostOrigin {
    /// A sidecar's virtual host, from one VirtualService.
    VirtualService {
        /// The VirtualService.
        resource: ResourceRef,
    },
    /// A gateway's virtual host, merged from the VirtualServices bound to it.
    Gateway {
        /// The VirtualServices, in istiod's order.
        resources: Vec<ResourceRef>,
    },
    /// No VirtualService: Istio's default route to the service.
    DefaultRoute,
    /// An unknown host under `outboundTrafficPolicy: ALLOW_ANY`.
    AllowAny,
    /// An unknown host under `outboundTrafficPolicy: REGISTRY_ONLY`.
    RegistryOnly,
    /// A gateway port no VirtualService is bound to: istiod's `blackhole:PORT` virtual host,
    /// which has no routes.
    Blackhole,
}

/// A route of a virtual host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RouteRef {
    /// The VirtualService it came from (none for Istio's generated routes).
    pub virtual_service: Option<ResourceRef>,
    /// Index of its `http[]` rule.
    pub rule: usize,
    /// Index of the match block, if the rule has matches.
    pub match_index: Option<usize>,
    /// The rule's name, if it has one.
    pub name: Option<String>,
    /// For a rule istiod generated from the Gateway API: the HTTPRoute rule and match it
    /// came from (`HTTPRoute ns/name rules[i].matches[j]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// The first condition of a route that a request failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConditionMismatch {
    /// What was tested.
    pub condition: Condition,
    /// The matcher: what the route expected.
    pub expected: StringMatch,
    /// What the request had (`None`: absent).
    pub found: Option<String>,
    /// The matcher is inverted (`withoutHeaders`): a match is the failure.
    pub invert: bool,
}

/// What a route tests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "on",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Condition {
    /// The `:path`.
    Path,
    /// A header.
    Header {
        /// Lowercased name.
        name: String,
    },
    /// A query parameter.
    Query {
        /// Its name.
        name: String,
    },
}

/// A string matcher as Envoy holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StringMatch {
    /// How.
    pub kind: MatchKind,
    /// The string, prefix or regex (`None` for `present`).
    pub value: Option<String>,
    /// Compared ignoring ASCII case.
    pub ignore_case: bool,
}

/// A kind of string match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MatchKind {
    /// Equality.
    Exact,
    /// Starts with.
    Prefix,
    /// Starts with, then ends or continues with `/` (Envoy's `path_separated_prefix`, the
    /// Gateway API's `PathPrefix`).
    PathSeparatedPrefix,
    /// RE2 full match.
    Regex,
    /// Present, whatever the value.
    Present,
}

/// A destination: service host, subset and port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DestinationRef {
    /// The service host.
    pub host: String,
    /// The DestinationRule subset.
    pub subset: Option<String>,
    /// The port.
    pub port: u32,
}

/// A destination and its weight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Weighted {
    /// The destination.
    pub destination: DestinationRef,
    /// Its weight.
    pub weight: u32,
}

/// What a mirror policy did with this request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum MirrorOutcome {
    /// Not this request: the mirror samples `numerator/denominator` of them.
    NotSampled {
        /// Numerator.
        numerator: u64,
        /// Denominator.
        denominator: u64,
    },
    /// The mirror's cluster does not exist; Envoy skips the copy silently.
    NoCluster {
        /// The cluster name.
        cluster: String,
    },
    /// A copy is sent.
    Sent {
        /// The copy's authority (`-shadow` appended where the version does).
        authority: String,
        /// The endpoint it goes to, if the cluster has one.
        endpoint: Option<String>,
    },
}

/// A route's retry policy, as Envoy holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetrySettings {
    /// `num_retries`.
    pub num_retries: u32,
    /// `retry_on` conditions.
    pub retry_on: Vec<String>,
    /// `retriable_status_codes`.
    pub retriable_status_codes: Vec<u16>,
    /// `per_try_timeout`.
    pub per_try_timeout_ns: Option<u64>,
}

/// Why no endpoint could be chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NoHealthyCause {
    /// The cluster has no endpoint (no pod matches the service and subset).
    NoEndpoints,
    /// Outlier detection has ejected every endpoint.
    AllEjected,
}

/// How a load balancer chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum LbPick {
    /// Round robin at this position of the rotation.
    RoundRobin {
        /// Rotation index used.
        index: u64,
    },
    /// Weighted round robin through the EDF scheduler.
    WeightedRoundRobin,
    /// Random: `value % hosts`.
    Random {
        /// The random value.
        value: u64,
    },
    /// Least request: two random candidates, the one with fewer active requests wins.
    LeastRequest {
        /// First candidate's index.
        first: usize,
        /// Its active requests.
        first_active: u32,
        /// Second candidate's index.
        second: usize,
        /// Its active requests.
        second_active: u32,
    },
    /// Least request with unequal weights (EDF on weight / (active + 1)).
    WeightedLeastRequest,
    /// A hash lookup on the ring or maglev table.
    Hash {
        /// The request hash, or the random value used when the request had no key.
        hash: u64,
        /// Whether the hash came from the request (false: random, as Envoy does).
        from_request: bool,
        /// Ring index or table slot.
        position: u64,
    },
}

/// What outlier detection did once a host crossed its threshold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum OutlierOutcome {
    /// Ejected until the first sweep after `until_ns`.
    Ejected {
        /// When its ejection time is up.
        until_ns: u64,
    },
    /// Not ejected: one more would exceed `maxEjectionPercent` (Envoy's `ejections_overflow`).
    CapReached {
        /// Hosts already ejected.
        ejected: usize,
        /// Hosts in the cluster.
        hosts: usize,
        /// `maxEjectionPercent`.
        max_percent: u32,
    },
}

/// How a try ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum TryOutcome {
    /// The upstream answered.
    Status {
        /// With this status.
        code: u16,
    },
    /// The connection was refused.
    ConnectFailure,
    /// The connection was reset before a response.
    Reset,
    /// The per-try timeout fired.
    PerTryTimeout,
}

/// Why a try was not retried.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum NoRetryReason {
    /// The route has no retry policy (`attempts: 0`).
    NoPolicy,
    /// The policy's `retryOn` does not cover the outcome.
    NotCovered {
        /// The policy's conditions.
        retry_on: Vec<String>,
        /// Its `retriable_status_codes`.
        retriable_status_codes: Vec<u16>,
    },
    /// The cluster's retry budget (`maxRetries`) is in use.
    CircuitBreakerOpen,
}
