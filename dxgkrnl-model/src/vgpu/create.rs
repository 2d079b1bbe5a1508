//! vGPU creation and teardown as Dxgkrnl and VidMm play them (section 5):
//! CreateVirtualGpu, the reserves ([`super::vidmm`]) and their memory bases,
//! then SetVirtualGpuResources, GetVirtualGpuInfo, the virtual-PCI probe,
//! SetVirtualGpuVmBus and D0; teardown in the observed order.

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

use super::sriov::{POWER_DEVICE_D0, POWER_DEVICE_D3};
use crate::adapter::Adapter;
use crate::gpuvirt::GpuVirtualization;
use crate::records::{BasisHandle, VfProbe, VgpuInfo};
use crate::status::{Result, check};

/// Most `SegmentInfo` entries Dxgkrnl accepts from CreateVirtualGpu.
const MAX_SEGMENT_INFOS: ULONG = 32;

/// How far [`Adapter::create_vgpu_until`] goes (section 5's step numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Steps 7-8: CreateVirtualGpu and the pinned reserves, no memory basis.
    Reserved,
    /// Steps 7-9: also a memory basis per tracked reserve (tracked if performant).
    Based,
    /// Steps 7-14: bound, probed, on the VM bus, in D0.
    Running,
}

/// What management asks for when it creates a vGPU.
#[derive(Debug, Clone, Default)]
pub struct VgpuRequest {
    /// The slot, or `None` for the lowest free one (Dxgkrnl's choice).
    pub partition: Option<u32>,
    /// Per capability (Min, Max, Optimal); all zero = not specified.
    pub profile: [(u64, u64, u64); 4],
    /// Where VidMm places the (first) reserve: `None` for first fit in one
    /// piece, bound with SetVirtualGpuResources; `Some(pieces)` for these
    /// (segment offset, bytes) pieces in VF address order, which must add up
    /// to the reserve and be multiples of the scatter granularity
    /// (`DXGKQAITYPE_SCATTER_RESERVE`); the reserve is then bound with
    /// SetVirtualGpuResources2 over a memory basis of those pieces. Needs
    /// `ScatterMapReserve` (`STATUS_NOT_SUPPORTED` otherwise).
    pub placement: Option<Vec<(u64, u64)>>,
}

impl VgpuRequest {
    /// A request for `bytes` of VRAM (Min = Max = Optimal), the rest unspecified.
    #[must_use]
    pub fn vram(bytes: u64) -> Self {
        let mut r = Self::default();
        r.profile[0] = (bytes, bytes, bytes);
        r
    }
}

impl Adapter {
    /// Creates a vGPU as Dxgkrnl and VidMm do (module docs), and runs it (D0).
    /// Anything failing after a successful CreateVirtualGpu is cleaned up with
    /// DestroyVirtualGpu and the teardown order.
    ///
    /// # Errors
    /// `STATUS_NOT_SUPPORTED` without GPU-P; `STATUS_INVALID_PARAMETER` for a
    /// slot at or above the count (Dxgkrnl's own check);
    /// `STATUS_INSUFFICIENT_RESOURCES` when every slot is used (Dxgkrnl's "no
    /// more entries") or VidMm cannot place a reserve; the first failing
    /// DDI's status; `STATUS_UNSUCCESSFUL` for an answer Dxgkrnl rejects.
    pub fn create_vgpu(&self, request: &VgpuRequest) -> Result<VgpuInfo> {
        self.create_vgpu_until(request, Stage::Running)
    }

    /// Steps 7-9 of section 5 only: CreateVirtualGpu, the reserves (standard
    /// allocations, pinned) and their memory bases, but no
    /// SetVirtualGpuResources, probe, VM bus or D0. For tests of the binding
    /// itself; [`Self::destroy_vgpu`] tears it down as usual.
    ///
    /// # Errors
    /// As [`Self::create_vgpu`].
    pub fn create_vgpu_unbound(&self, request: &VgpuRequest) -> Result<VgpuInfo> {
        self.create_vgpu_until(request, Stage::Based)
    }

    /// Creates a vGPU up to `stage` (see [`Stage`]); [`Self::run_vgpu`]
    /// continues it, [`Self::destroy_vgpu`] tears down whatever exists.
    /// With [`Stage::Reserved`] the caller plays the memory-basis part itself
    /// (as the live-migration orchestration does), before `run_vgpu`.
    ///
    /// # Errors
    /// As [`Self::create_vgpu`].
    pub fn create_vgpu_until(&self, request: &VgpuRequest, stage: Stage) -> Result<VgpuInfo> {
        let vgpu = self.create_vgpu_stage(request, stage != Stage::Reserved)?;
        if stage == Stage::Running {
            return self.run_vgpu(vgpu.partition);
        }
        Ok(vgpu)
    }

