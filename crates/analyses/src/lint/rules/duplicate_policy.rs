use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;
use std::collections::HashMap;

pub static RULE: Rule = Rule {
    code: "KL111",
    name: "duplicate-policy",
    severity: Severity::Medium,
    summary: "Two NetworkPolicies in one namespace have the same spec.",
    what: "Fires for every policy whose podSelector, policy types and rules equal an earlier policy's in the same namespace.",
    why: "Copies drift: the next change edits one of them and the other keeps allowing the old traffic.",
    fix: "Delete the copy.",
    example: "",
};

pub fn check(cx: &mut Cx) {
    let mut first = HashMap::new();
    // The copy is the one further down the input.
    let mut policies = cx.policies();
    policies.sort_by(|a, b| a.policy.location.cmp(&b.policy.location));
    for p in policies {
        let pol = p.policy;
        let key = (pol.namespace.as_str(), pol.spec());
        match first.get(&key) {
            None => {
                first.insert(key, pol);
            }
            Some(original) => {
                let mut f = Finding::new(
                    &RULE,
                    format!("NetworkPolicy {} duplicates {}", pol.id(), original.id()),
                    pol.location.clone(),
                    vec![pol.id(), original.id()],
                );
                f.evidence.push(Evidence::at(
                    original.location.clone(),
                    format!("{} has the same spec", original.id()),
                ));
                f.remediation = Remediation {
                    text: "Delete one of the two.".into(),
                    yaml: None,
                };
                cx.findings.push(f);
            }
        }
    }
}
