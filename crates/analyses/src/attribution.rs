//! Which policy rules allow a connection, read from the compiled index: the evidence
//! behind findings. Works on nodes (classes and atoms), like the engine.
//!
//! With cluster-scoped tiers, a direction allows `A ∪ (NP \ D)` (see the engine's
//! `reach::tiers`): the Admin tier's accepted ports A stand whatever the
//! NetworkPolicies say, its denied ports D are cut, and NP is the NetworkPolicy answer
//! where one isolates, else everything the Baseline tier does not deny. The tier walk
//! here follows the compiled tier rules of the two nodes only, so evidence costs the
//! tiered policies that apply to one class, never pods × policies.

use crate::finding::Evidence;
use kubeseg_engine::Engine;
use kubeseg_engine::explain::TierFold;
use kubeseg_engine::ids::{ClusterPolicyId, IdVec, PolicyId};
use kubeseg_engine::index::{Index, Stage};
use kubeseg_model::{Action, Location, PortSet};

/// Per class, the policies that isolate it and the tiered policies that apply to it;
/// per policy, its compiled ingress rules.
pub struct Attribution {
    /// Per class: the NetworkPolicies that isolate its ingress (egress).
    ingress_of: Vec<Vec<PolicyId>>,
    egress_of: Vec<Vec<PolicyId>>,
    /// Per class: the Cilium specs (union-layer ids) that select it with ingress
    /// (egress) allow rules or default deny: their rules count wherever it is isolated.
    cilium_ingress_of: Vec<Vec<PolicyId>>,
    cilium_egress_of: Vec<Vec<PolicyId>>,
    /// Per class: whether the union layer isolates its ingress (egress).
    ingress_iso: Vec<bool>,
    egress_iso: Vec<bool>,
    ingress_range: IdVec<PolicyId, (usize, usize)>,
    /// Per class: the tiered policies with ingress (egress) rules that apply to it, in
    /// evaluation order.
    tier_ingress_of: Vec<Vec<ClusterPolicyId>>,
    tier_egress_of: Vec<Vec<ClusterPolicyId>>,
    /// Per class: whether a tiered policy that applies to it has an ingress (egress)
    /// `Deny` rule.
    tier_ingress_deny: Vec<bool>,
    tier_egress_deny: Vec<bool>,
}

/// A tiered rule whose subject holds the endpoint and whose peer matches the other
/// side, with the ports it decides: explain's step.
pub use kubeseg_engine::explain::TierStep;

/// A NetworkPolicy rule that allows some ports of a connection.
#[derive(Clone, Debug)]
pub struct AllowingRule {
    /// The policy.
    pub policy: PolicyId,
    /// The rule's index in its direction's list.
    pub rule: usize,
    /// The ports it allows toward the destination.
    pub ports: PortSet,
}

/// One direction of a connection.
#[derive(Clone, Debug, Default)]
pub struct Verdict {
    /// Whether some NetworkPolicy isolates the subject in this direction.
    pub isolated: bool,
    /// The allowing NetworkPolicy rules.
    pub rules: Vec<AllowingRule>,
    /// The tiered rules that decide some port, in evaluation order (the Baseline tier's
    /// only where no NetworkPolicy isolates).
    pub tiers: Vec<TierStep>,
    /// Ports the Admin tier accepts.
    pub accept: PortSet,
    /// Ports the Admin tier denies.
    pub deny: PortSet,
    /// Ports Cilium's deny rules deny.
    pub normal_deny: PortSet,
    /// Ports the Baseline tier denies (where it is consulted).
    pub baseline_deny: PortSet,
    /// The fold of the tiers' steps.
    pub fold: TierFold,
}

impl Verdict {
    /// The NetworkPolicy layer's answer: the rules' ports where a NetworkPolicy
    /// isolates, else every port the Baseline tier does not deny.
    pub fn below(&self) -> PortSet {
        if !self.isolated {
            return PortSet::all().difference(&self.baseline_deny);
        }
        self.rules
            .iter()
            .fold(PortSet::empty(), |acc, r| acc.union(&r.ports))
    }

    /// What the direction allows: the tiers' fold on the union layer's answer.
    pub fn allowed(&self) -> PortSet {
        let union = self.isolated.then(|| self.below());
        self.fold.verdict(union.as_ref())
    }

