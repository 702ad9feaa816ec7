//! `kubeseg explain` output.
//!
//! # JSON contract (schemaVersion 1)
//! `schemaVersion`, `src` and `dst` (`{"id", "kind"}`), `port` (`{"protocol", "port"}` or
//! null), `allowed` (boolean when a port is given, else null), `connections` (the allowed
//! set, shaped like `allowed` in `reach`), and `egress` / `ingress`, each
//! `{"applicable", "isolated", "isolatingPolicies": [{"policy", "location"}],
//!   "rules": [{"policy", "rule", "location", "peerMatches", "allows", "failed"}],
//!   "allowed"}` where `rule` reads `ingress[0]`, `allows` is the rule's port set toward
//! the destination, and `failed` is null, `"peer"`, `"port"`, `"protocol"` or
//! `"named-port"`.

use crate::{PortsJson, SCHEMA_VERSION, to_json};
use kubeseg_engine::explain::{Direction, Explanation, Miss};
use kubeseg_model::{Cluster, PortSet, Protocol};
use serde::Serialize;
use std::fmt::Write;

/// What the user asked about.
pub struct Query<'a> {
    /// Source display id.
    pub src: &'a str,
    /// Source kind.
    pub src_kind: &'a str,
    /// Destination display id.
    pub dst: &'a str,
    /// Destination kind.
    pub dst_kind: &'a str,
    /// The port asked about, resolved to a number.
    pub port: Option<(Protocol, u16)>,
}

#[derive(Serialize)]
struct Side<'a> {
    id: &'a str,
    kind: &'a str,
}

#[derive(Serialize)]
struct PortJson {
    protocol: &'static str,
    port: u16,
}

