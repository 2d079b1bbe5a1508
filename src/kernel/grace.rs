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
//! # Exclusive readers: one store in, one store out
//! Two locked read-modify-writes per section (the increment and the
//! decrement) cost more than the rest of a mark. So a stripe also has a
//! `held` word for one **exclusive** reader at a time, which enters by
//! writing `2 | phase` there and leaves by writing 0; a synchronize waits
//! for the stripe's counters *and* for `held` to stop naming the phase it
//! drains. Who may be a stripe's exclusive reader:
//! - **claimed** ([`Domain::read_claim`], Windows): a reader takes `held`
//!   with one compare-exchange (`SeqCst`, which is the increment's place in
//!   the store-buffering argument) and leaves with a `Release` store: one
//!   locked instruction per section instead of two. If `held` is taken
//!   (another thread preempted inside on this processor, or an interrupt
//!   nested in a section), the reader counts instead.
//! - **owned** ([`Domain::read_owned`], the Linux host): a thread owns a
//!   stripe for its lifetime ([`Owner`], claimed on its first section,
//!   released at its exit; no other thread ever writes its `held`), so it
//!   enters with a plain store and a compiler fence and leaves with a
//!   `Release` store: no locked instruction at all. What the missing fence
//!   would order is supplied by the writer: a synchronize issues one
//!   process-wide memory barrier (`membarrier(2)`,
//!   `MEMBARRIER_CMD_PRIVATE_EXPEDITED`) after its first flip, before it
//!   reads any `held` word. Every thread running then executes a full
//!   barrier at some point X of its code: an owner whose load of the
//!   unpublished pointer came before X had stored its `held` before X, and
//!   the writer reads that store (or the exit after it) in both waits; one
//!   whose load came after X sees the unpublish. (A thread not running is
//!   ordered by the context switch.) This is the asymmetric fence of
//!   user-space RCU and of `folly::asymmetric_thread_fence_heavy`. The
//!   barrier is skipped when no other thread owns a stripe: a thread's
//!   ownership is a `SeqCst` compare-exchange before its first section, so
//!   an owner the writer's `SeqCst` scan missed claimed after the unpublish
//!   and sees it. Threads beyond the stripes, and every thread where the
//!   barrier is not available (registration refused, Miri, other hosts),
//!   count.
//!
//! The two kinds never share a domain's stripes (a claim could land
//! between an owner's check and its store): Windows claims, the host owns.
//! Under loom the compiler fence and the process-wide barrier are both
//! modelled as `SeqCst` fences; `model_grace` checks both kinds, and that
//! an owner without the barrier is caught.
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

use crate::kernel::sync::{AtomicU64, Ordering, loom_sc_fence};

/// Stripes of the global domain: one per processor up to this many (more
/// processors share stripes, which costs only a shared line between them).
pub(crate) const STRIPES: usize = 16;

/// Polls of a wait that yield before it starts sleeping (Windows).
#[cfg(all(target_os = "windows", not(loom)))]
const YIELDS_BEFORE_SLEEP: u32 = 64;

/// One stripe: its two in-flight counters, its exclusive reader's word and
/// (host) its owner, alone on 128 bytes.
#[repr(align(128))]
struct Stripe {
    in_flight: [AtomicU64; 2],
    /// 0, or `2 | phase` while the stripe's exclusive reader is inside.
    held: AtomicU64,
    /// Non-zero while a thread owns the stripe ([`Owner`]).
    owner: AtomicU64,
}

impl Stripe {
    #[cfg(not(loom))]
    const fn new() -> Self {
        Self {
            in_flight: [AtomicU64::new(0), AtomicU64::new(0)],
            held: AtomicU64::new(0),
            owner: AtomicU64::new(0),
        }
    }
    #[cfg(loom)]
    fn new() -> Self {
        Self {
            in_flight: [AtomicU64::new(0), AtomicU64::new(0)],
            held: AtomicU64::new(0),
            owner: AtomicU64::new(0),
        }
    }
}

#[cfg(any(loom, not(target_os = "windows")))]
/// A thread's ownership of one stripe of a domain (see the module docs):
/// neither `Send` nor `Sync`, so it stays with the thread that claimed it;
/// dropping it gives the stripe back.
pub(crate) struct Owner<'a, const N: usize> {
    domain: &'a Domain<N>,
    index: usize,
    _thread: core::marker::PhantomData<*const ()>,
}

