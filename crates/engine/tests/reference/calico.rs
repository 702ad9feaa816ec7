//! The naive reference for Calico's dataplane (`projectcalico.org/v3` policies), written
//! from the contract the engine is built against, not from the engine.
//!
//! A connection is decided port by port: the egress walk at the source pod and the
//! ingress walk at the destination pod must both allow it. A walk goes through the tiers
//! in order; a tier none of whose policies applies to the pod is skipped; inside a tier
//! the first matching Allow or Deny decides, Pass leaves the tier, Log goes on, and a
//! tier that ends undecided takes its default action. After the last tier the pod's
//! namespace profile allows. Kubernetes NetworkPolicies are Allow-only policies of the
//! `default` tier at order 1000; the Admin and Baseline tiers of the AdminNetworkPolicy
//! family are the `kube-admin` and `kube-baseline` tiers.
//!
//! Where the contract is silent this follows Calico's source, and says so.

use super::{
    Direction, Party, Reading, namespace_labels, pod_set_matches, port_entries, rule_matches_peer,
    tier_peer_matches,
};
use kubeseg_model::{
    Action, CalicoAction, CalicoEntity, CalicoNamespaces, CalicoNetworkSet, CalicoPolicy,
    CalicoPort, CalicoRule, Cluster, ClusterPolicy, IpSet, Labels, NetworkPolicy, Pod, PortSet,
    Protocol, Tier,
};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The label Calico gives every endpoint and namespaced NetworkSet: its namespace.
pub const NAMESPACE_KEY: &str = "projectcalico.org/namespace";
/// The label Calico gives every pod's endpoint.
pub const ORCHESTRATOR_KEY: &str = "projectcalico.org/orchestrator";
/// The label Calico gives a pod's endpoint when the pod names a service account.
pub const SERVICE_ACCOUNT_KEY: &str = "projectcalico.org/serviceaccount";
/// The label Calico gives every namespace: its name.
pub const NAMESPACE_NAME_KEY: &str = "projectcalico.org/name";

/// A tier as the walk sees it.
#[derive(Clone, Debug)]
struct TierDef {
    name: String,
    order: Option<f64>,
    default_action: CalicoAction,
}

/// Calico's own tiers, added when the cluster does not declare them.
const FIXED_TIERS: [(&str, f64, CalicoAction); 3] = [
    ("kube-admin", 1000.0, CalicoAction::Pass),
    ("default", 1_000_000.0, CalicoAction::Deny),
    ("kube-baseline", 10_000_000.0, CalicoAction::Pass),
];

