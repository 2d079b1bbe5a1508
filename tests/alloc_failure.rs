//! Allocation-failure injection: for every DDI that allocates, fail each of
//! its allocations in turn and check that the DDI returns its documented
//! failure, that nothing it touched changed, and that nothing leaked.
//!
//! Its own test binary, because the hook is the process's global allocator:
//! it counts, and fails on request, only the allocations of threads that
//! armed it (thread-local state), so the harness's parallel tests do not
//! disturb each other. A failed allocation returns NULL, which is what the
//! kernel's pool allocator does and what `try_reserve*` turns into an error;
//! any infallible allocation on a driver path would instead abort this test
//! process (`handle_alloc_error`), which is how such a bug shows up here.
//!
//! Walked: AddDevice, StartDevice (one and three segments), CreateMemoryBasis
//! (one and five ranges), StartDirtyTracking (one and five ranges), and, to
//! show they allocate nothing, QueryDirtyBitData, the software backend's mark,
//! StopDirtyTracking, DestroyMemoryBasis (tracked and not), QueryAdapterInfo,
//! StopDevice and RemoveDevice.
//!
//! Run it with `GPUP_TRACE=1` too: the driver's host trace output must not
//! allocate either (it once went through `eprintln!`, which writes into the
//! harness's capture buffer).

// Raw DDI calls with argument blocks built here; each call's soundness is
// the driver's contract under test.
#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::*;
use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::{Adapter, AdapterConfig, BasisHandle, Driver, MemorySegment, create_args};

/// The global allocator with a per-thread failure switch.
struct Injecting;

