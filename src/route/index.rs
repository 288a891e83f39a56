//! Which routes of a virtual host can match a path, without asking each of them.
//!
//! Envoy walks a virtual host's routes in order until one matches; an API gateway's
//! VirtualService has hundreds, most ruled out by their path. Every route here has a *guard*:
//! a string the request's `:path` must start with for the route to match (its case-sensitive
//! prefix or exact path, or the literal its path regex starts with), or none. A trie of the
//! guards gives, for one path, the routes whose guard it starts with; with the unguarded
//! routes, in order, these are the only candidates, and the first candidate that matches is the
//! route a walk of all of them would find. The guard is a necessary condition, never a
//! sufficient one: every candidate is still checked in full.

use super::matcher::{PathMatcher, RouteMatch};

/// Fewer routes than this are walked as they are: the index would cost more than it saves.
pub(crate) const MIN_ROUTES: usize = 16;

/// The string a path must start with for `m` to match, if there is one.
fn guard(m: &RouteMatch) -> Option<&str> {
    if !m.case_sensitive {
        return None;
    }
    let g = match &m.path {
        PathMatcher::Prefix(p) | PathMatcher::PathSeparatedPrefix(p) => p.as_str(),
        // `path` equals the path without its query, so the whole `:path` starts with it.
        PathMatcher::Exact(e) => e.as_str(),
        PathMatcher::Regex(r) => r.leading_literal()?,
    };
    (!g.is_empty()).then_some(g)
}

#[derive(Clone, Debug, Default)]
struct Node {
    /// (byte, node), sorted by byte.
    children: Vec<(u8, u32)>,
    /// Routes whose guard ends here.
    routes: Vec<u32>,
}

/// The guards of one virtual host's routes, as a trie.
#[derive(Clone, Debug)]
pub(crate) struct RouteIndex {
    nodes: Vec<Node>,
    unguarded: Vec<u32>,
}

impl RouteIndex {
    pub(crate) fn new<'a>(matches: impl IntoIterator<Item = &'a RouteMatch>) -> Self {
        let mut nodes = vec![Node::default()];
        let mut unguarded = Vec::new();
        for (i, m) in matches.into_iter().enumerate() {
            let Some(g) = guard(m) else {
                unguarded.push(i as u32);
                continue;
            };
            let mut at = 0usize;
            for b in g.bytes() {
                at = match nodes[at].children.binary_search_by_key(&b, |c| c.0) {
                    Ok(k) => nodes[at].children[k].1 as usize,
                    Err(k) => {
                        let next = nodes.len() as u32;
                        nodes.push(Node::default());
                        nodes[at].children.insert(k, (b, next));
                        next as usize
                    }
                };
            }
            nodes[at].routes.push(i as u32);
        }
        RouteIndex { nodes, unguarded }
    }

    /// The routes that can match `path`, in route order, into `out` (cleared first).
    pub(crate) fn candidates(&self, path: &str, out: &mut Vec<u32>) {
        out.clear();
        out.extend_from_slice(&self.unguarded);
        let mut at = 0usize;
        for b in path.bytes() {
            match self.nodes[at].children.binary_search_by_key(&b, |c| c.0) {
                Ok(k) => at = self.nodes[at].children[k].1 as usize,
                Err(_) => break,
            }
            out.extend_from_slice(&self.nodes[at].routes);
        }
        out.sort_unstable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::Request;
    use crate::route::matcher::Regex;
    use proptest::prelude::*;

    fn route(kind: u8, s: &str, case_sensitive: bool) -> RouteMatch {
        let mut m = RouteMatch::any();
        m.case_sensitive = case_sensitive;
        m.path = match kind % 3 {
            0 => PathMatcher::Prefix(s.to_string()),
            1 => PathMatcher::Exact(s.to_string()),
            _ => PathMatcher::Regex(Regex::new(&format!("{s}[a-z]*")).unwrap()),
        };
        m
    }

    proptest! {
        /// The first candidate that matches is the first route that matches.
        #[test]
        fn first_candidate_is_first_match(
            routes in prop::collection::vec((0u8..3, "/[ab]{0,3}/?", any::<bool>()), 1..40),
            path in "/[abAB]{0,4}/?[ab]{0,2}(\\?q=1)?",
        ) {
            let matches: Vec<RouteMatch> =
                routes.iter().map(|(k, s, cs)| route(*k, s, *cs)).collect();
            let req = Request::get("h").with_path(&path);
            let walk = matches.iter().position(|m| m.matches(&req));
            let index = RouteIndex::new(&matches);
            let mut candidates = Vec::new();
            index.candidates(&req.path, &mut candidates);
            let indexed = candidates
                .iter()
                .map(|&i| i as usize)
                .find(|&i| matches[i].matches(&req));
            prop_assert_eq!(indexed, walk);
            prop_assert!(candidates.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn two_hundred_prefixed_rules_leave_one_candidate() {
        let mut matches: Vec<RouteMatch> = (0..200)
            .map(|i| route(2, &format!("/svc{i}/"), true))
            .collect();
        matches.push(RouteMatch::any());
        let index = RouteIndex::new(&matches);
        let mut c = Vec::new();
        index.candidates("/svc12/items/7", &mut c);
        assert_eq!(c, [12, 200]);
    }
}
