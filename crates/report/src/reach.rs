//! `kubeseg reach` output: the connection list and its grouped (compact) form.
//!
//! # JSON contract (schemaVersion 3)
//! ```text
//! { "schemaVersion": 3,
//!   "endpoints": [ {"id": "prod/web[Deployment]", "kind": "Deployment", "namespace": "prod", "name": "web"},
//!                  {"id": "0.0.0.0-9.255.255.255", "kind": "External", "ranges": ["0.0.0.0-9.255.255.255"]} ],
//!   "connections": [ {"src": "<id>", "dst": "<id>",
//!                     "allowed": {"TCP": [[80, 80]], "UDP": [], "SCTP": [],
//!                                 "ICMP": [[2048, 2303]], "ICMPv6": []}} ] }
//! ```
//! `allowed` has all five keys. TCP, UDP and SCTP hold inclusive port ranges (1-65535);
//! ICMP (IPv4) and ICMPv6 hold inclusive ranges of messages numbered `type * 256 +
//! code` (0-65535): `[[0, 65535]]` is every message, `[[2048, 2303]]` type 8 (echo
//! request) with any code, `[[2048, 2048]]` type 8 code 0. A rule without ports allows
//! every protocol, ICMP included; a rule with ports allows only those. The text forms
//! write `ICMP`, `ICMP 8`, `ICMP 3-5`, `ICMP 8/0`, `ICMPv6 128`; `All Connections` is
//! every port and every ICMP and ICMPv6 message. (schemaVersion 3 added the ICMP keys.)
//! `endpoints` lists every endpoint among the sources and destinations, sorted by id;
//! `connections` are sorted by source then destination label.
//! Compact: `"groups": [{"id": "g0", "members": ["<endpoint id>", ...]}]` and
//! `"connections": [{"src": "g0", "dst": "g1", "allowed": {...}}]`, plus `"endpoints"`.
//! When the input holds objects that change connectivity but that kubeseg does not
//! model, `"unmodelled": ["<message> (<file:line:column>)", ...]` closes the document
//! (every other command's JSON has the same top-level list; text formats end with them).

use crate::{Format, PortsJson, SCHEMA_VERSION};
use kubeseg_engine::compact::{self, CollisionError, Group};
use kubeseg_engine::mesh::{Annotation, Annotator, AnnotatorSeed, Decision};
use kubeseg_engine::portsets::{PortSetId, PortSets};
use kubeseg_engine::{Endpoint, Engine};
use kubeseg_model::PortSet;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::io::Write;
use std::rc::Rc;
use std::sync::Arc;

#[derive(Serialize)]
struct EndpointJson {
    id: String,
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ranges: Option<Vec<String>>,
}

#[derive(Serialize)]
struct GroupJson {
    id: String,
    members: Vec<String>,
}

fn endpoint_json(engine: &Engine, e: usize) -> EndpointJson {
    match &engine.endpoints()[e] {
        Endpoint::Workload { workload, .. } => {
            let w = &engine.cluster.workloads[*workload];
            EndpointJson {
                id: w.id(),
                kind: w.kind.clone(),
                namespace: Some(w.namespace.clone()),
                name: Some(w.name.clone()),
                ranges: None,
            }
        }
        Endpoint::External { addresses, .. } => EndpointJson {
            id: engine.endpoint_id(e),
            kind: "External".into(),
            namespace: None,
            name: None,
            ranges: Some(addresses.range_strings()),
        },
        Endpoint::Domain { name, .. } => EndpointJson {
            id: engine.endpoint_id(e),
            kind: "Domain".into(),
            namespace: None,
            name: Some(name.clone()),
            ranges: None,
        },
    }
}

/// The label of an endpoint in text formats: external atoms carry `[External]`.
pub fn label(engine: &Engine, e: usize) -> String {
    match &engine.endpoints()[e] {
        Endpoint::Workload { .. } | Endpoint::Domain { .. } => engine.endpoint_id(e),
        Endpoint::External { .. } => format!("{}[External]", engine.endpoint_id(e)),
    }
}

