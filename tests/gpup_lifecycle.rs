//! GPU partitioning end to end, through the C ABI, with dxgkrnl-model playing
//! Dxgkrnl and VidMm (`docs/contract.md`, how the OS drives a live migration):
//! vGPUs up to the partition count, the next one refused, one destroyed and
//! its slot reused with a new LUID, reserves that never overlap and that are
//! exactly the memory bases the model created.

#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

mod common;

use common::*;
use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::{Adapter, VgpuInfo, VgpuRequest};
use gpup_miniport::vgpu::escape::*;

const PAGE: u64 = 4096;

fn raw_create(adapter: &Adapter, partition: u32) -> NTSTATUS {
    let g = adapter.gpu_virtualization().unwrap();
    let mut args = Box::new(DXGKARG_CREATEVIRTUALGPU::zeroed());
    args.PartitionId = partition;
    unsafe { (g.partition.DxgkDdiCreateVirtualGpu.unwrap())(g.partition.Context, &raw mut *args) }
}

/// The pages of `vgpu`'s basis that are dirty (whole-basis query, clearing).
fn dirty_pages(adapter: &Adapter, vgpu: &VgpuInfo) -> Vec<u64> {
    let r = vgpu.reserves[0];
    let pages = r.size / PAGE;
    set_bits(&query_all(adapter, r.basis.unwrap(), pages, true), pages)
}

/// Everything the driver says about each vGPU agrees with what the model
/// (as VidMm) did: one reserve, pinned where the model put it, bound to the
/// vGPU, with a tracked memory basis over exactly that range; no two overlap.
fn check_reserves(adapter: &Adapter, vgpus: &[VgpuInfo]) {
    let mut ranges = Vec::new();
    for v in vgpus {
        assert_eq!(v.reserves.len(), 1, "one reserve per vGPU");
        let r = v.reserves[0];
        assert_eq!(r.segment, SEG_4K, "in the tracked segment");
        assert_eq!(r.offset % PAGE, 0, "page aligned");
        assert_eq!(r.size % PAGE, 0, "whole pages");
        assert!(r.offset + r.size <= 256 * MIB);
        assert!(r.basis.is_some() && r.tracking, "basis created and tracked");
        let info = adapter.vgpu_query(v).expect("escape query");
        assert_eq!(info.PartitionId, v.partition);
        assert_eq!(
            (info.LuidLowPart, info.LuidHighPart),
            (v.luid.LowPart, v.luid.HighPart)
        );
        assert_eq!(info.ReserveSegmentId, r.segment);
        let host = adapter.vgpu_host_state(v.partition).expect("host state");
        assert_eq!(host.ReserveOffset, r.offset, "bound where VidMm pinned it");
        assert_eq!(info.ReserveSize, r.size);
        assert_eq!(info.PowerState, 1, "D0");
        assert_ne!(info.Flags & GPUP_VGPU_FLAG_RESERVE_BOUND, 0);
        assert_ne!(info.Flags & GPUP_VGPU_FLAG_VMBUS, 0);
        assert_eq!(host.VmBusHandle, v.vmbus as u64);
        assert_eq!(
            v.caps[0].CurrentValue, r.size,
            "GetVirtualGpuInfo: the VRAM it has"
        );
        ranges.push((r.offset, r.offset + r.size));
    }
    ranges.sort_unstable();
    for w in ranges.windows(2) {
        assert!(w[0].1 <= w[1].0, "reserves overlap: {w:?}");
    }
    // The binding is the basis: a write the VF reports at VF page k is dirty
    // at page k of its own basis, and in no other vGPU's basis.
    for v in vgpus {
        dirty_pages(adapter, v);
    }
    for (i, v) in vgpus.iter().enumerate() {
        let page = 3 + i as u64;
        adapter.vf_write_notify(v, page * PAGE + 17, 100).unwrap();
        for w in vgpus {
            let expected = if w.partition == v.partition {
                vec![page]
            } else {
                vec![]
            };
            assert_eq!(
                dirty_pages(adapter, w),
                expected,
                "write by {} seen by {}",
                v.partition,
                w.partition
            );
        }
    }
}

