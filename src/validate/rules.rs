//! Small checks shared by the per-kind validators, each following Istio's
//! `pkg/config/validation` (and Kubernetes' label rules).

use crate::config::{Duration, StringMatch};

/// A DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters (Istio accepts
/// uppercase letters in subset names, and meshsim accepts them everywhere).
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A host as a VirtualService, DestinationRule or Gateway may name it: `*`, `*.suffix`, a DNS
/// name, or an IP address.
pub fn host_error(h: &str) -> Option<String> {
    if h.is_empty() {
        return Some("empty host".into());
    }
    if h == "*" || h.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let rest = match h.strip_prefix("*.") {
        Some(r) => r,
        None if h.contains('*') => {
            return Some(format!(
                "host `{h}`: a wildcard is allowed only as the whole first label (`*.example.com`)"
            ));
        }
        None => h,
    };
    if h.len() > 255 {
        return Some(format!("host `{h}` is longer than 255 characters"));
    }
    for label in rest.split('.') {
        if !is_dns_label(label) {
            return Some(format!("host `{h}`: `{label}` is not a valid DNS label"));
        }
    }
    None
}

/// An HTTP header name: a token, a pseudo-header, or a JWT claim reference.
pub fn header_name_error(n: &str) -> Option<String> {
    if matches!(
        n,
        ":method" | ":scheme" | ":authority" | ":path" | ":status"
    ) || n.starts_with("@request.auth.claims")
    {
        return None;
    }
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if n.is_empty() || !n.chars().all(token) {
        return Some(format!("header name `{n}` is not a valid HTTP token"));
    }
    None
}

/// Istio's `ValidateDuration`: at least 1 ms, whole milliseconds.
pub fn duration_error(d: Duration) -> Option<String> {
    if d.nanos < 1_000_000 {
        return Some(format!("duration {d} is below Istio's minimum of 1ms"));
    }
    if !d.nanos.is_multiple_of(1_000_000) {
        return Some(format!("duration {d} is finer than Istio's 1ms precision"));
    }
    None
}

/// Istio's regex checks: non-empty, at most 1024 characters, RE2 syntax.
pub fn regex_error(r: &str) -> Option<String> {
    if r.is_empty() {
        return Some("empty regex".into());
    }
    if r.len() > 1024 {
        return Some(format!(
            "regex is {} characters; Istio allows 1024",
            r.len()
        ));
    }
    regex::RegexBuilder::new(r)
        .size_limit(1 << 20)
        .build()
        .err()
        .map(|e| match e {
            regex::Error::Syntax(s) => format!(
                "`{r}` is not an RE2 regex (Istio uses RE2 syntax): {}",
                s.lines().last().unwrap_or(&s).trim()
            ),
            e => format!("`{r}`: {e}"),
        })
}

/// Problems of a `StringMatch`: several types at once, `prefix: ""` where not allowed, a bad
/// regex. `empty_prefix_ok` for `uri`.
pub fn string_match_errors(m: &StringMatch, empty_prefix_ok: bool) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let set = [m.exact.is_some(), m.prefix.is_some(), m.regex.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if set > 1 {
        out.push((
            "",
            "set only one of `exact`, `prefix` and `regex`".to_string(),
        ));
    }
    if m.prefix.as_deref() == Some("") && !empty_prefix_ok {
        out.push(("prefix", "an empty prefix is not allowed here".into()));
    }
    if let Some(r) = &m.regex
        && r != "*"
        && let Some(e) = regex_error(r)
    {
        out.push(("regex", e));
    }
    out
}

/// A Kubernetes label key and value.
pub fn label_error(k: &str, v: &str) -> Option<String> {
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    if let Some(p) = prefix
        && (p.is_empty() || p.len() > 253 || !p.split('.').all(is_dns_label))
    {
        return Some(format!(
            "label key `{k}`: the prefix must be a DNS subdomain"
        ));
    }
    if !name_ok(name) {
        return Some(format!("label key `{k}` is not a valid label name"));
    }
    if !v.is_empty() && !name_ok(v) {
        return Some(format!(
            "label value `{v}` is not valid (63 characters at most, alphanumerics, `-`, `_`, `.`)"
        ));
    }
    None
}

/// Is `n` prime? (maglev table sizes)
pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut i = 2u64;
    while i * i <= n {
        if n.is_multiple_of(i) {
            return false;
        }
        i += 1;
    }
    true
}

/// Istio's fault percentage: 0, or within [0.0001, 100].
pub fn fault_percentage_error(v: f64) -> Option<String> {
    if v == 0.0 || (0.0001..=100.0).contains(&v) {
        None
    } else {
        Some(format!(
            "percentage {v} is neither 0.0, nor in range [0.0001, 100.0]"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for ok in [
            "*",
            "*.example.com",
            "reviews",
            "reviews.default.svc.cluster.local",
            "10.0.0.1",
            "Web.Example.com",
        ] {
            assert_eq!(host_error(ok), None, "{ok}");
        }
        for bad in ["", "*example.com", "a.*.com", "-a.com", "a..com", "a_b.com"] {
            assert!(host_error(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn small_rules() {
        assert!(header_name_error("x-user").is_none());
        assert!(header_name_error("bad name").is_some());
        assert!(duration_error(Duration::from_millis(1)).is_none());
        assert!(duration_error(Duration { nanos: 1_500_000 }).is_some());
        assert!(duration_error(Duration::default()).is_some());
        assert!(regex_error("(").is_some());
        assert!(regex_error("^(.*?;)?(user=jason)(;.*)?$").is_none());
        assert!(label_error("app", "web").is_none());
        assert!(label_error("app.kubernetes.io/name", "web").is_none());
        assert!(label_error("bad key", "x").is_some());
        assert!(is_prime(65537) && is_prime(251) && !is_prime(65536) && !is_prime(1));
        assert!(fault_percentage_error(0.00001).is_some());
        assert!(fault_percentage_error(50.0).is_none());
    }
}
