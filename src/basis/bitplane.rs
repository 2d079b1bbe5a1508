//! A bitplane: one dirty bit per tracked page, in `AtomicU64` words, and a
//! summary with one bit per block of words.
//!
//! Bit `n` of the plane is bit `n % 64` of word `n / 64`. Words are grouped in
//! blocks of [`BLOCK_WORDS`] (512 pages); bit `b % 64` of summary word `b / 64`
//! says that block `b` may hold a set bit. Writers set bits with `fetch_or`,
//! then set the summary bit of every block they touched (skipping that RMW
//! when the summary bit already reads set). The harvester walks the summary:
//! a summary word that reads zero reports its 32768 pages clean without
//! reading their words (one bulk fill of the output), which is what makes a
//! clean or sparse plane cost about one write of its bytes. In a block whose
//! summary bit is set it reads each word with a plain load, skips zero words,
//! and takes non-zero words with `swap(0)` (or `fetch_and` of the complement
//! when only part of the word belongs to the queried span).
//!
//! (The per-word protocol, for sub-range and non-clearing queries; a
//! whole-basis clearing query drains a retired plane instead: `super::dirty`.)
//!
//! Why no write is ever lost: here a bit is only ever cleared by an atomic
//! read-modify-write that also returns it, and the returned bits are written
//! to the caller's buffer. A `fetch_or` ordered before that RMW is reported by
//! this harvest; one ordered after it leaves its bit set for the next one. The
//! skipped-zero load only ever skips bits that were not set when it read them.
//!
//! Why skipping a block by its summary bit loses nothing: every set plane bit
//! lies in a block whose summary bit is set, except while the mark that set it
//! is still running. A clearing harvest clears summary bits (with one
//! `fetch_and`, and only for blocks wholly inside its span, whose every word it
//! then reads) *before* it reads the block's words; a mark sets or reads its
//! summary bit *after* its word RMW. All of these accesses are `SeqCst`, so
//! they cannot miss each other both ways (the store-buffering shape): if the
//! mark's summary load read the value from before the harvester cleared it,
//! the mark's word RMW precedes the harvester's word load in the single total
//! order, and the harvester reports the bit; otherwise the mark sees the
//! cleared summary bit and sets it again, and the next harvest reads the
//! block. Harvests that do not clear, and blocks only partly inside a span,
//! leave the summary as it is. On x86-64 `SeqCst` costs nothing over
//! `Acquire`/`AcqRel` here: loads are plain moves and RMWs are locked anyway.
//!
//! Why marks are always RMWs on the words (never "skip if already set"): the
//! mark's RMW pairs with the harvest's load or RMW, so a harvester that
//! reports a page also sees the data written before the mark. A writer that
//! skipped its RMW because the bit looked set would have no such edge: the
//! harvester could clear that older bit, copy the page without the new data,
//! and the new data would never be sent. The summary carries no such edge
//! (it only says where to look), so its RMW may be skipped.

use core::mem::MaybeUninit;

use alloc::vec::Vec;

use crate::foundation::fallible::try_vec;
use crate::foundation::status::{Result, Status};
use crate::kernel::sync::{AtomicU64, Ordering, new_seq_cst_u64};

/// log2 of the words per summary block.
const BLOCK_SHIFT: u32 = 3;
/// Plane words per summary block (one summary bit).
pub(crate) const BLOCK_WORDS: usize = 1 << BLOCK_SHIFT;
/// Plane words per summary word.
pub(crate) const SUMMARY_WORDS: usize = 64 << BLOCK_SHIFT;
/// Plane bits per summary block.
const BLOCK_BITS: u64 = 64 << BLOCK_SHIFT;
/// Every access to the words and the summary (see the module comment).
pub(crate) const ORDER: Ordering = Ordering::SeqCst;

