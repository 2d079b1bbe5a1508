//! Allocations through the C ABI and the model's VidMm (`docs/contract.md`,
//! "Render objects"): ordinary allocations placed in the segment their kind
//! names, described, opened and closed per device; vGPU reserves named to
//! VidMm by their tracked VRAM segment alone, pinned there by VidMm (first
//! fit around whatever else it pinned), and bound at that offset.

#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

mod common;

use common::*;
use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::render::DeviceHandle;
use dxgkrnl_model::{Adapter, AdapterConfig, Driver, MemorySegment, VgpuRequest};
use gpup_miniport::host::{GPUP_HOST_VGPU_STATE, gpup_host_vgpu_state};
use gpup_miniport::render::allocation::{AllocationData, AllocationKind};

const VRAM: u32 = 2;

/// VRAM as segment 2 (tracked, 4 KiB pages) beside the aperture, segment 1.
fn vram_at_2() -> AdapterConfig {
    AdapterConfig {
        segments: vec![MemorySegment {
            id: VRAM,
            size: 64 * MIB,
            page_size: 4096,
        }],
        max_bases: 64,
        partitions: None,
    }
}

fn adapter() -> (Driver, Adapter) {
    started_with(&vram_at_2())
}

fn data(kind: AllocationKind, size: u64) -> AllocationData {
    AllocationData {
        kind,
        alignment: 0,
        size,
    }
}

#[test]
fn ordinary_allocations_name_one_segment_by_kind_and_vidmm_pins_them_there() {
    let (_d, a) = adapter();
    let paging = a
        .create_allocation(&data(AllocationKind::PagingBuffer, 64 * KIB))
        .unwrap();
    let pool = a
        .create_allocation(&data(AllocationKind::DmaPool, 256 * KIB))
        .unwrap();
    let vram = a
        .create_allocation(&data(AllocationKind::Vram, MIB))
        .unwrap();
    for (p, segment) in [(&paging, 1u32), (&pool, 1), (&vram, VRAM)] {
        let i = p.info;
        let bit = 1u32 << (segment - 1);
        assert_eq!(i.PreferredSegment.Value & 0x1F, segment, "SegmentId0");
        assert_eq!(i.PreferredSegment.Value >> 5, 0, "no other preference");
        assert_eq!(
            (i.SupportedReadSegmentSet, i.SupportedWriteSegmentSet),
            (bit, bit)
        );
        assert_eq!(i.EvictionSegmentSet, 0);
        assert_eq!((i.Flags.Value, i.Flags2.Value), (0, 0));
        assert_eq!(i.Alignment, 4096);
        assert_eq!(
            p.pinned.segment, segment,
            "VidMm pinned it where the driver said"
        );
        assert_eq!(i.hAllocation.addr() >> 56, usize::from(b'R'));
    }
    assert_eq!(paging.info.Size, 64 * 1024);
    // First fit in the aperture: the pool after the paging buffer.
    assert_eq!((paging.pinned.offset, pool.pinned.offset), (0, 64 * KIB));
    assert_eq!(vram.pinned.offset, 0);
    // Described as a buffer of its bytes.
    let desc = a.describe_allocation(vram.handle).unwrap();
    assert_eq!((desc.Width, desc.Height), (1 << 20, 1));
    assert_eq!(desc.Format, D3DDDIFMT_UNKNOWN);
    assert_eq!(desc.Rotation, D3DDDI_ROTATION_IDENTITY);
    // Destroyed: refused from then on, and its room is VidMm's again.
    a.destroy_placed_allocation(&paging).unwrap();
    assert_eq!(
        a.describe_allocation(paging.handle).err(),
        Some(STATUS_INVALID_PARAMETER)
    );
    assert_eq!(
        a.destroy_allocations(&[paging.handle]),
        Err(STATUS_INVALID_HANDLE)
    );
    let again = a
        .create_allocation(&data(AllocationKind::PagingBuffer, 64 * KIB))
        .unwrap();
    assert_eq!(again.pinned.offset, 0, "first fit reuses the freed range");
}

