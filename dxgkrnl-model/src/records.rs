//! The plain records the model keeps of what the driver created: memory-basis
//! handles, and the vGPUs Dxgkrnl and VidMm brought up with their reserves and
//! what the virtual PCI stack probed of them. Plain data, at the bottom of
//! the crate: the adapter keeps the vGPUs of its GPU virtualization in these
//! records, and the DDIs that fill them (memory bases, vGPU creation) are
//! adapter methods in the layers above it.

use dxgk_sys::*;

/// A memory-basis handle the driver returned: opaque, compared and passed back only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BasisHandle(pub HANDLE);

// SAFETY: an opaque integer value for the model; never dereferenced here.
unsafe impl Send for BasisHandle {}
// SAFETY: as above.
unsafe impl Sync for BasisHandle {}

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
    /// Pinned in several pieces (the request's `placement`) and bound with
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

/// A driver handle of a device (`hDevice` as the driver returned it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceHandle(pub usize);
/// A driver handle of a context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextHandle(pub usize);
/// A driver handle of a process (`hKmdProcess`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessHandle(pub usize);

/// A context and what the driver told VidSch about it.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// The driver's handle.
    pub handle: ContextHandle,
    /// `DXGK_CONTEXTINFO` as the driver filled it.
    pub info: DXGK_CONTEXTINFO,
}

/// What VidSch creates at the end of render-core set-up (spec 2.4).
#[derive(Debug, Clone)]
pub struct PagingProcess {
    /// The two system devices.
    pub devices: [DeviceHandle; 2],
    /// A system context per node, on the first system device.
    pub system_contexts: Vec<Context>,
    /// The paging context (physical adapter 0), on the second system device.
    pub paging_context: Context,
}
