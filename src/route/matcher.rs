//! Route matching as Envoy does it for the routes istiod generates: path (prefix, exact,
//! RE2 regex), header and query-parameter matchers, all ANDed.
//!
//! Semantics that users trip on, each from Envoy's source:
//! - regexes are RE2 *full* matches (`RE2::FullMatch`): `usertype=tester` does not match
//!   `a=1; usertype=tester`;
//! - `prefix` compares against the whole `:path` (query included); `exact` and `regex` against
//!   the path without the query string;
//! - `ignoreUriCase` (route `case_sensitive: false`) applies to prefix and exact paths only;
//! - header names are case-insensitive, values case-sensitive; several values of one header are
//!   joined with `,` before matching;
//! - a missing header fails every matcher except an inverted presence match
//!   (`HeaderUtility::matchHeaders`); Istio's `withoutHeaders` adds
//!   `treat_missing_header_as_empty` so that an absent header matches `withoutHeaders: {x: {exact: y}}`.

use super::request::Request;
use std::fmt;

/// A value matcher.
#[derive(Clone, Debug)]
pub enum StringMatcher {
    /// Equal.
    Exact(String),
    /// Starts with.
    Prefix(String),
    /// RE2 full match (compiled anchored).
    Regex(Regex),
    /// The header or parameter is present (`{}` or `regex: "*"` in Istio).
    Present,
}

/// A compiled, anchored regex that remembers its source.
#[derive(Clone, Debug)]
pub struct Regex {
    /// As written.
    pub source: String,
    re: regex::Regex,
}

impl Regex {
    /// Compiles `source` for full matching.
    pub fn new(source: &str) -> Result<Self, String> {
        regex::RegexBuilder::new(&format!("^(?:{source})$"))
            .size_limit(1 << 20)
            .build()
            .map(|re| Regex {
                source: source.to_string(),
                re,
            })
            .map_err(|e| match e {
                regex::Error::Syntax(s) => format!(
                    "invalid RE2 regex `{source}`: {}",
                    s.lines().last().unwrap_or(&s).trim()
                ),
                regex::Error::CompiledTooBig(_) => format!("regex `{source}` is too large"),
                e => format!("invalid regex `{source}`: {e}"),
            })
    }
    /// Full match.
    #[inline]
    pub fn is_match(&self, s: &str) -> bool {
        self.re.is_match(s)
    }

    /// RE2's `GlobalReplace` as Envoy's `regex_rewrite` applies it: every (unanchored) match
    /// replaced, `\1` in the substitution naming a group.
    pub fn replace_all(&self, s: &str, substitution: &str) -> String {
        let unanchored = match regex::Regex::new(&self.source) {
            Ok(r) => r,
            Err(_) => return s.to_string(),
        };
        let mut sub = String::new();
        let mut chars = substitution.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                let d = chars.next().unwrap_or('0');
                sub.push_str(&format!("${{{d}}}"));
            } else if c == '$' {
                sub.push_str("$$");
            } else {
                sub.push(c);
            }
        }
        unanchored.replace_all(s, sub.as_str()).into_owned()
    }
}

impl StringMatcher {
    /// From Istio's `StringMatch` (`None` fields = presence, as istiod translates it).
    pub fn from_istio(m: &crate::config::StringMatch) -> Result<Self, String> {
        if let Some(e) = &m.exact {
            return Ok(StringMatcher::Exact(e.clone()));
        }
        if let Some(p) = &m.prefix {
            return Ok(StringMatcher::Prefix(p.clone()));
        }
        match m.regex.as_deref() {
            None | Some("*") => Ok(StringMatcher::Present),
            Some(r) => Regex::new(r).map(StringMatcher::Regex),
        }
    }

    fn matches(&self, v: &str) -> bool {
        match self {
            StringMatcher::Exact(e) => v == e,
            StringMatcher::Prefix(p) => v.starts_with(p.as_str()),
            StringMatcher::Regex(r) => r.is_match(v),
            StringMatcher::Present => true,
        }
    }
}

impl fmt::Display for StringMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StringMatcher::Exact(e) => write!(f, "exact {e:?}"),
            StringMatcher::Prefix(p) => write!(f, "prefix {p:?}"),
            StringMatcher::Regex(r) => write!(f, "regex {}", r.source),
            StringMatcher::Present => f.write_str("present"),
        }
    }
}

