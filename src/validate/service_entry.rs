//! ServiceEntry and WorkloadEntry: Istio's `ValidateServiceEntry` and
//! `ValidateWorkloadEntry`.

use super::Sink;
use super::common::{labels, port_number, spec};
use super::rules::host_error;
use crate::config::{Resource, ServiceEntry, WorkloadEntry, YamlPath};
use crate::diag::{Diagnostic, codes};

pub(super) fn service_entry(r: &Resource<ServiceEntry>, out: &mut Vec<Diagnostic>) {
    let se = &r.spec;
    let mut s = Sink {
        origin: &r.origin,
        out,
    };
    let p = spec();
    if se.hosts.is_empty() {
        s.err(
            codes::INVALID_SERVICE_ENTRY,
            &p.key("hosts"),
            "service entry must have at least one host",
        );
    }
    for (i, h) in se.hosts.iter().enumerate() {
        let hp = p.key("hosts").index(i);
        if h == "*" {
            s.err(codes::INVALID_HOST, &hp, "invalid host `*`");
        } else if let Some(e) = host_error(h) {
            s.err(codes::INVALID_HOST, &hp, e);
        }
    }
    if se.ports.is_empty() && se.workload_selector.is_none() {
        s.err(
            codes::INVALID_SERVICE_ENTRY,
            &p.key("ports"),
            "service entry must have at least one port",
        );
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, port) in se.ports.iter().enumerate() {
        let pp = p.key("ports").index(i);
        port_number(port.number, &pp.key("number"), &mut s);
        if let Some(t) = port.target_port {
            port_number(t, &pp.key("targetPort"), &mut s);
        }
        if let Some(n) = &port.name
            && !names.insert(n.clone())
        {
            s.err(
                codes::INVALID_SERVICE_ENTRY,
                &pp.key("name"),
                format!("port name `{n}` already defined"),
            );
        }
    }
    if se.workload_selector.is_some() && !se.endpoints.is_empty() {
        s.err(
            codes::INVALID_SERVICE_ENTRY,
            &p.key("workloadSelector"),
            "only one of workloadSelector or endpoints is allowed",
        );
    }
    use crate::config::Resolution;
    match se.resolution {
        Some(Resolution::Static) => {
            if se.endpoints.is_empty() && se.workload_selector.is_none() {
                s.err(
                    codes::INVALID_SERVICE_ENTRY,
                    &p.key("endpoints"),
                    "endpoints must be provided with STATIC resolution",
                );
            }
            for (i, ep) in se.endpoints.iter().enumerate() {
                if ep.address.parse::<std::net::IpAddr>().is_err()
                    && !ep.address.starts_with("unix://")
                {
                    s.err(
                        codes::INVALID_SERVICE_ENTRY,
                        &p.key("endpoints").index(i).key("address"),
                        format!(
                            "endpoint address `{}` is not an IP (STATIC resolution)",
                            ep.address
                        ),
                    );
                }
            }
        }
        Some(Resolution::Dns | Resolution::DnsRoundRobin) if se.endpoints.is_empty() => {
            for (i, h) in se.hosts.iter().enumerate() {
                if h.starts_with('*') {
                    s.err(
                        codes::INVALID_SERVICE_ENTRY,
                        &p.key("hosts").index(i),
                        format!("wildcard host `{h}` cannot be resolved by DNS"),
                    );
                }
            }
        }
        _ => {}
    }
    for (i, ep) in se.endpoints.iter().enumerate() {
        workload_entry(ep, &p.key("endpoints").index(i), &mut s);
    }
}

pub(super) fn workload_entry(we: &WorkloadEntry, p: &YamlPath, s: &mut Sink<'_>) {
    if we.address.is_empty() {
        s.err(
            codes::INVALID_WORKLOAD_ENTRY,
            &p.key("address"),
            "address must be set",
        );
    }
    for (name, port) in &we.ports {
        port_number(*port, &p.key("ports").key(name.clone()), s);
    }
    labels(&we.labels, &p.key("labels"), s);
}
