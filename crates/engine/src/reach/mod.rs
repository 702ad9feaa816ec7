//! Rows of the reachability matrix: for one source, the allowed ports toward every
//! destination. Work is per source *signature* (the egress policies that select it
//! and the ingress peer sets that contain it) and per destination *ingress profile*
//! (the peer sets and ports of the rules that isolate it), never per pod pair.

mod parallel;
mod tiers;

use crate::bitset::BitSet;
use crate::ids::{ClusterPolicyId, PeerSetId, PolicyId, PortSpecId};
use crate::index::{Endpoint, Index};
use crate::portsets::{PortSetId, PortSets};
use kubeseg_model::Protocol;
pub use parallel::RowWorker;
use rustc_hash::FxHashMap as HashMap;
pub use tiers::Decision;

/// Destinations isolated by the same ingress policies.
struct Profile {
    /// Rules without named ports: (dense peer-set index, ports), merged per peer set.
    numeric: Vec<(u32, PortSetId)>,
    /// Named ports of rules: (dense peer-set index, named-port id), sorted.
    named: Vec<(u32, u32)>,
    /// The destinations, grouped by port profile: (port profile, a representative node, nodes).
    destinations: Vec<(u32, usize, Vec<u32>)>,
}

/// What a profile entry contributes when its peer set holds the source.
#[derive(Clone, Copy)]
enum Entry {
    /// Numeric ports.
    Ports(PortSetId),
    /// A named port, resolved per destination port profile.
    Named(u32),
}

/// Cached egress vectors are dropped when they hold more cells than this.
const EGRESS_CACHE_CELLS: usize = 1 << 26;

/// Reachability over a compiled cluster.
pub struct Reachability {
    /// The compiled cluster.
    pub index: Index,
    /// How rows are computed: what never changes once built.
    plan: Plan,
    /// The rows computed on the calling thread: their port sets and memos.
    state: RowState,
    /// Threads for [`Reachability::par_for_each_ordered`].
    threads: usize,
}

/// The read-only layout rows are computed from, shared by every thread.
struct Plan {
    /// Ingress profiles of the ingress-isolated destinations that have rules.
    profiles: Vec<Profile>,
    /// Named ports (protocol, name) by id.
    named_ports: Vec<(Protocol, String)>,
    /// Per dense ingress peer set: (profile, entry) pairs.
    by_peer_set: Vec<Vec<(u32, Entry)>>,
    /// Per node: (its profile, its group in the profile's destinations); `u32::MAX`
    /// for a node no profile holds.
    node_profile: Vec<(u32, u32)>,
    /// The tiered ingress rules.
    tier_ingress: tiers::TierIngress,
    /// Sources whose egress some NetworkPolicy or tiered policy restricts.
    egress_affected: BitSet,
    /// Per node: the (dense) ingress peer sets it belongs to.
    membership: Vec<BitSet>,
    /// Per node: its membership interned (nodes with equal ids have equal ingress
    /// sides of their rows).
    ingress_key: Vec<u32>,
    /// Per node: its egress signature (the egress-isolating policies selecting it).
    egress_signature: Vec<u32>,
    /// Per egress signature: the policies.
    egress_policies: Vec<Vec<u32>>,
    /// The ingress side before any rule: ALL where not ingress-isolated.
    ingress_base: Vec<PortSetId>,
    /// Per node: its source signature id.
    signature: Vec<u32>,
    /// Per node: the endpoint it belongs to (`u32::MAX`: none).
    node_endpoint: Vec<u32>,
    signature_count: usize,
}

/// Port sets interned while rows are computed, with rule ports resolved per port
/// profile. Each thread has its own: ids above the compiled ones are its own.
pub struct Interner {
    /// The table.
    pub sets: PortSets,
    /// Resolved rule ports by (port spec, port profile).
    resolved: HashMap<(PortSpecId, u32), PortSetId>,
}

impl Interner {
    /// The ports of `spec` toward destination node `dst`, named ports resolved there.
    pub fn resolve(&mut self, index: &Index, spec: PortSpecId, dst: usize) -> PortSetId {
        let s = &index.port_specs[spec];
        if s.named.is_empty() {
            return s.numeric;
        }
        let key = (spec, index.port_profile(dst));
        if let Some(&id) = self.resolved.get(&key) {
            return id;
        }
        let id = self.sets.intern(index.spec_ports(spec, dst));
        self.resolved.insert(key, id);
        id
    }
}

/// What the egress policies of a source allow toward every node.
enum Egress {
    /// Per node.
    Dense(Vec<PortSetId>),
    /// `rest` toward every node but those of `cells`, which name their own.
    Uniform {
        rest: PortSetId,
        cells: Vec<(u32, PortSetId)>,
    },
}

