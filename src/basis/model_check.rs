//! Model checking of the memory-basis core with loom: every interleaving (and
//! every outcome the C11 memory model allows for each of them) of small
//! configurations of the real code (`Bitplane`, `Tracker`, the adapter's
//! `RwLock`), with the core's atomics replaced by loom's (`crate::kernel::sync`).
//!
//! Run with (a separate target directory keeps normal builds intact):
//! ```sh
//! RUSTFLAGS="--cfg loom" cargo test --release --lib --target-dir target/loom -- --nocapture --test-threads 1
//! ```
//! Each model prints how many executions loom explored. The models are
//! explored to [`PREEMPTIONS`] preemptions (the smallest protocol model was
//! exhaustive until the block claims made its state space too large).
//! `LOOM_MAX_PREEMPTIONS` overrides every bound (CI sets 2).
//!
//! What is checked:
//! - [`mark_and_query_and_clear_never_lose_a_write_or_its_data`] and
//!   [`split_queries_never_lose_a_write_or_its_data`]: two writers (each
//!   storing page data with a relaxed store, then marking the page with
//!   `Bitplane::set`) race a harvester that queries-and-clears the plane,
//!   over two words; in the second model both writers write into both words
//!   and the harvester queries in two pieces, one ending inside a word (the
//!   `fetch_and` path; whole words take `swap(0)`). A page the harvester
//!   reports holds the data written before its mark; once the writers are
//!   done, one more query makes the copied pages equal the written ones: no
//!   write is lost, whatever the interleaving. Both pages lie in one block
//!   (512 pages), so its claim is in play too: the first mark claims it (tag
//!   compare-exchange, zeroing, claimed bit, `live` store), the other finds
//!   it stale, being claimed (and goes to the late words) or live, and the
//!   query reads the claimed bit, the tag, the late bit and the words, the
//!   order of `bitplane`'s documentation. Five deliberately broken protocols
//!   (a load-then-store clear, relaxed orderings, a mark skipped when the
//!   bit already reads set, a claim that publishes the block live before
//!   zeroing it, and a mark into a block being claimed that sets its words)
//!   make the model fail, so it can.
//!
//! Plane words are created with `crate::kernel::sync::new_seq_cst_u64`, which under
//! loom also writes the initial zero with a `SeqCst` store: loom otherwise
//! lets a `SeqCst` load read an initial value after a newer `SeqCst` store,
//! which C11 forbids here, and reports lost writes no real execution has.
//! - [`lookup_races_destroy_and_slot_reuse_through_the_adapter_lock`]: the
//!   engine behind the adapter's lock, with a destroyer that then creates and
//!   starts a new basis in the freed slot, a harvester looking the old handle
//!   up, and a marker. The old handle works until the destroy and never
//!   after (not even once its slot holds the new basis), the new basis
//!   reports exactly the marks made after its start, and loom's cell checks
//!   that the lock keeps writers apart from readers.
//! - [`stop_and_restart_race_a_mark_and_a_harvest_through_the_adapter_lock`]:
//!   the same engine with a stop and then a start of the basis racing a mark
//!   and a whole-basis drain (flip, grace period, plain drain): a query works
//!   exactly while the basis is tracked, and the restarted basis reports the
//!   mark exactly once if it came after the restart, never if before.
//! - [`the_adapter_lock_excludes_writers_and_shares_readers`]: the lock alone.

use std::sync::atomic::{AtomicUsize as StdCounter, Ordering as StdOrdering};

use core::mem::MaybeUninit;

use loom::sync::Arc;
use loom::thread;

use super::bitplane::Bitplane;
use super::{BasisHandle, QueryRequest, Range, Tracker};
use crate::foundation::status::Status;
use crate::foundation::units::{PageSize, Segment, SegmentId};
use crate::kernel::sync::{AtomicU64, Ordering, RwLock};

