//! SARIF 2.1.0 for GitHub code scanning: one result per finding, located at its
//! manifest line, with the rule's documentation as metadata.

use kubeseg_analyses::registry::AUDIT_RULES;
use kubeseg_analyses::{Finding, Rule, Severity, SuppressionKind};
use kubeseg_model::Location;
use serde_json::{Value, json};

/// SARIF level of a severity.
fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's `security-severity` (0.0–10.0) of a severity.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

/// A relative URI reference for a path: separators kept, everything else outside the
/// unreserved set percent-encoded.
pub(crate) fn uri(path: &str) -> String {
    let path = path.strip_prefix("./").unwrap_or(path);
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn physical(l: &Location) -> Option<Value> {
    (&*l.file != "-").then(|| {
        json!({"physicalLocation": {
            "artifactLocation": {"uri": uri(&l.file)},
            "region": {"startLine": l.line, "startColumn": l.column}
        }})
    })
}

/// The SARIF log of an audit, its notes as tool notifications.
pub fn sarif(findings: &[&Finding], notes: &[String]) -> String {
    sarif_with(findings, AUDIT_RULES, notes)
}

/// The SARIF log of findings of these rules; `notes` (what was not checked or not
/// modelled) become the invocation's `toolExecutionNotifications`, so a log that looks
/// clean still says what it left out.
pub fn sarif_with(findings: &[&Finding], all_rules: &[&Rule], notes: &[String]) -> String {
    let rules: Vec<Value> = all_rules
        .iter()
        .map(|r| {
            let markdown = format!("**What it does.** {}\n\n**Why is this bad?** {}\n\n**Fix.** {}", r.what, r.why, r.fix);
            json!({
                "id": r.code,
                "name": r.name,
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": r.what},
                "help": {"text": format!("{} {} {}", r.what, r.why, r.fix), "markdown": markdown},
                "helpUri": r.help_uri(),
                "defaultConfiguration": {"level": level(r.severity)},
                "properties": {"tags": ["security", "network-segmentation"], "security-severity": security_severity(r.severity)}
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let index = all_rules.iter().position(|r| r.code == f.rule.code);
            let locations: Vec<Value> = f.location.iter().filter_map(physical).collect();
            let related: Vec<Value> = f
                .evidence
                .iter()
                .enumerate()
                .filter_map(|(i, e)| {
                    let mut v = physical(e.location.as_ref()?)?;
                    v["id"] = json!(i);
                    v["message"] = json!({"text": e.message});
                    Some(v)
                })
                .collect();
            let mut text = f.title.clone();
            if !f.remediation.text.is_empty() {
                text.push_str(". Fix: ");
                text.push_str(&f.remediation.text);
            }
            let mut r = json!({
                "ruleId": f.rule.code,
                "level": level(f.severity),
                "message": {"text": text},
                "locations": locations,
                "partialFingerprints": {"kubesegFinding/v1": f.fingerprint()},
                "properties": {"severity": f.severity.as_str(), "endpoints": f.endpoints, "security-severity": security_severity(f.severity)}
            });
            if let Some(i) = index {
                r["ruleIndex"] = json!(i);
            }
            if !related.is_empty() {
                r["relatedLocations"] = json!(related);
            }
            if let Some(yaml) = &f.remediation.yaml {
                r["properties"]["remediationYaml"] = json!(yaml);
            }
            if let Some(s) = &f.suppression {
                let kind = match s.kind {
                    SuppressionKind::Annotation => "inSource",
                    SuppressionKind::Baseline => "external",
                };
                // No `status`/`state`: schema revisions of 2.1.0 disagree on its name, and
                // GitHub code scanning reads a suppression without it.
                let mut v = json!({"kind": kind, "justification": s.justification});
                if let Some(l) = s.location.as_ref().and_then(physical) {
                    v["location"] = l;
                }
                r["suppressions"] = json!([v]);
            } else {
                // kubeseg always looks for suppressions: an empty list says none applies.
                r["suppressions"] = json!([]);
            }
            r
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "kubeseg",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/kubeseg/kubeseg",
                "rules": rules
            }},
            "results": results,
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": notes
                    .iter()
                    .map(|n| json!({"level": "note", "message": {"text": n}}))
                    .collect::<Vec<_>>()
            }]
        }]
    });
    crate::to_json(&log)
}
