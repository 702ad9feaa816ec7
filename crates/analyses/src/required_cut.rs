//! The minimal fix with required flows (`audit --spec`). Entry points are taken
//! together, as the audit's paths and cut take them: what they reach over required
//! connections alone is accepted (`A`, the intended reach), and a crown jewel in it is
//! reached as intended. The fix is the fewest connections, none of them required,
//! whose removal leaves every other crown jewel unreachable from the entry points:
//! a minimum cut where required connections have unbounded capacity. It is finite
//! because a crown jewel outside `A` is reached over no required-only path.

use crate::graph::Cut;
use crate::rows::Rows;
use std::collections::{HashSet, VecDeque};

/// Connections the spec requires: `(source, destination)` workload indices.
pub type Required = HashSet<(u32, u32)>;

/// Networks larger than this many arcs are not built (a flat cluster with a spec):
/// the caller says the fix was not computed.
const MAX_ARCS: usize = 4_000_000;

const UNBOUNDED: u32 = u32::MAX / 2;

struct Network {
    head: Vec<u32>,
    cap: Vec<u32>,
    /// Per node: its arcs (each arc's reverse is the index with the low bit flipped).
    out: Vec<Vec<u32>>,
    /// Per unit arc: the connection it stands for.
    connection: Vec<Option<(usize, usize)>>,
}

impl Network {
    fn node(&mut self) -> usize {
        self.out.push(Vec::new());
        self.out.len() - 1
    }

    fn arc(&mut self, from: usize, to: usize, cap: u32, connection: Option<(usize, usize)>) {
        for (a, b, c) in [(from, to, cap), (to, from, 0)] {
            self.out[a].push(self.head.len() as u32);
            self.head.push(b as u32);
            self.cap.push(c);
            self.connection.push(connection.filter(|_| c > 0));
        }
    }
}

/// The workloads `starts` reach over required connections alone (themselves included).
pub fn required_closure(n: usize, starts: &[usize], required: &Required) -> Vec<bool> {
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(u, v) in required {
        next[u as usize].push(v as usize);
    }
    let mut seen = vec![false; n];
    let mut stack: Vec<usize> = starts.to_vec();
    for &s in starts {
        seen[s] = true;
    }
    while let Some(u) = stack.pop() {
        for &v in &next[u] {
            if !seen[v] {
                seen[v] = true;
                stack.push(v);
            }
        }
    }
    seen
}

/// The cut that keeps every required connection, from `sources` to the `sinks` outside
/// their accepted reach; `None` when the network would be too large to build.
pub fn min_cut_keeping(
    rows: &Rows,
    sources: &[usize],
    sinks: &[usize],
    limit: usize,
    required: &Required,
) -> Option<Cut> {
    let n = rows.workloads;
    let arcs: usize = (0..n).map(|u| rows.out(u).count()).sum();
    if arcs > MAX_ARCS {
        return None;
    }
    let in_a = required_closure(n, sources, required);
    let mut net = Network {
        head: Vec::new(),
        cap: Vec::new(),
        out: vec![Vec::new(); n],
        connection: Vec::new(),
    };
    let s = net.node();
    let t = net.node();
    for &u in sources {
        net.arc(s, u, UNBOUNDED, None);
    }
    for &v in sinks.iter().filter(|&&v| !in_a[v]) {
        net.arc(v, t, UNBOUNDED, None);
    }
    for u in 0..n {
        for v in rows.out(u).iter().filter(|&v| v != u) {
            if required.contains(&(u as u32, v as u32)) {
                net.arc(u, v, UNBOUNDED, None);
            } else {
                net.arc(u, v, 1, Some((u, v)));
            }
        }
    }
    let mut flow = 0;
    loop {
        let parent = bfs(&net, s);
        if parent[t] == u32::MAX {
            break;
        }
        flow += 1;
        if flow > limit {
            return Some(Cut::TooLarge(limit));
        }
        // Every augmenting path crosses a unit arc (no sink is reached over required
        // connections alone), so one unit flows.
        let mut v = t;
        while v != s {
            let a = parent[v] as usize;
            net.cap[a] -= 1;
            net.cap[a ^ 1] += 1;
            v = net.head[a ^ 1] as usize;
        }
    }
    let parent = bfs(&net, s);
    let reached = |x: usize| x == s || parent[x] != u32::MAX;
    let mut cut: Vec<(usize, usize)> = (0..net.head.len())
        .filter(|&a| a % 2 == 0)
        .filter_map(|a| {
            let (from, to) = (net.head[a ^ 1] as usize, net.head[a] as usize);
            let c = net.connection[a]?;
            (reached(from) && !reached(to)).then_some(c)
        })
        .collect();
    cut.sort_unstable();
    Some(Cut::Edges(cut))
}

/// Breadth-first search of the residual network: each node's arc from its parent.
fn bfs(net: &Network, s: usize) -> Vec<u32> {
    let mut parent = vec![u32::MAX; net.out.len()];
    let mut queue = VecDeque::from([s]);
    while let Some(u) = queue.pop_front() {
        for &a in &net.out[u] {
            let v = net.head[a as usize] as usize;
            if net.cap[a as usize] > 0 && v != s && parent[v] == u32::MAX {
                parent[v] = a;
                queue.push_back(v);
            }
        }
    }
    parent
}