#[test]
fn vidmm_refuses_what_fits_nowhere_or_names_no_segment_it_knows() {
    let (_d, a) = adapter();
    let big = a
        .create_allocation(&data(AllocationKind::Vram, 40 * MIB))
        .unwrap();
    assert_eq!(
        a.create_allocation(&data(AllocationKind::Vram, 40 * MIB))
            .err(),
        Some(STATUS_INSUFFICIENT_RESOURCES),
        "the second does not fit beside the first"
    );
    assert_eq!(
        a.create_allocation(&data(AllocationKind::Vram, 65 * MIB))
            .err(),
        Some(STATUS_INVALID_PARAMETER),
        "larger than the segment: the driver refuses it"
    );
    // A driver answer naming segment 9 (unknown to VidMm), or nothing.
    let mut info = DXGK_ALLOCATIONINFO::zeroed();
    info.Size = 4096;
    info.SupportedReadSegmentSet = 1 << 8;
    info.SupportedWriteSegmentSet = 1 << 8;
    assert_eq!(a.vidmm_pin(&info).err(), Some(STATUS_INVALID_PARAMETER));
    info.SupportedReadSegmentSet = 0;
    info.SupportedWriteSegmentSet = 0;
    assert_eq!(a.vidmm_pin(&info).err(), Some(STATUS_INVALID_PARAMETER));
    // Readable there but not writable: not allowed either.
    info.SupportedReadSegmentSet = 1 << (VRAM - 1);
    assert_eq!(a.vidmm_pin(&info).err(), Some(STATUS_INVALID_PARAMETER));
    a.destroy_placed_allocation(&big).unwrap();
}

#[test]
fn create_and_destroy_take_one_kind_per_call_all_or_none() {
    let (_d, a) = adapter();
    let mut good = data(AllocationKind::Vram, 8192).encode();
    let mut bad = good;
    bad[8] = 77; // no such kind
    let mut infos = [DXGK_ALLOCATIONINFO::zeroed(), DXGK_ALLOCATIONINFO::zeroed()];
    infos[0].pPrivateDriverData = good.as_mut_ptr().cast();
    infos[0].PrivateDriverDataSize = 32;
    infos[1].pPrivateDriverData = bad.as_mut_ptr().cast();
    infos[1].PrivateDriverDataSize = 32;
    let mut c = DXGKARG_CREATEALLOCATION::zeroed();
    c.NumAllocations = 2;
    c.pAllocationInfo = infos.as_mut_ptr();
    assert_eq!(
        unsafe { a.create_allocation_raw(&raw mut c) },
        STATUS_INVALID_PARAMETER
    );
    assert!(
        infos.iter().all(|i| i.hAllocation.is_null()),
        "nothing written"
    );
    let one = a
        .create_allocation(&data(AllocationKind::Vram, 8192))
        .unwrap();
    let two = a
        .create_allocation(&data(AllocationKind::DmaPool, 8192))
        .unwrap();
    assert_eq!(
        a.destroy_allocations(&[one.handle, two.handle, one.handle]),
        Err(STATUS_INVALID_HANDLE),
        "repeated"
    );
    assert!(
        a.describe_allocation(one.handle).is_ok(),
        "nothing destroyed"
    );
    a.destroy_allocations(&[one.handle, two.handle]).unwrap();
    assert_eq!(
        a.describe_allocation(two.handle).err(),
        Some(STATUS_INVALID_PARAMETER)
    );
}

#[test]
fn opens_belong_to_their_device_and_go_with_it() {
    let (_d, a) = adapter();
    let d = a.create_device(CreateDeviceFlags::empty(), None).unwrap();
    let e = a.create_device(CreateDeviceFlags::empty(), None).unwrap();
    let bytes = data(AllocationKind::Vram, 4096).encode();
    let opened = a
        .open_allocations(d, &[(0x4000_0001, &bytes), (0x4000_0002, &bytes)])
        .unwrap();
    assert_eq!(opened.len(), 2);
    assert!(opened.iter().all(|&h| h >> 56 == usize::from(b'O')));
    assert_ne!(opened[0], opened[1]);
    assert_eq!(
        a.close_allocations(e, &opened[..1]),
        Err(STATUS_INVALID_HANDLE),
        "another device's open"
    );
    a.close_allocations(d, &opened[..1]).unwrap();
    assert_eq!(
        a.close_allocations(d, &opened[..1]),
        Err(STATUS_INVALID_HANDLE),
        "closed"
    );
    let garbage = [0x42u8; 32];
    assert_eq!(
        a.open_allocations(d, &[(1, &garbage)]).err(),
        Some(STATUS_INVALID_PARAMETER)
    );
    assert_eq!(
        a.open_allocations(DeviceHandle(0x1234), &[(1, &bytes)])
            .err(),
        Some(STATUS_INVALID_HANDLE)
    );
    a.destroy_device(d).unwrap();
    let again = a.create_device(CreateDeviceFlags::empty(), None).unwrap();
    assert_eq!(
        a.close_allocations(again, &opened[1..]),
        Err(STATUS_INVALID_HANDLE),
        "the open went with its device"
    );
}

