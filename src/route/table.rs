//! Route-table types, shaped like Envoy's `RouteConfiguration`: virtual hosts with domains,
//! routes in order, and what each route does. istiod fills them (see `compile`); the simulator
//! walks them.

use super::matcher::RouteMatch;
use crate::config::Duration;
use crate::lb::hash::HashPolicy;
use crate::resilience::fault::Fault;
use crate::resilience::retry::RetryPolicy;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

/// One Envoy route configuration: the virtual hosts of one listener port (sidecar) or one
/// gateway server port.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    /// The listener port.
    pub port: u32,
    /// Virtual hosts; domains are unique across them.
    pub virtual_hosts: Vec<VirtualHost>,
    /// Domain lookup, built on first use (the tables are filled field by field by `compile`,
    /// so the index cannot be built in a constructor).
    pub(crate) domain_index: OnceLock<DomainIndex>,
    /// Per virtual host with many routes, the index of their path guards (built on first use).
    pub(crate) route_index: OnceLock<Vec<Option<super::index::RouteIndex>>>,
}

/// Exact domains in a hash map (a mesh has hundreds of services, each with several domain
/// spellings); wildcards, which are few, in a list scanned in order.
#[derive(Clone, Debug, Default)]
pub(crate) struct DomainIndex {
    /// Domain → (virtual host, domain) positions.
    exact: HashMap<String, (usize, usize)>,
    /// (virtual host, domain) positions of `*`, `*.suffix` and `prefix.*` domains.
    wildcards: Vec<(usize, usize)>,
}

/// Where a virtual host came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VirtualHostSource {
    /// The rules of one VirtualService (index into `Mesh::virtual_services`).
    VirtualService(usize),
    /// The merged rules of several VirtualServices bound to a gateway.
    Gateway(Vec<usize>),
    /// Istio's default route of a service without a VirtualService.
    DefaultRoute,
    /// The sidecar's catch-all for unknown hosts under `ALLOW_ANY`.
    AllowAny,
    /// The sidecar's catch-all for unknown hosts under `REGISTRY_ONLY`.
    BlockAll,
    /// A gateway port without any VirtualService (`blackhole:PORT`, no routes).
    Blackhole,
}

/// An Envoy virtual host.
#[derive(Clone, Debug)]
pub struct VirtualHost {
    /// Name (`myweb-service.default.svc.cluster.local:80`, `allow_any`, ...).
    pub name: String,
    /// Domains it answers for (exact, `*.suffix`, `prefix.*` or `*`).
    pub domains: Vec<String>,
    /// Routes, first match wins.
    pub routes: Vec<Route>,
    /// Where it came from.
    pub source: VirtualHostSource,
    /// `require_tls: ALL` (a gateway server's `tls.httpsRedirect`): a request that did not
    /// come over TLS gets a 301 to `https://` before any route is looked at.
    pub require_tls: bool,
}

/// One route.
#[derive(Clone, Debug)]
pub struct Route {
    /// `http[].name` (`.match.name` appended), or `default` for Istio's default route.
    pub name: Option<String>,
    /// The VirtualService it came from (index into `Mesh::virtual_services`).
    pub virtual_service: Option<usize>,
    /// Index of the `http[]` rule in that VirtualService (after delegate expansion: the root's).
    pub rule: usize,
    /// Index of the match block, if the rule had matches.
    pub match_index: Option<usize>,
    /// For delegated rules: the delegate VirtualService and its rule index.
    pub delegate: Option<(usize, usize)>,
    /// The match.
    pub matcher: RouteMatch,
    /// What it does.
    pub action: Action,
}

impl Route {
    /// A label for reports: the rule name, or `http[i]` (with `.match[j]`).
    pub fn label(&self) -> String {
        if let Some(n) = self.name.as_deref().filter(|n| !n.is_empty()) {
            return n.to_string();
        }
        match self.match_index {
            Some(j) => format!("http[{}].match[{j}]", self.rule),
            None => format!("http[{}]", self.rule),
        }
    }
}

