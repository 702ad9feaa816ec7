//! Property tests: the engine against the naive reference evaluator on random small
//! clusters, plus consistency of the grouped, point and repeated answers.

mod generators;
mod reference;

use generators::*;
use kubeseg_engine::compact::compact;
use kubeseg_engine::explain::{Side, explain};
use kubeseg_engine::{Endpoint, Engine, Options};
use kubeseg_model::{
    Action, Cidr, CiliumPeer, CiliumPeerKind, CiliumPolicy, CiliumRule, CiliumSpec, CiliumSubject,
    Cluster, ClusterPolicy, Entity, IpSet, Labels, Namespace, NetworkPolicy, Node, Operator, Peer,
    PeerKind, Pod, PodSet, PortMatch, PortRule, PortSet, Protocol, Requirement, Rule, Selector,
    Tier, TierPeer, TierPeerKind, TierRule, Workload,
};
use proptest::prelude::*;
use proptest::sample::select;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

const NS_SELECTOR_VOCAB: Vocab = &[
    ("env", &["prod", "dev"]),
    ("team", &["red", "blue"]),
    (NAME_LABEL, &["alpha", "beta", "gamma"]),
];
/// (cidr, excepts)
const BLOCKS: &[(&str, &[&str])] = &[
    ("10.0.0.0/24", &[]),
    ("10.0.0.0/24", &["10.0.0.0/30"]),
    ("10.0.0.4/30", &[]),
    ("10.0.0.0/8", &["10.0.0.0/29", "10.0.0.128/25"]),
    ("0.0.0.0/0", &[]),
    ("0.0.0.0/0", &["10.0.0.0/8"]),
    ("192.168.0.0/16", &[]),
    ("::/0", &[]),
    ("fd00::/64", &["fd00::/126"]),
    ("10.0.0.3/32", &[]),
    // Every address excepted: an empty block.
    ("10.0.0.6/31", &["10.0.0.6/32", "10.0.0.7/32"]),
];

/// `networks` CIDRs of tiered policies (IPv4 and IPv6, every address of each family).
const NETWORKS: &[&str] = &[
    "10.0.0.0/24",
    "10.0.0.4/30",
    "10.0.0.0/8",
    "10.0.0.3/32",
    "0.0.0.0/0",
    "192.168.0.0/16",
    "172.16.0.0/12",
    "::/0",
    "fd00::/64",
    "fd00::/126",
];
const NODE_VOCAB: Vocab = &[("zone", &["a", "b"]), ("role", &["worker", "control"])];
/// Node addresses: some inside pod ranges and ipBlocks, some outside every block.
const NODE_IPS: &[[u8; 4]] = &[
    [10, 0, 0, 5],
    [10, 0, 0, 200],
    [192, 168, 1, 1],
    [172, 16, 0, 7],
    [203, 0, 113, 5],
];
/// Node addresses of clusters with Cilium policies: those of `NODE_IPS` and IPv6 ones,
/// one inside the pods' IPv6 range.
const CILIUM_NODE_IPS: &[&str] = &[
    "10.0.0.5",
    "10.0.0.200",
    "192.168.1.1",
    "203.0.113.5",
    "fd00::5",
    "2001:db8::1",
];
/// CIDRs of Cilium `toCIDR`/`fromCIDR` peers: some hold pod IPs, some node addresses.
const CILIUM_CIDRS: &[&str] = &[
    "10.0.0.0/24",
    "10.0.0.4/30",
    "10.0.0.0/8",
    "0.0.0.0/0",
    "192.168.0.0/16",
    "203.0.113.0/24",
    "::/0",
    "fd00::/64",
    "2001:db8::/32",
];
/// Every entity but `all` (a peer kind of its own).
const ENTITIES: &[Entity] = &[
    Entity::World,
    Entity::WorldIpv4,
    Entity::WorldIpv6,
    Entity::Cluster,
    Entity::Host,
    Entity::RemoteNode,
    Entity::KubeApiserver,
    Entity::Internal("health"),
    Entity::None,
];
/// Set `KUBESEG_TEST_TIERS=0` to generate clusters without tiered policies (and Nodes)
/// in the shared generator (`engine_matches_reference_with_tiers` always has them).
const TIERS_ENV: &str = "KUBESEG_TEST_TIERS";
/// Whether `explain` evaluates tiered policies; until it does, the explain check runs on
/// each cluster with its tiered policies removed.
const EXPLAIN_EVALUATES_TIERS: bool = true;
/// Whether `explain` evaluates Cilium policies; until it does (TODO: switch on with the
/// engine's Cilium support), the explain check runs on each cluster with its Cilium
/// policies removed.
const EXPLAIN_EVALUATES_CILIUM: bool = true;

fn requirement(vocab: Vocab) -> impl Strategy<Value = Requirement> {
    (0..vocab.len() + 1).prop_flat_map(move |k| {
        // Index `vocab.len()` stands for a key no object carries.
        let (key, vals): (&str, &[&str]) = vocab.get(k).copied().unwrap_or(("zone", &["z1"]));
        (
            select(
                &[
                    Operator::In,
                    Operator::NotIn,
                    Operator::Exists,
                    Operator::DoesNotExist,
                ][..],
            ),
            proptest::collection::vec(select(vals), 1..=2),
        )
            .prop_map(move |(operator, values)| {
                let values: Vec<String> = match operator {
                    Operator::In | Operator::NotIn => {
                        let set: BTreeSet<String> = values.iter().map(|v| v.to_string()).collect();
                        set.into_iter().collect()
                    }
                    Operator::Exists | Operator::DoesNotExist => Vec::new(),
                };
                Requirement {
                    key: key.to_string(),
                    operator,
                    values,
                }
            })
    })
}

