//! The dirty bits of one tracked basis: two [`Bitplane`]s and an epoch, so
//! that a whole-basis query with `CLEARDATA` reads and zeroes a plane with
//! plain, vectorisable loads and stores: no atomic read-modify-write and no
//! atomic store per dirty word.
//!
//! # The protocol
//! `epoch` is a 64-bit counter; plane `epoch & 1` is the **active** one,
//! the one marks go to.
//! - A **mark** runs inside a read section of the driver's grace-period
//!   domain (`crate::kernel::grace`; the caller enters it, [`enter`], and
//!   passes the guard to [`DirtyBits::set`]): it loads the epoch and sets its
//!   bits in plane `epoch & 1` (the plane's `fetch_or` of each word, then the
//!   summary bit: `bitplane`). It loads the epoch once and never waits.
//! - A **whole-basis clearing query** (the drain), under the basis's query
//!   lock, stores `g + 1` into the epoch (the **flip**: marks now go to the
//!   other plane), then waits for a grace period (`synchronize`: every read
//!   section that began before it has ended), then owns the retired plane
//!   `g & 1` ([`Retired`]): it reads it and zeroes it with plain code,
//!   guided by the summary words (see [`Retired::drain`]).
//!
//! # Why the retired plane is the drain's alone
//! A mark that reads epoch `g` enters its read section (`I`: an increment of
//! an in-flight counter or a claim of a stripe's `held` word; an owner's
//! plain store is the same with the writer's process-wide barrier standing in
//! for its fence, `crate::kernel::grace`) before it loads the epoch (`L`);
//! the drain's flip `F` precedes its `synchronize`, whose phase flips and
//! counter loads come next. All of these are `SeqCst`, so they lie in one
//! total order `S`: if `L` read `g`, then `L` precedes `F` in `S` (a `SeqCst`
//! load reads the last `SeqCst` store before it), so `I` precedes the
//! synchronize's loads of its counter, which see it: the section began before
//! the synchronize, and the synchronize returns only after that section's
//! exit (its decrement or its release store of 0, read by the synchronize's
//! loads), so every access the mark made to the plane **happens before** the
//! drain's first access. A mark that reads `g + 1` goes to the other plane. The next mark to reach plane
//! `g & 1` reads epoch `g + 2`, stored by the next drain after this one
//! returned (queries of a basis are serialised by its lock): that store is a
//! release and the mark's load an acquire, so the drain's reads and zeroing
//! **happen before** it. So no access of any other thread to the retired
//! plane is concurrent with the drain's: the plain loads and stores race
//! with nothing (Rust's memory model allows non-atomic accesses to an
//! atomic's memory that happen-before or -after every atomic one), and the
//! drain sees every bit set before the flip, with the page data written
//! before each mark (the marks' RMWs follow their data writes).
//!
//! So the invariant of issue 20 holds: a mark that completed before a query
//! began read an epoch at most that of the query; its bit is in the active
//! plane (the query reads it) or was in a plane an earlier drain read after
//! the mark ended (that drain reported it). A mark racing a drain is reported
//! by it (`L` before `F`) or by the next query (`F` before `L`: its bit is in
//! the new active plane). No page is reported without its data. A page is
//! reported once per mark at most: a retired plane holds no late bit (no mark
//! reaches it after the synchronize), so the scrub and the mark's second
//! look at the epoch of the previous protocol are gone.
//!
//! The model checks (`model_flip`) run this on loom, where the drain's plain
//! loads are loom's `unsync_load`, which fails any execution in which a mark's
//! store is not ordered with them: the flip, a mark preempted across it, two
//! flips back to the same plane, the sub-range path, and broken variants (no
//! grace period, the drain before the wait, the wait before the flip) caught.
//!
//! # Every other query
//! Queries of one basis are serialised by its query lock (at PASSIVE_LEVEL).
//! A query without `CLEARDATA`, and a clearing query of a sub-range (or of
//! the whole basis taken in pieces), run the per-word protocol of
//! [`Bitplane::harvest`] on the active plane: plain loads, `swap(0)` /
//! `fetch_and` of the span's bits only, so exactly the span asked is cleared,
//! with one RMW per dirty word of the span. The active plane holds every bit
//! a completed mark set and not yet reported (a retired plane is drained
//! whole once its marks are done), so reading it alone is exact.

