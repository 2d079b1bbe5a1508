//! The DDI trampolines: one thin `extern "system"` function per DDI (the
//! KMDOD pattern). Each checks its raw arguments (NULL, sizes), converts them
//! to typed values once, calls safe code in `crate::adapter` (and the layers
//! below it), and maps the `Result` to the DDI's return value.
//!
//! - [`initialization_data`] (here): the DDI table the driver registers;
//!   [`entry`]: `DriverEntry`, which registers it.
//! - `arg`: `ArgBlock`, the typed view of an argument block, with the
//!   one `unsafe` constructor every trampoline goes through;
//!   `buffer`: the raw OS-memory helpers under it (`OutBuffer`, the one way
//!   to write into OS memory).
//! - One module per DDI family: `device` (lifecycle), `qai`
//!   (QueryAdapterInfo), `basis` (dirty-bit tracking), `allocation` (the
//!   vGPU reserves' standard allocations and ordinary allocations),
//!   `render` and `render_open` (devices, contexts, processes, root page
//!   tables, node metadata; describe, open, close), `query_interface`, `partition`,
//!   `sriov` and `migration` (GPU partitioning and live migration),
//!   `unsupported` (required slots this adapter answers trivially) and
//!   [`irql`] (the slots that may run above PASSIVE_LEVEL: lock-free and
//!   allocation-free, listed in `irql::ABOVE_PASSIVE`).
//!
//! `unsafe` lives here, in `kernel` and in `host` (the host
//! loader's C ABI) only. Raw pointers stay raw until checked, and borrows made
//! from them never outlive the call.

#![allow(non_snake_case)]

pub(crate) mod allocation;
pub(crate) mod arg;
pub(crate) mod basis;
mod buffer;
pub(crate) mod device;
pub mod engine;
pub(crate) mod engine_table;
pub mod entry;
mod gpup;
pub mod irql;
pub(crate) mod migration;
pub(crate) mod partition;
pub(crate) mod qai;
mod qai_segments;
pub(crate) mod query_interface;
pub(crate) mod render;
pub(crate) mod render_open;
pub(crate) mod sriov;
#[cfg(gpup_stack_broken)]
mod stack_broken;
#[cfg(gpup_wine_start_broken)]
mod start_broken;
#[cfg(test)]
mod tests;
pub(crate) mod unsupported;

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

pub(crate) use buffer::{InBuffer, OutBuffer, copy_in, copy_out, read_in, write_out};

/// The DDI table this driver registers: `Version` = WDDM 3.2 and every slot it
/// implements; all others NULL.
#[must_use]
pub fn initialization_data() -> DRIVER_INITIALIZATION_DATA {
    use self::irql as i;
    use self::render as r;
    use self::render_open as ro;
    use self::unsupported as u;
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
    d.DxgkDdiInterruptRoutine = Some(i::DxgkDdiInterruptRoutine);
    d.DxgkDdiDpcRoutine = Some(engine::DxgkDdiDpcRoutine);
    d.DxgkDdiQueryChildRelations = Some(u::DxgkDdiQueryChildRelations);
    d.DxgkDdiQueryChildStatus = Some(u::DxgkDdiQueryChildStatus);
    d.DxgkDdiQueryDeviceDescriptor = Some(u::DxgkDdiQueryDeviceDescriptor);
    d.DxgkDdiSetPowerState = Some(u::DxgkDdiSetPowerState);
    d.DxgkDdiResetDevice = Some(i::DxgkDdiResetDevice);
    d.DxgkDdiCreateDevice = Some(r::DxgkDdiCreateDevice);
    d.DxgkDdiDescribeAllocation = Some(ro::DxgkDdiDescribeAllocation);
    d.DxgkDdiPreemptCommand = Some(engine::DxgkDdiPreemptCommand);
    d.DxgkDdiBuildPagingBuffer = Some(engine::DxgkDdiBuildPagingBuffer);
    d.DxgkDdiSubmitCommand = Some(engine::DxgkDdiSubmitCommand);
    d.DxgkDdiSubmitCommandVirtual = Some(engine::DxgkDdiSubmitCommandVirtual);
    d.DxgkDdiResetFromTimeout = Some(engine::DxgkDdiResetFromTimeout);
    d.DxgkDdiRestartFromTimeout = Some(engine::DxgkDdiRestartFromTimeout);
    d.DxgkDdiCollectDbgInfo = Some(i::DxgkDdiCollectDbgInfo);
    d.DxgkDdiDestroyDevice = Some(r::DxgkDdiDestroyDevice);
    d.DxgkDdiOpenAllocation = Some(ro::DxgkDdiOpenAllocation);
    d.DxgkDdiCloseAllocation = Some(ro::DxgkDdiCloseAllocation);
    d.DxgkDdiCreateContext = Some(r::DxgkDdiCreateContext);
    d.DxgkDdiDestroyContext = Some(r::DxgkDdiDestroyContext);
    d.DxgkDdiQueryDependentEngineGroup = Some(engine::DxgkDdiQueryDependentEngineGroup);
    d.DxgkDdiQueryEngineStatus = Some(engine::DxgkDdiQueryEngineStatus);
    d.DxgkDdiResetEngine = Some(engine::DxgkDdiResetEngine);
    d.DxgkDdiGetNodeMetadata = Some(r::DxgkDdiGetNodeMetadata);
    d.DxgkDdiCreateProcess = Some(r::DxgkDdiCreateProcess);
    d.DxgkDdiDestroyProcess = Some(r::DxgkDdiDestroyProcess);
    d.DxgkDdiGetRootPageTableSize = Some(r::DxgkDdiGetRootPageTableSize);
    d.DxgkDdiSetRootPageTable = Some(r::DxgkDdiSetRootPageTable);
    d.DxgkDdiCalibrateGpuClock = Some(i::DxgkDdiCalibrateGpuClock);
    d.DxgkDdiFormatHistoryBuffer = Some(i::DxgkDdiFormatHistoryBuffer);
    d.DxgkDdiSetStablePowerState = Some(i::DxgkDdiSetStablePowerState);
    d.DxgkDdiSetVirtualMachineData = Some(i::DxgkDdiSetVirtualMachineData);
    #[cfg(gpup_wine_start_broken)]
    start_broken::install(&mut d);
    d
}
