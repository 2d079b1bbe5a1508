//! The segment queries of `DxgkDdiQueryAdapterInfo`: the LEGACY path's
//! `DXGKQAITYPE_QUERYSEGMENT4` (11) and the PBMM path's
//! `DXGKQAITYPE_QUERYPAGINGBUFFERINFO` (42), `QUERYSEGMENTCOUNT` (43),
//! `QUERYSEGMENT5` (44), `QUERYMMUCOUNT` (45) and `QUERYMMUS` (46)
//! (`../shared/spec/adapter-start.md` 4.1-4.2), laid out as in the WDK
//! 10.0.26100 headers (checked against the ABI table). `UINT16` members are
//! spelled `u16`.

use crate::*;

bitflags::bitflags! {
    /// The bits of `DXGK_SEGMENTFLAGS` (the member names of its bit-field
    /// struct; bit 19 is `LocalBudgetGroup`).
    #[repr(transparent)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct SegmentFlags: u32 {
        /// An aperture segment (system pages mapped into a GPU range).
        const Aperture = 1 << 0;
        /// An AGP aperture.
        const Agp = 1 << 1;
        /// The CPU can map the segment (`CpuTranslatedAddress` valid).
        const CpuVisible = 1 << 2;
        /// Banked.
        const UseBanking = 1 << 3;
        /// Cache coherent with the CPU.
        const CacheCoherent = 1 << 4;
        /// Pitch alignment required.
        const PitchAlignment = 1 << 5;
        /// Backed by system memory.
        const PopulatedFromSystemMemory = 1 << 6;
        /// Content kept across standby.
        const PreservedDuringStandby = 1 << 7;
        /// Content kept across hibernation.
        const PreservedDuringHibernate = 1 << 8;
        /// Partly kept across hibernation.
        const PartiallyPreservedDuringHibernate = 1 << 9;
        /// Can hold direct-flip surfaces.
        const DirectFlip = 1 << 10;
        /// Uses 64 KiB pages.
        const Use64KBPages = 1 << 11;
        /// System memory reserved for the segment.
        const ReservedSysMem = 1 << 12;
        /// A CPU host aperture (MapCpuHostAperture becomes mandatory).
        const SupportsCpuHostAperture = 1 << 13;
        /// A cached CPU host aperture.
        const SupportsCachedCpuHostAperture = 1 << 14;
        /// An application target.
        const ApplicationTarget = 1 << 15;
        /// Video protected regions.
        const VprSupported = 1 << 16;
        /// VPR content kept across standby.
        const VprPreservedDuringStandby = 1 << 17;
        /// Encrypted paging.
        const EncryptedPagingSupported = 1 << 18;
        /// In the local (VRAM) budget group; VidMm needs at least one.
        const LocalBudgetGroup = 1 << 19;
        /// In the non-local budget group.
        const NonLocalBudgetGroup = 1 << 20;
        /// Populated by DDR reserved by the firmware.
        const PopulatedByReservedDDRByFirmware = 1 << 21;
    }
}
crate::zeroable_bitflags!(SegmentFlags);

crate::c_enum! {
    /// `DXGK_SEGMENTTYPE` of a `DXGK_SEGMENTDESCRIPTOR5`.
    pub enum DXGK_SEGMENTTYPE: i32 {
        /// System memory (an aperture).
        DXGK_SEGMENTTYPE_SYSMEM = 0,
        /// Local memory (VRAM).
        DXGK_SEGMENTTYPE_LOCAL = 1,
    }

    /// `DXGK_PAGESIZE` (`DXGK_SEGMENTDESCRIPTOR5::SlabSize`).
    pub enum DXGK_PAGESIZE: i32 {
        /// 4 KiB.
        DXGK_PAGESIZE_4KB = 0,
        /// 64 KiB.
        DXGK_PAGESIZE_64KB = 4,
    }
}

