//! The standard-allocation path a vGPU's VRAM reserve comes through:
//! `DxgkDdiGetStandardAllocationDriverData` for
//! `D3DKMDT_STANDARDALLOCATION_VGPU`, then `DxgkDdiCreateAllocation`, and
//! finally `DxgkDdiDestroyAllocation`.
//!
//! `DxgkDdiCreateAllocation` and `DxgkDdiDestroyAllocation` also take this
//! driver's ordinary allocations (`crate::render::allocation`: paging-buffer
//! and DMA-pool allocations in the aperture, linear VRAM). Every other
//! standard allocation type, and any allocation whose private data is
//! neither kind, is refused with `STATUS_NOT_SUPPORTED`.

use dxgk_sys::*;

use crate::adapter::registry;
use crate::ddi::arg::ArgBlock;
use crate::ddi::{copy_in, copy_out};
use crate::foundation::fallible::{push, try_vec};
use crate::foundation::status::{Result, Status, to_ntstatus};
use crate::foundation::units::SegmentId;
use crate::kernel::sync::RwLock;
use crate::render::allocation::AllocationData;
use crate::render::{RenderAllocationHandle, segment_bit};
use crate::vgpu::allocation::{AllocationHandle, MAX_ALLOCATIONS, ReserveData};

/// Most allocations one CreateAllocation call may carry (one per
/// `SegmentInfo` entry of CreateVirtualGpu); larger counts are refused unread.
const MAX_BATCH: usize = 32;

/// `DxgkDdiGetStandardAllocationDriverData`: for `D3DKMDT_STANDARDALLOCATION_VGPU`
/// the allocation private data describing the reserve (`ReserveData`, 32
/// bytes) and no resource private data. With `pAllocationPrivateDriverData`
/// NULL it only reports the sizes. The surface data must describe a reserve
/// a live vGPU asked for (`STATUS_INVALID_PARAMETER` otherwise); a non-zero
/// `AllocationPrivateDriverDataSize` below 32 is `STATUS_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `pArgs` is NULL or readable and writable; its pointers NULL or valid as
/// Dxgkrnl passes them.
pub(crate) unsafe extern "system" fn DxgkDdiGetStandardAllocationDriverData(
    hAdapter: HANDLE,
    pArgs: *mut DXGKARG_GETSTANDARDALLOCATIONDRIVERDATA,
) -> NTSTATUS {
    to_ntstatus(registry::with_adapter(hAdapter, |adapter| {
        let p = adapter.started()?.partitions().map(RwLock::read);
        // SAFETY: NULL or a readable and writable block (this function's
        // contract).
        let mut block = unsafe { ArgBlock::new(pArgs) }?;
        let args = block.get();
        if args.StandardAllocationType != D3DKMDT_STANDARDALLOCATION_VGPU {
            return Err(Status::NotSupported);
        }
        let p = p?;
        // SAFETY: `pCreateVirtualGpuSurfaceData` is NULL or a readable
        // surface description for the rest of the call (contract); it is an
        // input, so it is taken read-only.
        let surface =
            unsafe { ArgBlock::new(args.pCreateVirtualGpuSurfaceData.cast_const()) }?.get();
        let reserve = ReserveData {
            segment: SegmentId(surface.DriverSegmentId),
            alignment: surface.Alignment,
            size: surface.Size,
            instance: surface.PrivateDriverData,
        };
        p.check_reserve(&reserve)?;
        let size = UINT::try_from(ReserveData::SIZE).map_err(|_| Status::InvalidParameter)?;
        if !args.pAllocationPrivateDriverData.is_null() {
            if args.AllocationPrivateDriverDataSize != 0
                && args.AllocationPrivateDriverDataSize < size
            {
                return Err(Status::BufferTooSmall);
            }
            // SAFETY: non-NULL and writable for the size this DDI reported on
            // the sizing call (contract).
            unsafe { copy_out(&reserve.encode(), args.pAllocationPrivateDriverData) }?;
        }
        block.update(|args| {
            args.AllocationPrivateDriverDataSize = size;
            args.ResourcePrivateDriverDataSize = 0;
        });
        Ok(())
    }))
}

