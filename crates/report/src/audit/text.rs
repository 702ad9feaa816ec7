//! The terminal rendering: findings grouped by severity, wrapped at 80 columns,
//! coloured on a terminal.

use super::counts;
use kubeseg_analyses::audit::{AuditReport, Counts};
use kubeseg_analyses::{Finding, Severity};
use kubeseg_engine::Engine;
use std::fmt::Write;

const WIDTH: usize = 80;

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn severity(&self, s: Severity, text: &str) -> String {
        let code = match s {
            Severity::Critical => "1;35",
            Severity::High => "1;31",
            Severity::Medium => "1;33",
            Severity::Low => "1;36",
            Severity::Info => "1",
        };
        self.paint(code, text)
    }

    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

/// Word-wraps `text` at [`WIDTH`], the first line after `first`, the rest indented by `indent`.
fn wrap(out: &mut String, first: &str, indent: usize, text: &str) {
    let mut line = first.to_string();
    let mut len = first.chars().count();
    let mut fresh = true;
    for word in text.split(' ') {
        let w = word.chars().count();
        if !fresh && len + 1 + w > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = " ".repeat(indent);
            len = indent;
            fresh = true;
        }
        if !fresh {
            line.push(' ');
            len += 1;
        }
        line.push_str(word);
        len += w;
        fresh = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// The first screen: counts by severity and the shortest entry-point → crown-jewel
/// paths, before the details.
fn summary_block(out: &mut String, engine: &Engine, report: &AuditReport, findings: &[&Finding]) {
    let by_severity: Vec<String> = counts(findings)
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    wrap(
        out,
        "",
        2,
        &format!(
            "summary: {} finding(s){}",
            findings.len(),
            if by_severity.is_empty() {
                String::new()
            } else {
                format!(" ({})", by_severity.join(", "))
            }
        ),
    );
    let mut paths: Vec<&kubeseg_analyses::audit::Path> =
        report.paths.iter().filter(|p| !p.is_empty()).collect();
    paths.sort_by_key(|p| (p.len(), p.hops.clone()));
    const TOP: usize = 3;
    for p in paths.iter().take(TOP) {
        let hops: Vec<String> = p.hops.iter().map(|&h| engine.endpoint_id(h)).collect();
        wrap(
            out,
            "  top path: ",
            4,
            &format!("{} ({} hop(s))", hops.join(" → "), p.len()),
        );
    }
    if paths.len() > TOP {
        let _ = writeln!(
            out,
            "  … and {} more path(s) (KS202 below)",
            paths.len() - TOP
        );
    }
}

/// Renders the report for a terminal.
pub fn text(engine: &Engine, report: &AuditReport, findings: &[&Finding], color: bool) -> String {
    let st = Style { color };
    let mut out = String::new();
    let Counts {
        workloads,
        namespaces,
        policies,
        cilium_policies,
    } = report.counts;
    let _ = writeln!(
        out,
        "kubeseg audit: {workloads} workloads in {namespaces} namespaces, {policies} NetworkPolicies{}",
        cilium_count(cilium_policies)
    );
    if let Some(cluster) = report.scores.first() {
        let per_ns: Vec<String> = report.scores[1..]
            .iter()
            .map(|s| format!("{} {:.1}", s.namespace.as_deref().unwrap_or("?"), s.score))
            .collect();
        wrap(
            &mut out,
            "",
            2,
            &format!(
                "segmentation score (0 flat, 100 segmented): cluster {:.1}; {}",
                cluster.score,
                per_ns.join(", ")
            ),
        );
    }
    let entries: Vec<String> = report
        .entry_points
        .iter()
        .map(|e| engine.endpoint_id(e.workload))
        .collect();
    let jewels: Vec<String> = report
        .crown_jewels
        .iter()
        .map(|j| engine.endpoint_id(j.workload))
        .collect();
    wrap(
        &mut out,
        "",
        2,
        &format!(
            "entry points ({}): {}",
            entries.len(),
            if entries.is_empty() {
                "none".into()
            } else {
                entries.join(", ")
            }
        ),
    );
    wrap(
        &mut out,
        "",
        2,
        &format!(
            "crown jewels ({}): {}",
            jewels.len(),
            if jewels.is_empty() {
                "none".into()
            } else {
                jewels.join(", ")
            }
        ),
    );
    summary_block(&mut out, engine, report, findings);
    // A policy suggested by several findings is printed once.
    let mut shown: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for severity in Severity::ALL.iter().rev() {
        let group: Vec<&&Finding> = findings
            .iter()
            .filter(|f| f.severity == *severity)
            .collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "\n{}",
            st.severity(
                *severity,
                &format!("{} ({})", severity.as_str().to_uppercase(), group.len())
            )
        );
        for f in group {
            out.push('\n');
            let head = format!("{} {}: ", f.rule.code, f.rule.name);
            let painted = st.severity(*severity, &head);
            let mut block = String::new();
            wrap(&mut block, &head, 4, &f.title);
            out.push_str(&block.replacen(&head, &painted, 1));
            if let Some(l) = &f.location {
                let _ = writeln!(out, "  {} {l}", st.dim("-->"));
            }
            for e in &f.evidence {
                let at = e
                    .location
                    .as_ref()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default();
                wrap(&mut out, "  = ", 6, &format!("{}{at}", e.message));
            }
            if !f.remediation.text.is_empty() {
                wrap(&mut out, "  fix: ", 7, &f.remediation.text);
            }
            if let Some(yaml) = &f.remediation.yaml {
                if let Some(first) = shown.get(yaml.as_str()) {
                    let _ = writeln!(
                        out,
                        "    {}",
                        st.dim(&format!("(the policy shown above under {first})"))
                    );
                } else {
                    shown.insert(yaml, f.rule.code);
                    for line in yaml.lines() {
                        let _ = writeln!(out, "    {}", st.dim(line));
                    }
                }
            }
        }
    }
    if !report.notes.is_empty() {
        let _ = writeln!(out, "\nnotes:");
        for n in &report.notes {
            wrap(&mut out, "  - ", 4, n);
        }
    }
    let summary: Vec<String> = counts(findings)
        .into_iter()
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    let _ = writeln!(
        out,
        "\n{} finding(s): {}",
        findings.len(),
        summary.join(", ")
    );
    out
}

/// `, N Cilium policies` when there are any, so reports without them read as before.
pub(super) fn cilium_count(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {n} Cilium policies")
    }
}
