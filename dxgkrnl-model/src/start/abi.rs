//! Offsets, bits and constants of the WDDM records the start rules read, and
//! little-endian reads of plain bytes. The offsets and sizes come from
//! `dxgk-sys`'s typed records (checked against
//! `../shared/abi/wddm32-x64-layouts.tsv` by `cargo test -p dxgk-sys --test
//! abi`, and again here by `tests/adapter_start.rs`); the sequence still
//! reads plain byte buffers, so that a short or odd answer reads as zeroed
//! rather than as a half-initialised record. Shared with the Wine fixture
//! through `#[path]`, like `rules.rs`: `core` and `dxgk-sys` only.

/// `DXGKQAITYPE_*` values.
pub mod qai {
    #![allow(missing_docs)]
    pub const DRIVERCAPS: u32 = 1;
    pub const HISTORYBUFFERPRECISION: u32 = 10;
    pub const QUERYSEGMENT4: u32 = 11;
    pub const GPUMMUCAPS: u32 = 13;
    pub const PAGETABLELEVELDESC: u32 = 14;
    pub const PHYSICALADAPTERCAPS: u32 = 15;
    pub const FRAMEBUFFERSAVESIZE: u32 = 21;
    pub const ADAPTERPERFDATA_CAPS: u32 = 26;
    pub const GPUVERSION: u32 = 27;
    pub const WDDMDEVICECAPS: u32 = 29;
    pub const NATIVE_FENCE_CAPS: u32 = 37;
    pub const DIRTYBITTRACKINGCAPS: u32 = 39;
    pub const DIRTYBITTRACKINGSEGMENTCAPS: u32 = 40;
    pub const QUERYPAGINGBUFFERINFO: u32 = 42;
    pub const QUERYSEGMENTCOUNT: u32 = 43;
    pub const QUERYSEGMENT5: u32 = 44;
    pub const QUERYMMUCOUNT: u32 = 45;
    pub const QUERYMMUS: u32 = 46;
    pub const SIXTY_FOUR_BIT_ONLY_CAPS: u32 = 47;
}
/// `DXGK_DRIVERCAPS` (592 bytes): offsets from `dxgk-sys`'s record.
pub mod caps {
    #![allow(missing_docs)]
    use core::mem::{offset_of, size_of};
    use dxgk_sys::DXGK_DRIVERCAPS as C;
    pub const SIZE: usize = size_of::<C>();
    pub const PRESENTATION_CAPS: usize = offset_of!(C, PresentationCaps);
    pub const FLIP_CAPS: usize = offset_of!(C, FlipCaps);
    pub const SCHEDULING_CAPS: usize = offset_of!(C, SchedulingCaps);
    pub const MEMORY_MANAGEMENT_CAPS: usize = offset_of!(C, MemoryManagementCaps);
    pub const PAGING_NODE: usize = offset_of!(C, MemoryManagementCaps.PagingNode);
    pub const NODES: usize = offset_of!(C, GpuEngineTopology.NbAsymetricProcessingNodes);
    pub const WDDM_VERSION: usize = offset_of!(C, WDDMVersion);
    pub const GRAPHICS_PREEMPTION: usize =
        offset_of!(C, PreemptionCaps.GraphicsPreemptionGranularity);
    pub const COMPUTE_PREEMPTION: usize =
        offset_of!(C, PreemptionCaps.ComputePreemptionGranularity);
    pub const SUPPORT_NON_VGA: usize = offset_of!(C, SupportNonVGA);
    pub const SUPPORT_PER_ENGINE_TDR: usize = offset_of!(C, SupportPerEngineTDR);
    pub const SUPPORT_MULTI_PLANE_OVERLAY: usize = offset_of!(C, SupportMultiPlaneOverlay);
    pub const SUPPORT_RUNTIME_POWER_MANAGEMENT: usize =
        offset_of!(C, SupportRuntimePowerManagement);
    pub const MISC_CAPS: usize = offset_of!(C, MiscCaps);
}
/// Bits of the caps words.
pub mod bits {
    #![allow(missing_docs)]
    // DXGK_PRESENTATIONCAPS
    pub const SUPPORT_KERNEL_MODE_COMMAND_BUFFER: u32 = 1 << 2;
    // DXGK_FLIPCAPS
    pub const FLIP_ON_VSYNC_MMIO: u32 = 1 << 1;
    // DXGK_VIDSCHCAPS
    pub const MULTI_ENGINE_AWARE: u32 = 1 << 0;
    pub const PREEMPTION_AWARE: u32 = 1 << 2;
    pub const CANCEL_COMMAND_AWARE: u32 = 1 << 4;
    pub const NATIVE_GPU_FENCE: u32 = 1 << 11;
    // DXGK_VIDMMCAPS
    pub const VIRTUAL_ADDRESSING: u32 = 1 << 5;
    pub const GPU_MMU: u32 = 1 << 6;
    pub const IO_MMU: u32 = 1 << 7;
    pub const PARAVIRTUALIZATION: u32 = 1 << 10;
    pub const IO_MMU_SECURE_MODE: u32 = 1 << 11;
    // MiscCaps: bits 0-8 defined, 9-31 reserved.
    pub const VIRTUAL_GPU_ONLY: u32 = 1 << 2;
    pub const COMPUTE_ONLY: u32 = 1 << 3;
    pub const MISC_RESERVED: u32 = !0x1FF;
    // DXGK_DIRTY_BIT_TRACKING_CAPS
    pub const DIRTY_BIT_TRACKING_SUPPORTED: u32 = 1 << 0;
    // DXGK_SEGMENTFLAGS
    pub const SEGMENT_APERTURE: u32 = 1 << 0;
    pub const SEGMENT_AGP: u32 = 1 << 1;
    pub const SEGMENT_USE_BANKING: u32 = 1 << 3;
    pub const SEGMENT_PITCH_ALIGNMENT: u32 = 1 << 5;
    pub const SEGMENT_LOCAL_BUDGET_GROUP: u32 = 1 << 19;
    // DXGK_PHYSICALADAPTERFLAGS
    pub const PHYSICAL_IO_MMU: u32 = 1 << 0;
    pub const PHYSICAL_GPU_MMU: u32 = 1 << 1;
    pub const PHYSICAL_VIRTUAL_COPY_ENGINE: u32 = 1 << 5;
    // DXGK_NODEMETADATA_FLAGS
    pub const NODE_CONTEXT_SCHEDULING: u32 = 1 << 0;
    pub const NODE_USER_MODE_SUBMISSION: u32 = 1 << 3;
    pub const NODE_RESERVED: u32 = 0xFFE0;
    // DXGK_CREATEDEVICEFLAGS / DXGK_CREATECONTEXTFLAGS
    pub const SYSTEM_DEVICE: u32 = 1 << 0;
    pub const SYSTEM_CONTEXT: u32 = 1 << 0;
    pub const CONTEXT_VIRTUAL_ADDRESSING: u32 = 1 << 2;
}
/// Other records, by (offset, size), from `dxgk-sys`'s records.
pub mod rec {
    #![allow(missing_docs)]
    use core::mem::{offset_of, size_of};
    use dxgk_sys::{
        DXGK_GPUMMUCAPS, DXGK_MMUDESCRIPTOR, DXGK_NODEMETADATA, DXGK_PAGE_TABLE_LEVEL_DESC,
        DXGK_PHYSICALADAPTERCAPS, DXGK_QUERYMMUSOUT, DXGK_QUERYSEGMENTCOUNTOUT,
        DXGK_QUERYSEGMENTOUT4, DXGK_QUERYSEGMENTOUT5, DXGK_SEGMENTDESCRIPTOR4,
        DXGK_SEGMENTDESCRIPTOR5, DXGKARG_CREATECONTEXT, DXGKARG_CREATEDEVICE,
    };
    // DXGK_PHYSICALADAPTERCAPS (32)
    pub const PHYS_SIZE: usize = size_of::<DXGK_PHYSICALADAPTERCAPS>();
    pub const PHYS_NODES: usize = offset_of!(DXGK_PHYSICALADAPTERCAPS, NumExecutionNodes);
    pub const PHYS_PAGING_NODE: usize = offset_of!(DXGK_PHYSICALADAPTERCAPS, PagingNodeIndex);
    pub const PHYS_HANDLE: usize = offset_of!(DXGK_PHYSICALADAPTERCAPS, DxgkPhysicalAdapterHandle);
    pub const PHYS_FLAGS: usize = offset_of!(DXGK_PHYSICALADAPTERCAPS, Flags);
    pub const PHYS_VIRTUAL_COPY_NODE: usize =
        offset_of!(DXGK_PHYSICALADAPTERCAPS, VirtualCopyNodeIndex);
    // DXGK_GPUMMUCAPS (24), DXGK_QUERYPAGETABLELEVELDESCIN (4), DXGK_PAGE_TABLE_LEVEL_DESC (20)
    pub const MMU_SIZE: usize = size_of::<DXGK_GPUMMUCAPS>();
    pub const MMU_VA_BITS: usize = offset_of!(DXGK_GPUMMUCAPS, VirtualAddressBitCount);
    pub const MMU_LEVELS: usize = offset_of!(DXGK_GPUMMUCAPS, PageTableLevelCount);
    pub const LEVEL_DESC_SIZE: usize = size_of::<DXGK_PAGE_TABLE_LEVEL_DESC>();
    pub const LEVEL_INDEX_BITS: usize =
        offset_of!(DXGK_PAGE_TABLE_LEVEL_DESC, PageTableIndexBitCount);
    pub const MAX_PAGE_TABLE_LEVEL_COUNT: u32 = 6;
    // DXGK_NODEMETADATA (74, packed)
    pub const NODE_SIZE: usize = size_of::<DXGK_NODEMETADATA>();
    pub const NODE_ENGINE_TYPE: usize = offset_of!(DXGK_NODEMETADATA, EngineType);
    pub const NODE_FLAGS: usize = offset_of!(DXGK_NODEMETADATA, Flags);
    pub const NODE_GPU_MMU: usize = offset_of!(DXGK_NODEMETADATA, GpuMmuSupported);
    pub const NODE_IO_MMU: usize = offset_of!(DXGK_NODEMETADATA, IoMmuSupported);
    pub const ENGINE_TYPE_MAX: u32 = 10;
    // DXGK_QUERYSEGMENTOUT4 (40), DXGK_SEGMENTDESCRIPTOR4 (96; Dxgkrnl steps by 104)
    pub const SEG4_OUT_SIZE: usize = size_of::<DXGK_QUERYSEGMENTOUT4>();
    pub const SEG4_NB: usize = offset_of!(DXGK_QUERYSEGMENTOUT4, NbSegment);
    pub const SEG4_DESCRIPTORS: usize = offset_of!(DXGK_QUERYSEGMENTOUT4, pSegmentDescriptor);
    pub const SEG4_PAGING_SEGMENT: usize = offset_of!(DXGK_QUERYSEGMENTOUT4, PagingBufferSegmentId);
    pub const SEG4_PAGING_SIZE: usize = offset_of!(DXGK_QUERYSEGMENTOUT4, PagingBufferSize);
    pub const SEG4_PAGING_PRIVATE: usize =
        offset_of!(DXGK_QUERYSEGMENTOUT4, PagingBufferPrivateDataSize);
    pub const SEG4_STRIDE: usize = offset_of!(DXGK_QUERYSEGMENTOUT4, SegmentDescriptorStride);
    pub const SEG4_DESCRIPTOR_SIZE: usize = size_of::<DXGK_SEGMENTDESCRIPTOR4>();
    pub const SEG4_STRIDE_GIVEN: usize = 104;
    pub const DESC4_FLAGS: usize = offset_of!(DXGK_SEGMENTDESCRIPTOR4, Flags);
    pub const DESC4_SIZE: usize = offset_of!(DXGK_SEGMENTDESCRIPTOR4, Size);
    // PBMM: counts (8-byte in/out), DXGK_QUERYSEGMENTOUT5 (24), DXGK_SEGMENTDESCRIPTOR5 (88),
    // DXGK_QUERYMMUSOUT (32), DXGK_MMUDESCRIPTOR (16). QUERYPAGINGBUFFERINFO's
    // output: the 16 bytes Dxgkrnl gives (the record is 8).
    pub const PAGING_INFO_OUT_SIZE: usize = 16;
    pub const COUNT_OUT_SIZE: usize = size_of::<DXGK_QUERYSEGMENTCOUNTOUT>();
    pub const SEG5_OUT_SIZE: usize = size_of::<DXGK_QUERYSEGMENTOUT5>();
    pub const SEG5_DESCRIPTOR_SIZE: usize = size_of::<DXGK_SEGMENTDESCRIPTOR5>();
    pub const DESC5_FLAGS: usize = offset_of!(DXGK_SEGMENTDESCRIPTOR5, Flags);
    pub const DESC5_SIZE: usize = offset_of!(DXGK_SEGMENTDESCRIPTOR5, Size);
    pub const MMUS_OUT_SIZE: usize = size_of::<DXGK_QUERYMMUSOUT>();
    pub const MMU_DESCRIPTOR_SIZE: usize = size_of::<DXGK_MMUDESCRIPTOR>();
    // DXGKARG_CREATEDEVICE (32), DXGKARG_CREATECONTEXT (72)
    pub const CREATE_DEVICE_SIZE: usize = size_of::<DXGKARG_CREATEDEVICE>();
    pub const CREATE_DEVICE_HANDLE: usize = offset_of!(DXGKARG_CREATEDEVICE, hDevice);
    /// The union of the input `Flags` and the output `pInfo`.
    pub const CREATE_DEVICE_FLAGS: usize = offset_of!(DXGKARG_CREATEDEVICE, pInfo);
    pub const CREATE_CONTEXT_SIZE: usize = size_of::<DXGKARG_CREATECONTEXT>();
    pub const CREATE_CONTEXT_HANDLE: usize = offset_of!(DXGKARG_CREATECONTEXT, hContext);
    pub const CREATE_CONTEXT_NODE: usize = offset_of!(DXGKARG_CREATECONTEXT, NodeOrdinal);
    pub const CREATE_CONTEXT_AFFINITY: usize = offset_of!(DXGKARG_CREATECONTEXT, EngineAffinity);
    pub const CREATE_CONTEXT_FLAGS: usize = offset_of!(DXGKARG_CREATECONTEXT, Flags);
    pub const CREATE_CONTEXT_DMA_SEGMENT_SET: usize =
        offset_of!(DXGKARG_CREATECONTEXT, ContextInfo.DmaBufferSegmentSet);
}
/// `DXGKDDI_INTERFACE_VERSION_*` values the rules compare against.
pub mod ddi {
    #![allow(missing_docs)]
    pub const WDDM2_0_M2_2_1: u32 = 0x5008;
    pub const WDDM2_PHYSICAL_CAPS: u32 = 0x5005;
    pub const WDDM2_5_LIMIT: u32 = 0xA00B;
    pub const WDDM2_9: u32 = 0xE003;
    pub const WDDM3_2_TRACKING: u32 = 0x11001;
    pub const WDDM3_2_COMPUTE_CLASS: u32 = 0x11002;
}

