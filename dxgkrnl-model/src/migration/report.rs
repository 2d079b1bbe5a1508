//! What a migration reports: per VF its rounds, proof and protocol check,
//! the trace of every call of the OS sequence, and the [`Progress`] a long
//! run tells whoever watches it.

use std::time::Duration;

use dxgk_sys::{DirtyBitTrackingCaps, GpupCaps, NTSTATUS};

use super::config::MigrationConfig;
use crate::vf::Reserve;
#[cfg(doc)]
use crate::vf::VfProvider;
use crate::vfstate::VfSnapshot;
use crate::writers::WriterTotals;

/// Which adapter a traced call went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The adapter the VFs leave.
    Source,
    /// The adapter the VFs arrive on.
    Target,
}

/// One step of the OS sequence, as traced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The VF and its reserve were created ([`VfProvider::create_vf`]).
    CreateVf,
    /// `DxgkDdiCreateMemoryBasis` over the reserve.
    CreateMemoryBasis,
    /// `DxgkDdiStartDirtyTracking`.
    StartDirtyTracking,
    /// The reserve was bound ([`VfProvider::bind_reserve`]).
    BindReserve,
    /// `DxgkDdiQueryDirtyBitData`, whole basis, CLEARDATA.
    QueryDirtyBitData,
    /// The guest programmed the VF: config-space writes and every MSI-X
    /// entry through `DxgkDdiWriteVirtualizedInterrupt`.
    ProgramVf,
    /// `DxgkDdiPrepareLiveMigration` (SOURCE on the source, TARGET on the target).
    PrepareLiveMigration,
    /// `DxgkDdiSaveImmutableMigrationData`, both calls.
    SaveImmutableMigrationData,
    /// `DxgkDdiRestoreImmutableMigrationData`.
    RestoreImmutableMigrationData,
    /// `DxgkDdiSetVirtualFunctionPauseState(TRUE)` (on the source, after its
    /// writers stopped: the blackout starts).
    PauseVf,
    /// `DxgkDdiSaveMutableMigrationData`, both calls.
    SaveMutableMigrationData,
    /// `DxgkDdiRestoreMutableMigrationData`.
    RestoreMutableMigrationData,
    /// `DxgkDdiEndLiveMigration`.
    EndLiveMigration,
    /// `DxgkDdiSetVirtualFunctionPauseState(FALSE)`: the target VF runs.
    UnpauseVf,
    /// The VF was destroyed and its reserve freed ([`VfProvider::destroy_vf`]).
    DestroyVf,
    /// `DxgkDdiStopDirtyTracking`.
    StopDirtyTracking,
    /// `DxgkDdiDestroyMemoryBasis`.
    DestroyMemoryBasis,
}

/// One traced call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceEvent {
    /// Which adapter.
    pub side: Side,
    /// Which VF.
    pub vf: u32,
    /// What.
    pub step: Step,
    /// Its status.
    pub status: NTSTATUS,
}

/// Brownout (VF running) or blackout (VF paused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Pre-copy, while the VF runs.
    Brownout,
    /// The final round, while the VF is paused.
    Blackout,
}

/// One round of one VF's migration.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundReport {
    /// 1-based.
    pub round: u32,
    /// Brownout or blackout.
    pub phase: Phase,
    /// Modelled time since this VF's migration started, at the round's start.
    pub start: Duration,
    /// Pages sent in this round.
    pub dirty_pages: u64,
    /// Bytes sent in this round.
    pub bytes_sent: u64,
    /// Modelled transfer time of those bytes over the link.
    pub transfer: Duration,
    /// Measured wall time of this round's QueryDirtyBitData calls (zero for
    /// a first round that sends the whole reserve without a query).
    pub harvest: Duration,
    /// Whether the round sent the whole reserve (tracking just started).
    pub whole_reserve: bool,
    /// Blackout only: pages the query after the pause found that the last
    /// brownout query had not.
    pub found_after_pause: u64,
}

/// Why pre-copy stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Convergence {
    /// The pending set fitted the downtime budget.
    Budget,
    /// The maximum number of rounds was reached first.
    MaxRounds,
}

