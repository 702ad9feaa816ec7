//! The workload graph (u → v when u may open some connection to v) without building
//! it: a workload's successors are the one-hop set of its row key, so the work is per
//! row key and per 64-workload word, never per workload pair.

use crate::rows::Rows;
use kubeseg_engine::bitset::BitSet;

/// Everything each workload reaches through any number of hops.
pub struct Closure {
    /// Per row key: the index of its strongly connected component.
    scc_of_key: Vec<u32>,
    /// Per component: the workloads reachable from any member key (one hop or more).
    reach: Vec<BitSet>,
}

impl Closure {
    /// Collapses the row-key graph into strongly connected components and unions the
    /// one-hop sets in reverse topological order.
    pub fn compute(rows: &Rows) -> Closure {
        let succ = key_successors(rows);
        let (scc_of_key, sccs) = tarjan(&succ);
        // Tarjan emits components sinks first, so successors are done before their
        // predecessors. Besides the workloads, each component keeps the components it
        // reaches: a successor already among them adds nothing, and taking successors
        // latest first (the ones that reach the most) skips most of the unions.
        let mut reach: Vec<BitSet> = Vec::with_capacity(sccs.len());
        let mut reach_comps: Vec<BitSet> = Vec::with_capacity(sccs.len());
        let mut next: Vec<usize> = Vec::new();
        for (c, keys) in sccs.iter().enumerate() {
            let mut set = BitSet::new(rows.workloads);
            let mut comps = BitSet::new(sccs.len());
            next.clear();
            for &k in keys {
                set.union_with(&rows.keys[k as usize].out);
                next.extend(
                    succ[k as usize]
                        .iter()
                        .map(|&s| scc_of_key[s as usize] as usize)
                        .filter(|&sc| sc != c),
                );
            }
            next.sort_unstable_by(|a, b| b.cmp(a));
            next.dedup();
            for &sc in &next {
                if !comps.contains(sc) {
                    comps.insert(sc);
                    comps.union_with(&reach_comps[sc]);
                    set.union_with(&reach[sc]);
                }
            }
            reach.push(set);
            reach_comps.push(comps);
        }
        Closure { scc_of_key, reach }
    }

    /// The workloads `w` reaches (itself included only if some path leads back to it).
    pub fn reach_of(&self, rows: &Rows, w: usize) -> &BitSet {
        &self.reach[self.scc_of_key[rows.key_of[w] as usize] as usize]
    }

    /// How many other workloads `w` reaches.
    pub fn blast_radius(&self, rows: &Rows, w: usize) -> usize {
        let r = self.reach_of(rows, w);
        r.count() - usize::from(r.contains(w))
    }
}

/// Per row key, the distinct keys of the workloads in its one-hop set.
fn key_successors(rows: &Rows) -> Vec<Vec<u32>> {
    let mut seen = vec![u32::MAX; rows.keys.len()];
    rows.keys
        .iter()
        .enumerate()
        .map(|(k, row)| {
            let mut succ = Vec::new();
            for w in row.out.iter() {
                let t = rows.key_of[w];
                if seen[t as usize] != k as u32 {
                    seen[t as usize] = k as u32;
                    succ.push(t);
                }
            }
            succ
        })
        .collect()
}

/// Iterative Tarjan: (component of each node, components in reverse topological order).
fn tarjan(succ: &[Vec<u32>]) -> (Vec<u32>, Vec<Vec<u32>>) {
    let n = succ.len();
    const UNSEEN: u32 = u32::MAX;
    let (mut index, mut low) = (vec![UNSEEN; n], vec![0u32; n]);
    let mut on_stack = vec![false; n];
    let (mut stack, mut comps) = (Vec::new(), Vec::new());
    let mut comp_of = vec![0u32; n];
    let mut counter = 0u32;
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&mut (v, ref mut next)) = work.last_mut() {
            if *next == 0 && index[v] == UNSEEN {
                index[v] = counter;
                low[v] = counter;
                counter += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = succ[v].get(*next) {
                *next += 1;
                let w = w as usize;
                if index[w] == UNSEEN {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                while let Some(x) = stack.pop() {
                    on_stack[x] = false;
                    comp_of[x] = comps.len() as u32;
                    comp.push(x as u32);
                    if x == v {
                        break;
                    }
                }
                comps.push(comp);
            }
        }
    }
    (comp_of, comps)
}

/// Shortest paths from one start workload, breadth first over row keys.
pub struct Bfs {
    /// Per workload: the previous workload on a shortest path (`u32::MAX`: unreached; the start points at itself).
    parent: Vec<u32>,
}

impl Bfs {
    /// Runs from `starts` at once: each reached workload gets a shortest path from the nearest start.
    pub fn run(rows: &Rows, starts: &[usize]) -> Bfs {
        let mut parent = vec![u32::MAX; rows.workloads];
        let mut visited = BitSet::new(rows.workloads);
        let mut key_done = vec![false; rows.keys.len()];
        for &s in starts {
            parent[s] = s as u32;
            visited.insert(s);
        }
        let mut frontier = starts.to_vec();
        while !frontier.is_empty() {
            let mut next = Vec::new();
            for &u in &frontier {
                let k = rows.key_of[u] as usize;
                if std::mem::replace(&mut key_done[k], true) {
                    continue;
                }
                let out = rows.keys[k].out.words();
                for (i, (&o, v)) in out.iter().zip(visited.words_mut()).enumerate() {
                    let mut fresh = o & !*v;
                    *v |= fresh;
                    while fresh != 0 {
                        let w = i * 64 + fresh.trailing_zeros() as usize;
                        fresh &= fresh - 1;
                        parent[w] = u as u32;
                        next.push(w);
                    }
                }
            }
            frontier = next;
        }
        Bfs { parent }
    }

