//! The adapter lifecycle through the C ABI, driven by the Dxgkrnl stand-in:
//! load, AddDevice, StartDevice, DRIVERCAPS, StopDevice, RemoveDevice, Unload,
//! and every out-of-order or malformed call answered with the right NTSTATUS.

// These tests call DDIs through raw function pointers with deliberately bad
// arguments: the soundness of each call is exactly the driver contract under
// test (never dereference what it cannot validate), not something a comment
// beside each call could add to.
#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::{Driver, MANDATORY_SLOTS, validate_table};

#[test]
fn load_add_start_query_caps_stop_remove_unload() {
    let driver = Driver::load().expect("DriverEntry registers a valid table");
    assert_eq!(driver.table().Version, DXGKDDI_INTERFACE_VERSION_WDDM3_2);
    let mut adapter = driver.add_device().expect("AddDevice");
    let (sources, children) = adapter.start().expect("StartDevice");
    assert_eq!(
        (sources, children),
        (0, 0),
        "a render-less adapter has no sources and no children"
    );
    let caps: DXGK_DRIVERCAPS = adapter
        .query_adapter_info(DXGKQAITYPE_DRIVERCAPS, &[])
        .expect("DRIVERCAPS");
    assert_eq!(caps.WDDMVersion, DXGKDDI_WDDMv3_2);
    assert_eq!(caps.WDDMVersion.0, 0x3200);
    adapter.stop().expect("StopDevice");
    adapter.remove().expect("RemoveDevice");
    driver.unload();
}

#[test]
fn registered_table_passes_dxgkrnl_checks_and_fills_mandatory_slots() {
    let table = gpup_miniport::initialization_data();
    validate_table(&table).expect("valid");
    assert!(!MANDATORY_SLOTS.is_empty());
}

#[test]
fn the_model_refuses_a_table_with_a_null_mandatory_slot_or_wrong_version() {
    let mut table = gpup_miniport::initialization_data();
    table.DxgkDdiBuildPagingBuffer = None;
    assert_eq!(validate_table(&table), Err(STATUS_REVISION_MISMATCH));
    let mut table = gpup_miniport::initialization_data();
    table.Version = DXGKDDI_INTERFACE_VERSION_WDDM3_1;
    assert_eq!(validate_table(&table), Err(STATUS_REVISION_MISMATCH));
}

#[test]
fn the_adapter_can_be_started_again_after_a_stop() {
    let driver = Driver::load().unwrap();
    let mut adapter = driver.add_device().unwrap();
    adapter.start().unwrap();
    adapter.stop().unwrap();
    adapter.start().expect("a stopped adapter starts again");
    adapter.stop().unwrap();
    adapter.remove().unwrap();
}

/// Calls a lifecycle DDI with a raw context.
fn stop(driver: &Driver, context: PVOID) -> NTSTATUS {
    unsafe { driver.table().DxgkDdiStopDevice.unwrap()(context) }
}
fn remove(driver: &Driver, context: PVOID) -> NTSTATUS {
    unsafe { driver.table().DxgkDdiRemoveDevice.unwrap()(context) }
}
fn start_raw(driver: &Driver, context: PVOID, kernel: *mut DXGKRNL_INTERFACE) -> NTSTATUS {
    let mut info = DXGK_START_INFO::zeroed();
    let (mut sources, mut children) = (0u32, 0u32);
    unsafe {
        driver.table().DxgkDdiStartDevice.unwrap()(
            context,
            &raw mut info,
            kernel,
            &raw mut sources,
            &raw mut children,
        )
    }
}
fn forged() -> PVOID {
    // The right tag and a plausible generation, but a slot the table does not have.
    core::ptr::without_provenance_mut(0x4750_0001_0000_FFFF)
}

