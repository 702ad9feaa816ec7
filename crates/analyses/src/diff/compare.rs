//! The cell-by-cell comparison of both sides: sources grouped by equal rows, the rows
//! of each group computed once per side, and every cell whose composed verdict differs
//! recorded as a change.

use super::compose::{Composer, Tables};
use super::{Change, Diff, EndpointPair, Side};
use crate::finding::Evidence;
use kubeseg_engine::Engine;
use kubeseg_engine::mesh::{Annotator, MeshOptions, Request};
use kubeseg_engine::portsets::PortSetId;
use kubeseg_model::Protocol;
use rustc_hash::FxHashMap;

/// The row keys of one endpoint on each side (`None` where it is absent).
type KeyPair = (Option<Vec<u32>>, Option<Vec<u32>>);

/// What one source may send to every endpoint of one side (`None`: absent there).
type Row = Option<Vec<PortSetId>>;

/// Sources whose row keys are the same on both sides, so their rows are too.
pub(super) struct SourceGroup {
    /// The first member's endpoint index on OLD's side.
    old: Option<usize>,
    /// The first member's endpoint index on NEW's side.
    new: Option<usize>,
    /// The members, as indices into the diff's endpoints.
    sources: Vec<usize>,
}

/// Sources grouped by their pair of row keys, in the order of the keys, so that each
/// distinct pair of rows is computed once.
pub(super) fn source_groups(endpoints: &[EndpointPair], a: &Side, b: &Side) -> Vec<SourceGroup> {
    let key = |side: &Side, e: Option<usize>| e.map(|e| side.engine.reach.endpoint_row_key(e));
    let mut order: Vec<(KeyPair, usize)> = endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| ((key(a, e.old), key(b, e.new)), i))
        .collect();
    order.sort();
    let mut groups: Vec<SourceGroup> = Vec::new();
    let mut last: Option<KeyPair> = None;
    for (keys, si) in order {
        let pair = Some(keys);
        if pair != last {
            groups.push(SourceGroup {
                old: endpoints[si].old,
                new: endpoints[si].new,
                sources: Vec::new(),
            });
            last = pair;
        }
        if let Some(g) = groups.last_mut() {
            g.sources.push(si);
        }
    }
    groups
}

/// What the comparison of cells starts from (`'o` and `'n` are the lifetimes of OLD's
/// and NEW's clusters).
pub(super) struct Setup<'d, 'e, 'o, 'n> {
    /// OLD's side.
    pub a: Side<'e, 'o>,
    /// NEW's side.
    pub b: Side<'e, 'n>,
    /// OLD's mesh, if it has one.
    pub mesh_a: Option<Annotator<'o>>,
    /// NEW's mesh, if it has one.
    pub mesh_b: Option<Annotator<'n>>,
    /// The endpoints of either side.
    pub endpoints: &'d [EndpointPair],
    /// Per endpoint: whether the mesh answers for it as before (see `mesh_stable`).
    pub mesh_stable: Vec<bool>,
    /// Whether to give the rules behind each change.
    pub with_evidence: bool,
    /// How the mesh is set up.
    pub mesh: &'d MeshOptions,
    /// The diff so far, which the comparison completes with the changes.
    pub out: Diff,
}

/// The comparison of cells, with what it remembers from one cell to the next.
pub(super) struct Cells<'d, 'e, 'o, 'n> {
    a: Side<'e, 'o>,
    b: Side<'e, 'n>,
    compose_a: Composer<'o>,
    compose_b: Composer<'n>,
    endpoints: &'d [EndpointPair],
    mesh_stable: Vec<bool>,
    with_evidence: bool,
    mesh: &'d MeshOptions,
    out: Diff,
    /// Whether OLD's and NEW's port sets of a pair of ids are equal: ids are per side,
    /// so equality is memoised per pair, and sets are kept only for changes.
    equal: FxHashMap<(PortSetId, PortSetId), bool>,
    /// Both sides' composed verdicts.
    tables: Tables,
    /// Table entries of the changes' port sets → their index in `out.port_sets`.
    exported_sets: FxHashMap<u32, u32>,
    /// Table entries of the changes' mesh notes → their index in `out.mesh_notes`.
    exported_notes: FxHashMap<u32, u32>,
}