/// Little-endian reads of plain bytes: 0 past the end (a short answer reads
/// as zeroed, as Dxgkrnl's zeroed buffers would).
pub mod bytes {
    /// The `u8` at `at`.
    #[must_use]
    pub fn u8_at(b: &[u8], at: usize) -> u8 {
        b.get(at).copied().unwrap_or(0)
    }
    /// The `u16` at `at`.
    #[must_use]
    pub fn u16_at(b: &[u8], at: usize) -> u16 {
        b.get(at..)
            .and_then(<[u8]>::first_chunk::<2>)
            .map_or(0, |c| u16::from_le_bytes(*c))
    }
    /// The `u32` at `at`.
    #[must_use]
    pub fn u32_at(b: &[u8], at: usize) -> u32 {
        b.get(at..)
            .and_then(<[u8]>::first_chunk::<4>)
            .map_or(0, |c| u32::from_le_bytes(*c))
    }
    /// The `u64` at `at`.
    #[must_use]
    pub fn u64_at(b: &[u8], at: usize) -> u64 {
        b.get(at..)
            .and_then(<[u8]>::first_chunk::<8>)
            .map_or(0, |c| u64::from_le_bytes(*c))
    }
    /// Writes `v` at `at` if it fits.
    pub fn put_u32(b: &mut [u8], at: usize, v: u32) {
        if let Some(c) = b.get_mut(at..).and_then(<[u8]>::first_chunk_mut::<4>) {
            *c = v.to_le_bytes();
        }
    }
    /// Writes `v` at `at` if it fits.
    pub fn put_u64(b: &mut [u8], at: usize, v: u64) {
        if let Some(c) = b.get_mut(at..).and_then(<[u8]>::first_chunk_mut::<8>) {
            *c = v.to_le_bytes();
        }
    }
}