#[cfg(any(loom, not(target_os = "windows")))]
impl<const N: usize> Drop for Owner<'_, N> {
    fn drop(&mut self) {
        if let Some(stripe) = self.domain.stripes.get(self.index) {
            // A guard leaked inside a section keeps `held` set: the stripe
            // then stays owned (others count), never handed to a second
            // owner that would overwrite it.
            if stripe.held.load(Ordering::SeqCst) == 0 {
                stripe.owner.store(0, Ordering::SeqCst);
            }
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
    /// The counter it incremented, or the `held` word it set.
    word: &'a AtomicU64,
    /// Whether `word` is a stripe's `held` (cleared on exit) rather than a
    /// counter (decremented).
    held: bool,
}

impl<'a, const N: usize> Guard<'a, N> {
    /// The guard of a section that incremented `counter`.
    fn counted(counter: &'a AtomicU64) -> Self {
        Self {
            word: counter,
            held: false,
        }
    }
    /// The guard of a section that set the `held` word `held`.
    fn held(held: &'a AtomicU64) -> Self {
        Self {
            word: held,
            held: true,
        }
    }
}

impl<const N: usize> Drop for Guard<'_, N> {
    #[inline]
    fn drop(&mut self) {
        if self.held {
            // `Release`: the section's accesses happen before a writer's
            // load that reads the 0.
            self.word.store(0, Ordering::Release);
        } else {
            self.word.fetch_sub(1, Ordering::SeqCst);
        }
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
            return Guard::counted(counter);
        }
        counter.fetch_add(1, Ordering::SeqCst);
        loom_sc_fence();
        Guard::counted(counter)
    }

    /// The tag an exclusive reader writes in `held`: `2 | phase` (0: nobody).
    fn tag(&self) -> u64 {
        (self.phase.load(Ordering::SeqCst) & 1) | 2
    }

    /// Enters a read section as stripe `hint % N`'s exclusive reader,
    /// claiming it with one compare-exchange, or counts on the stripe when
    /// another reader holds it. Never blocks, allocates nothing, any IRQL.
    /// Only for domains no thread owns a stripe of (module docs).
    #[cfg(any(loom, target_os = "windows"))]
    pub(crate) fn read_claim(&self, hint: usize) -> Guard<'_, N> {
        let Some(stripe) = self.stripes.get(hint.checked_rem(N).unwrap_or(0)) else {
            return self.read_on(hint);
        };
        #[cfg(all(test, loom))]
        let order = if self.broken == model::Broken::WeakClaim {
            Ordering::AcqRel
        } else {
            Ordering::SeqCst
        };
        #[cfg(not(all(test, loom)))]
        let order = Ordering::SeqCst;
        if stripe
            .held
            .compare_exchange(0, self.tag(), order, Ordering::Relaxed)
            .is_ok()
        {
            #[cfg(all(test, loom))]
            if self.broken == model::Broken::WeakClaim {
                return Guard::held(&stripe.held);
            }
            loom_sc_fence();
            return Guard::held(&stripe.held);
        }
        self.read_on(hint)
    }

    #[cfg(any(loom, not(target_os = "windows")))]
    /// Claims a stripe for the calling thread, if the process-wide barrier
    /// is available and a stripe is free: the thread's later sections
    /// ([`Self::read_owned`]) then write no shared line and take no locked
    /// instruction. `SeqCst` (the module docs' argument for skipping the
    /// barrier when nobody else owns a stripe).
    pub(crate) fn claim_owner(&self) -> Option<Owner<'_, N>> {
        if !heavy::ready() {
            return None;
        }
        let index = self.stripes.iter().position(|s| {
            s.owner
                .compare_exchange(0, 1, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
        })?;
        loom_sc_fence();
        Some(Owner {
            domain: self,
            index,
            _thread: core::marker::PhantomData,
        })
    }

    #[cfg(any(loom, not(target_os = "windows")))]
    /// Enters a read section as the owner of `owner`'s stripe: a plain
    /// store and a compiler fence (module docs). A nested section, or an
    /// owner of another domain, counts instead. Never blocks, allocates
    /// nothing.
    #[inline]
    pub(crate) fn read_owned(&self, owner: &Owner<'_, N>) -> Guard<'_, N> {
        let stripe = self.stripes.get(owner.index);
        let Some(stripe) = stripe.filter(|_| core::ptr::eq(owner.domain, self)) else {
            return self.read_on(owner.index);
        };
        // Only this thread writes `held` (it owns the stripe): `Relaxed`.
        if stripe.held.load(Ordering::Relaxed) != 0 {
            return self.read_on(owner.index);
        }
        stripe.held.store(self.tag(), Ordering::Relaxed);
        #[cfg(all(test, loom))]
        if self.broken == model::Broken::NoBarrier {
            return Guard::held(&stripe.held);
        }
        light_fence();
        Guard::held(&stripe.held)
    }

    /// Whether a stripe other than `mine` is owned.
    fn owned_by_others(&self, mine: Option<usize>) -> bool {
        self.stripes
            .iter()
            .enumerate()
            .any(|(i, s)| Some(i) != mine && s.owner.load(Ordering::SeqCst) != 0)
    }

    /// Whether stripe `s` has an exclusive reader inside under `phase`.
    fn held_in(s: &Stripe, phase: usize) -> bool {
        s.held.load(Ordering::SeqCst) == 2 | u64::from(phase == 1)
    }

    /// The readers inside under phase `phase`: its counters' sum plus the
    /// exclusive readers holding that phase.
    fn in_flight(&self, phase: usize) -> u64 {
        self.stripes.iter().fold(0u64, |sum, s| {
            let counted = s
                .in_flight
                .get(phase)
                .map_or(0, |c| c.load(Ordering::SeqCst));
            sum.wrapping_add(counted)
                .wrapping_add(u64::from(Self::held_in(s, phase)))
        })
    }

    /// Flips the phase away from `phase`, issues the process-wide barrier
    /// when `barrier` (module docs), then waits until no reader is inside
    /// under `phase`.
    fn drain(&self, phase: usize, barrier: bool) {
        self.phase.store(u64::from(phase == 0), Ordering::SeqCst);
        loom_sc_fence();
        if barrier {
            heavy::barrier();
        }
        let mut polls = 0u32;
        while self.in_flight(phase) != 0 {
            pause(polls);
            polls = polls.saturating_add(1);
        }
    }

    /// Waits until every read section of this domain that began before this
    /// call has ended. PASSIVE_LEVEL only (it sleeps).
    #[cfg(any(test, loom, target_os = "windows"))]
    pub(crate) fn synchronize(&self) {
        self.synchronize_as(None);
    }

    /// [`Self::synchronize`] from the owner of stripe `mine`, if any: its
    /// own stripe needs no barrier (its stores precede the scan in its own
    /// program order, and it is not inside a section while it waits).
    pub(crate) fn synchronize_as(&self, mine: Option<usize>) {
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
        // One barrier, in the first wait: every owner's section that loaded
        // what the caller unpublished stored its `held` before it, and both
        // waits read after it (module docs).
        loom_sc_fence();
        let barrier = self.owned_by_others(mine);
        self.drain(old, barrier);
        #[cfg(all(test, loom))]
        if self.broken == model::Broken::OneWait {
            self.busy.store(0, Ordering::SeqCst);
            return;
        }
        self.drain(old ^ 1, false);
        self.busy.store(0, Ordering::SeqCst);
    }
}

