//! Checks that read policies and isolation directly: unisolated workloads and
//! namespaces (KS101–KS104), over-broad rules (KS401–KS403), dead policy (KS601, KS602).

use super::{Audit, yaml};
use crate::attribution::workload_location;
use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Severity};
use crate::registry::*;
use kubeseg_engine::ids::PolicyId;
use kubeseg_model::{Action, PeerKind};
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;

/// KS101–KS104. A workload is isolated in a direction when each of its pods is selected
/// by a NetworkPolicy with that direction in its policyTypes, or is the subject of an
/// Admin or Baseline tier policy with a `Deny` rule in that direction; an unisolated
/// workload therefore admits (sends) every connection. A namespace has a default deny
/// when a NetworkPolicy with an empty podSelector isolates it, or a tiered policy whose
/// subject holds every pod of the namespace has a `Deny` rule in that direction.
pub fn isolation(a: &mut Audit) {
    let cluster = a.engine.cluster;
    let tiered = !cluster.cluster_policies.is_empty();
    let cilium = !cluster.cilium_policies.is_empty();
    let calico = !cluster.calico_policies.is_empty();
    // Only named where such policies exist, so NetworkPolicy-only reports read as before.
    let no_tier_deny = |dir: &str, whom: &str| {
        let mut out = String::new();
        if tiered {
            out += &format!(
                ", and no Admin or Baseline tier policy with an {dir} Deny rule applies to {whom}"
            );
        }
        if cilium {
            out += &format!(
                ", and no Cilium policy puts {whom} into {dir} default deny or has an {dir}Deny rule for {whom}"
            );
        }
        if calico {
            out += &format!(
                ", and no Calico policy of a tier ending in Deny, or with a Deny rule, applies to {whom} for {dir}"
            );
        }
        out
    };
    for (w, wl) in cluster.workloads.iter().enumerate() {
        let id = wl.id();
        if !a.ingress_isolated[w] {
            let mut f = Finding::new(
                &INGRESS_UNISOLATED,
                format!(
                    "{id} is not isolated for ingress: every pod and address may connect to it"
                ),
                None,
                vec![id.clone()],
            );
            if a.is_jewel[w] {
                f.severity = Severity::High;
            }
            f.location = wl.location.clone();
            f.evidence.push(Evidence::at(
                wl.location.clone(),
                format!(
                    "no NetworkPolicy with Ingress in its policyTypes selects the pods of {id}{}",
                    no_tier_deny("ingress", "them")
                ),
            ));
            f.remediation = Remediation {
                text: format!(
                    "Apply a default-deny ingress policy in namespace {}, then allow the clients {id} needs.",
                    wl.namespace
                ),
                yaml: Some(yaml::default_deny_ingress(&wl.namespace)),
            };
            a.push(f);
        }
        if !a.egress_isolated[w] {
            let mut f = Finding::new(
                &EGRESS_UNISOLATED,
                format!("{id} is not isolated for egress: it may connect anywhere"),
                None,
                vec![id.clone()],
            );
            if a.is_entry[w] {
                f.severity = Severity::Medium;
            }
            f.location = wl.location.clone();
            f.evidence.push(Evidence::at(
                wl.location.clone(),
                format!(
                    "no NetworkPolicy with Egress in its policyTypes selects the pods of {id}{}",
                    no_tier_deny("egress", "them")
                ),
            ));
            f.remediation = Remediation {
                text: format!(
                    "Apply a default-deny egress policy in namespace {} (it keeps DNS), then allow the destinations {id} needs.",
                    wl.namespace
                ),
                yaml: Some(yaml::default_deny_egress(&wl.namespace)),
            };
            a.push(f);
        }
    }
    let mut workloads_per_ns: BTreeMap<&str, usize> = BTreeMap::new();
    for wl in &cluster.workloads {
        *workloads_per_ns.entry(&wl.namespace).or_default() += 1;
    }
    // (namespace, ingress?) pairs that a `podSelector: {}` policy isolates, found in one pass.
    let mut default_deny: std::collections::BTreeSet<(&str, bool)> = Default::default();
    for p in cluster
        .policies
        .iter()
        .filter(|p| p.pod_selector.is_empty())
    {
        if p.isolates_ingress {
            default_deny.insert((&p.namespace, true));
        }
        if p.isolates_egress {
            default_deny.insert((&p.namespace, false));
        }
    }
    // Tiered policies with a Deny rule whose subject holds every pod of its namespaces.
    let tier_default_deny: Vec<(&kubeseg_model::Selector, bool, bool)> = cluster
        .cluster_policies
        .iter()
        .filter(|p| p.subject.pods.is_empty())
        .map(|p| {
            let deny =
                |rules: &[kubeseg_model::TierRule]| rules.iter().any(|r| r.action == Action::Deny);
            (&p.subject.namespaces, deny(&p.ingress), deny(&p.egress))
        })
        .filter(|(_, i, e)| *i || *e)
        .collect();
    // Cilium specs selecting every pod of the namespaces they cover, with default deny:
    // (namespaces, ingress, egress).
    let cilium_default_deny: Vec<(&kubeseg_model::Selector, bool, bool)> = cluster
        .cilium_policies
        .iter()
        .flat_map(|p| &p.specs)
        .filter_map(|s| match &s.subject {
            kubeseg_model::CiliumSubject::Pods(set) if set.pods.is_empty() => Some((
                &set.namespaces,
                s.default_deny_ingress,
                s.default_deny_egress,
            )),
            _ => None,
        })
        .collect();
    // Calico policies selecting every endpoint of their namespaces in a tier that ends
    // in Deny (`default` always does): a default deny there.
    let calico_tiers = kubeseg_engine::index::calico_tiers(cluster);
    let ends_in_deny = |tier: &str| {
        tier == "default"
            || calico_tiers
                .iter()
                .any(|t| t.name == tier && t.default_action == kubeseg_model::CalicoAction::Deny)
    };
    let calico_default_deny: Vec<(&kubeseg_model::CalicoNamespaces, bool, bool)> = cluster
        .calico_policies
        .iter()
        .filter(|p| {
            !p.staged
                && p.subject.selector == kubeseg_model::calico_selector::CalicoSelector::All
                && ends_in_deny(&p.tier)
        })
        .map(|p| (&p.subject.namespaces, p.applies_ingress, p.applies_egress))
        .collect();
    let first_objects = first_objects(cluster);
    for ns in &cluster.namespaces {
        let Some(&count) = workloads_per_ns.get(ns.name.as_str()) else {
            continue;
        };
        let covers = |ingress: bool| {
            default_deny.contains(&(ns.name.as_str(), ingress))
                || tier_default_deny
                    .iter()
                    .chain(&cilium_default_deny)
                    .any(|(sel, i, e)| (if ingress { *i } else { *e }) && sel.matches(&ns.labels))
                || calico_default_deny.iter().any(|(namespaces, i, e)| {
                    (if ingress { *i } else { *e })
                        && kubeseg_engine::index::calico_namespace_allows(
                            namespaces,
                            Some(&ns.name),
                            || kubeseg_engine::index::calico_namespace_labels(&ns.labels, &ns.name),
                        )
                })
        };
        for (ingress, rule) in [
            (true, &NAMESPACE_NO_DEFAULT_DENY_INGRESS),
            (false, &NAMESPACE_NO_DEFAULT_DENY_EGRESS),
        ] {
            if covers(ingress) {
                continue;
            }
            let dir = if ingress { "ingress" } else { "egress" };
            let mut f = Finding::new(
                rule,
                format!(
                    "namespace {} ({count} workload(s)) has no default-deny {dir} policy",
                    ns.name
                ),
                None,
                vec![ns.name.clone()],
            );
            // A namespace no manifest declares is located at its first object (SARIF
            // viewers drop results without a location).
            let at = ns
                .location
                .clone()
                .or_else(|| first_objects.get(ns.name.as_str()).cloned());
            f.location = at.clone();
            f.evidence.push(Evidence::at(
                at,
                format!(
                    "no NetworkPolicy in {} has `podSelector: {{}}` and {} in its policyTypes{}{}",
                    ns.name,
                    if ingress { "Ingress" } else { "Egress" },
                    if tiered {
                        format!(
                            ", and no Admin or Baseline tier policy whose subject holds every pod of {} has an {dir} Deny rule",
                            ns.name
                        )
                    } else {
                        String::new()
                    },
                    if cilium {
                        format!(
                            ", and no Cilium policy with `endpointSelector: {{}}` puts {} into {dir} default deny",
                            ns.name
                        )
                    } else {
                        String::new()
                    }
                ),
            ));
            f.remediation = Remediation {
                text: format!(
                    "Apply this policy in {}, then allow what each workload needs.",
                    ns.name
                ),
                yaml: Some(if ingress {
                    yaml::default_deny_ingress(&ns.name)
                } else {
                    yaml::default_deny_egress(&ns.name)
                }),
            };
            a.push(f);
        }
    }
}