/// Every tier in evaluation order: by order, unordered ones last, ties by name.
fn tiers(cluster: &Cluster) -> Vec<TierDef> {
    let mut out: Vec<TierDef> = cluster
        .calico_tiers
        .iter()
        .map(|t| TierDef {
            name: t.name.clone(),
            order: t.order,
            default_action: t.default_action,
        })
        .collect();
    for (name, order, default_action) in FIXED_TIERS {
        if !out.iter().any(|t| t.name == name) {
            out.push(TierDef {
                name: name.to_string(),
                order: Some(order),
                default_action,
            });
        }
    }
    out.sort_by(|a, b| {
        let by_order = match (a.order, b.order) {
            (Some(x), Some(y)) => x.partial_cmp(&y).expect("tier order is a number"),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        by_order.then_with(|| a.name.cmp(&b.name))
    });
    out
}

/// One policy of a tier, whatever its dialect.
#[derive(Clone, Copy, Debug)]
enum Member<'c> {
    Calico(&'c CalicoPolicy),
    Kubernetes(&'c NetworkPolicy),
    Tiered(&'c ClusterPolicy),
}

impl Member<'_> {
    /// (order, name, namespace, kind): the policy order inside a tier.
    fn sort_key(&self) -> (f64, &str, &str, &str) {
        match self {
            Member::Calico(p) => (
                p.order.unwrap_or(f64::INFINITY),
                &p.name,
                &p.namespace,
                &p.kind,
            ),
            Member::Kubernetes(p) => (1000.0, &p.name, &p.namespace, "KubernetesNetworkPolicy"),
            // Calico turns an AdminNetworkPolicy's priority into its order
            // (conversion.go K8sAdminNetworkPolicyToCalico); the contract is silent on how
            // they sort among Calico policies of the same tier.
            Member::Tiered(p) => (f64::from(p.priority), &p.name, "", &p.kind),
        }
    }
}

/// The policies of a tier, in order (staged ones left out: they are never enforced).
fn members<'c>(cluster: &'c Cluster, tier: &str) -> Vec<Member<'c>> {
    let mut out: Vec<Member<'c>> = cluster
        .calico_policies
        .iter()
        .filter(|p| !p.staged && p.tier == tier)
        .map(Member::Calico)
        .collect();
    match tier {
        "default" => out.extend(cluster.policies.iter().map(Member::Kubernetes)),
        "kube-admin" => out.extend(
            cluster
                .cluster_policies
                .iter()
                .filter(|p| p.tier == Tier::Admin)
                .map(Member::Tiered),
        ),
        "kube-baseline" => out.extend(
            cluster
                .cluster_policies
                .iter()
                .filter(|p| p.tier == Tier::Baseline)
                .map(Member::Tiered),
        ),
        _ => {}
    }
    out.sort_by(|a, b| {
        let (ao, an, ans, ak) = a.sort_key();
        let (bo, bn, bns, bk) = b.sort_key();
        ao.partial_cmp(&bo)
            .expect("policy order is a number")
            .then_with(|| (an, ans, ak).cmp(&(bn, bns, bk)))
    });
    out
}

/// The pod's labels as Calico's endpoint carries them. The endpoint's own labels (the
/// pod's, then the namespace, orchestrator and service account that the conversion
/// writes over them) come first; the labels of its two profiles, `kns.<namespace>`
/// (`pcns.` + each namespace label, `pcns.projectcalico.org/name`) and
/// `ksa.<namespace>.<account>` (`pcsa.` + each account label,
/// `pcsa.projectcalico.org/name`), fill in only keys the endpoint lacks.
pub fn endpoint_labels(cluster: &Cluster, namespace: &str, pod: &Pod) -> Labels {
    let mut own = pod.labels.clone();
    own.insert(NAMESPACE_KEY.to_string(), namespace.to_string());
    own.insert(ORCHESTRATOR_KEY.to_string(), "k8s".to_string());
    // The API server gives a pod that names no service account `default`.
    let sa = pod.service_account.as_deref().unwrap_or("default");
    own.insert(SERVICE_ACCOUNT_KEY.to_string(), sa.to_string());
    let mut inherited: Vec<(String, String)> = Vec::new();
    for (k, v) in namespace_labels(cluster, namespace) {
        inherited.push((format!("pcns.{k}"), v.clone()));
    }
    inherited.push((format!("pcns.{NAMESPACE_NAME_KEY}"), namespace.to_string()));
    if let Some(account) = cluster
        .service_accounts
        .iter()
        .find(|a| a.namespace == namespace && a.name == sa)
    {
        for (k, v) in &account.labels {
            inherited.push((format!("pcsa.{k}"), v.clone()));
        }
    }
    inherited.push((format!("pcsa.{NAMESPACE_NAME_KEY}"), sa.to_string()));
    for (k, v) in inherited {
        own.entry(k).or_insert(v);
    }
    own
}

/// The namespace's labels as Calico's namespace selectors see them.
fn calico_namespace_labels(cluster: &Cluster, namespace: &str) -> Labels {
    let mut labels = namespace_labels(cluster, namespace).clone();
    labels.insert(NAMESPACE_NAME_KEY.to_string(), namespace.to_string());
    labels
}

