//! istiod's half: turn the mesh into Envoy's clusters and route tables.
//!
//! Clusters are built once for the whole mesh. Route tables depend on the proxy (a sidecar's
//! labels and namespace filter `sourceLabels`; a gateway sees only the VirtualServices bound to
//! it) and the listener port, so they are built on demand and cached by the simulator.

mod cluster;
mod delegate;
mod gateway_ports;
pub mod retry;
mod routes;
mod version;

pub use cluster::{Cluster, ConsolidatedRule, cluster_name, hash_for_destination, rules_for};
pub use routes::{Proxy, resolve_gateway_name, vs_gateways};
pub use version::IstioVersion;

use crate::diag::Diagnostic;
use crate::model::Mesh;
use crate::route::RouteTable;
use std::collections::BTreeMap;

/// The mesh as istiod would push it: clusters, and route tables on demand.
#[derive(Debug)]
pub struct CompiledMesh<'m> {
    /// The mesh.
    pub mesh: &'m Mesh,
    /// The Istio version whose translation is followed.
    pub version: IstioVersion,
    /// Every cluster, sorted by name.
    pub clusters: Vec<Cluster>,
    cluster_index: BTreeMap<String, usize>,
}

impl<'m> CompiledMesh<'m> {
    /// Builds the clusters.
    pub fn new(mesh: &'m Mesh, version: IstioVersion) -> Self {
        let clusters = cluster::build_clusters(mesh, version);
        let cluster_index = cluster::index(&clusters);
        CompiledMesh {
            mesh,
            version,
            clusters,
            cluster_index,
        }
    }

    /// The Istio Gateways a gateway proxy named `ns/name` serves: the Istio Gateway of that
    /// name, or the ones istiod generated for the Gateway API Gateway of that name.
    pub fn gateways_of(&self, name: &str) -> Vec<usize> {
        if let Some(gi) = self
            .mesh
            .gateways
            .iter()
            .position(|g| format!("{}/{}", g.namespace, g.name) == name)
        {
            return vec![gi];
        }
        self.mesh
            .gateway_api
            .istio_gateways_of(name)
            .map(<[usize]>::to_vec)
            .unwrap_or_default()
    }

    /// The cluster with this name.
    pub fn cluster(&self, name: &str) -> Option<usize> {
        self.cluster_index.get(name).copied()
    }

    /// The route table a proxy has for a listener port, and problems found building it
    /// (regexes that do not compile, missing delegates). `None` for a gateway without a
    /// server on that port.
    pub fn route_table(&self, proxy: &Proxy, port: u32) -> (Option<RouteTable>, Vec<Diagnostic>) {
        let ctx = routes::Ctx {
            mesh: self.mesh,
            clusters: &self.clusters,
            cluster_index: &self.cluster_index,
            version: self.version,
            diags: Default::default(),
        };
        let table = match proxy {
            Proxy::Sidecar { .. } => Some(routes::sidecar_table(&ctx, proxy, port)),
            Proxy::Gateway { name, .. } => {
                let gateways = self.gateways_of(name);
                if gateways.is_empty() {
                    None
                } else {
                    // The request reaches the gateway's Service port; its pods listen on the
                    // target port.
                    let ports =
                        gateway_ports::service_ports(self.mesh, &self.mesh.gateways[gateways[0]]);
                    let listen = gateway_ports::resolve(&ports, port);
                    routes::gateway_table(&ctx, &gateways, proxy, listen, &ports)
                }
            }
        };
        (table, ctx.diags.into_inner())
    }
}
