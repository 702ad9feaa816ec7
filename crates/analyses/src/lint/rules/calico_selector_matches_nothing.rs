use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;
use kubeseg_engine::ids::ClusterPolicyId;

pub static RULE: Rule = Rule {
    code: "KL305",
    name: "calico-selector-matches-nothing",
    severity: Severity::Low,
    summary: "A Calico policy's `selector` matches no pod in the input.",
    what: "Fires for a Calico NetworkPolicy or GlobalNetworkPolicy (staged ones too) whose `selector` selects no pod of the input, in its namespace for a NetworkPolicy (and its `namespaceSelector`'s namespaces for a GlobalNetworkPolicy).",
    why: "Usually a typo in a label or the selector language (`app == 'web'` against a label `App`, a missing quote turned into another expression): the policy protects nothing, or the traffic meant to be denied is not. A policy meant for host endpoints also matches no pod; kubeseg does not model HostEndpoints.",
    fix: "Fix the selector; if the workloads live in another repository, lint them together.",
    example: "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: db, namespace: shop}\nspec:\n  selector: app == 'dbs'\n",
};

pub fn check(cx: &mut Cx) {
    if cx.cluster().calico_policies.is_empty() {
        return;
    }
    if cx.cluster().workloads.is_empty() {
        cx.notes.push("KL305 (calico-selector-matches-nothing) not checked: the input holds no workloads; lint the policies together with the workloads they select".into());
        return;
    }
    let index = &cx.engine.reach.index;
    let first = index.tiers.cluster_count + index.tiers.cilium_count;
    let empty: Vec<usize> = (0..cx.cluster().calico_policies.len())
        .filter(|&i| index.tiers.selected[ClusterPolicyId::from(first + i)].is_empty())
        .collect();
    for i in empty {
        let p = &cx.cluster().calico_policies[i];
        let selector = p.subject.selector.to_string();
        let selector = if selector.is_empty() {
            "all()".to_string()
        } else {
            selector
        };
        let mut f = Finding::new(
            &RULE,
            format!(
                "{} selects no pod of the input (selector {selector})",
                p.id()
            ),
            p.location.clone(),
            vec![p.id()],
        );
        f.evidence.push(Evidence::at(
            p.location.clone(),
            "no pod of the input matches its selector in the namespaces it applies to (host-network pods and host endpoints are never selected)",
        ));
        f.remediation = Remediation {
            text: "Fix the selector, or delete the policy.".into(),
            yaml: None,
        };
        cx.findings.push(f);
    }
}