thread_local! {
    /// Whether this thread's allocations are counted (and may fail).
    static ARMED: Cell<bool> = const { Cell::new(false) };
    /// Allocations this thread made while armed.
    static SEEN: Cell<u64> = const { Cell::new(0) };
    /// The index (among armed allocations) of the one to fail.
    static FAIL_AT: Cell<Option<u64>> = const { Cell::new(None) };
    /// Whether the allocation to fail was reached (and failed).
    static FAILED: Cell<bool> = const { Cell::new(false) };
    /// Allocations minus deallocations on this thread, armed or not.
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

impl Injecting {
    /// Counts one allocation; `false` if it is the one to fail.
    fn admit() -> bool {
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
        if !Self::admit() {
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
        if !Self::admit() {
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
        if !Self::admit() {
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
fn armed<R>(fail_at: Option<u64>, f: impl FnOnce() -> R) -> (R, u64, bool, i64) {
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

/// What one walk covered.
struct Walked {
    name: &'static str,
    points: u64,
}

/// Walks every allocation of `op`: first counts them in a clean run, then for
/// each `k` sets up afresh, fails allocation `k`, and requires the injection
/// to be reached, `failed(state, result)` to hold (documented failure, state
/// unchanged), and no allocation of the failed call to remain. `ok` checks
/// the clean run.
fn walk<S, R>(
    name: &'static str,
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
    Ok(Walked { name, points })
}

fn three_segments() -> AdapterConfig {
    layout()
}

fn one_segment() -> AdapterConfig {
    AdapterConfig {
        segments: vec![MemorySegment {
            id: SEG_4K,
            size: 64 * MIB,
            page_size: 4096,
        }],
        max_bases: 4,
        partitions: None,
    }
}

fn expect(what: &str, got: NTSTATUS, want: NTSTATUS) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: {got:?}, expected {want:?}"))
    }
}

/// An added and configured adapter that was not started, with the
/// `DXGKRNL_INTERFACE` to start it with.
struct Unstarted {
    _driver: Driver,
    adapter: Adapter,
}

fn start_device_raw(a: &Adapter) -> NTSTATUS {
    let start = a.driver().table().DxgkDdiStartDevice.unwrap();
    let mut info = DXGK_START_INFO::zeroed();
    let mut kernel = a.kernel_interface();
    let (mut sources, mut children) = (0u32, 0u32);
    unsafe {
        start(
            a.context(),
            &raw mut info,
            &raw mut kernel,
            &raw mut sources,
            &raw mut children,
        )
    }
}

fn dirty_caps_status(a: &Adapter) -> NTSTATUS {
    let mut out = [0u8; 4];
    a.query_adapter_info_raw(DXGKQAITYPE_DIRTYBITTRACKINGCAPS, &[], &mut out)
}

fn walk_start_device(name: &'static str, config: fn() -> AdapterConfig) -> Result<Walked, String> {
    walk(
        name,
        || {
            let driver = Driver::load().unwrap();
            let mut adapter = driver.add_device().unwrap();
            adapter.configure(&config()).unwrap();
            Unstarted {
                _driver: driver,
                adapter,
            }
        },
        |s| start_device_raw(&s.adapter),
        |s, status| {
            expect("StartDevice", status, STATUS_SUCCESS)?;
            expect(
                "caps once started",
                dirty_caps_status(&s.adapter),
                STATUS_SUCCESS,
            )
        },
        |s, status| {
            expect("StartDevice", status, STATUS_NO_MEMORY)?;
            // Not started: no caps, no bases.
            expect(
                "caps",
                dirty_caps_status(&s.adapter),
                STATUS_INVALID_DEVICE_STATE,
            )?;
            if s.adapter
                .create_memory_basis(SEG_4K, &[(0, 4096)])
                .is_some()
            {
                return Err("a basis was created on the adapter that failed to start".into());
            }
            // And it starts, and works, once memory is back.
            expect(
                "StartDevice again",
                start_device_raw(&s.adapter),
                STATUS_SUCCESS,
            )?;
            let b = s
                .adapter
                .create_memory_basis(SEG_4K, &[(0, 4096)])
                .ok_or("create after the retried start")?;
            expect("start", s.adapter.start_dirty_tracking(b), STATUS_SUCCESS)?;
            expect("destroy", s.adapter.destroy_memory_basis(b), STATUS_SUCCESS)
        },
    )
}

/// Checks that the table still has room for exactly `n` bases.
fn has_room_for(a: &Adapter, n: usize) -> Result<(), String> {
    let bases: Vec<_> = (0..n)
        .map(|i| a.create_memory_basis(SEG_4K, &[(i as u64 * 4096, 4096)]))
        .collect();
    let created = bases.iter().flatten().count();
    let one_more = a.create_memory_basis(SEG_4K, &[(32 * MIB, 4096)]);
    for b in bases.iter().flatten().chain(one_more.iter()) {
        expect("destroy", a.destroy_memory_basis(*b), STATUS_SUCCESS)?;
    }
    if created != n || one_more.is_some() {
        return Err(format!(
            "the table took {} bases, expected exactly {n}",
            created + usize::from(one_more.is_some())
        ));
    }
    Ok(())
}

struct Started {
    _driver: Driver,
    adapter: Adapter,
}

fn started_one() -> Started {
    let driver = Driver::load().unwrap();
    let adapter = driver.start_adapter(&one_segment()).unwrap();
    Started {
        _driver: driver,
        adapter,
    }
}

fn walk_create(name: &'static str, ranges: &'static [(u64, u64)]) -> Result<Walked, String> {
    let block = create_args(SEG_4K, ranges);
    walk(
        name,
        started_one,
        |s| unsafe { s.adapter.create_memory_basis_raw(block.as_ptr().cast()) },
        |s, handle| {
            if handle.is_null() {
                return Err("NULL handle".into());
            }
            expect(
                "destroy",
                s.adapter.destroy_memory_basis(BasisHandle(handle)),
                STATUS_SUCCESS,
            )
        },
        |s, handle| {
            if !handle.is_null() {
                return Err(format!("handle {handle:p} instead of NULL"));
            }
            // Nothing kept: the table still holds all four.
            has_room_for(&s.adapter, 4)
        },
    )
}

struct WithBasis {
    inner: Started,
    basis: BasisHandle,
    pages: u64,
}

fn walk_start_tracking(
    name: &'static str,
    ranges: &'static [(u64, u64)],
) -> Result<Walked, String> {
    let pages = ranges.iter().map(|r| r.1 / 4096).sum::<u64>();
    walk(
        name,
        || {
            let inner = started_one();
            let basis = inner.adapter.create_memory_basis(SEG_4K, ranges).unwrap();
            WithBasis {
                inner,
                basis,
                pages,
            }
        },
        |s| s.inner.adapter.start_dirty_tracking(s.basis),
        |s, status| {
            expect("StartDirtyTracking", status, STATUS_SUCCESS)?;
            expect(
                "destroy",
                s.inner.adapter.destroy_memory_basis(s.basis),
                STATUS_SUCCESS,
            )
        },
        |s, status| {
            let a = &s.inner.adapter;
            expect("StartDirtyTracking", status, STATUS_NO_MEMORY)?;
            // Not tracked.
            let mut buf = vec![0u8; bytes_for(s.pages)];
            expect(
                "query",
                a.query_dirty_bits(s.basis, None, true, &mut buf),
                STATUS_INVALID_DEVICE_STATE,
            )?;
            expect(
                "stop",
                a.stop_dirty_tracking(s.basis),
                STATUS_INVALID_DEVICE_STATE,
            )?;
            // No tracking unit was left referenced: a mark leaves a new basis's plane clean...
            let other = tracked(a, SEG_4K, &[(48 * MIB, 4096)]);
            expect(
                "mark",
                a.mark_dirty(SEG_4K, ranges[0].0, 4096),
                STATUS_SUCCESS,
            )?;
            expect(
                "query other",
                a.query_dirty_bits(other, None, true, &mut [0u8; 1]),
                STATUS_SUCCESS,
            )?;
            // ... and the basis starts, and tracks, once memory is back.
            expect(
                "start again",
                a.start_dirty_tracking(s.basis),
                STATUS_SUCCESS,
            )?;
            expect(
                "mark",
                a.mark_dirty(SEG_4K, ranges[0].0, 4096),
                STATUS_SUCCESS,
            )?;
            let bits = query_all(a, s.basis, s.pages, true);
            if set_bits(&bits, s.pages) != [0] {
                return Err(format!(
                    "after the retried start the mark reads {:?}",
                    set_bits(&bits, s.pages)
                ));
            }
            expect("destroy", a.destroy_memory_basis(s.basis), STATUS_SUCCESS)?;
            expect(
                "destroy other",
                a.destroy_memory_basis(other),
                STATUS_SUCCESS,
            )
        },
    )
}

/// Counts the allocations of `op` on a fresh `setup()`; they must be none.
fn allocates_nothing<S, R>(
    name: &'static str,
    setup: impl Fn() -> S,
    op: impl Fn(&S) -> R,
) -> Result<Walked, String> {
    let state = setup();
    let (_, points, _, leaked) = armed(None, || op(&state));
    if points != 0 || leaked > 0 {
        return Err(format!("{name}: {points} allocations, {leaked} still live"));
    }
    Ok(Walked { name, points })
}

const ONE_RANGE: &[(u64, u64)] = &[(0, 64 * 4096)];
const FIVE_RANGES: &[(u64, u64)] = &[
    (40 * MIB, 4096),
    (0, 8 * 4096),
    (MIB, 3 * 4096),
    (8 * MIB, 513 * 4096),
    (20 * MIB, 4096),
];

#[test]
fn every_allocation_failure_is_reported_with_nothing_changed_or_leaked() {
    let mut walked = Vec::new();
    let mut run = |w: Result<Walked, String>| match w {
        Ok(w) => walked.push(w),
        Err(e) => panic!("{e}"),
    };
    run(allocates_nothing(
        "AddDevice",
        || Driver::load().unwrap(),
        |d| {
            let add = d.table().DxgkDdiAddDevice.unwrap();
            let mut pdo = [0u64; 4];
            let mut ctx: PVOID = core::ptr::null_mut();
            let status = unsafe { add(pdo.as_mut_ptr().cast(), &raw mut ctx) };
            assert_eq!(status, STATUS_SUCCESS);
            let remove = d.table().DxgkDdiRemoveDevice.unwrap();
            assert_eq!(unsafe { remove(ctx) }, STATUS_SUCCESS);
        },
    ));
    run(walk_start_device("StartDevice, 1 segment", one_segment));
    run(walk_start_device(
        "StartDevice, 3 segments (one untracked)",
        three_segments,
    ));
    run(walk_create("CreateMemoryBasis, 1 range", ONE_RANGE));
    run(walk_create("CreateMemoryBasis, 5 ranges", FIVE_RANGES));
    run(walk_start_tracking(
        "StartDirtyTracking, 1 range",
        ONE_RANGE,
    ));
    run(walk_start_tracking(
        "StartDirtyTracking, 5 ranges",
        FIVE_RANGES,
    ));
    let tracked_basis = || {
        let inner = started_one();
        let basis = tracked(&inner.adapter, SEG_4K, FIVE_RANGES);
        WithBasis {
            inner,
            basis,
            pages: 0,
        }
    };
    run(allocates_nothing(
        "QueryDirtyBitData (clear, whole and subrange)",
        tracked_basis,
        |s| {
            let a = &s.inner.adapter;
            let mut buf = [0u8; 128];
            assert_eq!(
                a.query_dirty_bits(s.basis, None, true, &mut buf),
                STATUS_SUCCESS
            );
            assert_eq!(
                a.query_dirty_bits(s.basis, Some((3, 4096, 4096 * 100)), false, &mut buf),
                STATUS_SUCCESS
            );
        },
    ));
    run(allocates_nothing(
        "gpup_sw_mark_dirty",
        tracked_basis,
        |s| {
            assert_eq!(
                s.inner.adapter.mark_dirty(SEG_4K, 0, 64 * MIB),
                STATUS_SUCCESS
            );
        },
    ));
    run(allocates_nothing(
        "QueryAdapterInfo (caps 39, 40)",
        tracked_basis,
        |s| {
            let a = &s.inner.adapter;
            assert_eq!(dirty_caps_status(a), STATUS_SUCCESS);
            let mut out = [0u8; 4];
            let seg = SEG_4K.to_le_bytes();
            assert_eq!(
                a.query_adapter_info_raw(DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS, &seg, &mut out),
                STATUS_SUCCESS
            );
        },
    ));
    run(allocates_nothing("StopDirtyTracking", tracked_basis, |s| {
        assert_eq!(s.inner.adapter.stop_dirty_tracking(s.basis), STATUS_SUCCESS);
    }));
    run(allocates_nothing(
        "DestroyMemoryBasis (tracked)",
        tracked_basis,
        |s| {
            assert_eq!(
                s.inner.adapter.destroy_memory_basis(s.basis),
                STATUS_SUCCESS
            );
        },
    ));
    run(allocates_nothing(
        "DestroyMemoryBasis (untracked)",
        || {
            let inner = started_one();
            let basis = inner
                .adapter
                .create_memory_basis(SEG_4K, FIVE_RANGES)
                .unwrap();
            WithBasis {
                inner,
                basis,
                pages: 0,
            }
        },
        |s| {
            assert_eq!(
                s.inner.adapter.destroy_memory_basis(s.basis),
                STATUS_SUCCESS
            )
        },
    ));
    run(allocates_nothing(
        "StopDevice (with live bases)",
        tracked_basis,
        |s| {
            let a = &s.inner.adapter;
            let stop = a.driver().table().DxgkDdiStopDevice.unwrap();
            assert_eq!(unsafe { stop(a.context()) }, STATUS_SUCCESS);
        },
    ));
    let total: u64 = walked.iter().map(|w| w.points).sum();
    for w in &walked {
        println!(
            "alloc-failure: {}: {} allocation point(s)",
            w.name, w.points
        );
    }
    println!(
        "alloc-failure: {total} allocation points failed one by one over {} DDI walks; each returned its documented failure with nothing changed or leaked",
        walked.len()
    );
    assert!(
        total >= 10,
        "the walks reach the driver's allocations ({total})"
    );
}

/// The walker itself can fail: a leak, an ignored failure, and a call that
/// does not allocate the second time are each reported.
#[test]
fn the_walk_reports_leaks_and_ignored_failures() {
    let leaky = walk(
        "leaky",
        || (),
        |()| {
            // Keeps its first allocation when the second one fails.
            let mut first: Vec<u8> = Vec::new();
            let mut second: Vec<u8> = Vec::new();
            if first.try_reserve_exact(8).is_err() {
                return false;
            }
            if second.try_reserve_exact(8).is_err() {
                std::mem::forget(first);
                return false;
            }
            true
        },
        |(), ok| if ok { Ok(()) } else { Err("failed".into()) },
        |(), ok| if ok { Err("succeeded".into()) } else { Ok(()) },
    );
    assert!(leaky.err().is_some_and(|e| e.contains("leaked 1")));
    let careless = walk(
        "careless",
        || (),
        |()| {
            let mut v: Vec<u8> = Vec::new();
            // Ignores the failure and reports success.
            let _ = v.try_reserve_exact(8);
            true
        },
        |(), ok| if ok { Ok(()) } else { Err("failed".into()) },
        |(), ok| {
            if ok {
                Err("reported success after a failed allocation".into())
            } else {
                Ok(())
            }
        },
    );
    assert!(
        careless
            .err()
            .is_some_and(|e| e.contains("reported success"))
    );
}
