//! networking.k8s.io/v1 NetworkPolicy, validated and defaulted as the API server does.

use super::ctx::{Ctx, field};
use super::meta::{Meta, is_port_name, selector};
use crate::tree::{Node, Value};
use kubeseg_model::{
    Cidr, IpSet, NetworkPolicy, Peer, PeerKind, PortMatch, PortRule, Protocol, Rule, Selector,
    Severity,
};

const SPEC_FIELDS: &[&str] = &["podSelector", "policyTypes", "ingress", "egress"];
const INGRESS_FIELDS: &[&str] = &["from", "ports"];
const EGRESS_FIELDS: &[&str] = &["to", "ports"];
const PEER_FIELDS: &[&str] = &["podSelector", "namespaceSelector", "ipBlock"];
const PORT_FIELDS: &[&str] = &["protocol", "port", "endPort"];

/// Decodes a NetworkPolicy; `None` when it has errors (they are reported).
pub fn network_policy(ctx: &mut Ctx, obj: &Node, meta: Meta) -> Option<NetworkPolicy> {
    let errors_before = error_count(ctx);
    let namespace = meta.namespace.unwrap_or_else(|| "default".to_string());
    let spec_node = obj.get("spec");
    let empty = Node {
        value: Value::Map(vec![]),
        line: obj.line,
        column: obj.column,
    };
    let spec_node = match spec_node {
        Some(s) => s,
        None => {
            ctx.warning_at(obj.line, obj.column, "missing-spec", "NetworkPolicy has no spec: it selects every pod of its namespace and denies all ingress");
            &empty
        }
    };
    let spec = ctx.map(spec_node, "spec")?;
    ctx.check_fields(spec, SPEC_FIELDS, "NetworkPolicy spec");
    let pod_selector = match field(spec, "podSelector") {
        Some(n) => selector(ctx, n, "spec.podSelector"),
        None => {
            ctx.warning_at(spec_node.line, spec_node.column, "missing-pod-selector", "spec.podSelector is missing: it defaults to {} and selects every pod of the namespace");
            Some(Selector::default())
        }
    };
    let ingress = rules(
        ctx,
        field(spec, "ingress"),
        "ingress",
        "from",
        INGRESS_FIELDS,
    );
    let egress = rules(ctx, field(spec, "egress"), "egress", "to", EGRESS_FIELDS);

    let explicit = field(spec, "policyTypes").and_then(|n| policy_types(ctx, n));
    let (isolates_ingress, isolates_egress, policy_types_explicit) = match explicit {
        Some((i, e)) if i || e => (i, e, true),
        // Absent or empty: Ingress always, Egress only with a non-empty egress list.
        _ => (true, egress.as_ref().is_some_and(|r| !r.is_empty()), false),
    };
    if error_count(ctx) > errors_before {
        return None;
    }
    Some(NetworkPolicy {
        namespace,
        name: meta.name,
        location: Some(ctx.at(obj)),
        pod_selector: pod_selector?,
        isolates_ingress,
        isolates_egress,
        policy_types_explicit,
        ingress: ingress.unwrap_or_default(),
        egress: egress.unwrap_or_default(),
    })
}

pub(super) fn error_count(ctx: &Ctx) -> usize {
    ctx.diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count()
}

fn policy_types(ctx: &mut Ctx, node: &Node) -> Option<(bool, bool)> {
    let (mut ingress, mut egress) = (false, false);
    let items = ctx.seq(node, "spec.policyTypes")?;
    if items.len() > 2 {
        ctx.error(
            node,
            "invalid-policy-type",
            format!(
                "policyTypes lists {} entries; the API server accepts at most two (Ingress and Egress)",
                items.len()
            ),
        );
    }
    for item in items {
        match item.as_str() {
            Some("Ingress") => ingress = true,
            Some("Egress") => egress = true,
            _ => ctx.error(
                item,
                "invalid-policy-type",
                format!(
                    "policyTypes entries must be Ingress or Egress, found {}",
                    describe(item)
                ),
            ),
        }
    }
    Some((ingress, egress))
}

