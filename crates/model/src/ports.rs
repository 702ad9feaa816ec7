//! Protocols and per-protocol port sets.

use crate::intervals::IntervalSet;
use std::fmt;

/// A transport protocol NetworkPolicy can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP, the default when a port entry names no protocol.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// Every protocol, in output order.
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

    /// The name the Kubernetes API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }

    /// Parses the Kubernetes spelling (case-sensitive, as the API server is).
    pub fn parse(s: &str) -> Option<Protocol> {
        match s {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
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

/// A set of (protocol, port) pairs; ports run from 1 to 65535.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PortSet {
    by_protocol: [IntervalSet<u16>; 3],
}

/// The lowest valid port; port 0 is never a destination.
pub const MIN_PORT: u16 = 1;

impl PortSet {
    /// No connection at all.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Every port of every protocol.
    pub fn all() -> Self {
        let full = IntervalSet::range(MIN_PORT, u16::MAX);
        Self {
            by_protocol: [full.clone(), full.clone(), full],
        }
    }

    /// Every port of one protocol.
    pub fn all_of(protocol: Protocol) -> Self {
        Self::range(protocol, MIN_PORT, u16::MAX)
    }

    /// The ports `lo..=hi` of one protocol.
    pub fn range(protocol: Protocol, lo: u16, hi: u16) -> Self {
        let mut set = Self::empty();
        set.by_protocol[protocol.index()] = IntervalSet::range(lo.max(MIN_PORT), hi);
        set
    }

    /// The ports of one protocol.
    pub fn ports(&self, protocol: Protocol) -> &IntervalSet<u16> {
        &self.by_protocol[protocol.index()]
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

/// Renders `All Connections` or `TCP 80,8080-8090; UDP 53`.
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
    fn port_zero_is_never_a_member() {
        assert!(!PortSet::all().contains(Protocol::Tcp, 0));
        assert!(PortSet::range(Protocol::Udp, 0, 10).contains(Protocol::Udp, 1));
    }
}
