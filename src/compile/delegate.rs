//! Delegate VirtualServices: a root rule with `delegate: {name, namespace}` is replaced by the
//! delegate's rules, each merged with the root rule as istiod does
//! (`pilot/pkg/model/virtualservice.go`: `mergeHTTPRoute`, `mergeHTTPMatchRequests`,
//! `hasConflict`). A delegate rule whose matches conflict with every root match disappears; a
//! missing delegate drops only that root rule, with a warning.

use crate::config::{HttpMatchRequest, HttpRoute, StringMatch, YamlPath};
use crate::diag::{Diagnostic, codes};
use crate::model::Mesh;
use std::cell::RefCell;

/// A rule after delegate expansion.
#[derive(Clone, Debug)]
pub(crate) struct ExpandedRule {
    /// The (merged) rule.
    pub rule: HttpRoute,
    /// Index of the root rule.
    pub root_rule: usize,
    /// The delegate VirtualService and rule, for delegated rules.
    pub delegate: Option<(usize, usize)>,
    /// Namespace in which the rule's hosts resolve (the delegate's for delegated rules).
    pub namespace: String,
    /// The VirtualService whose file holds the rule, and its path there.
    pub origin_vs: usize,
    pub path: YamlPath,
}

pub(crate) fn expand_delegates(
    mesh: &Mesh,
    vs_index: usize,
    diags: &RefCell<Vec<Diagnostic>>,
) -> Vec<ExpandedRule> {
    let vs = &mesh.virtual_services[vs_index];
    let mut out = Vec::new();
    for (i, rule) in vs.spec.http.iter().enumerate() {
        let path = YamlPath::root().key("spec").key("http").index(i);
        let Some(d) = &rule.delegate else {
            out.push(ExpandedRule {
                rule: rule.clone(),
                root_rule: i,
                delegate: None,
                namespace: vs.namespace.clone(),
                origin_vs: vs_index,
                path,
            });
            continue;
        };
        let ns = d.namespace.as_deref().unwrap_or(&vs.namespace);
        let child = mesh
            .virtual_services
            .iter()
            .position(|c| c.name == d.name && c.namespace == ns && c.spec.hosts.is_empty());
        let Some(ci) = child else {
            let d = Diagnostic::warning(
                codes::MISSING_DELEGATE,
                format!(
                    "delegate VirtualService {ns}/{} not found; Istio drops this rule",
                    d.name
                ),
            )
            .at(vs.origin.locate(&path.key("delegate")))
            .with_path(path.key("delegate").to_string());
            let mut v = diags.borrow_mut();
            if !v.contains(&d) {
                v.push(d);
            }
            continue;
        };
        let c = &mesh.virtual_services[ci];
        for (j, leaf) in c.spec.http.iter().enumerate() {
            let Some(merged) = merge_route(rule, leaf) else {
                let leaf_path = YamlPath::root().key("spec").key("http").index(j);
                let d = Diagnostic::warning(
                    codes::DELEGATE_CONFLICT,
                    format!(
                        "rule {j} of delegate {}/{} conflicts with the match of rule {i} of {}/{} (a regex on either side, or a path outside the root's): Istio drops it",
                        c.namespace, c.name, vs.namespace, vs.name
                    ),
                )
                .at(c.origin.locate(&leaf_path.key("match")))
                .with_path(leaf_path.key("match").to_string());
                let mut v = diags.borrow_mut();
                if !v.contains(&d) {
                    v.push(d);
                }
                continue;
            };
            {
                out.push(ExpandedRule {
                    rule: merged,
                    root_rule: i,
                    delegate: Some((ci, j)),
                    namespace: c.namespace.clone(),
                    origin_vs: ci,
                    path: YamlPath::root().key("spec").key("http").index(j),
                });
            }
        }
    }
    out
}

fn join_names(root: &Option<String>, leaf: &Option<String>) -> Option<String> {
    match (
        root.as_deref().filter(|s| !s.is_empty()),
        leaf.as_deref().filter(|s| !s.is_empty()),
    ) {
        (Some(r), Some(l)) => Some(format!("{r}-{l}")),
        (r, l) => l.or(r).map(str::to_string),
    }
}

fn merge_route(root: &HttpRoute, leaf: &HttpRoute) -> Option<HttpRoute> {
    let matches = merge_matches(&root.matches, &leaf.matches)?;
    let mut out = leaf.clone();
    out.matches = matches;
    out.name = join_names(&root.name, &leaf.name);
    if out.rewrite.is_none() {
        out.rewrite = root.rewrite.clone();
    }
    if out.direct_response.is_none() {
        out.direct_response = root.direct_response.clone();
    }
    if out.timeout.is_none() {
        out.timeout = root.timeout;
    }
    if out.retries.is_none() {
        out.retries = root.retries.clone();
    }
    if out.fault.is_none() {
        out.fault = root.fault.clone();
    }
    if out.mirror.is_none() {
        out.mirror = root.mirror.clone();
        out.mirror_percent = out.mirror_percent.or(root.mirror_percent);
        out.mirror_percentage = out.mirror_percentage.or(root.mirror_percentage);
    }
    if out.mirrors.is_empty() {
        out.mirrors = root.mirrors.clone();
    }
    if out.cors_policy.is_none() {
        out.cors_policy = root.cors_policy.clone();
    }
    if out.headers.is_none() {
        out.headers = root.headers.clone();
    }
    Some(out)
}

