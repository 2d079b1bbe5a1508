//! The adapter-start rules of `docs/contract.md` (GPU partitioning: how the adapter becomes GPU-P capable),
//! as dxgkrnl-model enforces them: one deliberately broken driver per rule
//! (the real driver's table with one DDI wrapped to break that rule), which
//! the model must refuse exactly where Windows would, and the real driver,
//! which must start with GPU-P. Every refused start leaves no interface
//! reference behind (the model dereferences what it took).

#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use common::gpup::*;
use common::*;
use dxgk_sys::*;
use dxgkrnl_model::{Adapter, Driver, DriverEntryFn};

fn real() -> DRIVER_INITIALIZATION_DATA {
    gpup_miniport::initialization_data()
}

/// The real driver's QueryInterface.
fn real_qi(ctx: PVOID, q: *mut QUERY_INTERFACE) -> NTSTATUS {
    unsafe { (real().DxgkDdiQueryInterface.unwrap())(ctx, q) }
}

/// The real driver's QueryAdapterInfo.
fn real_qai(h: HANDLE, q: *const DXGKARG_QUERYADAPTERINFO) -> NTSTATUS {
    unsafe { (real().DxgkDdiQueryAdapterInfo.unwrap())(h, q) }
}

fn guid_of(q: *mut QUERY_INTERFACE) -> GUID {
    unsafe { *(*q).InterfaceType }
}

fn interface_of(q: *mut QUERY_INTERFACE) -> *mut u8 {
    unsafe { (*q).Interface.cast() }
}

/// Overwrites the 8-byte slot at `offset` of the interface just returned.
fn clear_slot(q: *mut QUERY_INTERFACE, offset: usize) {
    unsafe {
        interface_of(q)
            .add(offset)
            .cast::<usize>()
            .write_unaligned(0)
    };
}

fn qai_type(q: *const DXGKARG_QUERYADAPTERINFO) -> DXGK_QUERYADAPTERINFOTYPE {
    unsafe { (*q).Type }
}

fn write_output(q: *const DXGKARG_QUERYADAPTERINFO, value: u32) -> NTSTATUS {
    unsafe { (*q).pOutputData.cast::<u32>().write_unaligned(value) };
    STATUS_SUCCESS
}

macro_rules! fillers {
    ($($name:ident($arg:ty);)*) => { $(
        unsafe extern "system" fn $name(_: HANDLE, _: $arg) -> NTSTATUS {
            STATUS_NOT_SUPPORTED
        }
    )* };
}
fillers! {
    prepare(*const DXGKARG_GPUP_PREPARE_LIVE_MIGRATION);
    save_immutable(*mut DXGKARG_GPUP_SAVE_IMMUTABLE_MIGRATION_DATA);
    save_mutable(*mut DXGKARG_GPUP_SAVE_MUTABLE_MIGRATION_DATA);
    end(UINT);
    restore_immutable(*const DXGKARG_GPUP_RESTORE_IMMUTABLE_MIGRATION_DATA);
    restore_mutable(*const DXGKARG_GPUP_RESTORE_MUTABLE_MIGRATION_DATA);
    interrupt(*const DXGKARG_GPUP_WRITE_VIRTUALIZED_MSIX);
    resources2(*const DXGKARG_SETVIRTUALGPURESOURCES2);
    pause(*const DXGKARG_SETVIRTUALFUNCTIONPAUSESTATE);
}

/// Fills the nine live-migration slots (177-185) with stand-ins, all but
/// `missing` (if given, by slot number).
fn fill_migration_slots(t: &mut DRIVER_INITIALIZATION_DATA, missing: Option<u32>) {
    let keep = |slot: u32| missing != Some(slot);
    t.DxgkDdiPrepareLiveMigration = keep(177).then_some(prepare as _);
    t.DxgkDdiSaveImmutableMigrationData = keep(178).then_some(save_immutable as _);
    t.DxgkDdiSaveMutableMigrationData = keep(179).then_some(save_mutable as _);
    t.DxgkDdiEndLiveMigration = keep(180).then_some(end as _);
    t.DxgkDdiRestoreImmutableMigrationData = keep(181).then_some(restore_immutable as _);
    t.DxgkDdiRestoreMutableMigrationData = keep(182).then_some(restore_mutable as _);
    t.DxgkDdiWriteVirtualizedInterrupt = keep(183).then_some(interrupt as _);
    t.DxgkDdiSetVirtualGpuResources2 = keep(184).then_some(resources2 as _);
    t.DxgkDdiSetVirtualFunctionPauseState = keep(185).then_some(pause as _);
}

