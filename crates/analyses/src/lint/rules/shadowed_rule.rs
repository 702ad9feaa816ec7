use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;
use kubeseg_engine::bitset::BitSet;
use kubeseg_engine::ids::{PeerSetId, PolicyId, PortSpecId};
use std::collections::HashMap;

pub static RULE: Rule = Rule {
    code: "KL110",
    name: "shadowed-rule",
    severity: Severity::Low,
    summary: "A rule allows nothing that another rule for the same pods does not already allow.",
    what: "Among the rules of policies that select exactly the same pods in the same direction, fires for a rule whose peers and ports are contained in another rule's (rules with named ports are left out). Removing it changes nothing.",
    why: "Dead weight hides intent: a reviewer narrowing the other rule believes this one still matters, or the reverse.",
    fix: "Delete the rule, or narrow the broader one if this one was the intent.",
    example: "  ingress:\n  - from: [{podSelector: {}}]\n  - from: [{podSelector: {matchLabels: {app: web}}}]\n    ports: [{port: 80}]\n",
};

/// Above this many rules for one pod set only exact duplicates are compared.
const MAX_PAIRWISE: usize = 200;

/// One rule of a policy as the engine compiled it.
#[derive(Clone, Copy)]
struct Compiled {
    /// The policy.
    policy: PolicyId,
    /// The rule's index in its direction.
    rule: usize,
    /// The interned peer set.
    peers: PeerSetId,
    /// The interned port spec.
    ports: PortSpecId,
}

/// A rule that another one covers.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Shadowed {
    egress: bool,
    /// (policy, rule) of the shadowed rule.
    shadowed: (PolicyId, usize),
    /// (policy, rule) of the rule that covers it.
    by: (PolicyId, usize),
}

pub fn check(cx: &mut Cx) {
    let index = &cx.engine.reach.index;
    let cluster = cx.cluster();
    // (egress, selected pods) → [(policy, rule, peer set, port spec)].
    let mut groups: HashMap<(bool, &BitSet), Vec<Compiled>> = HashMap::new();
    let mut seen_ingress: HashMap<PolicyId, usize> = HashMap::new();
    // Only NetworkPolicies' rules: Cilium's (the union layer's others) come after them.
    let np = index.network_policy_count;
    for r in index.ingress_rules.iter().filter(|r| r.policy.index() < np) {
        let n = seen_ingress.entry(r.policy).or_default();
        groups
            .entry((false, &index.selected[r.policy]))
            .or_default()
            .push(Compiled {
                policy: r.policy,
                rule: *n,
                peers: r.peers,
                ports: r.ports,
            });
        *n += 1;
    }
    for (p, rules) in index
        .egress_rules
        .iter_ids()
        .filter(|(p, _)| p.index() < np)
    {
        for (ri, r) in rules.iter().enumerate() {
            groups
                .entry((true, &index.selected[p]))
                .or_default()
                .push(Compiled {
                    policy: p,
                    rule: ri,
                    peers: r.peers,
                    ports: r.ports,
                });
        }
    }
    let mut found: Vec<Shadowed> = Vec::new();
    for ((egress, selected), rules) in &groups {
        if selected.is_empty() {
            continue;
        }
        for (i, c) in rules.iter().enumerate() {
            let (peers, spec) = (c.peers, c.ports);
            if !index.port_specs[spec].named.is_empty() {
                continue;
            }
            let ports = index.port_sets.get(index.port_specs[spec].numeric);
            let covered = rules.iter().enumerate().find(|&(j, other)| {
                let (peers2, spec2) = (other.peers, other.ports);
                if i == j || !index.port_specs[spec2].named.is_empty() {
                    return false;
                }
                let same = peers == peers2 && spec == spec2;
                if same {
                    // Of identical rules, every one but the first is the shadowed one.
                    return j < i;
                }
                if rules.len() > MAX_PAIRWISE {
                    return false;
                }
                let ports2 = index.port_sets.get(index.port_specs[spec2].numeric);
                index.peer_sets[peers].is_subset(&index.peer_sets[peers2])
                    && ports.intersect(ports2) == *ports
            });
            if let Some((_, by)) = covered {
                found.push(Shadowed {
                    egress: *egress,
                    shadowed: (c.policy, c.rule),
                    by: (by.policy, by.rule),
                });
            }
        }
    }
    found.sort();
    for Shadowed {
        egress,
        shadowed: (p, r),
        by: (p2, r2),
    } in found
    {
        let dir = if egress { "egress" } else { "ingress" };
        let (pol, other) = (&cluster.policies[p.index()], &cluster.policies[p2.index()]);
        let rule = if egress {
            &pol.egress[r]
        } else {
            &pol.ingress[r]
        };
        let covering = if egress {
            &other.egress[r2]
        } else {
            &other.ingress[r2]
        };
        let mut f = Finding::new(
            &RULE,
            format!(
                "{dir}[{r}] of NetworkPolicy {} is shadowed by {dir}[{r2}] of {}: removing it changes nothing",
                pol.id(),
                other.id()
            ),
            rule.location.clone().or(pol.location.clone()),
            vec![pol.id()],
        );
        f.evidence.push(Evidence::at(
            covering.location.clone().or(other.location.clone()),
            format!(
                "{dir}[{r2}] of {} allows every peer and port this rule allows, for the same pods",
                other.id()
            ),
        ));
        f.remediation = Remediation {
            text:
                "Delete the shadowed rule, or narrow the covering one if this rule was the intent."
                    .into(),
            yaml: None,
        };
        cx.findings.push(f);
    }
}
