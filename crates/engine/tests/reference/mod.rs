//! A deliberately naive reference evaluator, written straight from the Kubernetes
//! NetworkPolicy specification (and the AdminNetworkPolicy / ClusterNetworkPolicy
//! tiers around it, and Cilium's CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy
//! beside it), pod by pod and policy by policy.
//!
//! It shares no code with the engine: only the model types and their simple methods
//! (`Selector::matches`, `IpSet::contains` and set operations, `PortSet` operations).
//! Speed is irrelevant; every answer is recomputed from scratch.

#![allow(dead_code)]

pub mod calico;

use kubeseg_model::{
    Action, Cidr, CiliumPeerKind, CiliumRule, CiliumSubject, Cluster, Entity, IpSet, Labels,
    NetworkPolicy, PeerKind, Pod, PodSet, PortMatch, PortRule, PortSet, Protocol, Rule, Tier,
    TierPeerKind, TierRule,
};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One end of a connection.
#[derive(Clone, Copy, Debug)]
pub enum Party<'c> {
    /// A pod running in a namespace.
    Pod {
        /// The pod's namespace.
        namespace: &'c str,
        /// The pod.
        pod: &'c Pod,
    },
    /// An address outside the cluster.
    External(IpAddr),
}

/// The readings of semantics that conformant implementations leave open.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reading {
    /// ipBlocks also match pods by their known IPs.
    pub ipblock_pod_ips: bool,
    /// Host-network pods are selected and matched like other pods.
    pub host_network_selectable: bool,
    /// ipBlocks never match Node objects' addresses (Cilium's reading).
    pub ipblock_skips_nodes: bool,
}

/// Every connection: ports 1-65535 of TCP, UDP and SCTP and every ICMP and ICMPv6
/// message (`type * 256 + code`, 0-65535), written out rather than taken from the
/// model: a rule without ports (or a direction nothing restricts) allows every
/// protocol, ICMP included.
pub fn everything() -> PortSet {
    [Protocol::Tcp, Protocol::Udp, Protocol::Sctp]
        .iter()
        .map(|&p| PortSet::range(p, 1, 65535))
        .chain(
            [Protocol::Icmp, Protocol::IcmpV6]
                .iter()
                .map(|&p| PortSet::range(p, 0, 65535)),
        )
        .fold(PortSet::empty(), |a, b| a.union(&b))
}

/// Which side of a connection a policy direction governs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

/// The ports allowed from `src` to `dst`: what the source's egress allows, intersected
/// with what the destination's ingress allows.
pub fn allowed(cluster: &Cluster, src: Party, dst: Party, reading: Reading) -> PortSet {
    let egress = direction_allows(cluster, Direction::Egress, src, dst, dst, reading);
    let ingress = direction_allows(cluster, Direction::Ingress, dst, src, dst, reading);
    egress.intersect(&ingress)
}

/// What `subject`'s policies of one direction allow toward/from `peer`, where
/// `destination` is the receiving end (named ports are resolved there): the Admin tier
/// first; then, for the ports it left undecided or passed, the allows of NetworkPolicies
/// and Cilium policies added up where one of them isolates the subject, or else the
/// Baseline tier; Cilium denies are taken out of that.
fn direction_allows(
    cluster: &Cluster,
    direction: Direction,
    subject: Party,
    peer: Party,
    destination: Party,
    reading: Reading,
) -> PortSet {
    // Policies only govern pods; external addresses are not subject to them.
    let Party::Pod { namespace, pod } = subject else {
        return everything();
    };
    // Host-network pods are never selected by a policy (by default).
    if pod.host_network && !reading.host_network_selectable {
        return everything();
    }

    // Admin tier: per port, the first matching rule in evaluation order decides.
    let (admin_allowed, undecided, passed) = tier_decide(
        cluster,
        Tier::Admin,
        direction,
        namespace,
        pod,
        peer,
        destination,
        reading,
        everything(),
    );
    let to_network_policies = undecided.union(&passed);

    // Cilium policies sit beside NetworkPolicies: their allows add up with them, and a
    // selecting Cilium rule with default deny isolates the pod as a NetworkPolicy does.
    let cilium = cilium_decide(
        cluster,
        direction,
        namespace,
        pod,
        peer,
        destination,
        reading,
    );
    let union_layer = match network_policy_allows(
        cluster,
        direction,
        namespace,
        pod,
        peer,
        destination,
        reading,
    ) {
        Some(allowed) => Some(allowed.union(&cilium.allowed)),
        None if cilium.isolated => Some(cilium.allowed.clone()),
        None => None,
    };

    // NetworkPolicies and Cilium allows, on what the Admin tier did not decide.
    let lower = match union_layer {
        Some(allowed) => allowed.intersect(&to_network_policies),
        None => {
            // Not isolated: the Baseline tier, then allowed by default.
            let (baseline_allowed, undecided, passed) = tier_decide(
                cluster,
                Tier::Baseline,
                direction,
                namespace,
                pod,
                peer,
                destination,
                reading,
                to_network_policies,
            );
            assert!(passed.is_empty(), "Pass in the Baseline tier");
            baseline_allowed.union(&undecided)
        }
    };
    // Any Cilium deny beats any allow below the Admin tier, whatever the order.
    let lower = lower.difference(&cilium.denied);
    admin_allowed.union(&lower)
}

