//! `DxgkDdiQueryAdapterInfo`: its argument block, the query types, and the
//! driver capabilities answered for `DXGKQAITYPE_DRIVERCAPS`.

use crate::*;

crate::c_enum! {
    /// `DXGK_QUERYADAPTERINFOTYPE`.
    pub enum DXGK_QUERYADAPTERINFOTYPE: i32 {
        DXGKQAITYPE_UMDRIVERPRIVATE = 0,
        DXGKQAITYPE_DRIVERCAPS = 1,
        DXGKQAITYPE_QUERYSEGMENT = 2,
        DXGKQAITYPE_RESERVED = 3,
        DXGKQAITYPE_QUERYSEGMENT2 = 4,
        DXGKQAITYPE_QUERYSEGMENT3 = 5,
        DXGKQAITYPE_NUMPOWERCOMPONENTS = 6,
        DXGKQAITYPE_POWERCOMPONENTINFO = 7,
        DXGKQAITYPE_PREFERREDGPUNODE = 8,
        DXGKQAITYPE_POWERCOMPONENTPSTATEINFO = 9,
        DXGKQAITYPE_HISTORYBUFFERPRECISION = 10,
        DXGKQAITYPE_QUERYSEGMENT4 = 11,
        DXGKQAITYPE_SEGMENTMEMORYSTATE = 12,
        DXGKQAITYPE_GPUMMUCAPS = 13,
        DXGKQAITYPE_PAGETABLELEVELDESC = 14,
        DXGKQAITYPE_PHYSICALADAPTERCAPS = 15,
        DXGKQAITYPE_DISPLAY_DRIVERCAPS_EXTENSION = 16,
        DXGKQAITYPE_INTEGRATED_DISPLAY_DESCRIPTOR = 17,
        DXGKQAITYPE_UEFIFRAMEBUFFERRANGES = 18,
        DXGKQAITYPE_QUERYCOLORIMETRYOVERRIDES = 19,
        DXGKQAITYPE_DISPLAYID_DESCRIPTOR = 20,
        DXGKQAITYPE_FRAMEBUFFERSAVESIZE = 21,
        DXGKQAITYPE_HARDWARERESERVEDRANGES = 22,
        DXGKQAITYPE_INTEGRATED_DISPLAY_DESCRIPTOR2 = 23,
        DXGKQAITYPE_NODEPERFDATA = 24,
        DXGKQAITYPE_ADAPTERPERFDATA = 25,
        DXGKQAITYPE_ADAPTERPERFDATA_CAPS = 26,
        DXGKQAITYPE_GPUVERSION = 27,
        DXGKQAITYPE_DEVICE_TYPE_CAPS = 28,
        DXGKQAITYPE_WDDMDEVICECAPS = 29,
        DXGKQAITYPE_GPUPCAPS = 30,
        DXGKQAITYPE_QUERYTARGETGAMMACAPS = 31,
        DXGKQAITYPE_SCANOUT_CAPS = 33,
        DXGKQAITYPE_PHYSICAL_MEMORY_CAPS = 34,
        DXGKQAITYPE_IOMMU_CAPS = 35,
        DXGKQAITYPE_HARDWARERESERVEDRANGES2 = 36,
        DXGKQAITYPE_NATIVE_FENCE_CAPS = 37,
        DXGKQAITYPE_USERMODESUBMISSION_CAPS = 38,
        DXGKQAITYPE_DIRTYBITTRACKINGCAPS = 39,
        DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS = 40,
        DXGKQAITYPE_SCATTER_RESERVE = 41,
        DXGKQAITYPE_QUERYPAGINGBUFFERINFO = 42,
        DXGKQAITYPE_QUERYSEGMENTCOUNT = 43,
        DXGKQAITYPE_QUERYSEGMENT5 = 44,
        DXGKQAITYPE_QUERYMMUCOUNT = 45,
        DXGKQAITYPE_QUERYMMUS = 46,
        DXGKQAITYPE_64BITONLYCAPS = 47,
        DXGKQAITYPE_PAGINGPROCESSGPUVASIZE = 48,
    }

    /// `DXGK_WDDMVERSION`.
    pub enum DXGK_WDDMVERSION: i32 {
        DXGKDDI_WDDMv1 = 4096,
        DXGKDDI_WDDMv1_2 = 4608,
        DXGKDDI_WDDMv1_3 = 4864,
        DXGKDDI_WDDMv2 = 8192,
        DXGKDDI_WDDMv2_1 = 8448,
        DXGKDDI_WDDMv2_1_5 = 8453,
        DXGKDDI_WDDMv2_1_6 = 8454,
        DXGKDDI_WDDMv2_2 = 8704,
        DXGKDDI_WDDMv2_3 = 8960,
        DXGKDDI_WDDMv2_4 = 9216,
        DXGKDDI_WDDMv2_5 = 9472,
        DXGKDDI_WDDMv2_6 = 9728,
        DXGKDDI_WDDMv2_7 = 9984,
        DXGKDDI_WDDMv2_8 = 10240,
        DXGKDDI_WDDMv2_9 = 10496,
        DXGKDDI_WDDMv3_0 = 12288,
        DXGKDDI_WDDMv3_1 = 12544,
        DXGKDDI_WDDMv3_2 = 12800,
        DXGKDDI_WDDM_LATEST = 12800,
    }

    /// `D3DKMDT_GRAPHICS_PREEMPTION_GRANULARITY`.
    pub enum D3DKMDT_GRAPHICS_PREEMPTION_GRANULARITY: i32 {
        D3DKMDT_GRAPHICS_PREEMPTION_NONE = 0,
        D3DKMDT_GRAPHICS_PREEMPTION_DMA_BUFFER_BOUNDARY = 100,
        D3DKMDT_GRAPHICS_PREEMPTION_PRIMITIVE_BOUNDARY = 200,
        D3DKMDT_GRAPHICS_PREEMPTION_TRIANGLE_BOUNDARY = 300,
        D3DKMDT_GRAPHICS_PREEMPTION_PIXEL_BOUNDARY = 400,
        D3DKMDT_GRAPHICS_PREEMPTION_SHADER_BOUNDARY = 500,
    }

    /// `D3DKMDT_COMPUTE_PREEMPTION_GRANULARITY`.
    pub enum D3DKMDT_COMPUTE_PREEMPTION_GRANULARITY: i32 {
        D3DKMDT_COMPUTE_PREEMPTION_NONE = 0,
        D3DKMDT_COMPUTE_PREEMPTION_DMA_BUFFER_BOUNDARY = 100,
        D3DKMDT_COMPUTE_PREEMPTION_DISPATCH_BOUNDARY = 200,
        D3DKMDT_COMPUTE_PREEMPTION_THREAD_GROUP_BOUNDARY = 300,
        D3DKMDT_COMPUTE_PREEMPTION_THREAD_BOUNDARY = 400,
        D3DKMDT_COMPUTE_PREEMPTION_SHADER_BOUNDARY = 500,
    }
}

