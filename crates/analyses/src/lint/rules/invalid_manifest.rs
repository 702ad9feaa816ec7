use crate::finding::{Rule, Severity};
use crate::lint::Cx;

pub static RULE: Rule = Rule {
    code: "KL001",
    name: "invalid-manifest",
    severity: Severity::High,
    summary: "The API server would reject this object.",
    what: "Reports every error the API server's validation would raise: invalid names, labels and selectors (operators, values), CIDRs and excepts, ports, protocols, peers and policy types; for AdminNetworkPolicy, BaselineAdminNetworkPolicy and ClusterNetworkPolicy also priorities, tiers, subjects, actions, fields of which exactly one must be set, list lengths, domain names and duplicate networks or domain names; and unreadable YAML or JSON. All of them in one run.",
    why: "`kubectl apply` fails on the first one, often in CI after review; some tools apply the rest of the file and leave the cluster half-changed.",
    fix: "Correct the field the message names.",
    example: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: Bad_Name\nspec:\n  podSelector: {}\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/33}\n",
};

pub fn check(cx: &mut Cx) {
    super::from_diagnostics(cx, &RULE);
}