/// A network set's labels; Calico adds the namespace label to a namespaced one
/// (networksetprocessor.go `convertNetworkSetV2ToV1Value`; the contract is silent).
fn network_set_labels(set: &CalicoNetworkSet) -> Labels {
    let mut labels = set.labels.clone();
    if !set.namespace.is_empty() {
        labels.insert(NAMESPACE_KEY.to_string(), set.namespace.clone());
    }
    labels
}

/// Whether something in `namespace` (empty: no namespace, a GlobalNetworkSet) is allowed.
fn namespace_allowed(cluster: &Cluster, allowed: &CalicoNamespaces, namespace: &str) -> bool {
    match allowed {
        CalicoNamespaces::Any => true,
        CalicoNamespaces::Own(own) => !namespace.is_empty() && own == namespace,
        CalicoNamespaces::Selected(selector) => {
            !namespace.is_empty() && selector.matches(&calico_namespace_labels(cluster, namespace))
        }
        CalicoNamespaces::Global => namespace.is_empty(),
    }
}

/// Whether a Calico policy applies to a pod in one direction.
fn calico_applies(
    cluster: &Cluster,
    policy: &CalicoPolicy,
    direction: Direction,
    namespace: &str,
    pod: &Pod,
) -> bool {
    let types = match direction {
        Direction::Ingress => policy.applies_ingress,
        Direction::Egress => policy.applies_egress,
    };
    !policy.staged
        && types
        && policy
            .subject
            .selector
            .matches(&endpoint_labels(cluster, namespace, pod))
        && namespace_allowed(cluster, &policy.subject.namespaces, namespace)
}

/// Whether the peer's address is in `nets`: a pod by one of its known IPs, a pod without
/// one only when `nets` holds every IPv4 address.
fn address_in(nets: &IpSet, peer: Party) -> bool {
    match peer {
        Party::External(ip) => nets.contains(ip),
        Party::Pod { pod, .. } if pod.ips.is_empty() => nets.has_all_ipv4(),
        Party::Pod { pod, .. } => pod.ips.iter().any(|ip| nets.contains(*ip)),
    }
}

/// Whether a rule's entity matches the peer: every field present must hold.
fn entity_matches(cluster: &Cluster, entity: &CalicoEntity, peer: Party, reading: Reading) -> bool {
    if let Some(nets) = &entity.nets
        && !address_in(nets, peer)
    {
        return false;
    }
    // The complement of `nets`: a dual-stack pod with one IP inside is excluded, and so
    // is a pod whose IP is unknown when it may get one inside (some IPv4 address is).
    if let Some(not_nets) = &entity.not_nets
        && match peer {
            Party::Pod { pod, .. } if pod.ips.is_empty() => !not_nets.v4.is_empty(),
            _ => address_in(not_nets, peer),
        }
    {
        return false;
    }
    if entity.selector.is_none() && entity.not_selector.is_none() && entity.namespaces.is_none() {
        return true;
    }
    let any = CalicoNamespaces::Any;
    let namespaces = entity.namespaces.as_ref().unwrap_or(&any);
    match peer {
        Party::Pod { namespace, pod } if !pod.host_network || reading.host_network_selectable => {
            let labels = endpoint_labels(cluster, namespace, pod);
            namespace_allowed(cluster, namespaces, namespace)
                && entity.selector.as_ref().is_none_or(|s| s.matches(&labels))
                && !entity
                    .not_selector
                    .as_ref()
                    .is_some_and(|s| s.matches(&labels))
        }
        // An outside address, or a host-network pod that is no endpoint of its own: its
        // traffic carries the node's address, which only network sets can label (the
        // contract covers external addresses only; this extends it to such pods).
        _ => {
            let addresses: Vec<IpAddr> = match peer {
                Party::External(ip) => vec![ip],
                Party::Pod { pod, .. } => pod.ips.clone(),
            };
            let holding: Vec<&CalicoNetworkSet> = cluster
                .calico_network_sets
                .iter()
                .filter(|n| addresses.iter().any(|ip| n.nets.contains(*ip)))
                .collect();
            // With only `notSelector` (a global policy's rule without a namespace
            // selector), Calico has no positive selector: any address not excluded.
            let unconstrained = entity.selector.is_none() && entity.namespaces.is_none();
            let positive = unconstrained
                || holding.iter().any(|n| {
                    namespace_allowed(cluster, namespaces, &n.namespace)
                        && entity
                            .selector
                            .as_ref()
                            .is_none_or(|s| s.matches(&network_set_labels(n)))
                });
            let negative = holding.iter().any(|n| {
                entity
                    .not_selector
                    .as_ref()
                    .is_some_and(|s| s.matches(&network_set_labels(n)))
            });
            positive && !negative
        }
    }
}

