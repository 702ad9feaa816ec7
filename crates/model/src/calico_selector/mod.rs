//! Calico's selector language (`projectcalico.org/v3` `selector`, `namespaceSelector`,
//! `serviceAccountSelector`), parsed, printed and evaluated as
//! `libcalico-go/lib/selector` does (see `docs/design/policy-ir.md` section 1).
//!
//! Two deliberate differences from Calico: errors carry a byte offset, and parentheses
//! nest at most [`MAX_DEPTH`] deep so hostile input cannot exhaust the stack.

mod lex;
mod parse;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::selector::Labels;

/// The longest label key Calico accepts (`tokenizer.MaxLabelLength`).
pub const MAX_LABEL_LEN: usize = 512;

/// How deep parentheses may nest; Calico has no limit, but real selectors need few.
pub const MAX_DEPTH: usize = 64;

/// The values of an `in` set: sorted and deduplicated, like Calico's `StringSet`.
pub type ValueSet = BTreeSet<String>;

/// A parsed Calico selector; the node kinds are those of Calico's `ast.go`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CalicoSelector {
    /// `all()`, and the empty selector: matches everything.
    All,
    /// `global()`: true here; its meaning comes from the caller's rewriting.
    Global,
    /// `has(key)`: the label is present.
    Has(String),
    /// `key == "v"`: false when the label is missing.
    Eq(String, String),
    /// `key != "v"`: true when the label is missing.
    Ne(String, String),
    /// `key contains "v"`: false when the label is missing.
    Contains(String, String),
    /// `key starts with "v"`: false when the label is missing.
    StartsWith(String, String),
    /// `key ends with "v"`: false when the label is missing.
    EndsWith(String, String),
    /// `key in {"a", "b"}`: false when the label is missing; `{}` matches nothing.
    In(String, ValueSet),
    /// `key not in {"a", "b"}`: true when the label is missing.
    NotIn(String, ValueSet),
    /// `!x`; parsing collapses `!!x` to `x`.
    Not(Box<CalicoSelector>),
    /// `a && b && ...`, one flat list per unparenthesised chain.
    And(Vec<CalicoSelector>),
    /// `a || b || ...`, one flat list per unparenthesised chain.
    Or(Vec<CalicoSelector>),
}

/// Why a selector failed to parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CalicoErrorKind {
    /// A quote without its closing quote.
    UnterminatedString,
    /// A lone `=`.
    ExpectedDoubleEquals,
    /// A lone `&`.
    ExpectedDoubleAmpersand,
    /// A lone `|`.
    ExpectedDoublePipe,
    /// No label where one is needed; any character outside `[a-zA-Z0-9_./-]`, a
    /// newline included, that starts no token lands here.
    ExpectedLabel,
    /// A label longer than [`MAX_LABEL_LEN`] bytes.
    LabelTooLong,
    /// `has(`, `all(` or `global(` without its `)`.
    MissingCloseParen(&'static str),
    /// A label not followed by `==`, `!=`, `contains`, `starts with`, `ends with`, `in`
    /// or `not in`.
    ExpectedOperator,
    /// A comparison without its quoted value.
    ExpectedString,
    /// `in` or `not in` without `{`.
    ExpectedSet,
    /// A set without `}`, or with a comma not followed by a string or `}`.
    ExpectedCloseBrace,
    /// A `(` group without `)`.
    ExpectedCloseParen,
    /// A token that cannot start an expression.
    UnexpectedToken,
    /// The input ends inside a comparison.
    UnexpectedEnd,
    /// A complete selector followed by more tokens.
    TrailingContent,
    /// Parentheses nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

/// A parse error: what went wrong and the byte offset in the input where it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CalicoSelectorError {
    /// The byte offset of the offending token or character.
    pub offset: usize,
    /// What went wrong.
    pub kind: CalicoErrorKind,
}

impl CalicoSelectorError {
    fn new(offset: usize, kind: CalicoErrorKind) -> CalicoSelectorError {
        CalicoSelectorError { offset, kind }
    }
}

impl fmt::Display for CalicoSelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CalicoErrorKind as K;
        let what = match self.kind {
            K::UnterminatedString => "unterminated string",
            K::ExpectedDoubleEquals => "expected `==`",
            K::ExpectedDoubleAmpersand => "expected `&&`",
            K::ExpectedDoublePipe => "expected `||`",
            K::ExpectedLabel => "expected a label (letters, digits, `_./-`)",
            K::LabelTooLong => "label longer than 512 bytes",
            K::MissingCloseParen(call) => {
                return write!(f, "no closing `)` after `{call}` at byte {}", self.offset);
            }
            K::ExpectedOperator => {
                "expected an operator (`==`, `!=`, `contains`, `starts with`, `ends with`, `in`, `not in`)"
            }
            K::ExpectedString => "expected a quoted string",
            K::ExpectedSet => "expected a set literal `{...}`",
            K::ExpectedCloseBrace => "expected `}` (or a string after `,`)",
            K::ExpectedCloseParen => "expected `)`",
            K::UnexpectedToken => "expected a label, `has(`, `all()`, `global()`, `!` or `(`",
            K::UnexpectedEnd => "unexpected end of selector",
            K::TrailingContent => "unexpected content after the selector",
            K::TooDeep => "parentheses nested more than 64 deep",
        };
        write!(f, "{what} at byte {}", self.offset)
    }
}

impl std::error::Error for CalicoSelectorError {}

impl FromStr for CalicoSelector {
    type Err = CalicoSelectorError;

    fn from_str(s: &str) -> Result<CalicoSelector, CalicoSelectorError> {
        CalicoSelector::parse(s)
    }
}

