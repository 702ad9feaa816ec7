//! What changed between two inputs, object by object: policy edits of every layer
//! (NetworkPolicy, the cluster tiers, AuthorizationPolicy, PeerAuthentication) and
//! workloads added, removed or changed, and which of them can explain a change of a
//! connection.

use super::Edit;
use kubeseg_engine::mesh::{self, MeshOptions};
use kubeseg_model::{Cluster, Labels, Location, Workload};
use std::collections::BTreeMap;

/// An edited policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyEdit {
    /// `NetworkPolicy`, `AdminNetworkPolicy`, `BaselineAdminNetworkPolicy`,
    /// `ClusterNetworkPolicy`, `CiliumNetworkPolicy`, `CiliumClusterwideNetworkPolicy`,
    /// `AuthorizationPolicy` or `PeerAuthentication`.
    pub kind: String,
    /// `namespace/name`, or `name` for cluster-scoped kinds.
    pub id: String,
    /// How it changed.
    pub edit: Edit,
    /// Where it is: in NEW, or in OLD when removed.
    pub location: Option<Location>,
}

/// Every policy edit, sorted by kind and id.
pub(super) fn policy_edits(old: &Cluster, new: &Cluster) -> Vec<PolicyEdit> {
    let mut out = Vec::new();
    compare(
        &mut out,
        &old.policies,
        &new.policies,
        |p| ("NetworkPolicy".into(), p.id()),
        |p| p.location.clone(),
        |a, b| a.spec() == b.spec(),
    );
    compare(
        &mut out,
        &old.cluster_policies,
        &new.cluster_policies,
        |p| (p.kind.clone(), p.name.clone()),
        |p| p.location.clone(),
        |a, b| a.spec() == b.spec(),
    );
    compare(
        &mut out,
        &old.cilium_policies,
        &new.cilium_policies,
        |p| (p.kind.clone(), cilium_id(p)),
        |p| p.location.clone(),
        |a, b| a.spec() == b.spec(),
    );
    compare(
        &mut out,
        &old.calico_policies,
        &new.calico_policies,
        |p| (p.kind.clone(), calico_id(p)),
        |p| p.location.clone(),
        |a, b| a.same_spec(b),
    );
    compare(
        &mut out,
        &old.authorization_policies,
        &new.authorization_policies,
        |p| ("AuthorizationPolicy".into(), p.id()),
        |p| p.location.clone(),
        |a, b| a.spec() == b.spec(),
    );
    compare(
        &mut out,
        &old.peer_authentications,
        &new.peer_authentications,
        |p| {
            (
                "PeerAuthentication".into(),
                format!("{}/{}", p.namespace, p.name),
            )
        },
        |p| p.location.clone(),
        |a, b| a.spec() == b.spec(),
    );
    out.sort_by(|a, b| (&a.kind, &a.id).cmp(&(&b.kind, &b.id)));
    out
}

fn compare<T>(
    out: &mut Vec<PolicyEdit>,
    old: &[T],
    new: &[T],
    key: impl Fn(&T) -> (String, String),
    location: impl Fn(&T) -> Option<Location>,
    same: impl Fn(&T, &T) -> bool,
) {
    let old_by: BTreeMap<(String, String), &T> = old.iter().map(|p| (key(p), p)).collect();
    let new_by: BTreeMap<(String, String), &T> = new.iter().map(|p| (key(p), p)).collect();
    for (k, a) in &old_by {
        let edit = match new_by.get(k) {
            None => Edit::Removed,
            Some(b) if !same(a, b) => Edit::Modified,
            Some(_) => continue,
        };
        let at = match edit {
            Edit::Removed => location(a),
            _ => new_by.get(k).and_then(|b| location(b)),
        };
        out.push(PolicyEdit {
            kind: k.0.clone(),
            id: k.1.clone(),
            edit,
            location: at,
        });
    }
    for (k, b) in &new_by {
        if !old_by.contains_key(k) {
            out.push(PolicyEdit {
                kind: k.0.clone(),
                id: k.1.clone(),
                edit: Edit::Added,
                location: location(b),
            });
        }
    }
}

/// `namespace/name`, or `name` when global.
fn calico_id(p: &kubeseg_model::CalicoPolicy) -> String {
    if p.namespace.is_empty() {
        p.name.clone()
    } else {
        format!("{}/{}", p.namespace, p.name)
    }
}

/// `namespace/name`, or `name` when cluster-wide.
fn cilium_id(p: &kubeseg_model::CiliumPolicy) -> String {
    if p.namespace.is_empty() {
        p.name.clone()
    } else {
        format!("{}/{}", p.namespace, p.name)
    }
}

/// Whether what decides a workload's connectivity differs between the sides: its
/// pods' labels, ports, addresses, host network, service account and sidecar
/// annotation, and its namespace's labels.
pub(super) fn workload_changed(old: (&Cluster, &Workload), new: (&Cluster, &Workload)) -> bool {
    fn facts<'a>(c: &'a Cluster, w: &'a Workload) -> impl PartialEq + 'a {
        let pods: Vec<_> = w
            .pods
            .iter()
            .map(|p| {
                (
                    &p.labels,
                    &p.ports,
                    &p.ips,
                    p.host_network,
                    &p.service_account,
                    &p.inject_annotation,
                )
            })
            .collect();
        (c.namespace(&w.namespace).map(|n| &n.labels), pods)
    }
    facts(old.0, old.1) != facts(new.0, new.1)
}

/// One side's edited tiered and mesh policies, each with its index among the edits.
/// NetworkPolicy edits are found by the engine's isolation instead.
pub(super) struct Edited<'c> {
    objects: Vec<(u32, Object<'c>)>,
}