/// KS401–KS403: ingress rules that admit too much.
pub fn rules(a: &mut Audit) {
    let cluster = a.engine.cluster;
    let classes = a.engine.reach.index.class_count();
    // Per policy: the crown jewels it selects.
    let jewel_classes: Vec<(usize, Vec<usize>)> = a
        .jewels
        .iter()
        .map(|j| (j.workload, a.engine.reach.endpoint_nodes(j.workload)))
        .collect();
    // A policy's jewels are found from the classes it selects, not by testing each
    // jewel against each policy.
    let mut jewel_nodes = kubeseg_engine::bitset::BitSet::new(a.engine.reach.index.nodes);
    let mut jewels_of_node: HashMap<usize, Vec<usize>> = HashMap::default();
    for (j, (_, nodes)) in jewel_classes.iter().enumerate() {
        for &n in nodes.iter().filter(|&&n| n < classes) {
            jewel_nodes.insert(n);
            jewels_of_node.entry(n).or_default().push(j);
        }
    }
    for (pi, p) in cluster.policies.iter().enumerate() {
        if !p.isolates_ingress {
            continue;
        }
        let selected = &a.engine.reach.index.selected[PolicyId::from(pi)];
        let mut hit = selected.clone();
        hit.intersect_with(&jewel_nodes);
        let mut selected_jewels: Vec<usize> = hit
            .iter()
            .flat_map(|n| &jewels_of_node[&n])
            .copied()
            .collect();
        selected_jewels.sort_unstable();
        selected_jewels.dedup();
        let jewels: Vec<String> = (selected_jewels.iter())
            .map(|&j| cluster.workloads[jewel_classes[j].0].id())
            .collect();
        let raise = |f: &mut crate::finding::Finding| {
            if !jewels.is_empty() {
                f.severity = Severity::High;
                f.endpoints.extend(jewels.iter().cloned());
                f.evidence.push(Evidence::at(
                    p.location.clone(),
                    format!("the policy selects crown jewel(s) {}", jewels.join(", ")),
                ));
            }
        };
        for (ri, r) in p.ingress.iter().enumerate() {
            let at = r.location.clone().or(p.location.clone());
            let mut broad = Vec::new();
            match &r.peers {
                None => broad.push((
                    "has no `from`: it admits every pod and every address".to_string(),
                    at.clone(),
                )),
                Some(peers) => {
                    for peer in peers {
                        match &peer.kind {
                            PeerKind::IpBlock { cidr, except, .. }
                                if cidr == "0.0.0.0/0" || cidr == "::/0" =>
                            {
                                let ex = if except.is_empty() {
                                    String::new()
                                } else {
                                    format!(" (except {})", except.join(", "))
                                };
                                broad.push((
                                    format!("admits ipBlock {cidr}{ex}: the whole internet"),
                                    peer.location.clone(),
                                ));
                            }
                            PeerKind::Pods {
                                namespaces: Some(ns),
                                pods,
                            } if ns.is_empty() => {
                                let mut f = Finding::new(
                                    &INGRESS_FROM_ALL_NAMESPACES,
                                    format!(
                                        "ingress[{ri}] of NetworkPolicy {} admits {} of every namespace",
                                        p.id(),
                                        pods.as_ref().map_or("all pods".to_string(), |s| format!(
                                            "pods matching {s}"
                                        ))
                                    ),
                                    None,
                                    vec![p.id()],
                                );
                                f.location = peer.location.clone();
                                f.evidence.push(Evidence::at(peer.location.clone(), "`namespaceSelector: {}` matches every namespace, including ones created later"));
                                raise(&mut f);
                                f.remediation = Remediation {
                                    text: "Select the client namespaces by label (for example kubernetes.io/metadata.name) in the same peer as the podSelector.".into(),
                                    yaml: None,
                                };
                                a.push(f);
                            }
                            _ => {}
                        }
                    }
                }
            }
            for (why, loc) in broad {
                let mut f = Finding::new(
                    &INGRESS_FROM_ANYWHERE,
                    format!("ingress[{ri}] of NetworkPolicy {} {why}", p.id()),
                    None,
                    vec![p.id()],
                );
                f.location = loc.clone();
                f.evidence
                    .push(Evidence::at(loc, format!("ingress[{ri}] {why}")));
                raise(&mut f);
                f.remediation = Remediation {
                    text: "List the address ranges and workloads that really connect.".into(),
                    yaml: None,
                };
                a.push(f);
            }
            if r.ports.is_none() && !jewels.is_empty() {
                let mut f = Finding::new(
                    &CROWN_JEWEL_ALL_PORTS,
                    format!(
                        "ingress[{ri}] of NetworkPolicy {} opens every port of crown jewel(s) {}",
                        p.id(),
                        jewels.join(", ")
                    ),
                    None,
                    vec![p.id()],
                );
                f.endpoints.extend(jewels.iter().cloned());
                f.location = at.clone();
                f.evidence.push(Evidence::at(
                    at.clone(),
                    format!("ingress[{ri}] has no `ports`"),
                ));
                f.remediation = Remediation {
                    text: "Add `ports` with the service ports the clients use.".into(),
                    yaml: None,
                };
                a.push(f);
            }
        }
    }
}