/// One tier's verdict on `ports` for a subject pod: (accepted, undecided, passed).
/// The policies of `tier` that apply to the subject, in `cluster.cluster_policies` order,
/// their rules of `direction` in order; each port is decided by the first rule whose
/// peers match `peer` and whose ports contain it.
#[allow(clippy::too_many_arguments)]
fn tier_decide(
    cluster: &Cluster,
    tier: Tier,
    direction: Direction,
    namespace: &str,
    pod: &Pod,
    peer: Party,
    destination: Party,
    reading: Reading,
    ports: PortSet,
) -> (PortSet, PortSet, PortSet) {
    let mut undecided = ports;
    let mut accepted = PortSet::empty();
    let mut passed = PortSet::empty();
    for policy in cluster.cluster_policies.iter().filter(|p| p.tier == tier) {
        if !pod_set_matches(cluster, &policy.subject, namespace, pod) {
            continue;
        }
        let rules = match direction {
            Direction::Ingress => &policy.ingress,
            Direction::Egress => &policy.egress,
        };
        for rule in rules {
            if !tier_rule_matches_peer(cluster, rule, peer, reading) {
                continue;
            }
            let decided = tier_rule_ports(rule, destination).intersect(&undecided);
            match rule.action {
                Action::Accept => accepted = accepted.union(&decided),
                Action::Deny => {}
                Action::Pass => passed = passed.union(&decided),
            }
            undecided = undecided.difference(&decided);
        }
    }
    (accepted, undecided, passed)
}

fn pod_set_matches(cluster: &Cluster, set: &PodSet, namespace: &str, pod: &Pod) -> bool {
    set.namespaces.matches(namespace_labels(cluster, namespace)) && set.pods.matches(&pod.labels)
}

fn tier_rule_matches_peer(
    cluster: &Cluster,
    rule: &TierRule,
    peer: Party,
    reading: Reading,
) -> bool {
    rule.peers
        .iter()
        .any(|p| tier_peer_matches(cluster, &p.kind, peer, reading))
}

fn tier_peer_matches(
    cluster: &Cluster,
    kind: &TierPeerKind,
    peer: Party,
    reading: Reading,
) -> bool {
    match kind {
        TierPeerKind::Pods(set) => {
            let Party::Pod { namespace, pod } = peer else {
                return false;
            };
            if pod.host_network && !reading.host_network_selectable {
                return false;
            }
            pod_set_matches(cluster, set, namespace, pod)
        }
        TierPeerKind::Networks { addresses, .. } => match peer {
            Party::External(ip) => addresses.contains(ip),
            // Every pod, host-network or not, whatever the ipBlock reading.
            Party::Pod { pod, .. } => {
                if pod.ips.is_empty() {
                    // An unknown pod IP is some IPv4 address.
                    addresses.v4.is_full()
                } else {
                    pod.ips.iter().any(|ip| addresses.contains(*ip))
                }
            }
        },
        TierPeerKind::Nodes(selector) => match peer {
            Party::External(ip) => cluster
                .nodes
                .iter()
                .any(|n| selector.matches(&n.labels) && n.addresses.contains(&ip)),
            Party::Pod { .. } => false,
        },
        TierPeerKind::DomainNames(_) => false,
    }
}

