//! Calico's policies lowered onto the ordered stages: each Calico tier is a stage by its
//! place around `default`, which holds the union layer (Kubernetes NetworkPolicies at
//! order 1000): its Calico policies ordered before them are `CalicoPre`, the rest
//! `CalicoPost`. A tier that applies ends with its default action (an `end` rule);
//! `default` ends through the union layer's isolation, which its Calico policies join.

use super::tiers::{Stage, TierPeerRef, TierRule, end_key, order_key};
use super::{Builder, ClassKey, CompiledPeer, PortSpec};
use crate::bitset::BitSet;
use crate::ids::{ClusterPolicyId, PeerSetId};
use crate::portsets::PortSetId;
use kubeseg_model::{
    Action, CalicoAction, CalicoEntity, CalicoNamespaces, CalicoPolicy, CalicoPort, CalicoPortOf,
    CalicoRule, Cluster, IpSet, Labels, PortSet, Protocol,
};
use rustc_hash::FxHashMap as HashMap;
use std::cmp::Ordering;

pub use kubeseg_model::calico::SERVICE_ACCOUNT_KEY;

/// Whether some Calico selector tests a label that a pod's endpoint gets from its
/// service account (its name, or its profile's `pcsa.` labels).
pub fn tests_service_accounts(cluster: &Cluster) -> bool {
    cluster.calico_policies.iter().any(|p| {
        p.endpoint_selectors()
            .any(kubeseg_model::calico::tests_service_account)
    })
}

/// The order Kubernetes NetworkPolicies have in Calico's `default` tier.
pub const K8S_ORDER: f64 = 1000.0;

/// A tier as Calico orders it.
#[derive(Clone, Debug)]
pub struct CalicoTierPlace {
    /// The name.
    pub name: String,
    /// Its `order` (`None`: after every ordered tier).
    pub order: Option<f64>,
    /// What it does with what it leaves, where it applies.
    pub default_action: CalicoAction,
    /// Its stage.
    pub stage: Stage,
}

/// Calico's tiers in order, with their stages; the AdminNetworkPolicy and Baseline
/// stages take `kube-admin`'s and `kube-baseline`'s places.
pub fn calico_tiers(cluster: &Cluster) -> Vec<CalicoTierPlace> {
    let mut tiers: Vec<(String, Option<f64>, CalicoAction)> = cluster
        .calico_tiers
        .iter()
        .map(|t| (t.name.clone(), t.order, t.default_action))
        .collect();
    for (name, order, action) in [
        ("kube-admin", 1000.0, CalicoAction::Pass),
        ("default", 1_000_000.0, CalicoAction::Deny),
        ("kube-baseline", 10_000_000.0, CalicoAction::Pass),
    ] {
        if !tiers.iter().any(|t| t.0 == name) {
            tiers.push((name.to_string(), Some(order), action));
        }
    }
    tiers.sort_by(|a, b| order_cmp(a.1, b.1).then_with(|| a.0.cmp(&b.0)));
    let default = tiers.iter().position(|t| t.0 == "default").unwrap_or(0);
    tiers
        .into_iter()
        .enumerate()
        .map(|(rank, (name, order, default_action))| {
            let rank16 = rank as u16;
            let stage = match name.as_str() {
                "kube-admin" if rank < default => Stage::Admin,
                "kube-baseline" if rank > default => Stage::Baseline,
                _ if rank < default => Stage::CalicoBefore(rank16),
                _ if rank > default => Stage::CalicoAfter(rank16),
                _ => Stage::CalicoPost,
            };
            CalicoTierPlace {
                name,
                order,
                default_action,
                stage,
            }
        })
        .collect()
}

/// Calico's order of `order` values: ascending, a missing one last.
/// A key that sorts `order`s as [`order_cmp`] does: numbers by `f64::total_cmp`,
/// then no order.
fn total_order(order: Option<f64>) -> (bool, i64) {
    match order {
        // The bits of a float, flipped below zero, order as `total_cmp` does.
        Some(o) => {
            let bits = o.to_bits() as i64;
            (false, bits ^ ((((bits >> 63) as u64) >> 1) as i64))
        }
        None => (true, 0),
    }
}

