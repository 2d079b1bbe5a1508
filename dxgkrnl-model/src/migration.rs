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

use std::time::{Duration, Instant};

use dxgk_sys::{DirtyBitTrackingCaps, GpupCaps, NTSTATUS, STATUS_SUCCESS, STATUS_UNSUCCESSFUL};

use crate::adapter::{Adapter, AdapterConfig, PartitionConfig};
use crate::basis::BasisHandle;
use crate::live::{MigrationData, MigrationType};
use crate::loader::Driver;
use crate::vf::{Layout, PartitionVfs, Reserve, VfProvider, status_of};
use crate::vfstate::{VfSnapshot, program_guest};
use crate::vram::{Vram, VramError};
use crate::writers::{Clock, Workload, WriterGroup, WriterTotals};

/// The segment the model tracks (driver segment id).
pub const SEGMENT: u32 = 1;

/// The modelled gap around each query: a query comes half a lead after the
/// round before it ended (or after where the writers were last allowed to
/// go), once every writer got there, and the writers may go on for another
/// half lead while it runs, so every query races live writes. At least 1 ms,
/// and at least [`LEAD_WRITES`] writes of one writer.
const LEAD_NS: u64 = 1_000_000;
/// See [`LEAD_NS`].
const LEAD_WRITES: u64 = 256;

/// When dirty-bit tracking starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackingStart {
    /// As the caps say: at VF creation if tracking is performant, else at
    /// migration start (what Dxgkrnl does).
    FromCaps,
    /// At migration start, as for an adapter whose tracking is not
    /// performant, whatever the caps say.
    AtMigration,
}

/// A deliberate fault in the live-migration protocol, to show that the
/// checks catch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MigrationFault {
    /// None: the protocol as Dxgkrnl runs it.
    #[default]
    None,
    /// One bit of the mutable data flipped on its way to the target: the
    /// target's RestoreMutableMigrationData must refuse it.
    CorruptMutableData,
    /// The target never gets RestoreMutableMigrationData (End comes right
    /// after the pages): the VF-state check must fail.
    SkipMutableRestore,
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationConfig {
    /// Size of the tracked VRAM segment, bytes (each adapter).
    pub vram_size: u64,
    /// Dirty-tracking page size the adapter's hardware uses, bytes.
    pub page_size: u32,
    /// Number of VFs.
    pub vf_count: u32,
    /// Ranges each VF's reserve is scattered over.
    pub ranges_per_vf: u32,
    /// What the GPU writes.
    pub workload: Workload,
    /// Link bandwidth, bits per second.
    pub link_bits_per_second: u64,
    /// Stop pre-copy once the pending set can be sent within this.
    pub downtime_budget: Duration,
    /// Stop pre-copy after this many rounds (at least 1; the last is the blackout).
    pub max_rounds: u32,
    /// When tracking starts.
    pub tracking: TrackingStart,
    /// Seed of the writers' random streams (and of the guest's programming).
    pub seed: u64,
    /// A deliberate fault in the protocol.
    pub fault: MigrationFault,
}

/// Why a migration could not run (a proof failure is not an error: see
/// [`MigrationReport::passed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationError {
    /// The configuration cannot be simulated.
    Config(String),
    /// Simulated VRAM could not be allocated.
    Vram(VramError),
    /// A DDI (or a check the model makes where Dxgkrnl would) failed.
    Driver {
        /// What was being done.
        step: String,
        /// The status.
        status: NTSTATUS,
    },
}

impl core::fmt::Display for MigrationError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Config(message) => f.write_str(message),
            Self::Vram(e) => write!(f, "simulated VRAM: {e} (try a smaller VRAM size)"),
            Self::Driver { step, status } => write!(f, "{step} failed: {status:?}"),
        }
    }
}

impl std::error::Error for MigrationError {}

impl From<VramError> for MigrationError {
    fn from(e: VramError) -> Self {
        Self::Vram(e)
    }
}

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

/// A link of `bits_per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// Bandwidth, bits per second (non-zero).
    pub bits_per_second: u64,
}

impl Link {
    /// Modelled time to send `bytes`, in nanoseconds.
    #[must_use]
    pub fn transfer_ns(&self, bytes: u64) -> u64 {
        let bits = u128::from(bytes) * 8 * 1_000_000_000;
        u64::try_from(bits.div_ceil(u128::from(self.bits_per_second.max(1)))).unwrap_or(u64::MAX)
    }

