//! `--format html`: one self-contained page (styles, script and data inline; nothing
//! is fetched when it opens) with the connectivity graph, and for `audit` the summary,
//! the findings and the minimal fix.
//!
//! # What the page holds
//! The data is one JSON document in `<script type="application/json" id="kubeseg-data">`,
//! read by the page's own script (`page.js`), which builds every element with
//! `textContent` and attributes, never from markup. Input text therefore never becomes
//! markup, and the document's `<`, `>`, `&` and line separators are written as `\u`
//! escapes so that nothing in it can close the script element. A Content-Security-Policy
//! forbids every request the page could make.
//!
//! ```text
//! { "kind": "audit" | "reach", "version": "0.1.0",
//!   "summary": {...} (audit: the JSON report's summary) | null,
//!   "notes": ["..."],
//!   "graph": { "cell": [w, h], "groups": [{"name", "x", "y", "w", "h", "nodes": [n]}],
//!              "nodes": [{"id", "label", "group", "x", "y", "kind": "w"|"x"|"d"|"s"}],
//!              "classes": [[n]], "edges": [[srcClass, dstClass, portsIndex]],
//!              "ports": ["TCP 80"], "portProtocols": [1] (bits: TCP 1, UDP 2, SCTP 4,
//!              ICMP or ICMPv6 8), "pairs": 12,
//!              "groupEdges": [[g, g]], "groupEdgesTruncated": false },
//!   "marks": [{"node": n, "entry": ["why"], "jewel": ["why"], "tags": ["API server"]}],
//!   "findings": [{ ...the JSON report's finding..., "nodes": [n], "edges": [[n, n]],
//!                  "groups": [g] (the namespaces it names) }],
//!   "cut": [[n, n]], "paths": [{"hops": [n], "severity": "critical"}],
//!   "excerpts": {"file:line": "the YAML from that line"} }
//! ```

mod graph;
mod layout;

use crate::audit::{FindingJson, finding_json, severity_summary};
use kubeseg_analyses::Finding;
use kubeseg_analyses::audit::AuditReport;
use kubeseg_engine::Engine;
use kubeseg_engine::compact::CollisionError;
use kubeseg_model::Location;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

pub use graph::OUTSIDE;

const CSS: &str = include_str!("page.css");
const JS: &str = include_str!("page.js");

/// Lines of YAML shown from a location at most.
const EXCERPT_LINES: usize = 16;
/// Characters shown of one line at most (a JSON input may hold a whole object, or a
/// whole file, on one line).
const EXCERPT_LINE_CHARS: usize = 200;

/// YAML excerpts by `file:line`, read by the caller from the input files.
pub type Excerpts = BTreeMap<String, String>;

/// The key of a location in [`Excerpts`].
pub fn excerpt_key(l: &Location) -> String {
    format!("{}:{}", l.file, l.line)
}

/// Every location the findings cite (their own and their evidence's), to read excerpts of.
pub fn cited_locations<'f>(findings: &[&'f Finding]) -> BTreeSet<&'f Location> {
    let mut set = BTreeSet::new();
    for f in findings {
        set.extend(f.location.iter());
        set.extend(f.evidence.iter().filter_map(|e| e.location.as_ref()));
    }
    set
}

/// A file's text with the offset of each line, so that excerpts of a large file cost
/// their own length, not the file's.
pub struct SourceText<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> SourceText<'a> {
    /// Indexes the lines of `text`.
    pub fn new(text: &'a str) -> SourceText<'a> {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .filter(|&i| i < text.len())
            .collect();
        SourceText { text, starts }
    }

    /// The block of YAML that starts at 1-based `line`: that line and the more
    /// indented ones after it (or list items at the same indentation, for a rule), up
    /// to [`EXCERPT_LINES`] lines and never past a document separator.
    pub fn excerpt(&self, line: u32) -> Option<String> {
        let start = *self.starts.get((line as usize).checked_sub(1)?)?;
        let mut lines = self.text[start..].lines();
        let first = lines.next()?;
        // A JSON object on its line (one object per line, as `kubectl get -o json`
        // lists are often flattened) is the excerpt by itself.
        if first.trim_start().starts_with('{') {
            return Some(clip_line(first.trim_end_matches(',')));
        }
        let indent = |l: &str| l.len() - l.trim_start().len();
        let base = indent(first);
        let item = first.trim_start().starts_with("- ");
        let mut out = vec![first];
        for l in lines {
            if out.len() == EXCERPT_LINES || l.trim_end() == "---" || l.starts_with("...") {
                break;
            }
            let blank = l.trim().is_empty();
            // Same indentation: top-level keys of the document, or the items of a list
            // written level with its key (`ingress:` then `- from:`).
            let level =
                indent(l) == base && !item && (base == 0 || l.trim_start().starts_with("- "));
            if !blank && indent(l) <= base && !level {
                break;
            }
            out.push(l);
        }
        while out.last().is_some_and(|l| l.trim().is_empty()) {
            out.pop();
        }
        let clipped: Vec<String> = out.iter().map(|l| clip_line(l)).collect();
        Some(clipped.join("\n"))
    }
}

