//! `DxgkDdiQueryInterface` (slot 15) and the interfaces it returns, built
//! from the DDIs of `partition` and `sriov` and the reference-counting
//! functions of `gpup`: the GPU partition interface (128 bytes), the
//! SR-IOV interface (120 bytes) and the FlexIOV device interface (56 bytes),
//! all version 1. The mitigable-device interface is not exported: every BAR
//! page of this software adapter's VFs is emulated, which FlexIOV describes.
//!
//! Each interface's `Context` is the adapter handle (`MiniportDeviceContext`),
//! validated like any `hAdapter` by every function of the interface.

use dxgk_sys::*;

use crate::adapter::{InterfaceKind, registry};
use crate::ddi::gpup::{
    FlexIovDereference, FlexIovReference, PartitionDereference, PartitionReference,
    SriovDereference, SriovReference, size_of_interface,
};
use crate::ddi::{partition, read_in, sriov, write_out};
use crate::foundation::status::{Status, to_ntstatus};
use crate::interfaces;

/// `DxgkDdiQueryInterface`.
///
/// Returns `STATUS_INVALID_PARAMETER` for an unknown adapter, a NULL
/// `QueryInterface`, `InterfaceType` or `Interface`, or a `Size` below the
/// interface's (nothing is written then); `STATUS_NOT_SUPPORTED` for any
/// other GUID, when partitioning is disabled, or for `Version` 0;
/// `STATUS_INVALID_DEVICE_STATE` before StartDevice. A `Version` above 1 gets
/// version 1. On success the interface is written (its `Size` is the
/// interface's own) and one reference is taken.
///
/// # Safety
/// Non-NULL pointers are valid as Dxgkrnl passes them: `QueryInterface`
/// readable, `InterfaceType` readable, `Interface` writable for `Size` bytes.
pub(crate) unsafe extern "system" fn DxgkDdiQueryInterface(
    MiniportDeviceContext: PVOID,
    QueryInterface: *mut QUERY_INTERFACE,
) -> NTSTATUS {
    to_ntstatus(registry::with_adapter(MiniportDeviceContext, |adapter| {
        // SAFETY: NULL or readable (this function's contract).
        let query = unsafe { read_in(QueryInterface.cast_const()) }?;
        if query.Interface.is_null() {
            return Err(Status::InvalidParameter);
        }
        // SAFETY: NULL or a readable GUID (this function's contract).
        let guid = unsafe { read_in(query.InterfaceType) }?;
        let kind = if guid == interfaces::GPU_PARTITION.guid {
            InterfaceKind::Partition
        } else if guid == interfaces::SRIOV.guid {
            InterfaceKind::Sriov
        } else if guid == interfaces::FLEXIOV_DEVICE.guid {
            InterfaceKind::FlexIov
        } else {
            return Err(Status::NotSupported);
        };
        adapter.started()?.partitions()?;
        let needed = match kind {
            InterfaceKind::Partition => core::mem::size_of::<DXGKDDI_GPU_PARTITION_INTERFACE>(),
            InterfaceKind::Sriov => core::mem::size_of::<DXGKDDI_SRIOV_INTERFACE>(),
            InterfaceKind::FlexIov => core::mem::size_of::<DXGKDDI_FLEXIOV_DEVICE_INTERFACE>(),
        };
        if usize::from(query.Size) < needed {
            return Err(Status::InvalidParameter);
        }
        if query.Version == 0 {
            return Err(Status::NotSupported);
        }
        let context = MiniportDeviceContext;
        match kind {
            InterfaceKind::Partition => {
                // SAFETY: non-NULL and writable for `Size >= 128` bytes (contract, checked).
                unsafe { write_out(query.Interface.cast(), partition_interface(context)) }?;
            }
            InterfaceKind::Sriov => {
                // SAFETY: non-NULL and writable for `Size >= 120` bytes (contract, checked).
                unsafe { write_out(query.Interface.cast(), sriov_interface(context)) }?;
            }
            InterfaceKind::FlexIov => {
                // SAFETY: non-NULL and writable for `Size >= 56` bytes (contract, checked).
                unsafe { write_out(query.Interface.cast(), flexiov_interface(context)) }?;
            }
        }
        adapter.refs().reference(kind);
        Ok(())
    }))
}

