use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;

pub static RULE: Rule = Rule {
    code: "KL102",
    name: "ignored-rules",
    severity: Severity::High,
    summary: "Ingress or egress rules are ignored because policyTypes leaves their direction out.",
    what: "Fires when `policyTypes` is written and lacks `Ingress` while `ingress` rules exist, or lacks `Egress` while `egress` rules exist.",
    why: "The API server keeps the rules but enforcement ignores them: the traffic they were written to allow or restrict is not affected.",
    fix: "Add the direction to policyTypes, or delete the rules.",
    example: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: api}\nspec:\n  podSelector: {matchLabels: {app: api}}\n  policyTypes: [Ingress]\n  egress:\n  - to: [{podSelector: {matchLabels: {app: db}}}]\n",
};

pub fn check(cx: &mut Cx) {
    for p in cx.policies() {
        let pol = p.policy;
        if !pol.policy_types_explicit {
            continue;
        }
        for (dir, kind, isolates, rules) in [
            ("ingress", "Ingress", pol.isolates_ingress, &pol.ingress),
            ("egress", "Egress", pol.isolates_egress, &pol.egress),
        ] {
            if isolates || rules.is_empty() {
                continue;
            }
            let at = rules[0].location.clone().or(pol.location.clone());
            let mut f = Finding::new(
                &RULE,
                format!(
                    "the {} {dir} rule(s) of NetworkPolicy {} are ignored: policyTypes does not include {kind}",
                    rules.len(),
                    pol.id()
                ),
                at.clone(),
                vec![pol.id()],
            );
            f.evidence.push(Evidence::at(
                pol.location.clone(),
                format!("policyTypes is written without {kind}"),
            ));
            f.remediation = Remediation {
                text: format!(
                    "Add `{kind}` to policyTypes if the rules are meant, or delete them."
                ),
                yaml: None,
            };
            cx.findings.push(f);
        }
    }
}