/// A route's action.
#[derive(Clone, Debug)]
pub enum Action {
    /// Forward to one or several weighted clusters.
    Forward(Box<Forward>),
    /// Answer with a redirect.
    Redirect(Redirect),
    /// Answer directly.
    DirectResponse {
        /// Status.
        status: u16,
    },
    /// Forward to the address the caller dialled (`PassthroughCluster`).
    Passthrough,
    /// Answer 502 (`block_all` under `REGISTRY_ONLY`).
    Block,
}

/// A destination as Envoy sees it: a cluster, and what Istio destination it stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `outbound|PORT|SUBSET|HOST`.
    pub cluster_name: String,
    /// Index of the cluster, if it exists (a missing cluster gives 503 NC).
    pub cluster: Option<usize>,
    /// Destination host (FQDN).
    pub host: String,
    /// Subset, if any.
    pub subset: Option<String>,
    /// Port.
    pub port: u32,
}

/// One entry of `weighted_clusters`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightedTarget {
    /// The destination.
    pub target: Target,
    /// Its weight (0 for a lone destination: it takes everything).
    pub weight: u32,
    /// Its position in the rule's `route` list (zero-weight entries are dropped, so this can
    /// differ from the position here).
    pub index: usize,
    /// The destination's own header changes (on the `weighted_clusters` entry; a lone
    /// destination's are on the route, after the rule's).
    pub headers: HeaderOps,
}

/// One header a route adds: `set` overwrites (`OVERWRITE_IF_EXISTS_OR_ADD`), `add` appends
/// (`APPEND_IF_EXISTS_OR_ADD`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderAdd {
    /// Header name.
    pub name: String,
    /// Value.
    pub value: String,
    /// Append to an existing value instead of replacing it.
    pub append: bool,
}

/// The header changes of a route or weighted cluster, as istiod translates a VirtualService's
/// `headers` (`TranslateHeadersOperations`): `set` entries (sorted by name) before `add`
/// entries, pseudo-headers and `host` left out (an authority becomes the host rewrite).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderOps {
    /// `request_headers_to_add`.
    pub request_add: Vec<HeaderAdd>,
    /// `request_headers_to_remove`.
    pub request_remove: Vec<String>,
    /// `response_headers_to_add`.
    pub response_add: Vec<HeaderAdd>,
    /// `response_headers_to_remove`.
    pub response_remove: Vec<String>,
}

impl HeaderOps {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.request_add.is_empty()
            && self.request_remove.is_empty()
            && self.response_add.is_empty()
            && self.response_remove.is_empty()
    }

    /// Applies the request changes as Envoy's `HeaderParser::evaluateHeaders` does
    /// (source/common/router/header_parser.cc): every `request_headers_to_remove` first
    /// ("remove-before-add"), then each addition in order, an empty value skipped; names are
    /// lowercase, as Envoy's header map keeps them.
    ///
    /// ```
    /// use meshsim::route::{HeaderAdd, HeaderOps};
    /// let add = |name: &str, value: &str, append| HeaderAdd { name: name.into(), value: value.into(), append };
    /// let ops = HeaderOps {
    ///     request_add: vec![add("x-set", "new", false), add("x-add", "two", true)],
    ///     request_remove: vec!["x-gone".into()],
    ///     ..Default::default()
    /// };
    /// let mut h = vec![("x-set".into(), "old".into()), ("x-add".into(), "one".into()), ("x-gone".into(), "1".into())];
    /// ops.apply_request(&mut h);
    /// assert_eq!(h, [("x-add".into(), "one".into()), ("x-set".into(), "new".into()), ("x-add".into(), "two".into())]);
    /// ```
    pub fn apply_request(&self, headers: &mut Vec<(String, String)>) {
        apply_header_changes(&self.request_add, &self.request_remove, headers);
    }

    /// These changes followed by `other`'s.
    pub fn extend(&mut self, other: &HeaderOps) {
        self.request_add.extend(other.request_add.iter().cloned());
        self.request_remove
            .extend(other.request_remove.iter().cloned());
        self.response_add.extend(other.response_add.iter().cloned());
        self.response_remove
            .extend(other.response_remove.iter().cloned());
    }
}

