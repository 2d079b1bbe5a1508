//! Simulated VRAM: the bytes of one memory segment, shared between the
//! simulated GPU (writer threads) and Dxgkrnl's copier.
//!
//! # Ownership and ordering
//! Writers and the copier touch the same bytes concurrently, so every 8-byte
//! word is an `AtomicU64` accessed with `Relaxed` loads and stores: a copy
//! racing a write may read a torn page (some old words, some new), never
//! undefined behaviour. What makes the copy *correct* is the protocol the
//! driver documents in `src/basis/bitplane.rs`: a writer stores its data
//! **first** and marks the page through the driver afterwards (the mark is a
//! `Release` RMW); the harvest that reports the page takes its word with an
//! `Acquire` RMW. So a copy made after a harvest sees every write whose mark
//! that harvest reported, and a write still racing the copy leaves its page
//! dirty for the next harvest.
//!
//! # Host memory
//! The words are allocated zeroed (`alloc_zeroed`, so the OS hands out zero
//! pages lazily), and [`Vram::copy_to`] stores only the words that differ:
//! VRAM nobody wrote costs no host memory on either side, so an 8 GiB segment
//! costs only what the workload touches.

use std::alloc::Layout;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes per simulated word.
pub const WORD: u64 = 8;

/// The VRAM of one segment.
pub struct Vram {
    words: Box<[AtomicU64]>,
    size: u64,
}

impl core::fmt::Debug for Vram {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Vram").field("size", &self.size()).finish()
    }
}

/// Why simulated VRAM could not be allocated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VramError {
    /// The size is zero or not a multiple of 8 bytes.
    BadSize(u64),
    /// The host could not reserve the memory.
    NoMemory(u64),
}

impl core::fmt::Display for VramError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadSize(size) => write!(f, "VRAM size {size} is not a non-zero multiple of 8"),
            Self::NoMemory(size) => write!(f, "cannot reserve {size} bytes of host memory"),
        }
    }
}

impl std::error::Error for VramError {}

impl Vram {
    /// All-zero VRAM of `size` bytes.
    ///
    /// # Errors
    /// [`VramError`] for a bad size or when the host has no room.
    pub fn new(size: u64) -> Result<Self, VramError> {
        if size == 0 || !size.is_multiple_of(WORD) {
            return Err(VramError::BadSize(size));
        }
        let count = usize::try_from(size / WORD).map_err(|_| VramError::NoMemory(size))?;
        let layout = Layout::array::<AtomicU64>(count).map_err(|_| VramError::NoMemory(size))?;
        // SAFETY: `layout` has a non-zero size (count > 0).
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<AtomicU64>();
        if ptr.is_null() {
            return Err(VramError::NoMemory(size));
        }
        let slice = core::ptr::slice_from_raw_parts_mut(ptr, count);
        // SAFETY: `ptr` was allocated by the global allocator with the layout
        // of `[AtomicU64; count]`, which is what the box frees it with; all-zero
        // bytes are a valid `AtomicU64` (it has the layout of `u64`).
        let words = unsafe { Box::from_raw(slice) };
        Ok(Self { words, size })
    }

    /// Size in bytes.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The words of `[offset, offset + len)`; `None` unless both are
    /// multiples of 8 and the span lies inside.
    #[must_use]
    pub fn words(&self, offset: u64, len: u64) -> Option<&[AtomicU64]> {
        if !offset.is_multiple_of(WORD) || !len.is_multiple_of(WORD) {
            return None;
        }
        let end = offset.checked_add(len)?;
        let first = usize::try_from(offset / WORD).ok()?;
        let last = usize::try_from(end / WORD).ok()?;
        self.words.get(first..last)
    }

    /// Writes `[offset, offset + len)` with values derived from `stamp`
    /// (distinct per stamp, so every write changes the bytes it covers).
    /// Returns `false` (writing nothing) for a span [`Self::words`] rejects.
    pub fn write(&self, offset: u64, len: u64, stamp: u64) -> bool {
        let Some(words) = self.words(offset, len) else {
            return false;
        };
        let base = mix(stamp);
        for (i, word) in (0u64..).zip(words) {
            word.store(base.wrapping_add(i), Ordering::Relaxed);
        }
        true
    }

    /// Copies `len` bytes at `src_offset` of `self` to `dst_offset` of `dst`,
    /// storing only the words that differ (the result is the same as a plain
    /// copy; untouched destination memory stays unallocated). Returns `false`
    /// (copying nothing) for a span either side rejects.
    ///
    /// `dst` must have no other writer while this runs (Dxgkrnl's copier is
    /// the only writer of the destination VRAM).
    pub fn copy_to(&self, src_offset: u64, dst: &Self, dst_offset: u64, len: u64) -> bool {
        let (Some(src), Some(dst)) = (self.words(src_offset, len), dst.words(dst_offset, len))
        else {
            return false;
        };
        for (s, d) in src.iter().zip(dst) {
            let value = s.load(Ordering::Relaxed);
            if d.load(Ordering::Relaxed) != value {
                d.store(value, Ordering::Relaxed);
            }
        }
        true
    }

    /// Whether `len` bytes at `offset` of `self` equal `len` bytes at
    /// `other_offset` of `other`; `None` for a span either side rejects.
    #[must_use]
    pub fn same(&self, offset: u64, other: &Self, other_offset: u64, len: u64) -> Option<bool> {
        let a = self.words(offset, len)?;
        let b = other.words(other_offset, len)?;
        Some(
            a.iter()
                .zip(b)
                .all(|(x, y)| x.load(Ordering::Relaxed) == y.load(Ordering::Relaxed)),
        )
    }
}

/// splitmix64's finaliser: spreads a write stamp over all 64 bits.
fn mix(stamp: u64) -> u64 {
    let mut z = stamp.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_copy_and_compare_respect_bounds() {
        let src = Vram::new(64 * 1024).unwrap();
        let dst = Vram::new(64 * 1024).unwrap();
        assert_eq!(src.same(0, &dst, 0, 64 * 1024), Some(true));
        assert!(src.write(4096, 4096, 7));
        assert_eq!(src.same(4096, &dst, 4096, 4096), Some(false));
        assert_eq!(src.same(0, &dst, 0, 4096), Some(true));
        assert!(src.copy_to(4096, &dst, 8192, 4096));
        assert_eq!(src.same(4096, &dst, 8192, 4096), Some(true));
        assert_eq!(src.same(4096, &dst, 4096, 4096), Some(false));
        assert!(!src.write(60 * 1024, 8 * 1024, 1), "past the end");
        assert!(!src.write(3, 8, 1), "unaligned");
        assert!(!src.copy_to(0, &dst, 64 * 1024, 8));
        assert_eq!(src.same(u64::MAX - 7, &dst, 0, 8), None);
    }

    #[test]
    fn every_write_changes_the_bytes_it_covers() {
        let vram = Vram::new(4096).unwrap();
        let before: Vec<u64> = (0..512).map(|i| mix(1).wrapping_add(i)).collect();
        assert!(vram.write(0, 4096, 1));
        assert!(vram.write(0, 4096, 2));
        let words = vram.words(0, 4096).unwrap();
        assert!(
            words
                .iter()
                .zip(&before)
                .all(|(w, b)| w.load(Ordering::Relaxed) != *b)
        );
    }

    #[test]
    fn bad_sizes_are_refused() {
        assert_eq!(Vram::new(0).unwrap_err(), VramError::BadSize(0));
        assert_eq!(Vram::new(12).unwrap_err(), VramError::BadSize(12));
    }
}
