//! The compiled cluster: equivalence classes of pods, address atoms, and every policy
//! rule turned into bitsets over nodes (classes then atoms) and interned port specs.

use crate::atoms::partition;
use crate::bitset::BitSet;
use crate::ids::{IdVec, PeerSetId, PolicyId, PortSpecId};
use crate::portsets::{PortSetId, PortSets};
use crate::threads::Beside;
use kubeseg_model::{
    Cluster, ContainerPort, IpSet, Operator, PeerKind, PortMatch, PortRule, PortSet, Protocol,
    Rule, Selector,
};
use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;

mod calico;
mod cilium;
mod layout;
mod policies;
mod tiers;
pub use calico::{
    CalicoTierPlace, calico_policy_order, calico_tiers, end_action as calico_end_action,
    endpoint_labels as calico_endpoint_labels, k8s_bounds as calico_k8s_bounds,
    namespace_allows as calico_namespace_allows, namespace_labels as calico_namespace_labels,
    network_set_labels as calico_network_set_labels, order_cmp as calico_order_cmp,
    policy_stage as calico_policy_stage, rule_action as calico_rule_action,
    unsupported as calico_unsupported,
};
pub use cilium::{CiliumRef, cilium_pattern_matches, cilium_refs};
pub use tiers::{
    Region, Stage, TierPeerRef, TierRule, Tiers, domain_matches, end_key, in_order,
    normalise_domain, order_key, pod_in,
};

/// How the engine reads semantics that conformant implementations leave open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// ipBlocks also match pods whose IP is known (Calico, upstream e2e); off: external only.
    pub ipblock_pod_ips: bool,
    /// Treat host-network pods like other pods (np-guard's reading); off: policies never
    /// select them and selectors never match them, as the Kubernetes documentation says
    /// most network plugins behave.
    pub host_network_selectable: bool,
    /// ipBlocks never match Node objects' addresses (Cilium lowers them to CIDR rules,
    /// and nodes have identities of their own); off: they do.
    pub ipblock_skips_nodes: bool,
    /// Threads that compute rows; 0: as many as the machine has. Answers do not depend on it.
    pub threads: usize,
}

/// Pods that no policy can tell apart: same namespace, labels, container ports
/// (and IPs when ipBlocks match pods, and host-network flag).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassKey {
    /// Namespace index.
    pub namespace: u32,
    /// Labels, sorted.
    pub labels: Vec<(String, String)>,
    /// Container ports, sorted.
    pub ports: Vec<ContainerPort>,
    /// Pod IPs (only with `ipblock_pod_ips`, and only of host-network pods, which
    /// Calico's network sets match by address).
    pub ips: Vec<IpAddr>,
    /// With `ipblock_pod_ips`: the NetworkPolicy ipBlocks holding one of the pods' known
    /// IPs (indices into the distinct ipBlock sets), so pod IPs split classes only as
    /// far as ipBlocks tell them apart.
    pub ipblocks: Vec<u32>,
    /// Whether the pods use the host network.
    pub host_network: bool,
    /// The service account, only when a Calico selector tests
    /// `projectcalico.org/serviceaccount` (else `None`, so it splits no class).
    pub service_account: Option<String>,
    /// The tiered `networks` address sets that hold the pods' addresses (indices
    /// into the distinct sets), so pod IPs split classes only as far as they matter
    /// (see `Prepass::networks_holding` for pods whose IP is unknown).
    pub networks: Vec<u32>,
    /// The sets used both to include and to exclude that may hold the address of these
    /// pods, whose IP is unknown, without surely holding it.
    pub networks_maybe: Vec<u32>,
}

