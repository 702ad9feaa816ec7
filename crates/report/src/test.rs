//! `kubeseg test` output: text, JSON, JUnit XML, TAP and SARIF.
//!
//! # JSON contract (schemaVersion 3)
//! ```text
//! { "schemaVersion": 3, "spec": "spec.yaml", "passed": 3, "failed": 1,
//!   "assertions": [ { "name": "...", "kind": "deny", "location": {"file", "line", "column"},
//!                     "request": {"method", "path", "host"} | null,
//!                     "passed": false, "message": "...",
//!                     "counterexample": {"src": "<id>", "dst": "<id>",
//!                                        "protocol": "TCP" | null, "port": 5432 | null,
//!                                        "path": ["<id>", ...]} | null,
//!                     "evidence": [{"message", "location"}] } ] }
//! ```
//! Verdicts are composed: L3/L4 (tiers and NetworkPolicy), then, for TCP ports into
//! workloads with a proxy, the mesh. Evidence lines of the mesh start with
//! `mesh on TCP <port>:`. A counterexample on ICMP or ICMPv6 has `port` `type * 256 +
//! code` (text: `ICMP 8/0`). (schemaVersion 2 added `request`; 3 the ICMP protocols.)

use crate::SCHEMA_VERSION;
use kubeseg_analyses::assert::Outcome;
use kubeseg_model::spec::{Assertion, Check};
use serde_json::{Value, json};
use std::fmt::Write;

/// Output formats of `test`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestFormat {
    /// PASS/FAIL lines with the counterexample and its evidence.
    Text,
    /// The versioned JSON document.
    Json,
    /// JUnit XML: one testcase per assertion.
    Junit,
    /// Test Anything Protocol, version 13.
    Tap,
    /// SARIF 2.1.0: failed assertions at their line of the spec.
    Sarif,
}

/// The kind name of an assertion.
pub fn kind(c: &Check) -> &'static str {
    match c {
        Check::Allow(_) => "allow",
        Check::Deny(_) => "deny",
        Check::Isolated { .. } => "isolated",
        Check::Only(_) => "only",
        Check::NoPath(_) => "no-path",
        Check::MaxBlastRadius { .. } => "max-blast-radius",
    }
}

/// Renders the outcomes of `assertions` (parallel slices) of the spec file `spec`.
pub fn render(
    format: TestFormat,
    spec: &str,
    assertions: &[Assertion],
    outcomes: &[Outcome],
) -> String {
    match format {
        TestFormat::Text => text(assertions, outcomes),
        TestFormat::Json => crate::to_json(&json_doc(spec, assertions, outcomes)),
        TestFormat::Junit => junit(spec, assertions, outcomes),
        TestFormat::Tap => tap(assertions, outcomes),
        TestFormat::Sarif => sarif(assertions, outcomes),
    }
}

fn details(o: &Outcome) -> Vec<String> {
    let mut lines = vec![o.message.clone()];
    if let Some(c) = &o.counterexample {
        let port = c
            .port
            .map(|(p, n)| format!(" {}", p.member_text(n)))
            .unwrap_or_default();
        if c.dst.is_empty() {
            lines.push(format!("counterexample: {}", c.src));
        } else if c.path.is_empty() {
            lines.push(format!("counterexample: {} → {}{port}", c.src, c.dst));
        } else {
            lines.push(format!("counterexample: {}", c.path.join(" → ")));
        }
    }
    for e in &o.evidence {
        let at = e
            .location
            .as_ref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        lines.push(format!("because: {}{at}", e.message));
    }
    lines
}

fn text(assertions: &[Assertion], outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    for (a, o) in assertions.iter().zip(outcomes) {
        let _ = writeln!(
            out,
            "{} {} ({}, {})",
            if o.passed { "PASS" } else { "FAIL" },
            a.name,
            kind(&a.check),
            a.location
        );
        for line in details(o) {
            let _ = writeln!(out, "     {line}");
        }
    }
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    let _ = writeln!(
        out,
        "\n{} assertion(s): {} passed, {failed} failed",
        outcomes.len(),
        outcomes.len() - failed
    );
    out
}

