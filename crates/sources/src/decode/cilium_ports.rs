//! `toPorts` of Cilium rules (`pkg/policy/api/l4.go`), validated as
//! `rule_validation.go` does (`PortRule.Validate`, `PortProtocol.Validate`,
//! `L7Rules.Validate`).

use super::cilium::Dir;
use super::ctx::Ctx;
use super::tier::{describe, present};
use crate::tree::{Node, Value};
use kubeseg_model::{PortMatch, PortRule, Protocol};

/// `maxPorts` of `rule_validation.go`.
const MAX_PORTS: usize = 40;
/// The fields of an allow rule's `toPorts` entry (`PortRule`); a deny rule's
/// (`PortDenyRule`) has only `ports`.
const PORT_RULE_FIELDS: &[&str] = &[
    "ports",
    "rules",
    "terminatingTLS",
    "originatingTLS",
    "serverNames",
    "listener",
];
const L7_FIELDS: &[&str] = &["http", "kafka", "dns", "l7proto", "l7"];
/// Protocols the CRD admits that carry no TCP, UDP or SCTP port.
const OTHER_PROTOCOLS: &[&str] = &["ICMP", "ICMPV6", "VRRP", "IGMP"];

/// The ports of a rule's `toPorts` (`None`: every port), its L7 rule kinds and the
/// ports of its entries without L7 rules; `None` on errors.
pub(super) type Ports = (Option<Vec<PortRule>>, Vec<String>, Vec<PortRule>);

/// Reads `toPorts`; an absent or empty list restricts no port.
pub(super) fn to_ports(ctx: &mut Ctx, node: Option<&Node>, dir: Dir, host: bool) -> Option<Ports> {
    let Some(node) = node else {
        return Some((None, Vec::new(), Vec::new()));
    };
    let items = ctx.seq(node, "toPorts")?;
    if items.is_empty() {
        return Some((None, Vec::new(), Vec::new()));
    }
    let mut ok = true;
    let (mut rules, mut l7, mut plain) = (Vec::new(), Vec::new(), Vec::new());
    for item in items {
        match entry(ctx, item, dir, host) {
            Some((r, kinds)) => {
                if kinds.is_empty() {
                    plain.extend(r.iter().cloned());
                }
                rules.extend(r);
                l7.extend(kinds);
            }
            None => ok = false,
        }
    }
    rules.sort();
    rules.dedup();
    l7.sort();
    l7.dedup();
    plain.sort();
    plain.dedup();
    ok.then_some((Some(rules), l7, plain))
}

