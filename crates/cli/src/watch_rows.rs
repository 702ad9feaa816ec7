//! The connections `kubeseg watch` keeps between answers: read line by line as `reach
//! --format json` writes them (never held as one document), with endpoint ids and the
//! rest of each line interned, so 9 million connections take 12 bytes each.

use anyhow::{Result, anyhow};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{self, Write};

/// Texts shared by every answer of a watch, so that ids stay comparable.
#[derive(Default)]
pub(crate) struct Interner {
    ids: HashMap<Box<str>, u32>,
    texts: Vec<Box<str>>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.texts.len() as u32;
        self.texts.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }

    pub(crate) fn text(&self, id: u32) -> &str {
        &self.texts[id as usize]
    }
}

/// One connection: source id, destination id, and the rest of its JSON line
/// (`, "allowed": {...}...}`), each interned.
pub(crate) type Row = (u32, u32, u32);

/// A `Write` that takes a `reach --format json` document and keeps its connections.
pub(crate) struct Rows<'i> {
    interner: &'i mut Interner,
    carry: Vec<u8>,
    in_connections: bool,
    pub(crate) rows: Vec<Row>,
    error: Option<String>,
}

impl<'i> Rows<'i> {
    pub(crate) fn new(interner: &'i mut Interner) -> Self {
        Rows {
            interner,
            carry: Vec::new(),
            in_connections: false,
            rows: Vec::new(),
            error: None,
        }
    }

    /// The connections, sorted by ids.
    pub(crate) fn finish(mut self) -> Result<Vec<Row>> {
        if !self.carry.is_empty() {
            let line = std::mem::take(&mut self.carry);
            self.line(&line);
        }
        if let Some(e) = self.error {
            return Err(anyhow!("reading the connections: {e}"));
        }
        self.rows.sort_unstable();
        Ok(self.rows)
    }

    fn line(&mut self, bytes: &[u8]) {
        let Ok(line) = std::str::from_utf8(bytes) else {
            self.error.get_or_insert_with(|| "invalid UTF-8".into());
            return;
        };
        let line = line.trim().trim_end_matches(',');
        if !self.in_connections {
            self.in_connections = line == "\"connections\": [";
            return;
        }
        let Some(rest) = line.strip_prefix("{\"src\": ") else {
            self.in_connections = false;
            return;
        };
        match ends(rest) {
            Some((src, dst, tail)) => {
                let row = (
                    self.interner.id(&src),
                    self.interner.id(&dst),
                    self.interner.id(tail),
                );
                self.rows.push(row);
            }
            None => {
                self.error
                    .get_or_insert_with(|| format!("unexpected line {line}"));
            }
        }
    }
}

/// The source and destination ids of a connection line (after `{"src": `), and what
/// follows them.
fn ends(rest: &str) -> Option<(String, String, &str)> {
    let mut values = serde_json::Deserializer::from_str(rest).into_iter::<String>();
    let src = values.next()?.ok()?;
    let rest = rest[values.byte_offset()..].strip_prefix(", \"dst\": ")?;
    let mut values = serde_json::Deserializer::from_str(rest).into_iter::<String>();
    let dst = values.next()?.ok()?;
    Some((src, dst, &rest[values.byte_offset()..]))
}

impl Write for Rows<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut start = 0;
        for (i, _) in data.iter().enumerate().filter(|(_, b)| **b == b'\n') {
            if self.carry.is_empty() {
                self.line(&data[start..i]);
            } else {
                let mut line = std::mem::take(&mut self.carry);
                line.extend_from_slice(&data[start..i]);
                self.line(&line);
            }
            start = i + 1;
        }
        self.carry.extend_from_slice(&data[start..]);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

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
    fn lines_split_anywhere_read_the_same_and_diff_finds_each_kind_of_change() {
        let doc = "{\n  \"endpoints\": [\n  ],\n  \"connections\": [\n    {\"src\": \"a\", \"dst\": \"b\", \"allowed\": {\"TCP\": [[80, 80]]}},\n    {\"src\": \"a\\\"x\", \"dst\": \"c\", \"allowed\": {\"TCP\": [[1, 2]]}}\n  ]\n}\n";
        let mut interner = Interner::default();
        let mut whole = Rows::new(&mut interner);
        whole.write_all(doc.as_bytes()).unwrap();
        let whole = whole.finish().unwrap();
        assert_eq!(whole.len(), 2);
        let mut split = Rows::new(&mut interner);
        for chunk in doc.as_bytes().chunks(3) {
            split.write_all(chunk).unwrap();
        }
        assert_eq!(split.finish().unwrap(), whole);
        let json = to_json(&interner, whole[1]);
        assert_eq!(json["src"], "a\"x");
        assert_eq!(json["allowed"]["TCP"][0][1], 2);
        let changed_doc = doc
            .replace("[[80, 80]]", "[[81, 81]]")
            .replace("\"c\"", "\"d\"");
        let mut again = Rows::new(&mut interner);
        again.write_all(changed_doc.as_bytes()).unwrap();
        let again = again.finish().unwrap();
        let (added, removed, changed) = diff(&whole, &again);
        assert_eq!((added.len(), removed.len(), changed.len()), (1, 1, 1));
        assert_eq!(to_json(&interner, added[0])["dst"], "d");
        assert_eq!(to_json(&interner, removed[0])["dst"], "c");
        assert_eq!(to_json(&interner, changed[0].1)["allowed"]["TCP"][0][0], 81);
    }
}
