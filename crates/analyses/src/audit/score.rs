//! Segmentation scores from measured reachability.
//!
//! For a destination workload d, its exposure is the share of the other workloads that
//! may open some connection to it. A scope's score is 100 × (1 − the weighted mean
//! exposure of its workloads), where crown jewels weigh [`CROWN_JEWEL_WEIGHT`] and other
//! workloads 1: 0 is a flat network, 100 a network where no workload reaches another.

use super::Audit;

/// How much more a crown jewel's exposure counts than another workload's.
pub const CROWN_JEWEL_WEIGHT: f64 = 5.0;

/// The score of the cluster or of one namespace.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    /// `None` for the whole cluster, else the namespace.
    pub namespace: Option<String>,
    /// Workloads in scope.
    pub workloads: usize,
    /// Ordered pairs (another workload → a workload in scope) that may connect.
    pub allowed_pairs: u64,
    /// All such ordered pairs.
    pub possible_pairs: u64,
    /// 0 (flat) to 100 (fully segmented).
    pub score: f64,
}

/// The cluster's score, then each namespace's with workloads, by name.
pub fn scores(a: &Audit) -> Vec<Score> {
    let n = a.rows.workloads;
    let mut inbound = vec![0u64; n];
    for (k, row) in a.rows.keys.iter().enumerate() {
        let m = a.rows.members[k].len() as u64;
        for w in row.out.iter() {
            inbound[w] += m;
        }
    }
    for (w, count) in inbound.iter_mut().enumerate() {
        if a.rows.out(w).contains(w) {
            *count -= 1;
        }
    }
    let others = n.saturating_sub(1) as u64;
    let score = |namespace: Option<String>, members: &[usize]| {
        let (mut weighted, mut weights, mut allowed) = (0.0, 0.0, 0u64);
        for &w in members {
            let weight = if a.is_jewel[w] {
                CROWN_JEWEL_WEIGHT
            } else {
                1.0
            };
            let exposure = if others == 0 {
                0.0
            } else {
                inbound[w] as f64 / others as f64
            };
            weighted += weight * exposure;
            weights += weight;
            allowed += inbound[w];
        }
        Score {
            namespace,
            workloads: members.len(),
            allowed_pairs: allowed,
            possible_pairs: members.len() as u64 * others,
            score: if weights == 0.0 {
                100.0
            } else {
                100.0 * (1.0 - weighted / weights)
            },
        }
    };
    let all: Vec<usize> = (0..n).collect();
    let mut out = vec![score(None, &all)];
    let workloads = &a.engine.cluster.workloads;
    let mut start = 0;
    while start < n {
        let ns = &workloads[start].namespace;
        let end = start
            + workloads[start..]
                .iter()
                .take_while(|w| &w.namespace == ns)
                .count();
        out.push(score(Some(ns.clone()), &all[start..end]));
        start = end;
    }
    out
}
