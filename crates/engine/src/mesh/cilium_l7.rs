//! Cilium's L7 `rules` as conditions on the connections they allow: the L4 port is
//! open, but Cilium's proxy admits only the requests the rules match.
//!
//! A port is conditional for a peer only when every allow admitting that peer on it
//! carries L7 rules. Cilium's documentation (Documentation/security/policy/layer7.rst,
//! v1.20.2): "If a layer 4 rule is specified in the policy, and a similar layer 4 rule
//! with layer 7 rules is also specified, then the layer 7 portions of the latter rule
//! will have no effect"; its agent adds an allow-all L7 rule for the peers of L3-only
//! and L3/L4-only rules on the proxied port (pkg/policy/repository.go,
//! `wildcardL3L4Rule`: "Wildcard at L7 all the endpoints allowed at L3 or L4").
//! Kubernetes NetworkPolicies become rules of the same repository, so their allows
//! count too. Deny rules are already out of the L3/L4 answer.

use crate::Options;
use crate::explain::{self, Direction, Side, namespace_labels};
use crate::index::cilium_refs;
use kubeseg_model::{CiliumPeerKind, CiliumRule, CiliumSubject, Cluster, PortSet};
use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;
use std::rc::Rc;

/// Ports of a connection that Cilium's proxy filters, and the rules it applies there.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct L7Condition {
    /// The ports.
    pub ports: PortSet,
    /// One condition per filtering rule, such as `the request matches Cilium's http
    /// rules of CiliumNetworkPolicy/shop/api ingress[0]`.
    pub conditions: Vec<String>,
}

/// Whether the cluster has a Cilium allow rule with L7 rules on pods.
pub fn present(cluster: &Cluster) -> bool {
    cluster
        .cilium_policies
        .iter()
        .flat_map(|p| &p.specs)
        .any(|s| {
            matches!(s.subject, CiliumSubject::Pods(_))
                && s.ingress.iter().chain(&s.egress).any(|r| !r.l7.is_empty())
        })
}

/// The L7 conditions of connections, per source and destination workload.
pub(super) struct Gate<'c> {
    cluster: &'c Cluster,
    options: Options,
    /// What the questions need, built at the first one (`reach --compact` never asks).
    prepared: Option<Prepared<'c>>,
    memo: HashMap<Pair, Rc<Vec<L7Condition>>>,
}

/// What a gate works from.
struct Prepared<'c> {
    /// The policies that may select each pod, for the pairs' explanations.
    candidates: explain::Candidates<'c>,
    /// Per namespace name: its labels, as selectors see them.
    ns_labels: HashMap<&'c str, kubeseg_model::Labels>,
    /// Per workload: the L7-bearing rules of the specs selecting it, with the ports
    /// each may filter (a superset: named ports count as their whole protocol), for
    /// (ingress, egress).
    selected: Vec<(Vec<L7Rule<'c>>, Vec<L7Rule<'c>>)>,
}

/// An allow rule with L7 rules, and the ports it may filter.
type L7Rule<'c> = (&'c CiliumRule, PortSet);

/// A source (a workload or an address) and a destination workload.
type Pair = (Result<usize, IpAddr>, usize);

impl<'c> Prepared<'c> {
    fn new(cluster: &'c Cluster) -> Self {
        let candidates = explain::Candidates::new(cluster);
        let l7 = |rules: &'c [CiliumRule]| -> Vec<L7Rule<'c>> {
            rules
                .iter()
                .filter(|r| !r.l7.is_empty())
                .map(|r| (r, l7_ports(r)))
                .collect()
        };
        // Per Cilium spec: its L7-bearing rules, when it has some and selects pods.
        let specs: Vec<_> = candidates
            .refs
            .iter()
            .map(|r| {
                let s = &cluster.cilium_policies[r.policy as usize].specs[r.spec as usize];
                match &s.subject {
                    CiliumSubject::Pods(set) => Some((l7(&s.ingress), l7(&s.egress), set))
                        .filter(|(i, e, _)| !i.is_empty() || !e.is_empty()),
                    CiliumSubject::Nodes(_) => None,
                }
            })
            .collect();
        let mut by_namespace: HashMap<&str, Vec<usize>> = HashMap::default();
        for (i, w) in cluster.workloads.iter().enumerate() {
            by_namespace
                .entry(w.namespace.as_str())
                .or_default()
                .push(i);
        }
        let ns_labels: HashMap<&str, kubeseg_model::Labels> = by_namespace
            .keys()
            .map(|ns| (*ns, namespace_labels(cluster, ns)))
            .collect();
        // Only the specs that may select a namespace's pods are tested on them.
        let mut selected = vec![(Vec::new(), Vec::new()); cluster.workloads.len()];
        for (ns, workloads) in &by_namespace {
            for &i in candidates.cilium(ns) {
                let Some((ingress, egress, set)) = &specs[i] else {
                    continue;
                };
                if !set.namespaces.matches(&ns_labels[ns]) {
                    continue;
                }
                for &w in workloads {
                    if set.pods.matches(&cluster.workloads[w].pods[0].labels) {
                        selected[w].0.extend(ingress.iter().cloned());
                        selected[w].1.extend(egress.iter().cloned());
                    }
                }
            }
        }
        Prepared {
            candidates,
            ns_labels,
            selected,
        }
    }
}

impl<'c> Gate<'c> {
    pub(super) fn new(cluster: &'c Cluster, options: Options) -> Self {
        Gate {
            cluster,
            options,
            prepared: None,
            memo: HashMap::default(),
        }
    }

