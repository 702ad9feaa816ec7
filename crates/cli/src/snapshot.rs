//! `kubeseg snapshot`: what kubeseg reads of a cluster, written as manifests.

use crate::args::SnapshotArgs;
use anyhow::{Context, Result, bail};
use kubeseg_live::ReadObject;
use kubeseg_model::Severity;
use kubeseg_report::diagnostics;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Reads the cluster and writes one YAML file per kind into the output directory;
/// returns the summary printed on stdout.
pub(crate) fn run(a: &SnapshotArgs) -> Result<String> {
    let dir = Path::new(&a.output);
    if dir.exists() {
        let mut entries =
            std::fs::read_dir(dir).with_context(|| format!("cannot read {}", a.output))?;
        if entries.next().is_some() {
            bail!(
                "{} is not empty: a snapshot goes into a new or empty directory",
                a.output
            );
        }
    }
    let target = a.live.target().unwrap_or_default();
    let read = kubeseg_live::read_cluster(&target, &crate::operator_kinds())?;
    if !read.diagnostics.is_empty() {
        note_text!(diagnostics::text(&read.diagnostics));
    }
    let mut files: BTreeMap<String, Vec<&ReadObject>> = BTreeMap::new();
    for o in &read.objects {
        files.entry(file_name(o)).or_default().push(o);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", a.output))?;
    let mut out = String::new();
    for (name, objects) in &files {
        let values: Vec<serde_json::Value> = objects.iter().map(|o| o.value()).collect();
        let text = kubeseg_live::manifest::yaml_stream(&values);
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        let _ = writeln!(out, "{:>7}  {}", objects.len(), path.display());
    }
    let _ = writeln!(
        out,
        "wrote {} objects of {} kinds to {}",
        read.objects.len(),
        files.len(),
        a.output
    );
    let unreadable: Vec<_> = read
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .collect();
    if !unreadable.is_empty() {
        let _ = writeln!(
            out,
            "incomplete: {} kinds could not be read (see the warnings above); answers from this snapshot leave them out",
            unreadable.len()
        );
    }
    Ok(out)
}

/// `Pod.yaml`, or with the group outside the built-in ones `NetworkPolicy.projectcalico.org.yaml`.
fn file_name(o: &ReadObject) -> String {
    if kubeseg_live::kinds::qualified(&o.group) {
        format!("{}.{}.yaml", o.kind, o.group)
    } else {
        format!("{}.yaml", o.kind)
    }
}
