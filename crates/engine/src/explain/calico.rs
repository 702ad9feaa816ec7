//! Calico's policies for one pair, straight from the policies: which tiers and policies
//! apply to the subject, and which of their rules match the peer, as steps of the walk.
//! Peer matching is its own reading of Calico's rules, independent of the index.

use super::tiers::TierStep;
use super::{Side, namespace_labels};
use crate::Options;
use crate::index::{
    CalicoTierPlace, Stage, calico_end_action, calico_endpoint_labels, calico_k8s_bounds,
    calico_namespace_allows, calico_namespace_labels, calico_network_set_labels,
    calico_policy_order, calico_policy_stage, calico_rule_action, end_key, order_key,
};
use kubeseg_model::{
    CalicoEntity, CalicoNamespaces, CalicoPort, CalicoPortOf, CalicoRule, Cluster, IpSet, Labels,
    PortSet, Protocol,
};
use std::collections::BTreeMap;

/// Adds to `found` every matching rule of the Calico policies that apply to `subject`
/// (with its evaluation key), and each applying tier's end; lists in `isolating` the
/// `default`-tier policies that apply.
pub fn steps(
    cluster: &Cluster,
    (tiers, subject): (&[CalicoTierPlace], &Side),
    (peer, destination, egress): (&Side, &Side, bool),
    options: Options,
    (found, isolating): (&mut Vec<(u64, TierStep)>, &mut Vec<usize>),
) {
    let Side::Pod { namespace, pod } = subject else {
        return;
    };
    let labels = pod_labels(cluster, namespace, pod);
    let bounds = calico_k8s_bounds(cluster);
    let mut rank_in_tier: BTreeMap<&str, usize> = BTreeMap::new();
    let mut ended: Vec<u16> = Vec::new();
    for i in calico_policy_order(cluster) {
        let p = &cluster.calico_policies[i];
        let n = rank_in_tier.entry(p.tier.as_str()).or_default();
        let policy_rank = *n;
        *n += 1;
        let applies_here = if egress {
            p.applies_egress
        } else {
            p.applies_ingress
        };
        let selects = calico_namespace_allows(&p.subject.namespaces, Some(namespace), || {
            ns_labels(cluster, namespace)
        }) && p.subject.selector.matches(&labels);
        if !applies_here || !selects {
            continue;
        }
        let Some((stage, rank)) = calico_policy_stage(tiers, p, bounds) else {
            continue;
        };
        let rules = if egress { &p.egress } else { &p.ingress };
        for (ri, rule) in rules.iter().enumerate() {
            let Some(action) = calico_rule_action(rule.action) else {
                continue;
            };
            if !entity_matches(cluster, &rule.peer, peer, options) {
                continue;
            }
            let ports = rule_ports(rule, destination);
            if ports.is_empty() {
                continue;
            }
            let step = TierStep {
                policy: i,
                rule: ri,
                tier: stage,
                action,
                ports,
                decided: PortSet::empty(),
                end: false,
            };
            found.push((order_key(stage, rank, policy_rank, ri), step));
        }
        match stage {
            Stage::CalicoPre | Stage::CalicoPost => isolating.push(i),
            _ if !ended.contains(&rank) => {
                ended.push(rank);
                let action = calico_end_action(tiers[rank as usize].default_action);
                let step = TierStep {
                    policy: i,
                    rule: usize::MAX,
                    tier: stage,
                    action,
                    ports: PortSet::all(),
                    decided: PortSet::empty(),
                    end: true,
                };
                found.push((end_key(stage, rank), step));
            }
            _ => {}
        }
    }
}

/// A pod's endpoint labels, with its service account (the API server's `default` when
/// unnamed).
fn pod_labels(cluster: &Cluster, namespace: &str, pod: &kubeseg_model::Pod) -> Labels {
    let account = pod.service_account.as_deref().unwrap_or("default");
    calico_endpoint_labels(cluster, namespace, &pod.labels, Some(account))
}

fn ns_labels(cluster: &Cluster, name: &str) -> Labels {
    calico_namespace_labels(&namespace_labels(cluster, name), name)
}

