//! A document tree that remembers where every node and key came from.
//!
//! Both the YAML and the JSON reader build this tree, so decoding and diagnostics
//! are written once. Lines and columns are 1-based.

/// A node of a parsed document.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// 1-based line of the node's first character.
    pub line: u32,
    /// 1-based column of the node's first character.
    pub column: u32,
}

/// A document value, after plain scalars are resolved as kubectl's YAML reader does.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`, `~` or an empty plain scalar.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string (quoted, or plain and not another type).
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, keys in input order.
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    /// The key as text.
    pub name: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

/// A key given twice in one mapping. The readers keep the last value, as kubectl's
/// reader does, and report the repeat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateKey {
    /// The key.
    pub name: String,
    /// 1-based line of the later occurrence.
    pub line: u32,
    /// 1-based column of the later occurrence.
    pub column: u32,
}

/// A mapping under construction, for both readers: every key appears once, holding
/// the last value written, as kubectl (go-yaml, encoding/json) stores it. A key given
/// again explicitly is a [`DuplicateKey`]; a key a YAML merge (`<<`) brought in is
/// replaced silently, which is what merges are for.
#[derive(Default)]
pub(crate) struct MapBuilder {
    entries: Vec<(Key, Node)>,
    /// Which entries came from a merge; `None` (no allocation) until a merge.
    merged: Option<Vec<bool>>,
    /// Key positions, built once a mapping is too large to scan.
    index: Option<std::collections::HashMap<String, usize>>,
}

impl MapBuilder {
    /// Mappings up to this size are scanned; larger ones are indexed.
    const SCAN: usize = 16;

    /// Sets an explicitly written key.
    pub(crate) fn push(&mut self, key: Key, value: Node, duplicates: &mut Vec<DuplicateKey>) {
        let Some(i) = self.position(&key.name) else {
            return self.append(key, value, false);
        };
        let was_merged = self
            .merged
            .as_mut()
            .is_some_and(|m| std::mem::replace(&mut m[i], false));
        if !was_merged {
            duplicates.push(DuplicateKey {
                name: key.name.clone(),
                line: key.line,
                column: key.column,
            });
        }
        self.entries[i] = (key, value);
    }

    /// Applies one mapping of a YAML merge: go-yaml writes merged keys into the map as
    /// it meets `<<`, so they overwrite keys written before it, and later keys
    /// overwrite them.
    pub(crate) fn merge(&mut self, source: &[(Key, Node)]) {
        let len = self.entries.len();
        self.merged.get_or_insert_with(|| vec![false; len]);
        for (key, value) in source {
            match self.position(&key.name) {
                Some(i) => {
                    self.entries[i] = (key.clone(), value.clone());
                    if let Some(m) = &mut self.merged {
                        m[i] = true;
                    }
                }
                None => self.append(key.clone(), value.clone(), true),
            }
        }
    }

    /// The entries, each key once, in the order keys were first written.
    pub(crate) fn finish(self) -> Vec<(Key, Node)> {
        self.entries
    }

    fn append(&mut self, key: Key, value: Node, merged: bool) {
        if let Some(index) = &mut self.index {
            index.insert(key.name.clone(), self.entries.len());
        }
        self.entries.push((key, value));
        if let Some(m) = &mut self.merged {
            m.push(merged);
        }
    }

    fn position(&mut self, name: &str) -> Option<usize> {
        if self.index.is_none() && self.entries.len() > Self::SCAN {
            let index = self
                .entries
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (k.name.clone(), i))
                .collect();
            self.index = Some(index);
        }
        match &self.index {
            Some(index) => index.get(name).copied(),
            None => self.entries.iter().position(|(k, _)| k.name == name),
        }
    }
}

