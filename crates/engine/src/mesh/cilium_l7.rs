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
use kubeseg_model::{CiliumSubject, Cluster, PortSet};
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
    /// Per workload: whether a spec with L7 rules selects it, for (ingress, egress).
    selected: Vec<(bool, bool)>,
    memo: HashMap<Pair, Rc<Vec<L7Condition>>>,
}

/// A source (a workload or an address) and a destination workload.
type Pair = (Result<usize, IpAddr>, usize);

impl<'c> Gate<'c> {
    pub(super) fn new(cluster: &'c Cluster, options: Options) -> Self {
        let specs: Vec<_> = cilium_refs(cluster)
            .into_iter()
            .map(|r| &cluster.cilium_policies[r.policy as usize].specs[r.spec as usize])
            .filter_map(|s| match &s.subject {
                CiliumSubject::Pods(set) => Some((s, set)),
                CiliumSubject::Nodes(_) => None,
            })
            .collect();
        let has = |rules: &[kubeseg_model::CiliumRule]| rules.iter().any(|r| !r.l7.is_empty());
        let selected = cluster
            .workloads
            .iter()
            .map(|w| {
                let labels = namespace_labels(cluster, &w.namespace);
                let pod = &w.pods[0];
                specs.iter().fold((false, false), |(i, e), (s, set)| {
                    let on = set.namespaces.matches(&labels) && set.pods.matches(&pod.labels);
                    (i || (on && has(&s.ingress)), e || (on && has(&s.egress)))
                })
            })
            .collect();
        Gate {
            cluster,
            options,
            selected,
            memo: HashMap::default(),
        }
    }

    /// The conditions from `src` (a workload or an address) to workload `dst`, on any
    /// port (the caller keeps those of the connection).
    pub(super) fn conditions(
        &mut self,
        src: Result<usize, IpAddr>,
        dst: usize,
    ) -> Rc<Vec<L7Condition>> {
        let egress = src.is_ok_and(|s| self.selected[s].1);
        if !self.selected[dst].0 && !egress {
            return Rc::default();
        }
        let (cluster, options) = (self.cluster, self.options);
        self.memo
            .entry((src, dst))
            .or_insert_with(|| Rc::new(pair(cluster, src, dst, options)))
            .clone()
    }
}

/// The L7 conditions of one pair, from both directions.
fn pair(
    cluster: &Cluster,
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
    let e = explain::explain(cluster, &from, &side(dst), options);
    let mut items = direction(cluster, &e.egress, "egress");
    items.extend(direction(cluster, &e.ingress, "ingress"));
    let mut out: Vec<L7Condition> = Vec::new();
    for (ports, condition) in items {
        refine(&mut out, ports, condition);
    }
    out
}

/// The ports each L7-bearing allow of a direction filters, less what an allow without
/// L7 rules admits for the same peer.
fn direction(cluster: &Cluster, d: &Direction, word: &str) -> Vec<(PortSet, String)> {
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
    let refs = cilium_refs(cluster);
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