/// A driver: the real table with QueryInterface, QueryAdapterInfo and the
/// table itself passed through the given hooks.
macro_rules! driver {
    ($name:ident, qi: $qi:expr, qai: $qai:expr, table: $table:expr) => {
        mod $name {
            use super::*;
            unsafe extern "system" fn query_interface(
                ctx: PVOID,
                q: *mut QUERY_INTERFACE,
            ) -> NTSTATUS {
                let hook: fn(PVOID, *mut QUERY_INTERFACE) -> NTSTATUS = $qi;
                hook(ctx, q)
            }
            unsafe extern "system" fn query_adapter_info(
                h: HANDLE,
                q: *const DXGKARG_QUERYADAPTERINFO,
            ) -> NTSTATUS {
                let hook: fn(HANDLE, *const DXGKARG_QUERYADAPTERINFO) -> NTSTATUS = $qai;
                hook(h, q)
            }
            pub unsafe extern "system" fn driver_entry(
                obj: PDRIVER_OBJECT,
                path: *mut UNICODE_STRING,
            ) -> NTSTATUS {
                let mut t = real();
                t.DxgkDdiQueryInterface = Some(query_interface);
                t.DxgkDdiQueryAdapterInfo = Some(query_adapter_info);
                let hook: fn(&mut DRIVER_INITIALIZATION_DATA) = $table;
                hook(&mut t);
                unsafe { dxgkrnl_model::DxgkInitialize(obj, path, &raw mut t) }
            }
        }
    };
}

fn start(entry: DriverEntryFn) -> (Driver, Adapter, dxgkrnl_model::Result<()>) {
    let driver = Driver::load_entry(entry).expect("the table itself is valid");
    let mut adapter = driver.add_device().unwrap();
    adapter.configure(&gpup_layout()).unwrap();
    let result = adapter.start().map(drop);
    (driver, adapter, result)
}

/// A refused start: the status, no GPU-P, the adapter stopped again (a
/// second StopDevice is out of order), and every interface reference the
/// model took given back.
fn assert_refused(entry: DriverEntryFn, status: NTSTATUS) {
    let (_d, mut adapter, result) = start(entry);
    assert_eq!(result, Err(status));
    assert!(adapter.gpu_virtualization().is_none());
    let r = refs(&adapter);
    assert_eq!(
        (r.Partition, r.Sriov, r.FlexIov, r.IgnoredDereferences),
        (0, 0, 0, 0),
        "references given back"
    );
    assert_eq!(
        adapter.stop(),
        Err(STATUS_INVALID_DEVICE_STATE),
        "the model stopped the adapter"
    );
}

// ---- The real driver, and the harness passing everything through ----

driver!(passthrough, qi: real_qi, qai: real_qai, table: |_| {});

#[test]
fn the_real_driver_starts_with_gpu_partitioning() {
    for entry in [
        gpup_miniport::DriverEntry as DriverEntryFn,
        passthrough::driver_entry,
    ] {
        let (_d, mut adapter, result) = start(entry);
        result.expect("starts");
        let g = adapter.gpu_virtualization().expect("GPU-P exposed");
        assert!(g.flexiov.is_some());
        assert_eq!(g.caps.bits() & !0xF, 0);
        let r = refs(&adapter);
        assert_eq!((r.Partition, r.Sriov, r.FlexIov), (1, 1, 1));
        adapter.stop().unwrap();
        let r = refs(&adapter);
        assert_eq!(
            (r.Partition, r.Sriov, r.FlexIov, r.IgnoredDereferences),
            (0, 0, 0, 0),
            "dereferenced at stop"
        );
    }
}

// ---- Rule 2: a NULL pointer in the partition interface ----

driver!(null_partition_pointer, qi: |ctx, q| {
    let s = real_qi(ctx, q);
    if s == STATUS_SUCCESS && guid_of(q) == GPU_PARTITION.guid {
        // DxgkDdiSuspendVirtualGpu: never called, still required.
        clear_slot(q, 96);
    }
    s
}, qai: real_qai, table: |_| {});

