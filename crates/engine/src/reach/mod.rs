//! Rows of the reachability matrix: for one source, the allowed ports toward every
//! destination. Work is per source *signature* (the egress policies that select it
//! and the ingress peer sets that contain it) and per destination *ingress profile*
//! (the peer sets and ports of the rules that isolate it), never per pod pair.

mod tiers;

use crate::bitset::BitSet;
use crate::index::{Endpoint, Index};
use crate::portsets::PortSetId;
use kubeseg_model::Protocol;
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
    /// Ingress profiles of the ingress-isolated destinations that have rules.
    profiles: Vec<Profile>,
    /// Named ports (protocol, name) by id.
    named_ports: Vec<(Protocol, String)>,
    /// Resolved named ports by (named-port id, port profile).
    named_resolved: HashMap<(u32, u32), PortSetId>,
    /// Per dense ingress peer set: (profile, entry) pairs.
    by_peer_set: Vec<Vec<(u32, Entry)>>,
    /// The tiered ingress rules.
    tier_ingress: tiers::TierIngress,
    /// Sources whose egress some NetworkPolicy or tiered policy restricts.
    egress_affected: BitSet,
    /// The tiered egress decisions per (tiered policies, whether a NetworkPolicy isolates).
    tier_egress: HashMap<(Vec<u32>, bool), std::sync::Arc<tiers::Grouped>>,
    /// Per profile, scratch for one row: numeric union and named ports seen.
    profile_ports: Vec<PortSetId>,
    profile_names: Vec<Vec<u32>>,
    /// Per node: the (dense) ingress peer sets it belongs to.
    membership: Vec<BitSet>,
    /// Per node: its egress signature (the egress-isolating policies selecting it).
    egress_signature: Vec<u32>,
    /// Per egress signature: the policies.
    egress_policies: Vec<Vec<u32>>,
    /// Egress vectors by egress signature, bounded by `EGRESS_CACHE_CELLS`.
    egress_cache: HashMap<u32, Vec<PortSetId>>,
    /// The ingress side before any rule: ALL where not ingress-isolated.
    ingress_base: Vec<PortSetId>,
    /// Per node: its source signature id.
    signature: Vec<u32>,
    signature_count: usize,
}

