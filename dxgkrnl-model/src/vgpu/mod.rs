//! The OS side of GPU partitioning (`docs/contract.md`, how the OS drives a
//! live migration), as Dxgkrnl and VidMm play it once GPU-virtualization
//! initialization (`gpuvirt`, section 2, run by [`Adapter::start`])
//! kept the interfaces:
//!
//! - the partition interface as management calls it (`partition`: count,
//!   profiles, vGPU info, VM bus, escape, the binding of reserves);
//! - vGPU creation (`create`): CreateVirtualGpu, then per requested
//!   reserve a standard allocation of type `D3DKMDT_STANDARDALLOCATION_VGPU`
//!   (GetStandardAllocationDriverData, CreateAllocation), pinned by VidMm at
//!   an offset of the segment, first fit (`vidmm`), a memory basis over it
//!   in a tracked segment (with StartDirtyTracking when tracking is
//!   performant), then SetVirtualGpuResources, GetVirtualGpuInfo, the
//!   virtual-PCI probe of the VF (`sriov`), SetVirtualGpuVmBus and D0;
//! - teardown in the observed order: D3, DestroyVirtualGpu, DestroyAllocation
//!   per reserve, StopDirtyTracking, DestroyMemoryBasis; at adapter stop,
//!   InterfaceDereference of every interface taken.
//!
//! The submodules depend one way: `create` uses `partition`, `sriov` and
//! `vidmm`; `vidmm` uses `partition` (the scatter granularity); `partition`
//! and `sriov` use no sibling. Every operation is a method of [`Adapter`].

#[cfg(doc)]
use crate::adapter::Adapter;

mod create;
mod partition;
mod sriov;
mod vidmm;

pub use crate::gpuvirt::{GpuVirtualization, guids};
pub use crate::records::{Reserve, VfProbe, VgpuInfo};
pub use create::{Stage, VgpuRequest};
pub use sriov::{POWER_DEVICE_D0, POWER_DEVICE_D3};
pub use vidmm::{APERTURE_SEGMENT, Pinned};
