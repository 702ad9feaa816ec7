//! `kubeseg diff`: what a change of manifests opens or closes, connection by connection,
//! and which policy edit is responsible.
//!
//! Workloads are matched by id. Outside addresses are compared on the common refinement
//! of both sides' address atoms, so every address range reported has one verdict before
//! and one after.

use crate::attribution::Attribution;
use crate::finding::Evidence;
use kubeseg_engine::atoms::partition;
use kubeseg_engine::portsets::PortSetId;
use kubeseg_engine::{Endpoint, Engine};
use kubeseg_model::{IpSet, NetworkPolicy, PortSet};
use std::collections::{BTreeMap, BTreeSet};

/// How a policy changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Edit {
    /// Only in NEW.
    Added,
    /// Only in OLD.
    Removed,
    /// In both, with another spec.
    Modified,
}

impl Edit {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Edit::Added => "added",
            Edit::Removed => "removed",
            Edit::Modified => "modified",
        }
    }
}

/// One connection that differs, as indices into its [`Diff`]'s tables (a large diff
/// holds millions of these).
#[derive(Clone, Debug)]
pub struct Change {
    /// Source: index into [`Diff::endpoints`].
    pub src: u32,
    /// Destination: index into [`Diff::endpoints`].
    pub dst: u32,
    /// Allowed before: index into [`Diff::port_sets`].
    pub before: u32,
    /// Allowed after: index into [`Diff::port_sets`].
    pub after: u32,
    /// The rules behind the change on each side (only when asked for).
    pub evidence: Vec<Evidence>,
}

/// The semantic difference of two inputs.
#[derive(Debug, Default)]
pub struct Diff {
    /// Endpoint ids: workloads of either side by id, then address ranges.
    pub endpoints: Vec<String>,
    /// Distinct port sets of the changes.
    pub port_sets: Vec<PortSet>,
    /// Per endpoint: the edited policies (indices into `policies`) isolating its egress,
    /// on either side.
    pub egress_causes: Vec<Vec<u32>>,
    /// Per endpoint: the edited policies isolating its ingress, on either side.
    pub ingress_causes: Vec<Vec<u32>>,
    /// Connections that did not exist before.
    pub added: Vec<Change>,
    /// Connections that no longer exist.
    pub removed: Vec<Change>,
    /// Connections whose ports changed.
    pub changed: Vec<Change>,
    /// Workloads only in NEW, only in OLD.
    pub workloads: (Vec<String>, Vec<String>),
    /// Policy edits: (namespace/name, edit, location on its side).
    pub policies: Vec<(String, Edit, Option<kubeseg_model::Location>)>,
}

/// The spec of a policy as text, without locations (equal texts: unchanged).
pub fn canonical(p: &NetworkPolicy) -> String {
    let mut s = format!(
        "{}|{}|{}|",
        p.pod_selector, p.isolates_ingress, p.isolates_egress
    );
    for rules in [&p.ingress, &p.egress] {
        for r in rules {
            let peers: Vec<String> = r
                .peers
                .iter()
                .flatten()
                .map(|x| format!("{:?}", x.kind))
                .collect();
            s.push_str(&format!(
                "[{}|{}|{:?}]",
                r.peers.is_some(),
                peers.join(","),
                r.ports
            ));
        }
        s.push('/');
    }
    s
}

/// One side's view: its engine, rows, and atoms mapped onto the common refinement.
struct Side<'e, 'c> {
    engine: &'e mut Engine<'c>,
    /// Workload id → index.
    ids: BTreeMap<String, usize>,
    attribution: Attribution,
    /// Refined atom → this side's endpoint index.
    atom_endpoint: Vec<usize>,
}

impl Side<'_, '_> {
    /// What `src` may send to every endpoint, as interned ids of this side.
    fn row(&mut self, src: usize) -> Vec<PortSetId> {
        let (mut scratch, mut row) = (Vec::new(), Vec::new());
        self.engine.reach.endpoint_row(src, &mut scratch, &mut row);
        row
    }

