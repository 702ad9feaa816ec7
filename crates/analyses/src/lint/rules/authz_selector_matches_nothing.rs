use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;

pub static RULE: Rule = Rule {
    code: "KL201",
    name: "authz-selector-matches-nothing",
    severity: Severity::Low,
    summary: "An AuthorizationPolicy's selector matches no workload in the input.",
    what: "Fires for Istio AuthorizationPolicies whose `selector.matchLabels` matches no pod of their namespace (of any namespace for the root namespace `istio-system`).",
    why: "The policy protects nothing: usually a label typo or a renamed workload.",
    fix: "Fix the selector; lint the policies together with the workloads.",
    example: "spec:\n  selector:\n    matchLabels: {app: serach}\n",
};

pub fn check(cx: &mut Cx) {
    if cx.cluster().workloads.is_empty() {
        if !cx.authorization_policies().is_empty() {
            cx.notes.push(
                "KL201 (authz-selector-matches-nothing) not checked: the input holds no workloads"
                    .into(),
            );
        }
        return;
    }
    for ap in cx.authorization_policies() {
        let Some(labels) = &ap.selector else { continue };
        let hit = if ap.namespace == "istio-system" {
            cx.cluster()
                .namespaces
                .iter()
                .any(|ns| !cx.with_labels(&ns.name, Some(labels)).is_empty())
        } else {
            !cx.with_labels(&ap.namespace, Some(labels)).is_empty()
        };
        if hit {
            continue;
        }
        let sel: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut f = Finding::new(
            &RULE,
            format!(
                "AuthorizationPolicy {} selects no workload ({})",
                ap.id(),
                sel.join(",")
            ),
            ap.location.clone(),
            vec![ap.id()],
        );
        f.evidence.push(Evidence::at(
            ap.location.clone(),
            format!(
                "no pod of namespace {} carries {}",
                ap.namespace,
                sel.join(",")
            ),
        ));
        f.remediation = Remediation {
            text: "Fix the selector, or delete the policy.".into(),
            yaml: None,
        };
        cx.findings.push(f);
    }
}
