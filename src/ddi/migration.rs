//! The nine GPU-P live-migration DDIs (slots 177-185 of
//! `DRIVER_INITIALIZATION_DATA`). Each validates `hAdapter`, reads its
//! argument block through an `ArgBlock`, resolves `vfIndex` once into its
//! `crate::vgpu::Vgpu` (`STATUS_INVALID_PARAMETER` for an unknown one), and
//! calls the per-VF operation of `crate::migration` (or of the `Vgpu`) under
//! the adapter's write lock. The state machine and the statuses of
//! out-of-order calls are in `crate::savestate::machine`; what is saved and
//! checked in `crate::migration::snapshot` and `crate::migration::restore`.
//!
//! The Save DDIs follow the two-call protocol (`dirty-bit-tracking.md`
//! section 6): a sizing call (`*DataSize == 0`, `Data == NULL`) sets
//! `*DataSize` to the exact bytes needed and changes nothing; a filling call
//! with a buffer of at least that many bytes writes them, sets `*DataSize` to
//! the bytes written and moves the state machine on; one with a smaller
//! buffer returns `STATUS_BUFFER_TOO_SMALL` with `*DataSize` = bytes needed,
//! leaving the buffer and the state untouched. `Data == NULL` with a
//! non-zero `*DataSize`, or a NULL `DataSize`, is `STATUS_INVALID_PARAMETER`.
//! The state checks come first: an out-of-order sizing call is refused too.
//!
//! A Restore that rejects its data logs a
//! [`crate::savestate::triage`] event through `DxgkCbLogEtwEvent` and returns
//! `STATUS_OBJECT_TYPE_MISMATCH`. `Data == NULL` is `STATUS_INVALID_PARAMETER`;
//! a `DataSize` of 0 or above the format's largest blob is data that cannot
//! be valid (`STATUS_OBJECT_TYPE_MISMATCH`, never read).

use core::mem::size_of;

use dxgk_sys::*;

use crate::adapter::{Started, registry};
use crate::basis::Tracker;
use crate::ddi::arg::ArgBlock;
use crate::ddi::{copy_in, copy_out, read_in, write_out};
use crate::foundation::status::{Result, Status, to_ntstatus};
use crate::foundation::units::VfIndex;
use crate::kernel::KernelInterface;
use crate::migration;
use crate::migration::restore::{Rejection, blob_len};
use crate::migration::save::Saved;
use crate::savestate::machine::Role;
use crate::vgpu::{MsixValue, Partitioning, ScatterEntry};

/// Most descriptors a SetVirtualGpuResources2 block may carry (one per
/// segment, 32 at most as for SetVirtualGpuResources); larger counts are
/// refused unread.
const MAX_SEGMENT_DESCRIPTORS: usize = 32;

/// Runs `f` on the dirty-tracking layer and the partitioning of a started adapter, under
/// its write lock.
fn with_vgpus<R>(
    hAdapter: HANDLE,
    f: impl FnOnce(&Tracker, &mut Partitioning, &KernelInterface) -> Result<R>,
) -> Result<R> {
    registry::with_adapter_mut(hAdapter, |adapter| {
        let Started {
            kernel,
            bases,
            partitions,
        } = adapter.started_mut()?;
        let partitions = partitions.as_mut().ok_or(Status::NotSupported)?;
        f(bases, partitions, kernel)
    })
}

/// `DxgkDdiPrepareLiveMigration`: `STATUS_INVALID_PARAMETER` for an unknown
/// VF or `MigrationType`; `STATUS_INVALID_DEVICE_STATE` while a migration is
/// in progress or for a VF without VRAM.
///
/// # Safety
/// `pArgs` is NULL or readable.
pub(crate) unsafe extern "system" fn DxgkDdiPrepareLiveMigration(
    hAdapter: HANDLE,
    pArgs: *const DXGKARG_GPUP_PREPARE_LIVE_MIGRATION,
) -> NTSTATUS {
    to_ntstatus(with_vgpus(hAdapter, |_, p, _| {
        // SAFETY: NULL or a readable block (contract).
        let args = unsafe { ArgBlock::new(pArgs) }?.get();
        let vgpu = p.vgpu_mut(VfIndex(args.vfIndex))?;
        let role = match args.MigrationType {
            DXGK_GPUP_MIGRATIONTYPE_SOURCE => Role::Source,
            DXGK_GPUP_MIGRATIONTYPE_TARGET => Role::Target,
            _ => return Err(Status::InvalidParameter),
        };
        migration::prepare(vgpu, role)?;
        crate::trace!("PrepareLiveMigration({}, {:?})", args.vfIndex, role);
        Ok(())
    }))
}

