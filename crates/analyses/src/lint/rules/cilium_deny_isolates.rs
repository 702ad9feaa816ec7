use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;

pub static RULE: Rule = Rule {
    code: "KL301",
    name: "cilium-deny-isolates",
    severity: Severity::Medium,
    summary: "A Cilium policy with deny rules alone also denies everything else.",
    what: "Fires for a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy spec that has `ingressDeny` (`egressDeny`) rules, no `ingress` (`egress`) allow rule, and is in default deny for that direction, which Cilium turns on for any rule in the direction unless `enableDefaultDeny` says otherwise.",
    why: "Written to block a few peers, it isolates the pods it selects: every connection no other policy allows is denied too.",
    fix: "Set `enableDefaultDeny: {ingress: false}` (or `egress`) to deny only the listed peers, or add the allow rules the pods need.",
    example: "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: block-scanner}\nspec:\n  endpointSelector: {}\n  ingressDeny:\n  - fromEndpoints: [{matchLabels: {app: scanner}}]\n",
};

pub fn check(cx: &mut Cx) {
    for policy in &cx.cluster().cilium_policies {
        for (i, spec) in policy.specs.iter().enumerate() {
            for (dir, deny, allow, default_deny) in [
                (
                    "ingress",
                    &spec.ingress_deny,
                    &spec.ingress,
                    spec.default_deny_ingress,
                ),
                (
                    "egress",
                    &spec.egress_deny,
                    &spec.egress,
                    spec.default_deny_egress,
                ),
            ] {
                if deny.is_empty() || !allow.is_empty() || !default_deny {
                    continue;
                }
                // The first deny rule is where the surprise is written.
                let at = (deny[0].location.clone())
                    .or(spec.location.clone())
                    .or(policy.location.clone());
                let mut f = Finding::new(
                    &RULE,
                    format!(
                        "{}{} has {dir}Deny rules and no {dir} rule: its pods are in {dir} default deny, so everything no other policy allows is denied, not only the listed peers",
                        policy.spec_label(i),
                        policy.id()
                    ),
                    at.clone(),
                    vec![policy.id()],
                );
                f.evidence.push(Evidence::at(
                    at,
                    format!(
                        "Cilium puts a selected pod into {dir} default deny when a rule has {dir} or {dir}Deny rules, unless `enableDefaultDeny.{dir}` is false"
                    ),
                ));
                f.remediation = Remediation {
                    text: format!(
                        "To deny only these peers, add `enableDefaultDeny: {{{dir}: false}}` to the spec."
                    ),
                    yaml: None,
                };
                cx.findings.push(f);
            }
        }
    }
}
