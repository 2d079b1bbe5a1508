//! An in-place sort with a constant stack: a heapsort written as loops.
//!
//! `slice::sort_unstable` is a recursive quicksort (ipnsort): in the release
//! image its frame for `(u64, u64)` is about 900 bytes a level, and the
//! driver sorts up to 65,536 ranges on DDI paths (SetVirtualGpuResources2,
//! CreateMemoryBasis), which a 24 KiB kernel stack cannot afford. Heapsort
//! needs no recursion and no allocation, and is `O(n log n)` in every case.
//! `cargo xtask check-image` fails on any recursion left in the image.

/// Sorts `v` ascending by `key`, not stable, in `O(n log n)` time and
/// constant stack; never panics.
pub(crate) fn sort_by_key<T, K: Ord>(v: &mut [T], mut key: impl FnMut(&T) -> K) {
    let len = v.len();
    // Heapify: sift down every parent, the last one first.
    for start in (0..len / 2).rev() {
        sift_down(v, start, len, &mut key);
    }
    // Move the largest to the end, shrink the heap, restore it.
    for end in (1..len).rev() {
        swap(v, 0, end);
        sift_down(v, 0, end, &mut key);
    }
}

/// Sorts `v` ascending, not stable; see [`sort_by_key`].
pub(crate) fn sort<T: Ord + Copy>(v: &mut [T]) {
    sort_by_key(v, |x| *x);
}

/// Restores the max-heap property of `v[..end]` below `root`.
fn sift_down<T, K: Ord>(v: &mut [T], mut root: usize, end: usize, key: &mut impl FnMut(&T) -> K) {
    loop {
        let Some(mut child) = root.checked_mul(2).and_then(|c| c.checked_add(1)) else {
            return;
        };
        if child >= end {
            return;
        }
        let right = child.saturating_add(1);
        if right < end && key_at(v, child, key) < key_at(v, right, key) {
            child = right;
        }
        if key_at(v, root, key) >= key_at(v, child, key) {
            return;
        }
        swap(v, root, child);
        root = child;
    }
}

/// The key of `v[i]` (`None` out of bounds, which the callers never ask).
fn key_at<T, K>(v: &[T], i: usize, key: &mut impl FnMut(&T) -> K) -> Option<K> {
    v.get(i).map(key)
}

/// Swaps `v[a]` and `v[b]` (nothing when equal or out of bounds): the
/// checked split has no panic path, unlike `slice::swap`.
fn swap<T>(v: &mut [T], a: usize, b: usize) {
    let (lo, hi) = (a.min(b), a.max(b));
    if lo == hi {
        return;
    }
    if let Some((left, right)) = v.split_at_mut_checked(hi)
        && let (Some(x), Some(y)) = (left.get_mut(lo), right.first_mut())
    {
        core::mem::swap(x, y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn check<T: Ord + Copy + core::fmt::Debug>(mut v: Vec<T>) {
        let mut expected = v.clone();
        expected.sort();
        sort(&mut v);
        assert_eq!(v, expected);
    }

    #[test]
    fn sorts_the_small_and_degenerate_cases() {
        check::<u32>(Vec::new());
        check(vec![1u32]);
        check(vec![2u32, 1]);
        check(vec![1u32, 2]);
        check(vec![3u32, 3, 3]);
        check(vec![5u32, 4, 3, 2, 1, 0]);
        check((0u32..1000).collect());
        check((0u32..1000).rev().collect());
    }

    #[test]
    fn sorts_random_pairs_by_key_like_the_standard_sort() {
        let mut rng = gpup_rng::XorShift64Star::from_seed(0x5eed_50f7);
        // Miri interprets: the largest size (the DDIs' maximum) is left to
        // the native run.
        let sizes: &[usize] = if cfg!(miri) {
            &[2, 3, 7, 64, 1000]
        } else {
            &[2, 3, 7, 64, 1000, 65_536]
        };
        for &len in sizes {
            let v: Vec<(u64, u64)> = (0..len)
                .map(|_| (rng.next_u64() % 4096, rng.next_u64()))
                .collect();
            let mut mine = v.clone();
            sort_by_key(&mut mine, |p| p.0);
            let keys: Vec<u64> = mine.iter().map(|p| p.0).collect();
            assert!(keys.windows(2).all(|w| w[0] <= w[1]), "len {len}");
            // A permutation of the input: same multiset of elements.
            let mut a = mine.clone();
            let mut b = v;
            a.sort();
            b.sort();
            assert_eq!(a, b, "len {len}");
        }
    }
}
