//! The OS side of GPU partitioning (`../shared/spec/gpu-partitioning.md`
//! sections 2 and 5), as Dxgkrnl and VidMm play it:
//!
//! - at adapter start, [`Adapter::start`] runs the GPU-virtualization
//!   initialization of section 2: the partition interface (128/1), its twelve
//!   pointers, `DXGKQAITYPE_GPUPCAPS`, the SR-IOV interface (120/1) and its
//!   eleven pointers, the mitigable (48/1) and FlexIOV (56/1) interfaces (one
//!   of them required of a WDDM 3.2 driver), and the LiveMigration rules. It
//!   fails the start with the status Windows uses, or leaves the adapter
//!   without GPU-P where Windows silently would;
//! - vGPU creation plays Dxgkrnl and VidMm: CreateVirtualGpu, then per
//!   requested reserve a standard allocation of type
//!   `D3DKMDT_STANDARDALLOCATION_VGPU` (GetStandardAllocationDriverData,
//!   CreateAllocation), pinned at an offset of the segment (first fit), a
//!   memory basis over it in a tracked segment (with StartDirtyTracking when
//!   tracking is performant), then SetVirtualGpuResources, GetVirtualGpuInfo,
//!   the virtual-PCI probe of the VF, SetVirtualGpuVmBus and D0;
//! - teardown in the observed order: D3, DestroyVirtualGpu, DestroyAllocation
//!   per reserve, StopDirtyTracking, DestroyMemoryBasis; at adapter stop,
//!   InterfaceDereference of every interface taken.
//!
//! Where section 2 leaves a status unstated, this model's choice is marked
//! `[inf]` in the comments.

use std::collections::BTreeMap;
use std::sync::Mutex;

use dxgk_sys::abi::{Record, Zeroable};
use dxgk_sys::*;

use crate::adapter::Adapter;
use crate::basis::BasisHandle;
use crate::{Result, check};

/// The four interface GUIDs, as the model (playing Dxgkrnl) knows them: the
/// model's own copy of the table of section 2, kept apart from the driver's
/// (`gpup_miniport::interfaces`) so that a wrong GUID on either side fails;
/// `tests/gpup_interface.rs` checks both against the spec text.
pub mod guids {
    use dxgk_sys::GUID;

    /// `{462BC153-40EB-484A-8168-9972E3CD5AEF}`.
    pub const GPU_PARTITION: GUID = GUID::new(
        0x462B_C153,
        0x40EB,
        0x484A,
        [0x81, 0x68, 0x99, 0x72, 0xE3, 0xCD, 0x5A, 0xEF],
    );
    /// `{D7172248-F296-4C50-A6F5-D25D8073063A}`.
    pub const SRIOV: GUID = GUID::new(
        0xD717_2248,
        0xF296,
        0x4C50,
        [0xA6, 0xF5, 0xD2, 0x5D, 0x80, 0x73, 0x06, 0x3A],
    );
    /// `{1387F270-121A-4A4A-B25E-3B1589976C61}`.
    pub const MITIGABLE_DEVICE: GUID = GUID::new(
        0x1387_F270,
        0x121A,
        0x4A4A,
        [0xB2, 0x5E, 0x3B, 0x15, 0x89, 0x97, 0x6C, 0x61],
    );
    /// `{7B73A997-48E8-4CAB-9FAB-E0774B44F599}`.
    pub const FLEXIOV_DEVICE: GUID = GUID::new(
        0x7B73_A997,
        0x48E8,
        0x4CAB,
        [0x9F, 0xAB, 0xE0, 0x77, 0x4B, 0x44, 0xF5, 0x99],
    );
}

/// `PowerDeviceD0` (wdm.h; not in the ABI tables).
pub const POWER_DEVICE_D0: DEVICE_POWER_STATE = DEVICE_POWER_STATE(1);
/// `PowerDeviceD3` (wdm.h; not in the ABI tables).
pub const POWER_DEVICE_D3: DEVICE_POWER_STATE = DEVICE_POWER_STATE(4);

/// `QUERY_INTERFACE.DeviceUid` for adapter-level queries.
const ADAPTER_LEVEL: ULONG = 0xFFFF_FFFF;
/// Most `SegmentInfo` entries Dxgkrnl accepts from CreateVirtualGpu.
const MAX_SEGMENT_INFOS: ULONG = 32;

