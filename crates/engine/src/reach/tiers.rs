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
use crate::index::{Index, Region, Stage, TierRule};
use crate::portsets::{PortSetId, PortSets};
use kubeseg_model::Action;
use rustc_hash::FxHashMap as HashMap;

/// What a walk over tiered rules decided for one destination.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Decision {
    /// Ports the tiers before the union layer's accept.
    pub accept: PortSetId,
    /// Ports the tiers before the union layer's deny.
    pub deny: PortSetId,
    /// The tier being walked (a `Before` or `After` one): (stage, decided or passed,
    /// accepted, denied); closed into the totals when another tier starts or at `finish`.
    open: Option<(Stage, PortSetId, PortSetId, PortSetId)>,
    /// Ports the union layer's tier accepts before its union block.
    pub pre_accept: PortSetId,
    /// Ports it denies there (Cilium's denies among them).
    pub normal_deny: PortSetId,
    /// Ports it decides or passes there.
    pre_decided: PortSetId,
    /// Ports it accepts after the union block (of those `pre` left).
    pub post_accept: PortSetId,
    /// Ports it denies after the union block (of those `pre` left).
    pub post_deny: PortSetId,
    /// Ports it decides or passes after the union block (of those `pre` left).
    post_decided: PortSetId,
    /// Ports the tiers after the union layer's accept.
    after_accept: PortSetId,
    /// Ports the tiers after the union layer's deny.
    pub baseline_deny: PortSetId,
}

impl Decision {
    /// Applies one rule whose peer matched, with its ports resolved; rules come in
    /// evaluation order (ascending `TierRule::key`). An `end` rule ends its tier: with
    /// Deny, what the tier left is denied.
    pub fn apply(
        &mut self,
        stage: Stage,
        action: Action,
        end: bool,
        ports: PortSetId,
        sets: &mut PortSets,
    ) {
        let ports = if end { PortSetId::ALL } else { ports };
        match stage.region() {
            Region::Before | Region::After => {
                if self.open.is_some_and(|o| o.0 != stage) {
                    self.close(sets);
                }
                let (_, decided, accept, deny) = self.open.get_or_insert((
                    stage,
                    PortSetId::EMPTY,
                    PortSetId::EMPTY,
                    PortSetId::EMPTY,
                ));
                let new = sets.difference(ports, *decided);
                match action {
                    Action::Accept => *accept = sets.union(*accept, new),
                    Action::Deny => *deny = sets.union(*deny, new),
                    Action::Pass => {}
                }
                *decided = sets.union(*decided, ports);
                if end {
                    self.close(sets);
                }
            }
            Region::Pre => {
                self.close(sets);
                let new = sets.difference(ports, self.pre_decided);
                match action {
                    Action::Accept => self.pre_accept = sets.union(self.pre_accept, new),
                    Action::Deny => self.normal_deny = sets.union(self.normal_deny, new),
                    Action::Pass => {}
                }
                self.pre_decided = sets.union(self.pre_decided, ports);
            }
            Region::Post => {
                self.close(sets);
                let seen = sets.union(self.pre_decided, self.post_decided);
                let new = sets.difference(ports, seen);
                match action {
                    Action::Accept => self.post_accept = sets.union(self.post_accept, new),
                    Action::Deny => self.post_deny = sets.union(self.post_deny, new),
                    Action::Pass => {}
                }
                let ports = sets.difference(ports, self.pre_decided);
                self.post_decided = sets.union(self.post_decided, ports);
            }
        }
    }

    /// Folds the open tier into the totals of its region: a port an earlier tier
    /// decided stays decided.
    fn close(&mut self, sets: &mut PortSets) {
        let Some((stage, _, accept, deny)) = self.open.take() else {
            return;
        };
        let (total_accept, total_deny) = match stage.region() {
            Region::After => (&mut self.after_accept, &mut self.baseline_deny),
            _ => (&mut self.accept, &mut self.deny),
        };
        let decided = sets.union(*total_accept, *total_deny);
        let accept = sets.difference(accept, decided);
        let deny = sets.difference(deny, decided);
        *total_accept = sets.union(*total_accept, accept);
        *total_deny = sets.union(*total_deny, deny);
    }

