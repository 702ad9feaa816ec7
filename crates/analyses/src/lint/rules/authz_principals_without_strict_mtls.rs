use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;
use kubeseg_engine::mesh::mtls_mode;
use kubeseg_model::Location;

pub static RULE: Rule = Rule {
    code: "KL203",
    name: "authz-principals-without-strict-mtls",
    severity: Severity::Medium,
    summary: "An AuthorizationPolicy relies on principals where mutual TLS is not STRICT.",
    what: "For rules matching `principals` or `notPrincipals`, works out the mTLS mode of the selected workloads from the PeerAuthentications in the input (workload selector, then namespace, then the mesh-wide one in the root namespace, `istio-system` unless `--istio-root-namespace` says otherwise; PERMISSIVE when none) and fires when it is not STRICT. High for DENY policies.",
    why: "Principals exist only on mutual TLS. Plaintext requests carry none: an ALLOW rule then denies clients without sidecars, and a DENY rule on principals lets plaintext requests through.",
    fix: "Apply a PeerAuthentication with `mtls: {mode: STRICT}` to the workloads (or the namespace).",
    example: "  rules:\n  - from:\n    - source: {principals: [cluster.local/ns/ci/sa/deployer]}\n",
};

pub fn check(cx: &mut Cx) {
    let cluster = cx.cluster();
    let pas = &cluster.peer_authentications;
    let no_labels = kubeseg_model::Labels::default();
    let mut out = Vec::new();
    for ap in cx.authorization_policies() {
        let Some(rules) = &ap.rules else { continue };
        let Some((i, r)) = rules.iter().enumerate().find(|(_, r)| r.principals) else {
            continue;
        };
        // The policy's selector stands for its workloads' labels; no port: the
        // workload-wide mode.
        let labels = ap.selector.as_ref().unwrap_or(&no_labels);
        let (m, from) = mtls_mode(cluster, &ap.namespace, labels, 0, &cx.config.mesh);
        let from = from.map(|i| &pas[i]);
        if m == kubeseg_model::MtlsMode::Strict {
            continue;
        }
        let source: (Option<Location>, String) = match from {
            Some(p) => (
                p.location.clone(),
                format!(
                    "PeerAuthentication {}/{} sets mode {m}",
                    p.namespace, p.name
                ),
            ),
            None => (
                None,
                "no PeerAuthentication in the input applies: Istio's default is PERMISSIVE".into(),
            ),
        };
        let mut f = Finding::new(
            &RULE,
            format!(
                "rules[{i}] of AuthorizationPolicy {} ({}) matches principals, but mTLS is {m} for its workloads: plaintext requests carry no principal",
                ap.id(),
                ap.action
            ),
            r.location.clone().or(ap.location.clone()),
            vec![ap.id()],
        );
        if ap.action == kubeseg_model::AuthzAction::Deny {
            f.severity = Severity::High;
        }
        f.evidence.push(Evidence::at(source.0, source.1));
        f.remediation = Remediation {
            text: "Require mutual TLS for these workloads.".into(),
            yaml: Some(format!(
                "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: strict-mtls\n  namespace: {}\nspec:\n  mtls:\n    mode: STRICT\n",
                ap.namespace
            )),
        };
        out.push(f);
    }
    cx.findings.extend(out);
}
