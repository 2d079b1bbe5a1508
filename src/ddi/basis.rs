//! The dirty-bit tracking DDIs (slots 172-176) and the software backend's
//! entry point.

use alloc::vec::Vec;
use core::mem::size_of;

use dxgk_sys::*;

use crate::adapter::registry;
use crate::basis::BasisHandle;
use crate::basis::{MAX_RANGES, QueryRequest, Range};
use crate::ddi::OutBuffer;
use crate::ddi::arg::{ArgBlock, In};
use crate::foundation::fallible::{push, try_vec};
use crate::foundation::status::{Result, Status, to_ntstatus};
use crate::foundation::units;

/// Reads the segment and the ranges of a `DXGKARG_CREATEMEMORYBASIS` block.
///
/// # Errors
/// `InvalidParameter` for `RangeCount` 0 or above [`MAX_RANGES`] (checked
/// before any range is read), or a range of size 0 or whose end overflows;
/// `NoMemory` if the copy cannot be allocated.
fn read_create_args(
    block: &ArgBlock<'_, DXGKARG_CREATEMEMORYBASIS, In>,
) -> Result<(units::SegmentId, Vec<Range>)> {
    let max = usize::try_from(MAX_RANGES).map_err(|_| Status::InvalidParameter)?;
    let entries = block.entries::<DXGK_MEMORYRANGE>(max)?;
    if entries.len() == 0 {
        return Err(Status::InvalidParameter);
    }
    let mut ranges = try_vec(entries.len())?;
    for range in entries.iter() {
        push(
            &mut ranges,
            Range::new(range.SegmentOffset, range.SizeInBytes)?,
        )?;
    }
    Ok((units::SegmentId(block.get().SegmentId), ranges))
}

/// `DxgkDdiCreateMemoryBasis`: returns the new basis's handle, or NULL on any
/// failure (bad adapter or arguments, table full, no memory), in which case
/// nothing was allocated or changed.
///
/// # Safety
/// `pArgs` is NULL or a complete argument block (Dxgkrnl's contract).
pub(crate) unsafe extern "system" fn DxgkDdiCreateMemoryBasis(
    hAdapter: HANDLE,
    pArgs: *const DXGKARG_CREATEMEMORYBASIS,
) -> HANDLE {
    // The adapter lock shared, the basis lock exclusively, only around the
    // table change: the ranges are read and copied before.
    let created = registry::with_adapter(hAdapter, |adapter| {
        let started = adapter.started()?;
        // SAFETY: NULL or a complete block of `RangeCount` ranges (this
        // function's contract, Dxgkrnl's).
        let block = unsafe { ArgBlock::new(pArgs) }?;
        let (segment, ranges) = read_create_args(&block)?;
        started.bases.write().create(segment, ranges)
    });
    match created {
        Ok(handle) => handle.to_raw(),
        Err(status) => {
            crate::trace!("CreateMemoryBasis failed: {:?}", status);
            core::ptr::null_mut()
        }
    }
}

/// Runs a control operation on the basis named by `hMemoryBasis`, under the
/// basis lock held exclusively (the adapter lock shared: other DDIs of the
/// adapter, the VFs' migration work among them, run on). A basis handle is decoded before anything else, and
/// an adapter that is not started has no bases: both are `STATUS_INVALID_HANDLE`.
fn with_basis(
    hAdapter: HANDLE,
    hMemoryBasis: HANDLE,
    op: impl FnOnce(&mut crate::basis::Tracker, BasisHandle) -> Result<()>,
) -> NTSTATUS {
    to_ntstatus(registry::with_adapter(hAdapter, |adapter| {
        let handle = BasisHandle::from_raw(hMemoryBasis)?;
        let started = adapter.started().map_err(|_| Status::InvalidHandle)?;
        op(&mut started.bases.write(), handle)
    }))
}

/// `DxgkDdiDestroyMemoryBasis`: stops tracking first if the basis is tracked.
///
/// Returns `STATUS_INVALID_HANDLE` for an unknown, stale or NULL handle and
/// `STATUS_INVALID_PARAMETER` for an unknown adapter.
///
/// # Safety
/// Always safe to call: both handles are looked up, never dereferenced.
pub(crate) unsafe extern "system" fn DxgkDdiDestroyMemoryBasis(
    hAdapter: HANDLE,
    hMemoryBasis: HANDLE,
) -> NTSTATUS {
    let status = with_basis(hAdapter, hMemoryBasis, |engine, handle| {
        engine.destroy(handle)
    });
    // The deliberately broken variant that `cargo xtask wine-smoke` builds
    // (with `--cfg gpup_wine_smoke_broken`, in its own target directory) to
    // show that the Wine smoke test fails it. `cargo xtask package` never
    // sets the cfg, and refuses an image that holds this marker text.
    #[cfg(gpup_wine_smoke_broken)]
    if status == STATUS_INVALID_HANDLE {
        crate::trace!("gpup_wine_smoke_broken: Destroy answers success for a rejected handle");
        return STATUS_SUCCESS;
    }
    status
}

