//! Which VirtualService rules (and which weighted destinations) the tests exercised, as
//! Envoy's route check tool reports route coverage.

use crate::model::Mesh;
use crate::sim::Decision;
use std::collections::BTreeMap;

type Key = (usize, usize, Option<(usize, usize)>, Option<usize>);

/// A rule to cover: (delegate VirtualService and rule, the rule, its label).
type Leaf<'a> = (Option<(usize, usize)>, &'a crate::config::HttpRoute, String);

/// Coverage of the mesh's VirtualService rules.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    items: BTreeMap<Key, (String, bool)>,
}

/// Something no test exercised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uncovered {
    /// `namespace/name http[i] "name"`, with the destination for weighted ones.
    pub label: String,
}

impl Coverage {
    /// Every rule of every VirtualService with hosts (delegated rules through their root), and
    /// every destination with a positive weight in a multi-destination rule.
    pub fn of(mesh: &Mesh) -> Coverage {
        let mut items = BTreeMap::new();
        let rule_label = |vi: usize, i: usize| {
            let vs = &mesh.virtual_services[vi];
            let name = vs.spec.http[i]
                .name
                .as_deref()
                .map(|n| format!(" {n:?}"))
                .unwrap_or_default();
            format!("{}/{} http[{i}]{name}", vs.namespace, vs.name)
        };
        for (vi, vs) in mesh.virtual_services.iter().enumerate() {
            if vs.spec.hosts.is_empty() {
                continue;
            }
            for (i, rule) in vs.spec.http.iter().enumerate() {
                let mut leaves: Vec<Leaf<'_>> = Vec::new();
                match &rule.delegate {
                    Some(d) => {
                        let ns = d.namespace.as_deref().unwrap_or(&vs.namespace);
                        if let Some(ci) = mesh.virtual_services.iter().position(|c| {
                            c.name == d.name && c.namespace == ns && c.spec.hosts.is_empty()
                        }) {
                            for (j, leaf) in mesh.virtual_services[ci].spec.http.iter().enumerate()
                            {
                                leaves.push((
                                    Some((ci, j)),
                                    leaf,
                                    format!("{} → {}", rule_label(vi, i), rule_label(ci, j)),
                                ));
                            }
                        } else {
                            leaves.push((None, rule, rule_label(vi, i)));
                        }
                    }
                    None => leaves.push((None, rule, rule_label(vi, i))),
                }
                for (delegate, leaf, label) in leaves {
                    items.insert((vi, i, delegate, None), (label.clone(), false));
                    if leaf.route.len() > 1 {
                        for (k, rd) in leaf.route.iter().enumerate() {
                            if rd.weight > 0 {
                                let dest = match &rd.destination.subset {
                                    Some(s) => format!("{} {s}", rd.destination.host),
                                    None => rd.destination.host.clone(),
                                };
                                items.insert(
                                    (vi, i, delegate, Some(k)),
                                    (format!("{label} route[{k}] ({dest})"), false),
                                );
                            }
                        }
                    }
                }
            }
        }
        Coverage { items }
    }

    /// Marks what a decision exercised.
    pub fn record(&mut self, d: &Decision) {
        let Some(r) = d.rule else { return };
        if let Some(item) = self
            .items
            .get_mut(&(r.virtual_service, r.rule, r.delegate, None))
        {
            item.1 = true;
        }
        if d.weight.is_some()
            && let Some(k) = d.destination_index
            && let Some(item) =
                self.items
                    .get_mut(&(r.virtual_service, r.rule, r.delegate, Some(k)))
        {
            item.1 = true;
        }
    }

    /// (exercised, total).
    pub fn counts(&self) -> (usize, usize) {
        (
            self.items.values().filter(|v| v.1).count(),
            self.items.len(),
        )
    }

    /// Percentage exercised (100 when there is nothing to exercise).
    pub fn percent(&self) -> f64 {
        let (hit, total) = self.counts();
        if total == 0 {
            100.0
        } else {
            hit as f64 * 100.0 / total as f64
        }
    }

    /// What no test exercised, in VirtualService and rule order.
    pub fn uncovered(&self) -> Vec<Uncovered> {
        self.items
            .values()
            .filter(|v| !v.1)
            .map(|v| Uncovered { label: v.0.clone() })
            .collect()
    }
}
