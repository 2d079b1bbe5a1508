//! The vGPU reserve: its standard allocation (GetStandardAllocationDriverData,
//! CreateAllocation, DestroyAllocation), a memory basis laid over it, and
//! binding it to the VF (SetVirtualGpuResources, SetVirtualGpuResources2).

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

use super::Asked;
use crate::exec::{World, raw_ptr};
use crate::model::SEGMENTS;
use crate::model::vgpu::{Gpu, VF_PAGE, VF_SEGMENT};
use crate::ops::*;

impl World {
    pub(super) fn create_reserve(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let uid = self.model.gpu().reserve_uid(vf);
        let faults = self.model.create_reserve(ok, uid);
        // A slot that never held a vGPU: a description no vGPU asked for.
        let asked = uid
            .and_then(|u| self.asked.get(&u).copied())
            .unwrap_or(Asked {
                instance: 0,
                size: VF_PAGE,
            });
        let mut surface = D3DKMDT_VIRTUALGPUSURFACEDATA {
            Size: asked.size,
            Alignment: VF_PAGE as u32,
            DriverSegmentId: SEGMENTS[VF_SEGMENT].id,
            PrivateDriverData: asked.instance,
        };
        let mut data = DXGKARG_GETSTANDARDALLOCATIONDRIVERDATA::zeroed();
        data.StandardAllocationType = D3DKMDT_STANDARDALLOCATION_VGPU;
        data.pCreateVirtualGpuSurfaceData = &raw mut surface;
        let get = self
            .table()
            .DxgkDdiGetStandardAllocationDriverData
            .ok_or("no GetStandardAllocationDriverData slot")?;
        // SAFETY: the block is live and names the live `surface`; the sizing call.
        let mut status = unsafe { get(h, &raw mut data) };
        let mut private = [0u8; 64];
        let mut info = DXGK_ALLOCATIONINFO::zeroed();
        if status == STATUS_SUCCESS {
            if data.AllocationPrivateDriverDataSize as usize > private.len() {
                return Err(self.fail(op, "asked for more private data than a reserve has".into()));
            }
            data.pAllocationPrivateDriverData = private.as_mut_ptr().cast();
            // SAFETY: the filling call: the block is live and names the live
            // `surface`, and its private-data buffer `private` holds the size
            // the driver asked for (checked just above).
            status = unsafe { get(h, &raw mut data) };
        }
        if status == STATUS_SUCCESS {
            info.pPrivateDriverData = private.as_mut_ptr().cast();
            info.PrivateDriverDataSize = data.AllocationPrivateDriverDataSize;
            let mut create = DXGKARG_CREATEALLOCATION::zeroed();
            create.NumAllocations = 1;
            create.pAllocationInfo = &raw mut info;
            let f = self
                .table()
                .DxgkDdiCreateAllocation
                .ok_or("no CreateAllocation slot")?;
            // SAFETY: one live entry with its live private data.
            status = unsafe { f(h, &raw mut create) };
        }
        self.expect(op, &faults, status)?;
        if status != STATUS_SUCCESS {
            return Ok(false);
        }
        let (Some(uid), handle) = (uid, info.hAllocation.addr()) else {
            return Err(self.fail(op, "succeeded for a vGPU the model has not".into()));
        };
        if handle == 0
            || self.allocs.contains(&handle)
            || info.Size as u64 != asked.size
            || u64::from(info.Alignment) != VF_PAGE
            || info.SupportedWriteSegmentSet != 1 << (SEGMENTS[VF_SEGMENT].id - 1)
        {
            return Err(self.fail(
                op,
                format!(
                    "allocation {handle:#x} of {} bytes, alignment {}, segments {:#x}",
                    info.Size, info.Alignment, info.SupportedWriteSegmentSet
                ),
            ));
        }
        self.allocs.push(handle);
        self.model.reserve_created(uid);
        Ok(true)
    }

    /// The ranges of a [`ReserveLayout`], in VF order.
    fn layout_ranges(&self, l: ReserveLayout) -> Vec<(u64, u64)> {
        let gpu = self.model.gpu();
        let share = Gpu::share(gpu.count);
        let size = match gpu.vgpu(l.vf) {
            Some(v) if l.fault != 3 => v.size,
            _ => share,
        };
        let pages = size / VF_PAGE;
        let k = u64::from(1 + l.pieces % 4).min(pages.max(1));
        let mut parts: Vec<u64> = (0..k)
            .map(|i| pages / k + u64::from(i < pages % k))
            .collect();
        // Laid out in reverse VF order, rotated.
        let mut order: Vec<usize> = (0..parts.len()).rev().collect();
        let turn = usize::from(l.rotate) % order.len();
        order.rotate_left(turn);
        let mut base = gpu.region(l.vf) + if l.fault == 2 { VF_PAGE } else { 0 };
        let mut offsets = vec![0u64; parts.len()];
        for &i in &order {
            offsets[i] = base;
            base += parts[i] * VF_PAGE;
        }
        if l.fault == 1
            && let Some(last) = parts.last_mut()
        {
            *last = last.saturating_sub(1);
        }
        offsets
            .into_iter()
            .zip(parts)
            .map(|(o, p)| (o, p * VF_PAGE))
            .collect()
    }

