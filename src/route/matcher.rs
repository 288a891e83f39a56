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
use crate::trace::{Condition, ConditionMismatch, MatchKind, StringMatch};
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
    /// A literal every match starts with, if the pattern has one (`/api/v1/[a-z]+`): among
    /// two hundred rules, most are ruled out by a `starts_with`.
    prefix: Option<String>,
    /// A literal every match contains, if the pattern has one: most header values that do not
    /// match lack it, and a substring search costs a fraction of running the automaton.
    required: Option<Box<memchr::memmem::Finder<'static>>>,
}

/// The literal every match of `hir` starts with: the leading literal of the top-level
/// concatenation, after any start anchors.
fn leading_literal(hir: &regex_syntax::hir::Hir) -> Option<String> {
    use regex_syntax::hir::{HirKind, Look};
    let first = match hir.kind() {
        HirKind::Concat(subs) => subs
            .iter()
            .find(|h| !matches!(h.kind(), HirKind::Look(Look::Start)))?,
        _ => hir,
    };
    match first.kind() {
        HirKind::Literal(l) => std::str::from_utf8(&l.0).ok().map(str::to_string),
        _ => None,
    }
}

/// The longest literal that every match of `hir` contains, found by walking the parts a match
/// cannot skip (concatenations, groups, repetitions of at least one); alternations and classes
/// contribute nothing, which is safe: fewer literals only means fewer shortcuts.
fn required_literal(hir: &regex_syntax::hir::Hir) -> Option<String> {
    use regex_syntax::hir::HirKind;
    fn walk(h: &regex_syntax::hir::Hir, out: &mut Vec<String>) {
        match h.kind() {
            HirKind::Literal(l) => {
                if let Ok(s) = std::str::from_utf8(&l.0) {
                    out.push(s.to_string());
                }
            }
            HirKind::Capture(c) => walk(&c.sub, out),
            HirKind::Repetition(r) if r.min >= 1 => walk(&r.sub, out),
            HirKind::Concat(subs) => subs.iter().for_each(|s| walk(s, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    walk(hir, &mut all);
    all.into_iter()
        .max_by_key(String::len)
        .filter(|s| s.len() >= 2)
}

impl Regex {
    /// Compiles `source` for full matching.
    pub fn new(source: &str) -> Result<Self, String> {
        let hir = regex_syntax::Parser::new().parse(source).ok();
        regex::RegexBuilder::new(&format!("^(?:{source})$"))
            .size_limit(1 << 20)
            .build()
            .map(|re| Regex {
                source: source.to_string(),
                re,
                prefix: hir.as_ref().and_then(leading_literal),
                required: hir
                    .as_ref()
                    .and_then(required_literal)
                    .map(|l| Box::new(memchr::memmem::Finder::new(l.as_bytes()).into_owned())),
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
    /// The literal every match starts with, if the pattern has one.
    pub(crate) fn leading_literal(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    /// Full match.
    #[inline]
    pub fn is_match(&self, s: &str) -> bool {
        if let Some(p) = &self.prefix
            && !s.starts_with(p.as_str())
        {
            return false;
        }
        if let Some(f) = &self.required
            && f.find(s.as_bytes()).is_none()
        {
            return false;
        }
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

    #[inline]
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
    /// Does the header satisfy the matcher? Borrows the value (a header given several times is
    /// joined, which allocates, as Envoy's own join does).
    #[inline]
    fn holds(&self, value: Option<&str>) -> bool {
        match (value, self.treat_missing_as_empty) {
            (None, false) => self.invert && matches!(self.matcher, StringMatcher::Present),
            (v, _) => self.matcher.matches(v.unwrap_or("")) != self.invert,
        }
    }

    fn mismatch(&self, req: &Request) -> ConditionMismatch {
        ConditionMismatch {
            condition: Condition::Header {
                name: self.name.clone(),
            },
            expected: self.matcher.to_trace(false),
            found: req.header(&self.name).map(|v| v.into_owned()),
            invert: self.invert,
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
    /// `path_separated_prefix`: the path without its query is the prefix, or continues it
    /// with `/` (Envoy's `PathSeparatedPrefixRouteEntryImpl::matches`).
    PathSeparatedPrefix(String),
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

/// Which condition failed, by position.
enum Failed {
    Path,
    Header(usize),
    Query(usize),
}

impl PartialEq for StringMatcher {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}
impl Eq for StringMatcher {}

impl StringMatcher {
    /// The matcher as trace data.
    pub fn to_trace(&self, ignore_case: bool) -> StringMatch {
        let (kind, value) = match self {
            StringMatcher::Exact(e) => (MatchKind::Exact, Some(e.clone())),
            StringMatcher::Prefix(p) => (MatchKind::Prefix, Some(p.clone())),
            StringMatcher::Regex(r) => (MatchKind::Regex, Some(r.source.clone())),
            StringMatcher::Present => (MatchKind::Present, None),
        };
        StringMatch {
            kind,
            value,
            ignore_case,
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
            PathMatcher::Exact(_) | PathMatcher::PathSeparatedPrefix(_) => false,
        };
        path_all && self.headers.is_empty() && self.query.is_empty()
    }

    fn path_holds(&self, req: &Request, path_only: &str) -> bool {
        match &self.path {
            PathMatcher::Prefix(p) => {
                if self.case_sensitive {
                    req.path.starts_with(p.as_str())
                } else {
                    req.path.len() >= p.len()
                        && req.path.is_char_boundary(p.len())
                        && req.path[..p.len()].eq_ignore_ascii_case(p)
                }
            }
            PathMatcher::PathSeparatedPrefix(p) => {
                let n = p.len();
                let section_ok = path_only.len() >= n
                    && path_only.is_char_boundary(n)
                    && if self.case_sensitive {
                        path_only[..n] == *p
                    } else {
                        path_only[..n].eq_ignore_ascii_case(p)
                    };
                section_ok && (path_only.len() == n || path_only.as_bytes()[n] == b'/')
            }
            PathMatcher::Exact(e) => {
                if self.case_sensitive {
                    path_only == e
                } else {
                    path_only.eq_ignore_ascii_case(e)
                }
            }
            PathMatcher::Regex(r) => r.is_match(path_only),
        }
    }

    /// The first condition that fails, in Envoy's order (path, headers, query), without
    /// allocating: the hot path only needs to know whether there is one.
    #[inline]
    fn first_failure(&self, req: &Request, path_only: &str) -> Option<Failed> {
        if !self.path_holds(req, path_only) {
            return Some(Failed::Path);
        }
        for (i, h) in self.headers.iter().enumerate() {
            if !h.holds(req.header(&h.name).as_deref()) {
                return Some(Failed::Header(i));
            }
        }
        for (i, q) in self.query.iter().enumerate() {
            if !req
                .query_param(&q.name)
                .is_some_and(|v| q.matcher.matches(v))
            {
                return Some(Failed::Query(i));
            }
        }
        None
    }

    /// Checks a request; the error says which condition failed first (path, then headers, then
    /// query, in Envoy's order), what it expected and what the request had.
    pub fn check(&self, req: &Request) -> Result<(), ConditionMismatch> {
        match self.first_failure(req, req.path_only()) {
            None => Ok(()),
            Some(Failed::Path) => {
                let (kind, value) = match &self.path {
                    PathMatcher::Prefix(p) => (MatchKind::Prefix, p.clone()),
                    PathMatcher::PathSeparatedPrefix(p) => {
                        (MatchKind::PathSeparatedPrefix, p.clone())
                    }
                    PathMatcher::Exact(e) => (MatchKind::Exact, e.clone()),
                    PathMatcher::Regex(r) => (MatchKind::Regex, r.source.clone()),
                };
                Err(ConditionMismatch {
                    condition: Condition::Path,
                    expected: StringMatch {
                        kind,
                        value: Some(value),
                        // Envoy's `case_sensitive` applies to prefix and path, not to `safe_regex`.
                        ignore_case: !self.case_sensitive && kind != MatchKind::Regex,
                    },
                    // Envoy matches a prefix against the whole `:path`, an exact path or a
                    // regex against the path without its query: show what was compared.
                    found: Some(match kind {
                        MatchKind::Prefix => req.path.clone(),
                        _ => req.path_only().to_string(),
                    }),
                    invert: false,
                })
            }
            Some(Failed::Header(i)) => Err(self.headers[i].mismatch(req)),
            Some(Failed::Query(i)) => {
                let q = &self.query[i];
                Err(ConditionMismatch {
                    condition: Condition::Query {
                        name: q.name.clone(),
                    },
                    expected: q.matcher.to_trace(false),
                    found: req.query_param(&q.name).map(str::to_string),
                    invert: false,
                })
            }
        }
    }

    /// Does it match? Allocates nothing (unless a header is given several times).
    #[inline]
    pub fn matches(&self, req: &Request) -> bool {
        self.first_failure(req, req.path_only()).is_none()
    }

    /// [`matches`](Self::matches) with the request's [`path_only`](Request::path_only) given:
    /// a route table asks every route, and the path is the same for all of them.
    #[inline]
    pub fn matches_path(&self, req: &Request, path_only: &str) -> bool {
        self.first_failure(req, path_only).is_none()
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

#[cfg(test)]
mod tests {
    use super::Regex;
    use proptest::prelude::*;

    #[test]
    fn the_cookie_regex_requires_its_cookie() {
        let r = Regex::new("^(.*?; ?)?(usertype=tester)(;.*)?$").unwrap();
        assert_eq!(
            r.required.as_ref().map(|f| f.needle()),
            Some(&b"usertype=tester"[..])
        );
        assert!(r.is_match("a=1; usertype=tester"));
        assert!(!r.is_match("a=1; usertype=testers"));
        assert!(Regex::new("(a|b)c?").unwrap().required.is_none());
        let api = Regex::new("^/api/v1/[a-z]+/[0-9]+").unwrap();
        assert_eq!(api.prefix.as_deref(), Some("/api/v1/"));
        assert!(api.is_match("/api/v1/users/7") && !api.is_match("/api/v2/users/7"));
        assert_eq!(Regex::new("a*b").unwrap().prefix, None);
    }

    proptest! {
        /// The literal shortcut never changes an answer.
        #[test]
        fn shortcut_agrees_with_the_automaton(
            parts in prop::collection::vec(prop::sample::select(vec![
                "a", "bc", "(x|y)", ".*", "[0-9]+", "(?:de)+", "f?", "(gh)*", "ij", "(?i)Kl", "(bc)+",
                "^", "^ab", "(?m)^a", "\\Aa", "$", "a|b",
            ]), 1..6),
            hay in "[abcdefghijklxyKL0-9;]{0,14}",
        ) {
            let pattern = parts.concat();
            let ours = Regex::new(&pattern).unwrap();
            let plain = regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
            prop_assert_eq!(ours.is_match(&hay), plain.is_match(&hay), "{} on {:?}", pattern, hay);
        }
    }
}