fn selector(vocab: Vocab) -> impl Strategy<Value = Selector> {
    let pair = (0..vocab.len()).prop_flat_map(move |k| {
        let (key, vals) = vocab[k];
        select(vals).prop_map(move |v| (key.to_string(), v.to_string()))
    });
    (
        proptest::collection::vec(pair, 0..=2),
        proptest::collection::vec(requirement(vocab), 0..=2),
    )
        .prop_map(|(pairs, match_expressions)| {
            let map: BTreeMap<String, String> = pairs.into_iter().collect();
            Selector {
                match_labels: map.into_iter().collect(),
                match_expressions,
            }
        })
}

fn pod() -> impl Strategy<Value = Pod> {
    (
        labels(POD_VOCAB, 0.5),
        proptest::collection::vec(container_port(), 0..=3),
        proptest::collection::vec(pod_ip(), 0..=2),
        proptest::bool::weighted(0.08),
    )
        .prop_map(|(labels, mut ports, mut ips, host_network)| {
            ports.sort();
            ports.dedup();
            ips.sort();
            ips.dedup();
            Pod {
                name: String::new(),
                labels,
                ports,
                ips,
                host_network,
                host_port: false,
                images: Vec::new(),
                service_account: None,
                inject_annotation: None,
                location: None,
            }
        })
}

fn workload() -> impl Strategy<Value = (usize, &'static str, Vec<Pod>)> {
    (
        0usize..3,
        select(&["Deployment", "StatefulSet", "Pod"][..]),
        proptest::collection::vec(pod(), 1..=3),
    )
}

fn ip_block() -> impl Strategy<Value = PeerKind> {
    select(BLOCKS).prop_map(|(cidr, except)| {
        let addresses = except
            .iter()
            .fold(Cidr::parse(cidr).unwrap().to_set(), |acc: IpSet, e| {
                acc.difference(&Cidr::parse(e).unwrap().to_set())
            });
        PeerKind::IpBlock {
            cidr: cidr.to_string(),
            except: except.iter().map(|e| e.to_string()).collect(),
            addresses,
        }
    })
}

fn peer() -> impl Strategy<Value = Peer> {
    let pods = (
        proptest::option::of(selector(NS_SELECTOR_VOCAB)),
        proptest::option::weighted(0.7, selector(POD_VOCAB)),
    )
        .prop_map(|(namespaces, pods)| PeerKind::Pods { namespaces, pods });
    prop_oneof![3 => pods, 1 => ip_block()].prop_map(|kind| Peer {
        location: None,
        kind,
    })
}

fn port_rule() -> impl Strategy<Value = PortRule> {
    port_rule_with(true)
}

/// A port entry; named ports only when `named`.
fn port_rule_with(named: bool) -> impl Strategy<Value = PortRule> {
    let range = (
        select(&[1u16, 53, 80, 443, 8080, 9090, 65535][..]),
        select(&[0u16, 0, 10, 1000][..]),
    )
        .prop_map(|(lo, d)| PortMatch::Range(lo, lo.saturating_add(d)));
    let port = if named {
        prop_oneof![
            1 => Just(PortMatch::Any),
            3 => range,
            3 => select(RULE_PORT_NAMES).prop_map(|n| PortMatch::Named(n.to_string())),
        ]
        .boxed()
    } else {
        prop_oneof![1 => Just(PortMatch::Any), 3 => range].boxed()
    };
    (
        select(&[Protocol::Tcp, Protocol::Tcp, Protocol::Udp, Protocol::Sctp][..]),
        port,
    )
        .prop_map(|(protocol, port)| PortRule { protocol, port })
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        proptest::option::weighted(0.75, proptest::collection::vec(peer(), 1..=3)),
        proptest::option::weighted(0.6, proptest::collection::vec(port_rule(), 1..=3)),
    )
        .prop_map(|(peers, ports)| Rule {
            location: None,
            peers,
            ports,
        })
}

fn policy() -> impl Strategy<Value = (usize, NetworkPolicy)> {
    (
        0usize..3,
        selector(POD_VOCAB),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(rule(), 0..=3),
        proptest::collection::vec(rule(), 0..=3),
    )
        .prop_map(
            |(ns, pod_selector, isolates_ingress, isolates_egress, ingress, egress)| {
                (
                    ns,
                    NetworkPolicy {
                        namespace: String::new(),
                        name: String::new(),
                        location: None,
                        pod_selector,
                        isolates_ingress,
                        isolates_egress,
                        policy_types_explicit: true,
                        ingress,
                        egress,
                    },
                )
            },
        )
}

fn pod_set() -> impl Strategy<Value = PodSet> {
    (selector(NS_SELECTOR_VOCAB), selector(POD_VOCAB))
        .prop_map(|(namespaces, pods)| PodSet { namespaces, pods })
}

fn networks() -> impl Strategy<Value = TierPeerKind> {
    proptest::collection::vec(select(NETWORKS), 1..=2).prop_map(|cidrs| {
        let mut cidrs: Vec<String> = cidrs.into_iter().map(str::to_string).collect();
        cidrs.sort();
        cidrs.dedup();
        let addresses = cidrs.iter().fold(IpSet::empty(), |acc, c| {
            acc.union(&Cidr::parse(c).unwrap().to_set())
        });
        TierPeerKind::Networks { cidrs, addresses }
    })
}