/// Envoy's `HeaderParser::evaluateHeaders` over a header list (request or response):
/// removals first, then each addition in order (`append: false` replaces every value), an
/// empty value skipped.
pub fn apply_header_changes(
    add: &[HeaderAdd],
    remove: &[String],
    headers: &mut Vec<(String, String)>,
) {
    if add.is_empty() && remove.is_empty() {
        return;
    }
    headers.retain(|(n, _)| !remove.iter().any(|r| r.eq_ignore_ascii_case(n)));
    for a in add.iter().filter(|a| !a.value.is_empty()) {
        let name = a.name.to_ascii_lowercase();
        if !a.append {
            headers.retain(|(n, _)| *n != name);
        }
        headers.push((name, a.value.clone()));
    }
}

/// The values of a header joined with `,` (how HTTP folds a repeated header), or `None`.
pub fn header_value(headers: &[(String, String)], name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// A URI or authority rewrite (`HTTPRewrite`).
#[derive(Clone, Debug)]
pub struct Rewrite {
    /// `prefix_rewrite`: replaces the matched prefix (or the whole path for exact and regex
    /// matches).
    pub prefix: Option<String>,
    /// `regex_rewrite`: pattern and substitution (`\1` groups).
    pub regex: Option<(super::matcher::Regex, String)>,
    /// `host_rewrite_literal`.
    pub authority: Option<String>,
}

/// A redirect (`HTTPRedirect`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    /// 301, 302, 303, 307 or 308.
    pub status: u16,
    /// New scheme.
    pub scheme: Option<String>,
    /// New authority.
    pub authority: Option<String>,
    /// New port.
    pub port: Option<u32>,
    /// New path.
    pub uri: Option<String>,
    /// `prefix_rewrite` of the redirect, and the prefix it replaces (the route's matched
    /// path prefix): the Gateway API's `ReplacePrefixMatch`.
    pub prefix_rewrite: Option<(String, String)>,
}

impl Redirect {
    /// The `Location` Envoy answers with for a request: `Http::Utility::newUri` (Envoy
    /// `source/common/http/utility.cc`) over the `RedirectAction` istiod builds
    /// (`ApplyRedirect`; Istio never sets `strip_query`, `https_redirect` or `prefix_rewrite`
    /// for a VirtualService).
    ///
    /// - scheme: `scheme_redirect`, else the request's;
    /// - port: `:PORT` whenever `port_redirect` is set, even the scheme's default;
    /// - host: `host_redirect`, else the request's authority, whose port is dropped when a port
    ///   is redirected, or when the scheme changes and the port is the default of the request's
    ///   `x-forwarded-proto` (`processRequestHost`);
    /// - path: `path_redirect` plus the request's query unless `path_redirect` has its own
    ///   `?`, else the request's path and query; a `/` is put in front when missing.
    ///
    /// ```
    /// use meshsim::route::{Redirect, Request};
    /// let r = Redirect { status: 301, scheme: None, authority: None, port: None, uri: Some("/new".into()), prefix_rewrite: None };
    /// assert_eq!(r.location(&Request::get("web:80").with_path("/old?x=1")), "http://web:80/new?x=1");
    /// ```
    pub fn location(&self, req: &super::Request) -> String {
        let scheme = self.scheme.as_deref().unwrap_or(&req.scheme);
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        let host = match &self.authority {
            Some(a) => a.as_str(),
            None => request_host(req, scheme, self.port.is_some()),
        };
        let mut path = match self.uri.as_deref().filter(|u| !u.is_empty()) {
            _ if self.prefix_rewrite.is_some() => {
                let (new, matched) = self.prefix_rewrite.as_ref().expect("checked");
                match req.path.get(matched.len()..) {
                    Some(rest) if req.path.starts_with(matched.as_str()) => format!("{new}{rest}"),
                    _ => req.path.clone(),
                }
            }
            Some(u) if u.contains('?') => u.to_string(),
            Some(u) => match req.path.find('?') {
                Some(q) => format!("{u}{}", &req.path[q..]),
                None => u.to_string(),
            },
            None => req.path.clone(),
        };
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        format!("{scheme}://{host}{port}{path}")
    }
}

