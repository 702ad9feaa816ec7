//! The audit's rows after a change, from an earlier audit's rows: a source the change
//! did not touch keeps its row but at the touched workloads, whose cells are read
//! again (`kubeseg watch` audits the cluster after every event).
//!
//! This rests on the rule the watch's connections rest on (`watch_touch`): a change of
//! pods and NetworkPolicies moves only the rows and columns of the workloads it
//! touches. Only the L3/L4 rows are kept this way: with a mesh or `--protocols`, or
//! when the public atoms moved, every row is computed again; when a target is touched
//! or the targets moved, the kept rows' target facts are counted again from their
//! cells at the targets.

use crate::rows::{KeyRow, Rows, Targets, without_tcp};
use kubeseg_engine::Engine;
use kubeseg_engine::bitset::BitSet;
use kubeseg_engine::portsets::PortSetId;

/// An earlier audit's rows, and how the cluster's workloads changed since. The caller
/// vouches that the change left the outside atoms (the endpoints past the workloads)
/// as they were and that `touched` holds every workload whose row or column it moved.
#[derive(Clone, Copy, Debug)]
pub struct Earlier<'e> {
    /// The rows.
    pub rows: &'e Rows,
    /// Per workload now: its index among the earlier rows' workloads (`None`: new).
    pub index: &'e [Option<u32>],
    /// Per workload now: whether the change may have moved its row or its column.
    pub touched: &'e [bool],
}

impl Earlier<'_> {
    /// Whether the earlier rows' public atoms are those of `targets`: then a kept row
    /// reaches every public address of a family as it did.
    pub(crate) fn same_internet(&self, targets: &Targets, workloads: usize) -> bool {
        let old = &self.rows.targets;
        let same = |now: &[usize], before: &[usize]| {
            now.len() == before.len()
                && (now.iter().zip(before))
                    .all(|(&n, &b)| n >= workloads && n - workloads + self.rows.workloads == b)
        };
        same(&targets.internet_v4, &old.internet_v4) && same(&targets.internet_v6, &old.internet_v6)
    }

    /// Whether the earlier rows' target groups are those of `targets` (same endpoints
    /// and ports) and none of them is touched: then a kept row's target facts hold.
    pub(crate) fn same_groups(&self, targets: &Targets, workloads: usize) -> bool {
        let old = &self.rows.targets;
        let then = |e: usize| -> Option<usize> {
            if e < workloads {
                (!self.touched[e]).then_some(self.index[e]? as usize)
            } else {
                Some(e - workloads + self.rows.workloads)
            }
        };
        let same = |now: &[usize], before: &[usize]| {
            now.len() == before.len() && now.iter().zip(before).all(|(&n, &b)| then(n) == Some(b))
        };
        old.groups.len() == targets.groups.len()
            && (targets.groups.iter().zip(&old.groups))
                .all(|(n, b)| n.ports == b.ports && same(&n.endpoints, &b.endpoints))
    }

    /// Whether the key row of `w` (a workload now) can be kept from the earlier rows.
    pub(crate) fn keeps(&self, w: usize) -> Option<&KeyRow> {
        let before = self.index[w].filter(|_| !self.touched[w])? as usize;
        Some(&self.rows.keys[self.rows.key_of[before] as usize])
    }
}

