//! The GPU-P live-migration side of a vGPU: scattered reserves
//! (`DxgkDdiSetVirtualGpuResources2`), the pause overlay, the MSI-X table
//! (`DxgkDdiWriteVirtualizedInterrupt`), and the migration DDIs (Prepare,
//! Save and Restore of the immutable and mutable data, End), over the state
//! machine of [`crate::migration::machine`] and the format of
//! [`crate::migration`].
//!
//! # What moves
//! - Immutable data: the adapter identity (the VF ids the partitioning
//!   reports: vendor, device, subsystem, revision), the driver version (crate
//!   version and DDI interface version), every segment with its size and
//!   page size, and the VF's partition count, LUID and reserve sizes.
//!   Restore checks it against what this adapter would save for the target
//!   VF: identity, driver major.minor and interface version, the page size of
//!   the segments the reserves use, partition count and reserve sizes
//!   (`ImmutableState::check_compatible`).
//! - Mutable data (saved while paused): the pause state, the MSI-X entries
//!   written, the configuration space, and the memory bases that lie within
//!   the VF's bound reserve, each as the VF-address runs it covers in bitplane
//!   order (so that a contiguous reserve on one side and a scattered one on
//!   the other compare equal when bit `n` means the same VF page) with its
//!   tracking state. Restore checks the LUID and partition id against the
//!   immutable data, that the source was paused, that the MSI-X indices fit
//!   this VF's table, that the configuration space agrees in every read-only
//!   bit, and that for every source basis the target VF has one covering the
//!   same VF runs (tracking state is Dxgkrnl's per-adapter policy, so it is
//!   carried but not required to match); then it applies the MSI-X table and
//!   the writable configuration bits. The pause itself stays as it is: the
//!   target is paused (Restore requires it) until the OS unpauses it.
//!
//! Every check runs before anything is applied: a rejected Restore changes
//! nothing and returns `STATUS_OBJECT_TYPE_MISMATCH` with a [`Rejection`]
//! carrying the triage event to log.

use alloc::vec::Vec;
use core::ffi::c_void;

use super::allocation::AllocationHandle;
use super::{BoundReserve, MSIX_TABLE_SIZE, MsixValue, Partitioning, pci};
use crate::basis::BasisHandle;
use crate::basis::{BasisView, Tracker};
use crate::foundation::fallible::{push, try_vec};
use crate::foundation::status::{Result, Status};
use crate::savestate::codec::DecodeError;
use crate::savestate::machine::{Role, SourceVf};
use crate::savestate::state::{
    AdapterIdentity, BasisState, DriverVersion, ImmutableState, Incompatibility, MsixEntry,
    MutableState, ReserveSize, SegmentLayout,
};
use crate::savestate::triage::*;

/// One `DXGK_GPU_PHYSICAL_RESERVE_DESCRIPTOR`, as Dxgkrnl passed it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScatterEntry {
    pub(crate) allocation: *mut c_void,
    pub(crate) basis: *mut c_void,
}

/// What a Save call produced.
pub(crate) enum Saved {
    /// The sizing call: the exact bytes needed.
    Size(usize),
    /// The OS's buffer is smaller than the bytes needed (the value).
    TooSmall(usize),
    /// The blob, to copy into the OS's buffer (the state machine moved on).
    Blob(Vec<u8>),
}

/// A Restore that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rejection {
    /// What the DDI returns.
    pub(crate) status: Status,
    /// The event to log, for a rejected blob (`STATUS_OBJECT_TYPE_MISMATCH`).
    pub(crate) triage: Option<GPUP_MIGRATION_TRIAGE>,
}

impl From<Status> for Rejection {
    fn from(status: Status) -> Self {
        Self {
            status,
            triage: None,
        }
    }
}

/// The restore DDIs' slots, for the triage event.
const RESTORE_IMMUTABLE_SLOT: u32 = 181;
const RESTORE_MUTABLE_SLOT: u32 = 182;

