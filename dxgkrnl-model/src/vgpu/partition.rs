//! The partition interface as management calls it (count, profiles, the
//! vGPUs' info, VM bus, escape) and the binding of reserves
//! (SetVirtualGpuResources, SetVirtualGpuResources2 with
//! `DXGKQAITYPE_SCATTER_RESERVE`): one call per DDI, for the creation flow
//! and for tests.

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

use crate::adapter::Adapter;
use crate::records::{BasisHandle, Reserve, VgpuInfo};
use crate::status::{Result, check};

impl Adapter {
    /// `DxgkDdiGetGpuPartitionInfo`, with the BUFFER_TOO_SMALL round Dxgkrnl
    /// turns into a retry: (options, current count).
    ///
    /// # Errors
    /// The driver's failure status; `STATUS_NOT_SUPPORTED` without GPU-P;
    /// `STATUS_UNSUCCESSFUL` for an answer Dxgkrnl rejects (0 options, or more
    /// than the capacity).
    pub fn partition_info(&self) -> Result<(Vec<u16>, u16)> {
        let g = self.gpup()?;
        let f = g
            .partition
            .DxgkDdiGetGpuPartitionInfo
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let mut args = DXGKARG_GETGPUPARTITIONINFO::zeroed();
        // SAFETY: a DDI of the loaded driver; `args` is live.
        let status = unsafe { f(g.partition.Context, &raw mut args) };
        if status != STATUS_BUFFER_TOO_SMALL {
            check(status)?;
        }
        let capacity = args.NumGpuPartitionOptions;
        let mut options = vec![0u16; capacity as usize];
        let mut args = DXGKARG_GETGPUPARTITIONINFO {
            NumGpuPartitionOptions: capacity,
            pGpuPartitionOptions: options.as_mut_ptr(),
            CurrentGpuPartitionCount: 0,
        };
        // SAFETY: as above; the array holds `capacity` entries.
        check(unsafe { f(g.partition.Context, &raw mut args) })?;
        if args.NumGpuPartitionOptions == 0 || args.NumGpuPartitionOptions > capacity {
            return Err(STATUS_UNSUCCESSFUL);
        }
        options.truncate(args.NumGpuPartitionOptions as usize);
        Ok((options, args.CurrentGpuPartitionCount))
    }

    /// `DxgkDdiSetGpuPartitionCount`; Dxgkrnl itself refuses a change while a
    /// vGPU it created lives (`STATUS_INVALID_DEVICE_STATE`).
    ///
    /// # Errors
    /// As described; the driver's failure status.
    pub fn set_partition_count(&self, count: u32) -> Result<()> {
        let g = self.gpup()?;
        let (_, current) = self.partition_info()?;
        if u32::from(current) != count && !g.state().vgpus.is_empty() {
            return Err(STATUS_INVALID_DEVICE_STATE);
        }
        let f = g
            .partition
            .DxgkDdiSetGpuPartitionCount
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let args = DXGKARG_SETGPUPARTITIONCOUNT {
            PartitionCount: count,
        };
        // SAFETY: a DDI of the loaded driver; `args` is live.
        check(unsafe { f(g.partition.Context, &raw const args) })
    }

    /// `DxgkDdiGetVirtualGpuProfile` for `count` partitions.
    ///
    /// # Errors
    /// The driver's failure status.
    pub fn vgpu_profile(&self, count: u32) -> Result<DXGKARG_GETVIRTUALGPUPROFILE> {
        let g = self.gpup()?;
        let f = g
            .partition
            .DxgkDdiGetVirtualGpuProfile
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let mut args = DXGKARG_GETVIRTUALGPUPROFILE::zeroed();
        args.PartitionCount = count;
        // SAFETY: a DDI of the loaded driver; `args` is live.
        check(unsafe { f(g.partition.Context, &raw mut args) })?;
        Ok(args)
    }

    /// The vGPUs the model created and has not destroyed.
    #[must_use]
    pub fn vgpus(&self) -> Vec<VgpuInfo> {
        self.gpu_virtualization()
            .map_or_else(Vec::new, |g| g.state().vgpus.values().cloned().collect())
    }