bitflags::bitflags! {
    /// The bits of `DXGK_QUERYADAPTERINFOFLAGS`.
    #[repr(transparent)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct QueryAdapterInfoFlags: u32 {
        /// The query is on behalf of a virtual machine.
        const VirtualMachineData = 1 << 0;
        /// The virtual machine is a secure one.
        const SecureVirtualMachine = 1 << 1;
        // Bits Dxgkrnl may set in later versions are kept, not rejected.
        const _ = !0;
    }

    /// The bits of `DXGK_DRIVERCAPS::MiscCaps`.
    #[repr(transparent)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct DriverMiscCaps: u32 {
        /// Contextless present supported.
        const SupportContextlessPresent = 1 << 0;
        /// The adapter is detachable.
        const Detachable = 1 << 1;
        /// The adapter serves virtual GPUs only; host D3D must not use it.
        const VirtualGpuOnly = 1 << 2;
        /// Compute-only (MCDM) adapter.
        const ComputeOnly = 1 << 3;
        /// Independent VidPN VSync control.
        const IndependentVidPnVSyncControl = 1 << 4;
        /// No hybrid discrete DList DLL support.
        const NoHybridDiscreteDListDllSupport = 1 << 5;
        /// Displayable support.
        const DisplayableSupport = 1 << 6;
        /// No hybrid discrete DList DLL mux support.
        const NoHybridDiscreteDListDllMuxSupport = 1 << 7;
        /// The cursor does not support XOR blend with MPO plane 0.
        const CursorDoesNotSupportXorBlendWithMultiPlaneOverlay = 1 << 8;
    }
}

