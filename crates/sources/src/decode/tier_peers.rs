//! Peers of tiered policies: pods by namespace and pod labels, nodes, networks and
//! domain names; and the Node objects `nodes` peers match.

use super::ctx::Ctx;
use super::meta::{Meta, selector};
use super::tier::{Flavor, check_len, describe, one_of, present};
use crate::tree::{Node, Value};
use kubeseg_model::{Action, Cidr, IpSet, PodSet, Selector, TierPeer, TierPeerKind};
use std::net::IpAddr;

/// `namespaces: S` (every pod of the namespaces S selects) or `pods: {namespaceSelector, podSelector}`.
pub(super) fn pod_set(
    ctx: &mut Ctx,
    key: &str,
    node: &Node,
    flavor: Flavor,
    what: &str,
) -> Option<PodSet> {
    if key == "namespaces" {
        return Some(PodSet {
            namespaces: selector(ctx, node, &format!("{what}.namespaces"))?,
            pods: Selector::default(),
        });
    }
    let what = format!("{what}.pods");
    let entries = ctx.map(node, &what)?;
    ctx.check_fields(entries, &["namespaceSelector", "podSelector"], &what);
    let namespaces = match present(entries, "namespaceSelector") {
        Some(n) => selector(ctx, n, &format!("{what}.namespaceSelector")),
        // Optional in v1alpha2 (empty: all namespaces), required in v1alpha1.
        None if flavor.v2() => Some(Selector::default()),
        None => {
            ctx.error(node, "invalid-selector", format!("{what} has no `namespaceSelector`; v1alpha1 requires it (write `namespaceSelector: {{}}` for all namespaces)"));
            None
        }
    };
    let pods = match present(entries, "podSelector") {
        Some(n) => selector(ctx, n, &format!("{what}.podSelector")),
        None => {
            ctx.error(node, "invalid-selector", format!("{what} has no `podSelector`; the API server requires one (write `podSelector: {{}}` for all pods)"));
            None
        }
    };
    Some(PodSet {
        namespaces: namespaces?,
        pods: pods?,
    })
}

