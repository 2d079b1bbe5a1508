//! A bitplane: one dirty bit per tracked page, in `AtomicU64` words.
//!
//! Bit `n` of the plane is bit `n % 64` of word `n / 64`. Writers set bits
//! with `fetch_or`; the harvester reads each word with a plain load, skips
//! zero words, and takes non-zero words with `swap(0)` (or `fetch_and` of the
//! complement when only part of the word belongs to the queried span).
//!
//! Why no write is ever lost: a bit is only ever cleared by an atomic
//! read-modify-write that also returns it, and the returned bits are written
//! to the caller's buffer. A `fetch_or` ordered before that RMW is reported by
//! this harvest; one ordered after it leaves its bit set for the next one. The
//! skipped-zero load only ever skips bits that were not set when it read them.
//!
//! Why marks are always RMWs (never "skip if already set"): the mark's
//! `Release` pairs with the harvest's `Acquire`, so a harvester that reports a
//! page also sees the data written before the mark. A writer that skipped its
//! RMW because the bit looked set would have no such edge: the harvester could
//! clear that older bit, copy the page without the new data, and the new data
//! would never be sent.

use core::mem::MaybeUninit;

use alloc::vec::Vec;

use crate::status::{Result, Status};
use crate::sync::{AtomicU64, Ordering};

/// The dirty bits of one memory basis.
pub(crate) struct Bitplane {
    words: Vec<AtomicU64>,
    bits: u64,
}

/// `(first, last, first_mask, last_mask)`: the words a bit range touches and
/// the masks of its bits in the first and last of them.
fn word_span(start: u64, count: u64) -> Option<(usize, usize, u64, u64)> {
    let end = start.checked_add(count)?.checked_sub(1)?;
    let first = usize::try_from(start / 64).ok()?;
    let last = usize::try_from(end / 64).ok()?;
    let first_mask = u64::MAX << (start % 64);
    // `!end & 63` is `63 - end % 64`: the bits above `end` in its word.
    let last_mask = u64::MAX >> (!end & 63);
    Some((first, last, first_mask, last_mask))
}

impl Bitplane {
    /// An all-clear plane of `bits` bits.
    ///
    /// # Errors
    /// `NoMemory` if the words cannot be allocated (nothing is allocated then).
    pub(crate) fn new(bits: u64) -> Result<Self> {
        let words = usize::try_from(bits.div_ceil(64)).map_err(|_| Status::NoMemory)?;
        let mut v = Vec::new();
        v.try_reserve_exact(words).map_err(|_| Status::NoMemory)?;
        v.extend((0..words).map(|_| AtomicU64::new(0)));
        Ok(Self { words: v, bits })
    }

    /// Number of bits (tracked pages).
    pub(crate) fn bits(&self) -> u64 {
        self.bits
    }

    /// Sets bits `[start, start + count)`; out-of-plane bits are ignored
    /// (callers only pass spans they computed inside the plane).
    pub(crate) fn set(&self, start: u64, count: u64) {
        let count = count.min(self.bits.saturating_sub(start));
        let Some((first, last, first_mask, last_mask)) = word_span(start, count) else {
            return;
        };
        let Some(words) = self.words.get(first..=last) else {
            return;
        };
        let n = words.len();
        for (i, word) in words.iter().enumerate() {
            let mut mask = u64::MAX;
            if i == 0 {
                mask &= first_mask;
            }
            if i.checked_add(1) == Some(n) {
                mask &= last_mask;
            }
            word.fetch_or(mask, Ordering::Release);
        }
    }

    /// Copies bits `[start, start + count)` into `out`, LSB first (span bit
    /// `n` is bit `n % 8` of byte `n / 8`), clearing them when `clear`. Writes
    /// exactly `ceil(count / 8)` bytes (span bits past `count` in the last byte
    /// are 0) and nothing else. No allocation.
    ///
    /// The caller has checked `start + count <= self.bits()` and that `out`
    /// holds `ceil(count / 8)` bytes; anything else writes nothing.
    pub(crate) fn harvest(&self, start: u64, count: u64, out: &mut [MaybeUninit<u8>], clear: bool) {
        let Some(out_bytes) = usize::try_from(count.div_ceil(8)).ok() else {
            return;
        };
        let in_plane = start.checked_add(count).is_some_and(|end| end <= self.bits);
        let (Some(out), true) = (out.get_mut(..out_bytes), in_plane) else {
            return;
        };
        let Some((first, last, first_mask, last_mask)) = word_span(start, count) else {
            return;
        };
        let Some(words) = self.words.get(first..=last) else {
            return;
        };
        let shift = u32::try_from(start % 64).unwrap_or(0);
        let n = words.len();
        let mut chunks = out.chunks_mut(8);
        let mut pending = 0u64;
        for (i, word) in words.iter().enumerate() {
            let mut mask = u64::MAX;
            if i == 0 {
                mask &= first_mask;
            }
            if i.checked_add(1) == Some(n) {
                mask &= last_mask;
            }
            let bits = take(word, mask, clear);
            if shift == 0 {
                emit(chunks.next(), bits);
            } else {
                if i > 0 {
                    // The low `shift` bits of this word complete the previous output word.
                    // PANIC: `shift` is in 1..=63 on this branch, so `64 - shift` is in 1..=63.
                    #[allow(clippy::arithmetic_side_effects)]
                    let high = bits << (64 - shift);
                    emit(chunks.next(), pending | high);
                }
                pending = bits >> shift;
            }
        }
        if shift != 0 {
            // The last output word, if the span has one left (`chunks` is then empty otherwise).
            emit(chunks.next(), pending);
        }
    }
}

