//! The walk of the ordered stages of one direction, rule by rule, straight from the
//! tiered policies and Cilium's deny rules.

use super::{Side, namespace_labels, rule_ports};
use crate::Options;
use crate::index::{Region, Stage, domain_matches, normalise_domain, order_key};
use kubeseg_model::{Action, Cluster, PortSet, Rule, TierPeerKind, TierRule};

/// A tiered rule that applies to the endpoint and whose peer matches the other side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierStep {
    /// Index into `Cluster::cluster_policies`, or for the `Normal` stage into the Cilium
    /// specs (`index::cilium_refs`).
    pub policy: usize,
    /// Index of the rule in its direction's list (`ingressDeny`/`egressDeny` for Cilium).
    pub rule: usize,
    /// The policy's stage.
    pub tier: Stage,
    /// The rule's action.
    pub action: Action,
    /// The ports the rule matches toward the destination.
    pub ports: PortSet,
    /// Of those, the ports no earlier rule of its tier had decided: the ones it decides.
    pub decided: PortSet,
    /// A Calico tier's end: its default action (`action`) on what the tier left;
    /// `policy` is a Calico policy of that tier that applies, `rule` is unused.
    pub end: bool,
}

/// What the tiers say about one direction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TierWalk {
    /// The matching rules in evaluation order (Baseline ones only when consulted).
    pub steps: Vec<TierStep>,
    /// Ports the Admin tier accepts.
    pub accept: PortSet,
    /// Ports the Admin tier denies.
    pub deny: PortSet,
    /// Ports Cilium's deny rules deny (of those the Admin tier left).
    pub normal_deny: PortSet,
    /// Ports the Baseline tier denies (when consulted).
    pub baseline_deny: PortSet,
    /// `domainNames` rules that apply and would match if the destination address is
    /// one the name resolves to: (policy, rule). The verdict then depends on DNS.
    pub dns_dependent: Vec<(usize, usize)>,
    /// Calico policies of the `default` tier that apply (indices into
    /// `Cluster::calico_policies`): the union layer's tier applies, so what it leaves
    /// is denied.
    pub calico_isolating: Vec<usize>,
    /// The fold of the steps, for the verdict.
    pub fold: TierFold,
}

/// Walks the tiers for `subject` (a pod) toward or from `peer`.
#[allow(clippy::too_many_arguments)]
pub fn walk(
    (cluster, candidates): (&Cluster, &super::Candidates),
    namespace: &str,
    subject: &kubeseg_model::Pod,
    peer: &Side,
    destination: &Side,
    egress: bool,
    baseline: bool,
    options: Options,
) -> TierWalk {
    let mut w = TierWalk::default();
    let subject_labels = namespace_labels(cluster, namespace);
    let applies = |set: &kubeseg_model::PodSet| {
        set.namespaces.matches(&subject_labels) && set.pods.matches(&subject.labels)
    };
    // Every matching rule with its evaluation key, folded in key order below.
    let mut found: Vec<(u64, TierStep)> = Vec::new();
    let step = |policy, rule, tier, action, ports| TierStep {
        policy,
        rule,
        tier,
        action,
        ports,
        decided: PortSet::empty(),
        end: false,
    };
    let calico = !cluster.calico_policies.is_empty();
    let calico_tiers = if calico {
        crate::index::calico_tiers(cluster)
    } else {
        Vec::new()
    };
    let rank_of = |name: &str| {
        calico_tiers
            .iter()
            .position(|t| t.name == name)
            .unwrap_or(0) as u16
    };
    for (pi, p) in cluster.cluster_policies.iter().enumerate() {
        let stage = Stage::from(p.tier);
        if (stage == Stage::Baseline && !baseline && !calico) || !applies(&p.subject) {
            continue;
        }
        let rank = rank_of(if stage == Stage::Admin {
            "kube-admin"
        } else {
            "kube-baseline"
        });
        let rules = if egress { &p.egress } else { &p.ingress };
        for (ri, r) in rules.iter().enumerate() {
            if !r
                .peers
                .iter()
                .any(|x| peer_matches(cluster, &x.kind, peer, options))
            {
                if matches!(peer, Side::Address(_))
                    && r.peers
                        .iter()
                        .any(|x| matches!(x.kind, TierPeerKind::DomainNames(_)))
                {
                    w.dns_dependent.push((pi, ri));
                }
                continue;
            }
            let ports = tier_rule_ports(r, destination);
            let key = order_key(stage, rank, pi, ri);
            found.push((key, step(pi, ri, stage, r.action, ports)));
        }
    }
    for &i in candidates.cilium(namespace) {
        let r = candidates.refs[i];
        let spec = &cluster.cilium_policies[r.policy as usize].specs[r.spec as usize];
        let kubeseg_model::CiliumSubject::Pods(set) = &spec.subject else {
            continue;
        };
        if !applies(set) {
            continue;
        }
        let rules = if egress {
            &spec.egress_deny
        } else {
            &spec.ingress_deny
        };
        for (ri, rule) in rules.iter().enumerate() {
            if super::cilium::rule_matches(cluster, rule, peer, options) {
                let ports = super::cilium::ports(rule, destination);
                let key = order_key(Stage::Normal, 0, i, ri);
                found.push((key, step(i, ri, Stage::Normal, Action::Deny, ports)));
            }
        }
    }
    if calico {
        let subject_side = Side::Pod {
            namespace,
            pod: subject,
        };
        super::calico::steps(
            cluster,
            (&calico_tiers, &subject_side),
            (peer, destination, egress),
            options,
            (&mut found, &mut w.calico_isolating),
        );
    }
    found.sort_by_key(|(key, _)| *key);
    let mut fold = TierFold::default();
    for (_, mut s) in found {
        s.decided = fold.step(s.tier, s.action, s.end, &s.ports);
        w.steps.push(s);
    }
    fold.finish();
    (w.accept, w.deny, w.normal_deny, w.baseline_deny) = fold.totals();
    w.fold = fold;
    w
}