/// Envoy's `processRequestHost`: the request's authority, without its port when a port is
/// redirected, or when the scheme changes from the request's `x-forwarded-proto` (which the
/// sidecar sets to the downstream scheme when the client sent none) and the port is that
/// protocol's default. Envoy splits at the last `:` whatever follows it (`]:` for IPv6), which
/// `split_authority` does not (it keeps a non-numeric suffix), so the split is Envoy's own here.
fn request_host<'a>(req: &'a super::Request, new_scheme: &str, new_port: bool) -> &'a str {
    let authority = req.authority.as_str();
    if authority.is_empty() {
        return authority;
    }
    let port_at = if authority.starts_with('[') {
        authority.rfind("]:").map(|i| i + 1)
    } else {
        authority.rfind(':')
    };
    let Some(at) = port_at else {
        return authority;
    };
    let request_port = &authority[at..];
    let forwarded_proto = req
        .header_values("x-forwarded-proto")
        .next()
        .unwrap_or(&req.scheme);
    let mut remove = new_port;
    if new_scheme != forwarded_proto {
        remove |= forwarded_proto.eq_ignore_ascii_case("https") && request_port == ":443";
        remove |= forwarded_proto.eq_ignore_ascii_case("http") && request_port == ":80";
    }
    if remove { &authority[..at] } else { authority }
}

/// A `request_mirror_policies` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MirrorPolicy {
    /// Where copies go.
    pub target: Target,
    /// Mirror when `stream_id % denominator < numerator`.
    pub numerator: u64,
    /// 100 or 1,000,000.
    pub denominator: u64,
}

/// The forwarding part of a route.
#[derive(Clone, Debug)]
pub struct Forward {
    /// One destination (a plain `cluster`) or several (`weighted_clusters`).
    pub clusters: Vec<WeightedTarget>,
    /// Whether Envoy sees `weighted_clusters` (even with one entry left).
    pub weighted: bool,
    /// Sum of the weights.
    pub total_weight: u64,
    /// Hash policies (from DestinationRules with consistent hashing).
    pub hash_policy: Vec<HashPolicy>,
    /// Mirrors.
    pub mirrors: Vec<MirrorPolicy>,
    /// Route timeout (`None`: disabled, Istio's default).
    pub timeout: Option<Duration>,
    /// The Envoy retry policy (Istio's default when the VirtualService sets none; `None` when
    /// `attempts: 0` disables retries).
    pub retry_policy: Option<RetryPolicy>,
    /// Fault injection.
    pub fault: Option<Fault>,
    /// Authority rewrite (from `rewrite.authority` or a `:authority`/`host` header set).
    pub host_rewrite: Option<String>,
    /// URI rewrite.
    pub rewrite: Option<Rewrite>,
    /// Header changes on the route (the rule's, then a lone destination's).
    pub headers: HeaderOps,
    /// The status when the chosen cluster does not exist (`cluster_not_found_response_code`):
    /// 503, or 500 for the Gateway API's routes, whose invalid backends must answer 500.
    pub cluster_not_found_status: u16,
}

impl Forward {
    /// The path Envoy sends upstream after `prefix_rewrite` or `regex_rewrite`, if either is
    /// set (the query string is kept).
    pub fn rewritten_path(
        &self,
        matcher: &super::RouteMatch,
        req: &super::Request,
    ) -> Option<String> {
        let rw = self.rewrite.as_ref()?;
        let path = req.path_only();
        let query = &req.path[path.len()..];
        if let Some((re, sub)) = &rw.regex {
            return Some(format!("{}{query}", re.replace_all(path, sub)));
        }
        let prefix = rw.prefix.as_ref()?;
        Some(match &matcher.path {
            super::PathMatcher::Prefix(p) | super::PathMatcher::PathSeparatedPrefix(p)
                if req.path.len() >= p.len() =>
            {
                format!("{prefix}{}", &req.path[p.len()..])
            }
            _ => format!("{prefix}{query}"),
        })
    }
}

