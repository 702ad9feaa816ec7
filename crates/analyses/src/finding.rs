//! The finding model shared by every analysis and every output format.

use kubeseg_model::Location;
use std::fmt;

/// How bad a finding is, from least to most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// A weakness with little direct exposure.
    Low,
    /// A gap an attacker can use as one step.
    Medium,
    /// A gap that exposes sensitive targets.
    High,
    /// A direct path from outside to a crown jewel.
    Critical,
}

impl Severity {
    /// Every severity, least severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a lower-case name.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule: what a finding code means. Rules live in [`crate::registry`].
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable code, e.g. `KS201`.
    pub code: &'static str,
    /// Stable kebab-case name.
    pub name: &'static str,
    /// Severity when nothing raises or lowers it.
    pub severity: Severity,
    /// One line.
    pub summary: &'static str,
    /// What it does.
    pub what: &'static str,
    /// Why it matters.
    pub why: &'static str,
    /// How to fix it.
    pub fix: &'static str,
    /// A manifest that triggers the rule (empty when none is needed).
    pub example: &'static str,
}

impl Rule {
    /// The documentation URL of the rule (the README section of its code).
    pub fn help_uri(&self) -> String {
        format!(
            "https://github.com/kubeseg/kubeseg/blob/main/docs/rules.md#{}",
            self.code.to_ascii_lowercase()
        )
    }
}

/// One fact that supports a finding, with where it comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Evidence {
    /// One sentence.
    pub message: String,
    /// The manifest line it points at, when there is one.
    pub location: Option<Location>,
}

impl Evidence {
    /// Evidence at a location.
    pub fn at(location: Option<Location>, message: impl Into<String>) -> Self {
        Evidence {
            message: message.into(),
            location,
        }
    }
}

/// What to do about a finding.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Remediation {
    /// One or two sentences.
    pub text: String,
    /// A ready-to-apply manifest, when the fix is a policy.
    pub yaml: Option<String>,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The rule it belongs to.
    pub rule: &'static Rule,
    /// Its severity (the rule's default unless the analysis raised or lowered it).
    pub severity: Severity,
    /// The specific message, one line.
    pub title: String,
    /// The endpoints concerned, in the `reach` id form.
    pub endpoints: Vec<String>,
    /// The primary location (a policy, a rule or a workload).
    pub location: Option<Location>,
    /// Why kubeseg says so.
    pub evidence: Vec<Evidence>,
    /// What to do.
    pub remediation: Remediation,
    /// Set when a team accepted the finding: it stays in every output, marked.
    pub suppression: Option<Suppression>,
    /// The connections the finding is about, as endpoint-id pairs: a path's hops in
    /// order, or the connections a fix removes. Empty when it is about endpoints alone.
    pub edges: Vec<(String, String)>,
}

/// How a finding was accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuppressionKind {
    /// A `kubeseg.io/ignore` annotation on an object the finding concerns.
    Annotation,
    /// An entry of the `--baseline` file.
    Baseline,
}

impl SuppressionKind {
    /// The name in the JSON contract.
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionKind::Annotation => "annotation",
            SuppressionKind::Baseline => "baseline",
        }
    }
}

/// Why a finding is accepted, and where that is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    /// Annotation or baseline.
    pub kind: SuppressionKind,
    /// The reason given (`kubeseg.io/ignore-reason`), or where the baseline is.
    pub justification: String,
    /// The annotated object, or none for a baseline.
    pub location: Option<Location>,
}

impl Finding {
    /// A finding with the rule's default severity, no evidence and no remediation yet.
    pub fn new(
        rule: &'static Rule,
        title: String,
        location: Option<Location>,
        endpoints: Vec<String>,
    ) -> Finding {
        Finding {
            rule,
            severity: rule.severity,
            title,
            endpoints,
            location,
            evidence: Vec::new(),
            remediation: Remediation::default(),
            suppression: None,
            edges: Vec::new(),
        }
    }

    /// A stable identity across runs (code, title, endpoints), independent of line
    /// numbers: SARIF's fingerprint and the key of a baseline entry.
    pub fn fingerprint(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for part in [self.rule.code, &self.title]
            .into_iter()
            .chain(self.endpoints.iter().map(String::as_str))
        {
            for b in part.bytes().chain([0u8]) {
                h ^= b as u64;
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("{h:016x}")
    }

    /// The sort key: most severe first, then code, then location and title.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (
            std::cmp::Reverse(self.severity),
            self.rule.code,
            &self.endpoints,
            &self.title,
            &self.location,
        )
    }
}
