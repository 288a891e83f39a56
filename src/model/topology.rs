//! Topology: the workload instances (pods, WorkloadEntries, ServiceEntry endpoints) and the
//! services that select them, down to the `IP:PORT` strings Envoy would see.
//!
//! Deployments become `replicas` pods named `<deployment>-<i>` with synthetic, stable IPs: each
//! controller gets a /20 block of 10.0.0.0/8 chosen by hashing `namespace/kind/name`, so adding
//! another Deployment does not renumber this one (ring-hash positions depend on addresses).
//! Collisions between blocks are resolved by probing to the next free block, in sorted order.

use super::host::resolve_host;
use crate::config::{
    AnyResource, IntOrString, MeshLocation, Origin, Resolution, Resource, StringMap, YamlPath,
};
use crate::diag::{Diagnostic, codes};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// Most replicas one controller may have (one /20 block, minus network and broadcast).
pub const MAX_REPLICAS: i64 = 4094;

/// Where an instance came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstanceSource {
    /// Replica `index` of a Deployment, StatefulSet or ReplicaSet.
    Controller {
        /// The controller's kind (`Deployment`, ...).
        kind: &'static str,
        /// Its name.
        name: String,
        /// Replica index.
        index: u32,
    },
    /// A Pod object.
    Pod,
    /// A WorkloadEntry object.
    WorkloadEntry,
    /// An inline endpoint of a ServiceEntry (`endpoints[index]`).
    ServiceEntryEndpoint {
        /// The ServiceEntry's name.
        service_entry: String,
        /// Index in `endpoints`.
        index: usize,
    },
}

/// A workload instance: something with an address that can serve requests.
#[derive(Clone, Debug)]
pub struct Instance {
    /// Pod name (`myweb-deployment-v1-0`), WorkloadEntry name, or `<se>-<i>`.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Labels (subsets select on them).
    pub labels: StringMap,
    /// Annotations (endpoint behaviour, `meshsim.io/*`).
    pub annotations: StringMap,
    /// IP address (or DNS name for ServiceEntry endpoints).
    pub address: String,
    /// Declared ports: name → number (container ports; WorkloadEntry `ports`).
    pub named_ports: BTreeMap<String, u32>,
    /// Load-balancing weight (1 unless a WorkloadEntry says otherwise).
    pub weight: u32,
    /// How it behaves (from `meshsim.io/*` annotations).
    pub behaviour: crate::resilience::endpoint::Behaviour,
    /// What produced it.
    pub source: InstanceSource,
    /// Where it was defined.
    pub origin: Origin,
}

/// What kind of registry entry a service is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceKind {
    /// A Kubernetes Service.
    Kubernetes,
    /// A ServiceEntry host.
    ServiceEntry {
        /// `MESH_EXTERNAL` or `MESH_INTERNAL`.
        external: bool,
        /// Resolution mode.
        resolution: Resolution,
    },
}

/// A service port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    /// Name (`http`), if any.
    pub name: Option<String>,
    /// Port number clients dial.
    pub number: u32,
    /// Protocol (`HTTP`, `TCP`, ... or inferred from the name).
    pub protocol: String,
}

/// One endpoint of one service port: what Envoy's EDS would list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `IP:PORT`, exactly as Envoy prints the address (ring-hash keys are built from it).
    pub address: String,
    /// Index into [`Topology::instances`].
    pub instance: usize,
    /// Load-balancing weight.
    pub weight: u32,
}

/// A service in the registry: a Kubernetes Service or one host of a ServiceEntry.
#[derive(Clone, Debug)]
pub struct Service {
    /// Fully qualified host name (`myweb-service.default.svc.cluster.local`, `httpbin.org`).
    pub hostname: String,
    /// Namespace of the defining resource.
    pub namespace: String,
    /// Name of the defining resource.
    pub name: String,
    /// Kubernetes Service or ServiceEntry.
    pub kind: ServiceKind,
    /// Ports.
    pub ports: Vec<ServicePort>,
    /// Endpoints per port, in the same order as `ports`.
    pub endpoints: Vec<Vec<Endpoint>>,
    /// Where it was defined.
    pub origin: Origin,
}

