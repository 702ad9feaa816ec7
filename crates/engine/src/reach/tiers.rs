//! The tiers in rows. Per direction and port, the first matching Admin rule decides
//! (Accept, Deny) or passes; what it leaves goes to the NetworkPolicy layer where a
//! NetworkPolicy isolates, else to the first matching Baseline rule, else is allowed.
//! With A and D the ports the Admin tier accepts and denies, that is
//! `A ∪ (NP \ D)` where NP is the NetworkPolicy answer, or everything the Baseline
//! tier does not deny when no NetworkPolicy isolates.

use crate::bitset::BitSet;
use crate::index::{Index, TierRule};
use crate::portsets::{PortSetId, PortSets};
use kubeseg_model::{Action, Tier};
use rustc_hash::FxHashMap as HashMap;

/// What a walk over tiered rules decided for one destination.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Decision {
    /// Ports the Admin tier accepts.
    pub accept: PortSetId,
    /// Ports the Admin tier denies.
    pub deny: PortSetId,
    /// Ports the Admin tier has decided or passed.
    decided: PortSetId,
    /// Ports the Baseline tier denies.
    pub baseline_deny: PortSetId,
    /// Ports the Baseline tier has decided.
    baseline_decided: PortSetId,
}

impl Decision {
    /// Applies one rule whose peer matched, with its ports resolved; rules come in
    /// evaluation order.
    pub fn apply(&mut self, tier: Tier, action: Action, ports: PortSetId, sets: &mut PortSets) {
        match tier {
            Tier::Admin => {
                let new = sets.difference(ports, self.decided);
                match action {
                    Action::Accept => self.accept = sets.union(self.accept, new),
                    Action::Deny => self.deny = sets.union(self.deny, new),
                    Action::Pass => {}
                }
                self.decided = sets.union(self.decided, ports);
            }
            Tier::Baseline => {
                let new = sets.difference(ports, self.baseline_decided);
                if action == Action::Deny {
                    self.baseline_deny = sets.union(self.baseline_deny, new);
                }
                self.baseline_decided = sets.union(self.baseline_decided, ports);
            }
        }
    }

    /// Whether no rule changed anything.
    pub fn is_neutral(&self) -> bool {
        self.accept == PortSetId::EMPTY
            && self.deny == PortSetId::EMPTY
            && self.baseline_deny == PortSetId::EMPTY
    }

    /// The verdict given the NetworkPolicy answer (`None`: no NetworkPolicy isolates).
    pub fn verdict(&self, network_policy: Option<PortSetId>, sets: &mut PortSets) -> PortSetId {
        let below = match network_policy {
            Some(np) => np,
            None => sets.difference(PortSetId::ALL, self.baseline_deny),
        };
        let kept = sets.difference(below, self.deny);
        sets.union(self.accept, kept)
    }
}

/// Destinations that the same tiered ingress rules apply to.
struct Profile {
    /// The rules, in evaluation order.
    rules: Vec<TierRule>,
    /// The destinations grouped by port profile: (a representative node, nodes).
    destinations: Vec<(usize, Vec<u32>)>,
}

/// The tiered ingress rules, laid out for rows.
#[derive(Default)]
pub struct TierIngress {
    profiles: Vec<Profile>,
    /// Per dense peer set: (profile, rule position) pairs.
    by_peer_set: Vec<Vec<(u32, u32)>>,
    /// Per profile, scratch: the positions matched by the current source.
    matched: Vec<Vec<u32>>,
}