/// Four vGPUs at count 4: the lowest slots, the profile's optimum each,
/// unique LUIDs, and no VRAM left. Returns them and their LUIDs.
fn four_vgpus_in_the_lowest_slots(
    adapter: &Adapter,
) -> (Vec<VgpuInfo>, std::collections::HashSet<(u32, i32)>) {
    let vgpus: Vec<VgpuInfo> = (0..4)
        .map(|_| {
            adapter
                .create_vgpu(&VgpuRequest::default())
                .expect("room for 4")
        })
        .collect();
    assert_eq!(
        vgpus.iter().map(|v| v.partition).collect::<Vec<_>>(),
        [0, 1, 2, 3],
        "Dxgkrnl picks the lowest free slot"
    );
    for v in &vgpus {
        assert_eq!(
            v.reserves[0].size,
            64 * MIB,
            "the profile's optimum: a quarter"
        );
        assert_eq!(v.umed, GUID::zeroed(), "no user-mode emulation DLL");
        assert_eq!(v.probe.luid, v.luid);
    }
    check_reserves(adapter, &vgpus);
    let luids: std::collections::HashSet<_> = vgpus
        .iter()
        .map(|v| (v.luid.LowPart, v.luid.HighPart))
        .collect();
    assert_eq!(luids.len(), 4, "unique LUIDs");
    assert_eq!(
        adapter.vgpu_profile(4).unwrap().ProfileCapability[0].AvailableValue,
        0
    );
    (vgpus, luids)
}

#[test]
fn vgpus_up_to_the_count_then_refusal_destroy_and_reuse_with_a_new_luid() {
    let (_d, adapter) = started_with(&gpup_layout());
    let g = adapter
        .gpu_virtualization()
        .expect("the real driver is GPU-P capable");
    assert!(g.flexiov.is_some() && g.mitigable.is_none());
    assert_eq!(adapter.partition_info().unwrap(), (vec![1, 2, 4, 8], 0));
    adapter.set_partition_count(4).unwrap();
    assert_eq!(adapter.partition_info().unwrap().1, 4);

    let (mut vgpus, luids) = four_vgpus_in_the_lowest_slots(&adapter);

    // The fifth: Dxgkrnl has no free slot; the driver itself refuses an id
    // at the count and an occupied slot.
    assert_eq!(
        adapter.create_vgpu(&VgpuRequest::default()).err(),
        Some(STATUS_INSUFFICIENT_RESOURCES)
    );
    assert_eq!(raw_create(&adapter, 4), STATUS_INVALID_PARAMETER);
    assert_eq!(raw_create(&adapter, 2), STATUS_INVALID_DEVICE_STATE);
    assert_eq!(adapter.vgpus().len(), 4);
    check_reserves(&adapter, &vgpus);

    // No count change while vGPUs live (Dxgkrnl's check and the driver's).
    assert_eq!(
        adapter.set_partition_count(2),
        Err(STATUS_INVALID_DEVICE_STATE)
    );
    let set = g.partition.DxgkDdiSetGpuPartitionCount.unwrap();
    let two = DXGKARG_SETGPUPARTITIONCOUNT { PartitionCount: 2 };
    assert_eq!(
        unsafe { set(g.partition.Context, &raw const two) },
        STATUS_INVALID_DEVICE_STATE
    );

    // Destroy one: its allocation and basis go too (the basis handle is stale).
    let gone = vgpus.remove(1);
    adapter.destroy_vgpu(1).unwrap();
    assert_eq!(
        adapter.destroy_memory_basis(gone.reserves[0].basis.unwrap()),
        STATUS_INVALID_HANDLE
    );
    assert_eq!(adapter.vgpu_info(1).err(), Some(STATUS_INVALID_PARAMETER));
    assert_eq!(
        adapter.vgpu_profile(4).unwrap().ProfileCapability[0].AvailableValue,
        64 * MIB
    );

    // Reuse the slot: a new vGPU, a new LUID, a reserve that overlaps no other.
    let again = adapter.create_vgpu(&VgpuRequest::default()).unwrap();
    assert_eq!(again.partition, 1, "the freed slot");
    assert_ne!(
        (again.luid.LowPart, again.luid.HighPart),
        (gone.luid.LowPart, gone.luid.HighPart)
    );
    assert!(!luids.contains(&(again.luid.LowPart, again.luid.HighPart)));
    vgpus.insert(1, again);
    check_reserves(&adapter, &vgpus);
    // The old vGPU's LUID names nothing now.
    assert_eq!(
        adapter
            .vgpu_escape(1, gone.luid, GPUP_VGPU_ESCAPE_QUERY, &[], 64)
            .err(),
        Some(STATUS_INVALID_PARAMETER)
    );

    for v in &vgpus {
        adapter.destroy_vgpu(v.partition).unwrap();
    }
    assert!(adapter.vgpus().is_empty());
    adapter.set_partition_count(8).unwrap();
    let eight: Vec<_> = (0..8)
        .map(|_| adapter.create_vgpu(&VgpuRequest::default()).unwrap())
        .collect();
    assert!(eight.iter().all(|v| v.reserves[0].size == 32 * MIB));
    check_reserves(&adapter, &eight);
}

