//! Simulated GPU writers: threads that write a VF's VRAM and report each
//! write through the driver's software dirty-tracking backend
//! (`gpup_sw_mark_dirty`), as the GPU's page-table dirty bits would.
//!
//! # Time
//! Writers run on **modelled time**, not the wall clock: write `n` of a
//! writer occupies `[time_of(n), time_of(n + 1))`, where `time_of` follows
//! from the VF's dirty rate. The copier ([`crate::migration`]) moves a shared
//! target forward (by each round's modelled transfer time) and writers write
//! as fast as the host lets them until their next write would start past it.
//! So the volume written per modelled second is exact whatever the host's
//! load, while the writes still run concurrently with the copier's harvests
//! and copies on real threads.
//!
//! # Protocol
//! Each write stores its data into [`Vram`] first and marks the pages
//! afterwards (the driver's mark is a `Release` RMW, the harvest an `Acquire`
//! one; see `src/basis/bitplane.rs`). A writer that marked first could have
//! its mark harvested, the page copied without the data, and the data never
//! sent.
//!
//! # Fault injection
//! [`Workload::drop_one_mark_in`] makes a writer skip the mark of every
//! n-th write: the deliberately faulty tracker that the proof must catch.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use dxgk_sys::NTSTATUS;
use gpup_rng::XorShift64Star;

use crate::adapter::Adapter;
use crate::vf::Reserve;
use crate::vram::Vram;

/// Where a VF's writes land within its working set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pattern {
    /// Every write-sized slot of the working set equally likely.
    Uniform,
    /// `hot_writes` of the writes (a fraction, 0..=1) go to the first
    /// `hot_fraction` of the working set, the rest uniformly to the remainder.
    HotSet {
        /// Fraction of the working set that is hot (0..=1).
        hot_fraction: f64,
        /// Fraction of the writes that go to the hot part (0..=1).
        hot_writes: f64,
    },
    /// The working set written in address order, slot after slot, wrapping.
    Sweep,
}

impl core::fmt::Display for Pattern {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Uniform => f.write_str("uniform"),
            Self::HotSet {
                hot_fraction,
                hot_writes,
            } => write!(
                f,
                "hot set ({:.0}% of the writes to {:.0}% of the working set)",
                hot_writes * 100.0,
                hot_fraction * 100.0
            ),
            Self::Sweep => f.write_str("sequential sweep"),
        }
    }
}

/// What the GPU does with each VF's VRAM.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Bytes written per modelled second, per VF (all its writers together).
    pub dirty_rate: u64,
    /// Bytes of the VF's address space that its writers write: the first
    /// `working_set` bytes, filled once in address order when the VF starts,
    /// then written with [`Self::pattern`].
    pub working_set: u64,
    /// Where the writes after the fill land.
    pub pattern: Pattern,
    /// Bytes per write (a multiple of 8); one mark per contiguous piece.
    pub write_size: u64,
    /// Writer threads per VF, each with an equal share of the rate and of the fill.
    pub writers_per_vf: u32,
    /// Fault injection: skip the mark of every n-th mark call (per writer).
    pub drop_one_mark_in: Option<u64>,
    /// Each writer stops after this many writes (the guest's work is done),
    /// then stays idle.
    pub write_limit: Option<u64>,
}

impl Workload {
    /// Write-sized slots in the working set.
    #[must_use]
    pub fn slots(&self) -> u64 {
        self.working_set.checked_div(self.write_size).unwrap_or(0)
    }

    /// Writes writer `w` makes to fill its share of the working set.
    #[must_use]
    pub fn fill_writes(&self, w: u32) -> u64 {
        let (start, end) = self.share(w);
        end - start
    }

    /// The slots `[start, end)` writer `w` fills.
    fn share(&self, w: u32) -> (u64, u64) {
        let k = u64::from(self.writers_per_vf.max(1));
        let slots = u128::from(self.slots());
        let at = |i: u64| u64::try_from(slots * u128::from(i) / u128::from(k)).unwrap_or(0);
        (at(u64::from(w)), at(u64::from(w) + 1))
    }

