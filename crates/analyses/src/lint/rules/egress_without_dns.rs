use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::{Cx, PolicyRef};
use kubeseg_model::{Labels, PeerKind, PortMatch, Protocol, Rule as PolicyRule};

pub static RULE: Rule = Rule {
    code: "KL104",
    name: "egress-without-dns",
    severity: Severity::High,
    summary: "Egress isolation without a rule that allows DNS.",
    what: "Fires for a policy that isolates egress when some pod it selects has no egress rule, in this or another policy selecting it, that can reach the cluster DNS pods (kube-system pods listening on UDP 53, or labelled k8s-app=kube-dns) on UDP 53.",
    why: "The pods cannot resolve any name: every connection by name fails, and the usual fix under pressure is deleting the policy.",
    fix: "Add an egress rule to the kube-dns pods on UDP and TCP 53.",
    example: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: lock}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to: [{podSelector: {}}]\n",
};

/// Label sets of the DNS pods: kube-system pods listening on UDP 53, else kube-dns's usual label.
fn dns_labels(cx: &Cx) -> Vec<Labels> {
    let mut out: Vec<Labels> = cx
        .cluster()
        .workloads
        .iter()
        .filter(|w| w.namespace == "kube-system")
        .flat_map(|w| &w.pods)
        .filter(|p| {
            p.ports
                .iter()
                .any(|cp| cp.port == 53 && cp.protocol == Protocol::Udp)
        })
        .map(|p| p.labels.clone())
        .collect();
    if out.is_empty() {
        out.push([("k8s-app".to_string(), "kube-dns".to_string())].into());
    }
    out
}

/// Whether an egress rule of a policy in `namespace` can allow UDP 53 to the DNS pods.
fn allows_dns(rule: &PolicyRule, namespace: &str, system: &Labels, dns: &[Labels]) -> bool {
    let port_ok = rule.ports.as_ref().is_none_or(|ports| {
        ports.iter().any(|p| {
            p.protocol == Protocol::Udp
                && match &p.port {
                    PortMatch::Any | PortMatch::Named(_) => true,
                    PortMatch::Range(lo, hi) => (*lo..=*hi).contains(&53),
                }
        })
    });
    let peer_ok = rule.peers.as_ref().is_none_or(|peers| {
        peers.iter().any(|peer| match &peer.kind {
            PeerKind::IpBlock { .. } => true,
            PeerKind::Pods { namespaces, pods } => {
                let ns_ok = match namespaces {
                    None => namespace == "kube-system",
                    Some(sel) => sel.matches(system),
                };
                ns_ok
                    && pods
                        .as_ref()
                        .is_none_or(|sel| dns.iter().any(|l| sel.matches(l)))
            }
        })
    });
    port_ok && peer_ok
}

pub fn check(cx: &mut Cx) {
    let dns = dns_labels(cx);
    let system = cx.namespace_labels("kube-system");
    let policies: Vec<PolicyRef> = cx
        .policies()
        .into_iter()
        .filter(|p| p.policy.isolates_egress)
        .collect();
    let selected: Vec<Vec<usize>> = policies.iter().map(|&p| cx.selected(p)).collect();
    let has_dns: Vec<bool> = policies
        .iter()
        .map(|p| {
            p.policy
                .egress
                .iter()
                .any(|r| allows_dns(r, &p.policy.namespace, &system, &dns))
        })
        .collect();
    // Per workload: whether some egress policy selecting it allows DNS.
    let mut ok: std::collections::HashMap<usize, bool> = Default::default();
    for (i, ws) in selected.iter().enumerate() {
        for &w in ws {
            *ok.entry(w).or_default() |= has_dns[i];
        }
    }
    for (i, p) in policies.iter().enumerate() {
        let pol = p.policy;
        let cut: Vec<usize> = selected[i].iter().copied().filter(|w| !ok[w]).collect();
        // A policy that selects nothing in the input is judged on its own rules.
        if (!selected[i].is_empty() && cut.is_empty()) || (selected[i].is_empty() && has_dns[i]) {
            continue;
        }
        let names: Vec<String> = cut
            .iter()
            .take(5)
            .map(|&w| cx.cluster().workloads[w].id())
            .collect();
        let whom = if cut.is_empty() {
            "the pods it selects".to_string()
        } else {
            format!(
                "{} of the workloads it selects ({}{})",
                cut.len(),
                names.join(", "),
                if cut.len() > 5 { ", …" } else { "" }
            )
        };
        let mut f = Finding::new(
            &RULE,
            format!(
                "NetworkPolicy {} isolates egress but no egress rule lets {whom} reach cluster DNS on UDP 53",
                pol.id()
            ),
            pol.location.clone(),
            vec![pol.id()],
        );
        f.evidence.push(Evidence::at(pol.location.clone(), "none of its egress rules (nor of another egress policy selecting the same pods) allows UDP 53 to the kube-dns pods in kube-system"));
        f.remediation = Remediation {
            text: "Add this rule to the policy's egress list.".into(),
            yaml: Some("  - to:\n    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: kube-system\n      podSelector:\n        matchLabels:\n          k8s-app: kube-dns\n    ports:\n    - protocol: UDP\n      port: 53\n    - protocol: TCP\n      port: 53\n".into()),
        };
        cx.findings.push(f);
    }
}
