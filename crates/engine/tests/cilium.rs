//! One small test per trap of Cilium's policies (CiliumNetworkPolicy and
//! CiliumClusterwideNetworkPolicy), built from the model directly (as the agent reads
//! them after its rewriting). Every expected verdict is derived by hand, with its source
//! on the line above, and checked against both the naive reference evaluator and the
//! engine.
//!
//! Set `KUBESEG_TEST_CILIUM_ENGINE=0` to check the reference alone (the engine
//! assertions fail until the engine evaluates Cilium policies).

mod pairs;
mod reference;

use pairs::{endpoint, party, row};

use kubeseg_engine::{Engine, Options};
use kubeseg_model::{
    Action, Cidr, CiliumPeer, CiliumPeerKind, CiliumPolicy, CiliumRule, CiliumSpec, CiliumSubject,
    Cluster, ClusterPolicy, ContainerPort, Entity, Labels, Namespace, NetworkPolicy, Node, Peer,
    PeerKind, Pod, PodSet, PortMatch, PortRule, Protocol, Rule, Selector, Tier, TierPeer,
    TierPeerKind, TierRule, Workload,
};
use reference::Reading;

const ALL: &str = "All Connections";
const NONE: &str = "No Connections";
const NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// An address outside the cluster that no node has.
const WORLD: &str = "203.0.113.9";
/// The address of node `n1`.
const NODE: &str = "192.168.1.1";

