//! Allocations (d3dkmddi.h, d3dkmdt.h subset): the standard-allocation path
//! through which a vGPU's VRAM reserve reaches the KMD
//! (`DxgkDdiGetStandardAllocationDriverData` for `D3DKMDT_STANDARDALLOCATION_VGPU`,
//! then `DxgkDdiCreateAllocation`, later `DxgkDdiDestroyAllocation`).

use crate::*;

crate::c_enum! {
    /// `D3DKMDT_STANDARDALLOCATION_TYPE`.
    pub enum D3DKMDT_STANDARDALLOCATION_TYPE: i32 {
        D3DKMDT_STANDARDALLOCATION_SHAREDPRIMARYSURFACE = 1,
        D3DKMDT_STANDARDALLOCATION_SHADOWSURFACE = 2,
        D3DKMDT_STANDARDALLOCATION_STAGINGSURFACE = 3,
        D3DKMDT_STANDARDALLOCATION_GDISURFACE = 4,
        /// A vGPU's VRAM reserve.
        D3DKMDT_STANDARDALLOCATION_VGPU = 5,
        D3DKMDT_STANDARDALLOCATION_FENCESTORAGE = 6,
    }
}

bitflags::bitflags! {
    /// The bits of `DXGK_CREATEALLOCATIONFLAGS`.
    #[repr(transparent)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct CreateAllocationFlags: u32 {
        /// The call also creates a resource (`hResource` out).
        const Resource = 1 << 0;
        // Reserved bits are kept, not dropped.
        const _ = !0;
    }

    /// The bits of `DXGK_DESTROYALLOCATIONFLAGS`.
    #[repr(transparent)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct DestroyAllocationFlags: u32 {
        /// The call also destroys the resource.
        const DestroyResource = 1 << 0;
        // Reserved bits are kept, not dropped.
        const _ = !0;
    }
}
crate::zeroable_bitflags!(CreateAllocationFlags, DestroyAllocationFlags);

