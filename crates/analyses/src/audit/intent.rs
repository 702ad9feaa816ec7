//! `audit --spec`: the flows a team declares required (the spec's `allow` assertions,
//! as `kubeseg test` reads them). The minimal fix never cuts one, and a crown jewel
//! the entry points reach over required flows alone is intended, not a finding
//! (see [`crate::required_cut`]).

use super::AuditError;
use crate::required_cut::Required;
use crate::rows::Rows;
use kubeseg_engine::Engine;
use kubeseg_model::spec::{Check, ConnectivitySpec};
use std::collections::BTreeMap;

/// The required connections between workloads, with the assertions that require them.
#[derive(Debug, Default)]
pub struct Intent {
    /// Required workload → workload connections that exist.
    pub required: Required,
    /// The names of the assertions behind each.
    names: BTreeMap<(u32, u32), Vec<String>>,
}

impl Intent {
    /// Reads the spec's `allow` assertions; a party that matches nothing is an error, as
    /// in `kubeseg test`. Other assertion kinds say nothing about what is required.
    pub fn from_spec(
        engine: &mut Engine,
        rows: &Rows,
        spec: &ConnectivitySpec,
        notes: &mut Vec<String>,
    ) -> Result<Intent, AuditError> {
        let mut intent = Intent::default();
        let n = rows.workloads;
        for a in &spec.assertions {
            let Check::Allow(flow) = &a.check else {
                continue;
            };
            let mut sides = Vec::new();
            for parties in [&flow.from, &flow.to] {
                let mut hits = Vec::new();
                for p in parties {
                    let found = crate::resolve::party(engine, p);
                    if found.is_empty() {
                        return Err(AuditError::Spec(format!(
                            "{}: assertion `{}`: `{}` matches nothing in the input",
                            p.location, a.name, p.text
                        )));
                    }
                    hits.extend(found);
                }
                sides.push(hits);
            }
            // Connections to or from outside addresses are no hop of the workload graph.
            for &u in sides[0].iter().filter(|&&u| u < n) {
                for &v in sides[1].iter().filter(|&&v| v < n && v != u) {
                    if !rows.out(u).contains(v) {
                        continue;
                    }
                    // With ports, the flow exists only when all of them are open (as
                    // `kubeseg test` checks it); otherwise nothing is required of u → v.
                    if let Some(ports) = &flow.ports {
                        let missing = ports.difference(&engine.pair(u, v));
                        if !missing.is_empty() {
                            notes.push(format!(
                                "--spec assertion `{}`: {} → {} does not allow {missing}, so it is not counted as a required flow (kubeseg test fails it)",
                                a.name,
                                engine.endpoint_id(u),
                                engine.endpoint_id(v)
                            ));
                            continue;
                        }
                    }
                    {
                        let key = (u as u32, v as u32);
                        intent.required.insert(key);
                        let names = intent.names.entry(key).or_default();
                        if !names.contains(&a.name) {
                            names.push(a.name.clone());
                        }
                    }
                }
            }
        }
        Ok(intent)
    }

    /// Whether no flow is required.
    pub fn is_empty(&self) -> bool {
        self.required.is_empty()
    }

    /// Whether `u → v` is required.
    pub fn requires(&self, u: usize, v: usize) -> bool {
        self.required.contains(&(u as u32, v as u32))
    }

    /// The assertions that require `u → v`.
    pub fn names(&self, u: usize, v: usize) -> &[String] {
        self.names
            .get(&(u as u32, v as u32))
            .map_or(&[], Vec::as_slice)
    }

    /// A shortest path from `sources` to `target` over required connections alone.
    pub fn path(&self, n: usize, sources: &[usize], target: usize) -> Option<Vec<usize>> {
        let mut parent = vec![usize::MAX; n];
        let mut queue: std::collections::VecDeque<usize> = sources.iter().copied().collect();
        for &s in sources {
            parent[s] = s;
        }
        while let Some(u) = queue.pop_front() {
            if u == target {
                let mut hops = vec![u];
                while parent[hops[hops.len() - 1]] != hops[hops.len() - 1] {
                    hops.push(parent[hops[hops.len() - 1]]);
                }
                hops.reverse();
                return Some(hops);
            }
            // `names` is keyed by (source, destination): u's required successors, in order.
            let u32_ = u as u32;
            for &(_, v) in self
                .names
                .range((u32_, 0)..=(u32_, u32::MAX))
                .map(|(k, _)| k)
            {
                let v = v as usize;
                if parent[v] == usize::MAX {
                    parent[v] = u;
                    queue.push_back(v);
                }
            }
        }
        None
    }
}
