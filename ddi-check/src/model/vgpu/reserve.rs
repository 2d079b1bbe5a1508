//! The model of the vGPU reserves: the standard allocation that holds a
//! VF's memory (CreateAllocation, DestroyAllocation) and binding it to the
//! VF (SetVirtualGpuResources, SetVirtualGpuResources2).

use dxgk_sys::*;

use super::{Alloc, VF_PAGE, VF_SEGMENT, base_faults};
use crate::model::{Faults, Model, SEGMENTS};

impl Model {
    /// CreateReserve: the standard-allocation data and CreateAllocation for
    /// the reserve of vGPU `uid` (`None`: no vGPU ever was in the slot; the
    /// exec passes a description no vGPU asked for).
    #[must_use]
    pub fn create_reserve(&self, adapter_ok: bool, uid: Option<u64>) -> Faults {
        let mut f = base_faults(self, adapter_ok);
        if self.started && uid.and_then(|u| self.gpu.by_uid(u)).is_none() {
            f.add(STATUS_INVALID_PARAMETER);
        }
        f
    }

    /// Records a created allocation.
    pub fn reserve_created(&mut self, uid: u64) {
        self.gpu.allocs.push(Alloc {
            uid,
            live: true,
            bound: None,
        });
    }

    /// `DxgkDdiDestroyAllocation` of allocation `index` (`None`: not a handle
    /// the driver issued).
    #[must_use]
    pub fn destroy_reserve(&self, adapter_ok: bool, index: Option<usize>) -> Faults {
        let mut f = base_faults(self, adapter_ok);
        if self.started && !index.is_some_and(|i| self.gpu.allocs[i].live) {
            f.add(STATUS_INVALID_HANDLE);
        }
        f
    }

    /// Records a destroyed allocation: a vGPU it is bound to loses its VRAM.
    pub fn reserve_destroyed(&mut self, index: usize) {
        let a = &mut self.gpu.allocs[index];
        a.live = false;
        if let Some(vf) = a.bound.take()
            && let Some(v) = self.gpu.vgpu_mut(vf)
        {
            v.reserve = None;
            v.revoked = true;
            v.d0 = false;
        }
    }

    fn alloc_for(&self, vf: u32, index: Option<usize>) -> bool {
        let uid = self.gpu.vgpu(vf).map(|v| v.uid);
        index.is_some_and(|i| {
            let a = self.gpu.allocs[i];
            a.live && Some(a.uid) == uid && a.bound.is_none()
        })
    }

    /// `DxgkDdiSetVirtualGpuResources` with one entry.
    #[must_use]
    pub fn set_resources(
        &self,
        adapter_ok: bool,
        vf: u32,
        alloc: Option<usize>,
        segment: u32,
        offset: u64,
        size: u64,
    ) -> Faults {
        let (mut f, v) = self.vf_faults(adapter_ok, vf);
        let Some(v) = v else {
            return f;
        };
        if v.reserve.is_some() || v.revoked {
            f.add(STATUS_INVALID_DEVICE_STATE);
        }
        let seg = SEGMENTS[VF_SEGMENT];
        if !self.alloc_for(vf, alloc)
            || segment != seg.id
            || size < v.size
            || !offset.is_multiple_of(VF_PAGE)
            || offset.checked_add(v.size).is_none_or(|e| e > seg.size)
            || self.gpu.overlaps_other(vf, &[(offset, v.size)])
        {
            f.add(STATUS_INVALID_PARAMETER);
        }
        f
    }

    /// Records a successful SetVirtualGpuResources2 (as
    /// [`Self::resources_set`], the binding marked scattered).
    pub fn resources2_set(&mut self, vf: u32, alloc: usize, pieces: Vec<(u64, u64)>) {
        self.resources_set(vf, alloc, pieces);
        if let Some(v) = self.gpu.vgpu_mut(vf) {
            v.scattered = true;
        }
    }

    /// Records a successful SetVirtualGpuResources(2).
    pub fn resources_set(&mut self, vf: u32, alloc: usize, pieces: Vec<(u64, u64)>) {
        self.gpu.allocs[alloc].bound = Some(vf);
        if let Some(v) = self.gpu.vgpu_mut(vf) {
            v.reserve = Some(pieces);
        }
    }

    /// `DxgkDdiSetVirtualGpuResources2` with one descriptor: the faults, and
    /// on success the pieces bound.
    #[must_use]
    pub fn set_resources2(
        &self,
        adapter_ok: bool,
        vf: u32,
        alloc: Option<usize>,
        basis: usize,
    ) -> (Faults, Vec<(u64, u64)>) {
        let (mut f, v) = self.vf_faults(adapter_ok, vf);
        let Some(v) = v else {
            return (f, Vec::new());
        };
        if v.reserve.is_some() || v.revoked {
            f.add(STATUS_INVALID_DEVICE_STATE);
        }
        let Some(b) = self.basis(basis) else {
            f.add(STATUS_INVALID_HANDLE);
            if !self.alloc_for(vf, alloc) {
                f.add(STATUS_INVALID_PARAMETER);
            }
            return (f, Vec::new());
        };
        let total = b
            .ranges
            .iter()
            .try_fold(0u64, |sum, r| sum.checked_add(r.1));
        if !self.alloc_for(vf, alloc)
            || b.segment != VF_SEGMENT
            || !b
                .ranges
                .iter()
                .all(|&(o, s)| o.is_multiple_of(VF_PAGE) && s.is_multiple_of(VF_PAGE))
            || total != Some(v.size)
            || self.gpu.overlaps_other(vf, &b.ranges)
        {
            f.add(STATUS_INVALID_PARAMETER);
        }
        (f, b.ranges.clone())
    }
}
