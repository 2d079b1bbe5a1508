//! The operation language: one [`Op`] per DDI call (or host call) that a
//! sequence can make, with every argument described symbolically so that a
//! sequence means the same thing whatever handle values the driver returns.
//!
//! Arguments are mostly chosen to be meaningful (page-aligned ranges inside
//! the segment, handles the driver issued) with deliberate faults mixed in
//! (jitter off page boundaries, forged and stale handles, short buffers,
//! unknown flags, NULL pointers). Raw variants let the fuzzer and the
//! raw-block targets reach any bit pattern.
//!
//! Adding a DDI: add a variant here, its semantics to [`crate::model`], its
//! call to [`crate::exec`], a generator to `crate::strategy` and a decoder to
//! [`crate::fuzz`].

/// Which `hAdapter` a call passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterSel {
    /// The adapter under test.
    This,
    /// NULL.
    Null,
    /// A value the driver never issued.
    Forged(u64),
    /// The handle of an adapter that was added and removed.
    Removed,
}

/// Which segment id a call names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegSel {
    /// Index into the adapter's configured segments (modulo their number).
    Configured(u8),
    /// Any id (mostly unknown ones).
    Raw(u32),
}

/// Which memory-basis handle a call passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandleSel {
    /// The `n`-th most recent handle Create returned in this sequence (0 is
    /// the latest; modulo how many; NULL if none yet): live, destroyed, or
    /// from before a restart.
    Issued(u8),
    /// NULL.
    Null,
    /// Any value.
    Forged(u64),
    /// An issued handle with some bits flipped.
    Tampered {
        /// Which issued handle (as for `Issued`).
        of: u8,
        /// The bits flipped (0 counts as 1).
        xor: u64,
    },
    /// The live handle of a basis on another adapter.
    Foreign,
}

/// A byte quantity as pages of the segment in question plus a jitter, so
/// that most values are page multiples and some are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bytes {
    /// `pages * page_size + jitter` (wrapping).
    Pages {
        /// Whole pages.
        pages: u16,
        /// Extra bytes.
        jitter: u32,
    },
    /// Exactly this many bytes.
    Raw(u64),
}

/// One `DXGK_MEMORYRANGE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeSpec {
    /// `SegmentOffset`.
    pub offset: Bytes,
    /// `SizeInBytes`.
    pub size: Bytes,
}

/// The `RangeCount` a create block declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountSpec {
    /// The number of ranges given.
    Exact,
    /// This many (the block is padded with zeroed ranges up to it when it is
    /// at most the driver's limit, so the block is always as long as it says;
    /// above the limit the driver must refuse before reading any range).
    Declared(u64),
}

/// `SubrangeIndex`, `SubrangeOffset`, `SubrangeSize` of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubrangeSpec {
    /// `SubrangeIndex`.
    pub index: u64,
    /// `SubrangeOffset` (pages of the basis's segment).
    pub offset: Bytes,
    /// `SubrangeSize`; zero means the whole basis.
    pub size: Bytes,
}

/// The buffer a query passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufSpec {
    /// Exactly the bytes the span needs (computed from the model; 0 when the
    /// model rejects the query), plus `extra` (wrapping down for a short one).
    Fit {
        /// Bytes more (or, negative, fewer) than needed.
        extra: i8,
    },
    /// `BufferSize` of this many bytes (at most 4 KiB are allocated: larger
    /// values are reduced modulo 4097).
    Size(u16),
    /// `Buffer` NULL, `BufferSize` as for `Fit { extra: 0 }`.
    Null,
}

/// A `DXGKARG_QUERYADAPTERINFO` input or output buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QaiBuf {
    /// NULL, with this size.
    Null(u8),
    /// A buffer of this many bytes.
    Size(u8),
}

