//! IPv4 and IPv6 address sets and CIDR parsing.

use crate::intervals::IntervalSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A set of IP addresses: IPv4 and IPv6 are separate spaces.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct IpSet {
    /// IPv4 members.
    pub v4: IntervalSet<u32>,
    /// IPv6 members.
    pub v6: IntervalSet<u128>,
}

/// A parsed CIDR such as `10.0.0.0/8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    /// The address as written.
    pub addr: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

/// Why a CIDR string is invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CidrError {
    /// No `/prefix` part.
    MissingPrefix,
    /// The address part is not an IP address.
    BadAddress,
    /// The prefix is not a number within the family's width.
    BadPrefix,
}

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CidrError::MissingPrefix => "missing /prefix length",
            CidrError::BadAddress => "not an IPv4 or IPv6 address",
            CidrError::BadPrefix => "prefix length out of range",
        })
    }
}

impl Cidr {
    /// Parses `addr/prefix`. Host bits may be set, as the API server accepts them for ipBlock.
    pub fn parse(s: &str) -> Result<Cidr, CidrError> {
        let (addr, prefix) = s.split_once('/').ok_or(CidrError::MissingPrefix)?;
        let addr: IpAddr = addr.parse().map_err(|_| CidrError::BadAddress)?;
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.len() > 3 {
            return Err(CidrError::BadPrefix);
        }
        let prefix: u8 = prefix.parse().map_err(|_| CidrError::BadPrefix)?;
        let width = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > width {
            return Err(CidrError::BadPrefix);
        }
        Ok(Cidr { addr, prefix })
    }

    /// The addresses the CIDR covers.
    pub fn to_set(self) -> IpSet {
        match self.addr {
            IpAddr::V4(a) => {
                let base = u32::from(a);
                let host = u32::MAX.checked_shr(u32::from(self.prefix)).unwrap_or(0);
                IpSet {
                    v4: IntervalSet::range(base & !host, base | host),
                    v6: IntervalSet::empty(),
                }
            }
            IpAddr::V6(a) => {
                let base = u128::from(a);
                let host = u128::MAX.checked_shr(u32::from(self.prefix)).unwrap_or(0);
                IpSet {
                    v4: IntervalSet::empty(),
                    v6: IntervalSet::range(base & !host, base | host),
                }
            }
        }
    }
}

impl IpSet {
    /// No address.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Every IPv4 and IPv6 address.
    pub fn all() -> Self {
        Self {
            v4: IntervalSet::full(),
            v6: IntervalSet::full(),
        }
    }

    /// Whether every IPv4 address is in the set: then it holds every pod address
    /// even when the pod's IP is not known, as clusters give pods IPv4 addresses
    /// unless they are IPv6-only.
    pub fn has_all_ipv4(&self) -> bool {
        self.v4 == IntervalSet::full()
    }

    /// Whether some IPv4 address is in the set: then it may hold the address a pod
    /// whose IP is not known gets.
    pub fn has_ipv4(&self) -> bool {
        !self.v4.is_empty()
    }

    /// The lowest address (IPv4 first), if any.
    pub fn first_address(&self) -> Option<IpAddr> {
        if let Some(&(lo, _)) = self.v4.ranges().first() {
            return Some(IpAddr::V4(lo.into()));
        }
        self.v6
            .ranges()
            .first()
            .map(|&(lo, _)| IpAddr::V6(lo.into()))
    }

