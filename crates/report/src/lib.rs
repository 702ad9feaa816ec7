//! Output formats. Only this crate knows how answers look on the outside; every
//! function returns a `String` and prints nothing.

pub mod audit;
pub mod diagnostics;
pub mod diff;
pub mod explain;
pub mod html;
pub mod lab;
pub mod lint;
pub mod mesh;
pub mod reach;
pub mod test;
pub mod unmodelled;

use kubeseg_model::{PortSet, Protocol};
use serde::Serialize;
use std::collections::BTreeMap;

/// The version of every JSON document kubeseg writes; bumped on any incompatible change
/// (3: port sets gained the `ICMP` and `ICMPv6` keys, and "every port" includes them).
pub const SCHEMA_VERSION: u32 = 3;

/// Output formats of `reach`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One line per connection.
    Text,
    /// The versioned JSON document.
    Json,
    /// `src,dst,connection` rows.
    Csv,
    /// A Markdown table.
    Md,
    /// A Graphviz digraph.
    Dot,
}

/// Per-protocol inclusive ranges; all five keys always present: `TCP`, `UDP` and `SCTP`
/// hold ports (1-65535), `ICMP` and `ICMPv6` hold messages as `type * 256 + code`
/// (0-65535: `[[0, 65535]]` is every message, `[[2048, 2303]]` type 8 with any code,
/// `[[2048, 2048]]` type 8 code 0).
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct PortsJson(pub BTreeMap<&'static str, Vec<[u16; 2]>>);

impl PortsJson {
    /// Converts a port set.
    pub fn from_set(set: &PortSet) -> Self {
        PortsJson(
            Protocol::ALL
                .iter()
                .map(|p| {
                    (
                        p.as_str(),
                        set.ports(*p)
                            .ranges()
                            .iter()
                            .map(|&(a, b)| [a, b])
                            .collect(),
                    )
                })
                .collect(),
        )
    }
}

/// Serializes with two-space indentation and a final newline.
pub fn to_json<T: Serialize>(value: &T) -> String {
    let mut s =
        serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// Escapes text from the input for a Markdown table cell (or any Markdown text): HTML
/// is neutralised as entities, the punctuation that opens links and images (`[`, `]`),
/// emphasis, code spans, strikethrough, mentions and table breaks is backslash-escaped,
/// and line breaks become spaces.
pub fn md_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '@' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn markdown_cells_cannot_inject() {
        assert_eq!(
            super::md_cell("[x](http://e) <img src=a> a|b `c` @u\nnext"),
            "\\[x\\](http://e) &lt;img src=a&gt; a\\|b \\`c\\` \\@u next"
        );
    }
}