impl Egress {
    /// The cells it holds, to bound a cache of them.
    fn cells(&self) -> usize {
        match self {
            Egress::Dense(v) => v.len(),
            Egress::Uniform { cells, .. } => cells.len() + 1,
        }
    }
}

/// What one thread keeps between rows: its port sets, memos and scratch.
struct RowState {
    interner: Interner,
    /// Resolved named ports by (named-port id, port profile).
    named_resolved: HashMap<(u32, u32), PortSetId>,
    /// The tiered egress decisions per (tiered policies, whether a NetworkPolicy isolates).
    tier_egress: HashMap<(Vec<u32>, bool), std::sync::Arc<tiers::EgressDecisions>>,
    tier_scratch: tiers::TierScratch,
    /// Per node, the tiered egress decisions being made (see `tiers::egress_decisions`).
    egress_scratch: Vec<tiers::Decision>,
    /// Egress vectors by egress signature, bounded by `egress_cells`.
    egress_cache: HashMap<u32, Egress>,
    /// The cells `egress_cache` holds.
    egress_cached: usize,
    egress_cells: usize,
    /// Scratch for one row: the cells an `Egress::Uniform` sets apart.
    egress_kept: Vec<(u32, PortSetId)>,
    /// The ingress side of the last row (before egress) with its `ingress_key`:
    /// rows taken in key order compute each ingress side once.
    ingress_memo: (u32, Vec<PortSetId>),
    /// Per profile, scratch for one row: numeric union and named ports seen.
    profile_ports: Vec<PortSetId>,
    profile_names: Vec<Vec<u32>>,
}

impl RowState {
    fn new(plan: &Plan, sets: PortSets, egress_cells: usize) -> Self {
        RowState {
            interner: Interner {
                sets,
                resolved: HashMap::default(),
            },
            named_resolved: HashMap::default(),
            tier_egress: HashMap::default(),
            tier_scratch: plan.tier_ingress.scratch(),
            egress_scratch: Vec::new(),
            ingress_memo: (u32::MAX, Vec::new()),
            egress_cache: HashMap::default(),
            egress_cached: 0,
            egress_cells,
            egress_kept: Vec::new(),
            profile_ports: vec![PortSetId::EMPTY; plan.profiles.len()],
            profile_names: vec![Vec::new(); plan.profiles.len()],
        }
    }
}