/// An endpoint of the answer: a workload or an external address atom.
#[derive(Clone, Debug)]
pub enum Endpoint {
    /// `cluster.workloads[workload]`, made of these classes.
    Workload {
        /// Index into `Cluster::workloads`.
        workload: usize,
        /// Class indices of its pods.
        classes: Vec<u32>,
    },
    /// An atom of the address partition.
    External {
        /// Index of the atom.
        atom: u32,
        /// Its addresses.
        addresses: IpSet,
    },
    /// A destination known by a name from a `domainNames` peer: whatever addresses the
    /// name resolves to. Only reached as a destination.
    Domain {
        /// Index among the domains.
        domain: u32,
        /// The name (normalised; `*.` patterns are their own endpoints).
        name: String,
    },
}

impl Endpoint {
    /// The endpoint as a mesh source: a workload index, or a representative address of
    /// an outside range (every address of an atom is alike to the policies); `None` for
    /// a domain, which is only a destination.
    pub fn mesh_source(&self) -> Option<Result<usize, std::net::IpAddr>> {
        match self {
            Endpoint::Workload { workload, .. } => Some(Ok(*workload)),
            Endpoint::External { addresses, .. } => addresses.first_address().map(Err),
            Endpoint::Domain { .. } => None,
        }
    }
}

/// One compiled rule.
#[derive(Clone, Debug)]
pub struct CompiledRule {
    /// The policy.
    pub policy: PolicyId,
    /// The peers.
    pub peers: PeerSetId,
    /// The port spec.
    pub ports: PortSpecId,
}

/// One peer of one rule of one policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerRef {
    /// The policy.
    pub policy: PolicyId,
    /// Whether the rule is an egress rule.
    pub egress: bool,
    /// Index of the rule in its direction's list.
    pub rule: u32,
    /// Index of the peer in the rule's `from`/`to`.
    pub peer: u32,
}

/// A peer of a compiled rule and the peer set it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompiledPeer<R = PeerRef> {
    /// Where the peer is written.
    pub at: R,
    /// The nodes it matches.
    pub set: PeerSetId,
}

/// Ports of a rule before named ports are resolved against a destination.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PortSpec {
    /// Numeric and whole-protocol entries.
    pub numeric: PortSetId,
    /// Named entries: (protocol, name).
    pub named: Vec<(Protocol, String)>,
    /// Ports cut from the named ones once resolved (Calico's `notPorts`).
    pub except: PortSetId,
}

/// The compiled cluster.
pub struct Index {
    /// Classes, grouped by namespace.
    pub classes: Vec<ClassKey>,
    /// Address atoms.
    pub atoms: Vec<IpSet>,
    /// Domain endpoints' names, sorted.
    pub domains: Vec<String>,
    /// Endpoints: workloads in cluster order, then atoms, then domains.
    pub endpoints: Vec<Endpoint>,
    /// Node count: classes, then atoms, then domains.
    pub nodes: usize,
    /// The compiled tiered cluster policies.
    pub tiers: Tiers,
    /// How many union-layer policies are NetworkPolicies (`Cluster::policies`); the
    /// ones after them are Cilium specs, in `cilium` order.
    pub network_policy_count: usize,
    /// The Cilium specs, numbered after the NetworkPolicies in the union layer and after
    /// the tiered policies in `tiers`.
    pub cilium: Vec<CiliumRef>,
    /// Per union-layer policy: the classes it selects.
    pub selected: IdVec<PolicyId, BitSet>,
    /// Ingress rules of the union layer (a NetworkPolicy's only when it isolates
    /// ingress; a Cilium spec's always, since its allows add up where anything isolates).
    pub ingress_rules: Vec<CompiledRule>,
    /// Per union-layer policy: whether it isolates egress.
    pub isolates_egress: IdVec<PolicyId, bool>,
    /// Egress rules by union-layer policy (a NetworkPolicy's only when it isolates egress).
    pub egress_rules: IdVec<PolicyId, Vec<CompiledRule>>,
    /// Distinct peer sets over nodes.
    pub peer_sets: IdVec<PeerSetId, BitSet>,
    /// Distinct port specs.
    pub port_specs: IdVec<PortSpecId, PortSpec>,
    /// The port sets interned while compiling (those of `port_specs`). Rows intern
    /// into their own tables, which start as copies of this one.
    pub port_sets: PortSets,
    /// Nodes selected by an ingress-isolating policy.
    pub ingress_isolated: BitSet,
    /// Nodes selected by an egress-isolating policy.
    pub egress_isolated: BitSet,
    /// Every peer of every compiled rule with its peer-set id, in compile order.
    pub peer_refs: Vec<CompiledPeer>,
    class_port_profile: Vec<u32>,
    port_profiles: Vec<Vec<ContainerPort>>,
}

