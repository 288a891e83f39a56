//! Policy unit tests: expectations about routes, destinations, endpoints, statuses, rewrites,
//! mirrors, retries, shares and stickiness, checked against the simulator, with coverage of
//! the VirtualService rules the tests exercised.
//!
//! Every test runs on a fresh simulator with a fixed seed, so results are the same on every
//! run: a statistical expectation that passes once passes always, for the same files. The
//! default sample for `share` is 20,000 requests: for a 10% share, one standard deviation is
//! 0.21%, so a tolerance of ±1% is 4.7 σ and a correct policy would fail it with probability
//! 3·10⁻⁶ for a fresh seed (the fixed seed makes that a fixed outcome, not a flake).

mod cases;
mod coverage;
mod names;

pub use cases::{DEFAULT_SHARE_REQUESTS, parse_share, parse_test_file, parse_test_file_strict};
pub use coverage::{Coverage, Uncovered};
pub use names::unknown_names;

use crate::config::{
    Delegate, Headers, HttpFaultInjection, HttpRedirect, HttpRewrite, HttpRoute,
    HttpRouteDestination,
};
use crate::diag::Location;
use crate::model::{Mesh, resolve_host};
use crate::route::Request;
use crate::sim::{Decision, SimOptions, Simulator};
use crate::trace::Trace;
use std::collections::{BTreeMap, BTreeSet};

/// A test in internal form, whatever file format it came from.
#[derive(Clone, Debug)]
pub struct TestCase {
    /// Name.
    pub name: String,
    /// Where it is written.
    pub location: Location,
    /// The requests (a cartesian product already expanded).
    pub requests: Vec<Request>,
    /// How many times each request is sent.
    pub repeat: u64,
    /// Seed (the run's seed otherwise).
    pub seed: Option<u64>,
    /// Forced per-stream random value (Envoy's route check tool `random_value`).
    pub random_value: Option<u64>,
    /// What must hold.
    pub check: Check,
}

/// Expectations, evaluated per request except `shares` and `same_endpoint`.
#[derive(Clone, Debug, Default)]
pub struct Check {
    /// Route label.
    pub route: Option<String>,
    /// VirtualService.
    pub virtual_service: Option<String>,
    /// Virtual host name.
    pub virtual_host: Option<String>,
    /// Destination host.
    pub host: Option<String>,
    /// The destination service's namespace.
    pub namespace: Option<String>,
    /// Subset.
    pub subset: Option<String>,
    /// Port.
    pub port: Option<u32>,
    /// Cluster.
    pub cluster: Option<String>,
    /// Endpoint.
    pub endpoint: Option<String>,
    /// Workload (trailing `*`: prefix).
    pub workload: Option<String>,
    /// Status.
    pub status: Option<u16>,
    /// Flags.
    pub flags: Option<String>,
    /// Redirect location or path.
    pub redirect: Option<String>,
    /// Path after rewrite.
    pub rewrite_uri: Option<String>,
    /// Authority after rewrite.
    pub rewrite_authority: Option<String>,
    /// What the upstream receives.
    pub upstream: Option<crate::config::tests::UpstreamExpect>,
    /// The client's response headers.
    pub response: Option<crate::config::tests::ResponseExpect>,
    /// Mirror hosts.
    pub mirrors: Option<Vec<String>>,
    /// Tries, inclusive range.
    pub attempts: Option<(u32, u32)>,
    /// (key, expected share, tolerance).
    pub shares: Vec<(String, f64, f64)>,
    /// All on one endpoint.
    pub same_endpoint: Option<bool>,
    /// None of these may hold.
    pub not: Option<Box<Check>>,
    /// istio-config-validator's comparison of the matched rule.
    pub icv: Option<IcvExpect>,
}

/// istio-config-validator's expectation: the fields of the matched rule, as written.
#[derive(Clone, Debug, Default)]
pub struct IcvExpect {
    /// True: the rule matched has these fields; false: it does not (or nothing matched).
    pub want_match: bool,
    /// `route`.
    pub route: Option<Vec<HttpRouteDestination>>,
    /// `redirect`.
    pub redirect: Option<HttpRedirect>,
    /// `rewrite`.
    pub rewrite: Option<HttpRewrite>,
    /// `fault`.
    pub fault: Option<HttpFaultInjection>,
    /// `headers`.
    pub headers: Option<Headers>,
    /// The root rule's `delegate`.
    pub delegate: Option<Delegate>,
}

