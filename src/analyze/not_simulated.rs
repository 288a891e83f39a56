//! What was loaded but is not simulated, and could change the answer: kinds meshsim reads
//! past (Sidecar, AuthorizationPolicy, EnvoyFilter, the Gateway API, ...) and fields it
//! accepts without modelling (VirtualService `tcp`/`tls`, `localityLbSetting`, client TLS,
//! `exportTo`, ...). Every simulating command prints these once, so that no answer looks more
//! certain than it is; `--strict` makes them fail.
//!
//! A field that is modelled is never listed: this list follows the config types' own "accepted,
//! not simulated" fields, and a test loads each modelled field to prove it stays silent.

use crate::config::{
    ConnectionPoolSettings, LoadBalancerSettings, Origin, OutlierDetection, TrafficPolicy, YamlPath,
};
use crate::diag::{Diagnostic, codes};
use crate::model::Mesh;

/// API groups whose kinds change what a proxy does with traffic (others, such as a Secret or
/// a ServiceAccount, do not).
const TRAFFIC_GROUPS: [&str; 8] = [
    "networking.istio.io",
    "security.istio.io",
    "extensions.istio.io",
    "gateway.networking.k8s.io",
    "gateway.networking.x-k8s.io",
    "config.istio.io",
    "authentication.istio.io",
    "rbac.istio.io",
];

/// Every resource and field loaded but not simulated, located, as warnings (MS0050).
pub fn not_simulated(mesh: &Mesh) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for i in &mesh.ignored {
        let group = i.api_version.rsplit_once('/').map_or("", |(g, _)| g);
        if TRAFFIC_GROUPS.contains(&group) {
            out.push(
                Diagnostic::warning(
                    codes::NOT_SIMULATED,
                    format!(
                        "{} {} ({}): loaded but not simulated, so the answers do not account for it",
                        i.kind,
                        i.name.as_deref().unwrap_or("(unnamed)"),
                        i.api_version
                    ),
                )
                .at(i.location.clone()),
            );
        }
    }
    let root = YamlPath::root().key("spec");
    for r in mesh
        .virtual_services
        .iter()
        .filter(|r| !crate::model::gateway_api::is_generated(r))
    {
        let mut f = Fields::new(&r.origin, "VirtualService", &r.namespace, &r.name, &mut out);
        let vs = &r.spec;
        f.set(vs.tcp.is_some(), &root.key("tcp"), "TCP routes");
        f.set(vs.tls.is_some(), &root.key("tls"), "TLS routes");
        f.set(
            !vs.export_to.is_empty(),
            &root.key("exportTo"),
            "exportTo (visibility)",
        );
        for (i, h) in vs.http.iter().enumerate() {
            let p = root.key("http").index(i);
            f.set(
                h.cors_policy.is_some(),
                &p.key("corsPolicy"),
                "CORS (preflight answers)",
            );
        }
    }
    for r in &mesh.destination_rules {
        let mut f = Fields::new(
            &r.origin,
            "DestinationRule",
            &r.namespace,
            &r.name,
            &mut out,
        );
        let dr = &r.spec;
        f.set(
            dr.workload_selector.is_some(),
            &root.key("workloadSelector"),
            "workloadSelector (which sidecars it applies to)",
        );
        f.set(
            !dr.export_to.is_empty(),
            &root.key("exportTo"),
            "exportTo (visibility)",
        );
        if let Some(tp) = &dr.traffic_policy {
            f.traffic_policy(tp, &root.key("trafficPolicy"));
        }
        for (i, s) in dr.subsets.iter().enumerate() {
            if let Some(tp) = &s.traffic_policy {
                f.traffic_policy(tp, &root.key("subsets").index(i).key("trafficPolicy"));
            }
        }
    }
    for r in mesh
        .gateways
        .iter()
        .filter(|r| !crate::model::gateway_api::is_generated(r))
    {
        let mut f = Fields::new(&r.origin, "Gateway", &r.namespace, &r.name, &mut out);
        for (i, s) in r.spec.servers.iter().enumerate() {
            f.set(
                s.tls
                    .as_ref()
                    .is_some_and(crate::config::ServerTls::configures_tls),
                &root.key("servers").index(i).key("tls"),
                "server TLS (termination, passthrough; httpsRedirect is simulated)",
            );
        }
    }
    gateway_api(mesh, &root, &mut out);
    for r in &mesh.service_entries {
        let mut f = Fields::new(&r.origin, "ServiceEntry", &r.namespace, &r.name, &mut out);
        f.set(
            !r.spec.export_to.is_empty(),
            &root.key("exportTo"),
            "exportTo (visibility)",
        );
        f.set(
            r.spec.resolution == Some(crate::config::Resolution::DynamicDns),
            &root.key("resolution"),
            "resolution DYNAMIC_DNS (each host is one logical endpoint; the dynamic forward proxy's DNS answers are not simulated)",
        );
        f.set(
            !r.spec.subject_alt_names.is_empty(),
            &root.key("subjectAltNames"),
            "subjectAltNames (TLS identity)",
        );
    }
    out
}

