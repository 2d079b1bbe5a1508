//! A vGPU's VRAM: binding its reserve (`DxgkDdiSetVirtualGpuResources`, one
//! pinned range, and `DxgkDdiSetVirtualGpuResources2`, the ranges of a
//! memory basis), and the vGPU allocations the reserves arrive in
//! (`DxgkDdiCreateAllocation` / `DxgkDdiDestroyAllocation`). Binding and the
//! allocations are adapter-wide accounting (a reserve must not overlap
//! another VF's), so they are [`Partitioning`] methods; what a vGPU does with
//! its bound reserve is a [`Vgpu`] method.

use alloc::vec::Vec;
use core::ffi::c_void;

use super::allocation::{AllocationHandle, ReserveData};
use super::{Partitioning, Power, VfIndex, Vgpu};
use crate::basis::BasisHandle;
use crate::basis::Tracker;
use crate::foundation::fallible::{self, push, try_vec};
use crate::foundation::status::{Result, Status};
use crate::foundation::units::SegmentId;

/// One entry of SetVirtualGpuResources, as Dxgkrnl passed it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PinnedReserve {
    pub(crate) allocation: *mut c_void,
    pub(crate) segment: SegmentId,
    pub(crate) offset: u64,
    pub(crate) size: u64,
}

/// One `DXGK_GPU_PHYSICAL_RESERVE_DESCRIPTOR`, as Dxgkrnl passed it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScatterEntry {
    pub(crate) allocation: *mut c_void,
    pub(crate) basis: *mut c_void,
}

/// A reserve bound by SetVirtualGpuResources (one range) or
/// SetVirtualGpuResources2 (the ranges of a memory basis).
///
/// # Invariants
/// `pieces` is non-empty, its pieces are disjoint, each a whole number of the
/// segment's pages, and they add up to the vGPU's reserve size;
/// `by_offset` holds the same pieces with their VF addresses, ascending
/// segment offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BoundReserve {
    allocation: AllocationHandle,
    /// (segment offset, bytes), in VF address order: VF address 0 is the
    /// first byte of `pieces[0]`.
    pieces: Vec<(u64, u64)>,
    /// (segment offset, bytes, VF address) of each piece, ascending segment
    /// offset: sorted here, at binding, so that the Save DDIs map segment
    /// offsets to VF addresses (`crate::migration::snapshot`) by binary
    /// search with nothing to allocate or sort on the blackout path.
    by_offset: Vec<(u64, u64, u64)>,
    /// Bound by SetVirtualGpuResources2.
    scattered: bool,
}

impl BoundReserve {
    /// A reserve of `pieces` (in VF address order), with its index by
    /// segment offset.
    ///
    /// # Errors
    /// `NoMemory`.
    fn new(allocation: AllocationHandle, pieces: Vec<(u64, u64)>, scattered: bool) -> Result<Self> {
        let mut by_offset = try_vec(pieces.len())?;
        let mut vf = 0u64;
        for &(at, size) in &pieces {
            push(&mut by_offset, (at, size, vf))?;
            vf = vf.saturating_add(size);
        }
        crate::foundation::sort::sort_by_key(&mut by_offset, |p| p.0);
        Ok(Self {
            allocation,
            pieces,
            by_offset,
            scattered,
        })
    }

    /// The segment offset of VF address 0 (host-only state: the host view,
    /// never the escape).
    #[cfg(all(not(target_os = "windows"), not(loom)))]
    pub(crate) fn base(&self) -> u64 {
        self.pieces.first().map_or(0, |p| p.0)
    }

    /// (segment offset, bytes) of each piece, in VF address order.
    pub(crate) fn pieces(&self) -> &[(u64, u64)] {
        &self.pieces
    }

    /// (segment offset, bytes, VF address) of each piece, ascending segment
    /// offset.
    pub(crate) fn by_offset(&self) -> &[(u64, u64, u64)] {
        &self.by_offset
    }

    /// Bound by SetVirtualGpuResources2.
    pub(crate) fn scattered(&self) -> bool {
        self.scattered
    }

    /// Calls `each(segment offset, bytes)` for the pieces VF addresses
    /// `[offset, offset + len)` occupy, in order.
    ///
    /// # Errors
    /// `InvalidParameter` if the span leaves the reserve (nothing is visited then).
    pub(crate) fn translate(
        &self,
        offset: u64,
        len: u64,
        mut each: impl FnMut(u64, u64) -> Result<()>,
    ) -> Result<()> {
        let end = offset.checked_add(len).ok_or(Status::InvalidParameter)?;
        let total = self
            .pieces
            .iter()
            .fold(0u64, |sum, p| sum.saturating_add(p.1));
        if end > total {
            return Err(Status::InvalidParameter);
        }
        let mut start = 0u64;
        for &(at, size) in &self.pieces {
            let piece_end = start.saturating_add(size);
            let from = offset.max(start);
            let to = end.min(piece_end);
            if from < to {
                each(
                    at.saturating_add(from.saturating_sub(start)),
                    to.saturating_sub(from),
                )?;
            }
            start = piece_end;
        }
        Ok(())
    }
}