pub fn order_cmp(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The non-staged policies of each tier (indices into `Cluster::calico_policies`), in
/// Calico's order inside a tier: by `order`, then name, namespace and kind.
pub fn calico_policy_order(cluster: &Cluster) -> Vec<usize> {
    let mut order: Vec<usize> = (0..cluster.calico_policies.len())
        .filter(|&i| !cluster.calico_policies[i].staged)
        .collect();
    // Keys made once: tens of thousands of policies compare by strings.
    order.sort_by_cached_key(|&i| {
        let p = &cluster.calico_policies[i];
        (total_order(p.order), &p.name, &p.namespace, &p.kind)
    });
    order
}

/// Where the Kubernetes NetworkPolicies sort among `default`'s policies of order 1000:
/// the least and greatest (name, namespace) (`None`: there are none).
pub type K8sBounds<'c> = Option<((&'c str, &'c str), (&'c str, &'c str))>;

/// The least and greatest (name, namespace) of the cluster's NetworkPolicies.
pub fn k8s_bounds(cluster: &Cluster) -> K8sBounds<'_> {
    let keys = cluster
        .policies
        .iter()
        .map(|p| (p.name.as_str(), p.namespace.as_str()));
    Some((keys.clone().min()?, keys.max()?))
}

/// Whether a `default`-tier policy comes before the Kubernetes NetworkPolicies
/// (`Some(true)`), after them (`Some(false)`), or between two of them (`None`: at
/// order 1000, ties go by name, namespace, then kind, and `KubernetesNetworkPolicy`
/// sorts before `NetworkPolicy`).
pub fn before_k8s(policy: &CalicoPolicy, bounds: K8sBounds) -> Option<bool> {
    match policy.order {
        Some(o) if o < K8S_ORDER => Some(true),
        Some(o) if o == K8S_ORDER => {
            let Some((least, greatest)) = bounds else {
                return Some(false);
            };
            let key = (policy.name.as_str(), policy.namespace.as_str());
            let kind_first = policy.kind.as_str() < "KubernetesNetworkPolicy";
            if key < least || (key == least && kind_first) {
                Some(true)
            } else if key > greatest || (key == greatest && !kind_first) {
                Some(false)
            } else {
                None
            }
        }
        _ => Some(false),
    }
}

/// A Calico policy's stage: its tier's, split around the Kubernetes NetworkPolicies in
/// `default` (`None` also for one that sorts between them; see `unsupported`).
pub fn policy_stage(
    tiers: &[CalicoTierPlace],
    policy: &CalicoPolicy,
    bounds: K8sBounds,
) -> Option<(Stage, u16)> {
    let rank = tiers.iter().position(|t| t.name == policy.tier)?;
    let stage = match tiers[rank].stage {
        Stage::CalicoPost => {
            if before_k8s(policy, bounds)? {
                Stage::CalicoPre
            } else {
                Stage::CalicoPost
            }
        }
        Stage::Admin => Stage::CalicoBefore(rank as u16),
        Stage::Baseline => Stage::CalicoAfter(rank as u16),
        stage => stage,
    };
    Some((stage, rank as u16))
}