/// Writes the connection list from `sources` to `destinations` as it is computed,
/// sorted by source then destination label, without holding it in memory.
pub fn write_connections(
    engine: &mut Engine,
    sources: &[usize],
    destinations: &[usize],
    format: Format,
    mesh: Option<&mut Annotator>,
    unmodelled: &[String],
    out: &mut dyn Write,
) -> io::Result<()> {
    let n = engine.endpoints().len();
    let labels: Vec<String> = (0..n).map(|e| label(engine, e)).collect();
    let by_label = |list: &[usize]| {
        let mut v = list.to_vec();
        v.sort_by(|a, b| labels[*a].cmp(&labels[*b]));
        v
    };
    let (src_order, dst_order) = (by_label(sources), by_label(destinations));
    let json_ids: Vec<String> = if format == Format::Json {
        (0..n)
            .map(|e| serde_json::to_string(&engine.endpoint_id(e)).unwrap_or_default())
            .collect()
    } else {
        Vec::new()
    };
    let involved: Vec<usize> = sources.iter().chain(destinations).copied().collect();
    let nodes: Vec<&String> = involved.iter().map(|&e| &labels[e]).collect();
    write_header(out, format, engine, &involved, None, nodes)?;
    let mut lines = Lines::new(format, out, unmodelled);
    // The annotator needs endpoints while rows borrow the engine.
    let endpoints: Vec<Endpoint> = if mesh.is_some() {
        engine.endpoints().to_vec()
    } else {
        Vec::new()
    };
    let seed = mesh.as_deref().map(Annotator::seed);
    let json = format == Format::Json;
    // Each thread renders whole sources; the lines are written in source order.
    engine.reach.par_for_each_ordered(
        &src_order,
        || RowThread {
            rows: SourceRow::default(),
            renderer: LineRenderer::new(format),
            annotator: seed.as_ref().map(AnnotatorSeed::annotator),
            notes: HashMap::new(),
        },
        |t, worker, src| {
            t.rows.compute(worker, src);
            let port_sets = worker.sets();
            let mut text = String::new();
            for &dst in &dst_order {
                let p = t.rows.row[dst];
                if dst == src || p == PortSetId::EMPTY {
                    continue;
                }
                let (js, jd) = if json {
                    (json_ids[src].as_str(), json_ids[dst].as_str())
                } else {
                    ("", "")
                };
                let note = t.annotator.as_mut().and_then(|m| {
                    let ports = port_sets.get(p);
                    mesh_note(m, &mut t.notes, &endpoints, src, dst, p, ports, format)
                });
                let line = Line {
                    src: &labels[src],
                    dst: &labels[dst],
                    json_src: js,
                    json_dst: jd,
                    ports: p,
                    mesh: note,
                };
                t.renderer.line(&mut text, line, port_sets);
            }
            text
        },
        |text| lines.text(&text),
    );
    lines.finish()
}

/// Every allowed connection from `sources` to `destinations`, as `write_connections`
/// lists them in JSON, handed to `each` in source order as (source, destination, tail):
/// the tail is what follows the destination on the JSON line (`, "allowed": {…}`, the
/// mesh note when there is one, and `}`), so a caller that keeps connections (`kubeseg
/// watch`) never renders or parses whole lines. Equal tails rendered by one thread
/// share one allocation.
pub fn json_connections(
    engine: &mut Engine,
    sources: &[usize],
    destinations: &[usize],
    mesh: Option<&mut Annotator>,
    mut each: impl FnMut(usize, usize, &Arc<str>),
) {
    let endpoints: Vec<Endpoint> = if mesh.is_some() {
        engine.endpoints().to_vec()
    } else {
        Vec::new()
    };
    let seed = mesh.as_deref().map(Annotator::seed);
    engine.reach.par_for_each_ordered(
        sources,
        || TailThread {
            rows: SourceRow::default(),
            annotator: seed.as_ref().map(AnnotatorSeed::annotator),
            notes: HashMap::new(),
            tails: HashMap::new(),
        },
        |t, worker, src| {
            t.rows.compute(worker, src);
            let port_sets = worker.sets();
            let mut out = Vec::new();
            for &dst in destinations {
                let p = t.rows.row[dst];
                if dst == src || p == PortSetId::EMPTY {
                    continue;
                }
                let note = t.annotator.as_mut().and_then(|m| {
                    let ports = port_sets.get(p);
                    mesh_note(
                        m,
                        &mut t.notes,
                        &endpoints,
                        src,
                        dst,
                        p,
                        ports,
                        Format::Json,
                    )
                });
                let tail = t
                    .tails
                    .entry((p, note))
                    .or_insert_with_key(|(p, note)| {
                        let ports = serde_json::to_string(&PortsJson::from_set(port_sets.get(*p)))
                            .unwrap_or_default();
                        Arc::from(json_tail(&ports, note.as_deref().unwrap_or_default()))
                    })
                    .clone();
                out.push((dst, tail));
            }
            (src, out)
        },
        |(src, cells)| {
            for (dst, tail) in &cells {
                each(src, *dst, tail);
            }
        },
    );
}

