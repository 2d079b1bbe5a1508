//! `DriverEntry`: registers the DDI table ([`super::initialization_data`])
//! with Dxgkrnl.

use dxgk_sys::*;

pub use super::initialization_data;

/// The driver's entry point: registers the DDI table with Dxgkrnl through
/// `DxgkInitialize` and returns its status.
///
/// # Safety
/// Called once per load by the I/O manager (or a host loader) with its own
/// driver object and registry path, which are passed to `DxgkInitialize` untouched.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn DriverEntry(
    DriverObject: PDRIVER_OBJECT,
    RegistryPath: *mut UNICODE_STRING,
) -> NTSTATUS {
    if let Err(status) = crate::adapter::registry::prepare() {
        return status.ntstatus();
    }
    let mut data = super::initialization_data();
    crate::trace!(
        "DriverEntry: registering interface version {:#x}",
        data.Version
    );
    // SAFETY: the OS's own arguments are passed through unchanged; `data` is a
    // live table that DxgkInitialize copies before returning.
    unsafe { crate::kernel::DxgkInitialize(DriverObject, RegistryPath, &raw mut data) }
}
