//! The serde mirror of what users `kubectl apply`, and the loader that turns YAML text into
//! typed resources plus located diagnostics.
//!
//! This is the only module that knows about the YAML library (serde-saphyr, not serde_yaml: see
//! the README), so that it can be swapped without touching the rest. Loading is pure: it takes
//! text and a file name and never touches the file system ([`crate::files`] does that).
//!
//! Field names are Istio's (`camelCase` in YAML, `snake_case` in Rust); unknown fields in Istio
//! resources are errors, as Istio's API server rejects them, with a did-you-mean hint.

mod destination_rule;
mod gateway;
pub mod gateway_api;
mod kube;
mod load;
pub mod span;
pub mod tests;
pub mod traffic;
mod types;
mod virtual_service;

pub use destination_rule::*;
pub use gateway::*;
pub use kube::*;
pub use load::{
    AnyResource, GATEWAY_API, Ignored, Kind, ObjectMeta, Origin, ParsedFile, PodObject, Resource,
    UnknownFields, parse_documents, parse_documents_with, parse_yaml, parse_yaml_with,
    top_level_keys,
};
pub use span::{SpanIndex, YamlPath};
pub use types::*;
pub use virtual_service::*;
