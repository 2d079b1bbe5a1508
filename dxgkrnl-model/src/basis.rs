//! The dirty-bit tracking DDIs as Dxgkrnl calls them, and the model's side of
//! the software dirty-tracking backend (the simulated GPU's marks).

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

use crate::adapter::Adapter;
use crate::records::BasisHandle;

/// Builds a `DXGKARG_CREATEMEMORYBASIS` block of `ranges.len()` ranges (8-byte
/// aligned words: `SegmentId` and its padding, `RangeCount`, then the ranges).
#[must_use]
pub fn create_args(segment: u32, ranges: &[(u64, u64)]) -> Vec<u64> {
    let mut block = Vec::with_capacity(2 + 2 * ranges.len().max(1));
    block.push(u64::from(segment));
    block.push(ranges.len() as u64);
    for &(offset, size) in ranges {
        block.extend([offset, size]);
    }
    // The header declares `Ranges[1]`: the block is never shorter than that.
    block.resize(block.len().max(4), 0);
    block
}

impl Adapter {
    /// `DxgkDdiCreateMemoryBasis` with a raw argument block.
    ///
    /// # Safety
    /// `args` is NULL or readable for the block its `RangeCount` describes (or
    /// for as much of it as the driver reads before it rejects the count).
    #[must_use]
    pub unsafe fn create_memory_basis_raw(&self, args: *const DXGKARG_CREATEMEMORYBASIS) -> HANDLE {
        let Some(create) = self.driver().table().DxgkDdiCreateMemoryBasis else {
            return core::ptr::null_mut();
        };
        // SAFETY: a DDI of the loaded driver; the caller owns `args`.
        unsafe { create(self.context(), args) }
    }

    /// `DxgkDdiCreateMemoryBasis` over `ranges` (offset, size in bytes) of `segment`.
    /// `None` when the driver returns NULL.
    #[must_use]
    pub fn create_memory_basis(&self, segment: u32, ranges: &[(u64, u64)]) -> Option<BasisHandle> {
        let block = create_args(segment, ranges);
        // SAFETY: `block` is a complete argument block of `ranges.len()` ranges.
        let handle = unsafe { self.create_memory_basis_raw(block.as_ptr().cast()) };
        (!handle.is_null()).then_some(BasisHandle(handle))
    }

    /// `DxgkDdiDestroyMemoryBasis`.
    #[must_use]
    pub fn destroy_memory_basis(&self, basis: BasisHandle) -> NTSTATUS {
        let Some(destroy) = self.driver().table().DxgkDdiDestroyMemoryBasis else {
            return STATUS_NOT_IMPLEMENTED;
        };
        // SAFETY: a DDI of the loaded driver.
        unsafe { destroy(self.context(), basis.0) }
    }

    /// `DxgkDdiStartDirtyTracking`.
    #[must_use]
    pub fn start_dirty_tracking(&self, basis: BasisHandle) -> NTSTATUS {
        let Some(start) = self.driver().table().DxgkDdiStartDirtyTracking else {
            return STATUS_NOT_IMPLEMENTED;
        };
        // SAFETY: a DDI of the loaded driver.
        unsafe { start(self.context(), basis.0) }
    }

    /// `DxgkDdiStopDirtyTracking`.
    #[must_use]
    pub fn stop_dirty_tracking(&self, basis: BasisHandle) -> NTSTATUS {
        let Some(stop) = self.driver().table().DxgkDdiStopDirtyTracking else {
            return STATUS_NOT_IMPLEMENTED;
        };
        // SAFETY: a DDI of the loaded driver.
        unsafe { stop(self.context(), basis.0) }
    }

    /// `DxgkDdiQueryDirtyBitData` with a raw argument block.
    ///
    /// # Safety
    /// `args` is NULL or readable, and its `Buffer` NULL or writable for `BufferSize` bytes.
    #[must_use]
    pub unsafe fn query_dirty_bits_raw(&self, args: *mut DXGKARG_QUERYDIRTYBITDATA) -> NTSTATUS {
        let Some(query) = self.driver().table().DxgkDdiQueryDirtyBitData else {
            return STATUS_NOT_IMPLEMENTED;
        };
        // SAFETY: a DDI of the loaded driver; the caller owns `args` and its buffer.
        unsafe { query(self.context(), args) }
    }

    /// `DxgkDdiQueryDirtyBitData` into `buffer`: the whole basis, or with
    /// `subrange = Some((index, offset, size))` one span of one range.
    #[must_use]
    pub fn query_dirty_bits(
        &self,
        basis: BasisHandle,
        subrange: Option<(u64, u64, u64)>,
        clear: bool,
        buffer: &mut [u8],
    ) -> NTSTATUS {
        let mut args = DXGKARG_QUERYDIRTYBITDATA::zeroed();
        args.MemoryBasis = basis.0;
        if let Some((index, offset, size)) = subrange {
            args.SubrangeIndex = index;
            args.SubrangeOffset = offset;
            args.SubrangeSize = size;
        }
        args.Buffer = buffer.as_mut_ptr().cast();
        args.BufferSize = buffer.len();
        args.Flags = u32::from(clear);
        // SAFETY: `args` is live and its buffer is `buffer`, borrowed for the call.
        unsafe { self.query_dirty_bits_raw(&raw mut args) }
    }

    /// Marks `[offset, offset + len)` of `segment` dirty through the driver's
    /// software backend (`gpup_sw_mark_dirty`), as the GPU does after writing it.
    #[must_use]
    pub fn mark_dirty(&self, segment: u32, offset: u64, len: u64) -> NTSTATUS {
        // SAFETY: the host export of the linked driver; the handle is its own.
        unsafe { gpup_miniport::host::gpup_sw_mark_dirty(self.context(), segment, offset, len) }
    }
}
