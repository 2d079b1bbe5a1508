//! A GPU-P live migration of every VF of a source adapter to a target
//! adapter, driven as Dxgkrnl drives it (`dirty-bit-tracking.md` section 5),
//! with simulated GPU writers running on the source and a byte-by-byte proof
//! at the end.
//!
//! # The sequence
//! 1. Load the driver; start a source and a target adapter with one tracked
//!    segment each ([`Adapter::start`] reads GPUPCAPS, DIRTYBITTRACKINGCAPS and
//!    the segment's page size, and refuses inconsistent caps); the run needs
//!    `LiveMigration` (and `ScatterMapReserve` for scattered reserves).
//!    SetGpuPartitionCount(VF count) on both.
//! 2. Per VF, on both adapters: create the VF and its reserve through the
//!    partition interface ([`PartitionVfs`]: CreateVirtualGpu, the standard
//!    vGPU allocation pinned at the [`Layout`]'s ranges), one memory basis
//!    over the reserve's ranges in VF address order, StartDirtyTracking right
//!    away if the adapter reports tracking as performant, then bind the
//!    reserve (SetVirtualGpuResources2 with that basis, or
//!    SetVirtualGpuResources for a one-range reserve) and bring the VF up to
//!    D0. On the source, the guest programs the VF ([`program_guest`]).
//! 3. Start the source VFs' writers: each fills its working set once, then
//!    writes with its pattern, for as long as the run lasts.
//! 4. For each VF in turn (the others keep running), the protocol of
//!    section 5.3 and 5.5: source PrepareLiveMigration(SOURCE) and
//!    SaveImmutableMigrationData (two calls); target
//!    PrepareLiveMigration(TARGET), SetVirtualFunctionPauseState(TRUE) (the
//!    target VF is paused for the whole transfer) and
//!    RestoreImmutableMigrationData; StartDirtyTracking now if it was not
//!    started at creation (the first round then sends the whole reserve);
//!    pre-copy rounds: QueryDirtyBitData over the whole basis with CLEARDATA,
//!    copy the dirty pages from source to target VRAM, while the writers go
//!    on for the round's modelled transfer time; stop when the pending set
//!    fits the downtime budget at the link bandwidth, or after the maximum
//!    number of rounds. Pause: the VF's writers stop and
//!    SetVirtualFunctionPauseState(TRUE) on the source; the final query, then
//!    SaveMutableMigrationData (two calls); what is pending is copied;
//!    RestoreMutableMigrationData on the target. The target VF's state is
//!    compared with the source's ([`VfSnapshot`]); EndLiveMigration on both,
//!    then SetVirtualFunctionPauseState(FALSE) on the target, which now runs.
//!    The destination VRAM is proven byte-identical to the source. Then the
//!    source VF is torn down in the OS's order: destroy the VF and free its
//!    reserve, StopDirtyTracking, DestroyMemoryBasis.
//! 5. Tear the target VFs down the same way and stop both adapters.
//!
//! # What is measured and what is modelled
//! Measured (wall clock, this host): each QueryDirtyBitData call through the
//! C ABI, and the whole run. Modelled: the link (bytes / bandwidth) and the
//! time the writers spend, so a round's transfer time is what the link would
//! take, and the writers write exactly `dirty rate x modelled time` bytes in
//! it. The dirty pages, bytes sent and the proof are real: the pages really
//! are written, marked, harvested, copied and compared.
//!
//! # Layout
//! `config` (what to simulate, the link model, [`MigrationError`]) and
//! `bits` (RTL_BITMAP helpers) at the bottom; `report` (what a run reports
//! and traces) above `config`; `session` (the orchestration's state and its
//! steps: VF creation and teardown, harvest, copy, the protocol's end, the
//! proof, the writers' modelled clock) above those; `vf_migration` (one VF's
//! rounds, brownout then blackout) above `session`; `run` (the whole
//! sequence, [`run`] and [`run_with`]) on top.

#[cfg(doc)]
use crate::adapter::Adapter;
#[cfg(doc)]
use crate::vf::{Layout, PartitionVfs};
#[cfg(doc)]
use crate::vfstate::{VfSnapshot, program_guest};

mod bits;
mod config;
mod engine;
mod report;
mod run;
mod session;
mod vf_migration;

pub use config::{
    EngineTotals, EngineTraffic, Link, MigrationConfig, MigrationError, MigrationFault, SEGMENT,
    TrackingStart,
};
pub use report::{
    CapsSummary, Convergence, MigrationReport, NoProgress, Phase, Progress, Proof, ProtocolReport,
    RoundReport, Side, Step, TraceEvent, VfReport,
};
pub use run::{run, run_with};
