//! Tiered cluster policies compiled onto the same nodes, peer sets and port specs as
//! NetworkPolicy rules: subjects become class bitsets, peers interned peer sets.

use super::{Builder, CompiledPeer};
use crate::bitset::BitSet;
use crate::ids::{ClusterPolicyId, IdVec, PeerSetId, PortSpecId};
use kubeseg_model::{Action, Cluster, IpSet, PodSet, Selector, Tier, TierPeerKind};
use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;

/// Where a rule of the ordered layers sits: the policy IR's tiers. Per direction and
/// port, tiers are walked in order, each deciding by its first matching rule (Allow,
/// Deny) or passing the port on, and ending with its default where it applies. One
/// tier holds the union layer (NetworkPolicy and Cilium allows, which add up): its rules
/// before that block are `Pre`, after it `Post`, and where the union layer isolates,
/// what the tier leaves is denied. Tiers before it are `Before`, after it `After`; past
/// the last tier a pod's port is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// AdminNetworkPolicy, ClusterNetworkPolicy `tier: Admin` (Calico's `kube-admin`).
    Admin,
    /// Cilium's deny rules (CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy),
    /// before the union block of the union layer's tier.
    Normal,
    /// BaselineAdminNetworkPolicy, ClusterNetworkPolicy `tier: Baseline` (Calico's
    /// `kube-baseline`).
    Baseline,
    /// A Calico tier ordered before `default` (its rank among Calico's tiers).
    CalicoBefore(u16),
    /// Calico's `default` tier, before the Kubernetes NetworkPolicies (order < 1000).
    CalicoPre,
    /// Calico's `default` tier, after the Kubernetes NetworkPolicies.
    CalicoPost,
    /// A Calico tier ordered after `default` (its rank among Calico's tiers).
    CalicoAfter(u16),
}

/// Which part of the walk a stage is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// A tier before the union layer's.
    Before,
    /// The union layer's tier, before the union block.
    Pre,
    /// The union layer's tier, after the union block.
    Post,
    /// A tier after the union layer's.
    After,
}