    /// Bytes the link sends in `time`.
    #[must_use]
    pub fn bytes_in(&self, time: Duration) -> u64 {
        let bits = time.as_nanos() * u128::from(self.bits_per_second) / 1_000_000_000;
        u64::try_from(bits / 8).unwrap_or(u64::MAX)
    }
}

impl MigrationConfig {
    /// Checks what can be checked before anything runs.
    ///
    /// # Errors
    /// [`MigrationError::Config`] naming the first problem.
    pub fn validate(&self) -> Result<(), MigrationError> {
        let bad = |m: String| Err(MigrationError::Config(m));
        let page = u64::from(self.page_size);
        if !self.page_size.is_power_of_two() || self.page_size < 4096 {
            return bad(format!(
                "page size {} is not a power of two of at least 4096 bytes",
                self.page_size
            ));
        }
        if self.vram_size == 0 || !self.vram_size.is_multiple_of(page) {
            return bad(format!(
                "VRAM size {} is not a non-zero multiple of the page size {page}",
                self.vram_size
            ));
        }
        if self.vf_count == 0 || self.vf_count > 32 {
            return bad(format!("VF count {} is not in 1..=32", self.vf_count));
        }
        if self.ranges_per_vf == 0 || self.ranges_per_vf > 64 {
            return bad(format!(
                "ranges per VF {} is not in 1..=64",
                self.ranges_per_vf
            ));
        }
        let w = &self.workload;
        if w.write_size < 8 || !w.write_size.is_multiple_of(8) || w.write_size > 1 << 30 {
            return bad(format!(
                "write size {} is not a multiple of 8 bytes in 8..=1GiB",
                w.write_size
            ));
        }
        if w.working_set > 0 && w.write_size > w.working_set {
            return bad(format!(
                "write size {} is larger than the working set {}",
                w.write_size, w.working_set
            ));
        }
        if w.writers_per_vf == 0 || w.writers_per_vf > 16 {
            return bad(format!(
                "writers per VF {} is not in 1..=16",
                w.writers_per_vf
            ));
        }
        if w.drop_one_mark_in == Some(0) {
            return bad("--drop-one-mark-in must be at least 1".into());
        }
        if self.link_bits_per_second == 0 {
            return bad("the link speed must be above zero".into());
        }
        if self.max_rounds == 0 {
            return bad("at least one round is needed".into());
        }
        let layout = self.layout()?;
        let reserve = layout.reserve(0).map_or(0, Reserve::size);
        if w.working_set > reserve {
            return bad(format!(
                "working set {} is larger than a VF's reserve ({reserve} bytes)",
                w.working_set
            ));
        }
        Ok(())
    }

    /// Where VidMm places the reserves for this configuration.
    ///
    /// # Errors
    /// [`MigrationError::Config`] if the segment cannot hold the reserves.
    pub fn layout(&self) -> Result<Layout, MigrationError> {
        Layout::new(
            SEGMENT,
            self.vram_size,
            u64::from(self.page_size),
            self.vf_count,
            self.ranges_per_vf,
        )
        .map_err(MigrationError::Config)
    }

    /// The link.
    #[must_use]
    pub fn link(&self) -> Link {
        Link {
            bits_per_second: self.link_bits_per_second,
        }
    }

    /// Each adapter: one tracked segment, and partitioning offered with
    /// exactly the VF count as its partition count, so that each partition's
    /// share of the segment holds one VF's reserve.
    fn adapter_config(&self) -> AdapterConfig {
        let mut config = AdapterConfig::single(self.vram_size, self.page_size);
        config.max_bases = self.vf_count.saturating_mul(2).max(8);
        config.partitions = Some(PartitionConfig {
            enabled: true,
            options: vec![u16::try_from(self.vf_count).unwrap_or(u16::MAX)],
        });
        config
    }
}

/// Runs the migration with VFs created through the partition interface
/// ([`PartitionVfs`]) on both sides, at the configuration's [`Layout`].
///
/// # Errors
/// See [`run_with`].
pub fn run(
    config: &MigrationConfig,
    progress: &mut dyn Progress,
) -> Result<MigrationReport, MigrationError> {
    config.validate()?;
    let mut source = PartitionVfs::new(config.layout()?);
    let mut target = PartitionVfs::new(config.layout()?);
    run_with(config, &mut source, &mut target, progress)
}

