//! The calls of [`VgpuOp`]: the GPU-partition interface (reached through
//! `DxgkDdiQueryInterface` at adapter start; its functions take the adapter
//! handle as `Context`), the vGPU allocation path, and the live-migration
//! slots of the DDI table, each checked against [`crate::model::vgpu`].
//!
//! Checked besides the status: outputs are written only on success (and
//! GetGpuPartitionInfo's counts, and Save's `*DataSize`, on
//! `STATUS_BUFFER_TOO_SMALL`); the sizing call of a Save answers exactly the
//! model's size and the filling call writes exactly that many bytes and
//! nothing past them; CreateVirtualGpu's reserve is the model's, its LUID is
//! new; GetVirtualGpuInfo answers the model's capabilities; a Restore that
//! returns `STATUS_OBJECT_TYPE_MISMATCH` logs one triage event and any other
//! logs none.

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

use super::{GUARD, World, raw_ptr};
use crate::model::vgpu::{Gpu, VF_PAGE, VF_SEGMENT};
use crate::model::{Blob, SEGMENTS};
use crate::ops::*;

/// What CreateVirtualGpu asked for, by model uid: the `SegmentInfo` the
/// reserve's standard allocation describes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Asked {
    pub(super) instance: u32,
    pub(super) size: u64,
}

/// A pattern no DDI writes, to see what a failed call touched.
const UNTOUCHED: u64 = 0xA5A5_5A5A_A5A5_5A5A;

impl World {
    /// `(value, index into the issued allocations)` of an [`AllocSel`].
    fn alloc_arg(&self, sel: AllocSel) -> (usize, Option<usize>) {
        let value = match sel {
            AllocSel::Issued(i) if !self.allocs.is_empty() => {
                let n = self.allocs.len();
                self.allocs[n - 1 - usize::from(i) % n]
            }
            AllocSel::Issued(_) | AllocSel::Null => 0,
            AllocSel::Forged(v) => usize::try_from(v).unwrap_or(usize::MAX),
        };
        (
            value,
            self.allocs.iter().rposition(|&h| h == value && h != 0),
        )
    }

    fn partition_fn<T>(&self, f: Option<T>) -> Result<T, String> {
        f.ok_or_else(|| "a NULL partition-interface pointer".into())
    }