    /// The Admin-tier `Accept` steps that decide some of `ports`, with those ports.
    pub fn admin_accepts(&self, ports: &PortSet) -> Vec<(&TierStep, PortSet)> {
        self.tiers
            .iter()
            .filter(|s| s.tier == Stage::Admin && s.action == Action::Accept)
            .map(|s| (s, s.decided.intersect(ports)))
            .filter(|(_, p)| !p.is_empty())
            .collect()
    }
}

impl Attribution {
    /// Indexes the isolating policies of every class.
    pub fn new(engine: &Engine) -> Attribution {
        let index = &engine.reach.index;
        let classes = index.class_count();
        let (mut ingress_of, mut egress_of) =
            (vec![Vec::new(); classes], vec![Vec::new(); classes]);
        let (mut cilium_ingress_of, mut cilium_egress_of) =
            (vec![Vec::new(); classes], vec![Vec::new(); classes]);
        let (mut ingress_iso, mut egress_iso) = (vec![false; classes], vec![false; classes]);
        let mut has_ingress_rules: IdVec<PolicyId, bool> = vec![false; index.selected.len()].into();
        for r in &index.ingress_rules {
            has_ingress_rules[r.policy] = true;
        }
        for (p, selected) in index.selected.iter_ids() {
            let (isolates_ingress, isolates_egress) = isolation(engine, p);
            let cilium = p.index() >= index.network_policy_count;
            let counts_ingress = isolates_ingress || (cilium && has_ingress_rules[p]);
            let counts_egress = isolates_egress || !index.egress_rules[p].is_empty();
            let (ingress_lists, egress_lists) = if cilium {
                (&mut cilium_ingress_of, &mut cilium_egress_of)
            } else {
                (&mut ingress_of, &mut egress_of)
            };
            for c in selected.iter().filter(|&c| c < classes) {
                if counts_ingress {
                    ingress_lists[c].push(p);
                }
                if counts_egress {
                    egress_lists[c].push(p);
                }
                ingress_iso[c] |= isolates_ingress;
                egress_iso[c] |= isolates_egress;
            }
        }
        // Calico's `default`-tier policies isolate without union-layer rules.
        for c in 0..classes {
            ingress_iso[c] |= index.ingress_isolated.contains(c);
            egress_iso[c] |= index.egress_isolated.contains(c);
        }
        let mut ingress_range: IdVec<PolicyId, _> = vec![(0, 0); index.selected.len()].into();
        for (i, r) in index.ingress_rules.iter().enumerate() {
            let range = &mut ingress_range[r.policy];
            if range.0 == range.1 {
                *range = (i, i + 1);
            } else {
                range.1 = i + 1;
            }
        }
        let tiers = &index.tiers;
        let (mut tier_ingress_of, mut tier_egress_of) =
            (vec![Vec::new(); classes], vec![Vec::new(); classes]);
        let (mut tier_ingress_deny, mut tier_egress_deny) =
            (vec![false; classes], vec![false; classes]);
        for (p, selected) in tiers.selected.iter_ids() {
            let (ingress, egress) = (&tiers.ingress[p], &tiers.egress[p]);
            let deny = |rules: &[kubeseg_engine::index::TierRule]| {
                rules.iter().any(|r| r.action == Action::Deny)
            };
            let (ingress_deny, egress_deny) = (deny(ingress), deny(egress));
            for c in selected.iter().filter(|&c| c < classes) {
                if !ingress.is_empty() {
                    tier_ingress_of[c].push(p);
                }
                if !egress.is_empty() {
                    tier_egress_of[c].push(p);
                }
                tier_ingress_deny[c] |= ingress_deny;
                tier_egress_deny[c] |= egress_deny;
            }
        }
        Attribution {
            ingress_of,
            egress_of,
            cilium_ingress_of,
            cilium_egress_of,
            ingress_iso,
            egress_iso,
            ingress_range,
            tier_ingress_of,
            tier_egress_of,
            tier_ingress_deny,
            tier_egress_deny,
        }
    }

    /// Whether a class is isolated for ingress, tiers included: a NetworkPolicy with
    /// Ingress selects it, or an Admin or Baseline tier policy with an ingress `Deny`
    /// rule applies to it (atoms never are).
    pub fn ingress_restricted(&self, node: usize) -> bool {
        self.ingress_isolated(node) || self.tier_ingress_deny.get(node) == Some(&true)
    }