/// The common body of the two Save DDIs: `DataSize` and `Data` at the same
/// offsets of both argument blocks.
///
/// # Safety
/// `data_size` is NULL or readable and writable; `data` NULL or writable for
/// `*data_size` bytes.
unsafe fn save(
    data_size: *mut UINT64,
    data: *mut BYTE,
    run: impl FnOnce(Option<usize>) -> Result<Saved>,
) -> Result<()> {
    // SAFETY: NULL or readable (contract).
    let have = unsafe { read_in(data_size.cast_const()) }?;
    let (size, outcome) = match run(migration::save::capacity(have, data.is_null())?)? {
        Saved::Size(n) => (n, Ok(())),
        Saved::TooSmall(n) => (n, Err(Status::BufferTooSmall)),
        Saved::Blob(blob) => {
            // SAFETY: `data` is non-NULL (`capacity` makes a NULL `data` the
            // sizing call, which has no blob) and writable for `*data_size
            // >= blob.len()` bytes (contract); `blob` is the driver's own.
            unsafe { copy_out(&blob, data.cast()) }?;
            (blob.len(), Ok(()))
        }
    };
    let size = UINT64::try_from(size).map_err(|_| Status::InvalidParameter)?;
    // SAFETY: non-NULL (the read above succeeded) and writable (contract).
    unsafe { write_out(data_size, size) }?;
    outcome
}

/// `DxgkDdiSaveImmutableMigrationData` (module docs for the two calls):
/// `STATUS_INVALID_DEVICE_STATE` unless the VF is a prepared source.
///
/// # Safety
/// `pArgs` is NULL or readable; its `DataSize` NULL or readable and
/// writable; its `Data` NULL or writable for `*DataSize` bytes.
pub(crate) unsafe extern "system" fn DxgkDdiSaveImmutableMigrationData(
    hAdapter: HANDLE,
    pArgs: *mut DXGKARG_GPUP_SAVE_IMMUTABLE_MIGRATION_DATA,
) -> NTSTATUS {
    to_ntstatus(with_vgpus(hAdapter, |tracker, p, _| {
        // SAFETY: NULL or a readable block (contract); the block itself is
        // only read (the outputs go through its `DataSize` and `Data`).
        let args = unsafe { ArgBlock::new(pArgs.cast_const()) }?.get();
        let vgpu = p.vgpu_mut(VfIndex(args.vfIndex))?;
        // SAFETY: the pointers come from the block, under its contract.
        unsafe {
            save(args.DataSize, args.Data, |capacity| {
                migration::save::save_immutable(vgpu, tracker, capacity)
            })
        }
    }))
}

/// `DxgkDdiSaveMutableMigrationData` (module docs for the two calls):
/// `STATUS_INVALID_DEVICE_STATE` before SaveImmutable or when the VF is not
/// paused.
///
/// # Safety
/// As `DxgkDdiSaveImmutableMigrationData`.
pub(crate) unsafe extern "system" fn DxgkDdiSaveMutableMigrationData(
    hAdapter: HANDLE,
    pArgs: *mut DXGKARG_GPUP_SAVE_MUTABLE_MIGRATION_DATA,
) -> NTSTATUS {
    to_ntstatus(with_vgpus(hAdapter, |tracker, p, _| {
        // SAFETY: NULL or a readable block (contract); the block itself is
        // only read (the outputs go through its `DataSize` and `Data`).
        let args = unsafe { ArgBlock::new(pArgs.cast_const()) }?.get();
        let vgpu = p.vgpu_mut(VfIndex(args.vfIndex))?;
        // SAFETY: the pointers come from the block, under its contract.
        unsafe {
            save(args.DataSize, args.Data, |capacity| {
                migration::save::save_mutable(vgpu, tracker, capacity)
            })
        }
    }))
}

