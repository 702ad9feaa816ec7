//! The L3 part of a Cilium rule: endpoints, CIDRs, CIDR sets, entities, nodes, FQDNs
//! and services, validated as Cilium's `rule_validation.go` does
//! (`IngressCommonRule.Validate`, `EgressCommonRule.Validate`, `CIDRRule.Validate`).

use super::cilium::Dir;
use super::cilium_selector::{Scope, read};
use super::cilium_services::services;
use super::ctx::Ctx;
use super::policy::error_count;
use super::tier::present;
use crate::tree::{Key, Node};
use kubeseg_model::{Cidr, CiliumPeer, CiliumPeerKind, CiliumService, Entity, IpSet};

/// The L3 fields Cilium will not combine in one rule, with their Go names as its
/// error message spells them (`l3Members`).
const INGRESS_L3: &[(&str, &str)] = &[
    ("fromEndpoints", "FromEndpoints"),
    ("fromCIDR", "FromCIDR"),
    ("fromCIDRSet", "FromCIDRSet"),
    ("fromEntities", "FromEntities"),
    ("fromNodes", "FromNodes"),
    ("fromGroups", "FromGroups"),
];
const EGRESS_L3: &[(&str, &str)] = &[
    ("toEndpoints", "ToEndpoints"),
    ("toCIDR", "ToCIDR"),
    ("toCIDRSet", "ToCIDRSet"),
    ("toEntities", "ToEntities"),
    ("toServices", "ToServices"),
    ("toGroups", "ToGroups"),
    ("toNodes", "ToNodes"),
    ("toFQDNs", "ToFQDNs"),
];

/// Fields that change which peers match and that kubeseg does not model yet.
const UNSUPPORTED: &[&str] = &["fromRequires", "toRequires", "toGroups", "fromGroups"];

/// The L3 field of a rule: its peers, or its `toServices` entries, which become peers
/// once the input is assembled.
#[derive(Default)]
pub(super) struct L3 {
    pub peers: Vec<CiliumPeer>,
    pub services: Vec<CiliumService>,
}

/// The L3 field of a rule: `Some(None)` when it has none at all, `None` on errors.
pub(super) fn peers(
    ctx: &mut Ctx,
    entries: &[(Key, Node)],
    dir: Dir,
    scope: Scope,
) -> Option<Option<L3>> {
    let errors_before = error_count(ctx);
    let l3 = if dir.ingress { INGRESS_L3 } else { EGRESS_L3 };
    // Cilium counts a field only when it has entries (`len(...) > 0`); a deny rule's
    // `l3Members` has no ToFQDNs (the field itself is reported with the rule).
    let mut set: Vec<(&Key, &str)> = l3
        .iter()
        .filter(|(k, _)| !(dir.deny && *k == "toFQDNs"))
        .filter_map(|(k, go)| {
            let (key, value) = entries.iter().rev().find(|(key, _)| key.name == *k)?;
            value.as_seq_nonempty().then_some((key, *go))
        })
        .collect();
    set.sort_by_key(|(k, _)| (k.line, k.column));
    if let [(_, first), (second, go), ..] = set.as_slice() {
        ctx.error_at(second.line, second.column, "invalid-peer", format!("combining {first} and {go} is not supported yet: Cilium rejects the policy (write a separate rule for each)"));
        return None;
    }
    for (key, value) in entries {
        if UNSUPPORTED.contains(&key.name.as_str()) && value.as_seq_nonempty() {
            ctx.error_at(
                key.line,
                key.column,
                "unsupported-field",
                format!(
                    "`{}` changes which peers match and kubeseg does not model it yet",
                    key.name
                ),
            );
        }
    }
    let mut out = Vec::new();
    let mut found = Vec::new();
    let mut any = false;
    for (k, _) in l3 {
        let Some(node) = present(entries, k) else {
            continue;
        };
        // A deny rule has no `toFQDNs`: reported with the rule's fields.
        if UNSUPPORTED.contains(k) || (dir.deny && *k == "toFQDNs") {
            continue;
        }
        if *k == "toServices" {
            // `toServices: []` sets no selector at all (`RulesToPolicyEntries` never
            // reads the field), so the rule reads as one without an L3 field.
            found = services(ctx, node).unwrap_or_default();
            any |= !found.is_empty();
            if dir.deny && !found.is_empty() {
                ctx.warning_at(node.line, node.column, "cilium-service-deny", "Cilium resolves toServices only in egress allow rules (pkg/policy/k8s/service.go `processRule` walks `Egress`): this deny rule gets no peer from it, so it denies nothing, or with toPorts denies those ports toward every destination");
            }
            continue;
        }
        any = true;
        let items = ctx.seq(node, k).unwrap_or_default();
        for item in items {
            let kind = match *k {
                "fromEndpoints" | "toEndpoints" => {
                    read(ctx, item, k).map(|s| CiliumPeerKind::Pods(s.peer(scope)))
                }
                "fromCIDR" | "toCIDR" => cidr(ctx, item),
                "fromCIDRSet" | "toCIDRSet" => cidr_set(ctx, item),
                "fromEntities" | "toEntities" => entity(ctx, item),
                "fromNodes" | "toNodes" => {
                    read(ctx, item, k).map(|s| CiliumPeerKind::Nodes(s.nodes()))
                }
                _ => fqdn(ctx, item),
            };
            if let Some(kind) = kind {
                out.push(CiliumPeer {
                    location: Some(ctx.at(item)),
                    kind,
                });
            }
        }
        if matches!(*k, "fromNodes" | "toNodes") && !items.is_empty() {
            ctx.warning_at(node.line, node.column, "cilium-nodes", format!("Cilium accepts `{k}` only when the agent runs with --enable-node-selector-labels; without it the agent rejects the whole policy"));
        }
    }
    if error_count(ctx) > errors_before {
        return None;
    }
    Some(any.then_some(L3 {
        peers: out,
        services: found,
    }))
}