/// The Gateway API's parts meshsim does not simulate (yet): listener TLS, CORS, session
/// persistence; and for GRPCRoutes, the gRPC protocol itself (meshsim routes the calls as the
/// HTTP/2 requests they are, without gRPC status codes).
fn gateway_api(mesh: &Mesh, root: &YamlPath, out: &mut Vec<Diagnostic>) {
    let api = &mesh.gateway_api;
    for r in &api.gateways {
        let mut f = Fields::new(&r.origin, "Gateway", &r.namespace, &r.name, out);
        f.set(
            r.spec.addresses.is_some(),
            &root.key("addresses"),
            "addresses (meshsim's gateways answer on any address)",
        );
        for (i, l) in r.spec.listeners.iter().enumerate() {
            f.set(
                l.tls.is_some(),
                &root.key("listeners").index(i).key("tls"),
                "listener TLS (termination, passthrough, SNI)",
            );
        }
    }
    for r in &api.grpc_routes {
        let mut f = Fields::new(&r.origin, "GRPCRoute", &r.namespace, &r.name, out);
        for (i, rule) in r.spec.rules.iter().enumerate() {
            f.set(
                rule.session_persistence.is_some(),
                &root.key("rules").index(i).key("sessionPersistence"),
                "sessionPersistence",
            );
        }
    }
    for r in &api.http_routes {
        let mut f = Fields::new(&r.origin, "HTTPRoute", &r.namespace, &r.name, out);
        for (i, rule) in r.spec.rules.iter().flatten().enumerate() {
            let p = root.key("rules").index(i);
            f.set(
                rule.session_persistence.is_some(),
                &p.key("sessionPersistence"),
                "sessionPersistence",
            );
            for (j, flt) in rule.filters.iter().enumerate() {
                f.set(
                    flt.kind == "CORS",
                    &p.key("filters").index(j),
                    "CORS (preflight answers)",
                );
            }
        }
    }
}

/// Collects one resource's unsimulated fields.
struct Fields<'a> {
    origin: &'a Origin,
    what: String,
    out: &'a mut Vec<Diagnostic>,
}

impl<'a> Fields<'a> {
    fn new(
        origin: &'a Origin,
        kind: &str,
        namespace: &str,
        name: &str,
        out: &'a mut Vec<Diagnostic>,
    ) -> Self {
        Fields {
            origin,
            what: format!("{kind} {namespace}/{name}"),
            out,
        }
    }

    fn set(&mut self, present: bool, path: &YamlPath, field: &str) {
        if present {
            self.out.push(
                Diagnostic::warning(
                    codes::NOT_SIMULATED,
                    format!(
                        "{}: {field}: loaded but not simulated, so the answers do not account for it",
                        self.what
                    ),
                )
                .at(self.origin.locate(path))
                .with_path(path.to_string()),
            );
        }
    }

