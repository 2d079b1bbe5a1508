//! Memory bases and dirty tracking: the walks of StartDevice,
//! CreateMemoryBasis and StartDirtyTracking, and the calls shown to allocate
//! nothing.

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::{Adapter, AdapterConfig, BasisHandle, Driver, MemorySegment, create_args};

use crate::common::*;
use crate::harness::*;

pub(crate) fn three_segments() -> AdapterConfig {
    layout()
}

pub(crate) fn one_segment() -> AdapterConfig {
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

/// An added and configured adapter that was not started, with the
/// `DXGKRNL_INTERFACE` to start it with.
pub(crate) struct Unstarted {
    pub(crate) _driver: Driver,
    pub(crate) adapter: Adapter,
}

pub(crate) fn start_device_raw(a: &Adapter) -> NTSTATUS {
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

pub(crate) fn dirty_caps_status(a: &Adapter) -> NTSTATUS {
    let mut out = [0u8; 4];
    a.query_adapter_info_raw(DXGKQAITYPE_DIRTYBITTRACKINGCAPS, &[], &mut out)
}

pub(crate) fn walk_start_device(
    name: &str,
    config: fn() -> AdapterConfig,
) -> Result<Walked, String> {
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
pub(crate) fn has_room_for(a: &Adapter, n: usize) -> Result<(), String> {
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

pub(crate) struct Started {
    pub(crate) _driver: Driver,
    pub(crate) adapter: Adapter,
}

pub(crate) fn started_one() -> Started {
    let driver = Driver::load().unwrap();
    let adapter = driver.start_adapter(&one_segment()).unwrap();
    Started {
        _driver: driver,
        adapter,
    }
}

pub(crate) fn walk_create(name: &str, ranges: &'static [(u64, u64)]) -> Result<Walked, String> {
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

pub(crate) struct WithBasis {
    pub(crate) inner: Started,
    pub(crate) basis: BasisHandle,
    pub(crate) pages: u64,
}

pub(crate) fn walk_start_tracking(
    name: &str,
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

pub(crate) const ONE_RANGE: &[(u64, u64)] = &[(0, 64 * 4096)];
pub(crate) const FIVE_RANGES: &[(u64, u64)] = &[
    (40 * MIB, 4096),
    (0, 8 * 4096),
    (MIB, 3 * 4096),
    (8 * MIB, 513 * 4096),
    (20 * MIB, 4096),
];

/// AddDevice and RemoveDevice allocate nothing; StartDevice, CreateMemoryBasis
/// and StartDirtyTracking, walked.
pub(crate) fn device_and_basis_creation(walked: &mut Vec<Walked>) {
    let mut run = recorder(walked);
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
}

/// The calls on a tracked basis, and StopDevice, allocate nothing.
pub(crate) fn calls_on_a_tracked_basis(walked: &mut Vec<Walked>) {
    let mut run = recorder(walked);
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
}
