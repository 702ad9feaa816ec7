//! The walk of the ordered stages of one direction, rule by rule, straight from the
//! tiered policies and Cilium's deny rules.

use super::{Side, namespace_labels, rule_ports};
use crate::Options;
use crate::index::{Stage, cilium_refs, domain_matches, normalise_domain};
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
}

/// Walks the tiers for `subject` (a pod) toward or from `peer`.
#[allow(clippy::too_many_arguments)]
pub fn walk(
    cluster: &Cluster,
    namespace: &str,
    subject: &kubeseg_model::Pod,
    peer: &Side,
    destination: &Side,
    egress: bool,
    baseline: bool,
    options: Options,
) -> TierWalk {
    let mut w = TierWalk::default();
    let mut fold = TierFold::default();
    let subject_labels = namespace_labels(cluster, namespace);
    let applies = |set: &kubeseg_model::PodSet| {
        set.namespaces.matches(&subject_labels) && set.pods.matches(&subject.labels)
    };
    let mut step = |w: &mut TierWalk, (policy, rule): (usize, usize), stage, action, ports| {
        let new = fold.step(stage, action, &ports);
        w.steps.push(TierStep {
            policy,
            rule,
            tier: stage,
            action,
            ports,
            decided: new,
        });
    };
    for stage in [Stage::Admin, Stage::Normal, Stage::Baseline] {
        if stage == Stage::Baseline && !baseline {
            continue;
        }
        if stage == Stage::Normal {
            for (i, r) in cilium_refs(cluster).into_iter().enumerate() {
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
                        step(&mut w, (i, ri), stage, Action::Deny, ports);
                    }
                }
            }
            continue;
        }
        for (pi, p) in cluster.cluster_policies.iter().enumerate() {
            if Stage::from(p.tier) != stage || !applies(&p.subject) {
                continue;
            }
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
                step(&mut w, (pi, ri), stage, r.action, ports);
            }
        }
    }
    (w.accept, w.deny, w.normal_deny, w.baseline_deny) =
        (fold.accept, fold.deny, fold.normal_deny, fold.baseline_deny);
    w
}

/// The first-match fold of tiered rules on port sets, rules given in evaluation order
/// with the ports they match: per tier, a port is decided by the first rule holding it;
/// the `Normal` stage denies what the Admin tier neither accepted nor denied, and the
/// Baseline tier only sees what neither of them decided.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TierFold {
    decided: PortSet,
    baseline_decided: PortSet,
    /// Ports the Admin tier accepts.
    pub accept: PortSet,
    /// Ports the Admin tier denies.
    pub deny: PortSet,
    /// Ports the `Normal` stage denies.
    pub normal_deny: PortSet,
    /// Ports the Baseline tier denies.
    pub baseline_deny: PortSet,
}

impl TierFold {
    /// Applies one matching rule; returns the ports it decides.
    pub fn step(&mut self, tier: Stage, action: Action, ports: &PortSet) -> PortSet {
        if tier == Stage::Normal {
            let above = self.accept.union(&self.deny).union(&self.normal_deny);
            let new = ports.difference(&above);
            self.normal_deny = self.normal_deny.union(&new);
            return new;
        }
        let (seen, above) = match tier {
            Stage::Admin => (&mut self.decided, PortSet::empty()),
            _ => (
                &mut self.baseline_decided,
                self.accept.union(&self.deny).union(&self.normal_deny),
            ),
        };
        let new = ports.difference(seen).difference(&above);
        *seen = seen.union(ports);
        match (tier, action) {
            (Stage::Admin, Action::Accept) => self.accept = self.accept.union(&new),
            (Stage::Admin, Action::Deny) => self.deny = self.deny.union(&new),
            (Stage::Baseline, Action::Deny) => self.baseline_deny = self.baseline_deny.union(&new),
            _ => {}
        }
        new
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
            if pod.ips.is_empty() {
                addresses.has_all_ipv4()
            } else {
                pod.ips.iter().any(|ip| addresses.contains(*ip))
            }
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
