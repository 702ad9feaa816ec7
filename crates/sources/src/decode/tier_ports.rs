//! Ports of tiered policies: v1alpha1 `ports` (portNumber, namedPort, portRange) and
//! v1alpha2 `protocols` (tcp, udp, sctp with a destinationPort, destinationNamedPort).

use super::ctx::Ctx;
use super::meta::is_port_name;
use super::tier::{Flavor, check_len, describe, one_of, present};
use crate::tree::{Key, Node, Value};
use kubeseg_model::{PortMatch, PortRule, Protocol};

/// The port rules of a rule, and the entries that name a port (for the egress CEL rule).
pub type Ports<'n> = (Vec<PortRule>, Vec<&'n Node>);

/// v1alpha1 `ports`.
pub fn ports<'n>(ctx: &mut Ctx, node: &'n Node, flavor: Flavor) -> Option<Ports<'n>> {
    let items = ctx.seq(node, "ports")?;
    let mut ok = check_len(ctx, node, items.len(), 1, flavor.max_items(), "ports");
    let (mut rules, mut named) = (Vec::new(), Vec::new());
    for item in items {
        let what = "a ports entry";
        let Some(entries) = ctx.map(item, what) else {
            ok = false;
            continue;
        };
        let keys = &["portNumber", "namedPort", "portRange"];
        ctx.check_fields(entries, keys, what);
        let Some((key, value)) = one_of(ctx, item, entries, keys, what) else {
            ok = false;
            continue;
        };
        let got = match key {
            "namedPort" => named_port(ctx, value).inspect(|_| named.push(value)),
            "portNumber" => (|| {
                let entries = ctx.map(value, "portNumber")?;
                ctx.check_fields(entries, &["protocol", "port"], "portNumber");
                let protocol = protocol(ctx, entries);
                let port = required_port(ctx, value, entries, "port", "portNumber");
                Some(vec![PortRule {
                    protocol: protocol?,
                    port: PortMatch::Range(port?, port?),
                }])
            })(),
            _ => (|| {
                let entries = ctx.map(value, "portRange")?;
                ctx.check_fields(entries, &["protocol", "start", "end"], "portRange");
                let protocol = protocol(ctx, entries);
                let range = range(ctx, value, entries, flavor, "portRange");
                Some(vec![PortRule {
                    protocol: protocol?,
                    port: range?,
                }])
            })(),
        };
        match got {
            Some(r) => rules.extend(r),
            None => ok = false,
        }
    }
    ok.then_some((rules, named))
}

/// v1alpha2 `protocols`.
pub fn protocols<'n>(ctx: &mut Ctx, node: &'n Node, flavor: Flavor) -> Option<Ports<'n>> {
    let items = ctx.seq(node, "protocols")?;
    let mut ok = check_len(ctx, node, items.len(), 1, flavor.max_items(), "protocols");
    let (mut rules, mut named) = (Vec::new(), Vec::new());
    for item in items {
        let what = "a protocols entry";
        let Some(entries) = ctx.map(item, what) else {
            ok = false;
            continue;
        };
        let keys = &["tcp", "udp", "sctp", "destinationNamedPort"];
        ctx.check_fields(entries, keys, what);
        let Some((key, value)) = one_of(ctx, item, entries, keys, what) else {
            ok = false;
            continue;
        };
        let protocol = match key {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "sctp" => Protocol::Sctp,
            _ => {
                match named_port(ctx, value) {
                    Some(r) => {
                        rules.extend(r);
                        named.push(value);
                    }
                    None => ok = false,
                }
                continue;
            }
        };
        match destination_port(ctx, key, value, flavor) {
            Some(port) => rules.push(PortRule { protocol, port }),
            None => ok = false,
        }
    }
    ok.then_some((rules, named))
}