fn describe(node: &Node) -> String {
    match &node.value {
        Value::Str(s) => format!("`{s}`"),
        _ => node.type_name().to_string(),
    }
}

fn rules(
    ctx: &mut Ctx,
    node: Option<&Node>,
    dir: &str,
    peers_key: &str,
    known: &[&str],
) -> Option<Vec<Rule>> {
    let node = node?;
    let items = ctx.seq(node, &format!("spec.{dir}"))?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Some(entries) = ctx.map(item, &format!("a {dir} rule")) else {
            continue;
        };
        ctx.check_fields(entries, known, &format!("a {dir} rule"));
        let peers = field(entries, peers_key).and_then(|p| peers(ctx, p, dir, peers_key));
        let ports = field(entries, "ports").and_then(|p| ports(ctx, p));
        out.push(Rule {
            location: Some(ctx.at(item)),
            peers: peers.filter(|p| !p.is_empty()),
            ports: ports.filter(|p| !p.is_empty()),
        });
    }
    Some(out)
}

fn peers(ctx: &mut Ctx, node: &Node, dir: &str, key: &str) -> Option<Vec<Peer>> {
    let mut out = Vec::new();
    for item in ctx.seq(node, &format!("{dir}.{key}"))? {
        let Some(entries) = ctx.map(item, &format!("a `{key}` peer")) else {
            continue;
        };
        ctx.check_fields(entries, PEER_FIELDS, &format!("a `{key}` peer"));
        // The three are pointers in the API: `null` is the same as absent, so
        // `{podSelector: null}` is an empty peer, which the API server rejects.
        let present = |key| field(entries, key).filter(|n| !n.is_null());
        let pods = present("podSelector");
        let namespaces = present("namespaceSelector");
        let ip_block = present("ipBlock");
        let kind = match (ip_block, pods.is_some() || namespaces.is_some()) {
            (Some(b), false) => ip_block_peer(ctx, b),
            (Some(b), true) => {
                ctx.error(
                    b,
                    "invalid-peer",
                    "a peer with ipBlock must not also have podSelector or namespaceSelector",
                );
                None
            }
            (None, true) => {
                let pods = pods.map(|n| selector(ctx, n, "podSelector"));
                let namespaces = namespaces.map(|n| selector(ctx, n, "namespaceSelector"));
                match (pods, namespaces) {
                    (Some(None), _) | (_, Some(None)) => None,
                    (pods, namespaces) => Some(PeerKind::Pods {
                        pods: pods.flatten(),
                        namespaces: namespaces.flatten(),
                    }),
                }
            }
            (None, false) => {
                ctx.error(item, "invalid-peer", format!("a `{key}` peer must have podSelector, namespaceSelector or ipBlock; an empty peer is rejected by the API server"));
                None
            }
        };
        if let Some(kind) = kind {
            out.push(Peer {
                location: Some(ctx.at(item)),
                kind,
            });
        }
    }
    Some(out)
}

fn ip_block_peer(ctx: &mut Ctx, node: &Node) -> Option<PeerKind> {
    let entries = ctx.map(node, "ipBlock")?;
    ctx.check_fields(entries, &["cidr", "except"], "ipBlock");
    let Some(cidr_node) = field(entries, "cidr") else {
        ctx.error(node, "invalid-cidr", "ipBlock without `cidr`");
        return None;
    };
    let cidr_text = ctx.str(cidr_node, "ipBlock.cidr")?.to_string();
    let cidr = match Cidr::parse(&cidr_text) {
        Ok(c) => c,
        Err(e) => {
            ctx.error(
                cidr_node,
                "invalid-cidr",
                format!("invalid cidr `{cidr_text}`: {e}"),
            );
            return None;
        }
    };
    let mut addresses = cidr.to_set();
    let mut except = Vec::new();
    let mut ok = true;
    if let Some(ex) = field(entries, "except") {
        for item in ctx.seq(ex, "ipBlock.except").unwrap_or_default() {
            let Some(text) = ctx.str(item, "an except entry") else {
                ok = false;
                continue;
            };
            match Cidr::parse(text) {
                Err(e) => {
                    ctx.error(
                        item,
                        "invalid-cidr",
                        format!("invalid except `{text}`: {e}"),
                    );
                    ok = false;
                }
                Ok(c)
                    if c.addr.is_ipv4() != cidr.addr.is_ipv4()
                        || c.prefix <= cidr.prefix
                        || !cidr.to_set().is_superset(&c.to_set()) =>
                {
                    ctx.error(
                        item,
                        "except-outside-cidr",
                        format!("except `{text}` must be a strict subset of cidr `{cidr_text}`"),
                    );
                    ok = false;
                }
                Ok(c) => {
                    addresses = addresses.difference(&c.to_set());
                    except.push(text.to_string());
                }
            }
        }
    }
    ok.then_some(PeerKind::IpBlock {
        cidr: cidr_text,
        except,
        addresses: if ok { addresses } else { IpSet::empty() },
    })
}

