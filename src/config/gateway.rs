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
    /// TLS settings: `httpsRedirect` is simulated, termination is not.
    pub tls: Option<ServerTls>,
    /// Server name.
    pub name: Option<String>,
    /// Default endpoint.
    pub default_endpoint: Option<String>,
}

/// `ServerTLSSettings`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServerTls {
    /// Answer plain-HTTP requests with a 301 to HTTPS.
    #[serde(default)]
    pub https_redirect: bool,
    /// `PASSTHROUGH`, `SIMPLE`, `MUTUAL`, `AUTO_PASSTHROUGH`, `ISTIO_MUTUAL`,
    /// `OPTIONAL_MUTUAL` (not simulated).
    pub mode: Option<IgnoredAny>,
    /// Certificate files and secrets (not simulated).
    pub server_certificate: Option<IgnoredAny>,
    /// See `server_certificate`.
    pub private_key: Option<IgnoredAny>,
    /// See `server_certificate`.
    pub ca_certificates: Option<IgnoredAny>,
    /// See `server_certificate`.
    pub ca_crl: Option<IgnoredAny>,
    /// See `server_certificate`.
    pub credential_name: Option<IgnoredAny>,
    /// See `server_certificate`.
    pub credential_names: Option<IgnoredAny>,
    /// See `server_certificate`.
    pub tls_certificates: Option<IgnoredAny>,
    /// Client identities (not simulated).
    pub subject_alt_names: Option<IgnoredAny>,
    /// See `subject_alt_names`.
    pub verify_certificate_spki: Option<IgnoredAny>,
    /// See `subject_alt_names`.
    pub verify_certificate_hash: Option<IgnoredAny>,
    /// Protocol versions and ciphers (not simulated).
    pub min_protocol_version: Option<IgnoredAny>,
    /// See `min_protocol_version`.
    pub max_protocol_version: Option<IgnoredAny>,
    /// See `min_protocol_version`.
    pub cipher_suites: Option<IgnoredAny>,
}

impl ServerTls {
    /// Whether anything but `httpsRedirect` is set (TLS itself, which is not simulated).
    pub fn configures_tls(&self) -> bool {
        self.mode.is_some()
            || self.server_certificate.is_some()
            || self.private_key.is_some()
            || self.ca_certificates.is_some()
            || self.ca_crl.is_some()
            || self.credential_name.is_some()
            || self.credential_names.is_some()
            || self.tls_certificates.is_some()
            || self.subject_alt_names.is_some()
            || self.verify_certificate_spki.is_some()
            || self.verify_certificate_hash.is_some()
            || self.min_protocol_version.is_some()
            || self.max_protocol_version.is_some()
            || self.cipher_suites.is_some()
    }
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
    /// Resolved per request by a dynamic forward proxy (Istio 1.31; wildcard hosts allowed).
    DynamicDns,
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
