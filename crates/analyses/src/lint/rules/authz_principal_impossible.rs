use crate::finding::{Rule, Severity};
use crate::lint::Cx;
use crate::mesh_checks as mesh;

pub static RULE: Rule = Rule {
    code: "KL205",
    name: "authz-principal-impossible",
    severity: Severity::High,
    summary: "An AuthorizationPolicy names a principal that no service account can provide.",
    what: "Checks every `principals`, `notPrincipals`, `serviceAccounts` and `notServiceAccounts` entry and `source.principal` condition: an identity is `<trust-domain>/ns/<namespace>/sa/<service-account>`, the namespace a lowercase RFC 1123 label, the service account a lowercase RFC 1123 subdomain. Fires for entries that no such identity can match; patterns (`abc*`, `*abc`) are checked on their literal part.",
    why: "The entry never matches: an ALLOW rule written for it denies the requests it was meant to admit, a DENY rule never fires (the requests are allowed), and a `not` form excludes nothing.",
    fix: "Write the identity of an existing ServiceAccount, in lowercase.",
    example: "  rules:\n  - from:\n    - source: {principals: [cluster.local/ns/default/sa/1Tap]}\n",
};

pub fn check(cx: &mut Cx) {
    let aps = cx.authorization_policies();
    cx.findings.extend(mesh::impossible_principals(&aps, &RULE));
}