bitflags::bitflags! {
    /// The bits of `DXGK_VIDSCHCAPS` (`DXGK_DRIVERCAPS::SchedulingCaps`).
    #[repr(transparent)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct VidSchCaps: u32 {
        /// The driver supports more than one node (required of WDDM 2 drivers).
        const MultiEngineAware = 1 << 0;
        /// VSync power-saving aware.
        const VSyncPowerSaveAware = 1 << 1;
        /// The driver supports preemption (`DxgkDdiPreemptCommand`).
        const PreemptionAware = 1 << 2;
        /// No DMA patching.
        const NoDmaPatching = 1 << 3;
        /// The driver supports `DxgkDdiCancelCommand`.
        const CancelCommandAware = 1 << 4;
        /// The GPU lacks 64-bit atomics.
        const No64BitAtomics = 1 << 5;
        /// `DxgkDdiPreemptCommand` may be called at PASSIVE_LEVEL.
        const LowIrqlPreemptCommand = 1 << 6;
        /// Hardware queue packet cap (a 4-bit field).
        const HwQueuePacketCap = 0xF << 7;
        /// Native GPU fences.
        const NativeGpuFence = 1 << 11;
        /// Optimized native-fence signaled interrupt.
        const OptimizedNativeFenceSignaledInterrupt = 1 << 12;
    }

    /// The bits of `DXGK_VIDMMCAPS` (`DXGK_DRIVERCAPS::MemoryManagementCaps`).
    #[repr(transparent)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct VidMmCaps: u32 {
        /// Out-of-order lock.
        const OutOfOrderLock = 1 << 0;
        /// A paging engine dedicated to paging (MCDM: must be 0).
        const DedicatedPagingEngine = 1 << 1;
        /// The paging engine can swizzle.
        const PagingEngineCanSwizzle = 1 << 2;
        /// Section-backed primary.
        const SectionBackedPrimary = 1 << 3;
        /// Cross-adapter resources.
        const CrossAdapterResource = 1 << 4;
        /// GPU virtual addressing (needs GpuMmu and/or IoMmu).
        const VirtualAddressingSupported = 1 << 5;
        /// The GPU has its own MMU, whose page tables VidMm manages.
        const GpuMmuSupported = 1 << 6;
        /// The GPU uses the IOMMU (the CPU's page tables).
        const IoMmuSupported = 1 << 7;
        /// Replicate GDI content.
        const ReplicateGdiContent = 1 << 8;
        /// Non-CPU-visible primary.
        const NonCpuVisiblePrimary = 1 << 9;
        /// GPU paravirtualization (MCDM GPU-P hosts: must be 0).
        const ParavirtualizationSupported = 1 << 10;
        /// IoMmu secure mode supported.
        const IoMmuSecureModeSupported = 1 << 11;
        /// Disable self-refresh of VRAM in S3.
        const DisableSelfRefreshVRAMInS3 = 1 << 12;
        /// IoMmu secure mode required.
        const IoMmuSecureModeRequired = 1 << 13;
        /// `DXGK_BUILDPAGINGBUFFER_OPERATION_MAP_APERTURE_SEGMENT2` supported.
        const MapAperture2Supported = 1 << 14;
        /// Cross-adapter resource textures.
        const CrossAdapterResourceTexture = 1 << 15;
        /// Cross-adapter resource scan-out.
        const CrossAdapterResourceScanout = 1 << 16;
        /// VRAM always powered.
        const AlwaysPoweredVRAM = 1 << 17;
    }
}

