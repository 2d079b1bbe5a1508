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
//! On top of that, the OS side of a GPU-P live migration: the adapters' VRAM
//! ([`vram`]: the driver's own backing, through its host export; the model
//! keeps no copy), GPU writers that write it and mark it through the driver's
//! software dirty-tracking backend ([`writers`]), VFs and their VRAM reserves
//! ([`vf`]), a VF's state as the OS reads it ([`vfstate`]), and the
//! orchestration of `dirty-bit-tracking.md` section 5 with the live-migration
//! DDIs, its transfer model, the byte-by-byte proof of the VRAM and the check
//! of the VF's state ([`migration`]).
//!
//! # Layers
//! The modules form layers; each imports only modules of the layers below it
//! (no two modules depend on each other, by `use` or by any other path):
//!
//! 1. Foundation, no crate dependencies: `status` ([`Result`], [`check`]),
//!    `mandatory_slots`, `records` (the plain records of what the driver
//!    created: [`BasisHandle`], [`VgpuInfo`], [`Reserve`], [`VfProbe`]),
//!    [`vram`].
//! 2. Loading the driver: `loader` ([`Driver`], [`DxgkInitialize`],
//!    [`validate_table`]); the `DXGKRNL_INTERFACE` callbacks (`callbacks`:
//!    device states, [`take_etw_events`]).
//! 3. `miniport`: one adapter's seam into the driver (the driver and the
//!    context AddDevice returned; QueryAdapterInfo, QueryInterface).
//! 4. `gpuvirt`: GPU-virtualization initialization at adapter start, and
//!    what it keeps ([`GpuVirtualization`]); [`start`]: the start rules of
//!    the spec (2.1-2.5) and their sequence, shared with the Wine fixture.
//! 5. `adapter`: the [`Adapter`] and its lifecycle; it also creates adapters
//!    for a [`Driver`] ([`Driver::add_device`], [`Driver::start_adapter`]).
//! 6. The DDIs over an adapter, each layer an `impl Adapter` block: `basis`
//!    (memory bases, dirty-bit tracking), then [`vgpu`] (partitioning, vGPU
//!    creation, VidMm's placement), then [`render`] (processes, devices,
//!    contexts, root page tables, node metadata, ordinary allocations placed
//!    by VidMm) and [`live`] (the live-migration DDIs).
//! 7. The OS side of a migration: [`vf`] (VFs and their reserves), then
//!    [`vfstate`] and [`writers`] (a VF's state, the GPU writers).
//! 8. [`migration`]: the orchestration, on top.
//!
//! This crate root only declares the modules and re-exports.

#![allow(non_snake_case)]

mod adapter;
mod basis;
mod callbacks;
mod gpuvirt;
pub mod irql;
pub mod live;
mod loader;
mod mandatory_slots;
pub mod migration;
mod miniport;
pub mod paging;
mod records;
pub mod render;
pub mod start;
mod status;
pub mod vf;
pub mod vfstate;
pub mod vgpu;
pub mod vram;
pub mod writers;

pub use adapter::{
    APERTURE_SEGMENT, Adapter, AdapterConfig, FIRST_VRAM_SEGMENT, MemorySegment, PartitionConfig,
    StartedCaps,
};
pub use basis::create_args;
pub use callbacks::{
    CallbackProbe, Completions, EtwEvent, set_callback_probe, submitting, take_etw_events,
};
pub use gpuvirt::GpuVirtualization;
pub use loader::{Driver, DriverEntryFn, DxgkInitialize, MANDATORY_SLOTS, validate_table};
pub use records::{BasisHandle, Reserve, VfProbe, VgpuInfo};
pub use start::{DEFAULT_START_CHECKS, ReportLine, StartChecks};
pub use status::{Result, check};
pub use vgpu::{Stage, VgpuRequest};
