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
    /// What [`Loaded::patch`] needs.
    pub(crate) index: crate::patch::Index,
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
    /// The text, or the error that stopped reading it.
    text: Result<String, Diagnostic>,
    /// Found by walking a directory (not named by the user).
    discovered: bool,
    /// `-n`: the namespace of objects that name none.
    namespace: Option<Arc<str>>,
    /// The operator descriptions (`None`: the built-in ones).
    operators: Option<Arc<crate::operators::Catalog>>,
}

impl Source {
    /// A decoding context for this source's text.
    fn ctx<'t>(&self, text: &'t str) -> Ctx<'t> {
        let mut ctx = Ctx::new(self.name.clone(), text);
        ctx.namespace = self.namespace.clone();
        ctx.operators = self.operators.clone();
        ctx
    }
}

/// Bounds on what one run reads.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest single input (a file, or standard input), in bytes.
    pub max_file_bytes: u64,
}

impl Limits {
    /// 512 MiB: several times the largest manifest set kubeseg is benchmarked on
    /// (150,000 pods), and small enough that `/dev/zero` stops in a second.
    pub const DEFAULT_MAX_FILE_BYTES: u64 = 512 << 20;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: Self::DEFAULT_MAX_FILE_BYTES,
        }
    }
}

/// Loads every manifest under `paths` with the default [`Limits`].
pub fn load(paths: &[String]) -> Loaded {
    load_with(paths, Limits::default())
}

/// Loads every manifest under `paths`. Directories are walked recursively for
/// `.yaml`, `.yml` and `.json` files in sorted order, each file read once however many
/// symbolic links lead to it; `-` reads standard input.
pub fn load_with(paths: &[String], limits: Limits) -> Loaded {
    load_in(paths, limits, None)
}

/// Loads as [`load_with`] does, with objects that name no namespace in `namespace`, as
/// `kubectl apply -n NAMESPACE` places them; an object of a namespaced kind that names
/// another namespace is an error, as kubectl refuses it.
pub fn load_in(paths: &[String], limits: Limits, namespace: Option<&str>) -> Loaded {
    load_opts(
        paths,
        &LoadOptions {
            limits,
            namespace: namespace.map(str::to_string),
            operators: None,
        },
    )
}

/// How to read the input.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Bounds on what is read.
    pub limits: Limits,
    /// `-n`: the namespace of objects that name none.
    pub namespace: Option<String>,
    /// Operator descriptions (`None`: the built-in ones).
    pub operators: Option<Arc<crate::operators::Catalog>>,
}

/// Loads as [`load_in`] does, with custom resources expanded by `options.operators`.
pub fn load_opts(paths: &[String], options: &LoadOptions) -> Loaded {
    let limits = options.limits;
    let namespace = options.namespace.as_deref();
    let mut diagnostics = Vec::new();
    let mut sources = Vec::new();
    for p in paths {
        if p == "-" {
            sources.push(Source {
                name: "-".into(),
                text: read_capped(std::io::stdin().lock(), "-".into(), limits),
                discovered: false,
                namespace: None,
                operators: None,
            });
            continue;
        }
        let path = Path::new(p);
        if path.is_dir() {
            let mut walk = Walk::default();
            walk.root(path);
            diagnostics.append(&mut walk.diagnostics);
            if walk.files.is_empty() {
                diagnostics.push(Diagnostic::error(
                    "no-manifests",
                    None,
                    format!("directory {p} holds no .yaml, .yml or .json file"),
                ));
            }
            sources.extend(walk.files.into_iter().map(|f| read(f, true, limits)));
        } else {
            sources.push(read(path.to_path_buf(), false, limits));
        }
    }
    let namespace: Option<Arc<str>> = namespace.map(Arc::from);
    for s in &mut sources {
        s.namespace = namespace.clone();
        s.operators = options.operators.clone();
    }
    load_sources(sources, diagnostics)
}

/// One object read from somewhere other than a file (a live cluster), named by where it
/// came from (`Pod/default/web-0`).
#[derive(Clone, Debug)]
pub struct NamedText {
    /// What locations in diagnostics name.
    pub name: String,
    /// The object's manifest (JSON or YAML).
    pub text: String,
}

/// Loads objects that were not read from files, as files would be: each text is decoded
/// on its own under its name, so a diagnostic says `Pod/default/web-0:12:7`.
pub fn load_texts(texts: Vec<NamedText>, options: &LoadOptions) -> Loaded {
    let sources = texts
        .into_iter()
        .map(|t| Source {
            name: t.name.into(),
            text: Ok(t.text),
            discovered: false,
            namespace: None,
            operators: options.operators.clone(),
        })
        .collect();
    load_sources(sources, Vec::new())
}

