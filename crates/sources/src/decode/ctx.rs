//! The decoding context: where we are, and the diagnostics collected so far.

use crate::tree::{Key, Node, Value};
use kubeseg_model::{Diagnostic, Location};
use std::sync::Arc;

/// Decoding state for one file.
pub struct Ctx<'a> {
    /// The file's name as the user gave it.
    pub file: Arc<str>,
    /// The file's text, for snippets.
    pub text: &'a str,
    /// Everything reported so far.
    pub diagnostics: Vec<Diagnostic>,
    /// `-n`: the namespace of objects that name none (`default` otherwise).
    pub namespace: Option<Arc<str>>,
    /// The operator descriptions custom resources expand by (`None`: the built-in
    /// ones, looked up when first needed; parsing them uses a `Ctx` too).
    pub operators: Option<Arc<crate::operators::Catalog>>,
    /// Where the last snippet's line starts: (0-based line, byte offset). Diagnostics
    /// mostly come in line order, so each search starts here instead of at the top.
    cursor: std::cell::Cell<(usize, usize)>,
}

impl<'a> Ctx<'a> {
    /// A context for one file.
    pub fn new(file: Arc<str>, text: &'a str) -> Self {
        Self {
            namespace: None,
            operators: None,
            file,
            text,
            diagnostics: Vec::new(),
            cursor: std::cell::Cell::new((0, 0)),
        }
    }

    /// Tells the context that what it decodes starts at 0-based line `line`, which
    /// begins at byte `offset` of the text, so snippets are searched from there.
    pub fn starting_at(mut self, line: usize, offset: usize) -> Self {
        self.cursor = std::cell::Cell::new((line, offset));
        self
    }

    /// The location of a node.
    pub fn loc(&self, line: u32, column: u32) -> Location {
        Location {
            file: self.file.clone(),
            line,
            column,
        }
    }

    /// The location of a node.
    pub fn at(&self, node: &Node) -> Location {
        self.loc(node.line, node.column)
    }

    /// The source line, when short enough to show: a line of megabytes (an
    /// attacker's label value) is not echoed.
    fn snippet(&self, line: u32) -> Option<String> {
        const SHOWN: usize = 240;
        let wanted = line.checked_sub(1)? as usize;
        let (mut at_line, mut at) = self.cursor.get();
        if wanted < at_line {
            (at_line, at) = (0, 0);
        }
        while at_line < wanted {
            at += self.text.get(at..)?.find('\n')? + 1;
            at_line += 1;
        }
        self.cursor.set((at_line, at));
        let rest = self.text.get(at..)?;
        if rest.is_empty() {
            return None;
        }
        // As `str::lines` reads a line: up to `\n`, without a `\r` before it.
        let text = rest.split('\n').next()?;
        let text = text.strip_suffix('\r').unwrap_or(text);
        (text.len() <= SHOWN).then(|| text.to_string())
    }

    /// Reports an error at `(line, column)`.
    pub fn error_at(
        &mut self,
        line: u32,
        column: u32,
        code: &'static str,
        message: impl Into<String>,
    ) {
        let mut d = Diagnostic::error(code, Some(self.loc(line, column)), message);
        d.snippet = self.snippet(line);
        self.diagnostics.push(d);
    }

    /// Reports an error at a node.
    pub fn error(&mut self, node: &Node, code: &'static str, message: impl Into<String>) {
        self.error_at(node.line, node.column, code, message);
    }

    /// Reports a warning at a node.
    pub fn warning_at(
        &mut self,
        line: u32,
        column: u32,
        code: &'static str,
        message: impl Into<String>,
    ) {
        let mut d = Diagnostic::warning(code, Some(self.loc(line, column)), message);
        d.snippet = self.snippet(line);
        self.diagnostics.push(d);
    }

    /// The mapping entries of `node`, or an error when it is not a mapping (`null` reads as empty).
    pub fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Key, Node)]> {
        match &node.value {
            Value::Map(m) => Some(m),
            Value::Null => Some(&[]),
            _ => {
                self.error(
                    node,
                    "invalid-type",
                    format!("{what} must be a mapping, found {}", node.type_name()),
                );
                None
            }
        }
    }

    /// The items of `node`, or an error when it is not a list (`null` reads as empty).
    pub fn seq<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Seq(s) => Some(s),
            Value::Null => Some(&[]),
            _ => {
                self.error(
                    node,
                    "invalid-type",
                    format!("{what} must be a list, found {}", node.type_name()),
                );
                None
            }
        }
    }

    /// The string of `node`, or an error.
    pub fn str<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n str> {
        match &node.value {
            Value::Str(s) => Some(s),
            _ => {
                self.error(
                    node,
                    "invalid-type",
                    format!(
                        "{what} must be a string, found {}{}",
                        node.type_name(),
                        quote_hint(node)
                    ),
                );
                None
            }
        }
    }

    /// Warns about every key the reader saw twice in one mapping: kubectl keeps the
    /// last value without a word, and so does the reader.
    pub fn duplicate_keys(&mut self, duplicates: &[crate::tree::DuplicateKey]) {
        for d in duplicates {
            self.warning_at(
                d.line,
                d.column,
                "duplicate-field",
                format!(
                    "duplicate key `{}`: the last one wins, as kubectl keeps it",
                    d.name
                ),
            );
        }
    }

    /// Warns about every key of `entries` not in `known`, suggesting the closest known key.
    pub fn check_fields(&mut self, entries: &[(Key, Node)], known: &[&str], what: &str) {
        for (key, _) in entries {
            if known.contains(&key.name.as_str()) {
                continue;
            }
            let hint = did_you_mean(&key.name, known)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            self.warning_at(
                key.line,
                key.column,
                "unknown-field",
                format!(
                    "unknown field `{}` in {what}{hint}; it is ignored",
                    key.name
                ),
            );
        }
    }
}

/// Why a bare scalar is not a string: kubectl's YAML reader (YAML 1.1) takes `y`, `no`,
/// `on`, `0443` for booleans and numbers.
pub fn quote_hint(node: &Node) -> &'static str {
    match node.value {
        Value::Bool(_) => {
            " (kubectl reads a bare y, n, yes, no, on, off, true or false as a boolean; quote the value)"
        }
        Value::Int(_) | Value::Float(_) => {
            " (kubectl reads a bare number as a number; quote the value)"
        }
        _ => "",
    }
}

/// The value of the entry named `key` (the readers keep one entry per key: the last).
pub fn field<'n>(entries: &'n [(Key, Node)], key: &str) -> Option<&'n Node> {
    entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v)
}

/// The closest candidate by case-insensitive edit distance, if close enough to be a typo.
pub fn did_you_mean<'k>(name: &str, candidates: &[&'k str]) -> Option<&'k str> {
    let lower = name.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_field_names() {
        let known = ["podSelector", "policyTypes", "ingress", "egress"];
        assert_eq!(did_you_mean("podselector", &known), Some("podSelector"));
        assert_eq!(did_you_mean("policyType", &known), Some("policyTypes"));
        assert_eq!(did_you_mean("banana", &known), None);
    }

    #[test]
    fn snippets_are_the_lines_str_lines_reads_in_any_order() {
        let text = "a: 1\r\nb: 2\n\n  c: 3\nlast";
        let ctx = Ctx::new("f".into(), text);
        let lines: Vec<&str> = text.lines().collect();
        for line in [3, 1, 5, 2, 2, 6, 4, 0, 1] {
            let want = (line as usize)
                .checked_sub(1)
                .and_then(|i| lines.get(i))
                .map(|l| l.to_string());
            assert_eq!(ctx.snippet(line), want, "line {line}");
        }
    }
}
