//! Rows on several threads. Each thread has its own port-set table (a copy of the
//! calling thread's, so the ids it already knows mean the same), memos and scratch;
//! results come back in item order, so answers do not depend on the thread count.

use super::{EGRESS_CACHE_CELLS, Plan, Reachability, RowState, Rows, row_key};
use crate::index::Index;
use crate::portsets::{PortSetId, PortSets};
use kubeseg_model::PortSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Rows computed on another thread, with port sets of its own: the ids in its rows
/// mean something only to [`RowWorker::sets`].
pub struct RowWorker<'r> {
    index: &'r Index,
    plan: &'r Plan,
    state: RowState,
}

impl RowWorker<'_> {
    /// The row of endpoint `src` over all endpoints (see [`Reachability::endpoint_row`]).
    pub fn endpoint_row(
        &mut self,
        src: usize,
        scratch: &mut Vec<PortSetId>,
        out: &mut Vec<PortSetId>,
    ) {
        self.rows().endpoint_row(src, scratch, out)
    }

    /// The non-empty cells of endpoint `src`'s row over `columns` when they can be
    /// found without the full row (see `Rows::sparse_endpoint_row`); `false`: use
    /// [`RowWorker::endpoint_row`].
    fn sparse_endpoint_row(
        &mut self,
        src: usize,
        columns: &[usize],
        cells: &mut Vec<(u32, PortSetId)>,
    ) -> bool {
        self.rows().sparse_endpoint_row(src, columns, cells)
    }

    /// This worker's port sets: what the ids of its rows stand for.
    pub fn sets(&self) -> &PortSets {
        &self.state.interner.sets
    }

    /// See [`Reachability::endpoint_row_key`].
    pub fn endpoint_row_key(&self, e: usize) -> Vec<u32> {
        row_key(self.index, self.plan, e)
    }

    fn rows(&mut self) -> Rows<'_> {
        Rows {
            index: self.index,
            plan: self.plan,
            st: &mut self.state,
        }
    }
}

/// Sources handed to a thread at a time by [`Reachability::par_for_each_ordered`]: consecutive
/// sources often share egress signatures, which the thread's memos then serve.
const CHUNK: usize = 32;

/// A row's non-empty cells from a worker, with the sets behind the ids it added.
struct SparseRow {
    src: usize,
    cells: Vec<(u32, PortSetId)>,
    fresh: Vec<(PortSetId, PortSet)>,
}

/// Chunks a thread may compute ahead of the oldest one not yet handed to the sink, in
/// [`Reachability::par_for_each_ordered`]: bounds what waits in memory.
const AHEAD: usize = 16;

