//! The ordered stages in rows. Per direction and port, the first matching Admin rule
//! decides (Accept, Deny) or passes; what it leaves is denied by any matching `Normal`
//! rule (Cilium's denies); what is left goes to the union layer (NetworkPolicy and
//! Cilium allows) where it isolates, else to the first matching Baseline rule, else is
//! allowed. With A and D the ports the Admin tier accepts and denies and N the ports the
//! `Normal` stage denies, that is `A ∪ ((U \ N) \ D)` where U is the union layer's
//! answer, or everything the Baseline tier does not deny where nothing isolates.

use super::Interner;
use crate::bitset::BitSet;
use crate::ids::{ClusterPolicyId, PeerSetId};
use crate::index::Stage;
use crate::index::{Index, TierRule};
use crate::portsets::{PortSetId, PortSets};
use kubeseg_model::Action;
use rustc_hash::FxHashMap as HashMap;

/// What a walk over tiered rules decided for one destination.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Decision {
    /// Ports the Admin tier accepts.
    pub accept: PortSetId,
    /// Ports the Admin tier denies.
    pub deny: PortSetId,
    /// Ports the Admin tier has decided or passed.
    decided: PortSetId,
    /// Ports the `Normal` stage denies.
    pub normal_deny: PortSetId,
    /// Ports the Baseline tier denies.
    pub baseline_deny: PortSetId,
    /// Ports the Baseline tier has decided.
    baseline_decided: PortSetId,
}