/// [`json_connections`] toward a few `destinations`: each source's row is computed
/// only over them where the engine can (`par_sparse_rows`), not over every endpoint.
/// Lines come in no particular order.
pub fn json_connections_to(
    engine: &mut Engine,
    sources: &[usize],
    destinations: &[usize],
    mut mesh: Option<&mut Annotator>,
    mut each: impl FnMut(usize, usize, &Arc<str>),
) {
    // Sources with equal ingress keys share the ingress side of their rows, which each
    // thread keeps for the next source: taken together, it is computed once.
    let mut sources = sources.to_vec();
    sources.sort_by_key(|&e| (engine.reach.endpoint_ingress_key(e), e));
    let mut cells: Vec<(usize, usize, PortSetId)> = Vec::new();
    engine
        .reach
        .par_sparse_rows(&sources, destinations, |src, row| {
            for &(j, p) in row {
                let dst = destinations[j as usize];
                if dst != src {
                    cells.push((src, dst, p));
                }
            }
        });
    let endpoints = engine.endpoints();
    let port_sets = engine.reach.port_sets();
    let mut notes = HashMap::new();
    let mut tails: HashMap<(PortSetId, Option<String>), Arc<str>> = HashMap::new();
    for (src, dst, p) in cells {
        let ports = port_sets.get(p);
        let note = (mesh.as_deref_mut())
            .and_then(|m| mesh_note(m, &mut notes, endpoints, src, dst, p, ports, Format::Json));
        let tail = tails.entry((p, note)).or_insert_with_key(|(p, note)| {
            let ports =
                serde_json::to_string(&PortsJson::from_set(port_sets.get(*p))).unwrap_or_default();
            Arc::from(json_tail(&ports, note.as_deref().unwrap_or_default()))
        });
        each(src, dst, tail);
    }
}

/// The row of the last source a thread computed, kept for the next source when their
/// row keys are equal.
#[derive(Default)]
struct SourceRow {
    scratch: Vec<PortSetId>,
    row: Vec<PortSetId>,
    key: Option<Vec<u32>>,
}

impl SourceRow {
    /// Makes `row` the row of `src`.
    fn compute(&mut self, worker: &mut kubeseg_engine::reach::RowWorker<'_>, src: usize) {
        let key = worker.endpoint_row_key(src);
        if self.key.as_ref() != Some(&key) {
            worker.endpoint_row(src, &mut self.scratch, &mut self.row);
            self.key = Some(key);
        }
    }
}

/// What follows the destination on a JSON connection line: the allowed ports (as
/// JSON) and the mesh note, then the closing brace. [`json_connections`] hands it over
/// as is, so `kubeseg watch` keeps exactly reach's lines.
fn json_tail(ports: &str, note: &str) -> String {
    let mut tail = String::new();
    push_json_tail(&mut tail, ports, note);
    tail
}

/// Appends [`json_tail`] to `buf`.
fn push_json_tail(buf: &mut String, ports: &str, note: &str) {
    for piece in [", \"allowed\": ", ports, note, "}"] {
        buf.push_str(piece);
    }
}

/// What one thread keeps while it lists connections for [`json_connections`].
struct TailThread<'c> {
    rows: SourceRow,
    annotator: Option<Annotator<'c>>,
    notes: RenderedNotes,
    tails: HashMap<(PortSetId, Option<String>), Arc<str>>,
}

/// What one thread keeps while it renders sources: the row of the last source (shared
/// by the next one when their row keys are equal), rendered port sets and mesh notes.
struct RowThread<'c> {
    rows: SourceRow,
    renderer: LineRenderer,
    annotator: Option<Annotator<'c>>,
    notes: RenderedNotes,
}

