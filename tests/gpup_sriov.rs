//! The SR-IOV and FlexIOV DDIs of the emulated VFs through the C ABI: the
//! synthetic config space (with its side effects), ids, location, probed BARs,
//! FLR, power, LUID, the all-emulated MMIO ranges, and the section-6 rows that
//! concern them (unknown VF, accesses past 4 KiB, GetResourceForBar).

#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

mod common;

use common::gpup::*;
use common::*;
use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::{Adapter, VgpuRequest};
use gpup_miniport::vgpu::escape::*;

fn read32(a: &Adapter, vf: u32, offset: u32) -> u32 {
    let mut b = [0u8; 4];
    a.vf_config_read(vf, offset, &mut b).unwrap();
    u32::from_le_bytes(b)
}

fn write32(a: &Adapter, vf: u32, offset: u32, v: u32) {
    a.vf_config_write(vf, offset, &v.to_le_bytes()).unwrap();
}

fn config(a: &Adapter, vf: u32) -> Vec<u8> {
    let mut all = vec![0u8; 4096];
    a.vf_config_read(vf, 0, &mut all).unwrap();
    all
}

#[test]
fn the_config_space_is_a_display_function_with_pci_register_semantics() {
    let (_d, a) = started_gpup(Some(2));
    let v = a.create_vgpu(&VgpuRequest::vram(100 * MIB)).unwrap();
    let vf = v.partition;
    let id = read32(&a, vf, 0);
    assert_eq!(
        (id & 0xFFFF, id >> 16),
        (u32::from(v.probe.vendor_id), u32::from(v.probe.device_id))
    );
    assert_eq!(
        read32(&a, vf, 8) >> 8,
        0x03_02_00,
        "class: display, 3D controller"
    );
    assert_eq!(read32(&a, vf, 0x2C), id, "subsystem ids");
    assert_ne!(read32(&a, vf, 4) >> 16 & 0x10, 0, "capabilities list");
    // Read-only registers ignore writes.
    write32(&a, vf, 0, 0x1234_5678);
    write32(&a, vf, 8, 0xFFFF_FFFF);
    assert_eq!(read32(&a, vf, 0), id);
    // BAR sizing: write all ones, read the size mask back, for every BAR.
    for (i, bar) in (0x10..0x28).step_by(4).enumerate() {
        write32(&a, vf, bar, u32::MAX);
        assert_eq!(read32(&a, vf, bar), v.probe.probed_bars[i], "BAR {i}");
    }
    assert_eq!(
        v.probe.probed_bars,
        [0xFFF0_0000, 0, 0xF800_000C, 0xFFFF_FFFF, 0, 0],
        "1 MiB BAR0; 128 MiB 64-bit prefetchable BAR2/3"
    );
    // Then a base address sticks (above the size bits only).
    write32(&a, vf, 0x18, 0x4000_0123);
    assert_eq!(read32(&a, vf, 0x18), 0x4000_000C);
    // Command: memory space, bus master and INTx disable are writable; the escape sees it.
    write32(&a, vf, 4, 0xFFFF);
    assert_eq!(read32(&a, vf, 4) & 0xFFFF, 0x0406);
    // MSI-X: capability at 0x40, 4 vectors, table and PBA in BAR0; enable writable.
    assert_eq!(read32(&a, vf, 0x34) & 0xFF, 0x40);
    let msix = read32(&a, vf, 0x40);
    assert_eq!(
        (msix & 0xFF, (msix >> 8) & 0xFF, (msix >> 16) & 0x7FF),
        (0x11, 0x50, 3)
    );
    a.vf_config_write(vf, 0x43, &[0x80]).unwrap();
    let q = a.vgpu_query(&v).unwrap();
    assert_ne!(q.Flags & GPUP_VGPU_FLAG_MEMORY_ENABLED, 0);
    assert_ne!(q.Flags & GPUP_VGPU_FLAG_MSIX_ENABLED, 0);
    // PCI Express: FLR capable; writing "initiate FLR" resets the function.
    assert_ne!(read32(&a, vf, 0x54) & (1 << 28), 0);
    a.vf_config_write(vf, 0x58, &0x8000u16.to_le_bytes())
        .unwrap();
    assert_eq!(read32(&a, vf, 4) & 0xFFFF, 0, "command back to 0");
    assert_eq!(read32(&a, vf, 0x18), 0x0000_000C, "BAR back to 0");
    assert_eq!(read32(&a, vf, 0x58) & 0xFFFF, 0, "initiate-FLR reads 0");
    let q = a.vgpu_query(&v).unwrap();
    assert_eq!(
        q.Flags & (GPUP_VGPU_FLAG_MEMORY_ENABLED | GPUP_VGPU_FLAG_MSIX_ENABLED),
        0
    );
    assert_eq!(
        (q.PowerState, a.vgpu_host_state(vf).unwrap().ReserveOffset),
        (1, v.reserves[0].offset),
        "the VRAM reserve is kept"
    );
    // No extended capabilities; the space is 4 KiB.
    assert!(config(&a, vf)[0x100..].iter().all(|&b| b == 0));
    // VFs are independent.
    let w = a.create_vgpu(&VgpuRequest::vram(MIB)).unwrap();
    write32(&a, vf, 4, 2);
    assert_eq!(read32(&a, w.partition, 4) & 0xFFFF, 0);
    assert_eq!(w.probe.probed_bars[2], 0xFFF0_000C, "1 MiB aperture");
}