/// Preemption bound of the models too large to explore exhaustively, when
/// `LOOM_MAX_PREEMPTIONS` is unset (it overrides every model's bound: CI sets
/// 2 to stay within seconds).
pub(super) const PREEMPTIONS: usize = 3;

/// Runs `model` under loom and returns how many executions it explored.
pub(super) fn explore(
    name: &str,
    preemptions: Option<usize>,
    model: impl Fn() + Sync + Send + 'static,
) -> usize {
    let executions = std::sync::Arc::new(StdCounter::new(0));
    let counter = std::sync::Arc::clone(&executions);
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = preemptions;
    }
    let bound = builder.preemption_bound;
    let started = std::time::Instant::now();
    builder.check(move || {
        counter.fetch_add(1, StdOrdering::Relaxed);
        model();
    });
    let n = executions.load(StdOrdering::Relaxed);
    println!(
        "loom: {name}: {n} executions explored ({}), {:.1} s",
        bound.map_or("exhaustive".to_string(), |b| format!(
            "preemption bound {b}"
        )),
        started.elapsed().as_secs_f64()
    );
    n
}

// ---------------------------------------------------------------------------
// The mark / query-and-clear protocol.
// ---------------------------------------------------------------------------

/// A dirty-bit plane as the model uses it: the real [`Bitplane`], or a broken
/// protocol that the model must catch.
pub(super) trait Plane: Send + Sync + 'static {
    fn with_bits(bits: u64) -> Self;
    /// Marks one page (after its data was written).
    fn mark(&self, bit: u64);
    /// Query-and-clear of `[start, start + count)` into `out` (RTL_BITMAP order).
    fn take(&self, start: u64, count: u64, out: &mut [u8]);
}

impl Plane for Bitplane {
    fn with_bits(bits: u64) -> Self {
        Bitplane::new(bits).expect("a small plane")
    }
    fn mark(&self, bit: u64) {
        self.set(bit, 1, 0);
    }
    fn take(&self, start: u64, count: u64, out: &mut [u8]) {
        let mut raw: Vec<MaybeUninit<u8>> = out.iter().map(|b| MaybeUninit::new(*b)).collect();
        let span = self.span(start, count).expect("a span inside the plane");
        Bitplane::harvest(&span, &mut raw, true, 0).expect("a buffer of the span's size");
        for (dst, src) in out.iter_mut().zip(&raw) {
            // SAFETY: every byte was initialised from `out` above.
            *dst = unsafe { src.assume_init() };
        }
    }
}

/// Words and a bit-by-bit harvest shared by the broken planes.
struct Words(Vec<AtomicU64>);

impl Words {
    fn new(bits: u64) -> Self {
        Self((0..bits.div_ceil(64)).map(|_| AtomicU64::new(0)).collect())
    }
    /// Harvests with `clear(word, mask) -> old bits`, bit by bit into `out`.
    fn take_with(
        &self,
        start: u64,
        count: u64,
        out: &mut [u8],
        clear: impl Fn(&AtomicU64, u64) -> u64,
    ) {
        let (first, last) = (start / 64, (start + count - 1) / 64);
        for w in first..=last {
            let lo = (w * 64).max(start);
            let hi = ((w + 1) * 64).min(start + count);
            let mask = (lo..hi).fold(0u64, |m, b| m | 1 << (b % 64));
            let bits = clear(&self.0[w as usize], mask) & mask;
            for b in lo..hi {
                if bits >> (b % 64) & 1 == 1 {
                    let n = (b - start) as usize;
                    out[n / 8] |= 1 << (n % 8);
                }
            }
        }
    }
}

/// Clears with a load and a separate store: a mark between the two is lost.
struct NonAtomicClear(Words);

