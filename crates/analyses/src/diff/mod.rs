//! `kubeseg diff`: what a change of manifests opens or closes, connection by connection,
//! and which edit is responsible.
//!
//! Connections are compared on their composed verdict: what L3/L4 (the cluster tiers and
//! NetworkPolicy) allows, minus the TCP ports the destination's proxy denies for any
//! request, with what the mesh requires of the requests on the rest. Workloads are
//! matched by id. Outside addresses are compared on the common refinement of both
//! sides' address atoms, so every address range reported has one verdict before and
//! one after.

mod compose;
mod edits;

pub use edits::PolicyEdit;

use crate::attribution::Attribution;
use crate::finding::Evidence;
use kubeseg_engine::atoms::partition;
use kubeseg_engine::mesh::{Annotator, Decision, MeshOptions, Request};
use kubeseg_engine::portsets::PortSetId;
use kubeseg_engine::{Endpoint, Engine};
use kubeseg_model::{IpSet, PortSet, Protocol};
use std::collections::{BTreeMap, BTreeSet};

/// How a policy changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

/// What the mesh requires of the requests on the ports of a connection it lets
/// through: per group of TCP ports, allowed for any request or only under conditions.
/// Empty when the destination has no proxy and no policy covers it.
pub type MeshNote = Vec<(PortSet, Decision)>;

/// One connection that differs, as indices into its [`Diff`]'s tables (a large diff
/// holds millions of these).
#[derive(Clone, Debug)]
pub struct Change {
    /// Source: index into [`Diff::endpoints`].
    pub src: u32,
    /// Destination: index into [`Diff::endpoints`].
    pub dst: u32,
    /// Open before (L3/L4 minus what the mesh denies): index into [`Diff::port_sets`].
    pub before: u32,
    /// Open after: index into [`Diff::port_sets`].
    pub after: u32,
    /// The mesh's requirements before: index into [`Diff::mesh_notes`] (0: none).
    pub mesh_before: u32,
    /// The mesh's requirements after.
    pub mesh_after: u32,
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
    /// Distinct mesh notes of the changes; the first is the empty one.
    pub mesh_notes: Vec<MeshNote>,
    /// Whether either side has a mesh (then verdicts are composed with it).
    pub mesh: bool,
    /// Per endpoint: the edited policies (indices into `policies`) that isolate or
    /// select its egress, on either side.
    pub egress_causes: Vec<Vec<u32>>,
    /// Per endpoint: the edited policies that isolate, select or cover its ingress.
    pub ingress_causes: Vec<Vec<u32>>,
    /// Per endpoint: how the workload changed (`None`: not at all, or an address range).
    pub workload_edits: Vec<Option<Edit>>,
    /// Connections that did not exist before.
    pub added: Vec<Change>,
    /// Connections that no longer exist.
    pub removed: Vec<Change>,
    /// Connections whose ports changed.
    pub changed: Vec<Change>,
    /// Workloads only in NEW, only in OLD.
    pub workloads: (Vec<String>, Vec<String>),
    /// Policy edits of every layer, sorted by kind and id.
    pub policies: Vec<PolicyEdit>,
}

/// An edit that may explain a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// A policy edit: index into [`Diff::policies`].
    Policy(u32),
    /// A workload (index into [`Diff::endpoints`]) added, removed or changed.
    Workload(u32, Edit),
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

/// The mesh verdict of one side's cell on `port`, labelled `now` or `before`.
fn labelled_mesh_evidence(
    engine: &Engine,
    (src, dst): (Option<usize>, Option<usize>),
    port: u16,
    mesh: &MeshOptions,
    label: &str,
) -> Vec<Evidence> {
    let (Some(s), Some(d)) = (src, dst) else {
        return Vec::new();
    };
    crate::assert::pair_mesh_evidence(engine, s, d, port, &Request::default(), mesh)
        .into_iter()
        .map(|e| Evidence::at(e.location, format!("{label}: {}", e.message)))
        .collect()
}

