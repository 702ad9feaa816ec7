//! A fixed-size bitset over node indices.

/// A set of small integers as 64-bit words.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    /// An empty set able to hold `0..len`.
    pub fn new(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(64)],
        }
    }

    /// The 64-bit words (member `i` is bit `i % 64` of word `i / 64`).
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// The words, for word-at-a-time updates.
    pub fn words_mut(&mut self) -> &mut [u64] {
        &mut self.words
    }

    /// How many members lie in `lo..hi`.
    pub fn count_range(&self, lo: usize, hi: usize) -> usize {
        let (mut start, mut total) = (lo, 0);
        while start < hi {
            let w = self.words.get(start / 64).copied().unwrap_or(0);
            let shift = start % 64;
            let take = (64 - shift).min(hi - start);
            let mask = if take == 64 {
                u64::MAX
            } else {
                (1u64 << take) - 1
            };
            total += ((w >> shift) & mask).count_ones() as usize;
            start += take;
        }
        total
    }

    /// How many members the set can hold (a multiple of 64).
    pub fn capacity(&self) -> usize {
        self.words.len() * 64
    }

    /// A 64-bit hash of the members, for interning.
    pub fn fingerprint(&self) -> u64 {
        self.words.iter().fold(0x9E37_79B9_7F4A_7C15u64, |h, &w| {
            (h ^ w).wrapping_mul(0x0100_0000_01B3).rotate_left(23)
        })
    }

    /// Removes `i`.
    pub fn remove(&mut self, i: usize) {
        self.words[i / 64] &= !(1u64 << (i % 64));
    }

    /// Adds `i`.
    pub fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    /// Adds every member of `lo..hi`.
    pub fn insert_range(&mut self, lo: usize, hi: usize) {
        let mut i = lo;
        while i < hi {
            if i.is_multiple_of(64) && hi - i >= 64 {
                self.words[i / 64] = u64::MAX;
                i += 64;
            } else {
                self.insert(i);
                i += 1;
            }
        }
    }

    /// Whether `i` is a member.
    pub fn contains(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Adds every member of `other`.
    pub fn union_with(&mut self, other: &BitSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// Keeps only members of `other`.
    pub fn intersect_with(&mut self, other: &BitSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    /// Removes every member of `other`.
    pub fn difference_with(&mut self, other: &BitSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    /// Whether every member is also in `other`.
    pub fn is_subset(&self, other: &BitSet) -> bool {
        self.words
            .iter()
            .enumerate()
            .all(|(i, w)| w & !other.words.get(i).copied().unwrap_or(0) == 0)
    }

    /// Whether the two sets have a member in common.
    pub fn intersects(&self, other: &BitSet) -> bool {
        self.words.iter().zip(&other.words).any(|(a, b)| a & b != 0)
    }

    /// The number of members the two sets have in common.
    pub fn count_and(&self, other: &BitSet) -> usize {
        self.words
            .iter()
            .zip(&other.words)
            .map(|(a, b)| (a & b).count_ones() as usize)
            .sum()
    }

    /// The first member not in `other`, searching from word `from` on: the member and
    /// its word, so that a caller who adds members as it goes can resume there.
    pub fn next_difference(&self, other: &BitSet, from: usize) -> Option<(usize, usize)> {
        (from..self.words.len()).find_map(|j| {
            let fresh = self.words[j] & !other.words.get(j).copied().unwrap_or(0);
            (fresh != 0).then(|| (j * 64 + fresh.trailing_zeros() as usize, j))
        })
    }

    /// Whether no element is set.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// The number of members.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The members in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(i * 64 + bit)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_and_intersection_follow_the_members() {
        let set = |n: usize, members: &[usize]| {
            let mut b = BitSet::new(n);
            for &m in members {
                b.insert(m);
            }
            b
        };
        let small = set(130, &[1, 64, 129]);
        let big = set(130, &[0, 1, 64, 100, 129]);
        assert!(small.is_subset(&big));
        assert!(!big.is_subset(&small));
        assert!(BitSet::new(130).is_subset(&small));
        assert!(small.intersects(&big));
        assert!(!set(130, &[2]).intersects(&small));
        // A longer set with a member beyond the other's words is no subset of it.
        assert!(!set(200, &[190]).is_subset(&set(64, &[])));
        assert_eq!(small.count_and(&big), 3);
        assert_eq!(set(130, &[0, 100]).count_and(&small), 0);
    }

    #[test]
    fn next_difference_finds_members_in_order_from_a_word() {
        let mut a = BitSet::new(200);
        for i in [3, 70, 130, 199] {
            a.insert(i);
        }
        let mut done = BitSet::new(200);
        done.insert(3);
        assert_eq!(a.next_difference(&done, 0), Some((70, 1)));
        assert_eq!(a.next_difference(&done, 2), Some((130, 2)));
        done.insert_range(0, 150);
        assert_eq!(a.next_difference(&done, 0), Some((199, 3)));
        assert_eq!(a.next_difference(&done, 4), None);
        // Against a shorter set, the words it lacks count as empty.
        assert_eq!(a.next_difference(&BitSet::new(64), 1), Some((70, 1)));
        done.insert(199);
        assert_eq!(a.next_difference(&done, 0), None);
    }

    #[test]
    fn set_operations() {
        let mut a = BitSet::new(130);
        a.insert(1);
        a.insert(129);
        let mut b = BitSet::new(130);
        b.insert_range(100, 130);
        let mut u = a.clone();
        u.union_with(&b);
        assert_eq!(u.count(), 31);
        let mut i = a.clone();
        i.intersect_with(&b);
        assert_eq!(i.iter().collect::<Vec<_>>(), vec![129]);
        a.difference_with(&b);
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![1]);
        assert!(!a.contains(129));
    }

    #[test]
    fn counts_ranges_across_words() {
        let mut a = BitSet::new(200);
        for i in [0, 3, 63, 64, 65, 127, 128, 199] {
            a.insert(i);
        }
        for lo in 0..200 {
            for hi in lo..=200 {
                let naive = (lo..hi).filter(|&i| a.contains(i)).count();
                assert_eq!(a.count_range(lo, hi), naive, "{lo}..{hi}");
            }
        }
    }
}
