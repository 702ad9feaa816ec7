//! Why one connection is allowed or denied, rule by rule, straight from the policies.
//!
//! Explanations look at a single pair, so they evaluate every policy directly against
//! the two pods instead of going through the compiled index; tests check that both
//! paths agree.

mod calico;
mod candidates;
mod cilium;
mod tiers;

use crate::Options;
pub use candidates::Candidates;
pub use cilium::{CiliumAllow, CiliumAllows};
use kubeseg_model::{Cluster, Labels, NetworkPolicy, PeerKind, Pod, PortMatch, PortSet, Rule};
use std::net::IpAddr;
pub use tiers::{TierFold, TierStep, TierWalk};

/// One side of the explained connection.
#[derive(Clone, Debug)]
pub enum Side<'c> {
    /// A pod (of a workload) in a namespace.
    Pod {
        /// The namespace.
        namespace: &'c str,
        /// The pod.
        pod: &'c Pod,
    },
    /// An address outside the cluster.
    Address(IpAddr),
    /// Whatever addresses a domain name resolves to (a destination only).
    Domain(&'c str),
}

/// A rule that matched the peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleMatch {
    /// Index into `Cluster::policies`.
    pub policy: usize,
    /// Index of the rule in its direction's list.
    pub rule: usize,
    /// Ports the rule allows toward the destination (empty: it matched the peer but no port).
    pub ports: PortSet,
    /// Why it does not allow anything, when `ports` is empty.
    pub miss: Option<Miss>,
}

/// Which part of a rule failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Miss {
    /// No peer of the rule matches the other side.
    Peer,
    /// The peer matches but the rule's named ports are not defined on the destination.
    NamedPortUndefined(Vec<String>),
}

/// The verdict of one direction (egress of the source, or ingress of the destination).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Direction {
    /// Whether some policy isolates the endpoint in this direction (a NetworkPolicy,
    /// or a Cilium spec that puts it into default deny).
    pub isolated: bool,
    /// The policies that isolate it (indices into `Cluster::policies`).
    pub isolating: Vec<usize>,
    /// Every rule of those policies, with what it contributes.
    pub rules: Vec<RuleMatch>,
    /// What this direction allows.
    pub allowed: PortSet,
    /// Whether the endpoint is outside the cluster or on the host network, where NetworkPolicy does not apply.
    pub not_applicable: bool,
    /// The tiered policies' and Cilium's deny rules' walk (the Baseline tier only when
    /// nothing isolates).
    pub tiers: TierWalk,
    /// Cilium's allows (they add up with the NetworkPolicies' rules).
    pub cilium: CiliumAllows,
}

/// The full explanation of a pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The source's egress.
    pub egress: Direction,
    /// The destination's ingress.
    pub ingress: Direction,
    /// What is allowed: egress ∩ ingress.
    pub allowed: PortSet,
}

/// Explains `src → dst` under the given ipBlock reading.
pub fn explain(cluster: &Cluster, src: &Side, dst: &Side, options: Options) -> Explanation {
    explain_with(cluster, &Candidates::new(cluster), src, dst, options)
}

/// [`explain`] with the policies that may select each pod found in `candidates`
/// (built once for many pairs).
pub fn explain_with(
    cluster: &Cluster,
    candidates: &Candidates,
    src: &Side,
    dst: &Side,
    options: Options,
) -> Explanation {
    let egress = direction((cluster, candidates), src, dst, dst, true, options);
    let ingress = direction((cluster, candidates), dst, src, dst, false, options);
    let allowed = egress.allowed.intersect(&ingress.allowed);
    Explanation {
        egress,
        ingress,
        allowed,
    }
}

fn direction(
    (cluster, candidates): (&Cluster, &Candidates),
    subject: &Side,
    peer: &Side,
    destination: &Side,
    egress: bool,
    options: Options,
) -> Direction {
    let open = Direction {
        isolated: false,
        isolating: vec![],
        rules: vec![],
        allowed: PortSet::all(),
        not_applicable: true,
        tiers: TierWalk::default(),
        cilium: CiliumAllows::default(),
    };
    let Side::Pod { namespace, pod } = subject else {
        return open;
    };
    if pod.host_network && !options.host_network_selectable {
        return open;
    }
    let mut d = Direction {
        not_applicable: false,
        ..open
    };
    for &pi in candidates.policies(namespace) {
        let p = &cluster.policies[pi];
        let isolates = if egress {
            p.isolates_egress
        } else {
            p.isolates_ingress
        };
        if !isolates || p.namespace != *namespace || !p.pod_selector.matches(&pod.labels) {
            continue;
        }
        d.isolating.push(pi);
        let rules = if egress { &p.egress } else { &p.ingress };
        for (ri, rule) in rules.iter().enumerate() {
            d.rules.push(rule_match(
                cluster,
                p,
                pi,
                ri,
                rule,
                peer,
                destination,
                options,
            ));
        }
    }
    d.cilium = cilium::allows(
        (cluster, candidates),
        (namespace, pod),
        peer,
        destination,
        egress,
        options,
    );
    d.isolated = !d.isolating.is_empty() || !d.cilium.isolating.is_empty();
    if d.isolated {
        let cilium = d.cilium.rules.iter().map(|r| &r.ports);
        d.allowed = d
            .rules
            .iter()
            .map(|r| &r.ports)
            .chain(cilium)
            .fold(PortSet::empty(), |acc, p| acc.union(p));
    }
    let walk = tiers::walk(
        (cluster, candidates),
        namespace,
        pod,
        peer,
        destination,
        egress,
        !d.isolated,
        options,
    );
    // A Calico policy of the union layer's tier isolates as a NetworkPolicy does.
    if !walk.calico_isolating.is_empty() && !d.isolated {
        d.isolated = true;
        d.allowed = PortSet::empty();
    }
    d.allowed = walk.fold.verdict(d.isolated.then_some(&d.allowed));
    d.tiers = walk;
    d
}

