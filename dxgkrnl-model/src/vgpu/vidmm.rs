//! VidMm's placement, and its part of vGPU creation.
//!
//! Placement ([`Adapter::vidmm_pin`]): VidMm pins an allocation in a segment
//! the driver's `DXGK_ALLOCATIONINFO` allows (its preferred segment first,
//! then the other segments both its read and write sets name, lowest id
//! first), choosing the offset itself: the lowest aligned free offset (first
//! fit), or the pieces management asked for (a scattered reserve). It
//! refuses, as VidMm's pin would fail, an allocation whose sets name no
//! segment it knows (`STATUS_INVALID_PARAMETER`) or that fits in none
//! (`STATUS_INSUFFICIENT_RESOURCES`). The segments it knows: those the
//! driver described at the start (QUERYSEGMENT4 and the PBMM set,
//! `../shared/spec/adapter-start.md` 4.1-4.2: the paging aperture, segment 1,
//! and the VRAM segments from 2); after a legacy start, the paging aperture
//! (64 MiB, 4.5) and the adapter's configured VRAM segments.
//!
//! vGPU creation: the standard allocation of type
//! `D3DKMDT_STANDARDALLOCATION_VGPU` per reserve
//! (GetStandardAllocationDriverData, CreateAllocation), pinned as above, and
//! unpinned again at teardown.

use std::collections::BTreeMap;
use std::sync::Mutex;

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

use crate::adapter::Adapter;
use crate::gpuvirt::GpuVirtualization;
use crate::records::Reserve;
use crate::status::{Result, check};

/// The paging aperture's driver segment id and size
/// (`gpup_miniport`'s `APERTURE_SEGMENT_ID`/`APERTURE_SIZE`).
pub const APERTURE_SEGMENT: (u32, u64) = (1, 64 << 20);

/// The pinned ranges (segment, offset, size) of ordinary allocations, per
/// adapter context (vGPU reserves are pinned in the adapter's
/// `GpuVirtualization` state). Locked before that state, never after.
static ORDINARY_PINS: Mutex<BTreeMap<usize, Vec<PinnedRange>>> = Mutex::new(BTreeMap::new());

/// A pinned range: (segment, offset, size).
type PinnedRange = (u32, u64, u64);