/// The `DXGK_ALLOCATIONINFO` outputs of an allocation VidMm may place in
/// `segment` only: its preferred segment and its read and write segment
/// sets name that segment alone; never evicted elsewhere, no flags.
fn placed_info(
    mut info: DXGK_ALLOCATIONINFO,
    handle: HANDLE,
    size: u64,
    alignment: u32,
    segment: SegmentId,
) -> Result<DXGK_ALLOCATIONINFO> {
    let bit = segment_bit(segment)?;
    info.Alignment = alignment;
    info.Size = usize::try_from(size).map_err(|_| Status::InvalidParameter)?;
    info.PitchAlignedSize = 0;
    info.HintedBank = DXGK_SEGMENTBANKPREFERENCE { Value: 0 };
    // SegmentId0 (bits 0-4), Direction0 0: this segment first and only.
    info.PreferredSegment = D3DDDI_SEGMENTPREFERENCE {
        Value: segment.0 & 0x1F,
    };
    info.SupportedReadSegmentSet = bit;
    info.SupportedWriteSegmentSet = bit;
    info.EvictionSegmentSet = 0;
    info.MaximumRenamingListLength = 0;
    info.hAllocation = handle;
    info.Flags = DXGK_ALLOCATIONINFOFLAGS { Value: 0 };
    info.pAllocationUsageHint = core::ptr::null_mut();
    info.AllocationPriority = 0;
    info.Flags2 = DXGK_ALLOCATIONINFOFLAGS2 { Value: 0 };
    Ok(info)
}

/// One allocation's private data, as this driver's two kinds.
enum Private {
    /// A vGPU's VRAM reserve.
    Reserve(ReserveData),
    /// An ordinary allocation.
    Ordinary(AllocationData),
}

/// Reads and classifies an entry's private data.
fn private_of(info: &DXGK_ALLOCATIONINFO) -> Result<Private> {
    if usize::try_from(info.PrivateDriverDataSize).ok() != Some(ReserveData::SIZE) {
        return Err(Status::NotSupported);
    }
    let mut bytes = [0u8; ReserveData::SIZE];
    // SAFETY: the entry's `pPrivateDriverData` is NULL or readable for its
    // `PrivateDriverDataSize` (checked: 32) bytes (contract), and cannot
    // overlap this local buffer.
    unsafe { copy_in(info.pPrivateDriverData, &mut bytes) }?;
    match ReserveData::decode(&bytes) {
        Err(Status::NotSupported) => AllocationData::decode(&bytes).map(Private::Ordinary),
        other => other.map(Private::Reserve),
    }
}