impl Stage {
    /// `Admin`, `Cilium`, `Baseline` or `Calico`, as reports name the stage.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Admin => "Admin",
            Stage::Normal => "Cilium",
            Stage::Baseline => "Baseline",
            Stage::CalicoBefore(_)
            | Stage::CalicoPre
            | Stage::CalicoPost
            | Stage::CalicoAfter(_) => "Calico",
        }
    }

    /// Whether it is a Calico tier's.
    pub fn is_calico(self) -> bool {
        matches!(
            self,
            Stage::CalicoBefore(_) | Stage::CalicoPre | Stage::CalicoPost | Stage::CalicoAfter(_)
        )
    }

    /// The part of the walk it is in.
    pub fn region(self) -> Region {
        match self {
            Stage::Admin | Stage::CalicoBefore(_) => Region::Before,
            Stage::Normal | Stage::CalicoPre => Region::Pre,
            Stage::CalicoPost => Region::Post,
            Stage::Baseline | Stage::CalicoAfter(_) => Region::After,
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

/// The evaluation-order key of rule `rule` of the `policy`-th policy of a tier of rank
/// `rank` in `stage`'s region.
pub fn order_key(stage: Stage, rank: u16, policy: usize, rule: usize) -> u64 {
    let region = match stage.region() {
        Region::Before => 0u64,
        Region::Pre => 1,
        Region::Post => 2,
        Region::After => 3,
    };
    (region << 60)
        | ((rank as u64) << 44)
        | ((policy as u64 & 0xff_ffff) << 20)
        | (rule as u64 & 0xf_ffff)
}

/// The rules of `policies` in evaluation order, a tier's end once.
pub fn in_order(
    policies: impl Iterator<Item = ClusterPolicyId>,
    lists: &IdVec<ClusterPolicyId, Vec<TierRule>>,
) -> Vec<TierRule> {
    let mut rules: Vec<TierRule> = policies.flat_map(|p| lists[p].iter().copied()).collect();
    rules.sort_by_key(|r| r.key);
    // Every policy of a tier carries the tier's end; one is enough.
    rules.dedup_by(|a, b| a.end && b.end && a.key == b.key);
    rules
}

/// The key of a tier's end, after every rule of that tier.
pub fn end_key(stage: Stage, rank: u16) -> u64 {
    order_key(stage, rank, 0xff_ffff, 0xf_ffff)
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
    /// Where it comes in the walk: rules are evaluated in ascending `key` order.
    pub key: u64,
    /// A tier's end (`action` Deny: what the tier left is denied; Pass: nothing), which
    /// matches every peer and port; it follows the rules of a tier that applies.
    pub end: bool,
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
    /// How many of the ids are `Cluster::cluster_policies`; Cilium specs follow
    /// (`cilium_count` of them), then Calico policies.
    pub cluster_count: usize,
    /// How many ids are Cilium specs.
    pub cilium_count: usize,
    /// Per id: whether the policy makes its tier isolate egress where it applies
    /// (Calico policies of the `default` tier, which holds the union layer).
    pub isolates_egress: IdVec<ClusterPolicyId, bool>,
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
    /// The distinct address sets of `networks` peers and of Calico's nets and network
    /// sets.
    pub networks: Vec<IpSet>,
    /// Per `networks` set: how rules use it.
    pub network_use: Vec<NetworkUse>,
    /// The `networks` sets by IPv4 piece.
    pub v4_atoms: V4Atoms,
    /// [`Prepass::networks_holding`] of a pod whose IP is unknown.
    networks_unknown: (Vec<u32>, Vec<u32>),
    /// The ipBlock sets by IPv4 piece.
    ipblock_atoms: V4Atoms,
    /// [`Prepass::ipblocks_holding`] of a pod whose IP is unknown.
    ipblocks_unknown: Vec<u32>,
    /// Every Node object's addresses.
    pub all_node_addresses: IpSet,
    /// Whether a Calico selector tests `projectcalico.org/serviceaccount`.
    pub calico_service_accounts: bool,
    /// The distinct address sets of NetworkPolicy ipBlocks.
    pub ipblock_sets: Vec<IpSet>,
}

impl Prepass {
    /// The indices of the ipBlock sets holding one of a pod's known IPs (a pod whose
    /// IP is unknown: those holding every address it may get, every IPv4 address).
    pub fn ipblocks_holding(&self, pod: &kubeseg_model::Pod) -> Vec<u32> {
        if pod.ips.is_empty() {
            return self.ipblocks_unknown.clone();
        }
        self.ipblock_atoms.holding(&self.ipblock_sets, &pod.ips)
    }

    /// The `networks` sets a pod is in (indices), and those it may be in, for its key.
    /// A pod with known IPs is in the sets holding one, and the second list is empty.
    /// A pod whose IP is unknown is in a set that only includes when every address it
    /// may get is in it, and in a set that only excludes (`notNets`) when some may be:
    /// it matches an address condition only when it would whatever address it gets.
    /// A set used both ways is listed first by the former, second by the latter
    /// (when the two differ). Keying on how each set is used keeps a pod whose IP is
    /// unknown in its siblings' class wherever they cannot differ.
    pub fn networks_holding(&self, pod: &kubeseg_model::Pod) -> (Vec<u32>, Vec<u32>) {
        if pod.ips.is_empty() {
            return self.networks_unknown.clone();
        }
        (self.v4_atoms.holding(&self.networks, &pod.ips), Vec::new())
    }

    /// [`Prepass::networks_holding`] of a pod whose IP is unknown.
    fn networks_of_unknown(&self) -> (Vec<u32>, Vec<u32>) {
        let mut sure = Vec::new();
        let mut maybe = Vec::new();
        for (i, set) in self.networks.iter().enumerate() {
            let i = i as u32;
            let (certain, possible) = (set.has_all_ipv4(), set.has_ipv4());
            match self.network_use[i as usize] {
                NetworkUse::Includes if certain => sure.push(i),
                NetworkUse::Excludes if possible => sure.push(i),
                NetworkUse::Both if certain => sure.push(i),
                NetworkUse::Both if possible => maybe.push(i),
                _ => {}
            }
        }
        (sure, maybe)
    }
}

/// The IPv4 space cut where any `networks` set starts or ends, with the sets holding
/// each piece, so a pod's sets are found by one search on its address.
#[derive(Default)]
pub struct V4Atoms {
    /// The first address of each piece, ascending (the first is 0).
    starts: Vec<u32>,
    /// Per piece: the indices of the sets holding it, ascending.
    holding: Vec<Vec<u32>>,
}

impl V4Atoms {
    fn of(networks: &[IpSet]) -> Self {
        let mut starts = vec![0u32];
        for set in networks {
            for &(lo, hi) in set.v4.ranges() {
                starts.push(lo);
                if let Some(next) = hi.checked_add(1) {
                    starts.push(next);
                }
            }
        }
        starts.sort_unstable();
        starts.dedup();
        let mut holding = vec![Vec::new(); starts.len()];
        for (i, set) in networks.iter().enumerate() {
            for &(lo, hi) in set.v4.ranges() {
                let first = starts.partition_point(|&s| s < lo);
                for (piece, &start) in starts.iter().enumerate().skip(first) {
                    if start > hi {
                        break;
                    }
                    holding[piece].push(i as u32);
                }
            }
        }
        V4Atoms { starts, holding }
    }

    /// The indices of the `sets` (those this was made of) holding one of `ips`,
    /// ascending.
    fn holding(&self, sets: &[IpSet], ips: &[IpAddr]) -> Vec<u32> {
        let mut out = Vec::new();
        for ip in ips {
            match ip {
                IpAddr::V4(v4) => {
                    let v4 = u32::from(*v4);
                    let piece = self.starts.partition_point(|&s| s <= v4) - 1;
                    out.extend_from_slice(&self.holding[piece]);
                }
                IpAddr::V6(_) => {
                    out.extend((0..sets.len() as u32).filter(|&i| sets[i as usize].contains(*ip)))
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Whether a pod's address is in `set`: by its known IPs, or when it has none, when
/// every address it may get is (the set holds every IPv4 address).
pub fn pod_in(set: &IpSet, pod: &kubeseg_model::Pod) -> bool {
    if pod.ips.is_empty() {
        set.has_all_ipv4()
    } else {
        pod.ips.iter().any(|ip| set.contains(*ip))
    }
}

/// How rules use a `networks` address set: to include addresses, to exclude them
/// (Calico's `notNets`), or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkUse {
    /// Only to include.
    Includes,
    /// Only to exclude.
    Excludes,
    /// Both.
    Both,
}

impl NetworkUse {
    fn and(self, excludes: bool) -> Self {
        match (self, excludes) {
            (NetworkUse::Includes, false) | (NetworkUse::Excludes, true) => self,
            _ => NetworkUse::Both,
        }
    }
}

/// Collects what [`Prepass`] describes.
pub fn prepass(cluster: &Cluster) -> Prepass {
    let mut out = Prepass {
        ip_sets: Vec::new(),
        node_addresses: HashMap::default(),
        domains: Vec::new(),
        networks: Vec::new(),
        network_use: Vec::new(),
        v4_atoms: V4Atoms::default(),
        networks_unknown: Default::default(),
        ipblock_atoms: V4Atoms::default(),
        ipblocks_unknown: Vec::new(),
        all_node_addresses: IpSet::empty(),
        calico_service_accounts: super::calico::tests_service_accounts(cluster),
        ipblock_sets: Vec::new(),
    };
    for p in &cluster.policies {
        for r in p.ingress.iter().chain(&p.egress) {
            for peer in r.peers.iter().flatten() {
                if let kubeseg_model::PeerKind::IpBlock { addresses, .. } = &peer.kind
                    && !out.ipblock_sets.contains(addresses)
                {
                    out.ipblock_sets.push(addresses.clone());
                }
            }
        }
    }
    let mut seen: rustc_hash::FxHashSet<&IpSet> = Default::default();
    for p in &cluster.cluster_policies {
        for r in p.ingress.iter().chain(&p.egress) {
            for peer in &r.peers {
                match &peer.kind {
                    TierPeerKind::Networks { addresses, .. } => {
                        if seen.insert(addresses) {
                            out.networks.push(addresses.clone());
                            out.network_use.push(NetworkUse::Includes);
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
    // Calico's nets match pod addresses, so they split classes as `networks` do.
    let mut at: HashMap<IpSet, usize> = out
        .networks
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), i))
        .collect();
    for (set, excludes) in super::calico::calico_address_sets(cluster) {
        match at.get(&set) {
            Some(&i) => out.network_use[i] = out.network_use[i].and(excludes),
            None => {
                at.insert(set.clone(), out.networks.len());
                out.networks.push(set.clone());
                out.network_use.push(if excludes {
                    NetworkUse::Excludes
                } else {
                    NetworkUse::Includes
                });
            }
        }
        out.ip_sets.push(set);
    }
    if !cluster.cilium_policies.is_empty() {
        cilium_prepass(cluster, &mut out);
    }
    out.domains.sort();
    out.domains.dedup();
    out.v4_atoms = V4Atoms::of(&out.networks);
    out.networks_unknown = out.networks_of_unknown();
    out.ipblock_atoms = V4Atoms::of(&out.ipblock_sets);
    out.ipblocks_unknown = (0..out.ipblock_sets.len() as u32)
        .filter(|&i| out.ipblock_sets[i as usize].has_all_ipv4())
        .collect();
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
            t.isolates_egress.push(false);
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
                    let tier = Stage::from(p.tier);
                    compiled.push(TierRule {
                        policy: pi,
                        rule: ri as u32,
                        tier,
                        action: r.action,
                        key: order_key(tier, self.tier_ranks(tier), pi.index(), ri),
                        end: false,
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
        within.intersect_with(self.selectable);
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
