//! The dirty bits of one tracked basis: two [`Bitplane`]s and an epoch, so
//! that a whole-basis query with `CLEARDATA` reads and zeroes bits with plain
//! loads and stores, with no atomic read-modify-write per dirty word.
//!
//! # The protocol
//! `epoch` is a 64-bit counter; plane `epoch & 1` is the **active** one,
//! the one marks go to.
//! - A **mark** loads the epoch (`g`), sets its bits in plane `g & 1` (the
//!   plane's `fetch_or` of the word, then the summary bit: `bitplane`), then
//!   loads the epoch again. If it still reads `g`, the mark is done. If not,
//!   a harvest flipped the planes meanwhile and may have read and zeroed the
//!   retired plane around the bits just set: the mark sets them again in the
//!   plane of the epoch it now read, and checks again. The mark never waits
//!   for anyone: it repeats only after a flip, which a harvest makes at most
//!   once per query.
//! - A **whole-basis clearing harvest** (the drain) holds the basis's query
//!   lock, moves the epoch from `g` to `g + 1` (so marks go to the other
//!   plane), then reads the retired plane `g & 1`: each summary word with a
//!   load (and a `swap(0)` when it is not zero: one RMW per 32768 pages),
//!   each word of a block whose summary bit it took with a plain load into the
//!   caller's buffer, then a plain store of zero over each non-zero word it
//!   read. Blocks whose summary bit is clear are written to the caller as
//!   zeros in bulk, without reading their words.
//!
//! # Why no write is lost (the grace period is the mark's second look)
//! Every access to the epoch, the words and the summary words is `SeqCst`
//! except the harvest's zeroing stores. Take a mark `M` (word RMW), its
//! summary access `S` and its second epoch load `E`, and a harvest's epoch
//! store `F` and its later loads of the same summary word (`X`) and word (`R`).
//! They form the store-buffering shape: in the single total order of `SeqCst`
//! operations, either `E` precedes `F` — then `M` and `S` precede `X` and `R`,
//! the harvest sees the summary bit, reads the word and reports the bit —
//! or `F` precedes `E`, and then `E` reads an epoch other than `g` (the
//! epoch only grows: no ABA, unlike a one-bit plane index) and the mark sets
//! its bit again in the new active plane, which the next query reads. A bit
//! the harvest's zeroing store wipes (set between `R` and the zero) is one
//! whose `M` follows `R`, hence `F`: its mark sets it again. So a mark that
//! completed before the query began is reported by it, and one that races it
//! is reported by it or by the next one; a page can be reported twice (the
//! bit the harvest read and the one set again), never without its data: the
//! harvest's loads are `SeqCst` (acquire) and read the mark's RMW (release),
//! which follows the page's write.
//!
//! So this protocol has no grace period to wait out: the harvester never waits
//! for a marker, preempted or not, and a marker preempted across any number of
//! flips only sets its bits once more after it resumes. What would otherwise
//! be a grace period's guarantee (no mark still reaching the retired plane
//! unseen) is the mark's second epoch load. The retired plane may keep a bit
//! set by such a late mark (after the zeroing): that page is reported again by
//! the drain two flips later, which is allowed (its data was written).
//!
//! The model checks (`model_flip`) explore the flip, a mark preempted across
//! it, two flips back to the same plane, the sub-range path, and three broken
//! variants (no second look, a one-bit epoch, zeroing before the flip).
//!
//! # Every other query
//! Queries of one basis are serialised by its query lock (at PASSIVE_LEVEL;
//! held for one harvest, which is bounded by the plane's size and never waits
//! for a mark). A query without `CLEARDATA`, and a clearing query of a
//! sub-range (or of the whole basis taken in pieces), run the per-word
//! protocol of [`Bitplane::harvest`] on the active plane: plain loads,
//! `swap(0)` / `fetch_and` of the span's bits only, so exactly the span asked
//! is cleared. The active plane holds every bit a completed mark set (a mark
//! that landed in a retired plane set its bit again in the active one before
//! it completed), so reading it alone is exact.