/// The mesh annotation of one connection: ` [mesh: …]` in text formats, `, "mesh": [...]`
/// in JSON; `None` when the destination is outside the mesh.
#[allow(clippy::too_many_arguments)]
fn mesh_note(
    mesh: &mut Annotator,
    rendered: &mut RenderedNotes,
    endpoints: &[Endpoint],
    src: usize,
    dst: usize,
    ports_id: PortSetId,
    ports: &PortSet,
    format: Format,
) -> Option<String> {
    let Endpoint::Workload { workload: d, .. } = endpoints[dst] else {
        return None;
    };
    let from = endpoints[src].mesh_source()?;
    let notes = mesh.annotate(from, d, ports_id.0, ports);
    let key = Rc::as_ptr(&notes);
    if let Some((_, text)) = rendered.get(&key) {
        return text.clone();
    }
    let text = render_note(&notes, ports, format);
    // The Rc is kept so the address stays this list's.
    rendered.insert(key, (notes, text.clone()));
    text
}

fn render_note(notes: &[Annotation], ports: &PortSet, format: Format) -> Option<String> {
    if notes.is_empty() {
        return None;
    }
    if format == Format::Json {
        let items: Vec<MeshNoteJson> = notes
            .iter()
            .map(|a| {
                let decision = a.decision();
                MeshNoteJson {
                    ports: PortsJson::from_set(&a.ports),
                    allowed: match decision {
                        Decision::Allowed => Some(true),
                        Decision::Denied => Some(false),
                        Decision::Conditional(_) => None,
                    },
                    summary: note_summary(a),
                    conditional: match decision {
                        Decision::Conditional(c) => c,
                        _ => Vec::new(),
                    },
                    reason: match &a.verdict {
                        Some(v) => crate::mesh::reason_code(&v.reason),
                        None => "cilium-l7",
                    },
                    cilium_l7: a.cilium_l7.clone(),
                }
            })
            .collect();
        return Some(format!(
            ", \"mesh\": {}",
            serde_json::to_string(&items).unwrap_or_default()
        ));
    }
    // Unprefixed only when the note covers every port of the connection (TCP only).
    let text: Vec<String> = if notes.len() == 1 && notes[0].ports == *ports {
        vec![note_summary(&notes[0])]
    } else {
        notes
            .iter()
            .map(|a| format!("{}: {}", a.ports, note_summary(a)))
            .collect()
    };
    // Without Istio in the note, the tag says whose proxy filters.
    let tag = if notes.iter().all(|a| a.verdict.is_none()) {
        "cilium-l7"
    } else {
        "mesh"
    };
    Some(format!(" [{tag}: {}]", text.join("; ")))
}

/// The phrase of one note: Istio's summary, then Cilium's L7 conditions.
fn note_summary(a: &Annotation) -> String {
    let cilium =
        (!a.cilium_l7.is_empty()).then(|| format!("only if {}", a.cilium_l7.join(" and ")));
    match (&a.verdict, cilium) {
        (Some(v), None) => crate::mesh::summary(v),
        // What Istio denies, Cilium's proxy never sees.
        (Some(v), Some(_)) if v.decision == Decision::Denied => crate::mesh::summary(v),
        (Some(v), Some(c)) => format!("{}, {c}", crate::mesh::summary(v)),
        (None, Some(c)) => c,
        (None, None) => "any request".into(),
    }
}

/// Rendered mesh annotations by the address of the annotator's shared list (the `Rc`
/// is kept so the address stays that list's).
type RenderedNotes = HashMap<*const Vec<Annotation>, (Rc<Vec<Annotation>>, Option<String>)>;

#[derive(Serialize)]
struct MeshNoteJson {
    ports: PortsJson,
    allowed: Option<bool>,
    summary: String,
    conditional: Vec<String>,
    reason: &'static str,
    #[serde(rename = "ciliumL7", skip_serializing_if = "Vec::is_empty")]
    cilium_l7: Vec<String>,
}