    pub(super) fn reserve_basis(&mut self, op: &Op, l: ReserveLayout) -> Result<bool, String> {
        let ranges: Vec<RangeSpec> = self
            .layout_ranges(l)
            .into_iter()
            .map(|(o, s)| RangeSpec {
                offset: Bytes::Raw(o),
                size: Bytes::Raw(s),
            })
            .collect();
        self.create(
            op,
            AdapterSel::This,
            false,
            SegSel::Configured(VF_SEGMENT as u8),
            &ranges,
            CountSpec::Exact,
            false,
        )
    }

    /// `DxgkDdiDestroyAllocation` of one reserve.
    pub(super) fn destroy_reserve(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        alloc: AllocSel,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let (value, index) = self.alloc_arg(alloc);
        let faults = self.model.destroy_reserve(ok, index);
        let list = [raw_ptr(value)];
        let mut args = DXGKARG_DESTROYALLOCATION::zeroed();
        args.NumAllocations = 1;
        args.pAllocationList = list.as_ptr();
        let f = self
            .table()
            .DxgkDdiDestroyAllocation
            .ok_or("no DestroyAllocation slot")?;
        // SAFETY: the block is live and its list holds one handle value.
        let status = unsafe { f(h, &raw const args) };
        self.expect(op, &faults, status)?;
        if status == STATUS_SUCCESS
            && let Some(i) = index
        {
            self.model.reserve_destroyed(i);
        }
        Ok(status == STATUS_SUCCESS)
    }

    /// `DxgkDdiSetVirtualGpuResources` with one memory resource.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn set_resources(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
        alloc: AllocSel,
        segment: u32,
        place: Place,
        short: u8,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let (value, index) = self.alloc_arg(alloc);
        let gpu = self.model.gpu();
        let want = gpu.vgpu(vf).map_or(Gpu::share(gpu.count), |v| v.size);
        let offset = gpu
            .region(u32::from(place.slot))
            .wrapping_add(u64::from(place.pages) * VF_PAGE)
            .wrapping_add(u64::from(place.bytes));
        let size = want.saturating_sub(u64::from(short) * VF_PAGE);
        let segment = if segment == 0 {
            SEGMENTS[VF_SEGMENT].id
        } else {
            segment
        };
        let faults = self
            .model
            .set_resources(ok, vf, index, segment, offset, size);
        let mut args = DXGKARG_SETVIRTUALGPURESOURCES::zeroed();
        args.PartitionId = vf;
        args.NumMemoryAllocations = 1;
        args.MemoryInfo[0] = DXGK_VIRTUALGPUMEMORYRESOURCE {
            DriverAllocationHandle: raw_ptr(value),
            AllocationAddress: DXGK_GPU_PHYSICAL_ADDRESS {
                MemorySegmentId: segment,
                MemorySegmentOffset: offset,
            },
            AllocationSize: size,
        };
        let f = self.partition_fn(self.partition.DxgkDdiSetVirtualGpuResources)?;
        // SAFETY: a complete one-entry block; handles are values.
        let status = unsafe { f(h, &raw const args) };
        self.expect(op, &faults, status)?;
        if status == STATUS_SUCCESS
            && let (Some(i), Some(v)) = (index, self.model.gpu().vgpu(vf))
        {
            let pieces = vec![(offset, v.size)];
            self.model.resources_set(vf, i, pieces);
        }
        Ok(status == STATUS_SUCCESS)
    }

    /// `DxgkDdiSetVirtualGpuResources2` with one reserve descriptor.
    pub(super) fn set_resources2(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
        alloc: AllocSel,
        basis: HandleSel,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let (value, index) = self.alloc_arg(alloc);
        let basis = self.handle_arg(basis);
        let (faults, pieces) = self.model.set_resources2(ok, vf, index, basis);
        let mut args = DXGKARG_SETVIRTUALGPURESOURCES2::zeroed();
        args.vfIndex = vf;
        args.SegmentCount = 1;
        args.SegmentDescriptors[0] = DXGK_GPU_PHYSICAL_RESERVE_DESCRIPTOR {
            DriverAllocationHandle: raw_ptr(value),
            MemoryBasis: raw_ptr(basis),
        };
        let f = self
            .table()
            .DxgkDdiSetVirtualGpuResources2
            .ok_or("no SetVirtualGpuResources2 slot")?;
        // SAFETY: a complete one-descriptor block; handles are values.
        let status = unsafe { f(h, &raw const args) };
        self.expect(op, &faults, status)?;
        if status == STATUS_SUCCESS
            && let Some(i) = index
        {
            self.model.resources2_set(vf, i, pieces);
        }
        Ok(status == STATUS_SUCCESS)
    }
}