impl Node {
    /// The entries when the node is a mapping.
    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value of `key` when the node is a mapping that has it (the readers keep one
    /// entry per key).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The position (line, column) of the last key or value inside the node, with an
    /// explicit stack: documents may nest deeply.
    pub fn last_position(&self) -> (u32, u32) {
        let mut last = (self.line, self.column);
        let mut stack = vec![self];
        while let Some(n) = stack.pop() {
            last = last.max((n.line, n.column));
            match &n.value {
                Value::Seq(items) => stack.extend(items),
                Value::Map(entries) => {
                    for (k, v) in entries {
                        last = last.max((k.line, k.column));
                        stack.push(v);
                    }
                }
                _ => {}
            }
        }
        last
    }

    /// The string when the node is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the node is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// A short name of the node's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Resolves a plain YAML scalar as go-yaml v2 does (`resolve.go`), the reader behind
/// `kubectl apply`: YAML 1.1 booleans (`yes`, `on`, `n`, …), integers in Go's base-0
/// syntax with `_` ignored (`0443` is octal 291, `0x1F`, `0o17`, `0b101`), and
/// floats; anything else is a string.
pub fn resolve_plain(s: &str) -> Value {
    let Some(&first) = s.as_bytes().first() else {
        return Value::Null;
    };
    match first {
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => match s {
            "~" | "null" | "Null" | "NULL" => Value::Null,
            "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
                Value::Bool(true)
            }
            "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off"
            | "OFF" => Value::Bool(false),
            _ => Value::Str(s.to_string()),
        },
        b'.' => match s {
            ".nan" | ".NaN" | ".NAN" => Value::Float(f64::NAN),
            ".inf" | ".Inf" | ".INF" => Value::Float(f64::INFINITY),
            _ => match s.parse::<f64>() {
                Ok(f) if is_decimal_float(s) => Value::Float(f),
                _ => Value::Str(s.to_string()),
            },
        },
        b'+' | b'-' | b'0'..=b'9' => match s {
            "+.inf" | "+.Inf" | "+.INF" => Value::Float(f64::INFINITY),
            "-.inf" | "-.Inf" | "-.INF" => Value::Float(f64::NEG_INFINITY),
            _ => resolve_number(s),
        },
        _ => Value::Str(s.to_string()),
    }
}

fn resolve_number(s: &str) -> Value {
    let plain: std::borrow::Cow<str> = if s.contains('_') {
        s.replace('_', "").into()
    } else {
        s.into()
    };
    if let Some(i) = go_parse_int(&plain) {
        return match i64::try_from(i) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(i as f64),
        };
    }
    if is_decimal_float(&plain)
        && let Ok(f) = plain.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(s.to_string())
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint(s, 0, 64)`: an optional sign
/// (ParseInt only), then `0x`, `0o`, `0b` or a leading `0` (octal) picks the base.
fn go_parse_int(s: &str) -> Option<i128> {
    let (negative, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(d) = body.strip_prefix(['0']).and_then(|r| {
        r.strip_prefix(['x', 'X'])
            .map(|d| (16, d))
            .or_else(|| r.strip_prefix(['o', 'O']).map(|d| (8, d)))
            .or_else(|| r.strip_prefix(['b', 'B']).map(|d| (2, d)))
    }) {
        d
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    let value = if negative {
        -i128::from(magnitude)
    } else {
        i128::from(magnitude)
    };
    // A signed value must fit int64; an unsigned one may use all of uint64.
    let fits = if s.starts_with(['-', '+']) {
        i64::try_from(value).is_ok()
    } else {
        true
    };
    fits.then_some(value)
}

/// go-yaml v2's float pattern: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_decimal_float(s: &str) -> bool {
    let b = s.strip_prefix(['-', '+']).unwrap_or(s).as_bytes();
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut i = 0;
    if b.first() == Some(&b'.') {
        let n = digits(1);
        if n == 0 {
            return false;
        }
        i = 1 + n;
    } else {
        let n = digits(0);
        if n == 0 {
            return false;
        }
        i += n;
        if b.get(i) == Some(&b'.') {
            i += 1 + digits(i + 1);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let n = digits(i);
        if n == 0 {
            return false;
        }
        i += n;
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_resolve_as_go_yaml_v2() {
        assert_eq!(resolve_plain("80"), Value::Int(80));
        assert_eq!(resolve_plain("http"), Value::Str("http".into()));
        assert_eq!(resolve_plain("~"), Value::Null);
        assert_eq!(resolve_plain("true"), Value::Bool(true));
        assert_eq!(resolve_plain("yes"), Value::Bool(true));
        assert_eq!(resolve_plain("Off"), Value::Bool(false));
        assert_eq!(resolve_plain("n"), Value::Bool(false));
        assert_eq!(resolve_plain("yess"), Value::Str("yess".into()));
        assert_eq!(resolve_plain("1.5"), Value::Float(1.5));
        assert_eq!(resolve_plain("10.0.0.0/8"), Value::Str("10.0.0.0/8".into()));
        assert_eq!(resolve_plain("1.2.3.4"), Value::Str("1.2.3.4".into()));
    }

    /// Expected values from Go's strconv rules as go-yaml v2 applies them (resolve.go):
    /// base-0 integers with `_` removed, then the float pattern.
    #[test]
    fn numbers_follow_go_base_zero_rules() {
        assert_eq!(resolve_plain("0443"), Value::Int(0o443));
        assert_eq!(resolve_plain("0443"), Value::Int(291));
        assert_eq!(resolve_plain("0o17"), Value::Int(15));
        assert_eq!(resolve_plain("0x1F"), Value::Int(31));
        assert_eq!(resolve_plain("0b101"), Value::Int(5));
        assert_eq!(resolve_plain("1_000"), Value::Int(1000));
        assert_eq!(resolve_plain("+12"), Value::Int(12));
        assert_eq!(resolve_plain("-0x10"), Value::Int(-16));
        assert_eq!(resolve_plain("0"), Value::Int(0));
        // Not octal, so the float pattern reads it.
        assert_eq!(resolve_plain("08"), Value::Float(8.0));
        assert_eq!(resolve_plain("1e3"), Value::Float(1000.0));
        assert_eq!(resolve_plain(".5"), Value::Float(0.5));
        assert_eq!(
            resolve_plain("18446744073709551615"),
            Value::Float(18446744073709551615.0)
        );
        assert_eq!(resolve_plain("0x"), Value::Str("0x".into()));
        assert_eq!(resolve_plain("1.2.3"), Value::Str("1.2.3".into()));
        assert_eq!(resolve_plain("2001-01-01"), Value::Str("2001-01-01".into()));
        assert_eq!(resolve_plain("-"), Value::Str("-".into()));
        assert_eq!(resolve_plain("1e"), Value::Str("1e".into()));
    }
}
