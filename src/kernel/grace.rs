//! A grace-period primitive: read sections that take no lock and write no
//! shared cache line, and a [`synchronize`] that waits until every read
//! section that began before it has ended (SRCU-style).
//!
//! # Use
//! A reader (a dirty mark) wraps its whole access to a published structure in
//! [`read`]; the guard ends the section when dropped. Inside, it loads the
//! published pointer with `SeqCst` (see *Ordering*). A writer that retires
//! something readers can reach unpublishes it first (a `SeqCst` store or
//! swap of the pointer), then calls [`synchronize`] (PASSIVE_LEVEL only),
//! then owns it: no reader can still hold it.
//!
//! ```text
//! reader:  let _g = grace::read();  p = PTR.load(SeqCst);  use(*p);  drop(_g)
//! writer:  old = PTR.swap(new, SeqCst);  grace::synchronize();  free(old)
//! ```
//!
//! One global domain serves the whole driver ([`read`], [`synchronize`]): a
//! read section is a few nanoseconds and a synchronize waits only for the
//! sections in flight, so sharing it between adapters costs nothing but
//! an occasional wait for another adapter's mark.
//!
//! # How
//! [`Domain`] holds a phase (`u64`; its low bit names the current one of two
//! counters) and `N` stripes, each on its own 128-byte block (two cache
//! lines: no false sharing with a neighbour's adjacent-line prefetch), each
//! holding two in-flight counters, one per phase. A reader picks its stripe
//! (the current processor on Windows, a per-thread index on the host: see
//! `stripe_hint`), reads the phase, increments that phase's counter of its
//! stripe, and on exit decrements the **same** counter (the guard remembers
//! stripe and phase; the thread may have moved to another processor and the
//! phase may have flipped since). Every counter is the number of readers
//! inside that entered it, so it is never negative.
//!
//! [`synchronize`] (one at a time: a second caller waits for the first)
//! flips the phase and waits until the old phase's counters sum to zero, then
//! flips again and waits for the other phase's counters.
//!
//! **Why two waits.** A reader reads the phase and increments *later*. One
//! that read phase `p` just before a synchronize flipped it to `p'` and was
//! preempted increments counter `p` after that synchronize already saw it at
//! zero: harmless for that synchronize (the reader's loads come after its
//! sum, so after the unpublish before it), but the reader is now inside,
//! counted under `p` while the phase is `p'`. It may load a pointer that the
//! *next* writer unpublishes; with one wait, that writer's synchronize flips
//! `p'` to `p` and waits for `p'` only, and frees what the reader still
//! holds. Waiting for both counters, each after a flip away from it, catches
//! every reader: one whose section began before the unpublish incremented
//! one of the two counters before it, and each wait's sum reads that counter
//! after it. The flips are what bound the waits: new readers go to the other
//! counter, so each wait sees only the readers already in flight. The loom
//! model below catches the one-wait variant.
//!
//! # Ordering
//! Everything is `SeqCst`. What needs it is a store-buffering pattern: the
//! reader increments its counter then loads the published pointer; the
//! writer stores the pointer then loads the counters. Unless all four are
//! `SeqCst`, both may miss the other's store (the reader sees the old
//! pointer, the writer a zero count). So a caller's loads of what
//! [`synchronize`] protects are `SeqCst` too. The exit decrement must be at
//! least `Release` and the wait's loads `Acquire` (the reader's accesses
//! happen before the writer frees); `SeqCst` covers both. The model's second
//! broken variant (a `Release` increment and `Acquire` pointer load) is
//! caught.
//!
//! # Bound of a wait
//! Read sections never block (marks take no lock and allocate nothing), so a
//! synchronize waits at most for the longest read section in flight when it
//! began, twice, plus the time its sleeps overshoot. The wait polls: on the
//! host `std::thread::yield_now`, under loom `loom::thread::yield_now`, on
//! Windows `KeDelayExecutionThread` (a zero interval, a yield, for the first
//! polls; then 1 ms sleeps). `docs/locking.md` has the bound in context.

use crate::kernel::sync::{AtomicU64, Ordering};

/// Stripes of the global domain: one per processor up to this many (more
/// processors share stripes, which costs only a shared line between them).
pub(crate) const STRIPES: usize = 16;

/// Polls of a wait that yield before it starts sleeping (Windows).
#[cfg(all(target_os = "windows", not(loom)))]
const YIELDS_BEFORE_SLEEP: u32 = 64;

/// One stripe's two in-flight counters, alone on 128 bytes.
#[repr(align(128))]
struct Stripe {
    in_flight: [AtomicU64; 2],
}

impl Stripe {
    #[cfg(not(loom))]
    const fn new() -> Self {
        Self {
            in_flight: [AtomicU64::new(0), AtomicU64::new(0)],
        }
    }
    #[cfg(loom)]
    fn new() -> Self {
        Self {
            in_flight: [AtomicU64::new(0), AtomicU64::new(0)],
        }
    }
}

