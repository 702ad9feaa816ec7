use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;
use kubeseg_engine::bitset::BitSet;
use kubeseg_engine::index::Region;
use kubeseg_model::{Action, Tier};

pub static RULE: Rule = Rule {
    code: "KL113",
    name: "tier-pass-default-allow",
    severity: Severity::Medium,
    summary: "An Admin-tier Pass rule hands traffic to nothing: it is allowed by default.",
    what: "Fires for a Pass rule of an AdminNetworkPolicy or an Admin-tier ClusterNetworkPolicy when, on every pod its subject selects, no NetworkPolicy isolates the pod in the rule's direction and no Baseline-tier policy with rules in that direction applies. Pass skips the rest of the Admin tier and lets the lower layers decide; with none, the traffic is allowed. (A policy whose subject selects no pod is KL115's.)",
    why: "Pass reads as \"not decided here\", but with nothing below it means Accept: the traffic the rule names is allowed, usually where a Deny or a NetworkPolicy was meant.",
    fix: "Use Accept if allowing was the intent; otherwise add the NetworkPolicies or the Baseline-tier policy that should decide, or use Deny.",
    example: "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: pass-monitoring}\nspec:\n  tier: Admin\n  priority: 10\n  subject: {namespaces: {matchLabels: {team: a}}}\n  ingress:\n  - name: to-network-policies\n    action: Pass\n    from: [{namespaces: {matchLabels: {team: monitoring}}}]\n",
};

pub fn check(cx: &mut Cx) {
    let index = &cx.engine.reach.index;
    let tiers = &index.tiers;
    let policies = &cx.cluster().cluster_policies;
    let mut out = Vec::new();
    for egress in [false, true] {
        let compiled = if egress {
            &tiers.egress
        } else {
            &tiers.ingress
        };
        // The pods something below the Admin tier decides for: isolated by the union
        // layer (a NetworkPolicy, a Cilium or Calico policy of its tier), or under rules
        // of a later stage in this direction (Cilium's denies, Calico tiers after the
        // Admin ones, the Baseline tier).
        let mut below: BitSet = if egress {
            index.egress_isolated.clone()
        } else {
            index.ingress_isolated.clone()
        };
        for (q, rules) in compiled.iter_ids() {
            let below_admin = rules.iter().any(|r| r.tier.region() != Region::Before);
            if below_admin {
                below.union_with(&tiers.selected[q]);
            }
        }
        for (p, rules) in compiled.iter_ids() {
            let subject = &tiers.selected[p];
            if policies
                .get(p.index())
                .is_none_or(|x| x.tier != Tier::Admin)
                || subject.is_empty()
                || subject.intersects(&below)
            {
                continue;
            }
            for r in rules {
                if r.action == Action::Pass && !index.peer_sets[r.peers].is_empty() {
                    out.push((p, egress, r.rule as usize));
                }
            }
        }
    }
    out.sort();
    for (p, egress, ri) in out {
        let pol = &policies[p.index()];
        let rule = if egress {
            &pol.egress[ri]
        } else {
            &pol.ingress[ri]
        };
        let dir = if egress { "egress" } else { "ingress" };
        let at = rule.location.clone().or(pol.location.clone());
        let workloads = cx.workloads_of(cx.engine.reach.index.tiers.selected[p].iter());
        let mut f = Finding::new(
            &RULE,
            format!(
                "{} of {} passes to lower layers, but none decides {dir} for the pods it selects: the passed traffic is allowed",
                super::tier_rule(pol, egress, ri),
                pol.id()
            ),
            at,
            vec![pol.id()],
        );
        f.evidence.push(Evidence::at(
            pol.location.clone(),
            format!(
                "its subject ({}) selects {} workload(s); no NetworkPolicy isolates {dir} for any of them and no Baseline-tier policy with {dir} rules applies to them",
                super::subject(pol),
                workloads.len()
            ),
        ));
        f.remediation = Remediation {
            text: "Use Accept if allowing is the intent; otherwise add the NetworkPolicy or Baseline-tier policy that should decide, or use Deny.".into(),
            yaml: None,
        };
        cx.findings.push(f);
    }
}
