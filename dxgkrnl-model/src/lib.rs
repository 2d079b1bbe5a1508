//! A host-only stand-in for Dxgkrnl, the Windows display port driver.
//!
//! It loads `gpup-miniport` the way Windows does: it calls the driver's
//! `DriverEntry` with a driver object and registry path it owns, receives the
//! `DRIVER_INITIALIZATION_DATA` table in its own `DxgkInitialize` (defined here
//! with `#[no_mangle]`, as displib's is on Windows), checks the table the way
//! Dxgkrnl does, and from then on calls the driver **only through the table's
//! function pointers**, with raw pointers to argument blocks it owns.
//!
//! [`Driver`] is a loaded driver image; [`Adapter`] one adapter it drives
//! through AddDevice, StartDevice, QueryAdapterInfo, StopDevice, RemoveDevice.
//! [`vgpu`] is the OS side of GPU partitioning: the start-time checks of the
//! partition, SR-IOV and FlexIOV interfaces, and vGPU creation with VRAM
//! reserves (contiguous, or scattered and bound through a memory basis) as
//! Dxgkrnl and VidMm do it; [`live`] the live-migration DDIs as Dxgkrnl
//! calls them.
//!
//! On top of that, the OS side of a GPU-P live migration: simulated VRAM
//! ([`vram`]), GPU writers that write it and mark it through the driver's
//! software dirty-tracking backend ([`writers`]), VFs and their VRAM reserves
//! ([`vf`]), a VF's state as the OS reads it ([`vfstate`]), and the
//! orchestration of `dirty-bit-tracking.md` section 5 with the live-migration
//! DDIs, its transfer model, the byte-by-byte proof of the VRAM and the check
//! of the VF's state ([`migration`]).

#![allow(non_snake_case)]

mod adapter;
mod basis;
pub mod live;
mod loader;
mod mandatory_slots;
pub mod migration;
pub mod vf;
pub mod vfstate;
pub mod vgpu;
pub mod vram;
pub mod writers;

pub use adapter::{
    Adapter, AdapterConfig, EtwEvent, MemorySegment, PartitionConfig, StartedCaps, take_etw_events,
};
pub use basis::{BasisHandle, create_args};
pub use loader::{Driver, DriverEntryFn, DxgkInitialize, MANDATORY_SLOTS, validate_table};
pub use vgpu::{GpuVirtualization, Reserve, Stage, VfProbe, VgpuInfo, VgpuRequest};

/// An NTSTATUS failure from the driver, or from a check the model makes where
/// Dxgkrnl would.
pub type Result<T> = core::result::Result<T, dxgk_sys::NTSTATUS>;

/// Maps an NTSTATUS to `Ok(())` or `Err(status)`.
///
/// # Errors
/// Any status that is not `NT_SUCCESS`.
pub fn check(status: dxgk_sys::NTSTATUS) -> Result<()> {
    if status.is_success() {
        Ok(())
    } else {
        Err(status)
    }
}
