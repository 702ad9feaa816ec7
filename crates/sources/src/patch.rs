//! Changing an assembled cluster in place as assembling every object again would, for
//! the changes a followed cluster makes most: pods and NetworkPolicies created,
//! updated and deleted. `kubeseg watch` then does not copy 150,000 objects per event.
//!
//! A patch is all or nothing: it checks every change before it touches the cluster,
//! and refuses (the caller assembles again) whatever it cannot apply exactly.

use crate::assemble::{Key, owner_key, topmost_owner};
use crate::decode::Object;
use crate::load::{DecodedText, Loaded};
use kubeseg_model::{NetworkPolicy, Pod, Selector, Workload};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What assembling learnt that the cluster does not keep: how controllers own each
/// other, and which pod templates stand for pods.
#[derive(Debug, Default)]
pub struct Index {
    /// Controller → its own controller owner (kind, name).
    pub(crate) parents: HashMap<Key, (String, String)>,
    /// The template that stands for a workload's pods when it has none.
    pub(crate) templates: BTreeMap<Key, Pod>,
    /// The workloads that stand by their template now.
    pub(crate) templated: HashSet<Key>,
    /// Whether the cluster can be patched at all: not when lowerings (Calico, Cilium)
    /// or expanded custom resources read what a change may move.
    pub(crate) patchable: bool,
}

/// One object's change since the cluster was assembled or last patched: how it was
/// decoded then and how now (`None`: absent).
#[derive(Clone, Copy, Debug)]
pub struct Change<'d> {
    /// Before.
    pub before: Option<&'d DecodedText>,
    /// After.
    pub after: Option<&'d DecodedText>,
}

/// What a patch changed.
#[derive(Debug, Default)]
pub struct Patched {
    /// The ids of the workloads whose pods changed, appeared or went.
    pub workloads: BTreeSet<String>,
    /// The pod selectors, by namespace, of the changed NetworkPolicies as they were
    /// and as they are.
    pub selectors: Vec<(String, Selector)>,
}

