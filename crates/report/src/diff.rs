//! `kubeseg diff` output: text, JSON, Markdown (a pull-request comment) and SARIF,
//! written as they are rendered (a diff can hold millions of changes).
//!
//! # JSON contract (schemaVersion 3)
//! ```text
//! { "schemaVersion": 3, "mesh": true | false,
//!   "added":   [ {"src": "<id>", "dst": "<id>", "allowed": {"TCP": [[80, 80]], "UDP": [], "SCTP": [],
//!                                                          "ICMP": [], "ICMPv6": []},
//!                 "mesh": [{"ports": {...}, "allowed": true | null, "conditional": ["..."]}],
//!                 "attribution": [{"kind": "NetworkPolicy" | "AdminNetworkPolicy" | ... | "Workload",
//!                                  "object": "ns/name", "edit": "added|removed|modified",
//!                                  "location": {"file", "line", "column"} | null}],
//!                 "evidence": [{"message", "location"}]} ],
//!   "removed": [ ... same, "allowed" and "mesh" are what was allowed before ... ],
//!   "changed": [ {"src", "dst", "before": {...}, "after": {...}, "meshBefore": [...],
//!                 "meshAfter": [...], "attribution", "evidence"} ],
//!   "workloads": {"added": ["<id>"], "removed": ["<id>"]},
//!   "policies": [ {"kind": "AuthorizationPolicy", "object": "ns/name", "edit": "added",
//!                  "location": {...} | null} ] }
//! ```
//! Verdicts are composed: `allowed` is what L3/L4 allows minus the TCP ports the
//! destination's proxy denies for any request; `mesh` lists, per group of the remaining
//! TCP ports into a workload the mesh covers, whether any request is allowed (`true`) or
//! only under `conditional` conditions (`null`); it is empty where no mesh applies. A
//! connection whose mesh requirements change is `changed` even when its ports do not.
//! `"mesh"` at the top says whether either side has a mesh.
//! Entries are in endpoint order (workloads by id, then address ranges of the common
//! refinement of both sides' ipBlocks). `evidence` is empty unless `--evidence` is given.
//! Port sets are shaped as `reach`'s `allowed` (ICMP and ICMPv6 as `type * 256 + code`
//! ranges). (schemaVersion 2: `kind`/`object` replace `policy`; the mesh fields are new;
//! 3: the `ICMP` and `ICMPv6` keys.)

use crate::{PortsJson, SCHEMA_VERSION};
use kubeseg_analyses::diff::{Cause, Change, Diff, MeshNote};
use kubeseg_engine::mesh::Decision;
use kubeseg_model::{Location, PortSet};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::io::{self, Write};

/// Output formats of `diff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffFormat {
    /// One line per change, with its cause.
    Text,
    /// The versioned JSON document.
    Json,
    /// A pull-request comment.
    Md,
    /// SARIF 2.1.0.
    Sarif,
}