/// `tcp`/`udp`/`sctp`: `{destinationPort: {number | range: {start, end}}}`.
fn destination_port(ctx: &mut Ctx, key: &str, node: &Node, flavor: Flavor) -> Option<PortMatch> {
    let entries = ctx.map(node, key)?;
    ctx.check_fields(entries, &["destinationPort"], key);
    let Some(dp) = present(entries, "destinationPort") else {
        // MinProperties=1: `tcp: {}` is rejected.
        ctx.error(node, "invalid-port", format!("`{key}` must have a destinationPort (the API server rejects an empty `{key}`); for every port write `destinationPort: {{range: {{start: 1, end: 65535}}}}`"));
        return None;
    };
    let what = format!("{key}.destinationPort");
    let entries = ctx.map(dp, &what)?;
    ctx.check_fields(entries, &["number", "range"], &what);
    let (which, value) = one_of(ctx, dp, entries, &["number", "range"], &what)?;
    if which == "number" {
        let n = port_number(ctx, value)?;
        return Some(PortMatch::Range(n, n));
    }
    let entries = ctx.map(value, "range")?;
    ctx.check_fields(entries, &["start", "end"], "range");
    range(ctx, value, entries, flavor, "range")
}

/// A named port, listed once per protocol.
fn named_port(ctx: &mut Ctx, node: &Node) -> Option<Vec<PortRule>> {
    let name = ctx.str(node, "a named port")?;
    if !is_port_name(name) {
        ctx.warning_at(node.line, node.column, "invalid-port", format!("`{name}` is not a valid container port name (1-15 lower-case alphanumerics or '-', with a letter): it matches no port"));
    }
    Some(
        Protocol::PORTED
            .iter()
            .map(|&protocol| PortRule {
                protocol,
                port: PortMatch::Named(name.to_string()),
            })
            .collect(),
    )
}

/// `protocol`, TCP when absent (the CRD's default).
fn protocol(ctx: &mut Ctx, entries: &[(Key, Node)]) -> Option<Protocol> {
    let Some(p) = present(entries, "protocol") else {
        return Some(Protocol::Tcp);
    };
    let parsed = p.as_str().and_then(Protocol::parse);
    if parsed.is_none() {
        ctx.error(
            p,
            "invalid-protocol",
            format!(
                "unknown protocol {}; expected TCP, UDP or SCTP",
                describe(p)
            ),
        );
    }
    parsed
}

fn port_number(ctx: &mut Ctx, node: &Node) -> Option<u16> {
    match node.value {
        Value::Int(n) if (1..=65535).contains(&n) => Some(n as u16),
        _ => {
            ctx.error(
                node,
                "invalid-port",
                format!(
                    "a port must be an integer from 1 to 65535, found {}",
                    describe(node)
                ),
            );
            None
        }
    }
}

fn required_port(
    ctx: &mut Ctx,
    node: &Node,
    entries: &[(Key, Node)],
    key: &str,
    what: &str,
) -> Option<u16> {
    match present(entries, key) {
        Some(n) => port_number(ctx, n),
        None => {
            ctx.error(node, "invalid-port", format!("{what} has no `{key}`"));
            None
        }
    }
}

/// `start` and `end`, inclusive. v1alpha2 rejects `start >= end` (CEL); v1alpha1 documents
/// `start < end` without enforcing it: an equal pair is one port (warned), a reversed one
/// matches nothing and is rejected here.
fn range(
    ctx: &mut Ctx,
    node: &Node,
    entries: &[(Key, Node)],
    flavor: Flavor,
    what: &str,
) -> Option<PortMatch> {
    let start = required_port(ctx, node, entries, "start", what);
    let end = required_port(ctx, node, entries, "end", what);
    let (start, end) = (start?, end?);
    let at = present(entries, "end").unwrap_or(node);
    if start < end {
        Some(PortMatch::Range(start, end))
    } else if start == end && !flavor.v2() {
        ctx.warning_at(at.line, at.column, "invalid-port", format!("{what} start and end are both {start}: the API says start must be less than end; read as the single port {start}"));
        Some(PortMatch::Range(start, end))
    } else {
        ctx.error(
            at,
            "invalid-port",
            format!("{what} start ({start}) must be less than end ({end})"),
        );
        None
    }
}