fn ports(ctx: &mut Ctx, node: &Node) -> Option<Vec<PortRule>> {
    let mut out = Vec::new();
    for item in ctx.seq(node, "ports")? {
        let Some(entries) = ctx.map(item, "a ports entry") else {
            continue;
        };
        ctx.check_fields(entries, PORT_FIELDS, "a ports entry");
        let protocol = match field(entries, "protocol") {
            None => Some(Protocol::Tcp),
            Some(p) if p.is_null() => Some(Protocol::Tcp),
            Some(p) => match p.as_str().and_then(Protocol::parse) {
                Some(proto) => Some(proto),
                None => {
                    ctx.error(
                        p,
                        "invalid-protocol",
                        format!(
                            "unknown protocol {}; expected TCP, UDP or SCTP",
                            describe(p)
                        ),
                    );
                    None
                }
            },
        };
        let end_port = field(entries, "endPort").filter(|n| !n.is_null());
        let port = match field(entries, "port").filter(|n| !n.is_null()) {
            None => {
                if let Some(e) = end_port {
                    ctx.error(e, "invalid-port", "endPort requires a numeric `port`");
                    continue;
                }
                Some(PortMatch::Any)
            }
            Some(p) => match &p.value {
                Value::Int(n) if (1..=65535).contains(n) => {
                    let start = *n as u16;
                    match end_port.map(|e| (e, &e.value)) {
                        None => Some(PortMatch::Range(start, start)),
                        Some((_, Value::Int(e))) if (1..=65535).contains(e) && *e >= *n => {
                            Some(PortMatch::Range(start, *e as u16))
                        }
                        Some((e, Value::Int(_))) => {
                            ctx.error(
                                e,
                                "invalid-port",
                                format!("endPort must be between port ({n}) and 65535"),
                            );
                            None
                        }
                        Some((e, _)) => {
                            ctx.error(
                                e,
                                "invalid-port",
                                format!("endPort must be an integer, found {}", e.type_name()),
                            );
                            None
                        }
                    }
                }
                Value::Int(n) => {
                    ctx.error(p, "invalid-port", format!("port {n} is outside 1-65535"));
                    None
                }
                Value::Str(name) => {
                    if let Some(e) = end_port {
                        ctx.error(
                            e,
                            "invalid-port",
                            format!("endPort cannot be used with the named port `{name}`"),
                        );
                        None
                    } else if !is_port_name(name) {
                        ctx.error(p, "invalid-port", format!("`{name}` is not a valid port name (1-15 lower-case alphanumerics or '-', with a letter); write a number without quotes"));
                        None
                    } else {
                        Some(PortMatch::Named(name.clone()))
                    }
                }
                _ => {
                    ctx.error(
                        p,
                        "invalid-port",
                        format!("port must be a number or a name, found {}", p.type_name()),
                    );
                    None
                }
            },
        };
        if let (Some(protocol), Some(port)) = (protocol, port) {
            out.push(PortRule { protocol, port });
        }
    }
    Some(out)
}