    /// Whether a class is isolated for egress, tiers included (see
    /// [`Attribution::ingress_restricted`]).
    pub fn egress_restricted(&self, node: usize) -> bool {
        self.egress_isolated(node) || self.tier_egress_deny.get(node) == Some(&true)
    }

    /// The tiered policies with ingress rules that apply to a class, in evaluation order.
    pub fn tier_ingress_policies(&self, node: usize) -> &[ClusterPolicyId] {
        self.tier_ingress_of.get(node).map_or(&[], Vec::as_slice)
    }

    /// The tiered policies with egress rules that apply to a class, in evaluation order.
    pub fn tier_egress_policies(&self, node: usize) -> &[ClusterPolicyId] {
        self.tier_egress_of.get(node).map_or(&[], Vec::as_slice)
    }

    /// Walks the tiered rules of `policies` (in evaluation order) for the peer node
    /// `peer` toward the destination node `dst`, as the engine's `Decision` does, and
    /// records the steps that decide some port in `v`. The Baseline tier is consulted
    /// only where no NetworkPolicy isolates (`v.isolated` is set before).
    fn tier_walk(
        index: &Index,
        policies: &[ClusterPolicyId],
        egress: bool,
        peer: usize,
        dst: usize,
        v: &mut Verdict,
    ) {
        let mut fold = TierFold::default();
        let lists = if egress {
            &index.tiers.egress
        } else {
            &index.tiers.ingress
        };
        let rules = kubeseg_engine::index::in_order(policies.iter().copied(), lists);
        let calico_first = index.tiers.cluster_count + index.tiers.cilium_count;
        for r in rules {
            if !r.end && !index.peer_sets[r.peers].contains(peer) {
                continue;
            }
            let ports = index.spec_ports(r.ports, dst);
            let new = fold.step(r.tier, r.action, r.end, &ports);
            if new.is_empty() {
                continue;
            }
            // Steps name Cilium specs and Calico policies by their own index, as explain
            // does.
            let p = r.policy.index();
            let policy = match r.tier {
                Stage::Normal => p - index.tiers.cluster_count,
                _ if p >= calico_first => p - calico_first,
                _ => p,
            };
            v.tiers.push(TierStep {
                policy,
                rule: r.rule as usize,
                tier: r.tier,
                action: r.action,
                ports,
                decided: new,
                end: r.end,
            });
        }
        fold.finish();
        (v.accept, v.deny, v.normal_deny, v.baseline_deny) = fold.totals();
        v.fold = fold;
    }

    /// The Cilium specs (`index::cilium_refs` order) that put a class into default deny
    /// for egress (`egress`) or ingress.
    pub fn cilium_isolating(&self, engine: &Engine, node: usize, egress: bool) -> Vec<usize> {
        let lists = if egress {
            &self.cilium_egress_of
        } else {
            &self.cilium_ingress_of
        };
        let first = engine.reach.index.network_policy_count;
        lists
            .get(node)
            .into_iter()
            .flatten()
            .filter(|&&p| {
                let (ingress, eg) = isolation(engine, p);
                if egress { eg } else { ingress }
            })
            .map(|p| p.index() - first)
            .collect()
    }

    /// `Kind/ns/name` of the `i`-th Cilium spec's policy and where the spec is.
    pub fn cilium_spec_text(engine: &Engine, i: usize) -> (String, Option<Location>) {
        let r = engine.reach.index.cilium[i];
        let policy = &engine.cluster.cilium_policies[r.policy as usize];
        let spec = &policy.specs[r.spec as usize];
        (
            format!("{}{}", policy.spec_label(r.spec as usize), policy.id()),
            spec.location.clone().or(policy.location.clone()),
        )
    }

    /// The NetworkPolicies that isolate a class for ingress.
    pub fn ingress_policies(&self, node: usize) -> &[PolicyId] {
        self.ingress_of.get(node).map_or(&[], Vec::as_slice)
    }

    /// The NetworkPolicies that isolate a class for egress.
    pub fn egress_policies(&self, node: usize) -> &[PolicyId] {
        self.egress_of.get(node).map_or(&[], Vec::as_slice)
    }

    /// Whether a class is isolated for egress (atoms never are).
    pub fn egress_isolated(&self, node: usize) -> bool {
        self.egress_iso.get(node) == Some(&true)
    }

