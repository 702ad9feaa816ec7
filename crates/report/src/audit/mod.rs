//! `kubeseg audit` output: one emitter per format over the shared finding model.
//!
//! # JSON contract (schemaVersion 3, shared with every JSON document)
//! ```text
//! { "schemaVersion": 3, "tool": {"name": "kubeseg", "version": "0.1.0"},
//!   "summary": { "workloads": 11, "namespaces": 6, "policies": 14,
//!                "findings": {"critical": 2, "high": 3, "medium": 9, "low": 4, "info": 0},
//!                "suppressed": 0, "ciliumPolicies": 3 (only when there are any),
//!                "score": 41.5 },
//!   "findings": [ { "code": "KS202", "name": "crown-jewel-path", "severity": "critical",
//!                   "title": "...", "endpoints": ["blogs/wordpress-a[Deployment]", ...],
//!                   "location": {"file": "...", "line": 19, "column": 1} | null,
//!                   "evidence": [ {"message": "...", "location": {...} | null} ],
//!                   "remediation": {"text": "...", "yaml": "..." | null},
//!                   "suppressed": {"kind": "annotation" | "baseline", "justification": "...",
//!                                  "location": {...} | null} (only when accepted) } ],
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
pub(crate) use sarif::uri;
pub use sarif::{sarif, sarif_with};
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
    // Accepted findings leave the terminal and comment views for a list of their own;
    // JSON and SARIF carry them in place, marked.
    let (suppressed, active): (Vec<&Finding>, Vec<&Finding>) =
        findings.iter().partition(|f| f.suppression.is_some());
    match format {
        AuditFormat::Text => text(engine, report, &active, color) + &suppressed_text(&suppressed),
        AuditFormat::Json => json(engine, report, findings),
        AuditFormat::Sarif => sarif(findings, &report.notes),
        AuditFormat::Md => markdown(engine, report, &active) + &suppressed_md(&suppressed),
    }
}

/// The accepted findings, one line each, for a terminal.
pub fn suppressed_text(suppressed: &[&Finding]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if suppressed.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\nsuppressed ({}), not counted above:",
        suppressed.len()
    );
    for f in suppressed {
        let Some(s) = &f.suppression else { continue };
        let at = s
            .location
            .as_ref()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  - {} {} {}: {} ({}{at}: {})",
            f.severity.as_str(),
            f.rule.code,
            f.rule.name,
            f.title,
            s.kind.as_str(),
            s.justification
        );
    }
    out
}

/// The accepted findings as a Markdown table.
pub fn suppressed_md(suppressed: &[&Finding]) -> String {
    use crate::md_cell as cell;
    use std::fmt::Write;
    let mut out = String::new();
    if suppressed.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\n### Suppressed ({})\n\n| severity | code | finding | by | justification |\n| --- | --- | --- | --- | --- |",
        suppressed.len()
    );
    for f in suppressed {
        let Some(s) = &f.suppression else { continue };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            f.severity.as_str(),
            f.rule.code,
            cell(&f.title),
            s.kind.as_str(),
            cell(&s.justification)
        );
    }
    out
}

/// A baseline file accepting these findings (`audit --write-baseline`), sorted so
/// that it reviews well in git. Strings are JSON-quoted, which YAML reads as is.
pub fn baseline(findings: &[&Finding]) -> String {
    use std::fmt::Write;
    let mut rows: Vec<(String, &Finding)> =
        findings.iter().map(|f| (f.fingerprint(), *f)).collect();
    rows.sort_by(|a, b| (a.1.rule.code, &a.0).cmp(&(b.1.rule.code, &b.0)));
    rows.dedup_by(|a, b| a.0 == b.0);
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut out = String::from(
        "# Findings accepted by this team: `kubeseg audit --baseline FILE` reports them as\n# suppressed. Rewrite with `kubeseg audit --write-baseline FILE`.\napiVersion: kubeseg.io/v1\nkind: Baseline\n",
    );
    if rows.is_empty() {
        out.push_str("findings: []\n");
        return out;
    }
    out.push_str("findings:\n");
    for (fingerprint, f) in rows {
        let endpoints: Vec<String> = f.endpoints.iter().map(|e| q(e)).collect();
        let _ = writeln!(
            out,
            "- code: {}\n  fingerprint: \"{fingerprint}\"\n  title: {}\n  endpoints: [{}]",
            q(f.rule.code),
            q(&f.title),
            endpoints.join(", ")
        );
    }
    out
}