/// The labels Calico gives a pod's endpoint: those it inherits from its namespace's
/// and service account's profiles (`pcns.` and `pcsa.` labels, `NamespaceToProfile`,
/// `ServiceAccountToProfile`), overridden by its own, then its namespace's name, the
/// orchestrator and its service account (`account`: `None` when no selector tests it)
/// as the workload-endpoint conversion sets them.
pub fn endpoint_labels(
    cluster: &Cluster,
    namespace: &str,
    labels: &Labels,
    account: Option<&str>,
) -> Labels {
    use kubeseg_model::calico::{NAME_LABEL, service_account_profile_labels};
    let mut out = Labels::new();
    if let Some(ns) = cluster.namespace(namespace) {
        out.extend(
            ns.labels
                .iter()
                .map(|(k, v)| (format!("pcns.{k}"), v.clone())),
        );
    }
    out.insert(format!("pcns.{NAME_LABEL}"), namespace.into());
    if let Some(account) = account {
        let empty = Labels::new();
        let declared = cluster
            .service_account(namespace, account)
            .map_or(&empty, |a| &a.labels);
        out.extend(service_account_profile_labels(account, declared));
    }
    out.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    out.insert("projectcalico.org/namespace".into(), namespace.into());
    out.insert("projectcalico.org/orchestrator".into(), "k8s".into());
    if let Some(account) = account {
        out.insert(SERVICE_ACCOUNT_KEY.into(), account.into());
    }
    out
}

/// A network set's labels as selectors see them: a namespaced one's carry its namespace.
pub fn network_set_labels(n: &kubeseg_model::CalicoNetworkSet) -> Labels {
    let mut labels = n.labels.clone();
    if !n.namespace.is_empty() {
        labels.insert("projectcalico.org/namespace".into(), n.namespace.clone());
    }
    labels
}

/// What a matching rule does in the walk (`None`: Log, which only logs).
pub fn rule_action(action: CalicoAction) -> Option<Action> {
    match action {
        CalicoAction::Allow => Some(Action::Accept),
        CalicoAction::Deny => Some(Action::Deny),
        CalicoAction::Pass => Some(Action::Pass),
        CalicoAction::Log => None,
    }
}

/// What a tier's end does with what the tier left: its `defaultAction`.
pub fn end_action(default_action: CalicoAction) -> Action {
    match default_action {
        CalicoAction::Pass => Action::Pass,
        _ => Action::Deny,
    }
}

/// The labels Calico's namespace selectors see: the namespace's and its name.
pub fn namespace_labels(labels: &Labels, name: &str) -> Labels {
    let mut out = labels.clone();
    out.insert("projectcalico.org/name".into(), name.into());
    out
}

/// The ranges of `groups` (sorted by namespace) that hold one namespace each.
fn blocks<T>(groups: &[(String, T, T, Vec<u32>)]) -> Vec<std::ops::Range<usize>> {
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        match out.last_mut() {
            Some(b) if groups[b.start].0 == g.0 => b.end = i + 1,
            _ => out.push(i..i + 1),
        }
    }
    out
}

/// Whether endpoints of namespace `ns` (`None`: a non-namespaced endpoint, such as a
/// GlobalNetworkSet) may match, given its labels.
pub fn namespace_allows<L: std::borrow::Borrow<Labels>>(
    namespaces: &CalicoNamespaces,
    ns: Option<&str>,
    ns_labels: impl FnOnce() -> L,
) -> bool {
    match (namespaces, ns) {
        (CalicoNamespaces::Any, _) => true,
        (CalicoNamespaces::Own(own), Some(ns)) => own == ns,
        (CalicoNamespaces::Selected(sel), Some(_)) => sel.matches(ns_labels().borrow()),
        (CalicoNamespaces::Global, None) => true,
        _ => false,
    }
}

/// What the engine needs of Calico before nodes are laid out: every address set a rule
/// names or a network set holds, each with whether it excludes (`notNets`) rather than
/// includes.
pub fn calico_address_sets(cluster: &Cluster) -> Vec<(IpSet, bool)> {
    let mut out: Vec<(IpSet, bool)> = cluster
        .calico_network_sets
        .iter()
        .map(|n| (n.nets.clone(), false))
        .collect();
    for p in &cluster.calico_policies {
        for r in p.ingress.iter().chain(&p.egress) {
            out.extend(r.peer.nets.iter().map(|s| (s.clone(), false)));
            out.extend(r.peer.not_nets.iter().map(|s| (s.clone(), true)));
        }
    }
    out
}

