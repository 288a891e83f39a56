//! The summary of a stream: counts per route, destination, endpoint, status and mirror. Its size
//! depends on the configuration, never on the number of requests.

use super::decision::{Decision, DestinationOut, Flags, short_host};
use super::latency::Latencies;
use serde::Serialize;
use std::collections::BTreeMap;

/// A count with the share the configuration predicts, when it predicts one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Count {
    /// Requests.
    pub count: u64,
    /// Expected fraction (of the parent group) from the weights, if weighted.
    pub expected: Option<f64>,
}

/// Counts over a stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Requests decided.
    pub requests: u64,
    /// Per route label.
    pub routes: BTreeMap<String, u64>,
    /// Per (route label, destination label).
    pub destinations: BTreeMap<(String, String), Count>,
    /// Per (destination label, endpoint, workload), with the share of the destination the
    /// balancer is expected to give it.
    pub endpoints: BTreeMap<(String, String, String), Count>,
    /// Per (status, flags).
    pub statuses: BTreeMap<(u16, String), u64>,
    /// Mirrored copies per (host, endpoint).
    pub mirrors: BTreeMap<(String, String), u64>,
    /// Requests forwarded to their original destination.
    pub passthrough: u64,
    /// Requests answered with a 2xx or 3xx status.
    pub succeeded: u64,
    /// Requests per number of tries.
    pub tries: BTreeMap<usize, u64>,
    /// How long clients waited.
    pub latency: Latencies,
}

impl Summary {
    /// Adds one decision.
    pub fn record(&mut self, d: &Decision) {
        self.record_n(d, 1);
    }

    /// Adds `n` requests that all got decision `d` (as far as a summary can tell).
    pub fn record_n(&mut self, d: &Decision, n: u64) {
        self.requests += n;
        let route = d.route_label();
        bump(&mut self.routes, &route, n);
        if d.destination.is_some() {
            let dest = d.destination_label();
            let key = (route, dest.clone());
            let c = self.destinations.entry(key).or_default();
            c.count += n;
            if let Some((w, total)) = d.weight.filter(|&(_, t)| t > 0) {
                c.expected = Some(w as f64 / total as f64);
            } else {
                c.expected = Some(1.0);
            }
            if let Some(ep) = &d.endpoint {
                let key = (
                    dest,
                    ep.clone(),
                    d.workload.clone().unwrap_or_else(|| "-".into()),
                );
                let c = self.endpoints.entry(key).or_default();
                c.count += n;
                c.expected = d.endpoint_share.map(|(a, b)| a as f64 / b as f64);
            }
        }
        *self
            .statuses
            .entry((d.status, d.flags.to_string()))
            .or_default() += n;
        for m in &d.mirrors {
            self.record_mirror(&m.host, m.subset.as_deref(), m.endpoint.clone(), n);
        }
        if d.passthrough {
            self.passthrough += n;
        }
        if (200..400).contains(&d.status) {
            self.succeeded += n;
        }
        *self.tries.entry(d.attempts.len()).or_default() += n;
        self.latency.record_n(d.duration, n);
    }

    /// Adds `n` mirrored copies to `host` (and subset), served by `endpoint`.
    pub fn record_mirror(
        &mut self,
        host: &str,
        subset: Option<&str>,
        endpoint: Option<String>,
        n: u64,
    ) {
        let host = match subset {
            Some(s) => format!("{} {s}", short_host(host)),
            None => short_host(host).to_string(),
        };
        let key = (host, endpoint.unwrap_or_else(|| "-".into()));
        *self.mirrors.entry(key).or_default() += n;
    }

    /// Did time or retries play a part (is the resilience summary worth showing)?
    pub fn has_resilience(&self) -> bool {
        self.latency.max() > 0 || self.tries.keys().any(|&n| n > 1)
    }

    /// Share of requests that succeeded.
    pub fn success_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.succeeded as f64 / self.requests as f64
        }
    }

    /// Merges another summary (from another chunk of the same stream).
    pub fn merge(&mut self, o: &Summary) {
        self.requests += o.requests;
        for (k, v) in &o.routes {
            bump(&mut self.routes, k, *v);
        }
        for (k, v) in &o.destinations {
            let c = self.destinations.entry(k.clone()).or_default();
            c.count += v.count;
            c.expected = c.expected.or(v.expected);
        }
        for (k, v) in &o.endpoints {
            let c = self.endpoints.entry(k.clone()).or_default();
            c.count += v.count;
            c.expected = c.expected.or(v.expected);
        }
        for (k, v) in &o.statuses {
            *self.statuses.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.mirrors {
            *self.mirrors.entry(k.clone()).or_default() += v;
        }
        self.passthrough += o.passthrough;
        self.succeeded += o.succeeded;
        for (k, v) in &o.tries {
            *self.tries.entry(*k).or_default() += v;
        }
        self.latency.merge(&o.latency);
    }

    /// Requests that went to a destination label (any route).
    pub fn destination_count(&self, dest: &str) -> u64 {
        self.destinations
            .iter()
            .filter(|((_, d), _)| d == dest)
            .map(|(_, c)| c.count)
            .sum()
    }

    /// Requests sent to this destination (typed: the host as the decision names it, e.g.
    /// the FQDN, and the subset), over all routes.
    ///
    /// ```
    /// use meshsim::{Mesh, route::Request, sim::{DestinationOut, Simulator}};
    /// let mesh = Mesh::load(&["policies/canary-cookie"]).unwrap();
    /// let mut sim = Simulator::new(&mesh).unwrap();
    /// let s = sim.summarize(&[Request::get("myweb-service")][..], 1);
    /// let v1 = DestinationOut {
    ///     host: "myweb-service.default.svc.cluster.local".into(),
    ///     subset: Some("v1".into()),
    ///     port: 80,
    /// };
    /// assert_eq!(s.destination_requests(&v1), 1);
    /// assert_eq!(s.destination_requests(&v1), s.destination_count("myweb-service v1"));
    /// ```
    pub fn destination_requests(&self, d: &DestinationOut) -> u64 {
        let label = match &d.subset {
            Some(sub) => format!("{} {sub}", short_host(&d.host)),
            None => short_host(&d.host).to_string(),
        };
        self.destination_count(&label)
    }

    /// Requests answered with this status and these response flags (typed).
    pub fn status_flags_count(&self, status: u16, flags: Flags) -> u64 {
        self.statuses
            .get(&(status, flags.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Requests with this status.
    pub fn status_count(&self, status: u16) -> u64 {
        self.statuses
            .iter()
            .filter(|((s, _), _)| *s == status)
            .map(|(_, c)| c)
            .sum()
    }
}

fn bump(m: &mut BTreeMap<String, u64>, k: &str, by: u64) {
    match m.get_mut(k) {
        Some(v) => *v += by,
        None => {
            m.insert(k.to_string(), by);
        }
    }
}
