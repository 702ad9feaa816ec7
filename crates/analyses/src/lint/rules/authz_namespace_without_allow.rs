use crate::finding::{Rule, Severity};
use crate::lint::Cx;
use crate::mesh_checks as mesh;

pub static RULE: Rule = Rule {
    code: "KL207",
    name: "authz-namespace-without-allow",
    severity: Severity::Medium,
    summary: "Meshed workloads are covered by no ALLOW AuthorizationPolicy.",
    what: "Per namespace, lists the workloads with a sidecar (`istio-injection: enabled`, `istio.io/rev`, `sidecar.istio.io/inject`) or in ambient mode that no ALLOW AuthorizationPolicy covers (selector-less ones of the namespace or of the root namespace, or a matching selector). Reported at the Namespace object when the input declares it.",
    why: "Without an applicable ALLOW policy the proxy accepts every request that reaches it: the mesh is flat at L7, whatever the identities.",
    fix: "Apply an allow-nothing policy (`spec: {}`) to the namespace, then ALLOW the clients each workload needs.",
    example: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {istio-injection: enabled}\n",
};

pub fn check(cx: &mut Cx) {
    let cluster = cx.cluster();
    let planes = mesh::Planes::new(cluster);
    cx.findings.extend(mesh::namespaces_without_allow(
        cluster,
        &cx.config.mesh,
        &planes,
        &RULE,
    ));
}
