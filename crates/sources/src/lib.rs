//! Reading Kubernetes manifests into a [`kubeseg_model::Cluster`].
//!
//! Loading never fails: it returns the objects that decoded cleanly plus
//! diagnostics with file:line:column for everything else. Callers decide whether
//! errors stop the run (the CLI does).

pub mod assemble;
pub mod baseline;
mod calico_lowering;
mod cilium_lowering;
pub mod decode;
pub mod json;
pub mod load;
pub mod operators;
pub mod patch;
pub mod spec;
pub mod tree;
pub mod yaml;

pub use load::{
    DecodedText, Limits, LoadOptions, Loaded, NamedText, assemble_texts, decode_text, load,
    load_in, load_opts, load_str, load_texts, load_with, read_file,
};

/// Diagnostic codes of objects that change connectivity but that the results leave
/// out: every command names them in its output, not only on stderr.
pub const UNMODELLED_CODES: &[&str] = &[
    "unmodelled-policy",
    "unexpanded-workload",
    "unreadable-kind",
];