    /// `DxgkDdiGetVirtualGpuInfo`.
    ///
    /// # Errors
    /// The driver's status.
    pub fn vgpu_info(&self, partition: u32) -> Result<[DXGK_VGPU_CAPABILITY; 4]> {
        let g = self.gpup()?;
        let f = g
            .partition
            .DxgkDdiGetVirtualGpuInfo
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let mut args = DXGKARG_GETVIRTUALGPUINFO::zeroed();
        args.PartitionId = partition;
        // SAFETY: a DDI of the loaded driver; `args` is live.
        check(unsafe { f(g.partition.Context, &raw mut args) })?;
        Ok(args.Capability)
    }

    /// `DxgkDdiDestroyVirtualGpu` alone (no teardown of what Dxgkrnl made).
    #[must_use]
    pub fn destroy_vgpu_raw(&self, partition: u32) -> NTSTATUS {
        let Ok(g) = self.gpup() else {
            return STATUS_NOT_SUPPORTED;
        };
        let Some(f) = g.partition.DxgkDdiDestroyVirtualGpu else {
            return STATUS_NOT_SUPPORTED;
        };
        let args = DXGKARG_DESTROYVIRTUALGPU {
            PartitionId: partition,
        };
        // SAFETY: a DDI of the loaded driver; `args` is live.
        unsafe { f(g.partition.Context, &raw const args) }
    }

    /// `DxgkDdiSetVirtualGpuVmBus`.
    ///
    /// # Errors
    /// The driver's status.
    pub fn set_vgpu_vmbus(&self, partition: u32, handle: usize) -> Result<()> {
        let g = self.gpup()?;
        let f = g
            .partition
            .DxgkDdiSetVirtualGpuVmBus
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let args = DXGKARG_SETVIRTUALGPUVMBUS {
            VirtualGpuIndex: partition,
            VmBusHandle: core::ptr::without_provenance_mut(handle),
        };
        // SAFETY: a DDI of the loaded driver; `args` is live.
        check(unsafe { f(g.partition.Context, &raw const args) })
    }

    /// `DxgkDdiSetVirtualGpuResources` for `reserves`, in order.
    ///
    /// # Errors
    /// The driver's status.
    pub fn set_vgpu_resources(&self, partition: u32, reserves: &[Reserve]) -> Result<()> {
        let g = self.gpup()?;
        let f = g
            .partition
            .DxgkDdiSetVirtualGpuResources
            .ok_or(STATUS_NOT_SUPPORTED)?;
        // A block of `8 + 32 * N` bytes, 8-byte aligned.
        let n = reserves.len().max(1);
        let mut block = vec![0u64; 1 + 4 * n];
        block[0] = u64::from(partition) | ((reserves.len() as u64) << 32);
        for (i, r) in reserves.iter().enumerate() {
            let e = 1 + 4 * i;
            block[e] = r.allocation as u64;
            block[e + 1] = u64::from(r.segment);
            block[e + 2] = r.offset;
            block[e + 3] = r.size;
        }
        // SAFETY: a DDI of the loaded driver; `block` is a complete argument block.
        check(unsafe { f(g.partition.Context, block.as_ptr().cast()) })
    }

    /// `DxgkDdiSetVirtualGpuResources2` with a raw block.
    ///
    /// # Safety
    /// `args` is NULL or a readable block of `SegmentCount` descriptors (or
    /// of as many as the driver reads before it rejects the count).
    #[must_use]
    pub unsafe fn set_vgpu_resources2_raw(
        &self,
        args: *const DXGKARG_SETVIRTUALGPURESOURCES2,
    ) -> NTSTATUS {
        let Some(f) = self.driver().table().DxgkDdiSetVirtualGpuResources2 else {
            return STATUS_NOT_SUPPORTED;
        };
        // SAFETY: a DDI of the loaded driver; the caller owns the block.
        unsafe { f(self.context(), args) }
    }

    /// `DxgkDdiSetVirtualGpuResources2` with one descriptor per
    /// (allocation handle as an address, memory basis).
    #[must_use]
    pub fn set_vgpu_resources2(&self, vf: u32, descriptors: &[(usize, BasisHandle)]) -> NTSTATUS {
        // 8 bytes of header, then 16 per descriptor (at least one, as declared).
        let mut block = vec![0u64; 1 + 2 * descriptors.len().max(1)];
        block[0] = u64::from(vf) | ((descriptors.len() as u64) << 32);
        for (i, (allocation, basis)) in descriptors.iter().enumerate() {
            block[1 + 2 * i] = *allocation as u64;
            block[2 + 2 * i] = basis.0.addr() as u64;
        }
        // SAFETY: `block` is a complete argument block.
        unsafe { self.set_vgpu_resources2_raw(block.as_ptr().cast()) }
    }