use core::mem::MaybeUninit;

use super::bitplane::{BLOCK_WORDS, Bitplane, ORDER, QuerySpan, SUMMARY_WORDS, set_bits};
use crate::foundation::status::{Result, Status};
use crate::kernel::grace;
use crate::kernel::sync::{AtomicU64, RwLock, loom_sc_fence, new_seq_cst_u64};

/// A read section of the grace domain marks enter around their plane access
/// (the driver's global one).
#[cfg(not(loom))]
pub(crate) type Section = grace::Guard<'static, { grace::STRIPES }>;
/// A read section of the loom models' domain.
#[cfg(loom)]
pub(crate) type Section = grace::Guard<'static, MODEL_STRIPES>;

/// Stripes of the loom models' domain (few: a synchronize loads each).
#[cfg(loom)]
const MODEL_STRIPES: usize = 2;

#[cfg(loom)]
loom::lazy_static! {
    /// Under loom, the domain marks and drains use (one per execution).
    static ref DOMAIN: grace::Domain<MODEL_STRIPES> = grace::Domain::new();
}

/// Enters the read section a mark holds around [`DirtyBits::set`]: no lock,
/// no allocation, no shared line written, any IRQL.
#[inline]
pub(crate) fn enter() -> Section {
    #[cfg(not(loom))]
    return grace::read();
    #[cfg(loom)]
    return DOMAIN.read_on(0);
}

/// Waits until every read section that began before this call has ended.
/// PASSIVE_LEVEL only (a drain, under its query lock).
pub(super) fn synchronize() {
    #[cfg(not(loom))]
    grace::synchronize();
    #[cfg(loom)]
    DOMAIN.synchronize();
}

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

    /// Sets bits `[start, start + count)` (a mark), inside the read section
    /// `_section` (from [`enter`], held until the mark is done): the section
    /// is what lets a drain own the plane it retires (module documentation).
    #[inline]
    pub(crate) fn set(&self, _section: &Section, start: u64, count: u64) {
        let epoch = self.epoch.load(ORDER);
        self.plane(epoch).set(start, count, epoch);
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
    /// flips, waits for a grace period and drains the retired plane; any
    /// other runs the per-word protocol on the active plane. Writes exactly
    /// `span.bytes()` bytes. PASSIVE_LEVEL (a drain waits for marks in
    /// flight: at most the longest mark, `crate::kernel::grace`).
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
            // Under loom, the flip in the single total order with the marks'
            // epoch loads and the grace period's accesses (module docs).
            loom_sc_fence();
            synchronize();
            // SAFETY: every mark that can reach `active` read an epoch of
            // its parity. Those that read `epoch` or older began their read
            // section before the flip above, so `synchronize` returned after
            // they ended: their accesses happen before this point (module
            // documentation). The next to read its parity reads `epoch + 2`,
            // stored by a later query after this one releases the query lock
            // (held here, and by every query: no other query touches
            // `active` meanwhile), after `Retired` is dropped below.
            let retired = unsafe { Retired::new(active) };
            retired.drain(out);
            return Ok(());
        }
        let span = span.on(active).ok_or(Status::InvalidParameter)?;
        Bitplane::harvest(&span, out, clear, epoch)
    }
}

/// Bytes a harvest of all of `plane` writes.
fn whole_bytes(plane: &Bitplane) -> usize {
    usize::try_from(plane.bits().div_ceil(8)).unwrap_or(usize::MAX)
}

/// Claimed blocks (of 64) from which a summary word's group is read whole
/// (the others' words masked off) rather than block by block.
const DENSE: u32 = 48;