/// Compares OLD with NEW, composing each side's mesh (set up by `mesh`) when it has one.
pub fn diff(old: &mut Engine, new: &mut Engine, with_evidence: bool, mesh: &MeshOptions) -> Diff {
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
    let refined: Vec<String> = part.atoms.iter().map(|a| a.readable()).collect();
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
    let (old_cluster, new_cluster) = (old.cluster, new.cluster);
    let mesh_a = Annotator::new(old_cluster, mesh.clone());
    let mesh_b = Annotator::new(new_cluster, mesh.clone());
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
    let mut out = Diff {
        policies: edits::policy_edits(old_cluster, new_cluster),
        mesh_notes: vec![Vec::new()],
        mesh: mesh_a.is_some() || mesh_b.is_some(),
        ..Diff::default()
    };

    // Workloads.
    let old_ids: Vec<String> = old_cluster.workloads.iter().map(|w| w.id()).collect();
    let new_ids: Vec<String> = new_cluster.workloads.iter().map(|w| w.id()).collect();
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
    out.workload_edits = endpoints
        .iter()
        .map(|(_, ea, eb, ext)| match (ext, ea, eb) {
            (true, ..) => None,
            (false, None, Some(_)) => Some(Edit::Added),
            (false, Some(_), None) => Some(Edit::Removed),
            (false, Some(x), Some(y)) => edits::workload_changed(
                (old_cluster, &old_cluster.workloads[*x]),
                (new_cluster, &new_cluster.workloads[*y]),
            )
            .then_some(Edit::Modified),
            (false, None, None) => None,
        })
        .collect();
    // Per endpoint: the edited policies isolating or selecting its egress, its ingress,
    // on either side.
    let position = |kind: &str, id: &str| {
        out.policies
            .binary_search_by(|e| (e.kind.as_str(), e.id.as_str()).cmp(&(kind, id)))
            .ok()
            .map(|i| i as u32)
    };
    let old_cause: Vec<Option<u32>> = old_cluster
        .policies
        .iter()
        .map(|p| position("NetworkPolicy", &p.id()))
        .collect();
    let new_cause: Vec<Option<u32>> = new_cluster
        .policies
        .iter()
        .map(|p| position("NetworkPolicy", &p.id()))
        .collect();
    let (old_edited, new_edited) = (
        edits::Edited::new(old_cluster, &out.policies),
        edits::Edited::new(new_cluster, &out.policies),
    );
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
                        v.extend(old_edited.selecting(old_cluster, *e, egress, mesh));
                    }
                    if let Some(e) = eb {
                        let (s, d) = pick(*e);
                        v.extend(b.isolating(s, d).into_iter().filter_map(|p| new_cause[p]));
                        v.extend(new_edited.selecting(new_cluster, *e, egress, mesh));
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
    // Where L3/L4 is the same on both sides, the mesh can answer differently only when
    // the source's identity or the destination's mesh context changed: its workload,
    // the AuthorizationPolicies and PeerAuthentications covering it, or its
    // namespace's Services. Elsewhere a cell equal in L3/L4 needs no mesh evaluation.
    let service_edits = edits::namespaces_with_service_edits(old_cluster, new_cluster);
    let mesh_stable: Vec<bool> = endpoints
        .iter()
        .enumerate()
        .map(|(i, (id, _, _, ext))| {
            *ext || (out.workload_edits[i].is_none()
                && !out.ingress_causes[i]
                    .iter()
                    .any(|&p| edits::is_mesh_edit(&out.policies[p as usize]))
                && id.split_once('/').is_none_or(|(ns, _)| {
                    service_edits
                        .binary_search_by(|s| s.as_str().cmp(ns))
                        .is_err()
                }))
        })
        .collect();
    let mut equal: rustc_hash::FxHashMap<(PortSetId, PortSetId), bool> = Default::default();
    let mut tables = compose::Tables::new();
    let (mut compose_a, mut compose_b) = (
        compose::Composer::new(mesh_a),
        compose::Composer::new(mesh_b),
    );
    // Table entries of the changes in `out.port_sets` and `out.mesh_notes`.
    let mut exported_sets: rustc_hash::FxHashMap<u32, u32> = Default::default();
    let mut exported_notes: rustc_hash::FxHashMap<u32, u32> = Default::default();
    exported_notes.insert(0, 0);
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
                    // Into a workload, the mesh may differ while L3/L4 does not.
                    if same && (!out.mesh || *d_ext || (mesh_stable[si] && mesh_stable[di])) {
                        continue;
                    }
                    let (open_a, note_a) = compose_a.compose(a.engine, &mut tables, *sa, *da, ia);
                    let (open_b, note_b) = compose_b.compose(b.engine, &mut tables, *sb, *db, ib);
                    if open_a == open_b && note_a == note_b {
                        continue;
                    }
                    let mut export_set = |i: u32| -> u32 {
                        *exported_sets.entry(i).or_insert_with(|| {
                            out.port_sets.push(tables.sets[i as usize].clone());
                            (out.port_sets.len() - 1) as u32
                        })
                    };
                    let (before, after) = (export_set(open_a), export_set(open_b));
                    let mut export_note = |i: u32| -> u32 {
                        *exported_notes.entry(i).or_insert_with(|| {
                            out.mesh_notes.push(tables.notes[i as usize].clone());
                            (out.mesh_notes.len() - 1) as u32
                        })
                    };
                    let (mesh_before, mesh_after) = (export_note(note_a), export_note(note_b));
                    let (empty_a, empty_b) = (
                        tables.sets[open_a as usize].is_empty(),
                        tables.sets[open_b as usize].is_empty(),
                    );
                    let mut evidence = Vec::new();
                    if with_evidence {
                        if !empty_b {
                            evidence.extend(b.evidence(*sb, *db, "now"));
                        }
                        if !empty_a {
                            evidence.extend(a.evidence(*sa, *da, "before"));
                        }
                        // The mesh's say on the first TCP port where the sides differ.
                        let l4 = a.engine.port_set(ia).union(b.engine.port_set(ib));
                        let port = l4.ports(Protocol::Tcp).ranges().first().map(|r| r.0);
                        if let (true, Some(port)) = (!same || mesh_before != mesh_after, port) {
                            evidence.extend(labelled_mesh_evidence(
                                b.engine,
                                (*sb, *db),
                                port,
                                mesh,
                                "now",
                            ));
                            evidence.extend(labelled_mesh_evidence(
                                a.engine,
                                (*sa, *da),
                                port,
                                mesh,
                                "before",
                            ));
                        }
                    }
                    let change = Change {
                        src: si as u32,
                        dst: di as u32,
                        before,
                        after,
                        mesh_before,
                        mesh_after,
                        evidence,
                    };
                    match (empty_a, empty_b) {
                        (true, true) => {}
                        (true, false) => out.added.push(change),
                        (false, true) => out.removed.push(change),
                        (false, false) => out.changed.push(change),
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
    /// The edits that may explain a change: the workloads at its ends that were added,
    /// removed or changed, then the policy edits of every layer that isolate, select or
    /// cover its ends, sorted.
    pub fn causes(&self, c: &Change) -> Vec<Cause> {
        let mut v: Vec<Cause> = [c.src, c.dst]
            .iter()
            .filter_map(|&e| self.workload_edits[e as usize].map(|edit| Cause::Workload(e, edit)))
            .collect();
        let mut p = self.egress_causes[c.src as usize].clone();
        p.extend(&self.ingress_causes[c.dst as usize]);
        p.sort_unstable();
        p.dedup();
        v.extend(p.into_iter().map(Cause::Policy));
        v
    }
}
