//! Cilium's policies lowered onto the two layers every dialect shares: their allow
//! rules join the union layer beside NetworkPolicy rules (a spec isolates only where it
//! sets default deny), and their deny rules form the `Normal` stage, between the Admin
//! tier and the union layer, where any match denies.

use super::tiers::{Stage, TierPeerRef, TierRule};
use super::{Builder, CompiledPeer, CompiledRule, PeerRef};
use crate::bitset::BitSet;
use crate::ids::{ClusterPolicyId, PeerSetId, PolicyId};
use kubeseg_model::{CiliumPeerKind, CiliumRule, CiliumSubject, Cluster, Entity, IpSet, Selector};
use rustc_hash::FxHashMap as HashMap;

/// One Cilium spec, as the union layer and the `Normal` stage number it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CiliumRef {
    /// Index into `Cluster::cilium_policies`.
    pub policy: u32,
    /// Index into its `specs`.
    pub spec: u32,
}

/// Every Cilium spec of the cluster, in order.
pub fn cilium_refs(cluster: &Cluster) -> Vec<CiliumRef> {
    let mut out = Vec::new();
    for (p, policy) in cluster.cilium_policies.iter().enumerate() {
        for s in 0..policy.specs.len() {
            out.push(CiliumRef {
                policy: p as u32,
                spec: s as u32,
            });
        }
    }
    out
}

