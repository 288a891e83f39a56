//! Requests, route tables and route matching, as Envoy evaluates the routes istiod generates.

mod index;
mod matcher;
mod request;
mod table;

pub use matcher::{HeaderMatcher, PathMatcher, QueryMatcher, Regex, RouteMatch, StringMatcher};
pub use request::{Request, Source, split_authority, strip_port};
pub use table::{
    Action, DomainMatch, Forward, HeaderAdd, HeaderOps, MirrorPolicy, Redirect, Rewrite, Route,
    RouteTable, Target, VirtualHost, VirtualHostSource, WeightedTarget, apply_header_changes,
    header_value,
};
