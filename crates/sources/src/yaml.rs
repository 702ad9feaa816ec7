//! YAML (and YAML-compatible JSON) into [`Node`] trees, one per document.

use crate::tree::{Key, Node, Value, resolve_plain};
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::HashMap;

/// A syntax error with its 1-based position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// What the parser said.
    pub message: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

/// Parses every document of a YAML stream. Empty documents (`---` alone, Helm's
/// blank templates) yield nothing. On a syntax error the documents read before it
/// are discarded: a half-read file must not pass for a whole one.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let mut docs = Vec::new();
    parse_documents_with(text, 0, |d| docs.push(d))?;
    Ok(docs)
}

/// Parses a YAML stream, handing each non-empty document to `each` as soon as it is
/// read. `line_offset` is added to every line (for a chunk cut out of a larger file).
pub fn parse_documents_with(
    text: &str,
    line_offset: u32,
    mut each: impl FnMut(Node),
) -> Result<(), SyntaxError> {
    let mut builder = Builder {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        line_offset,
    };
    loop {
        let (event, _) = builder.next()?;
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                let (event, span) = builder.next()?;
                if matches!(event, Event::DocumentEnd) {
                    continue;
                }
                let node = builder.node(event, span)?;
                if !node.is_null() {
                    each(node);
                }
            }
            _ => {}
        }
    }
    Ok(())
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
    anchors: HashMap<usize, Node>,
    line_offset: u32,
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), SyntaxError> {
        match self.parser.next_event() {
            Some(Ok(pair)) => Ok(pair),
            Some(Err(e)) => Err(SyntaxError {
                message: e.info().to_string(),
                line: e.marker().line() as u32 + self.line_offset,
                column: e.marker().col() as u32 + 1,
            }),
            None => Ok((Event::StreamEnd, Span::default())),
        }
    }

    fn node(&mut self, event: Event<'a>, span: Span) -> Result<Node, SyntaxError> {
        let (line, column) = (
            span.start.line() as u32 + self.line_offset,
            span.start.col() as u32 + 1,
        );
        let (value, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = if style == ScalarStyle::Plain && tag.is_none() {
                    resolve_plain(&text)
                } else {
                    Value::Str(text.into_owned())
                };
                (value, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, span)?);
                }
                (Value::Seq(items), anchor)
            }
            Event::MappingStart(anchor, _) => {
                let mut entries = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::MappingEnd) {
                        break;
                    }
                    let key_node = self.node(event, span)?;
                    let name = match key_node.value {
                        Value::Str(s) => s,
                        Value::Null => String::new(),
                        Value::Bool(b) => b.to_string(),
                        Value::Int(i) => i.to_string(),
                        Value::Float(f) => f.to_string(),
                        Value::Seq(_) | Value::Map(_) => {
                            return Err(SyntaxError {
                                message: "complex mapping keys are not supported".into(),
                                line: key_node.line,
                                column: key_node.column,
                            });
                        }
                    };
                    let key = Key {
                        name,
                        line: key_node.line,
                        column: key_node.column,
                    };
                    let (event, span) = self.next()?;
                    let value = self.node(event, span)?;
                    entries.push((key, value));
                }
                (Value::Map(entries), anchor)
            }
            Event::Alias(id) => {
                return self
                    .anchors
                    .get(&id)
                    .map(|n| Node {
                        line,
                        column,
                        ..n.clone()
                    })
                    .ok_or(SyntaxError {
                        message: "alias to an unknown anchor".into(),
                        line,
                        column,
                    });
            }
            other => {
                return Err(SyntaxError {
                    message: format!("unexpected YAML event {other:?}"),
                    line,
                    column,
                });
            }
        };
        let node = Node {
            value,
            line,
            column,
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let docs = parse_documents(
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
        let docs = parse_documents("---\n---\na: 1\n---\n# only a comment\n").unwrap();
        assert_eq!(docs.len(), 1);
    }

    #[test]
    fn quoted_numbers_stay_strings() {
        let docs = parse_documents("a: \"80\"\nb: 80\n").unwrap();
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
        let docs = parse_documents("{\"kind\": \"List\", \"items\": [{\"a\": 1}]}").unwrap();
        assert_eq!(docs[0].get("kind").unwrap().as_str(), Some("List"));
    }
}
