//! Objects of many files into one [`Cluster`]: owners folded, namespaces completed, sorted.

use crate::decode::Object;
use kubeseg_model::{
    Cluster, Diagnostic, Labels, Location, Namespace, NetworkPolicy, Pod, Workload,
};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The label every namespace carries.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

pub(crate) type Key = (String, String, String); // namespace, kind, name

/// Builds the cluster from objects in load order. A cluster holds one object per
/// name, so of objects with the same identity the last one wins, as `kubectl apply`
/// of the same files in order leaves it; each replaced one gets a `duplicate-object`
/// warning. Pods fold into their controller chain's topmost known owner; controllers
/// without pods in the input stand for their pods by their template.
pub fn assemble(objects: Vec<Object>) -> (Cluster, Misfiled, Vec<Diagnostic>) {
    let (cluster, misfiled, diagnostics, _) = assemble_indexed(objects);
    (cluster, misfiled, diagnostics)
}

/// Assembles as [`assemble`] does, with what [`crate::patch`] needs to change the
/// cluster later as assembling again would.
pub(crate) fn assemble_indexed(
    objects: Vec<Object>,
) -> (Cluster, Misfiled, Vec<Diagnostic>, crate::patch::Index) {
    let expanded = objects.iter().any(|o| matches!(o, Object::Expanded(_)));
    let objects = expanded_or_real(objects);
    let (objects, mut diagnostics) = last_of_each_name(objects);
    let (mut cluster, misfiled, mut index) = build(objects);
    // Calico's and Cilium's lowerings read pods and Services: a cluster with their
    // objects is assembled again on every change, as are expanded custom resources.
    index.patchable = !expanded
        && cluster.calico_policies.is_empty()
        && cluster.calico_tiers.is_empty()
        && cluster.calico_network_sets.is_empty()
        && cluster.cilium_policies.is_empty();
    diagnostics.extend(crate::calico_lowering::lower(&mut cluster));
    diagnostics.extend(crate::cilium_lowering::lower(&mut cluster));
    (cluster, misfiled, diagnostics, index)
}

/// Objects expanded from custom resources stand for what the operator creates only
/// where the input does not hold the real thing: one of the same identity replaces an
/// expanded object, and real pods of an owner replace the pods expanded for it (a live
/// export after a failover has the real primary). The rest join ahead of the real
/// objects.
fn expanded_or_real(objects: Vec<Object>) -> Vec<Object> {
    let (expanded, real): (Vec<Object>, Vec<Object>) = objects
        .into_iter()
        .partition(|o| matches!(o, Object::Expanded(_)));
    if expanded.is_empty() {
        return real;
    }
    let identities: HashSet<(String, String, String)> = real
        .iter()
        .filter_map(Object::identity)
        .map(|(k, ns, n, _)| (k.to_string(), ns.to_string(), n.to_string()))
        .collect();
    let owners: HashSet<(String, String, String)> = real
        .iter()
        .filter_map(|o| match o {
            Object::Pod {
                namespace,
                owner: Some((kind, name)),
                ..
            } => Some((namespace.clone(), kind.clone(), name.clone())),
            _ => None,
        })
        .collect();
    let mut out: Vec<Object> = expanded
        .into_iter()
        .filter_map(|o| match o {
            Object::Expanded(inner) => Some(*inner),
            _ => None,
        })
        .filter(|o| {
            let shadowed = o.identity().is_some_and(|(k, ns, n, _)| {
                identities.contains(&(k.to_string(), ns.to_string(), n.to_string()))
            });
            let replaced = matches!(o, Object::Pod { namespace, owner: Some((kind, name)), .. }
                if owners.contains(&(namespace.clone(), kind.clone(), name.clone())));
            !shadowed && !replaced
        })
        .collect();
    out.extend(real);
    out
}

