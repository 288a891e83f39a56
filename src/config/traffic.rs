//! Request files: JSONL (one request per line) and the traffic spec (YAML) that generates a
//! stream from weighted request templates and populations of users.

use super::types::{Duration, StringMap};
use crate::diag::{Diagnostic, Location, codes};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A header value: one string or several (a header sent more than once).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum HeaderValue {
    /// One value.
    One(String),
    /// Several values, in order.
    Many(Vec<String>),
}

/// The calling workload.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Labels of the caller (a pod with these labels is the client).
    #[serde(default)]
    pub labels: StringMap,
    /// The caller's IP.
    pub ip: Option<String>,
    /// The caller's namespace.
    pub namespace: Option<String>,
}

/// A request written out field by field (JSONL lines, traffic templates).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// Host header (required).
    pub authority: String,
    /// Method (default GET).
    pub method: Option<String>,
    /// Scheme (default http).
    pub scheme: Option<String>,
    /// Path with query (default `/`).
    pub path: Option<String>,
    /// Headers.
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderValue>,
    /// The caller.
    pub source: Option<SourceSpec>,
    /// Entry gateway.
    pub gateway: Option<String>,
    /// Arrival time on the simulated clock (e.g. `1.5s`).
    pub time: Option<Duration>,
    /// The port the client connects to, when not the authority's.
    pub port: Option<u32>,
}

/// Parses JSONL: one request object per line; blank lines and `#` comments are skipped. Every
/// bad line is reported with its line and column.
pub fn parse_jsonl(file: &str, text: &str) -> (Vec<(u32, RequestSpec)>, Vec<Diagnostic>) {
    let file: Arc<str> = file.into();
    let mut out = Vec::new();
    let mut diags = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        match serde_json::from_str::<RequestSpec>(t) {
            Ok(r) => out.push((i as u32 + 1, r)),
            Err(e) => diags.push(
                Diagnostic::error(codes::INVALID_VALUE, format!("invalid request: {e}"))
                    .at(Location {
                        file: file.clone(),
                        line: i as u32 + 1,
                        column: e.column().max(1) as u32,
                    })
                    .with_hint(r#"one JSON object per line, e.g. {"authority": "myweb-service", "headers": {"cookie": "usertype=tester"}}"#),
            ),
        }
    }
    (out, diags)
}

/// A generated stream.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficSpec {
    /// Seed (the command line's `--seed` wins).
    pub seed: Option<u64>,
    /// Number of requests (the command line's `-n` wins).
    pub requests: Option<u64>,
    /// Request templates, chosen by weight.
    pub mix: Vec<Template>,
    /// Populations whose members fill `{name}` placeholders in templates.
    #[serde(default)]
    pub populations: Vec<Population>,
}

/// One weighted request template: either `request` in the short form or the fields of
/// [`RequestSpec`].
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Relative weight (default 1).
    #[serde(default = "one")]
    pub weight: u32,
    /// Short form: `GET http://myweb-service/ cookie:usertype={user}`.
    pub request: Option<String>,
    /// Host header.
    pub authority: Option<String>,
    /// Method.
    pub method: Option<String>,
    /// Path.
    pub path: Option<String>,
    /// Headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The caller.
    pub source: Option<SourceSpec>,
    /// Entry gateway.
    pub gateway: Option<String>,
}

fn one() -> u32 {
    1
}

/// A population of `size` members named `<prefix><k>` (k from 1), drawn uniformly or by Zipf.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// Placeholder name: `{user}` in a template.
    pub name: String,
    /// Number of members.
    pub size: u64,
    /// `uniform` (default) or `zipf:S` (rank k drawn with probability ∝ 1/k^S).
    pub distribution: Option<String>,
    /// Member name prefix (default: the name and a dash, `user-17`).
    pub prefix: Option<String>,
}

/// Parses a traffic spec.
pub fn parse_traffic(file: &str, text: &str) -> Result<TrafficSpec, Diagnostic> {
    let loc = |l: Option<serde_saphyr::Location>| Location {
        file: file.into(),
        line: l.map_or(1, |l| l.line() as u32),
        column: l.map_or(1, |l| l.column() as u32),
    };
    let mut path = None;
    let r = serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = Some(e.path().to_string());
            e.into_inner()
        })
    });
    r.map_err(|e| {
        let msg = e.to_string();
        let msg = msg.lines().next().unwrap_or("").to_string();
        let msg = match msg.rfind(" at line ") {
            Some(i) => msg[..i].to_string(),
            None => msg,
        };
        Diagnostic::error(codes::INVALID_VALUE, format!("invalid traffic spec: {msg}"))
            .at(loc(e.location()))
            .with_path(path.unwrap_or_default().trim_start_matches('.').to_string())
    })
}
