//! Paths (files, directories, `-`) into a cluster and diagnostics.

use crate::assemble::assemble;
use crate::decode::{Decoded, ctx::Ctx, decode_documents};
use crate::yaml::parse_documents;
use kubeseg_model::{Cluster, Diagnostic, Severity};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The result of loading: never fails; problems are diagnostics.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The cluster built from every object that decoded cleanly.
    pub cluster: Cluster,
    /// Every problem found, sorted by location.
    pub diagnostics: Vec<Diagnostic>,
    /// Objects of kinds kubeseg does not model, counted by kind.
    pub skipped: BTreeMap<String, usize>,
    /// Manifest files read.
    pub files: usize,
    /// Objects read (List items individually).
    pub documents: usize,
}

impl Loaded {
    /// Whether any diagnostic is an error (the answer must not be given).
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

struct Source {
    name: Arc<str>,
    text: Result<String, String>,
    /// Found by walking a directory (not named by the user).
    discovered: bool,
}

/// Loads every manifest under `paths`. Directories are walked recursively for
/// `.yaml`, `.yml` and `.json` files in sorted order; `-` reads standard input.
pub fn load(paths: &[String]) -> Loaded {
    let mut diagnostics = Vec::new();
    let mut sources = Vec::new();
    for p in paths {
        if p == "-" {
            let mut text = String::new();
            let text = std::io::stdin()
                .read_to_string(&mut text)
                .map(|_| text)
                .map_err(|e| e.to_string());
            sources.push(Source {
                name: "-".into(),
                text,
                discovered: false,
            });
            continue;
        }
        let path = Path::new(p);
        if path.is_dir() {
            let mut files = Vec::new();
            if let Err(e) = walk(path, &mut files) {
                diagnostics.push(Diagnostic::error(
                    "unreadable-path",
                    None,
                    format!("cannot read directory {p}: {e}"),
                ));
            }
            if files.is_empty() {
                diagnostics.push(Diagnostic::error(
                    "no-manifests",
                    None,
                    format!("directory {p} holds no .yaml, .yml or .json file"),
                ));
            }
            files.sort();
            sources.extend(files.into_iter().map(|f| read(f, true)));
        } else {
            sources.push(read(path.to_path_buf(), false));
        }
    }
    let results: Vec<(Decoded, Vec<Diagnostic>)> = sources.par_iter().map(decode_source).collect();
    let mut loaded = Loaded {
        files: sources.len(),
        ..Loaded::default()
    };
    let mut objects = Vec::new();
    for (decoded, diags) in results {
        objects.extend(decoded.objects);
        for (k, n) in decoded.skipped {
            *loaded.skipped.entry(k).or_default() += n;
        }
        loaded.documents += decoded.documents;
        diagnostics.extend(diags);
    }
    if loaded.documents == 0 && !diagnostics.iter().any(|d| d.severity == Severity::Error) {
        diagnostics.push(Diagnostic::error(
            "empty-input",
            None,
            "the input holds no Kubernetes object",
        ));
    }
    loaded.cluster = assemble(objects);
    diagnostics.sort();
    diagnostics.dedup();
    loaded.diagnostics = diagnostics;
    loaded
}

/// Loads manifests from a string (for tests and embedding).
pub fn load_str(name: &str, text: &str) -> Loaded {
    let (decoded, mut diagnostics) = decode_source(&Source {
        name: name.into(),
        text: Ok(text.to_string()),
        discovered: false,
    });
    diagnostics.sort();
    Loaded {
        cluster: assemble(decoded.objects),
        diagnostics,
        skipped: decoded.skipped,
        files: 1,
        documents: decoded.documents,
    }
}

fn read(path: PathBuf, discovered: bool) -> Source {
    let name: Arc<str> = path.to_string_lossy().into();
    Source {
        name,
        text: std::fs::read_to_string(&path).map_err(|e| e.to_string()),
        discovered,
    }
}

/// Whether a document looks like a Kubernetes object (or a bare list of them).
fn is_manifest(doc: &crate::tree::Node) -> bool {
    match &doc.value {
        crate::tree::Value::Seq(items) => items.iter().any(|i| i.get("kind").is_some()),
        _ => doc.get("kind").is_some(),
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

fn decode_source(source: &Source) -> (Decoded, Vec<Diagnostic>) {
    let text = match &source.text {
        Ok(t) => t,
        Err(e) => {
            return (
                Decoded::default(),
                vec![Diagnostic::error(
                    "unreadable-path",
                    None,
                    format!("cannot read {}: {e}", source.name),
                )],
            );
        }
    };
    let mut ctx = Ctx::new(source.name.clone(), text);
    match parse_documents(text) {
        Ok(docs) if source.discovered && !docs.is_empty() && !docs.iter().any(is_manifest) => {
            // A data file next to manifests (Helm values, tool output): not ours to read.
            let d = kubeseg_model::Diagnostic::warning(
                "not-a-manifest",
                Some(ctx.loc(1, 1)),
                "no document in this file has a `kind`; it is not a Kubernetes manifest and is skipped",
            );
            (Decoded::default(), vec![d])
        }
        Ok(docs) => {
            let decoded = decode_documents(&mut ctx, &docs);
            (decoded, ctx.diagnostics)
        }
        Err(e) => {
            ctx.error_at(
                e.line,
                e.column,
                "syntax-error",
                format!("syntax error: {}", e.message),
            );
            (Decoded::default(), ctx.diagnostics)
        }
    }
}
