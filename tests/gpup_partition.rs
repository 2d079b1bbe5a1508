//! The twelve GPU-partition DDIs through the C ABI: one test per row of
//! the GPU-partitioning fixed behaviours of `docs/contract.md` that concern them, each
//! asserting the exact status and that nothing changed on error. The
//! escape (VirtualGpuDriverEscape) has its own file, `tests/gpup_escape.rs`.

#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

mod common;

use common::gpup::*;
use common::*;
use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::{Adapter, PartitionConfig, Reserve, VgpuRequest};
use gpup_miniport::vgpu::escape::*;

const PAGE: u64 = 4096;

fn set_count_raw(a: &Adapter, n: u32) -> NTSTATUS {
    let (p, _, _) = ifaces(a);
    let args = DXGKARG_SETGPUPARTITIONCOUNT { PartitionCount: n };
    unsafe { (p.DxgkDdiSetGpuPartitionCount.unwrap())(p.Context, &raw const args) }
}

fn current_count(a: &Adapter) -> u16 {
    a.partition_info().unwrap().1
}

#[test]
fn partition_info_with_a_short_capacity_or_null_array_reports_counts_and_leaves_the_array() {
    let (_d, a) = started_gpup(Some(4));
    let (p, _, _) = ifaces(&a);
    let f = p.DxgkDdiGetGpuPartitionInfo.unwrap();
    for (capacity, null) in [(0, true), (3, false), (2, true), (4, true), (100, true)] {
        let mut array = [0xABCDu16; 8];
        let mut args = DXGKARG_GETGPUPARTITIONINFO {
            NumGpuPartitionOptions: capacity,
            pGpuPartitionOptions: if null {
                core::ptr::null_mut()
            } else {
                array.as_mut_ptr()
            },
            CurrentGpuPartitionCount: 0xEEEE,
        };
        assert_eq!(
            unsafe { f(p.Context, &raw mut args) },
            STATUS_BUFFER_TOO_SMALL,
            "capacity {capacity}, NULL {null}"
        );
        assert_eq!(
            (args.NumGpuPartitionOptions, args.CurrentGpuPartitionCount),
            (4, 4)
        );
        assert_eq!(array, [0xABCD; 8], "array untouched");
    }
    let mut array = [0xABCDu16; 8];
    let mut args = DXGKARG_GETGPUPARTITIONINFO {
        NumGpuPartitionOptions: 8,
        pGpuPartitionOptions: array.as_mut_ptr(),
        CurrentGpuPartitionCount: 0,
    };
    for _ in 0..3 {
        // Repeatable: Dxgkrnl calls it for every management query.
        assert_eq!(unsafe { f(p.Context, &raw mut args) }, STATUS_SUCCESS);
        assert_eq!(
            (args.NumGpuPartitionOptions, args.CurrentGpuPartitionCount),
            (4, 4)
        );
        assert_eq!(
            array,
            [1, 2, 4, 8, 0xABCD, 0xABCD, 0xABCD, 0xABCD],
            "only the options written"
        );
        args.NumGpuPartitionOptions = 8;
    }
}