#[test]
fn a_null_pointer_in_the_partition_interface_fails_the_start() {
    assert_refused(null_partition_pointer::driver_entry, STATUS_UNSUCCESSFUL);
}

// ---- Rule 3: GPUPCAPS bits above 3; a failing GPUPCAPS counts as zero ----

driver!(gpupcaps_bit4, qi: real_qi, qai: |h, q| {
    if qai_type(q) == DXGKQAITYPE_GPUPCAPS {
        return write_output(q, 1 << 4);
    }
    real_qai(h, q)
}, table: |_| {});

driver!(gpupcaps_fails, qi: real_qi, qai: |h, q| {
    if qai_type(q) == DXGKQAITYPE_GPUPCAPS {
        return STATUS_NOT_SUPPORTED;
    }
    real_qai(h, q)
}, table: |_| {});

#[test]
fn a_gpupcaps_bit_above_3_fails_the_start_and_a_failing_query_counts_as_zero() {
    assert_refused(gpupcaps_bit4::driver_entry, STATUS_INVALID_PARAMETER);
    let (_d, adapter, result) = start(gpupcaps_fails::driver_entry);
    result.expect("a failing GPUPCAPS is all zero");
    assert_eq!(
        adapter.gpu_virtualization().unwrap().caps,
        GpupCaps::empty()
    );
}

// ---- Rule 4: the SR-IOV interface is mandatory, complete ----

driver!(no_sriov, qi: |ctx, q| {
    if guid_of(q) == SRIOV.guid {
        return STATUS_NOT_SUPPORTED;
    }
    real_qi(ctx, q)
}, qai: real_qai, table: |_| {});

driver!(null_sriov_pointer, qi: |ctx, q| {
    let s = real_qi(ctx, q);
    if s == STATUS_SUCCESS && guid_of(q) == SRIOV.guid {
        // DxgkDdiGetResourceForBar: not even called when FlexIOV is exposed.
        clear_slot(q, 104);
    }
    s
}, qai: real_qai, table: |_| {});

#[test]
fn a_missing_or_incomplete_sriov_interface_fails_the_start() {
    assert_refused(no_sriov::driver_entry, STATUS_UNSUCCESSFUL);
    assert_refused(null_sriov_pointer::driver_entry, STATUS_UNSUCCESSFUL);
}

// ---- Rule 5: a WDDM 3.2 driver needs the mitigable or the FlexIOV interface ----

driver!(no_flexiov, qi: |ctx, q| {
    if guid_of(q) == FLEXIOV_DEVICE.guid {
        return STATUS_NOT_SUPPORTED;
    }
    real_qi(ctx, q)
}, qai: real_qai, table: |_| {});

driver!(flexiov_version_2, qi: |ctx, q| {
    let s = real_qi(ctx, q);
    if s == STATUS_SUCCESS && guid_of(q) == FLEXIOV_DEVICE.guid {
        unsafe { interface_of(q).add(2).cast::<u16>().write_unaligned(2) };
    }
    s
}, qai: real_qai, table: |_| {});

static MITIGABLE_REFS: AtomicU32 = AtomicU32::new(0);
unsafe extern "system" fn mitigable_reference(_: PVOID) {
    MITIGABLE_REFS.fetch_add(1, Ordering::SeqCst);
}
unsafe extern "system" fn mitigable_dereference(_: PVOID) {
    MITIGABLE_REFS.fetch_sub(1, Ordering::SeqCst);
}
unsafe extern "system" fn range_count(
    _: HANDLE,
    _: *mut DXGKARG_QUERYMITIGATEDRANGECOUNT,
) -> NTSTATUS {
    STATUS_SUCCESS
}
unsafe extern "system" fn ranges(_: HANDLE, _: *mut DXGKARG_QUERYMITIGATEDRANGES) -> NTSTATUS {
    STATUS_SUCCESS
}

