use crate::finding::{Rule, Severity};
use crate::lint::Cx;

pub static RULE: Rule = Rule {
    code: "KL005",
    name: "duplicate-object",
    severity: Severity::High,
    summary: "Two objects in the input have the same kind, namespace and name.",
    what: "Reports every object that a later one with the same kind, namespace and name replaces (directories are read in sorted order, documents in order). kubeseg keeps the last one, as a cluster does after `kubectl apply` of the same files.",
    why: "A cluster holds one object per name: the earlier policy never takes effect, although a reader of the files sees both. Two NetworkPolicies `db-allow`, one allowing TCP 5432 and a later one with `ingress: []`, leave the database closed.",
    fix: "Rename one of the two if both are meant to apply, or delete the stale one.",
    example: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db-allow}\nspec:\n  podSelector: {}\n  ingress: [{}]\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db-allow}\nspec:\n  podSelector: {}\n  ingress: []\n",
};

pub fn check(cx: &mut Cx) {
    super::from_diagnostics(cx, &RULE);
}
