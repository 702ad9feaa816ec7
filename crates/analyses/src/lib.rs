//! Analyses on top of the reachability engine: the segmentation audit, its rule
//! registry and the finding model the report layer renders. No I/O, no printing.

pub mod assert;
pub mod attribution;
pub mod audit;
pub mod backends;
pub mod diff;
pub mod finding;
pub mod graph;
pub mod lint;
pub(crate) mod mesh_checks;
pub mod mesh_words;
pub mod registry;
pub mod required_cut;
pub mod resolve;
pub mod rows;
mod rows_since;
pub mod suppress;

pub use audit::{AuditConfig, AuditError, AuditReport, audit};
pub use finding::{Evidence, Finding, Remediation, Rule, Severity, Suppression, SuppressionKind};