struct LabelIndex {
    by_pair: HashMap<(String, String), BitSet>,
    by_key: HashMap<String, BitSet>,
    len: usize,
}

impl LabelIndex {
    /// An empty index over members `0..len`.
    fn new(len: usize) -> Self {
        LabelIndex {
            by_pair: HashMap::default(),
            by_key: HashMap::default(),
            len,
        }
    }

    /// Records that member `i` carries label `k=v`.
    fn add(&mut self, i: usize, k: &str, v: &str) {
        let len = self.len;
        self.by_pair
            .entry((k.to_string(), v.to_string()))
            .or_insert_with(|| BitSet::new(len))
            .insert(i);
        self.by_key
            .entry(k.to_string())
            .or_insert_with(|| BitSet::new(len))
            .insert(i);
    }

    /// Indexes the label maps of a universe of objects (object `i` is member `i`).
    fn over<'l>(objects: impl ExactSizeIterator<Item = &'l kubeseg_model::Labels>) -> Self {
        let mut index = LabelIndex::new(objects.len());
        for (i, labels) in objects.enumerate() {
            for (k, v) in labels {
                index.add(i, k, v);
            }
        }
        index
    }

    fn pair(&self, k: &str, v: &str) -> Option<&BitSet> {
        self.by_pair.get(&(k.to_string(), v.to_string()))
    }

    fn eval(&self, sel: &Selector, within: &BitSet) -> BitSet {
        let mut out = within.clone();
        let empty = BitSet::new(self.len);
        for (k, v) in &sel.match_labels {
            out.intersect_with(self.pair(k, v).unwrap_or(&empty));
        }
        for r in &sel.match_expressions {
            let key = self.by_key.get(&r.key).unwrap_or(&empty);
            let any_of = || {
                let mut s = BitSet::new(self.len);
                for v in &r.values {
                    if let Some(b) = self.pair(&r.key, v) {
                        s.union_with(b);
                    }
                }
                s
            };
            match r.operator {
                Operator::In => out.intersect_with(&any_of()),
                Operator::NotIn => out.difference_with(&any_of()),
                Operator::Exists => out.intersect_with(key),
                Operator::DoesNotExist => out.difference_with(key),
            }
        }
        out
    }
}