impl Service {
    /// The endpoints behind a port number.
    pub fn endpoints_for(&self, port: u32) -> Option<&[Endpoint]> {
        let i = self.ports.iter().position(|p| p.number == port)?;
        Some(&self.endpoints[i])
    }
}

/// Instances and services.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    /// Every instance, in a deterministic order (by namespace, controller, replica).
    pub instances: Vec<Instance>,
    /// Every service, sorted by host name.
    pub services: Vec<Service>,
}

impl Topology {
    /// The service with this fully qualified host name.
    pub fn service(&self, hostname: &str) -> Option<&Service> {
        self.services
            .binary_search_by(|s| s.hostname.as_str().cmp(hostname))
            .ok()
            .map(|i| &self.services[i])
    }

    /// Builds the topology from resources; problems go to `diags`.
    pub fn build(resources: &[AnyResource], diags: &mut Vec<Diagnostic>) -> Topology {
        let mut t = Topology::default();
        let mut blocks = BlockAllocator::default();

        // Controllers first, sorted so that IP assignment is independent of file order.
        let mut controllers: Vec<&Resource<crate::config::WorkloadSpec>> = resources
            .iter()
            .filter_map(|r| match r {
                AnyResource::Workload(w) => Some(w),
                _ => None,
            })
            .collect();
        controllers
            .sort_by(|a, b| (&a.namespace, a.kind, &a.name).cmp(&(&b.namespace, b.kind, &b.name)));
        for w in controllers {
            let replicas = w.spec.replicas.unwrap_or(1);
            if !(0..=MAX_REPLICAS).contains(&replicas) {
                let p = YamlPath::parse("spec.replicas");
                diags.push(
                    Diagnostic::error(
                        codes::OUT_OF_RANGE,
                        format!("replicas {replicas} is outside 0..={MAX_REPLICAS}, the range meshsim simulates per workload"),
                    )
                    .at(w.origin.locate(&p))
                    .with_path(p.to_string())
                    .with_hint("split the workload, or describe large fleets with ServiceEntry endpoints"),
                );
                continue;
            }
            let block = blocks.allocate(&format!("{}/{}/{}", w.namespace, w.kind, w.name));
            let mut annotations = w.annotations.clone();
            annotations.extend(w.spec.template.metadata.annotations.clone());
            let named_ports = container_ports(&w.spec.template.spec.containers);
            let ann_path = if w
                .spec
                .template
                .metadata
                .annotations
                .keys()
                .any(|k| k.starts_with(crate::resilience::endpoint::PREFIX))
            {
                YamlPath::parse("spec.template.metadata")
            } else {
                YamlPath::parse("metadata")
            };
            let behaviour = behaviour_of(&annotations, &w.origin, &ann_path, diags);
            for i in 0..replicas as u32 {
                t.instances.push(Instance {
                    name: format!("{}-{i}", w.name),
                    namespace: w.namespace.clone(),
                    labels: w.spec.template.metadata.labels.clone(),
                    annotations: annotations.clone(),
                    address: block_ip(block, i).to_string(),
                    named_ports: named_ports.clone(),
                    weight: 1,
                    behaviour: behaviour.clone(),
                    source: InstanceSource::Controller {
                        kind: w.kind.as_str(),
                        name: w.name.clone(),
                        index: i,
                    },
                    origin: w.origin.clone(),
                });
            }
        }
        for r in resources {
            match r {
                AnyResource::Pod(p) => {
                    let address = match &p.spec.status.pod_ip {
                        Some(ip) => ip.clone(),
                        None => block_ip(
                            blocks.allocate(&format!("{}/Pod/{}", p.namespace, p.name)),
                            0,
                        )
                        .to_string(),
                    };
                    t.instances.push(Instance {
                        name: p.name.clone(),
                        namespace: p.namespace.clone(),
                        labels: p.labels.clone(),
                        annotations: p.annotations.clone(),
                        address,
                        named_ports: container_ports(&p.spec.spec.containers),
                        weight: 1,
                        behaviour: behaviour_of(
                            &p.annotations,
                            &p.origin,
                            &YamlPath::parse("metadata"),
                            diags,
                        ),
                        source: InstanceSource::Pod,
                        origin: p.origin.clone(),
                    });
                }
                AnyResource::WorkloadEntry(we) => {
                    let mut labels = we.labels.clone();
                    labels.extend(we.spec.labels.clone());
                    t.instances.push(Instance {
                        name: we.name.clone(),
                        namespace: we.namespace.clone(),
                        labels,
                        annotations: we.annotations.clone(),
                        address: we.spec.address.clone(),
                        named_ports: we.spec.ports.clone(),
                        weight: we.spec.weight.unwrap_or(1).max(1),
                        behaviour: behaviour_of(
                            &we.annotations,
                            &we.origin,
                            &YamlPath::parse("metadata"),
                            diags,
                        ),
                        source: InstanceSource::WorkloadEntry,
                        origin: we.origin.clone(),
                    });
                }
                _ => {}
            }
        }
        check_address_conflicts(&t.instances, diags);

        for r in resources {
            match r {
                AnyResource::Service(s) => t.add_kube_service(s),
                AnyResource::ServiceEntry(se) => t.add_service_entry(se, diags),
                _ => {}
            }
        }
        t.services.sort_by(|a, b| a.hostname.cmp(&b.hostname));
        t.services
            .dedup_by(|later, earlier| later.hostname == earlier.hostname);
        t
    }