fn mismatch(ddi: u32, vf: u32, reason: u32, detail: u32, expected: u64, found: u64) -> Rejection {
    Rejection {
        status: Status::ObjectTypeMismatch,
        triage: Some(GPUP_MIGRATION_TRIAGE {
            Version: TRIAGE_VERSION,
            Ddi: ddi,
            VfIndex: vf,
            Reason: reason,
            Detail: detail,
            Reserved: 0,
            Expected: expected,
            Found: found,
        }),
    }
}

fn malformed(ddi: u32, vf: u32, e: DecodeError) -> Rejection {
    match e {
        DecodeError::NoMemory => Status::NoMemory.into(),
        _ => mismatch(ddi, vf, TRIAGE_MALFORMED, e.code(), 0, 0),
    }
}

/// `u16::from_str_radix` of a crate-version component, at compile time.
const fn version_part(text: &str) -> u16 {
    match u16::from_str_radix(text, 10) {
        Ok(v) => v,
        Err(_) => 0,
    }
}

/// This driver's version.
pub(crate) const DRIVER_VERSION: DriverVersion = DriverVersion {
    major: version_part(env!("CARGO_PKG_VERSION_MAJOR")),
    minor: version_part(env!("CARGO_PKG_VERSION_MINOR")),
    patch: version_part(env!("CARGO_PKG_VERSION_PATCH")),
    interface_version: dxgk_sys::DXGKDDI_INTERFACE_VERSION_WDDM3_2,
};

/// The identity the partitioning reports for its VFs.
pub(crate) const IDENTITY: AdapterIdentity = AdapterIdentity {
    vendor_id: pci::VENDOR_ID,
    device_id: pci::DEVICE_ID,
    subsystem_vendor_id: pci::VENDOR_ID,
    subsystem_id: pci::DEVICE_ID,
    revision: pci::REVISION_ID,
};

fn luid_value(luid: dxgk_sys::LUID) -> u64 {
    u64::from(luid.LowPart) | (u64::from(luid.HighPart.cast_unsigned()) << 32)
}

/// A bound reserve's pieces by segment offset, with the VF address of each,
/// for mapping basis ranges to VF addresses in `O(log pieces)` each.
struct ReserveMap {
    /// (segment offset, bytes, VF address), ascending segment offset.
    pieces: Vec<(u64, u64, u64)>,
}

impl ReserveMap {
    fn new(reserve: &BoundReserve) -> Result<Self> {
        let mut pieces = try_vec(reserve.pieces.len())?;
        let mut vf = 0u64;
        for &(at, size) in &reserve.pieces {
            push(&mut pieces, (at, size, vf))?;
            vf = vf.saturating_add(size);
        }
        pieces.sort_unstable_by_key(|p| p.0);
        Ok(Self { pieces })
    }

    /// The piece holding segment offset `at`: (VF address of `at`, bytes
    /// of the piece from `at` on).
    fn locate(&self, at: u64) -> Option<(u64, u64)> {
        let i = self.pieces.partition_point(|p| p.0 <= at).checked_sub(1)?;
        let &(start, size, vf) = self.pieces.get(i)?;
        let within = at.checked_sub(start)?;
        (within < size).then(|| (vf.saturating_add(within), size.saturating_sub(within)))
    }

    /// The VF-address runs `basis` covers, in bitplane order, adjacent runs
    /// merged; `None` if any byte of it lies outside the reserve (then it is
    /// not this VF's basis).
    fn runs(&self, basis: &BasisView<'_>) -> Result<Option<Vec<(u64, u64)>>> {
        let mut runs: Vec<(u64, u64)> =
            try_vec(basis.range_count().saturating_add(self.pieces.len()))?;
        for (mut at, mut left) in basis.ranges() {
            while left > 0 {
                let Some((vf, room)) = self.locate(at) else {
                    return Ok(None);
                };
                let n = room.min(left);
                match runs.last_mut() {
                    Some(last) if last.0.saturating_add(last.1) == vf => {
                        last.1 = last.1.saturating_add(n);
                    }
                    _ => {
                        if push(&mut runs, (vf, n)).is_err() {
                            // More runs than ranges plus pieces cannot happen
                            // (each range splits only where a piece ends).
                            return Err(Status::NoMemory);
                        }
                    }
                }
                at = at.saturating_add(n);
                left = left.saturating_sub(n);
            }
        }
        Ok(Some(runs))
    }
}

