//! The Gateway API's own admission rules: the CRDs' schema (enums, ranges, patterns) and their
//! CEL validations (`x-kubernetes-validations` of `config/crd/standard/*.yaml` in
//! kubernetes-sigs/gateway-api, v1), with the CRDs' own messages. The API server rejects such
//! objects before istiod sees them.

use super::Sink;
use super::common::spec;
use crate::config::gateway_api::{
    HttpPathModifier, HttpRouteFilter, HttpRouteMatch, HttpRouteRule, HttpRouteSpec,
    KubeGatewaySpec,
};
use crate::config::{Resource, YamlPath};
use crate::diag::{Diagnostic, codes};

const FILTER_TYPES: [&str; 7] = [
    "RequestHeaderModifier",
    "ResponseHeaderModifier",
    "RequestMirror",
    "RequestRedirect",
    "URLRewrite",
    "ExtensionRef",
    "CORS",
];

/// A Gateway's listeners (`gateways.yaml`, `spec.listeners`).
pub(super) fn gateway(r: &Resource<KubeGatewaySpec>, out: &mut Vec<Diagnostic>) {
    let mut s = Sink {
        origin: &r.origin,
        out,
    };
    let p = spec().key("listeners");
    let ls = &r.spec.listeners;
    let mut rule = |holds: bool, msg: &str| {
        if !holds {
            s.err(codes::GATEWAY_API_SCHEMA, &p, msg);
        }
    };
    rule(
        ls.iter()
            .all(|l| !matches!(l.protocol.as_str(), "HTTP" | "TCP" | "UDP") || l.tls.is_none()),
        "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']",
    );
    rule(
        ls.iter().all(|l| {
            !matches!(l.protocol.as_str(), "TCP" | "UDP")
                || l.hostname.as_deref().is_none_or(str::is_empty)
        }),
        "hostname must not be specified for protocols ['TCP', 'UDP']",
    );
    rule(
        ls.iter()
            .all(|l| ls.iter().filter(|o| o.name == l.name).count() == 1),
        "Listener name must be unique within the Gateway",
    );
    rule(
        ls.iter().all(|l| {
            ls.iter()
                .filter(|o| {
                    o.port == l.port && o.protocol == l.protocol && o.hostname == l.hostname
                })
                .count()
                == 1
        }),
        "Combination of port, protocol and hostname must be unique for each listener",
    );
    for (i, l) in ls.iter().enumerate() {
        let lp = p.index(i);
        if !(1..=65535).contains(&l.port) {
            s.err(
                codes::GATEWAY_API_SCHEMA,
                &lp.key("port"),
                format!("port {} must be between 1 and 65535", l.port),
            );
        }
        if let Some(h) = &l.hostname {
            hostname(h, &lp.key("hostname"), &mut s);
        }
    }
}

/// An HTTPRoute (`httproutes.yaml`).
pub(super) fn http_route(r: &Resource<HttpRouteSpec>, out: &mut Vec<Diagnostic>) {
    let mut s = Sink {
        origin: &r.origin,
        out,
    };
    let p = spec();
    for (i, h) in r.spec.hostnames.iter().enumerate() {
        hostname(h, &p.key("hostnames").index(i), &mut s);
    }
    parent_refs(r, &mut s);
    let rules = r.spec.rules.as_deref().unwrap_or_default();
    if rules.iter().map(|r| r.matches.len()).sum::<usize>() >= 128 {
        s.err(
            codes::GATEWAY_API_SCHEMA,
            &p.key("rules"),
            "While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128",
        );
    }
    for (i, rule) in rules.iter().enumerate() {
        http_rule(rule, &p.key("rules").index(i), &mut s);
    }
}