impl Builder<'_> {
    /// Compiles every enforced Calico policy into tier rules numbered from `first`;
    /// returns them with the subjects that the `default` tier's isolation takes in.
    pub(super) fn calico(
        &mut self,
        cluster: &Cluster,
        first: usize,
        selection: CalicoSelection<'_>,
    ) -> CompiledCalico {
        let CalicoSelection {
            order,
            entity_sets,
            subjects,
        } = selection;
        let CalicoOrder {
            tiers,
            rank_in_tier,
            places,
            entity_ids,
            ..
        } = order;
        let mut subjects = subjects.into_iter();
        let mut out = CompiledCalico::default();
        let mut peer_ids: Vec<Option<PeerSetId>> = vec![None; entity_sets.len()];
        // Every node on every port: the peers and ports of each tier's end.
        let mut every = None;
        for (i, p) in cluster.calico_policies.iter().enumerate() {
            let id = ClusterPolicyId::from(first + i);
            let place = places[i];
            let selected = match place {
                Some(_) => subjects.next().unwrap_or_else(|| BitSet::new(self.nodes)),
                None => BitSet::new(self.nodes),
            };
            let mut isolates = (false, false);
            for (egress, applies, rules) in [
                (false, p.applies_ingress, &p.ingress),
                (true, p.applies_egress, &p.egress),
            ] {
                let mut compiled = Vec::new();
                if let (Some((stage, rank)), true) = (place, applies) {
                    let policy_rank = rank_in_tier[&i];
                    for (ri, rule) in rules.iter().enumerate() {
                        let e = entity_ids[&rule.peer];
                        let entity = (&mut peer_ids[e], &entity_sets[e]);
                        if let Some(r) = self.calico_rule(rule, (id, egress, ri), entity) {
                            let (peers, ports, action) = r;
                            compiled.push(TierRule {
                                policy: id,
                                rule: ri as u32,
                                tier: stage,
                                action,
                                key: order_key(stage, rank, policy_rank, ri),
                                end: false,
                                peers,
                                ports,
                            });
                        }
                    }
                    match stage {
                        // `default` ends through isolation.
                        Stage::CalicoPre | Stage::CalicoPost => {
                            if egress {
                                isolates.1 = true;
                            } else {
                                isolates.0 = true;
                            }
                        }
                        _ => {
                            let every = *every.get_or_insert_with(|| {
                                let mut all = BitSet::new(self.nodes);
                                all.insert_range(0, self.nodes);
                                (self.intern_peers(all), self.port_spec(None))
                            });
                            compiled.push(tier_end(id, (stage, rank), &tiers, every))
                        }
                    }
                }
                if egress {
                    out.egress.push(compiled);
                } else {
                    out.ingress.push(compiled);
                }
            }
            if isolates.0 {
                out.ingress_isolated.push(selected.clone());
            }
            out.isolates_egress.push(isolates.1);
            out.selected.push(selected);
        }
        out
    }

    /// A rule's peers, ports and action; `None` for a rule that matches no TCP, UDP or
    /// SCTP connection, or only logs.
    fn calico_rule(
        &mut self,
        rule: &CalicoRule,
        (id, egress, ri): (ClusterPolicyId, bool, usize),
        (interned, set): (&mut Option<PeerSetId>, &BitSet),
    ) -> Option<(PeerSetId, crate::ids::PortSpecId, Action)> {
        let action = rule_action(rule.action)?;
        let ports = self.calico_ports(rule)?;
        // An entity's namespace scoping is resolved, so equal entities match alike.
        let peers = *interned.get_or_insert_with(|| self.intern_peers(set.clone()));
        self.calico_peer_refs.push(CompiledPeer {
            at: TierPeerRef {
                policy: id,
                egress,
                rule: ri as u32,
                peer: 0,
            },
            set: peers,
        });
        Some((peers, ports, action))
    }

    /// A rule's ports as a port spec (`None`: it matches no port and no ICMP message).
    fn calico_ports(&mut self, rule: &CalicoRule) -> Option<crate::ids::PortSpecId> {
        let mut numeric = PortSet::empty();
        let mut named = Vec::new();
        let mut except = PortSet::empty();
        for (i, &on) in rule.protocols.iter().enumerate() {
            if !on {
                continue;
            }
            let proto = Protocol::ALL[i];
            if proto.is_icmp() {
                numeric = numeric.union(&rule.icmp_messages(proto));
                continue;
            }
            let mut set = PortSet::all_of(proto);
            if let Some(ports) = &rule.ports {
                if let Some(list) = &ports.ports {
                    set = PortSet::empty();
                    for p in list {
                        match p.for_protocol(proto) {
                            Some(CalicoPortOf::Range(lo, hi)) => {
                                set = set.union(&PortSet::range(proto, lo, hi))
                            }
                            Some(CalicoPortOf::Named(n)) => named.push((proto, n.to_string())),
                            None => {}
                        }
                    }
                }
                for p in &ports.not_ports {
                    if let Some(CalicoPortOf::Range(lo, hi)) = p.for_protocol(proto) {
                        set = set.difference(&PortSet::range(proto, lo, hi));
                        except = except.union(&PortSet::range(proto, lo, hi));
                    }
                }
            }
            numeric = numeric.union(&set);
        }
        if numeric.is_empty() && named.is_empty() {
            return None;
        }
        named.sort();
        named.dedup();
        // `notPorts` cut named ports too, once they are resolved.
        let except = if named.is_empty() {
            PortSetId::EMPTY
        } else {
            self.port_sets.intern(except)
        };
        let spec = PortSpec {
            numeric: self.port_sets.intern(numeric),
            named,
            except,
        };
        Some(self.intern_spec(spec))
    }
}