impl Forward {
    /// Envoy's weighted-cluster choice (`pickClusterIndex`): `stream_id % total`, walked in
    /// config order. Returns the index into `clusters` and the value used.
    ///
    /// ```
    /// # use meshsim::route::{Forward, WeightedTarget, Target};
    /// # let t = |n: &str, w| WeightedTarget { weight: w, index: 0, headers: Default::default(), target: Target { cluster_name: n.into(), cluster: None, host: "h".into(), subset: None, port: 80 } };
    /// let f = Forward { clusters: vec![t("c1", 30), t("c2", 30), t("c3", 40)], weighted: true, total_weight: 100,
    ///                   hash_policy: vec![], mirrors: vec![], timeout: None, retry_policy: None, fault: None, host_rewrite: None, rewrite: None,
    ///                   headers: Default::default(), cluster_not_found_status: 503 };
    /// // Envoy config_impl_test.cc: random 115 → cluster1, 445 → cluster2, 560 → cluster3.
    /// assert_eq!(f.pick(115).0, 0);
    /// assert_eq!(f.pick(445).0, 1);
    /// assert_eq!(f.pick(560).0, 2);
    /// ```
    #[inline]
    pub fn pick(&self, stream_id: u64) -> (usize, Option<u64>) {
        if !self.weighted || self.total_weight == 0 {
            return (0, None);
        }
        let v = stream_id % self.total_weight;
        let mut begin = 0u64;
        for (i, c) in self.clusters.iter().enumerate() {
            let end = begin + c.weight as u64;
            if v < end {
                return (i, Some(v));
            }
            begin = end;
        }
        (self.clusters.len() - 1, Some(v))
    }
}

/// How a request's host matched a virtual host's domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DomainMatch {
    /// The exact domain.
    Exact(String),
    /// A `*.suffix` wildcard.
    Suffix(String),
    /// A `prefix.*` wildcard.
    Prefix(String),
    /// `*`.
    Any,
}

impl DomainMatch {
    /// The domain as the virtual host lists it (`*` for any).
    pub fn domain(&self) -> &str {
        match self {
            DomainMatch::Exact(d) | DomainMatch::Suffix(d) | DomainMatch::Prefix(d) => d,
            DomainMatch::Any => "*",
        }
    }
}

impl fmt::Display for DomainMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DomainMatch::Exact(d) => write!(f, "domain {d}"),
            DomainMatch::Suffix(d) | DomainMatch::Prefix(d) => write!(f, "wildcard domain {d}"),
            DomainMatch::Any => f.write_str("domain *"),
        }
    }
}

impl RouteTable {
    /// Envoy's `findVirtualHost`: exact domain first, then the longest `*.suffix`, then the
    /// longest `prefix.*`, then `*`. `host` must be lowercase and without port (the route
    /// configuration ignores the port).
    pub fn find_virtual_host(&self, host: &str) -> Option<(usize, DomainMatch)> {
        let (i, d) = self.lookup_virtual_host(host)?;
        let domain = &self.virtual_hosts[i].domains[d];
        Some((
            i,
            if domain == "*" {
                DomainMatch::Any
            } else if domain.starts_with('*') {
                DomainMatch::Suffix(domain.clone())
            } else if domain.ends_with('*') {
                DomainMatch::Prefix(domain.clone())
            } else {
                DomainMatch::Exact(domain.clone())
            },
        ))
    }

