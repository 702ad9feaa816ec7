//! `kubeseg lint` output: findings rendered like compiler diagnostics (the source line
//! and a caret), and the JSON and SARIF contracts shared with the audit.
//!
//! # JSON contract (schemaVersion 3, shared with every JSON document)
//! ```text
//! { "schemaVersion": 3, "tool": {"name": "kubeseg", "version": "0.1.0"},
//!   "summary": {"findings": {"critical": 0, "high": 2, "info": 0, "low": 1, "medium": 1},
//!               "suppressed": 0},
//!   "findings": [ <the audit's finding objects> ],
//!   "notes": ["..."] }
//! ```
//! Findings are sorted by severity (most severe first), then location, code and title.

use crate::SCHEMA_VERSION;
use crate::audit::{counts, finding_json};
use kubeseg_analyses::{Finding, Rule, Severity};
use kubeseg_model::Location;
use std::fmt::Write;

/// Output formats of `lint`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LintFormat {
    /// Compiler-style diagnostics.
    Text,
    /// The versioned JSON document.
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

/// Renders lint findings; `source` returns the text of a location's line.
pub fn render(
    format: LintFormat,
    findings: &[&Finding],
    notes: &[String],
    rules: &[&Rule],
    source: &dyn Fn(&Location) -> Option<String>,
    color: bool,
) -> String {
    match format {
        LintFormat::Text => {
            let (suppressed, active): (Vec<&Finding>, Vec<&Finding>) =
                findings.iter().partition(|f| f.suppression.is_some());
            text(&active, notes, source, color) + &crate::audit::suppressed_text(&suppressed)
        }
        LintFormat::Json => json(findings, notes),
        LintFormat::Sarif => crate::audit::sarif_with(findings, rules, notes),
    }
}

fn paint(color: bool, code: &str, s: &str) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

fn severity_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "1;35",
        Severity::High => "1;31",
        Severity::Medium => "1;33",
        Severity::Low => "1;36",
        Severity::Info => "1",
    }
}

/// Compiler-style text: `severity[CODE] name: title`, the location, the line and a caret.
pub fn text(
    findings: &[&Finding],
    notes: &[String],
    source: &dyn Fn(&Location) -> Option<String>,
    color: bool,
) -> String {
    let mut out = String::new();
    for f in findings {
        let head = format!("{}[{}]", f.severity.as_str(), f.rule.code);
        let _ = writeln!(
            out,
            "{} {}: {}",
            paint(color, severity_color(f.severity), &head),
            f.rule.name,
            f.title
        );
        if let Some(loc) = &f.location {
            let _ = writeln!(out, "  --> {loc}");
            if let Some(line) = source(loc) {
                let gutter = loc.line.to_string().len();
                let pad = " ".repeat(gutter);
                let caret_at: usize = line
                    .chars()
                    .take(loc.column.saturating_sub(1) as usize)
                    .map(|c| if c == '\t' { 4 } else { 1 })
                    .sum();
                let _ = writeln!(out, "{pad} |");
                let _ = writeln!(out, "{} | {}", loc.line, line.replace('\t', "    "));
                let _ = writeln!(
                    out,
                    "{pad} | {}{}",
                    " ".repeat(caret_at),
                    paint(color, severity_color(f.severity), "^")
                );
            }
        }
        for e in &f.evidence {
            let at = e
                .location
                .as_ref()
                .filter(|l| Some(*l) != f.location.as_ref())
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            let _ = writeln!(out, "  = {}{at}", e.message);
        }
        if !f.remediation.text.is_empty() {
            let _ = writeln!(out, "  = fix: {}", f.remediation.text);
        }
        if let Some(yaml) = &f.remediation.yaml {
            for line in yaml.lines() {
                let _ = writeln!(out, "      {line}");
            }
        }
        out.push('\n');
    }
    for n in notes {
        let _ = writeln!(out, "note: {n}");
    }
    let summary: Vec<String> = counts(findings)
        .into_iter()
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    let _ = writeln!(out, "{} finding(s): {}", findings.len(), summary.join(", "));
    out
}

/// The versioned JSON document.
pub fn json(findings: &[&Finding], notes: &[String]) -> String {
    use serde_json::json;
    let (by_severity, suppressed) = crate::audit::severity_summary(findings);
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Doc<'a> {
        schema_version: u32,
        tool: serde_json::Value,
        summary: serde_json::Value,
        findings: Vec<crate::audit::FindingJson<'a>>,
        notes: &'a [String],
    }
    let doc = Doc {
        schema_version: SCHEMA_VERSION,
        tool: json!({"name": "kubeseg", "version": env!("CARGO_PKG_VERSION")}),
        summary: json!({"findings": by_severity, "suppressed": suppressed}),
        findings: findings.iter().map(|f| finding_json(f)).collect(),
        notes,
    };
    crate::to_json(&doc)
}