impl Reachability {
    /// A worker for rows on another thread, with its own port sets and memos.
    pub fn worker(&self) -> RowWorker<'_> {
        let cells = EGRESS_CACHE_CELLS / self.threads.max(1);
        RowWorker {
            index: &self.index,
            plan: &self.plan,
            state: RowState::new(&self.plan, self.state.interner.sets.fork(), cells),
        }
    }

    /// `f(state, worker, item)` for every item, on the configured threads
    /// (`Options::threads`), in item order, each thread with a state made by `init` on
    /// that thread (so it need not be `Send`): the same results as one thread, as long
    /// as `f` returns nothing that holds the worker's port-set ids.
    pub fn par_map_with<S, T: Send>(
        &self,
        items: &[usize],
        init: impl Fn() -> S + Sync,
        f: impl Fn(&mut S, &mut RowWorker<'_>, usize) -> T + Sync,
    ) -> Vec<T> {
        let mut out = Vec::with_capacity(items.len());
        self.par_for_each_ordered(items, init, f, |t| out.push(t));
        out
    }

    /// The endpoint rows of `sources` (see [`Reachability::endpoint_row`]) restricted
    /// to the endpoints `columns`, as (position in `columns`, ports) for the non-empty
    /// cells, computed on the configured threads and handed to `sink(source, cells)` in
    /// order, with every id in this thread's numbering: sets a worker added are interned
    /// here, in order, so the ids are the same for any number of threads.
    pub fn par_sparse_rows(
        &mut self,
        sources: &[usize],
        columns: &[usize],
        mut sink: impl FnMut(usize, &[(u32, PortSetId)]),
    ) {
        // Workers copy this table; the sink interns into the original meanwhile.
        let copy = self.state.interner.sets.fork();
        let mut own = std::mem::replace(&mut self.state.interner.sets, copy);
        let known = own.len();
        self.par_for_each_ordered(
            sources,
            || (Vec::new(), Vec::new()),
            |(scratch, row), w, src| {
                let mut cells: Vec<(u32, PortSetId)> = Vec::new();
                if !w.sparse_endpoint_row(src, columns, &mut cells) {
                    w.endpoint_row(src, scratch, row);
                    cells = super::cells_over(row, columns);
                }
                let mut fresh: Vec<PortSetId> = cells
                    .iter()
                    .map(|&(_, id)| id)
                    .filter(|id| id.0 as usize >= known)
                    .collect();
                fresh.sort_unstable();
                fresh.dedup();
                let sets = fresh.into_iter().map(|id| (id, w.sets().get(id).clone()));
                SparseRow {
                    src,
                    cells,
                    fresh: sets.collect(),
                }
            },
            |SparseRow {
                 src,
                 mut cells,
                 fresh,
             }| {
                if !fresh.is_empty() {
                    let ids: Vec<(PortSetId, PortSetId)> = fresh
                        .into_iter()
                        .map(|(id, set)| (id, own.intern(set)))
                        .collect();
                    for (_, cell) in cells.iter_mut().filter(|(_, c)| c.0 as usize >= known) {
                        let at = ids.partition_point(|(id, _)| id < cell);
                        *cell = ids[at].1;
                    }
                }
                sink(src, &cells)
            },
        );
        self.state.interner.sets = own;
    }

    /// `sink(f(worker, item))` for every item in item order, computed on the configured
    /// threads while the calling thread runs `sink`: for output too large to hold.
    pub fn par_for_each_ordered<S, T: Send>(
        &self,
        items: &[usize],
        init: impl Fn() -> S + Sync,
        f: impl Fn(&mut S, &mut RowWorker<'_>, usize) -> T + Sync,
        mut sink: impl FnMut(T),
    ) {
        let threads = self.threads.min(items.len().div_ceil(CHUNK)).max(1);
        if threads == 1 {
            let (mut state, mut w) = (init(), self.worker());
            for &i in items {
                sink(f(&mut state, &mut w, i));
            }
            return;
        }
        let (next, handed) = (AtomicUsize::new(0), AtomicUsize::new(0));
        // Set when a thread panics, so the others stop waiting for its chunk.
        let failed = AtomicBool::new(false);
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Vec<T>)>(threads * 2);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                let tx = tx.clone();
                let (next, handed, failed, init, f) = (&next, &handed, &failed, &init, &f);
                scope.spawn(move || {
                    let _guard = PanicFlag(failed);
                    let (mut state, mut w) = (init(), self.worker());
                    loop {
                        let c = next.fetch_add(1, Ordering::Relaxed);
                        let lo = c * CHUNK;
                        if lo >= items.len() {
                            return;
                        }
                        // The chunk `handed` names was taken before this one, by a
                        // thread that is not waiting: the wait ends.
                        while c >= handed.load(Ordering::Acquire) + AHEAD {
                            if failed.load(Ordering::Relaxed) {
                                return;
                            }
                            std::thread::sleep(std::time::Duration::from_micros(200));
                        }
                        let chunk = &items[lo..(lo + CHUNK).min(items.len())];
                        let results = chunk.iter().map(|&i| f(&mut state, &mut w, i));
                        if tx.send((c, results.collect())).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(tx);
            let _guard = PanicFlag(&failed);
            let mut pending: std::collections::BTreeMap<usize, Vec<T>> = Default::default();
            let mut want = 0;
            for (c, results) in rx {
                pending.insert(c, results);
                while let Some(results) = pending.remove(&want) {
                    results.into_iter().for_each(&mut sink);
                    want += 1;
                    handed.store(want, Ordering::Release);
                }
            }
        });
    }
}

/// Raises its flag when the thread holding it unwinds from a panic.
struct PanicFlag<'a>(&'a AtomicBool);

impl Drop for PanicFlag<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}
