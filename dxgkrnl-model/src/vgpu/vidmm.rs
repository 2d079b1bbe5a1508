//! VidMm's part of vGPU creation: the standard allocation of type
//! `D3DKMDT_STANDARDALLOCATION_VGPU` per reserve (GetStandardAllocationDriverData,
//! CreateAllocation), pinned at an offset of the segment (first fit) or at
//! the pieces management asked for, and unpinned again at teardown.

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

use crate::adapter::Adapter;
use crate::gpuvirt::GpuVirtualization;
use crate::records::Reserve;
use crate::status::{Result, check};

impl Adapter {
    /// `DxgkDdiGetStandardAllocationDriverData` with a raw block.
    ///
    /// # Safety
    /// `args` is NULL or a readable and writable block whose pointers are
    /// NULL or valid for what they name.
    #[must_use]
    pub unsafe fn get_standard_allocation_driver_data_raw(
        &self,
        args: *mut DXGKARG_GETSTANDARDALLOCATIONDRIVERDATA,
    ) -> NTSTATUS {
        let Some(f) = self.driver().table().DxgkDdiGetStandardAllocationDriverData else {
            return STATUS_NOT_SUPPORTED;
        };
        // SAFETY: a DDI of the loaded driver; the caller owns the block.
        unsafe { f(self.context(), args) }
    }

    /// `DxgkDdiCreateAllocation` with a raw block.
    ///
    /// # Safety
    /// `args` is NULL or a readable and writable block whose array and
    /// private-data pointers are NULL or valid for their stated sizes.
    #[must_use]
    pub unsafe fn create_allocation_raw(&self, args: *mut DXGKARG_CREATEALLOCATION) -> NTSTATUS {
        let Some(f) = self.driver().table().DxgkDdiCreateAllocation else {
            return STATUS_NOT_SUPPORTED;
        };
        // SAFETY: a DDI of the loaded driver; the caller owns the block.
        unsafe { f(self.context(), args) }
    }

    /// `DxgkDdiDestroyAllocation` with a raw block.
    ///
    /// # Safety
    /// `args` is NULL or a readable block whose list is NULL or holds
    /// `NumAllocations` handles.
    #[must_use]
    pub unsafe fn destroy_allocation_raw(
        &self,
        args: *const DXGKARG_DESTROYALLOCATION,
    ) -> NTSTATUS {
        let Some(f) = self.driver().table().DxgkDdiDestroyAllocation else {
            return STATUS_NOT_SUPPORTED;
        };
        // SAFETY: a DDI of the loaded driver; the caller owns the block.
        unsafe { f(self.context(), args) }
    }

    /// `DxgkDdiDestroyAllocation` of driver allocation handles (as addresses).
    ///
    /// # Errors
    /// The driver's status.
    pub fn destroy_allocations(&self, handles: &[usize]) -> Result<()> {
        let list: Vec<HANDLE> = handles
            .iter()
            .map(|&h| core::ptr::without_provenance_mut(h))
            .collect();
        let mut args = DXGKARG_DESTROYALLOCATION::zeroed();
        args.NumAllocations = list.len() as UINT;
        args.pAllocationList = list.as_ptr();
        // SAFETY: `args` is live and `list` holds `NumAllocations` handles.
        check(unsafe { self.destroy_allocation_raw(&raw const args) })
    }