#[test]
fn a_vgpu_reserve_names_only_the_tracked_segment_and_is_bound_where_vidmm_pinned_it() {
    let (_d, a) = adapter();
    // Something VidMm pinned first at the start of VRAM.
    let first = a
        .create_allocation(&data(AllocationKind::Vram, 3 * MIB))
        .unwrap();
    assert_eq!((first.pinned.segment, first.pinned.offset), (VRAM, 0));
    a.set_partition_count(2).unwrap();
    let v = a.create_vgpu(&VgpuRequest::vram(8 * MIB)).unwrap();
    let r = &v.reserves[0];
    assert_eq!(r.segment, VRAM, "the tracked VRAM segment");
    assert_eq!(
        r.offset,
        3 * MIB,
        "first fit, after the ordinary allocation"
    );
    let mut state = GPUP_HOST_VGPU_STATE::default();
    assert_eq!(
        unsafe { gpup_host_vgpu_state(a.context(), v.partition, &raw mut state) },
        STATUS_SUCCESS
    );
    assert_eq!(state.ReserveOffset, r.offset, "bound at VidMm's offset");
    // The reserve's allocation is not an ordinary one: a mixed destroy is refused.
    assert_eq!(
        a.destroy_allocations(&[first.handle, r.allocation]),
        Err(STATUS_INVALID_PARAMETER)
    );
    a.destroy_vgpu(v.partition).unwrap();
    a.destroy_placed_allocation(&first).unwrap();
}

#[test]
fn a_vgpu_reserve_allocation_info_has_one_segment_and_no_eviction() {
    use common::gpup::{create_block, raw_create};
    let (_d, a) = adapter();
    a.set_partition_count(2).unwrap();
    let mut created = create_block(
        0,
        [(8 * MIB, 8 * MIB, 8 * MIB), (0, 0, 0), (0, 0, 0), (0, 0, 0)],
    );
    assert_eq!(raw_create(&a, &mut created), STATUS_SUCCESS);
    let s = created.SegmentInfo[0];
    assert_eq!(s.DriverSegmentId, VRAM);
    let mut surface = D3DKMDT_VIRTUALGPUSURFACEDATA {
        Size: s.Size,
        Alignment: s.Alignment,
        DriverSegmentId: s.DriverSegmentId,
        PrivateDriverData: s.PrivateDriverData,
    };
    let mut private = [0u8; 32];
    let mut args = DXGKARG_GETSTANDARDALLOCATIONDRIVERDATA::zeroed();
    args.StandardAllocationType = D3DKMDT_STANDARDALLOCATION_VGPU;
    args.pCreateVirtualGpuSurfaceData = &raw mut surface;
    args.pAllocationPrivateDriverData = private.as_mut_ptr().cast();
    assert_eq!(
        unsafe { a.get_standard_allocation_driver_data_raw(&raw mut args) },
        STATUS_SUCCESS
    );
    let mut info = DXGK_ALLOCATIONINFO::zeroed();
    info.pPrivateDriverData = private.as_mut_ptr().cast();
    info.PrivateDriverDataSize = 32;
    let mut c = DXGKARG_CREATEALLOCATION::zeroed();
    c.NumAllocations = 1;
    c.pAllocationInfo = &raw mut info;
    assert_eq!(
        unsafe { a.create_allocation_raw(&raw mut c) },
        STATUS_SUCCESS
    );
    let bit = 1 << (VRAM - 1);
    assert_eq!(info.PreferredSegment.Value, VRAM, "SegmentId0 only");
    assert_eq!(
        (info.SupportedReadSegmentSet, info.SupportedWriteSegmentSet),
        (bit, bit)
    );
    assert_eq!(info.EvictionSegmentSet, 0);
    assert_eq!(info.Flags.Value, 0, "no CPU access, no aperture");
    assert_eq!(info.Size as u64, s.Size);
    // VidMm pins it in that segment and nowhere else.
    let pinned = a.vidmm_pin(&info).unwrap();
    assert_eq!(pinned.segment, VRAM);
    a.vidmm_unpin(pinned);
    a.destroy_allocations(&[info.hAllocation.addr()]).unwrap();
}