    /// The modelled time (ns since the VF started) at which a writer's write
    /// `n` starts.
    #[must_use]
    pub fn time_of(&self, n: u64) -> u64 {
        if self.dirty_rate == 0 {
            return u64::MAX;
        }
        let bytes =
            u128::from(n) * u128::from(self.write_size) * u128::from(self.writers_per_vf.max(1));
        u64::try_from(bytes * 1_000_000_000 / u128::from(self.dirty_rate)).unwrap_or(u64::MAX)
    }

    /// When every writer has filled its share of the working set.
    #[must_use]
    pub fn fill_time(&self) -> u64 {
        (0..self.writers_per_vf.max(1))
            .map(|w| self.time_of(self.fill_writes(w)))
            .max()
            .unwrap_or(0)
    }
}

/// Shared modelled-time target and the wakeups around it.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    target: AtomicU64,
    /// The modelled time the copier waits for: a writer that crosses it
    /// wakes the copier at once and goes on writing into the lead, so the
    /// copier's next query races live writes.
    watch: AtomicU64,
    lock: Mutex<()>,
    cv: Condvar,
}

/// How long a waiter sleeps before it looks again without a wakeup.
const POLL: Duration = Duration::from_millis(1);

impl Clock {
    /// Asks writers to wake the copier when they cross modelled time `t`.
    pub(crate) fn set_watch(&self, t: u64) {
        self.watch.store(t, Ordering::Release);
    }

    /// Lets writers run until modelled time `t`.
    pub(crate) fn set_target(&self, t: u64) {
        self.target.store(t, Ordering::Release);
        self.notify();
    }

    fn target(&self) -> u64 {
        self.target.load(Ordering::Acquire)
    }

    /// Wakes every waiter to look again.
    pub(crate) fn notify(&self) {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.cv.notify_all();
    }

