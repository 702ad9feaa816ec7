//! One side's composed verdict of a cell (L3/L4, then the mesh), as numbers: the open
//! ports and the mesh note interned in tables both sides share, so equal verdicts have
//! equal numbers and a diff of millions of cells allocates once per distinct verdict.

use super::MeshNote;
use kubeseg_engine::mesh::{Annotation, Annotator, Composed, Decision};
use kubeseg_engine::portsets::PortSetId;
use kubeseg_engine::{Endpoint, Engine};
use kubeseg_model::PortSet;
use rustc_hash::FxHashMap;
use std::rc::Rc;

/// Port sets and mesh notes, each distinct value once.
#[derive(Default)]
pub(super) struct Tables {
    pub sets: Vec<PortSet>,
    set_ids: FxHashMap<PortSet, u32>,
    pub notes: Vec<MeshNote>,
    note_ids: FxHashMap<MeshNote, u32>,
}

impl Tables {
    pub fn new() -> Self {
        let mut t = Tables::default();
        t.note(Vec::new());
        t
    }

    fn set(&mut self, s: PortSet) -> u32 {
        let next = self.sets.len() as u32;
        *self.set_ids.entry(s).or_insert_with_key(|s| {
            self.sets.push(s.clone());
            next
        })
    }

    fn note(&mut self, n: MeshNote) -> u32 {
        let next = self.notes.len() as u32;
        *self.note_ids.entry(n).or_insert_with_key(|n| {
            self.notes.push(n.clone());
            next
        })
    }
}

/// A composed answer: the annotator's shared list (kept so its address stays its
/// own), the open ports and the mesh note (table entries).
type Memo = (Rc<Vec<Annotation>>, u32, u32);

/// Composes one side's cells, memoised.
pub(super) struct Composer<'c> {
    mesh: Option<Annotator<'c>>,
    /// L3/L4 answers outside the mesh, by this side's port set id.
    plain: FxHashMap<PortSetId, u32>,
    /// Composed answers by the annotator's shared list and the port set (the `Rc` is
    /// kept so the address stays that list's).
    composed: FxHashMap<(*const Vec<Annotation>, PortSetId), Memo>,
}

impl<'c> Composer<'c> {
    pub fn new(mesh: Option<Annotator<'c>>) -> Self {
        Composer {
            mesh,
            plain: FxHashMap::default(),
            composed: FxHashMap::default(),
        }
    }

    /// The table entry of an L3/L4 answer the mesh leaves as it is.
    fn plain_set(&mut self, engine: &Engine, tables: &mut Tables, id: PortSetId) -> u32 {
        *self
            .plain
            .entry(id)
            .or_insert_with(|| tables.set(engine.port_set(id).clone()))
    }

    /// (open ports, mesh note) of `src → dst` (endpoints of `engine`) whose L3/L4
    /// answer is `id`; `None` ends are absent on this side.
    pub fn compose(
        &mut self,
        engine: &Engine,
        tables: &mut Tables,
        src: Option<usize>,
        dst: Option<usize>,
        id: PortSetId,
    ) -> (u32, u32) {
        let (Some(src), Some(dst)) = (src, dst) else {
            return (self.plain_set(engine, tables, PortSetId::EMPTY), 0);
        };
        if id == PortSetId::EMPTY {
            return (self.plain_set(engine, tables, id), 0);
        }
        let workload = match &engine.endpoints()[dst] {
            Endpoint::Workload { workload, .. } => Some(*workload),
            _ => None,
        };
        let source = engine.endpoints()[src].mesh_source();
        let (Some(m), Some(d), Some(source)) = (self.mesh.as_mut(), workload, source) else {
            return (self.plain_set(engine, tables, id), 0);
        };
        let ports = engine.port_set(id);
        let notes = m.annotate(source, d, id.0, ports);
        let key = (Rc::as_ptr(&notes), id);
        if let Some(&(_, set, note)) = self.composed.get(&key) {
            return (set, note);
        }
        let open = Composed::of(ports, &notes).open;
        let mut note: MeshNote = notes
            .iter()
            .map(|a| (a.ports.clone(), a.decision()))
            .filter(|(_, d)| *d != Decision::Denied)
            .collect();
        note.sort_by(|x, y| x.0.cmp(&y.0));
        let (set, note) = (tables.set(open), tables.note(note));
        self.composed.insert(key, (notes, set, note));
        (set, note)
    }
}