/// Kept key rows: each earlier row renumbered to the workloads now, with its cells at
/// the touched workloads read again, and with `targets` its target facts too, when
/// they cannot be kept (`Earlier::same_groups`). `representatives[i]` is the workload
/// whose row `kept[i]` is.
pub(crate) fn renew(
    engine: &mut Engine,
    earlier: &Earlier,
    representatives: &[usize],
    kept: Vec<&KeyRow>,
    (count_hops, targets): (bool, Option<&Targets>),
) -> Vec<KeyRow> {
    let workloads = earlier.index.len();
    let runs = runs(earlier.index, earlier.rows.workloads);
    let mut rows: Vec<KeyRow> = kept
        .into_iter()
        .map(|k| KeyRow {
            out: renumber(&k.out, &runs, workloads),
            to_targets: k.to_targets.clone(),
            internet: k.internet,
            out_without_tcp: if count_hops {
                renumber(&k.out_without_tcp, &runs, workloads)
            } else {
                BitSet::default()
            },
        })
        .collect();
    let touched: Vec<usize> = (0..workloads).filter(|&w| earlier.touched[w]).collect();
    // The columns read again: the touched workloads, and every target when recounted.
    let mut columns = touched.clone();
    for g in targets.iter().flat_map(|t| &t.groups) {
        columns.extend(&g.endpoints);
    }
    columns.sort_unstable();
    columns.dedup();
    if columns.is_empty() || representatives.is_empty() {
        return rows;
    }
    // Sources with equal ingress keys share the ingress side of their rows.
    let mut order: Vec<usize> = (0..representatives.len()).collect();
    order.sort_by_key(|&i| (engine.reach.endpoint_ingress_key(representatives[i]), i));
    let sources: Vec<usize> = order.iter().map(|&i| representatives[i]).collect();
    let mut position = vec![0; engine.endpoints().len()];
    for (i, &r) in representatives.iter().enumerate() {
        position[r] = i;
    }
    let mut cells: Vec<(usize, Vec<(u32, PortSetId)>)> = Vec::with_capacity(sources.len());
    engine
        .reach
        .par_sparse_rows(&sources, &columns, |src, row| {
            cells.push((src, row.to_vec()))
        });
    let sets = engine.reach.port_sets();
    let mut row_at: Vec<PortSetId> = vec![PortSetId::EMPTY; engine.endpoints().len()];
    for (src, row) in cells {
        let k = &mut rows[position[src]];
        for &(j, cell) in &row {
            row_at[columns[j as usize]] = cell;
        }
        for &t in &touched {
            let cell = row_at[t];
            k.out.remove(t);
            if count_hops {
                k.out_without_tcp.remove(t);
            }
            if cell != PortSetId::EMPTY {
                k.out.insert(t);
                if count_hops && without_tcp(sets, cell, None) {
                    k.out_without_tcp.insert(t);
                }
            }
        }
        if let Some(targets) = targets {
            k.to_targets = crate::rows::target_ports(sets, &row_at, targets);
        }
        for &(j, _) in &row {
            row_at[columns[j as usize]] = PortSetId::EMPTY;
        }
    }
    rows
}

/// The workloads that kept their place relative to each other, as runs of (earlier
/// index, index now, length): both lists are sorted by id, so the mapping is monotone.
fn runs(index: &[Option<u32>], before: usize) -> Vec<(usize, usize, usize)> {
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    for (now, then) in index.iter().enumerate() {
        let Some(then) = then.map(|t| t as usize).filter(|&t| t < before) else {
            continue;
        };
        match runs.last_mut() {
            Some((b, n, len)) if *b + *len == then && *n + *len == now => *len += 1,
            _ => runs.push((then, now, 1)),
        }
    }
    runs
}

/// `set` (over the earlier workloads) over the workloads now.
fn renumber(set: &BitSet, runs: &[(usize, usize, usize)], workloads: usize) -> BitSet {
    let mut out = BitSet::new(workloads);
    for &(from, to, len) in runs {
        copy_bits(set.words(), from, out.words_mut(), to, len);
    }
    out
}

/// Copies `len` bits of `src` from bit `from` to `dst` at bit `to`, a word at a time.
fn copy_bits(src: &[u64], from: usize, dst: &mut [u64], to: usize, len: usize) {
    let mut done = 0;
    while done < len {
        let (s, d) = (from + done, to + done);
        // Up to the next word boundary of the destination, at most 64 bits.
        let n = (64 - d % 64).min(len - done);
        let bits = read_bits(src, s, n);
        let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
        let word = &mut dst[d / 64];
        *word = (*word & !(mask << (d % 64))) | (bits << (d % 64));
        done += n;
    }
}

/// `n` (at most 64) bits of `words` from bit `at`, in the low bits.
fn read_bits(words: &[u64], at: usize, n: usize) -> u64 {
    let (i, shift) = (at / 64, at % 64);
    let low = words.get(i).copied().unwrap_or(0) >> shift;
    let high = match shift {
        0 => 0,
        _ => words.get(i + 1).copied().unwrap_or(0) << (64 - shift),
    };
    let bits = low | high;
    if n == 64 {
        bits
    } else {
        bits & ((1u64 << n) - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_renumbered_as_member_by_member() {
        // 200 earlier workloads; now #5 and #130 are gone and two are new (at 0 and 71).
        let before = 200;
        let mut index: Vec<Option<u32>> = Vec::new();
        for then in 0..before {
            if index.is_empty() || index.len() == 71 {
                index.push(None);
            }
            if then != 5 && then != 130 {
                index.push(Some(then as u32));
            }
        }
        let now = index.len();
        let mut set = BitSet::new(before);
        for m in (0..before).filter(|m| m % 3 == 0 || m % 7 == 1) {
            set.insert(m);
        }
        let got = renumber(&set, &runs(&index, before), now);
        let mut want = BitSet::new(now);
        for (n, then) in index.iter().enumerate() {
            if then.is_some_and(|t| set.contains(t as usize)) {
                want.insert(n);
            }
        }
        assert_eq!(got, want);
        assert_eq!(runs(&index, before).len(), 4);
    }
}
