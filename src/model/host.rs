//! Host names as Istio resolves them.

use crate::trace::HostKnowledge;

/// The cluster's DNS suffix (Kubernetes' default, and Istio's).
pub const CLUSTER_DOMAIN: &str = "svc.cluster.local";

/// Expands a host written in a resource of `namespace` the way istiod does
/// (`ResolveShortnameToFQDN`): a name without a dot gets `.<namespace>.svc.cluster.local`; a
/// name with a dot (`reviews.other`, `httpbin.org`, `*.example.com`) is taken literally.
///
/// ```
/// use meshsim::model::resolve_host;
/// assert_eq!(resolve_host("reviews", "default"), "reviews.default.svc.cluster.local");
/// assert_eq!(resolve_host("httpbin.org", "default"), "httpbin.org");
/// assert_eq!(resolve_host("*", "default"), "*");
/// ```
pub fn resolve_host(host: &str, namespace: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    if host == "*" || host.contains('.') {
        host
    } else {
        format!("{host}.{namespace}.{CLUSTER_DOMAIN}")
    }
}

/// The names a client in `client_namespace` may use for a Kubernetes service, as the virtual
/// host's domains list them: `name`, `name.ns`, `name.ns.svc`, and the FQDN. Short forms
/// only work from the service's own namespace (for `name`) as Kubernetes DNS search paths do.
pub fn service_aliases(fqdn: &str, client_namespace: &str) -> Vec<String> {
    let mut out = vec![fqdn.to_string()];
    if let Some(prefix) = fqdn.strip_suffix(&format!(".{CLUSTER_DOMAIN}")) {
        // prefix = name.ns
        if let Some((name, ns)) = prefix.split_once('.') {
            out.push(format!("{name}.{ns}.svc"));
            out.push(format!("{name}.{ns}"));
            if ns == client_namespace {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// Does a (possibly wildcard) host pattern admit `host`? `*.example.com` admits
/// `a.example.com` and `a.b.example.com` but not `example.com`; `*` admits everything.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_prefix('*') {
        Some(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
        None => pattern.eq_ignore_ascii_case(host),
    }
}

/// What the mesh knows of `host` (no port) for a client in `namespace`, when no virtual host
/// of the port it was sent to has it: a service with other ports, or nothing (with the
/// closest known name, if one is one or two edits away).
///
/// ```
/// use meshsim::Mesh;
/// use meshsim::model::host_knowledge;
/// use meshsim::trace::HostKnowledge;
/// let mesh = Mesh::load(&["policies/canary-cookie"]).unwrap();
/// assert_eq!(
///     host_knowledge(&mesh, "myweb-service", "default"),
///     HostKnowledge::OtherPorts {
///         service: "myweb-service.default.svc.cluster.local".into(),
///         ports: vec![80],
///     }
/// );
/// assert_eq!(
///     host_knowledge(&mesh, "myweb-servce", "default"),
///     HostKnowledge::Unknown { did_you_mean: Some("myweb-service".into()) }
/// );
/// ```
pub fn host_knowledge(mesh: &crate::Mesh, host: &str, namespace: &str) -> HostKnowledge {
    let host = host.to_ascii_lowercase();
    let mut names: Vec<String> = Vec::new();
    for s in &mesh.topology.services {
        let aliases = service_aliases(&s.hostname, namespace);
        if aliases.contains(&host) {
            return HostKnowledge::OtherPorts {
                service: s.hostname.clone(),
                ports: s.ports.iter().map(|p| p.number).collect(),
            };
        }
        names.extend(aliases);
    }
    names.extend(
        mesh.virtual_services
            .iter()
            .flat_map(|v| v.spec.hosts.iter())
            .filter(|h| !h.contains('*'))
            .map(|h| h.to_ascii_lowercase()),
    );
    names.sort();
    names.dedup();
    let did_you_mean =
        crate::common::closest(&host, names.iter().map(String::as_str), 2).map(str::to_string);
    HostKnowledge::Unknown { did_you_mean }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_of_a_service() {
        let a = service_aliases("reviews.default.svc.cluster.local", "default");
        assert_eq!(
            a,
            [
                "reviews.default.svc.cluster.local",
                "reviews.default.svc",
                "reviews.default",
                "reviews"
            ]
        );
        let b = service_aliases("reviews.default.svc.cluster.local", "other");
        assert!(!b.contains(&"reviews".to_string()));
    }

    #[test]
    fn wildcards() {
        assert!(host_matches("*.domain.com", "myweb-service.domain.com"));
        assert!(!host_matches("*.domain.com", "domain.com"));
        assert!(host_matches("*", "anything"));
        assert!(host_matches("Web.Example.com", "web.example.com"));
    }
}