impl Index {
    /// Compiles a cluster.
    pub fn build(cluster: &Cluster, options: Options) -> Index {
        let ns_index: HashMap<&str, u32> = cluster
            .namespaces
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i as u32))
            .collect();
        // Calico's order needs the cluster only: it is found beside the classes.
        let (pre, classes, calico_order) = std::thread::scope(|scope| {
            let order = (!cluster.calico_policies.is_empty()).then(|| {
                Beside::start(scope, options.threads, || calico::CalicoOrder::of(cluster))
            });
            let pre = tiers::prepass(cluster);
            let classes = layout::classes(cluster, &ns_index, &pre, options);
            (pre, classes, order.map(Beside::finish))
        });
        let skip_nodes = options
            .ipblock_skips_nodes
            .then_some(&pre.all_node_addresses);
        let addresses = layout::AddressSets::of(cluster, pre.ip_sets.clone(), skip_nodes);
        let part = partition(&addresses.sets);
        // Nodes are the classes, then the address atoms, then the domains.
        let class_count = classes.keys.len();
        let domain_base = class_count + part.atoms.len();
        let nodes = domain_base + pre.domains.len();
        let endpoints = layout::endpoints(classes.of_workload, &part.atoms, &pre.domains);
        let selectable = layout::Selectable::of(&classes.keys, nodes, cluster.namespaces.len());
        let profiles = layout::PortProfiles::of(&classes.keys);

        let calico_view = calico_order.map(|order| {
            let view = calico::CalicoView {
                cluster,
                nodes,
                class_count,
                classes: &classes.keys,
                selectable: &selectable.classes,
                atom_sets: &part.atoms,
                networks: &pre.networks,
                threads: options.threads,
                host_network_classes: (classes.keys.iter().enumerate())
                    .filter(|(_, k)| k.host_network)
                    .map(|(c, _)| c)
                    .collect(),
                groups: Vec::new(),
                blocks: Vec::new(),
                set_labels: Vec::new(),
            };
            (view, order)
        });
        let (policies, tiers, isolates_egress, peer_sets, port_specs, port_sets, peer_refs) =
            std::thread::scope(|scope| {
                // Calico's selections only read the layout: they run beside the other kinds'
                // compile, and are interned after them, in the order a single thread would.
                let calico_selection = calico_view.map(|(view, order)| {
                    Beside::start(scope, options.threads, move || view.select(order))
                });
                let mut b = Builder {
                    labels: selectable.labels,
                    selectable: &selectable.classes,
                    ns_ranges: selectable.ns_ranges,
                    ns_labels: LabelIndex::over(cluster.namespaces.iter().map(|n| &n.labels)),
                    ns_cache: HashMap::default(),
                    peer_cache: HashMap::default(),
                    peer_sets: IdVec::default(),
                    peer_ids: HashMap::default(),
                    port_sets: PortSets::default(),
                    port_specs: IdVec::default(),
                    spec_ids: HashMap::default(),
                    nodes,
                    class_count,
                    atom_members: part.members,
                    ip_set_ids: addresses.ids,
                    classes: &classes.keys,
                    options,
                    peer_refs: Vec::new(),
                    domains: &pre.domains,
                    domain_base,
                    node_addresses: pre.node_addresses,
                    all_node_addresses: pre.all_node_addresses,
                    cluster,
                    calico_peer_refs: Vec::new(),
                    ipblock_sets: &pre.ipblock_sets,
                    calico_tiers: if cluster.calico_policies.is_empty() {
                        Vec::new()
                    } else {
                        calico::calico_tiers(cluster)
                    },
                    networks: &pre.networks,
                };
                let mut policies = b.network_policies(cluster, &ns_index);
                let mut tiers = b.tiers(cluster);
                let mut isolates_egress: IdVec<PolicyId, bool> =
                    cluster.policies.iter().map(|p| p.isolates_egress).collect();
                let cilium = b.cilium(
                    cluster,
                    cluster.policies.len(),
                    cluster.cluster_policies.len(),
                );
                for (i, selected) in cilium.selected.into_iter().enumerate() {
                    let (ingress, egress) = cilium.default_deny[i];
                    if ingress {
                        policies.ingress_isolated.union_with(&selected);
                    }
                    if egress {
                        policies.egress_isolated.union_with(&selected);
                    }
                    isolates_egress.push(egress);
                    tiers.selected.push(selected.clone());
                    tiers.isolates_egress.push(false);
                    tiers.cilium_count += 1;
                    policies.selected.push(selected);
                }
                policies.ingress_rules.extend(cilium.ingress_allows);
                for rules in cilium.egress_allows {
                    policies.egress_rules.push(rules);
                }
                for rules in cilium.ingress_denies {
                    tiers.ingress.push(rules);
                }
                for rules in cilium.egress_denies {
                    tiers.egress.push(rules);
                }
                tiers.peer_refs.extend(cilium.deny_peer_refs);
                let first = tiers.cluster_count + tiers.cilium_count;
                let calico = match calico_selection {
                    Some(selection) => b.calico(cluster, first, selection.finish()),
                    None => calico::CompiledCalico::default(),
                };
                for set in &calico.ingress_isolated {
                    policies.ingress_isolated.union_with(set);
                }
                for (i, selected) in calico.selected.into_iter().enumerate() {
                    if calico.isolates_egress[i] {
                        policies.egress_isolated.union_with(&selected);
                    }
                    tiers.isolates_egress.push(calico.isolates_egress[i]);
                    tiers.selected.push(selected);
                }
                for rules in calico.ingress {
                    tiers.ingress.push(rules);
                }
                for rules in calico.egress {
                    tiers.egress.push(rules);
                }
                tiers.peer_refs.append(&mut b.calico_peer_refs);
                let Builder {
                    peer_sets,
                    port_specs,
                    port_sets,
                    peer_refs,
                    ..
                } = b;
                (
                    policies,
                    tiers,
                    isolates_egress,
                    peer_sets,
                    port_specs,
                    port_sets,
                    peer_refs,
                )
            });
        Index {
            classes: classes.keys,
            atoms: part.atoms,
            domains: pre.domains,
            tiers,
            endpoints,
            nodes,
            network_policy_count: cluster.policies.len(),
            cilium: cilium_refs(cluster),
            selected: policies.selected,
            ingress_rules: policies.ingress_rules,
            egress_rules: policies.egress_rules,
            isolates_egress,
            peer_sets,
            port_specs,
            port_sets,
            ingress_isolated: policies.ingress_isolated,
            egress_isolated: policies.egress_isolated,
            peer_refs,
            class_port_profile: profiles.of_class,
            port_profiles: profiles.profiles,
        }
    }

    /// Peers of compiled rules that match no node (no pod, no address), in compile order.
    pub fn dead_peers(&self) -> impl Iterator<Item = PeerRef> + '_ {
        self.peer_refs
            .iter()
            .filter(|p| self.peer_sets[p.set].is_empty())
            .map(|p| p.at)
    }

    /// The first domain node (nodes from here on are domain endpoints).
    pub fn domain_base(&self) -> usize {
        self.classes.len() + self.atoms.len()
    }

    /// Number of classes (nodes below this are classes, the rest atoms).
    pub fn class_count(&self) -> usize {
        self.classes.len()
    }

    /// The port profile (the named container ports) of a node; 0 for none.
    pub fn port_profile(&self, node: usize) -> u32 {
        self.class_port_profile.get(node).copied().unwrap_or(0)
    }

    /// The ports named `name` under `protocol` on node `dst` (empty for atoms).
    pub fn named_ports(&self, protocol: Protocol, name: &str, dst: usize) -> PortSet {
        let profile = self.port_profile(dst) as usize;
        let mut set = PortSet::empty();
        for cp in &self.port_profiles[profile] {
            if cp.protocol == protocol && cp.name.as_deref() == Some(name) {
                set = set.union(&PortSet::range(protocol, cp.port, cp.port));
            }
        }
        set
    }

    /// The ports of `spec` toward destination node `dst`, named ports resolved there.
    pub fn spec_ports(&self, spec: PortSpecId, dst: usize) -> PortSet {
        let s = &self.port_specs[spec];
        let mut set = self.port_sets.get(s.numeric).clone();
        for (proto, name) in &s.named {
            set = set.union(&self.named_ports(*proto, name, dst));
        }
        set.difference(self.port_sets.get(s.except))
    }
}