/// The documentation of every audit rule as Markdown (`docs/rules.md`).
pub fn rules_markdown() -> String {
    use std::fmt::Write;
    let mut out = String::from(
        "# kubeseg audit rules\n\nGenerated by `kubeseg rules --format md`; `kubeseg rules CODE` prints one rule.\n",
    );
    for r in kubeseg_analyses::registry::all_rules() {
        let example = if r.example.is_empty() {
            String::new()
        } else {
            format!("\n**Example.**\n\n```yaml\n{}```\n", r.example)
        };
        let _ = write!(
            out,
            "\n<a id=\"{}\"></a>\n## {} {}\n\nDefault severity: **{}**. {}\n\n**What it does.** {}\n\n**Why is this bad?** {}\n{example}\n**Fix.** {}\n",
            r.code.to_ascii_lowercase(),
            r.code,
            r.name,
            r.severity.as_str(),
            r.summary,
            r.what,
            r.why,
            r.fix
        );
    }
    out
}

/// One rule's documentation for a terminal.
pub fn rule_text(r: &kubeseg_analyses::Rule) -> String {
    let example = if r.example.is_empty() {
        String::new()
    } else {
        let lines: Vec<String> = r.example.lines().map(|l| format!("  {l}")).collect();
        format!("\nExample\n{}\n", lines.join("\n"))
    };
    format!(
        "{} {} (default severity: {})\n\n{}\n\nWhat it does\n  {}\n\nWhy is this bad\n  {}\n{example}\nFix\n  {}\n",
        r.code,
        r.name,
        r.severity.as_str(),
        r.summary,
        r.what,
        r.why,
        r.fix
    )
}

/// The JSON summary of findings: counts per severity of those not accepted, and how
/// many are accepted (suppressed).
pub(crate) fn severity_summary(
    findings: &[&Finding],
) -> (serde_json::Map<String, serde_json::Value>, usize) {
    let active: Vec<&Finding> = findings
        .iter()
        .copied()
        .filter(|f| f.suppression.is_none())
        .collect();
    let by_severity = counts(&active)
        .into_iter()
        .map(|(s, n)| (s.as_str().to_string(), serde_json::json!(n)))
        .collect();
    (by_severity, findings.len() - active.len())
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
pub(crate) struct FindingJson<'a> {
    code: &'a str,
    name: &'a str,
    severity: &'a str,
    title: &'a str,
    endpoints: &'a [String],
    location: Option<LocationJson<'a>>,
    evidence: Vec<EvidenceJson<'a>>,
    remediation: RemediationJson<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressed: Option<SuppressedJson<'a>>,
}

#[derive(Serialize)]
struct SuppressedJson<'a> {
    kind: &'a str,
    justification: &'a str,
    location: Option<LocationJson<'a>>,
}

/// One finding in the JSON contract.
pub(crate) fn finding_json<'a>(f: &'a Finding) -> FindingJson<'a> {
    FindingJson {
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
        suppressed: f.suppression.as_ref().map(|s| SuppressedJson {
            kind: s.kind.as_str(),
            justification: &s.justification,
            location: location_json(&s.location),
        }),
    }
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
    crate::to_json(&document(engine, report, findings))
}

/// The versioned JSON document, written to `out` as it is serialised: at 150,000 pods
/// it can be half a gigabyte, which a string would hold twice while it grows.
pub fn write_json(
    out: &mut dyn std::io::Write,
    engine: &Engine,
    report: &AuditReport,
    findings: &[&Finding],
) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &document(engine, report, findings))?;
    out.write_all(b"\n")
}

fn document<'a>(
    engine: &Engine,
    report: &'a AuditReport,
    findings: &[&'a Finding],
) -> ReportJson<'a> {
    use serde_json::json;
    let id = |w: usize| engine.endpoint_id(w);
    let others = report.counts.workloads.saturating_sub(1).max(1) as f64;
    let (by_severity, suppressed) = severity_summary(findings);
    let mut summary = json!({
            "workloads": report.counts.workloads,
            "namespaces": report.counts.namespaces,
            "policies": report.counts.policies,
            "findings": by_severity,
            "suppressed": suppressed,
            "score": report.scores.first().map(|s| round(s.score, 1)),
    });
    if report.counts.cilium_policies > 0 {
        summary["ciliumPolicies"] = json!(report.counts.cilium_policies);
    }
    ReportJson {
        schema_version: SCHEMA_VERSION,
        tool: json!({"name": "kubeseg", "version": env!("CARGO_PKG_VERSION")}),
        summary,
        findings: findings.iter().map(|f| finding_json(f)).collect(),
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
    }
}
