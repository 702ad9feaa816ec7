//! Reading Kubernetes manifests into a [`kubeseg_model::Cluster`].
//!
//! Loading never fails: it returns the objects that decoded cleanly plus
//! diagnostics with file:line:column for everything else. Callers decide whether
//! errors stop the run (the CLI does).

pub mod assemble;
pub mod baseline;
pub mod decode;
pub mod json;
pub mod load;
pub mod spec;
pub mod tree;
pub mod yaml;

pub use load::{Limits, Loaded, load, load_in, load_str, load_with, read_file};