#[test]
fn start_before_add_and_other_unknown_adapters_are_invalid_parameters() {
    let driver = Driver::load().unwrap();
    let mut kernel = DXGKRNL_INTERFACE::zeroed();
    for context in [
        core::ptr::null_mut(),
        forged(),
        core::ptr::without_provenance_mut(8),
    ] {
        assert_eq!(
            start_raw(&driver, context, &raw mut kernel),
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(stop(&driver, context), STATUS_INVALID_PARAMETER);
        assert_eq!(remove(&driver, context), STATUS_INVALID_PARAMETER);
        let mut args = DXGKARG_QUERYADAPTERINFO::zeroed();
        args.Type = DXGKQAITYPE_DRIVERCAPS;
        let status =
            unsafe { driver.table().DxgkDdiQueryAdapterInfo.unwrap()(context, &raw const args) };
        assert_eq!(status, STATUS_INVALID_PARAMETER);
    }
}

#[test]
fn remove_twice_is_an_invalid_parameter_and_the_stale_handle_stays_dead() {
    let driver = Driver::load().unwrap();
    let adapter = driver.add_device().unwrap();
    let context = adapter.context();
    adapter.remove().unwrap();
    assert_eq!(remove(&driver, context), STATUS_INVALID_PARAMETER);
    assert_eq!(stop(&driver, context), STATUS_INVALID_PARAMETER);
    // A new adapter may reuse the slot, but never the handle.
    let again = driver.add_device().unwrap();
    assert_ne!(again.context(), context);
    assert_eq!(remove(&driver, context), STATUS_INVALID_PARAMETER);
    again.remove().unwrap();
}

#[test]
fn add_device_rejects_null_arguments() {
    let driver = Driver::load().unwrap();
    let add = driver.table().DxgkDdiAddDevice.unwrap();
    let mut context: PVOID = core::ptr::null_mut();
    let mut pdo = [0u64; 4];
    assert_eq!(
        unsafe { add(core::ptr::null_mut(), &raw mut context) },
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        unsafe { add(pdo.as_mut_ptr().cast(), core::ptr::null_mut()) },
        STATUS_INVALID_PARAMETER
    );
    assert!(context.is_null());
}

#[test]
fn start_device_rejects_null_and_short_arguments_and_a_second_start() {
    let driver = Driver::load().unwrap();
    let mut adapter = driver.add_device().unwrap();
    let start = driver.table().DxgkDdiStartDevice.unwrap();
    let mut kernel = adapter.kernel_interface();
    let mut info = DXGK_START_INFO::zeroed();
    let (mut s, mut c) = (0u32, 0u32);
    let ctx = adapter.context();
    unsafe {
        assert_eq!(
            start(
                ctx,
                core::ptr::null_mut(),
                &raw mut kernel,
                &raw mut s,
                &raw mut c
            ),
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(
            start(
                ctx,
                &raw mut info,
                core::ptr::null_mut(),
                &raw mut s,
                &raw mut c
            ),
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(
            start(
                ctx,
                &raw mut info,
                &raw mut kernel,
                core::ptr::null_mut(),
                &raw mut c
            ),
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(
            start(
                ctx,
                &raw mut info,
                &raw mut kernel,
                &raw mut s,
                core::ptr::null_mut()
            ),
            STATUS_INVALID_PARAMETER
        );
        let mut short = kernel;
        short.Size = 16;
        assert_eq!(
            start(ctx, &raw mut info, &raw mut short, &raw mut s, &raw mut c),
            STATUS_INVALID_PARAMETER
        );
        let mut no_info = kernel;
        no_info.DxgkCbGetDeviceInformation = None;
        assert_eq!(
            start(ctx, &raw mut info, &raw mut no_info, &raw mut s, &raw mut c),
            STATUS_INVALID_PARAMETER
        );
    }
    // None of the failed starts started it.
    assert_eq!(stop(&driver, ctx), STATUS_INVALID_DEVICE_STATE);
    adapter.start().unwrap();
    assert_eq!(
        start_raw(&driver, ctx, &raw mut kernel),
        STATUS_INVALID_DEVICE_STATE
    );
    adapter.stop().unwrap();
    adapter.remove().unwrap();
}

#[test]
fn stop_when_not_started_is_an_invalid_device_state() {
    let driver = Driver::load().unwrap();
    let mut adapter = driver.add_device().unwrap();
    assert_eq!(
        stop(&driver, adapter.context()),
        STATUS_INVALID_DEVICE_STATE
    );
    adapter.start().unwrap();
    adapter.stop().unwrap();
    assert_eq!(
        stop(&driver, adapter.context()),
        STATUS_INVALID_DEVICE_STATE
    );
    adapter.remove().unwrap();
}

#[test]
fn remove_of_a_started_adapter_stops_and_frees_it() {
    let driver = Driver::load().unwrap();
    let mut adapter = driver.add_device().unwrap();
    adapter.start().unwrap();
    let context = adapter.context();
    assert_eq!(remove(&driver, context), STATUS_SUCCESS);
    assert_eq!(stop(&driver, context), STATUS_INVALID_PARAMETER);
    std::mem::forget(adapter);
}

#[test]
fn query_adapter_info_checks_state_pointers_sizes_and_types() {
    let driver = Driver::load().unwrap();
    let mut adapter = driver.add_device().unwrap();
    let mut caps = vec![0u8; core::mem::size_of::<DXGK_DRIVERCAPS>()];
    assert_eq!(
        adapter.query_adapter_info_raw(DXGKQAITYPE_DRIVERCAPS, &[], &mut caps),
        STATUS_INVALID_DEVICE_STATE
    );
    adapter.start().unwrap();

    let qai = driver.table().DxgkDdiQueryAdapterInfo.unwrap();
    assert_eq!(
        unsafe { qai(adapter.context(), core::ptr::null()) },
        STATUS_INVALID_PARAMETER
    );
    let mut args = DXGKARG_QUERYADAPTERINFO::zeroed();
    args.Type = DXGKQAITYPE_DRIVERCAPS;
    args.OutputDataSize = 592;
    assert_eq!(
        unsafe { qai(adapter.context(), &raw const args) },
        STATUS_INVALID_PARAMETER,
        "NULL output"
    );

    // Too short for WDDMVersion: nothing written.
    let mut short = vec![0xAAu8; 300];
    assert_eq!(
        adapter.query_adapter_info_raw(DXGKQAITYPE_DRIVERCAPS, &[], &mut short),
        STATUS_BUFFER_TOO_SMALL
    );
    assert!(short.iter().all(|b| *b == 0xAA));

    // An older, shorter DRIVERCAPS: every whole field that fits, nothing past it.
    let mut older = vec![0u8; 344];
    assert_eq!(
        adapter.query_adapter_info_raw(DXGKQAITYPE_DRIVERCAPS, &[], &mut older),
        STATUS_SUCCESS
    );
    assert_eq!(
        u32::from_le_bytes(older[336..340].try_into().unwrap()),
        0x3200
    );
    let mut guarded = vec![0xEEu8; 344 + 16];
    let (buf, tail) = guarded.split_at_mut(344);
    assert_eq!(
        adapter.query_adapter_info_raw(DXGKQAITYPE_DRIVERCAPS, &[], buf),
        STATUS_SUCCESS
    );
    assert!(
        tail.iter().all(|b| *b == 0xEE),
        "bytes past OutputDataSize untouched"
    );

    // A query type the adapter does not implement.
    let mut out = [0u8; 64];
    assert_eq!(
        adapter.query_adapter_info_raw(DXGKQAITYPE_QUERYSEGMENT, &[], &mut out),
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        adapter.query_adapter_info_raw(DXGK_QUERYADAPTERINFOTYPE(9999), &[], &mut out),
        STATUS_NOT_SUPPORTED
    );
    adapter.stop().unwrap();
    adapter.remove().unwrap();
}

#[test]
fn render_less_answers_of_the_mandatory_slots() {
    let driver = Driver::load().unwrap();
    let adapter = driver.add_device().unwrap();
    let t = driver.table();
    let ctx = adapter.context();
    let null: PVOID = core::ptr::null_mut();
    unsafe {
        assert_eq!(
            t.DxgkDdiCreateDevice.unwrap()(ctx, core::ptr::null_mut()),
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(
            t.DxgkDdiCreateDevice.unwrap()(forged(), core::ptr::null_mut()),
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(
            t.DxgkDdiBuildPagingBuffer.unwrap()(ctx, null.cast()),
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(t.DxgkDdiDestroyDevice.unwrap()(null), STATUS_INVALID_HANDLE);
        assert_eq!(
            t.DxgkDdiQueryChildRelations.unwrap()(ctx, null, 0),
            STATUS_SUCCESS
        );
        assert_eq!(
            t.DxgkDdiQueryChildStatus.unwrap()(ctx, null, 0),
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(t.DxgkDdiInterruptRoutine.unwrap()(ctx, 0), 0);
        t.DxgkDdiDpcRoutine.unwrap()(ctx);
        assert_eq!(t.DxgkDdiResetFromTimeout.unwrap()(ctx), STATUS_SUCCESS);
    }
    adapter.remove().unwrap();
}