impl TierIngress {
    /// Groups destinations by the tiered policies with ingress rules that apply to
    /// them; `dense` numbers the peer sets rows track, shared with NetworkPolicy rules.
    pub fn new(index: &Index, dense: &mut HashMap<u32, u32>, used: &mut Vec<u32>) -> Self {
        let tiers = &index.tiers;
        let mut per_node: Vec<Vec<u32>> = vec![Vec::new(); index.class_count()];
        for (p, rules) in tiers.ingress.iter().enumerate() {
            if !rules.is_empty() {
                for c in tiers.selected[p].iter() {
                    per_node[c].push(p as u32);
                }
            }
        }
        let mut t = TierIngress::default();
        let mut ids: HashMap<&[u32], usize> = HashMap::default();
        let mut by_port_profile: Vec<HashMap<u32, usize>> = Vec::new();
        let mut entries: Vec<(u32, u32, u32)> = Vec::new();
        for (d, policies) in per_node.iter().enumerate() {
            if policies.is_empty() {
                continue;
            }
            let id = *ids.entry(policies.as_slice()).or_insert_with(|| {
                let id = t.profiles.len() as u32;
                let rules: Vec<TierRule> = policies
                    .iter()
                    .flat_map(|&p| tiers.ingress[p as usize].iter().copied())
                    .collect();
                for (pos, r) in rules.iter().enumerate() {
                    let next = used.len() as u32;
                    let ps = *dense.entry(r.peers).or_insert_with(|| {
                        used.push(r.peers);
                        next
                    });
                    entries.push((ps, id, pos as u32));
                }
                t.profiles.push(Profile {
                    rules,
                    destinations: Vec::new(),
                });
                by_port_profile.push(HashMap::default());
                id as usize
            });
            let pp = index.port_profile(d);
            let slot = *by_port_profile[id].entry(pp).or_insert_with(|| {
                t.profiles[id].destinations.push((d, Vec::new()));
                t.profiles[id].destinations.len() - 1
            });
            t.profiles[id].destinations[slot].1.push(d as u32);
        }
        t.by_peer_set = vec![Vec::new(); used.len()];
        for (ps, profile, pos) in entries {
            t.by_peer_set[ps as usize].push((profile, pos));
        }
        t.matched = vec![Vec::new(); t.profiles.len()];
        t
    }

    /// Grows the per-peer-set table to `len` dense peer sets (NetworkPolicy ones added later).
    pub fn cover(&mut self, len: usize) {
        self.by_peer_set.resize(len, Vec::new());
    }

    /// Whether no tiered ingress rule applies anywhere.
    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }

    /// Applies the tiers to a row whose cells hold the NetworkPolicy ingress answer,
    /// for a source in the dense peer sets `membership`.
    pub fn apply(&mut self, membership: &BitSet, index: &mut Index, row: &mut [PortSetId]) {
        let mut touched: Vec<u32> = Vec::new();
        for ps in membership.iter() {
            for &(profile, pos) in &self.by_peer_set[ps] {
                let m = &mut self.matched[profile as usize];
                if m.is_empty() {
                    touched.push(profile);
                }
                m.push(pos);
            }
        }
        for profile in touched {
            let mut positions = std::mem::take(&mut self.matched[profile as usize]);
            positions.sort_unstable();
            let p = &self.profiles[profile as usize];
            for (representative, destinations) in &p.destinations {
                let mut decision = Decision::default();
                for &pos in &positions {
                    let r = p.rules[pos as usize];
                    let ports = index.resolve(r.ports, *representative);
                    decision.apply(r.tier, r.action, ports, &mut index.port_sets);
                }
                if decision.is_neutral() {
                    continue;
                }
                let mut memo: Option<(Option<PortSetId>, PortSetId)> = None;
                for &d in destinations {
                    let d = d as usize;
                    let np = index.ingress_isolated.contains(d).then_some(row[d]);
                    row[d] = match memo {
                        Some((key, v)) if key == np => v,
                        _ => {
                            let v = decision.verdict(np, &mut index.port_sets);
                            memo = Some((np, v));
                            v
                        }
                    };
                }
            }
            positions.clear();
            self.matched[profile as usize] = positions;
        }
    }
}

/// The egress vector of a source selected by the NetworkPolicies `policies` (their
/// answer already in `egress`, `None` when none isolates) and by the tiered policies
/// `tiered`, in evaluation order.
pub fn egress_vector(
    index: &mut Index,
    tiered: &[u32],
    np_isolated: bool,
    egress: &mut [PortSetId],
) {
    let nodes = egress.len();
    let mut decisions = vec![Decision::default(); nodes];
    let mut touched = BitSet::new(nodes);
    for &p in tiered {
        for ri in 0..index.tiers.egress[p as usize].len() {
            let r = index.tiers.egress[p as usize][ri];
            if r.tier == Tier::Baseline && np_isolated {
                continue;
            }
            let dsts: Vec<usize> = index.peer_sets[r.peers as usize].iter().collect();
            for d in dsts {
                let ports = index.resolve(r.ports, d);
                decisions[d].apply(r.tier, r.action, ports, &mut index.port_sets);
                touched.insert(d);
            }
        }
    }
    for d in touched.iter() {
        if decisions[d].is_neutral() {
            continue;
        }
        let np = np_isolated.then_some(egress[d]);
        egress[d] = decisions[d].verdict(np, &mut index.port_sets);
    }
}