    /// Executes one [`VgpuOp`]; whether it succeeded.
    pub(super) fn vgpu(&mut self, op: &Op, v: &VgpuOp) -> Result<bool, String> {
        match *v {
            VgpuOp::SetPartitionCount { adapter, count } => {
                let (h, ok) = self.adapter_arg(adapter);
                let faults = self.model.set_partition_count(ok, count);
                let f = self.partition_fn(self.partition.DxgkDdiSetGpuPartitionCount)?;
                let args = DXGKARG_SETGPUPARTITIONCOUNT {
                    PartitionCount: count,
                };
                // SAFETY: the args block is live; `h` is a value.
                let status = unsafe { f(h, &raw const args) };
                self.expect(op, &faults, status)?;
                if status == STATUS_SUCCESS {
                    self.model.partition_count_set(count);
                }
                Ok(status == STATUS_SUCCESS)
            }
            VgpuOp::GetPartitionInfo {
                adapter,
                capacity,
                null_array,
            } => self.partition_info(op, adapter, u32::from(capacity % 17), null_array),
            VgpuOp::CreateVgpu {
                adapter,
                vf,
                vram,
                engine,
            } => self.create_vgpu(op, adapter, vf, vram, engine),
            VgpuOp::DestroyVgpu { adapter, vf } => {
                let (h, ok) = self.adapter_arg(adapter);
                let faults = self.model.destroy_vgpu(ok, vf);
                let f = self.partition_fn(self.partition.DxgkDdiDestroyVirtualGpu)?;
                let args = DXGKARG_DESTROYVIRTUALGPU { PartitionId: vf };
                // SAFETY: the args block is live; `h` is a value.
                let status = unsafe { f(h, &raw const args) };
                self.expect(op, &faults, status)?;
                if status == STATUS_SUCCESS {
                    self.model.vgpu_destroyed(vf);
                }
                Ok(status == STATUS_SUCCESS)
            }
            VgpuOp::GetVgpuInfo { adapter, vf } => self.vgpu_info(op, adapter, vf),
            VgpuOp::CreateReserve { adapter, vf } => self.create_reserve(op, adapter, vf),
            VgpuOp::DestroyReserve { adapter, alloc } => {
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
            VgpuOp::ReserveBasis(layout) => self.reserve_basis(op, layout),
            VgpuOp::SetResources {
                adapter,
                vf,
                alloc,
                segment,
                place,
                short,
            } => {
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
            VgpuOp::SetResources2 {
                adapter,
                vf,
                alloc,
                basis,
            } => {
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
                    self.model.resources_set(vf, i, pieces);
                }
                Ok(status == STATUS_SUCCESS)
            }
            VgpuOp::Pause { adapter, vf, pause } => {
                let (h, ok) = self.adapter_arg(adapter);
                let faults = self.model.pause(ok, vf);
                let args = DXGKARG_SETVIRTUALFUNCTIONPAUSESTATE {
                    vfIndex: vf,
                    bPause: pause,
                };
                let f = self
                    .table()
                    .DxgkDdiSetVirtualFunctionPauseState
                    .ok_or("no pause slot")?;
                // SAFETY: the args block is live; `h` is a value.
                let status = unsafe { f(h, &raw const args) };
                self.expect(op, &faults, status)?;
                if status == STATUS_SUCCESS {
                    self.model.paused(vf, pause != 0);
                }
                Ok(status == STATUS_SUCCESS)
            }
            VgpuOp::WriteInterrupt { adapter, vf, index } => {
                let (h, ok) = self.adapter_arg(adapter);
                let faults = self.model.write_interrupt(ok, vf, index);
                let args = DXGKARG_GPUP_WRITE_VIRTUALIZED_MSIX {
                    vfIndex: vf,
                    InterruptTableIndex: index,
                    WriteValue: DXGK_INTERRUPT_TABLE_ENTRY {
                        MessageAddress: 0xFEE0_0000 | u64::from(vf) << 12,
                        MessageData: 0x40 + u32::from(index.unsigned_abs()),
                        VectorControl: 0,
                    },
                };
                let f = self
                    .table()
                    .DxgkDdiWriteVirtualizedInterrupt
                    .ok_or("no interrupt slot")?;
                // SAFETY: the args block is live; `h` is a value.
                let status = unsafe { f(h, &raw const args) };
                self.expect(op, &faults, status)?;
                if status == STATUS_SUCCESS {
                    self.model.interrupt_written(vf, index);
                }
                Ok(status == STATUS_SUCCESS)
            }
            VgpuOp::Prepare { adapter, vf, ty } => {
                let (h, ok) = self.adapter_arg(adapter);
                let faults = self.model.prepare(ok, vf, ty);
                let args = DXGKARG_GPUP_PREPARE_LIVE_MIGRATION {
                    vfIndex: vf,
                    MigrationType: DXGK_GPUP_MIGRATIONTYPE(ty),
                };
                let f = self
                    .table()
                    .DxgkDdiPrepareLiveMigration
                    .ok_or("no Prepare slot")?;
                // SAFETY: the args block is live; `h` is a value.
                let status = unsafe { f(h, &raw const args) };
                self.expect(op, &faults, status)?;
                if status == STATUS_SUCCESS {
                    self.model.prepared(vf, ty);
                }
                Ok(status == STATUS_SUCCESS)
            }
            VgpuOp::Save {
                adapter,
                vf,
                mutable,
                call,
            } => self.save(op, adapter, vf, mutable, call),
            VgpuOp::Restore {
                adapter,
                vf,
                mutable,
                blob,
            } => self.restore(op, adapter, vf, mutable, blob),
            VgpuOp::End { adapter, vf } => {
                let (h, ok) = self.adapter_arg(adapter);
                let faults = self.model.end(ok, vf);
                let f = self.table().DxgkDdiEndLiveMigration.ok_or("no End slot")?;
                // SAFETY: both arguments are values.
                let status = unsafe { f(h, vf) };
                self.expect(op, &faults, status)?;
                if status == STATUS_SUCCESS {
                    self.model.ended(vf);
                }
                Ok(status == STATUS_SUCCESS)
            }
        }
    }

    fn partition_info(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        capacity: u32,
        null_array: bool,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let faults = self.model.partition_info(ok, capacity, null_array);
        const MARK: u16 = 0xBEEF;
        let mut array = vec![MARK; capacity as usize + GUARD];
        let mut args = DXGKARG_GETGPUPARTITIONINFO {
            NumGpuPartitionOptions: capacity,
            pGpuPartitionOptions: if null_array {
                core::ptr::null_mut()
            } else {
                array.as_mut_ptr()
            },
            CurrentGpuPartitionCount: 0xFFFF,
        };
        let f = self.partition_fn(self.partition.DxgkDdiGetGpuPartitionInfo)?;
        // SAFETY: the block is live; its array is NULL or holds `capacity` entries.
        let status = unsafe { f(h, &raw mut args) };
        self.expect(op, &faults, status)?;
        let options = crate::model::vgpu::OPTIONS;
        let count = self.model.gpu().count;
        let counts_set = args.NumGpuPartitionOptions == options.len() as u32
            && u32::from(args.CurrentGpuPartitionCount) == count;
        match status {
            STATUS_SUCCESS | STATUS_BUFFER_TOO_SMALL if !counts_set => Err(self.fail(
                op,
                format!(
                    "answered {} options, current {}; the model says {}, {count}",
                    args.NumGpuPartitionOptions,
                    args.CurrentGpuPartitionCount,
                    options.len()
                ),
            )),
            STATUS_SUCCESS if array[..options.len()] != options => Err(self.fail(
                op,
                format!("options {:?}, the model says {options:?}", &array[..4]),
            )),
            STATUS_SUCCESS if array[options.len()..].iter().any(|&v| v != MARK) => {
                Err(self.fail(op, "wrote past the options".into()))
            }
            STATUS_SUCCESS => Ok(true),
            _ if array.iter().any(|&v| v != MARK) => {
                Err(self.fail(op, format!("failed with {status:?} but wrote the array")))
            }
            STATUS_BUFFER_TOO_SMALL => Ok(false),
            _ if args.NumGpuPartitionOptions != capacity
                || args.CurrentGpuPartitionCount != 0xFFFF =>
            {
                Err(self.fail(op, format!("failed with {status:?} but wrote the counts")))
            }
            _ => Ok(false),
        }
    }

    fn create_vgpu(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
        vram: VramSpec,
        engine: u8,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let vram = match vram {
            VramSpec::Default => (0, 0, 0),
            VramSpec::Pages { min, max, optimal } => (
                u64::from(min) * VF_PAGE,
                u64::from(max) * VF_PAGE,
                u64::from(optimal) * VF_PAGE,
            ),
            VramSpec::Raw { min, max, optimal } => (min, max, optimal),
        };
        let (faults, created) = self.model.create_vgpu(ok, vf, vram, u64::from(engine));
        let mut args = Box::new(DXGKARG_CREATEVIRTUALGPU::zeroed());
        args.PartitionId = vf;
        args.Profile.Capability[0] = DXGK_VIRTUALGPUCAPABILITY {
            MinValue: vram.0,
            MaxValue: vram.1,
            OptimalValue: vram.2,
        };
        args.Profile.Capability[1] = DXGK_VIRTUALGPUCAPABILITY {
            MinValue: u64::from(engine),
            MaxValue: u64::from(engine),
            OptimalValue: 0,
        };
        // Outputs preset to what no success leaves there.
        args.NumMemorySegments = 77;
        args.NumEngines = 99;
        args.VirtualGpuLuid = LUID {
            LowPart: 0x5A5A_5A5A,
            HighPart: -1,
        };
        args.SegmentInfo[0].Size = UNTOUCHED;
        let f = self.partition_fn(self.partition.DxgkDdiCreateVirtualGpu)?;
        // SAFETY: `args` is a live, complete block.
        let status = unsafe { f(h, &raw mut *args) };
        self.expect(op, &faults, status)?;
        let info = args.SegmentInfo[0];
        if status != STATUS_SUCCESS {
            if args.NumMemorySegments != 77
                || args.NumEngines != 99
                || args.VirtualGpuLuid.LowPart != 0x5A5A_5A5A
                || info.Size != UNTOUCHED
            {
                return Err(self.fail(op, format!("failed with {status:?} but wrote outputs")));
            }
            return Ok(false);
        }
        let Some(created) = created else {
            return Err(self.fail(op, "succeeded where the model has no reserve".into()));
        };
        let luid = args.VirtualGpuLuid;
        let key = (luid.LowPart, luid.HighPart);
        if args.NumMemorySegments != 1
            || args.NumEngines != 0
            || info.DriverSegmentId != SEGMENTS[VF_SEGMENT].id
            || info.Size != created.size
            || u64::from(info.Alignment) != VF_PAGE
            || info.MinSegmentOffset != 0
            || info.MaxSegmentOffset != 0
            || info.PrivateDriverData == 0
            || luid.HighPart != 0x4750
            || self.luids.contains(&key)
        {
            return Err(self.fail(
                op,
                format!(
                    "answered {} segment(s), {info:?}, LUID {luid:?}; the model says one \
                     reserve of {} bytes in segment 1 aligned to a page, and a new LUID",
                    args.NumMemorySegments, created.size
                ),
            ));
        }
        self.luids.push(key);
        let uid = self.model.vgpu_created(vf, created);
        self.asked.insert(
            uid,
            Asked {
                instance: info.PrivateDriverData,
                size: info.Size,
            },
        );
        self.stats.vgpus += 1;
        Ok(true)
    }

    fn vgpu_info(&mut self, op: &Op, adapter: AdapterSel, vf: u32) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let (faults, caps) = self.model.vgpu_info(ok, vf);
        let mut args = DXGKARG_GETVIRTUALGPUINFO::zeroed();
        args.PartitionId = vf;
        for c in &mut args.Capability {
            *c = DXGK_VGPU_CAPABILITY {
                MinValue: UNTOUCHED,
                MaxValue: UNTOUCHED,
                CurrentValue: UNTOUCHED,
            };
        }
        let f = self.partition_fn(self.partition.DxgkDdiGetVirtualGpuInfo)?;
        // SAFETY: the block is live; `h` is a value.
        let status = unsafe { f(h, &raw mut args) };
        self.expect(op, &faults, status)?;
        let got: Vec<(u64, u64, u64)> = args
            .Capability
            .iter()
            .map(|c| (c.MinValue, c.MaxValue, c.CurrentValue))
            .collect();
        let want = if status == STATUS_SUCCESS {
            let Some(memory) = caps else {
                return Err(self.fail(op, "succeeded where the model has no vGPU".into()));
            };
            vec![memory, (0, 0, 0), (0, 0, 0), (0, 0, 0)]
        } else {
            vec![(UNTOUCHED, UNTOUCHED, UNTOUCHED); 4]
        };
        if got != want {
            return Err(self.fail(
                op,
                format!("capabilities {got:x?}, the model says {want:x?}"),
            ));
        }
        Ok(status == STATUS_SUCCESS)
    }