/// What the Cilium rules selecting a subject pod say in one direction about one peer.
#[derive(Debug, Default)]
struct CiliumVerdict {
    /// Some selecting rule puts the pod into default deny in this direction.
    isolated: bool,
    /// The ports of every matching allow rule of every selecting rule (with or without
    /// default deny of its own).
    allowed: PortSet,
    /// The ports of every matching deny rule of every selecting rule.
    denied: PortSet,
}

/// Every Cilium policy rule (`spec`/`specs` entry) whose subject selects the pod, its
/// allow and deny rules of `direction` that match `peer`, added up.
fn cilium_decide(
    cluster: &Cluster,
    direction: Direction,
    namespace: &str,
    pod: &Pod,
    peer: Party,
    destination: Party,
    reading: Reading,
) -> CiliumVerdict {
    let mut verdict = CiliumVerdict::default();
    for policy in &cluster.cilium_policies {
        for spec in &policy.specs {
            let selects = match &spec.subject {
                CiliumSubject::Pods(set) => pod_set_matches(cluster, set, namespace, pod),
                // Host policies guard nodes, never pods.
                CiliumSubject::Nodes(_) => false,
            };
            if !selects {
                continue;
            }
            let (default_deny, allows, denies) = match direction {
                Direction::Ingress => {
                    (spec.default_deny_ingress, &spec.ingress, &spec.ingress_deny)
                }
                Direction::Egress => (spec.default_deny_egress, &spec.egress, &spec.egress_deny),
            };
            verdict.isolated |= default_deny;
            // L7 rules on an allow still admit the L4 traffic (to the proxy).
            for rule in allows {
                if cilium_rule_matches_peer(cluster, rule, peer, reading) {
                    verdict.allowed = verdict.allowed.union(&cilium_rule_ports(rule, destination));
                }
            }
            for rule in denies {
                if cilium_rule_matches_peer(cluster, rule, peer, reading) {
                    verdict.denied = verdict.denied.union(&cilium_rule_ports(rule, destination));
                }
            }
        }
    }
    verdict
}

/// A rule matches a peer when any of its peers does (so `peers: []` matches nothing).
fn cilium_rule_matches_peer(
    cluster: &Cluster,
    rule: &CiliumRule,
    peer: Party,
    reading: Reading,
) -> bool {
    rule.peers
        .iter()
        .any(|p| cilium_peer_matches(cluster, &p.kind, peer, reading))
}

fn cilium_rule_ports(rule: &CiliumRule, destination: Party) -> PortSet {
    port_entries(rule.ports.as_deref(), destination)
}

fn cilium_peer_matches(
    cluster: &Cluster,
    kind: &CiliumPeerKind,
    peer: Party,
    reading: Reading,
) -> bool {
    match kind {
        CiliumPeerKind::All => true,
        CiliumPeerKind::Pods(set) => {
            let Party::Pod { namespace, pod } = peer else {
                return false;
            };
            if pod.host_network && !reading.host_network_selectable {
                return false;
            }
            pod_set_matches(cluster, set, namespace, pod)
        }
        // Cilium gives pods and nodes identities of their own: a CIDR never matches them.
        CiliumPeerKind::Cidr { addresses, .. } => match peer {
            Party::External(ip) => addresses.contains(ip) && !is_node_address(cluster, ip),
            Party::Pod { .. } => false,
        },
        CiliumPeerKind::Entity(entity) => entity_matches(cluster, *entity, peer, reading),
        CiliumPeerKind::Nodes(selector) => match peer {
            Party::External(ip) => cluster
                .nodes
                .iter()
                .any(|n| selector.matches(&n.labels) && n.addresses.contains(&ip)),
            Party::Pod { .. } => false,
        },
        // Only domain-name destinations, which the reference does not model.
        CiliumPeerKind::Fqdns(_) => false,
    }
}

fn entity_matches(cluster: &Cluster, entity: Entity, peer: Party, reading: Reading) -> bool {
    match (entity, peer) {
        (Entity::World, Party::External(ip)) => !is_node_address(cluster, ip),
        (Entity::WorldIpv4, Party::External(ip)) => ip.is_ipv4() && !is_node_address(cluster, ip),
        (Entity::WorldIpv6, Party::External(ip)) => ip.is_ipv6() && !is_node_address(cluster, ip),
        (Entity::World | Entity::WorldIpv4 | Entity::WorldIpv6, Party::Pod { .. }) => false,
        // Every pod, host-network ones too, and every node.
        (Entity::Cluster, Party::Pod { .. }) => true,
        (Entity::Cluster, Party::External(ip)) => is_node_address(cluster, ip),
        // A host-network pod is the node's own identity, unless the reading treats it
        // as an ordinary pod.
        (Entity::Host | Entity::RemoteNode, Party::Pod { pod, .. }) => {
            pod.host_network && !reading.host_network_selectable
        }
        (Entity::Host | Entity::RemoteNode, Party::External(ip)) => is_node_address(cluster, ip),
        (Entity::KubeApiserver | Entity::Internal(_) | Entity::None, _) => false,
    }
}