/// One text decoded on its own, kept so that a caller following a cluster decodes
/// only the objects that changed and assembles the cluster from the rest as they were.
#[derive(Clone, Debug, Default)]
pub struct DecodedText {
    pub(crate) decoded: Decoded,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

/// Decodes one text as [`load_texts`] would.
pub fn decode_text(text: NamedText, options: &LoadOptions) -> DecodedText {
    let source = Source {
        name: text.name.into(),
        text: Ok(text.text),
        discovered: false,
        namespace: None,
        operators: options.operators.clone(),
    };
    let (decoded, diagnostics) = decode_source(&source);
    DecodedText {
        decoded,
        diagnostics,
    }
}

/// Assembles decoded texts into what [`load_texts`] gives for the same texts.
pub fn assemble_texts<'d>(parts: impl IntoIterator<Item = &'d DecodedText>) -> Loaded {
    // A watch copies every object of the cluster on each change: on every core.
    let parts: Vec<&DecodedText> = parts.into_iter().collect();
    let results = parts
        .par_iter()
        .map(|p| (p.decoded.clone(), p.diagnostics.clone()))
        .collect();
    finish(results, 0, Vec::new())
}

/// Decodes and assembles what was read, with the diagnostics found while reading.
fn load_sources(sources: Vec<Source>, diagnostics: Vec<Diagnostic>) -> Loaded {
    let results: Vec<(Decoded, Vec<Diagnostic>)> = sources.par_iter().map(decode_source).collect();
    finish(results, sources.len(), diagnostics)
}

/// Assembles decoded sources into the cluster, sorting every diagnostic.
fn finish(
    results: Vec<(Decoded, Vec<Diagnostic>)>,
    files: usize,
    mut diagnostics: Vec<Diagnostic>,
) -> Loaded {
    let mut loaded = Loaded {
        files,
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
    let replaced;
    (loaded.cluster, loaded.misfiled, replaced, loaded.index) =
        crate::assemble::assemble_indexed(objects);
    diagnostics.extend(replaced);
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
        namespace: None,
        operators: None,
    });
    let (cluster, misfiled, replaced) = assemble(decoded.objects);
    diagnostics.extend(replaced);
    diagnostics.extend(unknown_nodes(&cluster));
    diagnostics.sort();
    Loaded {
        cluster,
        misfiled,
        diagnostics,
        skipped: decoded.skipped,
        files: 1,
        documents: decoded.documents,
        index: Default::default(),
    }
}

/// Reads one file (a spec, say) within `limits`, as manifests are read: capped in size,
/// and invalid UTF-8 located.
pub fn read_file(path: &str, limits: Limits) -> Result<String, Diagnostic> {
    read_text(Path::new(path), path.into(), limits)
}

fn read(path: PathBuf, discovered: bool, limits: Limits) -> Source {
    let name: Arc<str> = path.to_string_lossy().into();
    Source {
        text: read_text(&path, name.clone(), limits),
        name,
        discovered,
        namespace: None,
        operators: None,
    }
}

fn read_text(path: &Path, name: Arc<str>, limits: Limits) -> Result<String, Diagnostic> {
    let file = std::fs::File::open(path).map_err(|e| unreadable(&name, &e))?;
    // A regular file says its size: refuse an oversized one before reading it.
    if let Ok(m) = file.metadata()
        && m.is_file()
        && m.len() > limits.max_file_bytes
    {
        return Err(too_large(&name, limits));
    }
    read_capped(file, name, limits)
}

fn unreadable(name: &str, e: &std::io::Error) -> Diagnostic {
    Diagnostic::error("unreadable-path", None, format!("cannot read {name}: {e}"))
}

fn too_large(name: &str, limits: Limits) -> Diagnostic {
    Diagnostic::error(
        "input-too-large",
        None,
        format!(
            "{name} is larger than {} bytes, the most kubeseg reads from one input; raise it with --max-file-size",
            limits.max_file_bytes
        ),
    )
}

