//! Windows backend over Microsoft's windows-drivers-rs crates (needs the WDK).
//!
//! Kept minimal on purpose: nothing on a machine without the WDK can compile
//! it. `build.rs` links `displib.lib`, which provides `DxgkInitialize`.

use dxgk_sys::{DRIVER_INITIALIZATION_DATA, NTSTATUS, PDRIVER_OBJECT, UNICODE_STRING};

#[cfg(not(test))]
use wdk_panic as _;

#[cfg(not(test))]
#[global_allocator]
static GLOBAL_ALLOCATOR: wdk_alloc::WdkAllocator = wdk_alloc::WdkAllocator;

unsafe extern "system" {
    /// displib.lib's hand-off of the DDI table to Dxgkrnl.
    pub(crate) fn DxgkInitialize(
        DriverObject: PDRIVER_OBJECT,
        RegistryPath: *mut UNICODE_STRING,
        DriverInitializationData: *mut DRIVER_INITIALIZATION_DATA,
    ) -> NTSTATUS;
}

/// Debug output through `DbgPrint` (via `wdk::println!`).
pub(crate) fn trace(args: core::fmt::Arguments<'_>) {
    wdk::println!("gpup_miniport: {}", args);
}
