//! Protocols and ports of Calico rules, read as projectcalico/calico
//! `api/pkg/lib/numorstring` (`Uint8OrString`, `PortFromString`) reads them and checked
//! as `validateProtocol`, `validatePort` and `validateRule` check them.

use super::ctx::Ctx;
use super::meta::is_port_name;
use super::tier::{check_len, describe, present};
use crate::tree::{Key, Node, Value};
use kubeseg_model::{CalicoPort, CalicoPorts};

/// A rule's protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Proto {
    /// TCP, UDP or SCTP: its index in `Protocol::ALL`.
    Ported(usize),
    /// ICMP or ICMPv6: its index in `Protocol::ALL`.
    Icmp(usize),
    /// Another protocol, as Calico names it (or its number).
    Other(String),
}

/// The names `validateProtocol` accepts (`protocolRegex`), case included.
const NAMES: &[&str] = &["TCP", "UDP", "ICMP", "ICMPv6", "SCTP", "UDPLite"];

const PORTS_NEED_PROTOCOL: &str =
    "rules that specify ports must set protocol to TCP or UDP or SCTP";
const NUMBERS_NEED_PROTOCOL: &str =
    "rules with numeric port or port range must set protocol to TCP or UDP or SCTP";

/// `protocol` or `notProtocol`: a number 1-255 (a string of digits counts as one) or
/// one of Calico's names.
pub(super) fn protocol(ctx: &mut Ctx, node: &Node, what: &str) -> Option<Proto> {
    let number = match &node.value {
        Value::Int(i) => Some(*i),
        // `Uint8OrString.UnmarshalJSON`: a string that parses as a uint8 is a number.
        Value::Str(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            Some(s.parse::<i64>().unwrap_or(i64::MAX))
        }
        Value::Str(s) => {
            if NAMES.contains(&s.as_str()) {
                return Some(match s.as_str() {
                    "TCP" => Proto::Ported(0),
                    "UDP" => Proto::Ported(1),
                    "SCTP" => Proto::Ported(2),
                    "ICMP" => Proto::Icmp(3),
                    "ICMPv6" => Proto::Icmp(4),
                    other => Proto::Other(other.to_string()),
                });
            }
            let hint = NAMES
                .iter()
                .find(|n| n.eq_ignore_ascii_case(s))
                .map(|n| format!(" (Calico spells it `{n}`)"))
                .unwrap_or_default();
            ctx.error(node, "invalid-protocol", format!("{what} `{s}`: protocol name invalid; it must be one of TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255{hint}"));
            return None;
        }
        _ => None,
    };
    match number {
        Some(n @ 1..=255) => Some(match n {
            6 => Proto::Ported(0),
            17 => Proto::Ported(1),
            132 => Proto::Ported(2),
            // The CEL rules on `icmp` take 1 and 58 for ICMP and ICMPv6.
            1 => Proto::Icmp(3),
            58 => Proto::Icmp(4),
            _ => Proto::Other(format!("protocol {n}")),
        }),
        Some(0) => {
            ctx.error(
                node,
                "invalid-protocol",
                format!("{what} 0: protocol number invalid"),
            );
            None
        }
        _ => {
            ctx.error(
                node,
                "invalid-protocol",
                format!(
                    "{what} must be a protocol name or a number 1-255, found {}",
                    describe(node)
                ),
            );
            None
        }
    }
}