/// `DxgkDdiCreateAllocation`: creates one driver allocation per entry, all
/// or none, of one of two kinds told by the private data (mixing them in one
/// call is `STATUS_INVALID_PARAMETER`):
/// - vGPU reserves (`ReserveData`, from GetStandardAllocationDriverData of
///   `D3DKMDT_STANDARDALLOCATION_VGPU`): the reserve's segment (the tracked
///   VRAM segment) is the only preferred and supported segment (spec 6);
/// - ordinary allocations (`crate::render::allocation::AllocationData`):
///   paging-buffer and DMA-pool allocations in the paging aperture
///   (segment 1), the others in the first VRAM segment, likewise alone.
///
/// Each `DXGK_ALLOCATIONINFO` gets its size, alignment, segment preference
/// and sets, no eviction segment, no flags, and `hAllocation`.
/// `NumAllocations` of 0 or above 32, or a NULL array, is
/// `STATUS_INVALID_PARAMETER`; private data of neither kind is
/// `STATUS_NOT_SUPPORTED`; a full table is `STATUS_INSUFFICIENT_RESOURCES`
/// (reserves) or `STATUS_NO_MEMORY` (ordinary); nothing is created or
/// written on error. No resource is created: `hResource` is left NULL.
///
/// # Safety
/// `pArgs` is NULL or readable and writable; `pAllocationInfo` NULL or
/// `NumAllocations` readable and writable entries, each private-data pointer
/// NULL or readable for its stated size.
pub(crate) unsafe extern "system" fn DxgkDdiCreateAllocation(
    hAdapter: HANDLE,
    pArgs: *mut DXGKARG_CREATEALLOCATION,
) -> NTSTATUS {
    to_ntstatus(registry::with_adapter(hAdapter, |adapter| {
        let started = adapter.started()?;
        // SAFETY: NULL or a readable and writable block whose
        // `pAllocationInfo` is NULL or `NumAllocations` readable and writable
        // entries (this function's contract).
        let block = unsafe { ArgBlock::new(pArgs) }?;
        let args = block.get();
        let n = usize::try_from(args.NumAllocations).map_err(|_| Status::InvalidParameter)?;
        if n == 0 || n > MAX_BATCH || args.pAllocationInfo.is_null() {
            return Err(Status::InvalidParameter);
        }
        let mut infos = block.entries::<DXGK_ALLOCATIONINFO>(MAX_BATCH)?;
        let mut reserves = try_vec(n)?;
        let mut ordinary = try_vec(n)?;
        for info in infos.iter() {
            match private_of(&info)? {
                Private::Reserve(r) => push(&mut reserves, r)?,
                Private::Ordinary(o) => push(&mut ordinary, o)?,
            }
        }
        if !reserves.is_empty() && !ordinary.is_empty() {
            return Err(Status::InvalidParameter);
        }
        if reserves.is_empty() {
            let made = started.render.write().create_allocations(&ordinary)?;
            for (i, (handle, a)) in made.iter().enumerate() {
                let info = infos.get(i).ok_or(Status::InvalidParameter)?;
                let info =
                    placed_info(info, handle.to_raw(), a.data.size, a.alignment(), a.segment)?;
                infos.set(i, &info)?;
            }
            return Ok(());
        }
        let mut p = started
            .partitions()
            .map_err(|_| Status::NotSupported)?
            .write();
        // The tracked VRAM segment the partitioning serves (each reserve was
        // checked to name it when its driver data was made).
        let segment = p.segment();
        if reserves.iter().any(|r| r.segment != segment) {
            return Err(Status::InvalidParameter);
        }
        let handles = p.create_allocations(&reserves)?;
        for (i, (handle, reserve)) in handles.iter().zip(&reserves).enumerate() {
            let info = infos.get(i).ok_or(Status::InvalidParameter)?;
            let info = placed_info(
                info,
                handle.to_raw(),
                reserve.size,
                reserve.alignment,
                segment,
            )?;
            infos.set(i, &info)?;
        }
        Ok(())
    }))
}

/// `DxgkDdiDestroyAllocation`: destroys the listed allocations, all or
/// none: vGPU reserves or ordinary allocations, one kind per call (as they
/// were created; a mixed list is `STATUS_INVALID_PARAMETER`).
/// `STATUS_INVALID_HANDLE` for an unknown, stale or repeated handle. A
/// reserve still bound to a vGPU is taken from it: the vGPU stops and can no
/// longer run. `NumAllocations` of 0 or above the table's size, or a NULL
/// list, is `STATUS_INVALID_PARAMETER`.
///
/// # Safety
/// `pArgs` is NULL or readable; `pAllocationList` NULL or `NumAllocations`
/// readable handles.
pub(crate) unsafe extern "system" fn DxgkDdiDestroyAllocation(
    hAdapter: HANDLE,
    pArgs: *const DXGKARG_DESTROYALLOCATION,
) -> NTSTATUS {
    to_ntstatus(registry::with_adapter(hAdapter, |adapter| {
        let started = adapter.started()?;
        // SAFETY: NULL or a readable block whose `pAllocationList` is NULL
        // or `NumAllocations` readable handles (this function's contract).
        let block = unsafe { ArgBlock::new(pArgs) }?;
        let args = block.get();
        let n = usize::try_from(args.NumAllocations).map_err(|_| Status::InvalidParameter)?;
        if n == 0 || n > MAX_ALLOCATIONS || args.pAllocationList.is_null() {
            return Err(Status::InvalidParameter);
        }
        let mut reserves = try_vec(n)?;
        let mut ordinary = try_vec(n)?;
        for raw in block.entries::<HANDLE>(MAX_ALLOCATIONS)?.iter() {
            match RenderAllocationHandle::from_raw(raw) {
                Ok(h) => push(&mut ordinary, h)?,
                Err(_) => push(&mut reserves, AllocationHandle::from_raw(raw)?)?,
            }
        }
        if !reserves.is_empty() && !ordinary.is_empty() {
            return Err(Status::InvalidParameter);
        }
        if reserves.is_empty() {
            return started.render.write().destroy_allocations(&ordinary);
        }
        let mut p = started
            .partitions()
            .map_err(|_| Status::InvalidHandle)?
            .write();
        p.destroy_allocations(&reserves)
    }))
}
