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
            message: message.into(),
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
            message: message.into(),
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
            message: message.into(),
            snippet: None,
        }
    }
}