/// The dirty bits of one memory basis.
///
/// # Invariants
/// `words` holds `ceil(bits / 64)` words and `summary` one bit per
/// [`BLOCK_WORDS`] of them; bits at or past `bits` are never set.
pub(crate) struct Bitplane {
    words: Vec<AtomicU64>,
    summary: Vec<AtomicU64>,
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

/// Calls `f(word, mask)` for each word of `words` that bits `[start, start
/// + count)` touch, `mask` being the span's bits in it; returns the first
/// and last word index, or `None` (nothing called) for an empty span or one
/// past `words`.
fn each_masked(
    words: &[AtomicU64],
    start: u64,
    count: u64,
    mut f: impl FnMut(&AtomicU64, u64),
) -> Option<(usize, usize)> {
    let (first, last, first_mask, last_mask) = word_span(start, count)?;
    let span = words.get(first..=last)?;
    let n = span.len();
    for (i, word) in span.iter().enumerate() {
        let mut mask = u64::MAX;
        if i == 0 {
            mask &= first_mask;
        }
        if i.checked_add(1) == Some(n) {
            mask &= last_mask;
        }
        f(word, mask);
    }
    Some((first, last))
}

/// The bits of `[lo, hi)` that fall in the 64-bit word `index` (bit `64 *
/// index` is its bit 0).
fn range_mask(lo: u64, hi: u64, index: usize) -> u64 {
    let base = u64::try_from(index).unwrap_or(u64::MAX).saturating_mul(64);
    let a = lo.saturating_sub(base).min(64);
    let b = hi.saturating_sub(base).min(64);
    let width = b.saturating_sub(a);
    if width == 0 {
        return 0;
    }
    // `width` is in 1..=64 and `a < b <= 64`, so both shifts are in 0..=63.
    (u64::MAX >> 64u64.saturating_sub(width)) << a
}

/// `n` all-clear words, allocated fallibly (the fill stays within the
/// capacity reserved for exactly `n`).
fn zeroed(n: usize) -> Result<Vec<AtomicU64>> {
    let mut v = try_vec(n)?;
    v.extend((0..n).map(|_| new_seq_cst_u64(0)));
    Ok(v)
}

/// The shape of one harvest: the plane words it reads and the masks of its
/// bits in the first and last of them.
#[derive(Clone, Copy)]
struct WordSpan {
    first: usize,
    last: usize,
    first_mask: u64,
    last_mask: u64,
}

impl WordSpan {
    /// The span's bits in plane word `index`.
    fn mask(&self, index: usize) -> u64 {
        let mut mask = u64::MAX;
        if index == self.first {
            mask &= self.first_mask;
        }
        if index == self.last {
            mask &= self.last_mask;
        }
        mask
    }
}

/// A span of one plane's bits, checked once against that plane by
/// [`Bitplane::span`] and then harvested by [`Bitplane::harvest`], which
/// does not check it again: a span that does not fit its plane cannot be
/// built, so a query can never report success with an unwritten buffer.
///
/// # Invariants
/// `start + count <= plane.bits()` and `count >= 1`; `words` are the plane
/// words of the span (`words.last < plane.words.len()`); `summary` are the
/// summary words of the blocks the span touches, the first of them summary
/// word `summary_first`, with `summary_masks` the bits of those blocks in the
/// first and last of them; `covered` are the blocks wholly inside the span;
/// `bytes == ceil(count / 8)`.
pub(crate) struct QuerySpan<'a> {
    plane: &'a Bitplane,
    start: u64,
    bytes: usize,
    words: WordSpan,
    summary: &'a [AtomicU64],
    summary_first: usize,
    summary_masks: (u64, u64),
    covered: (u64, u64),
    /// The span is the whole plane.
    whole: bool,
}