/// KS601 and KS602.
pub fn dead(a: &mut Audit) {
    let cluster = a.engine.cluster;
    for (pi, p) in cluster.policies.iter().enumerate() {
        if !a.engine.reach.index.selected[PolicyId::from(pi)].is_empty() {
            continue;
        }
        let mut f = Finding::new(
            &POLICY_SELECTS_NOTHING,
            format!(
                "NetworkPolicy {} selects no pod (podSelector {})",
                p.id(),
                p.pod_selector
            ),
            None,
            vec![p.id()],
        );
        f.location = p.location.clone();
        f.evidence.push(Evidence::at(
            p.location.clone(),
            format!(
                "no pod in namespace {} matches {} (host-network pods are never selected)",
                p.namespace, p.pod_selector
            ),
        ));
        f.remediation = Remediation {
            text: "Fix the podSelector, or delete the policy.".into(),
            yaml: None,
        };
        a.push(f);
    }
    // Cilium's peers (numbered after the NetworkPolicies) are lint's business.
    let dead: Vec<_> = (a.engine.reach.index.dead_peers())
        .filter(|d| d.policy.index() < cluster.policies.len())
        .collect();
    for d in dead {
        let p = &cluster.policies[d.policy.index()];
        let (dir, rules) = if d.egress {
            ("egress", &p.egress)
        } else {
            ("ingress", &p.ingress)
        };
        let rule = &rules[d.rule as usize];
        let Some(peer) = rule.peers.as_ref().and_then(|ps| ps.get(d.peer as usize)) else {
            continue;
        };
        let what = match &peer.kind {
            PeerKind::Pods { namespaces, pods } => format!(
                "namespaceSelector {} / podSelector {}",
                namespaces
                    .as_ref()
                    .map_or(format!("(namespace {})", p.namespace), ToString::to_string),
                pods.as_ref()
                    .map_or("(all pods)".to_string(), ToString::to_string)
            ),
            PeerKind::IpBlock { cidr, except, .. } => {
                format!("ipBlock {cidr} except {}", except.join(", "))
            }
        };
        let mut f = Finding::new(
            &PEER_MATCHES_NOTHING,
            format!(
                "{dir}[{}] peer {} of NetworkPolicy {} matches nothing: {what}",
                d.rule,
                d.peer,
                p.id()
            ),
            None,
            vec![p.id()],
        );
        f.location = peer.location.clone().or(rule.location.clone());
        f.evidence.push(Evidence::at(
            f.location.clone(),
            format!("no pod or address in the input matches {what}"),
        ));
        f.remediation = Remediation {
            text: "Fix the selectors of the peer, or delete it.".into(),
            yaml: None,
        };
        a.push(f);
    }
    let _ = workload_location;
}