impl CalicoSelector {
    /// Parses a selector; the empty string (or only spaces and tabs) is `all()`.
    pub fn parse(input: &str) -> Result<CalicoSelector, CalicoSelectorError> {
        parse::parse(input)
    }

    /// Whether `labels` satisfy the selector, as Calico's `Node.Evaluate` decides.
    pub fn matches(&self, labels: &Labels) -> bool {
        use CalicoSelector as S;
        let get = |k: &String| labels.get(k).map(String::as_str);
        match self {
            S::All | S::Global => true,
            S::Has(k) => labels.contains_key(k),
            S::Eq(k, v) => get(k) == Some(v),
            S::Ne(k, v) => get(k) != Some(v),
            S::Contains(k, v) => get(k).is_some_and(|x| x.contains(v.as_str())),
            S::StartsWith(k, v) => get(k).is_some_and(|x| x.starts_with(v.as_str())),
            S::EndsWith(k, v) => get(k).is_some_and(|x| x.ends_with(v.as_str())),
            S::In(k, set) => get(k).is_some_and(|x| set.contains(x)),
            S::NotIn(k, set) => get(k).is_none_or(|x| !set.contains(x)),
            S::Not(x) => !x.matches(labels),
            S::And(xs) => xs.iter().all(|x| x.matches(labels)),
            S::Or(xs) => xs.iter().any(|x| x.matches(labels)),
        }
    }

    /// `self && other`, the tree Calico gets when it parses `(self) && other` for a
    /// policy's namespace or service-account restriction (no flattening, no
    /// simplification, so the printed form is the one Calico would hash).
    pub fn and(self, other: CalicoSelector) -> CalicoSelector {
        CalicoSelector::And(vec![self, other])
    }

    /// The label keys the selector mentions, sorted and deduplicated.
    pub fn label_keys(&self) -> BTreeSet<&str> {
        let mut keys = BTreeSet::new();
        self.visit_keys(&mut |k| {
            keys.insert(k.as_str());
        });
        keys
    }

    /// Prefixes every label key, as Calico's `PrefixVisitor` does with `pcns.` for
    /// namespace selectors and `pcsa.` for service-account selectors.
    pub fn with_key_prefix(mut self, prefix: &str) -> CalicoSelector {
        self.visit_keys_mut(&mut |k| k.insert_str(0, prefix));
        self
    }

    fn visit_keys<'a>(&'a self, f: &mut impl FnMut(&'a String)) {
        use CalicoSelector as S;
        match self {
            S::All | S::Global => {}
            S::Has(k) | S::In(k, _) | S::NotIn(k, _) => f(k),
            S::Eq(k, _) | S::Ne(k, _) | S::Contains(k, _) => f(k),
            S::StartsWith(k, _) | S::EndsWith(k, _) => f(k),
            S::Not(x) => x.visit_keys(f),
            S::And(xs) | S::Or(xs) => xs.iter().for_each(|x| x.visit_keys(f)),
        }
    }

    fn visit_keys_mut(&mut self, f: &mut impl FnMut(&mut String)) {
        use CalicoSelector as S;
        match self {
            S::All | S::Global => {}
            S::Has(k) | S::In(k, _) | S::NotIn(k, _) => f(k),
            S::Eq(k, _) | S::Ne(k, _) | S::Contains(k, _) => f(k),
            S::StartsWith(k, _) | S::EndsWith(k, _) => f(k),
            S::Not(x) => x.visit_keys_mut(f),
            S::And(xs) | S::Or(xs) => xs.iter_mut().for_each(|x| x.visit_keys_mut(f)),
        }
    }
}

/// Prints Calico's canonical form (`collectFragments`): every `&&`/`||` list in
/// parentheses, values in double quotes unless they contain one. A value holding both
/// quote characters cannot be written in the language; it is printed in single quotes.
impl fmt::Display for CalicoSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CalicoSelector as S;
        let quoted = |v: &str| {
            let q = if v.contains('"') { '\'' } else { '"' };
            format!("{q}{v}{q}")
        };
        let list = |f: &mut fmt::Formatter<'_>, xs: &[CalicoSelector], op: &str| {
            let parts: Vec<String> = xs.iter().map(ToString::to_string).collect();
            write!(f, "({})", parts.join(op))
        };
        match self {
            S::All => f.write_str("all()"),
            S::Global => f.write_str("global()"),
            S::Has(k) => write!(f, "has({k})"),
            S::Eq(k, v) => write!(f, "{k} == {}", quoted(v)),
            S::Ne(k, v) => write!(f, "{k} != {}", quoted(v)),
            S::Contains(k, v) => write!(f, "{k} contains {}", quoted(v)),
            S::StartsWith(k, v) => write!(f, "{k} starts with {}", quoted(v)),
            S::EndsWith(k, v) => write!(f, "{k} ends with {}", quoted(v)),
            S::In(k, set) | S::NotIn(k, set) => {
                let op = if matches!(self, S::In(..)) {
                    "in"
                } else {
                    "not in"
                };
                let values: Vec<String> = set.iter().map(|v| quoted(v)).collect();
                write!(f, "{k} {op} {{{}}}", values.join(", "))
            }
            S::Not(x) => write!(f, "!{x}"),
            // Empty lists never come from parsing; print what they mean.
            S::And(xs) if xs.is_empty() => f.write_str("all()"),
            S::Or(xs) if xs.is_empty() => f.write_str("!all()"),
            S::And(xs) => list(f, xs, " && "),
            S::Or(xs) => list(f, xs, " || "),
        }
    }
}
