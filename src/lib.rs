//! meshsim: simulate Istio/Envoy traffic policy offline.
//!
//! meshsim reads the YAML you would `kubectl apply` (VirtualService, DestinationRule, Gateway,
//! ServiceEntry, WorkloadEntry, and the Deployments, Services and Pods that give the mesh its
//! endpoints) and predicts what a real Istio mesh would do with a stream of requests.
//!
//! The crate is layered; every import points down:
//! - [`common`] (seeded random streams, simulated time), [`diag`] (located diagnostics);
//! - [`config`]: the serde mirror of the YAML and the loader (text in, resources out, no I/O);
//! - [`route`] (requests, matching), [`lb`] (Envoy's load balancers);
//! - [`model`]: the mesh after `kubectl apply` semantics, and its topology (pods, endpoints);
//! - [`files`]: the only module that reads files (`Mesh::load`).
//!
//! ```
//! use meshsim::Mesh;
//! let mesh = Mesh::from_yaml_str(
//!     "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web}\n\
//!      spec: {hosts: [web], http: [{route: [{destination: {host: web}}]}]}\n",
//!     "web.yaml",
//! ).unwrap();
//! assert_eq!(mesh.summary(), "1 VirtualService");
//! ```
#![forbid(unsafe_code)]
// Diagnostics travel only on the cold path (loading, validation); boxing them would buy nothing.
#![allow(clippy::result_large_err)]

pub mod analyze;
pub mod check;
pub mod common;
pub mod config;
pub mod diag;
pub mod diff;
pub mod files;
pub mod lb;
pub mod model;
pub mod resilience;
pub mod route;

pub use model::Mesh;
pub mod compile;
pub mod envoy;
pub mod lab;
pub mod report;
pub mod sim;
pub mod trace;
pub mod validate;