#[test]
fn the_count_starts_at_zero_and_the_options_are_configurable() {
    let (_d, a) = started_gpup(None);
    assert_eq!(
        a.partition_info().unwrap(),
        (vec![1, 2, 4, 8], 0),
        "0: let the OS choose"
    );
    let (_d2, b) = started_with_partitions(PartitionConfig {
        enabled: true,
        options: vec![32, 3, 5],
    });
    assert_eq!(b.partition_info().unwrap(), (vec![3, 5, 32], 0));
    b.set_partition_count(32).unwrap();
    assert_eq!(
        b.vgpu_profile(32).unwrap().ProfileCapability[0].MaxPartitionValue,
        8 * MIB
    );
    assert_eq!(
        set_count_raw(&b, 4),
        STATUS_INVALID_PARAMETER,
        "4 is not offered here"
    );
    let thirty_two: Vec<u16> = (1..=32).collect();
    let (_d3, c) = started_with_partitions(PartitionConfig {
        enabled: true,
        options: thirty_two.clone(),
    });
    assert_eq!(
        c.partition_info().unwrap().0,
        thirty_two,
        "at most 32 options"
    );
    // Invalid configurations are refused before start (nothing changes).
    let driver = dxgkrnl_model::Driver::load().unwrap();
    for (what, options) in [
        ("none", vec![]),
        ("33 options", (1..=33).collect()),
        ("a zero", vec![0, 2]),
        ("above 64", vec![65]),
        ("twice", vec![2, 4, 2]),
    ] {
        let mut adapter = driver.add_device().unwrap();
        let config = dxgkrnl_model::AdapterConfig {
            partitions: Some(PartitionConfig {
                enabled: true,
                options,
            }),
            ..gpup_layout()
        };
        assert_eq!(
            adapter.configure(&config),
            Err(STATUS_INVALID_PARAMETER),
            "{what}"
        );
        adapter.start().unwrap();
        assert_eq!(
            adapter.partition_info().unwrap().0,
            vec![1, 2, 4, 8],
            "{what}: the built-in options stay"
        );
    }
    // Not after the start.
    let mut started = driver.start_adapter(&gpup_layout()).unwrap();
    let config = dxgkrnl_model::AdapterConfig {
        partitions: Some(PartitionConfig {
            enabled: true,
            options: vec![2],
        }),
        ..gpup_layout()
    };
    assert_eq!(started.configure(&config), Err(STATUS_INVALID_DEVICE_STATE));
}

#[test]
fn set_partition_count_rejects_non_options_changes_under_live_vgpus_and_accepts_the_same() {
    let (_d, a) = started_gpup(None);
    for n in [0, 3, 16, u32::MAX] {
        assert_eq!(set_count_raw(&a, n), STATUS_INVALID_PARAMETER, "{n}");
        assert_eq!(current_count(&a), 0, "unchanged");
    }
    assert_eq!(set_count_raw(&a, 2), STATUS_SUCCESS);
    let v = a.create_vgpu(&VgpuRequest::default()).unwrap();
    for n in [1, 4, 8] {
        assert_eq!(
            set_count_raw(&a, n),
            STATUS_INVALID_DEVICE_STATE,
            "{n} while a vGPU lives"
        );
        assert_eq!(current_count(&a), 2, "unchanged");
    }
    assert_eq!(
        set_count_raw(&a, 0),
        STATUS_INVALID_PARAMETER,
        "not an option beats the vGPU check"
    );
    assert_eq!(set_count_raw(&a, 2), STATUS_SUCCESS, "equal: a no-op");
    assert_eq!(a.vgpu_query(&v).unwrap().PowerState, 1, "the vGPU lives on");
    a.destroy_vgpu(v.partition).unwrap();
    assert_eq!(set_count_raw(&a, 8), STATUS_SUCCESS);
    assert_eq!(current_count(&a), 8);
}

#[test]
fn the_profile_of_a_non_option_is_invalid_and_the_flags_are_host_virtual_device_only() {
    let (_d, a) = started_gpup(None);
    let (p, _, _) = ifaces(&a);
    let f = p.DxgkDdiGetVirtualGpuProfile.unwrap();
    for n in [0, 3, 9, u32::MAX] {
        let mut block = sentinel(168, 0x77);
        unsafe { block.as_mut_ptr().cast::<u32>().write(n) };
        assert_eq!(
            unsafe { f(p.Context, block.as_mut_ptr().cast()) },
            STATUS_INVALID_PARAMETER,
            "{n}"
        );
        assert_eq!(&bytes(&block)[4..], &[0x77; 164][..], "output untouched");
    }
    for n in [1u32, 2, 4, 8] {
        let prof = a.vgpu_profile(n).unwrap();
        assert_eq!(prof.VirtualizationFlags, 0x800, "HOST_VIRTUAL_DEVICE only");
        let m = prof.ProfileCapability[0];
        assert_eq!(m.MaxPartitionValue, 256 * MIB / u64::from(n));
        assert_eq!(m.OptimalPartitionValue, m.MaxPartitionValue);
        assert_eq!(m.MinPartitionValue, PAGE);
    }
    // Available VRAM follows the vGPUs.
    a.set_partition_count(4).unwrap();
    let v = a.create_vgpu(&VgpuRequest::vram(10 * MIB)).unwrap();
    for n in [1u32, 4] {
        assert_eq!(
            a.vgpu_profile(n).unwrap().ProfileCapability[0].AvailableValue,
            246 * MIB
        );
    }
    a.destroy_vgpu(v.partition).unwrap();
    assert_eq!(
        a.vgpu_profile(4).unwrap().ProfileCapability[0].AvailableValue,
        256 * MIB
    );
}

