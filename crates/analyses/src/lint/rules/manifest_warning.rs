use crate::finding::{Rule, Severity};
use crate::lint::Cx;

pub static RULE: Rule = Rule {
    code: "KL004",
    name: "manifest-warning",
    severity: Severity::Low,
    summary: "Something in the input is suspicious or not modelled.",
    what: "Reports the loader's other warnings: a missing podSelector or spec, a container port without a valid number, an ownerReference without kind, a file that holds no Kubernetes object, an HTTPRoute backend that is not a Service, a Pass rule in the Baseline tier (it acts like Accept), a Node address that is not an IP, and (as info) policy kinds kubeseg does not model yet.",
    why: "Each one is a place where the manifest may not mean what it seems to.",
    fix: "Read the message; most name the field to add or correct.",
    example: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\nspec:\n  policyTypes: [Ingress]\n",
};

pub fn check(cx: &mut Cx) {
    super::from_diagnostics(cx, &RULE);
}