/// The interfaces and caps GPU-virtualization initialization kept.
pub struct GpuVirtualization {
    /// The GPU partition interface (Dxgkrnl's own copy).
    pub partition: DXGKDDI_GPU_PARTITION_INTERFACE,
    /// The SR-IOV interface.
    pub sriov: DXGKDDI_SRIOV_INTERFACE,
    /// The FlexIOV device interface, if the driver exports it.
    pub flexiov: Option<DXGKDDI_FLEXIOV_DEVICE_INTERFACE>,
    /// The mitigable device interface, if the driver exports it.
    pub mitigable: Option<DXGKDDI_MITIGABLE_DEVICE_INTERFACE>,
    /// `DXGKQAITYPE_GPUPCAPS` (zero if the query failed).
    pub caps: GpupCaps,
    state: Mutex<VirtState>,
}

// SAFETY: the interfaces are tables of function pointers into the driver and
// an opaque context, usable from any thread (the driver's DDIs are thread-safe).
unsafe impl Send for GpuVirtualization {}
// SAFETY: as above; the tables are never mutated after start.
unsafe impl Sync for GpuVirtualization {}

#[derive(Default)]
struct VirtState {
    vgpus: BTreeMap<u32, VgpuInfo>,
    /// VidMm's pinned ranges, (segment, offset, size).
    pinned: Vec<(u32, u64, u64)>,
    next_vmbus: u64,
}

/// One VRAM reserve VidMm created and pinned for a vGPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserve {
    /// Driver segment id.
    pub segment: u32,
    /// Where VidMm pinned it (for a scattered reserve: its first piece, VF
    /// address 0; all pieces are in [`VgpuInfo::pieces`]).
    pub offset: u64,
    /// Bytes.
    pub size: u64,
    /// Pinned in several pieces ([`VgpuRequest::placement`]) and bound with
    /// SetVirtualGpuResources2 over its memory basis.
    pub scattered: bool,
    /// The driver's allocation handle (`hAllocation`), as an address.
    pub allocation: usize,
    /// The memory basis over it (tracked segments only).
    pub basis: Option<BasisHandle>,
    /// Whether StartDirtyTracking ran on the basis.
    pub tracking: bool,
}

/// What the virtual PCI stack read of a VF.
#[derive(Debug, Clone)]
pub struct VfProbe {
    /// `DxgkDdiGetVendorAndDevice`.
    pub vendor_id: u16,
    /// `DxgkDdiGetVendorAndDevice`.
    pub device_id: u16,
    /// `DxgkDdiQueryProbedBars`.
    pub probed_bars: [u32; 6],
    /// `DxgkDdiGetMmioRangeCount`.
    pub mmio_range_count: [u32; 6],
    /// `DxgkDdiGetMmioRanges` of every BAR with ranges, by BAR.
    pub mmio_ranges: Vec<(u32, Vec<DXGK_MMIORANGEINFO>)>,
    /// `DxgkDdiQueryVirtualFunctionLuid`.
    pub luid: LUID,
}

/// A vGPU the model created.
#[derive(Debug, Clone)]
pub struct VgpuInfo {
    /// Its slot (= `vfIndex`).
    pub partition: u32,
    /// The LUID the driver invented.
    pub luid: LUID,
    /// The UMED CLSID (all zero: none).
    pub umed: GUID,
    /// The reserves, one per `SegmentInfo` entry.
    pub reserves: Vec<Reserve>,
    /// Each reserve's pieces (segment offset, bytes) in VF address order,
    /// index for index with `reserves` (one piece for a contiguous reserve).
    pub pieces: Vec<Vec<(u64, u64)>>,
    /// `DxgkDdiGetVirtualGpuInfo` after creation.
    pub caps: [DXGK_VGPU_CAPABILITY; 4],
    /// The virtual-PCI probe.
    pub probe: VfProbe,
    /// The VM-bus handle given to the driver, as an address.
    pub vmbus: usize,
}

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

