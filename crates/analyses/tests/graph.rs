//! The graph algorithms against naive ones written from their definitions, on random
//! workload graphs where workloads sharing a row key share their successors.

use kubeseg_analyses::graph::{Bfs, Closure, Cut, min_cut};
use kubeseg_analyses::required_cut::{Required, min_cut_keeping};
use kubeseg_analyses::rows::{KeyRow, Rows};
use kubeseg_engine::bitset::BitSet;
use proptest::prelude::*;
use std::collections::VecDeque;

/// Rows from per-key successor lists and the key of each workload.
fn rows(n: usize, key_of: Vec<u32>, succ: &[Vec<usize>]) -> Rows {
    let keys = succ
        .iter()
        .map(|s| {
            let mut out = BitSet::new(n);
            for &w in s {
                out.insert(w);
            }
            KeyRow {
                out,
                to_targets: vec![],
                internet: Default::default(),
                out_without_tcp: BitSet::default(),
            }
        })
        .collect();
    let mut members = vec![Vec::new(); succ.len()];
    for (w, &k) in key_of.iter().enumerate() {
        members[k as usize].push(w as u32);
    }
    Rows {
        workloads: n,
        key_of,
        keys,
        members,
        admitted_from: vec![Vec::new(); n],
        without_tcp: None,
        targets: Default::default(),
        kept: 0,
    }
}

/// Successors of `u`, minus removed edges.
fn successors(r: &Rows, u: usize, removed: &[(usize, usize)]) -> Vec<usize> {
    r.out(u)
        .iter()
        .filter(|&v| !removed.contains(&(u, v)))
        .collect()
}

/// Naive breadth-first distances from `s` (edge by edge).
fn distances(r: &Rows, s: usize, removed: &[(usize, usize)]) -> Vec<Option<usize>> {
    let mut d = vec![None; r.workloads];
    d[s] = Some(0);
    let mut q = VecDeque::from([s]);
    while let Some(u) = q.pop_front() {
        for v in successors(r, u, removed) {
            if d[v].is_none() {
                d[v] = Some(d[u].unwrap_or(0) + 1);
                q.push_back(v);
            }
        }
    }
    d
}

fn graph() -> impl Strategy<Value = Rows> {
    graph_of(1..14)
}

/// Random graphs of `sizes` workloads, in 1 to n row keys of up to 3 successors each.
fn graph_of(sizes: std::ops::Range<usize>) -> impl Strategy<Value = Rows> {
    sizes.prop_flat_map(|n| {
        let keys = 1..=n;
        keys.prop_flat_map(move |k| {
            (
                proptest::collection::vec(0..k as u32, n),
                proptest::collection::vec(proptest::collection::vec(0..n, 0..4), k),
            )
                .prop_map(move |(key_of, succ)| rows(n, key_of, &succ))
        })
    })
}

/// Whether some path leads from a source to a sink, a workload in both sets counting
/// only through a connection into it.
fn connected(r: &Rows, sources: &[usize], sinks: &[usize], removed: &[(usize, usize)]) -> bool {
    sources.iter().any(|&s| {
        let d = distances(r, s, removed);
        sinks.iter().any(|&t| {
            if t != s {
                return d[t].is_some();
            }
            // A path back into s itself.
            (0..r.workloads)
                .any(|u| u != s && d[u].is_some() && successors(r, u, removed).contains(&s))
        })
    })
}