// ---------------------------------------------------------------------------------------
// Building clusters
// ---------------------------------------------------------------------------------------

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|&(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `matchLabels` only.
fn sel(pairs: &[(&str, &str)]) -> Selector {
    let mut match_labels: Vec<(String, String)> = pairs
        .iter()
        .map(|&(k, v)| (k.to_string(), v.to_string()))
        .collect();
    match_labels.sort();
    Selector {
        match_labels,
        match_expressions: Vec::new(),
    }
}

/// The pods labelled `app: <app>` of namespace `ns`.
fn app(ns: &str, app: &str) -> PodSet {
    PodSet {
        namespaces: sel(&[(NAME_LABEL, ns)]),
        pods: sel(&[("app", app)]),
    }
}

/// Every pod of namespace `ns`.
fn every_pod_of(ns: &str) -> PodSet {
    PodSet {
        namespaces: sel(&[(NAME_LABEL, ns)]),
        pods: Selector::default(),
    }
}

fn tcp(port: u16) -> PortRule {
    PortRule {
        protocol: Protocol::Tcp,
        port: PortMatch::Range(port, port),
    }
}

/// `protocol: ANY`, which the front end lists once per protocol.
fn any_protocol(port: u16) -> Vec<PortRule> {
    // TCP, UDP and SCTP (Cilium's ANY and named ports never mean ICMP).
    Protocol::PORTED
        .iter()
        .map(|&protocol| PortRule {
            protocol,
            port: PortMatch::Range(port, port),
        })
        .collect()
}

fn named(name: &str) -> PortRule {
    PortRule {
        protocol: Protocol::Tcp,
        port: PortMatch::Named(name.to_string()),
    }
}

fn cidr(written: &str) -> CiliumPeerKind {
    CiliumPeerKind::Cidr {
        written: written.to_string(),
        addresses: Cidr::parse(written).unwrap().to_set(),
    }
}

/// A rule with these peers and ports (`None`: every port).
fn rule(peers: Vec<CiliumPeerKind>, ports: Option<Vec<PortRule>>) -> CiliumRule {
    CiliumRule {
        location: None,
        peers: peers
            .into_iter()
            .map(|kind| CiliumPeer {
                location: None,
                kind,
            })
            .collect(),
        ports,
        l7: Vec::new(),
        plain_ports: Vec::new(),
        services: Vec::new(),
    }
}

/// A policy rule (`spec`) for `subject` with no rules yet; `sanitized` sets its default
/// deny flags.
fn spec(subject: PodSet) -> CiliumSpec {
    CiliumSpec {
        location: None,
        subject: CiliumSubject::Pods(subject),
        default_deny_ingress: false,
        default_deny_egress: false,
        ingress: Vec::new(),
        egress: Vec::new(),
        ingress_deny: Vec::new(),
        egress_deny: Vec::new(),
    }
}

/// `enableDefaultDeny` left unset: on in a direction with allow or deny rules, as
/// `pkg/policy/api/rule_validation.go` `Sanitize` defaults it.
fn sanitized(mut s: CiliumSpec) -> CiliumSpec {
    s.default_deny_ingress = !s.ingress.is_empty() || !s.ingress_deny.is_empty();
    s.default_deny_egress = !s.egress.is_empty() || !s.egress_deny.is_empty();
    s
}

/// A CiliumNetworkPolicy in namespace `prod`.
fn cnp(name: &str, specs: Vec<CiliumSpec>) -> CiliumPolicy {
    CiliumPolicy {
        kind: "CiliumNetworkPolicy".to_string(),
        namespace: "prod".to_string(),
        name: name.to_string(),
        location: None,
        specs,
    }
}

fn ccnp(name: &str, specs: Vec<CiliumSpec>) -> CiliumPolicy {
    CiliumPolicy {
        kind: "CiliumClusterwideNetworkPolicy".to_string(),
        namespace: String::new(),
        name: name.to_string(),
        location: None,
        specs,
    }
}

/// A NetworkPolicy in `prod` selecting `app: <app>` and isolating its ingress, with
/// these ingress rules.
fn netpol_ingress(name: &str, app: &str, ingress: Vec<Rule>) -> NetworkPolicy {
    NetworkPolicy {
        namespace: "prod".to_string(),
        name: name.to_string(),
        location: None,
        pod_selector: sel(&[("app", app)]),
        isolates_ingress: true,
        isolates_egress: false,
        policy_types_explicit: true,
        ingress,
        egress: Vec::new(),
    }
}

/// A NetworkPolicy rule from the `prod` pods labelled `app: <app>`, every port.
fn from_app(app: &str) -> Rule {
    Rule {
        location: None,
        peers: Some(vec![Peer {
            location: None,
            kind: PeerKind::Pods {
                namespaces: None,
                pods: Some(sel(&[("app", app)])),
            },
        }]),
        ports: None,
    }
}

/// An AdminNetworkPolicy of priority 1 with these ingress rules.
fn anp(subject: PodSet, ingress: Vec<TierRule>) -> ClusterPolicy {
    ClusterPolicy {
        kind: "AdminNetworkPolicy".to_string(),
        name: "admin".to_string(),
        location: None,
        tier: Tier::Admin,
        priority: 1,
        subject,
        ingress,
        egress: Vec::new(),
    }
}

fn tier_rule(action: Action, from: PodSet, ports: Option<Vec<PortRule>>) -> TierRule {
    TierRule {
        name: None,
        location: None,
        action,
        peers: vec![TierPeer {
            location: None,
            kind: TierPeerKind::Pods(from),
        }],
        ports,
    }
}

/// A cluster under construction: namespaces `prod` and `dev`, node `n1` at `NODE`.
struct Setup {
    cluster: Cluster,
}

impl Setup {
    fn new() -> Setup {
        let namespace = |name: &str, extra: &[(&str, &str)]| {
            let mut l = labels(extra);
            l.insert(NAME_LABEL.to_string(), name.to_string());
            Namespace {
                name: name.to_string(),
                labels: l,
                location: None,
            }
        };
        Setup {
            cluster: Cluster {
                namespaces: vec![namespace("dev", &[]), namespace("prod", &[])],
                nodes: vec![Node {
                    name: "n1".to_string(),
                    labels: labels(&[("role", "worker")]),
                    addresses: vec![NODE.parse().unwrap()],
                    location: None,
                }],
                ..Cluster::default()
            },
        }
    }

    /// A Pod `ns/name` labelled `app: <name>` with this IP and these container ports
    /// (`(name, port)`, TCP).
    fn pod(mut self, ns: &str, name: &str, ip: &str, ports: &[(&str, u16)]) -> Setup {
        self.cluster.workloads.push(Workload {
            namespace: ns.to_string(),
            name: name.to_string(),
            kind: "Pod".to_string(),
            pods: vec![Pod {
                name: name.to_string(),
                labels: labels(&[("app", name)]),
                ports: ports
                    .iter()
                    .map(|&(n, port)| ContainerPort {
                        name: Some(n.to_string()),
                        port,
                        protocol: Protocol::Tcp,
                    })
                    .collect(),
                ips: vec![ip.parse().unwrap()],
                host_network: false,
                host_port: false,
                images: Vec::new(),
                service_account: None,
                inject_annotation: None,
                location: None,
            }],
            location: None,
        });
        self
    }

    /// Pods `prod/a` (10.0.0.1), `prod/b` (10.0.0.2), `prod/c` (10.0.0.3), no ports.
    fn abc() -> Setup {
        Setup::new()
            .pod("prod", "a", "10.0.0.1", &[])
            .pod("prod", "b", "10.0.0.2", &[])
            .pod("prod", "c", "10.0.0.3", &[])
    }

    /// A host-network Pod `prod/<name>` on node `n1`.
    fn host_pod(mut self, name: &str) -> Setup {
        self = self.pod("prod", name, NODE, &[]);
        self.cluster.workloads.last_mut().unwrap().pods[0].host_network = true;
        self
    }

    /// One more Node.
    fn node(mut self, name: &str, node_labels: &[(&str, &str)], ip: &str) -> Setup {
        self.cluster.nodes.push(Node {
            name: name.to_string(),
            labels: labels(node_labels),
            addresses: vec![ip.parse().unwrap()],
            location: None,
        });
        self
    }

    fn cilium(mut self, policy: CiliumPolicy) -> Setup {
        self.cluster.cilium_policies.push(policy);
        self
    }

    fn netpol(mut self, policy: NetworkPolicy) -> Setup {
        self.cluster.policies.push(policy);
        self
    }

    fn tiered(mut self, policy: ClusterPolicy) -> Setup {
        self.cluster.cluster_policies.push(policy);
        self
    }

    /// Asserts each `(from, to, ports)`: endpoints are workload ids (`prod/a[Pod]`) or
    /// outside addresses; the reference first, then the engine.
    fn expect(mut self, rows: &[(&str, &str, &str)]) {
        let c = &mut self.cluster;
        c.workloads.sort_by_cached_key(Workload::id);
        c.policies
            .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        c.cilium_policies.sort_by(|a, b| {
            (a.namespace.is_empty(), &a.namespace, &a.name).cmp(&(
                b.namespace.is_empty(),
                &b.namespace,
                &b.name,
            ))
        });
        let cluster = &self.cluster;
        let want: Vec<String> = rows.iter().map(|r| row(r.0, r.1, r.2)).collect();
        let by_reference: Vec<String> = rows
            .iter()
            .map(|&(from, to, _)| {
                let ports = reference::allowed(
                    cluster,
                    party(cluster, from),
                    party(cluster, to),
                    Reading::default(),
                );
                row(from, to, &ports.to_string())
            })
            .collect();
        assert_eq!(by_reference, want, "the reference disagrees");
        if std::env::var("KUBESEG_TEST_CILIUM_ENGINE").is_ok_and(|v| v == "0") {
            return;
        }
        let mut engine = Engine::new(cluster, Options::default());
        let by_engine: Vec<String> = rows
            .iter()
            .map(|&(from, to, _)| {
                let (s, d) = (endpoint(&engine, from), endpoint(&engine, to));
                row(from, to, &engine.pair(s, d).to_string())
            })
            .collect();
        assert_eq!(by_engine, want, "the engine disagrees");
    }
}

// ---------------------------------------------------------------------------------------
// Traps
// ---------------------------------------------------------------------------------------

#[test]
fn deny_beats_a_network_policy_allow() {
    let mut s = spec(app("prod", "b"));
    s.ingress_deny = vec![rule(
        vec![CiliumPeerKind::Pods(app("prod", "a"))],
        Some(vec![tcp(80)]),
    )];
    Setup::abc()
        .netpol(netpol_ingress("allow-a", "b", vec![from_app("a")]))
        .cilium(cnp("deny-a-80", vec![sanitized(s)]))
        .expect(&[
            // Any matching deny beats any allow, Kubernetes NetworkPolicies included
            // (Cilium docs "Deny Policies").
            (
                "prod/a[Pod]",
                "prod/b[Pod]",
                // ICMP too: the allowing rule has no ports, the deny names TCP 80.
                "TCP 1-79,81-65535; UDP 1-65535; SCTP 1-65535; ICMP; ICMPv6",
            ),
            // The NetworkPolicy isolates b and allows only a.
            ("prod/c[Pod]", "prod/b[Pod]", NONE),
        ]);
}

#[test]
fn a_deny_only_rule_puts_the_pod_into_default_deny() {
    let mut s = spec(app("prod", "b"));
    s.ingress_deny = vec![rule(
        vec![CiliumPeerKind::Pods(app("prod", "a"))],
        Some(vec![tcp(80)]),
    )];
    Setup::abc()
        .cilium(cnp("deny-a-80", vec![sanitized(s)]))
        .expect(&[
            // Sanitize turns default deny on for a direction with ingressDeny rules
            // (rule_validation.go Sanitize; Cilium docs "Deny Policies").
            ("prod/a[Pod]", "prod/b[Pod]", NONE),
            ("prod/c[Pod]", "prod/b[Pod]", NONE),
            (WORLD, "prod/b[Pod]", NONE),
            // Egress has no rules, so no default deny there.
            ("prod/b[Pod]", "prod/a[Pod]", ALL),
        ]);
}

#[test]
fn an_allow_without_default_deny_isolates_nothing() {
    let mut s = spec(app("prod", "b"));
    s.ingress = vec![rule(
        vec![CiliumPeerKind::Pods(app("prod", "a"))],
        Some(vec![tcp(80)]),
    )];
    // `enableDefaultDeny: {ingress: false}`: the allow only adds.
    let s = CiliumSpec {
        default_deny_ingress: false,
        ..sanitized(s)
    };
    Setup::abc().cilium(cnp("allow-a", vec![s])).expect(&[
        // No selecting rule puts b into default deny (contract step 3; Sanitize keeps an
        // explicit false).
        ("prod/a[Pod]", "prod/b[Pod]", ALL),
        ("prod/c[Pod]", "prod/b[Pod]", ALL),
        (WORLD, "prod/b[Pod]", ALL),
    ]);
}

#[test]
fn an_allow_without_default_deny_adds_to_a_network_policy() {
    let mut s = spec(app("prod", "b"));
    s.ingress = vec![rule(
        vec![CiliumPeerKind::Pods(app("prod", "a"))],
        Some(vec![tcp(80)]),
    )];
    let s = CiliumSpec {
        default_deny_ingress: false,
        ..sanitized(s)
    };
    Setup::abc()
        .netpol(netpol_ingress("isolate-b", "b", Vec::new()))
        .cilium(cnp("allow-a", vec![s]))
        .expect(&[
            // The NetworkPolicy isolates b; allows of every selecting rule add up with it
            // (contract step 3; CiliumSpec doc in crates/model/src/cilium.rs).
            ("prod/a[Pod]", "prod/b[Pod]", "TCP 80"),
            ("prod/c[Pod]", "prod/b[Pod]", NONE),
        ]);
}

#[test]
fn default_deny_is_the_or_over_selecting_rules() {
    let mut additive = spec(app("prod", "b"));
    additive.ingress = vec![rule(
        vec![CiliumPeerKind::Pods(app("prod", "a"))],
        Some(vec![tcp(80)]),
    )];
    let additive = CiliumSpec {
        default_deny_ingress: false,
        ..sanitized(additive)
    };
    let mut isolating = spec(app("prod", "b"));
    isolating.ingress = vec![rule(
        vec![CiliumPeerKind::Pods(app("prod", "c"))],
        Some(vec![tcp(443)]),
    )];
    Setup::abc()
        .cilium(cnp("additive", vec![additive]))
        .cilium(cnp("isolating", vec![sanitized(isolating)]))
        .expect(&[
            // One selecting rule in default deny is enough (simulate.go findEntries), and
            // the other rule's allow still counts.
            ("prod/a[Pod]", "prod/b[Pod]", "TCP 80"),
            ("prod/c[Pod]", "prod/b[Pod]", "TCP 443"),
            (WORLD, "prod/b[Pod]", NONE),
        ]);
}

#[test]
fn a_rule_without_peers_allows_nothing() {
    // `endpointSelector: {}`, `ingress: [{}]`.
    let mut s = spec(every_pod_of("prod"));
    s.ingress = vec![rule(Vec::new(), None)];
    Setup::abc()
        .cilium(cnp("deny-all-ingress", vec![sanitized(s)]))
        .expect(&[
            // cilium-cli connectivity/builder/manifests/deny-all-ingress.yaml expects all
            // ingress to fail.
            ("prod/a[Pod]", "prod/b[Pod]", NONE),
            (WORLD, "prod/b[Pod]", NONE),
            // Egress is untouched.
            ("prod/b[Pod]", WORLD, ALL),
        ]);
}

#[test]
fn all_on_port_53_any_protocol() {
    let mut s = spec(app("prod", "b"));
    s.ingress = vec![rule(vec![CiliumPeerKind::All], Some(any_protocol(53)))];
    Setup::abc()
        .cilium(cnp("dns", vec![sanitized(s)]))
        .expect(&[
            // ANY matches every L4 protocol (simulate.go flattenMatchingL4); `all` is every
            // peer, outside ones included (entity.go).
            ("prod/a[Pod]", "prod/b[Pod]", "TCP 53; UDP 53; SCTP 53"),
            (WORLD, "prod/b[Pod]", "TCP 53; UDP 53; SCTP 53"),
            (NODE, "prod/b[Pod]", "TCP 53; UDP 53; SCTP 53"),
        ]);
}

#[test]
fn a_port_range() {
    let mut s = spec(app("prod", "b"));
    s.ingress = vec![rule(
        vec![CiliumPeerKind::All],
        Some(vec![PortRule {
            protocol: Protocol::Tcp,
            port: PortMatch::Range(8000, 8010),
        }]),
    )];
    Setup::abc()
        .cilium(cnp("range", vec![sanitized(s)]))
        .expect(&[
            // `port: 8000, endPort: 8010` is inclusive (pkg/policy/api/l4.go).
            ("prod/a[Pod]", "prod/b[Pod]", "TCP 8000-8010"),
        ]);
}

#[test]
fn a_named_port_resolves_per_destination() {
    let mut s = spec(every_pod_of("prod"));
    s.ingress = vec![rule(
        vec![CiliumPeerKind::Pods(app("prod", "a"))],
        Some(vec![named("http")]),
    )];
    Setup::new()
        .pod("prod", "a", "10.0.0.1", &[])
        .pod("prod", "b", "10.0.0.2", &[("http", 8080)])
        .pod("prod", "c", "10.0.0.3", &[("http", 9090)])
        .cilium(cnp("http", vec![sanitized(s)]))
        .expect(&[
            // Named ports resolve on each destination pod (l4.go; contract).
            ("prod/a[Pod]", "prod/b[Pod]", "TCP 8080"),
            ("prod/a[Pod]", "prod/c[Pod]", "TCP 9090"),
            // a has no port of that name, and is isolated too.
            ("prod/b[Pod]", "prod/a[Pod]", NONE),
        ]);
}

#[test]
fn an_egress_deny_of_443_denies_only_443() {
    // a: deny-only with `enableDefaultDeny: {egress: false}`.
    let mut deny_only = spec(app("prod", "a"));
    deny_only.egress_deny = vec![rule(vec![CiliumPeerKind::All], Some(vec![tcp(443)]))];
    let deny_only = CiliumSpec {
        default_deny_egress: false,
        ..sanitized(deny_only)
    };
    // c: allow everything, deny 443 (default deny on).
    let mut allow_and_deny = spec(app("prod", "c"));
    allow_and_deny.egress = vec![rule(vec![CiliumPeerKind::All], None)];
    allow_and_deny.egress_deny = vec![rule(vec![CiliumPeerKind::All], Some(vec![tcp(443)]))];
    // Every protocol, ICMP included, but TCP 443.
    const ALL_BUT_443: &str = "TCP 1-442,444-65535; UDP 1-65535; SCTP 1-65535; ICMP; ICMPv6";
    Setup::abc()
        .cilium(cnp("deny-443", vec![deny_only, sanitized(allow_and_deny)]))
        .expect(&[
            // Deny rules are L4: only 443 is taken away (utils.go (policy)
            // portDenyRulesToPortRules); other ports follow the allows.
            ("prod/a[Pod]", "prod/b[Pod]", ALL_BUT_443),
            ("prod/a[Pod]", WORLD, ALL_BUT_443),
            ("prod/c[Pod]", "prod/b[Pod]", ALL_BUT_443),
            ("prod/c[Pod]", WORLD, ALL_BUT_443),
        ]);
}

#[test]
fn a_cidr_covering_a_pod_ip_does_not_reach_the_pod() {
    let mut s = spec(app("prod", "a"));
    s.egress = vec![rule(vec![cidr("10.0.0.0/8")], None)];
    Setup::abc()
        .cilium(cnp("to-10", vec![sanitized(s)]))
        .expect(&[
            // Pods carry identities of their own, never CIDR ones (Cilium docs "Selecting
            // pods or nodes with CIDR/ipBlock"; option policy-cidr-match-mode).
            ("prod/a[Pod]", "prod/b[Pod]", NONE),
            ("prod/a[Pod]", "10.1.2.3", ALL),
            ("prod/a[Pod]", WORLD, NONE),
        ]);
}

#[test]
fn cidr_and_world_skip_nodes_while_host_and_cluster_match_them() {
    let mut a = spec(app("prod", "a"));
    a.egress = vec![
        rule(vec![cidr("192.168.0.0/16")], Some(vec![tcp(80)])),
        rule(
            vec![CiliumPeerKind::Entity(Entity::World)],
            Some(vec![tcp(443)]),
        ),
        rule(
            vec![CiliumPeerKind::Entity(Entity::Host)],
            Some(vec![tcp(22)]),
        ),
    ];
    let mut c = spec(app("prod", "c"));
    c.egress = vec![rule(
        vec![CiliumPeerKind::Entity(Entity::Cluster)],
        Some(vec![tcp(8080)]),
    )];
    Setup::abc()
        .host_pod("h")
        .cilium(cnp("entities", vec![sanitized(a), sanitized(c)]))
        .expect(&[
            // Node addresses are not CIDR or world identities unless
            // policy-cidr-match-mode has `nodes` (default empty); `host` is the node
            // (entity.go).
            ("prod/a[Pod]", NODE, "TCP 22"),
            ("prod/a[Pod]", "192.168.5.5", "TCP 80,443"),
            ("prod/a[Pod]", WORLD, "TCP 443"),
            // A host-network pod has the host identity.
            ("prod/a[Pod]", "prod/h[Pod]", "TCP 22"),
            ("prod/a[Pod]", "prod/b[Pod]", NONE),
            // `cluster` is every pod and node, not the world (entity.go InitEntities).
            ("prod/c[Pod]", NODE, "TCP 8080"),
            ("prod/c[Pod]", "prod/a[Pod]", "TCP 8080"),
            ("prod/c[Pod]", "prod/h[Pod]", "TCP 8080"),
            ("prod/c[Pod]", WORLD, NONE),
        ]);
}

#[test]
fn world_ipv4_does_not_match_an_ipv6_address() {
    let mut s = spec(app("prod", "a"));
    s.egress = vec![rule(vec![CiliumPeerKind::Entity(Entity::WorldIpv4)], None)];
    Setup::abc().cilium(cnp("v4", vec![sanitized(s)])).expect(&[
        // world-ipv4 is the IPv4 half of world (entity.go).
        ("prod/a[Pod]", WORLD, ALL),
        ("prod/a[Pod]", "2001:db8::9", NONE),
    ]);
}

#[test]
fn an_admin_allow_beats_a_cilium_deny() {
    let mut s = spec(app("prod", "b"));
    s.ingress_deny = vec![rule(vec![CiliumPeerKind::Pods(app("prod", "a"))], None)];
    Setup::abc()
        .tiered(anp(
            app("prod", "b"),
            vec![tier_rule(Action::Accept, app("prod", "a"), None)],
        ))
        .cilium(cnp("deny-a", vec![sanitized(s)]))
        .expect(&[
            // The Admin tier decides before anything else (contract step 1 and 4).
            ("prod/a[Pod]", "prod/b[Pod]", ALL),
            // The deny-only rule still isolates b from the rest.
            ("prod/c[Pod]", "prod/b[Pod]", NONE),
        ]);
}

#[test]
fn an_admin_pass_then_a_cilium_deny_denies() {
    let mut s = spec(app("prod", "b"));
    s.ingress = vec![rule(vec![CiliumPeerKind::Pods(app("prod", "a"))], None)];
    s.ingress_deny = vec![rule(
        vec![CiliumPeerKind::Pods(app("prod", "a"))],
        Some(vec![tcp(80), tcp(443)]),
    )];
    Setup::abc()
        .tiered(anp(
            app("prod", "b"),
            vec![
                tier_rule(Action::Pass, app("prod", "a"), Some(vec![tcp(80)])),
                tier_rule(Action::Accept, app("prod", "a"), None),
            ],
        ))
        .cilium(cnp("deny-a", vec![sanitized(s)]))
        .expect(&[
            // TCP 80 is passed to the layer below, where the Cilium deny wins; 443 is
            // accepted by the Admin tier (contract step 4).
            (
                "prod/a[Pod]",
                "prod/b[Pod]",
                // ICMP too: the allowing rule has no ports, the deny names TCP 80.
                "TCP 1-79,81-65535; UDP 1-65535; SCTP 1-65535; ICMP; ICMPv6",
            ),
        ]);
}

#[test]
fn a_clusterwide_empty_pod_set_is_every_pod_and_nothing_outside() {
    let mut s = spec(app("prod", "b"));
    s.ingress = vec![rule(
        vec![CiliumPeerKind::Pods(PodSet {
            namespaces: Selector::default(),
            pods: Selector::default(),
        })],
        None,
    )];
    Setup::abc()
        .pod("dev", "d", "10.0.0.4", &[])
        .host_pod("h")
        .cilium(ccnp("from-every-pod", vec![sanitized(s)]))
        .expect(&[
            // A CCNP `fromEndpoints: [{}]` matches pods of every namespace, not host or
            // world (utils.go (k8s) getEndpointSelector).
            ("prod/a[Pod]", "prod/b[Pod]", ALL),
            ("dev/d[Pod]", "prod/b[Pod]", ALL),
            (WORLD, "prod/b[Pod]", NONE),
            (NODE, "prod/b[Pod]", NONE),
            ("prod/h[Pod]", "prod/b[Pod]", NONE),
        ]);
}

#[test]
fn a_host_policy_selects_no_pod() {
    let mut s = spec(every_pod_of("prod"));
    s.subject = CiliumSubject::Nodes(Selector::default());
    s.ingress_deny = vec![rule(vec![CiliumPeerKind::All], None)];
    Setup::abc()
        .cilium(ccnp("host-deny", vec![sanitized(s)]))
        .expect(&[
            // A `nodeSelector` rule guards nodes, not pods (contract: Nodes selects no pod).
            ("prod/a[Pod]", "prod/b[Pod]", ALL),
            (WORLD, "prod/b[Pod]", ALL),
        ]);
}

#[test]
fn a_host_network_pod_is_not_a_subject() {
    let mut s = spec(app("prod", "h"));
    s.ingress_deny = vec![rule(vec![CiliumPeerKind::All], None)];
    Setup::abc()
        .host_pod("h")
        .cilium(cnp("deny-h", vec![sanitized(s)]))
        .expect(&[
            // Host-network pods are selected only when host_network_selectable, as for
            // other policies (contract, Subjects).
            ("prod/a[Pod]", "prod/h[Pod]", ALL),
            (WORLD, "prod/h[Pod]", ALL),
        ]);
}

#[test]
fn kube_apiserver_health_and_none_match_nothing_here() {
    let mut s = spec(app("prod", "a"));
    s.egress = vec![rule(
        vec![
            CiliumPeerKind::Entity(Entity::KubeApiserver),
            CiliumPeerKind::Entity(Entity::Internal("health")),
            CiliumPeerKind::Entity(Entity::None),
        ],
        None,
    )];
    Setup::abc()
        .host_pod("h")
        .cilium(cnp("internal", vec![sanitized(s)]))
        .expect(&[
            // No manifest describes these identities, and `none` is nothing (entity.go;
            // contract, Peers).
            ("prod/a[Pod]", "prod/b[Pod]", NONE),
            ("prod/a[Pod]", "prod/h[Pod]", NONE),
            ("prod/a[Pod]", NODE, NONE),
            ("prod/a[Pod]", WORLD, NONE),
        ]);
}

#[test]
fn from_nodes_matches_the_selected_nodes_only() {
    let mut s = spec(app("prod", "b"));
    s.ingress = vec![rule(
        vec![CiliumPeerKind::Nodes(sel(&[("role", "worker")]))],
        None,
    )];
    let mut r = spec(app("prod", "c"));
    r.ingress = vec![rule(vec![CiliumPeerKind::Entity(Entity::RemoteNode)], None)];
    Setup::abc()
        .node("n2", &[("role", "control")], "192.168.1.2")
        .cilium(cnp("from-nodes", vec![sanitized(s), sanitized(r)]))
        .expect(&[
            // `fromNodes` is the addresses of the Node objects whose labels match
            // (contract, Peers; utils.go (k8s) adds only `reserved:remote-node`).
            (NODE, "prod/b[Pod]", ALL),
            ("192.168.1.2", "prod/b[Pod]", NONE),
            ("prod/a[Pod]", "prod/b[Pod]", NONE),
            // `remote-node` is every node (contract, Peers).
            (NODE, "prod/c[Pod]", ALL),
            ("192.168.1.2", "prod/c[Pod]", ALL),
            (WORLD, "prod/c[Pod]", NONE),
        ]);
}

#[test]
fn an_l7_allow_counts_as_its_l4_allow() {
    let mut s = spec(app("prod", "b"));
    s.ingress = vec![CiliumRule {
        l7: vec!["http".to_string()],
        ..rule(
            vec![CiliumPeerKind::Pods(app("prod", "a"))],
            Some(vec![tcp(80)]),
        )
    }];
    Setup::abc()
        .cilium(cnp("http", vec![sanitized(s)]))
        .expect(&[
            // The L4 traffic reaches the proxy, which filters requests (l4.go L4Filter);
            // kubeseg reports it as an L4 allow (contract, L7).
            ("prod/a[Pod]", "prod/b[Pod]", "TCP 80"),
            ("prod/c[Pod]", "prod/b[Pod]", NONE),
        ]);
}
