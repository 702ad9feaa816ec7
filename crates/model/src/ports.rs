//! Protocols and per-protocol port sets.
//!
//! TCP, UDP and SCTP carry ports 1-65535. ICMP (IPv4) and ICMPv6 carry no port: their
//! dimension of a [`PortSet`] holds messages as the 16-bit value `type << 8 | code`
//! (0-65535), so a type with any code is the range `type << 8 ..= type << 8 | 255` and
//! the whole dimension is "any ICMP message".

use crate::intervals::IntervalSet;
use std::fmt;

/// A protocol a verdict covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP, the default when a port entry names no protocol.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
    /// ICMP for IPv4 (IP protocol 1); members are `type << 8 | code`.
    Icmp,
    /// ICMPv6 (IP protocol 58); members are `type << 8 | code`.
    IcmpV6,
}

impl Protocol {
    /// Every protocol, in output order.
    pub const ALL: [Protocol; 5] = [
        Protocol::Tcp,
        Protocol::Udp,
        Protocol::Sctp,
        Protocol::Icmp,
        Protocol::IcmpV6,
    ];

    /// The protocols with ports (the ones Kubernetes NetworkPolicy and the
    /// AdminNetworkPolicy family can name), in output order.
    pub const PORTED: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

    /// The two ICMP protocols.
    pub const ICMP: [Protocol; 2] = [Protocol::Icmp, Protocol::IcmpV6];

    /// The name the Kubernetes API uses (Calico's spelling for the ICMP ones).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
            Protocol::Icmp => "ICMP",
            Protocol::IcmpV6 => "ICMPv6",
        }
    }

    /// Parses the Kubernetes spelling (case-sensitive, as the API server is): TCP, UDP
    /// or SCTP only, since NetworkPolicy and the AdminNetworkPolicy family cannot name
    /// ICMP.
    pub fn parse(s: &str) -> Option<Protocol> {
        match s {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// Whether this is ICMP or ICMPv6 (members are messages, not ports).
    pub fn is_icmp(self) -> bool {
        matches!(self, Protocol::Icmp | Protocol::IcmpV6)
    }

    /// The smallest member: port 1, or ICMP message 0 (type 0, code 0).
    pub fn min_value(self) -> u16 {
        if self.is_icmp() { 0 } else { MIN_PORT }
    }

    /// One member in words: `TCP/80`, or `ICMP 8/0` for an ICMP message.
    pub fn member_text(self, n: u16) -> String {
        if self.is_icmp() {
            format!("{self} {}/{}", n >> 8, n & 0xff)
        } else {
            format!("{self}/{n}")
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The ICMP messages of one type, any code.
pub fn icmp_type(t: u8) -> (u16, u16) {
    let lo = u16::from(t) << 8;
    (lo, lo | 0xff)
}

/// One ICMP message.
pub fn icmp_message(t: u8, code: u8) -> u16 {
    u16::from(t) << 8 | u16::from(code)
}

/// A set of (protocol, port) pairs: ports 1-65535 of TCP, UDP and SCTP, and ICMP and
/// ICMPv6 messages `type << 8 | code`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PortSet {
    by_protocol: [IntervalSet<u16>; 5],
}

/// The lowest valid port; port 0 is never a destination.
pub const MIN_PORT: u16 = 1;

impl PortSet {
    /// No connection at all.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Every port of every protocol, every ICMP and ICMPv6 message included.
    pub fn all() -> Self {
        Self {
            by_protocol: Protocol::ALL.map(|p| IntervalSet::range(p.min_value(), u16::MAX)),
        }
    }

    /// Every port of one protocol (every message of an ICMP one).
    pub fn all_of(protocol: Protocol) -> Self {
        Self::range(protocol, protocol.min_value(), u16::MAX)
    }

    /// Every port of TCP, UDP and SCTP (no ICMP).
    pub fn all_ported() -> Self {
        Protocol::PORTED
            .iter()
            .fold(Self::empty(), |s, &p| s.union(&Self::all_of(p)))
    }

    /// The ports `lo..=hi` of one protocol (port 0 is never one; for ICMP, the
    /// messages `lo..=hi`).
    pub fn range(protocol: Protocol, lo: u16, hi: u16) -> Self {
        let mut set = Self::empty();
        set.by_protocol[protocol.index()] = IntervalSet::range(lo.max(protocol.min_value()), hi);
        set
    }

    /// The ports of one protocol.
    pub fn ports(&self, protocol: Protocol) -> &IntervalSet<u16> {
        &self.by_protocol[protocol.index()]
    }

    /// The TCP, UDP and SCTP part (what tools that do not model ICMP compare).
    pub fn ported(&self) -> Self {
        self.intersect(&Self::all_ported())
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.by_protocol.iter().all(IntervalSet::is_empty)
    }

    /// Whether every port of every protocol is allowed.
    pub fn is_all(&self) -> bool {
        *self == Self::all()
    }

    /// Whether `port` of `protocol` is a member.
    pub fn contains(&self, protocol: Protocol, port: u16) -> bool {
        self.by_protocol[protocol.index()].contains(port)
    }

    /// The union of two port sets.
    pub fn union(&self, other: &Self) -> Self {
        Self {
            by_protocol: std::array::from_fn(|i| self.by_protocol[i].union(&other.by_protocol[i])),
        }
    }

    /// The intersection of two port sets.
    pub fn intersect(&self, other: &Self) -> Self {
        Self {
            by_protocol: std::array::from_fn(|i| {
                self.by_protocol[i].intersect(&other.by_protocol[i])
            }),
        }
    }

    /// The members of `self` not in `other`.
    pub fn difference(&self, other: &Self) -> Self {
        Self {
            by_protocol: std::array::from_fn(|i| {
                self.by_protocol[i].difference(&other.by_protocol[i])
            }),
        }
    }
}

/// Renders `All Connections` or `TCP 80,8080-8090; UDP 53; ICMP 8, 3/4; ICMPv6`
/// (protocols in the order TCP, UDP, SCTP, ICMP, ICMPv6; an ICMP protocol alone is every
/// message, `8` a type with any code, `3-5` a range of types, `3/4` one message).
impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("All Connections");
        }
        if self.is_empty() {
            return f.write_str("No Connections");
        }
        let mut first = true;
        for p in Protocol::ALL {
            let set = self.ports(p);
            if set.is_empty() {
                continue;
            }
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            if p.is_icmp() {
                write!(f, "{p}")?;
                if *set != IntervalSet::range(0, u16::MAX) {
                    f.write_str(" ")?;
                    write_icmp(f, set)?;
                }
                continue;
            }
            write!(f, "{p} ")?;
            for (i, &(lo, hi)) in set.ranges().iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                if lo == hi {
                    write!(f, "{lo}")?;
                } else {
                    write!(f, "{lo}-{hi}")?;
                }
            }
        }
        Ok(())
    }
}

