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
//! The armed call is the raw DDI call alone, with its argument blocks and
//! buffers built beforehand: the model's helpers allocate on the host, and an
//! armed thread counts every allocation, the driver's or not.
//!
//! Walked, memory bases and dirty tracking: StartDevice (one and three
//! segments), CreateMemoryBasis (one and five ranges) and StartDirtyTracking
//! (one and five ranges); shown to allocate nothing: AddDevice and
//! RemoveDevice, QueryDirtyBitData, the software backend's mark,
//! StopDirtyTracking, DestroyMemoryBasis (tracked and not), QueryAdapterInfo
//! (caps 39, 40) and StopDevice.
//!
//! Walked, GPU partitioning, vGPU allocations, SR-IOV and live migration:
//! SetGpuPartitionCount (a first count, and a change), CreateVirtualGpu (alone,
//! and beside a running vGPU), CreateAllocation of vGPU reserves (one, and two
//! in one call), SetVirtualGpuResources, SetVirtualGpuResources2 (a reserve
//! scattered over four pieces), DestroyAllocation (of a bound reserve, and
//! after DestroyVirtualGpu), WriteVirtualFunctionConfig, and the sizing and the
//! filling call of SaveImmutableMigrationData and SaveMutableMigrationData,
//! RestoreImmutableMigrationData and RestoreMutableMigrationData, each for a
//! contiguous VF and for a scattered one with a second memory basis. State
//! unchanged means: a failed SetGpuPartitionCount keeps the old count and
//! slots; a failed CreateVirtualGpu writes no output, leaves the slot free
//! and the next CreateVirtualGpu gets what it gets on a fresh adapter (the
//! same reserve request and instance); a failed CreateAllocation writes no
//! entry and keeps no table slot; a failed SetVirtualGpuResources(2) binds
//! nothing (the VF cannot run; the retry binds it where it should, checked
//! by a GPU write landing on the right dirty bit); a failed DestroyAllocation
//! destroys nothing; a failed config write changes no byte of the space; a
//! failed Save leaves `DataSize`, the OS's buffer and the migration phase as
//! they were, and the retried Save's data restores; a failed Restore logs no
//! triage event, applies nothing and leaves the target restorable by a
//! retry, after which the target VF's state equals the source's. Shown to
//! allocate nothing: SetGpuPartitionCount to the current count,
//! GetGpuPartitionInfo, GetVirtualGpuProfile, QueryInterface of the three
//! interfaces and their InterfaceReference/Dereference,
//! GetStandardAllocationDriverData, GetVirtualGpuInfo, SetVirtualGpuVmBus,
//! the three VirtualGpuDriverEscape commands, ReadVirtualFunctionConfig and
//! the virtual-PCI probe (GetVendorAndDevice, GetDeviceLocation,
//! QueryProbedBars, QueryVirtualFunctionLuid, the FlexIOV GetMmioRangeCount
//! and GetMmioRanges), SetVirtualFunctionPowerState, ResetVirtualFunction,
//! DestroyVirtualGpu, QueryAdapterInfo (GPUPCAPS, SCATTER_RESERVE),
//! PrepareLiveMigration (source and target), SetVirtualFunctionPauseState,
//! WriteVirtualizedInterrupt, EndLiveMigration, and StopDevice with live
//! vGPUs.
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
use std::cell::{Cell, RefCell};

use common::gpup::*;
use common::*;
use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::live::MigrationData::{self, Immutable, Mutable};
use dxgkrnl_model::live::{MigrationType, msix_entry};
use dxgkrnl_model::vfstate::{VfSnapshot, program_guest};
use dxgkrnl_model::{
    Adapter, AdapterConfig, BasisHandle, Driver, MemorySegment, VgpuInfo, VgpuRequest, create_args,
    take_etw_events,
};
use gpup_miniport::vgpu::escape::*;

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
    name: String,
    points: u64,
}