/// The byte-by-byte comparison of one VF's VRAM, destination against source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// Pages compared (the whole reserve).
    pub pages_compared: u64,
    /// Pages that differ.
    pub differing_pages: u64,
    /// Pages of the source reserve that are not all zero: the pages the
    /// guest ever wrote (a write never leaves a page all zero), so what a
    /// stop-and-copy that knew which pages were written would send.
    pub pages_written: u64,
    /// The first differing pages (at most [`Proof::LISTED`]): VF address and
    /// source segment offset.
    pub first_differences: Vec<(u64, u64)>,
}

impl Proof {
    /// How many differing pages a proof lists.
    pub const LISTED: usize = 32;

    /// Whether the destination is byte-identical to the source.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.differing_pages == 0
    }
}

/// One VF's migration.
#[derive(Debug, Clone, PartialEq)]
pub struct VfReport {
    /// The VF (partition id).
    pub vf: u32,
    /// Its reserve on the source adapter.
    pub source_reserve: Reserve,
    /// Its reserve on the target adapter.
    pub target_reserve: Reserve,
    /// When tracking started for it.
    pub tracked_from_creation: bool,
    /// Every round, the last being the blackout.
    pub rounds: Vec<RoundReport>,
    /// Why pre-copy stopped.
    pub convergence: Convergence,
    /// Modelled blackout: the final query's measured time plus the final
    /// round's modelled transfer.
    pub blackout: Duration,
    /// Modelled time from the migration's start to the end of the blackout.
    pub total: Duration,
    /// Bytes sent over all rounds.
    pub bytes_sent: u64,
    /// Stop-and-copy baseline: the whole reserve sent while paused (its
    /// blackout, which is also its total time).
    pub stop_and_copy: Duration,
    /// What the VF's writers did over the whole run.
    pub writers: WriterTotals,
    /// What the source's engine wrote inside the reserve (engine traffic).
    pub engine: super::config::EngineTotals,
    /// The comparison.
    pub proof: Proof,
    /// The live-migration protocol's data and the VF-state check.
    pub protocol: ProtocolReport,
}

/// What the live-migration DDIs moved for one VF, and whether the target
/// VF's state equals the source's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolReport {
    /// Bytes of the immutable data (SaveImmutable's sizing call).
    pub immutable_bytes: u64,
    /// Bytes of the mutable data.
    pub mutable_bytes: u64,
    /// The source VF's state in the pause, after SaveMutable.
    pub source: VfSnapshot,
    /// The target VF's state after RestoreMutable, before it runs.
    pub target: VfSnapshot,
    /// What differs (empty: the target's state equals the source's).
    pub differences: Vec<String>,
}

impl ProtocolReport {
    /// Whether the target VF's state equals the source's.
    #[must_use]
    pub fn state_equal(&self) -> bool {
        self.differences.is_empty()
    }
}

/// The caps the model read from the source adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapsSummary {
    /// `DXGKQAITYPE_GPUPCAPS` (all zero when the query failed or was not made).
    pub gpup: GpupCaps,
    /// The status of that query; `None` if the adapter has no partition
    /// interface, so Dxgkrnl does not ask.
    pub gpup_query: Option<NTSTATUS>,
    /// `DXGKQAITYPE_DIRTYBITTRACKINGCAPS`.
    pub dirty_bit_tracking: DirtyBitTrackingCaps,
    /// `DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS` of the tracked segment.
    pub page_size: u32,
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationReport {
    /// What was simulated.
    pub config: MigrationConfig,
    /// What the source adapter reported.
    pub caps: CapsSummary,
    /// Per VF, in migration order.
    pub vfs: Vec<VfReport>,
    /// Every call of the OS sequence, in order.
    pub trace: Vec<TraceEvent>,
    /// Modelled time at which the first migration started (the warm-up).
    pub warm_up: Duration,
    /// The partition count both adapters were set to.
    pub partition_count: u32,
    /// Measured wall time of the whole run.
    pub wall: Duration,
}

impl MigrationReport {
    /// Whether every VF's destination is byte-identical to its source and
    /// every target VF's state equals its source's.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.vfs
            .iter()
            .all(|v| v.proof.passed() && v.protocol.state_equal())
    }
}

/// What a long run tells whoever watches it.
pub trait Progress {
    /// A phase of `total` units starts.
    fn begin(&mut self, _phase: &str, _total: u64) {}
    /// The current phase reached `done` units.
    fn set(&mut self, _done: u64) {}
    /// The current phase ended.
    fn end(&mut self) {}
    /// A VF finished a round.
    fn round(&mut self, _vf: u32, _round: &RoundReport) {}
}

/// Progress reported to nobody.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
