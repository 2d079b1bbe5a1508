//! The steps of the vGPU walk: partition interface, vGPU allocations,
//! SR-IOV, and live migration, in the order the test has always run them.

use std::cell::RefCell;

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::VgpuInfo;
use dxgkrnl_model::live::MigrationData::{Immutable, Mutable};
use dxgkrnl_model::live::{MigrationType, msix_entry};
use gpup_miniport::vgpu::escape::*;

use crate::common::gpup::*;
use crate::common::*;
use crate::harness::*;
use crate::migrate::*;
use crate::raw::*;
use crate::vgpu::*;

/// A GPU-P adapter at two partitions with VF 0 running.
pub(crate) fn one_vgpu() -> (Gpup, VgpuInfo) {
    let g = gpup(Some(2));
    let v = running_vf(&g.adapter, 0);
    (g, v)
}

/// The partition interface: SetGpuPartitionCount walked, the queries and
/// QueryInterface shown to allocate nothing.
pub(crate) fn partition_interface(walked: &mut Vec<Walked>) {
    let mut run = recorder(walked);
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
}

/// CreateVirtualGpu, CreateAllocation of reserves and SetVirtualGpuResources(2)
/// walked; the driver data, info, VM bus and escape calls allocate nothing.
pub(crate) fn vgpus_and_allocations(walked: &mut Vec<Walked>) {
    let mut run = recorder(walked);
    run(walk_create_vgpu(
        "CreateVirtualGpu (profile optimum)",
        false,
    ));
    run(walk_create_vgpu(
        "CreateVirtualGpu (beside a running vGPU)",
        true,
    ));
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
}

/// SR-IOV and FlexIOV: the config write walked, the probe, power and reset
/// calls shown to allocate nothing; DestroyAllocation walked.
pub(crate) fn sriov_and_teardown(walked: &mut Vec<Walked>) {
    let mut run = recorder(walked);
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
}

/// Live migration before any data: the caps, Prepare, pause and interrupt
/// calls allocate nothing.
pub(crate) fn migration_preparation(walked: &mut Vec<Walked>) {
    let mut run = recorder(walked);
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
}

/// Both calls of each Save shown to allocate nothing and each Restore
/// walked, for a contiguous and a scattered VF; End and StopDevice with live
/// vGPUs allocate nothing.
pub(crate) fn migration_data_and_end(walked: &mut Vec<Walked>) {
    let mut run = recorder(walked);
    for (shape, how) in [
        (Shape::Contiguous, "contiguous"),
        (Shape::Scattered, "scattered source, two bases"),
    ] {
        let name = |ddi: &str| format!("{ddi} ({how})");
        for (kind, ddi) in [
            (Immutable, "SaveImmutableMigrationData"),
            (Mutable, "SaveMutableMigrationData"),
        ] {
            // The blackout path: both calls encode straight from the live
            // state into the OS's buffer, allocating nothing (issue 15).
            run(save_allocates_nothing(
                &name(&format!("{ddi}, sizing call")),
                kind,
                false,
                shape,
            ));
            run(save_allocates_nothing(
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
}