impl Partitioning {
    /// The bound reserve of a VF that can take part in a migration.
    fn migratable(&self, partition: u32) -> Result<&BoundReserve> {
        let vgpu = self.vgpu(partition)?;
        match (&vgpu.reserve, vgpu.revoked) {
            (Some(r), false) => Ok(r),
            _ => Err(Status::InvalidDeviceState),
        }
    }

    /// `DxgkDdiSetVirtualGpuResources2`: binds the ranges of a memory basis
    /// as the VF's VRAM, in `Ranges[]` order (VF address 0 is the first byte
    /// of `Ranges[0]`). The same rules as SetVirtualGpuResources (once only,
    /// the VF's own unbound allocation, no overlap with another VF's
    /// reserve), and the basis must lie in the tracked segment, every range
    /// a multiple of the scatter granularity (`DXGKQAITYPE_SCATTER_RESERVE`,
    /// the segment's page size) in offset and size, and the ranges must add
    /// up to the reserve the VF asked for. The basis is only read: it may
    /// be tracked or not, and destroyed later without unbinding anything.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown partition, not exactly one
    /// descriptor, or any rule above; `InvalidHandle` for an unknown, stale,
    /// forged or NULL memory-basis handle; `InvalidDeviceState` if resources
    /// were already set; `NoMemory`. Nothing is bound on error.
    pub(crate) fn set_resources2(
        &mut self,
        engine: &Tracker,
        partition: u32,
        entries: &[ScatterEntry],
    ) -> Result<()> {
        let vgpu = self.vgpu(partition)?;
        if vgpu.reserve.is_some() || vgpu.revoked {
            return Err(Status::InvalidDeviceState);
        }
        let [entry] = entries else {
            return Err(Status::InvalidParameter);
        };
        let basis = engine.basis(BasisHandle::from_raw(entry.basis)?)?;
        let handle =
            AllocationHandle::from_raw(entry.allocation).map_err(|_| Status::InvalidParameter)?;
        let allocation = self
            .allocations
            .get(handle)
            .map_err(|_| Status::InvalidParameter)?;
        let size = vgpu.reserve_size;
        let aligned = basis
            .ranges()
            .all(|(at, len)| self.page.divides(at) && self.page.divides(len));
        let total = basis
            .ranges()
            .try_fold(0u64, |sum, (_, len)| sum.checked_add(len));
        if allocation.reserve.instance != vgpu.instance
            || allocation.reserve.segment != self.segment
            || allocation.reserve.size < size
            || allocation.bound_to.is_some()
            || basis.segment != self.segment
            || !aligned
            || total != Some(size)
        {
            return Err(Status::InvalidParameter);
        }
        let mut pieces = try_vec(basis.range_count())?;
        for range in basis.ranges() {
            push(&mut pieces, range)?;
        }
        if self.overlaps_other(partition, &pieces)? {
            return Err(Status::InvalidParameter);
        }
        self.bind(
            partition,
            BoundReserve {
                allocation: handle,
                pieces,
                scattered: true,
            },
        )
    }

    /// `DxgkDdiSetVirtualFunctionPauseState`: sets or clears the pause
    /// overlay (idempotent, in any migration phase and power state). A
    /// paused VF is not scheduled: its GPU writes nothing.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown partition.
    pub(crate) fn set_pause(&mut self, partition: u32, pause: bool) -> Result<()> {
        self.vgpu_mut(partition)?.migration.set_paused(pause);
        Ok(())
    }

    /// `DxgkDdiWriteVirtualizedInterrupt`: writes one entry of the VF's
    /// MSI-X table (any value: the address is the one Dxgkrnl substituted).
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown partition or an index outside the
    /// table (negative, or at least its size).
    pub(crate) fn write_interrupt(
        &mut self,
        partition: u32,
        index: i16,
        value: MsixValue,
    ) -> Result<()> {
        let vgpu = self.vgpu_mut(partition)?;
        let i = usize::try_from(index).map_err(|_| Status::InvalidParameter)?;
        let entry = vgpu.msix.get_mut(i).ok_or(Status::InvalidParameter)?;
        *entry = Some(value);
        Ok(())
    }