/// The GPU partition interface, with `Context` = the adapter handle.
fn partition_interface(context: PVOID) -> DXGKDDI_GPU_PARTITION_INTERFACE {
    DXGKDDI_GPU_PARTITION_INTERFACE {
        Size: size_of_interface::<DXGKDDI_GPU_PARTITION_INTERFACE>(),
        Version: DXGKDDI_GPU_PARTITION_INTERFACE_VERSION,
        Context: context,
        InterfaceReference: Some(PartitionReference),
        InterfaceDereference: Some(PartitionDereference),
        DxgkDdiGetGpuPartitionInfo: Some(partition::DxgkDdiGetGpuPartitionInfo),
        DxgkDdiSetGpuPartitionCount: Some(partition::DxgkDdiSetGpuPartitionCount),
        DxgkDdiGetGpuEngines: Some(partition::DxgkDdiGetGpuEngines),
        DxgkDdiGetVirtualGpuProfile: Some(partition::DxgkDdiGetVirtualGpuProfile),
        DxgkDdiCreateVirtualGpu: Some(partition::DxgkDdiCreateVirtualGpu),
        DxgkDdiGetVirtualGpuInfo: Some(partition::DxgkDdiGetVirtualGpuInfo),
        DxgkDdiSetVirtualGpuResources: Some(partition::DxgkDdiSetVirtualGpuResources),
        DxgkDdiDestroyVirtualGpu: Some(partition::DxgkDdiDestroyVirtualGpu),
        DxgkDdiSuspendVirtualGpu: Some(partition::DxgkDdiSuspendVirtualGpu),
        DxgkDdiResumeVirtualGpu: Some(partition::DxgkDdiResumeVirtualGpu),
        DxgkDdiVirtualGpuDriverEscape: Some(partition::DxgkDdiVirtualGpuDriverEscape),
        DxgkDdiSetVirtualGpuVmBus: Some(partition::DxgkDdiSetVirtualGpuVmBus),
    }
}

/// The SR-IOV interface, with `Context` = the adapter handle.
fn sriov_interface(context: PVOID) -> DXGKDDI_SRIOV_INTERFACE {
    DXGKDDI_SRIOV_INTERFACE {
        Size: size_of_interface::<DXGKDDI_SRIOV_INTERFACE>(),
        Version: DXGKDDI_SRIOV_INTERFACE_VERSION,
        Context: context,
        InterfaceReference: Some(SriovReference),
        InterfaceDereference: Some(SriovDereference),
        DxgkDdiReadVirtualFunctionConfig: Some(sriov::DxgkDdiReadVirtualFunctionConfig),
        DxgkDdiWriteVirtualFunctionConfig: Some(sriov::DxgkDdiWriteVirtualFunctionConfig),
        DxgkDdiReadVirtualFunctionConfigBlock: Some(sriov::DxgkDdiReadVirtualFunctionConfigBlock),
        DxgkDdiWriteVirtualFunctionConfigBlock: Some(sriov::DxgkDdiWriteVirtualFunctionConfigBlock),
        DxgkDdiQueryProbedBars: Some(sriov::DxgkDdiQueryProbedBars),
        DxgkDdiGetVendorAndDevice: Some(sriov::DxgkDdiGetVendorAndDevice),
        DxgkDdiGetDeviceLocation: Some(sriov::DxgkDdiGetDeviceLocation),
        DxgkDdiResetVirtualFunction: Some(sriov::DxgkDdiResetVirtualFunction),
        DxgkDdiSetVirtualFunctionPowerState: Some(sriov::DxgkDdiSetVirtualFunctionPowerState),
        DxgkDdiGetResourceForBar: Some(sriov::DxgkDdiGetResourceForBar),
        DxgkDdiQueryVirtualFunctionLuid: Some(sriov::DxgkDdiQueryVirtualFunctionLuid),
    }
}

/// The FlexIOV device interface, with `Context` = the adapter handle.
fn flexiov_interface(context: PVOID) -> DXGKDDI_FLEXIOV_DEVICE_INTERFACE {
    DXGKDDI_FLEXIOV_DEVICE_INTERFACE {
        Size: size_of_interface::<DXGKDDI_FLEXIOV_DEVICE_INTERFACE>(),
        Version: DXGKDDI_FLEXIOV_DEVICE_INTERFACE_VERSION,
        Context: context,
        InterfaceReference: Some(FlexIovReference),
        InterfaceDereference: Some(FlexIovDereference),
        DxgkDdiGetBackingResource: Some(sriov::DxgkDdiGetBackingResource),
        DxgkDdiGetMmioRangeCount: Some(sriov::DxgkDdiGetMmioRangeCount),
        DxgkDdiGetMmioRanges: Some(sriov::DxgkDdiGetMmioRanges),
    }
}