impl Reachability {
    /// Prepares row computation.
    pub fn new(mut index: Index) -> Self {
        let nodes = index.nodes;
        let policy_count = index.selected.len();
        let mut rules_of: Vec<Vec<usize>> = vec![Vec::new(); policy_count];
        for (i, r) in index.ingress_rules.iter().enumerate() {
            rules_of[r.policy.index()].push(i);
        }
        // Ingress: per isolated node, the union-layer policies with rules selecting it
        // (where nothing isolates, everything is open and rules add nothing).
        let mut ingress_policies: Vec<Vec<u32>> = vec![Vec::new(); nodes];
        for (p, rules) in rules_of.iter().enumerate() {
            if !rules.is_empty() {
                for c in index.selected[PolicyId::from(p)].iter() {
                    if index.ingress_isolated.contains(c) {
                        ingress_policies[c].push(p as u32);
                    }
                }
            }
        }
        let mut dense: HashMap<PeerSetId, u32> = HashMap::default();
        let mut used: Vec<PeerSetId> = Vec::new();
        let mut tier_ingress = tiers::TierIngress::new(&index, &mut dense, &mut used);
        let mut profile_ids: HashMap<&[u32], usize> = HashMap::default();
        let mut profiles: Vec<Profile> = Vec::new();
        let mut by_port_profile: Vec<HashMap<u32, usize>> = Vec::new();
        let mut named_ids: HashMap<(Protocol, String), u32> = HashMap::default();
        let mut named_ports: Vec<(Protocol, String)> = Vec::new();
        for (d, policies) in ingress_policies.iter().enumerate() {
            if policies.is_empty() {
                continue;
            }
            let id = match profile_ids.get(policies.as_slice()) {
                Some(&id) => id,
                None => {
                    let mut numeric: Vec<(u32, PortSetId)> = Vec::new();
                    let mut named: Vec<(u32, u32)> = Vec::new();
                    for &p in policies {
                        for &ri in &rules_of[p as usize] {
                            let (peers, spec) =
                                (index.ingress_rules[ri].peers, index.ingress_rules[ri].ports);
                            let next = used.len() as u32;
                            let ps = *dense.entry(peers).or_insert_with(|| {
                                used.push(peers);
                                next
                            });
                            let s = &index.port_specs[spec];
                            for key in &s.named {
                                let next = named_ports.len() as u32;
                                let id = *named_ids.entry(key.clone()).or_insert_with(|| {
                                    named_ports.push(key.clone());
                                    next
                                });
                                named.push((ps, id));
                            }
                            if s.numeric != PortSetId::EMPTY {
                                numeric.push((ps, s.numeric));
                            }
                        }
                    }
                    numeric.sort_unstable();
                    let mut merged: Vec<(u32, PortSetId)> = Vec::with_capacity(numeric.len());
                    for (ps, ports) in numeric {
                        match merged.last_mut() {
                            Some(last) if last.0 == ps => {
                                last.1 = index.port_sets.union(last.1, ports)
                            }
                            _ => merged.push((ps, ports)),
                        }
                    }
                    named.sort_unstable();
                    named.dedup();
                    profiles.push(Profile {
                        numeric: merged,
                        named,
                        destinations: Vec::new(),
                    });
                    by_port_profile.push(HashMap::default());
                    profile_ids.insert(policies.as_slice(), profiles.len() - 1);
                    profiles.len() - 1
                }
            };
            let pp = index.port_profile(d);
            let slot = *by_port_profile[id].entry(pp).or_insert_with(|| {
                profiles[id].destinations.push((pp, d, Vec::new()));
                profiles[id].destinations.len() - 1
            });
            profiles[id].destinations[slot].2.push(d as u32);
        }
        profiles.retain(|p| !p.numeric.is_empty() || !p.named.is_empty());
        tier_ingress.cover(used.len());
        // Inverted: per peer set, the profile entries it takes part in.
        let mut by_peer_set: Vec<Vec<(u32, Entry)>> = vec![Vec::new(); used.len()];
        for (i, p) in profiles.iter().enumerate() {
            for &(ps, ports) in &p.numeric {
                by_peer_set[ps as usize].push((i as u32, Entry::Ports(ports)));
            }
            for &(ps, name) in &p.named {
                by_peer_set[ps as usize].push((i as u32, Entry::Named(name)));
            }
        }
        // Per node: its profile and its group of destinations there.
        let mut node_profile = vec![(u32::MAX, 0u32); nodes];
        for (i, p) in profiles.iter().enumerate() {
            for (k, (_, _, destinations)) in p.destinations.iter().enumerate() {
                for &d in destinations {
                    node_profile[d as usize] = (i as u32, k as u32);
                }
            }
        }
        let mut membership: Vec<BitSet> = vec![BitSet::new(used.len()); nodes];
        for (u, &ps) in used.iter().enumerate() {
            for n in index.peer_sets[ps].iter() {
                membership[n].insert(u);
            }
        }
        // Peer sets holding every node are every row's: the tiers fold them once.
        let universal: Vec<u32> = (0..used.len() as u32)
            .filter(|&u| index.peer_sets[used[u as usize]].count() == nodes)
            .collect();
        tier_ingress.set_universal(universal);
        // Egress: the union-layer policies that isolate each node or allow it something,
        // then (numbered after them) the tiered policies with egress rules that apply to
        // it, interned as signatures.
        let mut per_node: Vec<Vec<u32>> = vec![Vec::new(); nodes];
        for (p, isolates) in index.isolates_egress.iter_ids() {
            if *isolates || !index.egress_rules[p].is_empty() {
                for c in index.selected[p].iter() {
                    per_node[c].push(p.0);
                }
            }
        }
        let mut egress_affected = index.egress_isolated.clone();
        for (p, rules) in index.tiers.egress.iter_ids() {
            if !rules.is_empty() || index.tiers.isolates_egress[p] {
                for c in index.tiers.selected[p].iter() {
                    per_node[c].push((policy_count + p.index()) as u32);
                    egress_affected.insert(c);
                }
            }
        }
        let mut egress_ids: HashMap<Vec<u32>, u32> = HashMap::default();
        let mut egress_policies: Vec<Vec<u32>> = Vec::new();
        let egress_signature: Vec<u32> = per_node
            .into_iter()
            .map(|list| {
                let next = egress_policies.len() as u32;
                *egress_ids.entry(list.clone()).or_insert_with(|| {
                    egress_policies.push(list);
                    next
                })
            })
            .collect();
        let ingress_base = (0..nodes)
            .map(|n| {
                if index.ingress_isolated.contains(n) {
                    PortSetId::EMPTY
                } else {
                    PortSetId::ALL
                }
            })
            .collect();
        let mut signatures: HashMap<(u32, &BitSet), u32> = HashMap::default();
        let signature = (0..nodes)
            .map(|n| {
                let next = signatures.len() as u32;
                *signatures
                    .entry((egress_signature[n], &membership[n]))
                    .or_insert(next)
            })
            .collect();
        let signature_count = signatures.len();
        let mut ingress_keys: HashMap<&BitSet, u32> = HashMap::default();
        let ingress_key = (membership.iter())
            .map(|m| {
                let next = ingress_keys.len() as u32;
                *ingress_keys.entry(m).or_insert(next)
            })
            .collect();
        let plan = Plan {
            profiles,
            named_ports,
            by_peer_set,
            node_profile,
            tier_ingress,
            egress_affected,
            ingress_key,
            node_endpoint: node_endpoints(&index),
            membership,
            egress_signature,
            egress_policies,
            ingress_base,
            signature,
            signature_count,
        };
        let threads = crate::threads::count(0);
        let state = RowState::new(&plan, index.port_sets.fork(), EGRESS_CACHE_CELLS);
        Reachability {
            index,
            plan,
            state,
            threads,
        }
    }

