//! `DxgkDdiDescribeAllocation`, `DxgkDdiOpenAllocation` and
//! `DxgkDdiCloseAllocation`: what an allocation is, and its per-device opens
//! (`crate::render`). PASSIVE_LEVEL, like the rest of the render DDIs.

use core::mem::offset_of;

use dxgk_sys::*;

use crate::adapter::registry;
use crate::ddi::arg::{ArgBlock, ArgRecord, Counted, Place};
use crate::ddi::{copy_in, write_out};
use crate::foundation::fallible::{push, try_vec};
use crate::foundation::status::{Result, Status, to_ntstatus};
use crate::render::allocation::AllocationData;
use crate::render::table::adapter_of;
use crate::render::{DeviceHandle, OpenHandle, OpenTarget, RenderAllocationHandle};
use crate::vgpu::allocation::ReserveData;

/// Most allocations one open or close call may carry.
const MAX_BATCH: usize = 64;

// SAFETY: Dxgkrnl passes the whole record; the blocks are inputs.
unsafe impl ArgRecord for DXGKARG_DESCRIBEALLOCATION {}
// SAFETY: as above.
unsafe impl ArgRecord for DXGKARG_OPENALLOCATION {}
// SAFETY: as above.
unsafe impl ArgRecord for DXGKARG_CLOSEALLOCATION {}

// SAFETY: `pOpenAllocation` is NULL or `NumAllocations` entries
// (DxgkDdiOpenAllocation's contract), readable (and writable, which this
// driver does field by field through `write_out`).
unsafe impl Counted<DXGK_OPENALLOCATIONINFO> for DXGKARG_OPENALLOCATION {
    fn locate(header: &Self) -> (Place<DXGK_OPENALLOCATIONINFO>, u64) {
        (
            Place::At(header.pOpenAllocation),
            u64::from(header.NumAllocations),
        )
    }
}

// SAFETY: `pOpenHandleList` is NULL or `NumAllocations` readable handles
// (DxgkDdiCloseAllocation's contract); the block is read-only.
unsafe impl Counted<HANDLE> for DXGKARG_CLOSEALLOCATION {
    fn locate(header: &Self) -> (Place<HANDLE>, u64) {
        (
            Place::At(header.pOpenHandleList.cast_mut()),
            u64::from(header.NumAllocations),
        )
    }
}

/// `DxgkDdiDescribeAllocation`: an ordinary allocation is a buffer: `Width`
/// its bytes (saturated at 4 GiB - 1), `Height` 1, `D3DDDIFMT_UNKNOWN`, no
/// multisampling, no refresh rate, identity rotation. vGPU reserves and
/// unknown handles are `STATUS_INVALID_PARAMETER` (nothing on this adapter
/// is ever scanned out).
///
/// # Safety
/// `pArgs` is NULL or a readable and writable block.
pub(crate) unsafe extern "system" fn DxgkDdiDescribeAllocation(
    hAdapter: HANDLE,
    pArgs: *mut DXGKARG_DESCRIBEALLOCATION,
) -> NTSTATUS {
    to_ntstatus(registry::with_adapter(hAdapter, |adapter| {
        let started = adapter.started()?;
        // SAFETY: NULL or a readable and writable block (this function's contract).
        let mut block = unsafe { ArgBlock::new(pArgs) }?;
        let handle = RenderAllocationHandle::from_raw(block.get().hAllocation)
            .map_err(|_| Status::InvalidParameter)?;
        let size = started
            .render
            .read()
            .allocation(handle)
            .map_err(|_| Status::InvalidParameter)?
            .data
            .size;
        block.update(|args| {
            args.Width = u32::try_from(size).unwrap_or(u32::MAX);
            args.Height = 1;
            args.Format = D3DDDIFMT_UNKNOWN;
            args.MultisampleMethod = [0, 0];
            args.RefreshRate = [0, 0];
            args.PrivateDriverFormatAttribute = 0;
            args.Rotation = D3DDDI_ROTATION_IDENTITY;
        });
        Ok(())
    }))
}