#[cfg(any(loom, not(target_os = "windows")))]
/// Where readers need no fence of their own (owners: the writer's
/// process-wide barrier stands in for it), a compiler fence: the store that
/// enters the section stays before the section's loads in the code. Under
/// loom, the `SeqCst` fence the barrier amounts to.
#[inline]
fn light_fence() {
    #[cfg(loom)]
    loom::sync::atomic::fence(Ordering::SeqCst);
    #[cfg(not(loom))]
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
}

/// The driver's domain.
#[cfg(not(loom))]
static DOMAIN: Domain<STRIPES> = Domain::new();

/// Enters a read section of the driver's domain (see the module docs): no
/// lock, no allocation, no shared line written; any IRQL. On Windows the
/// current processor's stripe, claimed or counted; on the host the thread's
/// own stripe, or counted.
#[cfg(not(loom))]
#[inline]
pub(crate) fn read() -> Section {
    #[cfg(target_os = "windows")]
    return DOMAIN.read_claim(stripe_hint());
    #[cfg(not(target_os = "windows"))]
    return OWNER
        .try_with(|owner| owner.0.as_ref().map(|o| DOMAIN.read_owned(o)))
        .ok()
        .flatten()
        .unwrap_or_else(|| DOMAIN.read_on(stripe_hint()));
}