/// Where VidMm placed an allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pinned {
    /// Driver segment id.
    pub segment: u32,
    /// Byte offset in the segment.
    pub offset: u64,
    /// Bytes.
    pub size: u64,
}

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
        // VidMm places it: in a segment its segment sets allow, aligned,
        // first fit (or at the pieces asked for, in its first such segment).
        let size = alloc_info.Size as u64;
        let placed = if size < info.Size {
            Err(STATUS_INSUFFICIENT_RESOURCES)
        } else if let Some(pieces) = placement {
            self.candidate_segments(&alloc_info)
                .and_then(|c| c.first().map(|s| s.0).ok_or(STATUS_INVALID_PARAMETER))
                .and_then(|segment| {
                    self.pin_at(g, segment, size, pieces)
                        .map(|()| (segment, pieces.to_vec()))
                })
        } else {
            let align = u64::from(alloc_info.Alignment.max(info.Alignment));
            self.place(Some(g), &alloc_info, size, align)
                .map(|p| (p.segment, vec![(p.offset, size)]))
        };
        let (segment, pieces) = match placed {
            Ok(placed) => placed,
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
            .known_segments()
            .iter()
            .find(|s| s.0 == segment)
            .map_or(0, |s| s.1);
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
        let all = ORDINARY_PINS.lock().unwrap_or_else(|e| e.into_inner());
        let ordinary = all.get(&self.context().addr()).cloned().unwrap_or_default();
        let mut state = g.state();
        let busy = |offset: u64, len: u64| {
            state
                .pinned
                .iter()
                .chain(&ordinary)
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

    /// The segments VidMm knows: (id, bytes). After a full start, those the
    /// driver's segment answers described (QUERYSEGMENT4 and the PBMM set,
    /// spec 4.1-4.2); otherwise (a legacy start) the adapter's configured
    /// VRAM segments and the paging aperture.
    fn known_segments(&self) -> Vec<(u32, u64)> {
        if let Some(known) = self.started_segments() {
            return known;
        }
        let config = self.memory_config();
        let mut known: Vec<(u32, u64)> = config.segments.iter().map(|s| (s.id, s.size)).collect();
        if !known.iter().any(|s| s.0 == APERTURE_SEGMENT.0) {
            known.push(APERTURE_SEGMENT);
        }
        known
    }

    /// The known segments `info` allows, in VidMm's order of preference.
    ///
    /// # Errors
    /// `STATUS_INVALID_PARAMETER` when the sets name no segment VidMm knows.
    pub(crate) fn candidate_segments(&self, info: &DXGK_ALLOCATIONINFO) -> Result<Vec<(u32, u64)>> {
        let allowed = info.SupportedReadSegmentSet & info.SupportedWriteSegmentSet;
        let known = self.known_segments();
        let is_allowed = |id: u32| {
            id.checked_sub(1)
                .and_then(|b| 1u32.checked_shl(b))
                .is_some_and(|bit| allowed & bit != 0)
        };
        let preferred = info.PreferredSegment.Value & 0x1F;
        let mut order: Vec<(u32, u64)> = known
            .iter()
            .copied()
            .filter(|s| s.0 == preferred && is_allowed(s.0))
            .collect();
        let mut rest: Vec<(u32, u64)> = known
            .iter()
            .copied()
            .filter(|s| s.0 != preferred && is_allowed(s.0))
            .collect();
        rest.sort_unstable();
        order.extend(rest);
        if order.is_empty() {
            return Err(STATUS_INVALID_PARAMETER);
        }
        Ok(order)
    }

    /// The ranges (offset, size) pinned in `segment`, reserves and ordinary
    /// allocations alike.
    fn used(
        &self,
        pins: &[(u32, u64, u64)],
        g: Option<&GpuVirtualization>,
        segment: u32,
    ) -> Vec<(u64, u64)> {
        let mut used: Vec<(u64, u64)> = pins
            .iter()
            .filter(|p| p.0 == segment)
            .map(|p| (p.1, p.2))
            .collect();
        if let Some(g) = g.or(self.gpu_virtualization()) {
            used.extend(
                g.state()
                    .pinned
                    .iter()
                    .filter(|p| p.0 == segment)
                    .map(|p| (p.1, p.2)),
            );
        }
        used.sort_unstable();
        used
    }

    /// The lowest `alignment`-aligned offset of a `segment_size`-byte segment
    /// where `size` bytes are free of `used`.
    fn first_fit(used: &[(u64, u64)], segment_size: u64, size: u64, alignment: u64) -> Option<u64> {
        let align = alignment.max(4096);
        let mut candidate = 0u64;
        for &(offset, len) in used {
            if candidate + size <= offset {
                break;
            }
            candidate = candidate.max((offset + len).div_ceil(align) * align);
        }
        (candidate.checked_add(size)? <= segment_size).then_some(candidate)
    }

    /// VidMm pins `size` bytes as `info` allows (module docs), first fit,
    /// and records the pin: with `g`, as a vGPU reserve (unpinned by the
    /// vGPU's teardown), else as an ordinary allocation
    /// ([`Self::vidmm_unpin`]).
    pub(crate) fn place(
        &self,
        g: Option<&GpuVirtualization>,
        info: &DXGK_ALLOCATIONINFO,
        size: u64,
        alignment: u64,
    ) -> Result<Pinned> {
        let candidates = self.candidate_segments(info)?;
        let mut all = ORDINARY_PINS.lock().unwrap_or_else(|e| e.into_inner());
        let key = self.context().addr();
        let pins = all.entry(key).or_default();
        for (segment, segment_size) in candidates {
            let used = self.used(pins, g, segment);
            if let Some(offset) = Self::first_fit(&used, segment_size, size, alignment) {
                match g {
                    Some(g) => g.state().pinned.push((segment, offset, size)),
                    None => pins.push((segment, offset, size)),
                }
                return Ok(Pinned {
                    segment,
                    offset,
                    size,
                });
            }
        }
        Err(STATUS_INSUFFICIENT_RESOURCES)
    }

    /// VidMm pins an ordinary allocation of `info.Size` bytes where `info`'s
    /// segment preference and sets allow (module docs), at the lowest free
    /// offset aligned to `info.Alignment` (at least 4 KiB).
    ///
    /// # Errors
    /// `STATUS_INVALID_PARAMETER` when the sets name no segment VidMm knows;
    /// `STATUS_INSUFFICIENT_RESOURCES` when no allowed segment has room.
    pub fn vidmm_pin(&self, info: &DXGK_ALLOCATIONINFO) -> Result<Pinned> {
        self.place(None, info, info.Size as u64, u64::from(info.Alignment))
    }

    /// Unpins an ordinary allocation [`Self::vidmm_pin`] placed.
    pub fn vidmm_unpin(&self, pinned: Pinned) {
        let mut all = ORDINARY_PINS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pins) = all.get_mut(&self.context().addr())
            && let Some(i) = pins
                .iter()
                .position(|p| *p == (pinned.segment, pinned.offset, pinned.size))
        {
            pins.swap_remove(i);
        }
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
