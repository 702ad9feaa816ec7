use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;
use kubeseg_engine::ids::{ClusterPolicyId, PolicyId};
use kubeseg_model::CalicoAction;

pub static RULE: Rule = Rule {
    code: "KL304",
    name: "calico-deny-after-kubernetes",
    severity: Severity::Medium,
    summary: "A Calico Deny rule that runs after the Kubernetes NetworkPolicies selecting the same pods.",
    what: "Fires for a Calico policy of tier `default` without `order` (or with one above 1000) that has a Deny rule in a direction where a Kubernetes NetworkPolicy isolates some of the same pods.",
    why: "Calico evaluates Kubernetes NetworkPolicies as Allow rules at order 1000 in `default`: a Calico policy without order runs after them, so what they allow is allowed before the Deny is reached.",
    fix: "Give the Calico policy an order below 1000 (or put it in an earlier tier) if its Deny must win.",
    example: "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: no-scanners, namespace: shop}\nspec:\n  selector: app == 'db'\n  ingress:\n  - action: Deny\n    source: {selector: role == 'scanner'}\n",
};

pub fn check(cx: &mut Cx) {
    let index = &cx.engine.reach.index;
    let first = index.tiers.cluster_count + index.tiers.cilium_count;
    let mut found = Vec::new();
    for (i, p) in cx.cluster().calico_policies.iter().enumerate() {
        let late = p.order.is_none_or(|o| o > 1000.0);
        if p.staged || p.tier != "default" || !late {
            continue;
        }
        let selected = &index.tiers.selected[ClusterPolicyId::from(first + i)];
        for (egress, applies, rules) in [
            (false, p.applies_ingress, &p.ingress),
            (true, p.applies_egress, &p.egress),
        ] {
            let Some(deny) = rules.iter().find(|r| r.action == CalicoAction::Deny) else {
                continue;
            };
            // Kubernetes NetworkPolicies isolating the same pods in this direction.
            let overlapping: Vec<usize> = (0..cx.cluster().policies.len())
                .filter(|&n| {
                    let np = &cx.cluster().policies[n];
                    let isolates = if egress {
                        np.isolates_egress
                    } else {
                        np.isolates_ingress
                    };
                    isolates && index.selected[PolicyId::from(n)].intersects(selected)
                })
                .collect();
            if applies && !overlapping.is_empty() {
                found.push((i, egress, deny.location.clone(), overlapping));
            }
        }
    }
    for (i, egress, at, overlapping) in found {
        let p = &cx.cluster().calico_policies[i];
        let dir = if egress { "egress" } else { "ingress" };
        let names: Vec<String> = overlapping
            .iter()
            .map(|&n| cx.cluster().policies[n].id())
            .collect();
        let at = at.or(p.location.clone());
        let mut f = Finding::new(
            &RULE,
            format!(
                "{} (order {}) denies {dir} after the Kubernetes NetworkPolicies {}, which Calico evaluates first as Allow rules at order 1000: what they allow is allowed",
                p.id(),
                p.order.map_or("none".to_string(), |o| o.to_string()),
                names.join(", ")
            ),
            at.clone(),
            vec![p.id()],
        );
        f.evidence.push(Evidence::at(
            at,
            "tier default: policies by order, a missing order last; Kubernetes NetworkPolicies at 1000",
        ));
        f.remediation = Remediation {
            text: "Give it `order` below 1000, or move it to a tier ordered before `default`."
                .into(),
            yaml: None,
        };
        cx.findings.push(f);
    }
}