/// Writes what precedes the lines: the JSON document up to `"connections": [` (its
/// endpoints, sorted by id, and the groups of a compact answer), the CSV and Markdown
/// headers, or the digraph with its nodes.
fn write_header(
    out: &mut dyn Write,
    format: Format,
    engine: &Engine,
    endpoints: &[usize],
    groups: Option<&[Group]>,
    mut dot_nodes: Vec<&String>,
) -> io::Result<()> {
    match format {
        Format::Json => {
            let mut ids = endpoints.to_vec();
            ids.sort_unstable();
            ids.dedup();
            let mut endpoints: Vec<EndpointJson> =
                ids.into_iter().map(|e| endpoint_json(engine, e)).collect();
            endpoints.sort_by(|a, b| a.id.cmp(&b.id));
            let compact = if groups.is_some() {
                "\n  \"compact\": true,"
            } else {
                ""
            };
            write!(
                out,
                "{{\n  \"schemaVersion\": {SCHEMA_VERSION},{compact}\n  \"endpoints\": ["
            )?;
            write_json_items(
                out,
                endpoints
                    .iter()
                    .map(|e| serde_json::to_string(e).unwrap_or_default()),
            )?;
            if let Some(groups) = groups {
                write!(out, ",\n  \"groups\": [")?;
                write_json_items(
                    out,
                    groups.iter().enumerate().map(|(i, g)| {
                        let group = GroupJson {
                            id: format!("g{i}"),
                            members: g.iter().map(|&e| engine.endpoint_id(e)).collect(),
                        };
                        serde_json::to_string(&group).unwrap_or_default()
                    }),
                )?;
            }
            write!(out, ",\n  \"connections\": [")
        }
        Format::Csv => writeln!(out, "src,dst,connection"),
        Format::Md => writeln!(out, "| src | dst | connection |\n|---|---|---|"),
        Format::Dot => {
            writeln!(
                out,
                "digraph kubeseg {{\n  rankdir=LR;\n  node [shape=box];"
            )?;
            dot_nodes.sort();
            dot_nodes.dedup();
            for node in dot_nodes {
                writeln!(out, "  \"{node}\";")?;
            }
            Ok(())
        }
        Format::Text => Ok(()),
    }
}

/// Writes `[`-opened JSON array items one per line and closes the array with `  ]`.
fn write_json_items(out: &mut dyn Write, items: impl Iterator<Item = String>) -> io::Result<()> {
    for (i, item) in items.enumerate() {
        write!(out, "{}\n    {item}", if i == 0 { "" } else { "," })?;
    }
    write!(out, "\n  ]")
}

/// One connection to render: its labels, its quoted JSON ids (JSON only), its ports and
/// its rendered mesh annotation.
struct Line<'a> {
    src: &'a str,
    dst: &'a str,
    json_src: &'a str,
    json_dst: &'a str,
    ports: PortSetId,
    mesh: Option<String>,
}

/// Renders connection lines, each port set once. One per thread: the ids are the
/// thread's own.
struct LineRenderer {
    format: Format,
    rendered: HashMap<PortSetId, String>,
}

impl LineRenderer {
    fn new(format: Format) -> Self {
        LineRenderer {
            format,
            rendered: HashMap::new(),
        }
    }

    /// Appends one connection to `buf`. A JSON item starts with the `,` that separates
    /// it from the one before ([`Lines::text`] drops the first).
    fn line(&mut self, buf: &mut String, line: Line, port_sets: &PortSets) {
        let Line {
            src,
            dst,
            json_src,
            json_dst,
            ports: p,
            mesh,
        } = line;
        let format = self.format;
        let ports = self.rendered.entry(p).or_insert_with(|| {
            let set = port_sets.get(p);
            if format == Format::Json {
                serde_json::to_string(&PortsJson::from_set(set)).unwrap_or_default()
            } else {
                set.to_string()
            }
        });
        let note = mesh.unwrap_or_default();
        // Writing to a String cannot fail.
        let _ = match format {
            Format::Text => writeln!(buf, "{src} => {dst} : {ports}{note}"),
            Format::Csv => writeln!(buf, "{},{},{}", csv(src), csv(dst), csv(ports)),
            Format::Md => writeln!(buf, "| {src} | {dst} | {ports} |"),
            Format::Dot => writeln!(buf, "  \"{src}\" -> \"{dst}\" [label=\"{ports}\"];"),
            Format::Json => {
                // The bulk of a large answer: pieces copied, no formatting machinery.
                for piece in [",\n    {\"src\": ", json_src, ", \"dst\": ", json_dst] {
                    buf.push_str(piece);
                }
                push_json_tail(buf, ports, &note);
                Ok(())
            }
        };
    }
}

/// The connection lines of every format, written in order, and what closes them.
struct Lines<'o> {
    format: Format,
    out: &'o mut dyn Write,
    /// Objects that change connectivity but that the answer leaves out.
    unmodelled: &'o [String],
    renderer: LineRenderer,
    buf: String,
    first: bool,
    result: io::Result<()>,
}

impl<'o> Lines<'o> {
    fn new(format: Format, out: &'o mut dyn Write, unmodelled: &'o [String]) -> Self {
        Lines {
            format,
            out,
            unmodelled,
            renderer: LineRenderer::new(format),
            buf: String::new(),
            first: true,
            result: Ok(()),
        }
    }