    /// Blocks until `done()`; calls `tick` each time it looks.
    pub(crate) fn wait_until(&self, mut done: impl FnMut() -> bool, mut tick: impl FnMut()) {
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        while !done() {
            tick();
            guard = self
                .cv
                .wait_timeout(guard, POLL)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

const RUNNING: u8 = 0;
const PAUSED: u8 = 1;
const DONE: u8 = 2;

/// What one writer did, readable while it runs.
#[derive(Debug, Default)]
pub(crate) struct WriterState {
    /// Modelled time reached; `u64::MAX` once it has nothing more to write.
    progress: AtomicU64,
    /// Set (Release) once the writer saw a pause and finished its last mark.
    parked: AtomicBool,
    writes: AtomicU64,
    bytes: AtomicU64,
    marks: AtomicU64,
    dropped: AtomicU64,
    failed_marks: AtomicU64,
    /// The first failed mark's NTSTATUS bits.
    first_failure: AtomicU32,
}

/// The writers of one VF.
#[derive(Debug)]
pub(crate) struct WriterGroup {
    state: AtomicU8,
    writers: Vec<WriterState>,
}

/// What a VF's writers did in total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterTotals {
    /// Writes made.
    pub writes: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Successful `gpup_sw_mark_dirty` calls.
    pub marks: u64,
    /// Marks skipped by fault injection.
    pub dropped_marks: u64,
    /// Mark calls the driver failed.
    pub failed_marks: u64,
    /// The status of the first failed mark (0 if none failed).
    pub first_failure: NTSTATUS,
}

impl WriterGroup {
    pub(crate) fn new(writers: u32) -> Self {
        Self {
            state: AtomicU8::new(RUNNING),
            writers: (0..writers.max(1))
                .map(|_| WriterState::default())
                .collect(),
        }
    }

    fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    pub(crate) fn writer(&self, w: u32) -> Option<&WriterState> {
        self.writers.get(usize::try_from(w).ok()?)
    }

    /// Whether every running writer of this group has reached modelled time `t`.
    pub(crate) fn reached(&self, t: u64) -> bool {
        self.state() != RUNNING
            || self
                .writers
                .iter()
                .all(|w| w.progress.load(Ordering::Acquire) >= t)
    }

    /// The least modelled time its running writers reached (`u64::MAX` if none runs).
    pub(crate) fn progress(&self) -> u64 {
        if self.state() != RUNNING {
            return u64::MAX;
        }
        self.writers
            .iter()
            .map(|w| w.progress.load(Ordering::Acquire))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Pauses the writers and waits until each has finished its last write
    /// and mark (the `Acquire` loads of `parked` make those visible here).
    pub(crate) fn pause(&self, clock: &Clock) {
        self.state.store(PAUSED, Ordering::Release);
        clock.notify();
        clock.wait_until(
            || {
                self.writers
                    .iter()
                    .all(|w| w.parked.load(Ordering::Acquire))
            },
            || {},
        );
    }

    /// Retires the writers for good (they return).
    pub(crate) fn finish(&self, clock: &Clock) {
        self.state.store(DONE, Ordering::Release);
        clock.notify();
    }

    pub(crate) fn totals(&self) -> WriterTotals {
        let mut t = WriterTotals::default();
        for w in &self.writers {
            t.writes += w.writes.load(Ordering::Acquire);
            t.bytes += w.bytes.load(Ordering::Acquire);
            t.marks += w.marks.load(Ordering::Acquire);
            t.dropped_marks += w.dropped.load(Ordering::Acquire);
            t.failed_marks += w.failed_marks.load(Ordering::Acquire);
            if t.first_failure.0 == 0 {
                t.first_failure = NTSTATUS(w.first_failure.load(Ordering::Acquire).cast_signed());
            }
        }
        t
    }
}

/// Everything one writer thread uses.
pub(crate) struct Writer<'a> {
    pub(crate) adapter: &'a Adapter,
    pub(crate) vram: &'a Vram,
    pub(crate) reserve: &'a Reserve,
    pub(crate) workload: &'a Workload,
    pub(crate) clock: &'a Clock,
    pub(crate) group: &'a WriterGroup,
    pub(crate) index: u32,
    /// Distinguishes this writer's stamps and random stream from every other's.
    pub(crate) id: u64,
    pub(crate) seed: u64,
}

impl Writer<'_> {
    /// The slot of write `n`.
    fn slot(&self, n: u64, rng: &mut XorShift64Star) -> u64 {
        let slots = self.workload.slots();
        let (start, end) = self.workload.share(self.index);
        if n < end - start {
            return start + n;
        }
        match self.workload.pattern {
            Pattern::Sweep => (start + n) % slots,
            Pattern::Uniform => rng.below_mul_shift(slots),
            Pattern::HotSet {
                hot_fraction,
                hot_writes,
            } => {
                let hot = hot_slots(slots, hot_fraction);
                if hot >= slots || rng.unit_24_bits() < hot_writes {
                    rng.below_mul_shift(hot)
                } else {
                    hot + rng.below_mul_shift(slots - hot)
                }
            }
        }
    }

    /// Runs until the group is retired.
    pub(crate) fn run(self) {
        let Some(me) = self.group.writer(self.index) else {
            return;
        };
        let w = self.workload;
        let mut rng =
            XorShift64Star::from_seed(self.seed ^ self.id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut n = 0u64;
        let mut mark_calls = 0u64;
        let done_writing = |n: u64| {
            w.slots() == 0 || w.dirty_rate == 0 || w.write_limit.is_some_and(|limit| n >= limit)
        };
        loop {
            match self.group.state() {
                DONE => return,
                PAUSED => {
                    me.parked.store(true, Ordering::Release);
                    self.clock.notify();
                    self.clock
                        .wait_until(|| self.group.state() != PAUSED, || {});
                    me.parked.store(false, Ordering::Release);
                    continue;
                }
                _ => {}
            }
            if done_writing(n) {
                me.progress.store(u64::MAX, Ordering::Release);
                self.clock.notify();
                self.clock
                    .wait_until(|| self.group.state() != RUNNING, || {});
                continue;
            }
            let start = w.time_of(n);
            if start >= self.clock.target() {
                me.progress.store(start, Ordering::Release);
                self.clock.notify();
                self.clock.wait_until(
                    || self.clock.target() > start || self.group.state() != RUNNING,
                    || {},
                );
                continue;
            }
            let addr = self.slot(n, &mut rng) * w.write_size;
            let stamp = self.id << 40 ^ n;
            for (offset, len) in self.reserve.pieces(addr, w.write_size) {
                // Data first, then the mark.
                self.vram.write(offset, len, stamp);
                mark_calls += 1;
                if w.drop_one_mark_in
                    .is_some_and(|k| k > 0 && mark_calls.is_multiple_of(k))
                {
                    me.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let status = self.adapter.mark_dirty(self.reserve.segment(), offset, len);
                if status.is_success() {
                    me.marks.fetch_add(1, Ordering::Relaxed);
                } else if me.failed_marks.fetch_add(1, Ordering::Relaxed) == 0 {
                    me.first_failure
                        .store(status.0.cast_unsigned(), Ordering::Release);
                }
            }
            n += 1;
            me.writes.store(n, Ordering::Release);
            me.bytes.fetch_add(w.write_size, Ordering::Relaxed);
            let reached = w.time_of(n);
            me.progress.store(reached, Ordering::Release);
            let watch = self.clock.watch.load(Ordering::Acquire);
            if start < watch && reached >= watch {
                self.clock.notify();
            }
        }
    }
}

/// Slots in the hot part of a working set of `slots` slots: at least 1.
fn hot_slots(slots: u64, fraction: f64) -> u64 {
    portion(slots, fraction).clamp(1, slots.max(1))
}

/// `round(n * fraction)` with `fraction` clamped to `[0, 1]`, so the result
/// lies in `[0, n]`. (`u64 as f64` rounds above 2^53, far beyond any slot
/// count; `f64 as u64` saturates and is never undefined.)
#[must_use]
pub fn portion(n: u64, fraction: f64) -> u64 {
    #[allow(clippy::cast_precision_loss)]
    let n_f = n as f64;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let out = (n_f * fraction.clamp(0.0, 1.0)).round() as u64;
    out.min(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(pattern: Pattern) -> Workload {
        Workload {
            dirty_rate: 1 << 30,
            working_set: 1 << 20,
            pattern,
            write_size: 4096,
            writers_per_vf: 2,
            drop_one_mark_in: None,
            write_limit: None,
        }
    }

    #[test]
    fn modelled_time_follows_the_rate() {
        let w = workload(Pattern::Uniform);
        // Two writers share 1 GiB/s: each write of 4 KiB takes 2 * 4 KiB / 1 GiB/s.
        assert_eq!(w.time_of(1), 2 * 4096 * 1_000_000_000 / (1 << 30));
        assert_eq!(w.slots(), 256);
        assert_eq!(w.fill_writes(0) + w.fill_writes(1), 256);
        assert_eq!(w.fill_time(), w.time_of(128));
        let idle = Workload { dirty_rate: 0, ..w };
        assert_eq!(idle.time_of(0), u64::MAX);
    }

    #[test]
    fn hot_set_sizes_and_the_generator_are_sane() {
        assert_eq!(hot_slots(1000, 0.1), 100);
        assert_eq!(hot_slots(1000, 0.0), 1);
        assert_eq!(hot_slots(1000, 1.0), 1000);
        assert_eq!(hot_slots(7, 0.5), 4);
        let mut rng = XorShift64Star::from_seed(0);
        assert!((0..10_000).all(|_| rng.below_mul_shift(10) < 10));
        assert!((0..10_000).all(|_| (0.0..1.0).contains(&rng.unit_24_bits())));
        assert_eq!(portion(u64::MAX, 1.0), u64::MAX);
        assert_eq!(portion(10, f64::NAN), 0);
    }
}
