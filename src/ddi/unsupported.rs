//! DDIs that Dxgkrnl requires in the table of an MCDM adapter, called at
//! PASSIVE_LEVEL (those that may run higher are in `ddi::irql`), for
//! features this software adapter truly lacks: no display children and no
//! power to manage. The engine family (paging buffers, submission, engine
//! status and reset, timeouts) is the software engine's (`ddi::engine`).
//! Devices, contexts, processes and allocations are real (`ddi::render`,
//! `ddi::render_open`, `ddi::allocation`). Each validates
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
    /// `DxgkDdiSetPowerState`: a software adapter has no power to manage.
    fn DxgkDdiSetPowerState(MiniportDeviceContext: PVOID, DeviceUid: ULONG, DevicePowerState: DEVICE_POWER_STATE, ActionType: POWER_ACTION) => Ok(());
    /// `DxgkDdiQueryChildRelations`: zero children, so nothing to describe.
    fn DxgkDdiQueryChildRelations(MiniportDeviceContext: PVOID, ChildRelations: PVOID, ChildRelationsSize: ULONG) => Ok(());
    /// `DxgkDdiQueryChildStatus`: no child exists (`STATUS_INVALID_PARAMETER`).
    fn DxgkDdiQueryChildStatus(MiniportDeviceContext: PVOID, ChildStatus: PVOID, NonDestructiveOnly: BOOLEAN) => Err(Status::InvalidParameter);
    /// `DxgkDdiQueryDeviceDescriptor`: no child exists (`STATUS_INVALID_PARAMETER`).
    fn DxgkDdiQueryDeviceDescriptor(MiniportDeviceContext: PVOID, ChildUid: ULONG, DeviceDescriptor: PVOID) => Err(Status::InvalidParameter);
}
