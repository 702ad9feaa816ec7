use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;
use kubeseg_engine::ids::ClusterPolicyId;
use kubeseg_engine::index::{Index, TierRule};

pub static RULE: Rule = Rule {
    code: "KL114",
    name: "tier-equal-priority-overlap",
    severity: Severity::Low,
    summary: "Two tiered policies of one tier have the same priority and overlapping rules: their order is undefined.",
    what: "Fires for two AdminNetworkPolicies or ClusterNetworkPolicies in the same tier with the same priority that apply to a common pod and have rules in the same direction whose peers and ports overlap, reported once per pair at the second one. Raised to high when two such overlapping rules have different actions. (kubeseg evaluates equal priorities by name; named ports are assumed to overlap.)",
    why: "The API leaves the order of equal priorities undefined: implementations may pick either, and one of them decides the shared traffic. With different actions the same manifests allow the traffic on one cluster and deny it on another.",
    fix: "Give the two policies different priorities, in the order you mean.",
    example: "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: allow-b}\nspec:\n  tier: Admin\n  priority: 10\n  subject: {namespaces: {matchLabels: {team: a}}}\n  ingress:\n  - {name: from-b, action: Accept, from: [{namespaces: {matchLabels: {team: b}}}]}\n---\napiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: deny-b}\nspec:\n  tier: Admin\n  priority: 10\n  subject: {namespaces: {matchLabels: {team: a}}}\n  ingress:\n  - {name: from-b, action: Deny, from: [{namespaces: {matchLabels: {team: b}}}]}\n",
};

/// Whether two rules may match the same traffic (named ports may always).
fn overlap(index: &Index, a: &TierRule, b: &TierRule) -> bool {
    if !index.peer_sets[a.peers].intersects(&index.peer_sets[b.peers]) {
        return false;
    }
    let (sa, sb) = (&index.port_specs[a.ports], &index.port_specs[b.ports]);
    !sa.named.is_empty()
        || !sb.named.is_empty()
        || !index
            .port_sets
            .get(sa.numeric)
            .intersect(index.port_sets.get(sb.numeric))
            .is_empty()
}

/// The overlapping rules of two policies: (egress, rule of the first, rule of the second).
fn overlapping(
    index: &Index,
    first: ClusterPolicyId,
    second: ClusterPolicyId,
) -> Vec<(bool, usize, usize)> {
    let tiers = &index.tiers;
    let mut out = Vec::new();
    for (egress, compiled) in [(false, &tiers.ingress), (true, &tiers.egress)] {
        for a in &compiled[first] {
            for b in &compiled[second] {
                if overlap(index, a, b) {
                    out.push((egress, a.rule as usize, b.rule as usize));
                }
            }
        }
    }
    out
}

pub fn check(cx: &mut Cx) {
    let index = &cx.engine.reach.index;
    let tiers = &index.tiers;
    let policies = &cx.cluster().cluster_policies;
    let mut out = Vec::new();
    // Policies are sorted by (tier, priority, name, kind): equal priorities are runs.
    let mut start = 0;
    while start < policies.len() {
        let key = (policies[start].tier, policies[start].priority);
        let end = start
            + policies[start..]
                .iter()
                .take_while(|p| (p.tier, p.priority) == key)
                .count();
        for first in start..end {
            for second in first + 1..end {
                let (a, b) = (ClusterPolicyId::from(first), ClusterPolicyId::from(second));
                if !tiers.selected[a].intersects(&tiers.selected[b]) {
                    continue;
                }
                let rules = overlapping(index, a, b);
                if !rules.is_empty() {
                    out.push((first, second, rules));
                }
            }
        }
        start = end;
    }
    for (first, second, rules) in out {
        let (a, b) = (&policies[first], &policies[second]);
        let conflicting = rules.iter().find(|&&(egress, ra, rb)| {
            let (x, y) = if egress {
                (&a.egress[ra], &b.egress[rb])
            } else {
                (&a.ingress[ra], &b.ingress[rb])
            };
            x.action != y.action
        });
        let shown = *conflicting.unwrap_or(&rules[0]);
        let mut f = Finding::new(
            &RULE,
            format!(
                "{} has the same priority ({}) in the {} tier as {} at {}, and they apply to common pods with overlapping rules: the API leaves their order undefined",
                b.id(),
                b.priority,
                b.tier.as_str(),
                a.id(),
                super::place(a.location.as_ref(), b.location.as_ref())
            ),
            b.location.clone(),
            vec![b.id(), a.id()],
        );
        if conflicting.is_some() {
            f.severity = Severity::High;
        }
        f.evidence.push(Evidence::at(
            a.location.clone(),
            format!(
                "{} has priority {} too; kubeseg evaluates it first (by name)",
                a.id(),
                a.priority
            ),
        ));
        let (egress, ra, rb) = shown;
        let (x, y) = if egress {
            (&a.egress[ra], &b.egress[rb])
        } else {
            (&a.ingress[ra], &b.ingress[rb])
        };
        f.evidence.push(Evidence::at(
            y.location.clone(),
            format!(
                "{} of {} and {} of {} match common peers and ports{}",
                super::tier_rule(b, egress, rb),
                b.id(),
                super::tier_rule(a, egress, ra),
                a.id(),
                if x.action != y.action {
                    ": which one decides them is undefined"
                } else {
                    ""
                }
            ),
        ));
        f.remediation = Remediation {
            text: format!(
                "Give {} and {} different priorities, in the order you mean.",
                a.id(),
                b.id()
            ),
            yaml: None,
        };
        cx.findings.push(f);
    }
}