/// A retired plane, owned by the drain: no other thread accesses its words,
/// late words or summaries while it exists.
///
/// # Invariants
/// From [`Retired::new`] until the value is dropped, no other thread
/// accesses the plane, and every access another thread made to it before
/// happens before `new` (see its safety contract).
pub(super) struct Retired<'a> {
    words: Owned<'a>,
    late: Owned<'a>,
    claimed: Owned<'a>,
    late_summary: Owned<'a>,
}

impl<'a> Retired<'a> {
    /// Takes `plane` over for a drain.
    ///
    /// # Safety
    /// Until the value is dropped, no other thread may access `plane`'s
    /// arrays, and every access another thread made to them before this call
    /// must happen before it (in a drain: after the flip and the grace
    /// period, under the query lock).
    pub(super) unsafe fn new(plane: &'a Bitplane) -> Self {
        let parts = plane.parts();
        // SAFETY: the caller's contract, for the words.
        let words = unsafe { Owned::new(parts.words) };
        // SAFETY: the caller's contract, for the late words.
        let late = unsafe { Owned::new(parts.late) };
        // SAFETY: the caller's contract, for the claimed summary.
        let claimed = unsafe { Owned::new(parts.claimed) };
        // SAFETY: the caller's contract, for the late summary.
        let late_summary = unsafe { Owned::new(parts.late_summary) };
        Self {
            words,
            late,
            claimed,
            late_summary,
        }
    }

    /// Reads every bit of the retired activation into `out` (`ceil(bits /
    /// 8)` bytes, word `i` little-endian at byte `8 i`), with plain loads and
    /// stores, and leaves the plane ready for its next activation: its
    /// summaries and late words zeroed, its words not (a block's first mark
    /// of the next activation claims and zeroes it: `bitplane`).
    ///
    /// Every block with a bit of the activation is claimed: a mark sets (or
    /// finds set) its block's claimed bit before its bits can be read, and
    /// with every mark done (the grace period) every claimed block's tag
    /// reads `live`, so its words hold exactly the activation's bits. A
    /// summary word that is zero reports its 32768 pages clean with one bulk
    /// fill of the output. Otherwise its group of 512 words is written to
    /// the output block by block without a branch per block: with at least
    /// [`DENSE`] of its 64 blocks claimed, every word is read and those of
    /// unclaimed blocks masked to zero; with fewer, an unclaimed block's
    /// output is copied from a zero block instead of its stale line (often
    /// out of cache). Blocks with late bits (marks that raced a claim) are
    /// written again as words OR late words, and their late words zeroed.
    pub(super) fn drain(mut self, out: &mut [MaybeUninit<u8>]) {
        let zero = MaybeUninit::new(0);
        let outs = out.chunks_mut(8 * SUMMARY_WORDS);
        for (j, dst) in outs.enumerate() {
            let claimed = self.claimed.get(j);
            if claimed == 0 {
                dst.fill(zero);
                continue;
            }
            self.claimed.zero(j);
            let base = j.saturating_mul(SUMMARY_WORDS);
            self.words.copy_masked(base, claimed, dst);
            let late = self.late_summary.get(j);
            if late != 0 {
                self.late_summary.zero(j);
                each_block(late, dst, |block, block_out| {
                    let lo = base.saturating_add(block.saturating_mul(BLOCK_WORDS));
                    self.merge_late(lo, block_out);
                });
            }
        }
    }

    /// Writes the block of words from `lo` OR its late words into
    /// `block_out`, and zeroes the late words.
    fn merge_late(&mut self, lo: usize, block_out: &mut [MaybeUninit<u8>]) {
        for (k, chunk) in block_out.chunks_mut(8).enumerate() {
            let i = lo.saturating_add(k);
            let bits = self.words.get(i) | self.late.get(i);
            for (d, s) in chunk.iter_mut().zip(bits.to_le_bytes()) {
                *d = MaybeUninit::new(s);
            }
            self.late.zero(i);
        }
    }
}

