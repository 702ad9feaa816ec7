//! Sets of integers held as sorted, disjoint, non-adjacent inclusive ranges.
//!
//! Port sets and address sets are both interval sets; every set operation is
//! linear in the number of ranges, never in the number of members.

/// An integer type an [`IntervalSet`] can hold.
pub trait Bound: Copy + Ord + std::fmt::Debug + std::hash::Hash {
    /// The smallest value of the type.
    const MIN: Self;
    /// The largest value of the type.
    const MAX: Self;
    /// `self + 1`; only called when `self < MAX`.
    fn succ(self) -> Self;
    /// `self - 1`; only called when `self > MIN`.
    fn pred(self) -> Self;
}

macro_rules! impl_bound {
    ($($t:ty),*) => {$(
        impl Bound for $t {
            const MIN: Self = <$t>::MIN;
            const MAX: Self = <$t>::MAX;
            fn succ(self) -> Self { self + 1 }
            fn pred(self) -> Self { self - 1 }
        }
    )*};
}
impl_bound!(u16, u32, u128);

/// A set of integers as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct IntervalSet<T: Bound> {
    ranges: Vec<(T, T)>,
}

impl<T: Bound> IntervalSet<T> {
    /// The empty set.
    pub fn empty() -> Self {
        Self { ranges: Vec::new() }
    }

    /// The set of every value of the type.
    pub fn full() -> Self {
        Self::range(T::MIN, T::MAX)
    }

    /// The inclusive range `lo..=hi`; empty when `lo > hi`.
    pub fn range(lo: T, hi: T) -> Self {
        if lo > hi {
            Self::empty()
        } else {
            Self {
                ranges: vec![(lo, hi)],
            }
        }
    }

    /// Builds a set from arbitrary (possibly overlapping, unsorted) ranges.
    pub fn from_ranges(mut ranges: Vec<(T, T)>) -> Self {
        ranges.retain(|(lo, hi)| lo <= hi);
        ranges.sort_unstable();
        let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            if let Some(last) = out.last_mut()
                && (last.1 == T::MAX || lo <= last.1.succ())
            {
                if hi > last.1 {
                    last.1 = hi;
                }
                continue;
            }
            out.push((lo, hi));
        }
        Self { ranges: out }
    }

    /// The ranges, sorted, disjoint and non-adjacent.
    pub fn ranges(&self) -> &[(T, T)] {
        &self.ranges
    }

    /// Whether the set has no member.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether the set holds every value of the type.
    pub fn is_full(&self) -> bool {
        self.ranges == [(T::MIN, T::MAX)]
    }

    /// Whether `v` is a member.
    pub fn contains(&self, v: T) -> bool {
        let i = self.ranges.partition_point(|&(_, hi)| hi < v);
        i < self.ranges.len() && self.ranges[i].0 <= v
    }

    /// Whether every member of `other` is a member of `self`.
    pub fn is_superset(&self, other: &Self) -> bool {
        // Ranges are non-adjacent, so each of `other`'s lies within one of `self`'s.
        // No allocation: the engine asks this for every atom of every address set.
        let mut i = 0;
        for &(lo, hi) in &other.ranges {
            while i < self.ranges.len() && self.ranges[i].1 < lo {
                i += 1;
            }
            match self.ranges.get(i) {
                Some(&(a, b)) if a <= lo && hi <= b => {}
                _ => return false,
            }
        }
        true
    }

    /// The union of two sets.
    pub fn union(&self, other: &Self) -> Self {
        if other.is_empty() {
            return self.clone();
        }
        if self.is_empty() {
            return other.clone();
        }
        let mut all = Vec::with_capacity(self.ranges.len() + other.ranges.len());
        all.extend_from_slice(&self.ranges);
        all.extend_from_slice(&other.ranges);
        Self::from_ranges(all)
    }

    /// The intersection of two sets.
    pub fn intersect(&self, other: &Self) -> Self {
        let (a, b) = (&self.ranges, &other.ranges);
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < a.len() && j < b.len() {
            let lo = a[i].0.max(b[j].0);
            let hi = a[i].1.min(b[j].1);
            if lo <= hi {
                out.push((lo, hi));
            }
            if a[i].1 < b[j].1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        Self { ranges: out }
    }

    /// The members of `self` that are not members of `other`.
    pub fn difference(&self, other: &Self) -> Self {
        self.intersect(&other.complement())
    }

    /// Every value of the type that is not a member.
    pub fn complement(&self) -> Self {
        let mut out = Vec::with_capacity(self.ranges.len() + 1);
        let mut next = Some(T::MIN);
        for &(lo, hi) in &self.ranges {
            if let Some(start) = next
                && lo > start
            {
                out.push((start, lo.pred()));
            }
            next = if hi == T::MAX { None } else { Some(hi.succ()) };
        }
        if let Some(start) = next {
            out.push((start, T::MAX));
        }
        Self { ranges: out }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn members(s: &IntervalSet<u16>) -> Vec<u16> {
        s.ranges().iter().flat_map(|&(lo, hi)| lo..=hi).collect()
    }

    fn small_set() -> impl Strategy<Value = IntervalSet<u16>> {
        proptest::collection::vec((0u16..40, 0u16..6), 0..5).prop_map(|v| {
            IntervalSet::from_ranges(v.into_iter().map(|(a, l)| (a, a + l)).collect())
        })
    }

    #[test]
    fn adjacent_ranges_merge() {
        let s = IntervalSet::from_ranges(vec![(5u16, 9), (1, 4), (11, 12)]);
        assert_eq!(s.ranges(), &[(1, 9), (11, 12)]);
    }

    #[test]
    fn complement_of_edges() {
        let s = IntervalSet::from_ranges(vec![(0u16, 3), (65530, 65535)]);
        assert_eq!(s.complement().ranges(), &[(4, 65529)]);
        assert!(IntervalSet::<u16>::full().complement().is_empty());
        assert!(IntervalSet::<u16>::empty().complement().is_full());
    }

    proptest! {
        #[test]
        fn operations_agree_with_member_sets(a in small_set(), b in small_set()) {
            let (ma, mb) = (members(&a), members(&b));
            let union: Vec<u16> = (0..50).filter(|v| ma.contains(v) || mb.contains(v)).collect();
            let inter: Vec<u16> = (0..50).filter(|v| ma.contains(v) && mb.contains(v)).collect();
            let diff: Vec<u16> = (0..50).filter(|v| ma.contains(v) && !mb.contains(v)).collect();
            prop_assert_eq!(members(&a.union(&b)), union);
            prop_assert_eq!(members(&a.intersect(&b)), inter);
            prop_assert_eq!(members(&a.difference(&b)), diff);
            for v in 0..50u16 {
                prop_assert_eq!(a.contains(v), ma.contains(&v));
            }
            prop_assert_eq!(a.is_superset(&b), mb.iter().all(|v| ma.contains(v)));
            prop_assert!(a.is_superset(&a.intersect(&b)));
        }
    }
}