/// One call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `DxgkDdiCreateMemoryBasis`.
    Create {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// Pass NULL instead of the block.
        null_args: bool,
        /// `SegmentId`.
        segment: SegSel,
        /// The ranges in the block.
        ranges: Vec<RangeSpec>,
        /// `RangeCount`.
        count: CountSpec,
        /// Place the block at an odd address.
        misaligned: bool,
    },
    /// `DxgkDdiDestroyMemoryBasis`.
    Destroy {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// `hMemoryBasis`.
        basis: HandleSel,
    },
    /// `DxgkDdiStartDirtyTracking`.
    Start {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// `hMemoryBasis`.
        basis: HandleSel,
    },
    /// `DxgkDdiStopDirtyTracking`.
    Stop {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// `hMemoryBasis`.
        basis: HandleSel,
    },
    /// `DxgkDdiQueryDirtyBitData`.
    Query {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// Pass NULL instead of the argument block.
        null_args: bool,
        /// `MemoryBasis`.
        basis: HandleSel,
        /// The span asked for.
        subrange: SubrangeSpec,
        /// `Buffer`, `BufferSize`.
        buffer: BufSpec,
        /// `Flags` (bit 0 is CLEARDATA; others are unknown to the driver).
        flags: u32,
    },
    /// `gpup_sw_mark_dirty`: the software backend records a GPU write.
    Mark {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// `SegmentId`.
        segment: SegSel,
        /// `SegmentOffset`.
        offset: Bytes,
        /// `Length`.
        len: Bytes,
    },
    /// `DxgkDdiQueryAdapterInfo`.
    QueryAdapterInfo {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// `Type`: -1 to -5 pick DRIVERCAPS, DIRTYBITTRACKINGCAPS,
        /// DIRTYBITTRACKINGSEGMENTCAPS, GPUPCAPS and SCATTER_RESERVE; other
        /// values are passed as they are.
        ty: i32,
        /// The input buffer.
        input: QaiBuf,
        /// Its contents, when it has room: a segment id.
        segment: SegSel,
        /// The output buffer.
        output: QaiBuf,
    },
    /// `DxgkDdiStopDevice` (every memory basis is gone after it).
    StopDevice,
    /// `DxgkDdiStartDevice` (as Dxgkrnl does it, with the caps queries).
    StartDevice,
}

impl Op {
    /// Names of the operation kinds, in [`Op::kind`] order.
    pub const KINDS: [&'static str; 9] = [
        "Create",
        "Destroy",
        "Start",
        "Stop",
        "Query",
        "Mark",
        "QueryAdapterInfo",
        "StopDevice",
        "StartDevice",
    ];

    /// Index of this operation's kind in [`Op::KINDS`].
    #[must_use]
    pub fn kind(&self) -> usize {
        match self {
            Self::Create { .. } => 0,
            Self::Destroy { .. } => 1,
            Self::Start { .. } => 2,
            Self::Stop { .. } => 3,
            Self::Query { .. } => 4,
            Self::Mark { .. } => 5,
            Self::QueryAdapterInfo { .. } => 6,
            Self::StopDevice => 7,
            Self::StartDevice => 8,
        }
    }
}

/// The `ty` values of [`Op::QueryAdapterInfo`] that name the caps this
/// driver answers.
pub const QAI_SHORTCUTS: [dxgk_sys::DXGK_QUERYADAPTERINFOTYPE; 5] = [
    dxgk_sys::DXGKQAITYPE_DRIVERCAPS,
    dxgk_sys::DXGKQAITYPE_DIRTYBITTRACKINGCAPS,
    dxgk_sys::DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS,
    dxgk_sys::DXGKQAITYPE_GPUPCAPS,
    dxgk_sys::DXGKQAITYPE_SCATTER_RESERVE,
];

/// The query type an [`Op::QueryAdapterInfo`] `ty` stands for.
#[must_use]
pub fn qai_type(ty: i32) -> dxgk_sys::DXGK_QUERYADAPTERINFOTYPE {
    ty.checked_neg()
        .and_then(|n| usize::try_from(n).ok())
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| QAI_SHORTCUTS.get(i).copied())
        .unwrap_or(dxgk_sys::DXGK_QUERYADAPTERINFOTYPE(ty))
}