impl Plane for NonAtomicClear {
    fn with_bits(bits: u64) -> Self {
        Self(Words::new(bits))
    }
    fn mark(&self, bit: u64) {
        self.0.0[(bit / 64) as usize].fetch_or(1 << (bit % 64), Ordering::Release);
    }
    fn take(&self, start: u64, count: u64, out: &mut [u8]) {
        self.0.take_with(start, count, out, |w, mask| {
            let old = w.load(Ordering::Acquire);
            w.store(old & !mask, Ordering::Release);
            old
        });
    }
}

/// Atomic, but `Relaxed`: the harvester may copy a page without its data.
struct RelaxedOrdering(Words);

impl Plane for RelaxedOrdering {
    fn with_bits(bits: u64) -> Self {
        Self(Words::new(bits))
    }
    fn mark(&self, bit: u64) {
        self.0.0[(bit / 64) as usize].fetch_or(1 << (bit % 64), Ordering::Relaxed);
    }
    fn take(&self, start: u64, count: u64, out: &mut [u8]) {
        self.0.take_with(start, count, out, |w, mask| {
            w.fetch_and(!mask, Ordering::Relaxed)
        });
    }
}

/// Skips the mark when the bit already reads set (the shortcut that
/// `bitplane`'s documentation explains away): the second write of a page has
/// no release edge to the harvest that clears the first mark.
struct SkipIfSet(Words);

impl Plane for SkipIfSet {
    fn with_bits(bits: u64) -> Self {
        Self(Words::new(bits))
    }
    fn mark(&self, bit: u64) {
        let word = &self.0.0[(bit / 64) as usize];
        if word.load(Ordering::Relaxed) >> (bit % 64) & 1 == 0 {
            word.fetch_or(1 << (bit % 64), Ordering::Release);
        }
    }
    fn take(&self, start: u64, count: u64, out: &mut [u8]) {
        self.0.take_with(start, count, out, |w, mask| {
            w.fetch_and(!mask, Ordering::AcqRel)
        });
    }
}

/// One block (both words of the model's plane) of `bitplane`'s claim
/// protocol, with one flaw: tag 0 stale, 1 being claimed, 2 live.
struct BrokenClaim<const FLAW: u8> {
    tag: AtomicU64,
    words: Words,
    late: Words,
}

/// The claimer publishes the block live before it zeroes the words.
const PUBLISH_BEFORE_ZEROING: u8 = 0;
/// A mark that finds the block being claimed sets the words, not the late words.
const LATE_INTO_WORDS: u8 = 1;

impl<const FLAW: u8> Plane for BrokenClaim<FLAW> {
    fn with_bits(bits: u64) -> Self {
        Self {
            tag: AtomicU64::new(0),
            words: Words::new(bits),
            late: Words::new(bits),
        }
    }
    fn mark(&self, bit: u64) {
        let (word, late) = (
            &self.words.0[(bit / 64) as usize],
            &self.late.0[(bit / 64) as usize],
        );
        let mask = 1 << (bit % 64);
        let mut seen = self.tag.load(Ordering::SeqCst);
        loop {
            match seen {
                2 => {
                    word.fetch_or(mask, Ordering::SeqCst);
                    return;
                }
                1 if FLAW == LATE_INTO_WORDS => {
                    word.fetch_or(mask, Ordering::SeqCst);
                    return;
                }
                1 => {
                    late.fetch_or(mask, Ordering::SeqCst);
                    return;
                }
                _ => {}
            }
            match self
                .tag
                .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break,
                Err(now) => seen = now,
            }
        }
        if FLAW == PUBLISH_BEFORE_ZEROING {
            self.tag.store(2, Ordering::SeqCst);
        }
        for w in &self.words.0 {
            w.store(0, Ordering::Relaxed);
        }
        self.tag.store(2, Ordering::SeqCst);
        word.fetch_or(mask, Ordering::SeqCst);
    }
    fn take(&self, start: u64, count: u64, out: &mut [u8]) {
        let live = self.tag.load(Ordering::SeqCst) == 2;
        self.words.take_with(start, count, out, |w, mask| {
            if live {
                w.fetch_and(!mask, Ordering::SeqCst)
            } else {
                0
            }
        });
        self.late.take_with(start, count, out, |w, mask| {
            w.fetch_and(!mask, Ordering::SeqCst)
        });
    }
}

