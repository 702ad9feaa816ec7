//! Findings a team has accepted, declared on the objects they concern.

use crate::Location;

/// The annotation that names the finding codes (or rule names) to accept.
pub const IGNORE_ANNOTATION: &str = "kubeseg.io/ignore";
/// The annotation that says why.
pub const IGNORE_REASON_ANNOTATION: &str = "kubeseg.io/ignore-reason";

/// One `kubeseg.io/ignore` annotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ignore {
    /// The annotated object's kind (`NetworkPolicy`, `Deployment`, `Namespace`, ...).
    pub kind: String,
    /// Its namespace (empty for cluster-scoped kinds).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Where the object starts.
    pub location: Location,
    /// The position (line, column) of the object's last key or value in the same
    /// file: a finding located between the object's start and it is about the object
    /// (columns count: one-line JSON holds many objects on a line).
    pub end: (u32, u32),
    /// Codes or rule names as written (`all` accepts every rule).
    pub codes: Vec<String>,
    /// `kubeseg.io/ignore-reason`, when given.
    pub reason: Option<String>,
}

/// One finding of a baseline file: accepted when it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaselineEntry {
    /// The finding code.
    pub code: String,
    /// The finding's fingerprint (code, title and endpoints).
    pub fingerprint: String,
    /// The finding's title, compared exactly (a fingerprint alone could be forged).
    pub title: String,
    /// The finding's endpoints, compared exactly.
    pub endpoints: Vec<String>,
    /// Where the entry is in the baseline file.
    pub location: Location,
}