/// A cell whose composed verdicts differ.
struct Differing {
    /// Source: index into the endpoints.
    src: usize,
    /// Destination: index into the endpoints.
    dst: usize,
    /// OLD's L3/L4 answer (OLD's id).
    l4_a: PortSetId,
    /// NEW's L3/L4 answer (NEW's id).
    l4_b: PortSetId,
    /// Whether the L3/L4 answers are equal.
    same_l4: bool,
    /// OLD's open ports and mesh note, as table entries.
    open_a: u32,
    note_a: u32,
    /// NEW's open ports and mesh note, as table entries.
    open_b: u32,
    note_b: u32,
}

impl<'d, 'e, 'o, 'n> Cells<'d, 'e, 'o, 'n> {
    pub fn new(setup: Setup<'d, 'e, 'o, 'n>) -> Self {
        let Setup {
            a,
            b,
            mesh_a,
            mesh_b,
            endpoints,
            mesh_stable,
            with_evidence,
            mesh,
            out,
        } = setup;
        let mut exported_notes = FxHashMap::default();
        exported_notes.insert(0, 0);
        Cells {
            a,
            b,
            compose_a: Composer::new(mesh_a),
            compose_b: Composer::new(mesh_b),
            endpoints,
            mesh_stable,
            with_evidence,
            mesh,
            out,
            equal: FxHashMap::default(),
            tables: Tables::new(),
            exported_sets: FxHashMap::default(),
            exported_notes,
        }
    }

    /// Compares every cell, group by group, and gives the diff with its changes sorted
    /// by source and destination.
    pub fn compare(mut self, groups: &[SourceGroup]) -> Diff {
        for chunk in groups.chunks(64) {
            let (rows_a, rows_b) = self.rows(chunk);
            for ((row_a, row_b), g) in rows_a.iter().zip(&rows_b).zip(chunk) {
                for &si in &g.sources {
                    self.compare_source(si, row_a, row_b);
                }
            }
        }
        for list in [
            &mut self.out.added,
            &mut self.out.removed,
            &mut self.out.changed,
        ] {
            list.sort_by_key(|c| (c.src, c.dst));
        }
        self.out
    }

    /// The rows of a chunk of groups on both sides, computed at once, one side per
    /// core. A panic on OLD's thread is a bug: it goes on here rather than leave
    /// the chunk out of the answer.
    fn rows(&mut self, chunk: &[SourceGroup]) -> (Vec<Row>, Vec<Row>) {
        let (old_side, new_side) = (&mut self.a, &mut self.b);
        let (rows_a, rows_b) = std::thread::scope(|scope| {
            let handle = scope.spawn(move || {
                chunk
                    .iter()
                    .map(|g| g.old.map(|s| old_side.row(s)))
                    .collect::<Vec<_>>()
            });
            let rows_b: Vec<Row> = chunk
                .iter()
                .map(|g| g.new.map(|s| new_side.row(s)))
                .collect();
            (handle.join(), rows_b)
        });
        let rows_a = rows_a.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (rows_a, rows_b)
    }

    /// Compares the cells from source `si` (whose rows are given) to every endpoint.
    fn compare_source(&mut self, si: usize, row_a: &Row, row_b: &Row) {
        let endpoints = self.endpoints;
        let src = &endpoints[si];
        for (di, dst) in endpoints.iter().enumerate() {
            if si == di || (src.external && dst.external) {
                continue;
            }
            let cell = |row: &Row, d: Option<usize>| match (row, d) {
                (Some(r), Some(d)) => r[d],
                _ => PortSetId::EMPTY,
            };
            let (l4_a, l4_b) = (cell(row_a, dst.old), cell(row_b, dst.new));
            // Most cells are empty on both sides: no lookup for them.
            if l4_a == PortSetId::EMPTY && l4_b == PortSetId::EMPTY {
                continue;
            }
            let same_l4 = *self
                .equal
                .entry((l4_a, l4_b))
                .or_insert_with(|| self.a.engine.port_set(l4_a) == self.b.engine.port_set(l4_b));
            // Into a workload, the mesh may differ while L3/L4 does not.
            let mesh_stable = self.mesh_stable[si] && self.mesh_stable[di];
            if same_l4 && (!self.out.mesh || dst.external || mesh_stable) {
                continue;
            }
            let (open_a, note_a) =
                self.compose_a
                    .compose(self.a.engine, &mut self.tables, src.old, dst.old, l4_a);
            let (open_b, note_b) =
                self.compose_b
                    .compose(self.b.engine, &mut self.tables, src.new, dst.new, l4_b);
            if open_a == open_b && note_a == note_b {
                continue;
            }
            self.record(Differing {
                src: si,
                dst: di,
                l4_a,
                l4_b,
                same_l4,
                open_a,
                note_a,
                open_b,
                note_b,
            });
        }
    }