/// A peer and the namespace it is relative to (`u32::MAX` when it is not).
type PeerKey = (PeerKind, u32);

struct Builder<'a> {
    labels: LabelIndex,
    selectable: &'a BitSet,
    ns_ranges: Vec<(usize, usize)>,
    ns_labels: LabelIndex,
    ns_cache: HashMap<Selector, Vec<u32>>,
    peer_cache: HashMap<PeerKey, PeerSetId>,
    peer_sets: IdVec<PeerSetId, BitSet>,
    peer_ids: HashMap<u64, Vec<PeerSetId>>,
    port_sets: PortSets,
    port_specs: IdVec<PortSpecId, PortSpec>,
    spec_ids: HashMap<PortSpec, PortSpecId>,
    nodes: usize,
    class_count: usize,
    atom_members: Vec<Vec<u32>>,
    ip_set_ids: HashMap<IpSet, usize>,
    classes: &'a [ClassKey],
    options: Options,
    peer_refs: Vec<CompiledPeer>,
    domains: &'a [String],
    networks: &'a [IpSet],
    domain_base: usize,
    node_addresses: HashMap<Selector, IpSet>,
    all_node_addresses: IpSet,
    cluster: &'a Cluster,
    calico_peer_refs: Vec<CompiledPeer<TierPeerRef>>,
    /// Calico's tiers, for the ranks of the Admin and Baseline stages.
    calico_tiers: Vec<CalicoTierPlace>,
    /// The distinct address sets of NetworkPolicy ipBlocks (`ClassKey::ipblocks`).
    ipblock_sets: &'a [IpSet],
}