/// Pages of the protocol models: a plane of two words (128 pages).
pub(super) const PAGES: u64 = 128;

/// One configuration of the protocol model.
pub(super) struct Protocol {
    /// `(page, value)` writes of writer 1, in order (each followed by a mark).
    pub(super) w1: &'static [(u64, u64)],
    /// The same for writer 2.
    pub(super) w2: &'static [(u64, u64)],
    /// The `(start, count)` pieces the harvester queries-and-clears in turn.
    pub(super) pieces: &'static [(u64, u64)],
}

/// The smallest configuration (exhaustive before the block claims: 272,168
/// executions; with them, more than 15 minutes, so it runs to a bound too):
/// writer 1 writes page 3 (word 0), writer 2 page 69 (word 1), and the
/// harvester queries-and-clears the whole plane (the claimed bit, the tag,
/// the late bit, then both words with `swap(0)`).
const SMALL: Protocol = Protocol {
    w1: &[(3, 1)],
    w2: &[(69, 7)],
    pieces: &[(0, PAGES)],
};

/// Writer 1 writes page 3 twice (what the skipped-mark shortcut breaks);
/// explored to a preemption bound.
const TWICE: Protocol = Protocol {
    w1: &[(3, 1), (3, 2)],
    w2: &[(69, 7)],
    pieces: &[(0, PAGES)],
};

/// Larger, explored to a preemption bound: both writers write into both
/// words (writer 1 pages 3, twice, and 100; writer 2 pages 40 and 69), and
/// the harvester queries in two pieces, the first ending inside word 1 (bits
/// 64..70 of it), so that both pieces take a partial word with `fetch_and`.
const SPLIT: Protocol = Protocol {
    w1: &[(3, 1), (3, 2), (100, 1)],
    w2: &[(40, 7), (69, 7)],
    pieces: &[(0, 70), (70, PAGES - 70)],
};

/// Two writers, one harvester; see the module documentation.
pub(super) fn protocol_model<P: Plane>(config: &'static Protocol) {
    let plane = Arc::new(P::with_bits(PAGES));
    // Page contents ("VRAM"), written with plain (relaxed) stores: only the
    // plane's release/acquire edge orders them for the harvester.
    let data: Arc<Vec<AtomicU64>> = Arc::new((0..PAGES).map(|_| AtomicU64::new(0)).collect());
    let writer = |writes: &'static [(u64, u64)]| {
        let (plane, data) = (Arc::clone(&plane), Arc::clone(&data));
        thread::spawn(move || {
            for &(page, value) in writes {
                data[page as usize].store(value, Ordering::Relaxed);
                plane.mark(page);
            }
        })
    };
    let w1 = writer(config.w1);
    let w2 = writer(config.w2);
    // The harvester copies every page it reports, as a pre-copy round does.
    let copy = |plane: &P, data: &[AtomicU64], dest: &mut [u64], start: u64, count: u64| {
        let mut out = vec![0u8; count.div_ceil(8) as usize];
        plane.take(start, count, &mut out);
        for n in 0..count {
            if out[(n / 8) as usize] >> (n % 8) & 1 == 1 {
                let page = (start + n) as usize;
                dest[page] = data[page].load(Ordering::Relaxed);
                // Every mark follows a non-zero write of its page: a reported
                // page whose data reads 0 was copied without that write.
                assert_ne!(
                    dest[page], 0,
                    "page {page} reported without the data written before its mark"
                );
            }
        }
    };
    let harvester = {
        let (plane, data) = (Arc::clone(&plane), Arc::clone(&data));
        thread::spawn(move || {
            let mut dest = vec![0u64; PAGES as usize];
            for &(start, count) in config.pieces {
                copy(&plane, &data, &mut dest, start, count);
            }
            dest
        })
    };
    w1.join().expect("writer 1");
    w2.join().expect("writer 2");
    let mut dest = harvester.join().expect("harvester");
    // The final round, once the writers are paused: afterwards the copy must
    // equal the source. A page whose last write's bit was cleared without
    // being reported (or reported without its data) differs here.
    copy(&plane, &data, &mut dest, 0, PAGES);
    for page in 0..PAGES as usize {
        assert_eq!(
            dest[page],
            data[page].load(Ordering::Relaxed),
            "page {page}: a write was lost"
        );
    }
}