impl QuerySpan<'_> {
    /// Bytes a harvest of the span writes: `ceil(bits / 8)`.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether the span is the whole plane.
    pub(crate) fn is_whole(&self) -> bool {
        self.whole
    }

    /// The same span of `other`, a plane of the same size (the other plane
    /// of a double-buffered basis); `None` if the sizes differ.
    pub(crate) fn on<'b>(&self, other: &'b Bitplane) -> Option<QuerySpan<'b>> {
        if other.bits != self.plane.bits {
            return None;
        }
        let first = self.summary_first;
        let summary = other
            .summary
            .get(first..first.checked_add(self.summary.len())?)?;
        Some(QuerySpan {
            plane: other,
            start: self.start,
            bytes: self.bytes,
            words: self.words,
            summary,
            summary_first: first,
            summary_masks: self.summary_masks,
            covered: self.covered,
            whole: self.whole,
        })
    }
}

impl Bitplane {
    /// An all-clear plane of `bits` bits.
    ///
    /// # Errors
    /// `NoMemory` if the words cannot be allocated (nothing is allocated then).
    pub(crate) fn new(bits: u64) -> Result<Self> {
        let words = usize::try_from(bits.div_ceil(64)).map_err(|_| Status::NoMemory)?;
        let summary = words.div_ceil(SUMMARY_WORDS);
        Ok(Self {
            words: zeroed(words)?,
            summary: zeroed(summary)?,
            bits,
        })
    }

    /// Number of bits (tracked pages).
    pub(crate) fn bits(&self) -> u64 {
        self.bits
    }

    /// The words and the summary, for the double-buffered drain (`super::dirty`).
    pub(crate) fn parts(&self) -> (&[AtomicU64], &[AtomicU64]) {
        (&self.words, &self.summary)
    }

    /// Sets bits `[start, start + count)`; out-of-plane bits are ignored
    /// (callers only pass spans they computed inside the plane).
    #[inline(always)]
    pub(crate) fn set(&self, start: u64, count: u64) {
        if count == 1 && start < self.bits {
            // One bit (every single-page mark), kept inline: one RMW, and
            // the summary bit checked before it is set.
            let word = usize::try_from(start / 64).unwrap_or(usize::MAX);
            if let Some(w) = self.words.get(word) {
                w.fetch_or(1 << (start % 64), ORDER);
                self.mark_block(word >> BLOCK_SHIFT);
            }
            return;
        }
        self.set_span(start, count);
    }

    /// [`Self::set`] of any span.
    fn set_span(&self, start: u64, count: u64) {
        let count = count.min(self.bits.saturating_sub(start));
        let span = each_masked(&self.words, start, count, |word, mask| {
            word.fetch_or(mask, ORDER);
        });
        if let Some((first, last)) = span {
            // After the word RMWs: see the module comment.
            self.mark_blocks(first >> BLOCK_SHIFT, last >> BLOCK_SHIFT);
        }
    }

    /// Sets the summary bit of block `block` (checked first: no RMW when set).
    #[inline]
    fn mark_block(&self, block: usize) {
        let mask = 1u64 << (block % 64);
        if let Some(word) = self.summary.get(block / 64)
            && word.load(ORDER) & mask == 0
        {
            word.fetch_or(mask, ORDER);
        }
    }

    /// Sets the summary bits of blocks `[first, last]` (each summary word
    /// checked first: no RMW when its bits are set).
    fn mark_blocks(&self, first: usize, last: usize) {
        let (Ok(start), Ok(end)) = (u64::try_from(first), u64::try_from(last)) else {
            return;
        };
        let count = end.saturating_sub(start).saturating_add(1);
        each_masked(&self.summary, start, count, |word, mask| {
            if word.load(ORDER) & mask != mask {
                word.fetch_or(mask, ORDER);
            }
        });
    }

