//! What the loader tests share: lines of an input and the diagnostics of a load.
// Each test file uses the part it needs.
#![allow(dead_code)]

use kubeseg_model::Severity;
use kubeseg_sources::Loaded;

/// The 1-based line of the first line of `text` containing `needle`.
pub fn line_of(text: &str, needle: &str) -> u32 {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` not in the input")) as u32
        + 1
}

/// The diagnostics of one severity as (code, line).
pub fn diagnostics(loaded: &Loaded, severity: Severity) -> Vec<(&'static str, u32)> {
    loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .map(|d| (d.code, d.location.as_ref().map_or(0, |l| l.line)))
        .collect()
}

/// The errors as (code, line).
pub fn errors(loaded: &Loaded) -> Vec<(&'static str, u32)> {
    diagnostics(loaded, Severity::Error)
}

/// The warnings as (code, line).
pub fn warnings(loaded: &Loaded) -> Vec<(&'static str, u32)> {
    diagnostics(loaded, Severity::Warning)
}