/// One `toPorts` entry: its port rules and L7 kinds.
fn entry(ctx: &mut Ctx, item: &Node, dir: Dir, host: bool) -> Option<(Vec<PortRule>, Vec<String>)> {
    let what = "a toPorts entry";
    let entries = ctx.map(item, what)?;
    ctx.check_fields(entries, PORT_RULE_FIELDS, what);
    let mut ok = true;
    if dir.deny {
        for (key, _) in entries
            .iter()
            .filter(|(k, _)| k.name != "ports" && PORT_RULE_FIELDS.contains(&k.name.as_str()))
        {
            ctx.error_at(key.line, key.column, "unknown-field", format!("a deny rule's toPorts has no `{}`: Cilium's deny rules are L4 only (PortDenyRule has only `ports`)", key.name));
            ok = false;
        }
    }
    let mut tls = Vec::new();
    for k in [
        "terminatingTLS",
        "originatingTLS",
        "serverNames",
        "listener",
    ] {
        if let Some(n) = present(entries, k).filter(|_| !dir.deny) {
            tls.push((k, n));
        }
    }
    let mut out = Vec::new();
    let mut has_zero = false;
    let mut protocols = Vec::new();
    let port_items = match present(entries, "ports") {
        Some(p) => ctx.seq(p, "ports").unwrap_or_default(),
        None => &[],
    };
    if port_items.len() > MAX_PORTS {
        ctx.error(
            item,
            "invalid-port",
            format!("too many ports, the max is {MAX_PORTS}"),
        );
        ok = false;
    }
    for p in port_items {
        match port(ctx, p) {
            Some((rules, zero, protocol)) => {
                has_zero |= zero;
                protocols.push((p, protocol));
                out.extend(rules);
            }
            None => ok = false,
        }
    }
    let rules_key = entries
        .iter()
        .rev()
        .find(|(k, v)| k.name == "rules" && !v.is_null() && !dir.deny);
    let kinds = match rules_key {
        Some((key, r)) => {
            let facts = PortFacts {
                at: (key.line, key.column),
                no_ports: port_items.is_empty(),
                has_zero,
                protocols: &protocols,
            };
            l7_rules(ctx, r, dir, host, &facts)?
        }
        None => Vec::new(),
    };
    if let Some(n) = present(entries, "listener").filter(|_| dir.ingress && !dir.deny) {
        ctx.error(n, "invalid-port", "Listener is not allowed on ingress");
        ok = false;
    }
    if !kinds.is_empty()
        && let Some(n) = present(entries, "listener")
    {
        ctx.error(n, "invalid-port", "Listener is not allowed with L7 rules");
        ok = false;
    }
    for (k, n) in tls {
        ctx.warning_at(n.line, n.column, "cilium-tls", format!("`{k}`: kubeseg treats these ports as open; Cilium hands the traffic to its proxy, which may refuse it"));
    }
    // An entry without ports covers every port when it has L7 rules and adds nothing
    // otherwise (pkg/policy/rule.go, merging of L4 port rules; read from memory, unconfirmed).
    if port_items.is_empty() && !kinds.is_empty() {
        out = Protocol::PORTED
            .iter()
            .map(|&protocol| PortRule {
                protocol,
                port: PortMatch::Any,
            })
            .collect();
    }
    ok.then_some((out, kinds))
}

/// One `ports` entry: its port rules (ANY listed once per protocol), whether its port
/// is 0, and its protocol as Cilium parsed it (`None` when unmodelled).
fn port(ctx: &mut Ctx, item: &Node) -> Option<(Vec<PortRule>, bool, Option<&'static str>)> {
    let what = "a ports entry";
    let entries = ctx.map(item, what)?;
    ctx.check_fields(entries, &["port", "endPort", "protocol"], what);
    let protocol = match present(entries, "protocol") {
        None => Some("ANY"),
        Some(p) => match p.as_str() {
            Some("") | Some("ANY") => Some("ANY"),
            Some("TCP") => Some("TCP"),
            Some("UDP") => Some("UDP"),
            Some("SCTP") => Some("SCTP"),
            Some(other) if OTHER_PROTOCOLS.contains(&other) => {
                ctx.warning_at(p.line, p.column, "cilium-icmp", format!("protocol {other} in toPorts is not modelled (kubeseg reads ICMP from a rule's `icmps`): this entry opens nothing"));
                None
            }
            _ => {
                ctx.error(p, "invalid-protocol", format!("unknown protocol {}; Cilium accepts TCP, UDP, SCTP, ANY, ICMP, ICMPV6, VRRP or IGMP", describe(p)));
                return None;
            }
        },
    };
    let Some(port_node) = present(entries, "port") else {
        ctx.error(item, "invalid-port", "port must be specified (Cilium rejects a ports entry without `port`; write \"0\" for every port)");
        return None;
    };
    let value = port_value(ctx, port_node)?;
    let end = match present(entries, "endPort") {
        Some(e) => match e.value {
            Value::Int(n) if (0..=65535).contains(&n) => Some(n as u16),
            _ => {
                ctx.error(
                    e,
                    "invalid-port",
                    format!(
                        "endPort must be an integer from 0 to 65535, found {}",
                        describe(e)
                    ),
                );
                return None;
            }
        },
        None => None,
    };
    let (matched, zero) = match value {
        PortValue::Name(name) => (PortMatch::Named(name), false),
        PortValue::Number(0) => (PortMatch::Any, true),
        PortValue::Number(p) => match end {
            Some(e) if e > p => (PortMatch::Range(p, e), false),
            _ => (PortMatch::Range(p, p), false),
        },
    };
    let list: &[Protocol] = match protocol {
        None => &[],
        Some("ANY") => &Protocol::PORTED,
        Some("TCP") => &[Protocol::Tcp],
        Some("UDP") => &[Protocol::Udp],
        _ => &[Protocol::Sctp],
    };
    let rules = list
        .iter()
        .map(|&protocol| PortRule {
            protocol,
            port: matched.clone(),
        })
        .collect();
    Some((rules, zero, protocol))
}