use core::mem::MaybeUninit;

use super::bitplane::{BLOCK_WORDS, Bitplane, ORDER, QuerySpan, SUMMARY_WORDS};
use crate::foundation::status::{Result, Status};
use crate::kernel::sync::{AtomicU64, Ordering, RwLock, new_seq_cst_u64};

/// The dirty bits of one tracked basis (see the module documentation).
pub(crate) struct DirtyBits {
    planes: [Bitplane; 2],
    /// Plane `epoch & 1` is the one marks go to.
    epoch: AtomicU64,
    /// Serialises the queries of this basis (never taken by marks).
    queries: RwLock<()>,
}

impl DirtyBits {
    /// Two all-clear planes of `bits` bits.
    ///
    /// # Errors
    /// `NoMemory` (nothing stays allocated then).
    pub(crate) fn new(bits: u64) -> Result<Self> {
        Ok(Self {
            planes: [Bitplane::new(bits)?, Bitplane::new(bits)?],
            epoch: new_seq_cst_u64(0),
            queries: RwLock::new(()),
        })
    }

    /// Number of bits (tracked pages).
    pub(crate) fn bits(&self) -> u64 {
        self.plane(0).bits()
    }

    /// The plane marks of epoch `epoch` go to.
    fn plane(&self, epoch: u64) -> &Bitplane {
        let [even, odd] = &self.planes;
        if epoch & 1 == 0 { even } else { odd }
    }

    /// Sets bits `[start, start + count)` (a mark): see the module
    /// documentation for why it looks at the epoch twice.
    #[inline]
    pub(crate) fn set(&self, start: u64, count: u64) {
        let mut epoch = self.epoch.load(ORDER);
        loop {
            self.plane(epoch).set(start, count);
            loom_sc_fence();
            let now = self.epoch.load(ORDER);
            if now == epoch {
                return;
            }
            epoch = now;
        }
    }

    /// Checks bits `[start, start + count)`: the span a query reports.
    ///
    /// # Errors
    /// `InvalidParameter` for an empty span or one past the end.
    pub(crate) fn span(&self, start: u64, count: u64) -> Result<QuerySpan<'_>> {
        self.plane(0).span(start, count)
    }

    /// Writes the bits of `span` (from [`Self::span`] of this basis) into
    /// `out`, clearing them when `clear`: a whole-basis clearing query
    /// drains the active plane after a flip, any other runs the per-word
    /// protocol on the active plane. Writes exactly `span.bytes()` bytes.
    ///
    /// # Errors
    /// `BufferTooSmall` if `out` is shorter than the span's bytes (nothing
    /// is read, cleared or written then); `InvalidParameter` for a span of
    /// another basis's size.
    pub(crate) fn harvest(
        &self,
        span: &QuerySpan<'_>,
        out: &mut [MaybeUninit<u8>],
        clear: bool,
    ) -> Result<()> {
        let out = out.get_mut(..span.bytes()).ok_or(Status::BufferTooSmall)?;
        let _only_query = self.queries.write();
        // Only queries change the epoch, and they hold the lock.
        let epoch = self.epoch.load(ORDER);
        let active = self.plane(epoch);
        if clear && span.is_whole() && out.len() == whole_bytes(active) {
            // The flip: from here on marks go to the other plane.
            self.epoch.store(epoch.wrapping_add(1), ORDER);
            loom_sc_fence();
            drain(active, out);
            return Ok(());
        }
        let span = span.on(active).ok_or(Status::InvalidParameter)?;
        Bitplane::harvest(&span, out, clear)
    }
}