fn is_node_address(cluster: &Cluster, ip: IpAddr) -> bool {
    cluster.nodes.iter().any(|n| n.addresses.contains(&ip))
}

/// Every node address of the cluster.
fn node_addresses(cluster: &Cluster, selector: Option<&kubeseg_model::Selector>) -> IpSet {
    let mut set = IpSet::empty();
    for n in &cluster.nodes {
        if selector.is_none_or(|s| s.matches(&n.labels)) {
            for &ip in &n.addresses {
                set = set.union(&IpSet::single(ip));
            }
        }
    }
    set
}

fn tier_rule_ports(rule: &TierRule, destination: Party) -> PortSet {
    port_entries(rule.ports.as_deref(), destination)
}

/// What the NetworkPolicies selecting the subject allow in one direction, or `None`
/// when none of them isolates it in that direction.
fn network_policy_allows(
    cluster: &Cluster,
    direction: Direction,
    namespace: &str,
    pod: &Pod,
    peer: Party,
    destination: Party,
    reading: Reading,
) -> Option<PortSet> {
    let mut isolated = false;
    let mut result = PortSet::empty();
    for policy in &cluster.policies {
        if policy.namespace != namespace {
            continue;
        }
        if !policy.pod_selector.matches(&pod.labels) {
            continue;
        }
        let (isolates, rules) = match direction {
            Direction::Ingress => (policy.isolates_ingress, &policy.ingress),
            Direction::Egress => (policy.isolates_egress, &policy.egress),
        };
        if !isolates {
            continue;
        }
        isolated = true;
        for rule in rules {
            if rule_matches_peer(cluster, policy, rule, peer, reading) {
                result = result.union(&rule_ports(rule, destination));
            }
        }
    }
    isolated.then_some(result)
}

fn rule_matches_peer(
    cluster: &Cluster,
    policy: &NetworkPolicy,
    rule: &Rule,
    peer: Party,
    reading: Reading,
) -> bool {
    match &rule.peers {
        // No `from`/`to`: every source/destination, inside or outside the cluster.
        None => true,
        Some(peers) => peers
            .iter()
            .any(|p| peer_matches(cluster, policy, &p.kind, peer, reading)),
    }
}

fn peer_matches(
    cluster: &Cluster,
    policy: &NetworkPolicy,
    kind: &PeerKind,
    peer: Party,
    reading: Reading,
) -> bool {
    match kind {
        PeerKind::Pods { namespaces, pods } => {
            let Party::Pod { namespace, pod } = peer else {
                return false;
            };
            if pod.host_network && !reading.host_network_selectable {
                return false;
            }
            let namespace_ok = match namespaces {
                None => namespace == policy.namespace,
                Some(selector) => selector.matches(namespace_labels(cluster, namespace)),
            };
            let pod_ok = match pods {
                None => true,
                Some(selector) => selector.matches(&pod.labels),
            };
            namespace_ok && pod_ok
        }
        PeerKind::IpBlock { addresses, .. } => match peer {
            Party::External(ip) => {
                addresses.contains(ip)
                    && !(reading.ipblock_skips_nodes && is_node_address(cluster, ip))
            }
            // A pod whose IP is unknown gets some IPv4 address: a block holding every one
            // holds it.
            Party::Pod { pod, .. } if pod.ips.is_empty() => {
                reading.ipblock_pod_ips && addresses.v4.is_full()
            }
            Party::Pod { pod, .. } => {
                reading.ipblock_pod_ips && pod.ips.iter().any(|ip| addresses.contains(*ip))
            }
        },
    }
}

fn namespace_labels<'c>(cluster: &'c Cluster, name: &str) -> &'c Labels {
    &cluster
        .namespaces
        .iter()
        .find(|n| n.name == name)
        .unwrap_or_else(|| panic!("namespace {name} is referenced but not in the cluster"))
        .labels
}