#[test]
fn the_builtin_adapter_partitions_its_one_gib_segment() {
    // No configuration at all: what Windows gets.
    let driver = dxgkrnl_model::Driver::load().unwrap();
    let mut adapter = driver.add_device().unwrap();
    adapter.start().unwrap();
    assert_eq!(adapter.partition_info().unwrap(), (vec![1, 2, 4, 8], 0));
    for (count, share) in [
        (1, 1024 * MIB),
        (2, 512 * MIB),
        (4, 256 * MIB),
        (8, 128 * MIB),
    ] {
        let p = adapter.vgpu_profile(count).unwrap();
        assert_eq!(p.VirtualizationFlags, DXGK_VIRTUALIZED_HOST_VIRTUAL_DEVICE);
        let m = p.ProfileCapability[0];
        assert_eq!((m.TotalValue, m.AvailableValue), (1024 * MIB, 1024 * MIB));
        assert_eq!(
            (
                m.MinPartitionValue,
                m.MaxPartitionValue,
                m.OptimalPartitionValue
            ),
            (PAGE, share, share)
        );
        for c in &p.ProfileCapability[1..] {
            assert_eq!(
                (
                    c.TotalValue,
                    c.AvailableValue,
                    c.MinPartitionValue,
                    c.MaxPartitionValue,
                    c.OptimalPartitionValue
                ),
                (0, 0, 0, 0, 0),
                "no engines: no encode, decode or compute"
            );
        }
    }
    adapter.set_partition_count(2).unwrap();
    let v = adapter.create_vgpu(&VgpuRequest::vram(100 * MIB)).unwrap();
    assert_eq!(v.reserves[0].size, 100 * MIB);
    assert_eq!(v.probe.vendor_id, 0xFFFE);
    adapter.destroy_vgpu(v.partition).unwrap();
}

#[test]
fn stopping_an_adapter_with_live_vgpus_destroys_them_and_a_restart_is_clean() {
    let (_d, mut adapter) = started_with(&gpup_layout());
    adapter.set_partition_count(2).unwrap();
    let a = adapter.create_vgpu(&VgpuRequest::default()).unwrap();
    let _b = adapter.create_vgpu(&VgpuRequest::default()).unwrap();
    adapter.stop().expect("StopDevice with vGPUs alive");
    adapter.start().expect("restart");
    // A fresh partitioning state: no count, no vGPU, no allocation.
    assert_eq!(adapter.partition_info().unwrap(), (vec![1, 2, 4, 8], 0));
    adapter.set_partition_count(2).unwrap();
    assert_eq!(adapter.vgpu_info(0).err(), Some(STATUS_INVALID_PARAMETER));
    assert_eq!(
        adapter.destroy_allocations(&[a.reserves[0].allocation]),
        Err(STATUS_INVALID_HANDLE)
    );
    let c = adapter.create_vgpu(&VgpuRequest::default()).unwrap();
    assert_eq!(c.partition, 0);
    assert_ne!(c.luid, a.luid);
}