/// One expectation that did not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Which expectation (`subset`, `share v2`, `not route`, ...).
    pub what: String,
    /// Expected.
    pub expected: String,
    /// Found.
    pub actual: String,
}

/// The result of one test.
#[derive(Clone, Debug)]
pub struct TestResult {
    /// Name.
    pub name: String,
    /// Where it is written.
    pub location: Location,
    /// Requests decided.
    pub requests: u64,
    /// What failed (empty: passed).
    pub failures: Vec<Failure>,
    /// The first failing request and its trace (none when only the stream's shares or
    /// stickiness failed: then `observed` tells more than any one request).
    pub first_failing: Option<(Request, Decision, Trace)>,
    /// Requests that failed a per-request expectation.
    pub failing_requests: u64,
    /// Where the requests went (destination, or status when they had none), with counts,
    /// for a stream expectation that failed.
    pub observed: Vec<(String, u64)>,
}

impl TestResult {
    /// Did it pass?
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The results of a suite.
#[derive(Clone, Debug)]
pub struct SuiteResult {
    /// Per test, in order.
    pub tests: Vec<TestResult>,
    /// Rules and weighted destinations exercised.
    pub coverage: Coverage,
}

impl SuiteResult {
    /// Tests that passed.
    pub fn passed(&self) -> usize {
        self.tests.iter().filter(|t| t.passed()).count()
    }
    /// Tests that failed.
    pub fn failed(&self) -> usize {
        self.tests.len() - self.passed()
    }
}

fn short(host: &str) -> &str {
    crate::sim::short_host(host)
}

fn same_host(expected: &str, actual: &str) -> bool {
    let e = resolve_host(expected, "default");
    e == actual || short(actual) == expected
}

fn workload_matches(expected: &str, actual: &str) -> bool {
    match expected.strip_suffix('*') {
        Some(p) => actual.starts_with(p),
        None => expected == actual,
    }
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "(none)".into())
}

/// The per-request checks, each as (what, holds, expected, actual).
fn per_request(c: &Check, d: &Decision, vh: Option<&str>) -> Vec<(String, bool, String, String)> {
    let mut out = Vec::new();
    let mut push = |what: &str, holds: bool, exp: String, act: String| {
        out.push((what.to_string(), holds, exp, act))
    };
    if let Some(r) = &c.route {
        let ok = d.route.as_deref() == Some(r.as_str()) || d.route_label() == *r;
        push("route", ok, r.clone(), opt(&d.route));
    }
    if let Some(v) = &c.virtual_service {
        let act = d.virtual_service.clone();
        let ok = act
            .as_deref()
            .is_some_and(|a| a == v || a.split('/').nth(1) == Some(v.as_str()));
        push("virtualService", ok, v.clone(), opt(&act));
    }
    if let Some(v) = &c.virtual_host {
        push(
            "virtual host",
            vh == Some(v.as_str()),
            v.clone(),
            vh.unwrap_or("(none)").to_string(),
        );
    }
    let dest = d.destination.as_ref();
    if let Some(h) = &c.host {
        let act = dest.map(|d| d.host.clone());
        push(
            "host",
            act.as_deref().is_some_and(|a| same_host(h, a)),
            h.clone(),
            opt(&act),
        );
    }
    if let Some(ns) = &c.namespace {
        // `name.namespace.svc.cluster.local`: the Kubernetes Service's namespace.
        let act = dest.and_then(|d| d.host.split('.').nth(1).map(str::to_string));
        push(
            "namespace",
            act.as_deref() == Some(ns.as_str()),
            ns.clone(),
            opt(&act),
        );
    }
    if let Some(s) = &c.subset {
        push(
            "subset",
            d.subset.as_deref() == Some(s.as_str()),
            s.clone(),
            opt(&d.subset),
        );
    }
    if let Some(p) = c.port {
        let act = dest.map(|d| d.port);
        push(
            "port",
            act == Some(p),
            p.to_string(),
            act.map_or("(none)".into(), |p| p.to_string()),
        );
    }
    // Fields compared as exact strings, in the order failures are reported.
    let exact = |want: &Option<String>, got: &Option<String>| {
        want.as_ref()
            .map(|w| (got.as_deref() == Some(w.as_str()), w.clone(), opt(got)))
    };
    for (what, want, got) in [
        ("cluster", &c.cluster, &d.cluster),
        ("endpoint", &c.endpoint, &d.endpoint),
    ] {
        if let Some((ok, e, a)) = exact(want, got) {
            push(what, ok, e, a);
        }
    }
    if let Some(w) = &c.workload {
        let ok = d
            .workload
            .as_deref()
            .is_some_and(|a| workload_matches(w, a));
        push("workload", ok, w.clone(), opt(&d.workload));
    }
    if let Some(s) = c.status {
        push("status", d.status == s, s.to_string(), d.status.to_string());
    }
    if let Some(f) = &c.flags {
        push(
            "flags",
            d.flags.to_string() == *f,
            f.clone(),
            d.flags.to_string(),
        );
    }
    if let Some(r) = &c.redirect {
        let ok = d.redirect.as_deref().is_some_and(|loc| {
            loc == r
                || (r.starts_with('/')
                    && loc
                        .split_once("://")
                        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
                        == Some(r.as_str()))
        });
        push("redirect", ok, r.clone(), opt(&d.redirect));
    }
    for (what, want, got) in [
        ("rewrite uri", &c.rewrite_uri, &d.rewrite_path),
        (
            "rewrite authority",
            &c.rewrite_authority,
            &d.rewrite_authority,
        ),
    ] {
        if let Some((ok, e, a)) = exact(want, got) {
            push(what, ok, e, a);
        }
    }
    if let Some(u) = &c.upstream {
        upstream_checks(u, d, &mut push);
    }
    if let Some(r) = &c.response {
        response_checks(r, d, &mut push);
    }
    if let Some(m) = &c.mirrors {
        let exp: BTreeSet<String> = m.iter().map(|h| resolve_host(h, "default")).collect();
        let act: BTreeSet<String> = d.mirrors.iter().map(|x| x.host.clone()).collect();
        push(
            "mirrors",
            exp == act,
            format!("{:?}", m),
            format!("{:?}", act.iter().map(|h| short(h)).collect::<Vec<_>>()),
        );
    }
    if let Some((lo, hi)) = c.attempts {
        let n = d.attempts.len() as u32;
        let exp = if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}..{hi}")
        };
        push("attempts", (lo..=hi).contains(&n), exp, n.to_string());
    }
    out
}