/// Walks every allocation of `op`: first counts them in a clean run, then for
/// each `k` sets up afresh, fails allocation `k`, and requires the injection
/// to be reached, `failed(state, result)` to hold (documented failure, state
/// unchanged), and no allocation of the failed call to remain. `ok` checks
/// the clean run.
fn walk<S, R>(
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

fn walk_start_device(name: &str, config: fn() -> AdapterConfig) -> Result<Walked, String> {
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

fn walk_create(name: &str, ranges: &'static [(u64, u64)]) -> Result<Walked, String> {
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

fn walk_start_tracking(name: &str, ranges: &'static [(u64, u64)]) -> Result<Walked, String> {
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
    report("memory bases and dirty tracking", &walked);
    let total: u64 = walked.iter().map(|w| w.points).sum();
    assert!(
        total >= 10,
        "the walks reach the driver's allocations ({total})"
    );
}

// ---- GPU partitioning, SR-IOV and live migration ----

/// A loaded driver and a started GPU-P adapter (`gpup_layout`, 256 MiB
/// tracked segment).
struct Gpup {
    _driver: Driver,
    adapter: Adapter,
}

fn gpup(count: Option<u32>) -> Gpup {
    let (driver, adapter) = started_gpup(count);
    Gpup {
        _driver: driver,
        adapter,
    }
}

const VF_RESERVE: u64 = 16 * MIB;

/// A running vGPU of `VF_RESERVE` bytes in `slot` (contiguous, bound with
/// SetVirtualGpuResources, the model's basis over it tracked).
fn running_vf(a: &Adapter, slot: u32) -> VgpuInfo {
    a.create_vgpu(&VgpuRequest {
        partition: Some(slot),
        ..VgpuRequest::vram(VF_RESERVE)
    })
    .unwrap()
}

fn query(a: &Adapter, v: &VgpuInfo) -> GPUP_VGPU_ESCAPE_INFO {
    a.vgpu_query(v).unwrap()
}

fn flag(a: &Adapter, v: &VgpuInfo, bit: u32) -> bool {
    query(a, v).Flags & bit != 0
}

/// The VF's migration phase (`GPUP_VGPU_MIGRATION_*`).
fn phase(a: &Adapter, v: &VgpuInfo) -> u32 {
    (query(a, v).Flags & GPUP_VGPU_MIGRATION_MASK) >> GPUP_VGPU_MIGRATION_SHIFT
}

fn want<T: PartialEq + std::fmt::Debug>(what: &str, got: T, expected: T) -> Result<(), String> {
    if got == expected {
        Ok(())
    } else {
        Err(format!("{what}: {got:?}, expected {expected:?}"))
    }
}

fn set_count_raw(a: &Adapter, count: u32) -> NTSTATUS {
    let (p, _, _) = ifaces(a);
    let args = DXGKARG_SETGPUPARTITIONCOUNT {
        PartitionCount: count,
    };
    unsafe { (p.DxgkDdiSetGpuPartitionCount.unwrap())(p.Context, &raw const args) }
}

fn walk_set_count(name: &str, from: Option<u32>, to: u32) -> Result<Walked, String> {
    walk(
        name,
        || gpup(from),
        |s| set_count_raw(&s.adapter, to),
        |s, status| {
            expect("SetGpuPartitionCount", status, STATUS_SUCCESS)?;
            want("count", s.adapter.partition_info().unwrap().1, to as u16)
        },
        |s, status| {
            let a = &s.adapter;
            expect("SetGpuPartitionCount", status, STATUS_NO_MEMORY)?;
            let before = from.unwrap_or(0);
            want("count", a.partition_info().unwrap().1, before as u16)?;
            // The old slots are still the driver's: a slot past them is refused...
            let mut block = create_block(before, [(0, 0, 0); 4]);
            expect(
                "CreateVirtualGpu past the old count",
                raw_create(a, &mut block),
                STATUS_INVALID_PARAMETER,
            )?;
            // ... and, with a count, one within them works.
            if before > 0 {
                let v = a
                    .create_vgpu(&VgpuRequest::vram(VF_RESERVE))
                    .map_err(|e| format!("vGPU on the old count: {e:?}"))?;
                a.destroy_vgpu(v.partition)
                    .map_err(|e| format!("destroy: {e:?}"))?;
            }
            // Once memory is back the count changes, and its last slot works.
            expect(
                "SetGpuPartitionCount again",
                set_count_raw(a, to),
                STATUS_SUCCESS,
            )?;
            want("count", a.partition_info().unwrap().1, to as u16)?;
            a.create_vgpu(&VgpuRequest {
                partition: Some(to - 1),
                ..VgpuRequest::vram(VF_RESERVE)
            })
            .map(drop)
            .map_err(|e| format!("vGPU in slot {}: {e:?}", to - 1))
        },
    )
}

/// What CreateVirtualGpu wrote, but the LUID (a driver-wide counter).
fn created_outputs(b: &DXGKARG_CREATEVIRTUALGPU) -> [u64; 10] {
    let s = b.SegmentInfo[0];
    let umed = b.UserModeVirtualDeviceProvider;
    [
        u64::from(b.NumMemorySegments),
        u64::from(s.DriverSegmentId),
        s.Size,
        u64::from(s.Alignment),
        s.MinSegmentOffset,
        s.MaxSegmentOffset,
        u64::from(s.PrivateDriverData),
        u64::from(b.NumEngines),
        u64::from(umed.Data1) | u64::from(umed.Data2) << 32 | u64::from(umed.Data3) << 48,
        u64::from_ne_bytes(umed.Data4),
    ]
}

fn caps_of(a: &Adapter, slot: u32) -> Result<Vec<(u64, u64, u64)>, String> {
    let (status, info) = raw_info(a, slot);
    expect("GetVirtualGpuInfo", status, STATUS_SUCCESS)?;
    Ok(info
        .Capability
        .iter()
        .map(|c| (c.MinValue, c.MaxValue, c.CurrentValue))
        .collect())
}

struct Creating {
    g: Gpup,
    block: RefCell<Box<DXGKARG_CREATEVIRTUALGPU>>,
    /// A running vGPU in the other slot, and what it reported before.
    neighbour: Option<(VgpuInfo, GPUP_VGPU_ESCAPE_INFO)>,
}

fn walk_create_vgpu(name: &str, neighbour: bool) -> Result<Walked, String> {
    let (slot, profile) = if neighbour {
        (1, [(0, 32 * MIB, 8 * MIB), (0, 0, 0), (0, 0, 0), (0, 0, 0)])
    } else {
        (0, [(0, 0, 0); 4])
    };
    let setup = || {
        let g = gpup(Some(2));
        let neighbour = neighbour.then(|| {
            let v = running_vf(&g.adapter, 0);
            let q = query(&g.adapter, &v);
            (v, q)
        });
        Creating {
            g,
            block: RefCell::new(create_block(slot, profile)),
            neighbour,
        }
    };
    // What a fresh adapter answers.
    let fresh = {
        let s = setup();
        let mut b = s.block.borrow_mut();
        assert_eq!(raw_create(&s.g.adapter, &mut b), STATUS_SUCCESS);
        (created_outputs(&b), caps_of(&s.g.adapter, slot)?)
    };
    let untouched = created_outputs(&create_block(slot, profile));
    walk(
        name,
        setup,
        |s| raw_create(&s.g.adapter, &mut s.block.borrow_mut()),
        |s, status| {
            expect("CreateVirtualGpu", status, STATUS_SUCCESS)?;
            want("outputs", created_outputs(&s.block.borrow()), fresh.0)
        },
        |s, status| {
            let a = &s.g.adapter;
            expect("CreateVirtualGpu", status, STATUS_NO_MEMORY)?;
            // Nothing written, nothing kept: the slot is free.
            let b = s.block.borrow();
            want("outputs", created_outputs(&b), untouched)?;
            want(
                "LUID",
                (b.VirtualGpuLuid.LowPart, b.VirtualGpuLuid.HighPart),
                (0, 0),
            )?;
            expect(
                "GetVirtualGpuInfo of the slot",
                raw_info(a, slot).0,
                STATUS_INVALID_PARAMETER,
            )?;
            if let Some((v, before)) = &s.neighbour {
                want("the other vGPU", query(a, v), *before)?;
            }
            // The next CreateVirtualGpu gets what a fresh adapter gets (the
            // same reserve and instance: no instance number was used up).
            let mut retry = create_block(slot, profile);
            expect(
                "CreateVirtualGpu again",
                raw_create(a, &mut retry),
                STATUS_SUCCESS,
            )?;
            want("outputs of the retry", created_outputs(&retry), fresh.0)?;
            want("LUID tag", retry.VirtualGpuLuid.HighPart, 0x4750)?;
            want("caps of the retry", caps_of(a, slot)?, fresh.1.clone())
        },
    )
}

/// The allocation private data of the reserve `created` asks for.
fn private_data(a: &Adapter, created: &DXGKARG_CREATEVIRTUALGPU) -> [u8; 32] {
    let s = created.SegmentInfo[0];
    let mut surface = D3DKMDT_VIRTUALGPUSURFACEDATA {
        Size: s.Size,
        Alignment: s.Alignment,
        DriverSegmentId: s.DriverSegmentId,
        PrivateDriverData: s.PrivateDriverData,
    };
    let mut data = [0u8; 32];
    let mut args = DXGKARG_GETSTANDARDALLOCATIONDRIVERDATA::zeroed();
    args.StandardAllocationType = D3DKMDT_STANDARDALLOCATION_VGPU;
    args.pCreateVirtualGpuSurfaceData = &raw mut surface;
    args.pAllocationPrivateDriverData = data.as_mut_ptr().cast();
    assert_eq!(
        unsafe { a.get_standard_allocation_driver_data_raw(&raw mut args) },
        STATUS_SUCCESS
    );
    data
}

struct Allocating {
    g: Gpup,
    /// The CreateVirtualGpu outputs, one per allocation.
    created: Vec<DXGKARG_CREATEVIRTUALGPU>,
    /// The private data the entries point at.
    _data: Box<[[u8; 32]]>,
    infos: RefCell<Vec<DXGK_ALLOCATIONINFO>>,
}

fn walk_create_allocation(name: &str, n: u32) -> Result<Walked, String> {
    let setup = || {
        let g = gpup(Some(2));
        let created: Vec<_> = (0..n)
            .map(|slot| {
                let mut b = create_block(slot, [(0, 0, 0); 4]);
                assert_eq!(raw_create(&g.adapter, &mut b), STATUS_SUCCESS);
                *b
            })
            .collect();
        let data: Box<[[u8; 32]]> = created
            .iter()
            .map(|b| private_data(&g.adapter, b))
            .collect();
        let infos = data
            .iter()
            .map(|d| {
                let mut info = DXGK_ALLOCATIONINFO::zeroed();
                info.pPrivateDriverData = d.as_ptr().cast_mut().cast();
                info.PrivateDriverDataSize = 32;
                info
            })
            .collect();
        Allocating {
            g,
            created,
            _data: data,
            infos: RefCell::new(infos),
        }
    };
    let op = |s: &Allocating| {
        let mut infos = s.infos.borrow_mut();
        let mut c = DXGKARG_CREATEALLOCATION::zeroed();
        c.NumAllocations = infos.len() as u32;
        c.pAllocationInfo = infos.as_mut_ptr();
        unsafe { s.g.adapter.create_allocation_raw(&raw mut c) }
    };
    // The table slots a fresh adapter's allocations take (the handles' low
    // 12 bits; the generation above them is driver-wide).
    let slots = |infos: &[DXGK_ALLOCATIONINFO]| -> Vec<usize> {
        infos.iter().map(|i| i.hAllocation.addr() & 0xFFF).collect()
    };
    let fresh_slots: Vec<usize> = (0..n as usize).collect();
    walk(
        name,
        setup,
        op,
        |s, status| {
            expect("CreateAllocation", status, STATUS_SUCCESS)?;
            want("slots", slots(&s.infos.borrow()), fresh_slots.clone())
        },
        |s, status| {
            let a = &s.g.adapter;
            expect("CreateAllocation", status, STATUS_NO_MEMORY)?;
            // Nothing written...
            for info in s.infos.borrow().iter() {
                want(
                    "entry",
                    (
                        info.hAllocation.addr(),
                        info.Size,
                        info.SupportedWriteSegmentSet,
                    ),
                    (0, 0, 0),
                )?;
            }
            // ... nothing kept: the retry takes the slots a fresh adapter's
            // allocations take, and each reserve binds and runs.
            expect("CreateAllocation again", op(s), STATUS_SUCCESS)?;
            let infos = s.infos.borrow();
            want("slots of the retry", slots(&infos), fresh_slots.clone())?;
            for (i, (info, created)) in infos.iter().zip(&s.created).enumerate() {
                let seg = created.SegmentInfo[0];
                let reserve = dxgkrnl_model::Reserve {
                    segment: seg.DriverSegmentId,
                    offset: i as u64 * seg.Size,
                    size: seg.Size,
                    scattered: false,
                    allocation: info.hAllocation.addr(),
                    basis: None,
                    tracking: false,
                };
                let p = created.PartitionId;
                a.set_vgpu_resources(p, &[reserve])
                    .map_err(|e| format!("SetVirtualGpuResources({p}): {e:?}"))?;
                a.set_vf_power(p, POWER_DEVICE_D0, false)
                    .map_err(|e| format!("D0 ({p}): {e:?}"))?;
            }
            Ok(())
        },
    )
}

struct Binding {
    g: Gpup,
    v: VgpuInfo,
    /// The argument block, built beforehand.
    block: Vec<u64>,
    /// A running vGPU beside it, and what it reported before.
    neighbour: Option<(VgpuInfo, GPUP_VGPU_ESCAPE_INFO)>,
}

/// A vGPU in slot 1 whose reserve and memory basis exist but are not bound
/// (scattered over `pieces` if given), beside a running one in slot 0
/// (scattered too if `pieces` are).
fn binding(pieces: Option<&[(u64, u64)]>) -> Binding {
    let g = gpup(Some(2));
    let a = &g.adapter;
    let neighbour = a
        .create_vgpu(&VgpuRequest {
            partition: Some(0),
            placement: pieces.map(|_| vec![(0, 8 * MIB), (32 * MIB, 8 * MIB)]),
            ..VgpuRequest::vram(VF_RESERVE)
        })
        .unwrap();
    let before = query(a, &neighbour);
    let v = a
        .create_vgpu_unbound(&VgpuRequest {
            partition: Some(1),
            placement: pieces.map(<[_]>::to_vec),
            ..VgpuRequest::vram(VF_RESERVE)
        })
        .unwrap();
    let r = v.reserves[0];
    let block = match pieces {
        // DXGKARG_SETVIRTUALGPURESOURCES2: vfIndex, SegmentCount, one descriptor.
        Some(_) => vec![
            1 | 1 << 32,
            r.allocation as u64,
            r.basis.unwrap().0.addr() as u64,
        ],
        // DXGKARG_SETVIRTUALGPURESOURCES: PartitionId, NumMemoryAllocations, one entry.
        None => vec![
            1 | 1 << 32,
            r.allocation as u64,
            u64::from(r.segment),
            r.offset,
            r.size,
        ],
    };
    Binding {
        g,
        v,
        block,
        neighbour: Some((neighbour, before)),
    }
}

const SCATTER: &[(u64, u64)] = &[
    (64 * MIB, 4 * MIB),
    (16 * MIB, 4 * MIB),
    (200 * MIB, 4 * MIB),
    (100 * MIB, 4 * MIB),
];

fn walk_bind(name: &str, scattered: bool) -> Result<Walked, String> {
    let pieces = scattered.then_some(SCATTER);
    let op = move |s: &Binding| {
        let a = &s.g.adapter;
        if scattered {
            unsafe { a.set_vgpu_resources2_raw(s.block.as_ptr().cast()) }
        } else {
            let (p, _, _) = ifaces(a);
            unsafe {
                (p.DxgkDdiSetVirtualGpuResources.unwrap())(p.Context, s.block.as_ptr().cast())
            }
        }
    };
    let bound = GPUP_VGPU_FLAG_RESERVE_BOUND
        | if scattered {
            GPUP_VGPU_FLAG_SCATTERED
        } else {
            0
        };
    walk(
        name,
        || binding(pieces),
        op,
        |s, status| {
            expect(name, status, STATUS_SUCCESS)?;
            want("bound", query(&s.g.adapter, &s.v).Flags & bound, bound)
        },
        |s, status| {
            let a = &s.g.adapter;
            expect(name, status, STATUS_NO_MEMORY)?;
            // Not bound: no flag, and the VF cannot run.
            want("flags", query(a, &s.v).Flags & bound, 0)?;
            want(
                "D0 unbound",
                a.set_vf_power(1, POWER_DEVICE_D0, false),
                Err(STATUS_INVALID_DEVICE_STATE),
            )?;
            if let Some((v, before)) = &s.neighbour {
                want("the other vGPU", query(a, v), *before)?;
            }
            // Once memory is back it binds, at the right place.
            expect("bind again", op(s), STATUS_SUCCESS)?;
            let q = query(a, &s.v);
            want("flags", q.Flags & bound, bound)?;
            want("reserve offset", q.ReserveOffset, s.v.reserves[0].offset)?;
            a.set_vf_power(1, POWER_DEVICE_D0, false)
                .map_err(|e| format!("D0: {e:?}"))?;
            // The VF's GPU writes land where the binding says: VF page
            // 1024 is the first page of the second piece (or of the reserve
            // + 4 MiB).
            let basis = s.v.reserves[0].basis.unwrap();
            let _ = query_all(a, basis, VF_RESERVE / 4096, true);
            a.vf_write_notify(&s.v, 4 * MIB, 4096)
                .map_err(|e| format!("write notify: {e:?}"))?;
            let bits = query_all(a, basis, VF_RESERVE / 4096, true);
            want(
                "dirty pages",
                set_bits(&bits, VF_RESERVE / 4096),
                vec![1024],
            )
        },
    )
}

struct Destroying {
    g: Gpup,
    v: VgpuInfo,
    list: [HANDLE; 1],
}

fn destroy_allocation_raw(a: &Adapter, list: &[HANDLE]) -> NTSTATUS {
    let mut args = DXGKARG_DESTROYALLOCATION::zeroed();
    args.NumAllocations = list.len() as u32;
    args.pAllocationList = list.as_ptr();
    unsafe { a.destroy_allocation_raw(&raw const args) }
}

/// DestroyAllocation of a running vGPU's reserve (`bound`), or, in the OS's
/// order, after DestroyVirtualGpu.
fn walk_destroy_allocation(name: &str, bound: bool) -> Result<Walked, String> {
    walk(
        name,
        || {
            let g = gpup(Some(2));
            let v = running_vf(&g.adapter, 0);
            if !bound {
                assert_eq!(g.adapter.destroy_vgpu_raw(0), STATUS_SUCCESS);
            }
            let list = [core::ptr::without_provenance_mut(v.reserves[0].allocation)];
            Destroying { g, v, list }
        },
        |s| destroy_allocation_raw(&s.g.adapter, &s.list),
        |_, status| expect("DestroyAllocation", status, STATUS_SUCCESS),
        |s, status| {
            let a = &s.g.adapter;
            expect("DestroyAllocation", status, STATUS_NO_MEMORY)?;
            if bound {
                // The vGPU still runs on its reserve.
                let q = query(a, &s.v);
                want("power", q.PowerState, 1)?;
                want(
                    "flags",
                    q.Flags & (GPUP_VGPU_FLAG_RESERVE_BOUND | GPUP_VGPU_FLAG_REVOKED),
                    GPUP_VGPU_FLAG_RESERVE_BOUND,
                )?;
            }
            // The allocation is still there: destroyed by the retry, and only then.
            expect("again", destroy_allocation_raw(a, &s.list), STATUS_SUCCESS)?;
            expect(
                "a third time",
                destroy_allocation_raw(a, &s.list),
                STATUS_INVALID_HANDLE,
            )?;
            if bound {
                let q = query(a, &s.v);
                want("power after", q.PowerState, 4)?;
                want(
                    "revoked",
                    q.Flags & GPUP_VGPU_FLAG_REVOKED,
                    GPUP_VGPU_FLAG_REVOKED,
                )?;
            }
            Ok(())
        },
    )
}

struct Configuring {
    g: Gpup,
    v: VgpuInfo,
    before: Vec<u8>,
}

/// WriteVirtualFunctionConfig of the command register: memory decoding on.
fn walk_config_write() -> Result<Walked, String> {
    const ENABLE: [u8; 2] = [0x02, 0x00];
    walk(
        "WriteVirtualFunctionConfig (command register)",
        || {
            let g = gpup(Some(2));
            let v = running_vf(&g.adapter, 0);
            let before = g.adapter.vf_config_space(0).unwrap();
            Configuring { g, v, before }
        },
        |s| s.g.adapter.vf_config_write(0, 0x04, &ENABLE),
        |s, r| {
            want("WriteVirtualFunctionConfig", r, Ok(()))?;
            want(
                "memory enabled",
                flag(&s.g.adapter, &s.v, GPUP_VGPU_FLAG_MEMORY_ENABLED),
                true,
            )
        },
        |s, r| {
            let a = &s.g.adapter;
            want("WriteVirtualFunctionConfig", r, Err(STATUS_NO_MEMORY))?;
            if a.vf_config_space(0).unwrap() != s.before {
                return Err("the configuration space changed".into());
            }
            want(
                "memory enabled",
                flag(a, &s.v, GPUP_VGPU_FLAG_MEMORY_ENABLED),
                false,
            )?;
            want("again", a.vf_config_write(0, 0x04, &ENABLE), Ok(()))?;
            let mut command = [0u8; 2];
            a.vf_config_read(0, 0x04, &mut command).unwrap();
            want("command", command[0] & 0x02, 0x02)?;
            want(
                "memory enabled",
                flag(a, &s.v, GPUP_VGPU_FLAG_MEMORY_ENABLED),
                true,
            )
        },
    )
}

// ---- Live migration ----

/// A source and a target adapter with a VF each, the guest's state
/// programmed on the source, both prepared and the target paused; then, as
/// far as `stage` says, the immutable data saved (1), restored with the
/// source paused (2), and the mutable data saved (3).
struct Migrating {
    _driver: Driver,
    s: Adapter,
    t: Adapter,
    src: VgpuInfo,
    dst: VgpuInfo,
    immutable: Vec<u8>,
    mutable: Vec<u8>,
    /// The OS's buffer of a filling Save call, and its size.
    buf: RefCell<Vec<u8>>,
    needed: u64,
}

/// How the source VF's VRAM is laid out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One range, one memory basis over it (on both sides).
    Contiguous,
    /// Scattered over [`SCATTER`] on the source (contiguous on the target),
    /// with a second memory basis over VF bytes `[4 MiB, 5 MiB)` on both
    /// sides (tracked on the source only).
    Scattered,
}

fn migrating(stage: u32, shape: Shape) -> Migrating {
    let driver = Driver::load().unwrap();
    let start = || {
        let a = driver.start_adapter(&gpup_layout()).unwrap();
        a.set_partition_count(2).unwrap();
        a
    };
    let (s, t) = (start(), start());
    let src = s
        .create_vgpu(&VgpuRequest {
            partition: Some(0),
            placement: (shape == Shape::Scattered).then(|| SCATTER.to_vec()),
            ..VgpuRequest::vram(VF_RESERVE)
        })
        .unwrap();
    program_guest(&s, &src, 7).unwrap();
    let dst = running_vf(&t, 0);
    if shape == Shape::Scattered {
        // VF bytes [4 MiB, 5 MiB): the start of the second piece on the source.
        let _ = tracked(&s, SEG_4K, &[(SCATTER[1].0, MIB)]);
        let at = dst.reserves[0].offset + 4 * MIB;
        t.create_memory_basis(SEG_4K, &[(at, MIB)]).unwrap();
    }
    assert_eq!(
        s.prepare_live_migration(0, MigrationType::Source),
        STATUS_SUCCESS
    );
    assert_eq!(
        t.prepare_live_migration(0, MigrationType::Target),
        STATUS_SUCCESS
    );
    assert_eq!(t.set_vf_pause(0, true), STATUS_SUCCESS);
    let mut m = Migrating {
        _driver: driver,
        s,
        t,
        src,
        dst,
        immutable: Vec::new(),
        mutable: Vec::new(),
        buf: RefCell::new(Vec::new()),
        needed: 0,
    };
    if stage >= 1 {
        m.immutable = m.s.save_migration_data(Immutable, 0).unwrap();
    }
    if stage >= 2 {
        assert_eq!(
            m.t.restore_migration_data(Immutable, 0, &m.immutable),
            STATUS_SUCCESS
        );
        assert_eq!(m.s.set_vf_pause(0, true), STATUS_SUCCESS);
    }
    if stage >= 3 {
        m.mutable = m.s.save_migration_data(Mutable, 0).unwrap();
    }
    let _ = take_etw_events();
    m
}

/// The VF's state as the OS reads it.
fn snapshot(a: &Adapter, v: &VgpuInfo) -> VfSnapshot {
    let reserve =
        dxgkrnl_model::vf::Reserve::new(v.reserves[0].segment, v.pieces[0].clone()).unwrap();
    VfSnapshot::take(a, v, &reserve, &v.pieces[0], true).unwrap()
}

/// After the mutable data was restored: the target's state equals the source's.
fn arrived(m: &Migrating) -> Result<(), String> {
    want(
        "target phase",
        phase(&m.t, &m.dst),
        GPUP_VGPU_MIGRATION_RESTORED,
    )?;
    let differences = snapshot(&m.s, &m.src).differences(&snapshot(&m.t, &m.dst));
    want("differences", differences, Vec::<String>::new())
}

fn walk_save(name: &str, kind: MigrationData, fill: bool, shape: Shape) -> Result<Walked, String> {
    let (stage, phase_before, phase_after) = match kind {
        Immutable => (
            0,
            GPUP_VGPU_MIGRATION_PREPARED_SOURCE,
            GPUP_VGPU_MIGRATION_SAVING,
        ),
        Mutable => (2, GPUP_VGPU_MIGRATION_SAVING, GPUP_VGPU_MIGRATION_SAVED),
    };
    let call = move |m: &Migrating| {
        if fill {
            let mut buf = m.buf.borrow_mut();
            m.s.save_migration_call(kind, 0, m.needed, Some(&mut buf[..]))
        } else {
            m.s.save_migration_call(kind, 0, 0, None)
        }
    };
    // Restores what the source saved; for the mutable data the VF arrives.
    let restore = move |m: &Migrating, blob: &[u8]| -> Result<(), String> {
        expect(
            "Restore",
            m.t.restore_migration_data(kind, 0, blob),
            STATUS_SUCCESS,
        )?;
        match kind {
            Immutable => want(
                "target phase",
                phase(&m.t, &m.dst),
                GPUP_VGPU_MIGRATION_RESTORING,
            ),
            Mutable => arrived(m),
        }
    };
    walk(
        name,
        || {
            let mut m = migrating(stage, shape);
            if fill {
                let (status, needed) = m.s.save_migration_call(kind, 0, 0, None);
                assert_eq!(status, STATUS_SUCCESS);
                m.needed = needed;
                m.buf = RefCell::new(vec![0xA5; needed as usize]);
            }
            m
        },
        call,
        |_, (status, size)| {
            expect("Save", status, STATUS_SUCCESS)?;
            if size <= 32 {
                return Err(format!("DataSize {size}"));
            }
            Ok(())
        },
        |m, (status, size)| {
            expect("Save", status, STATUS_NO_MEMORY)?;
            // DataSize, the buffer and the migration state are as they were.
            want("DataSize", size, if fill { m.needed } else { 0 })?;
            if m.buf.borrow().iter().any(|&b| b != 0xA5) {
                return Err("the buffer was written".into());
            }
            want("source phase", phase(&m.s, &m.src), phase_before)?;
            // A retried Save succeeds, and what it saved restores.
            let blob = if fill {
                let (status, written) = call(m);
                expect("Save again", status, STATUS_SUCCESS)?;
                m.buf.borrow()[..written as usize].to_vec()
            } else {
                m.s.save_migration_data(kind, 0)
                    .map_err(|e| format!("Save again: {e:?}"))?
            };
            want("source phase after", phase(&m.s, &m.src), phase_after)?;
            restore(m, &blob)
        },
    )
}

fn walk_restore(name: &str, kind: MigrationData, shape: Shape) -> Result<Walked, String> {
    let (stage, phase_before) = match kind {
        Immutable => (1, GPUP_VGPU_MIGRATION_PREPARED_TARGET),
        Mutable => (3, GPUP_VGPU_MIGRATION_RESTORING),
    };
    fn blob(m: &Migrating, kind: MigrationData) -> &[u8] {
        match kind {
            Immutable => &m.immutable,
            Mutable => &m.mutable,
        }
    }
    walk(
        name,
        || {
            let m = migrating(stage, shape);
            let before = (
                m.t.vf_config_space(0).unwrap(),
                m.t.vgpu_msix(&m.dst).unwrap(),
            );
            (m, before)
        },
        |(m, _)| m.t.restore_migration_data(kind, 0, blob(m, kind)),
        |(m, _), status| {
            expect("Restore", status, STATUS_SUCCESS)?;
            want("events", take_etw_events(), Vec::new())?;
            if kind == Mutable {
                arrived(m)?;
            }
            Ok(())
        },
        |(m, (config, msix)), status| {
            expect("Restore", status, STATUS_NO_MEMORY)?;
            // No triage event (the data is not at fault), nothing applied.
            want("events", take_etw_events(), Vec::new())?;
            want("target phase", phase(&m.t, &m.dst), phase_before)?;
            if m.t.vf_config_space(0).unwrap() != *config {
                return Err("the configuration space changed".into());
            }
            want("MSI-X table", m.t.vgpu_msix(&m.dst).unwrap(), *msix)?;
            // The target is restorable by a retry, and the VF arrives.
            expect(
                "Restore again",
                m.t.restore_migration_data(kind, 0, blob(m, kind)),
                STATUS_SUCCESS,
            )?;
            if kind == Immutable {
                want(
                    "target phase",
                    phase(&m.t, &m.dst),
                    GPUP_VGPU_MIGRATION_RESTORING,
                )?;
                expect("pause source", m.s.set_vf_pause(0, true), STATUS_SUCCESS)?;
                let mutable =
                    m.s.save_migration_data(Mutable, 0)
                        .map_err(|e| format!("SaveMutable: {e:?}"))?;
                expect(
                    "RestoreMutable",
                    m.t.restore_migration_data(Mutable, 0, &mutable),
                    STATUS_SUCCESS,
                )?;
            }
            arrived(m)
        },
    )
}

/// A raw escape with its input built beforehand.
struct Escape {
    input: Vec<u8>,
    output: RefCell<Vec<u8>>,
}

impl Escape {
    fn new(v: &VgpuInfo, command: u32, payload: &[u8], capacity: usize) -> Self {
        let mut input = Vec::new();
        input.extend(v.luid.LowPart.to_le_bytes());
        input.extend(v.luid.HighPart.to_le_bytes());
        input.extend(command.to_le_bytes());
        input.extend((payload.len() as u32).to_le_bytes());
        input.extend(payload);
        Self {
            input,
            output: RefCell::new(vec![0; capacity]),
        }
    }

    fn call(&self, a: &Adapter, partition: u32) -> NTSTATUS {
        let (p, _, _) = ifaces(a);
        let mut output = self.output.borrow_mut();
        let mut args = DXGK_VIRTUALGPUDRIVERESCAPE {
            PartitionId: partition,
            InputBufferSize: self.input.len() as ULONG,
            OutputBufferSize: output.len() as ULONG,
            pInputBuffer: self.input.as_ptr().cast_mut().cast(),
            pOutputBuffer: output.as_mut_ptr().cast(),
        };
        unsafe { (p.DxgkDdiVirtualGpuDriverEscape.unwrap())(p.Context, &raw mut args) }
    }
}

/// The virtual-PCI probe and the FlexIOV ranges, raw, into fixed buffers.
fn probe_raw(a: &Adapter, vf: u32) {
    let (_, s, f) = ifaces(a);
    let mut ids = DXGKARG_GETVENDORANDDEVICE {
        VirtualFunctionIndex: vf,
        VendorId: 0,
        DeviceId: 0,
    };
    unsafe { (s.DxgkDdiGetVendorAndDevice.unwrap())(s.Context, &raw mut ids) };
    assert_ne!(ids.VendorId, 0);
    let mut location = DXGKARG_GETDEVICELOCATION::zeroed();
    location.VirtualFunctionIndex = vf;
    unsafe { (s.DxgkDdiGetDeviceLocation.unwrap())(s.Context, &raw mut location) };
    let mut bars = [0u32; 6];
    let mut probed = DXGKARG_QUERYPROBEDBARS {
        VirtualFunctionIndex: vf,
        BaseRegisterValues: bars.as_mut_ptr(),
    };
    unsafe { (s.DxgkDdiQueryProbedBars.unwrap())(s.Context, &raw mut probed) };
    assert_ne!(bars[0], 0);
    let mut luid = LUID::zeroed();
    let mut q = DXGKARG_QUERYVIRTUALFUNCTIONLUID {
        VirtualFunctionIndex: vf,
        pLuid: &raw mut luid,
    };
    unsafe { (s.DxgkDdiQueryVirtualFunctionLuid.unwrap())(s.Context, &raw mut q) };
    assert_eq!(luid.HighPart, 0x4750);
    let mut count = DXGKARG_GETMMIORANGECOUNT::zeroed();
    count.VirtualFunctionIndex = vf;
    assert_eq!(
        unsafe { (f.DxgkDdiGetMmioRangeCount.unwrap())(f.Context, &raw mut count) },
        STATUS_SUCCESS
    );
    let mut ranges = [DXGK_MMIORANGEINFO::zeroed(); 4];
    for (bar, &n) in count.RangeCount.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let mut args = DXGKARG_GETMMIORANGES {
            VirtualFunctionIndex: vf,
            BarIndex: bar as ULONG,
            NumRanges: n,
            pMmioRanges: ranges.as_mut_ptr(),
        };
        assert!(n as usize <= ranges.len());
        assert_eq!(
            unsafe { (f.DxgkDdiGetMmioRanges.unwrap())(f.Context, &raw mut args) },
            STATUS_SUCCESS
        );
    }
}

/// Every partition, SR-IOV, FlexIOV, vGPU-allocation and live-migration
/// DDI that allocates, walked; those that do not, shown to allocate nothing.
#[test]
fn every_vgpu_allocation_failure_is_reported_with_nothing_changed_or_leaked() {
    let mut walked = Vec::new();
    let mut run = |w: Result<Walked, String>| match w {
        Ok(w) => walked.push(w),
        Err(e) => panic!("{e}"),
    };
    // The partition interface.
    run(walk_set_count("SetGpuPartitionCount (none to 4)", None, 4));
    run(walk_set_count("SetGpuPartitionCount (2 to 8)", Some(2), 8));
    run(allocates_nothing(
        "SetGpuPartitionCount (to the current count)",
        || gpup(Some(2)),
        |s| assert_eq!(set_count_raw(&s.adapter, 2), STATUS_SUCCESS),
    ));
    run(allocates_nothing(
        "GetGpuPartitionInfo, GetVirtualGpuProfile",
        || gpup(Some(2)),
        |s| {
            let (p, _, _) = ifaces(&s.adapter);
            let mut options = [0u16; 8];
            let mut info = DXGKARG_GETGPUPARTITIONINFO {
                NumGpuPartitionOptions: options.len() as ULONG,
                pGpuPartitionOptions: options.as_mut_ptr(),
                CurrentGpuPartitionCount: 0,
            };
            assert_eq!(
                unsafe { (p.DxgkDdiGetGpuPartitionInfo.unwrap())(p.Context, &raw mut info) },
                STATUS_SUCCESS
            );
            let mut profile = DXGKARG_GETVIRTUALGPUPROFILE::zeroed();
            profile.PartitionCount = 4;
            assert_eq!(
                unsafe { (p.DxgkDdiGetVirtualGpuProfile.unwrap())(p.Context, &raw mut profile) },
                STATUS_SUCCESS
            );
        },
    ));
    run(allocates_nothing(
        "QueryInterface (partition, SR-IOV, FlexIOV), InterfaceReference/Dereference",
        || (gpup(None), RefCell::new([0u64; 32])),
        |(g, buf)| {
            let a = &g.adapter;
            let mut buf = buf.borrow_mut();
            for (guid, size) in [
                (&GPU_PARTITION.guid, 128),
                (&SRIOV.guid, 120),
                (&FLEXIOV_DEVICE.guid, 56),
            ] {
                assert_eq!(
                    qi(a, guid, size, 1, buf.as_mut_ptr().cast()),
                    STATUS_SUCCESS
                );
            }
            let (p, s, f) = ifaces(a);
            unsafe {
                (p.InterfaceReference.unwrap())(p.Context);
                (p.InterfaceDereference.unwrap())(p.Context);
                // The three references the queries took.
                (p.InterfaceDereference.unwrap())(p.Context);
                (s.InterfaceDereference.unwrap())(s.Context);
                (f.InterfaceDereference.unwrap())(f.Context);
            }
        },
    ));
    run(walk_create_vgpu(
        "CreateVirtualGpu (profile optimum)",
        false,
    ));
    run(walk_create_vgpu(
        "CreateVirtualGpu (beside a running vGPU)",
        true,
    ));
    let one_vgpu = || {
        let g = gpup(Some(2));
        let v = running_vf(&g.adapter, 0);
        (g, v)
    };
    run(allocates_nothing(
        "GetStandardAllocationDriverData (both calls)",
        || {
            let g = gpup(Some(2));
            let mut b = create_block(0, [(0, 0, 0); 4]);
            assert_eq!(raw_create(&g.adapter, &mut b), STATUS_SUCCESS);
            (g, b)
        },
        |(g, b)| {
            let data = private_data(&g.adapter, b);
            assert_eq!(&data[..4], b"GPVA");
        },
    ));
    run(walk_create_allocation(
        "CreateAllocation (one vGPU reserve)",
        1,
    ));
    run(walk_create_allocation(
        "CreateAllocation (two vGPU reserves)",
        2,
    ));
    run(walk_bind(
        "SetVirtualGpuResources (beside a running vGPU)",
        false,
    ));
    run(walk_bind(
        "SetVirtualGpuResources2 (4 pieces, beside a scattered vGPU)",
        true,
    ));
    run(allocates_nothing(
        "GetVirtualGpuInfo, SetVirtualGpuVmBus",
        one_vgpu,
        |(g, _)| {
            assert_eq!(raw_info(&g.adapter, 0).0, STATUS_SUCCESS);
            assert_eq!(g.adapter.set_vgpu_vmbus(0, 0x1234), Ok(()));
        },
    ));
    run(allocates_nothing(
        "VirtualGpuDriverEscape (query, write notify, MSI-X table)",
        || {
            let (g, v) = one_vgpu();
            let mut notify = Vec::new();
            notify.extend(4096u64.to_le_bytes());
            notify.extend((3 * 4096u64).to_le_bytes());
            let escapes = [
                Escape::new(&v, GPUP_VGPU_ESCAPE_QUERY, &[], GPUP_VGPU_ESCAPE_INFO::SIZE),
                Escape::new(&v, GPUP_VGPU_ESCAPE_WRITE_NOTIFY, &notify, 0),
                Escape::new(
                    &v,
                    GPUP_VGPU_ESCAPE_MSIX,
                    &[],
                    GPUP_VGPU_ESCAPE_MSIX_TABLE::SIZE,
                ),
            ];
            (g, escapes)
        },
        |(g, escapes)| {
            for e in escapes {
                assert_eq!(e.call(&g.adapter, 0), STATUS_SUCCESS);
            }
        },
    ));
    // SR-IOV and FlexIOV.
    run(walk_config_write());
    run(allocates_nothing(
        "ReadVirtualFunctionConfig, the probe (ids, location, BARs, LUID, MMIO ranges)",
        one_vgpu,
        |(g, _)| {
            let mut space = [0u8; 4096];
            assert_eq!(g.adapter.vf_config_read(0, 0, &mut space), Ok(()));
            probe_raw(&g.adapter, 0);
        },
    ));
    run(allocates_nothing(
        "SetVirtualFunctionPowerState (D3, D0), ResetVirtualFunction",
        one_vgpu,
        |(g, _)| {
            let a = &g.adapter;
            assert_eq!(a.set_vf_power(0, POWER_DEVICE_D3, false), Ok(()));
            assert_eq!(a.set_vf_power(0, POWER_DEVICE_D0, true), Ok(()));
            assert_eq!(a.reset_vf(0), Ok(()));
        },
    ));
    run(walk_destroy_allocation(
        "DestroyAllocation (bound reserve)",
        true,
    ));
    run(walk_destroy_allocation(
        "DestroyAllocation (after DestroyVirtualGpu)",
        false,
    ));
    run(allocates_nothing(
        "DestroyVirtualGpu (running)",
        one_vgpu,
        |(g, _)| {
            assert_eq!(g.adapter.destroy_vgpu_raw(0), STATUS_SUCCESS);
        },
    ));
    // Live migration.
    run(allocates_nothing(
        "QueryAdapterInfo (GPUPCAPS, SCATTER_RESERVE)",
        || gpup(Some(2)),
        |s| {
            let a = &s.adapter;
            let mut caps = [0u8; core::mem::size_of::<DXGK_GPUPCAPS>()];
            assert_eq!(
                a.query_adapter_info_raw(DXGKQAITYPE_GPUPCAPS, &[], &mut caps),
                STATUS_SUCCESS
            );
            let mut out = [0u8; core::mem::size_of::<DXGK_QUERYSCATTERRESERVEOUT>()];
            assert_eq!(
                a.query_adapter_info_raw(
                    DXGKQAITYPE_SCATTER_RESERVE,
                    &SEG_4K.to_le_bytes(),
                    &mut out
                ),
                STATUS_SUCCESS
            );
        },
    ));
    run(allocates_nothing(
        "PrepareLiveMigration (source, target)",
        || {
            let g = gpup(Some(2));
            let v = running_vf(&g.adapter, 0);
            let w = running_vf(&g.adapter, 1);
            (g, v, w)
        },
        |(g, _, _)| {
            let a = &g.adapter;
            assert_eq!(
                a.prepare_live_migration(0, MigrationType::Source),
                STATUS_SUCCESS
            );
            assert_eq!(
                a.prepare_live_migration(1, MigrationType::Target),
                STATUS_SUCCESS
            );
        },
    ));
    run(allocates_nothing(
        "SetVirtualFunctionPauseState, WriteVirtualizedInterrupt",
        one_vgpu,
        |(g, _)| {
            let a = &g.adapter;
            assert_eq!(a.set_vf_pause(0, true), STATUS_SUCCESS);
            for i in 0..4 {
                let e = msix_entry(0xFEE0_0000 + 16 * i as u64, 0x40 + i as u32, 0);
                assert_eq!(a.write_virtualized_interrupt(0, i, e), STATUS_SUCCESS);
            }
            assert_eq!(a.set_vf_pause(0, false), STATUS_SUCCESS);
        },
    ));
    for (shape, how) in [
        (Shape::Contiguous, "contiguous"),
        (Shape::Scattered, "scattered source, two bases"),
    ] {
        let name = |ddi: &str| format!("{ddi} ({how})");
        for (kind, ddi) in [
            (Immutable, "SaveImmutableMigrationData"),
            (Mutable, "SaveMutableMigrationData"),
        ] {
            run(walk_save(
                &name(&format!("{ddi}, sizing call")),
                kind,
                false,
                shape,
            ));
            run(walk_save(
                &name(&format!("{ddi}, filling call")),
                kind,
                true,
                shape,
            ));
        }
        run(walk_restore(
            &name("RestoreImmutableMigrationData"),
            Immutable,
            shape,
        ));
        run(walk_restore(
            &name("RestoreMutableMigrationData"),
            Mutable,
            shape,
        ));
    }
    run(allocates_nothing(
        "EndLiveMigration (source and target)",
        || {
            let m = migrating(3, Shape::Contiguous);
            assert_eq!(
                m.t.restore_migration_data(Mutable, 0, &m.mutable),
                STATUS_SUCCESS
            );
            m
        },
        |m| {
            assert_eq!(m.s.end_live_migration(0), STATUS_SUCCESS);
            assert_eq!(m.t.end_live_migration(0), STATUS_SUCCESS);
        },
    ));
    run(allocates_nothing(
        "StopDevice (with live vGPUs)",
        || {
            let (g, v) = one_vgpu();
            let w = running_vf(&g.adapter, 1);
            (g, v, w)
        },
        |(g, _, _)| {
            let a = &g.adapter;
            let stop = a.driver().table().DxgkDdiStopDevice.unwrap();
            assert_eq!(unsafe { stop(a.context()) }, STATUS_SUCCESS);
        },
    ));
    report(
        "partitioning, SR-IOV, vGPU allocations, live migration",
        &walked,
    );
    let total: u64 = walked.iter().map(|w| w.points).sum();
    assert!(
        total >= 20,
        "the walks reach the driver's allocations ({total})"
    );
}

/// Prints each walk's allocation points and their total.
fn report(what: &str, walked: &[Walked]) {
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