    /// One connection (see [`LineRenderer::line`]).
    fn line(&mut self, line: Line, port_sets: &PortSets) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        self.renderer.line(&mut buf, line, port_sets);
        self.text(&buf);
        self.buf = buf;
    }

    /// Lines rendered by a [`LineRenderer`], in order.
    fn text(&mut self, text: &str) {
        if self.result.is_err() || text.is_empty() {
            return;
        }
        let text = match self.format {
            // The first item has no item before it.
            Format::Json if self.first => &text[1..],
            _ => text,
        };
        self.result = self.out.write_all(text.as_bytes());
        self.first = false;
    }

    /// Closes the JSON document or the digraph.
    fn finish(self) -> io::Result<()> {
        self.result?;
        let out = self.out;
        // Every format names what the answer leaves out, where that format can.
        let said = |m: &String| m.replace(['\n', '\r'], " ");
        match self.format {
            Format::Json => {
                let close = if self.first { "" } else { "\n  " };
                if self.unmodelled.is_empty() {
                    return writeln!(out, "{close}]\n}}");
                }
                let list = serde_json::to_string(self.unmodelled).unwrap_or_default();
                writeln!(out, "{close}],\n  \"unmodelled\": {list}\n}}")
            }
            Format::Dot => {
                for m in self.unmodelled {
                    writeln!(
                        out,
                        "  // not modelled, the edges ignore it: {}",
                        said(m).replace("*/", "* /")
                    )?;
                }
                writeln!(out, "}}")
            }
            Format::Text => {
                for m in self.unmodelled {
                    writeln!(
                        out,
                        "# not modelled, the connections above ignore it: {}",
                        said(m)
                    )?;
                }
                Ok(())
            }
            Format::Csv => {
                for m in self.unmodelled {
                    let m = format!("not modelled, the rows above ignore it: {}", said(m));
                    writeln!(out, "{},,", csv(&format!("# {m}")))?;
                }
                Ok(())
            }
            Format::Md => {
                if !self.unmodelled.is_empty() {
                    writeln!(out, "\nNot modelled (the table ignores them):\n")?;
                }
                for m in self.unmodelled {
                    writeln!(out, "- {}", crate::md_cell(&said(m)))?;
                }
                Ok(())
            }
        }
    }
}

/// Writes the grouped answer, streaming its edges as they are found.
pub fn write_compact(
    engine: &mut Engine,
    sources: &[usize],
    destinations: &[usize],
    format: Format,
    unmodelled: &[String],
    out: &mut dyn Write,
) -> io::Result<Result<(), CollisionError>> {
    let grouping = compact::group(engine, sources, destinations);
    let groups = &grouping.groups;
    let group_label: Vec<String> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            if g.len() == 1 {
                label(engine, g[0])
            } else {
                format!("g{i}")
            }
        })
        .collect();
    let members: Vec<usize> = groups.iter().flatten().copied().collect();
    write_header(
        out,
        format,
        engine,
        &members,
        Some(groups),
        group_label.iter().collect(),
    )?;
    let json_group: Vec<String> = (0..groups.len()).map(|i| format!("\"g{i}\"")).collect();
    let mut lines = Lines::new(format, out, unmodelled);
    let edges = compact::for_each_edge(engine, &grouping, |a, b, p, port_sets| {
        let line = Line {
            src: &group_label[a],
            dst: &group_label[b],
            json_src: &json_group[a],
            json_dst: &json_group[b],
            ports: p,
            mesh: None,
        };
        lines.line(line, port_sets);
    });
    lines.finish()?;
    match format {
        Format::Text | Format::Md => {
            let mut legend = String::new();
            for (i, g) in groups.iter().enumerate().filter(|(_, g)| g.len() > 1) {
                let names: Vec<String> = g.iter().map(|&e| label(engine, e)).collect();
                let _ = writeln!(legend, "g{i} ({} endpoints): {}", g.len(), names.join(", "));
            }
            if !legend.is_empty() {
                out.write_all(if format == Format::Md {
                    b"\n"
                } else {
                    b"\ngroups:\n"
                })?;
                out.write_all(legend.as_bytes())?;
            }
        }
        Format::Csv | Format::Json | Format::Dot => {}
    }
    Ok(edges)
}

fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
