use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;
use kubeseg_engine::ids::{ClusterPolicyId, PeerSetId};
use kubeseg_engine::index::TierRule;
use kubeseg_model::{PortSet, Tier};
use std::collections::HashMap;

pub static RULE: Rule = Rule {
    code: "KL112",
    name: "tier-shadowed-rule",
    severity: Severity::Medium,
    summary: "A rule of a tiered policy never decides anything: earlier rules decide all its traffic.",
    what: "For AdminNetworkPolicy, BaselineAdminNetworkPolicy and ClusterNetworkPolicy rules, fires for a rule when earlier rules in evaluation order (earlier rules of the same policy, or rules of policies in the same tier with a lower priority number) apply to every pod it applies to, match every peer it matches and together cover all its ports: the first matching rule decides each port (Pass included), so this one is never reached. Rules with named ports are left out, and policies of equal priority are not compared (their order is undefined: KL114).",
    why: "The rule reads as if it mattered: a Deny below a broader Accept denies nothing, an Accept below a broader Deny allows nothing. Whoever edits it expects an effect it cannot have.",
    fix: "Delete the rule, move it before the rules that shadow it (or give its policy a lower priority number), or narrow those rules.",
    example: "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: team-b}\nspec:\n  tier: Admin\n  priority: 10\n  subject: {namespaces: {matchLabels: {team: a}}}\n  ingress:\n  - name: allow-all\n    action: Accept\n    from: [{namespaces: {}}]\n  - name: deny-b\n    action: Deny\n    from: [{namespaces: {matchLabels: {team: b}}}]\n",
};

/// Above this many rules in one tier and direction the rule is not checked.
const MAX_RULES: usize = 20000;

/// A shadowed rule and the rules that decide its traffic. Fields are in sort order.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Shadowed {
    /// The policy's index in `Cluster::cluster_policies`.
    policy: usize,
    egress: bool,
    /// The rule's index in its direction.
    rule: usize,
    /// (policy, rule) of each earlier rule that decides some of its traffic.
    by: Vec<(usize, usize)>,
}

pub fn check(cx: &mut Cx) {
    let index = &cx.engine.reach.index;
    let tiers = &index.tiers;
    let policies = &cx.cluster().cluster_policies;
    let mut found: Vec<Shadowed> = Vec::new();
    let mut notes = Vec::new();
    for egress in [false, true] {
        let compiled = if egress {
            &tiers.egress
        } else {
            &tiers.ingress
        };
        for tier in [Tier::Admin, Tier::Baseline] {
            // Evaluation order: policies are sorted by (tier, priority, name, kind).
            let rules: Vec<&TierRule> = compiled
                .iter()
                .enumerate()
                // Ids past the cluster's tiered policies are Cilium's and Calico's rules.
                .filter(|(p, _)| policies.get(*p).is_some_and(|x| x.tier == tier))
                .flat_map(|(_, rs)| rs)
                .collect();
            if rules.len() > MAX_RULES {
                notes.push(format!(
                    "KL112 (tier-shadowed-rule) not checked for {} {} rules: more than {MAX_RULES}",
                    tier.as_str(),
                    if egress { "egress" } else { "ingress" }
                ));
                continue;
            }
            let mut subjects: HashMap<(ClusterPolicyId, ClusterPolicyId), bool> = HashMap::new();
            let mut peers: HashMap<(PeerSetId, PeerSetId), bool> = HashMap::new();
            for (i, r) in rules.iter().enumerate() {
                let p = r.policy;
                let spec = &index.port_specs[r.ports];
                if tiers.selected[p].is_empty()
                    || index.peer_sets[r.peers].is_empty()
                    || !spec.named.is_empty()
                {
                    continue;
                }
                let want = index.port_sets.get(spec.numeric);
                if want.is_empty() {
                    continue;
                }
                let mut covered = PortSet::empty();
                let mut by = Vec::new();
                for e in &rules[..i] {
                    let q = e.policy;
                    if q != p && policies[q.index()].priority == policies[p.index()].priority {
                        continue;
                    }
                    let covers_subject = *subjects
                        .entry((p, q))
                        .or_insert_with(|| tiers.selected[p].is_subset(&tiers.selected[q]));
                    if !covers_subject {
                        continue;
                    }
                    let covers_peers = *peers.entry((r.peers, e.peers)).or_insert_with(|| {
                        index.peer_sets[r.peers].is_subset(&index.peer_sets[e.peers])
                    });
                    if !covers_peers {
                        continue;
                    }
                    // Named ports of the earlier rule are left out: they may not apply.
                    let theirs = index.port_sets.get(index.port_specs[e.ports].numeric);
                    let new = want.intersect(theirs).difference(&covered);
                    if new.is_empty() {
                        continue;
                    }
                    covered = covered.union(&new);
                    by.push((q.index(), e.rule as usize));
                    if covered == *want {
                        break;
                    }
                }
                if covered == *want {
                    found.push(Shadowed {
                        policy: p.index(),
                        egress,
                        rule: r.rule as usize,
                        by,
                    });
                }
            }
        }
    }
    found.sort();
    cx.notes.extend(notes);
    for Shadowed {
        policy: p,
        egress,
        rule: ri,
        by,
    } in found
    {
        let pol = &policies[p];
        let rule = if egress {
            &pol.egress[ri]
        } else {
            &pol.ingress[ri]
        };
        let at = rule.location.clone().or(pol.location.clone());
        let names: Vec<String> = by
            .iter()
            .map(|&(q, qi)| {
                let other = &policies[q];
                let r = if egress {
                    &other.egress[qi]
                } else {
                    &other.ingress[qi]
                };
                format!(
                    "{} of {} at {}",
                    super::tier_rule(other, egress, qi),
                    other.id(),
                    super::place(r.location.as_ref().or(other.location.as_ref()), at.as_ref())
                )
            })
            .collect();
        let mut f = Finding::new(
            &RULE,
            format!(
                "{} of {} never decides anything: {} already decide{} all its traffic",
                super::tier_rule(pol, egress, ri),
                pol.id(),
                names.join(" and "),
                if by.len() == 1 { "s" } else { "" }
            ),
            at,
            vec![pol.id()],
        );
        for &(q, qi) in &by {
            let other = &policies[q];
            let r = if egress {
                &other.egress[qi]
            } else {
                &other.ingress[qi]
            };
            f.evidence.push(Evidence::at(
                r.location.clone().or(other.location.clone()),
                format!(
                    "{} of {} comes first and applies to every pod and peer this rule does",
                    super::tier_rule(other, egress, qi),
                    other.id()
                ),
            ));
        }
        f.remediation = Remediation {
            text: "Delete the rule, move it before the rules that shadow it, or narrow them."
                .into(),
            yaml: None,
        };
        cx.findings.push(f);
    }
}
