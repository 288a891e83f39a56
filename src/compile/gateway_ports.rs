//! Which port a gateway listens on for a Gateway server: istiod's `resolvePorts`
//! (pilot/pkg/model/gateway.go). A server's port that is a port of a Service in front of the
//! gateway's pods is translated to that Service port's `targetPort` (the first such Service,
//! with the legacy label selector); any other number is listened on as written. Users address
//! the Service port: `curl` to port 80 of Istio's default `istio-ingressgateway` Service
//! reaches the pods on 8080, where a Gateway server on port 80 (or 8080) listens.

use crate::config::{Gateway, IntOrString, Resource, StringMap};
use crate::model::{Mesh, labels_match};

/// A default gateway's pod labels and its Service's (service port, target port) pairs.
type DefaultGateway = (
    &'static [(&'static str, &'static str)],
    &'static [(u32, u32)],
);

/// The default ingress gateway's, as Istio's installation deploys it
/// (`manifests/charts/gateways/istio-ingress/values.yaml`, `istio-ingressgateway`).
const INGRESS: DefaultGateway = (
    &[("app", "istio-ingressgateway"), ("istio", "ingressgateway")],
    &[(15021, 15021), (80, 8080), (443, 8443)],
);
/// The default egress gateway's (`manifests/charts/gateways/istio-egress/values.yaml`).
const EGRESS: DefaultGateway = (
    &[("app", "istio-egressgateway"), ("istio", "egressgateway")],
    &[(80, 8080), (443, 8443)],
);

/// (Service port, target port) of the Services in front of an Istio Gateway's workload, in
/// Service order: the Services selecting its pods when the mesh has them; for Istio's default
/// ingress or egress gateway (selected by its labels) the user's Services for those labels, or
/// the ones Istio installs.
pub(crate) fn service_ports(mesh: &Mesh, gw: &Resource<Gateway>) -> Vec<(u32, u32)> {
    let selector = &gw.spec.selector;
    if selector.is_empty() {
        return Vec::new();
    }
    // (namespace, labels) of the gateway's pods; a Service selects pods of its own namespace.
    let mut pods: Vec<(Option<String>, StringMap)> = mesh
        .topology
        .instances
        .iter()
        .filter(|i| labels_match(selector, &i.labels))
        .map(|i| (Some(i.namespace.clone()), i.labels.clone()))
        .collect();
    let mut builtin: &[(u32, u32)] = &[];
    if pods.is_empty() {
        for (labels, ports) in [INGRESS, EGRESS] {
            let labels: StringMap = labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if labels_match(selector, &labels) {
                pods.push((None, labels));
                builtin = ports;
            }
        }
    }
    let ports: Vec<(u32, u32)> = mesh
        .services
        .iter()
        .filter(|s| {
            s.spec.selector.as_ref().is_some_and(|sel| {
                !sel.is_empty()
                    && pods.iter().any(|(ns, labels)| {
                        ns.as_ref().is_none_or(|n| *n == s.namespace) && labels_match(sel, labels)
                    })
            })
        })
        .flat_map(|s| {
            s.spec.ports.iter().filter_map(|p| {
                let port = u32::try_from(p.port).ok()?;
                let target = match &p.target_port {
                    Some(IntOrString::Int(t)) => u32::try_from(*t).ok()?,
                    _ => port,
                };
                Some((port, target))
            })
        })
        .collect();
    if ports.is_empty() {
        builtin.to_vec()
    } else {
        ports
    }
}

/// `resolvePorts` with the legacy selector: the first Service port `number` names gives its
/// target port; otherwise `number` as is.
pub(crate) fn resolve(ports: &[(u32, u32)], number: u32) -> u32 {
    ports
        .iter()
        .find(|(p, _)| *p == number)
        .map_or(number, |&(_, t)| t)
}