#[allow(clippy::too_many_arguments)]
fn rule_match(
    cluster: &Cluster,
    policy: &NetworkPolicy,
    pi: usize,
    ri: usize,
    rule: &Rule,
    peer: &Side,
    destination: &Side,
    options: Options,
) -> RuleMatch {
    let peer_ok = match &rule.peers {
        None => true,
        Some(peers) => peers
            .iter()
            .any(|p| peer_matches(cluster, policy, &p.kind, peer, options)),
    };
    if !peer_ok {
        return RuleMatch {
            policy: pi,
            rule: ri,
            ports: PortSet::empty(),
            miss: Some(Miss::Peer),
        };
    }
    let (ports, missing) = rule_ports(rule, destination);
    let miss =
        (ports.is_empty() && !missing.is_empty()).then_some(Miss::NamedPortUndefined(missing));
    RuleMatch {
        policy: pi,
        rule: ri,
        ports,
        miss,
    }
}

/// The ports a rule allows toward `destination`, and the named ports it lacks.
pub fn rule_ports(rule: &Rule, destination: &Side) -> (PortSet, Vec<String>) {
    let Some(entries) = &rule.ports else {
        return (PortSet::all(), vec![]);
    };
    let mut set = PortSet::empty();
    let mut missing = Vec::new();
    for e in entries {
        match &e.port {
            PortMatch::Any => set = set.union(&PortSet::all_of(e.protocol)),
            PortMatch::Range(lo, hi) => set = set.union(&PortSet::range(e.protocol, *lo, *hi)),
            PortMatch::Named(name) => {
                let found: Vec<u16> = match destination {
                    Side::Pod { pod, .. } => pod
                        .ports
                        .iter()
                        .filter(|cp| cp.protocol == e.protocol && cp.name.as_deref() == Some(name))
                        .map(|cp| cp.port)
                        .collect(),
                    Side::Address(_) | Side::Domain(_) => vec![],
                };
                if found.is_empty() {
                    missing.push(format!("{}/{name}", e.protocol));
                }
                for port in found {
                    set = set.union(&PortSet::range(e.protocol, port, port));
                }
            }
        }
    }
    (set, missing)
}

fn peer_matches(
    cluster: &Cluster,
    policy: &NetworkPolicy,
    kind: &PeerKind,
    peer: &Side,
    options: Options,
) -> bool {
    match (kind, peer) {
        (PeerKind::Pods { namespaces, pods }, Side::Pod { namespace, pod }) => {
            if pod.host_network && !options.host_network_selectable {
                return false;
            }
            let ns_ok = match namespaces {
                None => policy.namespace == *namespace,
                Some(sel) => sel.matches(&namespace_labels(cluster, namespace)),
            };
            ns_ok && pods.as_ref().is_none_or(|s| s.matches(&pod.labels))
        }
        (PeerKind::Pods { .. }, Side::Address(_) | Side::Domain(_)) => false,
        // Wherever the name resolves, a block holding every IPv4 address holds it.
        (PeerKind::IpBlock { addresses, .. }, Side::Domain(_)) => addresses.has_all_ipv4(),
        (PeerKind::IpBlock { addresses, .. }, Side::Address(ip)) => {
            addresses.contains(*ip)
                && !(options.ipblock_skips_nodes
                    && cluster.nodes.iter().any(|n| n.addresses.contains(ip)))
        }
        (PeerKind::IpBlock { addresses, .. }, Side::Pod { pod, .. }) => {
            options.ipblock_pod_ips && crate::index::pod_in(addresses, pod)
        }
    }
}

/// The labels of a namespace (implicit namespaces carry only their name label).
pub fn namespace_labels(cluster: &Cluster, name: &str) -> Labels {
    cluster.namespace(name).map_or_else(
        || [("kubernetes.io/metadata.name".to_string(), name.to_string())].into(),
        |n| n.labels.clone(),
    )
}