    /// Ends the walk: call after the last rule, before reading the decision.
    pub fn finish(&mut self, sets: &mut PortSets) {
        self.close(sets);
    }

    /// Whether no rule changed anything.
    pub fn is_neutral(&self) -> bool {
        self.accept == PortSetId::EMPTY
            && self.deny == PortSetId::EMPTY
            && self.pre_decided == PortSetId::EMPTY
            && self.post_decided == PortSetId::EMPTY
            && self.baseline_deny == PortSetId::EMPTY
    }

    /// Whether the union layer's tier only denies before its union block (Admin,
    /// Cilium's denies and Baseline are of this shape): then the verdict is
    /// `A ∪ ((U \ N) \ D)`.
    pub fn is_common(&self) -> bool {
        self.pre_accept == PortSetId::EMPTY
            && self.pre_decided == self.normal_deny
            && self.post_decided == PortSetId::EMPTY
    }

    /// Whether nothing before or around the union block decides: then, where the union
    /// layer isolates, its answer stands.
    fn middle_silent(&self) -> bool {
        self.accept == PortSetId::EMPTY
            && self.deny == PortSetId::EMPTY
            && self.pre_decided == PortSetId::EMPTY
            && self.post_decided == PortSetId::EMPTY
    }

    /// The verdict given the union layer's answer `np` (`None`: nothing isolates
    /// there), with `open` this decision's verdict where nothing isolates. Where the
    /// union layer does not isolate, the verdict is the same for every destination;
    /// where it does, it depends on the union layer's answer U, and is U itself when
    /// nothing before or around the union block decides here.
    pub fn over(&self, np: Option<PortSetId>, open: PortSetId, sets: &mut PortSets) -> PortSetId {
        match np {
            None => open,
            Some(np) if self.middle_silent() => np,
            Some(PortSetId::EMPTY) if self.is_common() => self.accept,
            Some(np) => self.verdict(Some(np), sets),
        }
    }

