use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Rule, Severity};
use crate::lint::Cx;
use kubeseg_model::PeerKind;

pub static RULE: Rule = Rule {
    code: "KL109",
    name: "ipblock-overlaps-cluster",
    severity: Severity::Medium,
    summary: "An ipBlock overlaps the pod or Service address range.",
    what: "With `--pod-cidr` or `--service-cidr`, fires for ipBlock peers whose addresses (cidr minus excepts) overlap those ranges.",
    why: "Whether an ipBlock matches pod traffic depends on the network plugin (and Service addresses are rewritten before policy applies on most): the rule means different things on different clusters.",
    fix: "Select pods with selectors; keep ipBlocks for addresses outside the cluster, or except the cluster ranges.",
    example: "  - from:\n    - ipBlock: {cidr: 10.0.0.0/8}   # the pods are in 10.244.0.0/16\n",
};

pub fn check(cx: &mut Cx) {
    let ranges: Vec<(String, kubeseg_model::IpSet, &str)> = cx
        .config
        .pod_cidrs
        .iter()
        .map(|(t, s)| (t.clone(), s.clone(), "pod"))
        .chain(
            cx.config
                .service_cidrs
                .iter()
                .map(|(t, s)| (t.clone(), s.clone(), "Service")),
        )
        .collect();
    if ranges.is_empty() {
        cx.notes.push("KL109 (ipblock-overlaps-cluster) not checked: give the cluster's ranges with --pod-cidr and --service-cidr".into());
        return;
    }
    for p in cx.policies() {
        let pol = p.policy;
        for (dir, rules) in [("ingress", &pol.ingress), ("egress", &pol.egress)] {
            for (ri, r) in rules.iter().enumerate() {
                for peer in r.peers.iter().flatten() {
                    let PeerKind::IpBlock {
                        cidr, addresses, ..
                    } = &peer.kind
                    else {
                        continue;
                    };
                    let hits: Vec<String> = ranges
                        .iter()
                        .filter(|(_, s, _)| !s.intersect(addresses).is_empty())
                        .map(|(t, _, what)| format!("the {what} range {t}"))
                        .collect();
                    if hits.is_empty() {
                        continue;
                    }
                    let mut f = Finding::new(
                        &RULE,
                        format!(
                            "ipBlock {cidr} in {dir}[{ri}] of NetworkPolicy {} overlaps {}",
                            pol.id(),
                            hits.join(" and ")
                        ),
                        peer.location.clone(),
                        vec![pol.id()],
                    );
                    f.evidence.push(Evidence::at(peer.location.clone(), "network plugins differ on whether ipBlocks match pod and Service addresses"));
                    f.remediation = Remediation { text: "Use pod and namespace selectors for cluster workloads, or add the cluster ranges as excepts.".into(), yaml: None };
                    cx.findings.push(f);
                }
            }
        }
    }
}