#[test]
fn create_before_any_count_or_at_or_above_the_count_is_invalid() {
    let (_d, a) = started_gpup(None);
    for id in [0, 1, 7] {
        let mut args = create_block(id, [(0, 0, 0); 4]);
        assert_eq!(
            raw_create(&a, &mut args),
            STATUS_INVALID_PARAMETER,
            "no count yet, id {id}"
        );
        assert_eq!(args.NumMemorySegments, 0, "nothing written");
    }
    a.set_partition_count(2).unwrap();
    for id in [2, 3, u32::MAX] {
        let mut args = create_block(id, [(0, 0, 0); 4]);
        assert_eq!(
            raw_create(&a, &mut args),
            STATUS_INVALID_PARAMETER,
            "id {id} >= 2"
        );
        assert_eq!(
            (args.NumMemorySegments, args.VirtualGpuLuid.LowPart),
            (0, 0)
        );
    }
    let mut args = create_block(1, [(0, 0, 0); 4]);
    assert_eq!(raw_create(&a, &mut args), STATUS_SUCCESS);
}

#[test]
fn create_on_an_occupied_slot_leaves_the_vgpu_untouched() {
    let (_d, a) = started_gpup(Some(2));
    let v = a.create_vgpu(&VgpuRequest::vram(20 * MIB)).unwrap();
    let before = raw_info(&a, 0);
    let mut args = create_block(
        0,
        [(MIB, 100 * MIB, 50 * MIB), (0, 0, 0), (0, 0, 0), (0, 0, 0)],
    );
    assert_eq!(raw_create(&a, &mut args), STATUS_INVALID_DEVICE_STATE);
    assert_eq!(args.NumMemorySegments, 0, "nothing written");
    assert_eq!(
        raw_info(&a, 0).1.Capability[0].CurrentValue,
        before.1.Capability[0].CurrentValue
    );
    assert_eq!(vf_luid(&a, 0), v.luid);
    let q = a.vgpu_query(&v).unwrap();
    assert_eq!(
        (
            q.PowerState,
            a.vgpu_host_state(v.partition).unwrap().ReserveOffset,
            q.ReserveSize,
        ),
        (1, v.reserves[0].offset, 20 * MIB)
    );
}

/// Checks that slot `id` is free: nothing answers for it, and a valid create succeeds in it.
fn assert_slot_free(a: &Adapter, id: u32) {
    assert_eq!(raw_info(a, id).0, STATUS_INVALID_PARAMETER);
    assert_eq!(
        vf_luid(a, id),
        LUID {
            LowPart: 0,
            HighPart: 0
        }
    );
    let mut ok = create_block(id, [(0, 0, 0); 4]);
    assert_eq!(raw_create(a, &mut ok), STATUS_SUCCESS, "the slot is free");
    assert_eq!(a.destroy_vgpu_raw(id), STATUS_SUCCESS);
}