    /// Whether a class is isolated for ingress (atoms never are).
    pub fn ingress_isolated(&self, node: usize) -> bool {
        self.ingress_iso.get(node) == Some(&true)
    }

    /// The egress side of `src → dst` (nodes).
    pub fn egress(&self, engine: &mut Engine, src: usize, dst: usize) -> Verdict {
        let mut v = Verdict {
            isolated: self.egress_isolated(src),
            ..Verdict::default()
        };
        let index = &engine.reach.index;
        let cilium = self.cilium_egress_of.get(src).into_iter().flatten();
        for &p in self.egress_of.get(src).into_iter().flatten().chain(cilium) {
            for (r, rule) in index.egress_rules[p].iter().enumerate() {
                if index.peer_sets[rule.peers].contains(dst) {
                    let ports = index.spec_ports(rule.ports, dst);
                    if !ports.is_empty() {
                        v.rules.push(AllowingRule {
                            policy: p,
                            rule: r,
                            ports,
                        });
                    }
                }
            }
        }
        let tiered = self.tier_egress_policies(src).to_vec();
        Self::tier_walk(index, &tiered, true, dst, dst, &mut v);
        v
    }

    /// The ingress side of `src → dst` (nodes).
    pub fn ingress(&self, engine: &mut Engine, src: usize, dst: usize) -> Verdict {
        let mut v = Verdict {
            isolated: self.ingress_isolated(dst),
            ..Verdict::default()
        };
        let index = &engine.reach.index;
        let cilium = self.cilium_ingress_of.get(dst).into_iter().flatten();
        for &p in self.ingress_of.get(dst).into_iter().flatten().chain(cilium) {
            let (lo, hi) = self.ingress_range[p];
            for i in lo..hi {
                let rule = &index.ingress_rules[i];
                if index.peer_sets[rule.peers].contains(src) {
                    let ports = index.spec_ports(rule.ports, dst);
                    if !ports.is_empty() {
                        v.rules.push(AllowingRule {
                            policy: p,
                            rule: i - lo,
                            ports,
                        });
                    }
                }
            }
        }
        let tiered = self.tier_ingress_policies(dst).to_vec();
        Self::tier_walk(index, &tiered, false, src, dst, &mut v);
        v
    }

    /// Evidence for endpoint `src → dst`: the first pair of their nodes that connects.
    pub fn pair_evidence(&self, engine: &mut Engine, src: usize, dst: usize) -> Vec<Evidence> {
        let (src_nodes, dst_nodes) = (
            engine.reach.endpoint_nodes(src),
            engine.reach.endpoint_nodes(dst),
        );
        for &s in &src_nodes {
            for &d in &dst_nodes {
                let eg = self.egress(engine, s, d);
                let ing = self.ingress(engine, s, d);
                if !eg.allowed().intersect(&ing.allowed()).is_empty() {
                    let mut out = self.describe(engine, src, &eg, true);
                    out.extend(self.describe(engine, dst, &ing, false));
                    return out;
                }
            }
        }
        Vec::new()
    }

    /// The Admin-tier `Accept` rules that let endpoint `src → dst` through on one side
    /// (the egress of `src` when `egress`, else the ingress of `dst`), for every pair of
    /// their nodes: the side's accepted ports that the other side allows. No
    /// NetworkPolicy on that side can cut those ports. Steps of one rule are merged.
    pub fn admin_accepts(
        &self,
        engine: &mut Engine,
        src: usize,
        dst: usize,
        egress: bool,
    ) -> Vec<TierStep> {
        let (src_nodes, dst_nodes) = (
            engine.reach.endpoint_nodes(src),
            engine.reach.endpoint_nodes(dst),
        );
        let mut out: Vec<TierStep> = Vec::new();
        for &s in &src_nodes {
            for &d in &dst_nodes {
                let eg = self.egress(engine, s, d);
                let ing = self.ingress(engine, s, d);
                let (side, other) = if egress { (&eg, &ing) } else { (&ing, &eg) };
                for (step, ports) in side.admin_accepts(&other.allowed()) {
                    match out
                        .iter_mut()
                        .find(|o| (o.policy, o.rule) == (step.policy, step.rule))
                    {
                        Some(o) => o.decided = o.decided.union(&ports),
                        None => out.push(TierStep {
                            decided: ports,
                            ..step.clone()
                        }),
                    }
                }
            }
        }
        out
    }

