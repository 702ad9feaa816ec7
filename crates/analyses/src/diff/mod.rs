//! `kubeseg diff`: what a change of manifests opens or closes, connection by connection,
//! and which edit is responsible.
//!
//! Connections are compared on their composed verdict: what L3/L4 (the cluster tiers and
//! NetworkPolicy) allows, minus the TCP ports the destination's proxy denies for any
//! request, with what the mesh requires of the requests on the rest. Workloads are
//! matched by id. Outside addresses are compared on the common refinement of both
//! sides' address atoms, so every address range reported has one verdict before and
//! one after.

mod compare;
mod compose;
mod edits;

pub use edits::PolicyEdit;

use crate::attribution::Attribution;
use crate::finding::Evidence;
use kubeseg_engine::atoms::partition;
use kubeseg_engine::mesh::{Annotator, Decision, MeshOptions};
use kubeseg_engine::portsets::PortSetId;
use kubeseg_engine::{Endpoint, Engine};
use kubeseg_model::{Cluster, IpSet, PortSet};
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
    /// Workloads only on one side.
    pub workloads: WorkloadChanges,
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

impl<'e, 'c> Side<'e, 'c> {
    /// One side of the diff, with `atom_endpoint` mapping the refined atoms onto it.
    fn new(engine: &'e mut Engine<'c>, atom_endpoint: Vec<usize>) -> Self {
        let attribution = Attribution::new(engine);
        let ids = engine
            .cluster
            .workloads
            .iter()
            .enumerate()
            .map(|(i, w)| (w.id(), i))
            .collect();
        Side {
            engine,
            ids,
            attribution,
            atom_endpoint,
        }
    }

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
                        .map(|&p| p.index()),
                );
            }
        }
        if let Some(d) = dst {
            for n in self.engine.reach.endpoint_nodes(d) {
                out.extend(
                    self.attribution
                        .ingress_policies(n)
                        .iter()
                        .map(|&p| p.index()),
                );
            }
        }
        out
    }
}

/// An endpoint of the diff with its endpoint index on each side (`None` where it is
/// absent: a workload present on one side only has all its connections added or
/// removed).
struct EndpointPair {
    /// The endpoint's id: a workload's, or an address range.
    id: String,
    /// Its index on OLD's side.
    old: Option<usize>,
    /// Its index on NEW's side.
    new: Option<usize>,
    /// Whether it is an address range rather than a workload.
    external: bool,
}

/// The common refinement of both sides' address atoms.
struct Refinement {
    /// Each refined atom, readable: the id of its endpoint.
    atoms: Vec<String>,
    /// Refined atom → OLD's endpoint index.
    old_of: Vec<usize>,
    /// Refined atom → NEW's endpoint index.
    new_of: Vec<usize>,
}

impl Refinement {
    /// Splits both sides' atoms until each refined atom lies within one atom of each
    /// side, so every address range has one verdict before and one after.
    fn of(old: &Engine, new: &Engine) -> Self {
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
        Refinement {
            atoms: part.atoms.iter().map(|a| a.readable()).collect(),
            old_of,
            new_of,
        }
    }
}

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

/// Compares OLD with NEW, composing each side's mesh (set up by `mesh`) when it has one.
pub fn diff(old: &mut Engine, new: &mut Engine, with_evidence: bool, mesh: &MeshOptions) -> Diff {
    let refinement = Refinement::of(old, new);
    let (old_cluster, new_cluster) = (old.cluster, new.cluster);
    let mesh_a = Annotator::new(old_cluster, mesh.clone(), old.options);
    let mesh_b = Annotator::new(new_cluster, mesh.clone(), new.options);
    let a = Side::new(old, refinement.old_of);
    let b = Side::new(new, refinement.new_of);
    let mut out = Diff {
        policies: edits::policy_edits(old_cluster, new_cluster),
        mesh_notes: vec![Vec::new()],
        mesh: mesh_a.is_some() || mesh_b.is_some(),
        ..Diff::default()
    };

    let old_ids: Vec<String> = old_cluster.workloads.iter().map(|w| w.id()).collect();
    let new_ids: Vec<String> = new_cluster.workloads.iter().map(|w| w.id()).collect();
    out.workloads = WorkloadChanges {
        added: missing_from(&new_ids, &a),
        removed: missing_from(&old_ids, &b),
    };
    let endpoints = endpoint_pairs(&old_ids, &new_ids, &refinement.atoms, &a, &b);
    out.endpoints = endpoints.iter().map(|e| e.id.clone()).collect();
    out.workload_edits = workload_edits(&endpoints, old_cluster, new_cluster);
    let (old_causes, new_causes) = (
        CauseIndex::new(&a, &out.policies),
        CauseIndex::new(&b, &out.policies),
    );
    out.egress_causes = policy_causes(&endpoints, (&old_causes, &new_causes), true, mesh);
    out.ingress_causes = policy_causes(&endpoints, (&old_causes, &new_causes), false, mesh);
    let mesh_stable = mesh_stable(&endpoints, &out, old_cluster, new_cluster);

    let groups = compare::source_groups(&endpoints, &a, &b);
    let cells = compare::Cells::new(compare::Setup {
        a,
        b,
        mesh_a,
        mesh_b,
        endpoints: &endpoints,
        mesh_stable,
        with_evidence,
        mesh,
        out,
    });
    cells.compare(&groups)
}

/// Workloads that only one side of a diff has.
#[derive(Clone, Debug, Default)]
pub struct WorkloadChanges {
    /// Only in NEW.
    pub added: Vec<String>,
    /// Only in OLD.
    pub removed: Vec<String>,
}