#[test]
fn create_rejects_min_above_max_and_an_optimal_outside_and_keeps_nothing() {
    let (_d, a) = started_gpup(Some(4));
    for (cap, triple) in [
        (0, (8 * MIB, 4 * MIB, 0)),
        (0, (MIB, 4 * MIB, 8 * MIB)),
        (0, (2 * MIB, 4 * MIB, MIB)),
        (0, (0, 0, MIB)),
        (2, (5, 4, 0)),
        (3, (0, 4, 5)),
    ] {
        let mut profile = [(0, 0, 0); 4];
        profile[cap] = triple;
        let mut args = create_block(1, profile);
        assert_eq!(
            raw_create(&a, &mut args),
            STATUS_INVALID_PARAMETER,
            "capability {cap}: {triple:?}"
        );
        assert_eq!(args.NumMemorySegments, 0);
        assert_slot_free(&a, 1);
    }
}

fn created_size(
    a: &Adapter,
    profile: [(u64, u64, u64); 4],
) -> (NTSTATUS, Box<DXGKARG_CREATEVIRTUALGPU>) {
    let mut args = create_block(0, profile);
    let s = raw_create(a, &mut args);
    if s == STATUS_SUCCESS {
        assert_eq!(a.destroy_vgpu_raw(0), STATUS_SUCCESS);
    }
    (s, args)
}

#[test]
fn create_sizes_the_reserve_from_the_request_and_the_profile() {
    let (_d, a) = started_gpup(Some(4));
    let share = 64 * MIB;
    for (what, memory, expected) in [
        ("unspecified: the profile's optimum", (0, 0, 0), share),
        ("exact", (10 * MIB, 10 * MIB, 10 * MIB), 10 * MIB),
        (
            "rounded up to the page",
            (MIB, 20 * MIB, 10 * MIB + 1),
            10 * MIB + PAGE,
        ),
        (
            "no optimum: the profile's, clamped to Max",
            (0, 3 * MIB, 0),
            3 * MIB,
        ),
        (
            "no optimum, a wide range: the profile's optimum, the share",
            (MIB, 500 * MIB, 0),
            share,
        ),
        (
            "optimum above the share: the share",
            (MIB, 500 * MIB, 300 * MIB),
            share,
        ),
        (
            "Max not page aligned: stays within it",
            (PAGE, 3 * PAGE + 5, 3 * PAGE + 1),
            3 * PAGE,
        ),
    ] {
        let mut profile = [(0, 0, 0); 4];
        profile[0] = memory;
        let (s, args) = created_size(&a, profile);
        assert_eq!(s, STATUS_SUCCESS, "{what}");
        assert_eq!(args.NumMemorySegments, 1, "{what}: one segment entry");
        let info = args.SegmentInfo[0];
        assert_eq!(
            (info.DriverSegmentId, info.Size),
            (SEG_4K, expected),
            "{what}"
        );
        assert_eq!(
            info.Alignment, 4096,
            "Alignment = the dirty-tracking page size"
        );
        assert_eq!((info.MinSegmentOffset, info.MaxSegmentOffset), (0, 0));
        assert_ne!(info.PrivateDriverData, 0);
        assert_eq!(args.NumEngines, 0);
        assert_eq!(args.UserModeVirtualDeviceProvider, GUID::zeroed());
        assert_eq!(args.VirtualGpuLuid.HighPart, 0x4750);
    }
    // Engines the adapter lacks: any Max is fine, their current value is 0.
    let mut profile = [(0, 0, 0); 4];
    profile[1] = (0, 16, 4);
    let mut args = create_block(2, profile);
    assert_eq!(raw_create(&a, &mut args), STATUS_SUCCESS);
    let (_, info) = raw_info(&a, 2);
    assert_eq!(
        (
            info.Capability[1].MinValue,
            info.Capability[1].MaxValue,
            info.Capability[1].CurrentValue
        ),
        (0, 16, 0)
    );
    assert_eq!(info.Capability[0].CurrentValue, share);
    // The instance numbers differ between vGPUs (they tie reserves to one vGPU).
    let mut other = create_block(3, [(0, 0, 0); 4]);
    assert_eq!(raw_create(&a, &mut other), STATUS_SUCCESS);
    assert_ne!(
        other.SegmentInfo[0].PrivateDriverData,
        args.SegmentInfo[0].PrivateDriverData
    );
}

