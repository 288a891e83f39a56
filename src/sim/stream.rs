//! Request streams: a list of requests, one request repeated, or a traffic spec expanded into
//! requests with a seed. Generated streams are a function of the seed and the request index
//! only, so they can be cut into chunks anywhere.

use crate::common::rng::SimRng;
use crate::config::traffic::{HeaderValue, Population, RequestSpec, SourceSpec, TrafficSpec};
use crate::route::{Request, Source};

/// Turns a [`RequestSpec`] (JSONL line) into a request.
pub fn from_spec(s: &RequestSpec) -> Request {
    let mut r = Request::get(&s.authority);
    if let Some(m) = &s.method {
        r.method = m.to_ascii_uppercase();
    }
    if let Some(sc) = &s.scheme {
        r.scheme = sc.to_ascii_lowercase();
    }
    if let Some(p) = &s.path {
        r.path = if p.starts_with('/') {
            p.clone()
        } else {
            format!("/{p}")
        };
    }
    for (k, v) in &s.headers {
        let name = k.to_ascii_lowercase();
        match v {
            HeaderValue::One(v) => r.headers.push((name, v.clone())),
            HeaderValue::Many(vs) => {
                for v in vs {
                    r.headers.push((name.clone(), v.clone()));
                }
            }
        }
    }
    r.source = s.source.as_ref().map(source);
    r.gateway = s.gateway.clone();
    r.time = s.time.map(|t| t.nanos);
    r
}

fn source(s: &SourceSpec) -> Source {
    Source {
        labels: s.labels.clone(),
        ip: s.ip.clone(),
        namespace: s.namespace.clone(),
    }
}

enum Draw {
    Uniform,
    /// Cumulative probabilities by rank.
    Zipf(Vec<f64>),
}

struct Pop {
    name: String,
    size: u64,
    prefix: String,
    draw: Draw,
}

/// Most members a Zipf population may have (its CDF is kept in memory).
pub const MAX_ZIPF_POPULATION: u64 = 10_000_000;

/// A generator of requests from a traffic spec.
pub struct Generator {
    templates: Vec<(u32, Request)>,
    total_weight: u64,
    pops: Vec<Pop>,
    seed: u64,
}

impl Generator {
    /// Prepares the templates and populations; errors name the template or population.
    pub fn new(spec: &TrafficSpec, seed: u64) -> Result<Self, String> {
        if spec.mix.is_empty() {
            return Err("the traffic spec has no `mix` templates".into());
        }
        let mut templates = Vec::new();
        for (i, t) in spec.mix.iter().enumerate() {
            let mut r = match (&t.request, &t.authority) {
                (Some(short), None) => {
                    Request::parse_short(short).map_err(|e| format!("mix[{i}].request: {e}"))?
                }
                (None, Some(a)) => Request::get(a),
                (Some(_), Some(_)) => {
                    return Err(format!(
                        "mix[{i}]: give either `request` or `authority`, not both"
                    ));
                }
                (None, None) => return Err(format!("mix[{i}]: needs `request` or `authority`")),
            };
            if let Some(m) = &t.method {
                r.method = m.to_ascii_uppercase();
            }
            if let Some(p) = &t.path {
                r.path = p.clone();
            }
            for (k, v) in &t.headers {
                r.headers.push((k.to_ascii_lowercase(), v.clone()));
            }
            r.source = t.source.as_ref().map(source);
            if t.gateway.is_some() {
                r.gateway = t.gateway.clone();
            }
            templates.push((t.weight, r));
        }
        let total_weight = templates.iter().map(|(w, _)| *w as u64).sum();
        if total_weight == 0 {
            return Err("the weights of `mix` add up to 0".into());
        }
        let pops = spec
            .populations
            .iter()
            .map(population)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Generator {
            templates,
            total_weight,
            pops,
            seed,
        })
    }

    /// Request number `index` of the stream.
    pub fn request(&self, index: u64) -> Request {
        let mut rng = SimRng::new(self.seed ^ 0x7472_6166_6669_6300, index);
        let mut pick = rng.below(self.total_weight);
        let mut template = &self.templates[0].1;
        for (w, t) in &self.templates {
            if pick < *w as u64 {
                template = t;
                break;
            }
            pick -= *w as u64;
        }
        let mut r = template.clone();
        if self.pops.is_empty() {
            return r;
        }
        // Each population is drawn once per request, so `{user}` is the same member everywhere
        // in it.
        let members: Vec<(String, String)> = self
            .pops
            .iter()
            .map(|p| {
                let k = match &p.draw {
                    Draw::Uniform => rng.below(p.size) + 1,
                    Draw::Zipf(cdf) => {
                        let u = rng.next_f64();
                        cdf.partition_point(|&c| c < u) as u64 + 1
                    }
                };
                (format!("{{{}}}", p.name), format!("{}{k}", p.prefix))
            })
            .collect();
        let fill = |s: &mut String| {
            if s.contains('{') {
                for (ph, v) in &members {
                    *s = s.replace(ph.as_str(), v);
                }
            }
        };
        fill(&mut r.authority);
        fill(&mut r.path);
        for (_, v) in &mut r.headers {
            fill(v);
        }
        r
    }
}

fn population(p: &Population) -> Result<Pop, String> {
    if p.size == 0 {
        return Err(format!("population `{}` has size 0", p.name));
    }
    let draw = match p.distribution.as_deref().unwrap_or("uniform") {
        "uniform" => Draw::Uniform,
        d => {
            let s: f64 = d
                .strip_prefix("zipf:")
                .and_then(|s| s.parse().ok())
                .filter(|s: &f64| s.is_finite() && *s > 0.0)
                .ok_or_else(|| format!("population `{}`: distribution `{d}` is neither `uniform` nor `zipf:S` with S > 0", p.name))?;
            if p.size > MAX_ZIPF_POPULATION {
                return Err(format!(
                    "population `{}`: a Zipf population may have at most {MAX_ZIPF_POPULATION} members",
                    p.name
                ));
            }
            let mut cdf = Vec::with_capacity(p.size as usize);
            let mut acc = 0.0;
            for k in 1..=p.size {
                acc += 1.0 / (k as f64).powf(s);
                cdf.push(acc);
            }
            for c in &mut cdf {
                *c /= acc;
            }
            Draw::Zipf(cdf)
        }
    };
    Ok(Pop {
        name: p.name.clone(),
        size: p.size,
        prefix: p.prefix.clone().unwrap_or_else(|| format!("{}-", p.name)),
        draw,
    })
}