/// The workloads of `ids` that `other` does not have.
fn missing_from(ids: &[String], other: &Side) -> Vec<String> {
    ids.iter()
        .filter(|i| other.workload(i).is_none())
        .cloned()
        .collect()
}

/// Endpoints of either side: workloads by id, then the refined atoms.
fn endpoint_pairs(
    old_ids: &[String],
    new_ids: &[String],
    refined: &[String],
    a: &Side,
    b: &Side,
) -> Vec<EndpointPair> {
    let mut ids: Vec<String> = old_ids.iter().chain(new_ids).cloned().collect();
    ids.sort();
    ids.dedup();
    ids.iter()
        .map(|id| EndpointPair {
            id: id.clone(),
            old: a.workload(id),
            new: b.workload(id),
            external: false,
        })
        .chain(refined.iter().enumerate().map(|(r, id)| EndpointPair {
            id: id.clone(),
            old: Some(a.atom_endpoint[r]),
            new: Some(b.atom_endpoint[r]),
            external: true,
        }))
        .collect()
}

/// Per endpoint: how its workload changed (`None` for address ranges).
fn workload_edits(endpoints: &[EndpointPair], old: &Cluster, new: &Cluster) -> Vec<Option<Edit>> {
    endpoints
        .iter()
        .map(|e| match (e.external, e.old, e.new) {
            (true, ..) => None,
            (false, None, Some(_)) => Some(Edit::Added),
            (false, Some(_), None) => Some(Edit::Removed),
            (false, Some(x), Some(y)) => {
                edits::workload_changed((old, &old.workloads[x]), (new, &new.workloads[y]))
                    .then_some(Edit::Modified)
            }
            (false, None, None) => None,
        })
        .collect()
}

/// One side's way from an endpoint to the edited policies behind its connections.
struct CauseIndex<'s, 'e, 'c> {
    side: &'s Side<'e, 'c>,
    /// Per NetworkPolicy of this side: its index among the edits, if it was edited.
    network_policies: Vec<Option<u32>>,
    /// This side's edited tiered and mesh policies.
    edited: edits::Edited<'c>,
}

impl<'s, 'e, 'c> CauseIndex<'s, 'e, 'c> {
    fn new(side: &'s Side<'e, 'c>, policies: &[PolicyEdit]) -> Self {
        let cluster = side.engine.cluster;
        let network_policies = cluster
            .policies
            .iter()
            .map(|p| {
                let id = p.id();
                policies
                    .binary_search_by(|e| {
                        (e.kind.as_str(), e.id.as_str()).cmp(&("NetworkPolicy", id.as_str()))
                    })
                    .ok()
                    .map(|i| i as u32)
            })
            .collect();
        CauseIndex {
            side,
            network_policies,
            edited: edits::Edited::new(cluster, policies),
        }
    }

    /// Adds to `causes` the edited policies isolating or selecting the egress (with
    /// `egress`) or else the ingress of this side's endpoint `e`.
    fn add(&self, e: usize, egress: bool, mesh: &MeshOptions, causes: &mut Vec<u32>) {
        let (src, dst) = if egress {
            (Some(e), None)
        } else {
            (None, Some(e))
        };
        causes.extend(
            self.side
                .isolating(src, dst)
                .into_iter()
                .filter_map(|p| self.network_policies[p]),
        );
        causes.extend(
            self.edited
                .selecting(self.side.engine.cluster, e, egress, mesh),
        );
    }
}

/// Per endpoint: the edited policies isolating or selecting its egress (with `egress`)
/// or else its ingress, on either side.
fn policy_causes(
    endpoints: &[EndpointPair],
    (old, new): (&CauseIndex, &CauseIndex),
    egress: bool,
    mesh: &MeshOptions,
) -> Vec<Vec<u32>> {
    endpoints
        .iter()
        .map(|e| {
            let mut causes: Vec<u32> = Vec::new();
            if !e.external {
                if let Some(i) = e.old {
                    old.add(i, egress, mesh, &mut causes);
                }
                if let Some(i) = e.new {
                    new.add(i, egress, mesh, &mut causes);
                }
            }
            causes.sort_unstable();
            causes.dedup();
            causes
        })
        .collect()
}

/// Per endpoint: whether the mesh answers for it as before. Where L3/L4 is the same on
/// both sides, the mesh can answer differently only when the source's identity or the
/// destination's mesh context changed: its workload, the AuthorizationPolicies and
/// PeerAuthentications covering it, or its namespace's Services (with Cilium's L7
/// rules, any policy edit at either end). Elsewhere a cell equal in L3/L4 needs no mesh
/// evaluation.
fn mesh_stable(endpoints: &[EndpointPair], out: &Diff, old: &Cluster, new: &Cluster) -> Vec<bool> {
    let service_edits = edits::namespaces_with_service_edits(old, new);
    // Under Cilium's L7 rules, any allow edit at either end may add or lift a condition.
    let l7 = kubeseg_engine::mesh::cilium_l7_present(old)
        || kubeseg_engine::mesh::cilium_l7_present(new);
    endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| {
            e.external
                || (out.workload_edits[i].is_none()
                    && !(l7
                        && (!out.ingress_causes[i].is_empty() || !out.egress_causes[i].is_empty()))
                    && !out.ingress_causes[i]
                        .iter()
                        .any(|&p| edits::is_mesh_edit(&out.policies[p as usize]))
                    && e.id.split_once('/').is_none_or(|(ns, _)| {
                        service_edits
                            .binary_search_by(|s| s.as_str().cmp(ns))
                            .is_err()
                    }))
        })
        .collect()
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