#[test]
fn create_refuses_more_vram_than_the_share_or_engines_it_lacks_keeping_nothing() {
    let (_d, a) = started_gpup(Some(4));
    for (what, cap, triple) in [
        (
            "Min VRAM above the share",
            0,
            (64 * MIB + PAGE, 128 * MIB, 0),
        ),
        (
            "Min VRAM above the segment",
            0,
            (512 * MIB, 512 * MIB, 512 * MIB),
        ),
        ("encode", 1, (1, 4, 0)),
        ("decode", 2, (16, 16, 16)),
        ("compute", 3, (1, 1, 1)),
    ] {
        let mut profile = [(0, 0, 0); 4];
        profile[cap] = triple;
        let mut args = create_block(1, profile);
        assert_eq!(
            raw_create(&a, &mut args),
            STATUS_INSUFFICIENT_RESOURCES,
            "{what}"
        );
        assert_eq!(args.NumMemorySegments, 0, "{what}");
        assert_slot_free(&a, 1);
    }
    assert_eq!(
        a.vgpu_profile(4).unwrap().ProfileCapability[0].AvailableValue,
        256 * MIB,
        "nothing kept"
    );
}

/// A vGPU whose reserve is allocated and pinned, and its basis created, but
/// not bound; and the valid resources entry for it.
fn unbound(a: &Adapter) -> (dxgkrnl_model::VgpuInfo, Reserve) {
    let v = a.create_vgpu_unbound(&VgpuRequest::vram(16 * MIB)).unwrap();
    let r = v.reserves[0];
    (v, r)
}

/// Every bad entry list for SetVirtualGpuResources, each named: `good` is
/// the valid entry, `other` a running vGPU, `w_res` another vGPU's entry.
fn bad_bindings(
    good: Reserve,
    other: &dxgkrnl_model::VgpuInfo,
    w_res: Reserve,
) -> Vec<(&'static str, Vec<Reserve>)> {
    let basis = good.basis.unwrap().0.addr();
    vec![
        ("no entry", vec![]),
        ("two entries", vec![good, good]),
        (
            "segment id differs",
            vec![Reserve {
                segment: GPUP_SEG_UNTRACKED,
                ..good
            }],
        ),
        ("segment 0", vec![Reserve { segment: 0, ..good }]),
        (
            "size below the request",
            vec![Reserve {
                size: good.size - PAGE,
                ..good
            }],
        ),
        (
            "offset misaligned",
            vec![Reserve {
                offset: good.offset + 512,
                ..good
            }],
        ),
        (
            "range past the segment",
            vec![Reserve {
                offset: 256 * MIB - 8 * MIB,
                ..good
            }],
        ),
        (
            "offset overflows",
            vec![Reserve {
                offset: u64::MAX - PAGE + 1,
                ..good
            }],
        ),
        (
            "overlaps another vGPU's reserve",
            vec![Reserve {
                offset: other.reserves[0].offset + 8 * MIB,
                ..good
            }],
        ),
        (
            "NULL handle",
            vec![Reserve {
                allocation: 0,
                ..good
            }],
        ),
        (
            "forged handle",
            vec![Reserve {
                allocation: 0x4100_0000_0000_1201,
                ..good
            }],
        ),
        (
            "a memory basis handle",
            vec![Reserve {
                allocation: basis,
                ..good
            }],
        ),
        (
            "another vGPU's allocation",
            vec![Reserve {
                allocation: w_res.allocation,
                ..good
            }],
        ),
        (
            "an allocation bound elsewhere",
            vec![Reserve {
                allocation: other.reserves[0].allocation,
                ..good
            }],
        ),
    ]
}

fn not_bound(a: &Adapter, v: &dxgkrnl_model::VgpuInfo) {
    let q = a.vgpu_query(v).unwrap();
    assert_eq!(
        (
            q.Flags & GPUP_VGPU_FLAG_RESERVE_BOUND,
            a.vgpu_host_state(v.partition).unwrap().ReserveOffset,
        ),
        (0, 0),
        "nothing bound"
    );
    assert_eq!(
        a.set_vf_power(v.partition, POWER_DEVICE_D0, false),
        Err(STATUS_INVALID_DEVICE_STATE)
    );
}