fn rule_ports(rule: &Rule, destination: Party) -> PortSet {
    port_entries(rule.ports.as_deref(), destination)
}

/// A rule's `ports` toward `destination`; `None` is every port of every protocol.
fn port_entries(entries: Option<&[PortRule]>, destination: Party) -> PortSet {
    let Some(entries) = entries else {
        return everything();
    };
    let mut set = PortSet::empty();
    for entry in entries {
        let more = match &entry.port {
            // Every port, or for ICMP (Cilium's `icmps` type 0) every message.
            PortMatch::Any => match entry.protocol {
                Protocol::Icmp | Protocol::IcmpV6 => PortSet::range(entry.protocol, 0, 65535),
                p => PortSet::range(p, 1, 65535),
            },
            PortMatch::Range(lo, hi) => PortSet::range(entry.protocol, *lo, *hi),
            PortMatch::Named(name) => named_port(entry.protocol, name, destination),
        };
        set = set.union(&more);
    }
    set
}

fn named_port(protocol: Protocol, name: &str, destination: Party) -> PortSet {
    let Party::Pod { pod, .. } = destination else {
        return PortSet::empty();
    };
    let mut set = PortSet::empty();
    for cp in &pod.ports {
        if cp.protocol == protocol && cp.name.as_deref() == Some(name) {
            set = set.union(&PortSet::range(protocol, cp.port, cp.port));
        }
    }
    set
}

/// The first address of an address set (IPv4 before IPv6).
pub fn first_address(set: &IpSet) -> IpAddr {
    if let Some(&(lo, _)) = set.v4.ranges().first() {
        return IpAddr::V4(Ipv4Addr::from(lo));
    }
    let &(lo, _) = set.v6.ranges().first().expect("empty address set");
    IpAddr::V6(Ipv6Addr::from(lo))
}

/// The workload-level answer. Endpoints `0..cluster.workloads.len()` are the workloads;
/// `externals` lists the other endpoints with one representative address each.
/// Returns every non-empty (src, dst) -> ports; never a workload with itself, never
/// external to external.
pub fn connections(
    cluster: &Cluster,
    externals: &[(usize, IpAddr)],
    reading: Reading,
) -> BTreeMap<(usize, usize), PortSet> {
    connections_by(cluster, externals, |src, dst| {
        allowed(cluster, src, dst, reading)
    })
}

/// The workload-level answer of `allowed` (laid out as `connections` describes): a
/// workload's ports toward another are the union over their pods.
pub fn connections_by(
    cluster: &Cluster,
    externals: &[(usize, IpAddr)],
    allowed: impl Fn(Party, Party) -> PortSet,
) -> BTreeMap<(usize, usize), PortSet> {
    let mut out = BTreeMap::new();
    let mut put = |src: usize, dst: usize, ports: PortSet| {
        if !ports.is_empty() {
            out.insert((src, dst), ports);
        }
    };
    for (a, wa) in cluster.workloads.iter().enumerate() {
        for (b, wb) in cluster.workloads.iter().enumerate() {
            if a == b {
                continue;
            }
            let mut ports = PortSet::empty();
            for pa in &wa.pods {
                for pb in &wb.pods {
                    let src = Party::Pod {
                        namespace: &wa.namespace,
                        pod: pa,
                    };
                    let dst = Party::Pod {
                        namespace: &wb.namespace,
                        pod: pb,
                    };
                    ports = ports.union(&allowed(src, dst));
                }
            }
            put(a, b, ports);
        }
        for &(e, ip) in externals {
            let mut out_ports = PortSet::empty();
            let mut in_ports = PortSet::empty();
            for pa in &wa.pods {
                let pod = Party::Pod {
                    namespace: &wa.namespace,
                    pod: pa,
                };
                let ext = Party::External(ip);
                out_ports = out_ports.union(&allowed(pod, ext));
                in_ports = in_ports.union(&allowed(ext, pod));
            }
            put(a, e, out_ports);
            put(e, a, in_ports);
        }
    }
    out
}