/// Keeps the last object of each identity ([`Object::identity`]), in load order.
fn last_of_each_name(objects: Vec<Object>) -> (Vec<Object>, Vec<Diagnostic>) {
    // Hundreds of thousands of names: a fast hash, sized once.
    let mut last: rustc_hash::FxHashMap<(&str, &str, &str), usize> =
        rustc_hash::FxHashMap::with_capacity_and_hasher(objects.len(), Default::default());
    for (i, obj) in objects.iter().enumerate() {
        if let Some((kind, ns, name, _)) = obj.identity() {
            last.insert((kind, ns, name), i);
        }
    }
    let mut diagnostics = Vec::new();
    let mut replaced = vec![false; objects.len()];
    for (i, obj) in objects.iter().enumerate() {
        let Some((kind, ns, name, at)) = obj.identity() else {
            continue;
        };
        let winner = last[&(kind, ns, name)];
        if winner == i {
            continue;
        }
        replaced[i] = true;
        let by = objects[winner].identity().and_then(|w| w.3);
        let id = if ns.is_empty() {
            name.to_string()
        } else {
            format!("{ns}/{name}")
        };
        let by = match (by, at) {
            (Some(b), Some(a)) if b.file == a.file => format!("at line {}", b.line),
            (Some(b), _) => format!("at {}:{}", b.file, b.line),
            (None, _) => "later in the input".into(),
        };
        diagnostics.push(Diagnostic::warning(
            "duplicate-object",
            at.cloned(),
            format!(
                "{kind} {} is defined again {by}, which replaces this one: a cluster holds one object per kind, namespace and name, and applying these files in order keeps the last; kubeseg ignores this one",
                kubeseg_model::clip(&id)
            ),
        ));
    }
    drop(last);
    // An annotation goes with its object: a replaced object's ignores go too.
    let gone: HashSet<kubeseg_model::Location> = objects
        .iter()
        .zip(&replaced)
        .filter(|(_, r)| **r)
        .filter_map(|(o, _)| o.identity().and_then(|i| i.3).cloned())
        .collect();
    let kept = objects
        .into_iter()
        .zip(replaced)
        .filter_map(|(o, r)| (!r).then_some(o))
        .filter(|o| !matches!(o, Object::Ignore(i) if gone.contains(&i.location)))
        .collect();
    (kept, diagnostics)
}

/// The cluster of the kept objects: pods folded into workloads, namespaces completed,
/// every list sorted.
fn build(objects: Vec<Object>) -> (Cluster, Misfiled, crate::patch::Index) {
    let mut collected = Collected::default();
    for obj in objects {
        collected.add(obj);
    }
    let Collected {
        mut cluster,
        mut misfiled,
        namespaces,
        parents,
        templates,
        pods,
        mut referenced,
    } = collected;
    let (by_workload, templates, templated) = pods_by_workload(pods, templates, &parents);
    cluster.workloads = workloads(by_workload, &mut referenced);
    cluster.namespaces = with_referenced(namespaces, referenced);
    sort_for_output(&mut cluster, &mut misfiled);
    let index = crate::patch::Index {
        parents,
        templates,
        templated,
        patchable: false,
    };
    (cluster, misfiled, index)
}

/// The objects sorted by what becomes of them, before pods are folded into workloads.
#[derive(Default)]
struct Collected {
    /// The cluster so far: every kind but workloads and namespaces.
    cluster: Cluster,
    misfiled: Misfiled,
    /// The Namespace objects by name.
    namespaces: BTreeMap<String, Namespace>,
    /// Controller → its own controller owner (kind, name).
    parents: HashMap<Key, (String, String)>,
    /// Controllers' pod templates, by controller.
    templates: Vec<(Key, Pod)>,
    /// Pods, by their owner (or themselves when they have none).
    pods: Vec<(Key, Pod)>,
    /// The namespaces objects are in, in the order met: each needs a Namespace.
    referenced: Vec<String>,
}