    /// The path from the nearest start to `target`, or `None` when unreached.
    pub fn path_to(&self, target: usize) -> Option<Vec<usize>> {
        if self.parent[target] == u32::MAX {
            return None;
        }
        let mut path = vec![target];
        let mut cur = target;
        while self.parent[cur] as usize != cur {
            cur = self.parent[cur] as usize;
            path.push(cur);
        }
        path.reverse();
        Some(path)
    }
}

/// The outcome of the minimum cut between entry points and crown jewels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cut {
    /// These workload-to-workload connections (sorted) form a minimum cut.
    Edges(Vec<(usize, usize)>),
    /// A minimum cut has more than this many connections.
    TooLarge(usize),
}

/// A minimum set of workload-to-workload connections whose removal leaves no path from
/// any of `sources` to any of `sinks` (unit capacities; augmenting paths found breadth
/// first over the implicit graph). A workload in both sets is split in two: connections
/// into it lead to a sink, connections out of it leave a source. Stops once the cut
/// would exceed `limit`.
pub fn min_cut(rows: &Rows, sources: &[usize], sinks: &[usize], limit: usize) -> Cut {
    let n = rows.workloads;
    let mut is_sink = BitSet::new(n);
    for &t in sinks {
        is_sink.insert(t);
    }
    // Unit flow on edge (u, v), kept sparsely: u's saturated successors and v's flowing predecessors.
    let mut flow_out: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut flow_in: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut flow = 0usize;
    loop {
        let (parent, reached) = residual_bfs(rows, sources, &is_sink, &flow_out, &flow_in);
        let Some((last, t)) = reached else {
            // `parent` marks the source side of the final residual graph; sinks are never on it.
            let mut cut = Vec::new();
            for u in 0..n {
                if parent[u] == Step::Unreached {
                    continue;
                }
                for &v in &flow_out[u] {
                    let v = v as usize;
                    if parent[v] == Step::Unreached || is_sink.contains(v) {
                        cut.push((u, v));
                    }
                }
            }
            cut.sort_unstable();
            return Cut::Edges(cut);
        };
        flow += 1;
        if flow > limit {
            return Cut::TooLarge(limit);
        }
        flow_out[last].push(t as u32);
        flow_in[t].push(last as u32);
        let mut v = last;
        while let Step::From(u, forward) = parent[v] {
            let u = u as usize;
            if forward {
                flow_out[u].push(v as u32);
                flow_in[v].push(u as u32);
            } else {
                // Cancelling flow on v → u.
                flow_out[v].retain(|&x| x as usize != u);
                flow_in[u].retain(|&x| x as usize != v);
            }
            v = u;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Unreached,
    Source,
    /// Reached from this workload over a forward (true) or a cancelling (false) edge.
    From(u32, bool),
}

/// One breadth-first search of the residual graph: the parents, and the last edge
/// (u, sink) of an augmenting path when one exists.
fn residual_bfs(
    rows: &Rows,
    sources: &[usize],
    is_sink: &BitSet,
    flow_out: &[Vec<u32>],
    flow_in: &[Vec<u32>],
) -> (Vec<Step>, Option<(usize, usize)>) {
    let n = rows.workloads;
    let mut parent = vec![Step::Unreached; n];
    let mut visited = BitSet::new(n);
    let mut queue = std::collections::VecDeque::new();
    for &s in sources {
        if !visited.contains(s) {
            visited.insert(s);
            parent[s] = Step::Source;
            queue.push_back(s);
        }
    }
    while let Some(u) = queue.pop_front() {
        // Forward residual edges carry no flow yet; a sink ends the search even when it
        // is also a source (its sink half is never visited).
        let out = rows.out(u).words();
        for (i, (&o, v)) in out.iter().zip(visited.words_mut()).enumerate() {
            let mut candidates = o & (!*v | is_sink.words()[i]);
            while candidates != 0 {
                let w = i * 64 + candidates.trailing_zeros() as usize;
                candidates &= candidates - 1;
                if w == u || flow_out[u].contains(&(w as u32)) {
                    continue;
                }
                if is_sink.contains(w) {
                    return (parent, Some((u, w)));
                }
                *v |= 1 << (w % 64);
                parent[w] = Step::From(u as u32, true);
                queue.push_back(w);
            }
        }
        // Backward residual edges cancel flow that enters u (a sink's incoming flow
        // belongs to its sink half, which the search never leaves from).
        if is_sink.contains(u) {
            continue;
        }
        for &w in &flow_in[u] {
            let w = w as usize;
            if !visited.contains(w) {
                visited.insert(w);
                parent[w] = Step::From(u as u32, false);
                queue.push_back(w);
            }
        }
    }
    (parent, None)
}
