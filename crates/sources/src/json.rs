//! A JSON reader that keeps line and column for every node and streams the items of a
//! top-level `List`, so a large dump is decoded item by item instead of held whole.

use crate::tree::{DuplicateKey, Key, MapBuilder, Node, Value};
use crate::yaml::SyntaxError;

/// What the reader hands out, in input order.
pub enum Piece {
    /// An element of a top-level array, or an item of a top-level object's `items`.
    Item(Node),
    /// The top-level object without its `items` (or a lone top-level value).
    Top(Node),
}

/// Reads one JSON text, calling `sink` for each piece; returns the keys given twice
/// (each object keeps the last value, as Go's encoding/json does).
pub fn parse_json(text: &str, sink: impl FnMut(Piece)) -> Result<Vec<DuplicateKey>, SyntaxError> {
    parse_json_skipping(text, None, sink)
}

/// [`parse_json`], stepping over the `items` array that `skip` describes (its items are
/// parsed separately, by [`parse_run`]).
pub fn parse_json_skipping(
    text: &str,
    skip: Option<&ItemRuns>,
    mut sink: impl FnMut(Piece),
) -> Result<Vec<DuplicateKey>, SyntaxError> {
    let mut p = Parser {
        text,
        b: text.as_bytes(),
        pos: 0,
        line: 1,
        line_start: 0,
        depth: 0,
        duplicates: Vec::new(),
    };
    p.ws();
    match p.peek() {
        Some(b'[') => {
            p.pos += 1;
            // Depth counts as in the YAML reader: the top-level container is level 1.
            p.depth = 1;
            p.elements(|n| sink(Piece::Item(n)))?;
        }
        Some(b'{') => {
            let (line, column) = p.here();
            p.pos += 1;
            p.depth = 1;
            let mut map = MapBuilder::default();
            p.members(|p, key| {
                p.ws();
                if let Some(s) = skip.filter(|s| key.name == "items" && p.pos == s.open) {
                    (p.pos, p.line, p.line_start) = s.close;
                    Ok(())
                } else if key.name == "items" && p.peek() == Some(b'[') {
                    p.pos += 1;
                    p.depth = 2;
                    let items = p.elements(|n| sink(Piece::Item(n)));
                    p.depth = 1;
                    items
                } else {
                    let value = p.value()?;
                    map.push(key, value, &mut p.duplicates);
                    Ok(())
                }
            })?;
            sink(Piece::Top(Node {
                value: Value::Map(map.finish()),
                line,
                column,
            }));
        }
        Some(_) => {
            let v = p.value()?;
            sink(Piece::Top(v));
        }
        None => {}
    }
    p.ws();
    if p.pos < p.b.len() {
        return Err(p.error("trailing characters after the JSON value"));
    }
    Ok(p.duplicates)
}

/// A top-level object's `items` array, cut into runs of whole items that can be parsed
/// apart (in parallel) and in order give what [`parse_json`] streams.
#[derive(Debug)]
pub struct ItemRuns {
    /// Where the array's `[` is.
    pub open: usize,
    /// Just after its `]`: offset, line, offset of the line's start.
    pub close: (usize, u32, usize),
    pub runs: Vec<Run>,
}

/// Whole items between `start` and `end` (the `,` or `]` after the last one).
#[derive(Clone, Copy, Debug)]
pub struct Run {
    pub start: usize,
    pub end: usize,
    /// The line at `start`, and the offset where that line starts.
    pub line: u32,
    pub line_start: usize,
    /// Whether a `,` precedes the run (so it must hold an item).
    pub after_comma: bool,
}

impl Run {
    /// This run, ended at `end`.
    fn until(&self, end: usize) -> Run {
        Run { end, ..*self }
    }
}