    /// The verdict given the union layer's answer (`None`: nothing isolates there).
    pub fn verdict(&self, network_policy: Option<PortSetId>, sets: &mut PortSets) -> PortSetId {
        // The common shapes (Admin, Cilium's denies, Baseline): `A ∪ ((U \ N) \ D)`.
        if self.is_common() {
            let below = match network_policy {
                Some(np) => np,
                None => sets.difference(PortSetId::ALL, self.baseline_deny),
            };
            let below = sets.difference(below, self.normal_deny);
            let kept = sets.difference(below, self.deny);
            return sets.union(self.accept, kept);
        }
        // In general a port the union layer's tier leaves, passes, or (where nothing
        // isolates) does not decide goes on to the tiers after it.
        let union = network_policy.unwrap_or(PortSetId::EMPTY);
        let pre_made = sets.union(self.pre_accept, self.normal_deny);
        let pre_passed = sets.difference(self.pre_decided, pre_made);
        let post_made = sets.union(self.post_accept, self.post_deny);
        let post_passed = sets.difference(self.post_decided, post_made);
        let allowed_mid = sets.union(union, self.post_accept);
        let allowed_mid = sets.difference(allowed_mid, self.pre_decided);
        let allowed_mid = sets.union(self.pre_accept, allowed_mid);
        let post_onward = sets.difference(post_passed, union);
        let mut onward = sets.union(pre_passed, post_onward);
        if network_policy.is_none() {
            let seen = sets.union(self.pre_decided, self.post_decided);
            let seen = sets.union(seen, union);
            let undecided = sets.difference(PortSetId::ALL, seen);
            onward = sets.union(onward, undecided);
        }
        let onward = sets.difference(onward, self.baseline_deny);
        let below = sets.union(allowed_mid, onward);
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
    /// The positions of the rules whose peers are every source (see
    /// [`TierIngress::set_universal`]), ascending.
    base: Vec<u32>,
}

/// The tiered ingress rules, laid out for rows.
///
/// Rules whose peers are every source (a cluster-wide tier's `all()`, say) match every
/// row: their positions are each profile's `base`, and a row looks up folds only for
/// the profiles where it matches some other rule, so a row costs what sets it apart
/// rather than the number of profiles such rules touch.
#[derive(Default)]
pub struct TierIngress {
    profiles: Vec<Profile>,
    /// Per dense peer set: (profile, rule position) pairs.
    by_peer_set: Vec<Vec<(u32, u32)>>,
    /// The dense peer sets that hold every source.
    universal: Vec<u32>,
    /// Profiles with a non-empty `base`.
    based: Vec<u32>,
}

/// What one thread's rows keep between sources for the tiered ingress rules.
#[derive(Default)]
pub struct TierScratch {
    /// Per profile: the positions matched by the current source.
    matched: Vec<Vec<u32>>,
    /// The profiles the current source touched.
    touched: Vec<u32>,
    /// Per profile: the last row that touched it (`row`).
    stamps: Vec<u64>,
    /// Rows computed so far.
    row: u64,
    /// Per (profile, matched positions besides its base): the decisions per
    /// destination group.
    folds: HashMap<(u32, Vec<u32>), std::sync::Arc<Grouped>>,
    /// What each profile's base alone does to a row, once computed.
    base: BaseEffects,
}

/// What profiles' bases do to the cells of a row, laid out one after another so that
/// a row walks them in order (every row takes every profile it does not touch).
#[derive(Default)]
struct BaseEffects {
    /// Whether every profile's base is laid out.
    ready: bool,
    /// The profiles whose base does something, with their effects in `effects`.
    walked: Vec<(u32, std::ops::Range<usize>)>,
    /// (destination, value, group): with `NO_GROUP`, the cell becomes `value` (no
    /// union-layer policy isolates it); else group `group` decides on the cell's
    /// union-layer answer.
    effects: Vec<(u32, PortSetId, u32)>,
    /// The decisions that depend on the union layer's answer.
    groups: Vec<Decision>,
}

const NO_GROUP: u32 = u32::MAX;

impl BaseEffects {
    /// Lays out the effects of a profile's base decisions (see [`apply_grouped`],
    /// which this follows).
    fn add(&mut self, profile: u32, grouped: &Grouped, isolated: &BitSet) {
        let start = self.effects.len();
        for g in grouped {
            let silent = g.decision.middle_silent();
            let group = self.groups.len() as u32;
            let mut used = false;
            for &d in &g.nodes {
                if !isolated.contains(d as usize) {
                    self.effects.push((d, g.open, NO_GROUP));
                } else if !silent {
                    self.effects.push((d, PortSetId::EMPTY, group));
                    used = true;
                }
            }
            if used {
                self.groups.push(g.decision);
            }
        }
        if self.effects.len() > start {
            self.walked.push((profile, start..self.effects.len()));
        }
    }