    fn create_reserve(&mut self, op: &Op, adapter: AdapterSel, vf: u32) -> Result<bool, String> {
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
            // SAFETY: as above; the buffer holds the size the driver asked for.
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

    fn reserve_basis(&mut self, op: &Op, l: ReserveLayout) -> Result<bool, String> {
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

    fn save(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
        mutable: bool,
        call: SaveCall,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let needed = self.model.save_needed(vf, mutable);
        let (size_in, buffer, capacity) = match call {
            SaveCall::Size => (0, None, None),
            SaveCall::Fill { extra } => {
                let n = needed
                    .unwrap_or(0)
                    .saturating_add_signed(i64::from(extra))
                    .min(1 << 16);
                (n, Some(n as usize), Some(n))
            }
            SaveCall::NullData => (needed.unwrap_or(64).max(1), None, None),
            SaveCall::NullDataSize | SaveCall::NullArgs => (0, None, None),
        };
        let arg_fault = matches!(
            call,
            SaveCall::NullData | SaveCall::NullDataSize | SaveCall::NullArgs
        );
        let faults = self.model.save(ok, vf, mutable, arg_fault, capacity);
        let pattern = 0x3Cu8 ^ (self.step as u8).wrapping_mul(0x3B);
        let mut buf = vec![pattern; buffer.unwrap_or(0) + GUARD];
        let mut data_size: UINT64 = size_in;
        let p_size: *mut UINT64 = if call == SaveCall::NullDataSize {
            core::ptr::null_mut()
        } else {
            &raw mut data_size
        };
        let p_data: *mut BYTE = if buffer.is_some() {
            buf.as_mut_ptr()
        } else {
            core::ptr::null_mut()
        };
        let status = if mutable {
            let mut args = DXGKARG_GPUP_SAVE_MUTABLE_MIGRATION_DATA {
                vfIndex: vf,
                DataSize: p_size,
                Data: p_data,
            };
            let f = self
                .table()
                .DxgkDdiSaveMutableMigrationData
                .ok_or("no SaveMutable slot")?;
            let p: *mut _ = if call == SaveCall::NullArgs {
                core::ptr::null_mut()
            } else {
                &raw mut args
            };
            // SAFETY: `p` is NULL or live; `DataSize` NULL or live; `Data` NULL
            // or `buf`, writable for `*DataSize` bytes (and more).
            unsafe { f(h, p) }
        } else {
            let mut args = DXGKARG_GPUP_SAVE_IMMUTABLE_MIGRATION_DATA {
                vfIndex: vf,
                DataSize: p_size,
                Data: p_data,
            };
            let f = self
                .table()
                .DxgkDdiSaveImmutableMigrationData
                .ok_or("no SaveImmutable slot")?;
            let p: *mut _ = if call == SaveCall::NullArgs {
                core::ptr::null_mut()
            } else {
                &raw mut args
            };
            // SAFETY: as above.
            unsafe { f(h, p) }
        };
        self.expect(op, &faults, status)?;
        let written = buf.iter().rposition(|&b| b != pattern).map(|i| i + 1);
        match status {
            STATUS_SUCCESS | STATUS_BUFFER_TOO_SMALL if Some(data_size) != needed => {
                return Err(self.fail(
                    op,
                    format!(
                        "*DataSize is {data_size} after {status:?}, the model needs {needed:?}"
                    ),
                ));
            }
            STATUS_SUCCESS if buffer.is_some() => {
                let n = data_size as usize;
                if written.is_some_and(|w| w > n) {
                    return Err(self.fail(op, format!("wrote past the {n} bytes it needs")));
                }
                let blob = buf[..n].to_vec();
                let kind = if mutable {
                    gpup_miniport::migration::BlobKind::Mutable
                } else {
                    gpup_miniport::migration::BlobKind::Immutable
                };
                if gpup_miniport::migration::inspect(&blob) != Ok(kind) {
                    return Err(self.fail(
                        op,
                        format!(
                            "saved data that decodes as {:?}",
                            gpup_miniport::migration::inspect(&blob)
                        ),
                    ));
                }
                // The immutable data cannot change: a repeated Save of the
                // same vGPU under the same count writes the same bytes.
                let same = self.model.gpu().blobs.iter().rposition(|b| {
                    !mutable
                        && matches!(*b, Blob::Immutable { uid, count, .. }
                            if Some(uid) == self.model.gpu().vgpu(vf).map(|v| v.uid)
                                && count == self.model.gpu().count)
                });
                if let Some(i) = same
                    && self.blobs[i] != blob
                {
                    return Err(self.fail(op, "saved other immutable data than before".into()));
                }
                self.blobs.push(blob);
                self.model.saved(vf, mutable);
                self.stats.saves += 1;
                return Ok(true);
            }
            STATUS_SUCCESS => return Ok(true),
            STATUS_BUFFER_TOO_SMALL => {}
            _ if data_size != size_in => {
                return Err(self.fail(op, format!("failed with {status:?} but set *DataSize")));
            }
            _ => {}
        }
        if let Some(i) = written {
            return Err(self.fail(
                op,
                format!("failed with {status:?} but wrote byte {}", i - 1),
            ));
        }
        Ok(false)
    }

    fn restore(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
        mutable: bool,
        blob: BlobSel,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let (mut bytes, size, described, damaged) = match blob {
            BlobSel::Saved { back, damage } => {
                if self.blobs.is_empty() {
                    (vec![0u8; 64], 64, Blob::Garbage, false)
                } else {
                    let n = self.blobs.len();
                    let i = n - 1 - usize::from(back) % n;
                    let mut b = self.blobs[i].clone();
                    let len = b.len().max(1);
                    match damage {
                        Damage::None => {}
                        Damage::Flip { at, bit } => {
                            if let Some(byte) = b.get_mut(usize::from(at) % len) {
                                *byte ^= 1 << (bit % 8);
                            }
                        }
                        Damage::Truncate { by } => {
                            b.truncate(len.saturating_sub(1 + usize::from(by) % len));
                        }
                        Damage::Append(v) => b.push(v),
                    }
                    let described = if damage == Damage::None {
                        self.model.gpu().blobs[i].clone()
                    } else {
                        Blob::Garbage
                    };
                    let size = b.len() as u64;
                    // Never an empty allocation: `Data` stays non-NULL.
                    b.push(0);
                    (b, size, described, damage != Damage::None)
                }
            }
            BlobSel::Empty => (vec![0u8; 1], 0, Blob::Garbage, false),
            BlobSel::NullData | BlobSel::NullArgs => (vec![0u8; 1], 64, Blob::Garbage, false),
        };
        let arg_fault = matches!(blob, BlobSel::NullData | BlobSel::NullArgs);
        let faults = self.model.restore(ok, vf, mutable, arg_fault, &described);
        let data: *mut BYTE = if blob == BlobSel::NullData {
            core::ptr::null_mut()
        } else {
            bytes.as_mut_ptr()
        };
        let _ = dxgkrnl_model::take_etw_events();
        let status = if mutable {
            let args = DXGKARG_GPUP_RESTORE_MUTABLE_MIGRATION_DATA {
                vfIndex: vf,
                DataSize: size,
                Data: data,
            };
            let f = self
                .table()
                .DxgkDdiRestoreMutableMigrationData
                .ok_or("no RestoreMutable slot")?;
            let p: *const _ = if blob == BlobSel::NullArgs {
                core::ptr::null()
            } else {
                &raw const args
            };
            // SAFETY: `p` is NULL or live; `Data` is NULL or `bytes`, readable
            // for `DataSize` bytes (`bytes` is one longer).
            unsafe { f(h, p) }
        } else {
            let args = DXGKARG_GPUP_RESTORE_IMMUTABLE_MIGRATION_DATA {
                vfIndex: vf,
                DataSize: size,
                Data: data,
            };
            let f = self
                .table()
                .DxgkDdiRestoreImmutableMigrationData
                .ok_or("no RestoreImmutable slot")?;
            let p: *const _ = if blob == BlobSel::NullArgs {
                core::ptr::null()
            } else {
                &raw const args
            };
            // SAFETY: as above.
            unsafe { f(h, p) }
        };
        self.expect(op, &faults, status)?;
        let events = dxgkrnl_model::take_etw_events().len();
        let want = usize::from(status == STATUS_OBJECT_TYPE_MISMATCH);
        if events != want {
            return Err(self.fail(
                op,
                format!("{status:?} logged {events} ETW event(s), not {want}"),
            ));
        }
        if status == STATUS_OBJECT_TYPE_MISMATCH && damaged {
            self.stats.corrupt_rejected += 1;
        }
        if status != STATUS_SUCCESS {
            return Ok(false);
        }
        self.model.restored(vf, &described);
        self.stats.restores += 1;
        if mutable {
            self.stats.migrations += 1;
        }
        Ok(true)
    }
}