#[test]
fn reset_virtual_function_restores_the_power_on_config_and_keeps_the_reserve() {
    let (_d, a) = started_gpup(Some(2));
    let v = a.create_vgpu(&VgpuRequest::vram(MIB)).unwrap();
    let fresh = config(&a, v.partition);
    write32(&a, v.partition, 4, 0x406);
    write32(&a, v.partition, 0x10, 0x8000_0000);
    assert_ne!(config(&a, v.partition), fresh);
    a.reset_vf(v.partition).unwrap();
    assert_eq!(config(&a, v.partition), fresh);
    let q = a.vgpu_query(&v).unwrap();
    let offset = a.vgpu_host_state(v.partition).unwrap().ReserveOffset;
    assert_eq!((q.PowerState, offset), (1, v.reserves[0].offset));
    a.vf_write_notify(&v, 0, 1).unwrap();
}

#[test]
fn config_accesses_past_4k_or_empty_are_invalid_and_change_nothing() {
    let (_d, a) = started_gpup(Some(2));
    let v = a.create_vgpu(&VgpuRequest::default()).unwrap();
    let before = config(&a, v.partition);
    for (offset, len) in [
        (4096, 1),
        (4095, 2),
        (0, 4097),
        (0, 0),
        (100, 0),
        (u32::MAX, 4),
        (u32::MAX - 2, 8),
    ] {
        let mut out = vec![0x5Au8; len as usize];
        assert_eq!(
            a.vf_config_read(v.partition, offset, &mut out),
            Err(STATUS_INVALID_PARAMETER),
            "read {offset}+{len}"
        );
        assert!(
            out.iter().all(|&b| b == 0x5A),
            "read {offset}+{len}: nothing written"
        );
        let data = vec![0xFFu8; len as usize];
        assert_eq!(
            a.vf_config_write(v.partition, offset, &data),
            Err(STATUS_INVALID_PARAMETER),
            "write {offset}+{len}"
        );
    }
    // A write that would start FLR but overruns the space does nothing at all.
    assert_eq!(
        a.vf_config_write(v.partition, 0x58, &vec![0xFF; 4096]),
        Err(STATUS_INVALID_PARAMETER)
    );
    assert_eq!(config(&a, v.partition), before);
    // NULL Data.
    let (_, s, _) = ifaces(&a);
    let args = DXGKARG_READVIRTUALFUNCTIONCONFIG {
        Data: core::ptr::null_mut(),
        VirtualFunctionIndex: v.partition,
        Offset: 0,
        Length: 4,
    };
    assert_eq!(
        unsafe { (s.DxgkDdiReadVirtualFunctionConfig.unwrap())(s.Context, &raw const args) },
        STATUS_INVALID_PARAMETER
    );
    let args = DXGKARG_WRITEVIRTUALFUNCTIONCONFIG {
        Data: core::ptr::null_mut(),
        VirtualFunctionIndex: v.partition,
        Offset: 4,
        Length: 2,
    };
    assert_eq!(
        unsafe { (s.DxgkDdiWriteVirtualFunctionConfig.unwrap())(s.Context, &raw const args) },
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(config(&a, v.partition), before);
    // The last byte and the whole space are fine.
    let mut last = [0u8; 1];
    a.vf_config_read(v.partition, 4095, &mut last).unwrap();
}

#[test]
fn power_d0_needs_a_bound_reserve_d1_d2_are_unsupported_and_d3_stops() {
    let (_d, a) = started_gpup(Some(2));
    let v = a.create_vgpu_unbound(&VgpuRequest::vram(MIB)).unwrap();
    assert_eq!(
        a.set_vf_power(v.partition, POWER_DEVICE_D0, false),
        Err(STATUS_INVALID_DEVICE_STATE)
    );
    assert_eq!(
        a.vgpu_query(&v).unwrap().PowerState,
        4,
        "created idle, in D3"
    );
    a.set_vgpu_resources(v.partition, &v.reserves).unwrap();
    for (state, status) in [
        (POWER_DEVICE_D1, STATUS_NOT_SUPPORTED),
        (POWER_DEVICE_D2, STATUS_NOT_SUPPORTED),
        (DEVICE_POWER_STATE(0), STATUS_INVALID_PARAMETER),
        (DEVICE_POWER_STATE(5), STATUS_INVALID_PARAMETER),
        (DEVICE_POWER_STATE(-1), STATUS_INVALID_PARAMETER),
    ] {
        assert_eq!(
            a.set_vf_power(v.partition, state, false),
            Err(status),
            "{state:?}"
        );
        assert_eq!(a.vgpu_query(&v).unwrap().PowerState, 4, "unchanged");
    }
    a.set_vf_power(v.partition, POWER_DEVICE_D0, false).unwrap();
    a.set_vf_power(v.partition, POWER_DEVICE_D0, false).unwrap();
    assert_eq!(a.vgpu_query(&v).unwrap().PowerState, 1);
    a.vf_write_notify(&v, 0, 1).unwrap();
    a.set_vf_power(v.partition, POWER_DEVICE_D3, true).unwrap();
    assert_eq!(a.vgpu_query(&v).unwrap().PowerState, 4);
    assert_eq!(
        a.vf_write_notify(&v, 0, 1),
        Err(STATUS_INVALID_DEVICE_STATE)
    );
    a.set_vf_power(v.partition, POWER_DEVICE_D0, false).unwrap();
}

#[test]
fn the_probe_sees_ids_the_pf_location_the_luid_and_all_emulated_mmio_ranges() {
    let (_d, a) = started_gpup(Some(4));
    let v = a.create_vgpu(&VgpuRequest::vram(40 * MIB)).unwrap();
    let p = &v.probe;
    assert_eq!((p.vendor_id, p.device_id), (0xFFFE, 0x6770));
    assert_eq!(p.luid, v.luid);
    assert_eq!(p.mmio_range_count, [1, 0, 1, 0, 0, 0]);
    let aperture = 64 * MIB;
    for (bar, ranges) in &p.mmio_ranges {
        let size = if *bar == 0 { MIB } else { aperture };
        let mut next = 0u64;
        for r in ranges {
            assert_eq!(r.BasePageNumber, next, "BAR {bar}: contiguous");
            assert_eq!(r.BasePhysicalPageNumber, u64::MAX, "BAR {bar}: emulated");
            assert_eq!((r.InterceptReads, r.InterceptWrites), (1, 1));
            next += u64::from(r.PageCount);
        }
        assert_eq!(next * 4096, size, "BAR {bar}: every page mapped");
    }
    let (_, s, _) = ifaces(&a);
    let mut loc = DXGKARG_GETDEVICELOCATION {
        VirtualFunctionIndex: v.partition,
        SegmentNumber: 9,
        BusNumber: 9,
        FunctionNumber: 9,
    };
    unsafe { (s.DxgkDdiGetDeviceLocation.unwrap())(s.Context, &raw mut loc) };
    assert_eq!(
        (loc.SegmentNumber, loc.BusNumber, loc.FunctionNumber),
        (0, 0, 0),
        "the PF's: segment 0, bus 0, function 0"
    );
}

#[test]
fn flexiov_ranges_need_room_and_no_bar_has_a_backing_resource() {
    let (_d, a) = started_gpup(Some(2));
    let v = a.create_vgpu(&VgpuRequest::default()).unwrap();
    let (_, s, f) = ifaces(&a);
    let ranges = |bar: u32, n: u32, out: *mut DXGK_MMIORANGEINFO| {
        let mut args = DXGKARG_GETMMIORANGES {
            VirtualFunctionIndex: v.partition,
            BarIndex: bar,
            NumRanges: n,
            pMmioRanges: out,
        };
        unsafe { (f.DxgkDdiGetMmioRanges.unwrap())(f.Context, &raw mut args) }
    };
    let mut out = [DXGK_MMIORANGEINFO::zeroed(); 2];
    assert_eq!(ranges(0, 0, out.as_mut_ptr()), STATUS_BUFFER_TOO_SMALL);
    assert_eq!(
        ranges(0, 1, core::ptr::null_mut()),
        STATUS_INVALID_PARAMETER
    );
    for bar in [1, 3, 4, 5, 6, 99] {
        assert_eq!(
            ranges(bar, 2, out.as_mut_ptr()),
            STATUS_INVALID_PARAMETER,
            "BAR {bar} has no ranges"
        );
    }
    assert_eq!(out[0].PageCount, 0, "nothing written");
    assert_eq!(ranges(2, 2, out.as_mut_ptr()), STATUS_SUCCESS);
    assert_eq!(
        (out[0].PageCount, out[1].PageCount),
        (128 * MIB as u32 / 4096, 0),
        "one range, the second entry untouched"
    );
    // No physical resource backs any page: "set all return values and succeed".
    let mut descriptor = [0xEEu8; 20];
    for index in [0u16, 1, 31, u16::MAX] {
        let mut args = DXGKARG_GETBACKINGRESOURCE {
            VirtualFunctionIndex: v.partition,
            ResourceIndex: index,
            Resource: descriptor.as_mut_ptr().cast(),
            pMdl: core::ptr::without_provenance_mut(0x1000),
        };
        assert_eq!(
            unsafe { (f.DxgkDdiGetBackingResource.unwrap())(f.Context, &raw mut args) },
            STATUS_SUCCESS
        );
        assert!(args.pMdl.is_null());
        assert_eq!(descriptor[0], 0, "CmResourceTypeNull");
    }
    // GetResourceForBar and the config blocks: not for this software adapter.
    let mut res = DXGKARG_GETRESOURCEFORBAR {
        VirtualFunctionIndex: v.partition,
        BarIndex: 0,
        pResource: descriptor.as_mut_ptr().cast(),
    };
    descriptor = [0xEE; 20];
    assert_eq!(
        unsafe { (s.DxgkDdiGetResourceForBar.unwrap())(s.Context, &raw mut res) },
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(descriptor, [0xEE; 20]);
    let mut data = [0u8; 16];
    let rb = DXGKARG_READVIRTUALFUNCTIONCONFIGBLOCK {
        Data: data.as_mut_ptr().cast(),
        VirtualFunctionIndex: v.partition,
        BlockId: 1,
        Length: 16,
    };
    assert_eq!(
        unsafe { (s.DxgkDdiReadVirtualFunctionConfigBlock.unwrap())(s.Context, &raw const rb) },
        STATUS_NOT_SUPPORTED
    );
    let wb = DXGKARG_WRITEVIRTUALFUNCTIONCONFIGBLOCK {
        Data: data.as_mut_ptr().cast(),
        VirtualFunctionIndex: v.partition,
        BlockId: 1,
        Length: 16,
    };
    assert_eq!(
        unsafe { (s.DxgkDdiWriteVirtualFunctionConfigBlock.unwrap())(s.Context, &raw const wb) },
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(data, [0; 16]);
}

/// The partition DDIs refuse VF `vf` with `STATUS_INVALID_PARAMETER`; `o`
/// points at a scratch buffer that must stay unwritten.
fn partition_ddis_refuse(p: &DXGKDDI_GPU_PARTITION_INTERFACE, vf: u32, o: PVOID) {
    unsafe {
        let mut info = DXGKARG_GETVIRTUALGPUINFO::zeroed();
        info.PartitionId = vf;
        assert_eq!(
            (p.DxgkDdiGetVirtualGpuInfo.unwrap())(p.Context, &raw mut info),
            STATUS_INVALID_PARAMETER
        );
        let d = DXGKARG_DESTROYVIRTUALGPU { PartitionId: vf };
        assert_eq!(
            (p.DxgkDdiDestroyVirtualGpu.unwrap())(p.Context, &raw const d),
            STATUS_INVALID_PARAMETER
        );
        let vm = DXGKARG_SETVIRTUALGPUVMBUS {
            VirtualGpuIndex: vf,
            VmBusHandle: o,
        };
        assert_eq!(
            (p.DxgkDdiSetVirtualGpuVmBus.unwrap())(p.Context, &raw const vm),
            STATUS_INVALID_PARAMETER
        );
    }
}

/// The SR-IOV DDIs that take a VF refuse `vf`.
fn sriov_ddis_refuse(s: &DXGKDDI_SRIOV_INTERFACE, vf: u32, o: PVOID) {
    unsafe {
        let r = DXGKARG_READVIRTUALFUNCTIONCONFIG {
            Data: o,
            VirtualFunctionIndex: vf,
            Offset: 0,
            Length: 4,
        };
        assert_eq!(
            (s.DxgkDdiReadVirtualFunctionConfig.unwrap())(s.Context, &raw const r),
            STATUS_INVALID_PARAMETER
        );
        let w = DXGKARG_WRITEVIRTUALFUNCTIONCONFIG {
            Data: o,
            VirtualFunctionIndex: vf,
            Offset: 4,
            Length: 2,
        };
        assert_eq!(
            (s.DxgkDdiWriteVirtualFunctionConfig.unwrap())(s.Context, &raw const w),
            STATUS_INVALID_PARAMETER
        );
        let rb = DXGKARG_READVIRTUALFUNCTIONCONFIGBLOCK {
            Data: o,
            VirtualFunctionIndex: vf,
            BlockId: 0,
            Length: 4,
        };
        assert_eq!(
            (s.DxgkDdiReadVirtualFunctionConfigBlock.unwrap())(s.Context, &raw const rb),
            STATUS_INVALID_PARAMETER
        );
        let wb = DXGKARG_WRITEVIRTUALFUNCTIONCONFIGBLOCK {
            Data: o,
            VirtualFunctionIndex: vf,
            BlockId: 0,
            Length: 4,
        };
        assert_eq!(
            (s.DxgkDdiWriteVirtualFunctionConfigBlock.unwrap())(s.Context, &raw const wb),
            STATUS_INVALID_PARAMETER
        );
        let reset = DXGKARG_RESETVIRTUALFUNCTION {
            VirtualFunctionIndex: vf,
        };
        assert_eq!(
            (s.DxgkDdiResetVirtualFunction.unwrap())(s.Context, &raw const reset),
            STATUS_INVALID_PARAMETER
        );
        for state in [POWER_DEVICE_D0, POWER_DEVICE_D3, POWER_DEVICE_D1] {
            let pw = DXGKARG_SETVIRTUALFUNCTIONPOWERSTATE {
                VirtualFunctionIndex: vf,
                PowerState: state,
                Wake: 0,
            };
            assert_eq!(
                (s.DxgkDdiSetVirtualFunctionPowerState.unwrap())(s.Context, &raw const pw),
                STATUS_INVALID_PARAMETER
            );
        }
        let mut rfb = DXGKARG_GETRESOURCEFORBAR {
            VirtualFunctionIndex: vf,
            BarIndex: 0,
            pResource: o,
        };
        assert_eq!(
            (s.DxgkDdiGetResourceForBar.unwrap())(s.Context, &raw mut rfb),
            STATUS_INVALID_PARAMETER
        );
    }
}

/// The FlexIOV DDIs refuse `vf`, changing none of their outputs.
fn flexiov_ddis_refuse(f: &DXGKDDI_FLEXIOV_DEVICE_INTERFACE, vf: u32, o: PVOID) {
    unsafe {
        let mut count = DXGKARG_GETMMIORANGECOUNT {
            VirtualFunctionIndex: vf,
            RangeCount: [9; 6],
        };
        assert_eq!(
            (f.DxgkDdiGetMmioRangeCount.unwrap())(f.Context, &raw mut count),
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(count.RangeCount, [9; 6]);
        let mut ranges = DXGKARG_GETMMIORANGES {
            VirtualFunctionIndex: vf,
            BarIndex: 0,
            NumRanges: 2,
            pMmioRanges: o.cast(),
        };
        assert_eq!(
            (f.DxgkDdiGetMmioRanges.unwrap())(f.Context, &raw mut ranges),
            STATUS_INVALID_PARAMETER
        );
        let mut backing = DXGKARG_GETBACKINGRESOURCE {
            VirtualFunctionIndex: vf,
            ResourceIndex: 0,
            Resource: o,
            pMdl: o,
        };
        assert_eq!(
            (f.DxgkDdiGetBackingResource.unwrap())(f.Context, &raw mut backing),
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(backing.pMdl, o, "unchanged");
    }
}

/// The VOID DDIs zero their outputs for `vf`, and its LUID reads as zero.
fn void_ddis_zero_their_outputs(a: &Adapter, s: &DXGKDDI_SRIOV_INTERFACE, vf: u32) {
    unsafe {
        let mut ids = DXGKARG_GETVENDORANDDEVICE {
            VirtualFunctionIndex: vf,
            VendorId: 0xAAAA,
            DeviceId: 0xBBBB,
        };
        (s.DxgkDdiGetVendorAndDevice.unwrap())(s.Context, &raw mut ids);
        assert_eq!((ids.VendorId, ids.DeviceId), (0, 0));
        let mut bars = [0xCCCC_CCCCu32; 6];
        let mut pb = DXGKARG_QUERYPROBEDBARS {
            VirtualFunctionIndex: vf,
            BaseRegisterValues: bars.as_mut_ptr(),
        };
        (s.DxgkDdiQueryProbedBars.unwrap())(s.Context, &raw mut pb);
        assert_eq!(bars, [0; 6]);
        let mut loc = DXGKARG_GETDEVICELOCATION {
            VirtualFunctionIndex: vf,
            SegmentNumber: 7,
            BusNumber: 7,
            FunctionNumber: 7,
        };
        (s.DxgkDdiGetDeviceLocation.unwrap())(s.Context, &raw mut loc);
        assert_eq!(
            (loc.SegmentNumber, loc.BusNumber, loc.FunctionNumber),
            (0, 0, 0)
        );
    }
    assert_eq!(
        vf_luid(a, vf),
        LUID {
            LowPart: 0,
            HighPart: 0
        }
    );
}

#[test]
fn an_unknown_vf_is_invalid_in_every_per_vgpu_ddi_and_void_ddis_zero_their_outputs() {
    let (_d, a) = started_gpup(Some(4));
    let live = a.create_vgpu(&VgpuRequest::default()).unwrap();
    let (p, s, f) = ifaces(&a);
    let before = a.vgpu_query(&live).unwrap();
    // 2 is free, 4 is the count, the others far beyond.
    for vf in [2u32, 4, 5, 1000, u32::MAX] {
        let mut out = [0x77u8; 64];
        let o = out.as_mut_ptr().cast();
        partition_ddis_refuse(&p, vf, o);
        sriov_ddis_refuse(&s, vf, o);
        flexiov_ddis_refuse(&f, vf, o);
        assert_eq!(out, [0x77; 64], "VF {vf}: nothing written");
        assert_eq!(
            a.vgpu_escape(vf, live.luid, GPUP_VGPU_ESCAPE_QUERY, &[], 64)
                .err(),
            Some(STATUS_INVALID_PARAMETER)
        );
        assert_eq!(
            a.set_vgpu_resources(vf, &live.reserves),
            Err(STATUS_INVALID_PARAMETER)
        );
        void_ddis_zero_their_outputs(&a, &s, vf);
    }
    assert_eq!(
        a.vgpu_query(&live).unwrap(),
        before,
        "the live vGPU is untouched"
    );
}