    /// `DxgkDdiPrepareLiveMigration`.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown partition; `InvalidDeviceState`
    /// while a migration is in progress, or for a VF without VRAM (no reserve
    /// bound, or its allocation destroyed under it).
    pub(crate) fn prepare(&mut self, partition: u32, role: Role) -> Result<()> {
        self.migratable(partition)?;
        self.vgpu_mut(partition)?.migration.prepare(role)
    }

    /// `DxgkDdiEndLiveMigration`: the VF returns to a non-migrating
    /// configuration; the pause stays as it is.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown partition; `InvalidDeviceState`
    /// when no migration is in progress.
    pub(crate) fn end(&mut self, partition: u32) -> Result<()> {
        self.vgpu_mut(partition)?.migration.end()
    }

    /// What this adapter saves as the immutable data of `partition`.
    fn immutable_of(&self, engine: &Tracker, partition: u32) -> Result<ImmutableState> {
        let vgpu = self.vgpu(partition)?;
        let mut segments = try_vec(engine.segments().count())?;
        for s in engine.segments() {
            push(
                &mut segments,
                SegmentLayout {
                    id: s.id.0,
                    page_size: s.page.map_or(0, |p| p.bytes()),
                    size: s.size,
                },
            )?;
        }
        let mut reserves = try_vec(1)?;
        push(
            &mut reserves,
            ReserveSize {
                segment_id: self.segment.0,
                size: vgpu.reserve_size,
            },
        )?;
        Ok(ImmutableState {
            identity: IDENTITY,
            driver: DRIVER_VERSION,
            segments,
            vf_index: partition,
            partition_count: self.count,
            luid: luid_value(vgpu.luid),
            reserves,
        })
    }

    /// The memory bases of the VF's reserve, as VF runs.
    fn bases_of(&self, engine: &Tracker, reserve: &BoundReserve) -> Result<Vec<BasisState>> {
        let map = ReserveMap::new(reserve)?;
        let mine = |b: &BasisView<'_>| b.segment == self.segment;
        let mut bases = try_vec(engine.bases().filter(|b| mine(b)).count())?;
        for b in engine.bases().filter(|b| mine(b)) {
            if let Some(ranges) = map.runs(&b)? {
                push(
                    &mut bases,
                    BasisState {
                        segment_id: b.segment.0,
                        tracked: b.tracked,
                        ranges,
                    },
                )?;
            }
        }
        Ok(bases)
    }

    /// What this adapter saves as the mutable data of `partition`.
    fn mutable_of(&self, engine: &Tracker, partition: u32) -> Result<MutableState> {
        let reserve = self.migratable(partition)?;
        let vgpu = self.vgpu(partition)?;
        let mut msix = try_vec(MSIX_TABLE_SIZE)?;
        for (i, entry) in vgpu.msix.iter().enumerate() {
            if let Some(e) = entry {
                push(
                    &mut msix,
                    MsixEntry {
                        index: u16::try_from(i).map_err(|_| Status::InvalidParameter)?,
                        address: e.address,
                        data: e.data,
                        vector_control: e.vector_control,
                    },
                )?;
            }
        }
        let snapshot = vgpu.config.snapshot();
        let mut config = try_vec(snapshot.len())?;
        config.extend_from_slice(snapshot);
        Ok(MutableState {
            vf_index: partition,
            luid: luid_value(vgpu.luid),
            paused: vgpu.migration.paused(),
            msix,
            bases: self.bases_of(engine, reserve)?,
            config,
        })
    }

    /// One Save call: `capacity` is `None` for the sizing call, else the
    /// size of the OS's buffer.
    fn save(
        &mut self,
        capacity: Option<usize>,
        encode: impl Fn(Option<&mut [u8]>) -> Result<usize>,
        commit: impl FnOnce(&mut Self),
    ) -> Result<Saved> {
        let needed = encode(None)?;
        let Some(capacity) = capacity else {
            return Ok(Saved::Size(needed));
        };
        if capacity < needed {
            return Ok(Saved::TooSmall(needed));
        }
        let mut blob = try_vec(needed)?;
        blob.resize(needed, 0);
        let written = encode(Some(&mut blob))?;
        blob.truncate(written);
        commit(self);
        Ok(Saved::Blob(blob))
    }

