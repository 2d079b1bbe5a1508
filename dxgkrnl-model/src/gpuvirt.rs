//! GPU-virtualization initialization at adapter start
//! (`docs/contract.md`, how the adapter becomes GPU-P capable), as Dxgkrnl runs it after
//! StartDevice and the adapter-init queries: the partition interface (128/1),
//! its twelve pointers, `DXGKQAITYPE_GPUPCAPS`, the SR-IOV interface (120/1)
//! and its eleven pointers, the mitigable (48/1) and FlexIOV (56/1)
//! interfaces (one of them required of a WDDM 3.2 driver), and the
//! LiveMigration rules. It fails the start with the status Windows uses, or
//! leaves the adapter without GPU-P where Windows silently would.
//!
//! What it keeps ([`GpuVirtualization`]) the adapter holds until it stops;
//! the vGPU DDIs and VidMm's placement of reserves (`crate::vgpu`, above the
//! adapter) work through it.
//!
//! Where section 2 leaves a status unstated, this model's choice is marked
//! `[inf]` in the comments.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use dxgk_sys::abi::{Record, Zeroable};
use dxgk_sys::*;

use crate::miniport::Miniport;
use crate::records::VgpuInfo;
use crate::status::{Result, check};

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

/// `QUERY_INTERFACE.DeviceUid` for adapter-level queries.
const ADAPTER_LEVEL: ULONG = 0xFFFF_FFFF;

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

/// What Dxgkrnl and VidMm keep of the vGPUs of one adapter.
#[derive(Default)]
pub(crate) struct VirtState {
    /// The vGPUs created and not destroyed, by slot.
    pub(crate) vgpus: BTreeMap<u32, VgpuInfo>,
    /// VidMm's pinned ranges, (segment, offset, size).
    pub(crate) pinned: Vec<(u32, u64, u64)>,
    /// The last VM-bus handle handed out (0: none yet).
    pub(crate) next_vmbus: u64,
    /// The GPU-P host device (`../shared/spec/adapter-start.md` 6 item 1:
    /// `ADAPTER_RENDER::CreateDevice`, through `DxgkDdiCreateDevice`), made
    /// at the first vGPU creation, shared by every vGPU of the adapter
    /// (`DXGPROCESS::GetVirtualGpuDevice`), destroyed at StopDevice.
    pub(crate) host_device: Option<crate::records::DeviceHandle>,
}

