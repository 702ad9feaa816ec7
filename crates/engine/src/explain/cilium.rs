//! Cilium's rules for one pair, straight from the policies: which specs select the
//! subject, which of their allow rules admit the peer, and what their deny rules deny.

use super::{Miss, Side, namespace_labels, rule_ports};
use crate::Options;
use crate::index::cilium_pattern_matches;
use kubeseg_model::{CiliumPeerKind, CiliumRule, CiliumSubject, Cluster, Entity, PortSet, Rule};
use std::net::IpAddr;

/// An allow rule of a Cilium spec that selects the subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CiliumAllow {
    /// Index into the Cilium specs (`index::cilium_refs`).
    pub spec: usize,
    /// Index of the rule in `ingress`/`egress`.
    pub rule: usize,
    /// Ports it allows toward the destination (empty: the peer or the ports miss).
    pub ports: PortSet,
    /// Why it allows nothing, when `ports` is empty.
    pub miss: Option<Miss>,
    /// The L7 rule kinds on its ports (`http`, `dns`, ...): Cilium's proxy admits only
    /// the requests they match, which the L3/L4 answer does not tell.
    pub l7: Vec<String>,
    /// The part of `ports` that only entries with L7 rules allow: the proxy filters
    /// them unless another allow admits the peer there too.
    pub l7_ports: PortSet,
}

/// What Cilium's allows say about one direction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CiliumAllows {
    /// The specs that select the subject and put it into default deny here.
    pub isolating: Vec<usize>,
    /// Every allow rule of every spec that selects the subject.
    pub rules: Vec<CiliumAllow>,
}

/// The Cilium specs selecting `subject` (a pod) and their allow rules toward `peer`.
pub fn allows(
    (cluster, candidates): (&Cluster, &super::Candidates),
    (namespace, subject): (&str, &kubeseg_model::Pod),
    peer: &Side,
    destination: &Side,
    egress: bool,
    options: Options,
) -> CiliumAllows {
    let mut out = CiliumAllows::default();
    let labels = namespace_labels(cluster, namespace);
    for &i in candidates.cilium(namespace) {
        let r = candidates.refs[i];
        let spec = &cluster.cilium_policies[r.policy as usize].specs[r.spec as usize];
        let CiliumSubject::Pods(set) = &spec.subject else {
            continue;
        };
        if !(set.namespaces.matches(&labels) && set.pods.matches(&subject.labels)) {
            continue;
        }
        let (isolates, rules) = if egress {
            (spec.default_deny_egress, &spec.egress)
        } else {
            (spec.default_deny_ingress, &spec.ingress)
        };
        if isolates {
            out.isolating.push(i);
        }
        for (ri, rule) in rules.iter().enumerate() {
            let allow = if rule_matches(cluster, rule, peer, options) {
                let (ports, missing) = rule_ports(&as_rule(rule), destination);
                let miss = (ports.is_empty() && !missing.is_empty())
                    .then_some(Miss::NamedPortUndefined(missing));
                let l7_ports = l7_only_ports(rule, &ports, destination);
                CiliumAllow {
                    spec: i,
                    rule: ri,
                    ports,
                    miss,
                    l7: rule.l7.clone(),
                    l7_ports,
                }
            } else {
                CiliumAllow {
                    spec: i,
                    rule: ri,
                    ports: PortSet::empty(),
                    miss: Some(Miss::Peer),
                    l7: rule.l7.clone(),
                    l7_ports: PortSet::empty(),
                }
            };
            out.rules.push(allow);
        }
    }
    out
}

/// The ports of `ports` (what `rule` allows) that only its entries with L7 rules name.
fn l7_only_ports(rule: &CiliumRule, ports: &PortSet, destination: &Side) -> PortSet {
    if rule.l7.is_empty() {
        return PortSet::empty();
    }
    let plain = Rule {
        location: None,
        peers: None,
        ports: Some(rule.plain_ports.clone()),
    };
    ports.difference(&rule_ports(&plain, destination).0)
}

/// The ports a Cilium rule names toward `destination`.
pub fn ports(rule: &CiliumRule, destination: &Side) -> PortSet {
    rule_ports(&as_rule(rule), destination).0
}

fn as_rule(rule: &CiliumRule) -> Rule {
    Rule {
        location: None,
        peers: None,
        ports: rule.ports.clone(),
    }
}

/// Whether some peer of the rule matches the other side.
pub fn rule_matches(cluster: &Cluster, rule: &CiliumRule, peer: &Side, options: Options) -> bool {
    rule.peers
        .iter()
        .any(|p| peer_matches(cluster, &p.kind, peer, options))
}

fn is_node_address(cluster: &Cluster, ip: &IpAddr) -> bool {
    cluster.nodes.iter().any(|n| n.addresses.contains(ip))
}

fn peer_matches(cluster: &Cluster, kind: &CiliumPeerKind, peer: &Side, options: Options) -> bool {
    // Host-network pods count as pods only when the reading selects them like others;
    // otherwise Cilium sees them as their node.
    let on_host = |pod: &kubeseg_model::Pod| pod.host_network && !options.host_network_selectable;
    match (kind, peer) {
        (CiliumPeerKind::All, _) => true,
        (CiliumPeerKind::Pods(set), Side::Pod { namespace, pod }) => {
            !on_host(pod)
                && set
                    .namespaces
                    .matches(&namespace_labels(cluster, namespace))
                && set.pods.matches(&pod.labels)
        }
        (CiliumPeerKind::Cidr { addresses, .. }, Side::Address(ip)) => {
            addresses.contains(*ip) && !is_node_address(cluster, ip)
        }
        (CiliumPeerKind::Cidr { addresses, .. }, Side::Domain(_)) => addresses.has_all_ipv4(),
        (CiliumPeerKind::Entity(entity), side) => match (entity, side) {
            (Entity::World, Side::Address(ip)) => !is_node_address(cluster, ip),
            (Entity::WorldIpv4, Side::Address(ip)) => ip.is_ipv4() && !is_node_address(cluster, ip),
            (Entity::WorldIpv6, Side::Address(ip)) => ip.is_ipv6() && !is_node_address(cluster, ip),
            // Wherever a name resolves, `world` holds it; the IPv4 half holds it as an
            // IPv4 block holding every address would.
            (Entity::World | Entity::WorldIpv4, Side::Domain(_)) => true,
            (Entity::Cluster, Side::Pod { .. }) => true,
            (Entity::Cluster | Entity::Host | Entity::RemoteNode, Side::Address(ip)) => {
                is_node_address(cluster, ip)
            }
            (Entity::Host | Entity::RemoteNode, Side::Pod { pod, .. }) => on_host(pod),
            _ => false,
        },
        (CiliumPeerKind::Nodes(sel), Side::Address(ip)) => cluster
            .nodes
            .iter()
            .any(|n| sel.matches(&n.labels) && n.addresses.contains(ip)),
        (CiliumPeerKind::Fqdns(patterns), Side::Domain(name)) => {
            let name = crate::index::normalise_domain(name);
            patterns.iter().any(|p| cilium_pattern_matches(p, &name))
        }
        _ => false,
    }
}
