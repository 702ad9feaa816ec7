use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;
use kubeseg_engine::ids::ClusterPolicyId;

pub static RULE: Rule = Rule {
    code: "KL115",
    name: "tier-subject-matches-nothing",
    severity: Severity::Low,
    summary: "A tiered policy's subject matches no workload in the input.",
    what: "Fires for AdminNetworkPolicies, BaselineAdminNetworkPolicies and ClusterNetworkPolicies whose subject selects no pod of the input.",
    why: "Usually a typo in a label or a renamed namespace: the policy protects nothing, or the traffic meant to be denied is not.",
    fix: "Fix the subject; if the workloads live in another repository, lint them together.",
    example: "spec:\n  tier: Admin\n  priority: 10\n  subject:\n    namespaces:\n      matchLabels: {team: paymnets}\n",
};

pub fn check(cx: &mut Cx) {
    let policies = &cx.cluster().cluster_policies;
    if policies.is_empty() {
        return;
    }
    if cx.cluster().workloads.is_empty() {
        cx.notes.push("KL115 (tier-subject-matches-nothing) not checked: the input holds no workloads; lint the policies together with the workloads they select".into());
        return;
    }
    for (p, pol) in policies.iter().enumerate() {
        if !cx.engine.reach.index.tiers.selected[ClusterPolicyId::from(p)].is_empty() {
            continue;
        }
        let subject = super::subject(pol);
        let mut f = Finding::new(
            &RULE,
            format!(
                "{} selects no pod of the input (subject {subject})",
                pol.id()
            ),
            pol.location.clone(),
            vec![pol.id()],
        );
        f.evidence.push(Evidence::at(
            pol.location.clone(),
            format!("no pod of the input matches {subject} (host-network pods are never selected)"),
        ));
        f.remediation = Remediation {
            text: "Fix the subject, or delete the policy.".into(),
            yaml: None,
        };
        cx.findings.push(f);
    }
}