    fn add_kube_service(&mut self, s: &Resource<crate::config::ServiceSpec>) {
        let hostname = resolve_host(&s.name, &s.namespace);
        let ports: Vec<ServicePort> = s
            .spec
            .ports
            .iter()
            .map(|p| ServicePort {
                name: p.name.clone(),
                number: p.port.clamp(0, u32::MAX as i64) as u32,
                protocol: infer_protocol(p.name.as_deref(), p.app_protocol.as_deref()),
            })
            .collect();
        let selector = s.spec.selector.clone();
        let endpoints = s
            .spec
            .ports
            .iter()
            .map(|p| {
                let Some(sel) = &selector else {
                    return Vec::new();
                };
                self.instances
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| {
                        i.namespace == s.namespace
                            && matches!(
                                i.source,
                                InstanceSource::Controller { .. }
                                    | InstanceSource::Pod
                                    | InstanceSource::WorkloadEntry
                            )
                            && labels_match(sel, &i.labels)
                            && !sel.is_empty()
                    })
                    .filter_map(|(idx, inst)| {
                        let port = match &p.target_port {
                            None => p.port.clamp(0, u32::MAX as i64) as u32,
                            Some(IntOrString::Int(n)) => (*n).clamp(0, u32::MAX as i64) as u32,
                            Some(IntOrString::String(name)) => *inst.named_ports.get(name)?,
                        };
                        let port = match (&inst.source, &p.name) {
                            (InstanceSource::WorkloadEntry, Some(n)) => {
                                inst.named_ports.get(n).copied().unwrap_or(port)
                            }
                            _ => port,
                        };
                        Some(Endpoint {
                            address: format!("{}:{port}", inst.address),
                            instance: idx,
                            weight: inst.weight,
                        })
                    })
                    .collect()
            })
            .collect();
        self.services.push(Service {
            hostname,
            namespace: s.namespace.clone(),
            name: s.name.clone(),
            kind: ServiceKind::Kubernetes,
            ports,
            endpoints,
            origin: s.origin.clone(),
        });
    }

    fn add_service_entry(
        &mut self,
        se: &Resource<crate::config::ServiceEntry>,
        diags: &mut Vec<Diagnostic>,
    ) {
        let spec = &se.spec;
        let behaviour = behaviour_of(
            &se.annotations,
            &se.origin,
            &YamlPath::parse("metadata"),
            diags,
        );
        let resolution = spec.resolution.unwrap_or(Resolution::None);
        let external =
            spec.location.unwrap_or(MeshLocation::MeshExternal) == MeshLocation::MeshExternal;
        // Inline endpoints become instances of their own.
        let mut members: Vec<usize> = Vec::new();
        for (i, ep) in spec.endpoints.iter().enumerate() {
            members.push(self.instances.len());
            let mut named_ports = ep.ports.clone();
            // An endpoint without a port map serves on the ServiceEntry's ports.
            for p in &spec.ports {
                if let Some(n) = &p.name {
                    named_ports
                        .entry(n.clone())
                        .or_insert(p.target_port.unwrap_or(p.number));
                }
            }
            self.instances.push(Instance {
                name: format!("{}-{i}", se.name),
                namespace: se.namespace.clone(),
                labels: ep.labels.clone(),
                annotations: se.annotations.clone(),
                address: ep.address.clone(),
                named_ports,
                weight: ep.weight.unwrap_or(1).max(1),
                behaviour: behaviour.clone(),
                source: InstanceSource::ServiceEntryEndpoint {
                    service_entry: se.name.clone(),
                    index: i,
                },
                origin: se.origin.clone(),
            });
        }
        if let Some(sel) = &spec.workload_selector {
            for (idx, inst) in self.instances.iter().enumerate() {
                if inst.namespace == se.namespace
                    && matches!(
                        inst.source,
                        InstanceSource::WorkloadEntry
                            | InstanceSource::Pod
                            | InstanceSource::Controller { .. }
                    )
                    && labels_match(&sel.labels, &inst.labels)
                {
                    members.push(idx);
                }
            }
        }
        let ports: Vec<ServicePort> = spec
            .ports
            .iter()
            .map(|p| ServicePort {
                name: p.name.clone(),
                number: p.number,
                protocol: p
                    .protocol
                    .clone()
                    .map(|s| s.to_ascii_uppercase())
                    .unwrap_or_else(|| infer_protocol(p.name.as_deref(), None)),
            })
            .collect();
        for host in &spec.hosts {
            let hostname = resolve_host(host, &se.namespace);
            // DNS resolution without endpoints: the host itself is the one (logical) endpoint.
            let dns_self = members.is_empty()
                && matches!(
                    resolution,
                    Resolution::Dns | Resolution::DnsRoundRobin | Resolution::DynamicDns
                );
            let members: Vec<usize> = if dns_self {
                self.instances.push(Instance {
                    name: hostname.clone(),
                    namespace: se.namespace.clone(),
                    labels: StringMap::new(),
                    annotations: se.annotations.clone(),
                    address: hostname.clone(),
                    named_ports: BTreeMap::new(),
                    weight: 1,
                    behaviour: behaviour.clone(),
                    source: InstanceSource::ServiceEntryEndpoint {
                        service_entry: se.name.clone(),
                        index: 0,
                    },
                    origin: se.origin.clone(),
                });
                vec![self.instances.len() - 1]
            } else {
                members.clone()
            };
            let endpoints = spec
                .ports
                .iter()
                .map(|p| {
                    let target = p.target_port.unwrap_or(p.number);
                    members
                        .iter()
                        .map(|&idx| {
                            let inst = &self.instances[idx];
                            let port = p
                                .name
                                .as_ref()
                                .and_then(|n| inst.named_ports.get(n).copied())
                                .unwrap_or(target);
                            Endpoint {
                                address: format!("{}:{port}", inst.address),
                                instance: idx,
                                weight: inst.weight,
                            }
                        })
                        .collect()
                })
                .collect();
            self.services.push(Service {
                hostname,
                namespace: se.namespace.clone(),
                name: se.name.clone(),
                kind: ServiceKind::ServiceEntry {
                    external,
                    resolution,
                },
                ports: ports.clone(),
                endpoints,
                origin: se.origin.clone(),
            });
        }
    }
}