    fn workload(&self, id: &str) -> Option<usize> {
        self.ids.get(id).copied()
    }

    /// The rules that allow `src → dst` on this side, labelled.
    fn evidence(&mut self, src: Option<usize>, dst: Option<usize>, label: &str) -> Vec<Evidence> {
        let (Some(s), Some(d)) = (src, dst) else {
            return Vec::new();
        };
        self.attribution
            .pair_evidence(self.engine, s, d)
            .into_iter()
            .map(|e| Evidence::at(e.location, format!("{label}: {}", e.message)))
            .collect()
    }

    /// The policies isolating the egress of `src` or the ingress of `dst` (endpoints).
    fn isolating(&self, src: Option<usize>, dst: Option<usize>) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        if let Some(s) = src {
            for n in self.engine.reach.endpoint_nodes(s) {
                out.extend(
                    self.attribution
                        .egress_policies(n)
                        .iter()
                        .map(|&p| p as usize),
                );
            }
        }
        if let Some(d) = dst {
            for n in self.engine.reach.endpoint_nodes(d) {
                out.extend(
                    self.attribution
                        .ingress_policies(n)
                        .iter()
                        .map(|&p| p as usize),
                );
            }
        }
        out
    }
}

/// The row keys of one endpoint on each side (`None` where it is absent).
type KeyPair = (Option<Vec<u32>>, Option<Vec<u32>>);

/// External atoms of an engine as (endpoint index, addresses).
fn atoms(engine: &Engine) -> Vec<(usize, IpSet)> {
    engine
        .endpoints()
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            Endpoint::External { addresses, .. } => Some((i, addresses.clone())),
            _ => None,
        })
        .collect()
}

