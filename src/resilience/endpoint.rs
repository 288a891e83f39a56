//! How an endpoint behaves, described with `meshsim.io/*` annotations on the workload that owns
//! it, so that the same files still apply to a real cluster unchanged.
//!
//! | annotation | meaning |
//! |---|---|
//! | `meshsim.io/fail-rate: "0.5"` | each request fails with this probability |
//! | `meshsim.io/fail-rate-query: failRate` | the fail rate, in percent, from that query parameter (e.g. `?failRate=50`); `fail-rate` is the default when the parameter is absent |
//! | `meshsim.io/failure: "503"` | how a request fails: a status code (default 503), `reset`, `timeout` (never answers) or `crash` (no answer, then connection refused until restart) |
//! | `meshsim.io/restart: "5s"` | how long a crashed endpoint stays down (default 10s, kubelet's first back-off) |
//! | `meshsim.io/latency: "20ms"` | time to answer: fixed, `exp:20ms` (exponential with that mean) or `uniform:10ms-50ms` |
//! | `meshsim.io/failure-delay: "5s"` | time before a failure happens (same syntax; default: the latency) |
//!
//! Tests in Rust can set behaviours directly, without annotations:
//!
//! ```
//! use meshsim::{Mesh, route::Request, sim::Simulator};
//! use meshsim::resilience::endpoint::{Behaviour, Failure};
//! let mut mesh = Mesh::load(&["policies/retry/workloads.yaml"]).unwrap();
//! for pod in &mut mesh.topology.instances {
//!     pod.behaviour = Behaviour { fail_rate: 1.0, failure: Failure::Status(503), ..Behaviour::default() };
//! }
//! let d = Simulator::new(&mesh).unwrap().decide(&Request::get("retry-service"));
//! // Istio's default policy no longer retries a 503 from the application (since 1.24).
//! assert_eq!((d.status, d.attempts.len()), (503, 1));
//! ```

use crate::common::rng::SimRng;
use crate::config::{Duration, StringMap};

/// The annotation prefix.
pub const PREFIX: &str = "meshsim.io/";

/// How a failing request fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The application answers with this status.
    Status(u16),
    /// The connection is reset (no response).
    Reset,
    /// No answer, ever.
    Timeout,
    /// No answer; the process exits, resetting every connection, and the endpoint refuses
    /// connections until it restarts.
    Crash,
}

/// A duration distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Latency {
    /// Always this.
    Fixed(Duration),
    /// Exponential with this mean.
    Exponential(Duration),
    /// Uniform between the two.
    Uniform(Duration, Duration),
}

impl Latency {
    /// Draws one value (nanoseconds). Uses one random value, or none for a fixed latency.
    pub fn sample(&self, rng: &mut SimRng) -> u64 {
        match *self {
            Latency::Fixed(d) => d.nanos,
            Latency::Exponential(mean) => {
                let u = rng.next_f64();
                (-(1.0 - u).ln() * mean.nanos as f64) as u64
            }
            Latency::Uniform(a, b) => a.nanos + rng.below(b.nanos - a.nanos + 1),
        }
    }

    /// Parses `20ms`, `exp:20ms` or `uniform:10ms-50ms`.
    pub fn parse(s: &str) -> Result<Latency, String> {
        let s = s.trim();
        if let Some(m) = s.strip_prefix("exp:") {
            return Ok(Latency::Exponential(Duration::parse(m)?));
        }
        if let Some(r) = s.strip_prefix("uniform:") {
            let (a, b) = r.split_once('-').ok_or_else(|| {
                format!("`{s}`: expected uniform:MIN-MAX, e.g. uniform:10ms-50ms")
            })?;
            let (a, b) = (Duration::parse(a)?, Duration::parse(b)?);
            if b < a {
                return Err(format!("`{s}`: the maximum is below the minimum"));
            }
            return Ok(Latency::Uniform(a, b));
        }
        Duration::parse(s)
            .map(Latency::Fixed)
            .map_err(|e| format!("{e}; expected a duration (20ms), exp:MEAN or uniform:MIN-MAX"))
    }
}

/// An endpoint's behaviour. The default answers 200 at once.
#[derive(Clone, Debug, PartialEq)]
pub struct Behaviour {
    /// Probability that a request fails.
    pub fail_rate: f64,
    /// Query parameter giving the fail rate in percent.
    pub fail_rate_query: Option<String>,
    /// How failures fail.
    pub failure: Failure,
    /// How long a crashed endpoint is down.
    pub restart: Duration,
    /// Time to answer.
    pub latency: Latency,
    /// Time before a failure (default: the latency).
    pub failure_delay: Option<Latency>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            fail_rate: 0.0,
            fail_rate_query: None,
            failure: Failure::Status(503),
            restart: Duration::from_secs(10),
            latency: Latency::Fixed(Duration::default()),
            failure_delay: None,
        }
    }
}

