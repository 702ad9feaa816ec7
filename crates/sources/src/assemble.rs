//! Objects of many files into one [`Cluster`]: owners folded, namespaces completed, sorted.

use crate::decode::Object;
use kubeseg_model::{Cluster, Diagnostic, Labels, Namespace, NetworkPolicy, Pod, Workload};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The label every namespace carries.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

type Key = (String, String, String); // namespace, kind, name

/// Builds the cluster from objects in load order. A cluster holds one object per
/// name, so of objects with the same identity the last one wins, as `kubectl apply`
/// of the same files in order leaves it; each replaced one gets a `duplicate-object`
/// warning. Pods fold into their controller chain's topmost known owner; controllers
/// without pods in the input stand for their pods by their template.
pub fn assemble(objects: Vec<Object>) -> (Cluster, Misfiled, Vec<Diagnostic>) {
    let objects = expanded_or_real(objects);
    let (objects, diagnostics) = last_of_each_name(objects);
    let (cluster, misfiled) = build(objects);
    (cluster, misfiled, diagnostics)
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
    let mut last: HashMap<(&str, &str, &str), usize> = HashMap::new();
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

fn build(objects: Vec<Object>) -> (Cluster, Misfiled) {
    let mut cluster = Cluster::default();
    let mut misfiled = Misfiled::default();
    let mut namespaces: BTreeMap<String, Namespace> = BTreeMap::new();
    let mut parents: HashMap<Key, (String, String)> = HashMap::new();
    let mut templates: Vec<(Key, Pod)> = Vec::new();
    let mut pods: Vec<(Key, Pod)> = Vec::new();
    let mut referenced: Vec<String> = Vec::new();

    for obj in objects {
        match obj {
            Object::Namespace {
                name,
                mut labels,
                location,
            } => {
                labels.insert(NAMESPACE_NAME_LABEL.into(), name.clone());
                namespaces.insert(
                    name.clone(),
                    Namespace {
                        name,
                        labels,
                        location: Some(location),
                    },
                );
            }
            Object::Pod {
                namespace,
                owner,
                pod,
            } => {
                // Static pods are "owned" by their Node as mirror pods: they stay pods.
                let owner = owner.filter(|(kind, _)| kind != "Node");
                let (kind, name) = owner.unwrap_or_else(|| ("Pod".into(), pod.name.clone()));
                referenced.push(namespace.clone());
                pods.push(((namespace, kind, name), pod));
            }
            Object::Controller {
                kind,
                namespace,
                name,
                owner,
                template,
                ..
            } => {
                referenced.push(namespace.clone());
                let key = (namespace, kind, name);
                if let Some(parent) = owner {
                    parents.insert(key.clone(), parent);
                }
                if let Some(t) = template {
                    templates.push((key, t));
                }
            }
            Object::Service(s) => {
                referenced.push(s.namespace.clone());
                cluster.services.push(s);
            }
            Object::NetworkPolicy(p) => {
                referenced.push(p.namespace.clone());
                cluster.policies.push(p);
            }
            Object::Route(r) => {
                referenced.push(r.namespace.clone());
                cluster.routes.push(r);
            }
            Object::Misfiled(p) => misfiled.network_policies.push(p),
            Object::AuthorizationPolicy {
                policy,
                misfiled: true,
            } => misfiled.authorization_policies.push(policy),
            Object::AuthorizationPolicy { policy, .. } => {
                referenced.push(policy.namespace.clone());
                cluster.authorization_policies.push(policy);
            }
            Object::PeerAuthentication(p) => {
                referenced.push(p.namespace.clone());
                cluster.peer_authentications.push(p);
            }
            Object::ClusterPolicy(p) => cluster.cluster_policies.push(p),
            Object::Node(n) => cluster.nodes.push(n),
            Object::ServiceAccount(a) => {
                referenced.push(a.namespace.clone());
                cluster.service_accounts.push(a);
            }
            Object::Ignore(i) => cluster.ignores.push(i),
            // `expanded_or_real` unwrapped every expanded object before.
            Object::Expanded(inner) => debug_assert!(false, "expanded {inner:?} reached build"),
        }
    }

    let root = |key: &Key| -> Key {
        let mut cur = key.clone();
        for _ in 0..8 {
            match parents.get(&cur) {
                Some((kind, name)) => cur = (cur.0.clone(), kind.clone(), name.clone()),
                None => break,
            }
        }
        cur
    };

    let mut by_workload: BTreeMap<Key, Vec<Pod>> = BTreeMap::new();
    for (key, pod) in pods {
        by_workload.entry(root(&key)).or_default().push(pod);
    }
    // A controller's template stands for its pods only when no real pod was given.
    // The topmost object's own template wins over templates of owned controllers.
    let mut fallback: BTreeMap<Key, (usize, Pod)> = BTreeMap::new();
    for (key, pod) in templates {
        let top = root(&key);
        let rank = usize::from(top != key);
        match fallback.get(&top) {
            Some((r, _)) if *r <= rank => {}
            _ => {
                fallback.insert(top, (rank, pod));
            }
        }
    }
    for (key, (_, pod)) in fallback {
        by_workload.entry(key).or_insert_with(|| vec![pod]);
    }
    for ((namespace, kind, name), mut pods) in by_workload {
        pods.sort_by(|a, b| a.name.cmp(&b.name));
        let location = pods.first().and_then(|p| p.location.clone());
        referenced.push(namespace.clone());
        cluster.workloads.push(Workload {
            namespace,
            name,
            kind,
            pods,
            location,
        });
    }
    cluster.workloads.sort_by_cached_key(Workload::id);

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
    cluster.namespaces = namespaces.into_values().collect();
    cluster
        .policies
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    cluster
        .services
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    cluster
        .routes
        .sort_by(|a, b| (&a.namespace, &a.name, &a.kind).cmp(&(&b.namespace, &b.name, &b.kind)));
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
    cluster.nodes.sort_by(|a, b| a.name.cmp(&b.name));
    cluster
        .service_accounts
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    (cluster, misfiled)
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
