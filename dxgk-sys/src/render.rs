//! The render core's object DDIs (d3dkmddi.h subset) an MCDM adapter must
//! implement (`../shared/spec/adapter-start.md` 3.1, 3.3): devices, contexts,
//! GPU-VA processes and their root page tables, describing, opening and
//! closing allocations, and node metadata.

use crate::*;

crate::macro_constants! {
    RENDER_CONSTANTS;
    /// `DXGK_ENGINE_TYPE_OTHER` (an enumerator of the header's unnamed enum).
    pub const DXGK_ENGINE_TYPE_OTHER: i32 = 0;
    /// `DXGK_ENGINE_TYPE_3D`.
    pub const DXGK_ENGINE_TYPE_3D: i32 = 1;
    /// `DXGK_ENGINE_TYPE_COPY`.
    pub const DXGK_ENGINE_TYPE_COPY: i32 = 6;
}

crate::c_enum! {
    /// `D3DDDIFORMAT` (only the enumerator this driver answers with).
    pub enum D3DDDIFORMAT: i32 {
        /// A buffer with no pixel format.
        D3DDDIFMT_UNKNOWN = 0,
    }

    /// `D3DDDI_ROTATION` (only the enumerator this driver answers with).
    pub enum D3DDDI_ROTATION: i32 {
        /// No rotation.
        D3DDDI_ROTATION_IDENTITY = 1,
    }
}

bitflags::bitflags! {
    /// The bits of `DXGK_CREATEDEVICEFLAGS`.
    #[repr(transparent)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct CreateDeviceFlags: u32 {
        /// A system device (VidSch's, `spec` 2.4).
        const SystemDevice = 1 << 0;
        /// A GDI device (display adapters only).
        const GdiDevice = 1 << 1;
        // Reserved bits are kept, not dropped.
        const _ = !0;
    }

    /// The bits of `DXGK_CREATECONTEXTFLAGS`.
    #[repr(transparent)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct CreateContextFlags: u32 {
        /// A system context (VidSch's per-node and paging contexts).
        const SystemContext = 1 << 0;
        /// A GDI context.
        const GdiContext = 1 << 1;
        /// The context uses GPU virtual addresses.
        const VirtualAddressing = 1 << 2;
        /// A system protected context.
        const SystemProtectedContext = 1 << 3;
        /// Hardware queues.
        const HwQueueSupported = 1 << 4;
        /// A test context.
        const TestContext = 1 << 5;
        // Reserved bits are kept, not dropped.
        const _ = !0;
    }

    /// The bits of `DXGK_CONTEXTINFO_CAPS`.
    #[repr(transparent)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct ContextInfoCaps: u32 {
        /// DMA buffers need no patching.
        const NoPatchingRequired = 1 << 0;
        /// The driver manages residency.
        const DriverManagesResidency = 1 << 1;
        /// The context uses the IOMMU.
        const UseIoMmu = 1 << 2;
        // Reserved bits are kept, not dropped.
        const _ = !0;
    }

    /// The bits of `DXGK_CREATEPROCESSFLAGS`.
    #[repr(transparent)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct CreateProcessFlags: u32 {
        /// The system process (VidMm's paging process).
        const SystemProcess = 1 << 0;
        /// The GDI process.
        const GdiProcess = 1 << 1;
        /// A virtual machine process.
        const VirtualMachineProcess = 1 << 2;
        /// A virtual machine worker process.
        const VirtualMachineWorkerProcess = 1 << 3;
        /// A session-isolated container.
        const SessionIsolatedContainer = 1 << 4;
        // Reserved bits are kept, not dropped.
        const _ = !0;
    }

    /// The bits of `DXGK_OPENALLOCATIONFLAGS`.
    #[repr(transparent)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct OpenAllocationFlags: u32 {
        /// The open follows the allocation's creation on this device.
        const Create = 1 << 0;
        /// Opened read-only.
        const ReadOnly = 1 << 1;
        // Reserved bits are kept, not dropped.
        const _ = !0;
    }

    /// The bits of `DXGK_NODEMETADATA_FLAGS`.
    #[repr(transparent)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct NodeMetadataFlags: u32 {
        /// Context scheduling.
        const ContextSchedulingSupported = 1 << 0;
        /// Ring-buffer fence release.
        const RingBufferFenceRelease = 1 << 1;
        /// Tracked workloads.
        const SupportTrackedWorkload = 1 << 2;
        /// User-mode submission.
        const UserModeSubmission = 1 << 3;
        /// Test command buffers.
        const SupportBuildTestCommandBuffer = 1 << 4;
        /// Hardware-queue buffers in flight (a 16-bit count).
        const MaxInFlightHwQueueBuffers = 0xFFFF << 16;
        // Reserved bits are kept, not dropped.
        const _ = !0;
    }
}
crate::zeroable_bitflags!(
    CreateDeviceFlags,
    CreateContextFlags,
    ContextInfoCaps,
    CreateProcessFlags,
    OpenAllocationFlags,
    NodeMetadataFlags
);