    /// Applies a profile's base (its `range` of effects) to a row holding the union
    /// layer's answer.
    fn apply(&self, range: std::ops::Range<usize>, row: &mut [PortSetId], sets: &mut PortSets) {
        let mut last: Option<(u32, PortSetId, PortSetId)> = None;
        for &(d, value, group) in &self.effects[range] {
            let d = d as usize;
            if group == NO_GROUP {
                row[d] = value;
                continue;
            }
            let np = row[d];
            let decision = &self.groups[group as usize];
            row[d] = if np == PortSetId::EMPTY && decision.is_common() {
                decision.accept
            } else {
                match last {
                    Some((g, key, v)) if g == group && key == np => v,
                    _ => {
                        let v = decision.verdict(Some(np), sets);
                        last = Some((group, np, v));
                        v
                    }
                }
            };
        }
    }
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
                let rules = in_order(policies, &tiers.ingress);
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
                    base: Vec::new(),
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
            stamps: vec![0; self.profiles.len()],
            ..TierScratch::default()
        }
    }

    /// Moves the rules whose dense peer set is in `universal` (held by every source)
    /// into their profiles' base. Call once every dense peer set is covered.
    pub fn set_universal(&mut self, universal: Vec<u32>) {
        for &ps in &universal {
            for (profile, pos) in std::mem::take(&mut self.by_peer_set[ps as usize]) {
                self.profiles[profile as usize].base.push(pos);
            }
        }
        for (i, p) in self.profiles.iter_mut().enumerate() {
            p.base.sort_unstable();
            p.base.dedup();
            if !p.base.is_empty() {
                self.based.push(i as u32);
            }
        }
        self.universal = universal;
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
        // Every source is in the universal peer sets; a node that is not (a domain,
        // only ever a destination) gets no row worth the care.
        debug_assert!(
            self.universal
                .iter()
                .all(|&ps| membership.contains(ps as usize))
        );
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
        // The profiles this row matches only by their base. Profiles own disjoint
        // destinations, so the order does not matter.
        // Every base is laid out at the thread's first row; only those that do
        // something are walked.
        if !scratch.base.ready {
            for &profile in &self.based {
                let grouped = self.fold(profile, &[], index, interner);
                scratch.base.add(profile, &grouped, &index.ingress_isolated);
            }
            scratch.base.ready = true;
        }
        scratch.row += 1;
        let stamp = scratch.row;
        for &profile in &touched {
            scratch.stamps[profile as usize] = stamp;
        }
        for &(profile, ref effects) in &scratch.base.walked {
            if scratch.stamps[profile as usize] != stamp {
                scratch.base.apply(effects.clone(), row, &mut interner.sets);
            }
        }
        scratch.touched = touched;
    }

    /// The decisions of a profile's matched rules (`positions` and its base), per
    /// destination.
    fn fold(
        &self,
        profile: u32,
        positions: &[u32],
        index: &Index,
        interner: &mut Interner,
    ) -> Grouped {
        let p = &self.profiles[profile as usize];
        let mut all: Vec<u32> = p.base.iter().chain(positions).copied().collect();
        all.sort_unstable();
        all.dedup();
        let mut items = Vec::new();
        for (representative, destinations) in &p.destinations {
            let mut decision = Decision::default();
            for &pos in &all {
                let r = p.rules[pos as usize];
                let ports = interner.resolve(index, r.ports, *representative);
                decision.apply(r.tier, r.action, r.end, ports, &mut interner.sets);
            }
            decision.finish(&mut interner.sets);
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

/// The rules of `policies` (ids) in evaluation order, a tier's end once.
fn in_order(
    policies: &[u32],
    lists: &crate::ids::IdVec<ClusterPolicyId, Vec<TierRule>>,
) -> Vec<TierRule> {
    crate::index::in_order(policies.iter().map(|&p| ClusterPolicyId(p)), lists)
}

/// What the tiered egress rules of some policies decide toward every node.
pub struct EgressDecisions {
    /// The nodes some rule other than those toward every node matches, grouped by
    /// decision (neutral ones left out).
    pub groups: Grouped,
    /// Those nodes whose decision is neutral.
    pub neutral: Vec<u32>,
    /// The decision for every node not in `touched` (`None`: neutral), with its
    /// verdict where no NetworkPolicy isolates.
    pub rest: Option<(Decision, PortSetId)>,
    /// The nodes of `groups` and `neutral`.
    pub touched: BitSet,
}

impl EgressDecisions {
    /// Applies the decisions to cells holding the NetworkPolicy answer (see
    /// [`apply_grouped`]).
    pub fn apply(&self, np_isolated: bool, cells: &mut [PortSetId], sets: &mut PortSets) {
        apply_grouped(&self.groups, |_| np_isolated, cells, sets);
        if let Some((decision, open)) = self.rest {
            let rest = (0..cells.len()).filter(|&d| !self.touched.contains(d));
            apply_group(&decision, open, rest, |_| np_isolated, cells, sets);
        }
    }
}

/// What the tiered egress rules of `tiered` decide toward every node, grouped by
/// decision.
///
/// Rules toward every node with the same ports everywhere (a tier's `pass`, a
/// namespace's default deny) decide alike for each node no other rule matches: those
/// nodes share one decision, computed once, and only the others are walked one by one.
///
/// `decisions` is a thread's scratch: empty, or `nodes` neutral decisions, as this
/// function leaves it (resetting only the cells it wrote costs far less than a fresh
/// vector per call).
pub fn egress_decisions(
    (index, interner): (&Index, &mut Interner),
    tiered: &[u32],
    decisions: &mut Vec<Decision>,
) -> EgressDecisions {
    let nodes = index.nodes;
    let rules = in_order(tiered, &index.tiers.egress);
    let everywhere: Vec<bool> = rules
        .iter()
        .map(|r| {
            index.port_specs[r.ports].named.is_empty() && index.peer_sets[r.peers].count() == nodes
        })
        .collect();
    let mut touched = BitSet::new(nodes);
    for (r, _) in rules.iter().zip(&everywhere).filter(|(_, e)| !**e) {
        touched.union_with(&index.peer_sets[r.peers]);
    }
    if decisions.len() != nodes {
        decisions.clear();
        decisions.resize(nodes, Decision::default());
    }
    for (r, &everywhere) in rules.iter().zip(&everywhere) {
        let named = !index.port_specs[r.ports].named.is_empty();
        let numeric = index.port_specs[r.ports].numeric;
        let peers = &index.peer_sets[r.peers];
        // A rule toward every node reaches the touched ones only; the rest share
        // `shared` below.
        let words = if everywhere {
            touched.words()
        } else {
            peers.words()
        };
        for (w, &bits) in words.iter().enumerate() {
            let mut word = bits;
            while word != 0 {
                let d = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                let ports = if named {
                    interner.resolve(index, r.ports, d)
                } else {
                    numeric
                };
                decisions[d].apply(r.tier, r.action, r.end, ports, &mut interner.sets);
            }
        }
    }
    for d in touched.iter() {
        decisions[d].finish(&mut interner.sets);
    }
    let mut shared = Decision::default();
    for (r, _) in rules.iter().zip(&everywhere).filter(|(_, e)| **e) {
        let ports = index.port_specs[r.ports].numeric;
        shared.apply(r.tier, r.action, r.end, ports, &mut interner.sets);
    }
    shared.finish(&mut interner.sets);
    let groups = group(
        touched.iter().map(|d| (decisions[d], d as u32)),
        &mut interner.sets,
    );
    let neutral = touched
        .iter()
        .filter(|&d| decisions[d].is_neutral())
        .map(|d| d as u32)
        .collect();
    for d in touched.iter() {
        decisions[d] = Decision::default();
    }
    let rest = (!shared.is_neutral()).then(|| (shared, shared.verdict(None, &mut interner.sets)));
    EgressDecisions {
        groups,
        neutral,
        rest,
        touched,
    }
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
        let nodes = nodes.iter().map(|&d| d as usize);
        apply_group(decision, *open, nodes, &np_isolated, cells, sets);
    }
}

/// Applies one decision (with `open`, its verdict where nothing isolates) to the cells
/// of `nodes` (see [`apply_grouped`]).
fn apply_group(
    decision: &Decision,
    open: PortSetId,
    nodes: impl Iterator<Item = usize>,
    np_isolated: impl Fn(usize) -> bool,
    cells: &mut [PortSetId],
    sets: &mut PortSets,
) {
    let mut last: Option<(PortSetId, PortSetId)> = None;
    for d in nodes {
        cells[d] = match last {
            Some((key, v)) if np_isolated(d) && key == cells[d] => v,
            _ => {
                let np = np_isolated(d).then_some(cells[d]);
                let v = decision.over(np, open, sets);
                if let Some(np) = np {
                    last = Some((np, v));
                }
                v
            }
        };
    }
}
