//! meshsim: simulate Istio/Envoy traffic policy offline.
//!
//! meshsim reads the YAML you would `kubectl apply` (VirtualService, DestinationRule, Gateway,
//! ServiceEntry, WorkloadEntry, and the Deployments, Services and Pods that give the mesh its
//! endpoints) and predicts what a real Istio mesh would do with a stream of requests.
//!
//! Load, simulate, read the summary:
//!
//! ```
//! use meshsim::{Mesh, route::Request, sim::Simulator};
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let mesh = Mesh::load(&["policies/canary-10-percent"])?;
//!     let mut sim = Simulator::new(&mesh)?;
//!     let requests = vec![Request::get("myweb-service"); 10_000];
//!     let summary = sim.summarize(requests.as_slice(), 2);
//!     // The 90/10 split, as Envoy's weighted clusters draw it.
//!     let v2 = summary.destination_count("myweb-service v2");
//!     assert!((900..1100).contains(&v2), "{v2}");
//!     assert_eq!(summary.status_count(200), 10_000);
//!     Ok(())
//! }
//! ```
//!
//! The crate is layered; every import points down:
//! - [`common`] (seeded random streams, simulated time), [`diag`] (located diagnostics),
//!   [`trace`] (the typed events of a decision);
//! - [`config`]: the serde mirror of the YAML and the loader (text in, resources out, no I/O);
//! - [`route`] (requests, matching), [`lb`] (Envoy's load balancers), [`resilience`]
//!   (retries, faults, pools, outlier detection);
//! - [`model`]: the mesh after `kubectl apply` semantics, and its topology (pods, endpoints);
//! - [`compile`]: what istiod generates (clusters, route tables);
//! - [`sim`]: the engine, stage by stage; [`envoy`]: Envoy config export;
//! - [`check`], [`analyze`], [`validate`], [`diff`], [`lab`]: what is built on decisions;
//! - [`report`]: every renderer (text, JSON, HTML);
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