    /// Sets the threads of [`Reachability::par_for_each_ordered`]; 0: as many as the machine has.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = crate::threads::count(threads);
    }

    fn rows(&mut self) -> Rows<'_> {
        Rows {
            index: &self.index,
            plan: &self.plan,
            st: &mut self.state,
        }
    }

    /// The port sets the ids of this thread's rows stand for.
    pub fn port_sets(&self) -> &PortSets {
        &self.state.interner.sets
    }

    /// Number of distinct source signatures (sources with equal signatures have equal rows).
    pub fn signature_count(&self) -> usize {
        self.plan.signature_count
    }

    /// (ingress profiles, their entries in total, ingress peer sets, egress signatures), for diagnostics.
    pub fn stats(&self) -> (usize, usize, usize, usize) {
        let plan = &self.plan;
        let entries = plan
            .profiles
            .iter()
            .map(|p| p.numeric.len() + p.named.len())
            .sum();
        let peer_sets = plan.membership.first().map_or(0, |m| m.capacity());
        (
            plan.profiles.len(),
            entries,
            peer_sets,
            plan.egress_policies.len(),
        )
    }

    /// The row of source node `src` over all nodes, into `out` (length `nodes`).
    pub fn node_row(&mut self, src: usize, out: &mut Vec<PortSetId>) {
        self.rows().node_row(src, out)
    }

    /// The row of endpoint `src` over all endpoints: the union over its pods' classes,
    /// projected onto destination endpoints. External-to-external cells are empty.
    pub fn endpoint_row(
        &mut self,
        src: usize,
        scratch: &mut Vec<PortSetId>,
        out: &mut Vec<PortSetId>,
    ) {
        self.rows().endpoint_row(src, scratch, out)
    }

    /// The nodes of an endpoint.
    pub fn endpoint_nodes(&self, e: usize) -> Vec<usize> {
        endpoint_nodes(&self.index, e)
    }

    /// A key such that endpoints with equal keys have rows with equal ingress sides:
    /// rows taken in this key's order share that work (see [`Rows::node_row`]).
    pub fn endpoint_ingress_key(&self, e: usize) -> u32 {
        match &self.index.endpoints[e] {
            Endpoint::Workload { classes, .. } => classes
                .first()
                .map_or(u32::MAX, |&c| self.plan.ingress_key[c as usize]),
            Endpoint::External { atom, .. } => {
                self.plan.ingress_key[self.index.class_count() + *atom as usize]
            }
            Endpoint::Domain { .. } => u32::MAX,
        }
    }

    /// A key such that endpoints with equal keys have equal rows.
    pub fn endpoint_row_key(&self, e: usize) -> Vec<u32> {
        row_key(&self.index, &self.plan, e)
    }
}

/// See [`Reachability::endpoint_row_key`].
fn row_key(index: &Index, plan: &Plan, e: usize) -> Vec<u32> {
    let mut k: Vec<u32> = endpoint_nodes(index, e)
        .into_iter()
        .map(|n| plan.signature[n])
        .collect();
    k.sort_unstable();
    k.dedup();
    match index.endpoints[e] {
        Endpoint::External { .. } => k.push(u32::MAX),
        Endpoint::Domain { .. } => k.push(u32::MAX - 1),
        Endpoint::Workload { .. } => {}
    }
    k
}

