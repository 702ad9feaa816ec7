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
use std::collections::{BTreeMap, HashMap};

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

/// Groups the connections from `sources` to `destinations` (endpoint indices, sorted).
pub fn compact(
    engine: &mut Engine,
    sources: &[usize],
    destinations: &[usize],
) -> Result<Compact, CollisionError> {
    let (mut scratch, mut row) = (Vec::new(), Vec::new());
    // Pass 1: fingerprints of rows (per row key) and of columns.
    let mut key_ids: HashMap<Vec<u32>, usize> = HashMap::new();
    let mut key_rows: Vec<Fingerprint> = Vec::new();
    let mut src_key: Vec<usize> = Vec::with_capacity(sources.len());
    let mut columns = vec![Fingerprint::default(); destinations.len()];
    for &s in sources {
        let key = engine.reach.endpoint_row_key(s);
        let next = key_ids.len();
        let k = *key_ids.entry(key).or_insert(next);
        src_key.push(k);
        if k < key_rows.len() {
            continue;
        }
        engine.reach.endpoint_row(s, &mut scratch, &mut row);
        let mut fp = Fingerprint::default();
        for (j, &d) in destinations.iter().enumerate() {
            let v = row[d];
            if v != PortSetId::EMPTY {
                fp.add(j as u64, v.0 as u64);
                columns[j].add(k as u64, v.0 as u64);
            }
        }
        key_rows.push(fp);
    }
    // Columns are fingerprinted per row key; a key's weight is irrelevant to equality.
    let src_groups = group_by(sources, |i| key_rows[src_key[i]]);
    let dst_groups = group_by(destinations, |j| columns[j]);

    // Pass 2: one representative row per source group, checked against every member.
    let mut raw_edges: Vec<(usize, usize, PortSetId)> = Vec::new();
    let mut member_row = Vec::new();
    for (si, sg) in src_groups.iter().enumerate() {
        engine.reach.endpoint_row(sg[0], &mut scratch, &mut row);
        let mut checked_keys = vec![src_key_of(sources, &src_key, sg[0])];
        for &m in &sg[1..] {
            let k = src_key_of(sources, &src_key, m);
            if checked_keys.contains(&k) {
                continue;
            }
            checked_keys.push(k);
            engine.reach.endpoint_row(m, &mut scratch, &mut member_row);
            if destinations.iter().any(|&d| member_row[d] != row[d]) {
                return Err(CollisionError);
            }
        }
        for (di, dg) in dst_groups.iter().enumerate() {
            let v = row[dg[0]];
            if dg.iter().any(|d| row[*d] != v) {
                return Err(CollisionError);
            }
            if v == PortSetId::EMPTY || (sg.len() == 1 && dg.len() == 1 && sg[0] == dg[0]) {
                continue;
            }
            raw_edges.push((si, di, v));
        }
    }
    // Source and destination groups share one list; identical member sets share an id.
    let mut used_src = vec![false; src_groups.len()];
    let mut used_dst = vec![false; dst_groups.len()];
    for &(si, di, _) in &raw_edges {
        used_src[si] = true;
        used_dst[di] = true;
    }
    let mut groups: Vec<&Group> = src_groups
        .iter()
        .zip(&used_src)
        .chain(dst_groups.iter().zip(&used_dst))
        .filter(|(_, used)| **used)
        .map(|(g, _)| g)
        .collect();
    groups.sort();
    groups.dedup();
    groups.sort_by_key(|g| g[0]);
    let group_ids: HashMap<&Group, usize> =
        groups.iter().enumerate().map(|(i, g)| (*g, i)).collect();
    let src_ids: Vec<usize> = src_groups
        .iter()
        .map(|g| group_ids.get(g).copied().unwrap_or(usize::MAX))
        .collect();
    let dst_ids: Vec<usize> = dst_groups
        .iter()
        .map(|g| group_ids.get(g).copied().unwrap_or(usize::MAX))
        .collect();
    let mut edges: Vec<(usize, usize, PortSet)> = raw_edges
        .iter()
        .map(|&(si, di, v)| (src_ids[si], dst_ids[di], engine.port_set(v).clone()))
        .collect();
    let groups: Vec<Group> = groups.into_iter().cloned().collect();
    edges.sort_by_key(|a| (a.0, a.1));
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
