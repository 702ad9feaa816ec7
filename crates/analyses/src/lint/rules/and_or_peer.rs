use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;
use kubeseg_model::PeerKind;

pub static RULE: Rule = Rule {
    code: "KL103",
    name: "and-or-peer-trap",
    severity: Severity::Medium,
    summary: "A namespaceSelector and a podSelector are two peers where one was likely meant.",
    what: "Fires for a `from`/`to` list holding an item with only a namespaceSelector and another with only a podSelector.",
    why: "Two items are OR-ed: every pod of the selected namespaces, or the matching pods of the policy's own namespace. One item with both selectors means the matching pods in the selected namespaces, which is what such rules usually intend.",
    fix: "Put both selectors in one item (no `-` before podSelector) if AND is meant.",
    example: "  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {team: web}}\n    - podSelector: {matchLabels: {app: frontend}}\n",
};

pub fn check(cx: &mut Cx) {
    for p in cx.policies() {
        let pol = p.policy;
        for (dir, rules) in [("ingress", &pol.ingress), ("egress", &pol.egress)] {
            for (i, r) in rules.iter().enumerate() {
                let peers = r.peers.as_deref().unwrap_or_default();
                let ns_only = peers.iter().find(|x| {
                    matches!(
                        &x.kind,
                        PeerKind::Pods {
                            namespaces: Some(_),
                            pods: None
                        }
                    )
                });
                let pod_only = peers.iter().find(|x| {
                    matches!(
                        &x.kind,
                        PeerKind::Pods {
                            namespaces: None,
                            pods: Some(_)
                        }
                    )
                });
                let (Some(a), Some(b)) = (ns_only, pod_only) else {
                    continue;
                };
                let mut f = Finding::new(
                    &RULE,
                    format!(
                        "{dir}[{i}] of NetworkPolicy {} ORs a namespaceSelector item with a podSelector item: any pod of the selected namespaces, or matching pods of {} only",
                        pol.id(),
                        pol.namespace
                    ),
                    r.location.clone().or(pol.location.clone()),
                    vec![pol.id()],
                );
                f.evidence.push(Evidence::at(
                    a.location.clone(),
                    "this item selects every pod of the matching namespaces",
                ));
                f.evidence.push(Evidence::at(
                    b.location.clone(),
                    format!("this item selects pods of namespace {} only", pol.namespace),
                ));
                f.remediation = Remediation {
                    text: "If the matching pods in the selected namespaces are meant, write one item with both selectors (no `-` before podSelector).".into(),
                    yaml: None,
                };
                cx.findings.push(f);
            }
        }
    }
}
