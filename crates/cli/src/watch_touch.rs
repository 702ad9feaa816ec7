//! Which workloads a batch of object changes can touch, so that `kubeseg watch`
//! recomputes only their connections.
//!
//! A NetworkPolicy decides only connections into the pods it selects (ingress) and out
//! of them (egress); a pod only those of its own workload. So a batch of Pod and
//! NetworkPolicy changes leaves every connection between two other workloads as it
//! was. Every other kind, and every cluster where that reasoning does not hold, is
//! answered in full (`None`).

use kubeseg_model::{Cluster, Selector};
use kubeseg_sources::patch::Patched;
use std::collections::{BTreeMap, BTreeSet};

/// The ids (`ns/name[Kind]`) of the workloads whose connections `causes` (the object
/// locations of a batch, `Kind/namespace/name`) may have changed between `old` and
/// `new`; `None` when the batch needs every connection computed again.
pub(crate) fn touched(
    old: &Cluster,
    new: &Cluster,
    causes: &[(String, String)],
) -> Option<BTreeSet<String>> {
    // Calico's and Cilium's lowerings read Services, pod addresses and the place of
    // NetworkPolicies among their own: a change there may move other connections.
    for c in [old, new] {
        if !c.calico_policies.is_empty()
            || !c.cilium_policies.is_empty()
            || !c.calico_tiers.is_empty()
            || !c.calico_network_sets.is_empty()
        {
            return None;
        }
    }
    // The changed pods and policies by (namespace, name); each model is then read once,
    // however many changes the batch holds.
    let (mut pods, mut policies) = (BTreeSet::new(), BTreeSet::new());
    for (_, object) in causes {
        let (kind, rest) = object.split_once('/')?;
        let (namespace, name) = rest.split_once('/')?;
        match kind {
            "Pod" => pods.insert((namespace, name)),
            "NetworkPolicy" => policies.insert((namespace, name)),
            _ => return None,
        };
    }
    let mut out = BTreeSet::new();
    for c in [old, new] {
        // Per namespace, the selectors of the changed policies there.
        let mut selectors: BTreeMap<&str, Vec<&Selector>> = BTreeMap::new();
        for p in &c.policies {
            if policies.contains(&(p.namespace.as_str(), p.name.as_str())) {
                selectors
                    .entry(&p.namespace)
                    .or_default()
                    .push(&p.pod_selector);
            }
        }
        out.extend(selected(c, &selectors));
        for w in &c.workloads {
            if (w.pods.iter()).any(|p| pods.contains(&(w.namespace.as_str(), p.name.as_str()))) {
                out.insert(w.id());
            }
        }
    }
    // A workload that appears or goes (its pods regrouped under another owner, say) has
    // all its connections new or gone.
    let ids = |c: &Cluster| c.workloads.iter().map(|w| w.id()).collect::<BTreeSet<_>>();
    let (before, after) = (ids(old), ids(new));
    out.extend(before.symmetric_difference(&after).cloned());
    Some(out)
}

/// What a batch that patched the model (`kubeseg_sources::patch`) touched: the
/// workloads whose pods it changed, and those the changed policies select as they were
/// and as they are.
pub(crate) fn touched_by_patch(new: &Cluster, patched: &Patched) -> BTreeSet<String> {
    let mut selectors: BTreeMap<&str, Vec<&Selector>> = BTreeMap::new();
    for (namespace, selector) in &patched.selectors {
        selectors.entry(namespace).or_default().push(selector);
    }
    let mut out = patched.workloads.clone();
    // A workload unchanged by the patch is what it was: matching the old selectors
    // against it now is matching them against it before.
    out.extend(selected(new, &selectors));
    out
}

/// The ids of the workloads with a pod one of `selectors` (by namespace) matches: a
/// superset of what the engine selects (it leaves out host-network pods).
fn selected<'c>(
    cluster: &'c Cluster,
    selectors: &'c BTreeMap<&str, Vec<&Selector>>,
) -> impl Iterator<Item = String> + 'c {
    (cluster.workloads.iter())
        .filter(|w| {
            selectors.get(w.namespace.as_str()).is_some_and(|sels| {
                sels.iter()
                    .any(|s| w.pods.iter().any(|pod| s.matches(&pod.labels)))
            })
        })
        .map(|w| w.id())
}
