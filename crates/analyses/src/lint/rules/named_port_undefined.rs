use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::{Cx, PolicyRef};
use kubeseg_engine::PeerRef;
use kubeseg_engine::ids::PeerSetId;
use kubeseg_model::{PeerKind, PortMatch, Selector};
use std::collections::HashMap;

pub static RULE: Rule = Rule {
    code: "KL105",
    name: "named-port-undefined",
    severity: Severity::Medium,
    summary: "A named port is not defined, or defined under another protocol, by some destination pods.",
    what: "For every named port in a rule, looks up the destination pods (the selected pods for ingress, the peers' pods for egress) and reports those that define no container port of that name with that protocol.",
    why: "A named port resolves per destination pod: where it is missing the rule allows nothing, silently.",
    fix: "Name the container port on every destination, fix the protocol, or use a number.",
    example: "  ingress:\n  - ports:\n    - port: http   # the pods name their port `web`\n",
};

pub fn check(cx: &mut Cx) {
    let peer_sets: HashMap<PeerRef, PeerSetId> = cx
        .engine
        .reach
        .index
        .peer_refs
        .iter()
        .map(|p| (p.at, p.set))
        .collect();
    for p in cx.policies() {
        for egress in [false, true] {
            let rules = if egress {
                &p.policy.egress
            } else {
                &p.policy.ingress
            };
            for (ri, rule) in rules.iter().enumerate() {
                let named: Vec<_> = rule
                    .ports
                    .iter()
                    .flatten()
                    .filter_map(|pr| match &pr.port {
                        PortMatch::Named(n) => Some((pr.protocol, n.clone())),
                        _ => None,
                    })
                    .collect();
                if named.is_empty() {
                    continue;
                }
                let destinations = if egress {
                    egress_destinations(cx, p, ri, &peer_sets)
                } else {
                    cx.selected(p)
                };
                for (proto, name) in named {
                    let mut missing = Vec::new();
                    let mut other_protocol = Vec::new();
                    for &w in &destinations {
                        let pods = &cx.cluster().workloads[w].pods;
                        let defines = |any_protocol: bool| {
                            pods.iter().all(|pod| {
                                pod.ports.iter().any(|cp| {
                                    cp.name.as_deref() == Some(name.as_str())
                                        && (any_protocol || cp.protocol == proto)
                                })
                            })
                        };
                        if !defines(false) {
                            if defines(true) {
                                other_protocol.push(w)
                            } else {
                                missing.push(w)
                            }
                        }
                    }
                    if missing.is_empty() && other_protocol.is_empty() {
                        continue;
                    }
                    let dir = if egress { "egress" } else { "ingress" };
                    let ids = |ws: &[usize]| {
                        ws.iter()
                            .take(5)
                            .map(|&w| cx.cluster().workloads[w].id())
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    let mut parts = Vec::new();
                    if !missing.is_empty() {
                        parts.push(format!(
                            "{} of {} destination workload(s) define no port `{name}` ({})",
                            missing.len(),
                            destinations.len(),
                            ids(&missing)
                        ));
                    }
                    if !other_protocol.is_empty() {
                        parts.push(format!(
                            "{} define `{name}` under another protocol than {} ({})",
                            other_protocol.len(),
                            proto.as_str(),
                            ids(&other_protocol)
                        ));
                    }
                    let at = rule.location.clone().or(p.policy.location.clone());
                    let mut f = Finding::new(
                        &RULE,
                        format!(
                            "named port `{name}` in {dir}[{ri}] of NetworkPolicy {}: {}",
                            p.policy.id(),
                            parts.join("; ")
                        ),
                        at.clone(),
                        vec![p.policy.id()],
                    );
                    f.evidence.push(Evidence::at(
                        at,
                        format!("where `{name}` is undefined the rule allows nothing"),
                    ));
                    f.remediation = Remediation {
                        text: "Name the container port on every destination, or use its number."
                            .into(),
                        yaml: None,
                    };
                    cx.findings.push(f);
                }
            }
        }
    }
}

/// The workloads an egress rule's peers select.
fn egress_destinations(
    cx: &Cx,
    p: PolicyRef,
    rule: usize,
    peer_sets: &HashMap<PeerRef, PeerSetId>,
) -> Vec<usize> {
    let pol = p.policy;
    let Some(peers) = pol.egress[rule].peers.as_ref() else {
        return (0..cx.cluster().workloads.len()).collect();
    };
    let mut out = Vec::new();
    for (i, peer) in peers.iter().enumerate() {
        let compiled = p.index.and_then(|policy| {
            peer_sets.get(&PeerRef {
                policy,
                egress: true,
                rule: rule as u32,
                peer: i as u32,
            })
        });
        match (compiled, &peer.kind) {
            (Some(&set), _) => {
                let nodes = cx.engine.reach.index.peer_sets[set].iter();
                out.extend(cx.workloads_of(nodes));
            }
            (None, PeerKind::Pods { namespaces, pods }) => {
                let all = Selector::default();
                for ns in &cx.cluster().namespaces {
                    let in_scope = match namespaces {
                        None => ns.name == pol.namespace,
                        Some(sel) => sel.matches(&ns.labels),
                    };
                    if in_scope {
                        out.extend(cx.naive(&ns.name, pods.as_ref().unwrap_or(&all)));
                    }
                }
            }
            (None, PeerKind::IpBlock { .. }) => {}
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}