#[derive(Serialize)]
struct PolicyRef {
    policy: String,
    location: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleJson {
    policy: String,
    rule: String,
    location: Option<String>,
    peer_matches: bool,
    allows: PortsJson,
    failed: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DirectionJson {
    applicable: bool,
    isolated: bool,
    isolating_policies: Vec<PolicyRef>,
    rules: Vec<RuleJson>,
    allowed: PortsJson,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExplainJson<'a> {
    schema_version: u32,
    src: Side<'a>,
    dst: Side<'a>,
    port: Option<PortJson>,
    allowed: Option<bool>,
    connections: PortsJson,
    egress: DirectionJson,
    ingress: DirectionJson,
}

fn failed(
    miss: &Option<Miss>,
    ports: &PortSet,
    port: Option<(Protocol, u16)>,
) -> Option<&'static str> {
    match miss {
        Some(Miss::Peer) => Some("peer"),
        Some(Miss::NamedPortUndefined(_)) => Some("named-port"),
        None => match port {
            Some((proto, n)) if !ports.contains(proto, n) => {
                Some(if ports.ports(proto).is_empty() {
                    "protocol"
                } else {
                    "port"
                })
            }
            _ => None,
        },
    }
}

fn direction_json(
    cluster: &Cluster,
    d: &Direction,
    name: &str,
    port: Option<(Protocol, u16)>,
) -> DirectionJson {
    let pol = |i: usize| &cluster.policies[i];
    DirectionJson {
        applicable: !d.not_applicable,
        isolated: d.isolated,
        isolating_policies: d
            .isolating
            .iter()
            .map(|&i| PolicyRef {
                policy: pol(i).id(),
                location: pol(i).location.as_ref().map(|l| l.to_string()),
            })
            .collect(),
        rules: d
            .rules
            .iter()
            .map(|r| {
                let p = pol(r.policy);
                let rules = if name == "egress" {
                    &p.egress
                } else {
                    &p.ingress
                };
                RuleJson {
                    policy: p.id(),
                    rule: format!("{name}[{}]", r.rule),
                    location: rules[r.rule].location.as_ref().map(|l| l.to_string()),
                    peer_matches: r.miss != Some(Miss::Peer),
                    allows: PortsJson::from_set(&r.ports),
                    failed: failed(&r.miss, &r.ports, port),
                }
            })
            .collect(),
        allowed: PortsJson::from_set(&d.allowed),
    }
}

/// Renders an explanation as JSON.
pub fn json(cluster: &Cluster, q: &Query, e: &Explanation) -> String {
    to_json(&ExplainJson {
        schema_version: SCHEMA_VERSION,
        src: Side {
            id: q.src,
            kind: q.src_kind,
        },
        dst: Side {
            id: q.dst,
            kind: q.dst_kind,
        },
        port: q.port.map(|(p, n)| PortJson {
            protocol: p.as_str(),
            port: n,
        }),
        allowed: q.port.map(|(p, n)| e.allowed.contains(p, n)),
        connections: PortsJson::from_set(&e.allowed),
        egress: direction_json(cluster, &e.egress, "egress", q.port),
        ingress: direction_json(cluster, &e.ingress, "ingress", q.port),
    })
}

/// Renders an explanation for a terminal.
pub fn text(cluster: &Cluster, q: &Query, e: &Explanation) -> String {
    let mut out = String::new();
    match q.port {
        Some((proto, n)) => {
            let verdict = if e.allowed.contains(proto, n) {
                "ALLOWED"
            } else {
                "DENIED"
            };
            let _ = writeln!(out, "{} => {} on {proto} {n}: {verdict}", q.src, q.dst);
        }
        None => {
            let what = if e.allowed.is_empty() {
                "No Connections".to_string()
            } else {
                e.allowed.to_string()
            };
            let _ = writeln!(out, "{} => {} : {what}", q.src, q.dst);
        }
    }
    direction_text(&mut out, cluster, &e.egress, "egress", q.src, q.port);
    direction_text(&mut out, cluster, &e.ingress, "ingress", q.dst, q.port);
    out
}

fn direction_text(
    out: &mut String,
    cluster: &Cluster,
    d: &Direction,
    name: &str,
    who: &str,
    port: Option<(Protocol, u16)>,
) {
    let _ = write!(out, "\n{name} of {who}: ");
    if d.not_applicable {
        let _ = writeln!(
            out,
            "not subject to NetworkPolicy (outside the cluster or host network): everything allowed"
        );
        return;
    }
    if !d.isolated {
        let kind = if name == "egress" {
            "Egress"
        } else {
            "Ingress"
        };
        let _ = writeln!(
            out,
            "not isolated (no NetworkPolicy with {kind} selects it): everything allowed"
        );
        return;
    }
    let names: Vec<String> = d
        .isolating
        .iter()
        .map(|&i| {
            let p = &cluster.policies[i];
            match &p.location {
                Some(l) => format!("{} ({l})", p.id()),
                None => p.id(),
            }
        })
        .collect();
    let _ = writeln!(out, "isolated by {}", names.join(", "));
    if d.rules.is_empty() {
        let _ = writeln!(out, "  no {name} rule in these policies: nothing allowed");
    }
    for r in &d.rules {
        let p = &cluster.policies[r.policy];
        let rules = if name == "egress" {
            &p.egress
        } else {
            &p.ingress
        };
        let loc = rules[r.rule]
            .location
            .as_ref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        let what = match (&r.miss, failed(&r.miss, &r.ports, port)) {
            (Some(Miss::Peer), _) => "no peer matches".to_string(),
            (Some(Miss::NamedPortUndefined(names)), _) => format!(
                "peer matches, but the destination defines no port named {}",
                names.join(", ")
            ),
            (None, Some("protocol")) => format!(
                "peer matches, but the protocol is not allowed (rule allows {})",
                r.ports
            ),
            (None, Some(_)) => format!(
                "peer matches, but the port is not allowed (rule allows {})",
                r.ports
            ),
            (None, None) => format!("allows {}", r.ports),
        };
        let _ = writeln!(out, "  {} {name}[{}]{loc}: {what}", p.id(), r.rule);
    }
    let allowed = if d.allowed.is_empty() {
        "No Connections".to_string()
    } else {
        d.allowed.to_string()
    };
    let _ = writeln!(out, "  {name} allows: {allowed}");
}