impl Behaviour {
    /// Does this endpoint ever misbehave or take time?
    pub fn is_trivial(&self) -> bool {
        self.fail_rate == 0.0
            && self.fail_rate_query.is_none()
            && self.latency == Latency::Fixed(Duration::default())
    }

    /// Reads the annotations; an error names the annotation and what was expected.
    pub fn from_annotations(a: &StringMap) -> Result<Behaviour, (String, String)> {
        let mut b = Behaviour::default();
        for (k, v) in a {
            let Some(key) = k.strip_prefix(PREFIX) else {
                continue;
            };
            let err = |m: String| (k.clone(), m);
            match key {
                "fail-rate" => {
                    let r: f64 = v.trim().parse().map_err(|_| {
                        err(format!(
                            "`{v}` is not a probability: use a number from 0 to 1, e.g. \"0.5\""
                        ))
                    })?;
                    if !(0.0..=1.0).contains(&r) {
                        return Err(err(format!(
                            "{r} is not a probability between 0 and 1 (for percent, use meshsim.io/fail-rate-query)"
                        )));
                    }
                    b.fail_rate = r;
                }
                "fail-rate-query" => {
                    if v.trim().is_empty() {
                        return Err(err(
                            "expected the name of a query parameter, e.g. failRate".into()
                        ));
                    }
                    b.fail_rate_query = Some(v.trim().to_string());
                }
                "failure" => {
                    b.failure = match v.trim() {
                        "reset" => Failure::Reset,
                        "timeout" => Failure::Timeout,
                        "crash" => Failure::Crash,
                        s => match s.parse::<u16>() {
                            Ok(c) if (100..=599).contains(&c) => Failure::Status(c),
                            _ => {
                                return Err(err(format!(
                                    "`{v}`: expected a status code (100-599), reset, timeout or crash"
                                )));
                            }
                        },
                    }
                }
                "restart" => b.restart = Duration::parse(v).map_err(err)?,
                "latency" => b.latency = Latency::parse(v).map_err(err)?,
                "failure-delay" => b.failure_delay = Some(Latency::parse(v).map_err(err)?),
                other => {
                    return Err(err(format!(
                        "unknown meshsim annotation `{other}`; meshsim reads fail-rate, fail-rate-query, failure, restart, latency and failure-delay"
                    )));
                }
            }
        }
        Ok(b)
    }

    /// The fail rate for a request with this path (the query parameter, if configured and
    /// present, in percent).
    pub fn fail_rate_for(&self, path: &str) -> f64 {
        if let Some(q) = &self.fail_rate_query {
            let query = path.split_once('?').map_or("", |x| x.1);
            for kv in query.split('&') {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                if k == q
                    && let Ok(p) = v.parse::<f64>()
                {
                    return (p / 100.0).clamp(0.0, 1.0);
                }
            }
        }
        self.fail_rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> StringMap {
        pairs
            .iter()
            .map(|(k, v)| (format!("{PREFIX}{k}"), v.to_string()))
            .collect()
    }

    #[test]
    fn the_tutorial_backend() {
        let b = Behaviour::from_annotations(&ann(&[
            ("fail-rate-query", "failRate"),
            ("failure", "crash"),
            ("restart", "5s"),
            ("failure-delay", "5s"),
        ]))
        .unwrap();
        assert_eq!(b.failure, Failure::Crash);
        assert_eq!(b.fail_rate_for("/?failRate=50"), 0.5);
        assert_eq!(b.fail_rate_for("/"), 0.0);
        assert_eq!(
            b.failure_delay,
            Some(Latency::Fixed(Duration::from_secs(5)))
        );
    }

    #[test]
    fn invalid_values_name_the_annotation() {
        for (k, v) in [
            ("fail-rate", "50%"),
            ("fail-rate", "2"),
            ("failure", "boom"),
            ("latency", "fast"),
            ("restart", "-1s"),
            ("colour", "red"),
        ] {
            let e = Behaviour::from_annotations(&ann(&[(k, v)])).unwrap_err();
            assert_eq!(e.0, format!("{PREFIX}{k}"));
        }
        assert_eq!(
            Latency::parse("uniform:10ms-50ms").unwrap(),
            Latency::Uniform(Duration::from_millis(10), Duration::from_millis(50))
        );
        assert_eq!(
            Latency::parse("exp:20ms").unwrap(),
            Latency::Exponential(Duration::from_millis(20))
        );
    }

    #[test]
    fn latency_samples_stay_in_range_and_have_the_mean() {
        let mut r = SimRng::new(1, 0);
        let u = Latency::Uniform(Duration::from_millis(10), Duration::from_millis(50));
        let e = Latency::Exponential(Duration::from_millis(20));
        let mut sum = 0u128;
        for _ in 0..100_000 {
            let x = u.sample(&mut r);
            assert!((10_000_000..=50_000_000).contains(&x));
            sum += e.sample(&mut r) as u128;
        }
        let mean_ms = sum as f64 / 100_000.0 / 1e6;
        assert!((mean_ms - 20.0).abs() < 0.5, "{mean_ms}");
    }
}