/// What Calico's selections read of the layout. It borrows nothing the interning
/// builder writes, so the selections run on another thread while the builder compiles
/// the other kinds.
pub(super) struct CalicoView<'a> {
    pub cluster: &'a Cluster,
    pub nodes: usize,
    pub class_count: usize,
    pub classes: &'a [ClassKey],
    pub selectable: &'a BitSet,
    pub atom_sets: &'a [IpSet],
    pub networks: &'a [IpSet],
    pub threads: usize,
    /// The classes of pods on the host network, which address conditions see by their
    /// node's addresses.
    pub host_network_classes: Vec<usize>,
    /// Selectable classes by (namespace, its labels, endpoint labels), in namespace
    /// order.
    pub groups: Vec<(String, Labels, Labels, Vec<u32>)>,
    /// Per namespace, in name order: the range of its groups in `groups`.
    pub blocks: Vec<std::ops::Range<usize>>,
    /// Per Calico network set: its labels and its namespace's labels as selectors see
    /// them.
    pub set_labels: Vec<(Labels, Labels)>,
}

/// Calico's policies ordered and placed, and their distinct rule entities: what needs
/// the cluster only, so it runs beside the layout.
pub(super) struct CalicoOrder<'c> {
    tiers: Vec<CalicoTierPlace>,
    /// Each policy's rank within its tier.
    rank_in_tier: HashMap<usize, usize>,
    /// Each policy's stage and rank (`None`: staged, or its tier is not enforced).
    places: Vec<Option<(Stage, u16)>>,
    /// The distinct rule entities, numbered in policy order.
    entity_ids: HashMap<&'c CalicoEntity, usize>,
    /// The distinct rule entities of placed policies, in policy order.
    entities: Vec<&'c CalicoEntity>,
}

