//! Paths (files, directories, `-`) into a cluster and diagnostics.

use crate::assemble::assemble;
use crate::decode::{Decoded, ctx::Ctx, decode_document, decode_object};
use kubeseg_model::{Cluster, Diagnostic, Severity};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::Read as _;
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
    /// Policy-shaped documents under another apiVersion or kind (each has a `wrong-kind`
    /// warning), read as the policies they were meant to be; never part of `cluster`.
    pub misfiled: crate::assemble::Misfiled,
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
    (loaded.cluster, loaded.misfiled) = assemble(objects);
    diagnostics.extend(unknown_nodes(&loaded.cluster));
    diagnostics.sort();
    diagnostics.dedup();
    loaded.diagnostics = diagnostics;
    loaded
}

/// A `nodes` peer can only match the addresses of Node objects; without any in the
/// input it matches nothing, which must be said.
fn unknown_nodes(cluster: &kubeseg_model::Cluster) -> Vec<Diagnostic> {
    if !cluster.nodes.is_empty() {
        return Vec::new();
    }
    cluster
        .cluster_policies
        .iter()
        .flat_map(|p| p.ingress.iter().chain(&p.egress))
        .flat_map(|r| &r.peers)
        .filter(|peer| matches!(peer.kind, kubeseg_model::TierPeerKind::Nodes(_)))
        .map(|peer| {
            Diagnostic::warning(
                "nodes-unknown",
                peer.location.clone(),
                "the input holds no Node object, so this `nodes` peer matches no address; add the Nodes (`kubectl get nodes -o yaml`) for a verdict on node traffic",
            )
        })
        .collect()
}

/// Loads manifests from a string (for tests and embedding).
pub fn load_str(name: &str, text: &str) -> Loaded {
    let (decoded, mut diagnostics) = decode_source(&Source {
        name: name.into(),
        text: Ok(text.to_string()),
        discovered: false,
    });
    let (cluster, misfiled) = assemble(decoded.objects);
    diagnostics.extend(unknown_nodes(&cluster));
    diagnostics.sort();
    Loaded {
        cluster,
        misfiled,
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
    let first = text.trim_start().as_bytes().first().copied();
    let read = if matches!(first, Some(b'{' | b'[')) {
        // JSON is YAML too; the dedicated reader is faster, and YAML flow style that
        // is not JSON falls back to the YAML reader.
        decode_json(source, text).or_else(|_| decode_yaml(source, text))
    } else {
        decode_yaml(source, text)
    };
    match read {
        Ok(r) if source.discovered && r.documents_seen > 0 && !r.any_kind => {
            // A data file next to manifests (Helm values, tool output): not ours to read.
            let d = Diagnostic::warning(
                "not-a-manifest",
                Some(Ctx::new(source.name.clone(), text).loc(1, 1)),
                "no document in this file has a `kind`; it is not a Kubernetes manifest and is skipped",
            );
            (Decoded::default(), vec![d])
        }
        Ok(r) => (r.decoded, r.diagnostics),
        Err(e) => {
            let mut ctx = Ctx::new(source.name.clone(), text);
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

/// What reading one file produced.
#[derive(Default)]
struct FileRead {
    decoded: Decoded,
    diagnostics: Vec<Diagnostic>,
    documents_seen: usize,
    any_kind: bool,
}

impl FileRead {
    fn merge(&mut self, other: FileRead) {
        self.decoded.objects.extend(other.decoded.objects);
        for (k, n) in other.decoded.skipped {
            *self.decoded.skipped.entry(k).or_default() += n;
        }
        self.decoded.documents += other.decoded.documents;
        self.diagnostics.extend(other.diagnostics);
        self.documents_seen += other.documents_seen;
        self.any_kind |= other.any_kind;
    }
}

/// Pieces of at least this size are parsed in parallel.
const CHUNK_BYTES: usize = 1 << 20;

fn decode_yaml(source: &Source, text: &str) -> Result<FileRead, crate::yaml::SyntaxError> {
    let cuts = crate::yaml::document_chunks(text, CHUNK_BYTES);
    let pieces: Vec<Result<FileRead, crate::yaml::SyntaxError>> = cuts
        .par_iter()
        .enumerate()
        .map(|(i, &(start, line))| {
            let end = cuts.get(i + 1).map_or(text.len(), |c| c.0);
            let mut ctx = Ctx::new(source.name.clone(), text);
            let mut read = FileRead::default();
            crate::yaml::parse_documents_with(&text[start..end], line, |doc| {
                read.documents_seen += 1;
                read.any_kind |= is_manifest(&doc);
                decode_document(&mut ctx, &doc, &mut read.decoded);
            })?;
            read.diagnostics = ctx.diagnostics;
            Ok(read)
        })
        .collect();
    let mut all = FileRead::default();
    for piece in pieces {
        all.merge(piece?);
    }
    Ok(all)
}

fn decode_json(source: &Source, text: &str) -> Result<FileRead, crate::yaml::SyntaxError> {
    let mut ctx = Ctx::new(source.name.clone(), text);
    let mut read = FileRead::default();
    let mut pending: Vec<crate::tree::Node> = Vec::new();
    let mut top: Option<crate::tree::Node> = None;
    let mut saw_items = false;
    crate::json::parse_json(text, |piece| match piece {
        crate::json::Piece::Item(node) => {
            saw_items = true;
            read.documents_seen += 1;
            if node.get("kind").is_some() {
                read.any_kind = true;
                decode_object(&mut ctx, &node, None, &mut read.decoded);
            } else {
                pending.push(node);
            }
        }
        crate::json::Piece::Top(node) => top = Some(node),
    })?;
    // Items of a typed list (`PodList`) may omit their kind; the list's kind, which
    // kubectl writes after the items, implies it.
    let list_kind = top
        .as_ref()
        .and_then(|t| t.get("kind"))
        .and_then(|k| k.as_str())
        .map(str::to_string);
    let implied = list_kind
        .as_deref()
        .and_then(|k| k.strip_suffix("List"))
        .filter(|k| !k.is_empty());
    for node in &pending {
        decode_object(&mut ctx, node, implied, &mut read.decoded);
    }
    if let Some(top) = top {
        read.documents_seen += 1;
        let is_list = list_kind.as_deref().is_some_and(|k| k.ends_with("List"));
        read.any_kind |= list_kind.is_some();
        if !(saw_items && is_list) {
            decode_document(&mut ctx, &top, &mut read.decoded);
        }
    }
    read.diagnostics = ctx.diagnostics;
    Ok(read)
}
