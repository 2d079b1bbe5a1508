//! The nine GPU-P live-migration DDIs (slots 177-185 of
//! `DRIVER_INITIALIZATION_DATA`). Each validates `hAdapter`, reads its
//! argument block through an `ArgBlock`, resolves `vfIndex` once into its
//! `crate::vgpu::Vgpu` (`STATUS_INVALID_PARAMETER` for an unknown one), and
//! calls the per-VF operation of `crate::migration` (or of the `Vgpu`) under
//! that VF's lock (the adapter and partitioning locks held shared, so other
//! VFs, queries and marks go on; `docs/locking.md`). SetVirtualGpuResources2
//! binds VRAM, an adapter-wide change: it holds the partitioning lock
//! exclusively. The state machine and the statuses of
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
//! A Save encodes straight into the OS's buffer: nothing is allocated for
//! the blob on the blackout path.
//!
//! A Restore runs in three steps: under the VF's lock the state checks and
//! the size check against the cap (`crate::migration::caps`), before
//! anything is copied or allocated; with no lock held the copy and the
//! decode; under the VF's lock again the state checks, the checks against
//! this adapter and the changes. A Restore that rejects its data logs a
//! [`crate::savestate::triage`] event through `DxgkCbLogEtwEvent`, with no
//! driver lock held, and returns `STATUS_OBJECT_TYPE_MISMATCH`.
//! `Data == NULL` is `STATUS_INVALID_PARAMETER`; a `DataSize` of 0 or above
//! the cap is data that cannot be valid (`STATUS_OBJECT_TYPE_MISMATCH`,
//! never read).

use core::mem::size_of;

use dxgk_sys::*;

use crate::adapter::registry;
use crate::basis::Tracker;
use crate::ddi::arg::ArgBlock;
use crate::ddi::{OutBuffer, copy_in, read_in, write_out};
use crate::foundation::status::{Result, Status, to_ntstatus};
use crate::foundation::units::VfIndex;
use crate::kernel::KernelInterface;
use crate::kernel::sync::RwLock;
use crate::migration;
use crate::migration::restore::{Rejection, Which};
use crate::migration::save::Saved;
use crate::savestate::machine::Role;
use crate::vgpu::{MsixValue, ScatterEntry, Vgpu};

/// Most descriptors a SetVirtualGpuResources2 block may carry (one per
/// segment, 32 at most as for SetVirtualGpuResources); larger counts are
/// refused unread.
const MAX_SEGMENT_DESCRIPTORS: usize = 32;

