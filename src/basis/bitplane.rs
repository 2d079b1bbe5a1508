//! A bitplane: one dirty bit per tracked page, in `AtomicU64` words grouped
//! in blocks of [`BLOCK_WORDS`] (512 pages, one 64-byte line), with a tag per
//! block, a late copy of the words and two summaries (one bit per block).
//!
//! Bit `n` of the plane is bit `n % 64` of word `n / 64`; block `b` is words
//! `8 b .. 8 b + 8`, and its bit in a summary is bit `b % 64` of summary word
//! `b / 64`.
//!
//! # Activations and claims: a plane nobody zeroes in bulk
//! Marks go to a plane during an **activation**, a number (`epoch`, the
//! double-buffered basis's flip count, `super::dirty`; a lone plane's is 0)
//! that no other activation of the plane shares. A block's words hold bits of
//! the current activation only once a mark has **claimed** the block in it:
//! - A mark loads the block's tag. If it reads `live(epoch)` it sets its bits
//!   in the words with `fetch_or` and is done (one load and one RMW, as many
//!   memory lines as the previous protocol's RMW and summary load).
//! - Otherwise the block is stale (its words hold bits of an older activation
//!   that a drain already reported, or nothing). The mark claims it: a
//!   compare-exchange of the tag from what it read to `claiming(epoch)`,
//!   then it zeroes the block's 8 words, sets the block's **claimed** summary
//!   bit, and stores `live(epoch)`; then it sets its bits as above. The
//!   zeroing is on the line the mark writes anyway (the cost of a clear
//!   moves into the first mark of a block, and off the query path).
//! - A mark that finds `claiming(epoch)` (another mark is zeroing the block)
//!   must neither wait (marks never block) nor touch the words (the zeroing
//!   could wipe its bit): it sets its bits in the block's **late** words,
//!   then the block's late summary bit, then its claimed summary bit.
//! - A failed compare-exchange means the tag changed, which happens at most
//!   twice per block and activation (to `claiming`, to `live`): a claim loop
//!   runs at most three times.
//!
//! Why no bit is lost: the claimer's zero stores come before its release
//! store of `live(epoch)`, and a mark touches the words only after an
//! acquire load of that value, so every zero store happens before every
//! mark's RMW on the words in the activation (a tag never goes back from
//! `live(epoch)` within it). A mark that read `claiming(epoch)` writes only
//! the late words, which nothing zeroes during the activation. Tags only
//! change through claims of the current activation: a plane's next
//! activation begins after the drain of this one (`super::dirty`), when no
//! mark of this one is left.
//!
//! # Reading a plane
//! The claimed summary holds a bit for every block claimed in the activation
//! (set by the claimer before it publishes `live`, and by every late mark),
//! and nothing but a drain clears it. So a query reads, per summary word:
//! the claimed bits; then the tag of each claimed block (its words count
//! only if it reads `live(epoch)`: a block still being claimed holds no bit
//! of the activation in its words); then the late summary; then the words
//! of live blocks and the late words of late blocks, with plain loads,
//! taking non-zero words with `swap(0)` (or `fetch_and` of the complement
//! when only part of the word belongs to the queried span) when it clears.
//! A whole-basis clearing query does not use this per-word protocol: it
//! retires the plane and drains it (`super::dirty`), copying the live
//! blocks and zeroing only the summaries and the rare late blocks.
//!
//! Why a query sees every mark that completed before it began: all accesses
//! here but the claimer's zero stores are `SeqCst`, so they lie in one total
//! order. A completed mark on a live block read `live(epoch)` after the
//! claimer set the claimed bit, and did its RMW after that: the query's
//! later loads of the summary, the tag and the word see all three. A
//! completed late mark set the late word, then the late and claimed summary
//! bits: the query's later loads see them. A word's bits are cleared only by
//! an atomic read-modify-write that also returns them to the caller's buffer.
//! On x86-64 `SeqCst` costs nothing over `Acquire`/`AcqRel` here: loads are
//! plain moves and RMWs are locked anyway (the tag's `live` store is one
//! `xchg`, once per block and activation).
//!
//! Why marks are always RMWs on the words (never "skip if already set"): the
//! mark's RMW pairs with the harvest's load or RMW, so a harvester that
//! reports a page also sees the data written before the mark. A writer that
//! skipped its RMW because the bit looked set would have no such edge: the
//! harvester could clear that older bit, copy the page without the new data,
//! and the new data would never be sent. The summaries carry no such edge
//! (they only say where to look), so their RMWs may be skipped when the bit
//! already reads set.

