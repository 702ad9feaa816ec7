//! Tiered cluster policies compiled onto the same nodes, peer sets and port specs as
//! NetworkPolicy rules: subjects become class bitsets, peers interned peer sets.

use super::{Builder, CompiledPeer};
use crate::bitset::BitSet;
use crate::ids::{ClusterPolicyId, IdVec, PeerSetId, PortSpecId};
use kubeseg_model::{Action, Cluster, IpSet, PodSet, Selector, Tier, TierPeerKind};
use rustc_hash::FxHashMap as HashMap;

/// Where a rule of the ordered layers sits. Per direction and port: the Admin tier's
/// first match decides or passes; then any `Normal` rule (Cilium's denies) denies; then
/// the union layer (NetworkPolicy and Cilium allows) decides where it isolates; then the
/// Baseline tier's first match; then the port is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// AdminNetworkPolicy, ClusterNetworkPolicy `tier: Admin`.
    Admin,
    /// Cilium's deny rules (CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy).
    Normal,
    /// BaselineAdminNetworkPolicy, ClusterNetworkPolicy `tier: Baseline`.
    Baseline,
}

impl Stage {
    /// `Admin`, `Cilium` or `Baseline`, as reports name the stage.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Admin => "Admin",
            Stage::Normal => "Cilium",
            Stage::Baseline => "Baseline",
        }
    }
}

impl From<Tier> for Stage {
    fn from(tier: Tier) -> Stage {
        match tier {
            Tier::Admin => Stage::Admin,
            Tier::Baseline => Stage::Baseline,
        }
    }
}

/// One compiled rule of a tiered policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierRule {
    /// The cluster policy.
    pub policy: ClusterPolicyId,
    /// Index of the rule in its direction's list.
    pub rule: u32,
    /// The policy's stage.
    pub tier: Stage,
    /// What the rule does.
    pub action: Action,
    /// The peers.
    pub peers: PeerSetId,
    /// The port spec.
    pub ports: PortSpecId,
}

/// One peer of one rule of one tiered policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TierPeerRef {
    /// The cluster policy.
    pub policy: ClusterPolicyId,
    /// Whether the rule is an egress rule.
    pub egress: bool,
    /// Index of the rule in its direction's list.
    pub rule: u32,
    /// Index of the peer in the rule's `from`/`to`.
    pub peer: u32,
}

/// The compiled tiers: the cluster's tiered policies, then (see
/// [`super::cilium::cilium_refs`]) every Cilium spec's deny rules.
#[derive(Default)]
pub struct Tiers {
    /// How many of the ids are `Cluster::cluster_policies`; the rest are Cilium specs.
    pub cluster_count: usize,
    /// Per cluster policy: the classes it applies to.
    pub selected: IdVec<ClusterPolicyId, BitSet>,
    /// Per cluster policy: its ingress rules in order.
    pub ingress: IdVec<ClusterPolicyId, Vec<TierRule>>,
    /// Per cluster policy: its egress rules in order.
    pub egress: IdVec<ClusterPolicyId, Vec<TierRule>>,
    /// Every peer of every rule with its peer-set id, in compile order.
    pub peer_refs: Vec<CompiledPeer<TierPeerRef>>,
}

/// Whether a `domainNames` pattern covers a domain endpoint's name (both normalised).
pub fn domain_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => name.len() > suffix.len() && name.ends_with(suffix),
        None => pattern == name,
    }
}

