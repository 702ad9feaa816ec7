//! Diagnostics as text (with the offending line and a caret) and as JSON.

use kubeseg_model::Diagnostic;
use std::fmt::Write;

/// Renders diagnostics for a terminal.
pub fn text(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let _ = writeln!(
            out,
            "{}[{}]: {}",
            d.severity.as_str(),
            d.code,
            visible(&d.message)
        );
        if let Some(loc) = &d.location {
            let _ = writeln!(out, "  --> {}", visible(&loc.to_string()));
            if let Some(snippet) = &d.snippet {
                let gutter = loc.line.to_string().len();
                let pad = " ".repeat(gutter);
                let caret_at: usize = snippet
                    .chars()
                    .take(loc.column.saturating_sub(1) as usize)
                    .map(|c| if c == '\t' { 4 } else { 1 })
                    .sum();
                let _ = writeln!(out, "{pad} |");
                let _ = writeln!(
                    out,
                    "{} | {}",
                    loc.line,
                    visible(&snippet.replace('\t', "    "))
                );
                let _ = writeln!(out, "{pad} | {}^", " ".repeat(caret_at));
            }
        }
    }
    out
}

/// Input text made safe for a terminal: control characters (an attacker's escape
/// sequences, carriage returns) are shown as `\u{..}` instead of being obeyed.
fn visible(s: &str) -> std::borrow::Cow<'_, str> {
    let escaped = |c: char| c.is_control() && c != '\n';
    if !s.chars().any(escaped) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if escaped(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out.into()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_in_input_are_shown_not_obeyed() {
        let d = Diagnostic::warning("unknown-field", None, "unknown field `a\u{1b}[31mred\r`");
        let shown = text(&[d]);
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\r'),
            "{shown:?}"
        );
        assert!(shown.contains("a\\u{1b}[31mred\\u{d}"), "{shown:?}");
    }
}
