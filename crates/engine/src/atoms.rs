//! The coarsest partition of the IPv4 and IPv6 address spaces induced by a family of
//! address sets: two addresses share an atom iff every set holds both or neither.

use kubeseg_model::{IntervalSet, IpSet};
use std::collections::BTreeMap;

/// The atoms, and for each input set the atoms it is made of.
pub struct Partition {
    /// The atoms, IPv4-first, in address order of their first range.
    pub atoms: Vec<IpSet>,
    /// For each input set, the indices of its atoms (sorted).
    pub members: Vec<Vec<u32>>,
}

/// The IPv4 and IPv6 ranges of one atom.
type AtomRanges = (Vec<(u32, u32)>, Vec<(u128, u128)>);

/// Partitions the address space by `sets`.
pub fn partition(sets: &[IpSet]) -> Partition {
    // Elementary intervals of each family, each tagged with the sets that hold it.
    let v4 = elementary(
        sets.iter().map(|s| widen(s.v4.ranges())).collect(),
        u32::MAX as u128,
    );
    let v6 = elementary(
        sets.iter().map(|s| s.v6.ranges().to_vec()).collect(),
        u128::MAX,
    );
    let mut groups: BTreeMap<Vec<u32>, AtomRanges> = BTreeMap::new();
    for (lo, hi, sig) in v4 {
        groups
            .entry(sig)
            .or_default()
            .0
            .push((lo as u32, hi as u32));
    }
    for (lo, hi, sig) in v6 {
        groups.entry(sig).or_default().1.push((lo, hi));
    }
    let mut atoms: Vec<(IpSet, Vec<u32>)> = groups
        .into_iter()
        .map(|(sig, (a, b))| {
            (
                IpSet {
                    v4: IntervalSet::from_ranges(a),
                    v6: IntervalSet::from_ranges(b),
                },
                sig,
            )
        })
        .collect();
    atoms.sort_by(|(a, _), (b, _)| {
        (a.v4.is_empty(), &a.v4, &a.v6).cmp(&(b.v4.is_empty(), &b.v4, &b.v6))
    });
    let mut members = vec![Vec::new(); sets.len()];
    for (i, (_, sig)) in atoms.iter().enumerate() {
        for &s in sig {
            members[s as usize].push(i as u32);
        }
    }
    Partition {
        atoms: atoms.into_iter().map(|(a, _)| a).collect(),
        members,
    }
}

fn widen(r: &[(u32, u32)]) -> Vec<(u128, u128)> {
    r.iter().map(|&(a, b)| (a as u128, b as u128)).collect()
}

fn elementary(sets: Vec<Vec<(u128, u128)>>, max: u128) -> Vec<(u128, u128, Vec<u32>)> {
    let mut cuts = vec![0u128];
    for ranges in &sets {
        for &(lo, hi) in ranges {
            cuts.push(lo);
            if hi < max {
                cuts.push(hi + 1);
            }
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut out: Vec<(u128, u128, Vec<u32>)> = cuts
        .iter()
        .enumerate()
        .map(|(i, &lo)| (lo, cuts.get(i + 1).map_or(max, |&n| n - 1), Vec::new()))
        .collect();
    for (s, ranges) in sets.iter().enumerate() {
        for &(lo, hi) in ranges {
            let mut i = out.partition_point(|e| e.0 < lo);
            while i < out.len() && out[i].0 <= hi {
                out[i].2.push(s as u32);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubeseg_model::Cidr;

    fn set(cidr: &str, except: &[&str]) -> IpSet {
        except
            .iter()
            .fold(Cidr::parse(cidr).unwrap().to_set(), |s, e| {
                s.difference(&Cidr::parse(e).unwrap().to_set())
            })
    }

    #[test]
    fn no_sets_gives_one_atom_for_everything() {
        let p = partition(&[]);
        assert_eq!(p.atoms, vec![IpSet::all()]);
    }

    #[test]
    fn except_splits_and_identical_pieces_merge() {
        let p = partition(&[set("0.0.0.0/0", &["10.0.0.0/8"])]);
        let names: Vec<Vec<String>> = p.atoms.iter().map(|a| a.range_strings()).collect();
        assert_eq!(
            names,
            vec![
                vec![
                    "0.0.0.0-9.255.255.255".to_string(),
                    "11.0.0.0-255.255.255.255".to_string()
                ],
                vec![
                    "10.0.0.0-10.255.255.255".to_string(),
                    "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".to_string()
                ],
            ]
        );
        assert_eq!(p.members, vec![vec![0]]);
    }

    #[test]
    fn every_set_is_exactly_the_union_of_its_atoms() {
        let sets = vec![
            set("10.0.0.0/8", &["10.1.0.0/16"]),
            set("10.1.2.0/24", &[]),
            set("2001:db8::/32", &["2001:db8:1::/48"]),
        ];
        let p = partition(&sets);
        for (s, members) in sets.iter().zip(&p.members) {
            let union = members
                .iter()
                .fold(IpSet::empty(), |acc, &a| acc.union(&p.atoms[a as usize]));
            assert_eq!(&union, s);
        }
        let total = p.atoms.iter().fold(IpSet::empty(), |acc, a| acc.union(a));
        assert_eq!(total, IpSet::all());
    }
}