/// Every address set a policy peer can tell outside addresses apart by: the ipBlocks of
/// NetworkPolicies, the `networks` of tiered policies, for each `nodes` peer the
/// addresses of the Nodes it selects, and for each Cilium peer of a rule that can select
/// pods the outside addresses it matches.
pub fn ip_blocks(cluster: &Cluster, reading: Reading) -> Vec<IpSet> {
    let mut out = Vec::new();
    let nodes = node_addresses(cluster, None);
    for p in &cluster.policies {
        for r in p.ingress.iter().chain(&p.egress) {
            for peer in r.peers.iter().flatten() {
                if let PeerKind::IpBlock { addresses, .. } = &peer.kind {
                    if reading.ipblock_skips_nodes {
                        out.push(addresses.difference(&nodes));
                    } else {
                        out.push(addresses.clone());
                    }
                }
            }
        }
    }
    for p in &cluster.cluster_policies {
        for r in p.ingress.iter().chain(&p.egress) {
            for peer in &r.peers {
                match &peer.kind {
                    TierPeerKind::Networks { addresses, .. } => out.push(addresses.clone()),
                    TierPeerKind::Nodes(selector) => {
                        let mut set = IpSet::empty();
                        for n in cluster.nodes.iter().filter(|n| selector.matches(&n.labels)) {
                            for &ip in &n.addresses {
                                set = set.union(&IpSet::single(ip));
                            }
                        }
                        out.push(set);
                    }
                    TierPeerKind::Pods(_) | TierPeerKind::DomainNames(_) => {}
                }
            }
        }
    }
    let nodes = node_addresses(cluster, None);
    let v4 = Cidr::parse("0.0.0.0/0").unwrap().to_set();
    let v6 = Cidr::parse("::/0").unwrap().to_set();
    for spec in cluster.cilium_policies.iter().flat_map(|p| &p.specs) {
        // Host policies select no pod, so their peers decide nothing.
        if matches!(spec.subject, CiliumSubject::Nodes(_)) {
            continue;
        }
        let rules = spec
            .ingress
            .iter()
            .chain(&spec.egress)
            .chain(&spec.ingress_deny)
            .chain(&spec.egress_deny);
        for peer in rules.flat_map(|r| &r.peers) {
            let set = match &peer.kind {
                CiliumPeerKind::Cidr { addresses, .. } => addresses.difference(&nodes),
                CiliumPeerKind::Entity(Entity::World) => IpSet::all().difference(&nodes),
                CiliumPeerKind::Entity(Entity::WorldIpv4) => v4.difference(&nodes),
                CiliumPeerKind::Entity(Entity::WorldIpv6) => v6.difference(&nodes),
                CiliumPeerKind::Entity(Entity::Cluster | Entity::Host | Entity::RemoteNode) => {
                    nodes.clone()
                }
                CiliumPeerKind::Nodes(selector) => node_addresses(cluster, Some(selector)),
                CiliumPeerKind::All
                | CiliumPeerKind::Pods(_)
                | CiliumPeerKind::Fqdns(_)
                | CiliumPeerKind::Entity(
                    Entity::KubeApiserver | Entity::Internal(_) | Entity::None,
                ) => continue,
            };
            out.push(set);
        }
    }
    out
}

/// Checks that `atoms` are the coarsest partition of the whole IPv4+IPv6 space that no
/// address set of `ip_blocks` splits (which is what makes one address per atom enough).
pub fn check_atoms(cluster: &Cluster, atoms: &[IpSet], reading: Reading) -> Result<(), String> {
    let blocks = ip_blocks(cluster, reading);
    let mut union = IpSet::empty();
    for (i, a) in atoms.iter().enumerate() {
        if a.is_empty() {
            return Err(format!("atom {i} is empty"));
        }
        if !union.intersect(a).is_empty() {
            return Err(format!("atom {i} overlaps an earlier atom"));
        }
        union = union.union(a);
        for b in &blocks {
            let inside = b.intersect(a);
            if !inside.is_empty() && inside != *a {
                return Err(format!(
                    "atom {i} {:?} is split by address set {:?}",
                    a.range_strings(),
                    b.range_strings()
                ));
            }
        }
    }
    if union != IpSet::all() {
        return Err("atoms do not cover the whole address space".into());
    }
    for i in 0..atoms.len() {
        for j in i + 1..atoms.len() {
            let ri = first_address(&atoms[i]);
            let rj = first_address(&atoms[j]);
            if blocks.iter().all(|b| b.contains(ri) == b.contains(rj)) {
                return Err(format!(
                    "atoms {i} and {j} are not separated by any address set (partition not coarsest)"
                ));
            }
        }
    }
    Ok(())
}
