//! Lateral movement: blast radius of every workload (KS201 for entry points) and the
//! shortest entry-point → crown-jewel paths (KS202).

use super::{Audit, finding};
use crate::attribution::workload_location;
use crate::finding::{Evidence, Remediation, Severity};
use crate::graph::Bfs;
use crate::registry::{BLAST_RADIUS, CROWN_JEWEL_PATH};

/// How far an attacker gets from one workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlastRadius {
    /// Workload index.
    pub workload: usize,
    /// Other workloads reached in one hop.
    pub direct: usize,
    /// Other workloads reached through any number of hops.
    pub transitive: usize,
    /// Crown jewels (other than itself) reached through any number of hops.
    pub crown_jewels: usize,
}

/// A shortest path from an entry point to a crown jewel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    /// Workloads from the entry point to the crown jewel (one element when the entry point is the jewel).
    pub hops: Vec<usize>,
    /// Critical for zero or one hop, high otherwise.
    pub severity: Severity,
}

impl Path {
    /// Number of connections on the path.
    pub fn len(&self) -> usize {
        self.hops.len() - 1
    }

    /// Whether the path has no connection (the entry point is the crown jewel).
    pub fn is_empty(&self) -> bool {
        self.hops.len() == 1
    }
}

/// Computes blast radii, reports entry points' (KS201) and the paths to crown jewels (KS202).
pub fn lateral(a: &mut Audit) -> (Vec<BlastRadius>, Vec<Path>) {
    let n = a.rows.workloads;
    let jewels: Vec<usize> = a.jewels.iter().map(|j| j.workload).collect();
    let blast: Vec<BlastRadius> = (0..n)
        .map(|w| {
            let out = a.rows.out(w);
            let reach = a.closure.reach_of(&a.rows, w);
            BlastRadius {
                workload: w,
                direct: out.count() - usize::from(out.contains(w)),
                transitive: a.closure.blast_radius(&a.rows, w),
                crown_jewels: jewels
                    .iter()
                    .filter(|&&j| j != w && reach.contains(j))
                    .count(),
            }
        })
        .collect();
    let others = n.saturating_sub(1).max(1);
    let mut paths = Vec::new();
    let entries: Vec<usize> = a.entries.iter().map(|e| e.workload).collect();
    for (i, &e) in entries.iter().enumerate() {
        let b = &blast[e];
        let share = b.transitive as f64 / others as f64;
        let id = a.id(e);
        let mut f = finding(
            &BLAST_RADIUS,
            format!(
                "an attacker in entry point {id} reaches {} of {} other workloads ({:.0}%), {} directly, and {} crown jewel(s)",
                b.transitive,
                n - 1,
                share * 100.0,
                b.direct,
                b.crown_jewels
            ),
            vec![id.clone()],
        );
        f.severity = match share {
            s if s >= 0.5 => Severity::High,
            s if s >= 0.1 => Severity::Medium,
            _ if b.transitive > 0 => Severity::Low,
            _ => Severity::Info,
        };
        f.location = workload_location(a.engine, e);
        f.evidence = a.entries[i].reasons.clone();
        f.remediation = Remediation {
            text: "Isolate the entry point's egress to the destinations it needs, and the reached workloads' ingress to their real clients; KS801 gives the fewest connections to remove.".into(),
            yaml: None,
        };
        a.push(f);
        if jewels.is_empty() {
            continue;
        }
        let bfs = Bfs::run(&a.rows, e);
        for &j in &jewels {
            let hops = if j == e {
                Some(vec![e])
            } else {
                bfs.path_to(j)
            };
            let Some(hops) = hops else {
                continue;
            };
            let severity = if hops.len() <= 2 {
                Severity::Critical
            } else {
                Severity::High
            };
            paths.push(Path { hops, severity });
        }
    }
    paths.sort_by(|x, y| {
        (x.len(), std::cmp::Reverse(x.severity), &x.hops).cmp(&(
            y.len(),
            std::cmp::Reverse(y.severity),
            &y.hops,
        ))
    });
    for p in &paths {
        let (e, j) = (p.hops[0], *p.hops.last().unwrap_or(&p.hops[0]));
        let names: Vec<String> = p.hops.iter().map(|&h| a.id(h)).collect();
        let title = if p.is_empty() {
            format!("crown jewel {} is itself an entry point", names[0])
        } else {
            format!(
                "entry point {} reaches crown jewel {} in {} hop(s): {}",
                names[0],
                a.id(j),
                p.len(),
                names.join(" → ")
            )
        };
        let mut f = finding(&CROWN_JEWEL_PATH, title, names.clone());
        f.severity = p.severity;
        f.location = workload_location(a.engine, j);
        let entry = a
            .entries
            .iter()
            .find(|x| x.workload == e)
            .map(|x| x.reasons.clone())
            .unwrap_or_default();
        f.evidence = entry;
        for w in p.hops.windows(2) {
            let hop = format!("{} → {}", a.id(w[0]), a.id(w[1]));
            for ev in a.attribution.pair_evidence(a.engine, w[0], w[1]) {
                f.evidence
                    .push(Evidence::at(ev.location, format!("{hop}: {}", ev.message)));
            }
        }
        if let Some(j) = a.jewels.iter().find(|x| x.workload == j) {
            for r in &j.reasons {
                f.evidence.push(Evidence::at(
                    workload_location(a.engine, j.workload),
                    format!("{} is a crown jewel: {r}", a.id(j.workload)),
                ));
            }
        }
        f.remediation = Remediation {
            text: if p.is_empty() {
                "Do not expose the crown jewel outside the cluster; restrict its ingress to its clients.".into()
            } else {
                "Restrict the crown jewel's ingress to the clients that need it, or the egress of a hop; see KS801 for the smallest cut.".into()
            },
            yaml: None,
        };
        a.push(f);
    }
    (blast, paths)
}