/// The ports of one port entry for one protocol (named ports resolve on `destination`).
fn port_entry(entry: &CalicoPort, protocol: Protocol, destination: Party) -> PortSet {
    // A Service's target port holds for its own protocol only.
    let (name, range) = match entry {
        CalicoPort::Range(lo, hi) => (None, Some((*lo, *hi))),
        CalicoPort::Named(name) => (Some(name), None),
        CalicoPort::RangeOf(p, lo, hi) if *p == protocol => (None, Some((*lo, *hi))),
        CalicoPort::NamedOf(p, name) if *p == protocol => (Some(name), None),
        CalicoPort::RangeOf(..) | CalicoPort::NamedOf(..) => (None, None),
    };
    match (name, range) {
        (_, Some((lo, hi))) => PortSet::range(protocol, lo, hi),
        (None, None) => PortSet::empty(),
        (Some(name), None) => {
            let Party::Pod { pod, .. } = destination else {
                return PortSet::empty();
            };
            let mut set = PortSet::empty();
            for cp in &pod.ports {
                if cp.protocol == protocol && cp.name.as_deref() == Some(name.as_str()) {
                    set = set.union(&PortSet::range(protocol, cp.port, cp.port));
                }
            }
            set
        }
    }
}

/// The ICMP (or ICMPv6) messages, `type * 256 + code`, a Calico rule of that protocol
/// matches, from the spec: ICMP has no port, so a rule listing destination ports
/// matches none; otherwise every message whose type (and code, when given) is the
/// `icmp` field's, minus those whose type (and code) are `notICMP`'s.
fn icmp_messages(rule: &CalicoRule, protocol: Protocol) -> PortSet {
    if rule.ports.as_ref().is_some_and(|p| p.ports.is_some()) {
        return PortSet::empty();
    }
    // The messages a field names, as one range.
    let named = |f: &kubeseg_model::CalicoIcmp| -> (u16, u16) {
        match (f.icmp_type, f.code) {
            (None, _) => (0, 65535),
            (Some(t), None) => (u16::from(t) * 256, u16::from(t) * 256 + 255),
            (Some(t), Some(c)) => {
                let m = u16::from(t) * 256 + u16::from(c);
                (m, m)
            }
        }
    };
    let (lo, hi) = rule.icmp.as_ref().map_or((0, 65535), named);
    let mut set = PortSet::range(protocol, lo, hi);
    if let Some(not) = &rule.not_icmp {
        let (lo, hi) = named(not);
        set = set.difference(&PortSet::range(protocol, lo, hi));
    }
    set
}

/// The (protocol, port) pairs a Calico rule matches toward `destination`.
fn calico_rule_ports(rule: &CalicoRule, destination: Party) -> PortSet {
    let mut out = PortSet::empty();
    for (i, &protocol) in Protocol::ALL.iter().enumerate() {
        if !rule.protocols[i] {
            continue;
        }
        if matches!(protocol, Protocol::Icmp | Protocol::IcmpV6) {
            out = out.union(&icmp_messages(rule, protocol));
            continue;
        }
        let Some(ports) = &rule.ports else {
            out = out.union(&PortSet::all_of(protocol));
            continue;
        };
        let listed = match &ports.ports {
            None => PortSet::all_of(protocol),
            Some(entries) => entries.iter().fold(PortSet::empty(), |acc, e| {
                acc.union(&port_entry(e, protocol, destination))
            }),
        };
        let excluded = ports.not_ports.iter().fold(PortSet::empty(), |acc, e| {
            acc.union(&port_entry(e, protocol, destination))
        });
        out = out.union(&listed.difference(&excluded));
    }
    out
}

