//! The adapter-capability records of `DxgkDdiQueryAdapterInfo` beyond
//! `DXGK_DRIVERCAPS` (`qai.rs`): the pre-start WDDM device caps (type 29),
//! the physical adapter's caps (15), the GpuMmu geometry (13, 14), the
//! history-buffer precision (10), and the performance-data caps and GPU
//! version (26, 27). Every one is checked against the WDK-measured tables by
//! `tests/abi.rs`.

use crate::*;

crate::c_enum! {
    /// `DXGK_PAGETABLEUPDATEMODE`: how VidMm updates page-table entries.
    pub enum DXGK_PAGETABLEUPDATEMODE: i32 {
        /// VidMm writes the entries through a CPU mapping of the tables.
        DXGK_PAGETABLEUPDATE_CPU_VIRTUAL = 0,
        /// Through paging operations, with the tables at GPU virtual addresses.
        DXGK_PAGETABLEUPDATE_GPU_VIRTUAL = 1,
        /// Through paging operations (`UPDATE_PAGE_TABLE`), with the tables
        /// at physical (segment) addresses.
        DXGK_PAGETABLEUPDATE_GPU_PHYSICAL = 2,
    }
}

bitflags::bitflags! {
    /// The bits of `DXGK_PHYSICALADAPTERFLAGS`.
    #[repr(transparent)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct PhysicalAdapterFlags: u32 {
        /// The physical adapter uses the IOMMU (the CPU's page tables).
        const IoMmuSupported = 1 << 0;
        /// The physical adapter has its own MMU, whose tables VidMm manages.
        const GpuMmuSupported = 1 << 1;
        /// Paging may move allocations between segments.
        const MovePagingSupported = 1 << 2;
        /// A video-protected-region paging context is required.
        const VPRPagingContextRequired = 1 << 3;
        /// Hardware-protected allocations without a VPR.
        const AllowHardwareProtectedNoVpr = 1 << 4;
        /// A virtual copy engine (`VirtualCopyNodeIndex`).
        const VirtualCopyEngineSupported = 1 << 5;
        /// GPU virtual addressing requires the IOMMU.
        const GpuVaIommuRequired = 1 << 6;
        /// ... globally.
        const GpuVaIommuGlobalRequired = 1 << 7;
        /// The IOMMU's GPU VA translation is cache coherent.
        const GpuVaIommuCacheCoherent = 1 << 8;
    }
}
crate::zeroable_bitflags!(PhysicalAdapterFlags);

