//! The target side: `DxgkDdiRestore{Immutable,Mutable}MigrationData` on
//! one vGPU.
//!
//! Restore of the immutable data checks it against what this adapter would
//! save for the target VF: identity, driver major.minor and interface
//! version, the page size of the segments the reserves use, partition count
//! and reserve sizes (`ImmutableState::check_compatible`). Restore of the
//! mutable data checks the LUID and partition id against the immutable
//! data, that the source was paused, that the MSI-X indices fit this VF's
//! table, that the configuration space agrees in every read-only bit, and
//! that for every source basis the target VF has one covering the same VF
//! runs (tracking state is Dxgkrnl's per-adapter policy, so it is carried but
//! not required to match); then it applies the writable configuration bits.
//! The MSI-X table is not restored: its entries are interrupt routing the
//! target's OS programs for this host through `DxgkDdiWriteVirtualizedInterrupt`
//! (before or after this call; either way it is kept), so the blob carries
//! only which indices the source had written, checked against this VF's
//! table (`docs/escape-and-state.md` gives the decision and its sources). The pause itself stays as it is: the target is paused
//! (Restore requires it) until the OS unpauses it.
//!
//! Every check runs before anything is applied: a rejected Restore changes
//! nothing and returns `STATUS_OBJECT_TYPE_MISMATCH` with a [`Rejection`]
//! carrying the triage event to log.

use super::snapshot::{bases_of, immutable_of};
use crate::basis::Tracker;
use crate::foundation::status::Status;
use crate::kernel::KernelInterface;
use crate::savestate::codec::DecodeError;
use crate::savestate::machine::SourceVf;
use crate::savestate::state::{
    AdapterIdentity, DriverVersion, ImmutableState, Incompatibility, MutableState,
};
use crate::savestate::triage::*;
use crate::vgpu::{MSIX_TABLE_SIZE, Vgpu};

/// A Restore that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rejection {
    /// What the DDI returns.
    pub(crate) status: Status,
    /// The event to log, for a rejected blob (`STATUS_OBJECT_TYPE_MISMATCH`).
    pub(crate) triage: Option<GPUP_MIGRATION_TRIAGE>,
}

impl Rejection {
    /// Logs the triage event of a rejected blob through
    /// `DxgkCbLogEtwEvent`, and gives the status the DDI returns.
    pub(crate) fn report(self, kernel: &KernelInterface) -> Status {
        if let Some(event) = self.triage {
            let logged = kernel.log_etw_event(
                &crate::interfaces::MIGRATION_TRIAGE_EVENT.guid,
                TRIAGE_EVENT_TYPE,
                &event.encode(),
            );
            crate::trace!(
                "Restore rejected: reason {} detail {} (event logged: {})",
                event.Reason,
                event.Detail,
                logged
            );
        }
        self.status
    }
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

/// Which Restore DDI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    /// `DxgkDdiRestoreImmutableMigrationData`.
    Immutable,
    /// `DxgkDdiRestoreMutableMigrationData`.
    Mutable,
}

impl Which {
    fn slot(self) -> u32 {
        match self {
            Self::Immutable => RESTORE_IMMUTABLE_SLOT,
            Self::Mutable => RESTORE_MUTABLE_SLOT,
        }
    }
}

/// A decoded blob, ready for [`apply`].
pub(crate) enum Decoded {
    /// The immutable data.
    Immutable(ImmutableState),
    /// The mutable data.
    Mutable(MutableState),
}

/// The first step of a Restore, before anything is copied: the phase, then
/// the size. Returns the blob's length.
///
/// # Errors
/// `InvalidDeviceState` in the wrong phase (module docs); for a `data_size`
/// of 0 or above the cap ([`super::caps`]) `ObjectTypeMismatch` with the
/// malformed-data triage event (`Detail` = truncated or trailing bytes,
/// `Expected` = the cap, `Found` = `data_size`).
pub(crate) fn admit(
    which: Which,
    vgpu: &Vgpu,
    tracker: &Tracker,
    data_size: u64,
) -> core::result::Result<usize, Rejection> {
    check_phase(which, vgpu)?;
    let cap = match which {
        Which::Immutable => super::caps::immutable_cap(),
        Which::Mutable => super::caps::mutable_cap(tracker, vgpu)?,
    };
    let vf = vgpu.index();
    let too = |e: DecodeError| {
        let cap = u64::try_from(cap).unwrap_or(u64::MAX);
        mismatch(which.slot(), vf, TRIAGE_MALFORMED, e.code(), cap, data_size)
    };
    match usize::try_from(data_size) {
        Ok(0) => Err(too(DecodeError::Truncated)),
        Ok(n) if n <= cap => Ok(n),
        _ => Err(too(DecodeError::TrailingBytes)),
    }
}