/// Every delegate match must refine some root match; `None` is a conflict (the rule is dropped).
fn merge_matches(
    root: &[HttpMatchRequest],
    leaf: &[HttpMatchRequest],
) -> Option<Vec<HttpMatchRequest>> {
    if root.is_empty() {
        return Some(leaf.to_vec());
    }
    if leaf.is_empty() {
        return Some(root.to_vec());
    }
    let mut out = Vec::new();
    for l in leaf {
        let mut found = false;
        for r in root {
            if has_conflict(r, l) {
                continue;
            }
            out.push(merge_match(r, l));
            found = true;
        }
        if !found {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

fn merge_match(root: &HttpMatchRequest, leaf: &HttpMatchRequest) -> HttpMatchRequest {
    let mut out = leaf.clone();
    out.name = join_names(&root.name, &leaf.name);
    out.uri = out.uri.or_else(|| root.uri.clone());
    out.scheme = out.scheme.or_else(|| root.scheme.clone());
    out.method = out.method.or_else(|| root.method.clone());
    out.authority = out.authority.or_else(|| root.authority.clone());
    let merge = |r: &std::collections::BTreeMap<String, StringMatch>,
                 l: &std::collections::BTreeMap<String, StringMatch>| {
        let mut m = r.clone();
        m.extend(l.clone());
        m
    };
    out.headers = merge(&root.headers, &leaf.headers);
    out.without_headers = merge(&root.without_headers, &leaf.without_headers);
    out.query_params = merge(&root.query_params, &leaf.query_params);
    if out.port.unwrap_or(0) == 0 {
        out.port = root.port;
    }
    let mut sl = root.source_labels.clone();
    sl.extend(leaf.source_labels.clone());
    out.source_labels = sl;
    if out.source_namespace.is_none() {
        out.source_namespace = root.source_namespace.clone();
    }
    if out.gateways.is_empty() {
        out.gateways = root.gateways.clone();
    }
    out
}

fn has_conflict(root: &HttpMatchRequest, leaf: &HttpMatchRequest) -> bool {
    let pairs = [
        (&root.uri, &leaf.uri),
        (&root.scheme, &leaf.scheme),
        (&root.method, &leaf.method),
        (&root.authority, &leaf.authority),
    ];
    if pairs
        .iter()
        .any(|(r, l)| string_match_conflict(r.as_ref(), l.as_ref()))
    {
        return true;
    }
    for (maps_r, maps_l) in [
        (&root.headers, &leaf.headers),
        (&root.without_headers, &leaf.without_headers),
        (&root.query_params, &leaf.query_params),
    ] {
        if maps_l
            .iter()
            .any(|(k, l)| string_match_conflict(maps_r.get(k), Some(l)))
        {
            return true;
        }
    }
    if root.ignore_uri_case != leaf.ignore_uri_case {
        return true;
    }
    if let (Some(r), Some(l)) = (root.port, leaf.port)
        && r > 0
        && l > 0
        && r != l
    {
        return true;
    }
    if root.source_namespace.is_some() && leaf.source_namespace != root.source_namespace {
        return true;
    }
    if leaf
        .source_labels
        .iter()
        .any(|(k, v)| root.source_labels.get(k).is_some_and(|v2| v2 != v))
    {
        return true;
    }
    if !root.gateways.is_empty()
        && !leaf.gateways.is_empty()
        && (root.gateways.len() < leaf.gateways.len()
            || leaf.gateways.iter().any(|g| !root.gateways.contains(g)))
    {
        return true;
    }
    false
}

fn string_match_conflict(root: Option<&StringMatch>, leaf: Option<&StringMatch>) -> bool {
    let (Some(r), Some(l)) = (root, leaf) else {
        return false;
    };
    if r.regex.as_deref().is_some_and(|s| !s.is_empty())
        || l.regex.as_deref().is_some_and(|s| !s.is_empty())
    {
        return true;
    }
    if let Some(exact) = r.exact.as_deref().filter(|e| !e.is_empty()) {
        if l.prefix.as_deref().is_some_and(|p| !p.is_empty()) {
            return true;
        }
        return l.exact.as_deref() != Some(exact);
    }
    if let Some(prefix) = r.prefix.as_deref().filter(|p| !p.is_empty()) {
        if let Some(lp) = l.prefix.as_deref().filter(|p| !p.is_empty()) {
            return !lp.starts_with(prefix);
        }
        if let Some(le) = l.exact.as_deref().filter(|e| !e.is_empty()) {
            return !le.starts_with(prefix);
        }
    }
    true
}
