use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;
use kubeseg_engine::ids::PolicyId;
use kubeseg_model::{PeerKind, Selector};

pub static RULE: Rule = Rule {
    code: "KL107",
    name: "selector-matches-nothing",
    severity: Severity::Low,
    summary: "A podSelector or a rule peer matches no workload in the input.",
    what: "Fires for policies whose podSelector selects no pod of the input, and for `from`/`to` items that match no pod and no address.",
    why: "Usually a typo in a label or a renamed workload: the policy protects nothing, or the traffic meant to be allowed is blocked.",
    fix: "Fix the selector; if the workloads live in another repository, lint them together.",
    example: "spec:\n  podSelector:\n    matchLabels: {app: webb}\n",
};

pub fn check(cx: &mut Cx) {
    if cx.cluster().workloads.is_empty() {
        cx.notes.push("KL107 (selector-matches-nothing) not checked: the input holds no workloads; lint the policies together with the workloads they select".into());
        return;
    }
    // The engine's dead peers, by policy, read once.
    let mut compiled_dead: std::collections::HashMap<PolicyId, Vec<(bool, usize, usize)>> =
        Default::default();
    let np = cx.engine.reach.index.network_policy_count;
    for d in (cx.engine.reach.index.dead_peers()).filter(|d| d.policy.index() < np) {
        compiled_dead.entry(d.policy).or_default().push((
            d.egress,
            d.rule as usize,
            d.peer as usize,
        ));
    }
    for p in cx.policies() {
        let pol = p.policy;
        if cx.selected(p).is_empty() {
            let mut f = Finding::new(
                &RULE,
                format!(
                    "NetworkPolicy {} selects no pod of the input (podSelector {})",
                    pol.id(),
                    pol.pod_selector
                ),
                pol.location.clone(),
                vec![pol.id()],
            );
            f.evidence.push(Evidence::at(
                pol.location.clone(),
                format!(
                    "no pod of namespace {} matches {} (host-network pods are never selected)",
                    pol.namespace, pol.pod_selector
                ),
            ));
            f.remediation = Remediation {
                text: "Fix the podSelector, or delete the policy.".into(),
                yaml: None,
            };
            cx.findings.push(f);
        }
        // Peers: the engine's for cluster policies, evaluated directly for misfiled ones.
        let dead: Vec<(bool, usize, usize)> = match p.index {
            Some(i) => compiled_dead.remove(&i).unwrap_or_default(),
            None => naive_dead(cx, pol),
        };
        for (egress, ri, pi) in dead {
            let rules = if egress { &pol.egress } else { &pol.ingress };
            let Some(peer) = rules[ri].peers.as_ref().and_then(|ps| ps.get(pi)) else {
                continue;
            };
            let dir = if egress { "egress" } else { "ingress" };
            let at = peer.location.clone().or(rules[ri].location.clone());
            let mut f = Finding::new(
                &RULE,
                format!(
                    "{dir}[{ri}] item {pi} of NetworkPolicy {} matches no pod and no address",
                    pol.id()
                ),
                at.clone(),
                vec![pol.id()],
            );
            f.evidence.push(Evidence::at(
                at,
                "no namespace and pod of the input match this item",
            ));
            f.remediation = Remediation {
                text: "Fix the selectors of the item, or delete it.".into(),
                yaml: None,
            };
            cx.findings.push(f);
        }
    }
}

fn naive_dead(cx: &Cx, pol: &kubeseg_model::NetworkPolicy) -> Vec<(bool, usize, usize)> {
    let mut out = Vec::new();
    let all = Selector::default();
    for (egress, rules) in [(false, &pol.ingress), (true, &pol.egress)] {
        for (ri, r) in rules.iter().enumerate() {
            for (pi, peer) in r.peers.iter().flatten().enumerate() {
                let matches = match &peer.kind {
                    PeerKind::IpBlock { addresses, .. } => !addresses.is_empty(),
                    PeerKind::Pods { namespaces, pods } => {
                        cx.cluster().namespaces.iter().any(|ns| {
                            let in_scope = match namespaces {
                                None => ns.name == pol.namespace,
                                Some(sel) => sel.matches(&ns.labels),
                            };
                            in_scope
                                && !cx.naive(&ns.name, pods.as_ref().unwrap_or(&all)).is_empty()
                        })
                    }
                };
                if !matches {
                    out.push((egress, ri, pi));
                }
            }
        }
    }
    out
}