/// `sectionName must be specified/unique when parentRefs includes 2 or more references to the
/// same parent`.
fn parent_refs(r: &Resource<HttpRouteSpec>, s: &mut Sink<'_>) {
    let refs = &r.spec.parent_refs;
    let same = |a: &crate::config::gateway_api::ParentReference,
                b: &crate::config::gateway_api::ParentReference| {
        a.group == b.group && a.kind == b.kind && a.name == b.name && a.namespace == b.namespace
    };
    let path = spec().key("parentRefs");
    let shared = |p| refs.iter().filter(|o| same(p, o)).count() > 1;
    if refs
        .iter()
        .any(|p| shared(p) && p.section_name.as_deref().is_none_or(str::is_empty))
    {
        s.err(
            codes::GATEWAY_API_SCHEMA,
            &path,
            "sectionName must be specified when parentRefs includes 2 or more references to the same parent",
        );
    } else if refs.iter().any(|p| {
        refs.iter()
            .filter(|o| same(p, o) && o.section_name == p.section_name)
            .count()
            > 1
    }) {
        s.err(
            codes::GATEWAY_API_SCHEMA,
            &path,
            "sectionName must be unique when parentRefs includes 2 or more references to the same parent",
        );
    }
}

fn http_rule(rule: &HttpRouteRule, p: &YamlPath, s: &mut Sink<'_>) {
    for (j, m) in rule.matches.iter().enumerate() {
        path_match(m, &p.key("matches").index(j), s);
    }
    filters(&rule.filters, &p.key("filters"), s);
    let has_redirect = rule.filters.iter().any(|f| f.request_redirect.is_some());
    if !rule.backend_refs.is_empty() && has_redirect {
        s.err(
            codes::GATEWAY_API_SCHEMA,
            p,
            "RequestRedirect filter must not be used together with backendRefs",
        );
    }
    let one_prefix = rule.matches.len() == 1
        && rule.matches[0]
            .path
            .as_ref()
            .is_some_and(|m| m.kind.as_deref().unwrap_or("PathPrefix") == "PathPrefix");
    let replaces_prefix = |m: Option<&HttpPathModifier>| {
        m.is_some_and(|m| m.kind == "ReplacePrefixMatch" && m.replace_prefix_match.is_some())
    };
    // A rule without matches gets the default `PathPrefix /` match, which counts as one.
    let one_prefix = one_prefix || rule.matches.is_empty();
    for (what, uses) in [
        (
            "RequestRedirect",
            rule.filters.iter().any(|f| {
                replaces_prefix(f.request_redirect.as_ref().and_then(|r| r.path.as_ref()))
            }),
        ),
        (
            "URLRewrite",
            rule.filters
                .iter()
                .any(|f| replaces_prefix(f.url_rewrite.as_ref().and_then(|r| r.path.as_ref()))),
        ),
    ] {
        if uses && !one_prefix {
            s.err(
                codes::GATEWAY_API_SCHEMA,
                p,
                format!("When using {what} filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified"),
            );
        }
    }
    for (bi, b) in rule.backend_refs.iter().enumerate() {
        let bp = p.key("backendRefs").index(bi);
        if b.group.as_deref().unwrap_or("").is_empty()
            && b.kind.as_deref().unwrap_or("Service") == "Service"
            && b.port.is_none()
        {
            s.err(
                codes::GATEWAY_API_SCHEMA,
                &bp,
                "Must have port for Service reference",
            );
        }
        filters(&b.filters, &bp.key("filters"), s);
    }
    if let Some(t) = &rule.timeouts {
        let d = |v: &Option<String>| {
            v.as_deref()
                .and_then(|x| crate::config::Duration::parse(x).ok())
        };
        if let (Some(req), Some(backend)) = (d(&t.request), d(&t.backend_request))
            && req.nanos != 0
            && backend > req
        {
            s.err(
                codes::GATEWAY_API_SCHEMA,
                &p.key("timeouts"),
                "backendRequest timeout cannot be longer than request timeout",
            );
        }
    }
}