/// `upstream`: each field against what the upstream receives (nothing, when the request was
/// not forwarded).
fn upstream_checks(
    u: &crate::config::tests::UpstreamExpect,
    d: &Decision,
    push: &mut impl FnMut(&str, bool, String, String),
) {
    let up = d.upstream.as_ref();
    let none = || "(not forwarded)".to_string();
    for (what, want, got) in [
        (
            "upstream authority",
            &u.authority,
            up.map(|x| x.authority.clone()),
        ),
        ("upstream path", &u.path, up.map(|x| x.path.clone())),
    ] {
        if let Some(w) = want {
            push(
                what,
                got.as_deref() == Some(w.as_str()),
                w.clone(),
                got.unwrap_or_else(none),
            );
        }
    }
    for (name, want) in u.headers.iter().flatten() {
        let got = up.and_then(|x| x.header(name));
        push(
            &format!("upstream header {name}"),
            got.as_deref() == Some(want.as_str()),
            want.clone(),
            got.unwrap_or_else(|| {
                if up.is_some() {
                    "(absent)".into()
                } else {
                    none()
                }
            }),
        );
    }
    for name in u.absent_headers.iter().flatten() {
        let got = up.and_then(|x| x.header(name));
        push(
            &format!("upstream header {name}"),
            up.is_some() && got.is_none(),
            "(absent)".into(),
            got.unwrap_or_else(none),
        );
    }
}

/// `response`: the route's response header changes applied, as Envoy applies them, to the
/// headers the test says the upstream answers with.
fn response_checks(
    r: &crate::config::tests::ResponseExpect,
    d: &Decision,
    push: &mut impl FnMut(&str, bool, String, String),
) {
    let mut headers: Vec<(String, String)> = r
        .backend_headers
        .iter()
        .flatten()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .collect();
    if let Some(changes) = &d.response_headers {
        changes.apply(&mut headers);
    }
    for (name, want) in r.headers.iter().flatten() {
        let got = crate::route::header_value(&headers, name);
        push(
            &format!("response header {name}"),
            got.as_deref() == Some(want.as_str()),
            want.clone(),
            got.unwrap_or_else(|| "(absent)".into()),
        );
    }
    for name in r.absent_headers.iter().flatten() {
        let got = crate::route::header_value(&headers, name);
        push(
            &format!("response header {name}"),
            got.is_none(),
            "(absent)".into(),
            got.unwrap_or_default(),
        );
    }
}