/// Waits until every read section of the driver's domain that began before
/// this call has ended. PASSIVE_LEVEL only.
#[cfg(not(loom))]
pub(crate) fn synchronize() {
    #[cfg(target_os = "windows")]
    DOMAIN.synchronize();
    #[cfg(not(target_os = "windows"))]
    DOMAIN.synchronize_as(OWNED.try_with(Cell::get).ok().flatten());
}

#[cfg(all(not(loom), not(target_os = "windows")))]
use core::cell::Cell;

/// A host thread's [`Owner`] of the driver's domain, if it got one: when the
/// thread exits, `OWNED` forgets the stripe before the stripe is given back
/// (a synchronize in a later destructor of the thread then no longer takes
/// a stripe another thread may own by then for its own).
#[cfg(all(not(loom), not(target_os = "windows")))]
struct Claimed(Option<Owner<'static, STRIPES>>);

#[cfg(all(not(loom), not(target_os = "windows")))]
impl Drop for Claimed {
    fn drop(&mut self) {
        let _ = OWNED.try_with(|o| o.set(None));
    }
}

#[cfg(all(not(loom), not(target_os = "windows")))]
std::thread_local! {
    /// The host thread's stripe of the driver's domain, claimed on its first
    /// section (none when every stripe is owned or the barrier is not
    /// available), given back when the thread exits.
    static OWNER: Claimed = {
        let owner = DOMAIN.claim_owner();
        let _ = OWNED.try_with(|o| o.set(owner.as_ref().map(|o| o.index)));
        Claimed(owner)
    };
    /// The index of the stripe `OWNER` holds, once it is claimed: what a
    /// synchronize reads (without claiming a stripe for a thread that only
    /// waits).
    static OWNED: Cell<Option<usize>> = const { Cell::new(None) };
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

/// The host's stripe for a thread that counts: a per-thread index, dealt
/// round-robin on its first counted section.
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

/// The process-wide memory barrier of owned sections (module docs).
#[cfg(all(not(loom), not(miri), target_os = "linux"))]
mod heavy {
    use core::sync::atomic::{AtomicU8, Ordering};

    /// `membarrier(2)` commands (linux/membarrier.h).
    const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    /// 0 not tried yet, 1 registered, 2 refused.
    static STATE: AtomicU8 = AtomicU8::new(0);

    /// Whether the barrier is available: registers the process for it once
    /// (racing first callers both register; it is idempotent).
    pub(super) fn ready() -> bool {
        match STATE.load(Ordering::SeqCst) {
            1 => true,
            2 => false,
            _ => {
                // SAFETY: membarrier takes two integers and touches no
                // memory of ours; an old kernel or a seccomp filter refuses
                // it with -1 (then nobody owns a stripe).
                let r = unsafe {
                    libc::syscall(
                        libc::SYS_membarrier,
                        MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                        0 as libc::c_long,
                    )
                };
                let state = if r == 0 { 1 } else { 2 };
                STATE.store(state, Ordering::SeqCst);
                state == 1
            }
        }
    }

    /// A full memory barrier on every running thread of the process.
    pub(super) fn barrier() {
        // SAFETY: as in `ready`. It is called only once a thread owns a
        // stripe, so after the registration succeeded; a registered process
        // is refused only for bad arguments, and these are constant.
        unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                MEMBARRIER_CMD_PRIVATE_EXPEDITED,
                0 as libc::c_long,
            );
        }
    }
}

/// Under loom, the process-wide barrier is a `SeqCst` fence (module docs).
#[cfg(loom)]
mod heavy {
    pub(super) fn ready() -> bool {
        true
    }
    pub(super) fn barrier() {
        loom::sync::atomic::fence(crate::kernel::sync::Ordering::SeqCst);
    }
}

/// Elsewhere (Windows, where sections claim; Miri; other hosts) no barrier:
/// no thread owns a stripe.
#[cfg(all(not(loom), any(miri, not(target_os = "linux"))))]
mod heavy {
    #[cfg(not(target_os = "windows"))]
    pub(super) fn ready() -> bool {
        false
    }
    pub(super) fn barrier() {}
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
#[path = "test_grace.rs"]
mod tests;

#[cfg(all(test, loom))]
#[path = "model_grace.rs"]
pub(crate) mod model;
