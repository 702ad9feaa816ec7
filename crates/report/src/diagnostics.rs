//! Diagnostics as text (with the offending line and a caret) and as JSON.

use kubeseg_model::Diagnostic;
use std::fmt::Write;

/// Renders diagnostics for a terminal.
pub fn text(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let _ = writeln!(out, "{}[{}]: {}", d.severity.as_str(), d.code, d.message);
        if let Some(loc) = &d.location {
            let _ = writeln!(out, "  --> {loc}");
            if let Some(snippet) = &d.snippet {
                let gutter = loc.line.to_string().len();
                let pad = " ".repeat(gutter);
                let caret_at: usize = snippet
                    .chars()
                    .take(loc.column.saturating_sub(1) as usize)
                    .map(|c| if c == '\t' { 4 } else { 1 })
                    .sum();
                let _ = writeln!(out, "{pad} |");
                let _ = writeln!(out, "{} | {}", loc.line, snippet.replace('\t', "    "));
                let _ = writeln!(out, "{pad} | {}^", " ".repeat(caret_at));
            }
        }
    }
    out
}

/// A one-line summary such as `2 errors, 1 warning`.
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let count = |s| diagnostics.iter().filter(|d| d.severity == s).count();
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        plural(count(kubeseg_model::Severity::Error), "error"),
        plural(count(kubeseg_model::Severity::Warning), "warning")
    )
}