fn clip_line(l: &str) -> String {
    match l.char_indices().nth(EXCERPT_LINE_CHARS) {
        Some((at, _)) => format!("{}…", &l[..at]),
        None => l.to_string(),
    }
}

#[derive(Serialize)]
struct Mark {
    node: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    entry: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    jewel: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
}

#[derive(Serialize)]
struct PageFinding<'a> {
    #[serde(flatten)]
    finding: FindingJson<'a>,
    nodes: Vec<u32>,
    edges: Vec<(u32, u32)>,
    /// Namespaces the finding names (a namespace-level finding such as KS103).
    groups: Vec<u32>,
}

#[derive(Serialize)]
struct PagePath {
    hops: Vec<u32>,
    severity: &'static str,
}

#[derive(Serialize)]
struct Page<'a> {
    kind: &'static str,
    version: &'static str,
    summary: Option<serde_json::Value>,
    notes: Vec<String>,
    graph: graph::Graph,
    marks: Vec<Mark>,
    findings: Vec<PageFinding<'a>>,
    cut: Vec<(u32, u32)>,
    paths: Vec<PagePath>,
    excerpts: &'a Excerpts,
}

/// The audit page. `findings` are the ones selected for output; `layers` says which
/// request-level layers the input has (the graph's connections are L3/L4, which the
/// page says).
pub fn audit(
    engine: &mut Engine,
    report: &AuditReport,
    findings: &[&Finding],
    excerpts: &Excerpts,
    layers: RequestLayers,
) -> Result<String, CollisionError> {
    let all: Vec<usize> = (0..engine.endpoints().len()).collect();
    // Each sensitive target is a node of its own (one per address range holding it).
    let mut aliases = Vec::new();
    let mut alias_of: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for t in &report.sensitive {
        for (k, &e) in t.endpoints.iter().enumerate() {
            let id = if t.endpoints.len() == 1 {
                t.what.to_string()
            } else {
                format!("{} ({})", t.what, k + 1)
            };
            alias_of.entry(t.code).or_default().push(id.clone());
            aliases.push(graph::Alias { id, endpoint: e });
        }
    }
    let (graph, index) = graph::build(engine, &all, &all, &all, &aliases)?;
    let marks = marks(engine, report, &index, &aliases);
    let node = |id: &String| index.by_id(id);
    let connects = graph.connectivity();
    let group_of: BTreeMap<&str, u32> = graph
        .groups
        .iter()
        .enumerate()
        .filter(|(_, g)| g.name != OUTSIDE)
        .map(|(i, g)| (g.name.as_str(), i as u32))
        .collect();
    let page_findings: Vec<PageFinding> = findings
        .iter()
        .map(|f| {
            let mut edges: Vec<(u32, u32)> = f
                .edges
                .iter()
                .filter_map(|(u, v)| Some((node(u)?, node(v)?)))
                .collect();
            // A finding about reaching a sensitive target draws the hop to it (to each
            // range holding it that the source reaches).
            if let (Some(targets), [source]) = (alias_of.get(f.rule.code), &f.endpoints[..]) {
                edges.extend(
                    targets
                        .iter()
                        .filter_map(|t| Some((node(source)?, node(t)?)))
                        .filter(|&(u, v)| connects(u, v)),
                );
            }
            // A path's nodes in order; otherwise the endpoints the finding names.
            let mut nodes: Vec<u32> = Vec::new();
            if edges.is_empty() {
                nodes.extend(f.endpoints.iter().filter_map(node));
            } else {
                for &(u, v) in &edges {
                    nodes.extend([u, v]);
                }
            }
            let mut seen = BTreeSet::new();
            nodes.retain(|n| seen.insert(*n));
            let groups = f
                .endpoints
                .iter()
                .filter_map(|e| group_of.get(e.as_str()).copied())
                .collect();
            PageFinding {
                finding: finding_json(f),
                nodes,
                edges,
                groups,
            }
        })
        .collect();
    drop(connects);
    let cut = findings
        .iter()
        .filter(|f| f.rule.code == kubeseg_analyses::registry::MINIMAL_FIX.code)
        .flat_map(|f| f.edges.iter())
        .filter_map(|(u, v)| Some((node(u)?, node(v)?)))
        .collect();
    let paths = report
        .paths
        .iter()
        .map(|p| PagePath {
            hops: p.hops.iter().filter_map(|&h| index.of(h)).collect(),
            severity: p.severity.as_str(),
        })
        .collect();
    let (by_severity, suppressed) = severity_summary(findings);
    let summary = serde_json::json!({
        "workloads": report.counts.workloads,
        "namespaces": report.counts.namespaces,
        "policies": report.counts.policies,
        "findings": by_severity,
        "suppressed": suppressed,
        "score": report.scores.first().map(|s| (s.score * 10.0).round() / 10.0),
    });
    let mut notes = report.notes.clone();
    if let Some(note) = layers.note() {
        notes.insert(0, note);
    }
    let page = Page {
        kind: "audit",
        version: env!("CARGO_PKG_VERSION"),
        summary: Some(summary),
        notes,
        graph,
        marks,
        findings: page_findings,
        cut,
        paths,
        excerpts,
    };
    Ok(document("kubeseg audit", &page))
}