/// Row computation over shared read-only parts and one thread's state.
struct Rows<'a> {
    index: &'a Index,
    plan: &'a Plan,
    st: &'a mut RowState,
}

impl Rows<'_> {
    /// The row of source node `src` over all nodes, into `out` (length `nodes`).
    fn node_row(&mut self, src: usize, out: &mut Vec<PortSetId>) {
        self.remember_ingress_side(src);
        out.clear();
        out.extend_from_slice(&self.st.ingress_memo.1);
        self.egress_side(src, out);
    }

    /// Makes `ingress_memo` hold the ingress side of source node `src`.
    fn remember_ingress_side(&mut self, src: usize) {
        let key = self.plan.ingress_key[src];
        if self.st.ingress_memo.0 != key {
            let mut side = std::mem::take(&mut self.st.ingress_memo.1);
            self.ingress_side(src, &mut side);
            self.st.ingress_memo = (key, side);
        }
    }

    /// The non-empty cells of endpoint `src`'s row over `columns` (sorted endpoint
    /// indices), as (position in `columns`, ports), when its egress is open toward a
    /// few nodes only (`Egress::Uniform` denying the rest): work in proportion to those
    /// nodes, not to every endpoint. `false`: the row needs the full pass.
    fn sparse_endpoint_row(
        &mut self,
        src: usize,
        columns: &[usize],
        cells: &mut Vec<(u32, PortSetId)>,
    ) -> bool {
        let (index, plan) = (self.index, self.plan);
        let node = match &index.endpoints[src] {
            Endpoint::Workload { classes, .. } if classes.len() == 1 => classes[0] as usize,
            _ => return false,
        };
        // Toward a few columns, without tiered rules, the row is read at the columns'
        // nodes: its ingress side there, narrowed by its union-layer egress rules.
        let signature = plan
            .egress_affected
            .contains(node)
            .then(|| plan.egress_signature[node]);
        let policy_count = index.selected.len() as u32;
        let union_only = signature.is_none_or(|sig| {
            (plan.egress_policies[sig as usize].iter()).all(|&p| p < policy_count)
        });
        if union_only && plan.tier_ingress.is_empty() && columns.len() * 16 <= index.nodes {
            cells.clear();
            for (j, &e) in columns.iter().enumerate() {
                let mut v = PortSetId::EMPTY;
                for d in endpoint_nodes(index, e) {
                    let mut at = self.ingress_at(node, d);
                    if let Some(sig) = signature {
                        let egress = self.egress_at(sig, d);
                        at = self.st.interner.sets.intersect(at, egress);
                    }
                    v = self.st.interner.sets.union(v, at);
                }
                if v != PortSetId::EMPTY {
                    cells.push((j as u32, v));
                }
            }
            return true;
        }
        let Some(sig) = signature else {
            return false;
        };
        self.cache_egress(sig);
        // The full pass needs the ingress side too, so computing it first costs nothing.
        self.remember_ingress_side(node);
        let st = &mut *self.st;
        let Egress::Uniform {
            rest: PortSetId::EMPTY,
            cells: open,
        } = &st.egress_cache[&sig]
        else {
            return false;
        };
        let side = &st.ingress_memo.1;
        let sets = &mut st.interner.sets;
        // Per destination endpoint, the union over its nodes (the others are empty).
        let mut by_endpoint: Vec<(u32, PortSetId)> = Vec::new();
        for &(d, e) in open {
            let v = sets.intersect(side[d as usize], e);
            let endpoint = plan.node_endpoint[d as usize];
            if v != PortSetId::EMPTY && endpoint != u32::MAX {
                by_endpoint.push((endpoint, v));
            }
        }
        by_endpoint.sort_unstable_by_key(|&(e, _)| e);
        let mut merged: Vec<(u32, PortSetId)> = Vec::with_capacity(by_endpoint.len());
        for (e, v) in by_endpoint {
            match merged.last_mut() {
                Some(last) if last.0 == e => last.1 = sets.union(last.1, v),
                _ => merged.push((e, v)),
            }
        }
        cells.clear();
        for (e, v) in merged {
            if let Ok(j) = columns.binary_search(&(e as usize)) {
                cells.push((j as u32, v));
            }
        }
        true
    }

    /// What the union-layer egress policies of signature `sig` allow toward node `d`:
    /// [`Rows::egress_vector`] at one node, for signatures without tiered policies.
    fn egress_at(&mut self, sig: u32, d: usize) -> PortSetId {
        let (idx, plan) = (self.index, self.plan);
        let st = &mut *self.st;
        let list = &plan.egress_policies[sig as usize];
        let isolated = list.iter().any(|&p| idx.isolates_egress[PolicyId(p)]);
        let mut v = if isolated {
            PortSetId::EMPTY
        } else {
            PortSetId::ALL
        };
        for &p in list {
            for rule in &idx.egress_rules[PolicyId(p)] {
                if idx.peer_sets[rule.peers].contains(d) {
                    let spec = &idx.port_specs[rule.ports];
                    let ports = if spec.named.is_empty() {
                        spec.numeric
                    } else {
                        st.interner.resolve(idx, rule.ports, d)
                    };
                    v = st.interner.sets.union(v, ports);
                }
            }
        }
        v
    }

    /// What the union layer's ingress rules allow source node `src` toward node `d`:
    /// [`Rows::ingress_side`] at one node, for plans without tiered ingress.
    fn ingress_at(&mut self, src: usize, d: usize) -> PortSetId {
        let (index, plan) = (self.index, self.plan);
        let st = &mut *self.st;
        let base = plan.ingress_base[d];
        let (p, k) = plan.node_profile[d];
        if p == u32::MAX {
            return base;
        }
        let profile = &plan.profiles[p as usize];
        let member = &plan.membership[src];
        let mut ports = PortSetId::EMPTY;
        for &(ps, entry) in &profile.numeric {
            if member.contains(ps as usize) {
                ports = st.interner.sets.union(ports, entry);
            }
        }
        let mut names: Vec<u32> = (profile.named.iter())
            .filter(|(ps, _)| member.contains(*ps as usize))
            .map(|&(_, name)| name)
            .collect();
        names.sort_unstable();
        names.dedup();
        let (pp, representative, _) = &profile.destinations[k as usize];
        for name in names {
            let named = resolve_named((index, plan), st, name, (*pp, *representative));
            ports = st.interner.sets.union(ports, named);
        }
        if ports == PortSetId::EMPTY {
            base
        } else {
            ports
        }
    }

    /// What the ingress rules (union layer and tiers) allow source node `src` toward
    /// every node, into `out`.
    fn ingress_side(&mut self, src: usize, out: &mut Vec<PortSetId>) {
        let (index, plan) = (self.index, self.plan);
        let st = &mut *self.st;
        out.clear();
        out.extend_from_slice(&plan.ingress_base);
        // Scatter from the peer sets holding the source to the profiles using them.
        let mut touched: Vec<u32> = Vec::new();
        for ps in plan.membership[src].iter() {
            for &(profile, entry) in &plan.by_peer_set[ps] {
                let p = profile as usize;
                if st.profile_ports[p] == PortSetId::EMPTY && st.profile_names[p].is_empty() {
                    touched.push(profile);
                }
                match entry {
                    Entry::Ports(ports) => {
                        st.profile_ports[p] = st.interner.sets.union(st.profile_ports[p], ports)
                    }
                    Entry::Named(name) => st.profile_names[p].push(name),
                }
            }
        }
        // Each profile is pushed once, at its first touch; profiles own disjoint destinations.
        for &profile in &touched {
            let p = profile as usize;
            let base = std::mem::replace(&mut st.profile_ports[p], PortSetId::EMPTY);
            let mut names = std::mem::take(&mut st.profile_names[p]);
            names.sort_unstable();
            names.dedup();
            for (pp, representative, destinations) in &plan.profiles[p].destinations {
                let mut v = base;
                for &name in &names {
                    let ports = resolve_named((index, plan), st, name, (*pp, *representative));
                    v = st.interner.sets.union(v, ports);
                }
                if v != PortSetId::EMPTY {
                    for &d in destinations {
                        out[d as usize] = v;
                    }
                }
            }
            names.clear();
            st.profile_names[p] = names;
        }
        if !plan.tier_ingress.is_empty() {
            plan.tier_ingress.apply(
                &mut st.tier_scratch,
                &plan.membership[src],
                (index, &mut st.interner),
                out,
            );
        }
    }

    /// Narrows `out`, the ingress side of source node `src`'s row, to what its egress
    /// rules allow.
    fn egress_side(&mut self, src: usize, out: &mut [PortSetId]) {
        let plan = self.plan;
        if !plan.egress_affected.contains(src) {
            return;
        }
        let sig = plan.egress_signature[src];
        self.cache_egress(sig);
        let st = &mut *self.st;
        let port_sets = &mut st.interner.sets;
        match &st.egress_cache[&sig] {
            Egress::Dense(egress) => {
                for (cell, &e) in out.iter_mut().zip(egress) {
                    *cell = port_sets.intersect(*cell, e);
                }
            }
            Egress::Uniform { rest, cells } => {
                let kept = &mut st.egress_kept;
                kept.clear();
                kept.extend(
                    (cells.iter()).map(|&(d, e)| (d, port_sets.intersect(out[d as usize], e))),
                );
                match *rest {
                    PortSetId::ALL => {}
                    PortSetId::EMPTY => out.fill(PortSetId::EMPTY),
                    rest => out
                        .iter_mut()
                        .for_each(|cell| *cell = port_sets.intersect(*cell, rest)),
                }
                for &(d, v) in kept.iter() {
                    out[d as usize] = v;
                }
            }
        }
    }

    /// Makes `egress_cache` hold the egress vector of signature `sig`.
    fn cache_egress(&mut self, sig: u32) {
        if !self.st.egress_cache.contains_key(&sig) {
            let egress = match self.egress_vector(sig) {
                // Open toward few nodes: kept as those, so rows can skip the rest.
                Egress::Dense(cells)
                    if cells.iter().filter(|&&c| c != PortSetId::EMPTY).count() * 16
                        < cells.len() =>
                {
                    let open = (cells.iter().enumerate())
                        .filter(|&(_, &c)| c != PortSetId::EMPTY)
                        .map(|(d, &c)| (d as u32, c))
                        .collect();
                    Egress::Uniform {
                        rest: PortSetId::EMPTY,
                        cells: open,
                    }
                }
                egress => egress,
            };
            let st = &mut *self.st;
            if st.egress_cached + egress.cells() > st.egress_cells {
                st.egress_cache.clear();
                st.egress_cached = 0;
            }
            st.egress_cached += egress.cells();
            st.egress_cache.insert(sig, egress);
        }
    }

    /// What the egress policies of one signature allow toward every node.
    fn egress_vector(&mut self, sig: u32) -> Egress {
        let (idx, plan) = (self.index, self.plan);
        let st = &mut *self.st;
        let policy_count = idx.selected.len() as u32;
        let list = &plan.egress_policies[sig as usize];
        let split = list.partition_point(|&p| p < policy_count);
        let (np, tiered) = list.split_at(split);
        // The union layer's tier isolates where a union-layer policy does, or a policy
        // of that tier with no union-layer rules (Calico's `default` tier).
        let np_isolated = np.iter().any(|&p| idx.isolates_egress[PolicyId(p)])
            || tiered
                .iter()
                .any(|&p| idx.tiers.isolates_egress[ClusterPolicyId(p - policy_count)]);
        let fill = if np_isolated {
            PortSetId::EMPTY
        } else {
            PortSetId::ALL
        };
        if np.is_empty() && !tiered.is_empty() {
            return self.tiered_egress(tiered, np_isolated);
        }
        let mut egress = vec![fill; idx.nodes];
        for &p in np {
            for rule in &idx.egress_rules[PolicyId(p)] {
                let (peers, spec) = (rule.peers, rule.ports);
                if idx.port_specs[spec].named.is_empty() {
                    let ports = idx.port_specs[spec].numeric;
                    for d in idx.peer_sets[peers].iter() {
                        egress[d] = st.interner.sets.union(egress[d], ports);
                    }
                } else {
                    for d in idx.peer_sets[peers].iter() {
                        let ports = st.interner.resolve(idx, spec, d);
                        egress[d] = st.interner.sets.union(egress[d], ports);
                    }
                }
            }
        }
        if !tiered.is_empty() {
            let decisions = self.tier_decisions(tiered, np_isolated);
            decisions.apply(np_isolated, &mut egress, &mut self.st.interner.sets);
        }
        Egress::Dense(egress)
    }

    /// What the tiered egress policies `tiered` (numbered after the union layer's)
    /// decide toward every node; sources under the same ones share it.
    fn tier_decisions(
        &mut self,
        tiered: &[u32],
        np_isolated: bool,
    ) -> std::sync::Arc<tiers::EgressDecisions> {
        let (idx, st) = (self.index, &mut *self.st);
        let policy_count = idx.selected.len() as u32;
        let tiered: Vec<u32> = tiered.iter().map(|&p| p - policy_count).collect();
        let key = (tiered, np_isolated);
        if let Some(d) = st.tier_egress.get(&key) {
            return d.clone();
        }
        let d = tiers::egress_decisions((idx, &mut st.interner), &key.0, &mut st.egress_scratch);
        let d = std::sync::Arc::new(d);
        st.tier_egress.insert(key, d.clone());
        d
    }

    /// The egress of a source only tiered policies restrict: what the tiers decide,
    /// over nothing where the union layer isolates (its tier has no union rules here).
    /// Most nodes share one verdict, so it is kept as that and the exceptions.
    fn tiered_egress(&mut self, tiered: &[u32], np_isolated: bool) -> Egress {
        let decisions = self.tier_decisions(tiered, np_isolated);
        let sets = &mut self.st.interner.sets;
        let fill = if np_isolated {
            PortSetId::EMPTY
        } else {
            PortSetId::ALL
        };
        let np = np_isolated.then_some(fill);
        let rest = match decisions.rest {
            Some((decision, open)) => decision.over(np, open, sets),
            None => fill,
        };
        let mut cells = Vec::new();
        for g in &decisions.groups {
            let v = g.decision.over(np, g.open, sets);
            cells.extend(g.nodes.iter().map(|&d| (d, v)));
        }
        if rest != fill {
            cells.extend(decisions.neutral.iter().map(|&d| (d, fill)));
        }
        Egress::Uniform { rest, cells }
    }

    /// See [`Reachability::endpoint_row`].
    fn endpoint_row(&mut self, src: usize, scratch: &mut Vec<PortSetId>, out: &mut Vec<PortSetId>) {
        let index = self.index;
        let src_nodes = endpoint_nodes(index, src);
        self.node_row(src_nodes[0], scratch);
        if src_nodes.len() > 1 {
            let mut more = Vec::new();
            for &n in &src_nodes[1..] {
                self.node_row(n, &mut more);
                for (x, y) in scratch.iter_mut().zip(more.iter()) {
                    *x = self.st.interner.sets.union(*x, *y);
                }
            }
        }
        let row = &*scratch;
        let sets = &mut self.st.interner.sets;
        let src_external = !matches!(index.endpoints[src], Endpoint::Workload { .. });
        if matches!(index.endpoints[src], Endpoint::Domain { .. }) {
            // A name is only ever a destination.
            out.clear();
            out.resize(index.endpoints.len(), PortSetId::EMPTY);
            return;
        }
        out.clear();
        let class_count = index.class_count();
        for e in 0..index.endpoints.len() {
            let v = match &index.endpoints[e] {
                Endpoint::Workload { classes, .. } if classes.len() == 1 => {
                    row[classes[0] as usize]
                }
                Endpoint::Workload { classes, .. } => {
                    let mut v = PortSetId::EMPTY;
                    for &c in classes {
                        v = sets.union(v, row[c as usize]);
                    }
                    v
                }
                Endpoint::External { .. } | Endpoint::Domain { .. } if src_external => {
                    PortSetId::EMPTY
                }
                Endpoint::External { atom, .. } => row[class_count + *atom as usize],
                Endpoint::Domain { domain, .. } => row[index.domain_base() + *domain as usize],
            };
            out.push(v);
        }
    }
}