    /// `DxgkDdiSaveImmutableMigrationData` (either call of the two-call
    /// protocol).
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown partition; `InvalidDeviceState`
    /// unless the VF is a prepared source with its VRAM; `NoMemory`.
    pub(crate) fn save_immutable(
        &mut self,
        engine: &Tracker,
        partition: u32,
        capacity: Option<usize>,
    ) -> Result<Saved> {
        self.vgpu(partition)?.migration.check_save_immutable()?;
        self.migratable(partition)?;
        let state = self.immutable_of(engine, partition)?;
        self.save(
            capacity,
            |out| state.encode(out),
            |p| {
                if let Ok(v) = p.vgpu_mut(partition) {
                    v.migration.saved_immutable();
                }
            },
        )
    }

    /// `DxgkDdiSaveMutableMigrationData` (either call).
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown partition; `InvalidDeviceState`
    /// before SaveImmutable, when the VF is not paused, or without VRAM;
    /// `NoMemory`.
    pub(crate) fn save_mutable(
        &mut self,
        engine: &Tracker,
        partition: u32,
        capacity: Option<usize>,
    ) -> Result<Saved> {
        self.vgpu(partition)?.migration.check_save_mutable()?;
        let state = self.mutable_of(engine, partition)?;
        self.save(
            capacity,
            |out| state.encode(out),
            |p| {
                if let Ok(v) = p.vgpu_mut(partition) {
                    v.migration.saved_mutable();
                }
            },
        )
    }

    /// `DxgkDdiRestoreImmutableMigrationData`: decodes, checks the data
    /// against this adapter and VF (module docs), and moves the VF to
    /// Restoring.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown partition; `InvalidDeviceState`
    /// unless the VF is a prepared, paused target with its VRAM and no
    /// restored data; `ObjectTypeMismatch` (with its triage event) for data
    /// that is malformed or from an incompatible adapter, driver or VF;
    /// `NoMemory`. Nothing changes on error.
    pub(crate) fn restore_immutable(
        &mut self,
        engine: &Tracker,
        partition: u32,
        blob: &[u8],
    ) -> core::result::Result<(), Rejection> {
        self.vgpu(partition)?.migration.check_restore_immutable()?;
        self.migratable(partition)?;
        let ddi = RESTORE_IMMUTABLE_SLOT;
        let source = ImmutableState::decode(blob).map_err(|e| malformed(ddi, partition, e))?;
        let target = self.immutable_of(engine, partition)?;
        if let Err(why) = source.check_compatible(&target) {
            return Err(incompatible(partition, why, &target, &source));
        }
        self.vgpu_mut(partition)?
            .migration
            .restored_immutable(SourceVf {
                vf_index: source.vf_index,
                luid: source.luid,
            });
        Ok(())
    }