/// `DxgkDdiStartDirtyTracking`: the basis's bitplane starts all clear.
///
/// Returns `STATUS_INVALID_HANDLE`, `STATUS_INVALID_DEVICE_STATE` if already
/// tracked, `STATUS_INVALID_PARAMETER` if a range is not a whole number of the
/// segment's pages, and `STATUS_NO_MEMORY`; on error nothing changed.
///
/// # Safety
/// Always safe to call: both handles are looked up, never dereferenced.
pub(crate) unsafe extern "system" fn DxgkDdiStartDirtyTracking(
    hAdapter: HANDLE,
    hMemoryBasis: HANDLE,
) -> NTSTATUS {
    with_basis(hAdapter, hMemoryBasis, |engine, handle| {
        engine.start(handle)
    })
}

/// `DxgkDdiStopDirtyTracking`.
///
/// Returns `STATUS_INVALID_HANDLE` and `STATUS_INVALID_DEVICE_STATE` if the
/// basis is not tracked; on error nothing changed.
///
/// # Safety
/// Always safe to call: both handles are looked up, never dereferenced.
pub(crate) unsafe extern "system" fn DxgkDdiStopDirtyTracking(
    hAdapter: HANDLE,
    hMemoryBasis: HANDLE,
) -> NTSTATUS {
    // The stack check's deliberately broken variant (`--cfg gpup_stack_broken`,
    // built by `cargo xtask package` in its own target directory).
    #[cfg(gpup_stack_broken)]
    core::hint::black_box(super::stack_broken::faults(hMemoryBasis.addr()));
    with_basis(hAdapter, hMemoryBasis, |engine, handle| engine.stop(handle))
}

/// `DxgkDdiQueryDirtyBitData`: writes the basis's (or one range's span's) dirty
/// bits into `Buffer`, LSB first, and with `CLEARDATA` clears exactly those
/// bits atomically with the read. Every check happens before any bit is read
/// or cleared, and nothing past `ceil(pages / 8)` bytes is written.
///
/// Returns `STATUS_INVALID_HANDLE`; `STATUS_INVALID_PARAMETER` for NULL
/// arguments, unknown flags or a bad subrange; `STATUS_INVALID_DEVICE_STATE`
/// if the basis is not tracked; `STATUS_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `pArgs` is NULL or readable, and its `Buffer` is NULL or writable for
/// `BufferSize` bytes (Dxgkrnl's contract).
pub(crate) unsafe extern "system" fn DxgkDdiQueryDirtyBitData(
    hAdapter: HANDLE,
    pArgs: *mut DXGKARG_QUERYDIRTYBITDATA,
) -> NTSTATUS {
    to_ntstatus(registry::with_adapter(hAdapter, |adapter| {
        // SAFETY: NULL or a readable block (this function's contract); it is
        // an input, so it is taken read-only.
        let args = unsafe { ArgBlock::new(pArgs.cast_const()) }?.get();
        let handle = BasisHandle::from_raw(args.MemoryBasis)?;
        let clear_flag = UINT::try_from(DXGKARG_QUERYDIRTYBITDATAFLAGS_CLEARDATA.0)
            .map_err(|_| Status::InvalidParameter)?;
        if args.Flags & !clear_flag != 0 {
            return Err(Status::InvalidParameter);
        }
        let started = adapter.started().map_err(|_| Status::InvalidHandle)?;
        let request = QueryRequest {
            subrange: (args.SubrangeSize != 0).then_some((
                args.SubrangeIndex,
                args.SubrangeOffset,
                args.SubrangeSize,
            )),
            clear: args.Flags & clear_flag != 0,
        };
        // The basis lock shared only for the lookup: the harvest holds its
        // own reference of the planes and runs with the basis lock released.
        let harvest = started.bases.read().query(handle, request)?;
        let needed = harvest.bytes_needed();
        // SAFETY: the block's `Buffer` is NULL or writable for its
        // `BufferSize` bytes until this DDI returns (this function's contract).
        let mut out = unsafe { OutBuffer::new(args.Buffer, args.BufferSize) }?;
        let dst = out.prefix(needed).ok_or(Status::BufferTooSmall)?;
        harvest.write(dst)
    }))
}

/// The software dirty-tracking backend: records that `[SegmentOffset,
/// SegmentOffset + Length)` of segment `SegmentId` was written. Whoever writes
/// the adapter's VRAM (a software device; the simulated GPU on the host) calls
/// it *after* each write. Safe to call from any thread, concurrently with
/// every DDI.
///
/// Returns `STATUS_SUCCESS` (also for memory no basis tracks, and for a zero
/// length), or `STATUS_INVALID_PARAMETER` for an unknown adapter or segment, an
/// adapter that is not started, or a span outside the segment or overflowing
/// (nothing is marked then).
#[must_use]
pub fn sw_mark_dirty(
    hAdapter: HANDLE,
    SegmentId: u32,
    SegmentOffset: u64,
    Length: u64,
) -> NTSTATUS {
    // No lock: the adapter's published mark state, read inside a
    // grace-period read section (`registry::with_marks`).
    to_ntstatus(registry::with_marks(hAdapter, |marks, section| {
        marks.mark(section, units::SegmentId(SegmentId), SegmentOffset, Length)
    }))
}

const _: () = assert!(size_of::<DXGK_MEMORYRANGE>() == 16);
