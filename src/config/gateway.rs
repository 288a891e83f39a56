//! `networking.istio.io` Gateway and ServiceEntry / WorkloadEntry.

use super::types::StringMap;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::BTreeMap;

/// `spec` of a Gateway.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Gateway {
    /// Labels of the gateway workload (e.g. `istio: ingressgateway`).
    #[serde(default)]
    pub selector: StringMap,
    /// Listeners.
    #[serde(default)]
    pub servers: Vec<Server>,
}

/// `Server`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Server {
    /// The port.
    pub port: Option<Port>,
    /// Bind address.
    pub bind: Option<String>,
    /// Hosts admitted, `[ns/]dnsName`, wildcards allowed.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// TLS settings (accepted, not simulated).
    pub tls: Option<IgnoredAny>,
    /// Server name.
    pub name: Option<String>,
    /// Default endpoint.
    pub default_endpoint: Option<String>,
}

/// `Port` (Gateway servers and ServiceEntry ports).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Port {
    /// Port number.
    pub number: u32,
    /// `HTTP`, `HTTPS`, `GRPC`, `HTTP2`, `MONGO`, `TCP`, `TLS`.
    pub protocol: Option<String>,
    /// Port name.
    pub name: Option<String>,
    /// Port on the endpoints.
    pub target_port: Option<u32>,
}

/// `spec` of a ServiceEntry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceEntry {
    /// Hosts, taken as written.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Virtual IPs.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Ports.
    #[serde(default)]
    pub ports: Vec<Port>,
    /// `MESH_EXTERNAL` (default) or `MESH_INTERNAL`.
    pub location: Option<MeshLocation>,
    /// `NONE` (default), `STATIC`, `DNS`, `DNS_ROUND_ROBIN`.
    pub resolution: Option<Resolution>,
    /// Static endpoints.
    #[serde(default)]
    pub endpoints: Vec<WorkloadEntry>,
    /// Select WorkloadEntries (and pods) by label.
    pub workload_selector: Option<ServiceEntrySelector>,
    /// Namespaces this is visible to.
    #[serde(default)]
    pub export_to: Vec<String>,
    /// SANs (accepted, not simulated).
    #[serde(default)]
    pub subject_alt_names: Vec<String>,
}

/// ServiceEntry `workloadSelector` (`labels`, unlike DestinationRule's `matchLabels`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceEntrySelector {
    /// Labels to match.
    #[serde(default)]
    pub labels: StringMap,
}

/// `ServiceEntry.Location`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MeshLocation {
    /// Outside the mesh.
    MeshExternal,
    /// Inside the mesh.
    MeshInternal,
}

/// `ServiceEntry.Resolution`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Resolution {
    /// Forward to the address the caller dialled.
    None,
    /// Use the endpoints' addresses.
    Static,
    /// Resolve endpoints (or hosts) by DNS.
    Dns,
    /// DNS, first address only.
    DnsRoundRobin,
}

/// `WorkloadEntry` spec (also a ServiceEntry endpoint).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadEntry {
    /// IP address or DNS name.
    #[serde(default)]
    pub address: String,
    /// Port name → port number on this endpoint.
    #[serde(default)]
    pub ports: BTreeMap<String, u32>,
    /// Labels.
    #[serde(default)]
    pub labels: StringMap,
    /// Network.
    pub network: Option<String>,
    /// Locality.
    pub locality: Option<String>,
    /// Load-balancing weight.
    pub weight: Option<u32>,
    /// Service account.
    pub service_account: Option<String>,
}
