use crate::finding::{Rule, Severity};
use crate::lint::Cx;

pub static RULE: Rule = Rule {
    code: "KL003",
    name: "wrong-kind",
    severity: Severity::High,
    summary: "A policy is filed under a wrong or unknown apiVersion or kind.",
    what: "Recognises NetworkPolicy, AuthorizationPolicy, PeerAuthentication, AdminNetworkPolicy, BaselineAdminNetworkPolicy and ClusterNetworkPolicy documents by the shape of their spec and reports those whose apiVersion or kind is not the policy's, with the right ones. A NetworkPolicy-shaped document is also checked by the other rules as the NetworkPolicy it was meant to be.",
    why: "The API server rejects an unknown group, or applies the document as another kind; either way the policy never protects anything.",
    fix: "Use the suggested apiVersion and kind.",
    example: "apiVersion: network.monitork8.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: deny-backend-egress}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n",
};

pub fn check(cx: &mut Cx) {
    super::from_diagnostics(cx, &RULE);
}