/// Entry points, crown jewels and sensitive targets, by node.
fn marks(
    engine: &Engine,
    report: &AuditReport,
    index: &graph::NodeIndex,
    aliases: &[graph::Alias],
) -> Vec<Mark> {
    let mut marks: BTreeMap<u32, Mark> = BTreeMap::new();
    let mut mark = |n: Option<u32>, f: &mut dyn FnMut(&mut Mark)| {
        if let Some(n) = n {
            f(marks.entry(n).or_insert_with(|| Mark {
                node: n,
                entry: vec![],
                jewel: vec![],
                tags: vec![],
            }));
        }
    };
    for e in &report.entry_points {
        mark(index.of(e.workload), &mut |m| {
            m.entry = e.reasons.iter().map(|r| r.message.clone()).collect()
        });
    }
    for j in &report.crown_jewels {
        mark(index.of(j.workload), &mut |m| m.jewel = j.reasons.clone());
    }
    for t in &report.sensitive {
        for &e in &t.endpoints {
            mark(index.of(e), &mut |m| {
                m.tags.push(format!("holds the {}", t.what))
            });
        }
    }
    for a in aliases {
        let range = engine.endpoint_id(a.endpoint);
        mark(index.by_id(&a.id), &mut |m| {
            m.tags.push(format!("in {range}"))
        });
    }
    marks.into_values().collect()
}

/// The layers above L3/L4 that the input has: the page draws L3/L4 connections and
/// says what further restricts requests.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestLayers {
    /// An Istio mesh.
    pub istio: bool,
    /// Cilium allow rules with L7 `rules`.
    pub cilium_l7: bool,
}

impl RequestLayers {
    /// What the page says, when the input has either layer.
    fn note(self) -> Option<String> {
        let who = match (self.istio, self.cilium_l7) {
            (false, false) => return None,
            (true, false) => "the Istio mesh further restricts requests to meshed workloads",
            (false, true) => "Cilium's L7 rules further restrict requests on the ports they filter",
            (true, true) => "the Istio mesh and Cilium's L7 rules further restrict requests",
        };
        Some(format!(
            "The graph and the connection lists show L3/L4 connections; {who} (the findings account for it; `kubeseg reach` without --compact lists the request-level constraints)."
        ))
    }
}