/// Does a decision count towards a share key? Keys name a subset, a destination
/// (`host subset`), a host, a workload, an endpoint, a route or a status code.
fn share_key_matches(key: &str, d: &Decision) -> bool {
    (key.len() == 3 && key.parse::<u16>() == Ok(d.status))
        || d.subset.as_deref() == Some(key)
        || d.destination_label() == key
        || d.destination
            .as_ref()
            .is_some_and(|x| same_host(key, &x.host) && d.subset.is_none())
        || d.workload
            .as_deref()
            .is_some_and(|w| workload_matches(key, w))
        || d.endpoint.as_deref() == Some(key)
        || d.route.as_deref() == Some(key)
}

fn icv_check(x: &IcvExpect, mesh: &Mesh, d: &Decision) -> Option<Failure> {
    let rule: Option<(HttpRoute, Option<&Delegate>)> = d.rule.map(|r| {
        let root = &mesh.virtual_services[r.virtual_service].spec.http[r.rule];
        match r.delegate {
            Some((dv, dr)) => (
                mesh.virtual_services[dv].spec.http[dr].clone(),
                root.delegate.as_ref(),
            ),
            None => (root.clone(), root.delegate.as_ref()),
        }
    });
    let mut mismatches = Vec::new();
    if let Some((rule, delegate)) = &rule {
        if let Some(r) = &x.route
            && r != &rule.route
        {
            mismatches.push("route");
        }
        if x.redirect.is_some() && x.redirect != rule.redirect {
            mismatches.push("redirect");
        }
        if x.rewrite.is_some() && x.rewrite != rule.rewrite {
            mismatches.push("rewrite");
        }
        if x.fault.is_some() && x.fault != rule.fault {
            mismatches.push("fault");
        }
        if x.headers.is_some() && x.headers != rule.headers {
            mismatches.push("headers");
        }
        if let Some(dl) = &x.delegate
            && Some(&dl.name) != delegate.map(|d| &d.name)
        {
            mismatches.push("delegate");
        }
    }
    let matched = rule.is_some() && mismatches.is_empty();
    if matched == x.want_match {
        return None;
    }
    let actual = match (&rule, d.virtual_service.as_deref()) {
        (None, _) => format!("no VirtualService rule matched ({} {})", d.status, d.flags),
        (Some(_), vs) => format!(
            "rule {} of {} matched{}",
            d.route.clone().unwrap_or_default(),
            vs.unwrap_or("?"),
            if mismatches.is_empty() {
                " with every expected field".to_string()
            } else {
                format!(", but its {} differ", mismatches.join(", "))
            }
        ),
    };
    Some(Failure {
        what: format!("wantMatch {}", x.want_match),
        expected: if x.want_match {
            "a matching rule with the expected fields".into()
        } else {
            "no rule with the expected fields".into()
        },
        actual,
    })
}