trait NonEmpty {
    fn as_seq_nonempty(&self) -> bool;
}

impl NonEmpty for Node {
    /// Whether the node is a list with entries (or anything else that is not empty or null).
    fn as_seq_nonempty(&self) -> bool {
        match &self.value {
            crate::tree::Value::Seq(items) => !items.is_empty(),
            crate::tree::Value::Null => false,
            _ => true,
        }
    }
}

/// A CIDR in `addr/prefix` form, as the CRD's pattern on `CIDR` requires.
fn parse_cidr(ctx: &mut Ctx, item: &Node, what: &str) -> Option<(String, IpSet)> {
    let text = ctx.str(item, what)?;
    match Cidr::parse(text) {
        Ok(c) => Some((text.to_string(), c.to_set())),
        Err(e) => {
            ctx.error(item, "invalid-cidr", format!("invalid CIDR `{text}`: {e}"));
            None
        }
    }
}

fn cidr(ctx: &mut Ctx, item: &Node) -> Option<CiliumPeerKind> {
    let (written, addresses) = parse_cidr(ctx, item, "a CIDR")?;
    Some(CiliumPeerKind::Cidr { written, addresses })
}

/// A `CIDRRule`: the CIDR minus its `except` entries, each of which must lie inside it
/// (`CIDRRule.Validate`: same family, prefix at least as long, address inside).
fn cidr_set(ctx: &mut Ctx, item: &Node) -> Option<CiliumPeerKind> {
    let what = "a CIDR set entry";
    let entries = ctx.map(item, what)?;
    ctx.check_fields(
        entries,
        &["cidr", "except", "cidrGroupRef", "cidrGroupSelector"],
        what,
    );
    for k in ["cidrGroupRef", "cidrGroupSelector"] {
        if let Some((key, _)) = entries
            .iter()
            .find(|(key, v)| key.name == k && !v.is_null())
        {
            ctx.error_at(
                key.line,
                key.column,
                "unsupported-field",
                format!(
                    "`{k}` refers to CiliumCIDRGroup objects, which kubeseg does not model yet"
                ),
            );
            return None;
        }
    }
    let Some(c) = present(entries, "cidr") else {
        ctx.error(
            item,
            "invalid-cidr",
            "one of cidr, cidrGroupRef, or cidrGroupSelector is required",
        );
        return None;
    };
    let (text, _) = parse_cidr(ctx, c, "cidr")?;
    let base = Cidr::parse(&text).ok()?;
    let mut addresses = base.to_set();
    let mut excepts = Vec::new();
    if let Some(ex) = present(entries, "except") {
        for e in ctx.seq(ex, "except").unwrap_or_default() {
            let Some((etext, eset)) = parse_cidr(ctx, e, "an except entry") else {
                continue;
            };
            let Ok(ec) = Cidr::parse(&etext) else {
                continue;
            };
            if ec.addr.is_ipv4() != base.addr.is_ipv4()
                || ec.prefix < base.prefix
                || !base.to_set().contains(ec.addr)
            {
                ctx.error(
                    e,
                    "invalid-cidr",
                    format!(
                        "allow CIDR prefix {text} does not contain exclude CIDR prefix {etext}"
                    ),
                );
                continue;
            }
            addresses = addresses.difference(&eset);
            excepts.push(etext);
        }
    }
    let written = if excepts.is_empty() {
        text
    } else {
        format!("{text} except {}", excepts.join(", "))
    };
    Some(CiliumPeerKind::Cidr { written, addresses })
}

