//! `kubeseg diff` output: text, JSON, Markdown (a pull-request comment) and SARIF.
//!
//! # JSON contract (schemaVersion 1)
//! ```text
//! { "schemaVersion": 1,
//!   "added":   [ {"src": "<id>", "dst": "<id>", "allowed": {"TCP": [[80, 80]], "UDP": [], "SCTP": []},
//!                 "attribution": [{"policy": "ns/name", "edit": "added|removed|modified"}],
//!                 "evidence": [{"message", "location"}]} ],
//!   "removed": [ ... same, "allowed" is what was allowed before ... ],
//!   "changed": [ {"src", "dst", "before": {...}, "after": {...}, "attribution", "evidence"} ],
//!   "workloads": {"added": ["<id>"], "removed": ["<id>"]},
//!   "policies": [ {"policy": "ns/name", "edit": "added", "location": {...} | null} ] }
//! ```
//! Entries are sorted by source, then destination. Ids are the `reach` ids; address ranges
//! are those of the common refinement of both sides' ipBlocks.

use crate::{PortsJson, SCHEMA_VERSION};
use kubeseg_analyses::diff::{Change, Diff};
use kubeseg_model::Location;
use serde_json::{Value, json};
use std::fmt::Write;

/// Output formats of `diff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffFormat {
    /// One line per change, with its cause.
    Text,
    /// The versioned JSON document.
    Json,
    /// A pull-request comment.
    Md,
    /// SARIF 2.1.0.
    Sarif,
}

/// Renders a diff.
pub fn render(format: DiffFormat, d: &Diff) -> String {
    match format {
        DiffFormat::Text => text(d),
        DiffFormat::Json => crate::to_json(&json_doc(d)),
        DiffFormat::Md => markdown(d),
        DiffFormat::Sarif => sarif(d),
    }
}

fn cause(c: &Change) -> String {
    if c.causes.is_empty() {
        return "no policy edit: workloads' labels, ports or namespaces changed".into();
    }
    c.causes
        .iter()
        .map(|(p, e)| format!("{p} {}", e.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ports(p: &kubeseg_model::PortSet) -> String {
    if p.is_all() {
        "All Connections".into()
    } else {
        p.to_string()
    }
}

fn text(d: &Diff) -> String {
    let mut out = String::new();
    for (mark, list) in [("+", &d.added), ("-", &d.removed), ("~", &d.changed)] {
        for c in list {
            let what = match mark {
                "+" => ports(&c.after),
                "-" => ports(&c.before),
                _ => format!("{} → {}", ports(&c.before), ports(&c.after)),
            };
            let _ = writeln!(
                out,
                "{mark} {} => {} : {what}   [{}]",
                c.src,
                c.dst,
                cause(c)
            );
        }
    }
    for w in &d.workloads.0 {
        let _ = writeln!(out, "+ workload {w}");
    }
    for w in &d.workloads.1 {
        let _ = writeln!(out, "- workload {w}");
    }
    for (p, e, l) in &d.policies {
        let at = l.as_ref().map(|l| format!(" ({l})")).unwrap_or_default();
        let _ = writeln!(out, "policy {p} {}{at}", e.as_str());
    }
    let _ = writeln!(
        out,
        "{} added, {} removed, {} changed connection(s)",
        d.added.len(),
        d.removed.len(),
        d.changed.len()
    );
    out
}

#[derive(serde::Serialize)]
struct LocationJson<'a> {
    file: &'a str,
    line: u32,
    column: u32,
}

#[derive(serde::Serialize)]
struct EvidenceJson<'a> {
    message: &'a str,
    location: Option<LocationJson<'a>>,
}

#[derive(serde::Serialize)]
struct CauseJson<'a> {
    policy: &'a str,
    edit: &'static str,
}

#[derive(serde::Serialize)]
struct ChangeJson<'a> {
    src: &'a str,
    dst: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed: Option<PortsJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    before: Option<PortsJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<PortsJson>,
    attribution: Vec<CauseJson<'a>>,
    evidence: Vec<EvidenceJson<'a>>,
}

#[derive(serde::Serialize)]
struct PolicyJson<'a> {
    policy: &'a str,
    edit: &'static str,
    location: Option<LocationJson<'a>>,
}

#[derive(serde::Serialize)]
struct WorkloadsJson<'a> {
    added: &'a [String],
    removed: &'a [String],
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct DiffJson<'a> {
    schema_version: u32,
    added: Vec<ChangeJson<'a>>,
    removed: Vec<ChangeJson<'a>>,
    changed: Vec<ChangeJson<'a>>,
    workloads: WorkloadsJson<'a>,
    policies: Vec<PolicyJson<'a>>,
}

