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
        if rows.workloads <= DENSE_LIMIT {
            Self::by_words(rows)
        } else {
            Self::by_edges(rows)
        }
    }

    /// [`Closure::compute`] over the row-key graph's edges (listed once each): Tarjan's
    /// components, then unions in reverse topological order.
    pub fn by_edges(rows: &Rows) -> Closure {
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

    /// [`Closure::compute`] word by word: components of the workload graph by Kosaraju's two
    /// searches over bit rows (the next unvisited successor is the first bit of the row
    /// AND NOT visited; the second search runs on the rows transposed in 64×64 blocks),
    /// then each component's reach from its members' rows and the reach of components
    /// not yet covered, sinks first. No edge is ever listed: about n²/64 word
    /// operations, where listing the edges costs one step each.
    pub fn by_words(rows: &Rows) -> Closure {
        let n = rows.workloads;
        let words = n.div_ceil(64);
        let row = |w: usize| rows.keys[rows.key_of[w] as usize].out.words();
        // First search: finishing order.
        let mut visited = vec![0u64; words];
        let mut order = Vec::with_capacity(n);
        for root in 0..n {
            search(root, row, &mut visited, |v| order.push(v));
        }
        // Second search, on the transposed rows, latest finished first: components in
        // topological order (a component's successors come after it).
        let incoming = transpose(n, words, row);
        let mut assigned = vec![0u64; words];
        let mut comp_of = vec![0u32; n];
        let mut comps: Vec<Vec<u32>> = Vec::new();
        let in_row = |v: usize| &incoming[v * words..(v + 1) * words];
        for &root in order.iter().rev() {
            let c = comps.len() as u32;
            let mut members = Vec::new();
            search(root, in_row, &mut assigned, |v| {
                comp_of[v] = c;
                members.push(v as u32);
            });
            if !members.is_empty() {
                comps.push(members);
            }
        }
        // Reach, sinks first.
        let mut reach: Vec<BitSet> = vec![BitSet::new(0); comps.len()];
        let mut keys_seen = vec![u32::MAX; rows.keys.len()];
        for c in (0..comps.len()).rev() {
            let mut set = BitSet::new(n);
            for &w in &comps[c] {
                let k = rows.key_of[w as usize];
                if keys_seen[k as usize] != c as u32 {
                    keys_seen[k as usize] = c as u32;
                    set.union_with(&rows.keys[k as usize].out);
                }
            }
            let mut covered = BitSet::new(n);
            let mut j = 0;
            while let Some((x, at)) = set.next_difference(&covered, j) {
                // What `set` gains below is covered as well, so the words before `at` stay done.
                j = at;
                covered.insert(x);
                let sc = comp_of[x] as usize;
                if sc != c {
                    // Everything the successor reaches reaches no further than it does.
                    covered.union_with(&reach[sc]);
                    set.union_with(&reach[sc]);
                }
            }
            reach[c] = set;
        }
        // Workloads of one key have the same successors, so the same reach.
        let mut scc_of_key = vec![0u32; rows.keys.len()];
        for (w, &k) in rows.key_of.iter().enumerate() {
            scc_of_key[k as usize] = comp_of[w];
        }
        if reach.is_empty() {
            reach.push(BitSet::new(n));
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

/// Workloads up to which the closure is computed word by word; the transposed rows take
/// n²/8 bytes (50,000 workloads: 312 MB).
const DENSE_LIMIT: usize = 50_000;

/// Depth-first search from `root` unless `done` holds it, over successors not in `done`
/// (adding each it reaches), calling `finished` for each node when its search ends.
fn search<'r>(
    root: usize,
    row: impl Fn(usize) -> &'r [u64],
    done: &mut [u64],
    mut finished: impl FnMut(usize),
) {
    if done[root / 64] >> (root % 64) & 1 == 1 {
        return;
    }
    done[root / 64] |= 1 << (root % 64);
    // (node, the word its successor scan has reached)
    let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
    while let Some(&(v, cur)) = stack.last() {
        match next_bit(row(v), done, cur) {
            Some((u, at)) => {
                if let Some(top) = stack.last_mut() {
                    top.1 = at;
                }
                done[u / 64] |= 1 << (u % 64);
                stack.push((u, 0));
            }
            None => {
                finished(v);
                stack.pop();
            }
        }
    }
}

/// The first bit of `row` AND NOT `done` from word `from` on: (bit, its word).
fn next_bit(row: &[u64], done: &[u64], from: usize) -> Option<(usize, usize)> {
    (from..row.len()).find_map(|j| {
        let fresh = row[j] & !done[j];
        (fresh != 0).then(|| (j * 64 + fresh.trailing_zeros() as usize, j))
    })
}

/// The rows transposed: `n` rows of `words` words, row `u` holding bit `w` when row `w`
/// holds bit `u`.
fn transpose<'r>(n: usize, words: usize, row: impl Fn(usize) -> &'r [u64]) -> Vec<u64> {
    let mut out = vec![0u64; n * words];
    let mut block = [0u64; 64];
    for bi in 0..words {
        for bj in 0..words {
            let mut any = 0;
            for (r, b) in block.iter_mut().enumerate() {
                let w = bi * 64 + r;
                *b = if w < n { row(w)[bj] } else { 0 };
                any |= *b;
            }
            if any == 0 {
                continue;
            }
            transpose64(&mut block);
            for (c, &b) in block.iter().enumerate() {
                let u = bj * 64 + c;
                if u < n {
                    out[u * words + bi] = b;
                }
            }
        }
    }
    out
}

/// Transposes a 64×64 bit matrix in place: bit `c` of word `r` goes to bit `r` of word
/// `c` (the swap-halves method, six rounds of 32 word pairs).
fn transpose64(a: &mut [u64; 64]) {
    let mut width = 32;
    let mut mask: u64 = 0x0000_0000_ffff_ffff;
    while width != 0 {
        let mut k = 0;
        while k < 64 {
            let t = ((a[k] >> width) ^ a[k + width]) & mask;
            a[k] ^= t << width;
            a[k + width] ^= t;
            k = (k + width + 1) & !width;
        }
        width >>= 1;
        mask ^= mask << width;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose64_moves_bit_c_of_word_r_to_bit_r_of_word_c() {
        let mut state: u64 = 12345;
        let mut a = [0u64; 64];
        for w in &mut a {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1442695040888963407);
            *w = state;
        }
        let mut t = a;
        transpose64(&mut t);
        for (r, row) in a.iter().enumerate() {
            for (c, column) in t.iter().enumerate() {
                assert_eq!(row >> c & 1, column >> r & 1, "bit {c} of word {r}");
            }
        }
    }
}