/// Checks a closure against breadth-first searches from every workload.
fn check_closure(r: &Rows, c: &Closure) -> Result<(), TestCaseError> {
    for w in 0..r.workloads {
        let d = distances(r, w, &[]);
        let expected: Vec<usize> = (0..r.workloads)
            .filter(|&v| v != w && d[v].is_some())
            .collect();
        let got: Vec<usize> = c.reach_of(r, w).iter().filter(|&v| v != w).collect();
        prop_assert_eq!(&got, &expected, "workload {}", w);
        prop_assert_eq!(c.blast_radius(r, w), expected.len());
        // Itself only when a path leads back.
        let back = (0..r.workloads).any(|u| d[u].is_some() && successors(r, u, &[]).contains(&w));
        prop_assert_eq!(c.reach_of(r, w).contains(w), back, "workload {} itself", w);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn closure_is_reachability(r in graph()) {
        check_closure(&r, &Closure::by_words(&r))?;
        check_closure(&r, &Closure::by_edges(&r))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Graphs spanning several 64-bit words, for the word-by-word closure.
    #[test]
    fn closure_is_reachability_across_words(r in graph_of(60..200)) {
        check_closure(&r, &Closure::by_words(&r))?;
        check_closure(&r, &Closure::by_edges(&r))?;
    }

    #[test]
    fn bfs_paths_are_shortest_and_real(r in graph(), start in 0usize..14) {
        let start = start % r.workloads;
        let bfs = Bfs::run(&r, &[start]);
        let d = distances(&r, start, &[]);
        for (t, dist) in d.iter().enumerate() {
            match (bfs.path_to(t), *dist) {
                (None, None) => {}
                (Some(p), Some(len)) => {
                    prop_assert_eq!(p.len() - 1, len);
                    prop_assert_eq!(p[0], start);
                    prop_assert_eq!(p[p.len() - 1], t);
                    for hop in p.windows(2) {
                        prop_assert!(r.out(hop[0]).contains(hop[1]));
                    }
                }
                (p, len) => prop_assert!(false, "path {:?} vs distance {:?}", p, len),
            }
        }
    }

    #[test]
    fn min_cut_disconnects_and_is_minimum(r in graph(), src in proptest::collection::vec(0usize..14, 1..3), dst in proptest::collection::vec(0usize..14, 1..3)) {
        let n = r.workloads;
        let mut sources: Vec<usize> = src.iter().map(|s| s % n).collect();
        let mut sinks: Vec<usize> = dst.iter().map(|s| s % n).collect();
        sources.sort_unstable();
        sources.dedup();
        sinks.sort_unstable();
        sinks.dedup();
        let Cut::Edges(cut) = min_cut(&r, &sources, &sinks, 1000) else {
            return Err(TestCaseError::fail("cut too large"));
        };
        for &(u, v) in &cut {
            prop_assert!(u != v && r.out(u).contains(v), "cut edge {}→{} is not a connection", u, v);
        }
        prop_assert!(!connected(&r, &sources, &sinks, &cut), "the cut {:?} leaves a path", cut);
        // No smaller set of connections disconnects them (brute force over small graphs).
        let edges: Vec<(usize, usize)> = (0..n)
            .flat_map(|u| r.out(u).iter().filter(move |&v| v != u).map(move |v| (u, v)).collect::<Vec<_>>())
            .collect();
        if edges.len() <= 16 && !cut.is_empty() {
            for mask in 0u32..(1 << edges.len()) {
                if (mask.count_ones() as usize) < cut.len() {
                    let removed: Vec<(usize, usize)> = edges.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, e)| *e).collect();
                    prop_assert!(connected(&r, &sources, &sinks, &removed), "{:?} is a smaller cut than {:?}", removed, cut);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// With required connections: sinks the sources reach over required connections
    /// alone are reached as intended; every other sink is cut off, by the fewest
    /// connections, none of them required.
    #[test]
    fn the_cut_keeping_required_flows_is_minimum(
        r in graph(),
        src in proptest::collection::vec(0usize..14, 1..3),
        dst in proptest::collection::vec(0usize..14, 1..3),
        keep in proptest::collection::vec(any::<bool>(), 200),
    ) {
        let n = r.workloads;
        let mut sources: Vec<usize> = src.iter().map(|s| s % n).collect();
        let mut sinks: Vec<usize> = dst.iter().map(|s| s % n).collect();
        sources.sort_unstable();
        sources.dedup();
        sinks.sort_unstable();
        sinks.dedup();
        let edges: Vec<(usize, usize)> = (0..n)
            .flat_map(|u| r.out(u).iter().filter(move |&v| v != u).map(move |v| (u, v)).collect::<Vec<_>>())
            .collect();
        let required: Required = edges
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(&(u, v), _)| (u as u32, v as u32))
            .collect();
        let optional: Vec<(usize, usize)> = edges.iter().copied().filter(|&(u, v)| !required.contains(&(u as u32, v as u32))).collect();
        // Intended: reached with every optional connection removed.
        let intended = |t: usize| sources.contains(&t) || sources.iter().any(|&s| distances(&r, s, &optional)[t].is_some());
        let targets: Vec<usize> = sinks.iter().copied().filter(|&t| !intended(t)).collect();
        let Some(Cut::Edges(cut)) = min_cut_keeping(&r, &sources, &sinks, 1000, &required) else {
            return Err(TestCaseError::fail("no cut"));
        };
        for &(u, v) in &cut {
            prop_assert!(u != v && r.out(u).contains(v), "{}→{} is not a connection", u, v);
            prop_assert!(!required.contains(&(u as u32, v as u32)), "cut {}→{} is required", u, v);
        }
        prop_assert!(!connected(&r, &sources, &targets, &cut), "the cut {:?} leaves a path", cut);
        if optional.len() <= 14 && !cut.is_empty() {
            for mask in 0u32..(1 << optional.len()) {
                if (mask.count_ones() as usize) < cut.len() {
                    let removed: Vec<(usize, usize)> = optional.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, e)| *e).collect();
                    prop_assert!(connected(&r, &sources, &targets, &removed), "{:?} is a smaller cut than {:?}", removed, cut);
                }
            }
        }
    }
}