    fn traffic_policy(&mut self, tp: &TrafficPolicy, p: &YamlPath) {
        self.set(tp.tls.is_some(), &p.key("tls"), "client TLS");
        self.set(tp.tunnel.is_some(), &p.key("tunnel"), "tunnel");
        self.set(
            tp.proxy_protocol.is_some(),
            &p.key("proxyProtocol"),
            "PROXY protocol",
        );
        self.set(
            tp.retry_budget.is_some(),
            &p.key("retryBudget"),
            "retryBudget",
        );
        if let Some(lb) = &tp.load_balancer {
            self.load_balancer(lb, &p.key("loadBalancer"));
        }
        if let Some(c) = &tp.connection_pool {
            self.pool(c, &p.key("connectionPool"));
        }
        if let Some(o) = &tp.outlier_detection {
            self.outlier(o, &p.key("outlierDetection"));
        }
        for (i, pl) in tp.port_level_settings.iter().enumerate() {
            let pp = p.key("portLevelSettings").index(i);
            self.set(pl.tls.is_some(), &pp.key("tls"), "client TLS");
            if let Some(lb) = &pl.load_balancer {
                self.load_balancer(lb, &pp.key("loadBalancer"));
            }
            if let Some(c) = &pl.connection_pool {
                self.pool(c, &pp.key("connectionPool"));
            }
            if let Some(o) = &pl.outlier_detection {
                self.outlier(o, &pp.key("outlierDetection"));
            }
        }
    }

    fn load_balancer(&mut self, lb: &LoadBalancerSettings, p: &YamlPath) {
        self.set(
            lb.locality_lb_setting.is_some(),
            &p.key("localityLbSetting"),
            "localityLbSetting (locality-aware load balancing)",
        );
        self.set(
            lb.warmup_duration_secs.is_some(),
            &p.key("warmupDurationSecs"),
            "warmupDurationSecs (slow start)",
        );
        self.set(lb.warmup.is_some(), &p.key("warmup"), "warmup (slow start)");
        self.set(
            lb.zone_aware_lb_setting.is_some(),
            &p.key("zoneAwareLbSetting"),
            "zoneAwareLbSetting (zone-aware load balancing)",
        );
    }

    fn pool(&mut self, c: &ConnectionPoolSettings, p: &YamlPath) {
        if let Some(t) = &c.tcp {
            let tp = p.key("tcp");
            self.set(
                t.connect_timeout.is_some(),
                &tp.key("connectTimeout"),
                "connectTimeout",
            );
            self.set(
                t.tcp_keepalive.is_some(),
                &tp.key("tcpKeepalive"),
                "tcpKeepalive",
            );
            self.set(
                t.max_connection_duration.is_some(),
                &tp.key("maxConnectionDuration"),
                "maxConnectionDuration",
            );
            self.set(
                t.idle_timeout.is_some(),
                &tp.key("idleTimeout"),
                "idleTimeout",
            );
        }
        if let Some(h) = &c.http {
            let hp = p.key("http");
            self.set(
                h.max_requests_per_connection.is_some(),
                &hp.key("maxRequestsPerConnection"),
                "maxRequestsPerConnection",
            );
            self.set(
                h.idle_timeout.is_some(),
                &hp.key("idleTimeout"),
                "idleTimeout",
            );
            self.set(
                h.http2_keep_alive.is_some(),
                &hp.key("http2KeepAlive"),
                "http2KeepAlive",
            );
            self.set(
                h.h2_upgrade_policy.is_some(),
                &hp.key("h2UpgradePolicy"),
                "h2UpgradePolicy",
            );
            self.set(
                h.use_client_protocol.is_some(),
                &hp.key("useClientProtocol"),
                "useClientProtocol",
            );
        }
    }

    fn outlier(&mut self, o: &OutlierDetection, p: &YamlPath) {
        self.set(
            o.split_external_local_origin_errors.is_some(),
            &p.key("splitExternalLocalOriginErrors"),
            "splitExternalLocalOriginErrors",
        );
        self.set(
            o.consecutive_local_origin_failures.is_some(),
            &p.key("consecutiveLocalOriginFailures"),
            "consecutiveLocalOriginFailures",
        );
        self.set(
            o.min_health_percent.is_some(),
            &p.key("minHealthPercent"),
            "minHealthPercent (Envoy's panic threshold)",
        );
    }
}