/// Calls `f(block, bytes)` for each set bit `block` of `mask` whose 64
/// output bytes start inside `dst` (the last may be short).
fn each_block(
    mask: u64,
    dst: &mut [MaybeUninit<u8>],
    mut f: impl FnMut(usize, &mut [MaybeUninit<u8>]),
) {
    for block in set_bits(mask) {
        let at = block.saturating_mul(8 * BLOCK_WORDS);
        let end = at.saturating_add(8 * BLOCK_WORDS).min(dst.len());
        if let Some(bytes) = dst.get_mut(at..end) {
            f(block, bytes);
        }
    }
}

/// Words the drain owns: a plain `&mut [u64]` view of them (on loom, the
/// atomics, read with `unsync_load`: loom then checks that no store of
/// another thread is concurrent with the read).
struct Owned<'a> {
    #[cfg(not(loom))]
    words: &'a mut [u64],
    #[cfg(loom)]
    words: &'a [AtomicU64],
}

impl<'a> Owned<'a> {
    /// # Safety
    /// [`Retired::new`]'s contract, for `words`.
    #[cfg(not(loom))]
    unsafe fn new(words: &'a [AtomicU64]) -> Self {
        let (ptr, len) = (words.as_ptr().cast::<u64>().cast_mut(), words.len());
        // SAFETY: `AtomicU64` has the size and bit validity of `u64` and at
        // least its alignment, and its value lies in an `UnsafeCell`, so
        // writing through a pointer from a shared reference to it is allowed;
        // the slice's pointer covers all `len` words. The caller guarantees
        // that no other thread accesses the words while this view lives, and
        // that every earlier access happens before it: the view's plain
        // accesses race with none (Rust's memory model allows non-atomic
        // accesses to an atomic's memory when happens-before orders them
        // with every other access).
        let words = unsafe { core::slice::from_raw_parts_mut(ptr, len) };
        Self { words }
    }

    /// # Safety
    /// [`Retired::new`]'s contract, for `words` (which loom checks).
    #[cfg(loom)]
    unsafe fn new(words: &'a [AtomicU64]) -> Self {
        Self { words }
    }

    /// Word `i` (0 past the end).
    #[cfg(not(loom))]
    #[inline]
    fn get(&self, i: usize) -> u64 {
        self.words.get(i).copied().unwrap_or(0)
    }

    /// Word `i` (0 past the end).
    #[cfg(loom)]
    fn get(&self, i: usize) -> u64 {
        let word = self.words.get(i);
        // SAFETY: loom checks the read against every store to the word (it
        // fails the model if one is not ordered with it).
        word.map_or(0, |w| unsafe { w.unsync_load() })
    }

    /// Zeroes word `i` (nothing past the end).
    #[cfg(not(loom))]
    #[inline]
    fn zero(&mut self, i: usize) {
        if let Some(word) = self.words.get_mut(i) {
            *word = 0;
        }
    }

    /// Zeroes word `i` (nothing past the end): a relaxed RMW rather than a
    /// store, as loom 0.7 breaks write-write coherence for a plain store
    /// followed (in happens-before) by another thread's RMW, which C11
    /// forbids (`model_flip`'s `loom_breaks_coherence_after_a_plain_store`
    /// shows it), and would report writes lost that no C11 execution loses.
    #[cfg(loom)]
    fn zero(&mut self, i: usize) {
        if let Some(word) = self.words.get(i) {
            word.swap(0, crate::kernel::sync::Ordering::Relaxed);
        }
    }