#[test]
fn mark_and_query_and_clear_never_lose_a_write_or_its_data() {
    let n = explore(
        "bitplane protocol, 2 writers + 1 harvester, 2 words, whole-plane query",
        Some(PREEMPTIONS),
        || protocol_model::<Bitplane>(&SMALL),
    );
    assert!(
        n > 100,
        "the model explores the races (only {n} executions)"
    );
    let n = explore(
        "bitplane protocol, a page written twice, whole-plane query",
        Some(PREEMPTIONS),
        || protocol_model::<Bitplane>(&TWICE),
    );
    assert!(
        n > 100,
        "the model explores the races (only {n} executions)"
    );
}

#[test]
fn split_queries_never_lose_a_write_or_its_data() {
    let n = explore(
        "bitplane protocol, 2 writers + 1 harvester, 2 words, query in two pieces",
        Some(PREEMPTIONS),
        || protocol_model::<Bitplane>(&SPLIT),
    );
    assert!(
        n > 100,
        "the model explores the races (only {n} executions)"
    );
}

#[test]
#[should_panic(expected = "a write was lost")]
fn the_protocol_model_catches_a_non_atomic_clear() {
    explore("broken: load + store(0) clear", None, || {
        protocol_model::<NonAtomicClear>(&SMALL)
    });
}

#[test]
#[should_panic(expected = "without the data written before its mark")]
fn the_protocol_model_catches_relaxed_marks() {
    explore("broken: relaxed mark and harvest", None, || {
        protocol_model::<RelaxedOrdering>(&SMALL)
    });
}

#[test]
#[should_panic(expected = "a write was lost")]
fn the_protocol_model_catches_a_mark_skipped_because_the_bit_looked_set() {
    explore(
        "broken: mark skipped when the bit reads set",
        Some(PREEMPTIONS),
        || protocol_model::<SkipIfSet>(&TWICE),
    );
}

#[test]
#[should_panic(expected = "a write was lost")]
fn the_protocol_model_catches_a_block_published_before_its_zeroing() {
    explore(
        "broken: claim publishes live, then zeroes",
        Some(PREEMPTIONS),
        || protocol_model::<BrokenClaim<PUBLISH_BEFORE_ZEROING>>(&SMALL),
    );
}

#[test]
#[should_panic(expected = "a write was lost")]
fn the_protocol_model_catches_a_mark_into_a_block_being_claimed() {
    explore(
        "broken: a mark racing a claim sets the words",
        Some(PREEMPTIONS),
        || protocol_model::<BrokenClaim<LATE_INTO_WORDS>>(&SMALL),
    );
}

// ---------------------------------------------------------------------------
// The engine behind the adapter lock: lookup / destroy / create racing.
// ---------------------------------------------------------------------------

const PAGE: u64 = 4096;
const SEGMENT: SegmentId = SegmentId(1);
/// The page the marker writes (in the basis's second range, second word).
const MARKED_PAGE: u64 = 70;

/// What the adapter lock protects, for the model: the engine and a count of
/// the write-locked sections so far, read by readers under the lock to learn
/// exactly where their section fell.
struct Locked {
    engine: Tracker,
    epoch: u32,
}

fn two_range_basis() -> Vec<Range> {
    vec![
        Range::new(0, 64 * PAGE).expect("range"),
        Range::new(64 * PAGE, 64 * PAGE).expect("range"),
    ]
}