/// The model's state, even if a panicking test thread poisoned the lock.
fn lock(state: &Mutex<VirtState>) -> std::sync::MutexGuard<'_, VirtState> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads an interface into a `T` from a `Size`-byte buffer, as Dxgkrnl does.
fn query<T: Record>(adapter: &Adapter, guid: &GUID, size: USHORT, version: USHORT) -> Result<T> {
    let mut buffer = vec![0u8; usize::from(size).max(core::mem::size_of::<T>())];
    let mut q = QUERY_INTERFACE::zeroed();
    q.InterfaceType = guid;
    q.Size = size;
    q.Version = version;
    q.Interface = buffer.as_mut_ptr().cast();
    q.DeviceUid = ADAPTER_LEVEL;
    // SAFETY: `q` is live, its GUID is `guid` and its buffer holds `size` bytes.
    check(unsafe { adapter.query_interface_raw(&raw mut q) })?;
    // SAFETY: `buffer` holds at least `size_of::<T>()` bytes, and `T: Record` is plain data.
    Ok(unsafe { buffer.as_ptr().cast::<T>().read_unaligned() })
}

/// Calls `InterfaceDereference` of an interface header, if it has one.
fn dereference(context: PVOID, deref: PINTERFACE_DEREFERENCE) {
    if let Some(f) = deref {
        // SAFETY: a function of the loaded driver with its own context.
        unsafe { f(context) };
    }
}

/// The nine live-migration slots (177-185) Dxgkrnl checks.
fn live_migration_slots_filled(t: &DRIVER_INITIALIZATION_DATA) -> bool {
    [
        t.DxgkDdiPrepareLiveMigration.is_some(),
        t.DxgkDdiSaveImmutableMigrationData.is_some(),
        t.DxgkDdiSaveMutableMigrationData.is_some(),
        t.DxgkDdiEndLiveMigration.is_some(),
        t.DxgkDdiRestoreImmutableMigrationData.is_some(),
        t.DxgkDdiRestoreMutableMigrationData.is_some(),
        t.DxgkDdiWriteVirtualizedInterrupt.is_some(),
        t.DxgkDdiSetVirtualGpuResources2.is_some(),
        t.DxgkDdiSetVirtualFunctionPauseState.is_some(),
    ]
    .iter()
    .all(|&s| s)
}

fn partition_pointers_filled(p: &DXGKDDI_GPU_PARTITION_INTERFACE) -> bool {
    [
        p.DxgkDdiGetGpuPartitionInfo.is_some(),
        p.DxgkDdiSetGpuPartitionCount.is_some(),
        p.DxgkDdiGetGpuEngines.is_some(),
        p.DxgkDdiGetVirtualGpuProfile.is_some(),
        p.DxgkDdiCreateVirtualGpu.is_some(),
        p.DxgkDdiGetVirtualGpuInfo.is_some(),
        p.DxgkDdiSetVirtualGpuResources.is_some(),
        p.DxgkDdiDestroyVirtualGpu.is_some(),
        p.DxgkDdiSuspendVirtualGpu.is_some(),
        p.DxgkDdiResumeVirtualGpu.is_some(),
        p.DxgkDdiVirtualGpuDriverEscape.is_some(),
        p.DxgkDdiSetVirtualGpuVmBus.is_some(),
    ]
    .iter()
    .all(|&s| s)
}

fn sriov_pointers_filled(s: &DXGKDDI_SRIOV_INTERFACE) -> bool {
    [
        s.DxgkDdiReadVirtualFunctionConfig.is_some(),
        s.DxgkDdiWriteVirtualFunctionConfig.is_some(),
        s.DxgkDdiReadVirtualFunctionConfigBlock.is_some(),
        s.DxgkDdiWriteVirtualFunctionConfigBlock.is_some(),
        s.DxgkDdiQueryProbedBars.is_some(),
        s.DxgkDdiGetVendorAndDevice.is_some(),
        s.DxgkDdiGetDeviceLocation.is_some(),
        s.DxgkDdiResetVirtualFunction.is_some(),
        s.DxgkDdiSetVirtualFunctionPowerState.is_some(),
        s.DxgkDdiGetResourceForBar.is_some(),
        s.DxgkDdiQueryVirtualFunctionLuid.is_some(),
    ]
    .iter()
    .all(|&s| s)
}