    /// Writes the words from `lo` into `dst`, little-endian, as many bytes as
    /// `dst` has (8 per word, the last word cut short if `dst` is; zeros past
    /// the plane). A straight loop, which the compiler vectorises.
    #[cfg(not(loom))]
    #[inline]
    fn copy(&self, lo: usize, dst: &mut [MaybeUninit<u8>]) {
        let words = self.words.get(lo..).unwrap_or_default();
        let (outs, tail) = dst.as_chunks_mut::<8>();
        let whole = outs.len();
        let (outs, past) = outs.split_at_mut(whole.min(words.len()));
        for (out, word) in outs.iter_mut().zip(words) {
            *out = word.to_le_bytes().map(MaybeUninit::new);
        }
        past.fill([MaybeUninit::new(0); 8]);
        let last = words.get(whole).copied().unwrap_or(0);
        for (d, s) in tail.iter_mut().zip(last.to_le_bytes()) {
            *d = MaybeUninit::new(s);
        }
    }

    /// Writes the 512 words from `lo` into `dst` (`8 * SUMMARY_WORDS`
    /// bytes), those of block `k` only if bit `k` of `blocks` is set (zeros
    /// for the others), without a branch per block.
    #[cfg(not(loom))]
    #[inline]
    fn copy_masked(&self, lo: usize, blocks: u64, dst: &mut [MaybeUninit<u8>]) {
        let words = self.words.get(lo..).unwrap_or_default();
        let (outs, _) = dst.as_chunks_mut::<{ 8 * BLOCK_WORDS }>();
        let mut done = 0;
        let (blocks_of, _) = words.as_chunks::<BLOCK_WORDS>();
        let pairs = outs.iter_mut().zip(blocks_of).enumerate();
        if blocks.count_ones() >= DENSE {
            // Nearly every block claimed, its line likely in cache: read all,
            // mask the few others.
            for (k, (out, block)) in pairs {
                let mask = 0u64.wrapping_sub(blocks >> (k & 63) & 1);
                let (chunks, _) = out.as_chunks_mut::<8>();
                for (chunk, word) in chunks.iter_mut().zip(block.map(|w| w & mask)) {
                    *chunk = word.to_le_bytes().map(MaybeUninit::new);
                }
                done = k.saturating_add(1);
            }
        } else {
            // Sparser: an unclaimed block's stale line (often out of cache)
            // is not read; its output comes from a zero block.
            let zero = [0u64; BLOCK_WORDS];
            for (k, (out, block)) in pairs {
                // A select, not a branch: with 40 % of blocks claimed (0.1 %
                // dirty) a branch would mispredict on every other block.
                let claimed = blocks >> (k & 63) & 1 == 1;
                let src = core::hint::select_unpredictable(claimed, block, &zero);
                let (chunks, _) = out.as_chunks_mut::<8>();
                for (chunk, word) in chunks.iter_mut().zip(src) {
                    *chunk = word.to_le_bytes().map(MaybeUninit::new);
                }
                done = k.saturating_add(1);
            }
        }
        // A short last group (the plane's end): block by block.
        let rest = dst.chunks_mut(8 * BLOCK_WORDS).enumerate().skip(done);
        for (k, block_out) in rest {
            if blocks >> (k & 63) & 1 == 1 {
                self.copy(lo.saturating_add(k.saturating_mul(BLOCK_WORDS)), block_out);
            } else {
                block_out.fill(MaybeUninit::new(0));
            }
        }
    }

    /// [`Self::copy_masked`] on loom.
    #[cfg(loom)]
    fn copy_masked(&self, lo: usize, blocks: u64, dst: &mut [MaybeUninit<u8>]) {
        dst.fill(MaybeUninit::new(0));
        each_block(blocks, dst, |block, block_out| {
            self.copy(
                lo.saturating_add(block.saturating_mul(BLOCK_WORDS)),
                block_out,
            );
        });
    }

    /// [`Self::copy`] on loom: word by word, each read with `unsync_load`.
    #[cfg(loom)]
    fn copy(&self, lo: usize, dst: &mut [MaybeUninit<u8>]) {
        for (k, chunk) in dst.chunks_mut(8).enumerate() {
            let bytes = self.get(lo.saturating_add(k)).to_le_bytes();
            for (d, s) in chunk.iter_mut().zip(bytes) {
                *d = MaybeUninit::new(s);
            }
        }
    }
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