use core::mem::MaybeUninit;

use alloc::vec::Vec;

use super::emit::Emitter;
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
/// Every access to the words, tags and summaries but a claimer's zero
/// stores (see the module comment).
pub(crate) const ORDER: Ordering = Ordering::SeqCst;

/// Tag bit: the block's words hold the bits of the activation in the tag's
/// low 62 bits.
const LIVE: u64 = 1 << 63;
/// Tag bit, with [`LIVE`]: a mark of that activation is zeroing the words.
const CLAIMING: u64 = 1 << 62;

/// The tag of a block claimed in activation `epoch` (activations are
/// compared modulo 2^62: a basis would need 2^62 drains to wrap).
#[inline]
fn live(epoch: u64) -> u64 {
    epoch & !(LIVE | CLAIMING) | LIVE
}

/// The tag of a block being claimed in activation `epoch`.
#[inline]
fn claiming(epoch: u64) -> u64 {
    live(epoch) | CLAIMING
}

/// Where a mark of a block sets its bits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The words: the block is live in the mark's activation.
    Words,
    /// The late words: another mark is claiming the block.
    Late,
}

/// The dirty bits of one memory basis.
///
/// # Invariants
/// `words` and `late` hold `ceil(bits / 64)` words, `tags` one per
/// [`BLOCK_WORDS`] of them, `claimed` and `late_summary` one bit per block;
/// bits at or past `bits` are never set.
pub(crate) struct Bitplane {
    words: Vec<AtomicU64>,
    tags: Vec<AtomicU64>,
    late: Vec<AtomicU64>,
    claimed: Vec<AtomicU64>,
    late_summary: Vec<AtomicU64>,
    bits: u64,
}

/// A plane's arrays, for the drain of a retired plane (`super::dirty`).
pub(crate) struct Parts<'a> {
    pub(crate) words: &'a [AtomicU64],
    pub(crate) late: &'a [AtomicU64],
    pub(crate) claimed: &'a [AtomicU64],
    pub(crate) late_summary: &'a [AtomicU64],
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
/// claimed-summary words of the blocks the span touches, the first of them
/// summary word `summary_first`, with `summary_masks` the bits of those
/// blocks in the first and last of them; `bytes == ceil(count / 8)`.
pub(crate) struct QuerySpan<'a> {
    plane: &'a Bitplane,
    start: u64,
    bytes: usize,
    words: WordSpan,
    summary: &'a [AtomicU64],
    summary_first: usize,
    summary_masks: (u64, u64),
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
            .claimed
            .get(first..first.checked_add(self.summary.len())?)?;
        Some(QuerySpan {
            plane: other,
            start: self.start,
            bytes: self.bytes,
            words: self.words,
            summary,
            summary_first: first,
            summary_masks: self.summary_masks,
            whole: self.whole,
        })
    }
}

/// The positions of `mask`'s set bits, lowest first.
pub(crate) fn set_bits(mask: u64) -> impl Iterator<Item = usize> {
    let mut rest = mask;
    core::iter::from_fn(move || {
        let bit = usize::try_from(rest.trailing_zeros())
            .ok()
            .filter(|b| *b < 64)?;
        rest &= rest.wrapping_sub(1);
        Some(bit)
    })
}

/// Sets bit `block % 64` of summary word `block / 64` of `summary` (checked
/// first: no RMW when set).
#[inline]
fn mark_bit(summary: &[AtomicU64], block: usize) {
    let mask = 1u64 << (block % 64);
    if let Some(word) = summary.get(block / 64)
        && word.load(ORDER) & mask == 0
    {
        word.fetch_or(mask, ORDER);
    }
}

