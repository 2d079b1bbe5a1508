//! DDIs that Dxgkrnl requires in the table of an MCDM adapter, called at
//! PASSIVE_LEVEL (those that may run higher are in `ddi::irql`), for
//! features this software adapter truly lacks: no display children and no
//! power to manage. The engine family (paging buffers, engine status and
//! reset, timeouts) answers here until the software engine implements it
//! (issue 17). Devices, contexts, processes and allocations are real
//! (`ddi::render`, `ddi::render_open`, `ddi::allocation`). Each validates
//! the adapter handle and gives the answer that is true for such an
//! adapter; none of them reads its argument block.

use dxgk_sys::*;

use crate::adapter::registry;
use crate::foundation::status::{Status, to_ntstatus};

macro_rules! adapter_answers {
    ($( $(#[$meta:meta])* fn $name:ident($adapter:ident: $aty:ty $(, $arg:ident: $ty:ty)*) => $answer:expr; )*) => { $(
        $(#[$meta])*
        ///
        /// # Safety
        /// Always safe to call: the adapter handle is looked up, never
        /// dereferenced, and no other argument is read.
        pub(crate) unsafe extern "system" fn $name($adapter: $aty $(, $arg: $ty)*) -> NTSTATUS {
            $( let _ = $arg; )*
            to_ntstatus(registry::with_adapter($adapter, |_| $answer))
        }
    )* };
}

adapter_answers! {
    /// `DxgkDdiBuildPagingBuffer`: no paging engine (`STATUS_NOT_SUPPORTED`).
    fn DxgkDdiBuildPagingBuffer(hAdapter: HANDLE, pBuildPagingBuffer: PVOID) => Err(Status::NotSupported);
    /// `DxgkDdiQueryDependentEngineGroup`: no engines (`STATUS_NOT_SUPPORTED`).
    fn DxgkDdiQueryDependentEngineGroup(hAdapter: HANDLE, pQueryDependentEngineGroup: PVOID) => Err(Status::NotSupported);
    /// `DxgkDdiQueryEngineStatus`: no engines (`STATUS_NOT_SUPPORTED`).
    fn DxgkDdiQueryEngineStatus(hAdapter: HANDLE, pQueryEngineStatus: PVOID) => Err(Status::NotSupported);
    /// `DxgkDdiResetEngine`: no engines (`STATUS_NOT_SUPPORTED`).
    fn DxgkDdiResetEngine(hAdapter: HANDLE, pResetEngine: PVOID) => Err(Status::NotSupported);
    /// `DxgkDdiResetFromTimeout`: no engine can time out; nothing to reset.
    fn DxgkDdiResetFromTimeout(hAdapter: HANDLE) => Ok(());
    /// `DxgkDdiRestartFromTimeout`: no engine can time out; nothing to restart.
    fn DxgkDdiRestartFromTimeout(hAdapter: HANDLE) => Ok(());
    /// `DxgkDdiSetPowerState`: a software adapter has no power to manage.
    fn DxgkDdiSetPowerState(MiniportDeviceContext: PVOID, DeviceUid: ULONG, DevicePowerState: DEVICE_POWER_STATE, ActionType: POWER_ACTION) => Ok(());
    /// `DxgkDdiQueryChildRelations`: zero children, so nothing to describe.
    fn DxgkDdiQueryChildRelations(MiniportDeviceContext: PVOID, ChildRelations: PVOID, ChildRelationsSize: ULONG) => Ok(());
    /// `DxgkDdiQueryChildStatus`: no child exists (`STATUS_INVALID_PARAMETER`).
    fn DxgkDdiQueryChildStatus(MiniportDeviceContext: PVOID, ChildStatus: PVOID, NonDestructiveOnly: BOOLEAN) => Err(Status::InvalidParameter);
    /// `DxgkDdiQueryDeviceDescriptor`: no child exists (`STATUS_INVALID_PARAMETER`).
    fn DxgkDdiQueryDeviceDescriptor(MiniportDeviceContext: PVOID, ChildUid: ULONG, DeviceDescriptor: PVOID) => Err(Status::InvalidParameter);
}