impl GpuVirtualization {
    /// InterfaceDereference of every interface held (adapter stop, failed start).
    fn release(&self) {
        dereference(self.partition.Context, self.partition.InterfaceDereference);
        dereference(self.sriov.Context, self.sriov.InterfaceDereference);
        if let Some(f) = &self.flexiov {
            dereference(f.Context, f.InterfaceDereference);
        }
        if let Some(m) = &self.mitigable {
            dereference(m.Context, m.InterfaceDereference);
        }
    }
}

impl Adapter {
    /// `DxgkDdiQueryInterface` with a raw argument block.
    ///
    /// # Safety
    /// `q` is NULL or a readable block whose pointers are NULL or valid for
    /// what they name (the GUID, `Size` writable bytes of interface).
    #[must_use]
    pub unsafe fn query_interface_raw(&self, q: *mut QUERY_INTERFACE) -> NTSTATUS {
        let Some(qi) = self.driver().table().DxgkDdiQueryInterface else {
            return STATUS_NOT_SUPPORTED;
        };
        // SAFETY: a DDI of the loaded driver; the caller owns the block.
        unsafe { qi(self.context(), q) }
    }

    /// GPU-virtualization initialization (section 2, steps 1-6), run once per
    /// start after StartDevice and the adapter-init queries. `Ok(None)`: the
    /// adapter has no GPU-P (no partition interface, or LiveMigration with a
    /// missing migration slot); `Err`: the start fails with that status. On
    /// failure every interface taken is dereferenced again.
    pub(crate) fn init_gpu_virtualization(&mut self) -> Result<Option<GpuVirtualization>> {
        // 1. The partition interface; failure: no GPU-P, start continues.
        let Ok(partition) = query::<DXGKDDI_GPU_PARTITION_INTERFACE>(
            self,
            &guids::GPU_PARTITION,
            128,
            DXGKDDI_GPU_PARTITION_INTERFACE_VERSION,
        ) else {
            return Ok(None);
        };
        let release_partition = || dereference(partition.Context, partition.InterfaceDereference);
        // 2. Any of the twelve pointers NULL: the start fails.
        if !partition_pointers_filled(&partition) {
            eprintln!("dxgkrnl-model: GPU partition interface has a NULL function pointer");
            release_partition();
            return Err(STATUS_UNSUCCESSFUL);
        }
        // 3. GPUPCAPS; a failing query counts as all zero; a bit >= 4 fails the start.
        let (caps, caps_query) =
            match self.query_adapter_info::<DXGK_GPUPCAPS>(DXGKQAITYPE_GPUPCAPS, &[]) {
                Ok(c) => (c.Caps, STATUS_SUCCESS),
                Err(status) => (GpupCaps::empty(), status),
            };
        self.record_gpup_caps(caps, caps_query);
        if caps.bits() & !0xF != 0 {
            eprintln!(
                "dxgkrnl-model: GPUPCAPS {:#x} has a bit above 3",
                caps.bits()
            );
            release_partition();
            return Err(STATUS_INVALID_PARAMETER);
        }
        // 4. SR-IOV: mandatory once the partition interface exists ([inf]: the
        // status of this failure is not visible; STATUS_UNSUCCESSFUL as for step 2).
        let sriov = match query::<DXGKDDI_SRIOV_INTERFACE>(
            self,
            &guids::SRIOV,
            120,
            DXGKDDI_SRIOV_INTERFACE_VERSION,
        ) {
            Ok(s) if sriov_pointers_filled(&s) => s,
            Ok(s) => {
                eprintln!("dxgkrnl-model: SR-IOV interface has a NULL function pointer");
                dereference(s.Context, s.InterfaceDereference);
                release_partition();
                return Err(STATUS_UNSUCCESSFUL);
            }
            Err(status) => {
                eprintln!("dxgkrnl-model: no SR-IOV interface ({status:?})");
                release_partition();
                return Err(STATUS_UNSUCCESSFUL);
            }
        };
        // 5. Mitigable and FlexIOV, each optional; FlexIOV must come back as version 1.
        let mitigable = query::<DXGKDDI_MITIGABLE_DEVICE_INTERFACE>(
            self,
            &guids::MITIGABLE_DEVICE,
            48,
            DXGKDDI_MITIGABLE_DEVICE_INTERFACE_VERSION,
        )
        .ok();
        let flexiov = query::<DXGKDDI_FLEXIOV_DEVICE_INTERFACE>(
            self,
            &guids::FLEXIOV_DEVICE,
            56,
            DXGKDDI_FLEXIOV_DEVICE_INTERFACE_VERSION,
        )
        .ok()
        .and_then(|f| {
            if f.Version == DXGKDDI_FLEXIOV_DEVICE_INTERFACE_VERSION {
                Some(f)
            } else {
                dereference(f.Context, f.InterfaceDereference);
                None
            }
        });
        let held = GpuVirtualization {
            partition,
            sriov,
            flexiov,
            mitigable,
            caps,
            state: Mutex::new(VirtState::default()),
        };
        if self.driver().table().Version >= DXGKDDI_INTERFACE_VERSION_WDDM3_2
            && held.flexiov.is_none()
            && held.mitigable.is_none()
        {
            eprintln!(
                "dxgkrnl-model: a WDDM 3.2 driver must export the mitigable or the FlexIOV interface"
            );
            held.release();
            return Err(STATUS_INVALID_PARAMETER);
        }
        // 6. LiveMigration: without dirty-bit tracking the caps are
        // inconsistent and the start fails (dirty-bit-tracking.md section 3;
        // [inf]: status); with it, a missing migration slot stops GPU-P
        // silently.
        if caps.contains(GpupCaps::LiveMigration) {
            if !self
                .caps()
                .dirty_bit_tracking
                .contains(DirtyBitTrackingCaps::DirtyBitTrackingSupported)
            {
                eprintln!(
                    "dxgkrnl-model: GPUPCAPS.LiveMigration is set without DirtyBitTrackingSupported"
                );
                held.release();
                return Err(STATUS_INVALID_PARAMETER);
            }
            if !live_migration_slots_filled(self.driver().table()) {
                eprintln!("dxgkrnl-model: LiveMigration without the migration DDIs: no GPU-P");
                held.release();
                return Ok(None);
            }
        }
        Ok(Some(held))
    }