/// A domain name as compared: lower case, without the final dot.
pub fn normalise_domain(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// What tiered policies need before nodes are laid out: the address sets they name
/// (for the address partition), the domain endpoints, and whether pod IPs matter.
pub struct Prepass {
    /// Address sets of `networks` peers and of the Node objects `nodes` peers select.
    pub ip_sets: Vec<IpSet>,
    /// Per distinct node selector: the addresses of the Nodes it selects.
    pub node_addresses: HashMap<Selector, IpSet>,
    /// Every domain named by a `domainNames` peer, normalised, sorted.
    pub domains: Vec<String>,
    /// The distinct address sets of `networks` peers.
    pub networks: Vec<IpSet>,
    /// Every Node object's addresses.
    pub all_node_addresses: IpSet,
}

impl Prepass {
    /// The indices of the `networks` sets holding a pod: by its known IPs, or when it
    /// has none, the sets holding every IPv4 address.
    pub fn networks_holding(&self, pod: &kubeseg_model::Pod) -> Vec<u32> {
        (0..self.networks.len() as u32)
            .filter(|&i| {
                let set = &self.networks[i as usize];
                if pod.ips.is_empty() {
                    set.has_all_ipv4()
                } else {
                    pod.ips.iter().any(|ip| set.contains(*ip))
                }
            })
            .collect()
    }
}

/// Collects what [`Prepass`] describes.
pub fn prepass(cluster: &Cluster) -> Prepass {
    let mut out = Prepass {
        ip_sets: Vec::new(),
        node_addresses: HashMap::default(),
        domains: Vec::new(),
        networks: Vec::new(),
        all_node_addresses: IpSet::empty(),
    };
    let mut seen: rustc_hash::FxHashSet<&IpSet> = Default::default();
    for p in &cluster.cluster_policies {
        for r in p.ingress.iter().chain(&p.egress) {
            for peer in &r.peers {
                match &peer.kind {
                    TierPeerKind::Networks { addresses, .. } => {
                        if seen.insert(addresses) {
                            out.networks.push(addresses.clone());
                        }
                        out.ip_sets.push(addresses.clone());
                    }
                    TierPeerKind::Nodes(sel) if !out.node_addresses.contains_key(sel) => {
                        let set = cluster
                            .nodes
                            .iter()
                            .filter(|n| sel.matches(&n.labels))
                            .flat_map(|n| &n.addresses)
                            .fold(IpSet::empty(), |acc, ip| acc.union(&IpSet::single(*ip)));
                        out.ip_sets.push(set.clone());
                        out.node_addresses.insert(sel.clone(), set);
                    }
                    TierPeerKind::DomainNames(names) => out
                        .domains
                        .extend(names.iter().map(|n| normalise_domain(n))),
                    TierPeerKind::Pods(_) | TierPeerKind::Nodes(_) => {}
                }
            }
        }
    }
    out.all_node_addresses = super::cilium::node_addresses(cluster);
    if !cluster.cilium_policies.is_empty() {
        cilium_prepass(cluster, &mut out);
    }
    out.domains.sort();
    out.domains.dedup();
    out
}

/// What Cilium's peers add to [`Prepass`]: the outside addresses each one matches
/// (never a node's, unless it names nodes), so the atoms split no further than Cilium's
/// peers tell addresses apart, and their names.
fn cilium_prepass(cluster: &Cluster, out: &mut Prepass) {
    use kubeseg_model::CiliumPeerKind;
    for p in &cluster.cilium_policies {
        for spec in &p.specs {
            if matches!(spec.subject, kubeseg_model::CiliumSubject::Nodes(_)) {
                continue;
            }
            let rules = [
                &spec.ingress,
                &spec.egress,
                &spec.ingress_deny,
                &spec.egress_deny,
            ];
            for peer in rules.into_iter().flatten().flat_map(|r| &r.peers) {
                if let CiliumPeerKind::Fqdns(names) = &peer.kind {
                    out.domains.extend(names.iter().cloned());
                }
                if let CiliumPeerKind::Nodes(sel) = &peer.kind
                    && !out.node_addresses.contains_key(sel)
                {
                    let set = super::cilium::selected_node_addresses(cluster, sel);
                    out.node_addresses.insert(sel.clone(), set);
                }
                let nodes = &out.all_node_addresses;
                if let Some(set) = super::cilium::outside_addresses(&peer.kind, nodes, cluster) {
                    out.ip_sets.push(set);
                }
            }
        }
    }
}

impl Builder<'_> {
    /// Compiles every tiered policy.
    pub(super) fn tiers(&mut self, cluster: &Cluster) -> Tiers {
        let mut t = Tiers {
            cluster_count: cluster.cluster_policies.len(),
            ..Tiers::default()
        };
        let mut cache: HashMap<TierPeerKind, PeerSetId> = HashMap::default();
        for (pi, p) in cluster.cluster_policies.iter().enumerate() {
            let pi = ClusterPolicyId::from(pi);
            t.selected.push(self.pod_set(&p.subject));
            for (egress, rules) in [(false, &p.ingress), (true, &p.egress)] {
                let mut compiled = Vec::with_capacity(rules.len());
                for (ri, r) in rules.iter().enumerate() {
                    let mut ids = Vec::with_capacity(r.peers.len());
                    for (i, peer) in r.peers.iter().enumerate() {
                        let id = match cache.get(&peer.kind) {
                            Some(&id) => id,
                            None => {
                                let set = self.tier_peer(&peer.kind);
                                let id = self.intern_peers(set);
                                cache.insert(peer.kind.clone(), id);
                                id
                            }
                        };
                        let at = TierPeerRef {
                            policy: pi,
                            egress,
                            rule: ri as u32,
                            peer: i as u32,
                        };
                        t.peer_refs.push(CompiledPeer { at, set: id });
                        ids.push(id);
                    }
                    let peers = self.union_of(&ids);
                    compiled.push(TierRule {
                        policy: pi,
                        rule: ri as u32,
                        tier: p.tier.into(),
                        action: r.action,
                        peers,
                        ports: self.port_spec(r.ports.as_deref()),
                    });
                }
                if egress {
                    t.egress.push(compiled);
                } else {
                    t.ingress.push(compiled);
                }
            }
        }
        t
    }

    /// The selectable classes of a namespace selector and a pod selector.
    pub(super) fn pod_set(&mut self, set: &PodSet) -> BitSet {
        let mut within = self.namespaces(&set.namespaces);
        within.intersect_with(&self.selectable);
        self.labels.eval(&set.pods, &within)
    }

    fn tier_peer(&mut self, kind: &TierPeerKind) -> BitSet {
        match kind {
            TierPeerKind::Pods(set) => self.pod_set(set),
            TierPeerKind::Networks { addresses, .. } => {
                let mut set = self.address_nodes(addresses);
                // Networks hold pod addresses too (see `Prepass::networks_holding`).
                let id = self.networks.iter().position(|n| n == addresses);
                for (i, c) in self.classes.iter().enumerate() {
                    if id.is_some_and(|id| c.networks.contains(&(id as u32))) {
                        set.insert(i);
                    }
                }
                set
            }
            TierPeerKind::Nodes(sel) => {
                let addresses = self.node_addresses[sel].clone();
                let mut set = BitSet::new(self.nodes);
                for &a in &self.atom_members[self.ip_set_ids[&addresses]] {
                    set.insert(self.class_count + a as usize);
                }
                set
            }
            TierPeerKind::DomainNames(patterns) => {
                let mut set = BitSet::new(self.nodes);
                for (i, name) in self.domains.iter().enumerate() {
                    if patterns
                        .iter()
                        .any(|p| domain_matches(&normalise_domain(p), name))
                    {
                        set.insert(self.domain_base + i);
                    }
                }
                set
            }
        }
    }
}