    /// `DXGKQAITYPE_SCATTER_RESERVE` of `segment`: the granularity of the
    /// ranges SetVirtualGpuResources2 takes.
    ///
    /// # Errors
    /// The query's failure status; `STATUS_UNSUCCESSFUL` for a zero answer.
    pub fn scatter_granularity(&self, segment: u32) -> Result<u64> {
        let input = DXGK_QUERYSCATTERRESERVEIN { SegmentId: segment };
        let out: DXGK_QUERYSCATTERRESERVEOUT =
            self.query_adapter_info(DXGKQAITYPE_SCATTER_RESERVE, &input.SegmentId.to_le_bytes())?;
        if out.SetVGPUResourcesPageSize == 0 {
            return Err(STATUS_UNSUCCESSFUL);
        }
        Ok(out.SetVGPUResourcesPageSize)
    }

    /// `DxgkDdiVirtualGpuDriverEscape` as the UMED's IOCTL reaches it: the
    /// input is `luid`, the command header and `payload`; returns the bytes
    /// the driver reported written (the IOCTL's byte count).
    ///
    /// # Errors
    /// The driver's status.
    pub fn vgpu_escape(
        &self,
        partition: u32,
        luid: LUID,
        command: u32,
        payload: &[u8],
        output_capacity: usize,
    ) -> Result<Vec<u8>> {
        let g = self.gpup()?;
        let f = g
            .partition
            .DxgkDdiVirtualGpuDriverEscape
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let mut input = Vec::new();
        input.extend(luid.LowPart.to_le_bytes());
        input.extend(luid.HighPart.to_le_bytes());
        input.extend(command.to_le_bytes());
        input.extend((payload.len() as u32).to_le_bytes());
        input.extend(payload);
        let mut output = vec![0u8; output_capacity];
        let mut args = DXGK_VIRTUALGPUDRIVERESCAPE {
            PartitionId: partition,
            InputBufferSize: input.len() as ULONG,
            OutputBufferSize: output_capacity as ULONG,
            pInputBuffer: input.as_mut_ptr().cast(),
            pOutputBuffer: output.as_mut_ptr().cast(),
        };
        // SAFETY: a DDI of the loaded driver; both buffers live across the call.
        check(unsafe { f(g.partition.Context, &raw mut args) })?;
        output.truncate(args.OutputBufferSize as usize);
        Ok(output)
    }

    /// The VF writes `[offset, offset + len)` of its VRAM: the software VF's
    /// GPU reports it through the escape (`GPUP_VGPU_ESCAPE_WRITE_NOTIFY`).
    ///
    /// # Errors
    /// The driver's status.
    pub fn vf_write_notify(&self, vgpu: &VgpuInfo, offset: u64, len: u64) -> Result<()> {
        let mut payload = Vec::with_capacity(16);
        payload.extend(offset.to_le_bytes());
        payload.extend(len.to_le_bytes());
        self.vgpu_escape(
            vgpu.partition,
            vgpu.luid,
            gpup_miniport::vgpu::escape::GPUP_VGPU_ESCAPE_WRITE_NOTIFY,
            &payload,
            0,
        )
        .map(drop)
    }

    /// The driver's description of a vGPU (`GPUP_VGPU_ESCAPE_QUERY`).
    ///
    /// # Errors
    /// The driver's status; `STATUS_UNSUCCESSFUL` for a malformed reply.
    pub fn vgpu_query(
        &self,
        vgpu: &VgpuInfo,
    ) -> Result<gpup_miniport::vgpu::escape::GPUP_VGPU_ESCAPE_INFO> {
        use gpup_miniport::vgpu::escape::{GPUP_VGPU_ESCAPE_INFO, GPUP_VGPU_ESCAPE_QUERY};
        let out = self.vgpu_escape(
            vgpu.partition,
            vgpu.luid,
            GPUP_VGPU_ESCAPE_QUERY,
            &[],
            GPUP_VGPU_ESCAPE_INFO::SIZE,
        )?;
        GPUP_VGPU_ESCAPE_INFO::decode(&out).ok_or(STATUS_UNSUCCESSFUL)
    }
}