/// One changed object, as read: a pod with its owner, or a NetworkPolicy.
enum Item<'d> {
    Pod(&'d str, &'d Option<(String, String)>, &'d Pod),
    Policy(&'d NetworkPolicy),
}

impl Loaded {
    /// Applies `changes` of Pods and NetworkPolicies in place, leaving what assembling
    /// every object again would; `None`, with nothing changed, when that cannot be
    /// done exactly (another kind, a diagnostic, a namespace without its object, a
    /// workload left without pods, ...).
    pub fn patch(&mut self, changes: &[Change]) -> Option<Patched> {
        if !self.index.patchable {
            return None;
        }
        let mut documents = self.documents;
        let mut items = Vec::new();
        for change in changes {
            let (before, after) = match (change.before, change.after) {
                (Some(b), Some(a)) => (Some(read(b)?), Some(read(a)?)),
                (Some(b), None) => (Some(read(b)?), None),
                (None, Some(a)) => (None, Some(read(a)?)),
                (None, None) => continue,
            };
            match (&before, &after) {
                (Some(Item::Pod(..)), Some(Item::Policy(_)))
                | (Some(Item::Policy(_)), Some(Item::Pod(..))) => return None,
                _ => {}
            }
            documents = (documents + change.after.map_or(0, |d| d.decoded.documents))
                .checked_sub(change.before.map_or(0, |d| d.decoded.documents))
                .filter(|&n| n > 0)?;
            items.extend([before.map(|b| (false, b)), after.map(|a| (true, a))]);
        }
        // A namespace without its object exists only while something in it does.
        let declared = |ns: &str| {
            let at = self
                .cluster
                .namespaces
                .binary_search_by(|n| n.name.as_str().cmp(ns));
            at.is_ok_and(|i| self.cluster.namespaces[i].location.is_some())
        };
        let mut edits: BTreeMap<Key, (Vec<&str>, Vec<&Pod>)> = BTreeMap::new();
        let mut policies: Vec<(bool, &NetworkPolicy)> = Vec::new();
        for (after, item) in items.into_iter().flatten() {
            match item {
                Item::Pod(namespace, owner, pod) => {
                    if !declared(namespace) {
                        return None;
                    }
                    let key = owner_key(namespace.to_string(), owner.clone(), pod);
                    let edit = edits
                        .entry(topmost_owner(&self.index.parents, &key))
                        .or_default();
                    if after {
                        edit.1.push(pod);
                    } else {
                        edit.0.push(&pod.name);
                    }
                }
                Item::Policy(p) => {
                    if !declared(&p.namespace) {
                        return None;
                    }
                    policies.push((after, p));
                }
            }
        }
        let mut workloads = Vec::new();
        for (key, (gone, added)) in edits {
            workloads.push((self.edited(&key, &gone, &added)?, key));
        }
        // Checked: from here on nothing fails.
        let mut patched = Patched::default();
        for ((workload, templated), key) in workloads {
            let id = workload_id(&key);
            let at = self.cluster.workloads.binary_search_by(|w| w.id().cmp(&id));
            match (at, workload) {
                (Ok(i), Some(w)) => self.cluster.workloads[i] = w,
                (Ok(i), None) => drop(self.cluster.workloads.remove(i)),
                (Err(i), Some(w)) => self.cluster.workloads.insert(i, w),
                (Err(_), None) => {}
            }
            if templated {
                self.index.templated.insert(key);
            } else {
                self.index.templated.remove(&key);
            }
            patched.workloads.insert(id);
        }
        for (after, p) in policies {
            let policies = &mut self.cluster.policies;
            let at = policies.binary_search_by(|q| {
                (q.namespace.as_str(), q.name.as_str()).cmp(&(&p.namespace, &p.name))
            });
            match (at, after) {
                (Ok(i), true) => policies[i] = p.clone(),
                (Err(i), true) => policies.insert(i, p.clone()),
                (Ok(i), false) => drop(policies.remove(i)),
                (Err(_), false) => {}
            }
            patched
                .selectors
                .push((p.namespace.clone(), p.pod_selector.clone()));
        }
        self.documents = documents;
        Some(patched)
    }

    /// The workload of `key` with the pods named `gone` taken out and `added` put in,
    /// as assembling would group them (no workload: none is left), and whether its
    /// template stands for its pods; `None` when a pod to take out is not there.
    fn edited(&self, key: &Key, gone: &[&str], added: &[&Pod]) -> Option<(Option<Workload>, bool)> {
        let id = workload_id(key);
        let mut pods: Vec<Pod> = match self.cluster.workloads.binary_search_by(|w| w.id().cmp(&id))
        {
            Ok(_) if self.index.templated.contains(key) => Vec::new(),
            Ok(i) => self.cluster.workloads[i].pods.clone(),
            Err(_) => Vec::new(),
        };
        for name in gone {
            let at = pods.iter().position(|p| p.name == *name)?;
            pods.remove(at);
        }
        pods.extend(added.iter().map(|p| (*p).clone()));
        let templated = pods.is_empty();
        if templated {
            match self.index.templates.get(key) {
                Some(t) => pods.push(t.clone()),
                None => return Some((None, false)),
            }
        }
        pods.sort_by(|a, b| a.name.cmp(&b.name));
        let (namespace, kind, name) = key.clone();
        let workload = Workload {
            location: pods[0].location.clone(),
            namespace,
            name,
            kind,
            pods,
        };
        Some((Some(workload), templated))
    }
}

/// The id of the workload of `key` ([`Workload::id_of`]).
fn workload_id((namespace, kind, name): &Key) -> String {
    Workload::id_of(namespace, name, kind)
}

/// The one Pod or NetworkPolicy a text decoded to; `None` for anything a patch cannot
/// apply (another kind, a diagnostic, a skipped object, an annotation that ignores
/// something).
fn read(text: &DecodedText) -> Option<Item<'_>> {
    if !text.diagnostics.is_empty() || !text.decoded.skipped.is_empty() {
        return None;
    }
    match &text.decoded.objects[..] {
        [
            Object::Pod {
                namespace,
                owner,
                pod,
            },
        ] => Some(Item::Pod(namespace, owner, pod)),
        [Object::NetworkPolicy(p)] => Some(Item::Policy(p)),
        _ => None,
    }
}