#[test]
fn a_caller_can_play_the_memory_basis_part_itself_between_reserve_and_run() {
    // What a live-migration orchestration that owns the bases does: the model
    // creates the vGPU and its pinned reserve, the caller creates and tracks
    // the basis, then the vGPU is bound and started.
    let (_d, adapter) = started_with(&gpup_layout());
    adapter.set_partition_count(2).unwrap();
    let v = adapter
        .create_vgpu_until(&VgpuRequest::vram(4 * MIB), dxgkrnl_model::Stage::Reserved)
        .unwrap();
    let r = v.reserves[0];
    assert!(r.basis.is_none() && !r.tracking);
    assert_eq!(
        adapter.vgpu_query(&v).unwrap().PowerState,
        4,
        "not running yet"
    );
    let basis = tracked(&adapter, r.segment, &[(r.offset, r.size)]);
    let v = adapter.run_vgpu(v.partition).unwrap();
    assert_eq!(adapter.vgpu_query(&v).unwrap().PowerState, 1);
    adapter.vf_write_notify(&v, 7 * PAGE, 1).unwrap();
    assert_eq!(
        set_bits(
            &query_all(&adapter, basis, r.size / PAGE, true),
            r.size / PAGE
        ),
        vec![7]
    );
    adapter.destroy_vgpu(v.partition).unwrap();
    // The caller's basis outlives the vGPU; the caller ends it.
    assert_eq!(adapter.stop_dirty_tracking(basis), STATUS_SUCCESS);
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
    assert_eq!(
        adapter.run_vgpu(v.partition).err(),
        Some(STATUS_INVALID_PARAMETER)
    );
}

#[test]
fn removing_an_adapter_with_live_vgpus_frees_them_with_it() {
    let (_d, adapter) = started_with(&gpup_layout());
    adapter.set_partition_count(2).unwrap();
    let v = adapter.create_vgpu(&VgpuRequest::default()).unwrap();
    let g = adapter.gpu_virtualization().unwrap();
    let (context, info) = (
        g.partition.Context,
        g.partition.DxgkDdiGetVirtualGpuInfo.unwrap(),
    );
    adapter.remove().expect("RemoveDevice with a vGPU alive");
    let mut args = DXGKARG_GETVIRTUALGPUINFO::zeroed();
    args.PartitionId = v.partition;
    assert_eq!(
        unsafe { info(context, &raw mut args) },
        STATUS_INVALID_PARAMETER,
        "the context is dead"
    );
}

/// The GPU-P host device (spec 6 item 1): the first vGPU creation makes it
/// through `DxgkDdiCreateDevice` (a live device of the driver's: a context
/// can be created on it), later vGPUs share it, and StopDevice's teardown
/// destroys it. A driver whose CreateDevice refuses it makes the vGPU's
/// creation fail with `STATUS_NO_MEMORY` (Dxgkrnl's "Failed to create
/// partitioned GPU device"), with nothing created.
#[test]
fn vgpus_are_created_over_one_gpu_p_host_device() {
    let (_d, mut a) = common::gpup::started_gpup(Some(2));
    assert_eq!(a.gpup_host_device(), None, "none before the first vGPU");
    a.create_vgpu(&VgpuRequest::vram(16 * MIB)).unwrap();
    let device = a.gpup_host_device().expect("made with the first vGPU");
    let context = a
        .create_context(device, 0, CreateContextFlags::empty())
        .expect("a live device of the driver");
    a.destroy_context(context.handle).unwrap();
    a.create_vgpu(&VgpuRequest::vram(16 * MIB)).unwrap();
    assert_eq!(a.gpup_host_device(), Some(device), "shared by every vGPU");
    a.stop().unwrap();
    a.start().unwrap();
    assert_eq!(a.gpup_host_device(), None, "destroyed with the stop");
    assert!(
        a.create_context(device, 0, CreateContextFlags::empty())
            .is_err(),
        "the old host device is dead"
    );

    // CreateDevice refusing every non-system device: the start (system
    // devices only) succeeds, the first vGPU does not.
    unsafe extern "system" fn refuse_ordinary(
        h: HANDLE,
        args: *mut DXGKARG_CREATEDEVICE,
    ) -> NTSTATUS {
        if !unsafe { (*args).flags() }.contains(CreateDeviceFlags::SystemDevice) {
            return STATUS_NO_MEMORY;
        }
        let real = gpup_miniport::initialization_data()
            .DxgkDdiCreateDevice
            .unwrap();
        unsafe { real(h, args) }
    }
    let driver = dxgkrnl_model::Driver::load()
        .unwrap()
        .patched(|t| t.DxgkDdiCreateDevice = Some(refuse_ordinary));
    let b = driver.start_adapter(&gpup_layout()).unwrap();
    b.set_partition_count(2).unwrap();
    assert_eq!(
        b.create_vgpu(&VgpuRequest::vram(16 * MIB)).err(),
        Some(STATUS_NO_MEMORY)
    );
    assert_eq!(b.gpup_host_device(), None);
}