crate::records! {
    /// `D3DKMDT_VIRTUALGPUSURFACEDATA`: what Dxgkrnl copies from one
    /// `DXGK_VIRTUALGPUSEGMENTINFO` of CreateVirtualGpu.
    pub struct D3DKMDT_VIRTUALGPUSURFACEDATA {
        /// Bytes.
        pub Size: UINT64,
        /// Alignment in bytes.
        pub Alignment: UINT,
        /// Driver segment id.
        pub DriverSegmentId: UINT,
        /// The KMD's `PrivateDriverData` of that segment info.
        pub PrivateDriverData: UINT,
    }

    /// `DXGKARG_GETSTANDARDALLOCATIONDRIVERDATA`.
    pub struct DXGKARG_GETSTANDARDALLOCATIONDRIVERDATA {
        /// Which standard allocation.
        pub StandardAllocationType: D3DKMDT_STANDARDALLOCATION_TYPE,
        /// The type's description (a union of pointers in the header; for
        /// `D3DKMDT_STANDARDALLOCATION_VGPU`, `pCreateVirtualGpuSurfaceData`).
        pub pCreateVirtualGpuSurfaceData: *mut D3DKMDT_VIRTUALGPUSURFACEDATA,
        /// In/out: NULL on the sizing call, else the buffer to fill.
        pub pAllocationPrivateDriverData: PVOID,
        /// Out: bytes of allocation private data.
        pub AllocationPrivateDriverDataSize: UINT,
        /// In/out: NULL on the sizing call, else the buffer to fill.
        pub pResourcePrivateDriverData: PVOID,
        /// Out: bytes of resource private data.
        pub ResourcePrivateDriverDataSize: UINT,
        /// Physical adapter (linked adapters; 0 here).
        pub PhysicalAdapterIndex: UINT,
    }

    /// `DXGK_SEGMENTBANKPREFERENCE`.
    pub struct DXGK_SEGMENTBANKPREFERENCE {
        /// The bit-field union as one value.
        pub Value: UINT,
    }

    /// `D3DDDI_SEGMENTPREFERENCE`.
    pub struct D3DDDI_SEGMENTPREFERENCE {
        /// The bit-field union as one value.
        pub Value: UINT,
    }

    /// `DXGK_ALLOCATIONINFOFLAGS`.
    pub struct DXGK_ALLOCATIONINFOFLAGS {
        /// The bit-field union as one value.
        pub Value: UINT,
    }

    /// `DXGK_ALLOCATIONINFOFLAGS2`.
    pub struct DXGK_ALLOCATIONINFOFLAGS2 {
        /// The bit-field union as one value.
        pub Value: UINT,
    }

    /// `DXGK_ALLOCATIONINFO`: one allocation of a `DxgkDdiCreateAllocation` call.
    pub struct DXGK_ALLOCATIONINFO {
        /// In: the allocation's private data (from GetStandardAllocationDriverData).
        pub pPrivateDriverData: PVOID,
        /// In: bytes at `pPrivateDriverData`.
        pub PrivateDriverDataSize: UINT,
        /// Out: alignment in bytes (union with Minimum/RecommendedPageSize).
        pub Alignment: UINT,
        /// Out: bytes.
        pub Size: SIZE_T,
        /// Out: pitch-aligned size (0 for linear allocations).
        pub PitchAlignedSize: SIZE_T,
        /// Out: bank preference.
        pub HintedBank: DXGK_SEGMENTBANKPREFERENCE,
        /// Out: preferred segments.
        pub PreferredSegment: D3DDDI_SEGMENTPREFERENCE,
        /// Out: segments VidMm may place it in for reading (bit n = segment n + 1;
        /// union with `MmuSet`).
        pub SupportedReadSegmentSet: UINT,
        /// Out: segments VidMm may place it in for writing.
        pub SupportedWriteSegmentSet: UINT,
        /// Out: segments it may be evicted to.
        pub EvictionSegmentSet: UINT,
        /// Out: union of `MaximumRenamingListLength` / `PhysicalAdapterIndex`.
        pub MaximumRenamingListLength: UINT,
        /// Out: the KMD's handle for the allocation.
        pub hAllocation: HANDLE,
        /// Out: allocation flags (union with `FlagsWddm2`).
        pub Flags: DXGK_ALLOCATIONINFOFLAGS,
        /// Out: usage hint (`DXGK_ALLOCATIONUSAGEHINT*`).
        pub pAllocationUsageHint: PVOID,
        /// Out: eviction priority.
        pub AllocationPriority: UINT,
        /// Out: more flags.
        pub Flags2: DXGK_ALLOCATIONINFOFLAGS2,
    }

    /// `DXGK_CREATEALLOCATIONFLAGS`.
    pub struct DXGK_CREATEALLOCATIONFLAGS {
        /// The flag bits.
        pub Value: CreateAllocationFlags,
    }

    /// `DXGKARG_CREATEALLOCATION`.
    pub struct DXGKARG_CREATEALLOCATION {
        /// In: resource private data.
        pub pPrivateDriverData: *const core::ffi::c_void,
        /// In: bytes at `pPrivateDriverData`.
        pub PrivateDriverDataSize: UINT,
        /// In: entries at `pAllocationInfo`.
        pub NumAllocations: UINT,
        /// In/out: the allocations.
        pub pAllocationInfo: *mut DXGK_ALLOCATIONINFO,
        /// Out: the KMD's resource handle, when `Flags.Resource`.
        pub hResource: HANDLE,
        /// In: flags.
        pub Flags: DXGK_CREATEALLOCATIONFLAGS,
    }

    /// `DXGK_DESTROYALLOCATIONFLAGS`.
    pub struct DXGK_DESTROYALLOCATIONFLAGS {
        /// The flag bits.
        pub Value: DestroyAllocationFlags,
    }

    /// `DXGKARG_DESTROYALLOCATION`.
    pub struct DXGKARG_DESTROYALLOCATION {
        /// Entries at `pAllocationList`.
        pub NumAllocations: UINT,
        /// The KMD's allocation handles.
        pub pAllocationList: *const HANDLE,
        /// The KMD's resource handle, if any.
        pub hResource: HANDLE,
        /// Flags.
        pub Flags: DXGK_DESTROYALLOCATIONFLAGS,
    }
}