/// A peer of a tiered rule: ingress peers are pods only (as in the API); egress peers
/// are pods, networks or nodes.
fn tier_peer(egress: bool) -> impl Strategy<Value = TierPeer> {
    let pods = pod_set().prop_map(TierPeerKind::Pods);
    let kind = if egress {
        prop_oneof![
            2 => pods,
            2 => networks(),
            1 => selector(NODE_VOCAB).prop_map(TierPeerKind::Nodes),
        ]
        .boxed()
    } else {
        pods.boxed()
    };
    kind.prop_map(|kind| TierPeer {
        location: None,
        kind,
    })
}

fn tier_rule(egress: bool, tier: Tier) -> impl Strategy<Value = TierRule> {
    let actions: &'static [Action] = match tier {
        Tier::Admin => &[Action::Accept, Action::Deny, Action::Pass],
        Tier::Baseline => &[Action::Accept, Action::Deny],
    };
    (
        select(actions),
        proptest::collection::vec(tier_peer(egress), 1..=2),
    )
        .prop_flat_map(|(action, peers)| {
            // The API forbids named ports in rules with networks or nodes peers.
            let named = peers
                .iter()
                .all(|p| matches!(p.kind, TierPeerKind::Pods(_)));
            proptest::option::weighted(0.6, proptest::collection::vec(port_rule_with(named), 1..=3))
                .prop_map(move |ports| TierRule {
                    name: None,
                    location: None,
                    action,
                    peers: peers.clone(),
                    ports,
                })
        })
}

/// A tiered policy without its name (given by `cluster_with`).
fn cluster_policy() -> impl Strategy<Value = ClusterPolicy> {
    select(&[Tier::Admin, Tier::Baseline][..]).prop_flat_map(|tier| {
        (
            0u32..3,
            any::<bool>(),
            pod_set(),
            proptest::collection::vec(tier_rule(false, tier), 0..=3),
            proptest::collection::vec(tier_rule(true, tier), 0..=3),
        )
            .prop_map(move |(priority, v1alpha2, subject, ingress, egress)| {
                let (kind, priority) = match (tier, v1alpha2) {
                    (_, true) => ("ClusterNetworkPolicy", priority),
                    (Tier::Admin, false) => ("AdminNetworkPolicy", priority),
                    // A BaselineAdminNetworkPolicy has no priority.
                    (Tier::Baseline, false) => ("BaselineAdminNetworkPolicy", 0),
                };
                ClusterPolicy {
                    kind: kind.to_string(),
                    name: String::new(),
                    location: None,
                    tier,
                    priority,
                    subject,
                    ingress,
                    egress,
                }
            })
    })
}

fn node() -> impl Strategy<Value = (Labels, [u8; 4])> {
    (labels(NODE_VOCAB, 0.6), select(NODE_IPS))
}

/// A selector that is `{}` half the time, so that Cilium subjects and peers often
/// select something.
fn broad_selector(vocab: Vocab) -> impl Strategy<Value = Selector> {
    proptest::option::weighted(0.5, selector(vocab)).prop_map(Option::unwrap_or_default)
}

fn broad_pod_set() -> impl Strategy<Value = PodSet> {
    (broad_selector(NS_SELECTOR_VOCAB), broad_selector(POD_VOCAB))
        .prop_map(|(namespaces, pods)| PodSet { namespaces, pods })
}

fn cilium_cidr() -> impl Strategy<Value = CiliumPeerKind> {
    select(CILIUM_CIDRS).prop_map(|cidr| CiliumPeerKind::Cidr {
        written: cidr.to_string(),
        addresses: Cidr::parse(cidr).unwrap().to_set(),
    })
}

/// A Cilium peer of any kind but `Fqdns` (the reference has no domain parties).
fn cilium_peer() -> impl Strategy<Value = CiliumPeer> {
    prop_oneof![
        1 => Just(CiliumPeerKind::All),
        4 => broad_pod_set().prop_map(CiliumPeerKind::Pods),
        2 => cilium_cidr(),
        3 => select(ENTITIES).prop_map(CiliumPeerKind::Entity),
        1 => selector(NODE_VOCAB).prop_map(CiliumPeerKind::Nodes),
    ]
    .prop_map(|kind| CiliumPeer {
        location: None,
        kind,
    })
}

/// What a Cilium rule's `icmps` field decodes to: a type of ICMP or ICMPv6 with any
/// code, or (type 0, Cilium's wildcard port) every message of the family.
fn cilium_icmp_rule() -> impl Strategy<Value = PortRule> {
    (
        select(&[Protocol::Icmp, Protocol::IcmpV6][..]),
        prop_oneof![
            1 => Just(PortMatch::Any),
            4 => select(&[3u16, 8, 11, 128, 135, 255][..])
                .prop_map(|t| PortMatch::Range(t * 256, t * 256 + 255)),
        ],
    )
        .prop_map(|(protocol, port)| PortRule { protocol, port })
}

/// A Cilium rule's ports: `toPorts` entries, or `icmps` (never both: Cilium refuses
/// that).
fn cilium_ports() -> impl Strategy<Value = Option<Vec<PortRule>>> {
    proptest::option::weighted(
        0.6,
        prop_oneof![
            3 => proptest::collection::vec(port_rule(), 1..=3),
            1 => proptest::collection::vec(cilium_icmp_rule(), 1..=2),
        ],
    )
}

/// A Cilium rule: no peer sometimes (`ingress: [{}]`), L7 kinds only on allows.
fn cilium_rule(allow: bool) -> impl Strategy<Value = CiliumRule> {
    (
        prop_oneof![
            1 => Just(Vec::new()),
            6 => proptest::collection::vec(cilium_peer(), 1..=2),
        ],
        cilium_ports(),
        proptest::bool::weighted(if allow { 0.2 } else { 0.0 }),
    )
        .prop_map(|(peers, ports, l7)| CiliumRule {
            location: None,
            peers,
            ports,
            l7: if l7 {
                vec!["http".to_string()]
            } else {
                Vec::new()
            },
            plain_ports: Vec::new(),
            services: Vec::new(),
        })
}

