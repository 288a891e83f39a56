//! The mesh: every resource that was loaded, after `kubectl apply` semantics (a later resource
//! with the same kind, namespace and name replaces the earlier one), plus the topology of
//! workload instances and services they describe.

pub mod gateway_api;
mod host;
mod topology;

pub use host::{CLUSTER_DOMAIN, host_knowledge, host_matches, resolve_host, service_aliases};
pub use topology::{
    Endpoint, Instance, InstanceSource, MAX_REPLICAS, Service, ServiceKind, ServicePort, Topology,
    labels_match,
};

use crate::config::{
    self, AnyResource, DestinationRule, Gateway, Ignored, Kind, OutboundMode, PodObject, Resource,
    ServiceEntry, ServiceSpec, VirtualService, WorkloadEntry, WorkloadSpec,
};
use crate::diag::{Diagnostic, Diagnostics, codes};
use std::collections::BTreeMap;
use std::fmt::Write;

/// One input text: a name for messages (usually the file path) and its content.
#[derive(Clone, Debug)]
pub struct Source {
    /// Name used in diagnostics.
    pub name: String,
    /// The YAML or JSON text.
    pub text: String,
}

/// A loaded mesh.
#[derive(Clone, Debug, Default)]
pub struct Mesh {
    /// VirtualServices, in apply order.
    pub virtual_services: Vec<Resource<VirtualService>>,
    /// DestinationRules, in apply order.
    pub destination_rules: Vec<Resource<DestinationRule>>,
    /// Gateways.
    pub gateways: Vec<Resource<Gateway>>,
    /// ServiceEntries.
    pub service_entries: Vec<Resource<ServiceEntry>>,
    /// WorkloadEntries.
    pub workload_entries: Vec<Resource<WorkloadEntry>>,
    /// Deployments, StatefulSets and ReplicaSets.
    pub workloads: Vec<Resource<WorkloadSpec>>,
    /// Kubernetes Services.
    pub services: Vec<Resource<ServiceSpec>>,
    /// Pods.
    pub pods: Vec<Resource<PodObject>>,
    /// Namespaces declared.
    pub namespaces: Vec<Resource<()>>,
    /// The mesh's outbound traffic policy (`ALLOW_ANY` unless an IstioOperator or the `istio`
    /// ConfigMap says otherwise).
    pub outbound_traffic_policy: OutboundMode,
    /// Where the mesh settings came from (IstioOperator or the `istio` ConfigMap), in order.
    pub mesh_configs: Vec<Resource<config::MeshConfig>>,
    /// The Gateway API's resources, as written, and what istiod converts them to (the
    /// VirtualServices and Gateways it generates are in the lists above).
    pub gateway_api: gateway_api::GatewayApi,
    /// Documents of kinds meshsim does not simulate.
    pub ignored: Vec<Ignored>,
    /// Instances and services.
    pub topology: Topology,
    /// Warnings found while loading (replaced resources, skipped apiVersions, ...).
    pub warnings: Diagnostics,
}

impl Mesh {
    /// Loads one YAML text. Errors (any diagnostic of severity error) fail the load; warnings
    /// are kept in [`Mesh::warnings`].
    ///
    /// ```
    /// use meshsim::Mesh;
    /// let mesh = Mesh::from_yaml_str(r#"
    /// apiVersion: apps/v1
    /// kind: Deployment
    /// metadata: {name: web-v1}
    /// spec:
    ///   replicas: 2
    ///   template:
    ///     metadata: {labels: {app: web, version: v1}}
    ///     spec: {containers: [{name: web, ports: [{containerPort: 8080}]}]}
    /// ---
    /// apiVersion: v1
    /// kind: Service
    /// metadata: {name: web}
    /// spec:
    ///   selector: {app: web}
    ///   ports: [{name: http, port: 80, targetPort: 8080}]
    /// "#, "web.yaml").unwrap();
    /// let web = mesh.topology.service("web.default.svc.cluster.local").unwrap();
    /// let endpoints = web.endpoints_for(80).unwrap();
    /// assert_eq!(endpoints.len(), 2);
    /// assert!(endpoints[0].address.ends_with(":8080"));
    /// assert_eq!(mesh.summary(), "1 Deployment (2 pods), 1 Service");
    /// ```
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Mesh, Diagnostics> {
        Self::from_sources(&[Source {
            name: origin.to_string(),
            text: text.to_string(),
        }])
    }

    /// Loads several texts as `kubectl apply -f` would apply them, in order.
    pub fn from_sources(sources: &[Source]) -> Result<Mesh, Diagnostics> {
        let (mesh, diags) = Self::build(
            sources.iter().map(|s| (s.name.as_str(), s.text.as_str())),
            Diagnostics::default(),
        );
        if diags.has_errors() {
            Err(diags)
        } else {
            Ok(mesh)
        }
    }

