//! A pull-request comment in GitHub-flavoured Markdown.

use super::counts;
use kubeseg_analyses::Finding;
use kubeseg_analyses::audit::{AuditReport, Counts};
use kubeseg_engine::Engine;
use std::fmt::Write;

/// Tables stop after this many rows: a comment must stay readable (the JSON has everything).
const MAX_ROWS: usize = 100;

fn more(out: &mut String, total: usize) {
    if total > MAX_ROWS {
        let _ = writeln!(
            out,
            "\n… and {} more (run `kubeseg audit --format json` for all of them).",
            total - MAX_ROWS
        );
    }
}

use crate::md_cell as cell;

/// Renders the report as Markdown.
pub fn markdown(engine: &Engine, report: &AuditReport, findings: &[&Finding]) -> String {
    let mut out = String::new();
    let Counts {
        workloads,
        namespaces,
        policies,
        cilium_policies,
    } = report.counts;
    let _ = writeln!(out, "## kubeseg audit\n");
    let _ = writeln!(
        out,
        "{workloads} workloads in {namespaces} namespaces, {policies} NetworkPolicies{}.\n",
        super::text::cilium_count(cilium_policies)
    );
    let _ = writeln!(out, "| severity | findings |\n| --- | ---: |");
    for (s, n) in counts(findings) {
        let _ = writeln!(out, "| {} | {n} |", s.as_str());
    }
    if !report.scores.is_empty() {
        let _ = writeln!(
            out,
            "\n### Segmentation score (0 flat, 100 segmented)\n\n| scope | workloads | score |\n| --- | ---: | ---: |"
        );
        for s in &report.scores {
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} |",
                s.namespace.as_deref().unwrap_or("**cluster**"),
                s.workloads,
                s.score
            );
        }
    }
    if !report.paths.is_empty() {
        let _ = writeln!(
            out,
            "\n### Entry point → crown jewel paths\n\n| severity | hops | path |\n| --- | ---: | --- |"
        );
        for p in report.paths.iter().take(MAX_ROWS) {
            let names: Vec<String> = p
                .hops
                .iter()
                .map(|&h| format!("`{}`", engine.endpoint_id(h)))
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                p.severity.as_str(),
                p.len(),
                names.join(" → ")
            );
        }
        more(&mut out, report.paths.len());
    }
    let _ = writeln!(
        out,
        "\n### Findings\n\n| severity | code | finding | location |\n| --- | --- | --- | --- |"
    );
    for f in findings.iter().take(MAX_ROWS) {
        let at = f
            .location
            .as_ref()
            .map(|l| format!("`{l}`"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} `{}` | {} | {at} |",
            f.severity.as_str(),
            f.rule.code,
            f.rule.name,
            cell(&f.title)
        );
    }
    more(&mut out, findings.len());
    let fixes: Vec<&&Finding> = findings
        .iter()
        .take(MAX_ROWS)
        .filter(|f| f.remediation.yaml.is_some())
        .collect();
    if !fixes.is_empty() {
        let _ = writeln!(out, "\n### Suggested policies\n");
        let mut seen = std::collections::BTreeSet::new();
        for f in fixes {
            let yaml = f.remediation.yaml.as_deref().unwrap_or_default();
            if !seen.insert(yaml) {
                continue;
            }
            let _ = writeln!(
                out,
                "<details><summary>{} {}: {}</summary>\n\n{}\n\n```yaml\n{}```\n\n</details>\n",
                f.rule.code,
                f.rule.name,
                cell(&f.title),
                cell(&f.remediation.text),
                yaml
            );
        }
    }
    if !report.notes.is_empty() {
        let _ = writeln!(out, "\n### Not checked\n");
        for n in &report.notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    out
}
