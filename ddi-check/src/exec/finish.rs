//! The checks at the end of a sequence: everything torn down in the OS's
//! order, every handle dead, the other adapter's basis intact.

use dxgk_sys::*;

use super::{Stats, World, raw_ptr};
use crate::ops::*;

impl World {
    /// The checks at the end of a sequence (see the module documentation).
    ///
    /// # Errors
    /// The first difference, described.
    pub fn finish(mut self) -> Result<Stats, String> {
        self.engine_finish()?;
        // The OS's teardown order (gpu-partitioning.md section 5, step 18):
        // each vGPU, then its allocation, then (below) the memory bases,
        // which outlive the reserve.
        let this = AdapterSel::This;
        let live: Vec<u32> = self.model.gpu().live().map(|(vf, _)| vf).collect();
        for &vf in &live {
            // Each VF's configuration space is the model's, to the byte.
            self.check_config(&"finish", vf)?;
            self.run(&Op::Vgpu(VgpuOp::DestroyVgpu { adapter: this, vf }))?;
            // A second destroy of the slot is refused.
            self.run(&Op::Vgpu(VgpuOp::DestroyVgpu { adapter: this, vf }))?;
        }
        let allocs: Vec<usize> = (0..self.allocs.len())
            .filter(|&i| self.model.gpu().allocs[i].live)
            .map(|i| self.allocs[i])
            .collect();
        for handle in allocs {
            let alloc = AllocSel::Forged(handle as u64);
            self.run(&Op::Vgpu(VgpuOp::DestroyReserve {
                adapter: this,
                alloc,
            }))?;
        }
        if self.model.gpu().live().next().is_some()
            || self.model.gpu().allocs.iter().any(|a| a.live)
        {
            return Err(self.fail(&"finish", "vGPUs or reserves survived".into()));
        }
        let live: Vec<usize> = self.model.live().iter().map(|(h, _)| *h).collect();
        for handle in &live {
            let read_back = Op::whole_query(AdapterSel::This, HandleSel::Forged(*handle as u64), 0);
            self.run(&read_back)?;
            if self.model.basis(*handle).is_some_and(|b| b.dirty.is_some()) {
                self.run(&Op::Stop {
                    adapter: AdapterSel::This,
                    basis: HandleSel::Forged(*handle as u64),
                })?;
            }
            self.run(&Op::Destroy {
                adapter: AdapterSel::This,
                basis: HandleSel::Forged(*handle as u64),
            })?;
        }
        if !self.model.live().is_empty() {
            return Err(self.fail(&"finish", "bases survived their destroy".into()));
        }
        if self.model.started() {
            for &handle in &self.allocs.clone() {
                let alloc = AllocSel::Forged(handle as u64);
                self.run(&Op::Vgpu(VgpuOp::DestroyReserve {
                    adapter: this,
                    alloc,
                }))?;
            }
        }
        for &handle in &self.issued {
            let start = self
                .table()
                .DxgkDdiStartDirtyTracking
                .ok_or("no Start slot")?;
            // SAFETY: handles are values.
            let status = unsafe { start(self.adapter.context(), raw_ptr(handle)) };
            if status != STATUS_INVALID_HANDLE {
                return Err(self.fail(
                    &"finish",
                    format!("handle {handle:#x} still answers {status:?}"),
                ));
            }
        }
        let mut clean = vec![0xFFu8; 8];
        let status = self
            .other
            .query_dirty_bits(self.foreign, None, false, &mut clean);
        if status != STATUS_SUCCESS || clean != [0; 8] {
            return Err(self.fail(
                &"finish",
                format!("the other adapter's basis answers {status:?} with bits {clean:02x?}"),
            ));
        }
        if self.other.destroy_memory_basis(self.foreign) != STATUS_SUCCESS {
            return Err(self.fail(
                &"finish",
                "the other adapter's basis did not destroy".into(),
            ));
        }
        Ok(self.stats)
    }
}
