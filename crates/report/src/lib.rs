//! Output formats. Only this crate knows how answers look on the outside; every
//! function returns a `String` and prints nothing.

pub mod audit;
pub mod diagnostics;
pub mod diff;
pub mod explain;
pub mod lint;
pub mod mesh;
pub mod reach;
pub mod test;

use kubeseg_model::{PortSet, Protocol};
use serde::Serialize;
use std::collections::BTreeMap;

/// The version of every JSON document kubeseg writes; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 2;

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

/// Per-protocol inclusive port ranges; all three keys always present.
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
