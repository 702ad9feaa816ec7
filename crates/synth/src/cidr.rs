//! Minimal CIDR helpers: formatting of generated blocks and a containment check.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A parsed CIDR: address bits (IPv4 in the low 32 bits), prefix length, family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// Address bits.
    pub addr: u128,
    /// Prefix length.
    pub prefix: u8,
    /// IPv6 when true.
    pub v6: bool,
}

impl Cidr {
    fn width(self) -> u8 {
        if self.v6 { 128 } else { 32 }
    }

    fn mask(width: u8, prefix: u8) -> u128 {
        if prefix == 0 {
            0
        } else {
            let all = if width == 128 {
                u128::MAX
            } else {
                (1u128 << width) - 1
            };
            all & !((1u128 << (width - prefix)) - 1) & all
        }
    }

    /// Network address (host bits cleared).
    pub fn network(self) -> u128 {
        self.addr & Self::mask(self.width(), self.prefix)
    }

    /// Whether `inner` lies within `self` (same family, prefix not shorter).
    pub fn contains(self, inner: Cidr) -> bool {
        self.v6 == inner.v6
            && inner.prefix >= self.prefix
            && inner.addr & Self::mask(self.width(), self.prefix) == self.network()
    }

    /// Whether `inner` lies within `self` and is strictly smaller.
    pub fn strictly_contains(self, inner: Cidr) -> bool {
        self.contains(inner) && inner.prefix > self.prefix
    }

    /// Builds a canonical (host bits cleared) block.
    pub fn new(addr: u128, prefix: u8, v6: bool) -> Cidr {
        let c = Cidr { addr, prefix, v6 };
        Cidr {
            addr: c.network(),
            ..c
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.v6 {
            write!(f, "{}/{}", Ipv6Addr::from(self.addr), self.prefix)
        } else {
            write!(f, "{}/{}", Ipv4Addr::from(self.addr as u32), self.prefix)
        }
    }
}

/// Parses `addr/prefix` (IPv4 or IPv6).
pub fn parse(s: &str) -> Option<Cidr> {
    let (a, p) = s.split_once('/')?;
    let prefix: u8 = p.parse().ok()?;
    match a.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) if prefix <= 32 => Some(Cidr {
            addr: u128::from(u32::from(v4)),
            prefix,
            v6: false,
        }),
        IpAddr::V6(v6) if prefix <= 128 => Some(Cidr {
            addr: u128::from(v6),
            prefix,
            v6: true,
        }),
        _ => None,
    }
}

/// `Some(true)` when `inner` is strictly inside `outer` (what the API server
/// requires of `ipBlock.except`), `None` when either fails to parse.
pub fn except_valid(outer: &str, inner: &str) -> Option<bool> {
    Some(parse(outer)?.strictly_contains(parse(inner)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containment() {
        assert_eq!(except_valid("10.0.0.0/8", "10.1.0.0/16"), Some(true));
        assert_eq!(except_valid("10.0.0.0/8", "10.0.0.0/8"), Some(false));
        assert_eq!(except_valid("10.0.0.0/8", "11.0.0.0/16"), Some(false));
        assert_eq!(except_valid("0.0.0.0/0", "192.168.0.0/16"), Some(true));
        assert_eq!(except_valid("fd00::/8", "fd12::/16"), Some(true));
        assert_eq!(except_valid("fd00::/8", "10.0.0.0/16"), Some(false));
        assert_eq!(except_valid("::/0", "fd00::/8"), Some(true));
        assert_eq!(except_valid("10.0.0.0/33", "10.0.0.0/8"), None);
        let c = Cidr::new(u128::from(u32::from(Ipv4Addr::new(10, 1, 2, 3))), 16, false);
        assert_eq!(c.to_string(), "10.1.0.0/16");
    }
}