/// Runs the migration, creating VFs through the given providers.
///
/// # Errors
/// [`MigrationError`] when the configuration is invalid, VRAM cannot be
/// allocated, or a DDI fails. A failed proof is reported, not an error.
pub fn run_with(
    config: &MigrationConfig,
    source_vfs: &mut dyn VfProvider,
    target_vfs: &mut dyn VfProvider,
    progress: &mut dyn Progress,
) -> Result<MigrationReport, MigrationError> {
    let wall = Instant::now();
    config.validate()?;
    // The hardware exists before the driver loads: each adapter's VRAM.
    let src_vram = Vram::new(config.vram_size)?;
    let dst_vram = Vram::new(config.vram_size)?;
    let driver = Driver::load().map_err(|status| driver_error("DriverEntry", status))?;
    let source = driver
        .start_adapter(&config.adapter_config())
        .map_err(|status| driver_error("source adapter start", status))?;
    let target = driver
        .start_adapter(&config.adapter_config())
        .map_err(|status| driver_error("target adapter start", status))?;
    let caps = source.caps().clone();
    if !caps
        .dirty_bit_tracking
        .contains(DirtyBitTrackingCaps::DirtyBitTrackingSupported)
    {
        return Err(MigrationError::Config(
            "the adapter does not support dirty-bit tracking: no live migration".into(),
        ));
    }
    let page = caps.page_size(SEGMENT).ok_or_else(|| {
        MigrationError::Config(format!("segment {SEGMENT} has no dirty-bit tracking"))
    })?;
    if page != config.page_size {
        return Err(MigrationError::Config(format!(
            "the adapter reports {page}-byte pages, the configuration asked for {}",
            config.page_size
        )));
    }
    let needed = if config.ranges_per_vf > 1 {
        GpupCaps::LiveMigration | GpupCaps::ScatterMapReserve
    } else {
        GpupCaps::LiveMigration
    };
    for (side, adapter) in [("source", &source), ("target", &target)] {
        let gpup = adapter.caps().gpup;
        if !gpup.contains(needed) {
            return Err(MigrationError::Config(format!(
                "the {side} adapter's GPUPCAPS {:#x} lack {:#x}: no live migration{}",
                gpup.bits(),
                needed.bits(),
                if config.ranges_per_vf > 1 {
                    " of scattered reserves"
                } else {
                    ""
                }
            )));
        }
        adapter
            .set_partition_count(config.vf_count)
            .map_err(|status| driver_error(&format!("{side} SetGpuPartitionCount"), status))?;
    }
    let performant = caps
        .dirty_bit_tracking
        .contains(DirtyBitTrackingCaps::DirtyBitTrackingPerformant)
        && config.tracking == TrackingStart::FromCaps;
    let mut run = Run {
        config,
        page: u64::from(page),
        performant,
        source: &source,
        target: &target,
        trace: Vec::new(),
        vfs: Vec::new(),
        progress,
        allowed: 0,
    };
    for vf in 0..config.vf_count {
        let s = run.create_vf(Side::Source, source_vfs, vf)?;
        let t = run.create_vf(Side::Target, target_vfs, vf)?;
        // The guest lives on the source: it programs its VF.
        let programmed = source_vfs
            .vgpu(vf)
            .ok_or(STATUS_UNSUCCESSFUL)
            .and_then(|vgpu| program_guest(&source, vgpu, config.seed));
        run.record(Side::Source, vf, Step::ProgramVf, status_of(&programmed))?;
        if s.1.size() != t.1.size() {
            return Err(MigrationError::Config(format!(
                "VF {vf}: source reserve {} bytes, target reserve {} bytes",
                s.1.size(),
                t.1.size()
            )));
        }
        run.vfs.push(VfState {
            vf,
            source_basis: s.0,
            source_reserve: s.1,
            target_basis: t.0,
            target_reserve: t.1,
            source_tracking: performant,
            target_tracking: performant,
        });
    }
    let clock = Clock::default();
    let groups: Vec<WriterGroup> = run
        .vfs
        .iter()
        .map(|_| WriterGroup::new(config.workload.writers_per_vf))
        .collect();
    let reserves: Vec<(u32, Reserve)> = run
        .vfs
        .iter()
        .map(|v| (v.vf, v.source_reserve.clone()))
        .collect();
    let outcome = std::thread::scope(|scope| {
        for ((vf, reserve), group) in reserves.iter().zip(&groups) {
            for index in 0..config.workload.writers_per_vf.max(1) {
                let writer = crate::writers::Writer {
                    adapter: &source,
                    vram: &src_vram,
                    reserve,
                    workload: &config.workload,
                    clock: &clock,
                    group,
                    index,
                    id: u64::from(*vf) << 8 | u64::from(index),
                    seed: config.seed,
                };
                scope.spawn(move || writer.run());
            }
        }
        let outcome = run.migrate_all(
            &clock,
            &groups,
            &src_vram,
            &dst_vram,
            source_vfs,
            &*target_vfs,
        );
        for group in &groups {
            group.finish(&clock);
        }
        outcome
    });
    let mut reports = outcome?;
    for (report, group) in reports.iter_mut().zip(&groups) {
        report.writers = group.totals();
        if report.writers.failed_marks > 0 {
            return Err(driver_error(
                &format!("gpup_sw_mark_dirty (VF {})", report.vf),
                report.writers.first_failure,
            ));
        }
    }
    run.teardown_targets(target_vfs)?;
    let trace = core::mem::take(&mut run.trace);
    drop(run);
    let warm_up = Duration::from_nanos(config.workload.fill_time());
    for adapter in [source, target] {
        adapter
            .remove()
            .map_err(|status| driver_error("RemoveDevice", status))?;
    }
    Ok(MigrationReport {
        config: config.clone(),
        caps: CapsSummary {
            gpup: caps.gpup,
            gpup_query: caps.gpup_query,
            dirty_bit_tracking: caps.dirty_bit_tracking,
            page_size: page,
        },
        vfs: reports,
        trace,
        warm_up,
        partition_count: config.vf_count,
        wall: wall.elapsed(),
    })
}