/// Reads an owner's `meshsim.io/*` annotations; a bad value is a located error and the
/// endpoint keeps the default behaviour.
fn behaviour_of(
    annotations: &StringMap,
    origin: &Origin,
    base: &YamlPath,
    diags: &mut Vec<Diagnostic>,
) -> crate::resilience::endpoint::Behaviour {
    match crate::resilience::endpoint::Behaviour::from_annotations(annotations) {
        Ok(b) => b,
        Err((key, msg)) => {
            let path = base.key("annotations").key(key);
            let d = Diagnostic::error(codes::INVALID_VALUE, msg)
                .at(origin.locate(&path))
                .with_path(path.to_string());
            if !diags.contains(&d) {
                diags.push(d);
            }
            Default::default()
        }
    }
}

/// Does `labels` contain every pair of `selector`? (Subsets and Services select this way.)
pub fn labels_match(selector: &StringMap, labels: &StringMap) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Istio's protocol selection from a port name (`http`, `http-web`, `grpc`, ...) or
/// `appProtocol`; unknown means TCP with sniffing, which for HTTP traffic behaves as HTTP.
fn infer_protocol(name: Option<&str>, app_protocol: Option<&str>) -> String {
    let src = app_protocol.or(name).unwrap_or("");
    let prefix = src.split('-').next().unwrap_or("").to_ascii_lowercase();
    match prefix.as_str() {
        "http" => "HTTP",
        "http2" => "HTTP2",
        "grpc" | "grpc-web" => "GRPC",
        "https" => "HTTPS",
        "tls" => "TLS",
        "tcp" => "TCP",
        "mongo" => "MONGO",
        "redis" => "REDIS",
        _ => "UNSPECIFIED",
    }
    .to_string()
}

