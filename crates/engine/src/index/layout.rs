//! How a cluster is laid out on nodes before any rule is compiled: pods into classes,
//! the addresses policies name into atoms, the endpoints made of them, and what
//! selectors and named ports see of each class.

use super::tiers::Prepass;
use super::{ClassKey, Endpoint, LabelIndex, Options};
use crate::bitset::BitSet;
use kubeseg_model::{Cluster, ContainerPort, IpSet, PeerKind, Pod};
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;

/// The equivalence classes of the cluster's pods.
pub(super) struct Classes {
    /// Every class's key, in key order, so each namespace's classes are contiguous.
    pub keys: Vec<ClassKey>,
    /// Per workload: the classes of its pods, ascending.
    pub of_workload: Vec<Vec<u32>>,
}

/// Groups the pods of every workload into classes no policy can tell apart.
pub(super) fn classes(
    cluster: &Cluster,
    ns_index: &HashMap<&str, u32>,
    pre: &Prepass,
    options: Options,
) -> Classes {
    let mut keys: BTreeMap<ClassKey, u32> = BTreeMap::new();
    let mut workload_keys: Vec<Vec<ClassKey>> = Vec::with_capacity(cluster.workloads.len());
    for w in &cluster.workloads {
        let namespace = ns_index[w.namespace.as_str()];
        let mut ks: Vec<ClassKey> = w
            .pods
            .iter()
            .map(|p| class_key(p, namespace, pre, options))
            .collect();
        ks.sort();
        ks.dedup();
        for k in &ks {
            keys.entry(k.clone()).or_insert(0);
        }
        workload_keys.push(ks);
    }
    // Classes are numbered in key order once every key is known.
    for (i, id) in keys.values_mut().enumerate() {
        *id = i as u32;
    }
    let of_workload = workload_keys
        .iter()
        .map(|ks| ks.iter().map(|k| keys[k]).collect())
        .collect();
    Classes {
        keys: keys.into_keys().collect(),
        of_workload,
    }
}

/// The class of a pod of namespace `namespace`: what policies can see of it.
fn class_key(pod: &Pod, namespace: u32, pre: &Prepass, options: Options) -> ClassKey {
    let (networks, networks_maybe) = pre.networks_holding(pod);
    ClassKey {
        namespace,
        labels: pod
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        ports: pod.ports.clone(),
        ips: if options.ipblock_pod_ips && pod.host_network && !options.host_network_selectable {
            pod.ips.clone()
        } else {
            Vec::new()
        },
        ipblocks: if options.ipblock_pod_ips {
            pre.ipblocks_holding(pod)
        } else {
            Vec::new()
        },
        networks,
        networks_maybe,
        service_account: pre.calico_service_accounts.then(|| {
            pod.service_account
                .clone()
                .unwrap_or_else(|| "default".into())
        }),
        host_network: pod.host_network && !options.host_network_selectable,
    }
}

/// The distinct address sets that policies name, in the order first named.
pub(super) struct AddressSets {
    /// The sets.
    pub sets: Vec<IpSet>,
    /// Set → its index in `sets`.
    pub ids: HashMap<IpSet, usize>,
}

impl AddressSets {
    /// The sets of every ipBlock (without `skip_nodes`' addresses, when given), then
    /// those of the tiered policies (`tier_sets`).
    pub fn of(cluster: &Cluster, tier_sets: Vec<IpSet>, skip_nodes: Option<&IpSet>) -> Self {
        let mut out = AddressSets {
            sets: Vec::new(),
            ids: HashMap::default(),
        };
        for p in &cluster.policies {
            for r in p.ingress.iter().chain(&p.egress) {
                for peer in r.peers.iter().flatten() {
                    if let PeerKind::IpBlock { addresses, .. } = &peer.kind {
                        out.add(match skip_nodes {
                            Some(nodes) => addresses.difference(nodes),
                            None => addresses.clone(),
                        });
                    }
                }
            }
        }
        for set in tier_sets {
            out.add(set);
        }
        out
    }

    fn add(&mut self, set: IpSet) {
        self.ids.entry(set).or_insert_with_key(|set| {
            self.sets.push(set.clone());
            self.sets.len() - 1
        });
    }
}

/// The endpoints: workloads in cluster order (`of_workload` holds their classes), then
/// the address atoms, then the domains.
pub(super) fn endpoints(
    of_workload: Vec<Vec<u32>>,
    atoms: &[IpSet],
    domains: &[String],
) -> Vec<Endpoint> {
    let mut endpoints: Vec<Endpoint> = of_workload
        .into_iter()
        .enumerate()
        .map(|(i, classes)| Endpoint::Workload {
            workload: i,
            classes,
        })
        .collect();
    endpoints.extend(atoms.iter().enumerate().map(|(i, a)| Endpoint::External {
        atom: i as u32,
        addresses: a.clone(),
    }));
    endpoints.extend(
        domains
            .iter()
            .enumerate()
            .map(|(i, name)| Endpoint::Domain {
                domain: i as u32,
                name: name.clone(),
            }),
    );
    endpoints
}

/// What pod selectors see of the classes: host-network pods are never selected.
pub(super) struct Selectable {
    /// The labels of the selectable classes, over all nodes.
    pub labels: LabelIndex,
    /// The selectable classes.
    pub classes: BitSet,
    /// Per namespace: the range of its classes.
    pub ns_ranges: Vec<(usize, usize)>,
}

impl Selectable {
    /// Indexes `classes` among `nodes` nodes, for `namespaces` namespaces.
    pub fn of(classes: &[ClassKey], nodes: usize, namespaces: usize) -> Self {
        let mut labels = LabelIndex::new(nodes);
        let mut selectable = BitSet::new(nodes);
        // Classes are ordered by namespace, so each namespace's classes are a range.
        let mut ns_ranges: Vec<(usize, usize)> = vec![(0, 0); namespaces];
        for (i, c) in classes.iter().enumerate() {
            let r = &mut ns_ranges[c.namespace as usize];
            if r.0 == r.1 {
                *r = (i, i + 1);
            } else {
                r.1 = i + 1;
            }
            if c.host_network {
                continue;
            }
            selectable.insert(i);
            for (k, v) in &c.labels {
                labels.add(i, k, v);
            }
        }
        Selectable {
            labels,
            classes: selectable,
            ns_ranges,
        }
    }
}

/// The distinct sets of named container ports, against which named ports resolve.
pub(super) struct PortProfiles {
    /// Per class: its profile.
    pub of_class: Vec<u32>,
    /// The profiles; the first is the empty one.
    pub profiles: Vec<Vec<ContainerPort>>,
}

impl PortProfiles {
    pub fn of(classes: &[ClassKey]) -> Self {
        let mut profiles: Vec<Vec<ContainerPort>> = vec![Vec::new()];
        let mut profile_ids: HashMap<Vec<ContainerPort>, u32> =
            [(Vec::new(), 0)].into_iter().collect();
        let of_class = classes
            .iter()
            .map(|c| {
                let named: Vec<ContainerPort> = c
                    .ports
                    .iter()
                    .filter(|p| p.name.is_some())
                    .cloned()
                    .collect();
                *profile_ids.entry(named.clone()).or_insert_with(|| {
                    profiles.push(named);
                    (profiles.len() - 1) as u32
                })
            })
            .collect();
        PortProfiles { of_class, profiles }
    }
}
