//! The connectivity graph the page draws: endpoints as nodes grouped by namespace,
//! laid out here, and the grouped (compact) connections between them, so that a flat
//! cluster of 15,000 workloads is one edge, not 225 million.

use super::layout::{CELL, layout};
use kubeseg_engine::compact::{self, CollisionError};
use kubeseg_engine::{Endpoint, Engine};
use kubeseg_model::{PortSet, Protocol};
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;
use std::collections::BTreeSet;

/// Namespace-to-namespace lines are listed up to this many; beyond, the page draws
/// none and says so.
const MAX_GROUP_EDGES: usize = 5_000;

/// The name of the group of addresses and domains outside the cluster.
pub const OUTSIDE: &str = "(outside the cluster)";

#[derive(Serialize)]
pub struct Node {
    /// The endpoint id, as `reach` writes it.
    pub id: String,
    /// The short label drawn in the node.
    pub label: String,
    /// Index of its group.
    pub group: u32,
    pub x: u32,
    pub y: u32,
    /// `w` workload, `x` external addresses, `d` a domain name, `s` a sensitive target
    /// inside an address range (it has the range's connections).
    pub kind: &'static str,
}

#[derive(Serialize)]
pub struct Group {
    pub name: String,
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    /// Its nodes, in drawing order.
    pub nodes: Vec<u32>,
}

/// The graph as the page reads it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Graph {
    pub cell: (u32, u32),
    pub groups: Vec<Group>,
    pub nodes: Vec<Node>,
    /// Classes of nodes with identical rows or columns (node indices).
    pub classes: Vec<Vec<u32>>,
    /// (source class, destination class, index into `ports`): every member of the
    /// first may connect to every other member of the second on those ports.
    pub edges: Vec<(u32, u32, u32)>,
    /// Distinct port sets, as text.
    pub ports: Vec<String>,
    /// Per port set: bit 1 TCP, 2 UDP, 4 SCTP.
    pub port_protocols: Vec<u8>,
    /// Node-to-node connections in all (a member never paired with itself).
    pub pairs: u64,
    /// Group pairs with some connection between their nodes (different groups only).
    pub group_edges: Vec<(u32, u32)>,
    /// Whether `group_edges` stopped at its limit.
    pub group_edges_truncated: bool,
}

/// The node index of each endpoint in the graph.
pub struct NodeIndex(HashMap<usize, u32>, HashMap<String, u32>);

impl NodeIndex {
    /// The node of an endpoint index.
    pub fn of(&self, endpoint: usize) -> Option<u32> {
        self.0.get(&endpoint).copied()
    }

    /// The node of an endpoint id.
    pub fn by_id(&self, id: &str) -> Option<u32> {
        self.1.get(id).copied()
    }
}

/// A node standing for a named target inside an address range (the cloud metadata
/// service in the range that holds its address): its id, and the range's endpoint.
/// No policy tells the addresses of one range apart, so it has the range's connections.
pub struct Alias {
    pub id: String,
    pub endpoint: usize,
}