    /// One address.
    pub fn single(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Self {
                v4: IntervalSet::range(a.into(), a.into()),
                v6: IntervalSet::empty(),
            },
            IpAddr::V6(a) => Self {
                v4: IntervalSet::empty(),
                v6: IntervalSet::range(a.into(), a.into()),
            },
        }
    }

    /// Whether the set has no address.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Whether `ip` is a member.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.v4.contains(a.into()),
            IpAddr::V6(a) => self.v6.contains(a.into()),
        }
    }

    /// The union of two sets.
    pub fn union(&self, other: &Self) -> Self {
        Self {
            v4: self.v4.union(&other.v4),
            v6: self.v6.union(&other.v6),
        }
    }

    /// The intersection of two sets.
    pub fn intersect(&self, other: &Self) -> Self {
        Self {
            v4: self.v4.intersect(&other.v4),
            v6: self.v6.intersect(&other.v6),
        }
    }

    /// The members of `self` not in `other`.
    pub fn difference(&self, other: &Self) -> Self {
        Self {
            v4: self.v4.difference(&other.v4),
            v6: self.v6.difference(&other.v6),
        }
    }

    /// Whether every member of `other` is in `self`.
    pub fn is_superset(&self, other: &Self) -> bool {
        self.v4.is_superset(&other.v4) && self.v6.is_superset(&other.v6)
    }

    /// The ranges rendered as `a-b` (or `a` for a single address), IPv4 first.
    pub fn range_strings(&self) -> Vec<String> {
        let v4 =
            self.v4.ranges().iter().map(|&(lo, hi)| {
                render_range(Ipv4Addr::from(lo).into(), Ipv4Addr::from(hi).into())
            });
        let v6 =
            self.v6.ranges().iter().map(|&(lo, hi)| {
                render_range(Ipv6Addr::from(lo).into(), Ipv6Addr::from(hi).into())
            });
        v4.chain(v6).collect()
    }
}

impl IpSet {
    /// The set as people read it: a whole address family as its CIDR (`0.0.0.0/0`,
    /// `::/0`) instead of the range that spans it, other parts as ranges.
    pub fn readable(&self) -> String {
        let mut parts = Vec::new();
        if self.v4.is_full() {
            parts.push("0.0.0.0/0".to_string());
        } else {
            parts.extend(self.v4.ranges().iter().map(|&(lo, hi)| {
                render_range(Ipv4Addr::from(lo).into(), Ipv4Addr::from(hi).into())
            }));
        }
        if self.v6.is_full() {
            parts.push("::/0".to_string());
        } else {
            parts.extend(self.v6.ranges().iter().map(|&(lo, hi)| {
                render_range(Ipv6Addr::from(lo).into(), Ipv6Addr::from(hi).into())
            }));
        }
        parts.join(",")
    }
}

fn render_range(lo: IpAddr, hi: IpAddr) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}-{hi}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_with_host_bits_covers_its_network() {
        let set = Cidr::parse("10.1.2.3/8").unwrap().to_set();
        assert_eq!(set.range_strings(), vec!["10.0.0.0-10.255.255.255"]);
    }

    #[test]
    fn full_length_prefixes_are_single_addresses() {
        assert_eq!(
            Cidr::parse("49.50.0.0/32")
                .unwrap()
                .to_set()
                .range_strings(),
            vec!["49.50.0.0"]
        );
        assert_eq!(
            Cidr::parse("fd00:ec2::254/128")
                .unwrap()
                .to_set()
                .range_strings(),
            vec!["fd00:ec2::254"]
        );
        assert_eq!(
            Cidr::parse("0.0.0.0/0").unwrap().to_set().range_strings(),
            vec!["0.0.0.0-255.255.255.255"]
        );
    }

    #[test]
    fn a_whole_address_family_reads_as_its_cidr() {
        assert_eq!(IpSet::all().readable(), "0.0.0.0/0,::/0");
        let v4 = Cidr::parse("0.0.0.0/0").unwrap().to_set();
        assert_eq!(v4.readable(), "0.0.0.0/0");
        // Anything less than a whole family keeps its ranges.
        let carved = v4.difference(&Cidr::parse("10.0.0.0/8").unwrap().to_set());
        assert_eq!(
            carved.readable(),
            "0.0.0.0-9.255.255.255,11.0.0.0-255.255.255.255"
        );
    }

    #[test]
    fn ipv4_all_does_not_cover_ipv6() {
        let v4 = Cidr::parse("0.0.0.0/0").unwrap().to_set();
        assert!(!v4.contains("::1".parse().unwrap()));
        assert!(v4.contains("8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn bad_cidrs_are_rejected() {
        assert_eq!(Cidr::parse("10.0.0.0"), Err(CidrError::MissingPrefix));
        assert_eq!(Cidr::parse("10.0.0/8"), Err(CidrError::BadAddress));
        assert_eq!(Cidr::parse("10.0.0.0/33"), Err(CidrError::BadPrefix));
        assert_eq!(Cidr::parse("::/129"), Err(CidrError::BadPrefix));
        assert!(Cidr::parse("2001:db8::/32").is_ok());
    }
}
