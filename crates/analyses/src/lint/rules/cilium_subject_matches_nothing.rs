use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;
use kubeseg_engine::ids::PolicyId;
use kubeseg_model::CiliumSubject;

pub static RULE: Rule = Rule {
    code: "KL303",
    name: "cilium-subject-matches-nothing",
    severity: Severity::Low,
    summary: "A Cilium policy's `endpointSelector` matches no pod in the input.",
    what: "Fires for a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy spec whose `endpointSelector` selects no pod of the input (after Cilium confines a CiliumNetworkPolicy to its namespace).",
    why: "Usually a typo in a label, a label source prefix, or a namespace key: the policy protects nothing, or the traffic meant to be denied is not.",
    fix: "Fix the selector; if the workloads live in another repository, lint them together.",
    example: "spec:\n  endpointSelector:\n    matchLabels: {app: paymnets}\n",
};

pub fn check(cx: &mut Cx) {
    if cx.cluster().cilium_policies.is_empty() {
        return;
    }
    if cx.cluster().workloads.is_empty() {
        cx.notes.push("KL303 (cilium-subject-matches-nothing) not checked: the input holds no workloads; lint the policies together with the workloads they select".into());
        return;
    }
    let index = &cx.engine.reach.index;
    let first = index.network_policy_count;
    let mut found = Vec::new();
    for (i, r) in index.cilium.iter().enumerate() {
        let policy = &cx.cluster().cilium_policies[r.policy as usize];
        let spec = &policy.specs[r.spec as usize];
        // Host policies select nodes; the loader already says they are not modelled.
        if !matches!(spec.subject, CiliumSubject::Pods(_))
            || !index.selected[PolicyId::from(first + i)].is_empty()
        {
            continue;
        }
        found.push((policy, r.spec as usize, spec));
    }
    for (policy, s, spec) in found {
        let at = spec.location.clone().or(policy.location.clone());
        let mut f = Finding::new(
            &RULE,
            format!(
                "{}{} selects no pod of the input",
                policy.spec_label(s),
                policy.id()
            ),
            at.clone(),
            vec![policy.id()],
        );
        f.evidence.push(Evidence::at(
            at,
            "no pod of the input matches its endpointSelector (host-network pods are never selected)",
        ));
        f.remediation = Remediation {
            text: "Fix the endpointSelector, or delete the policy.".into(),
            yaml: None,
        };
        cx.findings.push(f);
    }
}