/// A grace-period domain of `N` stripes (the driver has one, [`read`] and
/// [`synchronize`]; the loom model makes its own).
pub(crate) struct Domain<const N: usize> {
    /// The low bit names the current phase.
    phase: AtomicU64,
    /// Non-zero while a synchronize runs (they run one at a time).
    busy: AtomicU64,
    stripes: [Stripe; N],
    /// The deliberately broken variant the loom model runs.
    #[cfg(all(test, loom))]
    pub(crate) broken: model::Broken,
}

/// A read section of a [`Domain`]: ends when dropped.
#[must_use = "the read section ends when the guard is dropped"]
pub(crate) struct Guard<'a, const N: usize> {
    counter: &'a AtomicU64,
}

impl<const N: usize> Drop for Guard<'_, N> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<const N: usize> Domain<N> {
    /// A domain with no reader inside.
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Self {
        Self {
            phase: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            stripes: [const { Stripe::new() }; N],
        }
    }
    /// A domain with no reader inside.
    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        Self {
            phase: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            stripes: core::array::from_fn(|_| Stripe::new()),
            #[cfg(test)]
            broken: model::Broken::None,
        }
    }

    /// Enters a read section on stripe `hint % N`. Never blocks, allocates
    /// nothing, any IRQL.
    pub(crate) fn read_on(&self, hint: usize) -> Guard<'_, N> {
        // `N` is a non-zero constant of every domain built; `get` keeps the
        // empty case panic-free anyway (it then counts on the phase word,
        // which no synchronize waits for: a domain of no stripes protects
        // nothing, and none is built).
        let stripe = self.stripes.get(hint.checked_rem(N).unwrap_or(0));
        let phase = usize::from(self.phase.load(Ordering::SeqCst) & 1 == 1);
        let counter = stripe
            .and_then(|s| s.in_flight.get(phase))
            .unwrap_or(&self.busy);
        #[cfg(all(test, loom))]
        if self.broken == model::Broken::WeakEnter {
            counter.fetch_add(1, Ordering::Release);
            return Guard { counter };
        }
        counter.fetch_add(1, Ordering::SeqCst);
        loom_sc_fence();
        Guard { counter }
    }

    /// The sum of phase `phase`'s counters.
    fn in_flight(&self, phase: usize) -> u64 {
        self.stripes
            .iter()
            .filter_map(|s| s.in_flight.get(phase))
            .fold(0u64, |sum, c| sum.wrapping_add(c.load(Ordering::SeqCst)))
    }

    /// Flips the phase away from `phase`, then waits until its counters sum
    /// to zero.
    fn drain(&self, phase: usize) {
        self.phase.store(u64::from(phase == 0), Ordering::SeqCst);
        loom_sc_fence();
        let mut polls = 0u32;
        while self.in_flight(phase) != 0 {
            pause(polls);
            polls = polls.saturating_add(1);
        }
    }

    /// Waits until every read section of this domain that began before this
    /// call has ended. PASSIVE_LEVEL only (it sleeps).
    pub(crate) fn synchronize(&self) {
        let mut polls = 0u32;
        while self
            .busy
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            pause(polls);
            polls = polls.saturating_add(1);
        }
        let old = usize::from(self.phase.load(Ordering::SeqCst) & 1 == 1);
        self.drain(old);
        #[cfg(all(test, loom))]
        if self.broken == model::Broken::OneWait {
            self.busy.store(0, Ordering::SeqCst);
            return;
        }
        self.drain(old ^ 1);
        self.busy.store(0, Ordering::SeqCst);
    }
}

/// Under loom, a `SeqCst` fence; elsewhere nothing. Loom models `SeqCst`
/// accesses as acquire/release only (its documented limitation) but `SeqCst`
/// fences fully; the store-buffering argument (module docs) needs the
/// reader's increment and its later loads, and the writer's unpublish and
/// its sums, in one total order, which `SeqCst` accesses are everywhere
/// else. So under loom the fence stands in for it, after the increment and
/// after each flip (the writer's unpublish is followed by the first flip).
/// The same stand-in as `basis::dirty`'s.
#[inline]
fn loom_sc_fence() {
    #[cfg(loom)]
    loom::sync::atomic::fence(Ordering::SeqCst);
}

/// The driver's domain.
#[cfg(not(loom))]
static DOMAIN: Domain<STRIPES> = Domain::new();

/// Enters a read section of the driver's domain (see the module docs): no
/// lock, no allocation, no shared line written; any IRQL.
#[cfg(not(loom))]
#[inline]
pub(crate) fn read() -> Section {
    DOMAIN.read_on(stripe_hint())
}

/// Waits until every read section of the driver's domain that began before
/// this call has ended. PASSIVE_LEVEL only.
#[cfg(not(loom))]
pub(crate) fn synchronize() {
    DOMAIN.synchronize();
}

/// A read section of the driver's domain (what [`read`] returns).
#[cfg(not(loom))]
pub(crate) type Section = Guard<'static, STRIPES>;