crate::records! {
    /// `DXGK_CREATEDEVICEFLAGS`.
    pub struct DXGK_CREATEDEVICEFLAGS {
        /// The flag bits.
        pub Value: CreateDeviceFlags,
    }

    /// `DXGK_DEVICEINFO`: the WDDM 1.x device description a driver could hand
    /// back through `DXGKARG_CREATEDEVICE::pInfo` (this driver returns NULL:
    /// its DMA buffers are described per context).
    pub struct DXGK_DEVICEINFO {
        /// DMA buffer bytes.
        pub DmaBufferSize: UINT,
        /// Segments DMA buffers may live in.
        pub DmaBufferSegmentSet: UINT,
        /// DMA buffer private data bytes.
        pub DmaBufferPrivateDataSize: UINT,
        /// Allocation list entries.
        pub AllocationListSize: UINT,
        /// Patch-location list entries.
        pub PatchLocationListSize: UINT,
        /// `DXGK_DEVICEINFOFLAGS`.
        pub Flags: UINT,
    }

    /// `DXGKARG_CREATEDEVICE`.
    pub struct DXGKARG_CREATEDEVICE {
        /// In: Dxgkrnl's handle; out: the driver's device handle.
        pub hDevice: HANDLE,
        /// The header's union of `Flags` (in: `DXGK_CREATEDEVICEFLAGS`, the low
        /// 32 bits on x64) and `pInfo` (out: a `DXGK_DEVICEINFO*`, or NULL).
        /// Read the flags with [`DXGKARG_CREATEDEVICE::flags`].
        pub pInfo: *mut DXGK_DEVICEINFO,
        /// In: the owner process's PASID (SVM GPUs).
        pub Pasid: ULONG,
        /// In: the driver's process handle (`DxgkDdiCreateProcess`), or NULL.
        pub hKmdProcess: HANDLE,
    }

    /// `DXGK_CREATECONTEXTFLAGS`.
    pub struct DXGK_CREATECONTEXTFLAGS {
        /// The flag bits.
        pub Value: CreateContextFlags,
    }

    /// `DXGK_CONTEXTINFO_CAPS`.
    pub struct DXGK_CONTEXTINFO_CAPS {
        /// The flag bits.
        pub Value: ContextInfoCaps,
    }

    /// `DXGK_CONTEXTINFO`: what the driver tells VidSch about a context.
    pub struct DXGK_CONTEXTINFO {
        /// DMA buffer bytes.
        pub DmaBufferSize: UINT,
        /// Segments DMA buffers may live in (bit n = segment n + 1).
        pub DmaBufferSegmentSet: UINT,
        /// DMA buffer private data bytes.
        pub DmaBufferPrivateDataSize: UINT,
        /// Allocation list entries (0 for a GPU-VA context).
        pub AllocationListSize: UINT,
        /// Patch-location list entries (0 for a GPU-VA context).
        pub PatchLocationListSize: UINT,
        /// Reserved.
        pub Reserved: UINT,
        /// Context caps.
        pub Caps: DXGK_CONTEXTINFO_CAPS,
        /// Paging companion node.
        pub PagingCompanionNodeId: ULONG,
    }

    /// `DXGKARG_CREATECONTEXT`.
    pub struct DXGKARG_CREATECONTEXT {
        /// In: Dxgkrnl's handle; out: the driver's context handle.
        pub hContext: HANDLE,
        /// In: the node.
        pub NodeOrdinal: UINT,
        /// In: the engines of the node (bit per engine).
        pub EngineAffinity: UINT,
        /// In: flags.
        pub Flags: DXGK_CREATECONTEXTFLAGS,
        /// In: private data from the UMD.
        pub pPrivateDriverData: PVOID,
        /// In: bytes at `pPrivateDriverData`.
        pub PrivateDriverDataSize: UINT,
        /// Out: the context's description.
        pub ContextInfo: DXGK_CONTEXTINFO,
    }

    /// `DXGK_CREATEPROCESSFLAGS`.
    pub struct DXGK_CREATEPROCESSFLAGS {
        /// The flag bits.
        pub Value: CreateProcessFlags,
    }

    /// `DXGKARG_CREATEPROCESS`.
    pub struct DXGKARG_CREATEPROCESS {
        /// In: Dxgkrnl's process handle.
        pub hDxgkProcess: HANDLE,
        /// Out: the driver's process handle.
        pub hKmdProcess: HANDLE,
        /// In: flags.
        pub Flags: DXGK_CREATEPROCESSFLAGS,
        /// In: entries at `pPasid`.
        pub NumPasid: UINT,
        /// In: one PASID per physical adapter.
        pub pPasid: *mut ULONG,
        /// In: the VM worker process's driver handle.
        pub hKmdVmWorkerProcess: HANDLE,
        /// In: characters at `pProcessName`.
        pub ProcessNameLength: UINT,
        /// In: the process name, or NULL.
        pub pProcessName: *mut WCHAR,
    }

    /// `DXGKARG_GETROOTPAGETABLESIZE`.
    pub struct DXGKARG_GETROOTPAGETABLESIZE {
        /// In: entries needed; out: entries the returned size holds.
        pub NumberOfPte: UINT,
        /// In: the physical adapter (0).
        pub PhysicalAdapterIndex: UINT,
    }

    /// `D3DGPU_PHYSICAL_ADDRESS`.
    pub struct D3DGPU_PHYSICAL_ADDRESS {
        /// Driver segment id.
        pub SegmentId: UINT,
        /// Padding.
        pub Padding: UINT,
        /// Byte offset in the segment.
        pub SegmentOffset: UINT64,
    }

    /// `DXGKARG_SETROOTPAGETABLE`.
    pub struct DXGKARG_SETROOTPAGETABLE {
        /// The driver's context handle.
        pub hContext: HANDLE,
        /// Where the root page table is.
        pub Address: D3DGPU_PHYSICAL_ADDRESS,
        /// Its size in entries.
        pub NumEntries: UINT,
    }

    /// `DXGK_DESCRIBEALLOCATIONFLAGS`.
    pub struct DXGK_DESCRIBEALLOCATIONFLAGS {
        /// The bit-field union as one value.
        pub Value: UINT,
    }

    /// `DXGKARG_DESCRIBEALLOCATION`.
    pub struct DXGKARG_DESCRIBEALLOCATION {
        /// In: the driver's allocation handle.
        pub hAllocation: HANDLE,
        /// Out: width.
        pub Width: UINT,
        /// Out: height.
        pub Height: UINT,
        /// Out: the format.
        pub Format: D3DDDIFORMAT,
        /// Out: `D3DDDI_MULTISAMPLINGMETHOD` (NumSamples, NumQualityLevels).
        pub MultisampleMethod: [UINT; 2],
        /// Out: `D3DDDI_RATIONAL` (Numerator, Denominator).
        pub RefreshRate: [UINT; 2],
        /// Out: private format attribute.
        pub PrivateDriverFormatAttribute: UINT,
        /// In: flags.
        pub Flags: DXGK_DESCRIBEALLOCATIONFLAGS,
        /// Out: the rotation.
        pub Rotation: D3DDDI_ROTATION,
    }

    /// `DXGK_OPENALLOCATIONINFO`.
    pub struct DXGK_OPENALLOCATIONINFO {
        /// In: the kernel's `D3DKMT_HANDLE` of the allocation.
        pub hAllocation: UINT,
        /// In: the allocation's private data (as created).
        pub pPrivateDriverData: PVOID,
        /// In: bytes at `pPrivateDriverData`.
        pub PrivateDriverDataSize: UINT,
        /// Out: the driver's handle of the allocation on this device.
        pub hDeviceSpecificAllocation: HANDLE,
    }

    /// `DXGK_OPENALLOCATIONFLAGS`.
    pub struct DXGK_OPENALLOCATIONFLAGS {
        /// The flag bits.
        pub Value: OpenAllocationFlags,
    }

    /// `DXGKARG_OPENALLOCATION`.
    pub struct DXGKARG_OPENALLOCATION {
        /// In: entries at `pOpenAllocation`.
        pub NumAllocations: UINT,
        /// In/out: the allocations.
        pub pOpenAllocation: *mut DXGK_OPENALLOCATIONINFO,
        /// In: resource private data.
        pub pPrivateDriverData: PVOID,
        /// In: bytes at `pPrivateDriverData`.
        pub PrivateDriverSize: UINT,
        /// In: flags.
        pub Flags: DXGK_OPENALLOCATIONFLAGS,
        /// In: subresource index.
        pub SubresourceIndex: UINT,
        /// In: subresource offset.
        pub SubresourceOffset: SIZE_T,
        /// In: pitch.
        pub Pitch: UINT,
    }

    /// `DXGKARG_CLOSEALLOCATION`.
    pub struct DXGKARG_CLOSEALLOCATION {
        /// In: entries at `pOpenHandleList`.
        pub NumAllocations: UINT,
        /// In: device-specific handles from `DxgkDdiOpenAllocation`.
        pub pOpenHandleList: *const HANDLE,
    }
}