impl Builder<'_> {
    fn intern_peers(&mut self, set: BitSet) -> PeerSetId {
        let hash = set.fingerprint();
        if let Some(&id) = self
            .peer_ids
            .get(&hash)
            .and_then(|ids| ids.iter().find(|&&id| self.peer_sets[id] == set))
        {
            return id;
        }
        let id = self.peer_sets.push(set);
        self.peer_ids.entry(hash).or_default().push(id);
        id
    }

    fn compile_rule(
        &mut self,
        rule: &Rule,
        at: PeerRef,
        ns: u32,
        all_id: PeerSetId,
    ) -> CompiledRule {
        let mut ids = Vec::new();
        for (i, peer) in rule.peers.iter().flatten().enumerate() {
            let id = self.peer(&peer.kind, ns);
            let at = PeerRef {
                peer: i as u32,
                ..at
            };
            self.peer_refs.push(CompiledPeer { at, set: id });
            ids.push(id);
        }
        let peers = match rule.peers {
            None => all_id,
            Some(_) => self.union_of(&ids),
        };
        let policy = at.policy;
        let ports = self.port_spec(rule.ports.as_deref());
        CompiledRule {
            policy,
            peers,
            ports,
        }
    }

    /// The peer-set id of the union of peer sets (the set itself for one).
    fn union_of(&mut self, ids: &[PeerSetId]) -> PeerSetId {
        if let [single] = ids {
            return *single;
        }
        let mut set = BitSet::new(self.nodes);
        for &id in ids {
            set.union_with(&self.peer_sets[id]);
        }
        self.intern_peers(set)
    }

    /// The peer-set id of one peer, computed once per distinct peer.
    fn peer(&mut self, kind: &PeerKind, ns: u32) -> PeerSetId {
        let key = match kind {
            PeerKind::Pods { namespaces, .. } => (
                kind.clone(),
                if namespaces.is_some() { u32::MAX } else { ns },
            ),
            PeerKind::IpBlock { .. } => (kind.clone(), u32::MAX),
        };
        if let Some(&id) = self.peer_cache.get(&key) {
            return id;
        }
        let set = match kind {
            PeerKind::Pods { namespaces, pods } => {
                let mut within = match namespaces {
                    None => self.ns_mask(ns),
                    Some(sel) => self.namespaces(sel),
                };
                within.intersect_with(self.selectable);
                match pods {
                    None => within,
                    Some(sel) => self.labels.eval(sel, &within),
                }
            }
            PeerKind::IpBlock { addresses, .. } => {
                let mut set = if self.options.ipblock_skips_nodes {
                    let mut set =
                        self.address_nodes(&addresses.difference(&self.all_node_addresses));
                    // Wherever a name resolves, a block of every IPv4 address holds it.
                    if addresses.has_all_ipv4() {
                        set.insert_range(self.domain_base, self.nodes);
                    }
                    set
                } else {
                    self.address_nodes(addresses)
                };
                if self.options.ipblock_pod_ips {
                    let id = self.ipblock_sets.iter().position(|s| s == addresses);
                    for (i, c) in self.classes.iter().enumerate() {
                        if id.is_some_and(|id| c.ipblocks.contains(&(id as u32))) {
                            set.insert(i);
                        }
                    }
                }
                set
            }
        };
        let id = self.intern_peers(set);
        self.peer_cache.insert(key, id);
        id
    }

    fn namespaces(&mut self, sel: &Selector) -> BitSet {
        if !self.ns_cache.contains_key(sel) {
            let mut all = BitSet::new(self.ns_ranges.len());
            all.insert_range(0, self.ns_ranges.len());
            let matched: Vec<u32> = self
                .ns_labels
                .eval(sel, &all)
                .iter()
                .map(|i| i as u32)
                .collect();
            self.ns_cache.insert(sel.clone(), matched);
        }
        let mut set = BitSet::new(self.nodes);
        for &i in &self.ns_cache[sel] {
            let (lo, hi) = self.ns_ranges[i as usize];
            set.insert_range(lo, hi);
        }
        set
    }

    /// The atoms of an address set, and the domain endpoints when the set holds every
    /// IPv4 address (wherever the name resolves, the set holds it).
    fn address_nodes(&self, addresses: &IpSet) -> BitSet {
        let mut set = BitSet::new(self.nodes);
        for &a in &self.atom_members[self.ip_set_ids[addresses]] {
            set.insert(self.class_count + a as usize);
        }
        if addresses.has_all_ipv4() {
            set.insert_range(self.domain_base, self.nodes);
        }
        set
    }

    /// The classes of one namespace.
    fn ns_mask(&self, ns: u32) -> BitSet {
        let mut set = BitSet::new(self.nodes);
        let (lo, hi) = self.ns_ranges[ns as usize];
        set.insert_range(lo, hi);
        set
    }

    fn intern_spec(&mut self, spec: PortSpec) -> PortSpecId {
        if let Some(&id) = self.spec_ids.get(&spec) {
            return id;
        }
        let id = self.port_specs.push(spec.clone());
        self.spec_ids.insert(spec, id);
        id
    }

    /// The rank of the tier the Admin or Baseline stage is (0 without Calico).
    fn tier_ranks(&self, stage: tiers::Stage) -> u16 {
        let name = match stage {
            tiers::Stage::Admin => "kube-admin",
            _ => "kube-baseline",
        };
        self.calico_tiers
            .iter()
            .position(|t| t.name == name)
            .unwrap_or(0) as u16
    }

    fn port_spec(&mut self, ports: Option<&[PortRule]>) -> PortSpecId {
        let spec = match ports {
            None => PortSpec {
                numeric: PortSetId::ALL,
                named: Vec::new(),
                except: PortSetId::EMPTY,
            },
            Some(entries) => {
                let mut numeric = PortSet::empty();
                let mut named = Vec::new();
                for e in entries {
                    match &e.port {
                        PortMatch::Any => numeric = numeric.union(&PortSet::all_of(e.protocol)),
                        PortMatch::Range(lo, hi) => {
                            numeric = numeric.union(&PortSet::range(e.protocol, *lo, *hi))
                        }
                        PortMatch::Named(n) => named.push((e.protocol, n.clone())),
                    }
                }
                named.sort();
                named.dedup();
                PortSpec {
                    numeric: self.port_sets.intern(numeric),
                    named,
                    except: PortSetId::EMPTY,
                }
            }
        };
        self.intern_spec(spec)
    }
}