/// Cuts the `items` array of a top-level JSON object into runs of about `run_bytes`.
/// `None` when the text is not such an object, holds two `items` arrays, is not
/// balanced, or gives a single run: the serial reader then reads it (and reports
/// whatever is wrong with it).
pub fn item_runs(text: &str, run_bytes: usize) -> Option<ItemRuns> {
    let b = text.as_bytes();
    let (mut i, mut line, mut line_start) = (0usize, 1u32, 0usize);
    let mut stack: Vec<u8> = Vec::new();
    // The last string closed at depth 1, and whether a `:` (then only blanks) followed it.
    let mut last_string = (0usize, 0usize);
    let mut after_key = false;
    let mut found: Option<ItemRuns> = None;
    let mut in_items = false;
    let mut run_start = Run {
        start: 0,
        end: 0,
        line: 0,
        line_start: 0,
        after_comma: false,
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' => {
                // To the closing quote, jumping from one quote or backslash to the next.
                let mut j = i + 1;
                loop {
                    j += memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
                    if b[j] == b'"' {
                        break;
                    }
                    j += 2;
                }
                if stack.len() == 1 {
                    last_string = (i + 1, j);
                    after_key = false;
                }
                i = j + 1;
                continue;
            }
            b'\n' => {
                line += 1;
                line_start = i + 1;
            }
            b' ' | b'\t' | b'\r' => {}
            b':' if stack.len() == 1 => after_key = true,
            b'{' | b'[' => {
                let items = c == b'['
                    && stack.len() == 1
                    && after_key
                    && &b[last_string.0..last_string.1] == b"items";
                if items {
                    if found.is_some() {
                        return None;
                    }
                    found = Some(ItemRuns {
                        open: i,
                        close: (0, 0, 0),
                        runs: Vec::new(),
                    });
                    in_items = true;
                    run_start = Run {
                        start: i + 1,
                        end: 0,
                        line,
                        line_start,
                        after_comma: false,
                    };
                }
                stack.push(if c == b'{' { b'}' } else { b']' });
                after_key = false;
            }
            b'}' | b']' => {
                if stack.pop() != Some(c) {
                    return None;
                }
                if in_items && stack.len() == 1 {
                    let f = found.as_mut()?;
                    f.runs.push(run_start.until(i));
                    f.close = (i + 1, line, line_start);
                    in_items = false;
                }
                if stack.is_empty() {
                    break;
                }
                after_key = false;
            }
            b',' => {
                if in_items && stack.len() == 2 && i - run_start.start >= run_bytes {
                    let f = found.as_mut()?;
                    f.runs.push(run_start.until(i));
                    run_start = Run {
                        start: i + 1,
                        end: 0,
                        line,
                        line_start,
                        after_comma: true,
                    };
                }
                after_key = false;
            }
            _ => after_key = false,
        }
        i += 1;
    }
    let found = found?;
    (stack.is_empty() && !in_items && found.runs.len() > 1).then_some(found)
}

/// Parses the items of one run of an `items` array, calling `each` for each.
pub fn parse_run(
    text: &str,
    run: &Run,
    mut each: impl FnMut(Node),
) -> Result<Vec<DuplicateKey>, SyntaxError> {
    // `end` is at a `,` or `]`, so a character boundary.
    let text = &text[..run.end];
    let mut p = Parser {
        text,
        b: text.as_bytes(),
        pos: run.start,
        line: run.line,
        line_start: run.line_start,
        // As in `parse_json`: the top-level object is level 1, `items` level 2.
        depth: 2,
        duplicates: Vec::new(),
    };
    let mut need = run.after_comma;
    loop {
        p.ws();
        if p.pos >= run.end {
            if need {
                return Err(p.error("expected a JSON value"));
            }
            return Ok(p.duplicates);
        }
        each(p.value()?);
        p.ws();
        if p.pos >= run.end {
            return Ok(p.duplicates);
        }
        if p.peek() != Some(b',') {
            return Err(p.error("expected ',' or ']'"));
        }
        p.pos += 1;
        need = true;
    }
}