/// A policy rule (`spec`) whose subject is `subject`, with random default-deny flags.
fn cilium_spec(subject: BoxedStrategy<CiliumSubject>) -> impl Strategy<Value = CiliumSpec> {
    (
        subject,
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(cilium_rule(true), 0..=2),
        proptest::collection::vec(cilium_rule(true), 0..=2),
        proptest::collection::vec(cilium_rule(false), 0..=2),
        proptest::collection::vec(cilium_rule(false), 0..=2),
    )
        .prop_map(
            |(subject, deny_in, deny_out, ingress, egress, ingress_deny, egress_deny)| CiliumSpec {
                location: None,
                subject,
                default_deny_ingress: deny_in,
                default_deny_egress: deny_out,
                ingress,
                egress,
                ingress_deny,
                egress_deny,
            },
        )
}

/// A CiliumNetworkPolicy (subjects in one namespace, index `ns` of `NAMESPACES`) or a
/// CiliumClusterwideNetworkPolicy (any subject, host policies included), without its
/// name and with the namespace index to resolve (given by `cluster_full`).
fn cilium_policy() -> impl Strategy<Value = (Option<usize>, CiliumPolicy)> {
    (any::<bool>(), 0usize..3).prop_flat_map(|(clusterwide, ns)| {
        let subject = if clusterwide {
            prop_oneof![
                5 => broad_pod_set().prop_map(CiliumSubject::Pods),
                1 => selector(NODE_VOCAB).prop_map(CiliumSubject::Nodes),
            ]
            .boxed()
        } else {
            // The agent confines a CiliumNetworkPolicy's subject to its namespace; the
            // namespace is filled in once the cluster's namespaces are known.
            broad_selector(POD_VOCAB)
                .prop_map(|pods| {
                    CiliumSubject::Pods(PodSet {
                        namespaces: Selector::default(),
                        pods,
                    })
                })
                .boxed()
        };
        proptest::collection::vec(cilium_spec(subject), 1..=2).prop_map(move |specs| {
            let kind = if clusterwide {
                "CiliumClusterwideNetworkPolicy"
            } else {
                "CiliumNetworkPolicy"
            };
            (
                (!clusterwide).then_some(ns),
                CiliumPolicy {
                    kind: kind.to_string(),
                    namespace: String::new(),
                    name: String::new(),
                    location: None,
                    specs,
                },
            )
        })
    })
}

/// Whether the shared generator makes tiered policies (see `TIERS_ENV`).
fn tiers_enabled() -> bool {
    std::env::var(TIERS_ENV).map_or(true, |v| v != "0")
}

/// Clusters with tiered policies unless `KUBESEG_TEST_TIERS=0`.
fn cluster() -> impl Strategy<Value = Cluster> {
    if tiers_enabled() {
        cluster_with(0..=4)
    } else {
        cluster_with(0..=0)
    }
}

