//! Helpers every kind's validation shares (Istio's `validation.go` helpers: labels, ports,
//! durations, destinations, gateway references).

use super::Sink;
use super::rules::{duration_error, host_error, is_dns_label, label_error};
use crate::config::{Destination, StringMap, YamlPath};
use crate::diag::codes;

pub(super) fn spec() -> YamlPath {
    YamlPath::root().key("spec")
}

pub(super) fn labels(l: &StringMap, path: &YamlPath, s: &mut Sink<'_>) {
    for (k, v) in l {
        if let Some(e) = label_error(k, v) {
            s.err(codes::INVALID_LABEL, &path.key(k.clone()), e);
        }
    }
}

pub(super) fn port_number(n: u32, path: &YamlPath, s: &mut Sink<'_>) {
    if !(1..=65535).contains(&n) {
        s.err(
            codes::INVALID_PORT,
            path,
            format!("port number {n} must be in the range 1..65535"),
        );
    }
}

pub(super) fn duration(d: Option<crate::config::Duration>, path: &YamlPath, s: &mut Sink<'_>) {
    if let Some(e) = d.and_then(duration_error) {
        s.err(codes::INVALID_DURATION, path, e);
    }
}

pub(super) fn destination(d: &Destination, path: &YamlPath, s: &mut Sink<'_>) {
    if d.host == "*" {
        s.err(
            codes::INVALID_HOST,
            &path.key("host"),
            "a destination host cannot be `*`",
        );
    } else if let Some(e) = host_error(&d.host) {
        s.err(codes::INVALID_HOST, &path.key("host"), e);
    }
    if let Some(sub) = &d.subset
        && !is_dns_label(sub)
    {
        s.err(
            codes::INVALID_SUBSET_NAME,
            &path.key("subset"),
            format!("subset `{sub}` is not a valid DNS-1123 label"),
        );
    }
    if let Some(p) = d.port {
        port_number(p.number, &path.key("port").key("number"), s);
    }
}

pub(super) fn gateway_ref(g: &str, path: &YamlPath, s: &mut Sink<'_>) {
    if g == "mesh" {
        return;
    }
    let ok = match g.split_once('/') {
        Some((ns, name)) => {
            (ns == "." || is_dns_label(ns)) && host_error(name).is_none() && !name.contains('*')
        }
        None => host_error(g).is_none() && !g.contains('*'),
    };
    if !ok {
        s.err(
            codes::INVALID_GATEWAY_REF,
            path,
            format!("gateway `{g}` is neither `mesh`, `name` nor `namespace/name`"),
        );
    } else if !g.contains('/') && g.contains('.') {
        s.warn(
            codes::DEPRECATED,
            path,
            format!("gateway `{g}`: prefer the `namespace/name` format"),
        );
    }
}