/// Reads at most `max_file_bytes` (a pipe or a device may never end) as UTF-8; the
/// first invalid byte is an error at its line and column.
fn read_capped(
    reader: impl std::io::Read,
    name: Arc<str>,
    limits: Limits,
) -> Result<String, Diagnostic> {
    let mut bytes = Vec::new();
    let read = reader
        .take(limits.max_file_bytes.saturating_add(1))
        .read_to_end(&mut bytes);
    if let Err(e) = read {
        return Err(unreadable(&name, &e));
    }
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(too_large(&name, limits));
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
        let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        // Columns count characters, as every other diagnostic's do.
        let column =
            std::str::from_utf8(&good[line_start..]).map_or(1, |l| l.chars().count() as u32 + 1);
        Diagnostic::error(
            "invalid-utf8",
            Some(kubeseg_model::Location {
                file: name,
                line,
                column,
            }),
            "the input is not valid UTF-8 here; Kubernetes manifests are UTF-8",
        )
    })
}

/// Whether a document looks like a Kubernetes object (or a bare list of them).
fn is_manifest(doc: &crate::tree::Node) -> bool {
    match &doc.value {
        crate::tree::Value::Seq(items) => items.iter().any(|i| i.get("kind").is_some()),
        _ => doc.get("kind").is_some(),
    }
}

/// What identifies a file or directory whatever the path to it.
fn file_id(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt as _;
    (m.dev(), m.ino())
}

/// A directory walk that reads each directory and file once, by device and inode.
#[derive(Default)]
struct Walk {
    files: Vec<PathBuf>,
    seen: std::collections::HashSet<(u64, u64)>,
    diagnostics: Vec<Diagnostic>,
}

impl Walk {
    /// Walks the directory `root`. Files come out in sorted path order: entries are
    /// visited sorted, depth first.
    fn root(&mut self, root: &Path) {
        match std::fs::metadata(root) {
            Ok(m) => self.dir(root, file_id(&m), &mut Vec::new()),
            Err(e) => self.unreadable(root, &e),
        }
    }

    /// Walks `dir` (device and inode `id`); `ancestors` are the directories above it,
    /// to tell a cycle from a second path to a directory already read.
    fn dir(&mut self, dir: &Path, id: (u64, u64), ancestors: &mut Vec<(u64, u64)>) {
        if ancestors.contains(&id) {
            self.warn("symlink-cycle", format!("{} leads back to a directory above it (a symbolic-link cycle); it is not followed", dir.display()));
            return;
        }
        if !self.seen.insert(id) {
            self.warn(
                "already-read",
                format!(
                    "{} is a directory already read through another path; it is read once",
                    dir.display()
                ),
            );
            return;
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .map(|e| e.map(|e| e.path()))
                .collect::<std::io::Result<Vec<_>>>(),
            Err(e) => Err(e),
        };
        let mut entries = match entries {
            Ok(e) => e,
            Err(e) => return self.unreadable(dir, &e),
        };
        // Sorted, so which of two paths to one file is read does not depend on the disk.
        entries.sort();
        ancestors.push(id);
        for path in entries {
            let manifest = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            );
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => self.dir(&path, file_id(&m), ancestors),
                _ if !manifest => {}
                Ok(m) if !m.is_file() => self.warn(
                    "not-a-file",
                    format!(
                        "{} is not a regular file (a pipe, socket or device) and is skipped",
                        path.display()
                    ),
                ),
                Ok(m) => {
                    if self.seen.insert(file_id(&m)) {
                        self.files.push(path);
                    } else {
                        self.warn("already-read", format!("{} is a file already read through another path (a link); it is read once", path.display()));
                    }
                }
                // A dangling link named like a manifest: reading it reports the error.
                Err(_) => self.files.push(path),
            }
        }
        ancestors.pop();
    }

    fn warn(&mut self, code: &'static str, message: String) {
        self.diagnostics
            .push(Diagnostic::warning(code, None, message));
    }

    fn unreadable(&mut self, dir: &Path, e: &std::io::Error) {
        let name = format!("directory {}", dir.display());
        self.diagnostics.push(unreadable(&name, e));
    }
}