    /// Both planes drained: no block claimed, no late bit.
    fn assert_drained(bits: &DirtyBits) {
        for plane in &bits.planes {
            let p = plane.parts();
            let arrays = p.claimed.iter().chain(p.late_summary).chain(p.late);
            assert!(arrays.into_iter().all(|w| w.load(ORDER) == 0));
        }
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
            bits.set(&enter(), page, 1);
        }
        bits.set(&enter(), 100, 70);
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
        // The drain reports everything left; two leave both planes with
        // nothing claimed (their words keep stale bits, never reported).
        assert_eq!(set_bits(&query(&bits, 0, total, true)), rest);
        assert_eq!(bits.epoch.load(ORDER), 1);
        assert!(set_bits(&query(&bits, 0, total, true)).is_empty());
        assert_eq!(bits.epoch.load(ORDER), 2);
        assert_drained(&bits);
        // Marks after a flip go to the new active plane and are reported once.
        bits.set(&enter(), 7, 3);
        assert_eq!(set_bits(&query(&bits, 0, total, false)), vec![7, 8, 9]);
        assert_eq!(set_bits(&query(&bits, 0, total, true)), vec![7, 8, 9]);
        assert!(set_bits(&query(&bits, 0, total, true)).is_empty());
    }

    #[test]
    fn drains_of_every_odd_size_report_every_bit_once() {
        for total in [1, 63, 64, 65, 8 * 64 - 10, 8 * 64, 8 * 64 + 1, 64 * 512 + 3] {
            let bits = DirtyBits::new(total).unwrap();
            bits.set(&enter(), 0, total);
            let all: Vec<usize> = (0..total as usize).collect();
            assert_eq!(set_bits(&query(&bits, 0, total, true)), all, "{total}");
            assert!(set_bits(&query(&bits, 0, total, true)).is_empty());
            bits.set(&enter(), total - 1, 1);
            assert_eq!(
                set_bits(&query(&bits, 0, total, true)),
                vec![total as usize - 1]
            );
            assert!(set_bits(&query(&bits, 0, total, false)).is_empty());
        }
    }

    #[test]
    // Minutes under Miri (68,000 pages a round); the other tests here take
    // the drain's paths there.
    #[cfg_attr(miri, ignore)]
    fn drains_match_a_model_at_every_density() {
        use gpup_rng::XorShift64Star;
        // Three summary words, the last short: dense and sparse groups, clean
        // ones, and per-word queries in between (their summary clearing).
        let total = 2 * 64 * 512 + 5 * 512 + 77;
        let bits = DirtyBits::new(total).unwrap();
        let mut rng = XorShift64Star::from_state(0x2545_F491_4F6C_DD1D);
        for (round, per_mille) in [0u64, 1, 10, 100, 500, 1000, 3, 0].into_iter().enumerate() {
            let mut model = vec![false; total as usize];
            for page in 0..total {
                // The middle summary word stays clean in odd rounds.
                let clean = round % 2 == 1 && (64 * 512..2 * 64 * 512).contains(&page);
                if !clean && rng.next_u64() % 1000 < per_mille {
                    bits.set(&enter(), page, 1);
                    model[page as usize] = true;
                }
            }
            if round == 3 {
                // A sub-range clearing query first: what it takes is gone.
                let taken = set_bits(&query(&bits, 600, 60_000, true));
                for n in taken {
                    assert!(model[600 + n]);
                    model[600 + n] = false;
                }
            }
            let expected: Vec<usize> = (0..total as usize).filter(|&n| model[n]).collect();
            assert_eq!(
                set_bits(&query(&bits, 0, total, true)),
                expected,
                "round {round}"
            );
            assert!(set_bits(&query(&bits, 0, total, false)).is_empty());
        }
        assert_drained(&bits);
    }

    #[test]
    fn a_short_buffer_reads_and_clears_nothing() {
        let bits = DirtyBits::new(200).unwrap();
        bits.set(&enter(), 3, 1);
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