    /// The most forgiving entry point: builds whatever loads, and returns every diagnostic
    /// (errors included) beside it. `earlier` carries problems found before parsing (files that
    /// could not be read) so that they are reported in the same list.
    pub fn build<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
        earlier: Diagnostics,
    ) -> (Mesh, Diagnostics) {
        Self::build_with(sources, earlier, None)
    }

    /// [`Mesh::build`] as `kubectl apply -n NAMESPACE` applies: objects that name no
    /// namespace go to `namespace`, and one that names another is an error.
    pub fn build_with<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
        earlier: Diagnostics,
        namespace: Option<&str>,
    ) -> (Mesh, Diagnostics) {
        let mut diags = earlier;
        let mut ignored = Vec::new();
        let mut resources: Vec<AnyResource> = Vec::new();
        // (kind, namespace, name) → index in `resources`, for kubectl-apply replacement.
        let mut by_id: BTreeMap<(Kind, String, String), usize> = BTreeMap::new();
        for (name, text) in sources {
            let parsed = config::parse_yaml_with(name, text, namespace);
            diags.extend(parsed.diagnostics);
            ignored.extend(parsed.ignored);
            for r in parsed.resources {
                let (kind, ns, n, origin) = r.id();
                let key = (kind, ns.to_string(), n.to_string());
                match by_id.get(&key) {
                    Some(&i) => {
                        let (_, _, _, prev) = resources[i].id();
                        diags.push(
                            Diagnostic::warning(
                                codes::REPLACED,
                                format!("{kind} {ns}/{n} is defined again; this definition replaces the earlier one, as a second `kubectl apply` would"),
                            )
                            .at(origin.start())
                            .with_note(prev.start(), "the replaced definition"),
                        );
                        resources[i] = r;
                    }
                    None => {
                        by_id.insert(key, resources.len());
                        resources.push(r);
                    }
                }
            }
        }
        // What istiod's deployment controller runs for each managed Gateway.
        resources.extend(gateway_api::deployed(&resources));
        let mut mesh = Mesh {
            ignored,
            ..Mesh::default()
        };
        let mut topo_diags = Vec::new();
        mesh.topology = Topology::build(&resources, &mut topo_diags);
        diags.extend(topo_diags);
        for r in resources {
            match r {
                AnyResource::VirtualService(r) => mesh.virtual_services.push(r),
                AnyResource::DestinationRule(r) => mesh.destination_rules.push(r),
                AnyResource::Gateway(r) => mesh.gateways.push(r),
                AnyResource::ServiceEntry(r) => mesh.service_entries.push(r),
                AnyResource::WorkloadEntry(r) => mesh.workload_entries.push(r),
                AnyResource::Workload(r) => mesh.workloads.push(r),
                AnyResource::Service(r) => mesh.services.push(r),
                AnyResource::Pod(r) => mesh.pods.push(r),
                AnyResource::Namespace(r) => mesh.namespaces.push(r),
                AnyResource::GatewayClass(r) => mesh.gateway_api.classes.push(r),
                AnyResource::KubeGateway(r) => mesh.gateway_api.gateways.push(r),
                AnyResource::HttpRoute(r) => mesh.gateway_api.http_routes.push(r),
                AnyResource::GrpcRoute(r) => mesh.gateway_api.grpc_routes.push(r),
                AnyResource::ReferenceGrant(r) => mesh.gateway_api.reference_grants.push(r),
                AnyResource::MeshConfig(r) => {
                    if let Some(mode) = r.spec.outbound_traffic_policy.as_ref().and_then(|p| p.mode)
                    {
                        mesh.outbound_traffic_policy = mode;
                    }
                    mesh.mesh_configs.push(r);
                }
            }
        }
        // configCompareByCreationTime (pilot/pkg/model/config.go): istiod orders
        // VirtualServices by creationTimestamp, then name, then namespace; objects that name
        // no timestamp were created together (one `kubectl apply`, whose timestamps share a
        // second), so name and namespace decide.
        mesh.virtual_services.sort_by(|a, b| {
            a.creation_timestamp
                .as_deref()
                .unwrap_or("")
                .cmp(b.creation_timestamp.as_deref().unwrap_or(""))
                .then_with(|| a.name.cmp(&b.name))
                .then_with(|| a.namespace.cmp(&b.namespace))
        });
        mesh.convert_gateway_api(&mut diags);
        mesh.warnings = Diagnostics(diags.iter().filter(|d| !d.is_error()).cloned().collect());
        (mesh, diags)
    }

    /// istiod's Gateway API conversion: the generated Istio Gateways and VirtualServices are
    /// appended to the mesh's own, marked as generated, so that the compiled tables see them
    /// as istiod's push context does.
    fn convert_gateway_api(&mut self, diags: &mut Diagnostics) {
        if self.gateway_api.gateways.is_empty()
            && self.gateway_api.http_routes.is_empty()
            && self.gateway_api.grpc_routes.is_empty()
        {
            return;
        }
        let namespaces: Vec<(String, config::StringMap)> = self
            .namespaces
            .iter()
            .map(|n| (n.name.clone(), n.labels.clone()))
            .collect();
        let services: std::collections::BTreeSet<String> = self
            .services
            .iter()
            .map(|s| format!("{}.{}.{CLUSTER_DOMAIN}", s.name, s.namespace))
            .collect();
        let mut found = Vec::new();
        let converted = gateway_api::convert(
            &self.gateway_api,
            &namespaces,
            &|h| services.contains(h),
            &mut found,
        );
        diags.extend(found);
        let offset = self.gateways.len();
        self.gateway_api.istio_gateways = converted
            .gateway_of
            .iter()
            .map(|v| v.iter().map(|i| i + offset).collect())
            .collect();
        self.gateways.extend(converted.gateways);
        for (vs, origins) in converted.virtual_services {
            self.gateway_api
                .rule_origins
                .insert(self.virtual_services.len(), origins);
            self.virtual_services.push(vs);
        }
    }

    /// The gateways requests can enter through, `ns/name`: the Istio Gateways written, and
    /// the Gateway API's Gateways (whose generated Istio Gateways are not named here).
    pub fn gateway_names(&self) -> Vec<String> {
        self.gateways
            .iter()
            .filter(|g| !gateway_api::is_generated(g))
            .map(|g| format!("{}/{}", g.namespace, g.name))
            .chain(
                self.gateway_api
                    .gateways
                    .iter()
                    .map(|g| format!("{}/{}", g.namespace, g.name)),
            )
            .collect()
    }

    /// Pods (instances) that a controller produced.
    pub fn pod_count(&self, workload: &Resource<WorkloadSpec>) -> usize {
        self.topology
            .instances
            .iter()
            .filter(|i| matches!(&i.source, InstanceSource::Controller { kind, name, .. } if *kind == workload.kind.as_str() && *name == workload.name) && i.namespace == workload.namespace)
            .count()
    }

    /// One line: how many resources of each kind, e.g.
    /// `2 VirtualService, 2 DestinationRule, 3 Deployment (6 pods), 1 Service`.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut add = |n: usize, what: &str, extra: String| {
            if n > 0 {
                parts.push(format!("{n} {what}{extra}"));
            }
        };
        let written = |n: usize, generated: usize| n - generated;
        let generated_vs = self.gateway_api.rule_origins.len();
        let generated_gw: usize = self.gateway_api.istio_gateways.iter().map(Vec::len).sum();
        add(
            written(self.virtual_services.len(), generated_vs),
            "VirtualService",
            String::new(),
        );
        add(
            self.destination_rules.len(),
            "DestinationRule",
            String::new(),
        );
        add(
            written(self.gateways.len(), generated_gw),
            "Gateway",
            String::new(),
        );
        let api = &self.gateway_api;
        add(api.classes.len(), "GatewayClass", String::new());
        add(api.gateways.len(), "Gateway (Gateway API)", String::new());
        add(api.http_routes.len(), "HTTPRoute", String::new());
        add(api.grpc_routes.len(), "GRPCRoute", String::new());
        add(api.reference_grants.len(), "ReferenceGrant", String::new());
        add(self.service_entries.len(), "ServiceEntry", String::new());
        add(self.workload_entries.len(), "WorkloadEntry", String::new());
        for kind in [Kind::Deployment, Kind::StatefulSet, Kind::ReplicaSet] {
            let ws: Vec<_> = self
                .workloads
                .iter()
                .filter(|w| w.kind == kind && !gateway_api::is_generated(w))
                .collect();
            let pods: usize = ws.iter().map(|w| self.pod_count(w)).sum();
            add(
                ws.len(),
                kind.as_str(),
                format!(" ({pods} pod{})", if pods == 1 { "" } else { "s" }),
            );
        }
        add(
            self.services
                .iter()
                .filter(|s| !gateway_api::is_generated(s))
                .count(),
            "Service",
            String::new(),
        );
        add(self.pods.len(), "Pod", String::new());
        add(self.namespaces.len(), "Namespace", String::new());
        for kind in [Kind::IstioOperator, Kind::ConfigMap] {
            let n = self.mesh_configs.iter().filter(|m| m.kind == kind).count();
            add(n, kind.as_str(), String::new());
        }
        if parts.is_empty() {
            return "no resources".to_string();
        }
        let mut s = parts.join(", ");
        if !self.mesh_configs.is_empty() {
            let mode = match self.outbound_traffic_policy {
                OutboundMode::AllowAny => "ALLOW_ANY",
                OutboundMode::RegistryOnly => "REGISTRY_ONLY",
            };
            let _ = write!(s, "; outboundTrafficPolicy {mode}");
        }
        s
    }

    /// The ignored documents, one line each: `ignored: Secret istio-system/grafana (file:line)`.
    pub fn ignored_summary(&self) -> String {
        let mut s = String::new();
        for i in &self.ignored {
            if i.api_version == "meshsim" {
                let _ = writeln!(s, "skipped: {} at {}", i.kind, i.location.file);
                continue;
            }
            let _ = writeln!(
                s,
                "ignored: {} {} ({}) at {}:{}",
                i.kind,
                i.name.as_deref().unwrap_or("(unnamed)"),
                i.api_version,
                i.location.file,
                i.location.line
            );
        }
        s
    }
}
