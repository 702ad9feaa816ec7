use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;
use kubeseg_engine::bitset::BitSet;
use kubeseg_engine::ids::PolicyId;
use kubeseg_model::{CiliumPeerKind, CiliumRule};

pub static RULE: Rule = Rule {
    code: "KL302",
    name: "cilium-fqdn-without-dns-rule",
    severity: Severity::Medium,
    summary: "A Cilium `toFQDNs` rule for pods whose DNS traffic Cilium's proxy does not see.",
    what: "Fires for a Cilium egress rule with `toFQDNs` when some pod it applies to is selected by no Cilium spec with an egress rule carrying `rules.dns`.",
    why: "Cilium learns which addresses a name stands for from the DNS answers its DNS proxy sees; without a `rules.dns` rule for the pods' DNS traffic, the names never resolve to allowed addresses and the rule allows nothing.",
    fix: "Allow the pods' DNS traffic to kube-dns with `toPorts: [{ports: [{port: \"53\", protocol: ANY}], rules: {dns: [{matchPattern: \"*\"}]}}]`.",
    example: "  egress:\n  - toFQDNs: [{matchName: api.example.com}]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n",
};

fn has_fqdn(rule: &CiliumRule) -> bool {
    rule.peers
        .iter()
        .any(|p| matches!(p.kind, CiliumPeerKind::Fqdns(_)))
}

pub fn check(cx: &mut Cx) {
    let index = &cx.engine.reach.index;
    let first = index.network_policy_count;
    // The pods some spec with a DNS rule in egress selects.
    let mut seen_by_proxy = BitSet::new(index.nodes);
    for (i, r) in index.cilium.iter().enumerate() {
        let spec = &cx.cluster().cilium_policies[r.policy as usize].specs[r.spec as usize];
        if spec
            .egress
            .iter()
            .any(|rule| rule.l7.iter().any(|k| k == "dns"))
        {
            seen_by_proxy.union_with(&index.selected[PolicyId::from(first + i)]);
        }
    }
    let mut found = Vec::new();
    for (i, r) in index.cilium.iter().enumerate() {
        let policy = &cx.cluster().cilium_policies[r.policy as usize];
        let spec = &policy.specs[r.spec as usize];
        let Some((ri, rule)) = spec.egress.iter().enumerate().find(|(_, r)| has_fqdn(r)) else {
            continue;
        };
        let mut blind = index.selected[PolicyId::from(first + i)].clone();
        blind.difference_with(&seen_by_proxy);
        if blind.is_empty() {
            continue;
        }
        let workloads = cx.workloads_of(blind.iter());
        found.push((policy, r.spec as usize, ri, rule, workloads));
    }
    for (policy, s, ri, rule, workloads) in found {
        let at = rule.location.clone().or(policy.location.clone());
        let names: Vec<String> = workloads
            .iter()
            .take(3)
            .map(|&w| cx.cluster().workloads[w].id())
            .collect();
        let mut f = Finding::new(
            &RULE,
            format!(
                "{}egress[{ri}] of {} allows names, but no Cilium rule with `rules.dns` covers the DNS traffic of {} ({} workload(s)): the names never resolve to allowed addresses",
                policy.spec_label(s),
                policy.id(),
                names.join(", "),
                workloads.len()
            ),
            at.clone(),
            vec![policy.id()],
        );
        f.evidence.push(Evidence::at(
            at,
            "Cilium allows a name's addresses once its DNS proxy has seen them in an answer to the pod",
        ));
        f.remediation = Remediation {
            text: "Add an egress rule to kube-dns on port 53 with `rules: {dns: [{matchPattern: \"*\"}]}` for these pods.".into(),
            yaml: None,
        };
        cx.findings.push(f);
    }
}