/// Reads the bits of `mask` in `word`, clearing them when `clear`. A word
/// whose masked bits read zero is not written at all.
#[inline]
fn take(word: &AtomicU64, mask: u64, clear: bool) -> u64 {
    let seen = word.load(Ordering::Acquire) & mask;
    if seen == 0 || !clear {
        return seen;
    }
    let old = if mask == u64::MAX {
        word.swap(0, Ordering::AcqRel)
    } else {
        word.fetch_and(!mask, Ordering::AcqRel)
    };
    old & mask
}

/// Writes one output word, little-endian, into as many bytes as `chunk` has.
#[inline]
fn emit(chunk: Option<&mut [MaybeUninit<u8>]>, bits: u64) {
    if let Some(chunk) = chunk {
        for (dst, src) in chunk.iter_mut().zip(bits.to_le_bytes()) {
            dst.write(src);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Test buffers start initialised (`MaybeUninit::new`), so every byte is.
    fn byte(b: &MaybeUninit<u8>) -> u8 {
        // SAFETY: every test buffer is created with `MaybeUninit::new`.
        unsafe { b.assume_init() }
    }

    fn harvest_vec(plane: &Bitplane, start: u64, count: u64, clear: bool) -> Vec<u8> {
        let n = usize::try_from(count.div_ceil(8)).unwrap();
        let mut out = vec![MaybeUninit::new(0xAAu8); n + 3];
        plane.harvest(start, count, &mut out, clear);
        // Bytes past the span are untouched.
        assert!(out[n..].iter().all(|b| byte(b) == 0xAA));
        out[..n].iter().map(byte).collect()
    }

    fn bit(bytes: &[u8], n: usize) -> bool {
        bytes[n / 8] >> (n % 8) & 1 == 1
    }

    #[test]
    fn harvest_matches_a_bit_by_bit_model_at_every_alignment() {
        for total in [1u64, 63, 64, 65, 200, 333] {
            for start in 0..total.min(70) {
                for count in [1, 7, 8, 9, 63, 64, 65, 130] {
                    if start + count > total {
                        continue;
                    }
                    let plane = Bitplane::new(total).unwrap();
                    let pattern = |n: u64| n.is_multiple_of(3) || n % 7 == 1;
                    for n in 0..total {
                        if pattern(n) {
                            plane.set(n, 1);
                        }
                    }
                    let copy = harvest_vec(&plane, start, count, false);
                    let taken = harvest_vec(&plane, start, count, true);
                    assert_eq!(copy, taken);
                    for i in 0..usize::try_from(count).unwrap() {
                        assert_eq!(
                            bit(&taken, i),
                            pattern(start + i as u64),
                            "total {total} start {start} count {count} bit {i}"
                        );
                    }
                    // Padding bits of the last byte are zero.
                    for i in usize::try_from(count).unwrap()..taken.len() * 8 {
                        assert!(!bit(&taken, i));
                    }
                    // Only the span was cleared.
                    let after = harvest_vec(&plane, 0, total, false);
                    for n in 0..total {
                        let in_span = n >= start && n < start + count;
                        assert_eq!(
                            bit(&after, usize::try_from(n).unwrap()),
                            pattern(n) && !in_span
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn set_covers_exactly_the_requested_bits() {
        let plane = Bitplane::new(300).unwrap();
        plane.set(62, 70);
        let all = harvest_vec(&plane, 0, 300, false);
        for n in 0..300 {
            assert_eq!(bit(&all, n), (62..132).contains(&n));
        }
        // Out-of-plane requests are clipped, never written.
        plane.set(299, 1000);
        plane.set(5000, 1);
        let all = harvest_vec(&plane, 0, 300, true);
        assert!(bit(&all, 299));
        assert_eq!(harvest_vec(&plane, 0, 300, false), vec![0; 38]);
    }

    #[test]
    fn out_of_range_harvest_writes_nothing() {
        let plane = Bitplane::new(10).unwrap();
        plane.set(0, 10);
        let mut out = [MaybeUninit::new(0x55u8); 4];
        plane.harvest(5, 10, &mut out, true);
        assert!(out.iter().all(|b| byte(b) == 0x55));
        let mut short = [MaybeUninit::new(0x55u8); 1];
        plane.harvest(0, 10, &mut short, true);
        assert_eq!(byte(&short[0]), 0x55);
        // Nothing was cleared by the refused harvests.
        assert_eq!(harvest_vec(&plane, 0, 10, false), vec![0xFF, 0x03]);
    }
}