/// An Envoy `HeaderMatcher`.
#[derive(Clone, Debug)]
pub struct HeaderMatcher {
    /// Lowercased name (pseudo-headers keep their colon).
    pub name: String,
    /// How the value is matched.
    pub matcher: StringMatcher,
    /// `invert_match`.
    pub invert: bool,
    /// `treat_missing_header_as_empty`.
    pub treat_missing_as_empty: bool,
}

impl HeaderMatcher {
    fn check(&self, req: &Request) -> Result<(), Mismatch> {
        let value = req.header(&self.name);
        let ok = match (&value, self.treat_missing_as_empty) {
            (None, false) => self.invert && matches!(self.matcher, StringMatcher::Present),
            _ => self.matcher.matches(value.as_deref().unwrap_or("")) != self.invert,
        };
        if ok {
            Ok(())
        } else {
            Err(Mismatch::Header {
                name: self.name.clone(),
                value: value.map(|v| v.into_owned()),
                matcher: self.matcher.clone(),
                invert: self.invert,
            })
        }
    }
}

/// An Envoy `QueryParameterMatcher` (first value of the parameter).
#[derive(Clone, Debug)]
pub struct QueryMatcher {
    /// Parameter name (case-sensitive).
    pub name: String,
    /// How the value is matched.
    pub matcher: StringMatcher,
}

/// The path part of a route match.
#[derive(Clone, Debug)]
pub enum PathMatcher {
    /// `prefix` against the whole `:path`.
    Prefix(String),
    /// `path`: equality with the path without its query.
    Exact(String),
    /// `safe_regex` full match against the path without its query.
    Regex(Regex),
}

/// Envoy's `RouteMatch` for one Istio match block.
#[derive(Clone, Debug)]
pub struct RouteMatch {
    /// The path matcher (`prefix: /` when the block has no `uri`).
    pub path: PathMatcher,
    /// False with `ignoreUriCase`.
    pub case_sensitive: bool,
    /// Header matchers (including `:method`, `:authority`, `:scheme`).
    pub headers: Vec<HeaderMatcher>,
    /// Query matchers.
    pub query: Vec<QueryMatcher>,
}

/// Why a route did not match: the first condition that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The path.
    Path {
        /// The request path.
        path: String,
        /// The matcher, as text.
        matcher: String,
    },
    /// A header.
    Header {
        /// Header name.
        name: String,
        /// Its value, if present.
        value: Option<String>,
        /// The matcher.
        matcher: StringMatcher,
        /// Inverted (`withoutHeaders`).
        invert: bool,
    },
    /// A query parameter.
    Query {
        /// Parameter name.
        name: String,
        /// Its first value, if present.
        value: Option<String>,
        /// The matcher.
        matcher: StringMatcher,
    },
}

impl PartialEq for StringMatcher {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}
impl Eq for StringMatcher {}

fn describe(value: &str, m: &StringMatcher) -> String {
    match m {
        StringMatcher::Exact(e) => format!("{value:?} is not exactly {e:?}"),
        StringMatcher::Prefix(p) => format!("{value:?} does not start with {p:?}"),
        StringMatcher::Regex(r) => format!("{value:?} does not fully match regex {}", r.source),
        StringMatcher::Present => format!("{value:?} is present"),
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Path { path, matcher } => write!(f, "path {path:?} does not match {matcher}"),
            Mismatch::Header {
                name,
                value: None,
                invert: false,
                ..
            } => write!(f, "header {name} is absent"),
            Mismatch::Header {
                name,
                value: None,
                invert: true,
                matcher,
            } => write!(
                f,
                "header {name} is absent, and withoutHeaders {matcher} needs it present"
            ),
            Mismatch::Header {
                name,
                value: Some(v),
                matcher,
                invert: false,
            } => write!(f, "header {name} {}", describe(v, matcher)),
            Mismatch::Header {
                name,
                value: Some(v),
                matcher,
                invert: true,
            } => write!(f, "header {name} {v:?} matches withoutHeaders {matcher}"),
            Mismatch::Query {
                name, value: None, ..
            } => write!(f, "query parameter {name} is absent"),
            Mismatch::Query {
                name,
                value: Some(v),
                matcher,
            } => write!(f, "query parameter {name} {}", describe(v, matcher)),
        }
    }
}

impl RouteMatch {
    /// The catch-all match (`prefix: /`).
    pub fn any() -> Self {
        RouteMatch {
            path: PathMatcher::Prefix("/".into()),
            case_sensitive: true,
            headers: Vec::new(),
            query: Vec::new(),
        }
    }