fn loc(l: &Option<Location>) -> Option<LocationJson<'_>> {
    l.as_ref().map(|l| LocationJson {
        file: &l.file,
        line: l.line,
        column: l.column,
    })
}

fn change_json<'a>(c: &'a Change, which: &str) -> ChangeJson<'a> {
    let (allowed, before, after) = match which {
        "added" => (Some(PortsJson::from_set(&c.after)), None, None),
        "removed" => (Some(PortsJson::from_set(&c.before)), None, None),
        _ => (
            None,
            Some(PortsJson::from_set(&c.before)),
            Some(PortsJson::from_set(&c.after)),
        ),
    };
    ChangeJson {
        src: &c.src,
        dst: &c.dst,
        allowed,
        before,
        after,
        attribution: c
            .causes
            .iter()
            .map(|(p, e)| CauseJson {
                policy: p,
                edit: e.as_str(),
            })
            .collect(),
        evidence: c
            .evidence
            .iter()
            .map(|e| EvidenceJson {
                message: &e.message,
                location: loc(&e.location),
            })
            .collect(),
    }
}

fn json_doc(d: &Diff) -> DiffJson<'_> {
    DiffJson {
        schema_version: SCHEMA_VERSION,
        added: d.added.iter().map(|c| change_json(c, "added")).collect(),
        removed: d
            .removed
            .iter()
            .map(|c| change_json(c, "removed"))
            .collect(),
        changed: d
            .changed
            .iter()
            .map(|c| change_json(c, "changed"))
            .collect(),
        workloads: WorkloadsJson {
            added: &d.workloads.0,
            removed: &d.workloads.1,
        },
        policies: d
            .policies
            .iter()
            .map(|(p, e, l)| PolicyJson {
                policy: p,
                edit: e.as_str(),
                location: loc(l),
            })
            .collect(),
    }
}

fn markdown(d: &Diff) -> String {
    let mut out = String::from("## kubeseg diff\n\n");
    let _ = writeln!(
        out,
        "**{}** connection(s) added, **{}** removed, **{}** changed.\n",
        d.added.len(),
        d.removed.len(),
        d.changed.len()
    );
    if !(d.added.is_empty() && d.removed.is_empty() && d.changed.is_empty()) {
        out.push_str("| | source | destination | connections | because of |\n| --- | --- | --- | --- | --- |\n");
        for (mark, list) in [("➕", &d.added), ("➖", &d.removed), ("✏️", &d.changed)] {
            for c in list.iter().take(200) {
                let what = match mark {
                    "➕" => ports(&c.after),
                    "➖" => ports(&c.before),
                    _ => format!("{} → {}", ports(&c.before), ports(&c.after)),
                };
                let _ = writeln!(
                    out,
                    "| {mark} | `{}` | `{}` | {what} | {} |",
                    c.src,
                    c.dst,
                    cause(c)
                );
            }
        }
    }
    if !d.policies.is_empty() {
        out.push_str("\n### Policy edits\n\n");
        for (p, e, l) in &d.policies {
            let at = l.as_ref().map(|l| format!(" (`{l}`)")).unwrap_or_default();
            let _ = writeln!(out, "- `{p}` {}{at}", e.as_str());
        }
    }
    out
}

fn sarif(d: &Diff) -> String {
    let kinds = [
        ("added", "warning"),
        ("removed", "note"),
        ("changed", "note"),
    ];
    let rules: Vec<Value> = kinds
        .iter()
        .map(|(k, level)| json!({"id": format!("kubeseg-diff/{k}"), "name": format!("connection-{k}"), "shortDescription": {"text": format!("A connection was {k} by the change.")}, "defaultConfiguration": {"level": level}}))
        .collect();
    let mut results = Vec::new();
    for (i, (k, level)) in kinds.iter().enumerate() {
        let list = match i {
            0 => &d.added,
            1 => &d.removed,
            _ => &d.changed,
        };
        for c in list {
            let at = c.evidence.iter().find_map(|e| e.location.clone());
            let mut r = json!({
                "ruleId": format!("kubeseg-diff/{k}"),
                "ruleIndex": i,
                "level": level,
                "message": {"text": format!("{} => {} : {} → {} ({})", c.src, c.dst, ports(&c.before), ports(&c.after), cause(c))},
            });
            if let Some(l) = at.filter(|l| &*l.file != "-") {
                r["locations"] = json!([{"physicalLocation": {"artifactLocation": {"uri": crate::audit::uri(&l.file)}, "region": {"startLine": l.line, "startColumn": l.column}}}]);
            }
            results.push(r);
        }
    }
    crate::to_json(&json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "kubeseg", "version": env!("CARGO_PKG_VERSION"), "rules": rules}}, "results": results}]
    }))
}
