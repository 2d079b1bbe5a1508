//! The failure-injecting global allocator and the walker that fails each
//! allocation of a DDI call in turn.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use dxgk_sys::*;

/// The global allocator with a per-thread failure switch.
pub(crate) struct Injecting;

thread_local! {
    /// Whether this thread's allocations are counted (and may fail).
    static ARMED: Cell<bool> = const { Cell::new(false) };
    /// Allocations this thread made while armed.
    static SEEN: Cell<u64> = const { Cell::new(0) };
    /// The index (among armed allocations) of the one to fail.
    static FAIL_AT: Cell<Option<u64>> = const { Cell::new(None) };
    /// Whether the allocation to fail was reached (and failed).
    static FAILED: Cell<bool> = const { Cell::new(false) };
    /// The largest allocation (bytes) this thread made while armed.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    /// Allocations minus deallocations on this thread, armed or not.
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

impl Injecting {
    /// Counts one allocation; `false` if it is the one to fail.
    pub(crate) fn admit_size(size: usize) -> bool {
        if ARMED.with(Cell::get) {
            LARGEST.with(|l| l.set(l.get().max(size)));
        }
        Self::admit()
    }

    /// Counts one allocation; `false` if it is the one to fail.
    pub(crate) fn admit() -> bool {
        if !ARMED.with(Cell::get) {
            return true;
        }
        let n = SEEN.with(|s| {
            let n = s.get();
            s.set(n + 1);
            n
        });
        if FAIL_AT.with(Cell::get) == Some(n) {
            FAILED.with(|f| f.set(true));
            return false;
        }
        true
    }
}

// SAFETY: forwards to the system allocator, or returns NULL (a valid answer
// of `alloc`/`realloc` that callers must handle).
unsafe impl GlobalAlloc for Injecting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !Self::admit_size(layout.size()) {
            return core::ptr::null_mut();
        }
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.with(|l| l.set(l.get() + 1));
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !Self::admit_size(layout.size()) {
            return core::ptr::null_mut();
        }
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.with(|l| l.set(l.get() + 1));
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !Self::admit_size(new_size) {
            // The old block stays valid and allocated, as `realloc` requires.
            return core::ptr::null_mut();
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.with(|l| l.set(l.get() - 1));
        // SAFETY: `ptr` came from this allocator with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Injecting = Injecting;

/// Runs `f` armed, failing armed allocation `fail_at` (if any). Returns what
/// `f` returned, how many allocations it made (up to and including a failed
/// one), whether the failure was injected, and the change in live
/// allocations across the call.
pub(crate) fn armed<R>(fail_at: Option<u64>, f: impl FnOnce() -> R) -> (R, u64, bool, i64) {
    let live = LIVE.with(Cell::get);
    SEEN.with(|s| s.set(0));
    FAIL_AT.with(|x| x.set(fail_at));
    FAILED.with(|x| x.set(false));
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    let leaked = LIVE.with(Cell::get) - live;
    (r, SEEN.with(Cell::get), FAILED.with(Cell::get), leaked)
}

/// Runs `f` armed (no failure) and returns what it returned and the size of
/// the largest allocation it made (0 for none).
pub(crate) fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|l| l.set(0));
    let (r, _, _, _) = armed(None, f);
    (r, LARGEST.with(Cell::get))
}

/// What one walk covered.
pub(crate) struct Walked {
    pub(crate) name: String,
    pub(crate) points: u64,
}

/// Walks every allocation of `op`: first counts them in a clean run, then for
/// each `k` sets up afresh, fails allocation `k`, and requires the injection
/// to be reached, `failed(state, result)` to hold (documented failure, state
/// unchanged), and no allocation of the failed call to remain. `ok` checks
/// the clean run.
pub(crate) fn walk<S, R>(
    name: &str,
    setup: impl Fn() -> S,
    op: impl Fn(&S) -> R,
    ok: impl Fn(&S, R) -> Result<(), String>,
    failed: impl Fn(&S, R) -> Result<(), String>,
) -> Result<Walked, String> {
    let state = setup();
    let (r, points, _, _) = armed(None, || op(&state));
    ok(&state, r).map_err(|e| format!("{name}, no failure injected: {e}"))?;
    drop(state);
    for k in 0..points {
        let state = setup();
        let (r, _, injected, leaked) = armed(Some(k), || op(&state));
        if !injected {
            return Err(format!(
                "{name}: allocation {k} of {points} was not reached the second time"
            ));
        }
        if leaked != 0 {
            return Err(format!(
                "{name}: failing allocation {k} of {points} leaked {leaked} allocation(s)"
            ));
        }
        failed(&state, r)
            .map_err(|e| format!("{name}: failing allocation {k} of {points}: {e}"))?;
    }
    Ok(Walked {
        name: name.to_owned(),
        points,
    })
}

/// `Ok` if a DDI returned `want`; otherwise a message naming the call.
pub(crate) fn expect(what: &str, got: NTSTATUS, want: NTSTATUS) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: {got:?}, expected {want:?}"))
    }
}

/// `Ok` if `got` is `expected`; otherwise a message naming `what`.
pub(crate) fn want<T: PartialEq + std::fmt::Debug>(
    what: &str,
    got: T,
    expected: T,
) -> Result<(), String> {
    if got == expected {
        Ok(())
    } else {
        Err(format!("{what}: {got:?}, expected {expected:?}"))
    }
}

/// Counts the allocations of `op` on a fresh `setup()`; they must be none.
pub(crate) fn allocates_nothing<S, R>(
    name: &str,
    setup: impl Fn() -> S,
    op: impl Fn(&S) -> R,
) -> Result<Walked, String> {
    let state = setup();
    let (_, points, _, leaked) = armed(None, || op(&state));
    if points != 0 || leaked > 0 {
        return Err(format!("{name}: {points} allocations, {leaked} still live"));
    }
    Ok(Walked {
        name: name.to_owned(),
        points,
    })
}

/// Prints each walk's allocation points and their total.
pub(crate) fn report(what: &str, walked: &[Walked]) {
    for w in walked {
        println!(
            "alloc-failure: {}: {} allocation point(s)",
            w.name, w.points
        );
    }
    let total: u64 = walked.iter().map(|w| w.points).sum();
    let silent = walked.iter().filter(|w| w.points == 0).count();
    println!(
        "alloc-failure ({what}): {total} allocation points failed one by one over {} DDI walks ({silent} shown to allocate nothing); each returned its documented failure with nothing changed or leaked",
        walked.len()
    );
}

/// A recorder for walks: keeps each walk's result, or fails the test with
/// its message.
pub(crate) fn recorder(walked: &mut Vec<Walked>) -> impl FnMut(Result<Walked, String>) + '_ {
    |w| match w {
        Ok(w) => walked.push(w),
        Err(e) => panic!("{e}"),
    }
}