crate::records! {
    /// `DXGK_QUERYADAPTERINFOFLAGS`.
    pub struct DXGK_QUERYADAPTERINFOFLAGS {
        /// The flag bits.
        pub Value: QueryAdapterInfoFlags,
    }

    /// `DXGKARG_QUERYADAPTERINFO`.
    pub struct DXGKARG_QUERYADAPTERINFO {
        /// What is asked.
        pub Type: DXGK_QUERYADAPTERINFOTYPE,
        /// Input, if the type has one.
        pub pInputData: PVOID,
        /// Bytes at `pInputData`.
        pub InputDataSize: UINT,
        /// Output buffer, allocated by the OS.
        pub pOutputData: PVOID,
        /// Bytes at `pOutputData`.
        pub OutputDataSize: UINT,
        /// Query flags.
        pub Flags: DXGK_QUERYADAPTERINFOFLAGS,
        /// The KMD process handle, for per-process queries.
        pub hKmdProcessHandle: HANDLE,
    }

    /// `DXGK_POINTERFLAGS`.
    pub struct DXGK_POINTERFLAGS {
        /// The bit-field union as one value.
        pub Value: UINT,
    }

    /// `DXGK_GAMMARAMPCAPS` (shares its storage with `DXGK_COLORTRANSFORMCAPS`).
    pub struct DXGK_GAMMARAMPCAPS {
        /// The bit-field union as one value.
        pub Value: UINT,
    }

    /// `DXGK_PRESENTATIONCAPS`.
    pub struct DXGK_PRESENTATIONCAPS {
        /// The bit-field union as one value.
        pub Value: UINT,
    }

    /// `DXGK_FLIPCAPS`.
    pub struct DXGK_FLIPCAPS {
        /// The bit-field union as one value.
        pub Value: UINT,
    }

    /// `DXGK_VIDSCHCAPS`.
    pub struct DXGK_VIDSCHCAPS {
        /// The bit-field union as one value.
        pub Value: VidSchCaps,
    }

    /// `DXGK_VIDMMCAPS`.
    pub struct DXGK_VIDMMCAPS {
        /// The bit-field union as one value.
        pub Value: VidMmCaps,
        /// Paging engine node.
        pub PagingNode: UINT,
    }

    /// `DXGK_GPUENGINETOPOLOGY`.
    pub struct DXGK_GPUENGINETOPOLOGY {
        /// Number of nodes (engines).
        pub NbAsymetricProcessingNodes: UINT,
        /// Reserved.
        pub Reserved: [UINT; 64],
    }

    /// `DXGK_VIRTUALADDRESSCAPS_DEPRECATED`.
    pub struct DXGK_VIRTUALADDRESSCAPS_DEPRECATED {
        /// The bit-field union as one value.
        pub Value: UINT,
        /// Deprecated.
        pub VirtualAddressBitCount: UINT,
        /// Deprecated.
        pub PageTableCoverageBitCount: UINT,
        /// Deprecated.
        pub PageDirectoryEntrySize: UINT,
        /// Deprecated.
        pub PageDirectorySegment: UINT,
        /// Deprecated.
        pub PageTableSegment: UINT,
        /// Deprecated.
        pub IdealGPUPageSize: UINT,
    }

    /// `DXGK_DMABUFFERCAPS_DEPRECATED`: two unnamed 80-byte structs.
    pub struct DXGK_DMABUFFERCAPS_DEPRECATED {
        /// Deprecated present DMA buffer caps.
        pub PresentDmaBuffer: [UINT; 20],
        /// Deprecated paging DMA buffer caps.
        pub PagingDmaBuffer: [UINT; 20],
    }

    /// `D3DKMDT_PREEMPTION_CAPS`.
    pub struct D3DKMDT_PREEMPTION_CAPS {
        /// Graphics preemption granularity.
        pub GraphicsPreemptionGranularity: D3DKMDT_GRAPHICS_PREEMPTION_GRANULARITY,
        /// Compute preemption granularity.
        pub ComputePreemptionGranularity: D3DKMDT_COMPUTE_PREEMPTION_GRANULARITY,
    }

    /// `DXGK_HWQUEUEDFLIP_CAPS`.
    pub struct DXGK_HWQUEUEDFLIP_CAPS {
        /// The bit-field union as one value.
        pub Value: UINT,
    }

    /// `DXGK_DRIVERCAPS`, answered for `DXGKQAITYPE_DRIVERCAPS`.
    pub struct DXGK_DRIVERCAPS {
        /// Highest physical address the adapter can access.
        pub HighestAcceptableAddress: LARGE_INTEGER,
        /// Maximum allocation-list slot id.
        pub MaxAllocationListSlotId: UINT,
        /// Aperture segment commit limit.
        pub ApertureSegmentCommitLimit: SIZE_T,
        /// Maximum pointer width.
        pub MaxPointerWidth: UINT,
        /// Maximum pointer height.
        pub MaxPointerHeight: UINT,
        /// Pointer capabilities.
        pub PointerCaps: DXGK_POINTERFLAGS,
        /// Interrupt message number.
        pub InterruptMessageNumber: UINT,
        /// Number of swizzling ranges.
        pub NumberOfSwizzlingRanges: UINT,
        /// Maximum overlays.
        pub MaxOverlays: UINT,
        /// Gamma-ramp caps (the same storage as `ColorTransformCaps`).
        pub GammaRampCaps: DXGK_GAMMARAMPCAPS,
        /// Presentation caps.
        pub PresentationCaps: DXGK_PRESENTATIONCAPS,
        /// Maximum queued flips on VSync.
        pub MaxQueuedFlipOnVSync: UINT,
        /// Flip caps.
        pub FlipCaps: DXGK_FLIPCAPS,
        /// Scheduling caps.
        pub SchedulingCaps: DXGK_VIDSCHCAPS,
        /// Memory-management caps.
        pub MemoryManagementCaps: DXGK_VIDMMCAPS,
        /// Engine topology.
        pub GpuEngineTopology: DXGK_GPUENGINETOPOLOGY,
        /// The WDDM version the driver implements; must match the table's `Version`.
        pub WDDMVersion: DXGK_WDDMVERSION,
        /// Deprecated.
        pub Reserved: DXGK_VIRTUALADDRESSCAPS_DEPRECATED,
        /// Deprecated.
        pub Reserved1: DXGK_DMABUFFERCAPS_DEPRECATED,
        /// Preemption caps.
        pub PreemptionCaps: D3DKMDT_PREEMPTION_CAPS,
        /// Supports non-VGA.
        pub SupportNonVGA: BOOLEAN,
        /// Supports smooth rotation.
        pub SupportSmoothRotation: BOOLEAN,
        /// Supports per-engine TDR.
        pub SupportPerEngineTDR: BOOLEAN,
        /// Supports direct flip.
        pub SupportDirectFlip: BOOLEAN,
        /// Supports multi-plane overlay.
        pub SupportMultiPlaneOverlay: BOOLEAN,
        /// Supports runtime power management.
        pub SupportRuntimePowerManagement: BOOLEAN,
        /// Supports surprise removal in hibernation.
        pub SupportSurpriseRemovalInHibernation: BOOLEAN,
        /// Hybrid discrete.
        pub HybridDiscrete: BOOLEAN,
        /// Maximum overlay planes.
        pub MaxOverlayPlanes: UINT,
        /// Hybrid integrated.
        pub HybridIntegrated: BOOLEAN,
        /// Start of the internal GPU VA range.
        pub InternalGpuVirtualAddressRangeStart: D3DGPU_VIRTUAL_ADDRESS,
        /// End of the internal GPU VA range.
        pub InternalGpuVirtualAddressRangeEnd: D3DGPU_VIRTUAL_ADDRESS,
        /// Supports surprise removal.
        pub SupportSurpriseRemoval: BOOLEAN,
        /// Supports MPO immediate flip.
        pub SupportMultiPlaneOverlayImmediateFlip: BOOLEAN,
        /// Cursor scaled with MPO plane 0.
        pub CursorScaledWithMultiPlaneOverlayPlane0: BOOLEAN,
        /// Hybrid ACPI chaining required.
        pub HybridAcpiChainingRequired: BOOLEAN,
        /// Maximum queued MPO flips on VSync.
        pub MaxQueuedMultiPlaneOverlayFlipVSync: UINT,
        /// Miscellaneous caps.
        pub MiscCaps: DriverMiscCaps,
        /// Maximum hardware-queued flips.
        pub MaxHwQueuedFlips: UINT,
        /// Hardware-queued flip caps.
        pub HwQueuedFlipCaps: DXGK_HWQUEUEDFLIP_CAPS,
    }
}

crate::zeroable_bitflags!(QueryAdapterInfoFlags, DriverMiscCaps, VidSchCaps, VidMmCaps);