    /// Adapter stop: InterfaceDereference of every interface held.
    pub(crate) fn release_gpu_virtualization(&mut self) {
        if let Some(g) = self.take_gpu_virtualization() {
            g.release();
        }
    }

    fn gpup(&self) -> Result<&GpuVirtualization> {
        self.gpu_virtualization().ok_or(STATUS_NOT_SUPPORTED)
    }

    // ---- Partition DDIs, as management calls them ----

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
        if u32::from(current) != count && !lock(&g.state).vgpus.is_empty() {
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

    /// The interfaces GPU-virtualization initialization kept, if any.
    #[must_use]
    pub fn gpu_virtualization(&self) -> Option<&GpuVirtualization> {
        self.gpu_virtualization_ref()
    }

    /// The vGPUs the model created and has not destroyed.
    #[must_use]
    pub fn vgpus(&self) -> Vec<VgpuInfo> {
        self.gpu_virtualization().map_or_else(Vec::new, |g| {
            lock(&g.state).vgpus.values().cloned().collect()
        })
    }

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
        let mut vgpu = lock(&g.state)
            .vgpus
            .get(&partition)
            .cloned()
            .ok_or(STATUS_INVALID_PARAMETER)?;
        match self.run(g, &mut vgpu, bases) {
            Ok(()) => {
                lock(&g.state).vgpus.insert(partition, vgpu.clone());
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
            let state = lock(&g.state);
            match request.partition {
                Some(p) if p >= count => return Err(STATUS_INVALID_PARAMETER),
                Some(p) => p,
                None => (0..count)
                    .find(|p| !state.vgpus.contains_key(p))
                    .ok_or(STATUS_INSUFFICIENT_RESOURCES)?,
            }
        };
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
                lock(&g.state).vgpus.insert(partition, vgpu.clone());
                Ok(vgpu)
            }
            Err(status) => {
                eprintln!("dxgkrnl-model: vGPU {partition} bring-up failed: {status:?}");
                let _ = self.tear_down(g, &vgpu);
                Err(status)
            }
        }
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
            let mut state = lock(&g.state);
            state.next_vmbus += 1;
            0x564D_4200_0000 + state.next_vmbus
        };
        self.set_vgpu_vmbus(p, handle as usize)?;
        vgpu.vmbus = handle as usize;
        self.set_vf_power(p, POWER_DEVICE_D0, false)
    }

    /// Standard allocation of type VGPU for one `SegmentInfo`, pinned by
    /// VidMm (first fit, or at the `placement` pieces); returns it and its
    /// pieces in VF address order.
    fn create_reserve(
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
    fn pin_at(
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
        let mut state = lock(&g.state);
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
    fn pin(&self, g: &GpuVirtualization, segment: u32, size: u64, alignment: u64) -> Option<u64> {
        let segment_size = self
            .memory_config()
            .segments
            .iter()
            .find(|s| s.id == segment)?
            .size;
        let align = alignment.max(4096);
        let mut state = lock(&g.state);
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

    fn unpin(g: &GpuVirtualization, segment: u32, pieces: &[(u64, u64)]) {
        let mut state = lock(&g.state);
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
        let vgpu = lock(&g.state)
            .vgpus
            .remove(&partition)
            .ok_or(STATUS_INVALID_PARAMETER)?;
        self.tear_down(g, &vgpu)
    }

    // ---- Raw DDI calls (one per DDI), for the flows above and for tests ----

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

    // ---- SR-IOV, as the virtual PCI stack calls it ----

    fn sriov(&self) -> Result<&DXGKDDI_SRIOV_INTERFACE> {
        Ok(&self.gpup()?.sriov)
    }

    /// `DxgkDdiSetVirtualFunctionPowerState`.
    ///
    /// # Errors
    /// The driver's status.
    pub fn set_vf_power(&self, vf: u32, state: DEVICE_POWER_STATE, wake: bool) -> Result<()> {
        let s = self.sriov()?;
        let f = s
            .DxgkDdiSetVirtualFunctionPowerState
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let args = DXGKARG_SETVIRTUALFUNCTIONPOWERSTATE {
            VirtualFunctionIndex: vf,
            PowerState: state,
            Wake: u8::from(wake),
        };
        // SAFETY: a DDI of the loaded driver; `args` is live.
        check(unsafe { f(s.Context, &raw const args) })
    }

    /// `DxgkDdiResetVirtualFunction`.
    ///
    /// # Errors
    /// The driver's status.
    pub fn reset_vf(&self, vf: u32) -> Result<()> {
        let s = self.sriov()?;
        let f = s.DxgkDdiResetVirtualFunction.ok_or(STATUS_NOT_SUPPORTED)?;
        let args = DXGKARG_RESETVIRTUALFUNCTION {
            VirtualFunctionIndex: vf,
        };
        // SAFETY: a DDI of the loaded driver; `args` is live.
        check(unsafe { f(s.Context, &raw const args) })
    }

    /// `DxgkDdiReadVirtualFunctionConfig` of `out.len()` bytes at `offset`.
    ///
    /// # Errors
    /// The driver's status.
    pub fn vf_config_read(&self, vf: u32, offset: u32, out: &mut [u8]) -> Result<()> {
        let s = self.sriov()?;
        let f = s
            .DxgkDdiReadVirtualFunctionConfig
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let args = DXGKARG_READVIRTUALFUNCTIONCONFIG {
            Data: out.as_mut_ptr().cast(),
            VirtualFunctionIndex: vf,
            Offset: offset,
            Length: out.len() as ULONG,
        };
        // SAFETY: a DDI of the loaded driver; `out` lives across the call.
        check(unsafe { f(s.Context, &raw const args) })
    }

    /// `DxgkDdiWriteVirtualFunctionConfig` of `data` at `offset`.
    ///
    /// # Errors
    /// The driver's status.
    pub fn vf_config_write(&self, vf: u32, offset: u32, data: &[u8]) -> Result<()> {
        let s = self.sriov()?;
        let f = s
            .DxgkDdiWriteVirtualFunctionConfig
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let args = DXGKARG_WRITEVIRTUALFUNCTIONCONFIG {
            Data: data.as_ptr().cast_mut().cast(),
            VirtualFunctionIndex: vf,
            Offset: offset,
            Length: data.len() as ULONG,
        };
        // SAFETY: a DDI of the loaded driver; `data` lives across the call.
        check(unsafe { f(s.Context, &raw const args) })
    }

    /// The virtual-PCI probe of a VF (section 5 step 12): ids, location,
    /// probed BARs, FlexIOV ranges (GetResourceForBar is not called when
    /// FlexIOV is exposed), LUID, and the config header, which must agree
    /// with the ids.
    ///
    /// # Errors
    /// A failing DDI's status; `STATUS_UNSUCCESSFUL` for inconsistent answers.
    pub fn probe_vf(&self, vf: u32) -> Result<VfProbe> {
        let g = self.gpup()?;
        let s = &g.sriov;
        let mut ids = DXGKARG_GETVENDORANDDEVICE {
            VirtualFunctionIndex: vf,
            VendorId: 0,
            DeviceId: 0,
        };
        let f = s.DxgkDdiGetVendorAndDevice.ok_or(STATUS_NOT_SUPPORTED)?;
        // SAFETY: a DDI of the loaded driver; `ids` is live.
        unsafe { f(s.Context, &raw mut ids) };
        let mut location = DXGKARG_GETDEVICELOCATION::zeroed();
        location.VirtualFunctionIndex = vf;
        let f = s.DxgkDdiGetDeviceLocation.ok_or(STATUS_NOT_SUPPORTED)?;
        // SAFETY: as above.
        unsafe { f(s.Context, &raw mut location) };
        let mut bars = [0u32; 6];
        let mut probed = DXGKARG_QUERYPROBEDBARS {
            VirtualFunctionIndex: vf,
            BaseRegisterValues: bars.as_mut_ptr(),
        };
        let f = s.DxgkDdiQueryProbedBars.ok_or(STATUS_NOT_SUPPORTED)?;
        // SAFETY: as above; `bars` holds six ULONGs.
        unsafe { f(s.Context, &raw mut probed) };
        let mut luid = LUID::zeroed();
        let mut q = DXGKARG_QUERYVIRTUALFUNCTIONLUID {
            VirtualFunctionIndex: vf,
            pLuid: &raw mut luid,
        };
        let f = s
            .DxgkDdiQueryVirtualFunctionLuid
            .ok_or(STATUS_NOT_SUPPORTED)?;
        // SAFETY: as above.
        unsafe { f(s.Context, &raw mut q) };
        let mut header = [0u8; 4];
        self.vf_config_read(vf, 0, &mut header)?;
        if u16::from_le_bytes([header[0], header[1]]) != ids.VendorId
            || u16::from_le_bytes([header[2], header[3]]) != ids.DeviceId
        {
            return Err(STATUS_UNSUCCESSFUL);
        }
        let mut probe = VfProbe {
            vendor_id: ids.VendorId,
            device_id: ids.DeviceId,
            probed_bars: bars,
            mmio_range_count: [0; 6],
            mmio_ranges: Vec::new(),
            luid,
        };
        if let Some(flex) = &g.flexiov {
            let mut count = DXGKARG_GETMMIORANGECOUNT::zeroed();
            count.VirtualFunctionIndex = vf;
            let f = flex.DxgkDdiGetMmioRangeCount.ok_or(STATUS_NOT_SUPPORTED)?;
            // SAFETY: as above.
            check(unsafe { f(flex.Context, &raw mut count) })?;
            probe.mmio_range_count = count.RangeCount;
            let f = flex.DxgkDdiGetMmioRanges.ok_or(STATUS_NOT_SUPPORTED)?;
            for (bar, &n) in count.RangeCount.iter().enumerate() {
                if n == 0 {
                    continue;
                }
                let mut ranges = vec![DXGK_MMIORANGEINFO::zeroed(); n as usize];
                let mut args = DXGKARG_GETMMIORANGES {
                    VirtualFunctionIndex: vf,
                    BarIndex: bar as ULONG,
                    NumRanges: n,
                    pMmioRanges: ranges.as_mut_ptr(),
                };
                // SAFETY: as above; `ranges` holds `n` entries.
                check(unsafe { f(flex.Context, &raw mut args) })?;
                probe.mmio_ranges.push((bar as u32, ranges));
            }
        }
        Ok(probe)
    }
}