driver!(mitigable_only, qi: |ctx, q| {
    let guid = guid_of(q);
    if guid == FLEXIOV_DEVICE.guid {
        return STATUS_NOT_SUPPORTED;
    }
    if guid == MITIGABLE_DEVICE.guid {
        let iface = DXGKDDI_MITIGABLE_DEVICE_INTERFACE {
            Size: 48,
            Version: 1,
            Context: ctx,
            InterfaceReference: Some(mitigable_reference),
            InterfaceDereference: Some(mitigable_dereference),
            DxgkDdiQueryMitigatedRangeCount: Some(range_count),
            DxgkDdiQueryMitigatedRanges: Some(ranges),
        };
        unsafe { interface_of(q).cast::<DXGKDDI_MITIGABLE_DEVICE_INTERFACE>().write_unaligned(iface) };
        MITIGABLE_REFS.fetch_add(1, Ordering::SeqCst);
        return STATUS_SUCCESS;
    }
    real_qi(ctx, q)
}, qai: real_qai, table: |_| {});

#[test]
fn a_wddm32_driver_with_neither_mitigable_nor_flexiov_fails_the_start() {
    assert_refused(no_flexiov::driver_entry, STATUS_INVALID_PARAMETER);
    // A FlexIOV interface that comes back with another version does not count.
    assert_refused(flexiov_version_2::driver_entry, STATUS_INVALID_PARAMETER);
    // The mitigable interface alone is enough.
    let (_d, mut adapter, result) = start(mitigable_only::driver_entry);
    result.expect("mitigable only starts");
    let g = adapter.gpu_virtualization().unwrap();
    assert!(g.mitigable.is_some() && g.flexiov.is_none());
    assert_eq!(MITIGABLE_REFS.load(Ordering::SeqCst), 1);
    adapter.stop().unwrap();
    assert_eq!(
        MITIGABLE_REFS.load(Ordering::SeqCst),
        0,
        "dereferenced at stop"
    );
}

// ---- Rule 6: LiveMigration needs the migration DDIs and dirty-bit tracking ----

driver!(live_migration_without_dirty_tracking, qi: real_qi, qai: |h, q| {
    match qai_type(q) {
        DXGKQAITYPE_GPUPCAPS => write_output(q, GpupCaps::LiveMigration.bits()),
        DXGKQAITYPE_DIRTYBITTRACKINGCAPS => write_output(q, 0),
        _ => real_qai(h, q),
    }
}, table: |t| fill_migration_slots(t, None));

driver!(live_migration_missing_a_slot, qi: real_qi, qai: |h, q| {
    if qai_type(q) == DXGKQAITYPE_GPUPCAPS {
        return write_output(q, GpupCaps::LiveMigration.bits());
    }
    real_qai(h, q)
}, table: |t| fill_migration_slots(t, Some(185)));

driver!(live_migration_complete, qi: real_qi, qai: |h, q| {
    if qai_type(q) == DXGKQAITYPE_GPUPCAPS {
        return write_output(q, (GpupCaps::LiveMigration | GpupCaps::ScatterMapReserve).bits());
    }
    real_qai(h, q)
}, table: |t| fill_migration_slots(t, None));

#[test]
fn live_migration_without_dirty_tracking_fails_the_start() {
    assert_refused(
        live_migration_without_dirty_tracking::driver_entry,
        STATUS_INVALID_PARAMETER,
    );
}

#[test]
fn live_migration_without_all_nine_migration_ddis_silently_drops_gpu_partitioning() {
    let (_d, adapter, result) = start(live_migration_missing_a_slot::driver_entry);
    result.expect("the adapter starts");
    assert!(adapter.gpu_virtualization().is_none(), "nothing exposed");
    let r = refs(&adapter);
    assert_eq!(
        (r.Partition, r.Sriov, r.FlexIov),
        (0, 0, 0),
        "interfaces given back"
    );
    // With all nine and dirty tracking, the same caps are accepted.
    let (_d, adapter, result) = start(live_migration_complete::driver_entry);
    result.expect("starts");
    assert!(
        adapter
            .gpu_virtualization()
            .unwrap()
            .caps
            .contains(GpupCaps::LiveMigration)
    );
}

// ---- Rule 1: no partition interface: no GPU-P, and no GPUPCAPS query ----

static GPUPCAPS_ASKED: AtomicBool = AtomicBool::new(false);

