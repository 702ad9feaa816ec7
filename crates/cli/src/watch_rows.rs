//! The connections `kubeseg watch` keeps between answers: reach's JSON lines as
//! (source id, destination id, the rest of the line), each interned, so 9 million
//! connections take 12 bytes each.

use serde_json::Value;
use std::collections::HashMap;

/// Texts shared by every answer of a watch, so that ids stay comparable.
#[derive(Default)]
pub(crate) struct Interner {
    ids: HashMap<Box<str>, u32>,
    texts: Vec<Box<str>>,
}

impl Interner {
    pub(crate) fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.texts.len() as u32;
        self.texts.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }

    /// How many texts it holds (ids are below).
    pub(crate) fn len(&self) -> usize {
        self.texts.len()
    }

    pub(crate) fn text(&self, id: u32) -> &str {
        &self.texts[id as usize]
    }
}

/// One connection: source id, destination id, and the rest of its JSON line
/// (`, "allowed": {...}...}`), each interned.
pub(crate) type Row = (u32, u32, u32);

/// What changed between two sorted connection lists: added, removed, and (old, new)
/// pairs whose allowed traffic differs.
pub(crate) fn diff(old: &[Row], new: &[Row]) -> (Vec<Row>, Vec<Row>, Vec<(Row, Row)>) {
    let (mut added, mut removed, mut changed) = (Vec::new(), Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(o), Some(n)) if (o.0, o.1) == (n.0, n.1) => {
                if o.2 != n.2 {
                    changed.push((*o, *n));
                }
                i += 1;
                j += 1;
            }
            (Some(o), Some(n)) if (o.0, o.1) < (n.0, n.1) => {
                removed.push(*o);
                i += 1;
            }
            (Some(_), Some(n)) => {
                added.push(*n);
                j += 1;
            }
            (Some(o), None) => {
                removed.push(*o);
                i += 1;
            }
            (None, Some(n)) => {
                added.push(*n);
                j += 1;
            }
            (None, None) => break,
        }
    }
    (added, removed, changed)
}

/// A connection as `reach --format json` wrote it.
pub(crate) fn to_json(interner: &Interner, row: Row) -> Value {
    let line = format!(
        "{{\"src\": {}, \"dst\": {}{}",
        serde_json::to_string(interner.text(row.0)).unwrap_or_default(),
        serde_json::to_string(interner.text(row.1)).unwrap_or_default(),
        interner.text(row.2)
    );
    serde_json::from_str(&line).unwrap_or(Value::Null)
}

/// Connections in reach's order: by source, then destination.
pub(crate) fn sorted(interner: &Interner, mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by(|a, b| {
        (interner.text(a.0), interner.text(a.1)).cmp(&(interner.text(b.0), interner.text(b.1)))
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_finds_each_kind_of_change_and_rows_read_back_as_reach_wrote_them() {
        let mut interner = Interner::default();
        let mut row = |src: &str, dst: &str, tail: &str| {
            (interner.id(src), interner.id(dst), interner.id(tail))
        };
        let tcp = |p: u16| format!(", \"allowed\": {{\"TCP\": [[{p}, {p}]]}}}}");
        let old = vec![row("a", "b", &tcp(80)), row("a\"x", "c", &tcp(1))];
        let new = vec![row("a", "b", &tcp(81)), row("a\"x", "d", &tcp(1))];
        let (mut old, mut new) = (old, new);
        old.sort_unstable();
        new.sort_unstable();
        let (added, removed, changed) = diff(&old, &new);
        assert_eq!((added.len(), removed.len(), changed.len()), (1, 1, 1));
        assert_eq!(to_json(&interner, added[0])["dst"], "d");
        assert_eq!(to_json(&interner, removed[0])["src"], "a\"x");
        assert_eq!(to_json(&interner, changed[0].1)["allowed"]["TCP"][0][0], 81);
        assert_eq!(to_json(&interner, changed[0].0)["allowed"]["TCP"][0][0], 80);
    }
}