/// Whole-basis query-and-clear; `None` for a refused query.
fn query_all(engine: &Tracker, handle: BasisHandle) -> Result<Vec<u64>, Status> {
    let harvest = engine.query(
        handle,
        QueryRequest {
            subrange: None,
            clear: true,
        },
    )?;
    let mut out = vec![MaybeUninit::new(0u8); harvest.bytes_needed()];
    harvest.write(&mut out)?;
    let bytes: Vec<u8> = out
        .iter()
        // SAFETY: every byte was initialised with `MaybeUninit::new`.
        .map(|b| unsafe { b.assume_init() })
        .collect();
    Ok((0..bytes.len() as u64 * 8)
        .filter(|n| bytes[(n / 8) as usize] >> (n % 8) & 1 == 1)
        .collect())
}

/// A thread that marks [`MARKED_PAGE`], as a GPU write does, and returns
/// the epoch it marked in (read under the lock).
fn spawn_marker(lock: &Arc<RwLock<Locked>>) -> thread::JoinHandle<u32> {
    let lock = Arc::clone(lock);
    thread::spawn(move || {
        let g = lock.read();
        assert_eq!(g.engine.mark(SEGMENT, MARKED_PAGE * PAGE, PAGE), Ok(()));
        g.epoch
    })
}

/// A tracker of one 128-page segment with a tracked two-range basis,
/// behind the model's lock at epoch 0, and that basis.
fn tracked_engine() -> (Arc<RwLock<Locked>>, BasisHandle) {
    let segments = [Segment {
        id: SEGMENT,
        size: 128 * PAGE,
        page: PageSize::new(4096).ok(),
    }];
    let mut engine = Tracker::new(&segments, 2).expect("engine");
    let basis = engine.create(SEGMENT, two_range_basis()).expect("create");
    engine.start(basis).expect("start");
    (Arc::new(RwLock::new(Locked { engine, epoch: 0 })), basis)
}

fn engine_model() {
    let (lock, old) = tracked_engine();

    // Destroys the old basis, then creates and starts a new one, which takes
    // the freed slot: two write-locked sections (epochs 1 and 2).
    let destroyer = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            {
                let mut g = lock.write();
                assert_eq!(g.engine.destroy(old), Ok(()));
                g.epoch = 1;
            }
            let mut g = lock.write();
            let new = g.engine.create(SEGMENT, two_range_basis()).expect("create");
            g.engine.start(new).expect("start");
            g.epoch = 2;
            new
        })
    };
    // Looks the old handle up and harvests it, in one read-locked section.
    let harvester = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            let g = lock.read();
            match query_all(&g.engine, old) {
                Ok(bits) => {
                    assert_eq!(g.epoch, 0, "the old handle worked after its destroy");
                    assert!(
                        bits.iter().all(|&b| b == MARKED_PAGE),
                        "bits no one marked: {bits:?}"
                    );
                    Some(bits)
                }
                Err(status) => {
                    assert_eq!(status, Status::InvalidHandle);
                    assert!(g.epoch >= 1, "the old handle failed before its destroy");
                    None
                }
            }
        })
    };
    let marker = spawn_marker(&lock);
    let new = destroyer.join().expect("destroyer");
    let harvested = harvester.join().expect("harvester");
    let marked_at = marker.join().expect("marker");

    assert_eq!(new.slot(), old.slot(), "the model reuses the slot");
    assert_ne!(new, old);
    let g = lock.read();
    assert_eq!(
        query_all(&g.engine, old),
        Err(Status::InvalidHandle),
        "stale forever"
    );
    let new_bits = query_all(&g.engine, new).expect("the new basis is tracked");
    // The new basis starts clear at its start: it reports the mark exactly
    // when the mark came after the start.
    let expected: Vec<u64> = if marked_at == 2 {
        vec![MARKED_PAGE]
    } else {
        vec![]
    };
    assert_eq!(new_bits, expected, "marked at epoch {marked_at}");
    // The old basis can only have reported a mark made while it was tracked.
    if harvested.is_some_and(|bits| !bits.is_empty()) {
        assert_eq!(marked_at, 0);
    }
}