enum PortValue {
    Number(u16),
    Name(String),
}

/// `port` as `PortProtocol.Validate` reads it: an IANA service name (lower-cased), else
/// `strconv.ParseUint(port, 0, 16)`, where a leading 0 means octal.
fn port_value(ctx: &mut Ctx, node: &Node) -> Option<PortValue> {
    let Value::Str(s) = &node.value else {
        ctx.error(
            node,
            "invalid-type",
            format!(
                "port must be a string (the CRD's type), found {}; quote it: port: \"{}\"",
                node.type_name(),
                describe(node).trim_matches('`')
            ),
        );
        return None;
    };
    if s.is_empty() {
        ctx.error(node, "invalid-port", "port must be specified");
        return None;
    }
    if is_svc_name(s) {
        return Some(PortValue::Name(s.to_ascii_lowercase()));
    }
    let parsed = if !s.bytes().all(|b| b.is_ascii_digit()) {
        None
    } else if s.len() > 1 && s.starts_with('0') {
        let n = u32::from_str_radix(&s[1..], 8).ok().filter(|n| *n <= 65535);
        if let Some(n) = n {
            ctx.warning_at(
                node.line,
                node.column,
                "cilium-port",
                format!("Cilium reads `{s}` with a leading 0 as octal: port {n}"),
            );
        }
        n
    } else {
        s.parse::<u32>().ok().filter(|n| *n <= 65535)
    };
    match parsed {
        Some(n) => Some(PortValue::Number(n as u16)),
        None => {
            ctx.error(
                node,
                "invalid-port",
                format!(
                    "unable to parse port `{s}`: neither a number from 0 to 65535 nor a port name"
                ),
            );
            None
        }
    }
}

/// An IANA service name as Cilium's `iana.IsSvcName` checks it: 1-15 letters, digits
/// or '-', at least one letter, no '-' at either end or twice in a row.
fn is_svc_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && s.bytes().any(|b| b.is_ascii_alphabetic())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// What the L7 checks need of the entry's ports, and where its `rules` key is.
struct PortFacts<'a, 'n> {
    at: (u32, u32),
    no_ports: bool,
    has_zero: bool,
    protocols: &'a [(&'n Node, Option<&'static str>)],
}