impl Collected {
    /// Files one object where it belongs.
    fn add(&mut self, obj: Object) {
        match obj {
            Object::Namespace {
                name,
                labels,
                location,
            } => self.add_namespace(name, labels, location),
            Object::Pod {
                namespace,
                owner,
                pod,
            } => self.add_pod(namespace, owner, pod),
            Object::Controller {
                kind,
                namespace,
                name,
                owner,
                template,
                ..
            } => self.add_controller((namespace, kind, name), owner, template),
            Object::Service(s) => {
                self.referenced.push(s.namespace.clone());
                self.cluster.services.push(s);
            }
            Object::EndpointSlice(s) => {
                self.referenced.push(s.namespace.clone());
                self.cluster.endpoint_slices.push(s);
            }
            Object::NetworkPolicy(p) => {
                self.referenced.push(p.namespace.clone());
                self.cluster.policies.push(p);
            }
            Object::Route(r) => {
                self.referenced.push(r.namespace.clone());
                self.cluster.routes.push(r);
            }
            Object::Misfiled(p) => self.misfiled.network_policies.push(p),
            Object::AuthorizationPolicy {
                policy,
                misfiled: true,
            } => self.misfiled.authorization_policies.push(policy),
            Object::AuthorizationPolicy { policy, .. } => {
                self.referenced.push(policy.namespace.clone());
                self.cluster.authorization_policies.push(policy);
            }
            Object::PeerAuthentication(p) => {
                self.referenced.push(p.namespace.clone());
                self.cluster.peer_authentications.push(p);
            }
            Object::ClusterPolicy(p) => self.cluster.cluster_policies.push(p),
            Object::CiliumPolicy(p) => {
                if !p.namespace.is_empty() {
                    self.referenced.push(p.namespace.clone());
                }
                self.cluster.cilium_policies.push(p);
            }
            Object::CalicoPolicy(p) => {
                if !p.namespace.is_empty() {
                    self.referenced.push(p.namespace.clone());
                }
                self.cluster.calico_policies.push(p);
            }
            Object::CalicoTier(t) => self.cluster.calico_tiers.push(t),
            Object::CalicoNetworkSet(s) => {
                if !s.namespace.is_empty() {
                    self.referenced.push(s.namespace.clone());
                }
                self.cluster.calico_network_sets.push(s);
            }
            Object::Node(n) => self.cluster.nodes.push(n),
            Object::ServiceAccount(a) => {
                self.referenced.push(a.namespace.clone());
                self.cluster.service_accounts.push(a);
            }
            Object::Ignore(i) => self.cluster.ignores.push(i),
            // `expanded_or_real` unwrapped every expanded object before.
            Object::Expanded(inner) => debug_assert!(false, "expanded {inner:?} reached build"),
        }
    }

    /// A Namespace, with the name label the API server gives every namespace.
    fn add_namespace(&mut self, name: String, mut labels: Labels, location: Location) {
        labels.insert(NAMESPACE_NAME_LABEL.into(), name.clone());
        self.namespaces.insert(
            name.clone(),
            Namespace {
                name,
                labels,
                location: Some(location),
            },
        );
    }

    /// A pod, under its controller owner if it has one.
    fn add_pod(&mut self, namespace: String, owner: Option<(String, String)>, pod: Pod) {
        self.referenced.push(namespace.clone());
        self.pods.push((owner_key(namespace, owner, &pod), pod));
    }

    /// A controller, with its own owner and its pod template.
    fn add_controller(&mut self, key: Key, owner: Option<(String, String)>, template: Option<Pod>) {
        self.referenced.push(key.0.clone());
        if let Some(parent) = owner {
            self.parents.insert(key.clone(), parent);
        }
        if let Some(t) = template {
            self.templates.push((key, t));
        }
    }
}

/// The controller a pod is grouped under: its controller owner, or itself.
pub(crate) fn owner_key(namespace: String, owner: Option<(String, String)>, pod: &Pod) -> Key {
    // Static pods are "owned" by their Node as mirror pods: they stay pods.
    let owner = owner.filter(|(kind, _)| kind != "Node");
    let (kind, name) = owner.unwrap_or_else(|| ("Pod".into(), pod.name.clone()));
    (namespace, kind, name)
}

/// The topmost known owner of a controller or pod owner `key`, following at most 8
/// controller owners so that an ownership cycle ends.
pub(crate) fn topmost_owner(parents: &HashMap<Key, (String, String)>, key: &Key) -> Key {
    let mut cur = key.clone();
    for _ in 0..8 {
        match parents.get(&cur) {
            Some((kind, name)) => cur = (cur.0.clone(), kind.clone(), name.clone()),
            None => break,
        }
    }
    cur
}

/// Pods by workload, the template for each workload, and the workloads standing by it.
type Grouped = (BTreeMap<Key, Vec<Pod>>, BTreeMap<Key, Pod>, HashSet<Key>);

/// Pods grouped by workload: the topmost known owner of their controller chain. A
/// controller's template stands for its pods only when no real pod was given; with
/// the template that would stand for each workload's pods, and the workloads that
/// stand by theirs.
fn pods_by_workload(
    pods: Vec<(Key, Pod)>,
    templates: Vec<(Key, Pod)>,
    parents: &HashMap<Key, (String, String)>,
) -> Grouped {
    let mut by_workload: BTreeMap<Key, Vec<Pod>> = BTreeMap::new();
    for (key, pod) in pods {
        by_workload
            .entry(topmost_owner(parents, &key))
            .or_default()
            .push(pod);
    }
    // The topmost object's own template wins over templates of owned controllers.
    let mut fallback: BTreeMap<Key, (usize, Pod)> = BTreeMap::new();
    for (key, pod) in templates {
        let top = topmost_owner(parents, &key);
        let rank = usize::from(top != key);
        match fallback.get(&top) {
            Some((r, _)) if *r <= rank => {}
            _ => {
                fallback.insert(top, (rank, pod));
            }
        }
    }
    let fallback: BTreeMap<Key, Pod> = (fallback.into_iter())
        .map(|(key, (_, pod))| (key, pod))
        .collect();
    let mut templated = HashSet::new();
    for (key, pod) in &fallback {
        if !by_workload.contains_key(key) {
            by_workload.insert(key.clone(), vec![pod.clone()]);
            templated.insert(key.clone());
        }
    }
    (by_workload, fallback, templated)
}