    /// Steps 10-14 of section 5 for a vGPU created with
    /// [`Self::create_vgpu_until`]: SetVirtualGpuResources, GetVirtualGpuInfo,
    /// the virtual-PCI probe, SetVirtualGpuVmBus and D0. On failure the vGPU
    /// is destroyed, as Dxgkrnl does after a failure following a successful
    /// CreateVirtualGpu.
    ///
    /// # Errors
    /// `STATUS_INVALID_PARAMETER` for a slot the model has no vGPU in; the
    /// failing DDI's status; `STATUS_UNSUCCESSFUL` for a LUID that differs
    /// between CreateVirtualGpu and the SR-IOV interface.
    pub fn run_vgpu(&self, partition: u32) -> Result<VgpuInfo> {
        self.run_vgpu_with(partition, &[])
    }

    /// [`Self::run_vgpu`], binding the reserves with SetVirtualGpuResources2
    /// over `bases` (one per reserve, created by the caller over the
    /// reserve's pieces, and destroyed by the caller: the model's teardown
    /// leaves them alone), as the live-migration orchestration does with the
    /// bases it tracks. With no bases, as [`Self::run_vgpu`].
    ///
    /// # Errors
    /// As [`Self::run_vgpu`].
    pub fn run_vgpu_with(&self, partition: u32, bases: &[BasisHandle]) -> Result<VgpuInfo> {
        let g = self.gpup()?;
        let mut vgpu = g
            .state()
            .vgpus
            .get(&partition)
            .cloned()
            .ok_or(STATUS_INVALID_PARAMETER)?;
        match self.run(g, &mut vgpu, bases) {
            Ok(()) => {
                g.state().vgpus.insert(partition, vgpu.clone());
                Ok(vgpu)
            }
            Err(status) => {
                eprintln!("dxgkrnl-model: vGPU {partition} failed to start: {status:?}");
                let _ = self.destroy_vgpu(partition);
                Err(status)
            }
        }
    }

    fn create_vgpu_stage(&self, request: &VgpuRequest, bases: bool) -> Result<VgpuInfo> {
        let g = self.gpup()?;
        let (_, count) = self.partition_info()?;
        let count = u32::from(count);
        let partition = {
            let state = g.state();
            match request.partition {
                Some(p) if p >= count => return Err(STATUS_INVALID_PARAMETER),
                Some(p) => p,
                None => (0..count)
                    .find(|p| !state.vgpus.contains_key(p))
                    .ok_or(STATUS_INSUFFICIENT_RESOURCES)?,
            }
        };
        self.host_device(g)?;
        let create = g
            .partition
            .DxgkDdiCreateVirtualGpu
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let mut args = Box::new(DXGKARG_CREATEVIRTUALGPU::zeroed());
        args.PartitionId = partition;
        for (c, &(min, max, optimal)) in args.Profile.Capability.iter_mut().zip(&request.profile) {
            *c = DXGK_VIRTUALGPUCAPABILITY {
                MinValue: min,
                MaxValue: max,
                OptimalValue: optimal,
            };
        }
        // SAFETY: a DDI of the loaded driver; `args` is live.
        check(unsafe { create(g.partition.Context, &raw mut *args) })?;
        let mut vgpu = VgpuInfo {
            partition,
            luid: args.VirtualGpuLuid,
            umed: args.UserModeVirtualDeviceProvider,
            reserves: Vec::new(),
            pieces: Vec::new(),
            caps: [DXGK_VGPU_CAPABILITY::zeroed(); 4],
            probe: VfProbe {
                vendor_id: 0,
                device_id: 0,
                probed_bars: [0; 6],
                mmio_range_count: [0; 6],
                mmio_ranges: Vec::new(),
                luid: LUID::zeroed(),
            },
            vmbus: 0,
        };
        match self.reserve(g, &args, &mut vgpu, bases, request.placement.as_deref()) {
            Ok(()) => {
                g.state().vgpus.insert(partition, vgpu.clone());
                Ok(vgpu)
            }
            Err(status) => {
                eprintln!("dxgkrnl-model: vGPU {partition} bring-up failed: {status:?}");
                let _ = self.tear_down(g, &vgpu);
                Err(status)
            }
        }
    }

    /// The GPU-P host device, made through `DxgkDdiCreateDevice` the first
    /// time a vGPU is created (spec 6 item 1); its failure fails the vGPU's
    /// creation with `STATUS_NO_MEMORY`, as Dxgkrnl's "Failed to create
    /// partitioned GPU device" does.
    fn host_device(&self, g: &GpuVirtualization) -> Result<crate::records::DeviceHandle> {
        if let Some(device) = g.state().host_device {
            return Ok(device);
        }
        let device = self
            .create_device(CreateDeviceFlags::empty(), None)
            .map_err(|_| STATUS_NO_MEMORY)?;
        g.state().host_device = Some(device);
        Ok(device)
    }

    /// The GPU-P host device, if a vGPU has been created since the start.
    #[must_use]
    pub fn gpup_host_device(&self) -> Option<crate::records::DeviceHandle> {
        self.gpup().ok().and_then(|g| g.state().host_device)
    }

