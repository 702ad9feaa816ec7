//! Interned port sets: rows of the reachability matrix hold small ids, and unions
//! and intersections of ids are memoised.

use kubeseg_model::PortSet;
use rustc_hash::FxHashMap as HashMap;

/// An interned [`PortSet`]; equal ids mean equal sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PortSetId(pub u32);

impl PortSetId {
    /// No connection.
    pub const EMPTY: PortSetId = PortSetId(0);
    /// Every port of every protocol.
    pub const ALL: PortSetId = PortSetId(1);
}

/// Memo tables are cleared when they reach this many entries: many distinct port
/// sets would otherwise make the pair memo grow quadratically.
const MEMO_LIMIT: usize = 1 << 20;

/// The table of interned port sets.
#[derive(Debug)]
pub struct PortSets {
    sets: Vec<PortSet>,
    ids: HashMap<PortSet, PortSetId>,
    unions: HashMap<(PortSetId, PortSetId), PortSetId>,
    intersections: HashMap<(PortSetId, PortSetId), PortSetId>,
    differences: HashMap<(PortSetId, PortSetId), PortSetId>,
}

impl Default for PortSets {
    fn default() -> Self {
        let mut t = Self {
            sets: Vec::new(),
            ids: HashMap::default(),
            unions: HashMap::default(),
            intersections: HashMap::default(),
            differences: HashMap::default(),
        };
        t.intern(PortSet::empty());
        t.intern(PortSet::all());
        t
    }
}

impl PortSets {
    /// The id of `set`, adding it when new.
    pub fn intern(&mut self, set: PortSet) -> PortSetId {
        if let Some(&id) = self.ids.get(&set) {
            return id;
        }
        let id = PortSetId(self.sets.len() as u32);
        self.sets.push(set.clone());
        self.ids.insert(set, id);
        id
    }

    /// A table with the same sets under the same ids, and empty memos: a thread's own
    /// table for rows, whose new sets get ids that mean nothing elsewhere.
    pub fn fork(&self) -> PortSets {
        PortSets {
            sets: self.sets.clone(),
            ids: self.ids.clone(),
            unions: HashMap::default(),
            intersections: HashMap::default(),
            differences: HashMap::default(),
        }
    }

    /// The number of sets (ids below it are taken).
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Whether the table is empty (never: EMPTY and ALL are always there).
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// The set behind an id.
    pub fn get(&self, id: PortSetId) -> &PortSet {
        &self.sets[id.0 as usize]
    }

    /// The union of two interned sets.
    #[inline]
    pub fn union(&mut self, a: PortSetId, b: PortSetId) -> PortSetId {
        if a == b || b == PortSetId::EMPTY || a == PortSetId::ALL {
            return a;
        }
        if a == PortSetId::EMPTY || b == PortSetId::ALL {
            return b;
        }
        self.union_memo(a, b)
    }

    /// The union of two sets that are neither equal, empty nor everything: memoised.
    fn union_memo(&mut self, a: PortSetId, b: PortSetId) -> PortSetId {
        let key = (a.min(b), a.max(b));
        if let Some(&id) = self.unions.get(&key) {
            return id;
        }
        let id = self.intern(self.get(a).union(self.get(b)));
        if self.unions.len() >= MEMO_LIMIT {
            self.unions.clear();
        }
        self.unions.insert(key, id);
        id
    }

    /// The ports of `a` that are not in `b`.
    pub fn difference(&mut self, a: PortSetId, b: PortSetId) -> PortSetId {
        if b == PortSetId::EMPTY || a == PortSetId::EMPTY {
            return a;
        }
        if a == b || b == PortSetId::ALL {
            return PortSetId::EMPTY;
        }
        if let Some(&id) = self.differences.get(&(a, b)) {
            return id;
        }
        let id = self.intern(self.get(a).difference(self.get(b)));
        if self.differences.len() >= MEMO_LIMIT {
            self.differences.clear();
        }
        self.differences.insert((a, b), id);
        id
    }

    /// The intersection of two interned sets.
    #[inline]
    pub fn intersect(&mut self, a: PortSetId, b: PortSetId) -> PortSetId {
        if a == b || b == PortSetId::ALL || a == PortSetId::EMPTY {
            return a;
        }
        if a == PortSetId::ALL || b == PortSetId::EMPTY {
            return b;
        }
        self.intersect_memo(a, b)
    }

    /// The intersection of two sets that are neither equal, empty nor everything:
    /// memoised.
    fn intersect_memo(&mut self, a: PortSetId, b: PortSetId) -> PortSetId {
        let key = (a.min(b), a.max(b));
        if let Some(&id) = self.intersections.get(&key) {
            return id;
        }
        let id = self.intern(self.get(a).intersect(self.get(b)));
        if self.intersections.len() >= MEMO_LIMIT {
            self.intersections.clear();
        }
        self.intersections.insert(key, id);
        id
    }
}
