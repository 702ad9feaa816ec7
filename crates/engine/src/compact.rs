//! The grouped answer: sources with identical rows form one group, destinations with
//! identical columns form one group, and each edge relates a source group to a
//! destination group with the ports every member pair has (a member is never paired
//! with itself). A flat cluster is one edge.
//!
//! Rows and columns are grouped by 128-bit fingerprints, then every member is checked
//! cell by cell against its group's representative, so the grouping is exact.

use crate::Engine;
use crate::portsets::PortSetId;
use kubeseg_model::PortSet;
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;

/// A group of endpoints (indices into [`Engine::endpoints`], sorted).
pub type Group = Vec<usize>;

/// The grouped answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Compact {
    /// Distinct groups, ordered by first member.
    pub groups: Vec<Group>,
    /// (source group, destination group, ports), sorted by group indices.
    pub edges: Vec<(usize, usize, PortSet)>,
}

/// Grouping failed its exactness check (a fingerprint collision; never expected).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollisionError;

impl std::fmt::Display for CollisionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("internal error: fingerprint collision while grouping endpoints")
    }
}

impl std::error::Error for CollisionError {}

#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Fingerprint(u64, u64);

impl Fingerprint {
    fn add(&mut self, a: u64, b: u64) {
        self.0 = mix(self.0 ^ mix(a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b));
        self.1 = mix(self.1.wrapping_add(mix(
            b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F) ^ a.rotate_left(29)
        )));
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Rows are cached between the two passes (sparse: position and ports of each
/// non-empty cell) up to this many cells in total; beyond, pass 2 recomputes them.
const ROW_CACHE_CELLS: usize = 1 << 26;

/// A row restricted to the destinations, without its empty cells.
type SparseRow = Vec<(u32, PortSetId)>;

/// The groups of a grouped answer, before its edges are listed.
pub struct Grouping {
    /// Every group that has a non-empty row or column, ordered by first member.
    pub groups: Vec<Group>,
    /// Source groups: (group id, members).
    src_groups: Vec<(usize, Group)>,
    /// Destination groups: (group id, first member, positions in `destinations`).
    dst_groups: Vec<(usize, usize, Vec<usize>)>,
    /// Row key of each source (parallel to the sources given).
    src_key: Vec<usize>,
    sources: Vec<usize>,
    destinations: Vec<usize>,
    /// Rows from the first pass by row key, when they fit the cache.
    rows: HashMap<usize, SparseRow>,
}

/// Pass 1: groups sources by row and destinations by column (endpoint indices, sorted).
pub fn group(engine: &mut Engine, sources: &[usize], destinations: &[usize]) -> Grouping {
    let mut key_ids: HashMap<Vec<u32>, usize> = HashMap::default();
    let mut key_rows: Vec<Fingerprint> = Vec::new();
    let mut src_key: Vec<usize> = Vec::with_capacity(sources.len());
    let mut columns = vec![Fingerprint::default(); destinations.len()];
    let mut rows: HashMap<usize, SparseRow> = HashMap::default();
    let mut cached_cells = 0usize;
    // Keys first; then the row of each key's first source, on every thread, in order.
    let mut firsts: Vec<usize> = Vec::new();
    for &s in sources {
        let key = engine.reach.endpoint_row_key(s);
        let next = key_ids.len();
        let k = *key_ids.entry(key).or_insert(next);
        src_key.push(k);
        if k == firsts.len() {
            firsts.push(s);
        }
    }
    // Rows whose ingress sides are equal are computed one after the other, which lets
    // a thread compute that side once; the sink still learns each row's key.
    let mut order: Vec<usize> = (0..firsts.len()).collect();
    order.sort_by_key(|&k| engine.reach.endpoint_ingress_key(firsts[k]));
    let ordered: Vec<usize> = order.iter().map(|&k| firsts[k]).collect();
    key_rows.resize(firsts.len(), Fingerprint::default());
    let mut taken = 0;
    engine
        .reach
        .par_sparse_rows(&ordered, destinations, |_, cells| {
            let k = order[taken];
            taken += 1;
            let mut fp = Fingerprint::default();
            for &(j, v) in cells {
                fp.add(j as u64, v.0 as u64);
                columns[j as usize].add(k as u64, v.0 as u64);
            }
            key_rows[k] = fp;
            if cached_cells + cells.len() <= ROW_CACHE_CELLS {
                cached_cells += cells.len();
                rows.insert(k, cells.to_vec());
            }
        });
    let empty = Fingerprint::default();
    let src_groups: Vec<Group> = group_by(sources, |i| key_rows[src_key[i]])
        .into_iter()
        .filter(|g| {
            let i = sources.binary_search(&g[0]).unwrap_or(0);
            key_rows[src_key[i]] != empty
        })
        .collect();
    let dst_groups: Vec<Group> = group_by(destinations, |j| columns[j])
        .into_iter()
        .filter(|g| {
            let j = destinations.binary_search(&g[0]).unwrap_or(0);
            columns[j] != empty
        })
        .collect();
    let mut groups: Vec<Group> = src_groups.iter().chain(&dst_groups).cloned().collect();
    groups.sort();
    groups.dedup();
    groups.sort_by_key(|g| g[0]);
    let ids: HashMap<&Group, usize> = groups.iter().enumerate().map(|(i, g)| (g, i)).collect();
    let src_groups = src_groups.into_iter().map(|g| (ids[&g], g)).collect();
    let position: HashMap<usize, usize> = destinations
        .iter()
        .enumerate()
        .map(|(j, &d)| (d, j))
        .collect();
    let dst_groups = dst_groups
        .into_iter()
        .map(|g| (ids[&g], g[0], g.iter().map(|d| position[d]).collect()))
        .collect();
    Grouping {
        groups,
        src_groups,
        dst_groups,
        src_key,
        sources: sources.to_vec(),
        destinations: destinations.to_vec(),
        rows,
    }
}

/// Pass 2: calls `each(source group, destination group, ports)` for every edge, in
/// order, after checking every member against its group's representative.
pub fn for_each_edge(
    engine: &mut Engine,
    g: &Grouping,
    mut each: impl FnMut(usize, usize, PortSetId, &crate::portsets::PortSets),
) -> Result<(), CollisionError> {
    let (mut scratch, mut full) = (Vec::new(), Vec::new());
    // Rows as their non-empty cells (position in `destinations`, ports), in order.
    let mut row_of = |engine: &mut Engine, src: usize| -> std::borrow::Cow<'_, SparseRow> {
        let k = src_key_of(&g.sources, &g.src_key, src);
        if let Some(r) = g.rows.get(&k) {
            return std::borrow::Cow::Borrowed(r);
        }
        engine.reach.endpoint_row(src, &mut scratch, &mut full);
        std::borrow::Cow::Owned(crate::reach::cells_over(&full, &g.destinations))
    };
    // Each destination's group (its index in `dst_groups`); none: its column is empty.
    let mut group_of = vec![u32::MAX; g.destinations.len()];
    for (i, (_, _, positions)) in g.dst_groups.iter().enumerate() {
        for &j in positions {
            group_of[j] = i as u32;
        }
    }
    // Per destination group, for one row: its non-empty cells seen and their ports.
    let mut seen: Vec<(usize, PortSetId)> = vec![(0, PortSetId::EMPTY); g.dst_groups.len()];
    let mut touched: Vec<u32> = Vec::new();
    for (sid, sg) in &g.src_groups {
        let row = row_of(engine, sg[0]);
        let mut checked =
            std::collections::HashSet::from([src_key_of(&g.sources, &g.src_key, sg[0])]);
        for &m in &sg[1..] {
            if checked.insert(src_key_of(&g.sources, &g.src_key, m)) && row_of(engine, m) != row {
                return Err(CollisionError);
            }
        }
        // A group's cells are all empty or all equal: the fingerprints promised it.
        touched.clear();
        for &(j, v) in row.iter() {
            let i = group_of[j as usize];
            if i == u32::MAX {
                return Err(CollisionError);
            }
            let (count, ports) = &mut seen[i as usize];
            if *count == 0 {
                touched.push(i);
                *ports = v;
            } else if *ports != v {
                return Err(CollisionError);
            }
            *count += 1;
        }
        touched.sort_unstable();
        for &i in &touched {
            let (did, first, positions) = &g.dst_groups[i as usize];
            let (count, v) = std::mem::replace(&mut seen[i as usize], (0, PortSetId::EMPTY));
            if count != positions.len() {
                return Err(CollisionError);
            }
            if sg.len() == 1 && positions.len() == 1 && sg[0] == *first {
                continue;
            }
            each(*sid, *did, v, engine.reach.port_sets());
        }
    }
    Ok(())
}

/// Groups the connections from `sources` to `destinations` (endpoint indices, sorted).
pub fn compact(
    engine: &mut Engine,
    sources: &[usize],
    destinations: &[usize],
) -> Result<Compact, CollisionError> {
    let grouping = group(engine, sources, destinations);
    let mut edges = Vec::new();
    for_each_edge(engine, &grouping, |a, b, v, port_sets| {
        edges.push((a, b, port_sets.get(v).clone()))
    })?;
    // Only groups that take part in an edge are reported.
    let mut used = vec![false; grouping.groups.len()];
    for (a, b, _) in &edges {
        used[*a] = true;
        used[*b] = true;
    }
    let mut renumber = vec![usize::MAX; used.len()];
    let mut groups = Vec::new();
    for (i, g) in grouping.groups.into_iter().enumerate() {
        if used[i] {
            renumber[i] = groups.len();
            groups.push(g);
        }
    }
    let edges = edges
        .into_iter()
        .map(|(a, b, p)| (renumber[a], renumber[b], p))
        .collect();
    Ok(Compact { groups, edges })
}

fn src_key_of(sources: &[usize], src_key: &[usize], e: usize) -> usize {
    src_key[sources.binary_search(&e).unwrap_or(0)]
}

fn group_by(items: &[usize], fingerprint: impl Fn(usize) -> Fingerprint) -> Vec<Group> {
    let mut map: BTreeMap<Fingerprint, Group> = BTreeMap::new();
    for (i, &e) in items.iter().enumerate() {
        map.entry(fingerprint(i)).or_default().push(e);
    }
    let mut groups: Vec<Group> = map.into_values().collect();
    groups.sort_by_key(|g| g[0]);
    groups
}
