//! `kubeseg audit` output: one emitter per format over the shared finding model.
//!
//! # JSON contract (schemaVersion 1)
//! ```text
//! { "schemaVersion": 1, "tool": {"name": "kubeseg", "version": "0.1.0"},
//!   "summary": { "workloads": 11, "namespaces": 6, "policies": 14,
//!                "findings": {"critical": 2, "high": 3, "medium": 9, "low": 4, "info": 0},
//!                "score": 41.5 },
//!   "findings": [ { "code": "KS202", "name": "crown-jewel-path", "severity": "critical",
//!                   "title": "...", "endpoints": ["blogs/wordpress-a[Deployment]", ...],
//!                   "location": {"file": "...", "line": 19, "column": 1} | null,
//!                   "evidence": [ {"message": "...", "location": {...} | null} ],
//!                   "remediation": {"text": "...", "yaml": "..." | null} } ],
//!   "entryPoints": [ {"workload": "<id>", "reasons": [<evidence>]} ],
//!   "crownJewels": [ {"workload": "<id>", "reasons": ["listens on TCP/3306 (MySQL)"]} ],
//!   "paths": [ {"hops": ["<id>", ...], "length": 1, "severity": "critical"} ],
//!   "blastRadius": [ {"workload": "<id>", "direct": 3, "transitive": 7, "share": 0.7, "crownJewels": 2} ],
//!   "scores": [ {"namespace": null | "blogs", "workloads": 4, "allowedPairs": 40,
//!                "possiblePairs": 40, "score": 0.0} ],
//!   "notes": ["..."] }
//! ```
//! Findings are sorted by severity (most severe first), code, endpoints and title;
//! `blastRadius` follows workload order; scores and shares are rounded to 0.1 and 0.001.

mod md;
mod sarif;
mod text;

use crate::SCHEMA_VERSION;
use kubeseg_analyses::audit::AuditReport;
use kubeseg_analyses::{Evidence, Finding, Severity};
use kubeseg_engine::Engine;
use kubeseg_model::Location;
use serde::Serialize;

pub use md::markdown;
pub use sarif::sarif;
pub use text::text;

/// Output formats of `audit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditFormat {
    /// Grouped by severity, for a terminal.
    Text,
    /// The versioned JSON document.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// A pull-request comment.
    Md,
}

/// Renders the report; `findings` are the ones selected for output.
pub fn render(
    format: AuditFormat,
    engine: &Engine,
    report: &AuditReport,
    findings: &[&Finding],
    color: bool,
) -> String {
    match format {
        AuditFormat::Text => text(engine, report, findings, color),
        AuditFormat::Json => json(engine, report, findings),
        AuditFormat::Sarif => sarif(findings),
        AuditFormat::Md => markdown(engine, report, findings),
    }
}

/// Counts per severity, most severe first.
pub fn counts(findings: &[&Finding]) -> Vec<(Severity, usize)> {
    Severity::ALL
        .iter()
        .rev()
        .map(|&s| (s, findings.iter().filter(|f| f.severity == s).count()))
        .collect()
}

/// Rounds for stable, readable output.
fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

#[derive(Serialize)]
struct LocationJson<'a> {
    file: &'a str,
    line: u32,
    column: u32,
}

fn location_json(l: &Option<Location>) -> Option<LocationJson<'_>> {
    l.as_ref().map(|l| LocationJson {
        file: &l.file,
        line: l.line,
        column: l.column,
    })
}

#[derive(Serialize)]
struct EvidenceJson<'a> {
    message: &'a str,
    location: Option<LocationJson<'a>>,
}

fn evidence_json(e: &[Evidence]) -> Vec<EvidenceJson<'_>> {
    e.iter()
        .map(|e| EvidenceJson {
            message: &e.message,
            location: location_json(&e.location),
        })
        .collect()
}

#[derive(Serialize)]
struct RemediationJson<'a> {
    text: &'a str,
    yaml: Option<&'a str>,
}

#[derive(Serialize)]
struct FindingJson<'a> {
    code: &'a str,
    name: &'a str,
    severity: &'a str,
    title: &'a str,
    endpoints: &'a [String],
    location: Option<LocationJson<'a>>,
    evidence: Vec<EvidenceJson<'a>>,
    remediation: RemediationJson<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportJson<'a> {
    schema_version: u32,
    tool: serde_json::Value,
    summary: serde_json::Value,
    findings: Vec<FindingJson<'a>>,
    entry_points: Vec<serde_json::Value>,
    crown_jewels: Vec<serde_json::Value>,
    paths: Vec<serde_json::Value>,
    blast_radius: Vec<serde_json::Value>,
    scores: Vec<serde_json::Value>,
    notes: &'a [String],
}

/// The versioned JSON document.
pub fn json(engine: &Engine, report: &AuditReport, findings: &[&Finding]) -> String {
    use serde_json::json;
    let id = |w: usize| engine.endpoint_id(w);
    let others = report.counts.0.saturating_sub(1).max(1) as f64;
    let by_severity: serde_json::Map<String, serde_json::Value> = counts(findings)
        .into_iter()
        .map(|(s, n)| (s.as_str().to_string(), json!(n)))
        .collect();
    let doc = ReportJson {
        schema_version: SCHEMA_VERSION,
        tool: json!({"name": "kubeseg", "version": env!("CARGO_PKG_VERSION")}),
        summary: json!({
            "workloads": report.counts.0,
            "namespaces": report.counts.1,
            "policies": report.counts.2,
            "findings": by_severity,
            "score": report.scores.first().map(|s| round(s.score, 1)),
        }),
        findings: findings
            .iter()
            .map(|f| FindingJson {
                code: f.rule.code,
                name: f.rule.name,
                severity: f.severity.as_str(),
                title: &f.title,
                endpoints: &f.endpoints,
                location: location_json(&f.location),
                evidence: evidence_json(&f.evidence),
                remediation: RemediationJson {
                    text: &f.remediation.text,
                    yaml: f.remediation.yaml.as_deref(),
                },
            })
            .collect(),
        entry_points: report
            .entry_points
            .iter()
            .map(|e| json!({"workload": id(e.workload), "reasons": evidence_json(&e.reasons)}))
            .collect(),
        crown_jewels: report
            .crown_jewels
            .iter()
            .map(|j| json!({"workload": id(j.workload), "reasons": j.reasons}))
            .collect(),
        paths: report
            .paths
            .iter()
            .map(|p| {
                json!({"hops": p.hops.iter().map(|&h| id(h)).collect::<Vec<_>>(), "length": p.len(), "severity": p.severity.as_str()})
            })
            .collect(),
        blast_radius: report
            .blast
            .iter()
            .map(|b| {
                json!({"workload": id(b.workload), "direct": b.direct, "transitive": b.transitive,
                       "share": round(b.transitive as f64 / others, 3), "crownJewels": b.crown_jewels})
            })
            .collect(),
        scores: report
            .scores
            .iter()
            .map(|s| {
                json!({"namespace": s.namespace, "workloads": s.workloads, "allowedPairs": s.allowed_pairs,
                       "possiblePairs": s.possible_pairs, "score": round(s.score, 1)})
            })
            .collect(),
        notes: &report.notes,
    };
    crate::to_json(&doc)
}
