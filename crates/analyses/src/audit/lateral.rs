//! Lateral movement: blast radius of every workload (KS201 for entry points) and the
//! shortest entry-point → crown-jewel paths (KS202).

use super::Audit;
use crate::attribution::workload_location;
use crate::finding::Finding;
use crate::finding::{Evidence, Remediation, Severity};
use crate::graph::Bfs;
use crate::registry::{BLAST_RADIUS, CROWN_JEWEL_PATH};
use kubeseg_engine::bitset::BitSet;

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

/// Above this many entry points, or entry-point × crown-jewel pairs, paths are searched
/// from all entry points at once and listed per crown jewel only.
const MAX_ENTRY_SEARCHES: usize = 256;
const MAX_PAIRS: usize = 20_000;

/// The path from `e` to `j` in a search started at `e` (the entry point alone when `e` is `j`).
fn path(bfs: &Bfs, e: usize, j: usize) -> Option<Path> {
    if e == j {
        return Some(Path::new(vec![e]));
    }
    bfs.path_to(j).map(Path::new)
}

impl Path {
    /// A path with its severity: critical for zero or one hop, high otherwise.
    pub fn new(hops: Vec<usize>) -> Path {
        let severity = if hops.len() <= 2 {
            Severity::Critical
        } else {
            Severity::High
        };
        Path { hops, severity }
    }

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
    let mut jewel_set = BitSet::new(n);
    for &j in &jewels {
        jewel_set.insert(j);
    }
    // Workloads of one row key share their reach: count it once per key.
    let mut per_key: Vec<Option<(usize, usize)>> = vec![None; a.rows.keys.len()];
    let blast: Vec<BlastRadius> = (0..n)
        .map(|w| {
            let (out, reach) = (a.rows.out(w), a.closure.reach_of(&a.rows, w));
            let (reached, jewels_reached) = *per_key[a.rows.key_of[w] as usize]
                .get_or_insert_with(|| (reach.count(), reach.count_and(&jewel_set)));
            let itself = usize::from(reach.contains(w));
            BlastRadius {
                workload: w,
                direct: out.count() - usize::from(out.contains(w)),
                transitive: reached - itself,
                crown_jewels: jewels_reached
                    - usize::from(jewel_set.contains(w) && reach.contains(w)),
            }
        })
        .collect();
    let others = n.saturating_sub(1).max(1);
    let entries: Vec<usize> = a.entries.iter().map(|e| e.workload).collect();
    let without_tcp: Vec<usize> = match &a.rows.without_tcp {
        Some(counts) => entries.iter().map(|&e| counts[e] as usize).collect(),
        None => crate::rows::hops_without_tcp(
            a.engine,
            a.mesh.as_ref(),
            &a.rows,
            &entries,
            a.protocols.as_ref(),
        ),
    };
    for (i, &e) in entries.iter().enumerate() {
        let b = &blast[e];
        let share = b.transitive as f64 / others as f64;
        let id = a.id(e);
        let mut f = Finding::new(
            &BLAST_RADIUS,
            format!(
                "an attacker in entry point {id} reaches {} of {} other workloads ({:.0}%), {} directly, and {} crown jewel(s)",
                b.transitive,
                n - 1,
                share * 100.0,
                b.direct,
                b.crown_jewels
            ),
            None,
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
        // Which protocols keep the hops: UDP, SCTP and ICMP hops are beyond Istio's reach.
        let without_tcp = without_tcp[i];
        if without_tcp > 0 {
            f.evidence.push(Evidence::at(
                f.location.clone(),
                format!(
                    "{without_tcp} of its {} direct hop(s) are open on UDP, SCTP or ICMP only (L3/L4 allows no TCP there, or the mesh denies every TCP request); Istio does not authorize UDP, SCTP or ICMP, so AuthorizationPolicies cannot close them: restrict them with NetworkPolicy, or audit TCP alone with --protocols tcp",
                    b.direct
                ),
            ));
        }
        f.remediation = Remediation {
            text: "Isolate the entry point's egress to the destinations it needs, and the reached workloads' ingress to their real clients; KS801 gives the fewest connections to remove.".into(),
            yaml: None,
        };
        a.push(f);
    }
    let pairs = entries.len() * jewels.len();
    let paths = if entries.len() <= MAX_ENTRY_SEARCHES && pairs <= MAX_PAIRS {
        let mut paths = Vec::new();
        for &e in &entries {
            let bfs = Bfs::run(&a.rows, &[e]);
            paths.extend(jewels.iter().filter_map(|&j| path(&bfs, e, j)));
        }
        paths
    } else {
        a.notes.push(format!("{} entry points and {} crown jewels: the shortest path to each crown jewel is listed from the nearest entry point only, not for every pair (the counts of entry points reaching each crown jewel are exact)", entries.len(), jewels.len()));
        let bfs = Bfs::run(&a.rows, &entries);
        jewels
            .iter()
            .filter_map(|&j| bfs.path_to(j).map(Path::new))
            .collect()
    };
    let mut paths = paths;
    paths.sort_by(|x, y| {
        (x.len(), std::cmp::Reverse(x.severity), &x.hops).cmp(&(
            y.len(),
            std::cmp::Reverse(y.severity),
            &y.hops,
        ))
    });
    // What the entry points reach over required flows alone (`--spec` only).
    let accepted = if a.intent.is_empty() {
        Vec::new()
    } else {
        crate::required_cut::required_closure(n, &entries, &a.intent.required)
    };
    // One finding per crown jewel: the shortest of its paths as evidence; `paths` lists them all.
    let mut by_jewel: std::collections::BTreeMap<usize, Vec<&Path>> = Default::default();
    for p in &paths {
        by_jewel
            .entry(p.hops[p.hops.len() - 1])
            .or_default()
            .push(p);
    }
    for (j, list) in by_jewel {
        let p = list[0];
        let e = p.hops[0];
        let names: Vec<String> = p.hops.iter().map(|&h| a.id(h)).collect();
        let reach = |e: usize| e == j || a.closure.reach_of(&a.rows, e).contains(j);
        let entries: Vec<usize> = entries.iter().copied().filter(|&e| reach(e)).collect();
        // With required flows declared, a crown jewel the entry points reach over
        // required flows alone is intended; otherwise a hop of the path is not required.
        if !a.intent.is_empty() && !p.is_empty() && accepted[j] && !a.is_entry[j] {
            let hops = a.intent.path(n, &entries, j).unwrap_or_default();
            let mut required: Vec<String> = hops
                .windows(2)
                .flat_map(|w| a.intent.names(w[0], w[1]).to_vec())
                .collect();
            required.sort();
            required.dedup();
            let ids: Vec<String> = hops.iter().map(|&h| a.id(h)).collect();
            a.notes.push(format!(
                "crown jewel {} is reached from the entry points over flows --spec requires ({}): intended, not a finding; e.g. {}",
                a.id(j),
                required.join(", "),
                ids.join(" → ")
            ));
            continue;
        }
        let unintended = p
            .hops
            .windows(2)
            .find(|w| !a.intent.is_empty() && !a.intent.requires(w[0], w[1]))
            .map(|w| (w[0], w[1]));
        let title = if p.is_empty() {
            format!("crown jewel {} is itself an entry point", names[0])
        } else {
            format!(
                "crown jewel {} is reachable from {} entry point(s); shortest path ({} hop(s)): {}",
                a.id(j),
                entries.len(),
                p.len(),
                names.join(" → ")
            )
        };
        let mut endpoints = vec![a.id(j)];
        endpoints.extend(p.hops[..p.hops.len() - 1].iter().map(|&x| a.id(x)));
        let mut f = Finding::new(&CROWN_JEWEL_PATH, title, None, endpoints);
        f.edges = p
            .hops
            .windows(2)
            .map(|w| (a.id(w[0]), a.id(w[1])))
            .collect();
        f.severity = list.iter().map(|p| p.severity).max().unwrap_or(p.severity);
        f.location = workload_location(a.engine, j);
        if let Some(entry) = a.entries.iter().find(|x| x.workload == e) {
            for r in &entry.reasons {
                f.evidence.push(Evidence::at(
                    r.location.clone(),
                    format!("{} is an entry point: {}", names[0], r.message),
                ));
            }
        }
        for w in p.hops.windows(2) {
            let hop = format!("{} → {}", a.id(w[0]), a.id(w[1]));
            for ev in a.attribution.pair_evidence(a.engine, w[0], w[1]) {
                f.evidence
                    .push(Evidence::at(ev.location, format!("{hop}: {}", ev.message)));
            }
        }
        if let Some((u, v)) = unintended {
            f.evidence.push(Evidence::at(
                workload_location(a.engine, u),
                format!(
                    "{} → {} is on the path and no assertion of --spec requires it",
                    a.id(u),
                    a.id(v)
                ),
            ));
        }
        if let Some(jewel) = a.jewels.iter().find(|x| x.workload == j) {
            for r in &jewel.reasons {
                f.evidence.push(Evidence::at(
                    workload_location(a.engine, j),
                    format!("{} is a crown jewel: {r}", a.id(j)),
                ));
            }
        }
        f.remediation = Remediation {
            text: if p.is_empty() {
                "Do not expose the crown jewel outside the cluster; restrict its ingress to its clients.".into()
            } else {
                "Restrict the crown jewel's ingress to the clients that need it, or the egress of a hop; KS801 gives the smallest cut.".into()
            },
            yaml: None,
        };
        a.push(f);
    }
    // Paths to crown jewels reached as intended (`--spec`) are not listed.
    if !a.intent.is_empty() {
        paths.retain(|p| {
            let j = p.hops[p.hops.len() - 1];
            p.is_empty() || a.is_entry[j] || !accepted[j]
        });
    }
    (blast, paths)
}