/// Clusters with `tiered` tiered policies (and 0..=2 Nodes unless `tiered` is `0..=0`).
fn cluster_with(tiered: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Cluster> {
    cluster_full(tiered, false)
}

/// Clusters with 1..=4 Cilium policies, `tiered` tiered policies and 1..=3 Nodes (IPv4
/// or IPv6), so that node addresses are among the outside addresses.
fn cluster_with_cilium(tiered: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Cluster> {
    cluster_full(tiered, true)
}

fn cluster_full(
    tiered: std::ops::RangeInclusive<usize>,
    cilium: bool,
) -> impl Strategy<Value = Cluster> {
    let nodes = if cilium {
        let node = (labels(NODE_VOCAB, 0.6), select(CILIUM_NODE_IPS))
            .prop_map(|(labels, ip)| (labels, ip.parse::<IpAddr>().unwrap()));
        proptest::collection::vec(node, 1..=3).boxed()
    } else {
        let nodes = if *tiered.end() == 0 { 0..=0 } else { 0..=2 };
        let node = node().prop_map(|(labels, ip)| (labels, IpAddr::V4(Ipv4Addr::from(ip))));
        proptest::collection::vec(node, nodes).boxed()
    };
    let cilium_policies = if cilium { 1..=4 } else { 0..=0 };
    (
        2usize..=3,
        proptest::collection::vec(labels(NS_VOCAB, 0.5), 3),
        proptest::collection::vec(workload(), 1..=6),
        proptest::collection::vec(policy(), 0..=6),
        proptest::collection::vec(cluster_policy(), tiered),
        nodes,
        proptest::collection::vec(cilium_policy(), cilium_policies),
    )
        .prop_map(
            |(ns_count, ns_labels, workloads, policies, cluster_policies, nodes, cilium)| {
                let namespaces: Vec<Namespace> = NAMESPACES[..ns_count]
                    .iter()
                    .zip(ns_labels)
                    .map(|(name, mut labels)| {
                        labels.insert(NAME_LABEL.to_string(), name.to_string());
                        Namespace {
                            name: name.to_string(),
                            labels,
                            location: None,
                        }
                    })
                    .collect();
                let mut workloads: Vec<Workload> = workloads
                    .into_iter()
                    .enumerate()
                    .map(|(i, (ns, kind, pods))| {
                        let name = format!("w{i}");
                        let pods = pods
                            .into_iter()
                            .enumerate()
                            .map(|(j, mut p)| {
                                p.name = format!("{name}-{j}");
                                p
                            })
                            .collect();
                        Workload {
                            namespace: NAMESPACES[ns % ns_count].to_string(),
                            name,
                            kind: kind.to_string(),
                            pods,
                            location: None,
                        }
                    })
                    .collect();
                workloads.sort_by_cached_key(Workload::id);
                let mut policies: Vec<NetworkPolicy> = policies
                    .into_iter()
                    .enumerate()
                    .map(|(i, (ns, mut p))| {
                        p.namespace = NAMESPACES[ns % ns_count].to_string();
                        p.name = format!("p{i}");
                        p
                    })
                    .collect();
                policies.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
                let mut cluster_policies: Vec<ClusterPolicy> = cluster_policies
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut p)| {
                        p.name = format!("cp{i}");
                        p
                    })
                    .collect();
                // The loader's order, which is the evaluation order.
                cluster_policies.sort_by(|a, b| {
                    (a.tier, a.priority, &a.name, &a.kind)
                        .cmp(&(b.tier, b.priority, &b.name, &b.kind))
                });
                let nodes: Vec<Node> = nodes
                    .into_iter()
                    .enumerate()
                    .map(|(i, (labels, ip))| Node {
                        name: format!("n{i}"),
                        labels,
                        addresses: vec![ip],
                        location: None,
                    })
                    .collect();
                let mut cilium_policies: Vec<CiliumPolicy> = cilium
                    .into_iter()
                    .enumerate()
                    .map(|(i, (ns, mut p))| {
                        p.name = format!("cil{i}");
                        if let Some(ns) = ns {
                            let ns = NAMESPACES[ns % ns_count];
                            p.namespace = ns.to_string();
                            let own = Selector {
                                match_labels: vec![(NAME_LABEL.to_string(), ns.to_string())],
                                match_expressions: Vec::new(),
                            };
                            for spec in &mut p.specs {
                                if let CiliumSubject::Pods(set) = &mut spec.subject {
                                    set.namespaces = own.clone();
                                }
                            }
                        }
                        p
                    })
                    .collect();
                // The loader's order: namespaced policies by namespace and name, then
                // cluster-wide ones (empty namespace) by name.
                cilium_policies.sort_by(|a, b| {
                    (a.namespace.is_empty(), &a.namespace, &a.name).cmp(&(
                        b.namespace.is_empty(),
                        &b.namespace,
                        &b.name,
                    ))
                });
                Cluster {
                    namespaces,
                    workloads,
                    policies,
                    cluster_policies,
                    cilium_policies,
                    calico_policies: Vec::new(),
                    calico_tiers: Vec::new(),
                    calico_network_sets: Vec::new(),
                    nodes,
                    services: Vec::new(),
                    endpoint_slices: Vec::new(),
                    routes: Vec::new(),
                    authorization_policies: Vec::new(),
                    peer_authentications: Vec::new(),
                    service_accounts: Vec::new(),
                    ignores: Vec::new(),
                }
            },
        )
}

// ---------------------------------------------------------------------------------------
// Rendering for failure messages
// ---------------------------------------------------------------------------------------