    /// Checks bits `[start, start + count)` against the plane, once: the
    /// span a query reports, for [`Self::harvest`].
    ///
    /// # Errors
    /// `InvalidParameter` for an empty span or one past the plane's end.
    pub(crate) fn span(&self, start: u64, count: u64) -> Result<QuerySpan<'_>> {
        let end = start
            .checked_add(count)
            .filter(|end| *end <= self.bits)
            .ok_or(Status::InvalidParameter)?;
        let bytes = usize::try_from(count.div_ceil(8)).map_err(|_| Status::InvalidParameter)?;
        let (first, last, first_mask, last_mask) =
            word_span(start, count).ok_or(Status::InvalidParameter)?;
        if last >= self.words.len() {
            return Err(Status::InvalidParameter);
        }
        // Blocks whose every plane bit lies in the span: a clearing harvest
        // may clear their summary bits. Bits past `self.bits` are never set,
        // so a span that reaches the end of the plane covers its last block.
        let covered_lo = start.div_ceil(BLOCK_BITS);
        let covered_hi = if end == self.bits {
            self.bits.div_ceil(BLOCK_BITS)
        } else {
            end / BLOCK_BITS
        };
        let (first_block, last_block) = (first >> BLOCK_SHIFT, last >> BLOCK_SHIFT);
        let block_lo = u64::try_from(first_block).map_err(|_| Status::InvalidParameter)?;
        let block_hi = u64::try_from(last_block).map_err(|_| Status::InvalidParameter)?;
        let blocks = block_hi.saturating_sub(block_lo).saturating_add(1);
        let (s_first, s_last, s_first_mask, s_last_mask) =
            word_span(block_lo, blocks).ok_or(Status::InvalidParameter)?;
        let summary = self
            .summary
            .get(s_first..=s_last)
            .ok_or(Status::InvalidParameter)?;
        Ok(QuerySpan {
            plane: self,
            start,
            bytes,
            words: WordSpan {
                first,
                last,
                first_mask,
                last_mask,
            },
            summary,
            summary_first: s_first,
            summary_masks: (s_first_mask, s_last_mask),
            covered: (covered_lo, covered_hi),
            whole: start == 0 && end == self.bits,
        })
    }

    /// Copies the bits of `span` into `out`, LSB first (span bit `n` is bit
    /// `n % 8` of byte `n / 8`), clearing them when `clear`. Writes exactly
    /// [`QuerySpan::bytes`] bytes (span bits past its end in the last byte
    /// are 0) and nothing else. No allocation.
    ///
    /// # Errors
    /// `BufferTooSmall` if `out` is shorter than [`QuerySpan::bytes`]; nothing
    /// is read, cleared or written then.
    pub(crate) fn harvest(
        span: &QuerySpan<'_>,
        out: &mut [MaybeUninit<u8>],
        clear: bool,
    ) -> Result<()> {
        let out = out.get_mut(..span.bytes).ok_or(Status::BufferTooSmall)?;
        let plane = span.plane;
        let words = &span.words;
        let (covered_lo, covered_hi) = span.covered;
        let mut emit = Emitter {
            out,
            pos: 0,
            shift: u32::try_from(span.start % 64).unwrap_or(0),
            pending: None,
        };
        let n = span.summary.len();
        for (j, sword) in span.summary.iter().enumerate() {
            let index = span.summary_first.saturating_add(j);
            let mut in_span = u64::MAX;
            if j == 0 {
                in_span &= span.summary_masks.0;
            }
            if j.checked_add(1) == Some(n) {
                in_span &= span.summary_masks.1;
            }
            // The plane words this summary word covers, within the span.
            let base = index.saturating_mul(SUMMARY_WORDS);
            let lo = words.first.max(base);
            let hi = words.last.min(base.saturating_add(SUMMARY_WORDS - 1));
            let seen = sword.load(ORDER) & in_span;
            if seen == 0 {
                emit.zeros(hi.saturating_sub(lo).saturating_add(1));
                continue;
            }
            let covered = in_span & range_mask(covered_lo, covered_hi, index);
            let dirty = if clear && seen & covered != 0 {
                // Before the words are read: see the module comment.
                let old = sword.fetch_and(!covered, ORDER);
                (old & covered) | (seen & !covered)
            } else {
                seen
            };
            let next = plane.scan_blocks(lo, hi, dirty, words, clear, &mut emit);
            plane.scan(next, hi, dirty, words, clear, &mut emit);
        }
        emit.finish();
        Ok(())
    }

    /// The fast path of [`Self::scan`]: without a shift, emits the whole
    /// blocks of whole-mask words from `lo` on (if `lo` starts a block) and
    /// returns the first word it did not emit.
    fn scan_blocks(
        &self,
        lo: usize,
        hi: usize,
        dirty: u64,
        span: &WordSpan,
        clear: bool,
        emit: &mut Emitter,
    ) -> usize {
        if emit.shift != 0 || !lo.is_multiple_of(BLOCK_WORDS) {
            return lo;
        }
        // Up to `hi`, and short of the span's last word if that one is partial.
        let end = if span.last_mask == u64::MAX {
            hi.saturating_add(1)
        } else {
            hi.saturating_add(1).min(span.last)
        };
        let n = end.saturating_sub(lo) & !(BLOCK_WORDS - 1);
        let (Some(words), Some(dst)) = (
            self.words.get(lo..lo.saturating_add(n)),
            emit.next_bytes(n.saturating_mul(8)),
        ) else {
            return lo;
        };
        let first_block = lo >> BLOCK_SHIFT;
        let blocks = words.chunks_exact(BLOCK_WORDS);
        let outs = dst.chunks_exact_mut(8 * BLOCK_WORDS);
        for (k, (block, out)) in blocks.zip(outs).enumerate() {
            let (chunks, _) = out.as_chunks_mut::<8>();
            if dirty >> (first_block.wrapping_add(k) & 63) & 1 == 0 {
                chunks.fill([MaybeUninit::new(0); 8]);
                continue;
            }
            for (word, chunk) in block.iter().zip(chunks) {
                *chunk = take(word, u64::MAX, clear)
                    .to_le_bytes()
                    .map(MaybeUninit::new);
            }
        }
        lo.saturating_add(n)
    }

    /// Emits plane words `[lo, hi]` (all under one summary word), reading the
    /// words of the blocks whose bit is set in `dirty` and emitting zeros for
    /// the others.
    fn scan(
        &self,
        lo: usize,
        hi: usize,
        dirty: u64,
        span: &WordSpan,
        clear: bool,
        emit: &mut Emitter,
    ) {
        let mut index = lo;
        while index <= hi {
            let block_end = hi.min(index | (BLOCK_WORDS - 1));
            let n = block_end.saturating_sub(index).saturating_add(1);
            let bit = (index >> BLOCK_SHIFT) & 63;
            let words = self.words.get(index..=block_end).unwrap_or_default();
            let full_masks = block_end != span.last || span.last_mask == u64::MAX;
            if dirty >> bit & 1 == 0 || words.len() != n {
                emit.zeros(n);
            } else if let (Ok(block), true) =
                (<&[AtomicU64; BLOCK_WORDS]>::try_from(words), full_masks)
                && let Some(dst) = emit.next_block()
            {
                // The common case, kept tight: a whole block of whole words.
                let (chunks, _) = dst.as_chunks_mut::<8>();
                for (word, chunk) in block.iter().zip(chunks) {
                    *chunk = take(word, u64::MAX, clear)
                        .to_le_bytes()
                        .map(MaybeUninit::new);
                }
            } else {
                for (k, word) in words.iter().enumerate() {
                    emit.push(take(word, span.mask(index.saturating_add(k)), clear));
                }
            }
            let Some(next) = block_end.checked_add(1) else {
                return;
            };
            index = next;
        }
    }
}