fn json_doc(spec: &str, assertions: &[Assertion], outcomes: &[Outcome]) -> Value {
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    let items: Vec<Value> = assertions
        .iter()
        .zip(outcomes)
        .map(|(a, o)| {
            json!({
                "name": a.name,
                "kind": kind(&a.check),
                "location": {"file": &*a.location.file, "line": a.location.line, "column": a.location.column},
                "request": request(&a.check),
                "passed": o.passed,
                "message": o.message,
                "counterexample": o.counterexample.as_ref().map(|c| json!({
                    "src": c.src, "dst": c.dst,
                    "protocol": c.port.map(|(p, _)| p.as_str()),
                    "port": c.port.map(|(_, n)| n),
                    "path": c.path,
                })),
                "evidence": o.evidence.iter().map(|e| json!({
                    "message": e.message,
                    "location": e.location.as_ref().map(|l| json!({"file": &*l.file, "line": l.line, "column": l.column})),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut doc = serde_json::Map::new();
    doc.insert("schemaVersion".into(), json!(SCHEMA_VERSION));
    doc.insert("spec".into(), json!(spec));
    doc.insert("passed".into(), json!(outcomes.len() - failed));
    doc.insert("failed".into(), json!(failed));
    doc.insert("assertions".into(), json!(items));
    Value::Object(doc)
}

fn request(c: &Check) -> Value {
    match c {
        Check::Allow(f) | Check::Deny(f) | Check::Only(f) => f.request.as_ref().map_or(
            Value::Null,
            |r| json!({"method": r.method, "path": r.path, "host": r.host}),
        ),
        _ => Value::Null,
    }
}

pub(crate) fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn junit(spec: &str, assertions: &[Assertion], outcomes: &[Outcome]) -> String {
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"kubeseg\" tests=\"{}\" failures=\"{failed}\">",
        outcomes.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"0\">",
        xml(spec),
        outcomes.len()
    );
    for (a, o) in assertions.iter().zip(outcomes) {
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"kubeseg.{}\" file=\"{}\" line=\"{}\"",
            xml(&a.name),
            kind(&a.check),
            xml(&a.location.file),
            a.location.line
        );
        if o.passed {
            out.push_str("/>\n");
        } else {
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                xml(&o.message),
                kind(&a.check),
                xml(&details(o).join("\n"))
            );
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn tap(assertions: &[Assertion], outcomes: &[Outcome]) -> String {
    let mut out = format!("TAP version 13\n1..{}\n", outcomes.len());
    for (i, (a, o)) in assertions.iter().zip(outcomes).enumerate() {
        let name = a.name.replace('#', "\\#");
        if o.passed {
            let _ = writeln!(out, "ok {} - {name}", i + 1);
        } else {
            let _ = writeln!(
                out,
                "not ok {} - {name}\n  ---\n  kind: {}\n  at: \"{}\"",
                i + 1,
                kind(&a.check),
                a.location
            );
            let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
            let lines = details(o);
            let _ = writeln!(out, "  message: {}", quote(&lines[0]));
            if lines.len() > 1 {
                out.push_str("  details:\n");
                for line in &lines[1..] {
                    let _ = writeln!(out, "    - {}", quote(line));
                }
            }
            out.push_str("  ...\n");
        }
    }
    out
}

fn sarif(assertions: &[Assertion], outcomes: &[Outcome]) -> String {
    let kinds = [
        "allow",
        "deny",
        "isolated",
        "only",
        "no-path",
        "max-blast-radius",
    ];
    let rules: Vec<Value> = kinds
        .iter()
        .map(|k| json!({"id": format!("kubeseg-test/{k}"), "name": k, "shortDescription": {"text": format!("A `{k}` connectivity assertion failed.")}, "defaultConfiguration": {"level": "error"}}))
        .collect();
    let results: Vec<Value> = assertions
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| !o.passed)
        .map(|(a, o)| {
            let k = kind(&a.check);
            json!({
                "ruleId": format!("kubeseg-test/{k}"),
                "ruleIndex": kinds.iter().position(|x| *x == k).unwrap_or(0),
                "level": "error",
                "message": {"text": format!("{}: {}", a.name, details(o).join("; "))},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri(&a.location.file)}, "region": {"startLine": a.location.line, "startColumn": a.location.column}}}],
            })
        })
        .collect();
    crate::to_json(&json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "kubeseg", "version": env!("CARGO_PKG_VERSION"), "rules": rules}}, "results": results}]
    }))
}

fn uri(path: &str) -> String {
    crate::audit::uri(path)
}