    /// Evidence for one side, in evaluation order: the Admin-tier rules that accept or
    /// pass ports, then the NetworkPolicy rules that allow what the Admin tier left (or
    /// the absence of isolation), then the Baseline-tier rules that accept ports.
    pub fn describe(
        &self,
        engine: &Engine,
        subject: usize,
        v: &Verdict,
        egress: bool,
    ) -> Vec<Evidence> {
        let dir = if egress { "egress" } else { "ingress" };
        let mut out = Vec::new();
        // What the NetworkPolicy layer (or the default and the Baseline tier) decides.
        let below = v.below();
        let np_ports = below
            .difference(&v.accept)
            .difference(&v.deny)
            .difference(&v.normal_deny);
        for s in v.tiers.iter().filter(|s| s.tier == Stage::Admin) {
            let what = match s.action {
                Action::Accept => format!(
                    "accepts {} in the Admin tier, before any NetworkPolicy",
                    ports_text(&s.decided)
                ),
                Action::Pass => {
                    let passed = s.decided.intersect(&below);
                    if passed.is_empty() {
                        continue;
                    }
                    format!("passes {} on to the NetworkPolicies", ports_text(&passed))
                }
                Action::Deny => continue,
            };
            out.push(tier_evidence(engine, s, dir, egress, what));
        }
        // Calico's rules that accept: they decide before (or, after the Kubernetes
        // NetworkPolicies, beside) the union layer.
        let calico_accepts =
            (v.tiers.iter()).filter(|s| s.tier.is_calico() && s.action == Action::Accept && !s.end);
        for s in calico_accepts {
            let tier = &engine.cluster.calico_policies[s.policy].tier;
            let what = format!("accepts {} in Calico tier {tier}", ports_text(&s.decided));
            out.push(tier_evidence(engine, s, dir, egress, what));
        }
        if !v.isolated {
            if !np_ports.is_empty() {
                let location = workload_location(engine, subject);
                let what = engine.endpoint_id(subject);
                let text = match location {
                    Some(_) if !v.baseline_deny.is_empty() || !v.tiers.is_empty() => format!(
                        "no NetworkPolicy isolates the {dir} of {what}, and no tiered rule denies {}",
                        ports_text(&np_ports)
                    ),
                    Some(_) => format!("no NetworkPolicy isolates the {dir} of {what}"),
                    None => {
                        format!("{what} is outside the cluster: no policy applies to its {dir}")
                    }
                };
                out.push(Evidence::at(location, text));
            }
        } else {
            for allowing in &v.rules {
                let ports = allowing.ports.intersect(&np_ports);
                if ports.is_empty() {
                    continue;
                }
                let (rule, at) = union_rule_text(engine, allowing.policy, egress, allowing.rule);
                out.push(Evidence::at(
                    at,
                    format!("{rule} allows {}", ports_text(&ports)),
                ));
            }
        }
        for s in v.tiers.iter().filter(|s| s.tier == Stage::Baseline) {
            if s.action == Action::Accept {
                let what = format!("accepts {} in the Baseline tier", ports_text(&s.decided));
                out.push(tier_evidence(engine, s, dir, egress, what));
            }
        }
        out
    }
}

/// Whether a union-layer policy isolates (ingress, egress): a NetworkPolicy by its
/// policyTypes, a Cilium spec by its default deny.
fn isolation(engine: &Engine, p: PolicyId) -> (bool, bool) {
    let index = &engine.reach.index;
    match p.index().checked_sub(index.network_policy_count) {
        None => {
            let policy = &engine.cluster.policies[p.index()];
            (policy.isolates_ingress, policy.isolates_egress)
        }
        Some(i) => {
            let spec = cilium_spec(engine, i);
            (spec.default_deny_ingress, spec.default_deny_egress)
        }
    }
}

/// The `i`-th Cilium spec (`index::cilium_refs` order) and its policy.
fn cilium_spec<'e>(engine: &'e Engine, i: usize) -> &'e kubeseg_model::CiliumSpec {
    let r = engine.reach.index.cilium[i];
    &engine.cluster.cilium_policies[r.policy as usize].specs[r.spec as usize]
}