/// Reads the bits of `mask` in `word`, clearing them when `clear`. A word
/// whose masked bits read zero is not written at all.
#[inline]
fn take(word: &AtomicU64, mask: u64, clear: bool) -> u64 {
    let seen = word.load(ORDER) & mask;
    if seen == 0 || !clear {
        return seen;
    }
    let old = if mask == u64::MAX {
        word.swap(0, ORDER)
    } else {
        word.fetch_and(!mask, ORDER)
    };
    old & mask
}

/// Writes a harvest's output: span bit `n` to bit `n % 8` of byte `n / 8`, from
/// the plane words in order, shifted down by the span's offset in its first
/// word. Never writes past `out`.
struct Emitter<'a> {
    out: &'a mut [MaybeUninit<u8>],
    /// Bytes written so far (`<= out.len()`).
    pos: usize,
    /// `start % 64`.
    shift: u32,
    /// With a shift: the previous word's bits not yet written.
    pending: Option<u64>,
}

impl Emitter<'_> {
    /// The next plane word.
    #[inline]
    fn push(&mut self, bits: u64) {
        if self.shift == 0 {
            self.write(bits);
            return;
        }
        if let Some(pending) = self.pending {
            // The low `shift` bits of this word complete the previous output word.
            // PANIC: `shift` is in 1..=63 on this branch, so `64 - shift` is in 1..=63.
            #[allow(clippy::arithmetic_side_effects)]
            let high = bits << (64 - self.shift);
            self.write(pending | high);
        }
        self.pending = Some(bits >> self.shift);
    }

    /// `n` plane words that are all zero.
    #[inline]
    fn zeros(&mut self, n: usize) {
        if self.shift == 0
            && n == BLOCK_WORDS
            && let Some(dst) = self.next_block()
        {
            *dst = [MaybeUninit::new(0); 8 * BLOCK_WORDS];
            return;
        }
        let Some(rest) = n.checked_sub(1) else {
            return;
        };
        self.push(0);
        // Nothing is pending now: each further zero word is one zero output word.
        let end = self
            .pos
            .saturating_add(rest.saturating_mul(8))
            .min(self.out.len());
        if let Some(dst) = self.out.get_mut(self.pos..end) {
            dst.fill(MaybeUninit::new(0));
            self.pos = end;
        }
    }

    /// Without a shift, the next `n` output bytes, if the output has them all
    /// (the caller writes them all).
    #[inline]
    fn next_bytes(&mut self, n: usize) -> Option<&mut [MaybeUninit<u8>]> {
        if self.shift != 0 {
            return None;
        }
        let end = self.pos.checked_add(n)?;
        let dst = self.out.get_mut(self.pos..end)?;
        self.pos = end;
        Some(dst)
    }

    /// Without a shift, the output bytes of the next [`BLOCK_WORDS`] plane
    /// words, if the output has all of them (the caller writes them all).
    #[inline]
    fn next_block(&mut self) -> Option<&mut [MaybeUninit<u8>; 8 * BLOCK_WORDS]> {
        if self.shift != 0 {
            return None;
        }
        let end = self.pos.checked_add(8 * BLOCK_WORDS)?;
        let dst = self.out.get_mut(self.pos..end)?;
        let dst = <&mut [MaybeUninit<u8>; 8 * BLOCK_WORDS]>::try_from(dst).ok()?;
        self.pos = end;
        Some(dst)
    }

    /// After the last plane word: the last output word, if it has bytes left.
    fn finish(mut self) {
        if let Some(pending) = self.pending.take() {
            self.write(pending);
        }
    }

    /// One output word, little-endian, into as many of the next 8 bytes as `out` has.
    #[inline]
    fn write(&mut self, bits: u64) {
        let bytes = bits.to_le_bytes().map(MaybeUninit::new);
        let end = self.pos.saturating_add(8);
        // A whole word is one 8-byte store: a clearing RMW waits for every
        // store before it to drain, so fewer, wider stores matter.
        if let Some(dst) = self
            .out
            .get_mut(self.pos..end)
            .and_then(|dst| <&mut [MaybeUninit<u8>; 8]>::try_from(dst).ok())
        {
            *dst = bytes;
            self.pos = end;
        } else if let Some(dst) = self.out.get_mut(self.pos..) {
            let n = dst.len();
            for (d, s) in dst.iter_mut().zip(bytes) {
                *d = s;
            }
            self.pos = self.pos.saturating_add(n);
        }
    }
}

#[cfg(all(test, not(loom)))]
#[path = "test_bitplane.rs"]
mod tests;