/// One rule that matches the peer: its action and the ports it covers.
#[derive(Clone, Debug)]
struct Step {
    action: CalicoAction,
    ports: PortSet,
}

/// A tier that applies to the subject: its matching rules in order, then its default.
#[derive(Clone, Debug)]
struct Program {
    steps: Vec<Step>,
    default_action: CalicoAction,
}

/// What the tiers that apply to a subject pod say about one peer in one direction.
#[allow(clippy::too_many_arguments)]
fn programs(
    cluster: &Cluster,
    direction: Direction,
    namespace: &str,
    pod: &Pod,
    peer: Party,
    destination: Party,
    reading: Reading,
) -> Vec<Program> {
    let mut out = Vec::new();
    for tier in tiers(cluster) {
        let mut applies = false;
        let mut steps = Vec::new();
        for member in members(cluster, &tier.name) {
            match member {
                Member::Calico(policy) => {
                    if !calico_applies(cluster, policy, direction, namespace, pod) {
                        continue;
                    }
                    applies = true;
                    let rules = match direction {
                        Direction::Ingress => &policy.ingress,
                        Direction::Egress => &policy.egress,
                    };
                    for rule in rules {
                        if entity_matches(cluster, &rule.peer, peer, reading) {
                            steps.push(Step {
                                action: rule.action,
                                ports: calico_rule_ports(rule, destination),
                            });
                        }
                    }
                }
                Member::Kubernetes(policy) => {
                    let (isolates, rules) = match direction {
                        Direction::Ingress => (policy.isolates_ingress, &policy.ingress),
                        Direction::Egress => (policy.isolates_egress, &policy.egress),
                    };
                    if policy.namespace != namespace
                        || !policy.pod_selector.matches(&pod.labels)
                        || !isolates
                    {
                        continue;
                    }
                    applies = true;
                    for rule in rules {
                        if rule_matches_peer(cluster, policy, rule, peer, reading) {
                            steps.push(Step {
                                action: CalicoAction::Allow,
                                ports: port_entries(rule.ports.as_deref(), destination),
                            });
                        }
                    }
                }
                Member::Tiered(policy) => {
                    let rules = match direction {
                        Direction::Ingress => &policy.ingress,
                        Direction::Egress => &policy.egress,
                    };
                    if rules.is_empty()
                        || !pod_set_matches(cluster, &policy.subject, namespace, pod)
                    {
                        continue;
                    }
                    applies = true;
                    for rule in rules {
                        let matched = rule
                            .peers
                            .iter()
                            .any(|p| tier_peer_matches(cluster, &p.kind, peer, reading));
                        if matched {
                            steps.push(Step {
                                action: match rule.action {
                                    Action::Accept => CalicoAction::Allow,
                                    Action::Deny => CalicoAction::Deny,
                                    Action::Pass => CalicoAction::Pass,
                                },
                                ports: port_entries(rule.ports.as_deref(), destination),
                            });
                        }
                    }
                }
            }
        }
        if applies {
            out.push(Program {
                steps,
                default_action: tier.default_action,
            });
        }
    }
    out
}

/// The walk for one (protocol, port): whether the tiers let it through.
fn walk(programs: &[Program], protocol: Protocol, port: u16) -> bool {
    'tiers: for program in programs {
        for step in &program.steps {
            if !step.ports.contains(protocol, port) {
                continue;
            }
            match step.action {
                CalicoAction::Allow => return true,
                CalicoAction::Deny => return false,
                CalicoAction::Pass => continue 'tiers,
                CalicoAction::Log => {}
            }
        }
        match program.default_action {
            CalicoAction::Deny => return false,
            CalicoAction::Pass => {}
            other => panic!("tier default action {} is not Deny or Pass", other.as_str()),
        }
    }
    // The namespace profile allows.
    true
}