    /// `DxgkDdiRestoreMutableMigrationData`: decodes, checks (module docs),
    /// then applies the MSI-X table and the configuration space, and moves
    /// the VF to Restored.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown partition; `InvalidDeviceState`
    /// unless the VF restored its immutable data, not its mutable data, and
    /// is paused; `ObjectTypeMismatch` (with its triage event) for data that
    /// is malformed or does not fit this VF; `NoMemory`. Nothing changes on error.
    pub(crate) fn restore_mutable(
        &mut self,
        engine: &Tracker,
        partition: u32,
        blob: &[u8],
    ) -> core::result::Result<(), Rejection> {
        let vgpu = self.vgpu(partition)?;
        vgpu.migration.check_restore_mutable()?;
        let reserve = self.migratable(partition)?;
        let ddi = RESTORE_MUTABLE_SLOT;
        let reject = |reason, detail, expected, found| {
            mismatch(ddi, partition, reason, detail, expected, found)
        };
        let saved = MutableState::decode(blob).map_err(|e| malformed(ddi, partition, e))?;
        let source = vgpu.migration.source().ok_or(Status::InvalidDeviceState)?;
        if saved.luid != source.luid || saved.vf_index != source.vf_index {
            return Err(reject(
                TRIAGE_OTHER_VF,
                saved.vf_index,
                source.luid,
                saved.luid,
            ));
        }
        if !saved.paused {
            return Err(reject(TRIAGE_NOT_PAUSED, 0, 1, 0));
        }
        let mut table = [None; MSIX_TABLE_SIZE];
        let table_size = u64::try_from(MSIX_TABLE_SIZE).unwrap_or(u64::MAX);
        for e in &saved.msix {
            match table.get_mut(usize::from(e.index)) {
                Some(slot @ None) => {
                    *slot = Some(MsixValue {
                        address: e.address,
                        data: e.data,
                        vector_control: e.vector_control,
                    });
                }
                _ => return Err(reject(TRIAGE_MSIX, u32::from(e.index), table_size, 0)),
            }
        }
        if let Err((offset, ours, theirs)) = vgpu.config.check_restore(&saved.config) {
            return Err(reject(
                TRIAGE_CONFIG,
                u32::try_from(offset).unwrap_or(u32::MAX),
                u64::from(ours),
                u64::from(theirs),
            ));
        }
        let ours = self.bases_of(engine, reserve)?;
        for (i, theirs) in saved.bases.iter().enumerate() {
            let covered = ours
                .iter()
                .any(|b| b.segment_id == theirs.segment_id && b.ranges == theirs.ranges);
            if !covered {
                return Err(reject(
                    TRIAGE_BASES,
                    u32::try_from(i).unwrap_or(u32::MAX),
                    0,
                    u64::try_from(theirs.ranges.len()).unwrap_or(u64::MAX),
                ));
            }
        }
        let vgpu = self.vgpu_mut(partition)?;
        vgpu.msix = table;
        vgpu.config.restore(&saved.config);
        vgpu.migration.restored_mutable();
        Ok(())
    }
}

/// The triage event of an incompatible immutable blob.
fn incompatible(
    partition: u32,
    why: Incompatibility,
    target: &ImmutableState,
    source: &ImmutableState,
) -> Rejection {
    let ddi = RESTORE_IMMUTABLE_SLOT;
    match why {
        Incompatibility::Adapter => {
            let ids = |i: &AdapterIdentity| {
                u64::from(i.vendor_id) << 48
                    | u64::from(i.device_id) << 32
                    | u64::from(i.subsystem_vendor_id) << 16
                    | u64::from(i.subsystem_id)
            };
            let revisions =
                u32::from(target.identity.revision) << 8 | u32::from(source.identity.revision);
            mismatch(
                ddi,
                partition,
                TRIAGE_ADAPTER,
                revisions,
                ids(&target.identity),
                ids(&source.identity),
            )
        }
        Incompatibility::Driver => {
            let version = |d: &DriverVersion| {
                u64::from(d.major) << 48 | u64::from(d.minor) << 32 | u64::from(d.interface_version)
            };
            mismatch(
                ddi,
                partition,
                TRIAGE_DRIVER,
                0,
                version(&target.driver),
                version(&source.driver),
            )
        }
        Incompatibility::Segments => {
            let page = |state: &ImmutableState, id: u32| {
                state
                    .segments
                    .iter()
                    .find(|s| s.id == id)
                    .map_or(0, |s| u64::from(s.page_size))
            };
            let bad = source
                .reserves
                .iter()
                .map(|r| r.segment_id)
                .find(|&id| page(source, id) != page(target, id) || page(target, id) == 0);
            let id = bad.unwrap_or(0);
            mismatch(
                ddi,
                partition,
                TRIAGE_SEGMENTS,
                id,
                page(target, id),
                page(source, id),
            )
        }
        Incompatibility::Resources => {
            let shape = |s: &ImmutableState| {
                u64::from(s.partition_count) << 32
                    | u64::try_from(s.reserves.len()).unwrap_or(u64::from(u32::MAX))
            };
            let total = |s: &ImmutableState| {
                s.reserves
                    .iter()
                    .fold(0u64, |sum, r| sum.saturating_add(r.size))
            };
            let (expected, found) = if shape(target) == shape(source) {
                (total(target), total(source))
            } else {
                (shape(target), shape(source))
            };
            mismatch(ddi, partition, TRIAGE_RESOURCES, 0, expected, found)
        }
    }
}