/// Whether a Cilium `matchPattern` (or `matchName`) covers a domain endpoint's name
/// (both normalised): `*` stands for any run of characters allowed in a DNS label, and
/// a lone `*` for every name (Cilium's `matchpattern` package).
pub fn cilium_pattern_matches(pattern: &str, name: &str) -> bool {
    if pattern == "*" || pattern == name {
        return true;
    }
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => {
                let mut i = 0;
                loop {
                    if go(rest, &n[i..]) {
                        return true;
                    }
                    match n.get(i) {
                        Some(c) if c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_' => i += 1,
                        _ => return false,
                    }
                }
            }
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// Every address of every Node object.
pub fn node_addresses(cluster: &Cluster) -> IpSet {
    cluster
        .nodes
        .iter()
        .flat_map(|n| &n.addresses)
        .fold(IpSet::empty(), |acc, ip| acc.union(&IpSet::single(*ip)))
}

/// The addresses of the Node objects a selector picks.
pub fn selected_node_addresses(cluster: &Cluster, sel: &Selector) -> IpSet {
    cluster
        .nodes
        .iter()
        .filter(|n| sel.matches(&n.labels))
        .flat_map(|n| &n.addresses)
        .fold(IpSet::empty(), |acc, ip| acc.union(&IpSet::single(*ip)))
}

/// The outside addresses a Cilium peer matches (`None`: none by address): CIDRs and
/// `world` never hold a node's addresses, which have identities of their own.
pub fn outside_addresses(kind: &CiliumPeerKind, nodes: &IpSet, cluster: &Cluster) -> Option<IpSet> {
    Some(match kind {
        CiliumPeerKind::Cidr { addresses, .. } => addresses.difference(nodes),
        CiliumPeerKind::Entity(Entity::World) => IpSet::all().difference(nodes),
        CiliumPeerKind::Entity(Entity::WorldIpv4) => all_ipv4().difference(nodes),
        CiliumPeerKind::Entity(Entity::WorldIpv6) => {
            IpSet::all().difference(&all_ipv4()).difference(nodes)
        }
        CiliumPeerKind::Entity(Entity::Cluster | Entity::Host | Entity::RemoteNode) => {
            nodes.clone()
        }
        CiliumPeerKind::Nodes(sel) => selected_node_addresses(cluster, sel),
        _ => return None,
    })
}

/// Every IPv4 address.
pub fn all_ipv4() -> IpSet {
    IpSet::all().intersect(
        &kubeseg_model::Cidr::parse("0.0.0.0/0")
            .expect("a valid CIDR")
            .to_set(),
    )
}

/// The compiled Cilium specs: union-layer entries and `Normal`-stage rules.
pub(super) struct CompiledCilium {
    /// Per spec: the classes it selects.
    pub selected: Vec<BitSet>,
    /// Per spec: whether it puts them into default deny for (ingress, egress).
    pub default_deny: Vec<(bool, bool)>,
    /// Allow rules of ingress, tagged with the spec's union-layer policy id.
    pub ingress_allows: Vec<CompiledRule>,
    /// Per spec: its egress allow rules.
    pub egress_allows: Vec<Vec<CompiledRule>>,
    /// Per spec: its ingress deny rules.
    pub ingress_denies: Vec<Vec<TierRule>>,
    /// Per spec: its egress deny rules.
    pub egress_denies: Vec<Vec<TierRule>>,
    /// Every peer of every deny rule.
    pub deny_peer_refs: Vec<CompiledPeer<TierPeerRef>>,
}

impl Builder<'_> {
    /// Compiles every Cilium spec: union-layer policy ids follow the NetworkPolicies'
    /// (`first_policy` on), `Normal`-stage ids follow the tiered policies'
    /// (`first_tiered` on), both in [`cilium_refs`] order.
    pub(super) fn cilium(
        &mut self,
        cluster: &Cluster,
        first_policy: usize,
        first_tiered: usize,
    ) -> CompiledCilium {
        let mut out = CompiledCilium {
            selected: Vec::new(),
            default_deny: Vec::new(),
            ingress_allows: Vec::new(),
            egress_allows: Vec::new(),
            ingress_denies: Vec::new(),
            egress_denies: Vec::new(),
            deny_peer_refs: Vec::new(),
        };
        let mut cache: HashMap<CiliumPeerKind, PeerSetId> = HashMap::default();
        for (i, r) in cilium_refs(cluster).into_iter().enumerate() {
            let spec = &cluster.cilium_policies[r.policy as usize].specs[r.spec as usize];
            // A host policy selects no pod: its rules are never consulted, so they are
            // not compiled (the prepass skipped their addresses too).
            let (selected, host) = match &spec.subject {
                CiliumSubject::Pods(set) => (self.pod_set(set), false),
                CiliumSubject::Nodes(_) => (BitSet::new(self.nodes), true),
            };
            let no_rules = Vec::new();
            let rules_of = |rules| if host { &no_rules } else { rules };
            out.selected.push(selected);
            out.default_deny
                .push((spec.default_deny_ingress, spec.default_deny_egress));
            let policy = PolicyId::from(first_policy + i);
            let tiered = ClusterPolicyId::from(first_tiered + i);
            for (egress, rules) in [(false, &spec.ingress), (true, &spec.egress)] {
                let rules = rules_of(rules);
                let mut compiled = Vec::with_capacity(rules.len());
                for (ri, rule) in rules.iter().enumerate() {
                    let (peers, each) = self.cilium_peers(rule, &mut cache);
                    for (peer, set) in each.into_iter().enumerate() {
                        let at = PeerRef {
                            policy,
                            egress,
                            rule: ri as u32,
                            peer: peer as u32,
                        };
                        self.peer_refs.push(CompiledPeer { at, set });
                    }
                    let ports = self.port_spec(rule.ports.as_deref());
                    compiled.push(CompiledRule {
                        policy,
                        peers,
                        ports,
                    });
                }
                if egress {
                    out.egress_allows.push(compiled);
                } else {
                    out.ingress_allows.extend(compiled);
                }
            }
            for (egress, rules) in [(false, &spec.ingress_deny), (true, &spec.egress_deny)] {
                let rules = rules_of(rules);
                let mut compiled = Vec::with_capacity(rules.len());
                for (ri, rule) in rules.iter().enumerate() {
                    let (peers, each) = self.cilium_peers(rule, &mut cache);
                    for (peer, set) in each.into_iter().enumerate() {
                        let at = TierPeerRef {
                            policy: tiered,
                            egress,
                            rule: ri as u32,
                            peer: peer as u32,
                        };
                        out.deny_peer_refs.push(CompiledPeer { at, set });
                    }
                    compiled.push(TierRule {
                        policy: tiered,
                        rule: ri as u32,
                        tier: Stage::Normal,
                        action: kubeseg_model::Action::Deny,
                        key: super::tiers::order_key(Stage::Normal, 0, i, ri),
                        end: false,
                        peers,
                        ports: self.port_spec(rule.ports.as_deref()),
                    });
                }
                if egress {
                    out.egress_denies.push(compiled);
                } else {
                    out.ingress_denies.push(compiled);
                }
            }
        }
        out
    }

    /// The union of a rule's peers (none: the empty set), and each peer's own set.
    fn cilium_peers(
        &mut self,
        rule: &CiliumRule,
        cache: &mut HashMap<CiliumPeerKind, PeerSetId>,
    ) -> (PeerSetId, Vec<PeerSetId>) {
        let mut ids = Vec::with_capacity(rule.peers.len());
        for peer in &rule.peers {
            let id = match cache.get(&peer.kind) {
                Some(&id) => id,
                None => {
                    let set = self.cilium_peer(&peer.kind);
                    let id = self.intern_peers(set);
                    cache.insert(peer.kind.clone(), id);
                    id
                }
            };
            ids.push(id);
        }
        let union = if ids.is_empty() {
            self.intern_peers(BitSet::new(self.nodes))
        } else {
            self.union_of(&ids)
        };
        (union, ids)
    }

    /// The nodes one Cilium peer matches.
    fn cilium_peer(&mut self, kind: &CiliumPeerKind) -> BitSet {
        let mut set = BitSet::new(self.nodes);
        match kind {
            CiliumPeerKind::All => set.insert_range(0, self.nodes),
            CiliumPeerKind::Pods(pods) => set = self.pod_set(pods),
            CiliumPeerKind::Cidr { .. } | CiliumPeerKind::Entity(_) | CiliumPeerKind::Nodes(_) => {
                if let Some(addresses) =
                    outside_addresses(kind, &self.all_node_addresses, self.cluster)
                {
                    for &a in &self.atom_members[self.ip_set_ids[&addresses]] {
                        set.insert(self.class_count + a as usize);
                    }
                }
                // Wherever a name resolves, `world` (and its IPv4 half, as an IPv4 block
                // holding every address would) and a CIDR holding every IPv4 address hold it.
                let names = match kind {
                    CiliumPeerKind::Cidr { addresses, .. } => addresses.has_all_ipv4(),
                    CiliumPeerKind::Entity(e) => matches!(e, Entity::World | Entity::WorldIpv4),
                    _ => false,
                };
                if names {
                    set.insert_range(self.domain_base, self.nodes);
                }
                match kind {
                    CiliumPeerKind::Entity(Entity::Cluster) => {
                        set.insert_range(0, self.class_count)
                    }
                    CiliumPeerKind::Entity(Entity::Host | Entity::RemoteNode) => {
                        for (i, c) in self.classes.iter().enumerate() {
                            if c.host_network {
                                set.insert(i);
                            }
                        }
                    }
                    _ => {}
                }
            }
            CiliumPeerKind::Fqdns(patterns) => {
                for (i, name) in self.domains.iter().enumerate() {
                    if patterns.iter().any(|p| cilium_pattern_matches(p, name)) {
                        set.insert(self.domain_base + i);
                    }
                }
            }
        }
        set
    }
}