/// `rules`: the L7 kinds, with `PortRule.Validate` and `L7Rules.Validate`'s checks.
fn l7_rules(
    ctx: &mut Ctx,
    node: &Node,
    dir: Dir,
    host: bool,
    facts: &PortFacts,
) -> Option<Vec<String>> {
    let (line, column) = facts.at;
    let entries = ctx.map(node, "rules")?;
    ctx.check_fields(entries, L7_FIELDS, "rules");
    let mut kinds: Vec<String> = ["http", "kafka", "dns", "l7proto"]
        .iter()
        .filter(|k| present(entries, k).is_some())
        .map(|k| k.to_string())
        .collect();
    if kinds.is_empty() {
        if present(entries, "l7").is_some() {
            ctx.error(
                node,
                "invalid-l7",
                "'l7' may only be specified when a 'l7proto' is also specified",
            );
            return None;
        }
        return Some(kinds);
    }
    let error = |ctx: &mut Ctx, msg: &str| {
        ctx.error_at(line, column, "invalid-l7", msg.to_string());
        None
    };
    let dns = kinds.iter().any(|k| k == "dns");
    if kinds.len() > 1 {
        return error(
            ctx,
            "multiple L7 protocol rule types specified in single rule",
        );
    }
    if dir.ingress && dns {
        return error(ctx, "DNS rules are not allowed on ingress");
    }
    // Rule.Validate (newest): host policies take no L7 rules but DNS on egress.
    if host && dir.ingress {
        return error(ctx, "L7 policy is not supported on host ingress yet");
    }
    if host && !dns {
        let kind = kinds[0].to_ascii_uppercase();
        return error(
            ctx,
            &format!("L7 protocol {kind} is not supported on host egress yet"),
        );
    }
    if facts.has_zero {
        return error(ctx, "L7 rules can not be used when a port is 0");
    }
    if dns && facts.no_ports {
        return error(ctx, "port 53 must be specified for DNS rules");
    }
    if !dns && let Some((p, Some(proto))) = facts.protocols.iter().find(|(_, p)| *p != Some("TCP"))
    {
        ctx.error(p, "invalid-l7", format!("L7 rules can only apply to TCP (not {proto}) except for DNS rules; write `protocol: TCP`"));
        return None;
    }
    ctx.warning_at(line, column, "cilium-l7", "L7 rules: Cilium's proxy admits only the matching requests; kubeseg shows these ports into pods as allowed only under the rules (conditional) and, toward addresses and domain names, as open");
    kinds.sort();
    Some(kinds)
}

/// `maxICMPFields` of `rule_validation.go`.
const MAX_ICMP_FIELDS: usize = 40;

/// Cilium's ICMP type names per family (`icmpIpv4TypeNameToCode`,
/// `icmpIpv6TypeNameToCode` in `pkg/policy/api/icmp.go`).
const ICMP_V4_NAMES: &[(&str, u8)] = &[
    ("EchoReply", 0),
    ("DestinationUnreachable", 3),
    ("Redirect", 5),
    ("Echo", 8),
    ("EchoRequest", 8),
    ("RouterAdvertisement", 9),
    ("RouterSelection", 10),
    ("TimeExceeded", 11),
    ("ParameterProblem", 12),
    ("Timestamp", 13),
    ("TimestampReply", 14),
    ("Photuris", 40),
    ("ExtendedEchoRequest", 42),
    ("ExtendedEchoReply", 43),
];
const ICMP_V6_NAMES: &[(&str, u8)] = &[
    ("DestinationUnreachable", 1),
    ("PacketTooBig", 2),
    ("TimeExceeded", 3),
    ("ParameterProblem", 4),
    ("EchoRequest", 128),
    ("EchoReply", 129),
    ("MulticastListenerQuery", 130),
    ("MulticastListenerReport", 131),
    ("MulticastListenerDone", 132),
    ("RouterSolicitation", 133),
    ("RouterAdvertisement", 134),
    ("NeighborSolicitation", 135),
    ("NeighborAdvertisement", 136),
    ("RedirectMessage", 137),
    ("RouterRenumbering", 138),
    ("ICMPNodeInformationQuery", 139),
    ("ICMPNodeInformationResponse", 140),
    ("InverseNeighborDiscoverySolicitation", 141),
    ("InverseNeighborDiscoveryAdvertisement", 142),
    ("HomeAgentAddressDiscoveryRequest", 144),
    ("HomeAgentAddressDiscoveryReply", 145),
    ("MobilePrefixSolicitation", 146),
    ("MobilePrefixAdvertisement", 147),
    ("DuplicateAddressRequestCodeSuffix", 157),
    ("DuplicateAddressConfirmationCodeSuffix", 158),
    ("ExtendedEchoRequest", 160),
    ("ExtendedEchoReply", 161),
];