#[test]
fn set_resources_refuses_every_bad_binding_and_binds_nothing() {
    let (_d, a) = started_gpup(Some(4));
    let other = a.create_vgpu(&VgpuRequest::vram(16 * MIB)).unwrap();
    let (v, good) = unbound(&a);
    let (w, w_res) = unbound(&a);
    let cases = bad_bindings(good, &other, w_res);
    for (what, entries) in &cases {
        assert_eq!(
            a.set_vgpu_resources(v.partition, entries),
            Err(STATUS_INVALID_PARAMETER),
            "{what}"
        );
        not_bound(&a, &v);
    }
    // A count above 32 is refused before any entry is read (the block has one).
    let (p, _, _) = ifaces(&a);
    let mut block = [0u64; 5];
    block[0] = u64::from(v.partition) | (1000 << 32);
    assert_eq!(
        unsafe { (p.DxgkDdiSetVirtualGpuResources.unwrap())(p.Context, block.as_ptr().cast()) },
        STATUS_INVALID_PARAMETER
    );
    // A destroyed allocation is not ours any more.
    let stale = a.create_vgpu_unbound(&VgpuRequest::vram(16 * MIB)).unwrap();
    a.destroy_allocations(&[stale.reserves[0].allocation])
        .unwrap();
    assert_eq!(
        a.set_vgpu_resources(stale.partition, &stale.reserves),
        Err(STATUS_INVALID_PARAMETER)
    );
    // The valid binding still works, and then runs.
    a.set_vgpu_resources(v.partition, &[good]).unwrap();
    a.set_vf_power(v.partition, POWER_DEVICE_D0, false).unwrap();
    assert_eq!(
        a.vgpu_host_state(v.partition).unwrap().ReserveOffset,
        good.offset
    );
    // An allocation of a vGPU since destroyed cannot serve a new vGPU in its slot.
    assert_eq!(a.destroy_vgpu_raw(w.partition), STATUS_SUCCESS);
    let again = a
        .create_vgpu_unbound(&VgpuRequest {
            partition: Some(w.partition),
            ..VgpuRequest::vram(16 * MIB)
        })
        .unwrap();
    assert_eq!(again.partition, w.partition);
    assert_eq!(
        a.set_vgpu_resources(
            again.partition,
            &[Reserve {
                allocation: w_res.allocation,
                ..again.reserves[0]
            }]
        ),
        Err(STATUS_INVALID_PARAMETER)
    );
}

#[test]
fn set_resources_a_second_time_is_invalid_device_state() {
    let (_d, a) = started_gpup(Some(2));
    let v = a.create_vgpu(&VgpuRequest::vram(16 * MIB)).unwrap();
    let moved = Reserve {
        offset: v.reserves[0].offset + 32 * MIB,
        ..v.reserves[0]
    };
    for entries in [v.reserves.clone(), vec![moved]] {
        assert_eq!(
            a.set_vgpu_resources(v.partition, &entries),
            Err(STATUS_INVALID_DEVICE_STATE)
        );
        assert_eq!(
            a.vgpu_host_state(v.partition).unwrap().ReserveOffset,
            v.reserves[0].offset,
            "no remapping"
        );
    }
}

#[test]
fn destroy_of_an_unknown_or_destroyed_slot_is_invalid() {
    let (_d, a) = started_gpup(Some(2));
    assert_eq!(
        a.destroy_vgpu_raw(0),
        STATUS_INVALID_PARAMETER,
        "never created"
    );
    assert_eq!(
        a.destroy_vgpu_raw(2),
        STATUS_INVALID_PARAMETER,
        "at the count"
    );
    let v = a.create_vgpu(&VgpuRequest::default()).unwrap();
    assert_eq!(a.destroy_vgpu_raw(v.partition), STATUS_SUCCESS);
    assert_eq!(
        a.destroy_vgpu_raw(v.partition),
        STATUS_INVALID_PARAMETER,
        "already destroyed"
    );
}