/// The walk port by port, on one port of each stretch no rule's ports split.
fn verdict(programs: &[Program]) -> PortSet {
    let mut out = PortSet::empty();
    for protocol in Protocol::ALL {
        // Every stretch of ports between two bounds is decided alike. ICMP messages
        // start at 0 (type 0, code 0), ports at 1.
        let first = if matches!(protocol, Protocol::Icmp | Protocol::IcmpV6) {
            0
        } else {
            1
        };
        let mut bounds: Vec<u32> = vec![first, 65536];
        for step in programs.iter().flat_map(|p| &p.steps) {
            for &(lo, hi) in step.ports.ports(protocol).ranges() {
                bounds.push(u32::from(lo));
                bounds.push(u32::from(hi) + 1);
            }
        }
        bounds.sort_unstable();
        bounds.dedup();
        for pair in bounds.windows(2) {
            let (lo, hi) = (pair[0] as u16, (pair[1] - 1) as u16);
            if walk(programs, protocol, lo) {
                out = out.union(&PortSet::range(protocol, lo, hi));
            }
        }
    }
    out
}

/// The readings Calico fixes: ipBlocks match pod IPs and node addresses alike.
fn calico_reading(reading: Reading) -> Reading {
    Reading {
        ipblock_pod_ips: true,
        ipblock_skips_nodes: false,
        ..reading
    }
}

/// What one direction's walk at `subject` allows toward/from `peer`.
fn direction_allows(
    cluster: &Cluster,
    direction: Direction,
    subject: Party,
    peer: Party,
    destination: Party,
    reading: Reading,
) -> PortSet {
    // An outside address has no policy.
    let Party::Pod { namespace, pod } = subject else {
        return super::everything();
    };
    // Host-network pods are no workload endpoints (unless the reading selects them).
    if pod.host_network && !reading.host_network_selectable {
        return super::everything();
    }
    verdict(&programs(
        cluster,
        direction,
        namespace,
        pod,
        peer,
        destination,
        reading,
    ))
}

/// The ports Calico allows from `src` to `dst`: the source's egress walk intersected
/// with the destination's ingress walk.
pub fn allowed_calico(cluster: &Cluster, src: Party, dst: Party, reading: Reading) -> PortSet {
    let reading = calico_reading(reading);
    let egress = direction_allows(cluster, Direction::Egress, src, dst, dst, reading);
    let ingress = direction_allows(cluster, Direction::Ingress, dst, src, dst, reading);
    egress.intersect(&ingress)
}

/// The workload-level answer under Calico, laid out as `super::connections`.
pub fn connections(
    cluster: &Cluster,
    externals: &[(usize, IpAddr)],
    reading: Reading,
) -> BTreeMap<(usize, usize), PortSet> {
    super::connections_by(cluster, externals, |src, dst| {
        allowed_calico(cluster, src, dst, reading)
    })
}

/// Every address set a Calico cluster can tell outside addresses apart by: those of the
/// Kubernetes and tiered policies, every enforced rule's `nets` and `notNets`, and every
/// network set's `nets`.
pub fn ip_blocks(cluster: &Cluster, reading: Reading) -> Vec<IpSet> {
    let mut out = super::ip_blocks(cluster, calico_reading(reading));
    for policy in cluster.calico_policies.iter().filter(|p| !p.staged) {
        for rule in policy.ingress.iter().chain(&policy.egress) {
            out.extend(rule.peer.nets.iter().cloned());
            out.extend(rule.peer.not_nets.iter().cloned());
        }
    }
    out.extend(cluster.calico_network_sets.iter().map(|n| n.nets.clone()));
    out
}