/// The workloads, sorted by id, each with its pods sorted by name; their namespaces
/// join `referenced`.
fn workloads(by_workload: BTreeMap<Key, Vec<Pod>>, referenced: &mut Vec<String>) -> Vec<Workload> {
    let mut workloads = Vec::new();
    for ((namespace, kind, name), mut pods) in by_workload {
        pods.sort_by(|a, b| a.name.cmp(&b.name));
        let location = pods.first().and_then(|p| p.location.clone());
        referenced.push(namespace.clone());
        workloads.push(Workload {
            namespace,
            name,
            kind,
            pods,
            location,
        });
    }
    workloads.sort_by_cached_key(Workload::id);
    workloads
}

/// The Namespace objects and, for each namespace referenced without one, a Namespace
/// with only the name label every namespace carries; sorted by name.
fn with_referenced(
    mut namespaces: BTreeMap<String, Namespace>,
    referenced: Vec<String>,
) -> Vec<Namespace> {
    for ns in referenced {
        namespaces.entry(ns.clone()).or_insert_with(|| {
            let labels: Labels = [(NAMESPACE_NAME_LABEL.to_string(), ns.clone())].into();
            Namespace {
                name: ns,
                labels,
                location: None,
            }
        });
    }
    namespaces.into_values().collect()
}

/// Sorts every list of the cluster (but workloads and namespaces, already sorted) and
/// the misfiled documents, so the answer does not depend on the order of the input.
fn sort_for_output(cluster: &mut Cluster, misfiled: &mut Misfiled) {
    cluster
        .policies
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    cluster
        .services
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    cluster
        .endpoint_slices
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    cluster
        .routes
        .sort_by(|a, b| (&a.namespace, &a.name, &a.kind).cmp(&(&b.namespace, &b.name, &b.kind)));
    // `Cluster::service_account` searches them by (namespace, name).
    cluster
        .service_accounts
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    misfiled
        .network_policies
        .sort_by(|a: &NetworkPolicy, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    misfiled
        .authorization_policies
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    cluster
        .authorization_policies
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    cluster
        .peer_authentications
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    // Evaluation order: tier, then priority; name and kind only make it deterministic.
    cluster.cluster_policies.sort_by(|a, b| {
        (a.tier, a.priority, &a.name, &a.kind).cmp(&(b.tier, b.priority, &b.name, &b.kind))
    });
    // CiliumNetworkPolicies by namespace and name, then the cluster-wide ones by name.
    cluster.cilium_policies.sort_by(|a, b| {
        (a.namespace.is_empty(), &a.namespace, &a.name).cmp(&(
            b.namespace.is_empty(),
            &b.namespace,
            &b.name,
        ))
    });
    // Calico's namespaced policies and network sets by namespace and name, then the
    // global ones by name (kind breaks the tie between a policy and its staged form).
    cluster.calico_policies.sort_by(|a, b| {
        (a.namespace.is_empty(), &a.namespace, &a.name, &a.kind).cmp(&(
            b.namespace.is_empty(),
            &b.namespace,
            &b.name,
            &b.kind,
        ))
    });
    cluster.calico_tiers.sort_by(|a, b| a.name.cmp(&b.name));
    cluster.calico_network_sets.sort_by(|a, b| {
        (a.namespace.is_empty(), &a.namespace, &a.name).cmp(&(
            b.namespace.is_empty(),
            &b.namespace,
            &b.name,
        ))
    });
    cluster.nodes.sort_by(|a, b| a.name.cmp(&b.name));
    cluster
        .service_accounts
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
}

/// Policy-shaped documents under a wrong apiVersion or kind, read as what they were
/// meant to be (for `lint`); never part of the cluster.
#[derive(Debug, Default)]
pub struct Misfiled {
    /// NetworkPolicy-shaped documents.
    pub network_policies: Vec<NetworkPolicy>,
    /// AuthorizationPolicy-shaped documents.
    pub authorization_policies: Vec<kubeseg_model::AuthorizationPolicy>,
}
