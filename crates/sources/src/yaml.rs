//! YAML (and YAML-compatible JSON) into [`Node`] trees, one per document.
//!
//! Scalars resolve as `kubectl apply` reads them (go-yaml v2, YAML 1.1: `yes` is a
//! boolean, `0443` is octal, `<<` merges), so a verdict is about what the API server
//! would store. Nesting depth and alias expansion are bounded: the input is
//! attacker-controlled.

use crate::tree::{DuplicateKey, Key, MapBuilder, Node, Value, resolve_plain};
use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use std::collections::HashMap;

/// The deepest nesting of lists and mappings any reader accepts (YAML block or flow,
/// JSON). Real manifests stay under 40; the bound keeps recursion off the stack's edge
/// on every thread.
pub const MAX_DEPTH: usize = 200;

/// The most nodes that aliases may copy into one document. Anchors are rare in
/// manifests; the bound stops "billion laughs" expansion in memory and time.
pub const MAX_ALIAS_NODES: usize = 100_000;

/// A syntax error with its 1-based position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// The diagnostic code: `syntax-error`, `depth-limit` or `alias-limit`.
    pub code: &'static str,
    /// What the parser said.
    pub message: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl SyntaxError {
    /// A plain syntax error.
    pub fn new(message: impl Into<String>, line: u32, column: u32) -> Self {
        Self {
            code: "syntax-error",
            message: message.into(),
            line,
            column,
        }
    }

    /// The error for nesting deeper than [`MAX_DEPTH`].
    pub fn too_deep(line: u32, column: u32) -> Self {
        Self {
            code: "depth-limit",
            message: format!("nesting deeper than {MAX_DEPTH} levels; no manifest needs it"),
            line,
            column,
        }
    }
}

/// Parses every document of a YAML stream, with the keys given twice (each mapping
/// keeps the last value). Empty documents (`---` alone, Helm's blank templates) yield
/// nothing. On a syntax error the documents read before it are discarded: a half-read
/// file must not pass for a whole one.
pub fn parse_documents(text: &str) -> Result<(Vec<Node>, Vec<DuplicateKey>), SyntaxError> {
    let mut docs = Vec::new();
    let duplicates = parse_documents_with(text, 0, |d| docs.push(d))?;
    Ok((docs, duplicates))
}

/// Parses a YAML stream, handing each non-empty document to `each` as soon as it is
/// read; returns the keys given twice. `line_offset` is added to every line (for a
/// chunk cut out of a larger file).
pub fn parse_documents_with(
    text: &str,
    line_offset: u32,
    mut each: impl FnMut(Node),
) -> Result<Vec<DuplicateKey>, SyntaxError> {
    let mut builder = Builder {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        line_offset,
        depth: 0,
        alias_nodes: 0,
        duplicates: Vec::new(),
    };
    loop {
        let (event, _) = builder.next()?;
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                // Anchors and the alias budget belong to one document, as in go-yaml
                // and kubectl (which splits the stream before decoding).
                builder.anchors.clear();
                builder.alias_nodes = 0;
                let (event, span) = builder.next()?;
                if matches!(event, Event::DocumentEnd) {
                    continue;
                }
                let (node, _) = builder.node(event, span)?;
                if !node.is_null() {
                    each(node);
                }
            }
            _ => {}
        }
    }
    Ok(builder.duplicates)
}

/// Byte offsets and line numbers (0-based) where a YAML stream may be cut into
/// independent pieces: lines that start a document (`---` at column 0), at least
/// `min_size` bytes apart. The first piece starts at 0.
pub fn document_chunks(text: &str, min_size: usize) -> Vec<(usize, u32)> {
    let mut cuts = vec![(0usize, 0u32)];
    let (mut offset, mut line) = (0usize, 0u32);
    for l in text.split_inclusive('\n') {
        if offset - cuts.last().map_or(0, |c| c.0) >= min_size
            && l.starts_with("---")
            && l[3..].starts_with([' ', '\t', '\n', '\r'])
        {
            cuts.push((offset, line));
        }
        offset += l.len();
        line += 1;
    }
    cuts
}

