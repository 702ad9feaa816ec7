//! `kubeseg lint`: every problem of the input, and every misleading policy, as findings.

use crate::args::{LintArgs, LintFormat};
use crate::audit::{addresses, codes_in, select, threshold, use_color};
use anyhow::{Context, Result};
use kubeseg_analyses::Finding;
use kubeseg_analyses::lint::{LintConfig, lint, registry};
use kubeseg_engine::Engine;
use kubeseg_model::Location;
use kubeseg_report::lint::{LintFormat as Format, render};
use std::cell::RefCell;
use std::collections::HashMap;

/// Runs lint; returns the output and whether `--fail-on` was reached. Invalid manifests
/// are findings here, not errors: lint reports every problem of the input.
pub fn run(a: &LintArgs) -> Result<(String, bool)> {
    let rules = registry();
    let only = codes_in(&rules, &a.only).context("--only")?;
    let skip = codes_in(&rules, &a.skip).context("--skip")?;
    let mut config = LintConfig {
        mesh: kubeseg_engine::mesh::MeshOptions {
            trust_domain: a.trust_domain.clone(),
            root_namespace: a.istio_root_namespace.clone(),
        },
        ..Default::default()
    };
    for s in &a.pod_cidr {
        config.pod_cidrs.push((
            s.clone(),
            addresses(s).with_context(|| format!("--pod-cidr {s}"))?,
        ));
    }
    for s in &a.service_cidr {
        config.service_cidrs.push((
            s.clone(),
            addresses(s).with_context(|| format!("--service-cidr {s}"))?,
        ));
    }
    let mut loaded = crate::load_source(&a.paths, &a.live)?;
    crate::leave_out_unenforced(a.cni, &mut loaded);
    let options = crate::engine_options(a.cni, false, &loaded.cluster);
    let mut engine = Engine::new(&loaded.cluster, options);
    let mut report = lint(&mut engine, &loaded.diagnostics, &loaded.misfiled, &config);
    let notes =
        kubeseg_analyses::suppress::apply(&mut report.findings, &loaded.cluster.ignores, None);
    report.notes.extend(notes);
    let findings: Vec<&Finding> = select(&report.findings, &only, &skip);
    let fail = findings
        .iter()
        .any(|f| f.suppression.is_none() && f.severity >= threshold(a.fail_on));
    let format = match a.format {
        LintFormat::Text => Format::Text,
        LintFormat::Json => Format::Json,
        LintFormat::Sarif => Format::Sarif,
    };
    // Source lines for the text rendering: the loader's snippets (stdin cannot be read
    // twice), else the file, read once.
    let snippets: HashMap<(String, u32), String> = loaded
        .diagnostics
        .iter()
        .filter_map(|d| {
            let loc = d.location.as_ref()?;
            Some(((loc.file.to_string(), loc.line), d.snippet.clone()?))
        })
        .collect();
    let files: RefCell<HashMap<String, Option<Vec<String>>>> = RefCell::new(HashMap::new());
    let source = |loc: &Location| -> Option<String> {
        if let Some(s) = snippets.get(&(loc.file.to_string(), loc.line)) {
            return Some(s.clone());
        }
        if &*loc.file == "-" {
            return None;
        }
        let mut files = files.borrow_mut();
        let lines = files.entry(loc.file.to_string()).or_insert_with(|| {
            std::fs::read_to_string(&*loc.file)
                .ok()
                .map(|t| t.lines().map(str::to_string).collect())
        });
        lines
            .as_ref()?
            .get(loc.line.checked_sub(1)? as usize)
            .cloned()
    };
    let out = render(
        format,
        &findings,
        &report.notes,
        &rules,
        &source,
        use_color(a.color),
    );
    Ok((out, fail))
}