/// `DxgkDdiEndLiveMigration`: `STATUS_INVALID_DEVICE_STATE` when no
/// migration is in progress. The pause stays as it is.
///
/// # Safety
/// Always safe to call.
pub(crate) unsafe extern "system" fn DxgkDdiEndLiveMigration(
    hAdapter: HANDLE,
    vfIndex: UINT,
) -> NTSTATUS {
    to_ntstatus(with_vgpus(hAdapter, |_, p, _| {
        migration::end(p.vgpu_mut(VfIndex(vfIndex))?)?;
        crate::trace!("EndLiveMigration({})", vfIndex);
        Ok(())
    }))
}

/// The common body of the two Restore DDIs: copies the blob out of the OS
/// buffer, runs `restore`, and logs the triage event of a rejection.
///
/// # Safety
/// `data` is NULL or readable for `size` bytes.
unsafe fn restore(
    kernel: &KernelInterface,
    size: UINT64,
    data: *const BYTE,
    restore: impl FnOnce(&[u8]) -> core::result::Result<(), Rejection>,
) -> Result<()> {
    if data.is_null() {
        return Err(Status::InvalidParameter);
    }
    let outcome = match blob_len(size) {
        Some(n) => {
            let mut blob = crate::foundation::fallible::try_vec(n)?;
            blob.resize(n, 0);
            // SAFETY: `data` is non-NULL (checked) and readable for `size`
            // = `n` bytes (contract); `blob` is ours, so they cannot overlap.
            unsafe { copy_in(data.cast(), &mut blob) }?;
            restore(&blob)
        }
        // An empty or oversized blob cannot be valid: it is rejected (after
        // the state checks) as a truncated one, without reading it.
        None => restore(&[]).and(Err(Status::ObjectTypeMismatch.into())),
    };
    outcome.map_err(|rejection| rejection.report(kernel))
}

/// `DxgkDdiRestoreImmutableMigrationData`: `STATUS_INVALID_DEVICE_STATE`
/// unless the VF is a prepared, paused target that has not restored yet;
/// `STATUS_OBJECT_TYPE_MISMATCH`, with a triage event, for data that is
/// malformed or comes from an incompatible adapter, driver or VF.
///
/// # Safety
/// `pArgs` is NULL or readable; its `Data` NULL or readable for `DataSize` bytes.
pub(crate) unsafe extern "system" fn DxgkDdiRestoreImmutableMigrationData(
    hAdapter: HANDLE,
    pArgs: *const DXGKARG_GPUP_RESTORE_IMMUTABLE_MIGRATION_DATA,
) -> NTSTATUS {
    to_ntstatus(with_vgpus(hAdapter, |tracker, p, kernel| {
        // SAFETY: NULL or a readable block (contract).
        let args = unsafe { ArgBlock::new(pArgs) }?.get();
        let vgpu = p.vgpu_mut(VfIndex(args.vfIndex))?;
        // SAFETY: `Data` is NULL or readable for `DataSize` bytes (contract).
        unsafe {
            restore(kernel, args.DataSize, args.Data, |blob| {
                migration::restore::restore_immutable(vgpu, tracker, blob)
            })
        }
    }))
}

/// `DxgkDdiRestoreMutableMigrationData`: `STATUS_INVALID_DEVICE_STATE`
/// unless the VF restored its immutable data (not yet its mutable data) and
/// is paused; `STATUS_OBJECT_TYPE_MISMATCH`, with a triage event, for data
/// that is malformed or does not fit this VF.
///
/// # Safety
/// As `DxgkDdiRestoreImmutableMigrationData`.
pub(crate) unsafe extern "system" fn DxgkDdiRestoreMutableMigrationData(
    hAdapter: HANDLE,
    pArgs: *const DXGKARG_GPUP_RESTORE_MUTABLE_MIGRATION_DATA,
) -> NTSTATUS {
    to_ntstatus(with_vgpus(hAdapter, |tracker, p, kernel| {
        // SAFETY: NULL or a readable block (contract).
        let args = unsafe { ArgBlock::new(pArgs) }?.get();
        let vgpu = p.vgpu_mut(VfIndex(args.vfIndex))?;
        // SAFETY: `Data` is NULL or readable for `DataSize` bytes (contract).
        unsafe {
            restore(kernel, args.DataSize, args.Data, |blob| {
                migration::restore::restore_mutable(vgpu, tracker, blob)
            })
        }
    }))
}

