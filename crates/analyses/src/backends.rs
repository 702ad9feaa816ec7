//! Which workloads a Service selects, for the audit's entry points and lint's
//! protocol checks.

use kubeseg_model::{Cluster, Labels, Workload};
use rustc_hash::FxHashMap as HashMap;

/// Finds the workloads a Service selects, through an index of pod labels.
pub struct ServiceBackends<'c> {
    cluster: &'c Cluster,
    by_label: HashMap<(&'c str, &'c str, &'c str), Vec<usize>>,
    by_namespace: HashMap<&'c str, Vec<usize>>,
}

impl<'c> ServiceBackends<'c> {
    /// Indexes every pod label of every workload.
    pub fn new(cluster: &'c Cluster) -> Self {
        let mut by_label: HashMap<(&str, &str, &str), Vec<usize>> = HashMap::default();
        let mut by_namespace: HashMap<&str, Vec<usize>> = HashMap::default();
        for (i, w) in cluster.workloads.iter().enumerate() {
            by_namespace.entry(&w.namespace).or_default().push(i);
            for p in &w.pods {
                for (k, v) in &p.labels {
                    let list = by_label.entry((&w.namespace, k, v)).or_default();
                    if list.last() != Some(&i) {
                        list.push(i);
                    }
                }
            }
        }
        ServiceBackends {
            cluster,
            by_label,
            by_namespace,
        }
    }

    /// The workloads with a pod matching `selector` in `namespace`.
    pub fn select(&self, namespace: &str, selector: &Labels) -> Vec<usize> {
        let candidates = match selector.iter().next() {
            Some((k, v)) => self.by_label.get(&(namespace, k.as_str(), v.as_str())),
            None => self.by_namespace.get(namespace),
        };
        let matches = |w: &Workload| w.pods.iter().any(|p| selects(selector, &p.labels));
        candidates
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| matches(&self.cluster.workloads[i]))
            .collect()
    }
}

/// Whether a Service selector (equality on every key) selects a pod with `labels`.
pub fn selects(selector: &Labels, labels: &Labels) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}