impl<'c> CalicoOrder<'c> {
    pub(super) fn of(cluster: &'c Cluster) -> Self {
        let tiers = calico_tiers(cluster);
        let mut rank_in_tier: HashMap<usize, usize> = HashMap::default();
        let mut seen_per_tier: HashMap<&str, usize> = HashMap::default();
        for i in calico_policy_order(cluster) {
            let tier = cluster.calico_policies[i].tier.as_str();
            let n = seen_per_tier.entry(tier).or_default();
            rank_in_tier.insert(i, *n);
            *n += 1;
        }
        let bounds = k8s_bounds(cluster);
        let places: Vec<_> = (cluster.calico_policies.iter())
            .map(|p| {
                (!p.staged)
                    .then(|| policy_stage(&tiers, p, bounds))
                    .flatten()
            })
            .collect();
        // Interning stays in policy order (in `Builder::calico`), so ids do not depend
        // on the threads.
        let mut entity_ids: HashMap<&CalicoEntity, usize> = HashMap::default();
        let mut entities: Vec<&CalicoEntity> = Vec::new();
        for (p, place) in cluster.calico_policies.iter().zip(&places) {
            if place.is_some() {
                for rule in p.ingress.iter().chain(&p.egress) {
                    entity_ids.entry(&rule.peer).or_insert_with(|| {
                        entities.push(&rule.peer);
                        entities.len() - 1
                    });
                }
            }
        }
        CalicoOrder {
            tiers,
            rank_in_tier,
            places,
            entity_ids,
            entities,
        }
    }
}

/// What every enforced Calico policy selects, computed before interning.
pub(super) struct CalicoSelection<'c> {
    order: CalicoOrder<'c>,
    /// The nodes of each distinct rule entity, by its number.
    entity_sets: Vec<BitSet>,
    /// The subjects of the placed policies, in policy order.
    subjects: Vec<BitSet>,
}

