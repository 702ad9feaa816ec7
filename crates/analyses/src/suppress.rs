//! Accepted findings: `kubeseg.io/ignore` annotations on the objects a finding
//! concerns, and the entries of a baseline file. A suppressed finding is marked, never
//! dropped: every output format still carries it.

use crate::finding::{Finding, Suppression, SuppressionKind};
use crate::registry;
use kubeseg_model::{BaselineEntry, Ignore};
use std::collections::BTreeMap;

/// Every code `all` stands for in an annotation.
const ALL: &str = "all";

/// Marks the findings that `ignores` or the `baseline` (file name and entries) accept.
/// Returns notes: annotations naming no rule of kubeseg, and baseline entries that
/// match no finding any more.
pub fn apply(
    findings: &mut [Finding],
    ignores: &[Ignore],
    baseline: Option<(&str, &[BaselineEntry])>,
) -> Vec<String> {
    let mut notes = Vec::new();
    let rules = registry::all_rules();
    for i in ignores {
        for code in &i.codes {
            if !code.eq_ignore_ascii_case(ALL) && registry::find_in(&rules, code).is_none() {
                notes.push(format!(
                    "kubeseg.io/ignore on {} {} ({}) names `{}`, which is no rule of kubeseg: it accepts nothing",
                    i.kind,
                    object_name(i),
                    i.location,
                    kubeseg_model::clip(code)
                ));
            }
        }
    }
    for f in findings.iter_mut() {
        if let Some(i) = ignores.iter().find(|i| names(i, f) && concerns(i, f)) {
            f.suppression = Some(Suppression {
                kind: SuppressionKind::Annotation,
                justification: i.reason.clone().unwrap_or_else(|| {
                    format!(
                        "kubeseg.io/ignore on {} {} (no reason given)",
                        i.kind,
                        object_name(i)
                    )
                }),
                location: Some(i.location.clone()),
            });
        }
    }
    let Some((file, entries)) = baseline else {
        return notes;
    };
    let mut unused: BTreeMap<&str, &BaselineEntry> = entries
        .iter()
        .map(|e| (e.fingerprint.as_str(), e))
        .collect();
    for f in findings.iter_mut() {
        let fingerprint = f.fingerprint();
        // The fingerprint finds the entry; code, title and endpoints must be equal too.
        let Some(entry) = entries.iter().find(|e| {
            e.fingerprint == fingerprint
                && e.code == f.rule.code
                && e.title == f.title
                && e.endpoints == f.endpoints
        }) else {
            continue;
        };
        unused.remove(fingerprint.as_str());
        if f.suppression.is_none() {
            f.suppression = Some(Suppression {
                kind: SuppressionKind::Baseline,
                justification: format!("accepted in the baseline {file}"),
                location: Some(entry.location.clone()),
            });
        }
    }
    let mut stale: Vec<&BaselineEntry> = unused.into_values().collect();
    stale.sort_by(|a, b| a.location.cmp(&b.location));
    for e in stale {
        notes.push(format!(
            "baseline entry {} {} ({}) matches no finding any more: it was fixed or changed; rewrite the baseline with --write-baseline",
            kubeseg_model::clip(&e.code),
            e.fingerprint,
            e.location
        ));
    }
    notes
}

fn object_name(i: &Ignore) -> String {
    if i.namespace.is_empty() {
        i.name.clone()
    } else {
        format!("{}/{}", i.namespace, i.name)
    }
}

/// Whether the annotation names the finding's rule.
fn names(i: &Ignore, f: &Finding) -> bool {
    i.codes.iter().any(|c| {
        c.eq_ignore_ascii_case(ALL) || c.eq_ignore_ascii_case(f.rule.code) || c == f.rule.name
    })
}

/// Whether the finding is about the annotated object: it is located inside the
/// object; its subject (its first endpoint: the workload, or a path's crown jewel) is
/// the annotated workload; or, on a Namespace, every endpoint (each end of a cut
/// connection `a → b` too) is that namespace or in it.
fn concerns(i: &Ignore, f: &Finding) -> bool {
    let inside = f.location.as_ref().is_some_and(|l| {
        l.file == i.location.file
            && (i.location.line, i.location.column) <= (l.line, l.column)
            && (l.line, l.column) <= i.end
    });
    if inside {
        return true;
    }
    if i.kind == "Namespace" {
        let prefix = format!("{}/", i.name);
        let in_ns = |e: &str| e == i.name || e.starts_with(&prefix);
        return !f.endpoints.is_empty() && f.endpoints.iter().all(|e| e.split(" → ").all(in_ns));
    }
    let id = format!("{}/{}[{}]", i.namespace, i.name, i.kind);
    f.endpoints.first() == Some(&id)
}