#[test]
fn destroy_of_a_running_vgpu_succeeds_and_its_basis_stays_valid_until_destroyed() {
    let (_d, a) = started_gpup(Some(2));
    let v = a.create_vgpu(&VgpuRequest::vram(MIB)).unwrap();
    let r = v.reserves[0];
    let basis = r.basis.unwrap();
    a.vf_write_notify(&v, 2 * PAGE, 1).unwrap();
    assert_eq!(a.vgpu_query(&v).unwrap().PowerState, 1, "in D0");
    // Dxgkrnl's order, step by step.
    assert_eq!(a.destroy_vgpu_raw(v.partition), STATUS_SUCCESS);
    assert_eq!(
        set_bits(&query_all(&a, basis, r.size / PAGE, false), r.size / PAGE),
        vec![2],
        "the basis outlives the vGPU"
    );
    a.destroy_allocations(&[r.allocation]).unwrap();
    assert_eq!(
        set_bits(&query_all(&a, basis, r.size / PAGE, true), r.size / PAGE),
        vec![2]
    );
    assert_eq!(a.stop_dirty_tracking(basis), STATUS_SUCCESS);
    assert_eq!(a.destroy_memory_basis(basis), STATUS_SUCCESS);
}

#[test]
fn suspend_resume_and_get_gpu_engines_are_not_supported_and_change_nothing() {
    let (_d, a) = started_gpup(Some(2));
    let v = a.create_vgpu(&VgpuRequest::default()).unwrap();
    let (p, _, _) = ifaces(&a);
    let before = a.vgpu_query(&v).unwrap();
    let mut block = sentinel(76, 0x3C);
    let id = block.as_mut_ptr().cast::<u32>();
    unsafe { id.write(v.partition) };
    let image = bytes(&block);
    unsafe {
        assert_eq!(
            (p.DxgkDdiSuspendVirtualGpu.unwrap())(p.Context, id.cast()),
            STATUS_NOT_SUPPORTED
        );
        assert_eq!(
            (p.DxgkDdiResumeVirtualGpu.unwrap())(p.Context, id.cast()),
            STATUS_NOT_SUPPORTED
        );
        assert_eq!(
            (p.DxgkDdiGetGpuEngines.unwrap())(p.Context, id.cast()),
            STATUS_NOT_SUPPORTED
        );
    }
    assert_eq!(bytes(&block), image);
    assert_eq!(a.vgpu_query(&v).unwrap(), before);
}

#[test]
fn vmbus_null_is_invalid_and_a_new_handle_replaces_the_old() {
    let (_d, a) = started_gpup(Some(2));
    let v = a.create_vgpu(&VgpuRequest::default()).unwrap();
    assert_eq!(
        a.set_vgpu_vmbus(v.partition, 0),
        Err(STATUS_INVALID_PARAMETER)
    );
    assert_eq!(
        a.vgpu_host_state(v.partition).unwrap().VmBusHandle,
        v.vmbus as u64,
        "unchanged"
    );
    assert_eq!(
        a.set_vgpu_vmbus(1, 0x1234),
        Err(STATUS_INVALID_PARAMETER),
        "no vGPU in slot 1"
    );
    a.set_vgpu_vmbus(v.partition, 0xABC0).unwrap();
    assert_eq!(a.vgpu_host_state(v.partition).unwrap().VmBusHandle, 0xABC0);
    a.set_vgpu_vmbus(v.partition, 0xDEF0).unwrap();
    assert_eq!(a.vgpu_host_state(v.partition).unwrap().VmBusHandle, 0xDEF0);
    // User mode learns only that a handle is set (issue 15: the handle is a
    // kernel-mode handle): the reply has no field that holds it.
    let q = a.vgpu_query(&v).unwrap();
    assert_ne!(q.Flags & GPUP_VGPU_FLAG_VMBUS, 0);
    assert!(!q.encode().windows(8).any(|w| w == 0xDEF0u64.to_le_bytes()));
}
