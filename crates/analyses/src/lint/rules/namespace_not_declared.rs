use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;

pub static RULE: Rule = Rule {
    code: "KL108",
    name: "namespace-not-declared",
    severity: Severity::Low,
    summary: "A policy lives in a namespace the input does not declare.",
    what: "When the input declares namespaces, fires for policies in a namespace that is not among them (with the closest declared name).",
    why: "A typo in `metadata.namespace` puts the policy where no workload runs; applying it even creates nothing but an error.",
    fix: "Correct the namespace, or add its Namespace object.",
    example: "metadata:\n  name: web\n  namespace: prodution\n",
};

pub fn check(cx: &mut Cx) {
    let declared: Vec<&str> = cx
        .cluster()
        .namespaces
        .iter()
        .filter(|n| n.location.is_some())
        .map(|n| n.name.as_str())
        .collect();
    if declared.is_empty() {
        return;
    }
    for p in cx.policies() {
        let pol = p.policy;
        if declared.contains(&pol.namespace.as_str()) {
            continue;
        }
        let hint = kubeseg_sources::decode::ctx::did_you_mean(&pol.namespace, &declared)
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        let mut f = Finding::new(
            &RULE,
            format!(
                "NetworkPolicy {} is in namespace `{}`, which the input does not declare{hint}",
                pol.id(),
                pol.namespace
            ),
            pol.location.clone(),
            vec![pol.id()],
        );
        f.evidence.push(Evidence::at(
            pol.location.clone(),
            format!("declared namespaces: {}", declared.join(", ")),
        ));
        f.remediation = Remediation {
            text: "Correct metadata.namespace, or add the Namespace.".into(),
            yaml: None,
        };
        cx.findings.push(f);
    }
}