/// A rule's `icmps` (`ICMPRules`) as port rules of ICMP or ICMPv6, as the agent turns
/// each field into a `PortProtocol` whose port is the type (`ICMPField.PortProtocol`)
/// and appends them to the rule's L4 part (`RulesToPolicyEntries`). A type allows every
/// code of it. Type 0 becomes port "0", which Cilium's policy reads as every port: it
/// allows every message of the family (cilium/cilium#41304), so kubeseg does the same
/// and warns. `None` on errors.
pub(super) fn icmps(ctx: &mut Ctx, node: &Node) -> Option<Vec<PortRule>> {
    let items = ctx.seq(node, "icmps")?;
    let mut ok = true;
    let mut out = Vec::new();
    for item in items {
        let Some(entries) = ctx.map(item, "an icmps entry") else {
            ok = false;
            continue;
        };
        ctx.check_fields(entries, &["fields"], "an icmps entry");
        let Some(fields) = present(entries, "fields") else {
            continue;
        };
        let Some(list) = ctx.seq(fields, "icmps.fields") else {
            ok = false;
            continue;
        };
        if list.len() > MAX_ICMP_FIELDS {
            ctx.error(
                fields,
                "invalid-port",
                format!("too many types, the max is {MAX_ICMP_FIELDS}"),
            );
            ok = false;
        }
        for f in list {
            match icmp_field(ctx, f) {
                Some(rule) => out.push(rule),
                None => ok = false,
            }
        }
    }
    out.sort();
    out.dedup();
    ok.then_some(out)
}

/// One `ICMPField`: `family` (IPv4, the default, or IPv6) and `type` (0-255 or the
/// family's name for it; `ICMPField.UnmarshalJSON`).
fn icmp_field(ctx: &mut Ctx, item: &Node) -> Option<PortRule> {
    let what = "an icmps field";
    let entries = ctx.map(item, what)?;
    ctx.check_fields(entries, &["family", "type"], what);
    let (protocol, names, family) = match present(entries, "family") {
        None => (Protocol::Icmp, ICMP_V4_NAMES, "IPv4"),
        Some(n) => match n.as_str() {
            Some("IPv4") => (Protocol::Icmp, ICMP_V4_NAMES, "IPv4"),
            Some("IPv6") => (Protocol::IcmpV6, ICMP_V6_NAMES, "IPv6"),
            _ => {
                ctx.error(
                    n,
                    "invalid-value",
                    format!(
                        "Unsupported value: {}: supported values: \"IPv4\", \"IPv6\"",
                        describe(n)
                    ),
                );
                return None;
            }
        },
    };
    let Some(t) = present(entries, "type") else {
        ctx.error(item, "invalid-value", "an icmps field needs a `type`");
        return None;
    };
    let number = match &t.value {
        Value::Int(i) => u8::try_from(*i).ok(),
        Value::Str(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<u8>().ok()
        }
        Value::Str(s) => match names.iter().find(|(name, _)| name == s) {
            Some(&(_, n)) => Some(n),
            None => {
                ctx.error(
                    t,
                    "invalid-value",
                    format!("ICMP type {s} not found in {family}"),
                );
                return None;
            }
        },
        _ => None,
    };
    let Some(number) = number else {
        ctx.error(
            t,
            "invalid-value",
            format!(
                "an ICMP type must be a number from 0 to 255 or a type name, found {}",
                describe(t)
            ),
        );
        return None;
    };
    let port = if number == 0 {
        ctx.warning_at(t.line, t.column, "cilium-icmp-type-0", format!("ICMP type 0 becomes port 0 in Cilium's policy, which matches every {} type (cilium/cilium#41304): kubeseg reads it as every {} message", protocol.as_str(), protocol.as_str()));
        PortMatch::Any
    } else {
        let (lo, hi) = kubeseg_model::icmp_type(number);
        PortMatch::Range(lo, hi)
    };
    Some(PortRule { protocol, port })
}