impl Vgpu {
    /// The bound reserve of a VF that can take part in a migration.
    ///
    /// # Errors
    /// `InvalidDeviceState` for a VF without VRAM (no reserve bound, or its
    /// allocation destroyed under it).
    pub(crate) fn migratable(&self) -> Result<&BoundReserve> {
        match (&self.reserve, self.revoked) {
            (Some(r), false) => Ok(r),
            _ => Err(Status::InvalidDeviceState),
        }
    }

    /// Refuses a second binding.
    fn check_unbound(&self) -> Result<()> {
        if self.reserve.is_some() || self.revoked {
            return Err(Status::InvalidDeviceState);
        }
        Ok(())
    }

    /// Its reserve's allocation was destroyed: it stops and cannot run again.
    fn revoke(&mut self) {
        self.reserve = None;
        self.revoked = true;
        self.power = Power::D3;
    }
}

impl Partitioning {
    /// `DxgkDdiSetVirtualGpuResources`: validates every entry, then binds.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown partition, a count other than one
    /// entry per requested reserve, a handle that is not a live vGPU
    /// allocation made for this vGPU (or one already bound), another segment,
    /// a size below the request, an offset not aligned to the page size, a
    /// range outside the segment or overlapping another vGPU's reserve;
    /// `InvalidDeviceState` if resources were already set. Nothing is bound on error.
    pub(crate) fn set_resources(&mut self, vf: VfIndex, entries: &[PinnedReserve]) -> Result<()> {
        let (size, instance) = {
            let vgpu = self.vgpu(vf)?;
            vgpu.check_unbound()?;
            (vgpu.reserve_size, vgpu.instance)
        };
        let [entry] = entries else {
            return Err(Status::InvalidParameter);
        };
        let handle =
            AllocationHandle::from_raw(entry.allocation).map_err(|_| Status::InvalidParameter)?;
        let allocation = self
            .allocations
            .get(handle)
            .map_err(|_| Status::InvalidParameter)?;
        let end = entry
            .offset
            .checked_add(size)
            .ok_or(Status::InvalidParameter)?;
        let overlaps = self.overlaps_other(vf, &[(entry.offset, size)])?;
        if allocation.reserve.instance != instance
            || allocation.reserve.segment != self.segment
            || allocation.reserve.size < size
            || allocation.bound_to.is_some()
            || entry.segment != self.segment
            || entry.size < size
            || !self.page.divides(entry.offset)
            || end > self.segment_size
            || overlaps
        {
            return Err(Status::InvalidParameter);
        }
        let mut pieces = try_vec(1)?;
        push(&mut pieces, (entry.offset, size))?;
        self.bind(vf, BoundReserve::new(handle, pieces, false)?)
    }

    /// `DxgkDdiSetVirtualGpuResources2`: binds the ranges of a memory basis
    /// as the VF's VRAM, in `Ranges[]` order (VF address 0 is the first byte
    /// of `Ranges[0]`). The same rules as SetVirtualGpuResources (once only,
    /// the VF's own unbound allocation, no overlap with another VF's
    /// reserve), and the basis must lie in the tracked segment, every range
    /// a multiple of the scatter granularity (`DXGKQAITYPE_SCATTER_RESERVE`,
    /// the segment's page size) in offset and size, and the ranges must add
    /// up to the reserve the VF asked for. The basis is only read: it may
    /// be tracked or not, and destroyed later without unbinding anything.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown partition, not exactly one
    /// descriptor, or any rule above; `InvalidHandle` for an unknown, stale,
    /// forged or NULL memory-basis handle; `InvalidDeviceState` if resources
    /// were already set; `NoMemory`. Nothing is bound on error.
    pub(crate) fn set_resources2(
        &mut self,
        tracker: &Tracker,
        vf: VfIndex,
        entries: &[ScatterEntry],
    ) -> Result<()> {
        let (size, instance) = {
            let vgpu = self.vgpu(vf)?;
            vgpu.check_unbound()?;
            (vgpu.reserve_size, vgpu.instance)
        };
        let [entry] = entries else {
            return Err(Status::InvalidParameter);
        };
        let basis = tracker.basis(BasisHandle::from_raw(entry.basis)?)?;
        let handle =
            AllocationHandle::from_raw(entry.allocation).map_err(|_| Status::InvalidParameter)?;
        let allocation = self
            .allocations
            .get(handle)
            .map_err(|_| Status::InvalidParameter)?;
        let aligned = basis
            .ranges()
            .all(|(at, len)| self.page.divides(at) && self.page.divides(len));
        let total = basis
            .ranges()
            .try_fold(0u64, |sum, (_, len)| sum.checked_add(len));
        if allocation.reserve.instance != instance
            || allocation.reserve.segment != self.segment
            || allocation.reserve.size < size
            || allocation.bound_to.is_some()
            || basis.segment != self.segment
            || !aligned
            || total != Some(size)
        {
            return Err(Status::InvalidParameter);
        }
        let mut pieces = try_vec(basis.range_count())?;
        for range in basis.ranges() {
            push(&mut pieces, range)?;
        }
        if self.overlaps_other(vf, &pieces)? {
            return Err(Status::InvalidParameter);
        }
        self.bind(vf, BoundReserve::new(handle, pieces, true)?)
    }