/// What an allocation's private data says it is.
fn open_target(info: &DXGK_OPENALLOCATIONINFO) -> Result<OpenTarget> {
    let size = usize::try_from(info.PrivateDriverDataSize).map_err(|_| Status::InvalidParameter)?;
    if size != AllocationData::SIZE || AllocationData::SIZE != ReserveData::SIZE {
        return Err(Status::InvalidParameter);
    }
    let mut bytes = [0u8; AllocationData::SIZE];
    // SAFETY: the entry's `pPrivateDriverData` is NULL or readable for its
    // `PrivateDriverDataSize` (checked: 32) bytes (contract), and cannot
    // overlap this local buffer.
    unsafe { copy_in(info.pPrivateDriverData, &mut bytes) }?;
    match AllocationData::decode(&bytes) {
        Ok(data) => Ok(OpenTarget::Ordinary(data)),
        Err(Status::NotSupported) => {
            let reserve = ReserveData::decode(&bytes).map_err(|_| Status::InvalidParameter)?;
            Ok(OpenTarget::Reserve {
                segment: reserve.segment,
                size: reserve.size,
            })
        }
        Err(e) => Err(e),
    }
}

/// `DxgkDdiOpenAllocation` on `hDevice`: opens each allocation (ordinary or
/// vGPU reserve, told by its private data) on the device, all or none, and
/// returns a device-specific handle per entry (`hDeviceSpecificAllocation`).
///
/// Returns `STATUS_INVALID_HANDLE` for an unknown or destroyed device,
/// `STATUS_INVALID_PARAMETER` for a NULL block or array, a count of 0 or
/// above 64, or private data of neither kind, and `STATUS_NO_MEMORY` when the
/// adapter's open table is full.
///
/// # Safety
/// `pArgs` is NULL or a readable block whose `pOpenAllocation` is NULL or
/// `NumAllocations` readable and writable entries, each private-data pointer
/// NULL or readable for its stated size.
pub(crate) unsafe extern "system" fn DxgkDdiOpenAllocation(
    hDevice: HANDLE,
    pArgs: *const DXGKARG_OPENALLOCATION,
) -> NTSTATUS {
    to_ntstatus((|| {
        let device = DeviceHandle::from_raw(hDevice)?;
        // SAFETY: NULL or a readable block (this function's contract).
        let block = unsafe { ArgBlock::new(pArgs) }?;
        let args = block.get();
        if args.NumAllocations == 0 {
            return Err(Status::InvalidParameter);
        }
        let entries = block.entries::<DXGK_OPENALLOCATIONINFO>(MAX_BATCH)?;
        let mut targets = try_vec(entries.len())?;
        for info in entries.iter() {
            push(&mut targets, (info.hAllocation, open_target(&info)?))?;
        }
        let opened = registry::with_adapter_in_slot(adapter_of(device), |adapter| {
            let started = adapter.started().map_err(|_| Status::InvalidHandle)?;
            started.render.write().open(device, &targets)
        })?;
        for (i, handle) in opened.iter().enumerate() {
            let entry = args.pOpenAllocation.wrapping_add(i);
            let field = entry
                .cast::<u8>()
                .wrapping_add(offset_of!(
                    DXGK_OPENALLOCATIONINFO,
                    hDeviceSpecificAllocation
                ))
                .cast::<HANDLE>();
            // SAFETY: entry `i < NumAllocations` is writable (this
            // function's contract), so is its `hDeviceSpecificAllocation`.
            unsafe { write_out(field, handle.to_raw()) }?;
        }
        Ok(())
    })())
}

/// `DxgkDdiCloseAllocation` on `hDevice`: closes the listed opens, all or
/// none (`STATUS_INVALID_HANDLE` for an unknown device, or an open that is
/// unknown, closed, repeated or of another device; `STATUS_INVALID_PARAMETER`
/// for a NULL block or list or a count of 0 or above 64).
///
/// # Safety
/// `pArgs` is NULL or a readable block whose list is NULL or holds
/// `NumAllocations` handles.
pub(crate) unsafe extern "system" fn DxgkDdiCloseAllocation(
    hDevice: HANDLE,
    pArgs: *const DXGKARG_CLOSEALLOCATION,
) -> NTSTATUS {
    to_ntstatus((|| {
        let device = DeviceHandle::from_raw(hDevice)?;
        // SAFETY: NULL or a readable block (this function's contract).
        let block = unsafe { ArgBlock::new(pArgs) }?;
        if block.get().NumAllocations == 0 {
            return Err(Status::InvalidParameter);
        }
        let entries = block.entries::<HANDLE>(MAX_BATCH)?;
        let mut handles = try_vec(entries.len())?;
        for raw in entries.iter() {
            push(&mut handles, OpenHandle::from_raw(raw)?)?;
        }
        registry::with_adapter_in_slot(adapter_of(device), |adapter| {
            let started = adapter.started().map_err(|_| Status::InvalidHandle)?;
            started.render.write().close(device, &handles)
        })
    })())
}
