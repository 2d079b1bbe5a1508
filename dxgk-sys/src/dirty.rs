//! WDDM 3.2 dirty-bit tracking: memory bases, the dirty-bit query, and the caps
//! answered through `DxgkDdiQueryAdapterInfo` (types 39 and 40).

use crate::*;

/// `DXGKDDI_CREATEMEMORYBASIS`: returns the basis handle, NULL on failure.
pub type PDXGKDDI_CREATEMEMORYBASIS = Option<
    unsafe extern "system" fn(hAdapter: HANDLE, pArgs: *const DXGKARG_CREATEMEMORYBASIS) -> HANDLE,
>;
/// `DXGKDDI_DESTROYMEMORYBASIS`.
pub type PDXGKDDI_DESTROYMEMORYBASIS =
    Option<unsafe extern "system" fn(hAdapter: HANDLE, hMemoryBasis: HANDLE) -> NTSTATUS>;
/// `DXGKDDI_STARTDIRTYTRACKING`.
pub type PDXGKDDI_STARTDIRTYTRACKING =
    Option<unsafe extern "system" fn(hAdapter: HANDLE, hMemoryBasis: HANDLE) -> NTSTATUS>;
/// `DXGKDDI_STOPDIRTYTRACKING`.
pub type PDXGKDDI_STOPDIRTYTRACKING =
    Option<unsafe extern "system" fn(hAdapter: HANDLE, hMemoryBasis: HANDLE) -> NTSTATUS>;
/// `DXGKDDI_QUERYDIRTYBITDATA`.
pub type PDXGKDDI_QUERYDIRTYBITDATA = Option<
    unsafe extern "system" fn(hAdapter: HANDLE, pArgs: *mut DXGKARG_QUERYDIRTYBITDATA) -> NTSTATUS,
>;

crate::c_enum! {
    /// `DXGKARG_QUERYDIRTYBITDATAFLAGS`: bits of `DXGKARG_QUERYDIRTYBITDATA::Flags`.
    pub enum DXGKARG_QUERYDIRTYBITDATAFLAGS: i32 {
        /// Clear the reported bits atomically with the report.
        DXGKARG_QUERYDIRTYBITDATAFLAGS_CLEARDATA = 1,
    }
}

bitflags::bitflags! {
    /// The bits of `DXGK_DIRTY_BIT_TRACKING_CAPS`.
    #[repr(transparent)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct DirtyBitTrackingCaps: u32 {
        /// The adapter can track dirty VRAM pages.
        const DirtyBitTrackingSupported = 1 << 0;
        /// Tracking is cheap enough to run for the whole life of a VF.
        const DirtyBitTrackingPerformant = 1 << 1;
    }
}
crate::zeroable_bitflags!(DirtyBitTrackingCaps);

crate::records! {
    /// `DXGK_MEMORYRANGE`: one range of a memory basis, in bytes.
    pub struct DXGK_MEMORYRANGE {
        /// Offset of the first byte in the segment.
        pub SegmentOffset: UINT64,
        /// Length in bytes.
        pub SizeInBytes: UINT64,
    }

    /// `DXGKARG_CREATEMEMORYBASIS`: variable length, `RangeCount` entries of
    /// `Ranges` (the header declares `Ranges[1]`).
    pub struct DXGKARG_CREATEMEMORYBASIS {
        /// Driver segment id.
        pub SegmentId: UINT,
        /// Number of entries in `Ranges`.
        pub RangeCount: UINT64,
        /// The first range; the rest follow contiguously.
        pub Ranges: [DXGK_MEMORYRANGE; 1],
    }

    /// `DXGKARG_QUERYDIRTYBITDATA`.
    pub struct DXGKARG_QUERYDIRTYBITDATA {
        /// The basis queried.
        pub MemoryBasis: HANDLE,
        /// Range index, when `SubrangeSize != 0`.
        pub SubrangeIndex: UINT64,
        /// Byte offset in that range.
        pub SubrangeOffset: UINT64,
        /// Bytes; 0 = the whole basis.
        pub SubrangeSize: UINT64,
        /// OS-allocated output bitmap.
        pub Buffer: PVOID,
        /// Capacity of `Buffer` in bytes.
        pub BufferSize: SIZE_T,
        /// `DXGKARG_QUERYDIRTYBITDATAFLAGS_*` bits.
        pub Flags: UINT,
    }

    /// `DXGK_DIRTY_BIT_TRACKING_CAPS`, answered for `DXGKQAITYPE_DIRTYBITTRACKINGCAPS`.
    pub struct DXGK_DIRTY_BIT_TRACKING_CAPS {
        /// The caps bits.
        pub Value: DirtyBitTrackingCaps,
    }

    /// `DXGK_DIRTY_BIT_TRACKING_SEGMENT_CAPS`, answered for `DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS`.
    pub struct DXGK_DIRTY_BIT_TRACKING_SEGMENT_CAPS {
        /// Bytes per dirty bit: a power of two, at least 4096.
        pub PageSize: UINT32,
    }
}

impl DXGKARG_CREATEMEMORYBASIS {
    /// Byte size of an argument block holding `range_count` ranges, or `None`
    /// if it does not fit in `usize`.
    #[must_use]
    pub const fn size_for(range_count: usize) -> Option<usize> {
        let ranges = match range_count.checked_mul(core::mem::size_of::<DXGK_MEMORYRANGE>()) {
            Some(bytes) => bytes,
            None => return None,
        };
        core::mem::offset_of!(Self, Ranges).checked_add(ranges)
    }
}