/// Reads an interface into a `T` from a `Size`-byte buffer, as Dxgkrnl does.
fn query<T: Record>(miniport: &Miniport, guid: &GUID, size: USHORT, version: USHORT) -> Result<T> {
    let mut buffer = vec![0u8; usize::from(size).max(core::mem::size_of::<T>())];
    let mut q = QUERY_INTERFACE::zeroed();
    q.InterfaceType = guid;
    q.Size = size;
    q.Version = version;
    q.Interface = buffer.as_mut_ptr().cast();
    q.DeviceUid = ADAPTER_LEVEL;
    // SAFETY: `q` is live, its GUID is `guid` and its buffer holds `size` bytes.
    check(unsafe { miniport.query_interface_raw(&raw mut q) })?;
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
    /// VidMm's and Dxgkrnl's bookkeeping of the vGPUs, even if a panicking
    /// test thread poisoned the lock.
    pub(crate) fn state(&self) -> MutexGuard<'_, VirtState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// InterfaceDereference of every interface held (adapter stop, failed start).
    pub(crate) fn release(&self) {
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

/// GPU-virtualization initialization (section 2, steps 1-6), run once per
/// start after StartDevice and the adapter-init queries; `dirty` is what
/// `DXGKQAITYPE_DIRTYBITTRACKINGCAPS` answered. `record` receives what the
/// GPUPCAPS query answered, when it is made (step 3). `Ok(None)`: the adapter
/// has no GPU-P (no partition interface, or LiveMigration with a missing
/// migration slot); `Err`: the start fails with that status. On failure every
/// interface taken is dereferenced again.
pub(crate) fn init(
    miniport: &Miniport,
    dirty: DirtyBitTrackingCaps,
    record: impl FnOnce(GpupCaps, NTSTATUS),
) -> Result<Option<GpuVirtualization>> {
    // 1. The partition interface; failure: no GPU-P, start continues.
    let Ok(partition) = query::<DXGKDDI_GPU_PARTITION_INTERFACE>(
        miniport,
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
    // 3. GPUPCAPS (asked only now: Dxgkrnl asks only adapters with the interface).
    let caps = match gpup_caps(miniport, record) {
        Ok(caps) => caps,
        Err(status) => {
            release_partition();
            return Err(status);
        }
    };
    // 4. SR-IOV, mandatory once the partition interface exists.
    let sriov = match sriov_interface(miniport) {
        Ok(sriov) => sriov,
        Err(status) => {
            release_partition();
            return Err(status);
        }
    };
    // 5. Mitigable and FlexIOV, each optional.
    let (mitigable, flexiov) = optional_interfaces(miniport);
    let held = GpuVirtualization {
        partition,
        sriov,
        flexiov,
        mitigable,
        caps,
        state: Mutex::new(VirtState::default()),
    };
    match held.admit(miniport.driver().table(), dirty) {
        Ok(true) => Ok(Some(held)),
        Ok(false) => {
            held.release();
            Ok(None)
        }
        Err(status) => {
            held.release();
            Err(status)
        }
    }
}

/// Step 3: GPUPCAPS, handed to `record`; a failing query counts as all zero;
/// a bit >= 4 fails the start.
fn gpup_caps(miniport: &Miniport, record: impl FnOnce(GpupCaps, NTSTATUS)) -> Result<GpupCaps> {
    let (caps, caps_query) =
        match miniport.query_adapter_info::<DXGK_GPUPCAPS>(DXGKQAITYPE_GPUPCAPS, &[]) {
            Ok(c) => (c.Caps, STATUS_SUCCESS),
            Err(status) => (GpupCaps::empty(), status),
        };
    record(caps, caps_query);
    if caps.bits() & !0xF != 0 {
        eprintln!(
            "dxgkrnl-model: GPUPCAPS {:#x} has a bit above 3",
            caps.bits()
        );
        return Err(STATUS_INVALID_PARAMETER);
    }
    Ok(caps)
}

/// Step 4: SR-IOV, mandatory once the partition interface exists ([inf]: the
/// status of this failure is not visible; `STATUS_UNSUCCESSFUL` as for step
/// 2). An interface with a NULL pointer is dereferenced again.
fn sriov_interface(miniport: &Miniport) -> Result<DXGKDDI_SRIOV_INTERFACE> {
    match query::<DXGKDDI_SRIOV_INTERFACE>(
        miniport,
        &guids::SRIOV,
        120,
        DXGKDDI_SRIOV_INTERFACE_VERSION,
    ) {
        Ok(s) if sriov_pointers_filled(&s) => Ok(s),
        Ok(s) => {
            eprintln!("dxgkrnl-model: SR-IOV interface has a NULL function pointer");
            dereference(s.Context, s.InterfaceDereference);
            Err(STATUS_UNSUCCESSFUL)
        }
        Err(status) => {
            eprintln!("dxgkrnl-model: no SR-IOV interface ({status:?})");
            Err(STATUS_UNSUCCESSFUL)
        }
    }
}

/// Step 5: the mitigable and FlexIOV interfaces, each optional; FlexIOV must
/// come back as version 1 (otherwise it is dereferenced and not kept).
fn optional_interfaces(
    miniport: &Miniport,
) -> (
    Option<DXGKDDI_MITIGABLE_DEVICE_INTERFACE>,
    Option<DXGKDDI_FLEXIOV_DEVICE_INTERFACE>,
) {
    let mitigable = query::<DXGKDDI_MITIGABLE_DEVICE_INTERFACE>(
        miniport,
        &guids::MITIGABLE_DEVICE,
        48,
        DXGKDDI_MITIGABLE_DEVICE_INTERFACE_VERSION,
    )
    .ok();
    let flexiov = query::<DXGKDDI_FLEXIOV_DEVICE_INTERFACE>(
        miniport,
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
    (mitigable, flexiov)
}

impl GpuVirtualization {
    /// The checks once every interface is held: a WDDM 3.2 driver exports
    /// the mitigable or the FlexIOV interface, and step 6. `Ok(true)`: keep
    /// GPU-P; `Ok(false)`: no GPU-P, the start goes on; `Err`: the start
    /// fails. The caller releases the interfaces unless it keeps them.
    fn admit(
        &self,
        table: &DRIVER_INITIALIZATION_DATA,
        dirty: DirtyBitTrackingCaps,
    ) -> Result<bool> {
        if table.Version >= DXGKDDI_INTERFACE_VERSION_WDDM3_2
            && self.flexiov.is_none()
            && self.mitigable.is_none()
        {
            eprintln!(
                "dxgkrnl-model: a WDDM 3.2 driver must export the mitigable or the FlexIOV interface"
            );
            return Err(STATUS_INVALID_PARAMETER);
        }
        // 6. LiveMigration: without dirty-bit tracking the caps are
        // inconsistent and the start fails (dirty-bit-tracking.md section 3;
        // [inf]: status); with it, a missing migration slot stops GPU-P
        // silently.
        if self.caps.contains(GpupCaps::LiveMigration) {
            if !dirty.contains(DirtyBitTrackingCaps::DirtyBitTrackingSupported) {
                eprintln!(
                    "dxgkrnl-model: GPUPCAPS.LiveMigration is set without DirtyBitTrackingSupported"
                );
                return Err(STATUS_INVALID_PARAMETER);
            }
            if !live_migration_slots_filled(table) {
                eprintln!("dxgkrnl-model: LiveMigration without the migration DDIs: no GPU-P");
                return Ok(false);
            }
        }
        Ok(true)
    }
}
