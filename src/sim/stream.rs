//! Request streams: a list of requests, one request repeated, or a traffic spec expanded into
//! requests with a seed. Generated streams are a function of the seed and the request index
//! only, so they can be cut into chunks anywhere.

use crate::common::rng::{IndexRng, scale, unit};
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
    r.listener_port = s.port;
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

/// A piece of a template string: text as written, or a population's member.
enum Piece {
    Text(String),
    Member(usize),
}

/// A template string cut at its placeholders once, so that generating a request only copies.
struct Pattern(Vec<Piece>);

impl Pattern {
    /// `{name}` naming a population becomes its member; other braces stay as written.
    fn new(src: &str, pops: &[Pop]) -> Self {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = src;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| open + c) else {
                break;
            };
            text.push_str(&rest[..open]);
            match pops.iter().position(|p| p.name == rest[open + 1..close]) {
                Some(i) => {
                    // The member's prefix is fixed text too: one copy instead of two.
                    text.push_str(&pops[i].prefix);
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                    pieces.push(Piece::Member(i));
                }
                None => text.push_str(&rest[open..=close]),
            }
            rest = &rest[close + 1..];
        }
        text.push_str(rest);
        pieces.push(Piece::Text(text));
        Pattern(pieces)
    }

    /// Does the string depend on the members drawn (else it is the template's, always)?
    fn varies(&self) -> bool {
        self.0.iter().any(|p| matches!(p, Piece::Member(_)))
    }

    /// Writes the string for the drawn members' numbers into `dst`.
    fn write(&self, dst: &mut String, member: impl Fn(usize) -> u64) {
        dst.clear();
        for p in &self.0 {
            match p {
                Piece::Text(t) => dst.push_str(t),
                Piece::Member(i) => {
                    dst.push_str(crate::common::decimal::digits(member(*i), &mut [0; 20]));
                }
            }
        }
    }
}

/// A template's strings that may hold placeholders.
struct Patterns {
    authority: Pattern,
    path: Pattern,
    headers: Vec<Pattern>,
}

/// A generator of requests from a traffic spec.
pub struct Generator {
    templates: Vec<(u32, Request)>,
    patterns: Vec<Patterns>,
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
        let patterns = templates
            .iter()
            .map(|(_, r)| Patterns {
                authority: Pattern::new(&r.authority, &pops),
                path: Pattern::new(&r.path, &pops),
                headers: r
                    .headers
                    .iter()
                    .map(|(_, v)| Pattern::new(v, &pops))
                    .collect(),
            })
            .collect();
        Ok(Generator {
            templates,
            patterns,
            total_weight,
            pops,
            seed,
        })
    }

    /// Request number `index` of the stream.
    pub fn request(&self, index: u64) -> Request {
        let mut r = Request::get("");
        self.fill(index, &mut r);
        r
    }

    /// Writes request number `index` into `out`, reusing its strings: after the first few
    /// requests a stream is generated without allocating.
    pub fn fill(&self, index: u64, out: &mut Request) {
        self.fill_reusing(index, out, &mut 0);
    }

    /// [`fill`](Self::fill) for a buffer this generator filled last: `last` (0 for a buffer
    /// of unknown content) remembers the template written there, and when the next request
    /// comes from the same template only the strings with placeholders are rewritten. Half the
    /// cost of a generated request was copying the parts that never change.
    pub fn fill_reusing(&self, index: u64, out: &mut Request, last: &mut u64) {
        let mut rng = IndexRng::new(self.seed ^ 0x7472_6166_6669_6300, index);
        let mut pick = scale(rng.next_u64(), self.total_weight);
        let mut chosen = 0;
        for (i, (w, _)) in self.templates.iter().enumerate() {
            if pick < *w as u64 {
                chosen = i;
                break;
            }
            pick -= *w as u64;
        }
        let (template, patterns) = (&self.templates[chosen].1, &self.patterns[chosen]);
        // Each population is drawn once per request, so `{user}` is the same member everywhere
        // in it.
        let mut members = [0u64; 8];
        let mut many = Vec::new();
        for (i, p) in self.pops.iter().enumerate() {
            let k = match &p.draw {
                Draw::Uniform => scale(rng.next_u64(), p.size) + 1,
                Draw::Zipf(cdf) => {
                    let u = unit(rng.next_u64());
                    cdf.partition_point(|&c| c < u) as u64 + 1
                }
            };
            match members.get_mut(i) {
                Some(m) => *m = k,
                None => many.push(k),
            }
        }
        let member = |i: usize| members.get(i).copied().unwrap_or_else(|| many[i - 8]);
        if *last == chosen as u64 + 1 {
            if patterns.authority.varies() {
                patterns.authority.write(&mut out.authority, member);
            }
            if patterns.path.varies() {
                patterns.path.write(&mut out.path, member);
            }
            for (v, (_, ov)) in patterns.headers.iter().zip(&mut out.headers) {
                if v.varies() {
                    v.write(ov, member);
                }
            }
            return;
        }
        *last = chosen as u64 + 1;
        patterns.authority.write(&mut out.authority, member);
        out.method.clone_from(&template.method);
        out.scheme.clone_from(&template.scheme);
        patterns.path.write(&mut out.path, member);
        out.headers.truncate(template.headers.len());
        for (i, ((n, _), v)) in template.headers.iter().zip(&patterns.headers).enumerate() {
            match out.headers.get_mut(i) {
                Some((on, ov)) => {
                    on.clone_from(n);
                    v.write(ov, member);
                }
                None => {
                    let mut ov = String::new();
                    v.write(&mut ov, member);
                    out.headers.push((n.clone(), ov));
                }
            }
        }
        out.source.clone_from(&template.source);
        out.gateway.clone_from(&template.gateway);
        out.time = template.time;
    }
}