/// The connectivity map of `reach`: connections from `sources` to `destinations`.
pub fn reach(
    engine: &mut Engine,
    sources: &[usize],
    destinations: &[usize],
    unmodelled: &[String],
    layers: RequestLayers,
) -> Result<String, CollisionError> {
    let all: Vec<usize> = sources
        .iter()
        .chain(destinations)
        .copied()
        .collect::<BTreeSet<usize>>()
        .into_iter()
        .collect();
    let (graph, _) = graph::build(engine, &all, sources, destinations, &[])?;
    let mut notes: Vec<String> = unmodelled
        .iter()
        .map(|m| format!("not modelled, the connections ignore it: {m}"))
        .collect();
    if let Some(note) = layers.note() {
        notes.insert(0, note);
    }
    let empty = Excerpts::new();
    let page = Page {
        kind: "reach",
        version: env!("CARGO_PKG_VERSION"),
        summary: None,
        notes,
        graph,
        marks: vec![],
        findings: vec![],
        cut: vec![],
        paths: vec![],
        excerpts: &empty,
    };
    Ok(document("kubeseg reach", &page))
}

/// JSON that cannot end the script element it sits in or break a line in a script.
fn script_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

fn document(title: &str, page: &impl Serialize) -> String {
    let data = serde_json::to_string(page).unwrap_or_else(|_| "{}".into());
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"generator\" content=\"kubeseg {version}\">\n\
<title>{title}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n\
<noscript><p>This report needs JavaScript to draw its graph and tables; the same data is in <code>--format json</code>.</p></noscript>\n\
<script type=\"application/json\" id=\"kubeseg-data\">{data}</script>\n<script>\n{JS}</script>\n</body>\n</html>\n",
        version = env!("CARGO_PKG_VERSION"),
        data = script_safe(&data),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_cannot_close_its_script_element() {
        let hostile = r#"{"t":"</script><script>alert(1)</script>&\u2028"}"#;
        let json = serde_json::to_string(
            &serde_json::json!({"t": "</script><img src=x onerror=alert(1)>&\u{2028}"}),
        )
        .unwrap();
        let safe = script_safe(&json);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        assert!(!safe.contains('\u{2028}'));
        // The escapes are JSON: the text reads back unchanged.
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["t"], "</script><img src=x onerror=alert(1)>&\u{2028}");
        assert!(!script_safe(hostile).contains("</script"));
    }

    fn excerpt(text: &str, line: u32) -> Option<String> {
        SourceText::new(text).excerpt(line)
    }

    #[test]
    fn excerpts_take_the_block_that_starts_at_the_line() {
        let text = "apiVersion: v1\nkind: NetworkPolicy\nspec:\n  ingress:\n  - from:\n    - podSelector: {}\n    ports:\n    - port: 80\n  - from:\n    - ipBlock: {cidr: 0.0.0.0/0}\n  egress: []\n---\nkind: Other\n";
        // A rule (a list item) ends where the next item at its indentation starts.
        assert_eq!(
            excerpt(text, 5).unwrap(),
            "  - from:\n    - podSelector: {}\n    ports:\n    - port: 80"
        );
        // An object runs to the document separator.
        assert_eq!(
            excerpt(text, 1).unwrap(),
            text.split("\n---").next().unwrap()
        );
        // A mapping key takes its nested block, list items level with it included.
        assert_eq!(excerpt(text, 11).unwrap(), "  egress: []");
        assert_eq!(
            excerpt(text, 4).unwrap(),
            text.lines().skip(3).take(7).collect::<Vec<_>>().join("\n")
        );
        assert_eq!(excerpt(text, 0), None);
        assert_eq!(excerpt(text, 99), None);
    }

    #[test]
    fn long_blocks_are_cut() {
        let text: String = std::iter::once("a:".to_string())
            .chain((0..40).map(|i| format!("  k{i}: v")))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(excerpt(&text, 1).unwrap().lines().count(), EXCERPT_LINES);
        // A JSON input on one line shows its start.
        let json = format!("{{\"items\": [{}]}}", "{\"kind\": \"Pod\"}, ".repeat(1000));
        let x = excerpt(&json, 1).unwrap();
        assert_eq!(x.chars().count(), EXCERPT_LINE_CHARS + 1);
        assert!(x.starts_with("{\"items\": [{\"kind\"") && x.ends_with('…'));
    }
}
