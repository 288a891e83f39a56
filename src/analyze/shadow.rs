//! Unreachable rules, decided exactly: a rule is unreachable when every one of its match
//! blocks is covered by a block of an earlier rule, i.e. the earlier block's conditions are a
//! subset of the later block's (URI prefixes and exact paths compared exactly, every other
//! condition by identity). istioctl's IST0130/IST0131 reason the same way.

use crate::config::{HttpMatchRequest, Resource, StringMatch, VirtualService, YamlPath};
use crate::diag::{Diagnostic, codes};

/// One block's URI condition.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Uri {
    Any,
    Exact(String),
    Prefix(String),
    Regex(String),
}

struct Block {
    uri: Uri,
    ignore_case: bool,
    /// Every other condition, as text, so that equality is identity.
    others: Vec<String>,
}

fn sm_text(m: &StringMatch) -> String {
    format!("{:?}/{:?}/{:?}", m.exact, m.prefix, m.regex)
}

fn block(m: Option<&HttpMatchRequest>) -> Block {
    let Some(m) = m else {
        return Block {
            uri: Uri::Any,
            ignore_case: false,
            others: Vec::new(),
        };
    };
    let uri = match &m.uri {
        None => Uri::Any,
        Some(u) => match (&u.exact, &u.prefix, &u.regex) {
            (Some(e), _, _) => Uri::Exact(e.clone()),
            (_, Some(p), _) if p.is_empty() || p == "/" => Uri::Any,
            (_, Some(p), _) => Uri::Prefix(p.clone()),
            (_, _, Some(r)) => Uri::Regex(r.clone()),
            _ => Uri::Any,
        },
    };
    let mut others = Vec::new();
    for (k, v) in &m.headers {
        others.push(format!("h:{}:{}", k.to_ascii_lowercase(), sm_text(v)));
    }
    for (k, v) in &m.without_headers {
        others.push(format!("w:{}:{}", k.to_ascii_lowercase(), sm_text(v)));
    }
    for (k, v) in &m.query_params {
        others.push(format!("q:{k}:{}", sm_text(v)));
    }
    for (k, v) in [("m", &m.method), ("a", &m.authority), ("s", &m.scheme)] {
        if let Some(v) = v {
            others.push(format!("{k}:{}", sm_text(v)));
        }
    }
    if let Some(p) = m.port {
        others.push(format!("port:{p}"));
    }
    for (k, v) in &m.source_labels {
        others.push(format!("sl:{k}={v}"));
    }
    for g in &m.gateways {
        others.push(format!("gw:{g}"));
    }
    if let Some(ns) = &m.source_namespace {
        others.push(format!("ns:{ns}"));
    }
    Block {
        uri,
        ignore_case: m.ignore_uri_case,
        others,
    }
}

/// Does every request `later` matches also match `earlier`?
fn covers(earlier: &Block, later: &Block) -> bool {
    let uri = match (&earlier.uri, &later.uri) {
        (Uri::Any, _) => true,
        (_, Uri::Any) => false,
        _ if earlier.ignore_case != later.ignore_case => false,
        (Uri::Prefix(p), Uri::Prefix(q)) | (Uri::Prefix(p), Uri::Exact(q)) => {
            if earlier.ignore_case {
                q.to_ascii_lowercase().starts_with(&p.to_ascii_lowercase())
            } else {
                q.starts_with(p.as_str())
            }
        }
        (Uri::Exact(a), Uri::Exact(b)) => {
            if earlier.ignore_case {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        }
        (Uri::Regex(a), Uri::Regex(b)) => a == b,
        _ => false,
    };
    uri && earlier.others.iter().all(|c| later.others.contains(c))
}

/// Finds rules shadowed by earlier ones.
pub fn unreachable_rules(r: &Resource<VirtualService>, out: &mut Vec<Diagnostic>) {
    let mut earlier: Vec<(usize, Block)> = Vec::new();
    for (i, h) in r.spec.http.iter().enumerate() {
        let blocks: Vec<Block> = if h.matches.is_empty() {
            vec![block(None)]
        } else {
            h.matches.iter().map(|m| block(Some(m))).collect()
        };
        let shadowers: Vec<usize> = blocks
            .iter()
            .map(|b| earlier.iter().find(|(_, e)| covers(e, b)).map(|(k, _)| *k))
            .collect::<Option<Vec<usize>>>()
            .unwrap_or_default();
        if !shadowers.is_empty() {
            let mut ks = shadowers.clone();
            ks.sort_unstable();
            ks.dedup();
            let p = YamlPath::root().key("spec").key("http").index(i);
            let by = ks
                .iter()
                .map(|k| format!("rule {k}"))
                .collect::<Vec<_>>()
                .join(" and ");
            out.push(
                Diagnostic::warning(
                    codes::UNREACHABLE_RULE,
                    format!("rule {i}{} is unreachable: {by} already match{} every request it matches (IST0130)",
                        h.name.as_deref().map(|n| format!(" {n:?}")).unwrap_or_default(),
                        if ks.len() == 1 { "es" } else { "" }),
                )
                .at(r.origin.locate(&p))
                .with_path(p.to_string()),
            );
        }
        earlier.extend(blocks.into_iter().map(|b| (i, b)));
    }
}