/// Runs `f` on one VF of a started adapter and its dirty-tracking layer,
/// under that VF's lock (the adapter and partitioning locks held shared).
/// `args` reads the argument block and names the VF, once the adapter is
/// known to be started. `f` takes the basis lock (shared: `.read()`) only
/// where it reads the bases, and briefly.
fn with_vf<A, R>(
    hAdapter: HANDLE,
    args: impl FnOnce() -> Result<(VfIndex, A)>,
    f: impl FnOnce(&RwLock<Tracker>, &mut Vgpu, A) -> Result<R>,
) -> Result<R> {
    registry::with_adapter(hAdapter, |adapter| {
        let started = adapter.started()?;
        let partitions = started.partitions()?.read();
        let (vf, args) = args()?;
        let mut vgpu = partitions.vgpu_write(vf)?;
        f(&started.bases, &mut vgpu, args)
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
    let args = || {
        // SAFETY: NULL or a readable block (contract).
        let args = unsafe { ArgBlock::new(pArgs) }?.get();
        Ok((VfIndex(args.vfIndex), args))
    };
    to_ntstatus(with_vf(hAdapter, args, |_, vgpu, args| {
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
/// offsets of both argument blocks. The blob is encoded in place, in `Data`.
///
/// # Safety
/// `data_size` is NULL or readable and writable; `data` NULL or writable for
/// `*data_size` bytes.
unsafe fn save(
    data_size: *mut UINT64,
    data: *mut BYTE,
    run: impl for<'o> FnOnce(
        Option<usize>,
        &mut dyn FnMut(usize) -> Result<&'o mut [u8]>,
    ) -> Result<Saved>,
) -> Result<()> {
    // SAFETY: NULL or readable (contract).
    let have = unsafe { read_in(data_size.cast_const()) }?;
    let capacity = migration::save::capacity(have, data.is_null())?;
    let len = capacity.unwrap_or(0);
    let mut buffer = if data.is_null() {
        None
    } else {
        // SAFETY: `data` is writable for `*data_size` = `len` bytes until
        // this DDI returns (contract).
        Some(unsafe { OutBuffer::new(data.cast(), len) }?)
    };
    let mut out = |n: usize| match buffer.take() {
        Some(b) => into_prefix(b, n),
        None => Err(Status::InvalidParameter),
    };
    let (size, outcome) = match run(capacity, &mut out)? {
        Saved::Size(n) => (n, Ok(())),
        Saved::TooSmall(n) => (n, Err(Status::BufferTooSmall)),
        Saved::Written(n) => (n, Ok(())),
    };
    let size = UINT64::try_from(size).map_err(|_| Status::InvalidParameter)?;
    // SAFETY: non-NULL (the read above succeeded) and writable (contract).
    unsafe { write_out(data_size, size) }?;
    outcome
}

/// The first `n` bytes of the OS's buffer, zeroed, to encode into.
fn into_prefix<'o>(buffer: OutBuffer, n: usize) -> Result<&'o mut [u8]> {
    buffer.into_zeroed_prefix(n).ok_or(Status::BufferTooSmall)
}

/// One of the two Save DDIs' argument blocks: `vfIndex`, `DataSize` and
/// `Data`, and the encoder of its half of the blob.
trait SaveArgs: crate::ddi::arg::ArgRecord + Copy {
    /// `(vfIndex, DataSize, Data)`.
    fn parts(&self) -> (UINT, *mut UINT64, *mut BYTE);
    /// The half's save (`crate::migration::save`).
    fn encode<'o>(
        vgpu: &mut Vgpu,
        tracker: &Tracker,
        capacity: Option<usize>,
        out: &mut dyn FnMut(usize) -> Result<&'o mut [u8]>,
    ) -> Result<Saved>;
}

impl SaveArgs for DXGKARG_GPUP_SAVE_IMMUTABLE_MIGRATION_DATA {
    fn parts(&self) -> (UINT, *mut UINT64, *mut BYTE) {
        (self.vfIndex, self.DataSize, self.Data)
    }
    fn encode<'o>(
        vgpu: &mut Vgpu,
        tracker: &Tracker,
        capacity: Option<usize>,
        out: &mut dyn FnMut(usize) -> Result<&'o mut [u8]>,
    ) -> Result<Saved> {
        migration::save::save_immutable(vgpu, tracker, capacity, out)
    }
}

impl SaveArgs for DXGKARG_GPUP_SAVE_MUTABLE_MIGRATION_DATA {
    fn parts(&self) -> (UINT, *mut UINT64, *mut BYTE) {
        (self.vfIndex, self.DataSize, self.Data)
    }
    fn encode<'o>(
        vgpu: &mut Vgpu,
        tracker: &Tracker,
        capacity: Option<usize>,
        out: &mut dyn FnMut(usize) -> Result<&'o mut [u8]>,
    ) -> Result<Saved> {
        migration::save::save_mutable(vgpu, tracker, capacity, out)
    }
}

/// The body of both Save DDIs: the block read once, the VF resolved, the
/// blob encoded in place, in `Data` ([`save`]).
///
/// # Safety
/// As `DxgkDdiSaveImmutableMigrationData`.
unsafe fn save_ddi<A: SaveArgs>(hAdapter: HANDLE, pArgs: *mut A) -> NTSTATUS {
    let args = || {
        // SAFETY: NULL or a readable block (contract); the block itself is
        // only read (the outputs go through its `DataSize` and `Data`).
        let args = unsafe { ArgBlock::new(pArgs.cast_const()) }?.get();
        Ok((VfIndex(args.parts().0), args))
    };
    to_ntstatus(with_vf(hAdapter, args, |tracker, vgpu, args| {
        let (_, data_size, data) = args.parts();
        // SAFETY: the pointers come from the block, under its contract.
        unsafe {
            save(data_size, data, |capacity, out| {
                A::encode(vgpu, &tracker.read(), capacity, out)
            })
        }
    }))
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
    // SAFETY: this DDI's contract is `save_ddi`'s.
    unsafe { save_ddi(hAdapter, pArgs) }
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
    // SAFETY: this DDI's contract is `save_ddi`'s.
    unsafe { save_ddi(hAdapter, pArgs) }
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
    let args = || Ok((VfIndex(vfIndex), ()));
    to_ntstatus(with_vf(hAdapter, args, |_, vgpu, ()| {
        migration::end(vgpu)?;
        crate::trace!("EndLiveMigration({})", vfIndex);
        Ok(())
    }))
}

/// The common body of the two Restore DDIs (module docs for the steps).
///
/// # Safety
/// `pArgs` is NULL or readable; its `Data` NULL or readable for `DataSize`
/// bytes. `fields` reads the block's `vfIndex`, `DataSize` and `Data`.
unsafe fn restore<T: crate::ddi::arg::ArgRecord>(
    hAdapter: HANDLE,
    pArgs: *const T,
    which: Which,
    fields: impl Fn(&T) -> (UINT, UINT64, *const BYTE),
) -> Result<()> {
    let args = || {
        // SAFETY: NULL or a readable block (contract).
        let (vf, size, data) = fields(&unsafe { ArgBlock::new(pArgs) }?.get());
        Ok((VfIndex(vf), (size, data)))
    };
    // Step 1, under the VF's lock: state, then size; nothing copied yet.
    let admitted = with_vf(hAdapter, args, |tracker, vgpu, (size, data)| {
        if data.is_null() {
            return Err(Status::InvalidParameter);
        }
        Ok((
            migration::restore::admit(which, vgpu, &tracker.read(), size),
            vgpu.index(),
            data,
        ))
    })?;
    let (admitted, vf, data) = admitted;
    let outcome = admitted.and_then(|len| {
        // Step 2, no lock held: the copy and the decode.
        let mut blob = crate::foundation::fallible::try_vec(len).map_err(Status::from)?;
        blob.resize(len, 0);
        // SAFETY: `data` is non-NULL (checked) and readable for `DataSize`
        // = `len` bytes (contract); `blob` is ours, so they cannot overlap.
        unsafe { copy_in(data.cast(), &mut blob) }.map_err(Rejection::from)?;
        let decoded = migration::restore::decode(which, vf, &blob)?;
        drop(blob);
        // Step 3, under the VF's lock: checks against this VF, changes.
        let args = || Ok((VfIndex(vf), ()));
        with_vf(hAdapter, args, |tracker, vgpu, ()| {
            crate::kernel::test_hook(crate::kernel::HookPoint::RestoreLocked {
                adapter: hAdapter.addr(),
                vf,
            });
            Ok(migration::restore::apply(vgpu, &tracker.read(), &decoded))
        })?
    });
    // The triage event, with no driver lock held.
    outcome.map_err(|rejection| match kernel_of(hAdapter) {
        Ok(kernel) => rejection.report(&kernel),
        Err(_) => rejection.status,
    })
}

/// Dxgkrnl's callbacks of a started adapter, copied out so that they are
/// called with no driver lock held.
fn kernel_of(hAdapter: HANDLE) -> Result<KernelInterface> {
    registry::with_adapter(hAdapter, |adapter| Ok(adapter.started()?.kernel))
}

/// `DxgkDdiRestoreImmutableMigrationData`: `STATUS_INVALID_DEVICE_STATE`
/// unless the VF is a prepared, paused target that has not restored yet;
/// `STATUS_OBJECT_TYPE_MISMATCH`, with a triage event, for data that is
/// malformed, too large or comes from an incompatible adapter, driver or VF.
///
/// # Safety
/// `pArgs` is NULL or readable; its `Data` NULL or readable for `DataSize` bytes.
pub(crate) unsafe extern "system" fn DxgkDdiRestoreImmutableMigrationData(
    hAdapter: HANDLE,
    pArgs: *const DXGKARG_GPUP_RESTORE_IMMUTABLE_MIGRATION_DATA,
) -> NTSTATUS {
    // SAFETY: this function's contract.
    to_ntstatus(unsafe {
        restore(hAdapter, pArgs, Which::Immutable, |a| {
            (a.vfIndex, a.DataSize, a.Data.cast_const())
        })
    })
}

/// `DxgkDdiRestoreMutableMigrationData`: `STATUS_INVALID_DEVICE_STATE`
/// unless the VF restored its immutable data (not yet its mutable data) and
/// is paused; `STATUS_OBJECT_TYPE_MISMATCH`, with a triage event, for data
/// that is malformed, too large or does not fit this VF.
///
/// # Safety
/// As `DxgkDdiRestoreImmutableMigrationData`.
pub(crate) unsafe extern "system" fn DxgkDdiRestoreMutableMigrationData(
    hAdapter: HANDLE,
    pArgs: *const DXGKARG_GPUP_RESTORE_MUTABLE_MIGRATION_DATA,
) -> NTSTATUS {
    // SAFETY: this function's contract.
    to_ntstatus(unsafe {
        restore(hAdapter, pArgs, Which::Mutable, |a| {
            (a.vfIndex, a.DataSize, a.Data.cast_const())
        })
    })
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
    let args = || {
        // SAFETY: NULL or a readable block (contract).
        let args = unsafe { ArgBlock::new(pArgs) }?.get();
        Ok((VfIndex(args.vfIndex), args))
    };
    to_ntstatus(with_vf(hAdapter, args, |_, vgpu, args| {
        let entry = args.WriteValue;
        vgpu.write_interrupt(
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
    to_ntstatus(registry::with_adapter(hAdapter, |adapter| {
        let started = adapter.started()?;
        let partitions = started.partitions()?;
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
        // An adapter-wide change (VRAM accounting, the allocation table):
        // the partitioning lock exclusively, only around the binding.
        partitions.write().set_resources2(
            &started.bases.read(),
            vf,
            entries.get(..n).unwrap_or_default(),
        )
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
    let args = || {
        // SAFETY: NULL or a readable block (contract).
        let args = unsafe { ArgBlock::new(pArgs) }?.get();
        Ok((VfIndex(args.vfIndex), args))
    };
    to_ntstatus(with_vf(hAdapter, args, |_, vgpu, args| {
        vgpu.set_pause(args.bPause != 0);
        Ok(())
    }))
}

const _: () = assert!(size_of::<DXGK_GPU_PHYSICAL_RESERVE_DESCRIPTOR>() == 16);
