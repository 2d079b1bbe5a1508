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

mod guest;
mod iface;
mod migration;
mod reserve;
mod vf;

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

use super::{GUARD, World};
use crate::model::SEGMENTS;
use crate::model::vgpu::{VF_PAGE, VF_SEGMENT};
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
                self.set_partition_count(op, adapter, count)
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
            VgpuOp::DestroyVgpu { adapter, vf } => self.destroy_vgpu(op, adapter, vf),
            VgpuOp::GetVgpuInfo { adapter, vf } => self.vgpu_info(op, adapter, vf),
            VgpuOp::CreateReserve { adapter, vf } => self.create_reserve(op, adapter, vf),
            VgpuOp::DestroyReserve { adapter, alloc } => self.destroy_reserve(op, adapter, alloc),
            VgpuOp::ReserveBasis(layout) => self.reserve_basis(op, layout),
            VgpuOp::SetResources {
                adapter,
                vf,
                alloc,
                segment,
                place,
                short,
            } => self.set_resources(op, adapter, vf, alloc, segment, place, short),
            VgpuOp::SetResources2 {
                adapter,
                vf,
                alloc,
                basis,
            } => self.set_resources2(op, adapter, vf, alloc, basis),
            VgpuOp::Pause { adapter, vf, pause } => self.pause(op, adapter, vf, pause),
            VgpuOp::WriteInterrupt { adapter, vf, index } => {
                self.write_interrupt(op, adapter, vf, index)
            }
            VgpuOp::Prepare { adapter, vf, ty } => self.prepare(op, adapter, vf, ty),
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
            VgpuOp::End { adapter, vf } => self.end(op, adapter, vf),
            VgpuOp::SetPower { adapter, vf, state } => self.set_power(op, adapter, vf, state),
            VgpuOp::QueryLuid { adapter, vf } => self.query_luid(op, adapter, vf),
            VgpuOp::Escape {
                adapter,
                vf,
                luid_ok,
                command,
                declared,
                ref payload,
                out,
            } => self.escape(op, adapter, vf, (luid_ok, command, declared), payload, out),
        }
    }

    /// `DxgkDdiSetGpuPartitionCount`.
    fn set_partition_count(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        count: u32,
    ) -> Result<bool, String> {
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
        self.vf_luids.insert(vf, key);
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

    /// `DxgkDdiDestroyVirtualGpu`.
    fn destroy_vgpu(&mut self, op: &Op, adapter: AdapterSel, vf: u32) -> Result<bool, String> {
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
}