/// `DxgkDdiWriteVirtualizedInterrupt`: one entry of the VF's MSI-X table;
/// `STATUS_INVALID_PARAMETER` for an unknown VF or an `InterruptTableIndex`
/// outside the table (negative, or at least 4).
///
/// # Safety
/// `pArgs` is NULL or readable.
pub(crate) unsafe extern "system" fn DxgkDdiWriteVirtualizedInterrupt(
    hAdapter: HANDLE,
    pArgs: *const DXGKARG_GPUP_WRITE_VIRTUALIZED_MSIX,
) -> NTSTATUS {
    to_ntstatus(with_vgpus(hAdapter, |_, p, _| {
        // SAFETY: NULL or a readable block (contract).
        let args = unsafe { ArgBlock::new(pArgs) }?.get();
        let entry = args.WriteValue;
        p.vgpu_mut(VfIndex(args.vfIndex))?.write_interrupt(
            args.InterruptTableIndex,
            MsixValue {
                address: entry.MessageAddress,
                data: entry.MessageData,
                vector_control: entry.VectorControl,
            },
        )
    }))
}

/// `DxgkDdiSetVirtualGpuResources2`: binds a memory basis's ranges as the
/// VF's VRAM (see `Partitioning::set_resources2` for every rule):
/// `STATUS_INVALID_HANDLE` for an unknown, stale, forged or NULL basis,
/// `STATUS_INVALID_PARAMETER` for any other bad argument,
/// `STATUS_INVALID_DEVICE_STATE` for a second binding. `SegmentCount` of 0
/// or above 32 is refused before any descriptor is read.
///
/// # Safety
/// `pArgs` is NULL or a readable block of `SegmentCount` descriptors.
pub(crate) unsafe extern "system" fn DxgkDdiSetVirtualGpuResources2(
    hAdapter: HANDLE,
    pArgs: *const DXGKARG_SETVIRTUALGPURESOURCES2,
) -> NTSTATUS {
    to_ntstatus(with_vgpus(hAdapter, |tracker, p, _| {
        // SAFETY: NULL or a readable block of `SegmentCount` descriptors
        // (contract).
        let block = unsafe { ArgBlock::new(pArgs) }?;
        let header = block.get();
        let n = usize::try_from(header.SegmentCount).map_err(|_| Status::InvalidParameter)?;
        if n == 0 {
            return Err(Status::InvalidParameter);
        }
        let raw = block.entries::<DXGK_GPU_PHYSICAL_RESERVE_DESCRIPTOR>(MAX_SEGMENT_DESCRIPTORS)?;
        let mut entries = [ScatterEntry {
            allocation: core::ptr::null_mut(),
            basis: core::ptr::null_mut(),
        }; MAX_SEGMENT_DESCRIPTORS];
        for (entry, raw) in entries.iter_mut().zip(raw.iter()) {
            *entry = ScatterEntry {
                allocation: raw.DriverAllocationHandle,
                basis: raw.MemoryBasis,
            };
        }
        let vf = VfIndex(header.vfIndex);
        p.set_resources2(tracker, vf, entries.get(..n).unwrap_or_default())
    }))
}

/// `DxgkDdiSetVirtualFunctionPauseState`: `bPause` non-zero pauses the VF
/// (it is no longer scheduled), zero removes the pause; idempotent.
/// `STATUS_INVALID_PARAMETER` for an unknown VF.
///
/// # Safety
/// `pArgs` is NULL or readable.
pub(crate) unsafe extern "system" fn DxgkDdiSetVirtualFunctionPauseState(
    hAdapter: HANDLE,
    pArgs: *const DXGKARG_SETVIRTUALFUNCTIONPAUSESTATE,
) -> NTSTATUS {
    to_ntstatus(with_vgpus(hAdapter, |_, p, _| {
        // SAFETY: NULL or a readable block (contract).
        let args = unsafe { ArgBlock::new(pArgs) }?.get();
        p.vgpu_mut(VfIndex(args.vfIndex))?
            .set_pause(args.bPause != 0);
        Ok(())
    }))
}

const _: () = assert!(size_of::<DXGK_GPU_PHYSICAL_RESERVE_DESCRIPTOR>() == 16);