crate::records! {
    /// `DXGK_SEGMENTFLAGS`.
    pub struct DXGK_SEGMENTFLAGS {
        /// The bit-field union as one value.
        pub Value: SegmentFlags,
    }

    /// `DXGK_CPUHOSTAPERTURE`.
    pub struct DXGK_CPUHOSTAPERTURE {
        /// Physical address of the host aperture.
        pub PhysicalAddress: UINT64,
        /// Its size in pages.
        pub SizeInPages: UINT32,
    }

    /// `DXGK_QUERYSEGMENTIN4`: input of `DXGKQAITYPE_QUERYSEGMENT4`.
    pub struct DXGK_QUERYSEGMENTIN4 {
        /// Physical adapter (0 for a lone adapter).
        pub PhysicalAdapterIndex: UINT,
    }

    /// `DXGK_QUERYSEGMENTOUT4`: output of `DXGKQAITYPE_QUERYSEGMENT4`, in/out.
    pub struct DXGK_QUERYSEGMENTOUT4 {
        /// Out: number of segments (ids 1..=NbSegment). In, second call: the
        /// number of descriptors `pSegmentDescriptor` holds.
        pub NbSegment: UINT,
        /// In: NULL (first call: count only) or the descriptor array.
        pub pSegmentDescriptor: *mut BYTE,
        /// Out: the segment paging buffers are allocated from (0: system memory).
        pub PagingBufferSegmentId: UINT,
        /// Out: bytes of one paging buffer.
        pub PagingBufferSize: UINT,
        /// Out: bytes of a paging buffer's private data.
        pub PagingBufferPrivateDataSize: UINT,
        /// In: bytes from one `DXGK_SEGMENTDESCRIPTOR4` to the next.
        pub SegmentDescriptorStride: SIZE_T,
    }

    /// `DXGK_SEGMENTDESCRIPTOR4`.
    pub struct DXGK_SEGMENTDESCRIPTOR4 {
        /// Segment flags.
        pub Flags: DXGK_SEGMENTFLAGS,
        /// The segment's base in the GPU's view.
        pub BaseAddress: LARGE_INTEGER,
        /// Bytes.
        pub Size: SIZE_T,
        /// Most bytes VidMm commits in it.
        pub CommitLimit: SIZE_T,
        /// End of the system memory a segment populated from it uses.
        pub SystemMemoryEndAddress: SIZE_T,
        /// Union of `CpuTranslatedAddress` (`LARGE_INTEGER`, its first 8
        /// bytes: the CPU physical base of a CPU-visible segment) and this.
        pub CpuHostAperture: DXGK_CPUHOSTAPERTURE,
        /// Invalid ranges (SEGMENTMEMORYSTATE is asked when non-zero).
        pub NumInvalidMemoryRanges: UINT,
        /// VPR start.
        pub VprRangeStartOffset: SIZE_T,
        /// VPR size.
        pub VprRangeSize: SIZE_T,
        /// VPR alignment.
        pub VprAlignment: UINT,
        /// VPRs supported.
        pub NumVprSupported: UINT,
        /// VPR reserve.
        pub VprReserveSize: UINT,
        /// UEFI frame-buffer ranges (UEFIFRAMEBUFFERRANGES is asked when non-zero).
        pub NumUEFIFrameBufferRanges: UINT,
    }

    /// `DXGK_QUERYPAGINGBUFFERINFOIN`: input of `DXGKQAITYPE_QUERYPAGINGBUFFERINFO`.
    pub struct DXGK_QUERYPAGINGBUFFERINFOIN {
        /// Physical adapter.
        pub PhysicalAdapterIndex: u16,
        /// Reserved.
        pub Reserved: u16,
    }

    /// `DXGK_QUERYPAGINGBUFFERINFOOUT`.
    pub struct DXGK_QUERYPAGINGBUFFERINFOOUT {
        /// Bytes of one paging buffer.
        pub PagingBufferSize: UINT32,
        /// Bytes of its private data.
        pub PagingBufferPrivateDataSize: UINT32,
    }

    /// `DXGK_QUERYSEGMENTCOUNTIN`.
    pub struct DXGK_QUERYSEGMENTCOUNTIN {
        /// Physical adapter.
        pub PhysicalAdapterIndex: u16,
        /// Padding.
        pub Padding: u16,
        /// Reserved.
        pub Reserved: UINT32,
    }

    /// `DXGK_QUERYSEGMENTCOUNTOUT`.
    pub struct DXGK_QUERYSEGMENTCOUNTOUT {
        /// Segments (1..=32).
        pub SegmentCount: u16,
        /// Padding.
        pub Padding: u16,
        /// Reserved.
        pub Reserved: UINT32,
    }

    /// `DXGK_QUERYSEGMENTIN5`.
    pub struct DXGK_QUERYSEGMENTIN5 {
        /// Physical adapter.
        pub PhysicalAdapterIndex: u16,
        /// Padding.
        pub Padding: u16,
        /// Reserved.
        pub Reserved: UINT32,
    }

    /// `DXGK_SEGMENTDESCRIPTOR5`.
    pub struct DXGK_SEGMENTDESCRIPTOR5 {
        /// System memory (aperture) or local memory.
        pub SegmentType: DXGK_SEGMENTTYPE,
        /// Segment flags.
        pub Flags: DXGK_SEGMENTFLAGS,
        /// The segment's base in the GPU's view.
        pub BaseAddress: LARGE_INTEGER,
        /// Bytes.
        pub Size: UINT64,
        /// End of the system memory a segment populated from it uses.
        pub SystemMemoryEndAddress: SIZE_T,
        /// Union of `CpuTranslatedAddress` (its first 8 bytes) and this.
        pub CpuHostAperture: DXGK_CPUHOSTAPERTURE,
        /// VPR start.
        pub VprRangeStartOffset: SIZE_T,
        /// VPR size.
        pub VprRangeSize: SIZE_T,
        /// VPR alignment.
        pub VprAlignment: UINT32,
        /// Invalid ranges.
        pub NumInvalidMemoryRanges: UINT32,
        /// VPRs supported.
        pub NumVprSupported: UINT32,
        /// VPR reserve.
        pub VprReserveSize: UINT32,
        /// UEFI frame-buffer ranges.
        pub NumUEFIFrameBufferRanges: UINT32,
        /// Slab size.
        pub SlabSize: DXGK_PAGESIZE,
    }

    /// `DXGK_QUERYSEGMENTOUT5`: the OS's array of `SegmentCount` descriptors.
    pub struct DXGK_QUERYSEGMENTOUT5 {
        /// In: the array to fill (`QUERYSEGMENTCOUNT` entries).
        pub SegmentDescriptors: *mut DXGK_SEGMENTDESCRIPTOR5,
        /// Reserved.
        pub Reserved: [UINT32; 4],
    }

    /// `DXGK_QUERYMMUCOUNTIN`.
    pub struct DXGK_QUERYMMUCOUNTIN {
        /// Physical adapter.
        pub PhysicalAdapterIndex: u16,
        /// Padding.
        pub Padding: u16,
        /// Reserved.
        pub Reserved: UINT32,
    }

    /// `DXGK_QUERYMMUCOUNTOUT`.
    pub struct DXGK_QUERYMMUCOUNTOUT {
        /// MMUs (1..=32).
        pub MmuCount: u16,
        /// Padding.
        pub Padding: u16,
        /// Reserved.
        pub Reserved: UINT32,
    }

    /// `DXGK_MMUFLAGS`.
    pub struct DXGK_MMUFLAGS {
        /// The bit-field union as one value (all bits reserved).
        pub Value: UINT32,
    }

    /// `DXGK_MMUDESCRIPTOR`.
    pub struct DXGK_MMUDESCRIPTOR {
        /// Flags (reserved).
        pub Flags: DXGK_MMUFLAGS,
        /// Bytes (undocumented; see the driver's choice).
        pub Size: UINT64,
    }

    /// `DXGK_QUERYMMUSIN`.
    pub struct DXGK_QUERYMMUSIN {
        /// Physical adapter.
        pub PhysicalAdapterIndex: u16,
    }

    /// `DXGK_QUERYMMUSOUT`: the OS's array of `MmuCount` descriptors.
    pub struct DXGK_QUERYMMUSOUT {
        /// In: the array to fill (`QUERYMMUCOUNT` entries).
        pub MmuDescriptors: *mut DXGK_MMUDESCRIPTOR,
        /// Out: the MMU display scan-out uses.
        pub DisplayMmuId: u16,
        /// Reserved.
        pub Reserved0: u16,
        /// Reserved.
        pub Reserved: [UINT32; 4],
    }
}
