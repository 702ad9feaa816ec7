//! Diagnostics: what kubeseg tells the user about its input.

use std::fmt;
use std::sync::Arc;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The input is invalid; no answer is given.
    Error,
    /// The answer is given, but part of the input was not understood or is suspicious.
    Warning,
    /// Worth knowing; does not change the answer.
    Info,
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// A position in an input file (1-based line and column).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    /// The file as given on the command line (`-` for stdin).
    pub file: Arc<str>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Cuts a value echoed in a message to about 200 characters: an attacker's 10 MB
/// label must not be printed back whole.
pub fn clip(s: &str) -> std::borrow::Cow<'_, str> {
    const SHOWN: usize = 200;
    if s.len() <= SHOWN {
        return s.into();
    }
    let mut end = SHOWN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &s[..end], s.len()).into()
}

/// Clips every backquoted value in a message (kubeseg quotes input values in
/// backquotes) with [`clip`].
pub fn clip_quoted(message: String) -> String {
    if message.len() <= 300 {
        return message;
    }
    let mut out = String::with_capacity(600);
    for (i, part) in message.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        // Odd parts lie between backquotes; the others are kubeseg's own words.
        if i % 2 == 1 {
            out.push_str(&clip(part));
        } else {
            out.push_str(part);
        }
    }
    out
}

/// One message about the input.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// Where it is, when it points into a file.
    pub location: Option<Location>,
    /// How serious it is.
    pub severity: Severity,
    /// A stable kebab-case code, e.g. `invalid-cidr`.
    pub code: &'static str,
    /// The message, one sentence.
    pub message: String,
    /// The offending source line, for rendering with a caret.
    pub snippet: Option<String>,
}

impl Diagnostic {
    /// An error at a location.
    pub fn error(
        code: &'static str,
        location: Option<Location>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            location,
            severity: Severity::Error,
            code,
            message: clip_quoted(message.into()),
            snippet: None,
        }
    }

    /// A warning at a location.
    pub fn warning(
        code: &'static str,
        location: Option<Location>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            location,
            severity: Severity::Warning,
            code,
            message: clip_quoted(message.into()),
            snippet: None,
        }
    }

    /// An informational note.
    pub fn info(
        code: &'static str,
        location: Option<Location>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            location,
            severity: Severity::Info,
            code,
            message: clip_quoted(message.into()),
            snippet: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipped_values_say_how_long_they_were() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(5000);
        let shown = clip(&long);
        assert!(shown.len() < 260, "{}", shown.len());
        assert!(shown.ends_with("(10000 bytes in all)"));
    }

    #[test]
    fn long_quoted_values_are_clipped_in_messages() {
        let value = "v".repeat(10_000_000);
        let d = Diagnostic::error(
            "invalid-label",
            None,
            format!("invalid label value `{value}`: too long; `{value}`"),
        );
        assert!(d.message.len() < 700, "{}", d.message.len());
        assert!(d.message.starts_with("invalid label value `vvv"));
        assert_eq!(d.message.matches("(10000000 bytes in all)").count(), 2);
    }
}