/// Rules whose remediation is a NetworkPolicy selecting the finding's first endpoint.
const POLICY_REMEDIATED: &[&str] = &[
    "KS101", "KS102", "KS301", "KS302", "KS303", "KS304", "KS501",
];

/// A NetworkPolicy cannot select a pod in the node's network namespace (kubeseg's
/// reading unless `--host-network-selectable`): for such workloads the remediation says
/// what can isolate them instead and offers no YAML that would not work.
pub(super) fn host_network_remediations(a: &mut Audit, options: kubeseg_engine::Options) {
    if options.host_network_selectable {
        return;
    }
    let cluster = a.engine.cluster;
    let host: std::collections::BTreeSet<String> = cluster
        .workloads
        .iter()
        .filter(|w| w.pods.iter().all(|p| p.host_network))
        .map(|w| w.id())
        .collect();
    if host.is_empty() {
        return;
    }
    for f in &mut a.findings {
        let Some(id) = f.endpoints.first().filter(|id| host.contains(*id)) else {
            continue;
        };
        if !POLICY_REMEDIATED.contains(&f.rule.code) {
            continue;
        }
        f.remediation = Remediation {
            text: format!(
                "{id} runs in the node's network namespace (hostNetwork), where no NetworkPolicy selects it (most network plugins ignore such pods; kubeseg reads them so unless --host-network-selectable): isolate it with the nodes' host firewall (nftables or iptables rules for its ports) or the network plugin's host policies (Calico HostEndpoint with a GlobalNetworkPolicy, Cilium's host firewall with a CiliumClusterwideNetworkPolicy nodeSelector), or run it without hostNetwork."
            ),
            yaml: None,
        };
    }
}

/// The earliest location of an object (workload, policy, Service) of each namespace,
/// in one pass over the cluster.
fn first_objects(cluster: &kubeseg_model::Cluster) -> BTreeMap<&str, kubeseg_model::Location> {
    let mut first: BTreeMap<&str, kubeseg_model::Location> = BTreeMap::new();
    let located = cluster
        .workloads
        .iter()
        .map(|w| (w.namespace.as_str(), &w.location))
        .chain(
            cluster
                .policies
                .iter()
                .map(|p| (p.namespace.as_str(), &p.location)),
        )
        .chain(
            cluster
                .services
                .iter()
                .map(|s| (s.namespace.as_str(), &s.location)),
        );
    for (ns, at) in located {
        if let Some(at) = at {
            let slot = first.entry(ns).or_insert_with(|| at.clone());
            if at < slot {
                *slot = at.clone();
            }
        }
    }
    first
}
