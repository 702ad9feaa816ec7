//! `kubeseg reach` output: the connection list and its grouped (compact) form.
//!
//! # JSON contract (schemaVersion 1)
//! ```text
//! { "schemaVersion": 1,
//!   "endpoints": [ {"id": "prod/web[Deployment]", "kind": "Deployment", "namespace": "prod", "name": "web"},
//!                  {"id": "0.0.0.0-9.255.255.255", "kind": "External", "ranges": ["0.0.0.0-9.255.255.255"]} ],
//!   "connections": [ {"src": "<id>", "dst": "<id>", "allowed": {"TCP": [[80, 80]], "UDP": [], "SCTP": []}} ] }
//! ```
//! Compact: `"groups": [{"id": "g0", "members": ["<endpoint id>", ...]}]` and
//! `"connections": [{"src": "g0", "dst": "g1", "allowed": {...}}]`, plus `"endpoints"`.

use crate::{Format, PortsJson, SCHEMA_VERSION, to_json};
use kubeseg_engine::compact::Compact;
use kubeseg_engine::{Connection, Endpoint, Engine};
use kubeseg_model::PortSet;
use serde::Serialize;
use std::fmt::Write;

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
struct ConnectionJson {
    src: String,
    dst: String,
    allowed: PortsJson,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReachJson {
    schema_version: u32,
    endpoints: Vec<EndpointJson>,
    connections: Vec<ConnectionJson>,
}

#[derive(Serialize)]
struct GroupJson {
    id: String,
    members: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CompactJson {
    schema_version: u32,
    compact: bool,
    endpoints: Vec<EndpointJson>,
    groups: Vec<GroupJson>,
    connections: Vec<ConnectionJson>,
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
    }
}

/// The label of an endpoint in text formats: external atoms carry `[External]`.
pub fn label(engine: &Engine, e: usize) -> String {
    match &engine.endpoints()[e] {
        Endpoint::Workload { .. } => engine.endpoint_id(e),
        Endpoint::External { .. } => format!("{}[External]", engine.endpoint_id(e)),
    }
}

/// Renders the connection list.
pub fn connections(engine: &Engine, conns: &[Connection], format: Format) -> String {
    let mut rows: Vec<(String, String, &PortSet, usize, usize)> = conns
        .iter()
        .map(|c| {
            (
                label(engine, c.src),
                label(engine, c.dst),
                &c.ports,
                c.src,
                c.dst,
            )
        })
        .collect();
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    match format {
        Format::Json => {
            let mut used: Vec<usize> = conns.iter().flat_map(|c| [c.src, c.dst]).collect();
            used.sort_unstable();
            used.dedup();
            let mut endpoints: Vec<EndpointJson> =
                used.into_iter().map(|e| endpoint_json(engine, e)).collect();
            endpoints.sort_by(|a, b| a.id.cmp(&b.id));
            let connections = rows
                .iter()
                .map(|r| ConnectionJson {
                    src: engine.endpoint_id(r.3),
                    dst: engine.endpoint_id(r.4),
                    allowed: PortsJson::from_set(r.2),
                })
                .collect();
            to_json(&ReachJson {
                schema_version: SCHEMA_VERSION,
                endpoints,
                connections,
            })
        }
        _ => table(
            rows.iter()
                .map(|r| (r.0.clone(), r.1.clone(), r.2.to_string()))
                .collect(),
            format,
        ),
    }
}

/// Renders the grouped answer.
pub fn compact(engine: &Engine, c: &Compact, format: Format) -> String {
    let group_label = |g: usize| -> String {
        let members = &c.groups[g];
        if members.len() == 1 {
            label(engine, members[0])
        } else {
            format!("g{g}")
        }
    };
    match format {
        Format::Json => {
            let mut used: Vec<usize> = c.groups.iter().flatten().copied().collect();
            used.sort_unstable();
            used.dedup();
            let endpoints = used.into_iter().map(|e| endpoint_json(engine, e)).collect();
            let groups = c
                .groups
                .iter()
                .enumerate()
                .map(|(i, g)| GroupJson {
                    id: format!("g{i}"),
                    members: g.iter().map(|&e| engine.endpoint_id(e)).collect(),
                })
                .collect();
            let connections = c
                .edges
                .iter()
                .map(|(s, d, p)| ConnectionJson {
                    src: format!("g{s}"),
                    dst: format!("g{d}"),
                    allowed: PortsJson::from_set(p),
                })
                .collect();
            to_json(&CompactJson {
                schema_version: SCHEMA_VERSION,
                compact: true,
                endpoints,
                groups,
                connections,
            })
        }
        _ => {
            let mut out = table(
                c.edges
                    .iter()
                    .map(|(s, d, p)| (group_label(*s), group_label(*d), p.to_string()))
                    .collect(),
                format,
            );
            if format == Format::Text || format == Format::Md {
                let mut legend = String::new();
                for (i, g) in c.groups.iter().enumerate().filter(|(_, g)| g.len() > 1) {
                    let names: Vec<String> = g.iter().map(|&e| label(engine, e)).collect();
                    let _ = writeln!(legend, "g{i} ({} endpoints): {}", g.len(), names.join(", "));
                }
                if !legend.is_empty() {
                    out.push_str(if format == Format::Md {
                        "\n"
                    } else {
                        "\ngroups:\n"
                    });
                    out.push_str(&legend);
                }
            }
            out
        }
    }
}

fn table(rows: Vec<(String, String, String)>, format: Format) -> String {
    let mut out = String::new();
    match format {
        Format::Csv => {
            out.push_str("src,dst,connection\n");
            for (s, d, p) in rows {
                let _ = writeln!(out, "{},{},{}", csv(&s), csv(&d), csv(&p));
            }
        }
        Format::Md => {
            out.push_str("| src | dst | connection |\n|---|---|---|\n");
            for (s, d, p) in rows {
                let _ = writeln!(out, "| {s} | {d} | {p} |");
            }
        }
        Format::Dot => {
            out.push_str("digraph kubeseg {\n  rankdir=LR;\n  node [shape=box];\n");
            let mut nodes: Vec<&String> = rows.iter().flat_map(|(s, d, _)| [s, d]).collect();
            nodes.sort();
            nodes.dedup();
            for n in nodes {
                let _ = writeln!(out, "  \"{n}\";");
            }
            for (s, d, p) in &rows {
                let _ = writeln!(out, "  \"{s}\" -> \"{d}\" [label=\"{p}\"];");
            }
            out.push_str("}\n");
        }
        Format::Text | Format::Json => {
            for (s, d, p) in rows {
                let _ = writeln!(out, "{s} => {d} : {p}");
            }
        }
    }
    out
}

fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