impl DXGKARG_CREATEDEVICE {
    /// The input flags: the low 32 bits of the `Flags`/`pInfo` union.
    #[must_use]
    pub fn flags(&self) -> CreateDeviceFlags {
        // Truncation intended: `Flags` is the union's first 4 bytes (x64 LE).
        CreateDeviceFlags::from_bits_retain(self.pInfo.addr() as u32)
    }

    /// Sets the input flags (what Dxgkrnl does before the call).
    pub fn set_flags(&mut self, flags: CreateDeviceFlags) {
        self.pInfo = core::ptr::without_provenance_mut(flags.bits() as usize);
    }
}

/// `DXGK_NODEMETADATA` (= `DXGKARG_GETNODEMETADATA`): packed in the header
/// (alignment 1, 74 bytes), so it is declared here by hand with the same
/// layout metadata the [`records!`](crate::records) macro emits.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug)]
pub struct DXGK_NODEMETADATA {
    /// `DXGK_ENGINE_TYPE`.
    pub EngineType: DXGK_ENGINE_TYPE,
    /// The node's name, NUL-terminated UTF-16.
    pub FriendlyName: [WCHAR; 32],
    /// `DXGK_NODEMETADATA_FLAGS`.
    pub Flags: DXGK_NODEMETADATA_FLAGS,
    /// The node uses the GPU MMU.
    pub GpuMmuSupported: BOOLEAN,
    /// The node uses the IOMMU.
    pub IoMmuSupported: BOOLEAN,
}