/// Under loom, a `SeqCst` fence; elsewhere nothing. The store-buffering
/// argument of the module documentation needs the epoch, word and summary
/// accesses to be in C11's single total order, which `SeqCst` accesses
/// already are (on x86-64: locked RMWs and `xchg` drain the store buffer; on
/// AArch64 `SeqCst` loads are `ldar`). Loom models `SeqCst` accesses as
/// acquire/release only (its documented limitation) but models `SeqCst`
/// fences fully, so under loom the fence stands in for what the accesses
/// already guarantee, at the same two places.
#[inline]
pub(super) fn loom_sc_fence() {
    #[cfg(loom)]
    loom::sync::atomic::fence(Ordering::SeqCst);
}

/// Bytes a harvest of all of `plane` writes.
fn whole_bytes(plane: &Bitplane) -> usize {
    usize::try_from(plane.bits().div_ceil(8)).unwrap_or(usize::MAX)
}

/// Reads every bit of the retired `plane` into `out` (`ceil(bits / 8)`
/// bytes, word `i` little-endian at byte `8 i`) and zeroes what it read,
/// with plain loads and stores: one `swap(0)` per non-zero summary word, no
/// RMW per word. Only after the flip (see the module documentation).
pub(super) fn drain(plane: &Bitplane, out: &mut [MaybeUninit<u8>]) {
    let (words, summary) = plane.parts();
    let groups = words.chunks(SUMMARY_WORDS);
    let outs = out.chunks_mut(8 * SUMMARY_WORDS);
    for ((sword, group), dst) in summary.iter().zip(groups).zip(outs) {
        // Always an RMW, never a load that skips on zero: a mark that found
        // its summary bit already set (by another mark) relies on the drain
        // reading the latest value of the summary word.
        let taken = sword.swap(0, ORDER);
        if taken == 0 {
            dst.fill(MaybeUninit::new(0));
            continue;
        }
        let blocks = group.chunks(BLOCK_WORDS);
        let block_outs = dst.chunks_mut(8 * BLOCK_WORDS);
        for (b, (block, dst)) in blocks.zip(block_outs).enumerate() {
            if taken >> (b & 63) & 1 == 0 {
                dst.fill(MaybeUninit::new(0));
            } else {
                drain_block(block, dst);
            }
        }
    }
}

/// Reads one block's words into `dst` and zeroes the non-zero ones.
#[inline]
fn drain_block(block: &[AtomicU64], dst: &mut [MaybeUninit<u8>]) {
    if let (Ok(block), Ok(dst)) = (
        <&[AtomicU64; BLOCK_WORDS]>::try_from(block),
        <&mut [MaybeUninit<u8>; 8 * BLOCK_WORDS]>::try_from(&mut *dst),
    ) {
        // The common case, kept tight: a whole block, a whole output block.
        let (chunks, _) = dst.as_chunks_mut::<8>();
        for (word, chunk) in block.iter().zip(chunks) {
            *chunk = take_plain(word).to_le_bytes().map(MaybeUninit::new);
        }
        return;
    }
    // The plane's last block: fewer words, and the last one maybe cut short.
    for (word, chunk) in block.iter().zip(dst.chunks_mut(8)) {
        let bytes = take_plain(word).to_le_bytes();
        for (d, s) in chunk.iter_mut().zip(bytes) {
            *d = MaybeUninit::new(s);
        }
    }
}

/// A word's bits, read with a plain (`SeqCst`, on x86-64 a plain move) load,
/// then zeroed with a plain store if any was set.
#[inline]
fn take_plain(word: &AtomicU64) -> u64 {
    let bits = word.load(ORDER);
    if bits != 0 {
        zero(word);
    }
    bits
}

/// A plain store of zero. Under loom an RMW instead: loom 0.7 breaks
/// write-write coherence for a plain store followed (in happens-before) by
/// another thread's RMW, which C11 forbids (`model_flip`'s
/// `loom_breaks_coherence_after_a_plain_store` shows it), and would report
/// writes lost that no C11 execution loses. The protocol's argument does
/// not use the store's being plain, only that it follows the word's load.
#[inline]
fn zero(word: &AtomicU64) {
    #[cfg(not(loom))]
    word.store(0, Ordering::Relaxed);
    #[cfg(loom)]
    word.swap(0, Ordering::Relaxed);
}