/// The state checks of each Restore: run by [`admit`], before the copy, and
/// again by [`apply`], whose lock may have been released in between.
fn check_phase(which: Which, vgpu: &Vgpu) -> Result<(), Status> {
    match which {
        Which::Immutable => {
            vgpu.migration().check_restore_immutable()?;
            vgpu.migratable()?;
        }
        Which::Mutable => {
            vgpu.migration().check_restore_mutable()?;
            vgpu.migratable()?;
        }
    }
    Ok(())
}

/// Decodes a copied blob; needs no adapter state, so it runs with no lock
/// held.
///
/// # Errors
/// `ObjectTypeMismatch` (with its triage event) for malformed data; `NoMemory`.
pub(crate) fn decode(
    which: Which,
    vf: u32,
    blob: &[u8],
) -> core::result::Result<Decoded, Rejection> {
    let ddi = which.slot();
    match which {
        Which::Immutable => ImmutableState::decode(blob).map(Decoded::Immutable),
        Which::Mutable => MutableState::decode(blob).map(Decoded::Mutable),
    }
    .map_err(|e| malformed(ddi, vf, e))
}

/// The last step of a Restore, under the VF's lock: the state checks again,
/// the checks against this adapter and VF (module docs), then the changes.
///
/// # Errors
/// As [`admit`] for the state; `ObjectTypeMismatch` (with its triage event)
/// for data from an incompatible adapter, driver or VF, or that does not
/// fit this VF; `NoMemory`. Nothing changes on error.
pub(crate) fn apply(
    vgpu: &mut Vgpu,
    tracker: &Tracker,
    decoded: &Decoded,
) -> core::result::Result<(), Rejection> {
    match decoded {
        Decoded::Immutable(source) => {
            check_phase(Which::Immutable, vgpu)?;
            apply_immutable(vgpu, tracker, source)
        }
        Decoded::Mutable(saved) => {
            check_phase(Which::Mutable, vgpu)?;
            apply_mutable(vgpu, tracker, saved)
        }
    }
}

/// `DxgkDdiRestoreImmutableMigrationData` after the checks of state and
/// size: checks the data against this adapter and VF, and moves the VF to
/// Restoring.
fn apply_immutable(
    vgpu: &mut Vgpu,
    tracker: &Tracker,
    source: &ImmutableState,
) -> core::result::Result<(), Rejection> {
    let partition = vgpu.index();
    let target = immutable_of(tracker, vgpu)?;
    if let Err(why) = source.check_compatible(&target) {
        return Err(incompatible(partition, why, &target, source));
    }
    vgpu.migration_mut().restored_immutable(SourceVf {
        vf_index: source.vf_index,
        luid: source.luid,
    });
    Ok(())
}

/// `DxgkDdiRestoreMutableMigrationData` after the checks of state and size:
/// checks (module docs), then applies the configuration space (not the
/// MSI-X table: module docs), and moves the VF to Restored.
fn apply_mutable(
    vgpu: &mut Vgpu,
    tracker: &Tracker,
    saved: &MutableState,
) -> core::result::Result<(), Rejection> {
    let reserve = vgpu.migratable()?;
    let partition = vgpu.index();
    let ddi = RESTORE_MUTABLE_SLOT;
    let reject =
        |reason, detail, expected, found| mismatch(ddi, partition, reason, detail, expected, found);
    let source = vgpu
        .migration()
        .source()
        .ok_or(Status::InvalidDeviceState)?;
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
    let mut seen = [false; MSIX_TABLE_SIZE];
    let table_size = u64::try_from(MSIX_TABLE_SIZE).unwrap_or(u64::MAX);
    for e in &saved.msix {
        match seen.get_mut(usize::from(e.index)) {
            Some(slot @ false) => *slot = true,
            _ => return Err(reject(TRIAGE_MSIX, u32::from(e.index), table_size, 0)),
        }
    }
    if let Err((offset, ours, theirs)) = vgpu.config_space().check_restore(&saved.config) {
        return Err(reject(
            TRIAGE_CONFIG,
            u32::try_from(offset).unwrap_or(u32::MAX),
            u64::from(ours),
            u64::from(theirs),
        ));
    }
    let ours = bases_of(tracker, vgpu, reserve)?;
    for (i, theirs) in saved.bases.iter().enumerate() {
        let covered = ours
            .iter()
            .any(|b| b.segment == theirs.segment && b.ranges == theirs.ranges);
        if !covered {
            return Err(reject(
                TRIAGE_BASES,
                u32::try_from(i).unwrap_or(u32::MAX),
                0,
                u64::try_from(theirs.ranges.len()).unwrap_or(u64::MAX),
            ));
        }
    }
    vgpu.apply_restored(&saved.config);
    vgpu.migration_mut().restored_mutable();
    Ok(())
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
            let page = |state: &ImmutableState, ordinal: u32| {
                state
                    .segments
                    .iter()
                    .find(|s| s.ordinal == ordinal)
                    .map_or(0, |s| u64::from(s.page_size))
            };
            let bad = source
                .reserves
                .iter()
                .map(|r| r.segment)
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