/// ICMP messages as types (`8`, `3-5`) where every code of a type is in, and as
/// `type/code` or `type/code-code` elsewhere, comma-separated.
fn write_icmp(f: &mut fmt::Formatter<'_>, set: &IntervalSet<u16>) -> fmt::Result {
    let mut parts: Vec<String> = Vec::new();
    for &(lo, hi) in set.ranges() {
        let mut at = lo;
        loop {
            let (t, c) = (at >> 8, at & 0xff);
            let type_end = at | 0xff;
            if c == 0 && hi >= type_end {
                // Whole types from `t` up to the last one `hi` covers completely.
                let last = if hi & 0xff == 0xff {
                    hi >> 8
                } else {
                    (hi >> 8) - 1
                };
                parts.push(if last == t {
                    format!("{t}")
                } else {
                    format!("{t}-{last}")
                });
                if last == 0xff || (last << 8 | 0xff) >= hi {
                    break;
                }
                at = (last + 1) << 8;
                continue;
            }
            // Part of type `t`.
            let end = hi.min(type_end);
            let ec = end & 0xff;
            parts.push(if ec == c {
                format!("{t}/{c}")
            } else {
                format!("{t}/{c}-{ec}")
            });
            if end >= hi {
                break;
            }
            at = end + 1;
        }
    }
    f.write_str(&parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_the_issue_example() {
        let set = PortSet::range(Protocol::Tcp, 80, 80)
            .union(&PortSet::range(Protocol::Tcp, 8080, 8090))
            .union(&PortSet::range(Protocol::Udp, 53, 53));
        assert_eq!(set.to_string(), "TCP 80,8080-8090; UDP 53");
        assert_eq!(PortSet::all().to_string(), "All Connections");
    }

    #[test]
    fn renders_icmp_types_and_codes() {
        let t = |a: u8| {
            let (lo, hi) = icmp_type(a);
            PortSet::range(Protocol::Icmp, lo, hi)
        };
        assert_eq!(PortSet::all_of(Protocol::Icmp).to_string(), "ICMP");
        assert_eq!(t(8).to_string(), "ICMP 8");
        assert_eq!(t(0).to_string(), "ICMP 0");
        assert_eq!(t(3).union(&t(4)).union(&t(5)).to_string(), "ICMP 3-5");
        let m = icmp_message(8, 0);
        assert_eq!(PortSet::range(Protocol::Icmp, m, m).to_string(), "ICMP 8/0");
        let (lo, hi) = icmp_type(128);
        assert_eq!(
            PortSet::range(Protocol::IcmpV6, lo, hi).to_string(),
            "ICMPv6 128"
        );
        // Every message but 8/0: whole types around, the rest of type 8 by codes.
        let all_but =
            PortSet::all_of(Protocol::Icmp).difference(&PortSet::range(Protocol::Icmp, m, m));
        assert_eq!(all_but.to_string(), "ICMP 0-7,8/1-255,9-255");
        // A range starting inside a type and ending inside another.
        let odd = PortSet::range(Protocol::Icmp, icmp_message(3, 4), icmp_message(5, 1));
        assert_eq!(odd.to_string(), "ICMP 3/4-255,4,5/0-1");
        assert_eq!(t(255).to_string(), "ICMP 255");
        let tcp_and_ping = PortSet::range(Protocol::Tcp, 80, 80).union(&t(8));
        assert_eq!(tcp_and_ping.to_string(), "TCP 80; ICMP 8");
        // Every ported protocol without ICMP is not "all".
        assert_eq!(
            PortSet::all_ported().to_string(),
            "TCP 1-65535; UDP 1-65535; SCTP 1-65535"
        );
        assert_eq!(
            PortSet::all()
                .difference(&PortSet::all_ported())
                .to_string(),
            "ICMP; ICMPv6"
        );
    }

    #[test]
    fn port_zero_is_never_a_member() {
        assert!(!PortSet::all().contains(Protocol::Tcp, 0));
        assert!(PortSet::range(Protocol::Udp, 0, 10).contains(Protocol::Udp, 1));
        // ICMP type 0 code 0 (echo reply) is a member.
        assert!(PortSet::all().contains(Protocol::Icmp, 0));
        assert!(PortSet::all_of(Protocol::IcmpV6).contains(Protocol::IcmpV6, 0));
    }

    #[test]
    fn kubernetes_spelling_names_no_icmp() {
        assert_eq!(Protocol::parse("ICMP"), None);
        assert_eq!(Protocol::parse("ICMPv6"), None);
        assert_eq!(Protocol::parse("SCTP"), Some(Protocol::Sctp));
    }
}