pub(super) fn peers(
    ctx: &mut Ctx,
    node: &Node,
    flavor: Flavor,
    ingress: bool,
    action: Option<Action>,
) -> Option<Vec<TierPeer>> {
    let key = if ingress { "from" } else { "to" };
    let items = ctx.seq(node, key)?;
    let mut ok = check_len(
        ctx,
        node,
        items.len(),
        1,
        flavor.max_items(),
        &format!("`{key}`"),
    );
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let what = format!("a `{key}` peer");
        let Some(entries) = ctx.map(item, &what) else {
            ok = false;
            continue;
        };
        let fields = flavor.peer_fields(ingress);
        ctx.check_fields(entries, fields, &what);
        let Some((k, value)) = one_of(ctx, item, entries, fields, &what) else {
            ok = false;
            continue;
        };
        let kind = match k {
            "namespaces" | "pods" => pod_set(ctx, k, value, flavor, key).map(TierPeerKind::Pods),
            "nodes" => selector(ctx, value, &format!("{key}.nodes")).map(TierPeerKind::Nodes),
            "networks" => networks(ctx, value),
            _ => domain_names(ctx, value, flavor, action),
        };
        match kind {
            Some(kind) => out.push(TierPeer {
                location: Some(ctx.at(item)),
                kind,
            }),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn networks(ctx: &mut Ctx, node: &Node) -> Option<TierPeerKind> {
    let items = ctx.seq(node, "networks")?;
    let mut ok = check_len(ctx, node, items.len(), 1, 25, "networks");
    let mut cidrs: Vec<String> = Vec::with_capacity(items.len());
    let mut addresses = IpSet::empty();
    for item in items {
        let Some(text) = ctx.str(item, "a networks entry") else {
            ok = false;
            continue;
        };
        if text.len() > 43 {
            ctx.error(
                item,
                "invalid-cidr",
                format!("`{text}` is longer than the 43 characters a CIDR may have"),
            );
            ok = false;
            continue;
        }
        match Cidr::parse(text) {
            Err(e) => {
                ctx.error(item, "invalid-cidr", format!("invalid CIDR `{text}`: {e}"));
                ok = false;
            }
            Ok(_) if cidrs.iter().any(|c| c == text) => {
                ctx.error(item, "duplicate-value", format!("`{text}` is listed twice; networks is a set and the API server rejects duplicates"));
                ok = false;
            }
            Ok(c) => {
                addresses = addresses.union(&c.to_set());
                cidrs.push(text.to_string());
            }
        }
    }
    ok.then_some(TierPeerKind::Networks { cidrs, addresses })
}

fn domain_names(
    ctx: &mut Ctx,
    node: &Node,
    flavor: Flavor,
    action: Option<Action>,
) -> Option<TierPeerKind> {
    let items = ctx.seq(node, "domainNames")?;
    let mut ok = check_len(ctx, node, items.len(), 1, 25, "domainNames");
    if let Some(a) = action.filter(|a| *a != Action::Accept) {
        let accept = if flavor.v2() { "Accept" } else { "Allow" };
        let written = flavor
            .actions()
            .iter()
            .find(|(_, x)| *x == a)
            .map_or("", |(s, _)| *s);
        ctx.error(node, "invalid-peer", format!("domainNames peers are only supported in {accept} rules, not {written}: the API leaves any other action undefined"));
        ok = false;
    }
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Some(text) = ctx.str(item, "a domainNames entry") else {
            ok = false;
            continue;
        };
        if !is_domain_name(text) {
            ctx.error(item, "invalid-domain", format!("`{text}` is not a domain name: dot-separated labels of letters, digits, '-' and '_', at least two labels, optionally starting with `*.`"));
            ok = false;
        } else if names.iter().any(|n| n == text) {
            ctx.error(item, "duplicate-value", format!("`{text}` is listed twice; domainNames is a set and the API server rejects duplicates"));
            ok = false;
        } else {
            names.push(text.to_string());
        }
    }
    ok.then_some(TierPeerKind::DomainNames(names))
}

/// The CRD's pattern
/// `^(\*\.)?([a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$`,
/// quirks included (`A-z` also admits `[\]^_` and backquote as a label's first character).
pub(super) fn is_domain_name(s: &str) -> bool {
    let s = s.strip_prefix("*.").unwrap_or(s);
    let s = s.strip_suffix('.').unwrap_or(s);
    let label = |l: &str| {
        let b = l.as_bytes();
        let first = |c: u8| c.is_ascii_digit() || (b'A'..=b'z').contains(&c);
        match b {
            [] => false,
            [c] => first(*c),
            [c, mid @ .., last] => {
                first(*c)
                    && last.is_ascii_alphanumeric()
                    && mid
                        .iter()
                        .all(|m| m.is_ascii_alphanumeric() || *m == b'-' || *m == b'_')
            }
        }
    };
    s.split('.').count() >= 2 && s.split('.').all(label)
}

/// Decodes a Node: its name, labels and InternalIP/ExternalIP addresses.
pub fn node(ctx: &mut Ctx, obj: &Node, meta: Meta) -> kubeseg_model::Node {
    let mut addresses = Vec::new();
    let items = match obj.get("status").and_then(|s| s.get("addresses")) {
        Some(Node {
            value: Value::Seq(items),
            ..
        }) => items.as_slice(),
        _ => &[],
    };
    for item in items {
        let kind = item.get("type").and_then(Node::as_str);
        if !matches!(kind, Some("InternalIP" | "ExternalIP")) {
            continue;
        }
        let Some(a) = item.get("address") else {
            continue;
        };
        match a.as_str().map(|s| s.parse::<IpAddr>()) {
            Some(Ok(ip)) => addresses.push(ip),
            _ => ctx.warning_at(
                a.line,
                a.column,
                "invalid-address",
                format!(
                    "Node address {} is not an IP address; `nodes` peers do not match it",
                    describe(a)
                ),
            ),
        }
    }
    addresses.sort();
    addresses.dedup();
    kubeseg_model::Node {
        name: meta.name,
        labels: meta.labels,
        addresses,
        location: Some(ctx.at(obj)),
    }
}