/// `FIELD[r] of Kind/ns/name` (with `specs[j]` when the policy has several), and where
/// the rule is, for rule `r` of a Cilium spec's `field` list.
pub fn cilium_rule_text(
    engine: &Engine,
    spec: usize,
    field: &str,
    rule: &kubeseg_model::CiliumRule,
    r: usize,
) -> (String, Option<Location>) {
    let at = engine.reach.index.cilium[spec];
    let policy = &engine.cluster.cilium_policies[at.policy as usize];
    let part = policy.spec_label(at.spec as usize);
    let location = rule
        .location
        .clone()
        .or(policy.specs[at.spec as usize].location.clone())
        .or(policy.location.clone());
    (format!("{part}{field}[{r}] of {}", policy.id()), location)
}

/// `ingress[r] of NetworkPolicy ns/name` (or of a Cilium policy), and where it is.
pub fn union_rule_text(
    engine: &Engine,
    p: PolicyId,
    egress: bool,
    r: usize,
) -> (String, Option<Location>) {
    let dir = if egress { "egress" } else { "ingress" };
    match p
        .index()
        .checked_sub(engine.reach.index.network_policy_count)
    {
        None => {
            let policy = &engine.cluster.policies[p.index()];
            let rule = if egress {
                &policy.egress[r]
            } else {
                &policy.ingress[r]
            };
            (
                format!("{dir}[{r}] of NetworkPolicy {}", policy.id()),
                rule.location.clone().or(policy.location.clone()),
            )
        }
        Some(i) => {
            let spec = cilium_spec(engine, i);
            let rule = if egress {
                &spec.egress[r]
            } else {
                &spec.ingress[r]
            };
            cilium_rule_text(engine, i, dir, rule, r)
        }
    }
}

/// `ingress[0] (name) of AdminNetworkPolicy/x WHAT`, at the rule.
fn tier_evidence(engine: &Engine, s: &TierStep, dir: &str, egress: bool, what: String) -> Evidence {
    if s.tier == Stage::Normal || s.tier.is_calico() {
        let (rule, at) = tier_rule_text(engine, s, egress);
        return Evidence::at(at, format!("{rule} {what}"));
    }
    let policy = &engine.cluster.cluster_policies[s.policy];
    let rule = if egress {
        &policy.egress[s.rule]
    } else {
        &policy.ingress[s.rule]
    };
    let name = rule
        .name
        .as_ref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    Evidence::at(
        rule.location.clone().or(policy.location.clone()),
        format!("{dir}[{}]{name} of {} {what}", s.rule, policy.id()),
    )
}

/// The `Kind/name` and `ingress[i]`/`egress[i]` of a tiered rule, with its location.
pub fn tier_rule_text(engine: &Engine, s: &TierStep, egress: bool) -> (String, Option<Location>) {
    if s.tier.is_calico() {
        let policy = &engine.cluster.calico_policies[s.policy];
        if s.end {
            return (
                format!("the end of Calico tier {} (its defaultAction)", policy.tier),
                None,
            );
        }
        let rules = if egress {
            &policy.egress
        } else {
            &policy.ingress
        };
        let dir = if egress { "egress" } else { "ingress" };
        return (
            format!("{dir}[{}] of {}", s.rule, policy.id()),
            rules[s.rule].location.clone().or(policy.location.clone()),
        );
    }
    if s.tier == Stage::Normal {
        let spec = cilium_spec(engine, s.policy);
        let (field, rules) = if egress {
            ("egressDeny", &spec.egress_deny)
        } else {
            ("ingressDeny", &spec.ingress_deny)
        };
        return cilium_rule_text(engine, s.policy, field, &rules[s.rule], s.rule);
    }
    let policy = &engine.cluster.cluster_policies[s.policy];
    let rule = if egress {
        &policy.egress[s.rule]
    } else {
        &policy.ingress[s.rule]
    };
    let dir = if egress { "egress" } else { "ingress" };
    (
        format!("{dir}[{}] of {}", s.rule, policy.id()),
        rule.location.clone().or(policy.location.clone()),
    )
}

/// Where a workload endpoint is declared (`None` for atoms).
pub fn workload_location(engine: &Engine, endpoint: usize) -> Option<Location> {
    engine
        .cluster
        .workloads
        .get(endpoint)
        .and_then(|w| w.location.clone())
}

/// `TCP 80, UDP 53` or `all ports`.
pub fn ports_text(p: &PortSet) -> String {
    if p.is_all() {
        return "all ports".into();
    }
    p.to_string()
}