/// The first-match fold of tiered rules on port sets, rules given in evaluation order
/// (their stages' order) with the ports they match; the same walk as the engine's
/// `Decision`: per tier, a port is decided by the first rule holding it or by the tier's
/// end; tiers before the union layer's decide first; around the union block its own
/// rules decide; tiers after it see what it passes or (where nothing isolates) leaves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TierFold {
    /// The tier being walked: (stage, decided or passed, accepted, denied).
    open: Option<(Stage, PortSet, PortSet, PortSet)>,
    /// Ports the tiers before the union layer's accept.
    pub accept: PortSet,
    /// Ports the tiers before the union layer's deny.
    pub deny: PortSet,
    /// Ports the union layer's tier accepts before its union block.
    pub pre_accept: PortSet,
    /// Ports it denies there (Cilium's denies among them).
    pub normal_deny: PortSet,
    pre_decided: PortSet,
    /// Ports it accepts after its union block (of those `pre` left).
    pub post_accept: PortSet,
    /// Ports it denies after its union block (of those `pre` left).
    pub post_deny: PortSet,
    post_decided: PortSet,
    after_accept: PortSet,
    /// Ports the tiers after the union layer's deny.
    pub baseline_deny: PortSet,
}

impl TierFold {
    /// Applies one matching rule (an `end` rule: its tier's default on what the tier
    /// left); returns the ports it decides.
    pub fn step(&mut self, tier: Stage, action: Action, end: bool, ports: &PortSet) -> PortSet {
        let all = PortSet::all();
        let ports = if end { &all } else { ports };
        // A step of another tier closes the open one first, so what it decided counts.
        if self.open.as_ref().is_some_and(|o| o.0 != tier) {
            self.close();
        }
        let earlier = self.accept.union(&self.deny);
        match tier.region() {
            Region::Before | Region::After => {
                let (_, decided, accept, deny) = self.open.get_or_insert_with(|| {
                    (tier, PortSet::empty(), PortSet::empty(), PortSet::empty())
                });
                let new = ports.difference(decided);
                match action {
                    Action::Accept => *accept = accept.union(&new),
                    Action::Deny => *deny = deny.union(&new),
                    Action::Pass => {}
                }
                *decided = decided.union(ports);
                let mut shown = new;
                if tier.region() == Region::After {
                    let before = self.after_accept.union(&self.baseline_deny);
                    shown = shown
                        .difference(&before)
                        .difference(&earlier)
                        .difference(&self.pre_decided);
                }
                if end {
                    self.close();
                }
                shown
            }
            Region::Pre => {
                self.close();
                let new = ports.difference(&self.pre_decided);
                match action {
                    Action::Accept => self.pre_accept = self.pre_accept.union(&new),
                    Action::Deny => self.normal_deny = self.normal_deny.union(&new),
                    Action::Pass => {}
                }
                self.pre_decided = self.pre_decided.union(ports);
                new.difference(&self.accept).difference(&self.deny)
            }
            Region::Post => {
                self.close();
                let seen = self.pre_decided.union(&self.post_decided);
                let new = ports.difference(&seen);
                match action {
                    Action::Accept => self.post_accept = self.post_accept.union(&new),
                    Action::Deny => self.post_deny = self.post_deny.union(&new),
                    Action::Pass => {}
                }
                self.post_decided = self
                    .post_decided
                    .union(&ports.difference(&self.pre_decided));
                new.difference(&earlier)
            }
        }
    }