/// Stop and Start racing a mark and a harvest of the same basis: the basis
/// is tracked, then stopped (its planes freed), then started again (fresh
/// all-clear planes). A query works exactly while the basis is tracked,
/// reports only the page the marker marked, and the new planes report the
/// mark exactly once (to the racing harvest or to the final query) when it
/// came after the restart, never when it came before.
fn stop_model() {
    let (lock, basis) = tracked_engine();
    let restarter = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            {
                let mut g = lock.write();
                assert_eq!(g.engine.stop(basis), Ok(()));
                g.epoch = 1;
            }
            let mut g = lock.write();
            assert_eq!(g.engine.start(basis), Ok(()));
            g.epoch = 2;
        })
    };
    let harvester = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            let g = lock.read();
            match query_all(&g.engine, basis) {
                Ok(bits) => {
                    assert_ne!(g.epoch, 1, "a query worked on a stopped basis");
                    assert!(
                        bits.iter().all(|&b| b == MARKED_PAGE),
                        "bits no one marked: {bits:?}"
                    );
                    (g.epoch, bits)
                }
                Err(status) => {
                    assert_eq!(status, Status::InvalidDeviceState);
                    assert_eq!(g.epoch, 1, "a query failed on a tracked basis");
                    (1, Vec::new())
                }
            }
        })
    };
    let marker = spawn_marker(&lock);
    restarter.join().expect("restarter");
    let (harvested_at, harvested) = harvester.join().expect("harvester");
    let marked_at = marker.join().expect("marker");
    let g = lock.read();
    let last = query_all(&g.engine, basis).expect("tracked again");
    let mut since_restart = last;
    if harvested_at == 2 {
        since_restart.extend(harvested);
    }
    let expected: Vec<u64> = if marked_at == 2 {
        vec![MARKED_PAGE]
    } else {
        vec![]
    };
    assert_eq!(since_restart, expected, "marked at epoch {marked_at}");
}

#[test]
fn stop_and_restart_race_a_mark_and_a_harvest_through_the_adapter_lock() {
    let n = explore(
        "engine behind the adapter lock: stop + start vs harvest vs mark",
        Some(PREEMPTIONS),
        stop_model,
    );
    assert!(
        n > 100,
        "the model explores the races (only {n} executions)"
    );
}

#[test]
fn lookup_races_destroy_and_slot_reuse_through_the_adapter_lock() {
    let n = explore(
        "engine behind the adapter lock: destroy + create/start vs lookup vs mark",
        Some(PREEMPTIONS),
        engine_model,
    );
    assert!(
        n > 100,
        "the model explores the races (only {n} executions)"
    );
}

#[test]
fn the_adapter_lock_excludes_writers_and_shares_readers() {
    let n = explore(
        "adapter lock: 2 writers + 1 reader",
        Some(PREEMPTIONS),
        || {
            let lock = Arc::new(RwLock::new((0u64, 0u64)));
            let writers: Vec<_> = (0..2)
                .map(|_| {
                    let lock = Arc::clone(&lock);
                    thread::spawn(move || {
                        let mut g = lock.write();
                        g.0 += 1;
                        g.1 += 1;
                    })
                })
                .collect();
            let reader = {
                let lock = Arc::clone(&lock);
                thread::spawn(move || {
                    let g = lock.read();
                    assert_eq!(g.0, g.1, "a reader saw a writer's half-done update");
                })
            };
            for w in writers {
                w.join().expect("writer");
            }
            reader.join().expect("reader");
            assert_eq!(*lock.read(), (2, 2));
        },
    );
    assert!(n > 10);
}