fn container_ports(containers: &[crate::config::Container]) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for c in containers {
        for p in &c.ports {
            if let Some(n) = &p.name {
                out.insert(n.clone(), p.container_port.clamp(0, u32::MAX as i64) as u32);
            }
        }
    }
    out
}

#[derive(Default)]
struct BlockAllocator {
    used: BTreeSet<u32>,
}

impl BlockAllocator {
    /// 4096 blocks of /20 in 10.0.0.0/8; block 0 is skipped so no pod is 10.0.0.x.
    fn allocate(&mut self, key: &str) -> u32 {
        let mut b = (xxhash_rust::xxh64::xxh64(key.as_bytes(), 0) % 4095) as u32 + 1;
        while self.used.contains(&b) {
            b = b % 4095 + 1;
            if self.used.len() >= 4095 {
                break;
            }
        }
        self.used.insert(b);
        b
    }
}

fn block_ip(block: u32, index: u32) -> Ipv4Addr {
    Ipv4Addr::from((10u32 << 24) + block * 4096 + 1 + index)
}

fn check_address_conflicts(instances: &[Instance], diags: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<&str, &Instance> = BTreeMap::new();
    for inst in instances {
        if !matches!(
            inst.source,
            InstanceSource::Pod | InstanceSource::WorkloadEntry
        ) {
            continue;
        }
        if let Some(prev) = seen.insert(&inst.address, inst) {
            diags.push(
                Diagnostic::warning(
                    codes::ADDRESS_CONFLICT,
                    format!(
                        "`{}` has the same address {} as `{}`",
                        inst.name, inst.address, prev.name
                    ),
                )
                .at(inst.origin.start())
                .with_note(
                    prev.origin.start(),
                    format!("`{}` is defined here", prev.name),
                ),
            );
        }
    }
}