    /// Whether any of `pieces` (segment offset, bytes; pairwise disjoint)
    /// overlaps the bound reserve of a vGPU other than `vf`. Sorts a copy,
    /// then looks each other piece up in it: `O((n + m) log n)`.
    ///
    /// # Errors
    /// `NoMemory`.
    fn overlaps_other(&self, vf: VfIndex, pieces: &[(u64, u64)]) -> Result<bool> {
        let mut sorted = try_vec(pieces.len())?;
        for &p in pieces {
            push(&mut sorted, p)?;
        }
        crate::foundation::sort::sort_by_key(&mut sorted, |p| p.0);
        // Disjoint and sorted by offset, so also sorted by end.
        let hits = |at: u64, end: u64| {
            let i = sorted.partition_point(|p| p.0.saturating_add(p.1) <= at);
            sorted.get(i).is_some_and(|p| p.0 < end)
        };
        Ok(self.live().any(|other| {
            other.index != vf.0
                && other.reserve.as_ref().is_some_and(|r| {
                    r.pieces
                        .iter()
                        .any(|&(at, size)| hits(at, at.saturating_add(size)))
                })
        }))
    }

    /// The last, infallible step of SetVirtualGpuResources(2): the
    /// allocation is marked bound and the reserve is the vGPU's.
    fn bind(&mut self, vf: VfIndex, reserve: BoundReserve) -> Result<()> {
        self.vgpu_mut(vf)?;
        self.allocations.get_mut(reserve.allocation)?.bound_to = Some(vf.0);
        self.vgpu_mut(vf)?.reserve = Some(reserve);
        Ok(())
    }

    /// Checks a reserve description (from a standard allocation) against the
    /// vGPU it names.
    ///
    /// # Errors
    /// `InvalidParameter` unless a live vGPU has this instance and asked for
    /// exactly this segment, at least this size and this alignment.
    pub(crate) fn check_reserve(&self, reserve: &ReserveData) -> Result<()> {
        let ok = self.live().any(|v| {
            v.instance == reserve.instance
                && reserve.segment == self.segment
                && reserve.size >= v.reserve_size
                && (reserve.alignment == 0 || reserve.alignment == self.page.bytes())
        });
        if ok {
            Ok(())
        } else {
            Err(Status::InvalidParameter)
        }
    }

    /// `DxgkDdiCreateAllocation` of vGPU reserves: all or nothing.
    ///
    /// # Errors
    /// `InvalidParameter` for a reserve [`Self::check_reserve`] refuses;
    /// `InsufficientResources` if they do not all fit; `NoMemory`.
    pub(crate) fn create_allocations(
        &mut self,
        reserves: &[ReserveData],
    ) -> Result<Vec<AllocationHandle>> {
        for r in reserves {
            self.check_reserve(r)?;
        }
        if self.allocations.room() < reserves.len() {
            return Err(Status::InsufficientResources);
        }
        let mut handles = fallible::try_vec(reserves.len())?;
        for r in reserves {
            let step = self.allocations.insert(*r).and_then(|h| {
                fallible::push(&mut handles, h).map_err(|e| {
                    let _ = self.allocations.remove(h);
                    Status::from(e)
                })
            });
            if let Err(status) = step {
                // Undo the ones published so far: all or nothing.
                for h in handles {
                    let _ = self.allocations.remove(h);
                }
                return Err(status);
            }
        }
        Ok(handles)
    }

    /// `DxgkDdiDestroyAllocation`: every handle is checked first, then all
    /// are destroyed. A reserve still bound to a vGPU is taken from it: the
    /// vGPU stops and can no longer run (its VRAM is gone).
    ///
    /// # Errors
    /// `InvalidHandle` for an unknown, stale or repeated handle (nothing is destroyed).
    pub(crate) fn destroy_allocations(&mut self, handles: &[AllocationHandle]) -> Result<()> {
        for (i, h) in handles.iter().enumerate() {
            self.allocations.get(*h)?;
            if handles.get(..i).unwrap_or_default().contains(h) {
                return Err(Status::InvalidHandle);
            }
        }
        for h in handles {
            let allocation = self.allocations.remove(*h)?;
            if let Some(p) = allocation.bound_to
                && let Ok(vgpu) = self.vgpu_mut(VfIndex(p))
            {
                crate::trace!(
                    "DestroyAllocation: reserve of vGPU {} destroyed under it",
                    p
                );
                vgpu.revoke();
            }
        }
        Ok(())
    }
}