struct Parser<'a> {
    /// The text, and the same as bytes.
    text: &'a str,
    b: &'a [u8],
    pos: usize,
    line: u32,
    line_start: usize,
    depth: usize,
    duplicates: Vec<DuplicateKey>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn here(&self) -> (u32, u32) {
        (self.line, (self.pos - self.line_start) as u32 + 1)
    }

    fn error(&self, message: &str) -> SyntaxError {
        let (line, column) = self.here();
        SyntaxError::new(message, line, column)
    }

    fn ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.pos;
                }
                _ => break,
            }
        }
    }

    /// After a member or element: `true` at the closing bracket, `false` after a comma.
    fn separator(&mut self, close: u8) -> Result<bool, SyntaxError> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(false)
            }
            Some(c) if c == close => {
                self.pos += 1;
                Ok(true)
            }
            _ => Err(self.error(&format!("expected ',' or '{}'", close as char))),
        }
    }

    fn elements(&mut self, mut each: impl FnMut(Node)) -> Result<(), SyntaxError> {
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            each(self.value()?);
            if self.separator(b']')? {
                return Ok(());
            }
        }
    }

    /// The members of an object whose `{` was consumed: `each` reads the value after each key.
    fn members(
        &mut self,
        mut each: impl FnMut(&mut Self, Key) -> Result<(), SyntaxError>,
    ) -> Result<(), SyntaxError> {
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let key = self.key()?;
            each(self, key)?;
            if self.separator(b'}')? {
                return Ok(());
            }
        }
    }

    fn key(&mut self) -> Result<Key, SyntaxError> {
        let (line, column) = self.here();
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a string key"));
        }
        let name = self.string()?;
        self.ws();
        if self.peek() != Some(b':') {
            return Err(self.error("expected ':'"));
        }
        self.pos += 1;
        Ok(Key { name, line, column })
    }

    fn value(&mut self) -> Result<Node, SyntaxError> {
        self.ws();
        let (line, column) = self.here();
        let value = match self.peek() {
            Some(b'{') => {
                self.descend(line, column)?;
                let mut map = MapBuilder::default();
                self.members(|p, key| {
                    let value = p.value()?;
                    map.push(key, value, &mut p.duplicates);
                    Ok(())
                })?;
                self.depth -= 1;
                Value::Map(map.finish())
            }
            Some(b'[') => {
                self.descend(line, column)?;
                let mut items = Vec::new();
                self.elements(|n| items.push(n))?;
                self.depth -= 1;
                Value::Seq(items)
            }
            Some(b'"') => Value::Str(self.string()?),
            Some(b't') => self.word("true", Value::Bool(true))?,
            Some(b'f') => self.word("false", Value::Bool(false))?,
            Some(b'n') => self.word("null", Value::Null)?,
            Some(c) if c == b'-' || c.is_ascii_digit() => self.number()?,
            _ => return Err(self.error("expected a JSON value")),
        };
        Ok(Node {
            value,
            line,
            column,
        })
    }

    /// Steps into `{` or `[`; the top-level container counts as the first level.
    fn descend(&mut self, line: u32, column: u32) -> Result<(), SyntaxError> {
        self.pos += 1;
        self.depth += 1;
        if self.depth > crate::yaml::MAX_DEPTH {
            return Err(SyntaxError::too_deep(line, column));
        }
        Ok(())
    }

    fn word(&mut self, w: &str, v: Value) -> Result<Value, SyntaxError> {
        if self.b[self.pos..].starts_with(w.as_bytes()) {
            self.pos += w.len();
            Ok(v)
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    fn number(&mut self) -> Result<Value, SyntaxError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E') {
                self.pos += 1;
            } else {
                break;
            }
        }
        let s = std::str::from_utf8(&self.b[start..self.pos]).unwrap_or("");
        if let Ok(i) = s.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        s.parse::<f64>()
            .map(Value::Float)
            .map_err(|_| self.error("invalid number"))
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        self.pos += 1;
        let start = self.pos;
        // Fast path: no escapes. Both ends are ASCII quotes, so the slice of the (valid
        // UTF-8) text is one.
        let rest = &self.b[start..];
        match memchr::memchr3(b'"', b'\\', b'\n', rest) {
            Some(k) if rest[k] == b'"' => {
                self.pos = start + k + 1;
                return Ok(self.text[start..start + k].to_string());
            }
            Some(k) if rest[k] == b'\n' => {
                self.pos = start + k;
                return Err(self.error("unterminated string"));
            }
            Some(k) => self.pos = start + k,
            None => self.pos = self.b.len(),
        }
        let mut out: Vec<u8> = self.b[start..self.pos].to_vec();
        loop {
            match self.peek() {
                None | Some(b'\n') => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return String::from_utf8(out).map_err(|_| self.error("invalid UTF-8"));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let esc = self
                        .peek()
                        .ok_or_else(|| self.error("unterminated string"))?;
                    self.pos += 1;
                    match esc {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xD800..0xDC00).contains(&code)
                                && self.b[self.pos..].starts_with(b"\\u")
                            {
                                self.pos += 2;
                                let low = self.hex4()?;
                                code = 0x10000
                                    + ((code - 0xD800) << 10)
                                    + (low.wrapping_sub(0xDC00) & 0x3FF);
                            }
                            let ch = char::from_u32(code)
                                .ok_or_else(|| self.error("invalid \\u escape"))?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(self.error("invalid escape")),
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let s = self
            .b
            .get(self.pos..self.pos + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        let v = u32::from_str_radix(s, 16).map_err(|_| self.error("invalid \\u escape"))?;
        self.pos += 4;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<Node> {
        let mut out = Vec::new();
        parse_json(text, |p| match p {
            Piece::Item(n) | Piece::Top(n) => out.push(n),
        })
        .unwrap();
        out
    }

    #[test]
    fn list_items_stream_with_positions() {
        let nodes = pieces(
            "{\"apiVersion\": \"v1\",\n \"items\": [\n  {\"kind\": \"Pod\"},\n  {\"kind\": \"Service\"}],\n \"kind\": \"List\"}",
        );
        assert_eq!(nodes.len(), 3);
        assert_eq!((nodes[1].line, nodes[1].column), (4, 3));
        assert_eq!(nodes[2].get("kind").unwrap().as_str(), Some("List"));
        assert!(nodes[2].get("items").is_none());
    }

    #[test]
    fn values_and_escapes() {
        let n = &pieces("{\"a\": [1, -2.5, true, null, \"x\\\"\\u00e9\\ud83d\\ude00\"]}")[0];
        let Value::Seq(items) = &n.get("a").unwrap().value else {
            panic!()
        };
        assert_eq!(items[0].value, Value::Int(1));
        assert_eq!(items[1].value, Value::Float(-2.5));
        assert_eq!(items[4].value, Value::Str("x\"é😀".into()));
    }

    #[test]
    fn errors_have_positions() {
        let err = parse_json("{\"a\": 1,\n \"b\" 2}", |_| {}).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(parse_json("[1, 2", |_| {}).is_err());
        assert!(parse_json("{} x", |_| {}).is_err());
    }
}