/// The ports a rule matches toward `destination` (named ports resolved there, then
/// `notPorts` cut), and the ICMP messages its `icmp` and `notICMP` leave.
pub fn rule_ports(rule: &CalicoRule, destination: &Side) -> PortSet {
    let mut out = PortSet::empty();
    for (i, &on) in rule.protocols.iter().enumerate() {
        if !on {
            continue;
        }
        let proto = Protocol::ALL[i];
        if proto.is_icmp() {
            out = out.union(&rule.icmp_messages(proto));
            continue;
        }
        let Some(ports) = &rule.ports else {
            out = out.union(&PortSet::all_of(proto));
            continue;
        };
        let mut set = match &ports.ports {
            None => PortSet::all_of(proto),
            Some(list) => list.iter().fold(PortSet::empty(), |acc, p| {
                acc.union(&port(p, proto, destination))
            }),
        };
        for p in &ports.not_ports {
            set = set.difference(&port(p, proto, destination));
        }
        out = out.union(&set);
    }
    out
}

fn port(p: &CalicoPort, proto: Protocol, destination: &Side) -> PortSet {
    match p.for_protocol(proto) {
        None => PortSet::empty(),
        Some(CalicoPortOf::Range(lo, hi)) => PortSet::range(proto, lo, hi),
        Some(CalicoPortOf::Named(name)) => match destination {
            Side::Pod { pod, .. } => pod
                .ports
                .iter()
                .filter(|cp| cp.protocol == proto && cp.name.as_deref() == Some(name))
                .fold(PortSet::empty(), |acc, cp| {
                    acc.union(&PortSet::range(proto, cp.port, cp.port))
                }),
            _ => PortSet::empty(),
        },
    }
}

/// Whether an address set holds the side's address (a pod with none known: only a set
/// of every IPv4 address; a name: the same).
fn holds(set: &IpSet, side: &Side) -> bool {
    match side {
        Side::Address(ip) => set.contains(*ip),
        Side::Pod { pod, .. } if !pod.ips.is_empty() => pod.ips.iter().any(|ip| set.contains(*ip)),
        _ => set.has_all_ipv4(),
    }
}

/// Whether an address set may hold the side's address, as `notNets` excludes: a pod
/// with none known when the set holds an IPv4 address (it may get that one).
fn may_hold(set: &IpSet, side: &Side) -> bool {
    match side {
        Side::Pod { pod, .. } if pod.ips.is_empty() => set.has_ipv4(),
        _ => holds(set, side),
    }
}

/// Whether a rule's entity matches the other side: every given field holds.
fn entity_matches(cluster: &Cluster, e: &CalicoEntity, peer: &Side, options: Options) -> bool {
    if e.nets.as_ref().is_some_and(|nets| !holds(nets, peer)) {
        return false;
    }
    if e.not_nets.as_ref().is_some_and(|nets| may_hold(nets, peer)) {
        return false;
    }
    if e.selector.is_none() && e.not_selector.is_none() && e.namespaces.is_none() {
        return true;
    }
    let namespaces = e.namespaces.clone().unwrap_or(CalicoNamespaces::Any);
    if let Side::Pod { namespace, pod } = peer
        && (!pod.host_network || options.host_network_selectable)
    {
        let labels = pod_labels(cluster, namespace, pod);
        return calico_namespace_allows(&namespaces, Some(namespace), || {
            ns_labels(cluster, namespace)
        }) && e.selector.as_ref().is_none_or(|s| s.matches(&labels))
            && !e.not_selector.as_ref().is_some_and(|s| s.matches(&labels));
    }
    // An outside address (or a host-network pod, by its node's address): by the network
    // sets holding it; with no positive constraint, any address not excluded.
    let positive = e.selector.is_some() || e.namespaces.is_some();
    let mut matched = !positive;
    for n in &cluster.calico_network_sets {
        if !holds(&n.nets, peer) {
            continue;
        }
        let ns = (!n.namespace.is_empty()).then_some(n.namespace.as_str());
        let labels = calico_network_set_labels(n);
        if e.not_selector.as_ref().is_some_and(|s| s.matches(&labels)) {
            return false;
        }
        if positive
            && calico_namespace_allows(&namespaces, ns, || ns_labels(cluster, ns.unwrap_or("")))
            && e.selector.as_ref().is_none_or(|s| s.matches(&labels))
        {
            matched = true;
        }
    }
    matched
}