    /// Standard allocation of type VGPU for one `SegmentInfo`, pinned by
    /// VidMm (first fit, or at the `placement` pieces); returns it and its
    /// pieces in VF address order.
    pub(super) fn create_reserve(
        &self,
        g: &GpuVirtualization,
        info: &DXGK_VIRTUALGPUSEGMENTINFO,
        placement: Option<&[(u64, u64)]>,
    ) -> Result<(Reserve, Vec<(u64, u64)>)> {
        if placement.is_some() && !g.caps.contains(GpupCaps::ScatterMapReserve) {
            return Err(STATUS_NOT_SUPPORTED);
        }
        let mut surface = D3DKMDT_VIRTUALGPUSURFACEDATA {
            Size: info.Size,
            Alignment: info.Alignment,
            DriverSegmentId: info.DriverSegmentId,
            PrivateDriverData: info.PrivateDriverData,
        };
        // Sizing call, then the call that fills the private data.
        let mut args = DXGKARG_GETSTANDARDALLOCATIONDRIVERDATA::zeroed();
        args.StandardAllocationType = D3DKMDT_STANDARDALLOCATION_VGPU;
        args.pCreateVirtualGpuSurfaceData = &raw mut surface;
        // SAFETY: `args` is live and names the live `surface`.
        check(unsafe { self.get_standard_allocation_driver_data_raw(&raw mut args) })?;
        if args.AllocationPrivateDriverDataSize == 0 && args.ResourcePrivateDriverDataSize == 0 {
            return Err(STATUS_UNSUCCESSFUL);
        }
        let mut allocation_data = vec![0u8; args.AllocationPrivateDriverDataSize as usize];
        let mut resource_data = vec![0u8; args.ResourcePrivateDriverDataSize as usize];
        args.pAllocationPrivateDriverData = if allocation_data.is_empty() {
            core::ptr::null_mut()
        } else {
            allocation_data.as_mut_ptr().cast()
        };
        args.pResourcePrivateDriverData = if resource_data.is_empty() {
            core::ptr::null_mut()
        } else {
            resource_data.as_mut_ptr().cast()
        };
        // SAFETY: as above; the two buffers hold the sizes the driver asked for.
        check(unsafe { self.get_standard_allocation_driver_data_raw(&raw mut args) })?;

        let mut alloc_info = DXGK_ALLOCATIONINFO::zeroed();
        alloc_info.pPrivateDriverData = args.pAllocationPrivateDriverData;
        alloc_info.PrivateDriverDataSize = args.AllocationPrivateDriverDataSize;
        let mut create = DXGKARG_CREATEALLOCATION::zeroed();
        create.pPrivateDriverData = args.pResourcePrivateDriverData.cast_const();
        create.PrivateDriverDataSize = args.ResourcePrivateDriverDataSize;
        create.NumAllocations = 1;
        create.pAllocationInfo = &raw mut alloc_info;
        // SAFETY: `create` is live with one live entry and its private data.
        check(unsafe { self.create_allocation_raw(&raw mut create) })?;
        let handle = alloc_info.hAllocation;
        if handle.is_null() {
            return Err(STATUS_UNSUCCESSFUL);
        }
        // VidMm places it: in a segment its segment sets allow, aligned, first fit.
        let segment = info.DriverSegmentId;
        let allowed = segment
            .checked_sub(1)
            .and_then(|b| 1u32.checked_shl(b))
            .is_some_and(|bit| alloc_info.SupportedWriteSegmentSet & bit != 0);
        let size = alloc_info.Size as u64;
        let placed = if !allowed || size < info.Size {
            Err(STATUS_INSUFFICIENT_RESOURCES)
        } else if let Some(pieces) = placement {
            self.pin_at(g, segment, size, pieces)
                .map(|()| pieces.to_vec())
        } else {
            self.pin(
                g,
                segment,
                size,
                u64::from(alloc_info.Alignment.max(info.Alignment)),
            )
            .map(|offset| vec![(offset, size)])
            .ok_or(STATUS_INSUFFICIENT_RESOURCES)
        };
        let pieces = match placed {
            Ok(pieces) => pieces,
            Err(status) => {
                let _ = self.destroy_allocations(&[handle.addr()]);
                return Err(status);
            }
        };
        Ok((
            Reserve {
                segment,
                offset: pieces[0].0,
                size,
                scattered: placement.is_some(),
                allocation: handle.addr(),
                basis: None,
                tracking: false,
            },
            pieces,
        ))
    }

    /// VidMm pins a reserve of `size` bytes at the given pieces: they must
    /// add up to it, be multiples of the segment's scatter granularity
    /// (`DXGKQAITYPE_SCATTER_RESERVE`) and be free.
    pub(super) fn pin_at(
        &self,
        g: &GpuVirtualization,
        segment: u32,
        size: u64,
        pieces: &[(u64, u64)],
    ) -> Result<()> {
        let granularity = self.scatter_granularity(segment)?;
        let segment_size = self
            .memory_config()
            .segments
            .iter()
            .find(|s| s.id == segment)
            .map_or(0, |s| s.size);
        let total = pieces.iter().try_fold(0u64, |sum, p| sum.checked_add(p.1));
        let fits = pieces.iter().all(|&(offset, len)| {
            len > 0
                && offset.is_multiple_of(granularity)
                && len.is_multiple_of(granularity)
                && offset
                    .checked_add(len)
                    .is_some_and(|end| end <= segment_size)
        });
        if total != Some(size) || !fits {
            return Err(STATUS_INVALID_PARAMETER);
        }
        let mut state = g.state();
        let busy = |offset: u64, len: u64| {
            state
                .pinned
                .iter()
                .any(|p| p.0 == segment && p.1 < offset + len && offset < p.1 + p.2)
        };
        let disjoint = pieces
            .iter()
            .enumerate()
            .all(|(i, &(o, l))| pieces[..i].iter().all(|&(p, m)| o + l <= p || p + m <= o));
        if !disjoint || pieces.iter().any(|&(o, l)| busy(o, l)) {
            return Err(STATUS_INSUFFICIENT_RESOURCES);
        }
        for &(offset, len) in pieces {
            state.pinned.push((segment, offset, len));
        }
        Ok(())
    }

    /// VidMm: the lowest aligned offset of `segment` where `size` bytes are free.
    pub(super) fn pin(
        &self,
        g: &GpuVirtualization,
        segment: u32,
        size: u64,
        alignment: u64,
    ) -> Option<u64> {
        let segment_size = self
            .memory_config()
            .segments
            .iter()
            .find(|s| s.id == segment)?
            .size;
        let align = alignment.max(4096);
        let mut state = g.state();
        let mut used: Vec<(u64, u64)> = state
            .pinned
            .iter()
            .filter(|p| p.0 == segment)
            .map(|p| (p.1, p.2))
            .collect();
        used.sort_unstable();
        let mut candidate = 0u64;
        for (offset, len) in used {
            if candidate + size <= offset {
                break;
            }
            candidate = (offset + len).div_ceil(align) * align;
        }
        if candidate.checked_add(size)? > segment_size {
            return None;
        }
        state.pinned.push((segment, candidate, size));
        Some(candidate)
    }

    pub(super) fn unpin(g: &GpuVirtualization, segment: u32, pieces: &[(u64, u64)]) {
        let mut state = g.state();
        for &(offset, size) in pieces {
            if let Some(i) = state
                .pinned
                .iter()
                .position(|p| *p == (segment, offset, size))
            {
                state.pinned.swap_remove(i);
            }
        }
    }
}
