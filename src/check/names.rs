//! A test that names what the mesh does not have can only pass by accident (`share: {v3: 0% ±
//! 1%}` passes for a subset that does not exist): such names, and impossible statuses, are
//! errors before any request is sent.

use super::{Check, TestCase};
use crate::model::{Mesh, service_aliases};
use std::collections::BTreeSet;

/// Everything a test may name: subsets, services (by each alias), `host subset` labels,
/// workloads (pods and their controllers), endpoints, rule names.
struct Known {
    subsets: BTreeSet<String>,
    names: BTreeSet<String>,
}

impl Known {
    fn of(mesh: &Mesh) -> Known {
        let subsets: BTreeSet<String> = mesh
            .destination_rules
            .iter()
            .flat_map(|d| d.spec.subsets.iter().map(|s| s.name.clone()))
            .collect();
        let mut names = BTreeSet::new();
        for s in &mesh.topology.services {
            for alias in service_aliases(&s.hostname, &s.namespace) {
                for sub in &subsets {
                    names.insert(format!("{alias} {sub}"));
                }
                names.insert(alias);
            }
        }
        for i in &mesh.topology.instances {
            names.insert(i.name.clone());
            names.insert(i.address.clone());
        }
        names.extend(mesh.workloads.iter().map(|w| w.name.clone()));
        for vs in &mesh.virtual_services {
            names.extend(vs.spec.http.iter().filter_map(|h| h.name.clone()));
            names.extend(vs.spec.hosts.iter().cloned());
        }
        Known { subsets, names }
    }

    fn route_ok(&self, r: &str) -> bool {
        self.names.contains(r)
            || ["default", "allow_any", "block_all"].contains(&r)
            || r.starts_with("http[")
            || r.split_once('.')
                .is_some_and(|(a, _)| self.names.contains(a))
    }

    fn share_key_ok(&self, k: &str) -> bool {
        if let Some(prefix) = k.strip_suffix('*') {
            // `myweb-deployment-v1-*`: the pods of a workload, as the check matches them.
            return self.names.iter().any(|n| n.starts_with(prefix));
        }
        (k.len() == 3 && k.parse::<u16>().is_ok())
            || self.subsets.contains(k)
            || self.names.contains(k)
            || self.names.iter().any(|n| {
                // Endpoints as IP:PORT, pods by their controller's prefix.
                n.starts_with(k) && n[k.len()..].starts_with([':', '-'])
            })
    }
}

/// For each test, what it names that the mesh lacks and its impossible expectations, one
/// sentence each (the mesh's names are gathered once for all the tests).
pub fn unknown_names(mesh: &Mesh, tests: &[TestCase]) -> Vec<Vec<String>> {
    let known = Known::of(mesh);
    tests
        .iter()
        .map(|t| {
            let mut out = Vec::new();
            check(&known, &t.check, "", &mut out);
            if t.repeat == 0 {
                out.push("requests: 0 sends nothing; give at least 1".into());
            }
            out
        })
        .collect()
}

fn check(known: &Known, c: &Check, prefix: &str, out: &mut Vec<String>) {
    if let Some(s) = &c.subset
        && !known.subsets.contains(s)
    {
        out.push(format!(
            "{prefix}subset `{s}` is defined by no DestinationRule (subsets: {})",
            list(&known.subsets)
        ));
    }
    if let Some(r) = &c.route
        && !known.route_ok(r)
    {
        out.push(format!("{prefix}route `{r}` is the name of no rule"));
    }
    if let Some(st) = c.status
        && st != 0
        && !(100..=599).contains(&st)
    {
        out.push(format!(
            "{prefix}status {st} is not an HTTP status (100-599; 0 is no answer)"
        ));
    }
    for (k, _, _) in &c.shares {
        if !known.share_key_ok(k) {
            out.push(format!(
                "{prefix}share `{k}` names no subset, service, workload, endpoint, rule or status of this mesh"
            ));
        }
    }
    if let Some(n) = &c.not {
        check(known, n, "not: ", out);
    }
}

fn list(s: &BTreeSet<String>) -> String {
    if s.is_empty() {
        "none".into()
    } else {
        s.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}