impl Decision {
    /// Applies one rule whose peer matched, with its ports resolved; rules come in
    /// evaluation order.
    pub fn apply(&mut self, stage: Stage, action: Action, ports: PortSetId, sets: &mut PortSets) {
        match stage {
            Stage::Admin => {
                let new = sets.difference(ports, self.decided);
                match action {
                    Action::Accept => self.accept = sets.union(self.accept, new),
                    Action::Deny => self.deny = sets.union(self.deny, new),
                    Action::Pass => {}
                }
                self.decided = sets.union(self.decided, ports);
            }
            // Every `Normal` rule is a deny; any match denies, in any order.
            Stage::Normal => self.normal_deny = sets.union(self.normal_deny, ports),
            Stage::Baseline => {
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
            && self.normal_deny == PortSetId::EMPTY
            && self.baseline_deny == PortSetId::EMPTY
    }

    /// The verdict given the union layer's answer (`None`: nothing isolates there).
    pub fn verdict(&self, network_policy: Option<PortSetId>, sets: &mut PortSets) -> PortSetId {
        let below = match network_policy {
            Some(np) => np,
            None => sets.difference(PortSetId::ALL, self.baseline_deny),
        };
        let below = sets.difference(below, self.normal_deny);
        let kept = sets.difference(below, self.deny);
        sets.union(self.accept, kept)
    }
}

/// Cached folds are dropped when there are more than this many.
const FOLD_CACHE: usize = 1 << 16;

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
}

/// What one thread's rows keep between sources for the tiered ingress rules.
#[derive(Default)]
pub struct TierScratch {
    /// Per profile: the positions matched by the current source.
    matched: Vec<Vec<u32>>,
    /// The profiles the current source touched.
    touched: Vec<u32>,
    /// Per (profile, matched positions): the decisions per destination group.
    folds: HashMap<(u32, Vec<u32>), std::sync::Arc<Grouped>>,
}

impl TierIngress {
    /// Groups destinations by the tiered policies with ingress rules that apply to
    /// them; `dense` numbers the peer sets rows track, shared with NetworkPolicy rules.
    pub fn new(
        index: &Index,
        dense: &mut HashMap<PeerSetId, u32>,
        used: &mut Vec<PeerSetId>,
    ) -> Self {
        let tiers = &index.tiers;
        let mut per_node: Vec<Vec<u32>> = vec![Vec::new(); index.class_count()];
        for (p, rules) in tiers.ingress.iter_ids() {
            if !rules.is_empty() {
                for c in tiers.selected[p].iter() {
                    per_node[c].push(p.0);
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
                    .flat_map(|&p| tiers.ingress[ClusterPolicyId(p)].iter().copied())
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
        t
    }

    /// Fresh scratch for one thread's rows.
    pub fn scratch(&self) -> TierScratch {
        TierScratch {
            matched: vec![Vec::new(); self.profiles.len()],
            ..TierScratch::default()
        }
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
    pub fn apply(
        &self,
        scratch: &mut TierScratch,
        membership: &BitSet,
        (index, interner): (&Index, &mut Interner),
        row: &mut [PortSetId],
    ) {
        let mut touched = std::mem::take(&mut scratch.touched);
        touched.clear();
        for ps in membership.iter() {
            for &(profile, pos) in &self.by_peer_set[ps] {
                let m = &mut scratch.matched[profile as usize];
                if m.is_empty() {
                    touched.push(profile);
                }
                m.push(pos);
            }
        }
        for &profile in &touched {
            let mut positions = std::mem::take(&mut scratch.matched[profile as usize]);
            positions.sort_unstable();
            let key = (profile, positions);
            let grouped = match scratch.folds.get(&key) {
                Some(g) => g.clone(),
                None => {
                    let g = std::sync::Arc::new(self.fold(profile, &key.1, index, interner));
                    if scratch.folds.len() >= FOLD_CACHE {
                        scratch.folds.clear();
                    }
                    scratch.folds.insert(key.clone(), g.clone());
                    g
                }
            };
            let isolated = &index.ingress_isolated;
            apply_grouped(&grouped, |d| isolated.contains(d), row, &mut interner.sets);
            let mut positions = key.1;
            positions.clear();
            scratch.matched[profile as usize] = positions;
        }
        scratch.touched = touched;
    }

    /// The decisions of a profile's matched rules, per destination.
    fn fold(
        &self,
        profile: u32,
        positions: &[u32],
        index: &Index,
        interner: &mut Interner,
    ) -> Grouped {
        let p = &self.profiles[profile as usize];
        let mut items = Vec::new();
        for (representative, destinations) in &p.destinations {
            let mut decision = Decision::default();
            for &pos in positions {
                let r = p.rules[pos as usize];
                let ports = interner.resolve(index, r.ports, *representative);
                decision.apply(r.tier, r.action, ports, &mut interner.sets);
            }
            items.extend(destinations.iter().map(|&d| (decision, d)));
        }
        group(items.into_iter(), &mut interner.sets)
    }
}

/// Destinations grouped by the decision the tiers make for them (neutral ones left out),
/// with the verdict where no NetworkPolicy isolates.
pub type Grouped = Vec<Group>;

/// Destinations for which the tiers make one decision.
#[derive(Clone)]
pub struct Group {
    /// What the tiers decide.
    pub decision: Decision,
    /// The verdict where no NetworkPolicy isolates.
    pub open: PortSetId,
    /// The destination nodes.
    pub nodes: Vec<u32>,
}

/// What the tiered egress rules of `tiered` (in evaluation order) decide toward every
/// node, grouped by decision; Baseline rules only when no NetworkPolicy isolates.
pub fn egress_decisions(
    (index, interner): (&Index, &mut Interner),
    tiered: &[u32],
    np_isolated: bool,
) -> Grouped {
    let nodes = index.nodes;
    let mut decisions = vec![Decision::default(); nodes];
    let mut touched = BitSet::new(nodes);
    for &p in tiered {
        for ri in 0..index.tiers.egress[ClusterPolicyId(p)].len() {
            let r = index.tiers.egress[ClusterPolicyId(p)][ri];
            if r.tier == Stage::Baseline && np_isolated {
                continue;
            }
            let named = !index.port_specs[r.ports].named.is_empty();
            let numeric = index.port_specs[r.ports].numeric;
            let peers = r.peers;
            for w in 0..index.peer_sets[peers].words().len() {
                let mut word = index.peer_sets[peers].words()[w];
                while word != 0 {
                    let d = w * 64 + word.trailing_zeros() as usize;
                    word &= word - 1;
                    let ports = if named {
                        interner.resolve(index, r.ports, d)
                    } else {
                        numeric
                    };
                    decisions[d].apply(r.tier, r.action, ports, &mut interner.sets);
                    touched.insert(d);
                }
            }
        }
    }
    group(
        touched.iter().map(|d| (decisions[d], d as u32)),
        &mut interner.sets,
    )
}

/// Groups (decision, node) pairs by decision, dropping neutral ones, in first-seen order.
fn group(items: impl Iterator<Item = (Decision, u32)>, sets: &mut PortSets) -> Grouped {
    let mut at: HashMap<Decision, usize> = HashMap::default();
    let mut out: Grouped = Vec::new();
    for (decision, node) in items {
        if decision.is_neutral() {
            continue;
        }
        let slot = *at.entry(decision).or_insert_with(|| {
            out.push(Group {
                decision,
                open: decision.verdict(None, sets),
                nodes: Vec::new(),
            });
            out.len() - 1
        });
        out[slot].nodes.push(node);
    }
    out
}

/// Applies grouped decisions to cells holding the NetworkPolicy answer (`np_isolated`)
/// or nothing yet (then the Baseline tier's answer stands in for it).
pub fn apply_grouped(
    grouped: &Grouped,
    np_isolated: impl Fn(usize) -> bool,
    cells: &mut [PortSetId],
    sets: &mut PortSets,
) {
    for Group {
        decision,
        open,
        nodes,
    } in grouped
    {
        // Where the union layer does not isolate, the verdict is the same for the whole
        // group; where it does, it is A ∪ ((U \ N) \ D): A where U allows nothing,
        // unchanged when neither the Admin tier nor the `Normal` stage decides here.
        let open = *open;
        let admin_silent = decision.accept == PortSetId::EMPTY
            && decision.deny == PortSetId::EMPTY
            && decision.normal_deny == PortSetId::EMPTY;
        let mut last: Option<(PortSetId, PortSetId)> = None;
        for &d in nodes {
            let d = d as usize;
            if !np_isolated(d) {
                cells[d] = open;
                continue;
            }
            let np = cells[d];
            if admin_silent {
                continue;
            }
            cells[d] = if np == PortSetId::EMPTY {
                decision.accept
            } else {
                match last {
                    Some((key, v)) if key == np => v,
                    _ => {
                        let v = decision.verdict(Some(np), sets);
                        last = Some((np, v));
                        v
                    }
                }
            };
        }
    }
}