    /// The conditions from `src` (a workload or an address) to workload `dst`, on any
    /// port (the caller keeps those of the connection).
    pub(super) fn conditions(
        &mut self,
        src: Result<usize, IpAddr>,
        dst: usize,
        ports: &PortSet,
    ) -> Rc<Vec<L7Condition>> {
        let cluster = self.cluster;
        let prepared = self.prepared.get_or_insert_with(|| Prepared::new(cluster));
        // Only a connection that an L7 rule at either end may admit (its peer may match
        // the other end, on one of the connection's ports) needs the pair's evaluation.
        let party = |w: usize| {
            let ns = &prepared.ns_labels[cluster.workloads[w].namespace.as_str()];
            (ns, w)
        };
        let admits = |rules: &[L7Rule], peer: Option<(&kubeseg_model::Labels, usize)>| {
            rules.iter().any(|(rule, filtered)| {
                !filtered.intersect(ports).is_empty()
                    && rule.peers.iter().any(|p| match (&p.kind, peer) {
                        (CiliumPeerKind::Pods(set), Some((ns, w))) => {
                            set.namespaces.matches(ns)
                                && set.pods.matches(&cluster.workloads[w].pods[0].labels)
                        }
                        (CiliumPeerKind::Pods(_), None) => false,
                        _ => true,
                    })
            })
        };
        let ingress = admits(&prepared.selected[dst].0, src.ok().map(party));
        let egress = src.is_ok_and(|s| admits(&prepared.selected[s].1, Some(party(dst))));
        if !ingress && !egress {
            return Rc::default();
        }
        let (options, candidates) = (self.options, &prepared.candidates);
        self.memo
            .entry((src, dst))
            .or_insert_with(|| Rc::new(pair((cluster, candidates), src, dst, options)))
            .clone()
    }
}

/// The ports an L7-bearing rule names (every port of a protocol for a named port, and
/// every port for a rule without `toPorts`).
fn l7_ports(rule: &CiliumRule) -> PortSet {
    use kubeseg_model::PortMatch;
    let Some(ports) = &rule.ports else {
        return PortSet::all();
    };
    ports.iter().fold(PortSet::empty(), |out, p| {
        out.union(&match &p.port {
            PortMatch::Range(lo, hi) => PortSet::range(p.protocol, *lo, *hi),
            PortMatch::Any | PortMatch::Named(_) => PortSet::all_of(p.protocol),
        })
    })
}

/// The L7 conditions of one pair, from both directions.
fn pair(
    (cluster, candidates): (&Cluster, &explain::Candidates),
    src: Result<usize, IpAddr>,
    dst: usize,
    options: Options,
) -> Vec<L7Condition> {
    let side = |w: usize| Side::Pod {
        namespace: &cluster.workloads[w].namespace,
        pod: &cluster.workloads[w].pods[0],
    };
    let from = match src {
        Ok(w) => side(w),
        Err(ip) => Side::Address(ip),
    };
    let e = explain::explain_with(cluster, candidates, &from, &side(dst), options);
    explained(cluster, &candidates.refs, &e)
}

/// The L7 conditions of an explained pair: the ports only allows with L7 rules admit,
/// in either direction, with the rules that filter them (`explain`'s verdict uses it).
pub fn conditions_of(cluster: &Cluster, e: &explain::Explanation) -> Vec<L7Condition> {
    explained(cluster, &cilium_refs(cluster), e)
}

fn explained(
    cluster: &Cluster,
    refs: &[crate::index::CiliumRef],
    e: &explain::Explanation,
) -> Vec<L7Condition> {
    let mut items = direction(cluster, refs, &e.egress, "egress");
    items.extend(direction(cluster, refs, &e.ingress, "ingress"));
    let mut out: Vec<L7Condition> = Vec::new();
    for (ports, condition) in items {
        refine(&mut out, ports, condition);
    }
    out
}

/// The ports each L7-bearing allow of a direction filters, less what an allow without
/// L7 rules admits for the same peer.
fn direction(
    cluster: &Cluster,
    refs: &[crate::index::CiliumRef],
    d: &Direction,
    word: &str,
) -> Vec<(PortSet, String)> {
    if !d.isolated {
        return Vec::new();
    }
    let plain = d
        .rules
        .iter()
        .map(|r| r.ports.clone())
        .chain(
            d.cilium
                .rules
                .iter()
                .map(|r| r.ports.difference(&r.l7_ports)),
        )
        .fold(PortSet::empty(), |acc, p| acc.union(&p));
    d.cilium
        .rules
        .iter()
        .filter(|r| !r.l7_ports.is_empty())
        .filter_map(|r| {
            let ports = r.l7_ports.difference(&plain);
            let at = &refs[r.spec];
            let policy = &cluster.cilium_policies[at.policy as usize];
            let label = policy.spec_label(at.spec as usize);
            let text = format!(
                "the request matches Cilium's {} rules of {} {label}{word}[{}]",
                r.l7.join("/"),
                policy.id(),
                r.rule
            );
            (!ports.is_empty()).then_some((ports, text))
        })
        .collect()
}

/// Adds `condition` on `ports` to disjoint groups of ports that share their conditions.
fn refine(out: &mut Vec<L7Condition>, ports: PortSet, condition: String) {
    let mut rest = ports;
    let mut split = Vec::new();
    for g in out.iter_mut() {
        let both = g.ports.intersect(&rest);
        if both.is_empty() {
            continue;
        }
        g.ports = g.ports.difference(&both);
        rest = rest.difference(&both);
        let mut conditions = g.conditions.clone();
        conditions.push(condition.clone());
        split.push(L7Condition {
            ports: both,
            conditions,
        });
    }
    out.retain(|g| !g.ports.is_empty());
    out.extend(split);
    if !rest.is_empty() {
        out.push(L7Condition {
            ports: rest,
            conditions: vec![condition],
        });
    }
}
