//! `DriverEntry` and the `DRIVER_INITIALIZATION_DATA` table it registers.

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

use crate::ddi::{allocation, basis, device, migration, qai, query_interface, unsupported as u};

/// The DDI table this driver registers: `Version` = WDDM 3.2 and every slot it
/// implements; all others NULL.
#[must_use]
pub fn initialization_data() -> DRIVER_INITIALIZATION_DATA {
    let mut d = DRIVER_INITIALIZATION_DATA::zeroed();
    d.Version = DXGKDDI_INTERFACE_VERSION_WDDM3_2;
    d.DxgkDdiAddDevice = Some(device::DxgkDdiAddDevice);
    d.DxgkDdiStartDevice = Some(device::DxgkDdiStartDevice);
    d.DxgkDdiStopDevice = Some(device::DxgkDdiStopDevice);
    d.DxgkDdiRemoveDevice = Some(device::DxgkDdiRemoveDevice);
    d.DxgkDdiUnload = Some(device::DxgkDdiUnload);
    d.DxgkDdiQueryAdapterInfo = Some(qai::DxgkDdiQueryAdapterInfo);

    // GPU partitioning: the partition, SR-IOV and FlexIOV interfaces, and the
    // standard-allocation path the vGPUs' VRAM reserves come through.
    d.DxgkDdiQueryInterface = Some(query_interface::DxgkDdiQueryInterface);
    d.DxgkDdiGetStandardAllocationDriverData =
        Some(allocation::DxgkDdiGetStandardAllocationDriverData);
    d.DxgkDdiCreateAllocation = Some(allocation::DxgkDdiCreateAllocation);
    d.DxgkDdiDestroyAllocation = Some(allocation::DxgkDdiDestroyAllocation);

    // Dirty-bit tracking (slots 172-176).
    d.DxgkDdiCreateMemoryBasis = Some(basis::DxgkDdiCreateMemoryBasis);
    d.DxgkDdiDestroyMemoryBasis = Some(basis::DxgkDdiDestroyMemoryBasis);
    d.DxgkDdiStartDirtyTracking = Some(basis::DxgkDdiStartDirtyTracking);
    d.DxgkDdiStopDirtyTracking = Some(basis::DxgkDdiStopDirtyTracking);
    d.DxgkDdiQueryDirtyBitData = Some(basis::DxgkDdiQueryDirtyBitData);

    // GPU-P live migration (slots 177-185).
    d.DxgkDdiPrepareLiveMigration = Some(migration::DxgkDdiPrepareLiveMigration);
    d.DxgkDdiSaveImmutableMigrationData = Some(migration::DxgkDdiSaveImmutableMigrationData);
    d.DxgkDdiSaveMutableMigrationData = Some(migration::DxgkDdiSaveMutableMigrationData);
    d.DxgkDdiEndLiveMigration = Some(migration::DxgkDdiEndLiveMigration);
    d.DxgkDdiRestoreImmutableMigrationData = Some(migration::DxgkDdiRestoreImmutableMigrationData);
    d.DxgkDdiRestoreMutableMigrationData = Some(migration::DxgkDdiRestoreMutableMigrationData);
    d.DxgkDdiWriteVirtualizedInterrupt = Some(migration::DxgkDdiWriteVirtualizedInterrupt);
    d.DxgkDdiSetVirtualGpuResources2 = Some(migration::DxgkDdiSetVirtualGpuResources2);
    d.DxgkDdiSetVirtualFunctionPauseState = Some(migration::DxgkDdiSetVirtualFunctionPauseState);

    // Required of a render-less adapter (Microsoft's MCDM minimum list); see
    // `ddi::unsupported` for what each answers on this software adapter.
    d.DxgkDdiInterruptRoutine = Some(u::DxgkDdiInterruptRoutine);
    d.DxgkDdiDpcRoutine = Some(u::DxgkDdiDpcRoutine);
    d.DxgkDdiQueryChildRelations = Some(u::DxgkDdiQueryChildRelations);
    d.DxgkDdiQueryChildStatus = Some(u::DxgkDdiQueryChildStatus);
    d.DxgkDdiQueryDeviceDescriptor = Some(u::DxgkDdiQueryDeviceDescriptor);
    d.DxgkDdiSetPowerState = Some(u::DxgkDdiSetPowerState);
    d.DxgkDdiResetDevice = Some(u::DxgkDdiResetDevice);
    d.DxgkDdiCreateDevice = Some(u::DxgkDdiCreateDevice);
    d.DxgkDdiDescribeAllocation = Some(u::DxgkDdiDescribeAllocation);
    d.DxgkDdiPreemptCommand = Some(u::DxgkDdiPreemptCommand);
    d.DxgkDdiBuildPagingBuffer = Some(u::DxgkDdiBuildPagingBuffer);
    d.DxgkDdiResetFromTimeout = Some(u::DxgkDdiResetFromTimeout);
    d.DxgkDdiRestartFromTimeout = Some(u::DxgkDdiRestartFromTimeout);
    d.DxgkDdiCollectDbgInfo = Some(u::DxgkDdiCollectDbgInfo);
    d.DxgkDdiDestroyDevice = Some(u::DxgkDdiDestroyDevice);
    d.DxgkDdiOpenAllocation = Some(u::DxgkDdiOpenAllocation);
    d.DxgkDdiCloseAllocation = Some(u::DxgkDdiCloseAllocation);
    d.DxgkDdiCreateContext = Some(u::DxgkDdiCreateContext);
    d.DxgkDdiDestroyContext = Some(u::DxgkDdiDestroyContext);
    d.DxgkDdiQueryDependentEngineGroup = Some(u::DxgkDdiQueryDependentEngineGroup);
    d.DxgkDdiQueryEngineStatus = Some(u::DxgkDdiQueryEngineStatus);
    d.DxgkDdiResetEngine = Some(u::DxgkDdiResetEngine);
    d.DxgkDdiGetNodeMetadata = Some(u::DxgkDdiGetNodeMetadata);
    d.DxgkDdiCalibrateGpuClock = Some(u::DxgkDdiCalibrateGpuClock);
    d.DxgkDdiFormatHistoryBuffer = Some(u::DxgkDdiFormatHistoryBuffer);
    d.DxgkDdiSetStablePowerState = Some(u::DxgkDdiSetStablePowerState);
    d.DxgkDdiSetVirtualMachineData = Some(u::DxgkDdiSetVirtualMachineData);
    d
}

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
    let mut data = initialization_data();
    crate::trace!(
        "DriverEntry: registering interface version {:#x}",
        data.Version
    );
    // SAFETY: the OS's own arguments are passed through unchanged; `data` is a
    // live table that DxgkInitialize copies before returning.
    unsafe { crate::kernel::DxgkInitialize(DriverObject, RegistryPath, &raw mut data) }
}