    /// [`find_virtual_host`](Self::find_virtual_host) without allocating: the virtual host's
    /// index and the index of the domain that matched.
    #[inline]
    pub fn lookup_virtual_host(&self, host: &str) -> Option<(usize, usize)> {
        let index = self.domain_index.get_or_init(|| self.build_domain_index());
        if let Some(&found) = index.exact.get(host) {
            return Some(found);
        }
        let mut best_suffix: Option<((usize, usize), usize)> = None;
        let mut best_prefix: Option<((usize, usize), usize)> = None;
        let mut any = None;
        for &(i, j) in &index.wildcards {
            let d = &self.virtual_hosts[i].domains[j];
            if d == "*" {
                any.get_or_insert((i, j));
            } else if let Some(suffix) = d.strip_prefix('*') {
                if host.len() > suffix.len()
                    && host.ends_with(suffix)
                    && best_suffix.is_none_or(|(_, l)| suffix.len() > l)
                {
                    best_suffix = Some(((i, j), suffix.len()));
                }
            } else if let Some(prefix) = d.strip_suffix('*')
                && host.len() > prefix.len()
                && host.starts_with(prefix)
                && best_prefix.is_none_or(|(_, l)| prefix.len() > l)
            {
                best_prefix = Some(((i, j), prefix.len()));
            }
        }
        best_suffix.or(best_prefix).map(|(p, _)| p).or(any)
    }

    /// The first route of virtual host `vh` that matches `req` (whose path without query is
    /// `path_only`), as Envoy's walk finds it. Virtual hosts with many routes look only at the
    /// routes whose path guard the request's path starts with (see `route/index.rs`); `scratch`
    /// holds those candidates, so that a caller deciding many requests allocates once.
    #[inline]
    pub fn first_match(
        &self,
        vh: usize,
        req: &super::Request,
        path_only: &str,
        scratch: &mut Vec<u32>,
    ) -> Option<usize> {
        let routes = &self.virtual_hosts[vh].routes;
        let indexes = self.route_index.get_or_init(|| {
            self.virtual_hosts
                .iter()
                .map(|v| {
                    (v.routes.len() >= super::index::MIN_ROUTES)
                        .then(|| super::index::RouteIndex::new(v.routes.iter().map(|r| &r.matcher)))
                })
                .collect()
        });
        match &indexes[vh] {
            None => routes
                .iter()
                .position(|r| r.matcher.matches_path(req, path_only)),
            Some(index) => {
                index.candidates(&req.path, scratch);
                scratch
                    .iter()
                    .map(|&i| i as usize)
                    .find(|&i| routes[i].matcher.matches_path(req, path_only))
            }
        }
    }

    fn build_domain_index(&self) -> DomainIndex {
        let mut index = DomainIndex::default();
        for (i, vh) in self.virtual_hosts.iter().enumerate() {
            for (j, d) in vh.domains.iter().enumerate() {
                if d.starts_with('*') || d.ends_with('*') {
                    index.wildcards.push((i, j));
                } else {
                    // The first virtual host with a domain answers for it.
                    index.exact.entry(d.clone()).or_insert((i, j));
                }
            }
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vh(name: &str, domains: &[&str]) -> VirtualHost {
        VirtualHost {
            name: name.into(),
            domains: domains.iter().map(|d| d.to_string()).collect(),
            routes: vec![],
            source: VirtualHostSource::DefaultRoute,
            require_tls: false,
        }
    }

    #[test]
    fn domain_precedence() {
        let t = RouteTable {
            port: 80,
            virtual_hosts: vec![
                vh("any", &["*"]),
                vh("short", &["*.com"]),
                vh("long", &["*.example.com"]),
                vh("exact", &["www.example.com"]),
                vh("prefix", &["www.*"]),
            ],
            ..RouteTable::default()
        };
        let name = |h: &str| &t.virtual_hosts[t.find_virtual_host(h).unwrap().0].name;
        assert_eq!(name("www.example.com"), "exact");
        assert_eq!(name("api.example.com"), "long");
        assert_eq!(name("a.b.com"), "short");
        assert_eq!(name("www.example.org"), "prefix");
        assert_eq!(name("localhost"), "any");
        assert_eq!(name("example.com"), "short");
    }
}