    /// Steps 8 and (with `bases`) 9 of section 5 for a vGPU
    /// CreateVirtualGpu returned: its reserves, and their memory bases.
    fn reserve(
        &self,
        g: &GpuVirtualization,
        created: &DXGKARG_CREATEVIRTUALGPU,
        vgpu: &mut VgpuInfo,
        bases: bool,
        placement: Option<&[(u64, u64)]>,
    ) -> Result<()> {
        if created.NumMemorySegments > MAX_SEGMENT_INFOS {
            return Err(STATUS_UNSUCCESSFUL);
        }
        let caps = self.caps().clone();
        for (i, info) in created
            .SegmentInfo
            .iter()
            .take(created.NumMemorySegments as usize)
            .enumerate()
        {
            let (reserve, pieces) = self.create_reserve(g, info, placement.filter(|_| i == 0))?;
            vgpu.reserves.push(reserve);
            vgpu.pieces.push(pieces);
            let Some(reserve) = vgpu.reserves.last_mut() else {
                return Err(STATUS_UNSUCCESSFUL);
            };
            let tracked = caps
                .segment_page_sizes
                .iter()
                .any(|&(id, page)| id == info.DriverSegmentId && page.is_some());
            if tracked && bases {
                // Before the KMD learns the reserve belongs to the vGPU; for
                // a scattered reserve, its pieces in VF address order.
                let pieces = vgpu.pieces.last().ok_or(STATUS_UNSUCCESSFUL)?;
                let basis = self
                    .create_memory_basis(reserve.segment, pieces)
                    .ok_or(STATUS_UNSUCCESSFUL)?;
                reserve.basis = Some(basis);
                if caps
                    .dirty_bit_tracking
                    .contains(DirtyBitTrackingCaps::DirtyBitTrackingPerformant)
                {
                    check(self.start_dirty_tracking(basis))?;
                    reserve.tracking = true;
                }
            }
        }
        Ok(())
    }

    /// Steps 10-14 of section 5. A scattered reserve is bound with
    /// SetVirtualGpuResources2 over `bases[i]` (the caller's) or else the
    /// basis the model created for it; contiguous reserves with
    /// SetVirtualGpuResources.
    fn run(&self, g: &GpuVirtualization, vgpu: &mut VgpuInfo, bases: &[BasisHandle]) -> Result<()> {
        let p = vgpu.partition;
        if vgpu.reserves.iter().any(|r| r.scattered) || !bases.is_empty() {
            let mut descriptors = Vec::new();
            for (i, r) in vgpu.reserves.iter().enumerate() {
                let basis = bases
                    .get(i)
                    .copied()
                    .or(r.basis)
                    .ok_or(STATUS_UNSUCCESSFUL)?;
                descriptors.push((r.allocation, basis));
            }
            check(self.set_vgpu_resources2(p, &descriptors))?;
        } else {
            self.set_vgpu_resources(p, &vgpu.reserves)?;
        }
        vgpu.caps = self.vgpu_info(p)?;
        vgpu.probe = self.probe_vf(p)?;
        if vgpu.probe.luid != vgpu.luid {
            eprintln!("dxgkrnl-model: VF {p} LUID differs from CreateVirtualGpu's");
            return Err(STATUS_UNSUCCESSFUL);
        }
        let handle = {
            let mut state = g.state();
            state.next_vmbus += 1;
            0x564D_4200_0000 + state.next_vmbus
        };
        self.set_vgpu_vmbus(p, handle as usize)?;
        vgpu.vmbus = handle as usize;
        self.set_vf_power(p, POWER_DEVICE_D0, false)
    }

    /// DestroyVirtualGpu's teardown, in the observed order, for whatever of
    /// the vGPU exists. Returns the first failure of the KMD's calls after
    /// DestroyVirtualGpu (whose own status Dxgkrnl ignores).
    fn tear_down(&self, g: &GpuVirtualization, vgpu: &VgpuInfo) -> Result<()> {
        let p = vgpu.partition;
        let _ = self.set_vf_power(p, POWER_DEVICE_D3, false);
        let _ = self.destroy_vgpu_raw(p);
        let mut first = Ok(());
        for r in &vgpu.reserves {
            let result = self.destroy_allocations(&[r.allocation]);
            first = first.and(result);
        }
        for (i, r) in vgpu.reserves.iter().enumerate() {
            if let Some(basis) = r.basis {
                if r.tracking {
                    first = first.and(check(self.stop_dirty_tracking(basis)));
                }
                first = first.and(check(self.destroy_memory_basis(basis)));
            }
            let whole = [(r.offset, r.size)];
            Self::unpin(g, r.segment, vgpu.pieces.get(i).map_or(&whole[..], |p| p));
        }
        first
    }

    /// Destroys a vGPU the model created (VM stop), in the observed order:
    /// D3, DestroyVirtualGpu, DestroyAllocation per reserve, StopDirtyTracking,
    /// DestroyMemoryBasis.
    ///
    /// # Errors
    /// `STATUS_INVALID_PARAMETER` for a slot the model has no vGPU in; the
    /// first failure of DestroyAllocation, StopDirtyTracking or DestroyMemoryBasis.
    pub fn destroy_vgpu(&self, partition: u32) -> Result<()> {
        let g = self.gpup()?;
        let vgpu = g
            .state()
            .vgpus
            .remove(&partition)
            .ok_or(STATUS_INVALID_PARAMETER)?;
        self.tear_down(g, &vgpu)
    }
}