/// `DXGK_NODEMETADATA_FLAGS` (packed in the header: alignment 1).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug)]
pub struct DXGK_NODEMETADATA_FLAGS {
    /// The flag bits.
    pub Value: NodeMetadataFlags,
}

macro_rules! packed_abi {
    ($($name:ident { $($field:ident : $ty:ty),* })*) => { $(
        impl $name {
            /// Layout metadata checked by the ABI test.
            pub const ABI: crate::abi::RecordInfo = crate::abi::RecordInfo {
                name: stringify!($name),
                size: core::mem::size_of::<$name>(),
                align: core::mem::align_of::<$name>(),
                fields: &[ $( crate::abi::FieldInfo {
                    name: stringify!($field),
                    offset: core::mem::offset_of!($name, $field),
                    size: core::mem::size_of::<$ty>(),
                } ),* ],
            };
        }
        impl crate::abi::Record for $name {
            const ABI: crate::abi::RecordInfo = $name::ABI;
        }
        const _: () = { $( crate::abi::assert_zeroable::<$ty>(); )* };
        // SAFETY: every field type is `Zeroable` (asserted just above).
        unsafe impl crate::abi::Zeroable for $name {}
        impl Default for $name {
            fn default() -> Self {
                <Self as crate::abi::Zeroable>::zeroed()
            }
        }
    )* };
}

packed_abi! {
    DXGK_NODEMETADATA {
        EngineType: DXGK_ENGINE_TYPE,
        FriendlyName: [WCHAR; 32],
        Flags: DXGK_NODEMETADATA_FLAGS,
        GpuMmuSupported: BOOLEAN,
        IoMmuSupported: BOOLEAN
    }
    DXGK_NODEMETADATA_FLAGS {
        Value: NodeMetadataFlags
    }
}

// ---- DDI typedefs of the GPU-VA process group (the other render DDIs'
// typedefs are in dispmprt.rs) ----

/// `DXGKDDI_CREATEPROCESS`.
pub type PDXGKDDI_CREATEPROCESS = Option<
    unsafe extern "system" fn(hAdapter: PVOID, pArgs: *mut DXGKARG_CREATEPROCESS) -> NTSTATUS,
>;
/// `DXGKDDI_DESTROYPROCESS`.
pub type PDXGKDDI_DESTROYPROCESS =
    Option<unsafe extern "system" fn(hAdapter: PVOID, KmdProcessHandle: HANDLE) -> NTSTATUS>;
/// `DXGKDDI_GETROOTPAGETABLESIZE`: returns the root page table's bytes.
pub type PDXGKDDI_GETROOTPAGETABLESIZE = Option<
    unsafe extern "system" fn(hAdapter: HANDLE, pArgs: *mut DXGKARG_GETROOTPAGETABLESIZE) -> SIZE_T,
>;
/// `DXGKDDI_SETROOTPAGETABLE` (VOID).
pub type PDXGKDDI_SETROOTPAGETABLE = Option<
    unsafe extern "system" fn(hAdapter: HANDLE, pSetPageTable: *const DXGKARG_SETROOTPAGETABLE),
>;