    /// Is this Istio's "catch-all" route (prefix `/` or regex `.*`, nothing else)?
    pub fn is_catch_all(&self) -> bool {
        let path_all = match &self.path {
            PathMatcher::Prefix(p) => p == "/",
            PathMatcher::Regex(r) => r.source == ".*" || r.source == "/.*",
            PathMatcher::Exact(_) => false,
        };
        path_all && self.headers.is_empty() && self.query.is_empty()
    }

    /// Checks a request; the error says which condition failed first (path, then headers, then
    /// query, in Envoy's order).
    pub fn check(&self, req: &Request) -> Result<(), Mismatch> {
        let path_ok = match &self.path {
            PathMatcher::Prefix(p) => {
                if self.case_sensitive {
                    req.path.starts_with(p.as_str())
                } else {
                    req.path.len() >= p.len()
                        && req.path.is_char_boundary(p.len())
                        && req.path[..p.len()].eq_ignore_ascii_case(p)
                }
            }
            PathMatcher::Exact(e) => {
                if self.case_sensitive {
                    req.path_only() == e
                } else {
                    req.path_only().eq_ignore_ascii_case(e)
                }
            }
            PathMatcher::Regex(r) => r.is_match(req.path_only()),
        };
        if !path_ok {
            return Err(Mismatch::Path {
                path: req.path.clone(),
                matcher: match &self.path {
                    PathMatcher::Prefix(p) => format!("prefix {p:?}"),
                    PathMatcher::Exact(e) => format!("exact {e:?}"),
                    PathMatcher::Regex(r) => format!("regex {}", r.source),
                } + if self.case_sensitive {
                    ""
                } else {
                    " (ignoring case)"
                },
            });
        }
        for h in &self.headers {
            h.check(req)?;
        }
        for q in &self.query {
            let v = req.query_param(&q.name);
            let ok = v.is_some_and(|v| q.matcher.matches(v));
            if !ok {
                return Err(Mismatch::Query {
                    name: q.name.clone(),
                    value: v.map(str::to_string),
                    matcher: q.matcher.clone(),
                });
            }
        }
        Ok(())
    }

    /// Does it match?
    #[inline]
    pub fn matches(&self, req: &Request) -> bool {
        self.check(req).is_ok()
    }

    /// Compiles an Istio match block as istiod's `TranslateRouteMatch` does.
    pub fn from_istio(m: &crate::config::HttpMatchRequest) -> Result<Self, String> {
        let mut headers = Vec::new();
        for (name, sm) in &m.headers {
            headers.push(HeaderMatcher {
                name: name.to_ascii_lowercase(),
                matcher: StringMatcher::from_istio(sm)?,
                invert: false,
                treat_missing_as_empty: false,
            });
        }
        for (name, sm) in &m.without_headers {
            let matcher = StringMatcher::from_istio(sm)?;
            let present = matches!(matcher, StringMatcher::Present);
            headers.push(HeaderMatcher {
                name: name.to_ascii_lowercase(),
                matcher,
                invert: true,
                treat_missing_as_empty: !present,
            });
        }
        headers.sort_by(|a, b| a.name.cmp(&b.name));
        for (name, sm) in [
            (":method", &m.method),
            (":authority", &m.authority),
            (":scheme", &m.scheme),
        ] {
            if let Some(sm) = sm {
                headers.push(HeaderMatcher {
                    name: name.to_string(),
                    matcher: StringMatcher::from_istio(sm)?,
                    invert: false,
                    treat_missing_as_empty: false,
                });
            }
        }
        let path = match &m.uri {
            None => PathMatcher::Prefix("/".into()),
            Some(u) => match StringMatcher::from_istio(u)? {
                StringMatcher::Exact(e) => PathMatcher::Exact(e),
                StringMatcher::Prefix(p) => PathMatcher::Prefix(p),
                StringMatcher::Regex(r) => PathMatcher::Regex(r),
                StringMatcher::Present => PathMatcher::Prefix("/".into()),
            },
        };
        let mut query = Vec::new();
        for (name, sm) in &m.query_params {
            query.push(QueryMatcher {
                name: name.clone(),
                matcher: StringMatcher::from_istio(sm)?,
            });
        }
        Ok(RouteMatch {
            path,
            case_sensitive: !m.ignore_uri_case,
            headers,
            query,
        })
    }
}