struct Builder<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    /// Anchored nodes of the current document with their sizes in nodes.
    anchors: HashMap<usize, (Node, usize)>,
    line_offset: u32,
    depth: usize,
    /// Nodes copied by aliases in the current document.
    alias_nodes: usize,
    duplicates: Vec<DuplicateKey>,
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), SyntaxError> {
        match self.parser.next_event() {
            Some(Ok(pair)) => Ok(pair),
            Some(Err(e)) => {
                let (line, column) = (
                    e.marker().line() as u32 + self.line_offset,
                    e.marker().col() as u32 + 1,
                );
                // The scanner's own bound on flow nesting is the same limit to a user.
                if e.info() == "recursion limit exceeded" {
                    return Err(SyntaxError::too_deep(line, column));
                }
                Err(SyntaxError::new(e.info(), line, column))
            }
            None => Ok((Event::StreamEnd, Span::default())),
        }
    }

    /// Builds the node that starts with `event`; returns it with its size in nodes.
    fn node(&mut self, event: Event<'a>, span: Span) -> Result<(Node, usize), SyntaxError> {
        let (line, column) = (
            span.start.line() as u32 + self.line_offset,
            span.start.col() as u32 + 1,
        );
        let mut size = 1;
        let (value, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = match &tag {
                    None if style == ScalarStyle::Plain => resolve_plain(&text),
                    None => Value::Str(text.into_owned()),
                    Some(tag) => resolve_tagged(tag, &text)
                        .map_err(|message| SyntaxError::new(message, line, column))?,
                };
                (integral_float_as_int(value), anchor)
            }
            Event::SequenceStart(anchor, _) => {
                self.descend(line, column)?;
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    let (item, n) = self.node(event, span)?;
                    size += n;
                    items.push(item);
                }
                self.depth -= 1;
                (Value::Seq(items), anchor)
            }
            Event::MappingStart(anchor, _) => {
                self.descend(line, column)?;
                let mut map = MapBuilder::default();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::MappingEnd) {
                        break;
                    }
                    let is_merge = is_merge_key(&event);
                    let (key_node, n) = self.node(event, span)?;
                    size += n;
                    let (event, span) = self.next()?;
                    let (value, n) = self.node(event, span)?;
                    size += n;
                    if is_merge {
                        merge_into(&mut map, &value)?;
                        continue;
                    }
                    let key = Key {
                        name: key_text(&key_node)?,
                        line: key_node.line,
                        column: key_node.column,
                    };
                    map.push(key, value, &mut self.duplicates);
                }
                self.depth -= 1;
                (Value::Map(map.finish()), anchor)
            }
            Event::Alias(id) => {
                let Some((node, n)) = self.anchors.get(&id) else {
                    return Err(SyntaxError::new(
                        "alias to an unknown anchor (anchors belong to their own document)",
                        line,
                        column,
                    ));
                };
                self.alias_nodes += n;
                if self.alias_nodes > MAX_ALIAS_NODES {
                    return Err(SyntaxError {
                        code: "alias-limit",
                        message: format!(
                            "aliases expand to more than {MAX_ALIAS_NODES} nodes in this document; no manifest needs that many (a \"billion laughs\" input?)"
                        ),
                        line,
                        column,
                    });
                }
                let node = Node {
                    line,
                    column,
                    ..node.clone()
                };
                return Ok((node, *n));
            }
            other => {
                return Err(SyntaxError::new(
                    format!("unexpected YAML event {other:?}"),
                    line,
                    column,
                ));
            }
        };
        let node = Node {
            value,
            line,
            column,
        };
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        Ok((node, size))
    }

    fn descend(&mut self, line: u32, column: u32) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SyntaxError::too_deep(line, column));
        }
        Ok(())
    }
}

