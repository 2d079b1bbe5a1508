//! The checks the model makes at adapter start, where Dxgkrnl would: the
//! GPUPCAPS query (a failing one counts as all-zero caps) and the refusal of
//! caps that offer live migration without dirty-bit tracking, shown with
//! deliberately broken variants: the real driver seen through a
//! QueryAdapterInfo that wraps its own.

use std::sync::OnceLock;

use dxgk_sys::*;
use dxgkrnl_model::{AdapterConfig, Driver};

/// The driver's own QueryAdapterInfo.
static REAL: OnceLock<PDXGKDDI_QUERYADAPTERINFO> = OnceLock::new();

fn forward(h: HANDLE, args: *const DXGKARG_QUERYADAPTERINFO) -> NTSTATUS {
    let real = REAL
        .get()
        .copied()
        .flatten()
        .expect("real QueryAdapterInfo");
    // SAFETY: the driver's DDI, with the arguments the model passed.
    unsafe { real(h, args) }
}

/// Answers `ty` with a 4-byte `value` and forwards everything else.
///
/// # Safety
/// As DxgkDdiQueryAdapterInfo.
unsafe fn answer(
    h: HANDLE,
    args: *const DXGKARG_QUERYADAPTERINFO,
    answers: &[(DXGK_QUERYADAPTERINFOTYPE, u32)],
) -> NTSTATUS {
    // SAFETY: the model passes a readable argument block.
    let a = unsafe { args.read() };
    match answers.iter().find(|(ty, _)| *ty == a.Type) {
        Some((_, value)) => {
            // SAFETY: the model's output buffers hold the whole caps struct (4 bytes).
            unsafe { a.pOutputData.cast::<u32>().write_unaligned(*value) };
            STATUS_SUCCESS
        }
        None => forward(h, args),
    }
}

/// A GPUPCAPS query that fails; everything else is the driver's.
unsafe extern "system" fn failing_gpupcaps(
    h: HANDLE,
    args: *const DXGKARG_QUERYADAPTERINFO,
) -> NTSTATUS {
    // SAFETY: the model passes a readable argument block.
    if unsafe { args.read() }.Type == DXGKQAITYPE_GPUPCAPS {
        return STATUS_NOT_SUPPORTED;
    }
    forward(h, args)
}

/// LiveMigration and ScatterMapReserve, with the driver's real tracking caps.
unsafe extern "system" fn live_migration_with_tracking(
    h: HANDLE,
    args: *const DXGKARG_QUERYADAPTERINFO,
) -> NTSTATUS {
    // SAFETY: forwarded from the model's call.
    unsafe { answer(h, args, &[(DXGKQAITYPE_GPUPCAPS, 0b1100)]) }
}

/// LiveMigration, and no dirty-bit tracking at all.
unsafe extern "system" fn live_migration_without_tracking(
    h: HANDLE,
    args: *const DXGKARG_QUERYADAPTERINFO,
) -> NTSTATUS {
    // SAFETY: forwarded from the model's call.
    unsafe {
        answer(
            h,
            args,
            &[
                (DXGKQAITYPE_GPUPCAPS, 0b0100),
                (DXGKQAITYPE_DIRTYBITTRACKINGCAPS, 0),
            ],
        )
    }
}

fn with_qai(driver: &Driver, qai: PDXGKDDI_QUERYADAPTERINFO) -> Driver {
    REAL.get_or_init(|| driver.table().DxgkDdiQueryAdapterInfo);
    driver.patched(|table| table.DxgkDdiQueryAdapterInfo = qai)
}

#[test]
fn a_failing_gpupcaps_query_counts_as_all_zero_caps() {
    let driver = Driver::load().unwrap();
    let patched = with_qai(&driver, Some(failing_gpupcaps));
    let adapter = patched
        .start_adapter(&AdapterConfig::single(16 << 20, 4096))
        .expect("starts");
    assert_eq!(adapter.caps().gpup_query, Some(STATUS_NOT_SUPPORTED));
    assert_eq!(adapter.caps().gpup, GpupCaps::empty());
    assert_eq!(adapter.caps().page_size(2), Some(4096));
}

#[test]
fn live_migration_with_dirty_tracking_starts() {
    let driver = Driver::load().unwrap();
    let patched = with_qai(&driver, Some(live_migration_with_tracking));
    let adapter = patched
        .start_adapter(&AdapterConfig::single(16 << 20, 4096))
        .expect("consistent caps start");
    assert_eq!(adapter.caps().gpup_query, Some(STATUS_SUCCESS));
    assert_eq!(
        adapter.caps().gpup,
        GpupCaps::LiveMigration | GpupCaps::ScatterMapReserve
    );
}

#[test]
fn live_migration_without_dirty_tracking_is_refused() {
    let driver = Driver::load().unwrap();
    let patched = with_qai(&driver, Some(live_migration_without_tracking));
    let mut adapter = patched.add_device().unwrap();
    adapter
        .configure(&AdapterConfig::single(16 << 20, 4096))
        .unwrap();
    assert_eq!(adapter.start().unwrap_err(), STATUS_INVALID_PARAMETER);
    // The refused adapter was stopped again: it can be removed, and a second
    // StopDevice finds it not started.
    let stop = patched.table().DxgkDdiStopDevice.unwrap();
    // SAFETY: the driver's DDI, on its own adapter.
    let status = unsafe { stop(adapter.context()) };
    assert_eq!(status, STATUS_INVALID_DEVICE_STATE);
    adapter.remove().unwrap();
}

#[test]
fn the_real_driver_offers_live_migration_with_dirty_tracking_and_keeps_gpu_p() {
    let driver = Driver::load().unwrap();
    let adapter = driver
        .start_adapter(&AdapterConfig::single(16 << 20, 4096))
        .expect("starts");
    let caps = adapter.caps();
    assert_eq!(
        caps.gpup,
        GpupCaps::LiveMigration | GpupCaps::ScatterMapReserve
    );
    assert!(
        caps.dirty_bit_tracking
            .contains(DirtyBitTrackingCaps::DirtyBitTrackingSupported)
    );
    assert!(adapter.gpu_virtualization().is_some());
}
