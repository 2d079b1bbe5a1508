//! DDIs that Dxgkrnl requires in the table of a render-less (MCDM-style)
//! adapter, called at PASSIVE_LEVEL (those that may run higher are in
//! `ddi::irql`), for features this software adapter does not have: no engines, no
//! command submission, no display children, no D3D devices. (Its only
//! allocations, the vGPUs' VRAM reserves, are in `ddi::allocation`.) Each validates the
//! adapter handle and gives the answer that is true for such an adapter; none
//! of them reads its argument block.

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
    /// `DxgkDdiCreateDevice`: no D3D devices on this adapter (`STATUS_NOT_SUPPORTED`).
    fn DxgkDdiCreateDevice(hAdapter: HANDLE, pCreateDevice: PVOID) => Err(Status::NotSupported);
    /// `DxgkDdiDescribeAllocation`: only vGPU reserves exist, which are
    /// never described for display (`STATUS_NOT_SUPPORTED`).
    fn DxgkDdiDescribeAllocation(hAdapter: HANDLE, pDescribeAllocation: PVOID) => Err(Status::NotSupported);
    /// `DxgkDdiGetNodeMetadata`: no nodes (`STATUS_NOT_SUPPORTED`).
    fn DxgkDdiGetNodeMetadata(hAdapter: HANDLE, NodeOrdinalAndAdapterIndex: UINT, pGetNodeMetadata: PVOID) => Err(Status::NotSupported);
    /// `DxgkDdiSetPowerState`: a software adapter has no power to manage.
    fn DxgkDdiSetPowerState(MiniportDeviceContext: PVOID, DeviceUid: ULONG, DevicePowerState: DEVICE_POWER_STATE, ActionType: POWER_ACTION) => Ok(());
    /// `DxgkDdiQueryChildRelations`: zero children, so nothing to describe.
    fn DxgkDdiQueryChildRelations(MiniportDeviceContext: PVOID, ChildRelations: PVOID, ChildRelationsSize: ULONG) => Ok(());
    /// `DxgkDdiQueryChildStatus`: no child exists (`STATUS_INVALID_PARAMETER`).
    fn DxgkDdiQueryChildStatus(MiniportDeviceContext: PVOID, ChildStatus: PVOID, NonDestructiveOnly: BOOLEAN) => Err(Status::InvalidParameter);
    /// `DxgkDdiQueryDeviceDescriptor`: no child exists (`STATUS_INVALID_PARAMETER`).
    fn DxgkDdiQueryDeviceDescriptor(MiniportDeviceContext: PVOID, ChildUid: ULONG, DeviceDescriptor: PVOID) => Err(Status::InvalidParameter);
}

macro_rules! no_such_object {
    ($( $(#[$meta:meta])* fn $name:ident($($arg:ident: $ty:ty),*); )*) => { $(
        $(#[$meta])*
        ///
        /// Returns `STATUS_INVALID_PARAMETER`: this adapter never creates the
        /// object the handle would name.
        ///
        /// # Safety
        /// Always safe to call: no argument is dereferenced.
        pub(crate) unsafe extern "system" fn $name($($arg: $ty),*) -> NTSTATUS {
            $( let _ = $arg; )*
            Status::InvalidParameter.ntstatus()
        }
    )* };
}

no_such_object! {
    /// `DxgkDdiDestroyDevice`.
    fn DxgkDdiDestroyDevice(hDevice: HANDLE);
    /// `DxgkDdiOpenAllocation`.
    fn DxgkDdiOpenAllocation(hDevice: HANDLE, pOpenAllocation: PVOID);
    /// `DxgkDdiCloseAllocation`.
    fn DxgkDdiCloseAllocation(hDevice: HANDLE, pCloseAllocation: PVOID);
    /// `DxgkDdiCreateContext`.
    fn DxgkDdiCreateContext(hDevice: HANDLE, pCreateContext: PVOID);
    /// `DxgkDdiDestroyContext`.
    fn DxgkDdiDestroyContext(hContext: HANDLE);
}
