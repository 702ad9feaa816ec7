use crate::finding::{Rule, Severity};
use crate::lint::Cx;
use crate::mesh_checks as mesh;

pub static RULE: Rule = Rule {
    code: "KL208",
    name: "authz-policy-not-enforced",
    severity: Severity::High,
    summary: "An AuthorizationPolicy covers only workloads without a proxy, so nothing enforces it.",
    what: "Fires for AuthorizationPolicies whose scope covers workloads of the input, none of which runs a sidecar or is in ambient mode (by the labels of their Namespace objects, or their own opt-out; policies whose namespaces the input does not declare are left out, with a note). Policies attached with `targetRefs` get an info finding: gateways and waypoints are not modelled.",
    why: "Only a proxy enforces an AuthorizationPolicy: its author believes the workloads are protected and they are not.",
    fix: "Enable sidecar injection or ambient mode for the workloads, or protect them with NetworkPolicies.",
    example: "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: api, namespace: shop}\nspec:\n  selector:\n    matchLabels: {app: api}\n  rules:\n  - from:\n    - source: {namespaces: [shop]}\n",
};

pub fn check(cx: &mut Cx) {
    let cluster = cx.cluster();
    let planes = mesh::Planes::new(cluster);
    let (findings, note) = mesh::not_enforced(cluster, &cx.config.mesh, &planes, &RULE);
    cx.findings.extend(findings);
    cx.notes.extend(note);
}