/// Under loom the driver has no global domain (loom's atomics cannot live
/// in a static): [`read`] and [`synchronize`] do nothing there. The models of
/// the driver's core (`basis::model_check`) run their marks and harvests under
/// a lock of the model, so they never race a reclamation; the grace period
/// itself is checked on a [`Domain`] of its own (`model_grace`).
#[cfg(loom)]
pub(crate) struct Section;

/// Enters a read section (under loom: nothing, see [`Section`]).
#[cfg(loom)]
pub(crate) fn read() -> Section {
    Section
}

/// Waits for the read sections in flight (under loom: nothing, see [`Section`]).
#[cfg(loom)]
pub(crate) fn synchronize() {}

/// The host's stripe: a per-thread index, dealt round-robin on a thread's
/// first read section.
#[cfg(all(not(loom), not(target_os = "windows")))]
fn stripe_hint() -> usize {
    use core::cell::Cell;
    use core::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE
        .try_with(|s| {
            if s.get() == usize::MAX {
                s.set(NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES);
            }
            s.get()
        })
        .unwrap_or(0)
}

/// Windows' stripe: the current processor's system-wide index (the thread
/// may move right after; the guard remembers the stripe it counted on).
#[cfg(all(not(loom), target_os = "windows"))]
fn stripe_hint() -> usize {
    // SAFETY: no argument read (NULL: no PROCESSOR_NUMBER asked); any IRQL.
    let n = unsafe { os::KeGetCurrentProcessorNumberEx(core::ptr::null_mut()) };
    usize::try_from(n).unwrap_or(0)
}

/// One poll's pause of a wait.
#[cfg(loom)]
fn pause(_polls: u32) {
    loom::thread::yield_now();
}

/// One poll's pause of a wait.
#[cfg(all(not(loom), not(target_os = "windows")))]
fn pause(_polls: u32) {
    std::thread::yield_now();
}

/// One poll's pause of a wait: a yield (zero interval) for the first
/// [`YIELDS_BEFORE_SLEEP`] polls, then 1 ms sleeps.
#[cfg(all(not(loom), target_os = "windows"))]
fn pause(polls: u32) {
    // Relative intervals are negative, in 100 ns units.
    let mut interval = dxgk_sys::LARGE_INTEGER {
        QuadPart: if polls < YIELDS_BEFORE_SLEEP {
            0
        } else {
            -10_000
        },
    };
    // SAFETY: a live local interval; PASSIVE_LEVEL (synchronize's contract);
    // kernel mode, not alertable: it returns STATUS_SUCCESS after the delay.
    let _ = unsafe { os::KeDelayExecutionThread(os::KERNEL_MODE, 0, &raw mut interval) };
}

#[cfg(all(not(loom), target_os = "windows"))]
mod os {
    use dxgk_sys::{BOOLEAN, LARGE_INTEGER, NTSTATUS};

    /// `KernelMode` (KPROCESSOR_MODE).
    pub(super) const KERNEL_MODE: i8 = 0;

    // The `raw` backend links ntoskrnl through raw-dylib; the `wdk` one
    // through the WDK's ntoskrnl.lib (as `kernel::worker`). Both routines are
    // exported by every x64 Windows since 7 and by Wine's ntoskrnl.exe.
    #[cfg_attr(
        not(feature = "wdk"),
        link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")
    )]
    unsafe extern "system" {
        pub(super) fn KeGetCurrentProcessorNumberEx(ProcNumber: *mut core::ffi::c_void) -> u32;
        pub(super) fn KeDelayExecutionThread(
            WaitMode: i8,
            Alertable: BOOLEAN,
            Interval: *mut LARGE_INTEGER,
        ) -> NTSTATUS;
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn stripes_sit_on_their_own_lines() {
        assert_eq!(core::mem::align_of::<Stripe>(), 128);
        assert_eq!(core::mem::size_of::<Stripe>(), 128);
    }

    #[test]
    fn a_reader_inside_holds_synchronize_until_it_leaves() {
        use std::sync::atomic::{AtomicBool, Ordering as O};
        static D: Domain<4> = Domain::new();
        let guard = D.read_on(1);
        let done = std::sync::Arc::new(AtomicBool::new(false));
        let seen = std::sync::Arc::clone(&done);
        let waiter = std::thread::spawn(move || {
            D.synchronize();
            seen.store(true, O::SeqCst);
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            !done.load(O::SeqCst),
            "synchronize returned with a reader inside"
        );
        drop(guard);
        waiter.join().unwrap();
        assert!(done.load(O::SeqCst));
        // A reader entering after a synchronize does not hold the next one
        // once it left, on any stripe, in either phase.
        for hint in 0..8 {
            drop(D.read_on(hint));
            D.synchronize();
        }
        assert_eq!(D.in_flight(0) + D.in_flight(1), 0);
    }

    #[test]
    fn the_global_domain_reads_and_synchronizes() {
        let g = read();
        drop(g);
        synchronize();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..1000 {
                        let _g = read();
                    }
                })
            })
            .collect();
        synchronize();
        threads.into_iter().for_each(|t| t.join().unwrap());
        synchronize();
    }
}

#[cfg(all(test, loom))]
#[path = "model_grace.rs"]
pub(crate) mod model;
