//! `kubeseg lab` output.
//!
//! # `lab up --json`
//! ```text
//! {"pods": [{"workload": "ns/name[Kind]", "pod": "ns/name", "netns": "kslab-p0",
//!            "ip": "10.233.0.2", "ports": [{"protocol": "TCP", "port": 80}]}],
//!  "externals": [{"range": "<reach id>", "netns": "kslab-x0", "ip": "8.0.0.1"}],
//!  "notes": ["..."]}
//! ```
//! # `lab verify --format json` (schemaVersion 1 of this document)
//! ```text
//! {"schemaVersion": 1, "pods": 9, "externals": 1, "probes": 486, "allowed": 300,
//!  "mismatches": [{"from", "to", "protocol", "port", "kernel": true, "kubeseg": false}],
//!  "unprobed": ["x/a SCTP/80"], "notes": ["..."]}
//! ```

use kubeseg_lab::verify::Verdict;
use kubeseg_lab::{Plan, State};
use serde_json::json;
use std::fmt::Write;

/// The lab's pods as JSON, for probing it independently.
pub fn pods_json(plan: &Plan) -> String {
    let pods: Vec<_> = plan
        .pods
        .iter()
        .map(|p| {
            json!({"workload": p.workload_id, "pod": p.pod, "netns": p.netns,
                   "ip": p.ip.map(|ip| ip.to_string()),
                   "ports": p.ports.iter().map(|c| json!({"protocol": c.protocol, "port": c.port})).collect::<Vec<_>>()})
        })
        .collect();
    let externals: Vec<_> = plan
        .externals
        .iter()
        .map(|x| json!({"range": x.id, "netns": x.netns, "ip": x.ip.to_string()}))
        .collect();
    crate::to_json(&json!({"pods": pods, "externals": externals, "notes": plan.notes}))
}

/// The lab's pods for a terminal.
pub fn pods_text(state: &State) -> String {
    let mut out = format!(
        "lab {} is up: {} pods, {} external addresses (remove it with `kubeseg lab down --name {}`)\n",
        state.name,
        state.plan.pods.len(),
        state.plan.externals.len(),
        state.name
    );
    for p in &state.plan.pods {
        let ports: Vec<String> = p
            .ports
            .iter()
            .map(|c| format!("{}/{}", c.protocol, c.port))
            .collect();
        let ip = p.ip.map(|ip| ip.to_string()).unwrap_or_default();
        let _ = writeln!(out, "  {} {} {ip} {}", p.netns, p.pod, ports.join(","));
    }
    for x in &state.plan.externals {
        let _ = writeln!(out, "  {} {} {}", x.netns, x.id, x.ip);
    }
    out + &notes(&state.plan.notes)
}

/// `lab apply` for a terminal.
pub fn applied_text(name: &str, a: &kubeseg_lab::net::Applied) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    format!(
        "lab {name}: added {}; removed {}; rules replaced in {} pods in {:.1} ms (two nft transactions per pod: both generations, then the new one alone)\n",
        list(&a.added),
        list(&a.removed),
        a.updated,
        a.rules_time.as_secs_f64() * 1000.0
    ) + &notes(&a.notes)
}

/// Notes as `note:` lines.
fn notes(notes: &[String]) -> String {
    notes.iter().map(|n| format!("note: {n}\n")).collect()
}

/// One application of `kubeseg enforce`, as a line.
pub fn enforced_text(e: &kubeseg_lab::net::Enforced) -> String {
    let mut out = format!(
        "enforce: generation {} in force on {} pod(s); rules replaced in {:.1} ms",
        e.generation,
        e.updated,
        e.rules_time.as_secs_f64() * 1000.0
    );
    if !e.unknown.is_empty() {
        let _ = write!(
            out,
            "; not in the manifests, left as they were: {}",
            e.unknown.join(", ")
        );
    }
    out.push('\n');
    out + &notes(&e.notes)
}

/// `lab verify` for a terminal.
pub fn verdict_text(v: &Verdict) -> String {
    let mut out = format!(
        "{} probes between {} pods and {} external addresses: {} allowed by the kernel, {} mismatch(es) with kubeseg\n",
        v.probes,
        v.pods,
        v.externals,
        v.allowed,
        v.mismatches.len()
    );
    for m in &v.mismatches {
        let _ = writeln!(
            out,
            "MISMATCH {} -> {} {}/{}: kernel {}, kubeseg {}",
            m.from,
            m.to,
            m.protocol,
            m.port,
            if m.kernel { "allowed" } else { "denied" },
            if m.kubeseg { "allowed" } else { "denied" }
        );
    }
    if !v.unprobed.is_empty() {
        let _ = writeln!(out, "not probed (SCTP): {}", v.unprobed.join(", "));
    }
    out + &notes(&v.notes)
}

/// `lab verify --format json`.
pub fn verdict_json(v: &Verdict) -> String {
    let mut doc = serde_json::to_value(v).unwrap_or_default();
    if let Some(map) = doc.as_object_mut() {
        map.insert("schemaVersion".into(), json!(1));
    }
    crate::to_json(&doc)
}