impl Bitplane {
    /// An all-clear plane of `bits` bits (every block stale: no activation
    /// has claimed it).
    ///
    /// # Errors
    /// `NoMemory` if the words cannot be allocated (nothing is allocated then).
    pub(crate) fn new(bits: u64) -> Result<Self> {
        let words = usize::try_from(bits.div_ceil(64)).map_err(|_| Status::NoMemory)?;
        let blocks = words.div_ceil(BLOCK_WORDS);
        let summary = words.div_ceil(SUMMARY_WORDS);
        Ok(Self {
            words: zeroed(words)?,
            tags: zeroed(blocks)?,
            late: zeroed(words)?,
            claimed: zeroed(summary)?,
            late_summary: zeroed(summary)?,
            bits,
        })
    }

    /// Number of bits (tracked pages).
    pub(crate) fn bits(&self) -> u64 {
        self.bits
    }

    /// The arrays, for the double-buffered drain (`super::dirty`).
    pub(crate) fn parts(&self) -> Parts<'_> {
        Parts {
            words: &self.words,
            late: &self.late,
            claimed: &self.claimed,
            late_summary: &self.late_summary,
        }
    }

    /// Sets bits `[start, start + count)` in activation `epoch` (a mark);
    /// out-of-plane bits are ignored (callers only pass spans they computed
    /// inside the plane). Never waits: at most one claim of each block.
    #[inline(always)]
    pub(crate) fn set(&self, start: u64, count: u64, epoch: u64) {
        if count == 1 && start < self.bits {
            // One bit (every single-page mark), kept inline: the tag load
            // and one RMW when the block is live.
            let word = usize::try_from(start / 64).unwrap_or(usize::MAX);
            let block = word >> BLOCK_SHIFT;
            let place = self.place(block, epoch);
            if let Some(w) = self.target(place).get(word) {
                w.fetch_or(1 << (start % 64), ORDER);
            }
            if place == Place::Late {
                self.mark_late(block);
            }
            return;
        }
        self.set_span(start, count, epoch);
    }

    /// [`Self::set`] of any span, block by block.
    fn set_span(&self, start: u64, count: u64, epoch: u64) {
        let count = count.min(self.bits.saturating_sub(start));
        let end = start.saturating_add(count);
        let mut at = start;
        while at < end {
            let to = (at | (BLOCK_BITS - 1)).saturating_add(1).min(end);
            let block = usize::try_from(at / BLOCK_BITS).unwrap_or(usize::MAX);
            let place = self.place(block, epoch);
            each_masked(
                self.target(place),
                at,
                to.saturating_sub(at),
                |word, mask| {
                    word.fetch_or(mask, ORDER);
                },
            );
            if place == Place::Late {
                self.mark_late(block);
            }
            at = to;
        }
    }

    /// The words a mark at `place` sets.
    #[inline(always)]
    fn target(&self, place: Place) -> &[AtomicU64] {
        match place {
            Place::Words => &self.words,
            Place::Late => &self.late,
        }
    }

    /// Where a mark of activation `epoch` sets its bits in block `block`,
    /// claiming the block first if it is stale.
    #[inline(always)]
    fn place(&self, block: usize, epoch: u64) -> Place {
        match self.tags.get(block) {
            Some(tag) if tag.load(ORDER) == live(epoch) => Place::Words,
            Some(tag) => self.claim(tag, block, epoch),
            // No such block: the caller finds no word either.
            None => Place::Words,
        }
    }

    /// The slow path of [`Self::place`] (module documentation): claims the
    /// block, or finds it live or being claimed by another mark.
    #[cold]
    #[inline(never)]
    fn claim(&self, tag: &AtomicU64, block: usize, epoch: u64) -> Place {
        let (live, claiming) = (live(epoch), claiming(epoch));
        let mut seen = tag.load(ORDER);
        loop {
            if seen == live {
                return Place::Words;
            }
            if seen == claiming {
                return Place::Late;
            }
            match tag.compare_exchange(seen, claiming, ORDER, ORDER) {
                Ok(_) => break,
                Err(now) => seen = now,
            }
        }
        let first = block.saturating_mul(BLOCK_WORDS);
        let last = first.saturating_add(BLOCK_WORDS).min(self.words.len());
        for word in self.words.get(first..last).unwrap_or_default() {
            // Ordered before the marks' RMWs by the `live` store below,
            // which they read before touching the words.
            word.store(0, Ordering::Relaxed);
        }
        mark_bit(&self.claimed, block);
        tag.store(live, ORDER);
        Place::Words
    }

    /// After a late mark's RMW: the block's late summary bit, then its
    /// claimed bit (a query that reads neither set began before the mark
    /// ended).
    fn mark_late(&self, block: usize) {
        mark_bit(&self.late_summary, block);
        mark_bit(&self.claimed, block);
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
        let (first_block, last_block) = (first >> BLOCK_SHIFT, last >> BLOCK_SHIFT);
        let block_lo = u64::try_from(first_block).map_err(|_| Status::InvalidParameter)?;
        let block_hi = u64::try_from(last_block).map_err(|_| Status::InvalidParameter)?;
        let blocks = block_hi.saturating_sub(block_lo).saturating_add(1);
        let (s_first, s_last, s_first_mask, s_last_mask) =
            word_span(block_lo, blocks).ok_or(Status::InvalidParameter)?;
        let summary = self
            .claimed
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
            whole: start == 0 && end == self.bits,
        })
    }

    /// Copies the bits of `span` set in activation `epoch` into `out`, LSB
    /// first (span bit `n` is bit `n % 8` of byte `n / 8`), clearing them
    /// when `clear`. Writes exactly [`QuerySpan::bytes`] bytes (span bits
    /// past its end in the last byte are 0) and nothing else. No allocation.
    ///
    /// # Errors
    /// `BufferTooSmall` if `out` is shorter than [`QuerySpan::bytes`]; nothing
    /// is read, cleared or written then.
    pub(crate) fn harvest(
        span: &QuerySpan<'_>,
        out: &mut [MaybeUninit<u8>],
        clear: bool,
        epoch: u64,
    ) -> Result<()> {
        let out = out.get_mut(..span.bytes).ok_or(Status::BufferTooSmall)?;
        let plane = span.plane;
        let words = &span.words;
        let mut emit = Emitter::new(out, u32::try_from(span.start % 64).unwrap_or(0));
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
            // The claimed bits, then the tags, then the late bits: the
            // order of the module documentation.
            let claimed = sword.load(ORDER) & in_span;
            if claimed == 0 {
                emit.zeros(hi.saturating_sub(lo).saturating_add(1));
                continue;
            }
            let blocks = Blocks {
                live: plane.live_blocks(index, claimed, epoch),
                late: plane
                    .late_summary
                    .get(index)
                    .map_or(0, |w| w.load(ORDER) & claimed),
            };
            let next = plane.scan_blocks(lo, hi, blocks, words, clear, &mut emit);
            plane.scan(next, hi, blocks, words, clear, &mut emit);
        }
        emit.finish();
        Ok(())
    }

    /// The blocks of `claimed` (bits of summary word `index`) whose tags
    /// read `live(epoch)`.
    fn live_blocks(&self, index: usize, claimed: u64, epoch: u64) -> u64 {
        let first = index.saturating_mul(64);
        let tag = live(epoch);
        let mut blocks = 0;
        for bit in set_bits(claimed) {
            let block = first.saturating_add(bit);
            if self.tags.get(block).is_some_and(|t| t.load(ORDER) == tag) {
                blocks |= 1 << bit;
            }
        }
        blocks
    }

    /// Reads the bits of `mask` in word `index` (its live bits if `live`,
    /// its late bits if `late`), clearing them when `clear`.
    #[inline]
    fn take_word(&self, index: usize, mask: u64, clear: bool, live: bool, late: bool) -> u64 {
        let mut bits = 0;
        if live && let Some(word) = self.words.get(index) {
            bits |= take(word, mask, clear);
        }
        if late && let Some(word) = self.late.get(index) {
            bits |= take(word, mask, clear);
        }
        bits
    }

    /// The fast path of [`Self::scan`]: without a shift, emits the whole
    /// blocks of whole-mask words from `lo` on (if `lo` starts a block) and
    /// returns the first word it did not emit.
    fn scan_blocks(
        &self,
        lo: usize,
        hi: usize,
        blocks: Blocks,
        span: &WordSpan,
        clear: bool,
        emit: &mut Emitter,
    ) -> usize {
        if emit.shifted() || !lo.is_multiple_of(BLOCK_WORDS) {
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
        let blocks_of = words.chunks_exact(BLOCK_WORDS);
        let outs = dst.chunks_exact_mut(8 * BLOCK_WORDS);
        for (k, (block, out)) in blocks_of.zip(outs).enumerate() {
            let (chunks, _) = out.as_chunks_mut::<8>();
            let (live, late) = blocks.of(first_block.wrapping_add(k));
            if !live && !late {
                chunks.fill([MaybeUninit::new(0); 8]);
            } else if !late {
                for (word, chunk) in block.iter().zip(chunks) {
                    *chunk = take(word, u64::MAX, clear)
                        .to_le_bytes()
                        .map(MaybeUninit::new);
                }
            } else {
                let at = lo.saturating_add(k.saturating_mul(BLOCK_WORDS));
                for (i, chunk) in chunks.iter_mut().enumerate() {
                    let bits = self.take_word(at.saturating_add(i), u64::MAX, clear, live, late);
                    *chunk = bits.to_le_bytes().map(MaybeUninit::new);
                }
            }
        }
        lo.saturating_add(n)
    }

    /// Emits plane words `[lo, hi]` (all under one summary word): the bits
    /// of live and late blocks (`blocks`), zeros for the others.
    fn scan(
        &self,
        lo: usize,
        hi: usize,
        blocks: Blocks,
        span: &WordSpan,
        clear: bool,
        emit: &mut Emitter,
    ) {
        let mut index = lo;
        while index <= hi {
            let block_end = hi.min(index | (BLOCK_WORDS - 1));
            let n = block_end.saturating_sub(index).saturating_add(1);
            let (live, late) = blocks.of(index >> BLOCK_SHIFT);
            let words = self.words.get(index..=block_end).unwrap_or_default();
            let full_masks = block_end != span.last || span.last_mask == u64::MAX;
            if (!live && !late) || words.len() != n {
                emit.zeros(n);
            } else if let (Ok(block), true) = (
                <&[AtomicU64; BLOCK_WORDS]>::try_from(words),
                full_masks && !late,
            ) && let Some(dst) = emit.next_array::<{ 8 * BLOCK_WORDS }>()
            {
                // The common case, kept tight: a whole live block of whole words.
                let (chunks, _) = dst.as_chunks_mut::<8>();
                for (word, chunk) in block.iter().zip(chunks) {
                    *chunk = take(word, u64::MAX, clear)
                        .to_le_bytes()
                        .map(MaybeUninit::new);
                }
            } else {
                for k in 0..n {
                    let at = index.saturating_add(k);
                    emit.push(self.take_word(at, span.mask(at), clear, live, late));
                }
            }
            let Some(next) = block_end.checked_add(1) else {
                return;
            };
            index = next;
        }
    }
}

/// The blocks of one summary word a query reads: bit `b % 64` for block `b`.
#[derive(Clone, Copy)]
struct Blocks {
    /// Blocks whose words hold bits of the activation.
    live: u64,
    /// Blocks with late bits.
    late: u64,
}

impl Blocks {
    /// `(live, late)` of block `block`.
    #[inline]
    fn of(self, block: usize) -> (bool, bool) {
        let bit = block & 63;
        (self.live >> bit & 1 == 1, self.late >> bit & 1 == 1)
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

#[cfg(all(test, not(loom)))]
#[path = "test_bitplane.rs"]
mod tests;
