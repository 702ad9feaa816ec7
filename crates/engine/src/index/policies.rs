//! NetworkPolicies compiled onto the nodes: the classes each selects, and the rules of
//! each direction it isolates as peer sets and port specs.

use super::{Builder, CompiledRule, PeerRef};
use crate::bitset::BitSet;
use crate::ids::{IdVec, PolicyId};
use kubeseg_model::Cluster;
use rustc_hash::FxHashMap as HashMap;

/// The compiled NetworkPolicies.
pub(super) struct NetworkPolicies {
    /// Per policy: the classes it selects.
    pub selected: IdVec<PolicyId, BitSet>,
    /// Ingress rules of ingress-isolating policies.
    pub ingress_rules: Vec<CompiledRule>,
    /// Egress rules by policy (empty unless the policy isolates egress).
    pub egress_rules: IdVec<PolicyId, Vec<CompiledRule>>,
    /// Nodes selected by an ingress-isolating policy.
    pub ingress_isolated: BitSet,
    /// Nodes selected by an egress-isolating policy.
    pub egress_isolated: BitSet,
}

impl Builder<'_> {
    /// Compiles every NetworkPolicy, in cluster order.
    pub(super) fn network_policies(
        &mut self,
        cluster: &Cluster,
        ns_index: &HashMap<&str, u32>,
    ) -> NetworkPolicies {
        // A rule without peers admits every node.
        let mut all = BitSet::new(self.nodes);
        all.insert_range(0, self.nodes);
        let all_id = self.intern_peers(all);

        let mut out = NetworkPolicies {
            selected: IdVec::with_capacity(cluster.policies.len()),
            ingress_rules: Vec::new(),
            egress_rules: IdVec::with_capacity(cluster.policies.len()),
            ingress_isolated: BitSet::new(self.nodes),
            egress_isolated: BitSet::new(self.nodes),
        };
        for (pi, p) in cluster.policies.iter().enumerate() {
            let pi = PolicyId::from(pi);
            let ns = ns_index[p.namespace.as_str()];
            let mut within = self.ns_mask(ns);
            within.intersect_with(self.selectable);
            let sel = self.labels.eval(&p.pod_selector, &within);
            if p.isolates_ingress {
                out.ingress_isolated.union_with(&sel);
                for (ri, r) in p.ingress.iter().enumerate() {
                    let at = PeerRef {
                        policy: pi,
                        egress: false,
                        rule: ri as u32,
                        peer: 0,
                    };
                    let rule = self.compile_rule(r, at, ns, all_id);
                    out.ingress_rules.push(rule);
                }
            }
            let mut eg = Vec::new();
            if p.isolates_egress {
                out.egress_isolated.union_with(&sel);
                for (ri, r) in p.egress.iter().enumerate() {
                    let at = PeerRef {
                        policy: pi,
                        egress: true,
                        rule: ri as u32,
                        peer: 0,
                    };
                    eg.push(self.compile_rule(r, at, ns, all_id));
                }
            }
            out.egress_rules.push(eg);
            out.selected.push(sel);
        }
        out
    }
}
