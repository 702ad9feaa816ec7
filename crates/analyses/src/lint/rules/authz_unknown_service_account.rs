use crate::finding::{Rule, Severity};
use crate::lint::Cx;
use crate::mesh_checks as mesh;

pub static RULE: Rule = Rule {
    code: "KL206",
    name: "authz-unknown-service-account",
    severity: Severity::Low,
    summary: "An AuthorizationPolicy names a service account that the input neither declares nor uses.",
    what: "For exact principals (and `serviceAccounts` entries), fires when their ServiceAccount is not among the input's ServiceAccounts and no pod of its namespace sets it as `serviceAccountName`. Only for namespaces where the input declares a ServiceAccount or sets a `serviceAccountName`; `default` always exists.",
    why: "Usually a typo or a renamed ServiceAccount: the rule matches no workload of the input.",
    fix: "Fix the name, or lint the policy together with the workloads that run as that ServiceAccount.",
    example: "  rules:\n  - from:\n    - source: {principals: [cluster.local/ns/shop/sa/fronted]}\n",
};

pub fn check(cx: &mut Cx) {
    let aps = cx.authorization_policies();
    let cluster = cx.cluster();
    cx.findings
        .extend(mesh::unknown_service_accounts(cluster, &aps, &RULE));
}