impl Reachability {
    /// Prepares row computation.
    pub fn new(mut index: Index) -> Self {
        let nodes = index.nodes;
        let policy_count = index.selected.len();
        let mut rules_of: Vec<Vec<usize>> = vec![Vec::new(); policy_count];
        for (i, r) in index.ingress_rules.iter().enumerate() {
            rules_of[r.policy as usize].push(i);
        }
        // Ingress: the policies with rules that isolate each node.
        let mut ingress_policies: Vec<Vec<u32>> = vec![Vec::new(); nodes];
        for (p, rules) in rules_of.iter().enumerate() {
            if !rules.is_empty() {
                for c in index.selected[p].iter() {
                    ingress_policies[c].push(p as u32);
                }
            }
        }
        let mut dense: HashMap<u32, u32> = HashMap::default();
        let mut used: Vec<u32> = Vec::new();
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
                            let s = &index.port_specs[spec as usize];
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
        let mut membership: Vec<BitSet> = vec![BitSet::new(used.len()); nodes];
        for (u, &ps) in used.iter().enumerate() {
            for n in index.peer_sets[ps as usize].iter() {
                membership[n].insert(u);
            }
        }
        // Egress: the policies that isolate each node, then (numbered after them) the
        // tiered policies with egress rules that apply to it, interned as signatures.
        let mut per_node: Vec<Vec<u32>> = vec![Vec::new(); nodes];
        for (p, isolates) in index.isolates_egress.iter().enumerate() {
            if *isolates {
                for c in index.selected[p].iter() {
                    per_node[c].push(p as u32);
                }
            }
        }
        let mut egress_affected = index.egress_isolated.clone();
        for (p, rules) in index.tiers.egress.iter().enumerate() {
            if !rules.is_empty() {
                for c in index.tiers.selected[p].iter() {
                    per_node[c].push((policy_count + p) as u32);
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
        Reachability {
            index,
            profile_ports: vec![PortSetId::EMPTY; profiles.len()],
            profile_names: vec![Vec::new(); profiles.len()],
            profiles,
            tier_ingress,
            egress_affected,
            tier_egress: HashMap::default(),
            by_peer_set,
            named_ports,
            named_resolved: HashMap::default(),
            membership,
            egress_signature,
            egress_policies,
            egress_cache: HashMap::default(),
            ingress_base,
            signature,
            signature_count,
        }
    }

    /// Number of distinct source signatures (sources with equal signatures have equal rows).
    pub fn signature_count(&self) -> usize {
        self.signature_count
    }

    /// (ingress profiles, their entries in total, ingress peer sets, egress signatures), for diagnostics.
    pub fn stats(&self) -> (usize, usize, usize, usize) {
        let entries = self
            .profiles
            .iter()
            .map(|p| p.numeric.len() + p.named.len())
            .sum();
        let peer_sets = self.membership.first().map_or(0, |m| m.capacity());
        (
            self.profiles.len(),
            entries,
            peer_sets,
            self.egress_policies.len(),
        )
    }

    /// The row of source node `src` over all nodes, into `out` (length `nodes`).
    pub fn node_row(&mut self, src: usize, out: &mut Vec<PortSetId>) {
        out.clear();
        out.extend_from_slice(&self.ingress_base);
        // Scatter from the peer sets holding the source to the profiles using them.
        let mut touched: Vec<u32> = Vec::new();
        for ps in self.membership[src].iter() {
            for &(profile, entry) in &self.by_peer_set[ps] {
                let p = profile as usize;
                if self.profile_ports[p] == PortSetId::EMPTY && self.profile_names[p].is_empty() {
                    touched.push(profile);
                }
                match entry {
                    Entry::Ports(ports) => {
                        self.profile_ports[p] =
                            self.index.port_sets.union(self.profile_ports[p], ports)
                    }
                    Entry::Named(name) => self.profile_names[p].push(name),
                }
            }
        }
        // Each profile is pushed once, at its first touch; profiles own disjoint destinations.
        for &profile in &touched {
            let p = profile as usize;
            let base = std::mem::replace(&mut self.profile_ports[p], PortSetId::EMPTY);
            let mut names = std::mem::take(&mut self.profile_names[p]);
            names.sort_unstable();
            names.dedup();
            for (pp, representative, destinations) in &self.profiles[p].destinations {
                let mut v = base;
                for &name in &names {
                    let ports = match self.named_resolved.get(&(name, *pp)) {
                        Some(&ports) => ports,
                        None => {
                            let (proto, n) = &self.named_ports[name as usize];
                            let ports = self.index.resolve_name(*proto, n, *representative);
                            self.named_resolved.insert((name, *pp), ports);
                            ports
                        }
                    };
                    v = self.index.port_sets.union(v, ports);
                }
                if v != PortSetId::EMPTY {
                    for &d in destinations {
                        out[d as usize] = v;
                    }
                }
            }
            names.clear();
            self.profile_names[p] = names;
        }
        if !self.tier_ingress.is_empty() {
            self.tier_ingress
                .apply(&self.membership[src], &mut self.index, out);
        }
        if !self.egress_affected.contains(src) {
            return;
        }
        let sig = self.egress_signature[src];
        if !self.egress_cache.contains_key(&sig) {
            let egress = self.egress_vector(sig);
            if (self.egress_cache.len() + 1) * egress.len() > EGRESS_CACHE_CELLS {
                self.egress_cache.clear();
            }
            self.egress_cache.insert(sig, egress);
        }
        let egress = &self.egress_cache[&sig];
        let port_sets = &mut self.index.port_sets;
        for (cell, &e) in out.iter_mut().zip(egress) {
            *cell = port_sets.intersect(*cell, e);
        }
    }

    /// What the egress policies of one signature allow toward every node.
    fn egress_vector(&mut self, sig: u32) -> Vec<PortSetId> {
        let idx = &mut self.index;
        let policy_count = idx.selected.len() as u32;
        let list = &self.egress_policies[sig as usize];
        let split = list.partition_point(|&p| p < policy_count);
        let (np, tiered) = list.split_at(split);
        let fill = if np.is_empty() {
            PortSetId::ALL
        } else {
            PortSetId::EMPTY
        };
        let mut egress = vec![fill; idx.nodes];
        for &p in np {
            for ri in 0..idx.egress_rules[p as usize].len() {
                let rule = &idx.egress_rules[p as usize][ri];
                let (peers, spec) = (rule.peers as usize, rule.ports);
                if idx.port_specs[spec as usize].named.is_empty() {
                    let ports = idx.port_specs[spec as usize].numeric;
                    for d in idx.peer_sets[peers].iter() {
                        egress[d] = idx.port_sets.union(egress[d], ports);
                    }
                } else {
                    let dsts: Vec<usize> = idx.peer_sets[peers].iter().collect();
                    for d in dsts {
                        let ports = idx.resolve(spec, d);
                        egress[d] = idx.port_sets.union(egress[d], ports);
                    }
                }
            }
        }
        if !tiered.is_empty() {
            let tiered: Vec<u32> = tiered.iter().map(|&p| p - policy_count).collect();
            let np_isolated = !np.is_empty();
            // Sources under the same tiered policies share the tiers' decisions.
            let key = (tiered, np_isolated);
            let grouped = match self.tier_egress.get(&key) {
                Some(g) => g.clone(),
                None => {
                    let g = std::sync::Arc::new(tiers::egress_decisions(idx, &key.0, np_isolated));
                    self.tier_egress.insert(key, g.clone());
                    g
                }
            };
            tiers::apply_grouped(&grouped, |_| np_isolated, &mut egress, &mut idx.port_sets);
        }
        egress
    }

    /// The row of endpoint `src` over all endpoints: the union over its pods' classes,
    /// projected onto destination endpoints. External-to-external cells are empty.
    pub fn endpoint_row(
        &mut self,
        src: usize,
        scratch: &mut Vec<PortSetId>,
        out: &mut Vec<PortSetId>,
    ) {
        let src_nodes = self.endpoint_nodes(src);
        self.node_row(src_nodes[0], scratch);
        if src_nodes.len() > 1 {
            let mut more = Vec::new();
            for &n in &src_nodes[1..] {
                self.node_row(n, &mut more);
                for (x, y) in scratch.iter_mut().zip(more.iter()) {
                    *x = self.index.port_sets.union(*x, *y);
                }
            }
        }
        let row = &*scratch;
        let src_external = !matches!(self.index.endpoints[src], Endpoint::Workload { .. });
        if matches!(self.index.endpoints[src], Endpoint::Domain { .. }) {
            // A name is only ever a destination.
            out.clear();
            out.resize(self.index.endpoints.len(), PortSetId::EMPTY);
            return;
        }
        out.clear();
        let class_count = self.index.class_count();
        for e in 0..self.index.endpoints.len() {
            let v = match &self.index.endpoints[e] {
                Endpoint::Workload { classes, .. } if classes.len() == 1 => {
                    row[classes[0] as usize]
                }
                Endpoint::Workload { classes, .. } => {
                    let mut v = PortSetId::EMPTY;
                    for &c in classes {
                        v = self.index.port_sets.union(v, row[c as usize]);
                    }
                    v
                }
                Endpoint::External { .. } | Endpoint::Domain { .. } if src_external => {
                    PortSetId::EMPTY
                }
                Endpoint::External { atom, .. } => row[class_count + *atom as usize],
                Endpoint::Domain { domain, .. } => row[self.index.domain_base() + *domain as usize],
            };
            out.push(v);
        }
    }

    /// The nodes of an endpoint.
    pub fn endpoint_nodes(&self, e: usize) -> Vec<usize> {
        match &self.index.endpoints[e] {
            Endpoint::Workload { classes, .. } => classes.iter().map(|&c| c as usize).collect(),
            Endpoint::External { atom, .. } => vec![self.index.class_count() + *atom as usize],
            Endpoint::Domain { domain, .. } => vec![self.index.domain_base() + *domain as usize],
        }
    }

    /// A key such that endpoints with equal keys have equal rows.
    pub fn endpoint_row_key(&self, e: usize) -> Vec<u32> {
        let mut k: Vec<u32> = self
            .endpoint_nodes(e)
            .into_iter()
            .map(|n| self.signature[n])
            .collect();
        k.sort_unstable();
        k.dedup();
        match self.index.endpoints[e] {
            Endpoint::External { .. } => k.push(u32::MAX),
            Endpoint::Domain { .. } => k.push(u32::MAX - 1),
            Endpoint::Workload { .. } => {}
        }
        k
    }
}