driver!(no_partition_interface, qi: |ctx, q| {
    if guid_of(q) == GPU_PARTITION.guid {
        return STATUS_NOT_SUPPORTED;
    }
    real_qi(ctx, q)
}, qai: |h, q| {
    if qai_type(q) == DXGKQAITYPE_GPUPCAPS {
        GPUPCAPS_ASKED.store(true, Ordering::SeqCst);
    }
    real_qai(h, q)
}, table: |_| {});

#[test]
fn without_the_partition_interface_the_adapter_starts_without_gpu_partitioning() {
    let (_d, adapter, result) = start(no_partition_interface::driver_entry);
    result.expect("start continues");
    assert!(adapter.gpu_virtualization().is_none());
    assert!(
        !GPUPCAPS_ASKED.load(Ordering::SeqCst),
        "GPUPCAPS only after the partition interface"
    );
    assert_eq!(adapter.partition_info().err(), Some(STATUS_NOT_SUPPORTED));
}

// ---- Rule 6 with the real driver: its own GPUPCAPS, now that LiveMigration is real ----

#[test]
fn the_real_driver_reports_live_migration_and_keeps_gpu_partitioning() {
    let (_d, adapter, result) = start(gpup_miniport::DriverEntry);
    result.expect("starts");
    assert_eq!(adapter.caps().gpup_query, Some(STATUS_SUCCESS));
    let g = adapter.gpu_virtualization().expect("GPU-P kept");
    assert_eq!(
        g.caps,
        GpupCaps::LiveMigration | GpupCaps::ScatterMapReserve,
        "derived from the nine filled slots and dirty-bit tracking"
    );
}

/// The slot the `missing_slot` driver leaves NULL (177..=185).
static MISSING_SLOT: AtomicU32 = AtomicU32::new(0);

driver!(missing_slot, qi: real_qi, qai: real_qai, table: |t| {
    // The real DDIs in every slot but one; the driver itself still answers
    // GPUPCAPS from its own, complete table.
    let missing = MISSING_SLOT.load(Ordering::SeqCst);
    match missing {
        177 => t.DxgkDdiPrepareLiveMigration = None,
        178 => t.DxgkDdiSaveImmutableMigrationData = None,
        179 => t.DxgkDdiSaveMutableMigrationData = None,
        180 => t.DxgkDdiEndLiveMigration = None,
        181 => t.DxgkDdiRestoreImmutableMigrationData = None,
        182 => t.DxgkDdiRestoreMutableMigrationData = None,
        183 => t.DxgkDdiWriteVirtualizedInterrupt = None,
        184 => t.DxgkDdiSetVirtualGpuResources2 = None,
        185 => t.DxgkDdiSetVirtualFunctionPauseState = None,
        _ => {}
    }
});

#[test]
fn the_real_driver_registered_without_one_migration_slot_loses_gpu_partitioning() {
    for slot in 177..=185 {
        MISSING_SLOT.store(slot, Ordering::SeqCst);
        let (_d, adapter, result) = start(missing_slot::driver_entry);
        result.unwrap_or_else(|s| panic!("slot {slot}: the adapter starts ({s:?})"));
        assert!(
            adapter.caps().gpup.contains(GpupCaps::LiveMigration),
            "slot {slot}: the driver still claims LiveMigration"
        );
        assert!(
            adapter.gpu_virtualization().is_none(),
            "slot {slot}: GPU-P silently dropped"
        );
        let r = refs(&adapter);
        assert_eq!((r.Partition, r.Sriov, r.FlexIov), (0, 0, 0), "slot {slot}");
    }
    // The same harness with nothing missing keeps GPU-P: the test can fail.
    MISSING_SLOT.store(0, Ordering::SeqCst);
    let (_d, adapter, result) = start(missing_slot::driver_entry);
    result.expect("starts");
    assert!(adapter.gpu_virtualization().is_some());
}

driver!(real_caps_without_dirty_tracking, qi: real_qi, qai: |h, q| {
    // The driver's own GPUPCAPS (LiveMigration), but no dirty-bit tracking.
    if qai_type(q) == DXGKQAITYPE_DIRTYBITTRACKINGCAPS {
        return write_output(q, 0);
    }
    real_qai(h, q)
}, table: |_| {});

#[test]
fn the_real_driver_seen_without_dirty_tracking_fails_the_start() {
    assert_refused(
        real_caps_without_dirty_tracking::driver_entry,
        STATUS_INVALID_PARAMETER,
    );
}