crate::records! {
    /// `DXGK_WDDMDEVICECAPSIN`: the input of `DXGKQAITYPE_WDDMDEVICECAPS`.
    pub struct DXGK_WDDMDEVICECAPSIN {
        /// Dxgkrnl's interface version (the `Version` StartDevice will pass).
        pub DxgkrnlInterfaceVersion: ULONG,
    }

    /// `DXGK_WDDMDEVICECAPS`: asked between AddDevice and StartDevice.
    pub struct DXGK_WDDMDEVICECAPS {
        /// The same value as `DXGK_DRIVERCAPS::WDDMVersion`.
        pub WDDMVersion: DXGK_WDDMVERSION,
    }

    /// `DXGK_QUERYPHYSICALADAPTERCAPSIN`.
    pub struct DXGK_QUERYPHYSICALADAPTERCAPSIN {
        /// Index of the physical adapter in a linked-adapter chain.
        pub PhysicalAdapterIndex: UINT,
    }

    /// `DXGK_PHYSICALADAPTERFLAGS`.
    pub struct DXGK_PHYSICALADAPTERFLAGS {
        /// The bit-field union as one value.
        pub Value: PhysicalAdapterFlags,
    }

    /// `DXGK_PHYSICALADAPTERCAPS`, answered for `DXGKQAITYPE_PHYSICALADAPTERCAPS`.
    pub struct DXGK_PHYSICALADAPTERCAPS {
        /// Nodes (engines) of this physical adapter (`WORD`).
        pub NumExecutionNodes: USHORT,
        /// The node that runs paging buffers (`WORD`).
        pub PagingNodeIndex: USHORT,
        /// The driver's handle of this physical adapter.
        pub DxgkPhysicalAdapterHandle: HANDLE,
        /// Addressing-model and paging flags.
        pub Flags: DXGK_PHYSICALADAPTERFLAGS,
        /// Node of the video-protected-region paging context.
        pub VPRPagingNode: UINT,
        /// Node of the virtual copy engine.
        pub VirtualCopyNodeIndex: UINT,
    }

    /// `DXGK_QUERYGPUMMUCAPSIN`.
    pub struct DXGK_QUERYGPUMMUCAPSIN {
        /// Index of the physical adapter.
        pub PhysicalAdapterIndex: UINT,
    }

    /// `DXGK_GPUMMUCAPS`, answered for `DXGKQAITYPE_GPUMMUCAPS`.
    pub struct DXGK_GPUMMUCAPS {
        /// The bit-field union as one value (read-only/no-execute memory,
        /// large pages, dual PTEs, ...).
        pub Value: UINT,
        /// How VidMm updates page-table entries.
        pub PageTableUpdateMode: DXGK_PAGETABLEUPDATEMODE,
        /// Bits of a GPU virtual address (13..=63).
        pub VirtualAddressBitCount: UINT,
        /// Size of a leaf page table when 64 KiB pages are used.
        pub LeafPageTableSizeFor64KPagesInBytes: UINT,
        /// Page-table levels (2..=`DXGK_MAX_PAGE_TABLE_LEVEL_COUNT`).
        pub PageTableLevelCount: UINT,
        /// `LegacyBehaviors`: a bit-field struct as one value.
        pub LegacyBehaviors: UINT,
    }

    /// `DXGK_QUERYPAGETABLELEVELDESCIN`.
    pub struct DXGK_QUERYPAGETABLELEVELDESCIN {
        /// Page-table level, 0 = the leaf (`WORD`).
        pub LevelIndex: USHORT,
        /// Index of the physical adapter (`WORD`).
        pub PhysicalAdapterIndex: USHORT,
    }

    /// `DXGK_PAGE_TABLE_LEVEL_DESC`, answered for `DXGKQAITYPE_PAGETABLELEVELDESC`.
    pub struct DXGK_PAGE_TABLE_LEVEL_DESC {
        /// Virtual-address bits that index a table of this level.
        pub PageTableIndexBitCount: UINT,
        /// Segment the tables of this level live in (0: system memory).
        pub PageTableSegmentId: UINT,
        /// The same, for the paging process.
        pub PagingProcessPageTableSegmentId: UINT,
        /// Bytes of one table of this level.
        pub PageTableSizeInBytes: UINT,
        /// Alignment of a table of this level.
        pub PageTableAlignmentInBytes: UINT,
    }

    /// `DXGK_QUERYHISTORYBUFFERPRECISIONIN`.
    pub struct DXGK_QUERYHISTORYBUFFERPRECISIONIN {
        /// Index of the physical adapter.
        pub PhysicalAdapterIndex: UINT,
    }

    /// `DXGKARG_HISTORYBUFFERPRECISION`, answered for
    /// `DXGKQAITYPE_HISTORYBUFFERPRECISION`.
    pub struct DXGKARG_HISTORYBUFFERPRECISION {
        /// Bits of a history-buffer timestamp (0, or 32..=64).
        pub PrecisionBits: UINT32,
    }
}

crate::records! {
    /// `DXGK_ADAPTER_PERFDATACAPS` (packed: `#pragma pack(1)` in the header),
    /// answered for `DXGKQAITYPE_ADAPTERPERFDATA_CAPS`. Read its fields by
    /// value (`{ caps.MaxFanRPM }`): a packed field cannot be borrowed.
    #[repr(packed)]
    pub struct DXGK_ADAPTER_PERFDATACAPS {
        /// Bytes per second.
        pub MaxMemoryBandwidth: ULONGLONG,
        /// Bytes per second.
        pub MaxPCIEBandwidth: ULONGLONG,
        /// Of the main fan.
        pub MaxFanRPM: ULONG,
        /// Tenths of a degree Celsius.
        pub TemperatureMax: ULONG,
        /// Tenths of a degree Celsius.
        pub TemperatureWarning: ULONG,
    }

    /// `DXGK_GPUVERSION` (packed), answered for `DXGKQAITYPE_GPUVERSION`.
    #[repr(packed)]
    pub struct DXGK_GPUVERSION {
        /// NUL-terminated UTF-16.
        pub BiosVersion: [WCHAR; 32],
        /// NUL-terminated UTF-16.
        pub GpuArchitecture: [WCHAR; 32],
    }
}

crate::macro_constants! {
    CAPS_CONSTANTS;
    /// `DXGK_MAX_PAGE_TABLE_LEVEL_COUNT`: the most page-table levels a
    /// GpuMmu adapter may describe.
    pub const DXGK_MAX_PAGE_TABLE_LEVEL_COUNT: UINT = 6;
}
