//! Which workloads a batch of object changes can touch, so that `kubeseg watch`
//! recomputes only their connections.
//!
//! A NetworkPolicy decides only connections into the pods it selects (ingress) and out
//! of them (egress); a pod only those of its own workload. So a batch of Pod and
//! NetworkPolicy changes leaves every connection between two other workloads as it
//! was. Every other kind, and every cluster where that reasoning does not hold, is
//! answered in full (`None`).

use kubeseg_model::Cluster;
use std::collections::BTreeSet;

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
    let mut out = BTreeSet::new();
    for (_, object) in causes {
        let (kind, rest) = object.split_once('/')?;
        let (namespace, name) = rest.split_once('/')?;
        match kind {
            "Pod" => {
                for c in [old, new] {
                    for w in &c.workloads {
                        if w.namespace == namespace && w.pods.iter().any(|p| p.name == name) {
                            out.insert(w.id());
                        }
                    }
                }
            }
            "NetworkPolicy" => {
                for c in [old, new] {
                    for p in
                        (c.policies.iter()).filter(|p| p.namespace == namespace && p.name == name)
                    {
                        // Every workload with a pod the selector matches: a superset of
                        // what the engine selects (it leaves out host-network pods).
                        for w in c.workloads.iter().filter(|w| w.namespace == namespace) {
                            if w.pods.iter().any(|pod| p.pod_selector.matches(&pod.labels)) {
                                out.insert(w.id());
                            }
                        }
                    }
                }
            }
            _ => return None,
        }
    }
    // A workload that appears or goes (its pods regrouped under another owner, say) has
    // all its connections new or gone.
    let ids = |c: &Cluster| c.workloads.iter().map(|w| w.id()).collect::<BTreeSet<_>>();
    let (before, after) = (ids(old), ids(new));
    out.extend(before.symmetric_difference(&after).cloned());
    Some(out)
}
