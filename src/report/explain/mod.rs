//! One request explained: the events of its decision as text (`meshsim explain`, and the
//! traces `test`, `diff` and the HTML report show) or as the JSON document
//! `meshsim explain -o json` prints (`docs/explain-json.md`), which tools read.
//!
//! ```
//! use meshsim::{Mesh, route::Request, sim::Simulator};
//! use meshsim::report::explain::{Explanation, explain_text};
//! let mesh = Mesh::load(&["policies/canary-cookie"]).unwrap();
//! let mut sim = Simulator::new(&mesh).unwrap();
//! let req = Request::get("myweb-service").with_header("cookie", "a=1");
//! let (d, trace) = sim.explain(&req);
//! assert!(explain_text(&req, &d, &trace).contains("rule 1 \"default\": matches"));
//! let doc = Explanation::new(&req, &d, &trace);
//! let json = serde_json::to_string(&doc).unwrap();
//! let back: Explanation = serde_json::from_str(&json).unwrap();
//! assert_eq!(back, doc);
//! assert_eq!(back.result.status, 200);
//! ```

pub mod text;
pub mod why;

use crate::analyze::RuleFinding;
use crate::route::Request;
use crate::sim::{Decision, LbChoice};
use crate::trace::{DestinationRef, Trace, TraceEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;
use text::ms;

pub use text::{
    destination_text, event_lines, lb_text, matcher_text, mismatch_text, pick_text, route_label,
};

/// The version of the document's shape; it changes only if a field is removed or changes
/// meaning (new fields and events may appear without a change).
pub const SCHEMA: &str = "meshsim.explain/v1";

/// One request, the events of its decision, and the result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Explanation {
    /// [`SCHEMA`].
    pub schema: String,
    /// The request as decided.
    pub request: RequestDoc,
    /// What happened, stage by stage.
    pub events: Vec<TraceEvent>,
    /// The decision.
    pub result: ResultDoc,
}

/// A request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RequestDoc {
    /// `:method`.
    pub method: String,
    /// `:scheme`.
    pub scheme: String,
    /// `:authority`, with its port if given.
    pub authority: String,
    /// `:path` with the query.
    pub path: String,
    /// Headers in order, as `[name, value]` (names lowercased).
    pub headers: Vec<(String, String)>,
    /// The calling workload, if named.
    pub source: Option<SourceDoc>,
    /// The entry gateway, if any.
    pub gateway: Option<String>,
}

/// The calling workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SourceDoc {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its IP.
    pub ip: Option<String>,
    /// Its namespace.
    pub namespace: Option<String>,
}

/// The decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResultDoc {
    /// The status the client sees (0: no answer).
    pub status: u16,
    /// Envoy response flags as `%RESPONSE_FLAGS%` prints them (`-` for none).
    pub flags: String,
    /// The VirtualService (`namespace/name`) of the route, if any.
    pub virtual_service: Option<String>,
    /// The route's label, if one matched.
    pub route: Option<String>,
    /// The destination chosen.
    pub destination: Option<DestinationRef>,
    /// Its Envoy cluster.
    pub cluster: Option<String>,
    /// The last try's endpoint.
    pub endpoint: Option<String>,
    /// Its workload.
    pub workload: Option<String>,
    /// Forwarded to the address the client dialled.
    pub passthrough: bool,
    /// A redirect's `Location`.
    pub redirect: Option<String>,
    /// The path sent upstream after a rewrite.
    pub rewrite_path: Option<String>,
    /// The authority sent upstream after a rewrite.
    pub rewrite_authority: Option<String>,
    /// What the upstream receives (forwarded requests).
    pub upstream: Option<crate::sim::UpstreamRequest>,
    /// The route's response header changes.
    pub response_headers: Option<crate::sim::ResponseHeaderChanges>,
    /// The hash key, when a hash policy applied.
    pub hash_key: Option<String>,
    /// A `Set-Cookie` Envoy adds.
    pub set_cookie: Option<String>,
    /// How the balancer chose the first try's endpoint.
    pub lb: Option<LbChoice>,
    /// Arrival on the simulated clock.
    pub arrival_ns: u64,
    /// How long the client waited.
    pub duration_ns: u64,
    /// Every try.
    pub attempts: Vec<AttemptDoc>,
    /// Mirrored copies.
    pub mirrors: Vec<MirrorDoc>,
}

/// One try.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AttemptDoc {
    /// The endpoint.
    pub endpoint: Option<String>,
    /// Its workload.
    pub workload: Option<String>,
    /// The status this try would give the client.
    pub status: u16,
    /// The status, or `refused`, `reset`, `timeout`.
    pub outcome: String,
    /// Start, since the request arrived.
    pub start_ns: u64,
    /// End, since the request arrived.
    pub end_ns: u64,
}

/// One mirrored copy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MirrorDoc {
    /// The mirror's host.
    pub host: String,
    /// Its subset.
    pub subset: Option<String>,
    /// The copy's authority.
    pub authority: String,
    /// The endpoint it went to.
    pub endpoint: Option<String>,
    /// Its workload.
    pub workload: Option<String>,
}

impl Explanation {
    /// The document for one explained request.
    pub fn new(req: &Request, d: &Decision, trace: &Trace) -> Self {
        Explanation {
            schema: SCHEMA.into(),
            request: RequestDoc {
                method: req.method.clone(),
                scheme: req.scheme.clone(),
                authority: req.authority.clone(),
                path: req.path.clone(),
                headers: req.headers.clone(),
                source: req.source.as_ref().map(|s| SourceDoc {
                    labels: s.labels.clone(),
                    ip: s.ip.clone(),
                    namespace: s.namespace.clone(),
                }),
                gateway: req.gateway.clone(),
            },
            events: trace.0.clone(),
            result: ResultDoc::new(d),
        }
    }
}