/// The path match rules of `HTTPPathMatch`.
fn path_match(m: &HttpRouteMatch, p: &YamlPath, s: &mut Sink<'_>) {
    let Some(path) = &m.path else { return };
    let kind = path.kind.as_deref().unwrap_or("PathPrefix");
    let value = path.value.as_deref().unwrap_or("/");
    let pp = p.key("path");
    if !matches!(kind, "Exact" | "PathPrefix" | "RegularExpression") {
        s.err(
            codes::GATEWAY_API_SCHEMA,
            &pp,
            "type must be one of ['Exact', 'PathPrefix', 'RegularExpression']",
        );
        return;
    }
    if kind == "RegularExpression" {
        return;
    }
    let when = "when type one of ['Exact', 'PathPrefix']";
    let checks: [(bool, String); 9] = [
        (
            value.starts_with('/'),
            format!("value must be an absolute path and start with '/' {when}"),
        ),
        (
            !value.contains("//"),
            format!("must not contain '//' {when}"),
        ),
        (
            !value.contains("/./"),
            format!("must not contain '/./' {when}"),
        ),
        (
            !value.contains("/../"),
            format!("must not contain '/../' {when}"),
        ),
        (
            !value.contains("%2f"),
            format!("must not contain '%2f' {when}"),
        ),
        (
            !value.contains("%2F"),
            format!("must not contain '%2F' {when}"),
        ),
        (!value.contains('#'), format!("must not contain '#' {when}")),
        (
            !value.ends_with("/.."),
            format!("must not end with '/..' {when}"),
        ),
        (
            !value.ends_with("/."),
            format!("must not end with '/.' {when}"),
        ),
    ];
    for (holds, msg) in checks {
        if !holds {
            s.err(codes::GATEWAY_API_SCHEMA, &pp, msg);
        }
    }
    if !valid_path_chars(value) {
        s.err(
            codes::GATEWAY_API_SCHEMA,
            &pp,
            "must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']",
        );
    }
}

/// A filter list: type ↔ field, no repeats, redirect and rewrite exclusive, path modifiers.
fn filters(fs: &[HttpRouteFilter], p: &YamlPath, s: &mut Sink<'_>) {
    for t in [
        "CORS",
        "RequestHeaderModifier",
        "ResponseHeaderModifier",
        "RequestRedirect",
        "URLRewrite",
    ] {
        if fs.iter().filter(|f| f.kind == t).count() > 1 {
            s.err(
                codes::GATEWAY_API_SCHEMA,
                p,
                format!("{t} filter cannot be repeated"),
            );
        }
    }
    if fs.iter().any(|f| f.kind == "RequestRedirect") && fs.iter().any(|f| f.kind == "URLRewrite") {
        s.err(
            codes::GATEWAY_API_SCHEMA,
            p,
            "May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both",
        );
    }
    for (i, f) in fs.iter().enumerate() {
        let fp = p.index(i);
        if !FILTER_TYPES.contains(&f.kind.as_str()) {
            s.err(
                codes::GATEWAY_API_SCHEMA,
                &fp.key("type"),
                format!(
                    "unsupported value {:?}: supported values: {}",
                    f.kind,
                    FILTER_TYPES.map(|t| format!("{t:?}")).join(", ")
                ),
            );
        }
        let fields: [(&str, &str, bool); 7] = [
            (
                "requestHeaderModifier",
                "RequestHeaderModifier",
                f.request_header_modifier.is_some(),
            ),
            (
                "responseHeaderModifier",
                "ResponseHeaderModifier",
                f.response_header_modifier.is_some(),
            ),
            ("requestMirror", "RequestMirror", f.request_mirror.is_some()),
            (
                "requestRedirect",
                "RequestRedirect",
                f.request_redirect.is_some(),
            ),
            ("urlRewrite", "URLRewrite", f.url_rewrite.is_some()),
            ("extensionRef", "ExtensionRef", f.extension_ref.is_some()),
            ("cors", "CORS", f.cors.is_some()),
        ];
        for (field, kind, present) in fields {
            if present && f.kind != kind {
                s.err(
                    codes::GATEWAY_API_SCHEMA,
                    &fp,
                    format!("filter.{field} must be nil if the filter.type is not {kind}"),
                );
            }
            if !present && f.kind == kind {
                let msg = if kind == "CORS" {
                    "filter.cors must be specified for CORS filter.type".to_string()
                } else {
                    format!("filter.{field} must be specified for {kind} filter.type")
                };
                s.err(codes::GATEWAY_API_SCHEMA, &fp, msg);
            }
        }
        if let Some(m) = &f.request_mirror {
            if m.percent.is_some() && m.fraction.is_some() {
                s.err(
                    codes::GATEWAY_API_SCHEMA,
                    &fp.key("requestMirror"),
                    "Only one of percent or fraction may be specified in HTTPRequestMirrorFilter",
                );
            }
            if let Some(fr) = &m.fraction
                && fr.numerator > fr.denominator.unwrap_or(100)
            {
                s.err(
                    codes::GATEWAY_API_SCHEMA,
                    &fp.key("requestMirror").key("fraction"),
                    "numerator must be less than or equal to denominator",
                );
            }
        }
        if let Some(r) = &f.request_redirect {
            let rp = fp.key("requestRedirect");
            if let Some(c) = r.status_code
                && !matches!(c, 301 | 302 | 303 | 307 | 308)
            {
                s.err(
                    codes::GATEWAY_API_SCHEMA,
                    &rp.key("statusCode"),
                    format!("unsupported value {c}: supported values: 301, 302, 303, 307, 308"),
                );
            }
            if let Some(sc) = &r.scheme
                && !matches!(sc.as_str(), "http" | "https")
            {
                s.err(
                    codes::GATEWAY_API_SCHEMA,
                    &rp.key("scheme"),
                    format!("unsupported value {sc:?}: supported values: \"http\", \"https\""),
                );
            }
            path_modifier(r.path.as_ref(), &rp.key("path"), s);
        }
        if let Some(u) = &f.url_rewrite {
            path_modifier(u.path.as_ref(), &fp.key("urlRewrite").key("path"), s);
        }
    }
}