fn driver_error(step: &str, status: NTSTATUS) -> MigrationError {
    MigrationError::Driver {
        step: step.to_owned(),
        status,
    }
}

/// One VF on both adapters.
struct VfState {
    vf: u32,
    source_basis: BasisHandle,
    source_reserve: Reserve,
    target_basis: BasisHandle,
    target_reserve: Reserve,
    source_tracking: bool,
    target_tracking: bool,
}

/// The orchestration's state.
struct Run<'a> {
    config: &'a MigrationConfig,
    page: u64,
    performant: bool,
    source: &'a Adapter,
    target: &'a Adapter,
    trace: Vec<TraceEvent>,
    vfs: Vec<VfState>,
    progress: &'a mut dyn Progress,
    /// How far writers may run (modelled): the last target set.
    allowed: u64,
}

/// The set bits of an RTL_BITMAP-ordered buffer.
fn set_bits(bits: &[u8]) -> impl Iterator<Item = u64> + '_ {
    (0u64..).zip(bits).flat_map(|(i, &byte)| {
        (0..8u64)
            .filter(move |b| byte >> b & 1 == 1)
            .map(move |b| i * 8 + b)
    })
}

fn count_bits(bits: &[u8]) -> u64 {
    bits.iter().map(|b| u64::from(b.count_ones())).sum()
}

