//! Which policies can select a pod of a namespace: a NetworkPolicy or a
//! CiliumNetworkPolicy only pods of its own namespace, a CiliumClusterwideNetworkPolicy
//! any pod. Built once per cluster, so that explaining many pairs (Cilium's L7
//! conditions in `reach`) does not scan every policy for each.

use crate::index::{CiliumRef, cilium_refs};
use kubeseg_model::Cluster;
use rustc_hash::FxHashMap as HashMap;

/// The policies that may select pods, by namespace.
pub struct Candidates<'c> {
    /// Every Cilium spec, in order (`index::cilium_refs`).
    pub refs: Vec<CiliumRef>,
    /// NetworkPolicy indices by namespace.
    policies: HashMap<&'c str, Vec<usize>>,
    /// Indices into `refs` by namespace: the namespace's CNP specs and every CCNP's.
    cilium: HashMap<&'c str, Vec<usize>>,
    /// Indices into `refs` of the CCNP specs (for a namespace with no CNP).
    clusterwide: Vec<usize>,
}

impl<'c> Candidates<'c> {
    /// The candidates of every namespace of `cluster`.
    pub fn new(cluster: &'c Cluster) -> Self {
        let mut policies: HashMap<&str, Vec<usize>> = HashMap::default();
        for (i, p) in cluster.policies.iter().enumerate() {
            policies.entry(p.namespace.as_str()).or_default().push(i);
        }
        let refs = cilium_refs(cluster);
        let mut cilium: HashMap<&str, Vec<usize>> = HashMap::default();
        let mut clusterwide = Vec::new();
        for (i, r) in refs.iter().enumerate() {
            let ns = cluster.cilium_policies[r.policy as usize]
                .namespace
                .as_str();
            if ns.is_empty() {
                clusterwide.push(i);
            } else {
                cilium.entry(ns).or_default().push(i);
            }
        }
        // Each namespace's list holds the cluster-wide specs too, in spec order.
        for list in cilium.values_mut() {
            list.extend(&clusterwide);
            list.sort_unstable();
        }
        Candidates {
            refs,
            policies,
            cilium,
            clusterwide,
        }
    }

    /// The NetworkPolicies that may select a pod of `namespace`, in order.
    pub fn policies(&self, namespace: &str) -> &[usize] {
        self.policies.get(namespace).map_or(&[], Vec::as_slice)
    }

    /// The Cilium specs (indices into `refs`) that may select a pod of `namespace`, in
    /// order.
    pub fn cilium(&self, namespace: &str) -> &[usize] {
        self.cilium
            .get(namespace)
            .map_or(self.clusterwide.as_slice(), Vec::as_slice)
    }
}