/// An entity (`EntitySelectorMapping`); `all` is every peer.
fn entity(ctx: &mut Ctx, item: &Node) -> Option<CiliumPeerKind> {
    let name = ctx.str(item, "an entity")?;
    if name == "all" {
        return Some(CiliumPeerKind::All);
    }
    let Some(e) = Entity::parse(name) else {
        ctx.error(item, "invalid-entity", format!("unsupported entity: {name} (Cilium knows all, world, world-ipv4, world-ipv6, cluster, host, remote-node, kube-apiserver, health, init, ingress, unmanaged, none)"));
        return None;
    };
    let note = match e {
        Entity::Host | Entity::RemoteNode => Some(
            "kubeseg does not know which node runs a pod: counted as every node's addresses and host-network pods",
        ),
        Entity::KubeApiserver | Entity::Internal(_) => Some("matches nothing kubeseg models"),
        _ => None,
    };
    if let Some(note) = note {
        ctx.warning_at(
            item.line,
            item.column,
            "cilium-entity",
            format!("entity `{name}`: {note}"),
        );
    }
    Some(CiliumPeerKind::Entity(e))
}

/// A `toFQDNs` entry: exactly one of `matchName`, `matchPattern` (fqdn.go), as Cilium
/// matches them: lower case, without the trailing dot.
fn fqdn(ctx: &mut Ctx, item: &Node) -> Option<CiliumPeerKind> {
    let what = "a toFQDNs entry";
    let entries = ctx.map(item, what)?;
    ctx.check_fields(entries, &["matchName", "matchPattern"], what);
    let name = present(entries, "matchName");
    let pattern = present(entries, "matchPattern");
    let (node, is_pattern) = match (name, pattern) {
        (Some(n), None) => (n, false),
        (None, Some(p)) => (p, true),
        (Some(_), Some(p)) => {
            ctx.error(
                p,
                "invalid-fqdn",
                "only one of MatchName or MatchPattern is allowed in an FQDNSelector",
            );
            return None;
        }
        (None, None) => {
            ctx.error(
                item,
                "invalid-fqdn",
                "an FQDNSelector needs matchName or matchPattern",
            );
            return None;
        }
    };
    let text = ctx.str(
        node,
        if is_pattern {
            "matchPattern"
        } else {
            "matchName"
        },
    )?;
    // The CRD's patterns: `^([-a-zA-Z0-9_]+[.]?)+$`, and with `*` for matchPattern.
    let ok = !text.is_empty()
        && text.len() <= 255
        && !text.starts_with('.')
        && !text.contains("..")
        && text.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'-' | b'_' | b'.')
                || (is_pattern && b == b'*')
        });
    if !ok {
        ctx.error(
            node,
            "invalid-fqdn",
            format!(
                "`{text}` is not a DNS name{}",
                if is_pattern {
                    " pattern (letters, digits, '-', '_', '*' and dots)"
                } else {
                    " (letters, digits, '-', '_' and dots)"
                }
            ),
        );
        return None;
    }
    let normal = text.to_ascii_lowercase();
    let normal = normal.strip_suffix('.').unwrap_or(&normal).to_string();
    Some(CiliumPeerKind::Fqdns(vec![normal]))
}