/// `destination.ports` and `destination.notPorts`; `Some(None)` when neither lists a
/// port. `proto` is the rule's `protocol` (with what it read as, `None` if invalid).
pub(super) fn ports(
    ctx: &mut Ctx,
    destination: &[(Key, Node)],
    proto: Option<&(&Node, Option<Proto>)>,
) -> Option<Option<CalicoPorts>> {
    let mut ok = true;
    let mut read = |ctx: &mut Ctx, key: &str| -> Vec<CalicoPort> {
        let Some(node) = present(destination, key) else {
            return Vec::new();
        };
        let what = format!("destination.{key}");
        let Some(items) = ctx.seq(node, &what) else {
            ok = false;
            return Vec::new();
        };
        ok &= check_len(ctx, node, items.len(), 0, 50, &what);
        let list: Vec<CalicoPort> = items.iter().filter_map(|i| port(ctx, i, &what)).collect();
        ok &= list.len() == items.len();
        // `validateRule`: without a protocol only named ports are allowed; with one
        // that has no ports, no port at all.
        let numbered = list.iter().any(|p| matches!(p, CalicoPort::Range(..)));
        match proto {
            None if numbered => {
                ctx.error(
                    node,
                    "invalid-port",
                    format!("{what}: {NUMBERS_NEED_PROTOCOL}"),
                );
                ok = false;
            }
            Some((_, Some(Proto::Other(_) | Proto::Icmp(_)))) if !list.is_empty() => {
                ctx.error(
                    node,
                    "invalid-port",
                    format!("{what}: {PORTS_NEED_PROTOCOL}"),
                );
                ok = false;
            }
            _ => {}
        }
        list
    };
    let listed = read(ctx, "ports");
    let not_ports = read(ctx, "notPorts");
    if !ok {
        return None;
    }
    if listed.is_empty() && not_ports.is_empty() {
        return Some(None);
    }
    Some(Some(CalicoPorts {
        ports: (!listed.is_empty()).then_some(listed),
        not_ports,
    }))
}

/// One port: a number, `"first:last"`, or a port name (`numorstring.PortFromString`,
/// `validatePort`).
fn port(ctx: &mut Ctx, node: &Node, what: &str) -> Option<CalicoPort> {
    const RANGE: &str = "port range invalid, port number must be between 1 and 65535";
    let error = |ctx: &mut Ctx, message: String| {
        ctx.error(node, "invalid-port", format!("{what}: {message}"));
        None
    };
    let number = |s: &str| s.parse::<u16>().ok();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match &node.value {
        Value::Int(i) => match u16::try_from(*i) {
            Ok(0) => error(ctx, RANGE.to_string()),
            Ok(p) => Some(CalicoPort::Range(p, p)),
            Err(_) => error(ctx, format!("{i} is not a port number (1-65535)")),
        },
        Value::Str(s) if digits(s) => match number(s) {
            Some(0) => error(ctx, RANGE.to_string()),
            Some(p) => Some(CalicoPort::Range(p, p)),
            None => error(ctx, format!("invalid port format ({s})")),
        },
        Value::Str(s)
            if s.split_once(':')
                .is_some_and(|(a, b)| digits(a) && digits(b)) =>
        {
            let (a, b) = s.split_once(':').unwrap_or_default();
            match (number(a), number(b)) {
                (None, _) => error(ctx, format!("invalid minimum port number in range ({s})")),
                (_, None) => error(ctx, format!("invalid maximum port number in range ({s})")),
                (Some(lo), Some(hi)) if lo > hi => error(
                    ctx,
                    format!(
                        "minimum port number ({lo}) is greater than maximum port number ({hi}) in port range"
                    ),
                ),
                (Some(0), _) => error(ctx, RANGE.to_string()),
                (Some(lo), Some(hi)) => Some(CalicoPort::Range(lo, hi)),
            }
        }
        Value::Str(s) => {
            let name_chars = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
            if s.is_empty() || s.len() > 128 || !s.bytes().all(name_chars) {
                return error(ctx, format!("invalid name for named port ({s})"));
            }
            if !is_port_name(s) {
                return error(
                    ctx,
                    format!(
                        "`{s}` is not a valid port name: at most 15 lower-case letters, digits and '-', with at least one letter"
                    ),
                );
            }
            Some(CalicoPort::Named(s.clone()))
        }
        _ => error(
            ctx,
            format!(
                "a port must be a number or a string, found {}",
                describe(node)
            ),
        ),
    }
}
