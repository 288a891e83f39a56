//! The gateway istiod's deployment controller runs for each managed Gateway of an Istio
//! class: a Deployment and a Service named `<gateway>-<class>` (or the
//! `gateway.istio.io/name-override` annotation), selected by
//! `gateway.networking.k8s.io/gateway-name`, the Service exposing `status-port` 15021 and each
//! distinct listener port (`configureIstioGateway`, `extractServicePorts`, and the
//! `kube-gateway.yaml` template). They join the topology like written ones, marked as
//! generated.

use super::{PARENTS, istio_class};
use crate::config::gateway_api::KubeGatewaySpec;
use crate::config::{
    AnyResource, IntOrString, Kind, PodTemplate, Resource, ServicePort, ServiceSpec, StringMap,
    TemplateMeta, WorkloadSpec,
};

/// The label that selects a Gateway's deployed pods.
pub const GATEWAY_NAME_LABEL: &str = "gateway.networking.k8s.io/gateway-name";

/// The Deployment and Service of every managed Gateway of an Istio class among `resources`.
pub(crate) fn deployed(resources: &[AnyResource]) -> Vec<AnyResource> {
    let classes = || {
        resources.iter().filter_map(|r| match r {
            AnyResource::GatewayClass(c) => Some(c),
            _ => None,
        })
    };
    let mut out = Vec::new();
    for r in resources {
        let AnyResource::KubeGateway(gw) = r else {
            continue;
        };
        // IsManaged: no addresses, or one IP address (a Hostname address names an existing
        // gateway instead).
        if !istio_class(classes(), &gw.spec.gateway_class_name) || gw.spec.addresses.is_some() {
            continue;
        }
        let name = gw
            .annotations
            .get("gateway.istio.io/name-override")
            .cloned()
            .unwrap_or_else(|| format!("{}-{}", gw.name, gw.spec.gateway_class_name));
        let labels: StringMap = [
            (GATEWAY_NAME_LABEL.to_string(), gw.name.clone()),
            (
                "gateway.networking.k8s.io/gateway-class-name".to_string(),
                gw.spec.gateway_class_name.clone(),
            ),
        ]
        .into();
        let generated = Generated {
            gw,
            name: &name,
            labels: &labels,
        };
        let workload = WorkloadSpec {
            replicas: Some(1),
            template: PodTemplate {
                metadata: TemplateMeta {
                    labels: labels.clone(),
                    ..TemplateMeta::default()
                },
                ..PodTemplate::default()
            },
        };
        out.push(AnyResource::Workload(generated.resource(
            Kind::Deployment,
            "apps/v1",
            workload,
        )));
        let service = ServiceSpec {
            selector: Some([(GATEWAY_NAME_LABEL.to_string(), gw.name.clone())].into()),
            ports: service_ports(&gw.spec),
            service_type: Some("LoadBalancer".into()),
            ..ServiceSpec::default()
        };
        out.push(AnyResource::Service(generated.resource(
            Kind::Service,
            "v1",
            service,
        )));
    }
    out
}

/// What the deployment controller's objects for one Gateway share.
struct Generated<'a> {
    gw: &'a Resource<KubeGatewaySpec>,
    name: &'a str,
    labels: &'a StringMap,
}

impl Generated<'_> {
    /// One of them: named and labelled for the Gateway, marked as generated from it.
    fn resource<T>(&self, kind: Kind, api_version: &str, spec: T) -> Resource<T> {
        let gw = self.gw;
        Resource {
            kind,
            api_version: api_version.to_string(),
            name: self.name.to_string(),
            namespace: gw.namespace.clone(),
            labels: self.labels.clone(),
            annotations: [(
                PARENTS.to_string(),
                format!("Gateway/{}.{}", gw.name, gw.namespace),
            )]
            .into(),
            creation_timestamp: gw.creation_timestamp.clone(),
            spec,
            origin: gw.origin.clone(),
        }
    }
}

/// `extractServicePorts`: `status-port` 15021, then each distinct listener port in listener
/// order, named after its listener, its appProtocol the listener's protocol.
fn service_ports(gw: &KubeGatewaySpec) -> Vec<ServicePort> {
    let mut ports = vec![ServicePort {
        name: Some("status-port".into()),
        port: 15021,
        target_port: None,
        protocol: Some("TCP".into()),
        app_protocol: Some("tcp".into()),
    }];
    for l in &gw.listeners {
        if ports.iter().any(|p| p.port == i64::from(l.port)) {
            continue;
        }
        ports.push(ServicePort {
            name: Some(l.name.replace('.', "-")),
            port: i64::from(l.port),
            target_port: Some(IntOrString::Int(i64::from(l.port))),
            protocol: Some("TCP".into()),
            app_protocol: Some(l.protocol.to_ascii_lowercase()),
        });
    }
    ports
}
