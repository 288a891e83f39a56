//! Istio's admission rules: what the API server (its validating webhook and CRD schema) would
//! refuse, reported as located errors with stable codes. Deprecated fields are warnings.
//! Rules follow istio/istio `pkg/config/validation` (see the reference notes, §9), one file per
//! kind as Istio splits them, with the shared helpers in `common` and the pure rules in
//! `rules`.

mod common;
mod destination_rule;
mod gateway;
mod gateway_api;
mod rules;
mod service_entry;
mod virtual_service;

pub use rules::{
    duration_error, header_name_error, host_error, is_prime, label_error, regex_error,
};

use crate::compile::IstioVersion;
use crate::config::{Origin, YamlPath};
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::Mesh;

/// Collects findings for one resource, locating them through its span index.
struct Sink<'a> {
    origin: &'a Origin,
    out: &'a mut Vec<Diagnostic>,
}

impl Sink<'_> {
    fn push(&mut self, code: Code, error: bool, path: &YamlPath, msg: String) {
        let d = if error {
            Diagnostic::error(code, msg)
        } else {
            Diagnostic::warning(code, msg)
        };
        self.out
            .push(d.at(self.origin.locate(path)).with_path(path.to_string()));
    }
    fn err(&mut self, code: Code, path: &YamlPath, msg: impl Into<String>) {
        self.push(code, true, path, msg.into());
    }
    fn warn(&mut self, code: Code, path: &YamlPath, msg: impl Into<String>) {
        self.push(code, false, path, msg.into());
    }
}

/// Validates every resource of the mesh as Istio's admission would, for `version`.
pub fn validate(mesh: &Mesh, version: IstioVersion) -> Diagnostics {
    let mut out = Vec::new();
    for r in mesh
        .virtual_services
        .iter()
        .filter(|r| !crate::model::gateway_api::is_generated(r))
    {
        virtual_service::virtual_service(r, version, &mut out);
    }
    for r in &mesh.destination_rules {
        destination_rule::destination_rule(r, &mut out);
    }
    for r in mesh
        .gateways
        .iter()
        .filter(|r| !crate::model::gateway_api::is_generated(r))
    {
        gateway::gateway(r, &mut out);
    }
    for r in &mesh.gateway_api.gateways {
        gateway_api::gateway(r, &mut out);
    }
    for r in &mesh.gateway_api.http_routes {
        gateway_api::http_route(r, &mut out);
    }
    for r in &mesh.service_entries {
        service_entry::service_entry(r, &mut out);
    }
    for r in &mesh.workload_entries {
        let mut s = Sink {
            origin: &r.origin,
            out: &mut out,
        };
        service_entry::workload_entry(&r.spec, &YamlPath::parse("spec"), &mut s);
    }
    let mut d = Diagnostics(out);
    d.sort();
    d
}