/// A mapping key as text, as sigs.k8s.io/yaml turns keys into JSON strings.
fn key_text(key: &Node) -> Result<String, SyntaxError> {
    Ok(match &key.value {
        Value::Str(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Seq(_) | Value::Map(_) => {
            return Err(SyntaxError::new(
                "complex mapping keys are not supported",
                key.line,
                key.column,
            ));
        }
    })
}

/// Whether a key is YAML 1.1's merge key: a plain `<<`, or one tagged `!!merge`.
fn is_merge_key(event: &Event) -> bool {
    match event {
        Event::Scalar(text, style, _, tag) => match tag {
            None => *style == ScalarStyle::Plain && text == "<<",
            Some(tag) => tag.is_yaml_core_schema() && tag.suffix == "merge",
        },
        _ => false,
    }
}

/// Applies `<<: value`: a mapping, or a list of mappings where earlier ones win.
fn merge_into(map: &mut MapBuilder, value: &Node) -> Result<(), SyntaxError> {
    let not_a_map = || {
        SyntaxError::new(
            "a merge key (`<<`) needs a mapping or a list of mappings",
            value.line,
            value.column,
        )
    };
    match &value.value {
        Value::Map(entries) => map.merge(entries),
        Value::Seq(items) => {
            for item in items.iter().rev() {
                match &item.value {
                    Value::Map(entries) => map.merge(entries),
                    _ => return Err(not_a_map()),
                }
            }
        }
        _ => return Err(not_a_map()),
    }
    Ok(())
}

/// A scalar with an explicit tag, as go-yaml v2 decodes it: the core-schema tags
/// convert or fail; any other tag leaves the text a string.
fn resolve_tagged(tag: &Tag, text: &str) -> Result<Value, String> {
    if !tag.is_yaml_core_schema() {
        return Ok(Value::Str(text.to_string()));
    }
    let resolved = resolve_plain(text);
    let fits = match (tag.suffix.as_str(), &resolved) {
        ("str" | "timestamp", _) => return Ok(Value::Str(text.to_string())),
        ("binary", _) => {
            return decode_base64(text).ok_or("`!!binary` value is not valid base64".to_string());
        }
        ("int", Value::Int(_))
        | ("bool", Value::Bool(_))
        | ("null", Value::Null)
        | ("float", Value::Float(_)) => true,
        ("float", Value::Int(i)) => return Ok(Value::Float(*i as f64)),
        ("int" | "bool" | "null" | "float", _) => false,
        _ => return Ok(Value::Str(text.to_string())),
    };
    if fits {
        Ok(resolved)
    } else {
        Err(format!(
            "cannot read `{}` as `!!{}`",
            kubeseg_model::clip(text),
            tag.suffix
        ))
    }
}

/// A whole number read as a float (`8.0`, `1e3`, or `08`, which go-yaml reads as a
/// float) reaches the API server as an integer: sigs.k8s.io/yaml writes it to JSON as
/// `8`, `1000`.
fn integral_float_as_int(value: Value) -> Value {
    match value {
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::Int(f as i64),
        other => other,
    }
}

/// Standard base64 (whitespace ignored); the bytes are read as UTF-8 as Go's JSON
/// encoder does, invalid sequences replaced.
fn decode_base64(text: &str) -> Option<Value> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    let body = text.trim_end_matches(|c: char| c == '=' || c.is_whitespace());
    for c in body.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    Some(Value::Str(String::from_utf8_lossy(&out).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let (docs, _) = parse_documents(
            "# Source: chart/templates/np.yaml\nkind: NetworkPolicy\nspec:\n  podSelector: {}\n",
        )
        .unwrap();
        let spec = docs[0].get("spec").unwrap();
        assert_eq!((spec.line, spec.column), (4, 3));
        let kind = docs[0].get("kind").unwrap();
        assert_eq!((kind.line, kind.column), (2, 7));
    }

    #[test]
    fn empty_documents_are_skipped() {
        let (docs, _) = parse_documents("---\n---\na: 1\n---\n# only a comment\n").unwrap();
        assert_eq!(docs.len(), 1);
    }

    #[test]
    fn quoted_numbers_stay_strings() {
        let (docs, _) = parse_documents("a: \"80\"\nb: 80\n").unwrap();
        assert_eq!(docs[0].get("a").unwrap().value, Value::Str("80".into()));
        assert_eq!(docs[0].get("b").unwrap().value, Value::Int(80));
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let err = parse_documents("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.line >= 1);
    }

    #[test]
    fn chunks_cut_at_document_starts_with_line_offsets() {
        let text = "a: 1\n---\nb: 2\n--- # c\nc: 3\n";
        let cuts = document_chunks(text, 1);
        assert_eq!(cuts, vec![(0, 0), (5, 1), (14, 3)]);
        let mut lines = Vec::new();
        parse_documents_with(&text[14..], 3, |d| lines.push(d.get("c").unwrap().line)).unwrap();
        assert_eq!(lines, vec![5]);
    }

    #[test]
    fn json_is_read_as_yaml() {
        let (docs, _) = parse_documents("{\"kind\": \"List\", \"items\": [{\"a\": 1}]}").unwrap();
        assert_eq!(docs[0].get("kind").unwrap().as_str(), Some("List"));
    }

    #[test]
    fn each_key_keeps_its_last_value_in_small_and_large_mappings() {
        for size in [3, 40] {
            let mut text: String = (0..size).map(|i| format!("k{i}: {i}\n")).collect();
            text += "k1: last\n";
            let (docs, duplicates) = parse_documents(&text).unwrap();
            let entries = docs[0].as_map().unwrap();
            assert_eq!(entries.len(), size, "one entry per key");
            assert_eq!(docs[0].get("k1").unwrap().as_str(), Some("last"));
            let line = size as u32 + 1;
            assert_eq!(
                duplicates,
                vec![DuplicateKey {
                    name: "k1".into(),
                    line,
                    column: 1
                }]
            );
        }
    }

    #[test]
    fn a_merge_first_in_a_mapping_is_overridden_silently() {
        let (docs, duplicates) =
            parse_documents("base: &b {app: a, tier: t}\nuse:\n  <<: *b\n  app: b\n").unwrap();
        let used = docs[0].get("use").unwrap();
        assert_eq!(used.get("app").unwrap().as_str(), Some("b"));
        assert_eq!(used.get("tier").unwrap().as_str(), Some("t"));
        assert!(duplicates.is_empty(), "{duplicates:?}");
    }
}
