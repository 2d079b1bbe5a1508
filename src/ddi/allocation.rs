//! The standard-allocation path a vGPU's VRAM reserve comes through:
//! `DxgkDdiGetStandardAllocationDriverData` for
//! `D3DKMDT_STANDARDALLOCATION_VGPU`, then `DxgkDdiCreateAllocation`, and
//! finally `DxgkDdiDestroyAllocation`.
//!
//! This adapter has no D3D devices and no other allocation kind: every other
//! standard allocation type, and any allocation whose private data is not
//! this driver's vGPU reserve data, is refused with `STATUS_NOT_SUPPORTED`.

use dxgk_sys::*;

use crate::adapter::registry;
use crate::ddi::arg::ArgBlock;
use crate::ddi::{copy_in, copy_out};
use crate::foundation::fallible::{push, try_vec};
use crate::foundation::status::{Status, to_ntstatus};
use crate::foundation::units::SegmentId;
use crate::kernel::sync::RwLock;
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

/// `DxgkDdiCreateAllocation`: creates one driver allocation per vGPU reserve
/// described by the private data, all or none, and fills each
/// `DXGK_ALLOCATIONINFO` (size, alignment, the reserve's segment as the only
/// one it may live in, never evicted, `hAllocation`). `NumAllocations` of 0
/// or above 32, or a NULL array, is `STATUS_INVALID_PARAMETER`; private data
/// that is not a vGPU reserve is `STATUS_NOT_SUPPORTED`; nothing is created
/// or written on error. No resource is created: `hResource` is left NULL.
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
        let p = adapter.started()?.partitions().map(RwLock::write);
        // SAFETY: NULL or a readable and writable block whose
        // `pAllocationInfo` is NULL or `NumAllocations` readable and writable
        // entries (this function's contract).
        let block = unsafe { ArgBlock::new(pArgs) }?;
        let args = block.get();
        let n = usize::try_from(args.NumAllocations).map_err(|_| Status::InvalidParameter)?;
        if n == 0 || n > MAX_BATCH || args.pAllocationInfo.is_null() {
            return Err(Status::InvalidParameter);
        }
        let mut p = p.map_err(|_| Status::NotSupported)?;
        let mut infos = block.entries::<DXGK_ALLOCATIONINFO>(MAX_BATCH)?;
        let mut reserves = try_vec(n)?;
        for info in infos.iter() {
            if usize::try_from(info.PrivateDriverDataSize).ok() != Some(ReserveData::SIZE) {
                return Err(Status::NotSupported);
            }
            let mut bytes = [0u8; ReserveData::SIZE];
            // SAFETY: the entry's `pPrivateDriverData` is NULL or readable for
            // its `PrivateDriverDataSize` (checked: 32) bytes (contract), and
            // cannot overlap this local buffer.
            unsafe { copy_in(info.pPrivateDriverData, &mut bytes) }?;
            push(&mut reserves, ReserveData::decode(&bytes)?)?;
        }
        let segment = p.segment();
        let segment_bit = segment
            .0
            .checked_sub(1)
            .and_then(|bit| 1u32.checked_shl(bit))
            .ok_or(Status::InvalidParameter)?;
        let handles = p.create_allocations(&reserves)?;
        for (i, (handle, reserve)) in handles.iter().zip(&reserves).enumerate() {
            let mut info = infos.get(i).ok_or(Status::InvalidParameter)?;
            info.Alignment = reserve.alignment;
            info.Size = usize::try_from(reserve.size).unwrap_or(usize::MAX);
            info.PitchAlignedSize = 0;
            info.HintedBank = DXGK_SEGMENTBANKPREFERENCE { Value: 0 };
            info.PreferredSegment = D3DDDI_SEGMENTPREFERENCE { Value: 0 };
            info.SupportedReadSegmentSet = segment_bit;
            info.SupportedWriteSegmentSet = segment_bit;
            info.EvictionSegmentSet = 0;
            info.MaximumRenamingListLength = 0;
            info.hAllocation = handle.to_raw();
            info.Flags = DXGK_ALLOCATIONINFOFLAGS { Value: 0 };
            info.pAllocationUsageHint = core::ptr::null_mut();
            info.Flags2 = DXGK_ALLOCATIONINFOFLAGS2 { Value: 0 };
            infos.set(i, &info)?;
        }
        Ok(())
    }))
}

/// `DxgkDdiDestroyAllocation`: destroys the listed vGPU allocations, all or
/// none (`STATUS_INVALID_HANDLE` for an unknown, stale or repeated handle).
/// A reserve still bound to a vGPU is taken from it: the vGPU stops and can
/// no longer run. `NumAllocations` of 0 or above the table's size, or a NULL
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
        let p = adapter.started()?.partitions().map(RwLock::write);
        // SAFETY: NULL or a readable block whose `pAllocationList` is NULL
        // or `NumAllocations` readable handles (this function's contract).
        let block = unsafe { ArgBlock::new(pArgs) }?;
        let args = block.get();
        let n = usize::try_from(args.NumAllocations).map_err(|_| Status::InvalidParameter)?;
        if n == 0 || n > MAX_ALLOCATIONS || args.pAllocationList.is_null() {
            return Err(Status::InvalidParameter);
        }
        let mut p = p.map_err(|_| Status::InvalidHandle)?;
        let mut handles = try_vec(n)?;
        for raw in block.entries::<HANDLE>(MAX_ALLOCATIONS)?.iter() {
            push(&mut handles, AllocationHandle::from_raw(raw)?)?;
        }
        p.destroy_allocations(&handles)
    }))
}