impl ResultDoc {
    fn new(d: &Decision) -> Self {
        ResultDoc {
            status: d.status,
            flags: d.flags.to_string(),
            virtual_service: d.virtual_service.clone(),
            route: d.route.clone(),
            destination: d.destination.as_ref().map(|x| DestinationRef {
                host: x.host.clone(),
                subset: x.subset.clone(),
                port: x.port,
            }),
            cluster: d.cluster.clone(),
            endpoint: d.endpoint.clone(),
            workload: d.workload.clone(),
            passthrough: d.passthrough,
            redirect: d.redirect.clone(),
            rewrite_path: d.rewrite_path.clone(),
            rewrite_authority: d.rewrite_authority.clone(),
            upstream: d.upstream.clone(),
            response_headers: d.response_headers.clone(),
            hash_key: d.hash_key.clone(),
            set_cookie: d.set_cookie.clone(),
            lb: d.lb.clone(),
            arrival_ns: d.arrival,
            duration_ns: d.duration,
            attempts: d
                .attempts
                .iter()
                .map(|a| AttemptDoc {
                    endpoint: a.endpoint.clone(),
                    workload: a.workload.clone(),
                    status: a.status,
                    outcome: a.outcome.clone(),
                    start_ns: a.start.saturating_sub(d.arrival),
                    end_ns: a.end.saturating_sub(d.arrival),
                })
                .collect(),
            mirrors: d
                .mirrors
                .iter()
                .map(|m| MirrorDoc {
                    host: m.host.clone(),
                    subset: m.subset.clone(),
                    authority: m.authority.clone(),
                    endpoint: m.endpoint.clone(),
                    workload: m.workload.clone(),
                })
                .collect(),
        }
    }
}

/// The readable trace of one request: the request, an indented line per event (with its
/// "why" beneath), then the result and each try.
pub fn explain_text(req: &Request, d: &Decision, trace: &Trace) -> String {
    explain_text_noting(req, d, trace, &[])
}

/// [`explain_text`], with analysis findings shown under the rules they concern.
pub fn explain_text_noting(
    req: &Request,
    d: &Decision,
    trace: &Trace,
    findings: &[RuleFinding],
) -> String {
    let mut out = String::new();
    if d.index > 0 {
        let _ = writeln!(out, "request #{} of the stream: {req}", d.index);
    } else {
        let _ = writeln!(out, "request: {req}");
    }
    out.push_str(&events_text_noting(&trace.0, "  ", findings));
    out.push_str(&result_text(d, "  "));
    out
}

/// The events, one line each with `indent`, their reasons under them.
pub fn events_text(events: &[TraceEvent], indent: &str) -> String {
    events_text_noting(events, indent, &[])
}

/// [`events_text`], with each analysis finding under the tried rule it concerns.
pub fn events_text_noting(events: &[TraceEvent], indent: &str, findings: &[RuleFinding]) -> String {
    let mut out = String::new();
    for e in events {
        let (line, whys) = event_lines(e);
        let _ = writeln!(out, "{indent}{line}");
        for w in whys {
            let _ = writeln!(out, "{indent}    why: {w}");
        }
        if let TraceEvent::RouteTried { route, .. } = e {
            for f in findings.iter().filter(|f| {
                route.virtual_service.as_ref() == Some(&f.virtual_service) && route.rule == f.rule
            }) {
                let d = &f.finding;
                let _ = writeln!(
                    out,
                    "{indent}    analysis: {}[{}]: {}",
                    d.severity, d.code, d.message
                );
                if let Some(h) = &d.hint {
                    let _ = writeln!(out, "{indent}      hint: {h}");
                }
            }
        }
    }
    out
}

/// `result: 200 -, route ..., destination, endpoint`, then each try and mirror under it.
pub fn result_text(d: &Decision, indent: &str) -> String {
    let mut out = String::new();
    let _ = write!(out, "result: {} {}", d.status, d.flags);
    if d.route.is_some() {
        let _ = write!(out, ", route {}", d.route_label());
    }
    if d.destination.is_some() {
        let _ = write!(out, ", {}", d.destination_label());
    }
    if let Some(e) = &d.endpoint {
        let _ = write!(out, ", {e} ({})", d.workload.as_deref().unwrap_or("-"));
    }
    if d.passthrough {
        out.push_str(match d.cluster.as_deref() {
            Some("PassthroughCluster") | None => ", PassthroughCluster",
            Some(_) => ", original destination (ORIGINAL_DST)",
        });
    }
    if let Some(r) = &d.redirect {
        let _ = write!(out, ", Location: {r}");
    }
    if d.attempts.len() > 1 || d.duration > 0 {
        let _ = write!(out, ", after {}", ms(d.duration));
        for (i, a) in d.attempts.iter().enumerate() {
            let _ = write!(
                out,
                "\n{indent}try {}: {} ({}) {} → {}: {}",
                i + 1,
                a.endpoint.as_deref().unwrap_or("-"),
                a.workload.as_deref().unwrap_or("-"),
                ms(a.start.saturating_sub(d.arrival)),
                ms(a.end.saturating_sub(d.arrival)),
                a.outcome
            );
        }
    }
    for m in &d.mirrors {
        let _ = write!(out, "\n{indent}mirrored to {} as {}", m.host, m.authority);
    }
    if let Some(c) = &d.set_cookie {
        let _ = write!(out, "\n{indent}Set-Cookie: {c}");
    }
    out.push('\n');
    out
}

/// The JSON document, pretty-printed.
pub fn explain_json(req: &Request, d: &Decision, trace: &Trace) -> String {
    serde_json::to_string_pretty(&Explanation::new(req, d, trace)).unwrap_or_default()
}