/// Compares OLD with NEW.
pub fn diff(old: &mut Engine, new: &mut Engine, with_evidence: bool) -> Diff {
    // The common refinement of both sides' atoms.
    let (old_atoms, new_atoms) = (atoms(old), atoms(new));
    let sets: Vec<IpSet> = old_atoms
        .iter()
        .chain(&new_atoms)
        .map(|(_, s)| s.clone())
        .collect();
    let part = partition(&sets);
    let mut old_of = vec![0usize; part.atoms.len()];
    let mut new_of = vec![0usize; part.atoms.len()];
    for (i, members) in part.members.iter().enumerate() {
        for &r in members {
            if i < old_atoms.len() {
                old_of[r as usize] = old_atoms[i].0;
            } else {
                new_of[r as usize] = new_atoms[i - old_atoms.len()].0;
            }
        }
    }
    let refined: Vec<String> = part
        .atoms
        .iter()
        .map(|a| a.range_strings().join(","))
        .collect();
    let old_attr = Attribution::new(old);
    let new_attr = Attribution::new(new);
    let ids = |e: &Engine| -> BTreeMap<String, usize> {
        e.cluster
            .workloads
            .iter()
            .enumerate()
            .map(|(i, w)| (w.id(), i))
            .collect()
    };
    let mut a = Side {
        ids: ids(old),
        engine: old,
        attribution: old_attr,
        atom_endpoint: old_of,
    };
    let mut b = Side {
        ids: ids(new),
        engine: new,
        attribution: new_attr,
        atom_endpoint: new_of,
    };

    // Policy edits.
    let old_p: BTreeMap<String, (usize, String)> = a
        .engine
        .cluster
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id(), (i, canonical(p))))
        .collect();
    let new_p: BTreeMap<String, (usize, String)> = b
        .engine
        .cluster
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id(), (i, canonical(p))))
        .collect();
    let mut out = Diff::default();
    let mut edits: BTreeMap<String, Edit> = BTreeMap::new();
    for (id, (i, c)) in &old_p {
        match new_p.get(id) {
            None => {
                edits.insert(id.clone(), Edit::Removed);
                out.policies.push((
                    id.clone(),
                    Edit::Removed,
                    a.engine.cluster.policies[*i].location.clone(),
                ));
            }
            Some((j, c2)) if c2 != c => {
                edits.insert(id.clone(), Edit::Modified);
                out.policies.push((
                    id.clone(),
                    Edit::Modified,
                    b.engine.cluster.policies[*j].location.clone(),
                ));
            }
            _ => {}
        }
    }
    for (id, (j, _)) in &new_p {
        if !old_p.contains_key(id) {
            edits.insert(id.clone(), Edit::Added);
            out.policies.push((
                id.clone(),
                Edit::Added,
                b.engine.cluster.policies[*j].location.clone(),
            ));
        }
    }
    out.policies.sort_by(|x, y| x.0.cmp(&y.0));

    // Workloads.
    let old_ids: Vec<String> = a.engine.cluster.workloads.iter().map(|w| w.id()).collect();
    let new_ids: Vec<String> = b.engine.cluster.workloads.iter().map(|w| w.id()).collect();
    out.workloads.0 = new_ids
        .iter()
        .filter(|i| a.workload(i).is_none())
        .cloned()
        .collect();
    out.workloads.1 = old_ids
        .iter()
        .filter(|i| b.workload(i).is_none())
        .cloned()
        .collect();

    // Endpoints of either side: workloads by id, then refined atoms; a workload present
    // on one side only has all its connections added or removed.
    let mut ids: Vec<String> = old_ids.iter().chain(&new_ids).cloned().collect();
    ids.sort();
    ids.dedup();
    let endpoints: Vec<(String, Option<usize>, Option<usize>, bool)> = ids
        .iter()
        .map(|id| (id.clone(), a.workload(id), b.workload(id), false))
        .chain(refined.iter().enumerate().map(|(r, id)| {
            (
                id.clone(),
                Some(a.atom_endpoint[r]),
                Some(b.atom_endpoint[r]),
                true,
            )
        }))
        .collect();
    out.endpoints = endpoints.iter().map(|e| e.0.clone()).collect();
    // Per endpoint: the edited policies isolating its egress, its ingress, on either side.
    let position: BTreeMap<&str, u32> = out
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| (p.0.as_str(), i as u32))
        .collect();
    let old_cause: Vec<Option<u32>> = a
        .engine
        .cluster
        .policies
        .iter()
        .map(|p| position.get(p.id().as_str()).copied())
        .collect();
    let new_cause: Vec<Option<u32>> = b
        .engine
        .cluster
        .policies
        .iter()
        .map(|p| position.get(p.id().as_str()).copied())
        .collect();
    let ends = |egress: bool| -> Vec<Vec<u32>> {
        endpoints
            .iter()
            .map(|(_, ea, eb, ext)| {
                let mut v: Vec<u32> = Vec::new();
                if !ext {
                    let pick = |e: usize| {
                        if egress {
                            (Some(e), None)
                        } else {
                            (None, Some(e))
                        }
                    };
                    if let Some(e) = ea {
                        let (s, d) = pick(*e);
                        v.extend(a.isolating(s, d).into_iter().filter_map(|p| old_cause[p]));
                    }
                    if let Some(e) = eb {
                        let (s, d) = pick(*e);
                        v.extend(b.isolating(s, d).into_iter().filter_map(|p| new_cause[p]));
                    }
                }
                v.sort_unstable();
                v.dedup();
                v
            })
            .collect()
    };
    let (egress_causes, ingress_causes) = (ends(true), ends(false));
    out.egress_causes = egress_causes;
    out.ingress_causes = ingress_causes;
    let mut equal: rustc_hash::FxHashMap<(PortSetId, PortSetId), bool> = Default::default();
    let mut interned: rustc_hash::FxHashMap<(bool, PortSetId), u32> = Default::default();
    // Sources with the same row keys on both sides have the same rows: visit them
    // consecutively and compute each distinct pair of rows once.
    let key = |side: &Side, e: &Option<usize>| e.map(|e| side.engine.reach.endpoint_row_key(e));
    let mut order: Vec<(KeyPair, usize)> = endpoints
        .iter()
        .enumerate()
        .map(|(i, (_, sa, sb, _))| ((key(&a, sa), key(&b, sb)), i))
        .collect();
    order.sort();
    // Distinct key pairs with their sources; rows of each chunk of pairs are computed
    // on both sides at once, one side per core.
    let mut groups: Vec<(Option<usize>, Option<usize>, Vec<usize>)> = Vec::new();
    let mut last: Option<KeyPair> = None;
    for (keys, si) in order {
        let pair = Some(keys);
        if pair != last {
            groups.push((endpoints[si].1, endpoints[si].2, Vec::new()));
            last = pair;
        }
        if let Some(g) = groups.last_mut() {
            g.2.push(si);
        }
    }
    for chunk in groups.chunks(64) {
        let (rows_a, rows_b) = std::thread::scope(|scope| {
            let old_side = &mut a;
            let handle = scope.spawn(move || {
                chunk
                    .iter()
                    .map(|g| g.0.map(|s| old_side.row(s)))
                    .collect::<Vec<_>>()
            });
            let rows_b: Vec<Option<Vec<PortSetId>>> =
                chunk.iter().map(|g| g.1.map(|s| b.row(s))).collect();
            (handle.join(), rows_b)
        });
        let Ok(rows_a) = rows_a else {
            continue;
        };
        for ((row_a, row_b), g) in rows_a.iter().zip(&rows_b).zip(chunk) {
            for &si in &g.2 {
                let (_, sa, sb, s_ext) = &endpoints[si];
                for (di, (_, da, db, d_ext)) in endpoints.iter().enumerate() {
                    if si == di || (*s_ext && *d_ext) {
                        continue;
                    }
                    let cell = |row: &Option<Vec<PortSetId>>, d: &Option<usize>| match (row, d) {
                        (Some(r), Some(d)) => r[*d],
                        _ => PortSetId::EMPTY,
                    };
                    // Ids are per side: equality is memoised per pair of ids, sets kept only for changes.
                    let (ia, ib) = (cell(row_a, da), cell(row_b, db));
                    // Most cells are empty on both sides: no lookup for them.
                    if ia == PortSetId::EMPTY && ib == PortSetId::EMPTY {
                        continue;
                    }
                    let same = *equal
                        .entry((ia, ib))
                        .or_insert_with(|| a.engine.port_set(ia) == b.engine.port_set(ib));
                    if same {
                        continue;
                    }
                    let mut intern = |new_side: bool, id: PortSetId| -> u32 {
                        *interned.entry((new_side, id)).or_insert_with(|| {
                            let set = if new_side {
                                b.engine.port_set(id)
                            } else {
                                a.engine.port_set(id)
                            };
                            out.port_sets.push(set.clone());
                            (out.port_sets.len() - 1) as u32
                        })
                    };
                    let (before, after) = (intern(false, ia), intern(true, ib));
                    let mut evidence = Vec::new();
                    if with_evidence {
                        if ib != PortSetId::EMPTY {
                            evidence.extend(b.evidence(*sb, *db, "now"));
                        }
                        if ia != PortSetId::EMPTY {
                            evidence.extend(a.evidence(*sa, *da, "before"));
                        }
                    }
                    let change = Change {
                        src: si as u32,
                        dst: di as u32,
                        before,
                        after,
                        evidence,
                    };
                    match (ia == PortSetId::EMPTY, ib == PortSetId::EMPTY) {
                        (true, _) => out.added.push(change),
                        (_, true) => out.removed.push(change),
                        _ => out.changed.push(change),
                    }
                }
            }
        }
    }
    for list in [&mut out.added, &mut out.removed, &mut out.changed] {
        list.sort_by_key(|c| (c.src, c.dst));
    }
    out
}

impl Diff {
    /// The policy edits responsible for a change: indices into [`Diff::policies`], sorted.
    pub fn causes(&self, c: &Change) -> Vec<u32> {
        let mut v = self.egress_causes[c.src as usize].clone();
        v.extend(&self.ingress_causes[c.dst as usize]);
        v.sort_unstable();
        v.dedup();
        v
    }
}