enum Object<'c> {
    Tier(&'c kubeseg_model::ClusterPolicy),
    Cilium(&'c kubeseg_model::CiliumPolicy),
    Calico(&'c kubeseg_model::CalicoPolicy),
    Authz(&'c kubeseg_model::AuthorizationPolicy),
    Peer(&'c kubeseg_model::PeerAuthentication),
}

impl<'c> Edited<'c> {
    /// The objects of `cluster` that `edits` name.
    pub(super) fn new(cluster: &'c Cluster, edits: &[PolicyEdit]) -> Self {
        let index = |kind: &str, id: &str| {
            edits
                .binary_search_by(|e| (e.kind.as_str(), e.id.as_str()).cmp(&(kind, id)))
                .ok()
                .map(|i| i as u32)
        };
        let mut objects = Vec::new();
        for p in &cluster.cluster_policies {
            if let Some(i) = index(&p.kind, &p.name) {
                objects.push((i, Object::Tier(p)));
            }
        }
        for p in &cluster.cilium_policies {
            if let Some(i) = index(&p.kind, &cilium_id(p)) {
                objects.push((i, Object::Cilium(p)));
            }
        }
        for p in &cluster.calico_policies {
            if let Some(i) = index(&p.kind, &calico_id(p)) {
                objects.push((i, Object::Calico(p)));
            }
        }
        for ap in &cluster.authorization_policies {
            if let Some(i) = index("AuthorizationPolicy", &ap.id()) {
                objects.push((i, Object::Authz(ap)));
            }
        }
        for pa in &cluster.peer_authentications {
            if let Some(i) = index(
                "PeerAuthentication",
                &format!("{}/{}", pa.namespace, pa.name),
            ) {
                objects.push((i, Object::Peer(pa)));
            }
        }
        Edited { objects }
    }

    /// The edits (indices) that may explain a change of the connections of workload `w`:
    /// the cluster tiers whose subject selects it (`egress` for its egress, else its
    /// ingress) and, for its ingress, the AuthorizationPolicies covering it and the
    /// PeerAuthentications of its namespace or the mesh's root.
    pub(super) fn selecting(
        &self,
        cluster: &Cluster,
        w: usize,
        egress: bool,
        options: &MeshOptions,
    ) -> Vec<u32> {
        let wl = &cluster.workloads[w];
        let empty = Labels::new();
        let ns_labels = cluster
            .namespace(&wl.namespace)
            .map_or(&empty, |n| &n.labels);
        let any_pod = |f: &dyn Fn(&kubeseg_model::Pod) -> bool| wl.pods.iter().any(f);
        self.objects
            .iter()
            .filter(|(_, o)| match o {
                Object::Tier(p) => {
                    let rules = if egress { &p.egress } else { &p.ingress };
                    !rules.is_empty()
                        && p.subject.namespaces.matches(ns_labels)
                        && any_pod(&|pod| p.subject.pods.matches(&pod.labels))
                }
                Object::Cilium(p) => p.specs.iter().any(|s| {
                    let (rules, denies, default_deny) = if egress {
                        (&s.egress, &s.egress_deny, s.default_deny_egress)
                    } else {
                        (&s.ingress, &s.ingress_deny, s.default_deny_ingress)
                    };
                    let kubeseg_model::CiliumSubject::Pods(set) = &s.subject else {
                        return false;
                    };
                    (default_deny || !rules.is_empty() || !denies.is_empty())
                        && set.namespaces.matches(ns_labels)
                        && any_pod(&|pod| set.pods.matches(&pod.labels))
                }),
                Object::Calico(p) => {
                    let applies = if egress {
                        p.applies_egress
                    } else {
                        p.applies_ingress
                    };
                    applies
                        && kubeseg_engine::index::calico_namespace_allows(
                            &p.subject.namespaces,
                            Some(&wl.namespace),
                            || {
                                kubeseg_engine::index::calico_namespace_labels(
                                    ns_labels,
                                    &wl.namespace,
                                )
                            },
                        )
                        && any_pod(&|pod| {
                            let account = pod.service_account.as_deref().unwrap_or("default");
                            let labels = kubeseg_engine::index::calico_endpoint_labels(
                                cluster,
                                &wl.namespace,
                                &pod.labels,
                                Some(account),
                            );
                            p.subject.selector.matches(&labels)
                        })
                }
                Object::Authz(ap) => {
                    !egress && any_pod(&|pod| mesh::policy_covers(ap, &wl.namespace, pod, options))
                }
                Object::Peer(pa) => {
                    let scope = pa.namespace == wl.namespace
                        || (pa.namespace == options.root_namespace && pa.selector.is_none());
                    !egress
                        && scope
                        && pa
                            .selector
                            .as_ref()
                            .is_none_or(|sel| any_pod(&|pod| mesh::labels_match(sel, &pod.labels)))
                }
            })
            .map(|(i, _)| *i)
            .collect()
    }
}

/// Namespaces whose Services differ between the sides (their ports' protocols decide
/// whether the mesh sees HTTP).
pub(super) fn namespaces_with_service_edits(old: &Cluster, new: &Cluster) -> Vec<String> {
    fn by_namespace(c: &Cluster) -> BTreeMap<&str, Vec<impl PartialEq + '_>> {
        let mut m: BTreeMap<&str, Vec<_>> = BTreeMap::new();
        for s in &c.services {
            m.entry(s.namespace.as_str())
                .or_default()
                .push((&s.name, &s.selector, &s.ports));
        }
        m
    }
    let (a, b) = (by_namespace(old), by_namespace(new));
    let mut out: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|ns| a.get(*ns) != b.get(*ns))
        .map(|ns| ns.to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether the edit is of a mesh kind.
pub(super) fn is_mesh_edit(e: &PolicyEdit) -> bool {
    e.kind == "AuthorizationPolicy" || e.kind == "PeerAuthentication"
}