fn describe(c: &Cluster) -> String {
    let mut s = String::new();
    for n in &c.namespaces {
        let _ = writeln!(s, "namespace {} {:?}", n.name, n.labels);
    }
    for w in &c.workloads {
        let _ = writeln!(s, "workload {}", w.id());
        for p in &w.pods {
            let ports: Vec<String> = p
                .ports
                .iter()
                .map(|cp| {
                    format!(
                        "{}{}/{}",
                        cp.name
                            .as_deref()
                            .map_or(String::new(), |n| format!("{n}=")),
                        cp.port,
                        cp.protocol
                    )
                })
                .collect();
            let _ = writeln!(
                s,
                "  pod {} labels={:?} ports={:?} ips={:?}{}",
                p.name,
                p.labels,
                ports,
                p.ips,
                if p.host_network { " hostNetwork" } else { "" }
            );
        }
    }
    for p in &c.policies {
        let _ = writeln!(
            s,
            "policy {} select[{}] ingress={} egress={}",
            p.id(),
            p.pod_selector,
            p.isolates_ingress,
            p.isolates_egress
        );
        for (dir, rules) in [("in", &p.ingress), ("out", &p.egress)] {
            for r in rules.iter() {
                let peers = match &r.peers {
                    None => "ANY".to_string(),
                    Some(ps) => ps
                        .iter()
                        .map(|p| match &p.kind {
                            PeerKind::Pods { namespaces, pods } => format!(
                                "ns[{}] pods[{}]",
                                namespaces.as_ref().map_or("own".into(), |s| s.to_string()),
                                pods.as_ref().map_or("all".into(), |s| s.to_string())
                            ),
                            PeerKind::IpBlock { cidr, except, .. } => {
                                format!("ip {cidr} except {except:?}")
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(" | "),
                };
                let ports = match &r.ports {
                    None => "ALL".to_string(),
                    Some(ps) => ps
                        .iter()
                        .map(|p| format!("{}:{:?}", p.protocol, p.port))
                        .collect::<Vec<_>>()
                        .join(","),
                };
                let _ = writeln!(s, "  {dir}: peers {peers} ports {ports}");
            }
        }
    }
    for p in &c.cluster_policies {
        let _ = writeln!(
            s,
            "{} {} tier={} priority={} subject ns[{}] pods[{}]",
            p.kind,
            p.name,
            p.tier.as_str(),
            p.priority,
            p.subject.namespaces,
            p.subject.pods
        );
        for (dir, rules) in [("in", &p.ingress), ("out", &p.egress)] {
            for r in rules.iter() {
                let peers = r
                    .peers
                    .iter()
                    .map(|p| match &p.kind {
                        TierPeerKind::Pods(set) => {
                            format!("ns[{}] pods[{}]", set.namespaces, set.pods)
                        }
                        TierPeerKind::Networks { cidrs, .. } => format!("networks {cidrs:?}"),
                        TierPeerKind::Nodes(sel) => format!("nodes[{sel}]"),
                        TierPeerKind::DomainNames(names) => format!("domains {names:?}"),
                    })
                    .collect::<Vec<_>>()
                    .join(" | ");
                let ports = match &r.ports {
                    None => "ALL".to_string(),
                    Some(ps) => ps
                        .iter()
                        .map(|p| format!("{}:{:?}", p.protocol, p.port))
                        .collect::<Vec<_>>()
                        .join(","),
                };
                let _ = writeln!(
                    s,
                    "  {dir}: {} peers {peers} ports {ports}",
                    r.action.as_str()
                );
            }
        }
    }
    for p in &c.cilium_policies {
        let _ = writeln!(s, "{}", p.id());
        for spec in &p.specs {
            let subject = match &spec.subject {
                CiliumSubject::Pods(set) => format!("ns[{}] pods[{}]", set.namespaces, set.pods),
                CiliumSubject::Nodes(sel) => format!("nodes[{sel}]"),
            };
            let _ = writeln!(
                s,
                "  spec subject {subject} default-deny in={} out={}",
                spec.default_deny_ingress, spec.default_deny_egress
            );
            for (dir, rules) in [
                ("in", &spec.ingress),
                ("out", &spec.egress),
                ("in deny", &spec.ingress_deny),
                ("out deny", &spec.egress_deny),
            ] {
                for r in rules {
                    let peers = r
                        .peers
                        .iter()
                        .map(|p| match &p.kind {
                            CiliumPeerKind::All => "all".to_string(),
                            CiliumPeerKind::Pods(set) => {
                                format!("ns[{}] pods[{}]", set.namespaces, set.pods)
                            }
                            CiliumPeerKind::Cidr { written, .. } => format!("cidr {written}"),
                            CiliumPeerKind::Entity(e) => format!("entity {}", e.as_str()),
                            CiliumPeerKind::Nodes(sel) => format!("nodes[{sel}]"),
                            CiliumPeerKind::Fqdns(names) => format!("fqdns {names:?}"),
                        })
                        .collect::<Vec<_>>()
                        .join(" | ");
                    let ports = match &r.ports {
                        None => "ALL".to_string(),
                        Some(ps) => ps
                            .iter()
                            .map(|p| format!("{}:{:?}", p.protocol, p.port))
                            .collect::<Vec<_>>()
                            .join(","),
                    };
                    let _ = writeln!(s, "    {dir}: peers [{peers}] ports {ports} l7 {:?}", r.l7);
                }
            }
        }
    }
    for n in &c.nodes {
        let _ = writeln!(s, "node {} {:?} {:?}", n.name, n.labels, n.addresses);
    }
    s
}

fn render(engine: &Engine, map: &BTreeMap<(usize, usize), PortSet>) -> Vec<String> {
    map.iter()
        .map(|(&(a, b), p)| {
            format!(
                "{} => {} : {}",
                engine.endpoint_id(a),
                engine.endpoint_id(b),
                p
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Glue
// ---------------------------------------------------------------------------------------

use reference::Reading;

fn options(r: Reading) -> Options {
    Options {
        ipblock_pod_ips: r.ipblock_pod_ips,
        host_network_selectable: r.host_network_selectable,
        ipblock_skips_nodes: r.ipblock_skips_nodes,
        ..Options::default()
    }
}

/// A reading for clusters with Cilium policies: Cilium lowers ipBlocks to CIDR
/// identities, which never match pods.
fn cilium_reading() -> impl Strategy<Value = Reading> {
    any::<bool>().prop_map(|host_network_selectable| Reading {
        ipblock_pod_ips: false,
        host_network_selectable,
        ipblock_skips_nodes: true,
    })
}

fn reading() -> impl Strategy<Value = Reading> {
    (any::<bool>(), any::<bool>()).prop_map(|(ipblock_pod_ips, host_network_selectable)| Reading {
        ipblock_pod_ips,
        host_network_selectable,
        ipblock_skips_nodes: false,
    })
}

/// The engine's connections as a map, checking that no pair is listed twice.
fn engine_map(
    engine: &mut Engine,
    src: impl Fn(usize) -> bool,
    dst: impl Fn(usize) -> bool,
) -> Result<BTreeMap<(usize, usize), PortSet>, TestCaseError> {
    let mut map = BTreeMap::new();
    for c in engine.connections(src, dst) {
        prop_assert!(!c.ports.is_empty(), "empty connection listed");
        prop_assert!(
            map.insert((c.src, c.dst), c.ports).is_none(),
            "pair listed twice"
        );
    }
    Ok(map)
}

/// The external endpoints with one representative address each, after checking the
/// endpoint layout (workloads in cluster order, then atoms).
fn externals(
    engine: &Engine,
    cluster: &Cluster,
    reading: Reading,
) -> Result<Vec<(usize, IpAddr)>, TestCaseError> {
    let n = cluster.workloads.len();
    let mut out = Vec::new();
    let mut atoms = Vec::new();
    for (i, e) in engine.endpoints().iter().enumerate() {
        match e {
            Endpoint::Workload { workload, .. } => {
                prop_assert!(
                    i < n && *workload == i,
                    "endpoint {} is workload {}",
                    i,
                    workload
                )
            }
            Endpoint::External { addresses, .. } => {
                prop_assert!(i >= n, "external endpoint {} before a workload", i);
                out.push((i, reference::first_address(addresses)));
                atoms.push(addresses.clone());
            }
            Endpoint::Domain { name, .. } => {
                prop_assert!(
                    false,
                    "domain endpoint {} though no domainNames peer is generated",
                    name
                );
            }
        }
    }
    prop_assert_eq!(engine.endpoints().len(), n + atoms.len());
    if let Err(e) = reference::check_atoms(cluster, &atoms, reading) {
        return Err(TestCaseError::fail(format!("{e}\n{}", describe(cluster))));
    }
    Ok(out)
}

fn diff(
    engine: &Engine,
    got: &BTreeMap<(usize, usize), PortSet>,
    want: &BTreeMap<(usize, usize), PortSet>,
) -> String {
    let got = render(engine, got);
    let want = render(engine, want);
    let mut s = String::new();
    for l in &want {
        if !got.contains(l) {
            let _ = writeln!(s, "  missing:    {l}");
        }
    }
    for l in &got {
        if !want.contains(l) {
            let _ = writeln!(s, "  unexpected: {l}");
        }
    }
    s
}

fn check_against_reference(cluster: &Cluster, r: Reading) -> Result<(), TestCaseError> {
    let mut engine = Engine::new(cluster, options(r));
    let ext = externals(&engine, cluster, r)?;
    let got = engine_map(&mut engine, |_| true, |_| true)?;
    let want = reference::connections(cluster, &ext, r);
    if got != want {
        return Err(TestCaseError::fail(format!(
            "engine != reference ({r:?})\n{}cluster:\n{}",
            diff(&engine, &got, &want),
            describe(cluster)
        )));
    }
    Ok(())
}

fn check_compact(
    cluster: &Cluster,
    r: Reading,
    src_mask: u64,
    dst_mask: u64,
) -> Result<(), TestCaseError> {
    let mut engine = Engine::new(cluster, options(r));
    let n = engine.endpoints().len();
    let is_external = |e: usize| matches!(engine.endpoints()[e], Endpoint::External { .. });
    let ext: Vec<bool> = (0..n).map(is_external).collect();
    let in_mask = |mask: u64, e: usize| mask >> (e % 64) & 1 == 1;
    for (src_mask, dst_mask) in [(u64::MAX, u64::MAX), (src_mask, dst_mask)] {
        let sources: Vec<usize> = (0..n).filter(|&e| in_mask(src_mask, e)).collect();
        let destinations: Vec<usize> = (0..n).filter(|&e| in_mask(dst_mask, e)).collect();
        let want = engine_map(
            &mut engine,
            |e| in_mask(src_mask, e),
            |e| in_mask(dst_mask, e),
        )?;
        let grouped = compact(&mut engine, &sources, &destinations)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut got: BTreeMap<(usize, usize), PortSet> = BTreeMap::new();
        for (g1, g2, ports) in &grouped.edges {
            prop_assert!(!ports.is_empty(), "edge with no ports");
            for &a in &grouped.groups[*g1] {
                prop_assert!(sources.contains(&a), "edge source {} not a source", a);
                for &b in &grouped.groups[*g2] {
                    prop_assert!(
                        destinations.contains(&b),
                        "edge destination {} not a destination",
                        b
                    );
                    if a == b || (ext[a] && ext[b]) {
                        continue;
                    }
                    if let Some(old) = got.insert((a, b), ports.clone()) {
                        prop_assert_eq!(
                            &old,
                            ports,
                            "pair ({}, {}) claimed with different ports",
                            a,
                            b
                        );
                    }
                }
            }
        }
        if got != want {
            return Err(TestCaseError::fail(format!(
                "compact != connections ({r:?}, masks {src_mask:x}/{dst_mask:x})\n{}groups {:?}\nedges {:?}\ncluster:\n{}",
                diff(&engine, &got, &want),
                grouped.groups,
                grouped.edges,
                describe(cluster)
            )));
        }
    }
    Ok(())
}

/// Outside addresses for checks of the reference alone: every node address, and world
/// addresses inside and outside the pods' and the generated CIDRs' ranges, both families.
fn probe_addresses(cluster: &Cluster) -> Vec<(usize, IpAddr)> {
    let mut ips: Vec<IpAddr> = cluster
        .nodes
        .iter()
        .flat_map(|n| n.addresses.iter().copied())
        .collect();
    for ip in [
        "10.0.0.1",
        "10.0.0.6",
        "10.9.9.9",
        "192.168.7.7",
        "203.0.113.9",
        "8.8.8.8",
        "fd00::3",
        "2001:db8::9",
        "2a00::1",
    ] {
        ips.push(ip.parse().unwrap());
    }
    ips.sort();
    ips.dedup();
    let n = cluster.workloads.len();
    ips.into_iter()
        .enumerate()
        .map(|(i, ip)| (n + i, ip))
        .collect()
}

/// The cluster with every Cilium rule of one kind dropped (default-deny flags kept).
fn without_cilium_rules(cluster: &Cluster, allows: bool, denies: bool) -> Cluster {
    let mut c = cluster.clone();
    for spec in c.cilium_policies.iter_mut().flat_map(|p| &mut p.specs) {
        if allows {
            spec.ingress.clear();
            spec.egress.clear();
        }
        if denies {
            spec.ingress_deny.clear();
            spec.egress_deny.clear();
        }
    }
    c
}

/// The reference on its own: Cilium allows only add and Cilium denies only take away,
/// pair by pair (a check of the oracle that does not need the engine).
fn check_reference_cilium_monotone(cluster: &Cluster, r: Reading) -> Result<(), TestCaseError> {
    let probes = probe_addresses(cluster);
    let base = reference::connections(cluster, &probes, r);
    let no_allows = reference::connections(&without_cilium_rules(cluster, true, false), &probes, r);
    let no_denies = reference::connections(&without_cilium_rules(cluster, false, true), &probes, r);
    let empty = PortSet::empty();
    let keys: BTreeSet<(usize, usize)> = base
        .keys()
        .chain(no_allows.keys())
        .chain(no_denies.keys())
        .copied()
        .collect();
    for key in keys {
        let b = base.get(&key).unwrap_or(&empty);
        let fewer = no_allows.get(&key).unwrap_or(&empty);
        let more = no_denies.get(&key).unwrap_or(&empty);
        prop_assert!(
            fewer.difference(b).is_empty() && b.difference(more).is_empty(),
            "pair {:?}: without allows {}, as is {}, without denies {}\ncluster:\n{}",
            key,
            fewer,
            b,
            more,
            describe(cluster)
        );
    }
    Ok(())
}

fn check_explain(cluster: &Cluster, r: Reading) -> Result<(), TestCaseError> {
    if !EXPLAIN_EVALUATES_CILIUM && !cluster.cilium_policies.is_empty() {
        // `explain` does not evaluate Cilium policies yet: check it without them.
        let without = Cluster {
            cilium_policies: Vec::new(),
            ..cluster.clone()
        };
        return check_explain(&without, r);
    }
    if !EXPLAIN_EVALUATES_TIERS && !cluster.cluster_policies.is_empty() {
        // `explain` does not evaluate tiers yet: check it on the NetworkPolicies alone
        // (the engine is checked against the reference with tiers elsewhere).
        let untiered = Cluster {
            cluster_policies: Vec::new(),
            nodes: Vec::new(),
            ..cluster.clone()
        };
        return check_explain(&untiered, r);
    }
    let mut engine = Engine::new(cluster, options(r));
    let ext = externals(&engine, cluster, r)?;
    let mut sides: Vec<(usize, Side)> = cluster
        .workloads
        .iter()
        .enumerate()
        .filter(|(_, w)| w.pods.len() == 1)
        .map(|(i, w)| {
            (
                i,
                Side::Pod {
                    namespace: &w.namespace,
                    pod: &w.pods[0],
                },
            )
        })
        .collect();
    let pods = sides.len();
    sides.extend(ext.iter().map(|&(e, ip)| (e, Side::Address(ip))));
    for (i, (a, sa)) in sides.iter().enumerate() {
        for (j, (b, sb)) in sides.iter().enumerate() {
            if i >= pods && j >= pods {
                continue;
            }
            let explained = explain(cluster, sa, sb, options(r)).allowed;
            let paired = engine.pair(*a, *b);
            prop_assert_eq!(
                &explained,
                &paired,
                "explain != pair for {} -> {} ({:?})\ncluster:\n{}",
                engine.endpoint_id(*a),
                engine.endpoint_id(*b),
                r,
                describe(cluster)
            );
        }
    }
    Ok(())
}

fn config() -> ProptestConfig {
    ProptestConfig {
        // PROPTEST_CASES overrides the default for deeper runs.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1024),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn engine_matches_reference(c in cluster()) {
        check_against_reference(&c, Reading::default())?;
    }

    #[test]
    fn engine_matches_reference_with_ipblock_pod_ips(c in cluster()) {
        check_against_reference(&c, Reading { ipblock_pod_ips: true, ..Reading::default() })?;
    }

    #[test]
    fn engine_matches_reference_with_host_network_selectable(c in cluster(), ipb in any::<bool>()) {
        check_against_reference(&c, Reading { ipblock_pod_ips: ipb, host_network_selectable: true, ..Reading::default() })?;
    }

    #[test]
    fn engine_matches_reference_with_tiers(c in cluster_with(1..=4), r in reading()) {
        check_against_reference(&c, r)?;
    }

    // Fails until the engine evaluates Cilium policies.
    #[test]
    fn engine_matches_reference_with_cilium(c in cluster_with_cilium(0..=3), r in cilium_reading()) {
        check_against_reference(&c, r)?;
    }

    #[test]
    fn reference_cilium_allows_add_and_denies_remove(c in cluster_with_cilium(0..=2), r in cilium_reading()) {
        check_reference_cilium_monotone(&c, r)?;
    }

    #[test]
    fn compact_expands_to_connections_with_cilium(c in cluster_with_cilium(0..=2), r in cilium_reading(), s in any::<u64>(), d in any::<u64>()) {
        check_compact(&c, r, s, d)?;
    }

    #[test]
    fn explain_agrees_with_pair_with_cilium(c in cluster_with_cilium(0..=2), r in cilium_reading()) {
        check_explain(&c, r)?;
    }

    #[test]
    fn compact_expands_to_connections(c in cluster(), r in reading(), s in any::<u64>(), d in any::<u64>()) {
        check_compact(&c, r, s, d)?;
    }

    #[test]
    fn explain_agrees_with_pair(c in cluster(), r in reading()) {
        check_explain(&c, r)?;
    }

    #[test]
    fn output_is_deterministic(c in cluster(), r in reading()) {
        let mut e1 = Engine::new(&c, options(r));
        let mut e2 = Engine::new(&c, options(r));
        let ids1: Vec<String> = (0..e1.endpoints().len()).map(|e| e1.endpoint_id(e)).collect();
        let ids2: Vec<String> = (0..e2.endpoints().len()).map(|e| e2.endpoint_id(e)).collect();
        prop_assert_eq!(ids1, ids2);
        prop_assert_eq!(e1.connections(|_| true, |_| true), e2.connections(|_| true, |_| true));
        let all: Vec<usize> = (0..e1.endpoints().len()).collect();
        let c1 = compact(&mut e1, &all, &all).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let c2 = compact(&mut e2, &all, &all).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(c1, c2);
    }
}