/// Runs one test on its own simulator.
pub fn run_test(
    mesh: &Mesh,
    t: &TestCase,
    options: SimOptions,
    coverage: &mut Coverage,
) -> TestResult {
    let options = SimOptions {
        seed: t.seed.unwrap_or(options.seed),
        ..options
    };
    let mut res = TestResult {
        name: t.name.clone(),
        location: t.location.clone(),
        requests: 0,
        failures: Vec::new(),
        first_failing: None,
        failing_requests: 0,
        observed: Vec::new(),
    };
    let mut sim = match Simulator::with_options(mesh, options) {
        Ok(s) => s,
        Err(d) => {
            res.failures.push(Failure {
                what: "mesh".into(),
                expected: "a mesh that compiles".into(),
                actual: d
                    .iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            });
            return res;
        }
    };
    let c = &t.check;
    let mut share_counts = vec![0u64; c.shares.len()];
    let mut endpoints: BTreeSet<Option<String>> = BTreeSet::new();
    let mut first_fail: Option<u64> = None;
    let mut seen_failures: BTreeSet<String> = BTreeSet::new();
    let mut observed: BTreeMap<String, u64> = BTreeMap::new();
    let mut index = 0u64;
    for req in &t.requests {
        for _ in 0..t.repeat {
            let d = match t.random_value {
                Some(v) => sim.decide_with_random_value(req, v),
                None => sim.decide(req),
            };
            coverage.record(&d);
            res.requests += 1;
            let vh = None;
            let mut failed = false;
            for (what, holds, exp, act) in per_request(c, &d, vh) {
                if !holds {
                    failed = true;
                    if seen_failures.insert(what.clone()) {
                        res.failures.push(Failure {
                            what,
                            expected: exp,
                            actual: act,
                        });
                    }
                }
            }
            if let Some(n) = &c.not {
                for (what, holds, exp, act) in per_request(n, &d, vh) {
                    if holds {
                        failed = true;
                        let what = format!("not {what}");
                        if seen_failures.insert(what.clone()) {
                            res.failures.push(Failure {
                                what,
                                expected: format!("anything but {exp}"),
                                actual: act,
                            });
                        }
                    }
                }
            }
            if let Some(x) = &c.icv
                && let Some(f) = icv_check(x, mesh, &d)
            {
                failed = true;
                if seen_failures.insert(format!("{} {}", f.what, req)) {
                    res.failures.push(Failure {
                        what: format!("{} for {req}", f.what),
                        ..f
                    });
                }
            }
            if c.virtual_host.is_some() {
                let vh_name = sim.virtual_host_name(req);
                if let Some((what, holds, exp, act)) = per_request(
                    &Check {
                        virtual_host: c.virtual_host.clone(),
                        ..Check::default()
                    },
                    &d,
                    vh_name.as_deref(),
                )
                .pop()
                    && !holds
                {
                    failed = true;
                    if seen_failures.insert(what.clone()) {
                        res.failures.push(Failure {
                            what,
                            expected: exp,
                            actual: act,
                        });
                    }
                }
            }
            for (i, (k, _, _)) in c.shares.iter().enumerate() {
                if share_key_matches(k, &d) {
                    share_counts[i] += 1;
                }
            }
            if c.same_endpoint.is_some() {
                endpoints.insert(d.endpoint.clone());
            }
            if !c.shares.is_empty() || c.same_endpoint.is_some() {
                let key = match (&d.destination, &d.endpoint, c.same_endpoint.is_some()) {
                    (_, Some(e), true) => format!("{e} ({})", d.workload.as_deref().unwrap_or("-")),
                    (Some(_), _, _) => d.destination_label(),
                    (None, _, _) => format!("status {}", d.status),
                };
                *observed.entry(key).or_default() += 1;
            }
            if failed {
                res.failing_requests += 1;
            }
            if failed && first_fail.is_none() {
                first_fail = Some(index);
            }
            index += 1;
        }
    }
    let n = res.requests.max(1) as f64;
    for (i, (k, exp, tol)) in c.shares.iter().enumerate() {
        let got = share_counts[i] as f64 / n;
        if (got - exp).abs() > *tol + 1e-12 {
            res.failures.push(Failure {
                what: format!("share {k}"),
                expected: format!("{:.2}% ± {:.2}%", exp * 100.0, tol * 100.0),
                actual: format!(
                    "{:.2}% ({} of {})",
                    got * 100.0,
                    share_counts[i],
                    res.requests
                ),
            });
        }
    }
    if let Some(want) = c.same_endpoint {
        let same = endpoints.len() == 1;
        if same != want {
            res.failures.push(Failure {
                what: "same_endpoint".into(),
                expected: want.to_string(),
                actual: format!(
                    "{} distinct endpoint(s): {}",
                    endpoints.len(),
                    endpoints
                        .iter()
                        .take(4)
                        .map(|e| e.clone().unwrap_or_else(|| "none".into()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    if !res.failures.is_empty() {
        res.observed = observed.into_iter().collect();
    }
    // The trace of the first failing request: replay the test up to it, then explain it.
    if let Some(at) = first_fail.filter(|_| !res.failures.is_empty())
        && let Ok(mut replay) = Simulator::with_options(mesh, options)
    {
        let mut i = 0u64;
        'outer: for req in &t.requests {
            for _ in 0..t.repeat {
                if i == at {
                    let (d, trace) = replay.explain(req);
                    res.first_failing = Some((req.clone(), d, trace));
                    break 'outer;
                }
                match t.random_value {
                    Some(v) => {
                        replay.decide_with_random_value(req, v);
                    }
                    None => {
                        replay.decide(req);
                    }
                }
                i += 1;
            }
        }
    }
    res
}

/// Runs every test; coverage is over every VirtualService rule of the mesh.
pub fn run_suite(mesh: &Mesh, tests: &[TestCase], options: SimOptions) -> SuiteResult {
    let mut coverage = Coverage::of(mesh);
    let results = tests
        .iter()
        .map(|t| run_test(mesh, t, options, &mut coverage))
        .collect();
    SuiteResult {
        tests: results,
        coverage,
    }
}