    /// Records a differing cell as a connection added, removed or changed.
    fn record(&mut self, cell: Differing) {
        let (before, after) = (self.export_set(cell.open_a), self.export_set(cell.open_b));
        let (mesh_before, mesh_after) =
            (self.export_note(cell.note_a), self.export_note(cell.note_b));
        let (empty_a, empty_b) = (
            self.tables.sets[cell.open_a as usize].is_empty(),
            self.tables.sets[cell.open_b as usize].is_empty(),
        );
        let evidence = if self.with_evidence {
            self.evidence(&cell, empty_a, empty_b, mesh_before != mesh_after)
        } else {
            Vec::new()
        };
        let change = Change {
            src: cell.src as u32,
            dst: cell.dst as u32,
            before,
            after,
            mesh_before,
            mesh_after,
            evidence,
        };
        match (empty_a, empty_b) {
            (true, true) => {}
            (true, false) => self.out.added.push(change),
            (false, true) => self.out.removed.push(change),
            (false, false) => self.out.changed.push(change),
        }
    }

    /// The index in `out.port_sets` of a table's port set, added on first use.
    fn export_set(&mut self, i: u32) -> u32 {
        *self.exported_sets.entry(i).or_insert_with(|| {
            self.out
                .port_sets
                .push(self.tables.sets[i as usize].clone());
            (self.out.port_sets.len() - 1) as u32
        })
    }

    /// The index in `out.mesh_notes` of a table's mesh note, added on first use.
    fn export_note(&mut self, i: u32) -> u32 {
        *self.exported_notes.entry(i).or_insert_with(|| {
            self.out
                .mesh_notes
                .push(self.tables.notes[i as usize].clone());
            (self.out.mesh_notes.len() - 1) as u32
        })
    }

    /// The rules that allow a differing cell on each side where it is open, NEW's
    /// first, then each side's mesh verdict when the mesh may be why it differs.
    fn evidence(
        &mut self,
        cell: &Differing,
        empty_a: bool,
        empty_b: bool,
        mesh_changed: bool,
    ) -> Vec<Evidence> {
        let endpoints = self.endpoints;
        let (src, dst) = (&endpoints[cell.src], &endpoints[cell.dst]);
        let mut evidence = Vec::new();
        if !empty_b {
            evidence.extend(self.b.evidence(src.new, dst.new, "now"));
        }
        if !empty_a {
            evidence.extend(self.a.evidence(src.old, dst.old, "before"));
        }
        // The mesh's say on the first TCP port where the sides differ.
        let l4 = self
            .a
            .engine
            .port_set(cell.l4_a)
            .union(self.b.engine.port_set(cell.l4_b));
        let port = l4.ports(Protocol::Tcp).ranges().first().map(|r| r.0);
        if let (true, Some(port)) = (!cell.same_l4 || mesh_changed, port) {
            evidence.extend(labelled_mesh_evidence(
                self.b.engine,
                (src.new, dst.new),
                port,
                self.mesh,
                "now",
            ));
            evidence.extend(labelled_mesh_evidence(
                self.a.engine,
                (src.old, dst.old),
                port,
                self.mesh,
                "before",
            ));
        }
        evidence
    }
}

/// The mesh verdict of one side's cell on `port`, labelled `now` or `before`.
fn labelled_mesh_evidence(
    engine: &Engine,
    (src, dst): (Option<usize>, Option<usize>),
    port: u16,
    mesh: &MeshOptions,
    label: &str,
) -> Vec<Evidence> {
    let (Some(s), Some(d)) = (src, dst) else {
        return Vec::new();
    };
    crate::assert::pair_mesh_evidence(engine, s, d, port, &Request::default(), mesh)
        .into_iter()
        .map(|e| Evidence::at(e.location, format!("{label}: {}", e.message)))
        .collect()
}