/// Builds the graph over `endpoints ⊇ sources ∪ destinations` (sorted endpoint
/// indices), with `aliases` as nodes of their own outside the cluster.
pub fn build(
    engine: &mut Engine,
    endpoints: &[usize],
    sources: &[usize],
    destinations: &[usize],
    aliases: &[Alias],
) -> Result<(Graph, NodeIndex), CollisionError> {
    // Groups: namespaces by name, then everything outside the cluster. A member is an
    // endpoint, or an alias (its index in `aliases` past the endpoints' range).
    let alias_base = engine.endpoints().len();
    // Per group: (label, member, id), the member an endpoint or, past the endpoints'
    // range, an alias.
    type Members = Vec<(String, usize, String)>;
    let mut members: std::collections::BTreeMap<(bool, String), Members> = Default::default();
    for (i, a) in aliases.iter().enumerate() {
        members
            .entry((true, OUTSIDE.to_string()))
            .or_default()
            .push((a.id.clone(), alias_base + i, a.id.clone()));
    }
    for &e in endpoints {
        let id = engine.endpoint_id(e);
        let (key, label) = match &engine.endpoints()[e] {
            Endpoint::Workload { workload, .. } => {
                let w = &engine.cluster.workloads[*workload];
                (
                    (false, w.namespace.clone()),
                    format!("{}[{}]", w.name, w.kind),
                )
            }
            _ => ((true, OUTSIDE.to_string()), id.clone()),
        };
        members.entry(key).or_default().push((label, e, id));
    }
    let sizes: Vec<usize> = members.values().map(Vec::len).collect();
    let placed = layout(&sizes);
    let mut nodes = Vec::with_capacity(endpoints.len());
    let mut groups = Vec::with_capacity(members.len());
    let mut by_endpoint = HashMap::default();
    let mut by_id = HashMap::default();
    let mut alias_nodes: Vec<(u32, usize)> = Vec::new();
    for (g, (((_, name), mut list), p)) in members.into_iter().zip(placed).enumerate() {
        list.sort();
        let mut group_nodes = Vec::with_capacity(list.len());
        for ((label, e, id), (x, y)) in list.into_iter().zip(p.nodes) {
            let n = nodes.len() as u32;
            let kind = if e >= alias_base {
                alias_nodes.push((n, aliases[e - alias_base].endpoint));
                "s"
            } else {
                by_endpoint.insert(e, n);
                match &engine.endpoints()[e] {
                    Endpoint::Workload { .. } => "w",
                    Endpoint::External { .. } => "x",
                    Endpoint::Domain { .. } => "d",
                }
            };
            by_id.insert(id.clone(), n);
            nodes.push(Node {
                id,
                label,
                group: g as u32,
                x,
                y,
                kind,
            });
            group_nodes.push(n);
        }
        groups.push(Group {
            name,
            x: p.x,
            y: p.y,
            w: p.width,
            h: p.height,
            nodes: group_nodes,
        });
    }
    let index = NodeIndex(by_endpoint, by_id);
    let grouping = compact::group(engine, sources, destinations);
    let mut classes: Vec<Vec<u32>> = grouping
        .groups
        .iter()
        .map(|g| {
            let mut class: Vec<u32> = g.iter().filter_map(|&e| index.of(e)).collect();
            class.sort_unstable();
            class
        })
        .collect();
    let mut port_ids: HashMap<u32, u32> = HashMap::default();
    let (mut ports, mut port_protocols) = (Vec::new(), Vec::new());
    let mut edges = Vec::new();
    compact::for_each_edge(engine, &grouping, |a, b, v, sets| {
        let next = ports.len() as u32;
        let p = *port_ids.entry(v.0).or_insert_with(|| {
            let set = sets.get(v);
            ports.push(set.to_string());
            port_protocols.push(protocol_bits(set));
            next
        });
        edges.push((a as u32, b as u32, p));
    })?;
    let pairs = edges
        .iter()
        .map(|&(a, b, _)| {
            let (a, b) = (&classes[a as usize], &classes[b as usize]);
            a.len() as u64 * b.len() as u64 - common(a, b)
        })
        .sum();
    // An alias joins every class of its range (as a source and as a destination),
    // after the pairs are counted: it is not a connection of its own.
    for class in &mut classes {
        let joining: Vec<u32> = alias_nodes
            .iter()
            .filter(|(_, e)| {
                index
                    .of(*e)
                    .is_some_and(|n| class.binary_search(&n).is_ok())
            })
            .map(|&(a, _)| a)
            .collect();
        class.extend(joining);
        class.sort_unstable();
    }
    let (group_edges, group_edges_truncated) = group_edges(&nodes, &classes, &edges);
    Ok((
        Graph {
            cell: CELL,
            groups,
            nodes,
            classes,
            edges,
            ports,
            port_protocols,
            pairs,
            group_edges,
            group_edges_truncated,
        },
        index,
    ))
}

impl Graph {
    /// A test of whether one node may connect to another, built once for many questions.
    pub fn connectivity(&self) -> impl Fn(u32, u32) -> bool + '_ {
        let mut src = vec![u32::MAX; self.nodes.len()];
        let mut dst = vec![u32::MAX; self.nodes.len()];
        let mut edges = rustc_hash::FxHashSet::default();
        for &(a, b, _) in &self.edges {
            self.classes[a as usize]
                .iter()
                .for_each(|&n| src[n as usize] = a);
            self.classes[b as usize]
                .iter()
                .for_each(|&n| dst[n as usize] = b);
            edges.insert((a, b));
        }
        move |u, v| u != v && edges.contains(&(src[u as usize], dst[v as usize]))
    }
}

/// TCP 1, UDP 2, SCTP 4, ICMP or ICMPv6 8 (the page's protocol filter).
fn protocol_bits(set: &PortSet) -> u8 {
    let icmp = Protocol::ICMP.iter().any(|&p| !set.ports(p).is_empty());
    [(Protocol::Tcp, 1), (Protocol::Udp, 2), (Protocol::Sctp, 4)]
        .iter()
        .filter(|(p, _)| !set.ports(*p).is_empty())
        .map(|(_, bit)| bit)
        .sum::<u8>()
        + if icmp { 8 } else { 0 }
}

/// How many members two sorted classes share (pairs of a member with itself), by one
/// merge of the two.
fn common(a: &[u32], b: &[u32]) -> u64 {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// The group pairs some edge connects, from the groups each class touches.
fn group_edges(
    nodes: &[Node],
    classes: &[Vec<u32>],
    edges: &[(u32, u32, u32)],
) -> (Vec<(u32, u32)>, bool) {
    let class_groups: Vec<Vec<u32>> = classes
        .iter()
        .map(|c| {
            let set: BTreeSet<u32> = c.iter().map(|&n| nodes[n as usize].group).collect();
            set.into_iter().collect()
        })
        .collect();
    let mut pairs = BTreeSet::new();
    for &(a, b, _) in edges {
        for &ga in &class_groups[a as usize] {
            for &gb in &class_groups[b as usize] {
                if ga != gb {
                    pairs.insert((ga, gb));
                    if pairs.len() > MAX_GROUP_EDGES {
                        return (Vec::new(), true);
                    }
                }
            }
        }
    }
    (pairs.into_iter().collect(), false)
}

#[cfg(test)]
mod tests {
    use super::common;

    #[test]
    fn common_counts_shared_members_of_sorted_classes() {
        assert_eq!(common(&[1, 3, 5, 9], &[3, 4, 5, 10]), 2);
        assert_eq!(common(&[], &[1]), 0);
        assert_eq!(common(&[2, 7], &[2, 7]), 2);
    }
}