/// Requests addressed by index, which several threads may read at once: what the parallel
/// [`Simulator::summarize`](super::Simulator::summarize) runs over.
pub trait RequestSource: Sync {
    /// Number of requests.
    fn len(&self) -> u64;
    /// Is it empty?
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Writes request `index` into `out` (reusing its allocations where it can).
    fn fill(&self, index: u64, out: &mut Request);
    /// [`fill`](Self::fill) into a buffer only this source writes: `state` starts at 0 and is
    /// the source's to keep between calls (a generator notes which template the buffer holds).
    fn fill_reusing(&self, index: u64, out: &mut Request, state: &mut u64) {
        let _ = state;
        self.fill(index, out);
    }
    /// Request `index` itself, for sources that hold their requests: then nothing is copied.
    fn borrow(&self, index: u64) -> Option<&Request> {
        let _ = index;
        None
    }
}

impl RequestSource for [Request] {
    fn len(&self) -> u64 {
        <[Request]>::len(self) as u64
    }
    fn fill(&self, index: u64, out: &mut Request) {
        out.clone_from(&self[index as usize]);
    }
    fn borrow(&self, index: u64) -> Option<&Request> {
        self.get(index as usize)
    }
}

/// A stream of requests: a list, one request repeated, or generated from a traffic spec.
pub enum Stream {
    /// Requests in order.
    List(Vec<Request>),
    /// One request, repeated.
    Repeat(Box<Request>, u64),
    /// Generated from a traffic spec.
    Generated(Box<Generator>, u64),
}

impl Stream {
    /// Number of requests.
    pub fn len(&self) -> u64 {
        RequestSource::len(self)
    }

    /// Is it empty?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Do the requests carry arrival times?
    pub fn has_times(&self) -> bool {
        match self {
            Stream::List(v) => v.iter().any(|r| r.time.is_some()),
            Stream::Repeat(r, _) => r.time.is_some(),
            Stream::Generated(..) => false,
        }
    }

    /// Request `i`.
    pub fn get(&self, i: u64) -> Request {
        match self {
            Stream::List(v) => v[i as usize].clone(),
            Stream::Repeat(r, _) => (**r).clone(),
            Stream::Generated(g, _) => g.request(i),
        }
    }
}

impl RequestSource for Stream {
    fn len(&self) -> u64 {
        match self {
            Stream::List(v) => v.len() as u64,
            Stream::Repeat(_, n) | Stream::Generated(_, n) => *n,
        }
    }
    fn fill(&self, index: u64, out: &mut Request) {
        match self {
            Stream::List(v) => out.clone_from(&v[index as usize]),
            Stream::Repeat(r, _) => out.clone_from(r),
            Stream::Generated(g, _) => g.fill(index, out),
        }
    }
    fn fill_reusing(&self, index: u64, out: &mut Request, state: &mut u64) {
        match self {
            Stream::Generated(g, _) => g.fill_reusing(index, out, state),
            _ => self.fill(index, out),
        }
    }
    fn borrow(&self, index: u64) -> Option<&Request> {
        match self {
            Stream::List(v) => v.get(index as usize),
            Stream::Repeat(r, _) => Some(r),
            Stream::Generated(..) => None,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::traffic::parse_traffic;

    #[test]
    fn a_reused_buffer_follows_template_changes() {
        let spec = parse_traffic(
            "t.yaml",
            "mix:\n- {weight: 3, request: \"GET http://web/{user} a:{user} b:1\"}\n- {weight: 1, request: \"POST https://api:8443/x c:{user}\", gateway: gw}\n- {weight: 1, authority: \"{user}.svc\"}\npopulations:\n- {name: user, size: 5}\n",
        )
        .unwrap();
        let g = Generator::new(&spec, 3).unwrap();
        let (mut reused, mut state) = (Request::get(""), 0);
        let mut templates = std::collections::BTreeSet::new();
        for i in 0..300 {
            g.fill_reusing(i, &mut reused, &mut state);
            assert_eq!(reused, g.request(i), "request {i}");
            templates.insert(reused.method.clone() + &reused.headers.len().to_string());
        }
        assert_eq!(templates.len(), 3, "every template drawn: {templates:?}");
    }

    #[test]
    fn placeholders_name_one_member_per_request_and_unknown_ones_stay() {
        let spec = parse_traffic(
            "t.yaml",
            "mix:\n- request: \"GET http://{svc}.ns/{user}/x{nope}?u={user} h:{user}-{svc}\"\npopulations:\n- {name: user, size: 3}\n- {name: svc, size: 2, prefix: web}\n",
        )
        .unwrap();
        let g = Generator::new(&spec, 1).unwrap();
        let mut out = Request::get("");
        let (mut reused, mut state) = (Request::get(""), 0);
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..200 {
            g.fill(i, &mut out);
            let user = out.path.split('/').nth(1).unwrap().to_string();
            let svc = out.authority.strip_suffix(".ns").unwrap().to_string();
            assert!(
                ["user-1", "user-2", "user-3"].contains(&user.as_str()),
                "{out}"
            );
            assert!(["web1", "web2"].contains(&svc.as_str()), "{out}");
            assert_eq!(out.path, format!("/{user}/x{{nope}}?u={user}"));
            assert_eq!(out.header("h").unwrap(), format!("{user}-{svc}"));
            assert_eq!(out, g.request(i), "fill and request agree");
            g.fill_reusing(i, &mut reused, &mut state);
            assert_eq!(reused, out, "a reused buffer holds the same request");
            seen.insert((user, svc));
        }
        assert_eq!(seen.len(), 6, "every pair of members is drawn");
    }
}