/// Renders a diff into a string (small diffs, tests).
pub fn render(format: DiffFormat, d: &Diff) -> String {
    let mut out = Vec::new();
    let _ = write(format, d, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Writes a diff.
pub fn write(format: DiffFormat, d: &Diff, out: &mut dyn Write) -> io::Result<()> {
    match format {
        DiffFormat::Text => text(d, out),
        DiffFormat::Json => json_stream(d, out),
        DiffFormat::Md => out.write_all(markdown(d).as_bytes()),
        DiffFormat::Sarif => out.write_all(sarif(d).as_bytes()),
    }
}

fn cause(d: &Diff, c: &Change) -> String {
    let causes = d.causes(c);
    if causes.is_empty() {
        return "no policy or workload edit at its ends: a Service's port protocols, a Node or another workload's labels changed".into();
    }
    causes
        .iter()
        .map(|&cause| match cause {
            Cause::Policy(i) => {
                let p = &d.policies[i as usize];
                format!("{} {} {}", p.kind, p.id, p.edit.as_str())
            }
            Cause::Workload(e, edit) => {
                format!("workload {} {}", d.endpoints[e as usize], edit.as_str())
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the mesh requires, for a terminal: ` [mesh: any request]`, empty without mesh.
fn mesh_text(note: &MeshNote, open: &PortSet) -> String {
    if note.is_empty() {
        return String::new();
    }
    let say = |decision: &Decision| match decision {
        Decision::Conditional(c) => format!("only if {}", c.join("; ")),
        _ => "any request".to_string(),
    };
    // Unprefixed only when it covers every port of the connection (TCP only).
    let parts: Vec<String> = if note.len() == 1 && note[0].0 == *open {
        vec![say(&note[0].1)]
    } else {
        note.iter()
            .map(|(ports, decision)| format!("{ports}: {}", say(decision)))
            .collect()
    };
    format!(" [mesh: {}]", parts.join("; "))
}

fn mesh_json(note: &MeshNote) -> Value {
    json!(note
        .iter()
        .map(|(ports, decision)| json!({
            "ports": PortsJson::from_set(ports),
            "allowed": match decision { Decision::Conditional(_) => Value::Null, _ => json!(true) },
            "conditional": match decision { Decision::Conditional(c) => c.clone(), _ => Vec::new() },
        }))
        .collect::<Vec<_>>())
}

fn cause_json(d: &Diff, cause: Cause) -> Value {
    match cause {
        Cause::Policy(i) => {
            let p = &d.policies[i as usize];
            json!({"kind": p.kind, "object": p.id, "edit": p.edit.as_str(), "location": loc(&p.location)})
        }
        Cause::Workload(e, edit) => {
            json!({"kind": "Workload", "object": d.endpoints[e as usize], "edit": edit.as_str(), "location": Value::Null})
        }
    }
}

fn ports(p: &PortSet) -> String {
    if p.is_all() {
        "All Connections".into()
    } else {
        p.to_string()
    }
}

fn categories(d: &Diff) -> [(&'static str, &Vec<Change>); 3] {
    [
        ("added", &d.added),
        ("removed", &d.removed),
        ("changed", &d.changed),
    ]
}

fn what(d: &Diff, kind: &str, c: &Change) -> String {
    let (b, a) = (
        &d.port_sets[c.before as usize],
        &d.port_sets[c.after as usize],
    );
    let (mb, ma) = (
        &d.mesh_notes[c.mesh_before as usize],
        &d.mesh_notes[c.mesh_after as usize],
    );
    match kind {
        "added" => format!("{}{}", ports(a), mesh_text(ma, a)),
        "removed" => format!("{}{}", ports(b), mesh_text(mb, b)),
        _ => format!(
            "{}{} → {}{}",
            ports(b),
            mesh_text(mb, b),
            ports(a),
            mesh_text(ma, a)
        ),
    }
}

fn text(d: &Diff, out: &mut dyn Write) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    for (kind, list) in categories(d) {
        let mark = match kind {
            "added" => "+",
            "removed" => "-",
            _ => "~",
        };
        for c in list {
            writeln!(
                out,
                "{mark} {} => {} : {}   [{}]",
                d.endpoints[c.src as usize],
                d.endpoints[c.dst as usize],
                what(d, kind, c),
                cause(d, c)
            )?;
            // `--evidence`: the rules behind it on each side, indented under it.
            for e in &c.evidence {
                let at = e
                    .location
                    .as_ref()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default();
                writeln!(out, "    {}{at}", e.message)?;
            }
        }
    }
    for w in &d.workloads.added {
        writeln!(out, "+ workload {w}")?;
    }
    for w in &d.workloads.removed {
        writeln!(out, "- workload {w}")?;
    }
    for p in &d.policies {
        let at = p
            .location
            .as_ref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        writeln!(out, "policy {} {} {}{at}", p.kind, p.id, p.edit.as_str())?;
    }
    writeln!(
        out,
        "{} added, {} removed, {} changed connection(s)",
        d.added.len(),
        d.removed.len(),
        d.changed.len()
    )?;
    out.flush()
}

fn loc(l: &Option<Location>) -> Value {
    l.as_ref().map_or(
        Value::Null,
        |l| json!({"file": &*l.file, "line": l.line, "column": l.column}),
    )
}

/// Two-space indented JSON text of a value, re-indented to `depth` levels.
fn nested(v: &Value, depth: usize) -> String {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    text.replace('\n', &format!("\n{}", "  ".repeat(depth)))
}

fn json_stream(d: &Diff, out: &mut dyn Write) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(1 << 16, out);
    // Each distinct port set and each policy's attribution object is rendered once.
    let sets: Vec<String> = d
        .port_sets
        .iter()
        .map(|p| nested(&json!(PortsJson::from_set(p)), 3))
        .collect();
    // Attribution objects are rendered once per cause, not once per change.
    let mut rendered_causes: std::collections::HashMap<Cause, String> =
        std::collections::HashMap::new();
    let notes: Vec<String> = d
        .mesh_notes
        .iter()
        .map(|n| nested(&mesh_json(n), 3))
        .collect();
    let ids: Vec<String> = d
        .endpoints
        .iter()
        .map(|e| serde_json::to_string(e).unwrap_or_default())
        .collect();
    write!(
        out,
        "{{\n  \"schemaVersion\": {SCHEMA_VERSION},\n  \"mesh\": {}",
        d.mesh
    )?;
    for (kind, list) in categories(d) {
        write!(out, ",\n  \"{kind}\": [")?;
        for (i, c) in list.iter().enumerate() {
            let (src, dst) = (&ids[c.src as usize], &ids[c.dst as usize]);
            write!(
                out,
                "{}\n    {{\n      \"src\": {src},\n      \"dst\": {dst},\n",
                if i == 0 { "" } else { "," }
            )?;
            let (nb, na) = (
                &notes[c.mesh_before as usize],
                &notes[c.mesh_after as usize],
            );
            match kind {
                "added" => write!(
                    out,
                    "      \"allowed\": {},\n      \"mesh\": {na},\n",
                    sets[c.after as usize]
                )?,
                "removed" => write!(
                    out,
                    "      \"allowed\": {},\n      \"mesh\": {nb},\n",
                    sets[c.before as usize]
                )?,
                _ => write!(
                    out,
                    "      \"before\": {},\n      \"after\": {},\n      \"meshBefore\": {nb},\n      \"meshAfter\": {na},\n",
                    sets[c.before as usize], sets[c.after as usize]
                )?,
            }
            let c_causes = d.causes(c);
            if c_causes.is_empty() {
                out.write_all(b"      \"attribution\": [],\n")?;
            } else {
                out.write_all(b"      \"attribution\": [")?;
                for (j, &cause) in c_causes.iter().enumerate() {
                    write!(
                        out,
                        "{}\n        {}",
                        if j == 0 { "" } else { "," },
                        rendered_causes
                            .entry(cause)
                            .or_insert_with(|| nested(&cause_json(d, cause), 4))
                    )?;
                }
                out.write_all(b"\n      ],\n")?;
            }
            let evidence: Vec<Value> = c
                .evidence
                .iter()
                .map(|e| json!({"message": e.message, "location": loc(&e.location)}))
                .collect();
            write!(
                out,
                "      \"evidence\": {}\n    }}",
                nested(&json!(evidence), 3)
            )?;
        }
        out.write_all(if list.is_empty() { b"]" } else { b"\n  ]" })?;
    }
    let rest = json!({
        "workloads": {"added": d.workloads.added, "removed": d.workloads.removed},
        "policies": d.policies.iter().map(|p| json!({"kind": p.kind, "object": p.id, "edit": p.edit.as_str(), "location": loc(&p.location)})).collect::<Vec<_>>(),
    });
    write!(
        out,
        ",\n  \"workloads\": {},\n  \"policies\": {}\n}}\n",
        nested(&rest["workloads"], 1),
        nested(&rest["policies"], 1)
    )?;
    out.flush()
}

fn markdown(d: &Diff) -> String {
    let mut out = String::from("## kubeseg diff\n\n");
    let _ = writeln!(
        out,
        "**{}** connection(s) added, **{}** removed, **{}** changed.\n",
        d.added.len(),
        d.removed.len(),
        d.changed.len()
    );
    let total = d.added.len() + d.removed.len() + d.changed.len();
    if total > 0 {
        out.push_str("| | source | destination | connections | because of |\n| --- | --- | --- | --- | --- |\n");
        let mut shown = 0;
        for (kind, list) in categories(d) {
            let mark = match kind {
                "added" => "➕",
                "removed" => "➖",
                _ => "✏️",
            };
            for c in list.iter().take(200usize.saturating_sub(shown)) {
                shown += 1;
                let _ = writeln!(
                    out,
                    "| {mark} | {} | {} | {} | {} |",
                    crate::md_cell(&d.endpoints[c.src as usize]),
                    crate::md_cell(&d.endpoints[c.dst as usize]),
                    crate::md_cell(&what(d, kind, c)),
                    crate::md_cell(&cause(d, c))
                );
            }
        }
        if total > shown {
            let _ = writeln!(
                out,
                "\n… and {} more (run `kubeseg diff --format json` for all of them).",
                total - shown
            );
        }
    }
    if !d.policies.is_empty() {
        out.push_str("\n### Policy edits\n\n");
        for p in &d.policies {
            let at = p
                .location
                .as_ref()
                .map(|l| format!(" ({})", crate::md_cell(&l.to_string())))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- {} {} {}{at}",
                p.kind,
                crate::md_cell(&p.id),
                p.edit.as_str()
            );
        }
    }
    out
}

fn sarif(d: &Diff) -> String {
    let kinds = [
        ("added", "warning"),
        ("removed", "note"),
        ("changed", "note"),
    ];
    let rules: Vec<Value> = kinds
        .iter()
        .map(|(k, level)| json!({"id": format!("kubeseg-diff/{k}"), "name": format!("connection-{k}"), "shortDescription": {"text": format!("A connection was {k} by the change.")}, "defaultConfiguration": {"level": level}}))
        .collect();
    let mut results = Vec::new();
    for (i, ((k, level), (_, list))) in kinds.iter().zip(categories(d)).enumerate() {
        for c in list {
            // Located at the edited policy that causes it, on the side where it lives.
            let at = d.causes(c).into_iter().find_map(|cause| match cause {
                Cause::Policy(p) => d.policies[p as usize].location.clone(),
                Cause::Workload(..) => None,
            });
            let mut r = json!({
                "ruleId": format!("kubeseg-diff/{k}"),
                "ruleIndex": i,
                "level": level,
                "message": {"text": format!("{} => {} : {} ({})", d.endpoints[c.src as usize], d.endpoints[c.dst as usize], what(d, k, c), cause(d, c))},
            });
            if let Some(l) = at.filter(|l| &*l.file != "-") {
                r["locations"] = json!([{"physicalLocation": {"artifactLocation": {"uri": crate::audit::uri(&l.file)}, "region": {"startLine": l.line, "startColumn": l.column}}}]);
            }
            results.push(r);
        }
    }
    crate::to_json(&json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "kubeseg", "version": env!("CARGO_PKG_VERSION"), "rules": rules}}, "results": results}]
    }))
}