    /// Folds the open tier into its region's totals.
    fn close(&mut self) {
        let Some((stage, _, accept, deny)) = self.open.take() else {
            return;
        };
        let (total_accept, total_deny) = match stage.region() {
            Region::After => (&mut self.after_accept, &mut self.baseline_deny),
            _ => (&mut self.accept, &mut self.deny),
        };
        let decided = total_accept.union(total_deny);
        *total_accept = total_accept.union(&accept.difference(&decided));
        *total_deny = total_deny.union(&deny.difference(&decided));
    }

    /// Ends the walk: call after the last step, before reading the totals.
    pub fn finish(&mut self) {
        self.close();
    }

    /// (accepted before the union layer, denied before it, denied by its tier before
    /// the union block, denied after it), once `finish`ed.
    pub fn totals(&self) -> (PortSet, PortSet, PortSet, PortSet) {
        (
            self.accept.clone(),
            self.deny.clone(),
            self.normal_deny.clone(),
            self.baseline_deny.clone(),
        )
    }

    /// The direction's verdict given the union layer's answer (`None`: nothing
    /// isolates); `finish` first.
    pub fn verdict(&self, union: Option<&PortSet>) -> PortSet {
        let empty = PortSet::empty();
        let u = union.unwrap_or(&empty);
        let pre_passed = self
            .pre_decided
            .difference(&self.pre_accept.union(&self.normal_deny));
        let post_passed = self
            .post_decided
            .difference(&self.post_accept.union(&self.post_deny));
        let mid = self
            .pre_accept
            .union(&u.union(&self.post_accept).difference(&self.pre_decided));
        let mut onward = pre_passed.union(&post_passed.difference(u));
        if union.is_none() {
            let seen = self.pre_decided.union(&self.post_decided).union(u);
            onward = onward.union(&PortSet::all().difference(&seen));
        }
        let below = mid.union(&onward.difference(&self.baseline_deny));
        self.accept.union(&below.difference(&self.deny))
    }
}

/// The ports a tiered rule matches toward `destination`.
fn tier_rule_ports(rule: &TierRule, destination: &Side) -> PortSet {
    let as_rule = Rule {
        location: None,
        peers: None,
        ports: rule.ports.clone(),
    };
    rule_ports(&as_rule, destination).0
}

fn peer_matches(cluster: &Cluster, kind: &TierPeerKind, peer: &Side, options: Options) -> bool {
    match (kind, peer) {
        (TierPeerKind::Pods(set), Side::Pod { namespace, pod }) => {
            (!pod.host_network || options.host_network_selectable)
                && set
                    .namespaces
                    .matches(&namespace_labels(cluster, namespace))
                && set.pods.matches(&pod.labels)
        }
        (TierPeerKind::Networks { addresses, .. }, Side::Pod { pod, .. }) => {
            crate::index::pod_in(addresses, pod)
        }
        (TierPeerKind::Networks { addresses, .. }, Side::Address(ip)) => addresses.contains(*ip),
        (TierPeerKind::Networks { addresses, .. }, Side::Domain(_)) => addresses.has_all_ipv4(),
        (TierPeerKind::Nodes(sel), Side::Address(ip)) => cluster
            .nodes
            .iter()
            .any(|n| sel.matches(&n.labels) && n.addresses.contains(ip)),
        (TierPeerKind::DomainNames(patterns), Side::Domain(name)) => {
            let name = normalise_domain(name);
            patterns
                .iter()
                .any(|p| domain_matches(&normalise_domain(p), &name))
        }
        _ => false,
    }
}