impl Run<'_> {
    /// See [`LEAD_NS`].
    fn lead(&self) -> u64 {
        LEAD_NS.max(self.config.workload.time_of(LEAD_WRITES))
    }

    fn adapter(&self, side: Side) -> &Adapter {
        match side {
            Side::Source => self.source,
            Side::Target => self.target,
        }
    }

    fn record(
        &mut self,
        side: Side,
        vf: u32,
        step: Step,
        status: NTSTATUS,
    ) -> Result<(), MigrationError> {
        self.trace.push(TraceEvent {
            side,
            vf,
            step,
            status,
        });
        if status.is_success() {
            Ok(())
        } else {
            Err(driver_error(
                &format!("{step:?} ({side:?} VF {vf})"),
                status,
            ))
        }
    }

    /// vGPU creation: the VF and its reserve, one basis over the reserve,
    /// tracking if performant, then the binding (gpu-partitioning.md section 5, steps 7-10).
    fn create_vf(
        &mut self,
        side: Side,
        provider: &mut dyn VfProvider,
        vf: u32,
    ) -> Result<(BasisHandle, Reserve), MigrationError> {
        let created = provider.create_vf(self.adapter(side), vf);
        self.record(side, vf, Step::CreateVf, status_of(&created))?;
        let Ok(reserve) = created else {
            return Err(driver_error("CreateVf", status_of(&created)));
        };
        let basis = self
            .adapter(side)
            .create_memory_basis(reserve.segment(), reserve.ranges());
        // CreateMemoryBasis reports failure as a NULL handle only.
        let status = basis.map_or(dxgk_sys::STATUS_UNSUCCESSFUL, |_| STATUS_SUCCESS);
        self.record(side, vf, Step::CreateMemoryBasis, status)?;
        let Some(basis) = basis else {
            return Err(driver_error("CreateMemoryBasis", status));
        };
        if self.performant {
            let status = self.adapter(side).start_dirty_tracking(basis);
            self.record(side, vf, Step::StartDirtyTracking, status)?;
        }
        let bound = provider.bind_reserve(self.adapter(side), vf, &reserve, basis);
        self.record(side, vf, Step::BindReserve, status_of(&bound))?;
        Ok((basis, reserve))
    }

    /// A whole-basis CLEARDATA query into `buf` (zeroed first, as the OS
    /// does), and its measured wall time.
    fn harvest(&mut self, i: usize, buf: &mut [u8]) -> Result<Duration, MigrationError> {
        let (vf, basis) = {
            let v = &self.vfs[i];
            (v.vf, v.source_basis)
        };
        buf.fill(0);
        let started = Instant::now();
        let status = self.source.query_dirty_bits(basis, None, true, buf);
        let took = started.elapsed();
        self.record(Side::Source, vf, Step::QueryDirtyBitData, status)?;
        Ok(took)
    }

    /// Copies the pages set in `bits` from source to destination VRAM.
    fn copy(
        &mut self,
        i: usize,
        bits: &[u8],
        src: &Vram,
        dst: &Vram,
        label: &str,
    ) -> Result<(), MigrationError> {
        let total = count_bits(bits);
        self.progress.begin(label, total);
        let v = &self.vfs[i];
        let mut done = 0u64;
        for page in set_bits(bits) {
            let addr = page * self.page;
            let (Some((from, _)), Some((to, _))) =
                (v.source_reserve.locate(addr), v.target_reserve.locate(addr))
            else {
                return Err(MigrationError::Config(format!(
                    "VF {}: page {page} reported dirty lies outside its reserve",
                    v.vf
                )));
            };
            if !src.copy_to(from, dst, to, self.page) {
                return Err(MigrationError::Config(format!(
                    "VF {}: page {page} cannot be copied",
                    v.vf
                )));
            }
            done += 1;
            if done.is_multiple_of(4096) {
                self.progress.set(done);
            }
        }
        self.progress.end();
        Ok(())
    }

    /// Lets the writers run past modelled time `now`: to the next query's
    /// instant, half a lead past `now` (or past where they were already
    /// allowed to go), which it returns, and half a lead beyond, so that the
    /// query that follows races live writes.
    #[must_use]
    fn release(&mut self, clock: &Clock, now: u64) -> u64 {
        let half = self.lead() / 2;
        let mark = now.max(self.allowed).saturating_add(half);
        self.allowed = mark.saturating_add(half);
        clock.set_watch(mark);
        clock.set_target(self.allowed);
        mark
    }

    /// Waits until every running writer has reached modelled time `mark`.
    fn wait(&mut self, clock: &Clock, groups: &[WriterGroup], mark: u64, label: &str) {
        let start = groups
            .iter()
            .map(WriterGroup::progress)
            .min()
            .unwrap_or(mark)
            .min(mark);
        let progress = &mut *self.progress;
        progress.begin(label, mark.saturating_sub(start) / 1000);
        clock.wait_until(
            || groups.iter().all(|g| g.reached(mark)),
            || {
                let at = groups
                    .iter()
                    .map(WriterGroup::progress)
                    .min()
                    .unwrap_or(mark);
                progress.set(at.min(mark).saturating_sub(start) / 1000);
            },
        );
        progress.end();
    }

    /// [`Self::release`], then [`Self::wait`]; returns the query instant.
    #[must_use]
    fn advance(&mut self, clock: &Clock, groups: &[WriterGroup], now: u64, label: &str) -> u64 {
        let mark = self.release(clock, now);
        self.wait(clock, groups, mark, label);
        mark
    }

    fn migrate_all(
        &mut self,
        clock: &Clock,
        groups: &[WriterGroup],
        src: &Vram,
        dst: &Vram,
        source_vfs: &mut dyn VfProvider,
        target_vfs: &dyn VfProvider,
    ) -> Result<Vec<VfReport>, MigrationError> {
        let mut now = self.config.workload.fill_time();
        if now == u64::MAX {
            now = 0;
        }
        now = self.advance(
            clock,
            groups,
            now,
            "warm-up: the VFs fill their working sets (modelled µs)",
        );
        let mut reports = Vec::new();
        for i in 0..self.vfs.len() {
            let vfs = (&*source_vfs, target_vfs);
            let (report, end) = self.migrate(i, now, clock, groups, (src, dst), vfs)?;
            now = end;
            self.teardown_source(i, source_vfs)?;
            reports.push(report);
        }
        Ok(reports)
    }

    /// Migrates VF `i`, starting at modelled time `start` (a query instant);
    /// returns its report and the query instant at which the next VF starts.
    #[allow(clippy::too_many_lines)]
    fn migrate(
        &mut self,
        i: usize,
        start: u64,
        clock: &Clock,
        groups: &[WriterGroup],
        (src, dst): (&Vram, &Vram),
        (source_vfs, target_vfs): (&dyn VfProvider, &dyn VfProvider),
    ) -> Result<(VfReport, u64), MigrationError> {
        let link = self.config.link();
        let budget = u64::try_from(self.config.downtime_budget.as_nanos()).unwrap_or(u64::MAX);
        let (vf, reserve_size, tracked_from_creation) = {
            let v = &self.vfs[i];
            (v.vf, v.source_reserve.size(), v.source_tracking)
        };
        let pages = reserve_size / self.page;
        let bytes = usize::try_from(pages.div_ceil(8)).map_err(|_| {
            MigrationError::Config("the reserve's bitmap does not fit in memory".into())
        })?;
        let mut pending = vec![0u8; bytes];
        let mut fresh = vec![0u8; bytes];
        let mut rounds = Vec::new();
        let mut now = start;
        let mut whole_reserve = false;
        // Section 5.3 / 5.5: the source prepares and saves what cannot
        // change; the target prepares, pauses for the whole transfer, and
        // checks that data before any page arrives.
        let status = self
            .source
            .prepare_live_migration(vf, MigrationType::Source);
        self.record(Side::Source, vf, Step::PrepareLiveMigration, status)?;
        let immutable = self.save(vf, MigrationData::Immutable)?;
        let status = self
            .target
            .prepare_live_migration(vf, MigrationType::Target);
        self.record(Side::Target, vf, Step::PrepareLiveMigration, status)?;
        let status = self.target.set_vf_pause(vf, true);
        self.record(Side::Target, vf, Step::PauseVf, status)?;
        let status = self
            .target
            .restore_migration_data(MigrationData::Immutable, vf, &immutable);
        self.record(
            Side::Target,
            vf,
            Step::RestoreImmutableMigrationData,
            status,
        )?;
        if !tracked_from_creation {
            let basis = self.vfs[i].source_basis;
            let status = self.source.start_dirty_tracking(basis);
            self.record(Side::Source, vf, Step::StartDirtyTracking, status)?;
            self.vfs[i].source_tracking = true;
            whole_reserve = true;
        }
        let mut round = 1u32;
        let convergence = loop {
            let harvest = if whole_reserve {
                // Tracking just started: nothing says which pages the VF
                // wrote before, so the first round sends them all.
                pending.fill(0xFF);
                if let Some(last) = pending.last_mut() {
                    let tail = pages % 8;
                    if tail != 0 {
                        *last = (1u8 << tail) - 1;
                    }
                }
                Duration::ZERO
            } else {
                self.harvest(i, &mut pending)?
            };
            let dirty = count_bits(&pending);
            let transfer = link.transfer_ns(dirty * self.page);
            if transfer <= budget {
                break Convergence::Budget;
            }
            if round >= self.config.max_rounds {
                break Convergence::MaxRounds;
            }
            let harvest_ns = u64::try_from(harvest.as_nanos()).unwrap_or(u64::MAX);
            let report = RoundReport {
                round,
                phase: Phase::Brownout,
                start: Duration::from_nanos(now - start),
                dirty_pages: dirty,
                bytes_sent: dirty * self.page,
                transfer: Duration::from_nanos(transfer),
                harvest,
                whole_reserve,
                found_after_pause: 0,
            };
            // The VF runs on while its pages travel: the writers go ahead
            // for the round's modelled time while the copier copies.
            let mark = self.release(
                clock,
                now.saturating_add(harvest_ns).saturating_add(transfer),
            );
            self.copy(
                i,
                &pending,
                src,
                dst,
                &format!("VF {vf} round {round}: copying dirty pages"),
            )?;
            self.wait(
                clock,
                groups,
                mark,
                &format!("VF {vf} round {round}: link transfer (modelled µs)"),
            );
            now = mark;
            self.progress.round(vf, &report);
            rounds.push(report);
            whole_reserve = false;
            round += 1;
        };
        // Blackout: pause the VF (its GPU stops, then it is taken off the
        // schedule), collect what it wrote since the last query, save its
        // mutable state, send everything pending.
        let group = &groups[i];
        group.pause(clock);
        let status = self.source.set_vf_pause(vf, true);
        self.record(Side::Source, vf, Step::PauseVf, status)?;
        let blackout_start = now;
        let final_harvest = self.harvest(i, &mut fresh)?;
        let mut mutable = self.save(vf, MigrationData::Mutable)?;
        let mut found_after_pause = 0u64;
        for (p, f) in pending.iter_mut().zip(&fresh) {
            found_after_pause += u64::from((f & !*p).count_ones());
            *p |= f;
        }
        let dirty = count_bits(&pending);
        let transfer = link.transfer_ns(dirty * self.page);
        let blackout_ns = u64::try_from(final_harvest.as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(transfer);
        self.copy(
            i,
            &pending,
            src,
            dst,
            &format!("VF {vf} blackout: copying the last pages"),
        )?;
        let report = RoundReport {
            round,
            phase: Phase::Blackout,
            start: Duration::from_nanos(blackout_start - start),
            dirty_pages: dirty,
            bytes_sent: dirty * self.page,
            transfer: Duration::from_nanos(transfer),
            harvest: final_harvest,
            whole_reserve,
            found_after_pause,
        };
        self.progress.round(vf, &report);
        rounds.push(report);
        let protocol =
            self.finish_protocol(i, (source_vfs, target_vfs), immutable.len(), &mut mutable)?;
        now = now.saturating_add(blackout_ns);
        let end = now;
        // The other VFs run on through this VF's blackout.
        group.finish(clock);
        let next = self.advance(
            clock,
            groups,
            now,
            &format!("VF {vf} blackout (modelled µs)"),
        );
        let proof = self.prove(i, src, dst)?;
        let v = &self.vfs[i];
        let report = VfReport {
            vf,
            source_reserve: v.source_reserve.clone(),
            target_reserve: v.target_reserve.clone(),
            tracked_from_creation,
            bytes_sent: rounds.iter().map(|r| r.bytes_sent).sum(),
            rounds,
            convergence,
            blackout: Duration::from_nanos(blackout_ns),
            total: Duration::from_nanos(end - start),
            stop_and_copy: Duration::from_nanos(link.transfer_ns(reserve_size)),
            writers: WriterTotals::default(),
            proof,
            protocol,
        };
        Ok((report, next))
    }

    /// Saves VF `vf`'s data on the source with the two-call protocol.
    fn save(&mut self, vf: u32, kind: MigrationData) -> Result<Vec<u8>, MigrationError> {
        let saved = self.source.save_migration_data(kind, vf);
        let step = match kind {
            MigrationData::Immutable => Step::SaveImmutableMigrationData,
            MigrationData::Mutable => Step::SaveMutableMigrationData,
        };
        self.record(Side::Source, vf, step, status_of(&saved))?;
        saved.map_err(|status| driver_error(&format!("{step:?}"), status))
    }

    /// The end of section 5.3 / 5.5 once the last pages are across: the
    /// target restores the mutable data, both VFs' states are read and
    /// compared (both still paused), EndLiveMigration on both sides, and the
    /// target VF is unpaused.
    fn finish_protocol(
        &mut self,
        i: usize,
        (source_vfs, target_vfs): (&dyn VfProvider, &dyn VfProvider),
        immutable_bytes: usize,
        mutable: &mut [u8],
    ) -> Result<ProtocolReport, MigrationError> {
        let vf = self.vfs[i].vf;
        match self.config.fault {
            MigrationFault::CorruptMutableData => {
                if let Some(byte) = mutable.get_mut(mutable.len() / 2) {
                    *byte ^= 0x10;
                }
            }
            MigrationFault::None | MigrationFault::SkipMutableRestore => {}
        }
        if self.config.fault != MigrationFault::SkipMutableRestore {
            let status = self
                .target
                .restore_migration_data(MigrationData::Mutable, vf, mutable);
            self.record(Side::Target, vf, Step::RestoreMutableMigrationData, status)?;
        }
        let snapshot =
            |adapter: &Adapter, provider: &dyn VfProvider, reserve: &Reserve, tracked: bool| {
                provider
                    .vgpu(vf)
                    .ok_or(STATUS_UNSUCCESSFUL)
                    .and_then(|vgpu| {
                        VfSnapshot::take(adapter, vgpu, reserve, reserve.ranges(), tracked)
                    })
                    .map_err(|status| driver_error(&format!("reading VF {vf}'s state"), status))
            };
        let v = &self.vfs[i];
        let source = snapshot(
            self.source,
            source_vfs,
            &v.source_reserve,
            v.source_tracking,
        )?;
        let target = snapshot(
            self.target,
            target_vfs,
            &v.target_reserve,
            v.target_tracking,
        )?;
        for side in [Side::Source, Side::Target] {
            let status = self.adapter(side).end_live_migration(vf);
            self.record(side, vf, Step::EndLiveMigration, status)?;
        }
        let status = self.target.set_vf_pause(vf, false);
        self.record(Side::Target, vf, Step::UnpauseVf, status)?;
        Ok(ProtocolReport {
            immutable_bytes: immutable_bytes as u64,
            mutable_bytes: mutable.len() as u64,
            differences: source.differences(&target),
            source,
            target,
        })
    }

    /// Compares VF `i`'s destination VRAM with its source, page by page.
    fn prove(&mut self, i: usize, src: &Vram, dst: &Vram) -> Result<Proof, MigrationError> {
        let v = &self.vfs[i];
        let pages = v.source_reserve.size() / self.page;
        self.progress
            .begin(&format!("VF {}: proof (pages compared)", v.vf), pages);
        let mut proof = Proof {
            pages_compared: pages,
            differing_pages: 0,
            first_differences: Vec::new(),
        };
        for page in 0..pages {
            let addr = page * self.page;
            let (Some((from, _)), Some((to, _))) =
                (v.source_reserve.locate(addr), v.target_reserve.locate(addr))
            else {
                return Err(MigrationError::Config(format!(
                    "VF {}: page {page} is outside its reserve",
                    v.vf
                )));
            };
            if src.same(from, dst, to, self.page) != Some(true) {
                proof.differing_pages += 1;
                if proof.first_differences.len() < Proof::LISTED {
                    proof.first_differences.push((addr, from));
                }
            }
            if page % 8192 == 0 {
                self.progress.set(page);
            }
        }
        self.progress.end();
        Ok(proof)
    }

    /// The OS's teardown of a VF: destroy the vGPU and free its reserve,
    /// then StopDirtyTracking (if tracking), then DestroyMemoryBasis.
    fn teardown(
        &mut self,
        side: Side,
        i: usize,
        provider: &mut dyn VfProvider,
    ) -> Result<(), MigrationError> {
        let (vf, basis, tracking) = {
            let v = &self.vfs[i];
            match side {
                Side::Source => (v.vf, v.source_basis, v.source_tracking),
                Side::Target => (v.vf, v.target_basis, v.target_tracking),
            }
        };
        let destroyed = provider.destroy_vf(self.adapter(side), vf);
        self.record(side, vf, Step::DestroyVf, status_of(&destroyed))?;
        if tracking {
            let status = self.adapter(side).stop_dirty_tracking(basis);
            self.record(side, vf, Step::StopDirtyTracking, status)?;
        }
        let status = self.adapter(side).destroy_memory_basis(basis);
        self.record(side, vf, Step::DestroyMemoryBasis, status)
    }

    fn teardown_source(
        &mut self,
        i: usize,
        provider: &mut dyn VfProvider,
    ) -> Result<(), MigrationError> {
        self.teardown(Side::Source, i, provider)
    }

    fn teardown_targets(&mut self, provider: &mut dyn VfProvider) -> Result<(), MigrationError> {
        for i in 0..self.vfs.len() {
            self.teardown(Side::Target, i, provider)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_model_is_bytes_over_bandwidth() {
        let link = Link {
            bits_per_second: 10_000_000_000,
        };
        assert_eq!(link.transfer_ns(1_250_000_000), 1_000_000_000);
        assert_eq!(link.transfer_ns(1), 1);
        assert_eq!(link.bytes_in(Duration::from_millis(750)), 937_500_000);
    }

    #[test]
    fn bitmap_helpers_read_rtl_bitmap_order() {
        let bits = [0b1000_0001u8, 0, 0b10];
        assert_eq!(set_bits(&bits).collect::<Vec<_>>(), vec![0, 7, 17]);
        assert_eq!(count_bits(&bits), 3);
    }
}
