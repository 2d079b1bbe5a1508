//! `gpup-miniport`: a WDDM 3.2 kernel-mode display miniport driver whose
//! centre is GPU-P live migration: memory bases and dirty-bit tracking of VRAM.
//!
//! The same code runs in three places: the Windows kernel (built with the WDK,
//! or WDK-free), and the Linux host, where `dxgkrnl-model` loads it through
//! [`DriverEntry`] and drives it through its DDI table exactly as Dxgkrnl does.
//!
//! The modules form layers; each imports only the layers below it, and no two
//! modules of one layer import each other:
//!
//! | layer | module | what |
//! |---|---|---|
//! | 0 | `foundation` | generation-checked handles and their tables, units (`SegmentId`, `PageSize`, `Span`, `VfIndex`), fallible allocation, little-endian fields, [`Status`] |
//! | 0 | [`interfaces`] | WDK values the ABI tables lack (interface GUIDs, `DEVICE_POWER_STATE` values, the migration triage event's provider) |
//! | 1 | `kernel` | the per-platform seam (allocation, debug output, `DxgkInitialize`), Dxgkrnl's callbacks (`KernelInterface`), the lock and atomics (`kernel::sync`), the VRAM backing's lazily committed blocks and fallible shared box (`kernel::lazy`) |
//! | 2 | `basis` | memory bases and their dirty-bit tracking (`Tracker`, bitplanes) |
//! | 2 | `memory` | the adapter's memory segments and their configuration, and their bytes (`memory::backing`: the VRAM backing, lazily committed 1 MiB chunks) |
//! | 2 | `mmu` | the GpuMmu geometry (page-table levels, virtual-address width, root-table size) |
//! | 3 | [`engine`] | the software engine: command format, submission ring, fence order, preemption and TDR state |
//! | 3 | `savestate` | the live-migration saved-state format, the per-VF migration state machine, the triage event's wire format |
//! | 4 | [`render`] | the render core's objects: devices, contexts, GPU-VA processes, ordinary allocations and their opens; [`render::allocation`] is the public private-data format of ordinary allocations |
//! | 4 | [`vgpu`] | GPU partitioning (partition count, profiles, the vGPU table, VRAM reserves, synthetic SR-IOV functions); [`vgpu::escape`] is the public wire format of the vGPU escape |
//! | 5 | [`migration`] | per-VF live migration; the public paths of the saved-state format ([`migration::inspect`], [`migration::triage`]) |
//! | 6 | `adapter` | adapter state and lifecycle, the adapter registry, the capabilities it reports |
//! | 7 | [`ddi`] | the `extern "system"` trampolines registered with Dxgkrnl |
//! | 8 | [`host`] (host builds only) | the loader's extra C ABI (memory configuration, the software dirty-tracking backend as `gpup_sw_mark_dirty`, access to the VRAM backing: [`host::vram`]) |
//!
//! `unsafe` lives in three places only, the boundaries with the OS: `ddi`
//! (the trampolines read their argument blocks through `ddi::arg::ArgBlock`,
//! whose one `unsafe` constructor carries Dxgkrnl's contract, and write OS
//! memory through `OutBuffer`), `kernel` (the platform backends, Dxgkrnl's
//! callbacks, the ERESOURCE lock, the VRAM backing's raw allocation, the
//! published slots the lock-free marks read) and
//! `host` (the host loader's C ABI). The
//! other modules are safe code; their tests use `unsafe` only to read back
//! `MaybeUninit` buffers they initialised and, in `adapter::caps`, to
//! declare stub DDIs that are never called.

#![cfg_attr(target_os = "windows", no_std)]
// No panic reachable from a DDI: these hold for all driver code (tests may
// unwrap). An exception needs an `#[allow]` with a `// PANIC:` proof beside it.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]
// Under `--cfg loom` only the platform-free core is built, for the model
// checker (`src/basis/model_check.rs`): the adapter table is a `static` of
// locks, which loom's atomics cannot initialise, and the DDIs need it. The
// core's items used only by the DDIs are then unused.
#![cfg_attr(loom, allow(dead_code, unused_imports))]

extern crate alloc;

#[cfg(not(loom))]
mod adapter;
mod basis;
#[cfg(not(loom))]
pub mod ddi;
pub mod engine;
mod foundation;
#[cfg(all(not(target_os = "windows"), not(loom)))]
pub mod host;
#[cfg(not(loom))]
pub mod interfaces;
mod kernel;
#[cfg(not(loom))]
mod memory;
#[cfg(not(loom))]
pub mod migration;
// Platform-free constants, also under loom (the engine's walk uses them).
mod mmu;
#[cfg(not(loom))]
pub mod render;
#[cfg(not(loom))]
mod savestate;
#[cfg(not(loom))]
pub mod vgpu;

#[cfg(not(loom))]
pub use ddi::basis::sw_mark_dirty;
#[cfg(not(loom))]
pub use ddi::entry::{DriverEntry, initialization_data};
pub use foundation::status::Status;
#[cfg(all(not(target_os = "windows"), not(loom)))]
pub use kernel::dma::{HOST_UNMAPPED, HostMdl};
