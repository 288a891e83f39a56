//! The Kubernetes objects that give the mesh its endpoints: Deployment (and the other pod
//! controllers), Service, Pod, plus the mesh settings found in an IstioOperator or the `istio`
//! ConfigMap. Unlike Istio's API, Kubernetes objects carry many fields meshsim does not need
//! (images, env, probes, volumes), so unknown fields are accepted here.

use super::types::{IntOrString, StringMap};
use serde::Deserialize;

/// `spec` of a Deployment, StatefulSet or ReplicaSet.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSpec {
    /// Replica count (Kubernetes default 1).
    pub replicas: Option<i64>,
    /// Pod template.
    #[serde(default)]
    pub template: PodTemplate,
}

/// `PodTemplateSpec`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplate {
    /// Pod metadata (labels, annotations).
    #[serde(default)]
    pub metadata: TemplateMeta,
    /// Pod spec.
    #[serde(default)]
    pub spec: PodSpec,
}

/// The part of a template's metadata that matters.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMeta {
    /// Pod labels.
    #[serde(default)]
    pub labels: StringMap,
    /// Pod annotations.
    #[serde(default)]
    pub annotations: StringMap,
}

/// `PodSpec`, reduced to containers and their ports.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    /// Containers.
    #[serde(default)]
    pub containers: Vec<Container>,
}

/// `Container`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Declared ports.
    #[serde(default)]
    pub ports: Vec<ContainerPort>,
}

/// `ContainerPort`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    /// Port number in the pod.
    pub container_port: i64,
    /// Port name (a Service's `targetPort` may refer to it).
    pub name: Option<String>,
    /// Protocol.
    pub protocol: Option<String>,
}

/// `spec` of a Service.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Pods whose labels contain these.
    pub selector: Option<StringMap>,
    /// Ports.
    #[serde(default)]
    pub ports: Vec<ServicePort>,
    /// `ClusterIP` (default), `NodePort`, `LoadBalancer`, `ExternalName`.
    #[serde(rename = "type")]
    pub service_type: Option<String>,
    /// The cluster IP, if given.
    #[serde(rename = "clusterIP")]
    pub cluster_ip: Option<String>,
    /// For `ExternalName` services.
    pub external_name: Option<String>,
}

/// `ServicePort`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// Name (`http`, `http-web`, ...; Istio infers the protocol from it).
    pub name: Option<String>,
    /// Service port.
    pub port: i64,
    /// Port on the pods (default: `port`).
    pub target_port: Option<IntOrString>,
    /// `TCP` (default), `UDP`, `SCTP`.
    pub protocol: Option<String>,
    /// Explicit application protocol.
    pub app_protocol: Option<String>,
}

/// `status` of a Pod.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    /// The pod's IP.
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
}

/// `data` of a ConfigMap.
pub type ConfigMapData = StringMap;

/// The part of Istio's `MeshConfig` meshsim uses.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshConfig {
    /// What sidecars do with hosts outside the registry.
    pub outbound_traffic_policy: Option<OutboundTrafficPolicy>,
}

/// `MeshConfig.OutboundTrafficPolicy`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundTrafficPolicy {
    /// `ALLOW_ANY` (default) or `REGISTRY_ONLY`.
    pub mode: Option<OutboundMode>,
}

/// `OutboundTrafficPolicy.Mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OutboundMode {
    /// Unknown hosts pass through (Istio's default).
    #[default]
    AllowAny,
    /// Unknown hosts get 502.
    RegistryOnly,
}

/// `spec` of an IstioOperator (or Istio 1.4's IstioControlPlane): only the mesh settings
/// matter here.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioOperatorSpec {
    /// Mesh-wide settings.
    pub mesh_config: Option<MeshConfig>,
    /// Helm values: Istio 1.4's installs set `values.global.outboundTrafficPolicy.mode`.
    pub values: Option<OperatorValues>,
}

impl IstioOperatorSpec {
    /// The mesh settings it installs: `meshConfig`, with the 1.4 Helm value
    /// `values.global.outboundTrafficPolicy` where `meshConfig` does not set it (istioctl
    /// copies that value into the mesh config).
    pub fn mesh(&self) -> MeshConfig {
        let mut mesh = self.mesh_config.clone().unwrap_or_default();
        if mesh.outbound_traffic_policy.is_none() {
            mesh.outbound_traffic_policy = self
                .values
                .as_ref()
                .and_then(|v| v.global.as_ref())
                .and_then(|g| g.outbound_traffic_policy.clone());
        }
        mesh
    }
}

/// `spec.values` of an IstioOperator: the Helm values (only `global` is read).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperatorValues {
    /// `values.global`.
    pub global: Option<GlobalValues>,
}

/// `spec.values.global`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GlobalValues {
    /// What sidecars do with hosts outside the registry (Istio 1.4's place for it).
    pub outbound_traffic_policy: Option<OutboundTrafficPolicy>,
}