/// The ports named `name` (a named-port id) on the destinations of port profile `pp`,
/// of which `representative` is one; resolved once per thread.
fn resolve_named(
    (index, plan): (&Index, &Plan),
    st: &mut RowState,
    name: u32,
    (pp, representative): (u32, usize),
) -> PortSetId {
    if let Some(&ports) = st.named_resolved.get(&(name, pp)) {
        return ports;
    }
    let (proto, n) = &plan.named_ports[name as usize];
    let ports = st
        .interner
        .sets
        .intern(index.named_ports(*proto, n, representative));
    st.named_resolved.insert((name, pp), ports);
    ports
}

/// The non-empty cells of a full endpoint row over `columns` (endpoint indices), as
/// (position in `columns`, ports).
pub(crate) fn cells_over(row: &[PortSetId], columns: &[usize]) -> Vec<(u32, PortSetId)> {
    (columns.iter().enumerate())
        .filter(|&(_, &d)| row[d] != PortSetId::EMPTY)
        .map(|(j, &d)| (j as u32, row[d]))
        .collect()
}

/// Per node, the endpoint it belongs to (`u32::MAX`: none).
fn node_endpoints(index: &Index) -> Vec<u32> {
    let mut of = vec![u32::MAX; index.nodes];
    for e in 0..index.endpoints.len() {
        for n in endpoint_nodes(index, e) {
            of[n] = e as u32;
        }
    }
    of
}

/// The nodes of an endpoint.
fn endpoint_nodes(index: &Index, e: usize) -> Vec<usize> {
    match &index.endpoints[e] {
        Endpoint::Workload { classes, .. } => classes.iter().map(|&c| c as usize).collect(),
        Endpoint::External { atom, .. } => vec![index.class_count() + *atom as usize],
        Endpoint::Domain { domain, .. } => vec![index.domain_base() + *domain as usize],
    }
}
