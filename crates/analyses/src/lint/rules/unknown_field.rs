use crate::finding::{Rule, Severity};
use crate::lint::Cx;

pub static RULE: Rule = Rule {
    code: "KL002",
    name: "unknown-field",
    severity: Severity::Medium,
    summary: "A field is misspelled, unknown, repeated, or of the wrong type.",
    what: "Reports fields the API does not define (with the closest known name), fields given twice, and values of the wrong type (a string where a list is expected, for instance).",
    why: "The API server drops unknown fields silently (or rejects them with strict validation): a misspelled `podselector` or `policyType` leaves the policy doing something else than written.",
    fix: "Use the suggested field name, remove the duplicate, or give the value the right type.",
    example: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web}\nspec:\n  podselector:\n    matchLabel: {app: web}\n  policyType: [Ingress]\n",
};

pub fn check(cx: &mut Cx) {
    super::from_diagnostics(cx, &RULE);
}
