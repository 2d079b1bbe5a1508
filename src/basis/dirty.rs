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
//!   `swap(0)` (one RMW per 32768 pages); under a summary word that was not
//!   zero, each word with a plain load into the caller's buffer, then a plain
//!   store of zero over it. The 32768 pages of a summary word that was zero
//!   are written to the caller as zeros in bulk, without reading their words.
//!
//! # Why no write is lost (the grace period is the mark's second look)
//! Every access to the epoch, the words and the summary words is `SeqCst`
//! except the harvest's zeroing stores. Take a mark `M` (word RMW), its
//! summary access `S` and its second epoch load `E`, and a harvest's epoch
//! store `F`, its later `swap(0)` of the same summary word (`X`) and load of
//! the word (`R`). They form the store-buffering shape: in the single total
//! order of `SeqCst` operations, either `E` precedes `F` — then `M` and `S`
//! precede `X` and `R`, the harvest takes the summary bit, reads the word and
//! reports the bit (when `S` found the summary bit already set by another
//! mark's RMW `Y` and wrote nothing, `X` is an RMW and reads the latest value:
//! it takes `Y`'s bit, or `Y` follows `X` and, as `S` read `Y`, so does `E`:
//! the other case) — or `F` precedes `E`, and then `E` reads an epoch other than `g` (the
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
//! set by such a late mark (after the zeroing); the next drain scrubs the
//! retired plane before its flip makes it active again (summary words, then
//! the marked blocks' words), so the bit is not reported a second time, long
//! after its data, unless that mark was still running during the scrub (a
//! repeat report is allowed: its data was written). The scrub loses nothing:
//! any mark that set a bit in that plane after its drain read an older
//! epoch, so it sets the bit again in a later plane before it completes. The
//! KVM-style `tests/dirty_log.rs`, whose writers finish each mark before the
//! harvest after next, sees no page reported with data older than the
//! previous round.
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
        // On Windows the lock's ERESOURCE is allocated here, so a query
        // never makes it (nor retries a failed allocation) on first use.
        #[cfg(not(loom))]
        let queries = RwLock::try_new(())?;
        #[cfg(loom)]
        let queries = RwLock::new(());
        Ok(Self {
            planes: [Bitplane::new(bits)?, Bitplane::new(bits)?],
            epoch: new_seq_cst_u64(0),
            queries,
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
            // The other plane was drained two flips ago; a mark that set a
            // bit in it after that drain set it again in this plane too, so
            // the leftover would be reported again, long after its data was
            // written: clear leftovers before the plane takes marks again.
            scrub(self.plane(epoch.wrapping_add(1)));
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
/// with plain loads and stores: one `swap(0)` per summary word, no RMW per
/// word. Only after the flip (see the module documentation).
///
/// A summary word that was zero reports its 32768 pages clean with one bulk
/// fill of the output. Under a summary word with at least [`DENSE`] of its 64
/// blocks dirty, every word is read, written out and zeroed, dirty or not: a
/// straight copy with no branch per word or block (a branch on dirty words
/// mispredicts on about every other word at 1 % density, which cost more than
/// the stores it saved). Under a sparser one the output is filled with zeros
/// and only the dirty blocks are drained, found by walking the set bits (no
/// branch per clean block; their words, often not in cache, are not read).
/// Zeroing a word that read zero is as safe as zeroing one that read bits,
/// and skipping a block whose summary bit was clear is safe too: a mark whose
/// bit the drain missed or wiped sets it again (module documentation).
pub(super) fn drain(plane: &Bitplane, out: &mut [MaybeUninit<u8>]) {
    let (words, summary) = plane.parts();
    let groups = words.chunks(SUMMARY_WORDS);
    let outs = out.chunks_mut(8 * SUMMARY_WORDS);
    for ((sword, group), dst) in summary.iter().zip(groups).zip(outs) {
        let taken = sword.swap(0, ORDER);
        if taken.count_ones() >= DENSE {
            drain_words(group, dst);
            continue;
        }
        dst.fill(MaybeUninit::new(0));
        for (first, words) in marked_blocks(group, taken) {
            let out = dst.get_mut(first.saturating_mul(8)..).unwrap_or_default();
            let len = out.len().min(8 * BLOCK_WORDS);
            drain_words(words, out.get_mut(..len).unwrap_or_default());
        }
    }
}

/// The blocks of a summary word's `group` whose bits are set in `taken`:
/// each block's first word index in the group and its words (the plane's
/// last block may be short).
fn marked_blocks(group: &[AtomicU64], taken: u64) -> impl Iterator<Item = (usize, &[AtomicU64])> {
    let mut rest = taken;
    core::iter::from_fn(move || {
        if rest == 0 {
            return None;
        }
        let block = usize::try_from(rest.trailing_zeros()).unwrap_or(0);
        rest &= rest.wrapping_sub(1);
        let first = block.saturating_mul(BLOCK_WORDS);
        let words = group.get(first..).unwrap_or_default();
        Some((first, words.get(..BLOCK_WORDS).unwrap_or(words)))
    })
}

/// Zeroes the bits a late mark left in the retired `plane` (see
/// [`DirtyBits::harvest`]): one `swap(0)` per summary word and, under a
/// summary word that was not zero, the words of its marked blocks. Only
/// before the flip that makes `plane` active again: every mark that set a
/// bit in it meanwhile read an older epoch, so it sets the bit again in a
/// later plane before it completes (module documentation); none is lost.
fn scrub(plane: &Bitplane) {
    let (words, summary) = plane.parts();
    for (sword, group) in summary.iter().zip(words.chunks(SUMMARY_WORDS)) {
        for (_, words) in marked_blocks(group, sword.swap(0, ORDER)) {
            words.iter().for_each(zero);
        }
    }
}

/// Dirty blocks (of 64) from which a summary word's group is drained whole.
const DENSE: u32 = 32;

/// Reads, writes out and zeroes `group`'s words (into `dst`), eight
/// at a time (the loads first, then the zeroing stores, then one 64-byte
/// write out), so that loads never wait behind stores to the same offsets.
#[inline]
fn drain_words(group: &[AtomicU64], dst: &mut [MaybeUninit<u8>]) {
    let (blocks, _) = group.as_chunks::<8>();
    let (outs, _) = dst.as_chunks_mut::<64>();
    // Whole blocks with a whole 64 bytes out (all but maybe the plane's last).
    let whole = blocks.len().min(outs.len());
    for (block, out) in blocks.iter().zip(outs.iter_mut()) {
        let bits = block.each_ref().map(|word| word.load(ORDER));
        block.iter().for_each(zero);
        let (chunks, _) = out.as_chunks_mut::<8>();
        for (chunk, bits) in chunks.iter_mut().zip(bits) {
            *chunk = bits.to_le_bytes().map(MaybeUninit::new);
        }
    }
    // The plane's last block, and its last word's bytes, when cut short.
    let words = group.get(whole.saturating_mul(8)..).unwrap_or_default();
    let out_tail = dst.get_mut(whole.saturating_mul(64)..).unwrap_or_default();
    for (word, chunk) in words.iter().zip(out_tail.chunks_mut(8)) {
        let bytes = take_plain(word).to_le_bytes();
        for (d, s) in chunk.iter_mut().zip(bytes) {
            *d = MaybeUninit::new(s);
        }
    }
}

/// A word's bits, read with a plain (`SeqCst`, on x86-64 a plain move) load,
/// then zeroed with a plain store.
#[inline]
fn take_plain(word: &AtomicU64) -> u64 {
    let bits = word.load(ORDER);
    zero(word);
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Test buffers start initialised, so every byte is.
    fn query(bits: &DirtyBits, start: u64, count: u64, clear: bool) -> Vec<u8> {
        let span = bits.span(start, count).unwrap();
        let mut out = vec![MaybeUninit::new(0xAAu8); span.bytes() + 2];
        bits.harvest(&span, &mut out, clear).unwrap();
        // Nothing past the span's bytes is written.
        // SAFETY: every byte was initialised with `MaybeUninit::new`.
        let out: Vec<u8> = out.iter().map(|b| unsafe { b.assume_init() }).collect();
        assert_eq!(&out[span.bytes()..], &[0xAA, 0xAA]);
        out[..span.bytes()].to_vec()
    }

    fn set_bits(bytes: &[u8]) -> Vec<usize> {
        (0..bytes.len() * 8)
            .filter(|n| bytes[n / 8] >> (n % 8) & 1 == 1)
            .collect()
    }

    #[test]
    fn drains_flip_planes_and_other_queries_read_the_active_one() {
        // Two summary words and a partial last block and word.
        let total = 2 * 64 * 512 + 700 + 13;
        let bits = DirtyBits::new(total).unwrap();
        for page in [0, 5, 511, 512, 40_000, total - 1] {
            bits.set(page, 1);
        }
        bits.set(100, 70);
        let expected: Vec<usize> = [0, 5]
            .into_iter()
            .chain(100..170)
            .chain([511, 512, 40_000, total as usize - 1])
            .collect();
        // Without CLEARDATA nothing is cleared; a sub-range clears only its span.
        assert_eq!(set_bits(&query(&bits, 0, total, false)), expected);
        assert_eq!(
            set_bits(&query(&bits, 100, 10, true)),
            (0..10).collect::<Vec<_>>()
        );
        let rest: Vec<usize> = expected
            .iter()
            .copied()
            .filter(|n| !(100..110).contains(n))
            .collect();
        assert_eq!(set_bits(&query(&bits, 0, total, false)), rest);
        // The drain reports everything left and leaves both planes clear.
        assert_eq!(set_bits(&query(&bits, 0, total, true)), rest);
        assert_eq!(bits.epoch.load(ORDER), 1);
        assert!(set_bits(&query(&bits, 0, total, true)).is_empty());
        assert_eq!(bits.epoch.load(ORDER), 2);
        for plane in &bits.planes {
            let (words, summary) = plane.parts();
            assert!(words.iter().chain(summary).all(|w| w.load(ORDER) == 0));
        }
        // Marks after a flip go to the new active plane and are reported once.
        bits.set(7, 3);
        assert_eq!(set_bits(&query(&bits, 0, total, false)), vec![7, 8, 9]);
        assert_eq!(set_bits(&query(&bits, 0, total, true)), vec![7, 8, 9]);
        assert!(set_bits(&query(&bits, 0, total, true)).is_empty());
    }

    #[test]
    fn drains_of_every_odd_size_report_every_bit_once() {
        for total in [1, 63, 64, 65, 8 * 64 - 10, 8 * 64, 8 * 64 + 1, 64 * 512 + 3] {
            let bits = DirtyBits::new(total).unwrap();
            bits.set(0, total);
            let all: Vec<usize> = (0..total as usize).collect();
            assert_eq!(set_bits(&query(&bits, 0, total, true)), all, "{total}");
            assert!(set_bits(&query(&bits, 0, total, true)).is_empty());
            bits.set(total - 1, 1);
            assert_eq!(
                set_bits(&query(&bits, 0, total, true)),
                vec![total as usize - 1]
            );
            assert!(set_bits(&query(&bits, 0, total, false)).is_empty());
        }
    }

    #[test]
    fn a_short_buffer_reads_and_clears_nothing() {
        let bits = DirtyBits::new(200).unwrap();
        bits.set(3, 1);
        let span = bits.span(0, 200).unwrap();
        let mut short = vec![MaybeUninit::new(0u8); span.bytes() - 1];
        assert_eq!(
            bits.harvest(&span, &mut short, true),
            Err(Status::BufferTooSmall)
        );
        assert_eq!(bits.epoch.load(ORDER), 0, "no flip");
        assert_eq!(set_bits(&query(&bits, 0, 200, true)), vec![3]);
    }
}