fn path_modifier(m: Option<&HttpPathModifier>, p: &YamlPath, s: &mut Sink<'_>) {
    let Some(m) = m else { return };
    let checks = [
        (
            m.kind != "ReplaceFullPath" || m.replace_full_path.is_some(),
            "replaceFullPath must be specified when type is set to 'ReplaceFullPath'",
        ),
        (
            m.replace_full_path.is_none() || m.kind == "ReplaceFullPath",
            "type must be 'ReplaceFullPath' when replaceFullPath is set",
        ),
        (
            m.kind != "ReplacePrefixMatch" || m.replace_prefix_match.is_some(),
            "replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'",
        ),
        (
            m.replace_prefix_match.is_none() || m.kind == "ReplacePrefixMatch",
            "type must be 'ReplacePrefixMatch' when replacePrefixMatch is set",
        ),
    ];
    for (holds, msg) in checks {
        if !holds {
            s.err(codes::GATEWAY_API_SCHEMA, p, msg);
        }
    }
}

/// The schema's `Hostname` pattern, for a listener's or a route's hostname.
fn hostname(h: &str, p: &YamlPath, s: &mut Sink<'_>) {
    if !valid_hostname(h) {
        s.err(
            codes::GATEWAY_API_SCHEMA,
            p,
            format!("hostname {h:?} must match ^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"),
        );
    }
}

/// `^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`.
fn valid_hostname(h: &str) -> bool {
    let h = h.strip_prefix("*.").unwrap_or(h);
    !h.is_empty()
        && h.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

/// `^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$`.
fn valid_path_chars(v: &str) -> bool {
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            if i + 2 >= b.len() || !(b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit()) {
                return false;
            }
            i += 3;
            continue;
        }
        if !(c.is_ascii_alphanumeric() || b"-/._~!$&'()*+,;=:@".contains(&c)) {
            return false;
        }
        i += 1;
    }
    !b.is_empty()
}