impl<'a> CalicoView<'a> {
    /// Selects the subject of every placed policy and the nodes of each distinct rule
    /// entity (on every thread: selecting only reads).
    pub(super) fn select(mut self, order: CalicoOrder<'a>) -> CalicoSelection<'a> {
        let cluster = self.cluster;
        if order.places.iter().any(Option::is_some) {
            self.prepare();
        }
        let placed: Vec<&CalicoPolicy> = (cluster.calico_policies.iter())
            .zip(&order.places)
            .filter(|(_, place)| place.is_some())
            .map(|(p, _)| p)
            .collect();
        let this = &self;
        let subjects = crate::threads::par_map(self.threads, &placed, |p| this.calico_subject(p));
        let entity_sets =
            crate::threads::par_map(self.threads, &order.entities, |e| this.calico_entity(e));
        CalicoSelection {
            order,
            entity_sets,
            subjects,
        }
    }

    /// The classes a Calico policy applies to.
    fn calico_subject(&self, p: &CalicoPolicy) -> BitSet {
        self.pods_matching(&p.subject.namespaces, Some(&p.subject.selector), None)
    }

    /// The selectable classes in `namespaces` whose endpoint labels match `selector`
    /// and not `not`: each distinct (namespace, labels) is tested once per distinct
    /// question, however many classes (pod addresses) share it.
    fn pods_matching(
        &self,
        namespaces: &CalicoNamespaces,
        selector: Option<&kubeseg_model::calico_selector::CalicoSelector>,
        not: Option<&kubeseg_model::calico_selector::CalicoSelector>,
    ) -> BitSet {
        let mut out = BitSet::new(self.nodes);
        let groups = &self.groups;
        // A namespace is tested once; `Own` looks its groups up instead.
        let blocks: &[std::ops::Range<usize>] = match namespaces {
            CalicoNamespaces::Own(own) => {
                let at = self
                    .blocks
                    .binary_search_by(|b| groups[b.start].0.as_str().cmp(own));
                match at {
                    Ok(i) => &self.blocks[i..=i],
                    Err(_) => &[],
                }
            }
            _ => &self.blocks,
        };
        for block in blocks {
            let (ns, ns_labels, _, _) = &groups[block.start];
            if !namespace_allows(namespaces, Some(ns), || ns_labels) {
                continue;
            }
            for (_, _, labels, classes) in &groups[block.clone()] {
                if selector.is_none_or(|s| s.matches(labels))
                    && !not.is_some_and(|s| s.matches(labels))
                {
                    for &c in classes {
                        out.insert(c as usize);
                    }
                }
            }
        }
        out
    }

    /// Lays out what Calico's selections read: endpoint groups by namespace, and the
    /// labels of network sets and their namespaces.
    fn prepare(&mut self) {
        self.groups = self.endpoint_groups();
        self.blocks = blocks(&self.groups);
        self.set_labels = (self.cluster.calico_network_sets.iter())
            .map(|n| {
                let ns = n.namespace.as_str();
                (network_set_labels(n), self.namespace_labels_of(ns))
            })
            .collect();
    }

    /// The selectable classes grouped by namespace and endpoint labels, with the
    /// namespace's labels as Calico's namespace selectors see them, in namespace order.
    fn endpoint_groups(&self) -> Vec<(String, Labels, Labels, Vec<u32>)> {
        let mut groups: std::collections::BTreeMap<(String, Labels), Vec<u32>> = Default::default();
        for c in self.selectable.iter() {
            let key = &self.classes[c];
            let ns = self.cluster.namespaces[key.namespace as usize].name.clone();
            let labels: Labels = key.labels.iter().cloned().collect();
            let account = key.service_account.as_deref();
            let labels = endpoint_labels(self.cluster, &ns, &labels, account);
            groups.entry((ns, labels)).or_default().push(c as u32);
        }
        groups
            .into_iter()
            .map(|((ns, labels), classes)| {
                let ns_labels = self.namespace_labels_of(&ns);
                (ns, ns_labels, labels, classes)
            })
            .collect()
    }

    /// The nodes an entity matches: classes by their labels, namespace and known IPs,
    /// atoms by the network sets holding them and by `nets`.
    fn calico_entity(&self, e: &CalicoEntity) -> BitSet {
        let endpoint_constrained =
            e.selector.is_some() || e.not_selector.is_some() || e.namespaces.is_some();
        let mut set = BitSet::new(self.nodes);
        if !endpoint_constrained {
            set.insert_range(0, self.nodes);
        } else {
            let namespaces = e.namespaces.clone().unwrap_or(CalicoNamespaces::Any);
            set = self.pods_matching(&namespaces, e.selector.as_ref(), e.not_selector.as_ref());
            // Outside addresses: those of the network sets the entity selects; with no
            // positive constraint (a global rule with only `notSelector`), every one.
            let positive = e.selector.is_some() || e.namespaces.is_some();
            let mut addresses = if positive {
                IpSet::empty()
            } else {
                IpSet::all()
            };
            let mut excluded = IpSet::empty();
            for (n, (labels, ns_labels)) in self
                .cluster
                .calico_network_sets
                .iter()
                .zip(&self.set_labels)
            {
                let ns = (!n.namespace.is_empty()).then_some(n.namespace.as_str());
                if e.not_selector.as_ref().is_some_and(|s| s.matches(labels)) {
                    excluded = excluded.union(&n.nets);
                    continue;
                }
                if positive
                    && namespace_allows(&namespaces, ns, || ns_labels)
                    && e.selector.as_ref().is_none_or(|s| s.matches(labels))
                {
                    addresses = addresses.union(&n.nets);
                }
            }
            set.union_with(&self.atoms_within(&addresses.difference(&excluded)));
            // A pod on the host network is no workload endpoint: its traffic carries its
            // node's addresses, which network sets may hold (one excluded is enough).
            // A pod whose address is unknown is only in a set of every IPv4 address.
            let holds = |set: &IpSet, ips: &[std::net::IpAddr]| {
                if ips.is_empty() {
                    set.has_all_ipv4()
                } else {
                    ips.iter().any(|ip| set.contains(*ip))
                }
            };
            for &c in &self.host_network_classes {
                let key = &self.classes[c];
                if !self.selectable.contains(c)
                    && holds(&addresses, &key.ips)
                    && !holds(&excluded, &key.ips)
                {
                    set.insert(c);
                }
            }
        }
        if let Some(nets) = &e.nets {
            let mut within = self.atoms_within(nets);
            within.union_with(&self.classes_in(nets, false));
            set.intersect_with(&within);
        }
        if let Some(not_nets) = &e.not_nets {
            set.difference_with(&self.atoms_within(not_nets));
            set.difference_with(&self.classes_in(not_nets, true));
        }
        set
    }

    /// The atoms inside an address set (the set is a union of atoms or empty).
    fn atoms_within(&self, addresses: &IpSet) -> BitSet {
        let mut set = BitSet::new(self.nodes);
        if addresses.is_empty() {
            return set;
        }
        for (i, atom) in self.atom_sets.iter().enumerate() {
            if addresses.is_superset(atom) {
                set.insert(self.class_count + i);
            }
        }
        set
    }

    /// The classes whose pods' addresses lie in `addresses`, by the networks of their
    /// key. A pod with no known IP is in only when every address it may get is (the
    /// set holds every IPv4 address); with `possibly`, when some may be (the set holds
    /// one), as a `notNets` that may hold it excludes it.
    fn classes_in(&self, addresses: &IpSet, possibly: bool) -> BitSet {
        let mut set = BitSet::new(self.nodes);
        let Some(id) = self.networks.iter().position(|n| n == addresses) else {
            return set;
        };
        let id = id as u32;
        for (i, c) in self.classes.iter().enumerate() {
            if c.networks.contains(&id) || (possibly && c.networks_maybe.contains(&id)) {
                set.insert(i);
            }
        }
        set
    }

    /// A namespace's labels as Calico's namespace selectors see them.
    fn namespace_labels_of(&self, name: &str) -> Labels {
        let labels = self
            .cluster
            .namespace(name)
            .map(|n| n.labels.clone())
            .unwrap_or_default();
        namespace_labels(&labels, name)
    }
}

/// The compiled Calico policies, in `Cluster::calico_policies` order.
#[derive(Default)]
pub(super) struct CompiledCalico {
    /// Per policy: the classes it applies to.
    pub selected: Vec<BitSet>,
    /// Per policy: its ingress rules (an `end` rule last where its tier applies).
    pub ingress: Vec<Vec<TierRule>>,
    /// Per policy: its egress rules.
    pub egress: Vec<Vec<TierRule>>,
    /// Subjects of `default`-tier policies that apply to ingress: isolated there.
    pub ingress_isolated: Vec<BitSet>,
    /// Per policy: whether it is a `default`-tier policy that applies to egress.
    pub isolates_egress: Vec<bool>,
}

/// What this version cannot evaluate exactly, as (where, why): each is an error.
pub fn unsupported(cluster: &Cluster) -> Vec<(Option<kubeseg_model::Location>, String)> {
    let mut out = Vec::new();
    let bounds = k8s_bounds(cluster);
    for p in cluster.calico_policies.iter().filter(|p| !p.staged) {
        if p.tier == "default" && before_k8s(p, bounds).is_none() {
            out.push((
                p.location.clone(),
                format!(
                    "{} has order 1000 in tier default and a name between those of the Kubernetes NetworkPolicies, with which Calico interleaves it by name; kubeseg cannot evaluate that yet (give it another order)",
                    p.id()
                ),
            ));
        }
        let named_not_port = p.ingress.iter().chain(&p.egress).any(|r| {
            r.ports.as_ref().is_some_and(|ports| {
                ports
                    .not_ports
                    .iter()
                    .any(|n| matches!(n, CalicoPort::Named(_) | CalicoPort::NamedOf(..)))
            })
        });
        if named_not_port {
            out.push((
                p.location.clone(),
                format!("{}: a named port in notPorts is not modelled yet", p.id()),
            ));
        }
    }
    out
}

/// The end of a tier other than `default`: Deny or Pass what it left (`every`: the
/// peer set of every node and the port spec of every port).
fn tier_end(
    id: ClusterPolicyId,
    (stage, rank): (Stage, u16),
    tiers: &[CalicoTierPlace],
    (peers, ports): (PeerSetId, crate::ids::PortSpecId),
) -> TierRule {
    TierRule {
        policy: id,
        rule: u32::MAX,
        tier: stage,
        action: end_action(tiers[rank as usize].default_action),
        key: end_key(stage, rank),
        end: true,
        peers,
        ports,
    }
}