fn decode_source(source: &Source) -> (Decoded, Vec<Diagnostic>) {
    let text = match &source.text {
        Ok(t) => t,
        Err(d) => return (Decoded::default(), vec![d.clone()]),
    };
    let first = text.trim_start().as_bytes().first().copied();
    let read = if matches!(first, Some(b'{' | b'[')) {
        // JSON is YAML too; the dedicated reader is faster, and YAML flow style that
        // is not JSON falls back to the YAML reader.
        decode_json(source, text).or_else(|e| match e.code {
            "syntax-error" => decode_yaml(source, text),
            _ => Err(e),
        })
    } else {
        decode_yaml(source, text)
    };
    match read {
        Ok(r) if !r.any_kind && is_kustomization(&source.name) => {
            // Older kustomization files have no `kind`.
            let d = Diagnostic::warning(
                "kustomize-tree",
                Some(source.ctx(text).loc(1, 1)),
                crate::decode::KUSTOMIZE_HINT,
            );
            (Decoded::default(), vec![d])
        }
        Ok(r) if source.discovered && r.documents_seen > 0 && !r.any_kind => {
            // A data file next to manifests (Helm values, tool output): not ours to read.
            let d = Diagnostic::warning(
                "not-a-manifest",
                Some(source.ctx(text).loc(1, 1)),
                "no document in this file has a `kind`; it is not a Kubernetes manifest and is skipped",
            );
            (Decoded::default(), vec![d])
        }
        Ok(r) => (r.decoded, r.diagnostics),
        Err(e) => {
            let mut ctx = source.ctx(text);
            let message = match e.code {
                "syntax-error" => format!("syntax error: {}", e.message),
                _ => e.message,
            };
            ctx.error_at(e.line, e.column, e.code, message);
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
            // Pieces start at line starts; `line` lines come before.
            let mut ctx = source.ctx(text).starting_at(line as usize, start);
            let mut read = FileRead::default();
            let duplicates = crate::yaml::parse_documents_with(&text[start..end], line, |doc| {
                read.documents_seen += 1;
                read.any_kind |= is_manifest(&doc);
                decode_document(&mut ctx, &doc, &mut read.decoded);
            })?;
            ctx.duplicate_keys(&duplicates);
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

/// Decodes the items of a JSON input in order, setting aside those without a kind.
struct ItemDecoder<'a> {
    ctx: Ctx<'a>,
    read: FileRead,
    pending: Vec<crate::tree::Node>,
}

impl ItemDecoder<'_> {
    fn item(&mut self, node: crate::tree::Node) {
        self.read.documents_seen += 1;
        if node.get("kind").is_some() {
            self.read.any_kind = true;
            decode_object(&mut self.ctx, &node, None, &mut self.read.decoded);
        } else {
            self.pending.push(node);
        }
    }
}

fn decode_json(source: &Source, text: &str) -> Result<FileRead, crate::yaml::SyntaxError> {
    decode_json_in_runs(source, text, CHUNK_BYTES)
}

/// `decode_json`; a list of at least `run_bytes` has its items parsed and decoded in
/// runs of about that size, in parallel, then put back in order.
fn decode_json_in_runs(
    source: &Source,
    text: &str,
    run_bytes: usize,
) -> Result<FileRead, crate::yaml::SyntaxError> {
    let mut top: Option<crate::tree::Node> = None;
    let mut decoder = ItemDecoder {
        ctx: source.ctx(text),
        read: FileRead::default(),
        pending: Vec::new(),
    };
    let runs = (text.len() >= run_bytes)
        .then(|| crate::json::item_runs(text, run_bytes))
        .flatten();
    let mut duplicates = Vec::new();
    if let Some(runs) = &runs {
        let pieces: Vec<_> = runs
            .runs
            .par_iter()
            .map(|run| {
                let line = (run.line as usize).saturating_sub(1);
                let mut d = ItemDecoder {
                    ctx: source.ctx(text).starting_at(line, run.line_start),
                    read: FileRead::default(),
                    pending: Vec::new(),
                };
                crate::json::parse_run(text, run, |node| d.item(node)).map(|dups| (d, dups))
            })
            .collect();
        let outside = crate::json::parse_json_skipping(text, Some(runs), |piece| {
            if let crate::json::Piece::Top(node) = piece {
                top = Some(node);
            }
        });
        // The error a reader going front to back meets first.
        let first_error = pieces
            .iter()
            .filter_map(|p| p.as_ref().err())
            .chain(outside.as_ref().err())
            .min_by_key(|e| (e.line, e.column))
            .cloned();
        if let Some(e) = first_error {
            return Err(e);
        }
        duplicates.extend(outside.unwrap_or_default());
        for (d, dups) in pieces.into_iter().flatten() {
            decoder.ctx.diagnostics.extend(d.ctx.diagnostics);
            decoder.read.merge(d.read);
            decoder.pending.extend(d.pending);
            duplicates.extend(dups);
        }
    } else {
        duplicates = crate::json::parse_json(text, |piece| match piece {
            crate::json::Piece::Item(node) => decoder.item(node),
            crate::json::Piece::Top(node) => top = Some(node),
        })?;
    }
    let saw_items = decoder.read.documents_seen > 0;
    let ItemDecoder {
        mut ctx,
        mut read,
        pending,
    } = decoder;
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
    ctx.duplicate_keys(&duplicates);
    read.diagnostics = ctx.diagnostics;
    Ok(read)
}

/// Whether a file is named as kustomize names its configuration.
fn is_kustomization(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    matches!(
        base,
        "kustomization.yaml" | "kustomization.yml" | "Kustomization"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kubectl-style list: objects with and without their kind (the list's implies
    /// it), duplicate keys and invalid names, whose diagnostics must all survive.
    fn list(items: usize) -> String {
        let mut out = String::from("{\"apiVersion\": \"v1\", \"items\": [\n");
        for i in 0..items {
            if i > 0 {
                out.push_str(",\n");
            }
            let kind = if i % 3 == 0 {
                ""
            } else {
                "\"kind\": \"Pod\", "
            };
            let name = if i % 50 == 7 {
                "Bad_Name".to_string()
            } else {
                format!("p{i}")
            };
            out.push_str(&format!(
                "{{{kind}\"apiVersion\": \"v1\", \"metadata\": {{\"name\": \"{name}\", \"namespace\": \"n{}\", \"labels\": {{\"app\": \"a{}\", \"app\": \"b\"}}}}, \"spec\": {{\"containers\": [{{\"name\": \"c\", \"image\": \"x\"}}]}}}}",
                i % 7,
                i % 11
            ));
        }
        out.push_str("\n], \"kind\": \"PodList\"}\n");
        out
    }

    /// What reading `text` gives, in runs of `run_bytes` (diagnostics sorted, as
    /// loading sorts them).
    fn read(text: &str, run_bytes: usize) -> String {
        let source = Source {
            name: Arc::from("list.json"),
            text: Ok(text.to_string()),
            discovered: false,
            namespace: None,
            operators: None,
        };
        let r = decode_json_in_runs(&source, text, run_bytes).map(|mut r| {
            r.diagnostics.sort();
            (r.decoded, r.diagnostics, r.documents_seen, r.any_kind)
        });
        format!("{r:?}")
    }

    #[test]
    fn a_json_list_read_in_parallel_runs_reads_as_in_one_pass() {
        let text = list(3000);
        assert!(crate::json::item_runs(&text, 4096).is_some_and(|r| r.runs.len() > 50));
        let whole = read(&text, usize::MAX);
        assert!(
            whole.contains("Bad_Name") && whole.contains("p2999"),
            "{whole}"
        );
        assert!(whole.contains("duplicate"), "{whole}");
        assert_eq!(whole, read(&text, 4096));
        // Syntax errors: in an item, in a later item too (the first is reported), a
        // trailing comma, and after the list.
        for broken in [
            text.replacen("\"p1500\"", "\"p1500", 1),
            text.replacen("\"p900\"", "\"p900\" 1", 1)
                .replacen("\"p2900\"", "x", 1),
            text.replacen("\n]", ",\n]", 1),
            text.replacen("\"PodList\"", "PodList", 1),
        ] {
            let error = read(&broken, usize::MAX);
            assert!(error.starts_with("Err("), "{error}");
            assert_eq!(error, read(&broken, 4096));
        }
    }

    #[test]
    fn damaged_json_lists_read_the_same_in_runs() {
        // Deterministic pseudo-random damage: one byte deleted or inserted at a time,
        // among the bytes that change JSON's structure.
        let text = list(60);
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) as usize % n
        };
        let (mut errors, mut in_runs) = (0, 0);
        for _ in 0..400 {
            let mut bytes = text.clone().into_bytes();
            let at = next(bytes.len());
            if next(2) == 0 {
                bytes.remove(at);
            } else {
                bytes.insert(at, b",]}{[\": \\x1\n"[next(11)]);
            }
            let Ok(damaged) = String::from_utf8(bytes) else {
                continue;
            };
            let whole = read(&damaged, usize::MAX);
            errors += usize::from(whole.starts_with("Err("));
            in_runs += usize::from(crate::json::item_runs(&damaged, 256).is_some());
            assert_eq!(whole, read(&damaged, 256), "{damaged}");
        }
        // The damage is not all harmless, and most damaged lists are still cut in runs.
        assert!(
            errors > 100 && in_runs > 200,
            "{errors} errors, {in_runs} in runs"
        );
    }
}
