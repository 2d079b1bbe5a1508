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

mod basis;
mod engine;
mod vf;
pub use engine::*;
pub use vf::*;

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
        /// `Type`: -1 to -20 pick the types of [`QAI_SHORTCUTS`]
        /// (DRIVERCAPS, DIRTYBITTRACKINGCAPS, ..., the capability queries,
        /// then the segment queries); other values are passed as they are.
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
    /// A GPU-partition or live-migration DDI (or the allocation path a
    /// vGPU's reserve comes through).
    Vgpu(VgpuOp),
    /// A VF-facing DDI (SR-IOV, FlexIOV), or the rest of the GPU-P surface.
    Vf(VfOp),
    /// A render-object DDI (devices, contexts).
    Render(RenderOp),
    /// A software-engine DDI (paging buffers, submissions, fences).
    Engine(EngineOp),
}

impl Op {
    /// A QueryDirtyBitData of the whole of `basis` into a buffer of exactly
    /// the size it needs, with `flags` (1: `CLEARDATA`).
    #[must_use]
    pub fn whole_query(adapter: AdapterSel, basis: HandleSel, flags: u32) -> Self {
        Self::Query {
            adapter,
            null_args: false,
            basis,
            subrange: SubrangeSpec {
                index: 0,
                offset: Bytes::Raw(0),
                size: Bytes::Raw(0),
            },
            buffer: BufSpec::Fit { extra: 0 },
            flags,
        }
    }

    /// Names of the dirty-tracking and adapter operation kinds (kinds 0..9).
    const BASE_KINDS: [&'static str; 9] = [
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

    /// Names of the operation kinds, in [`Op::kind`] order: the base kinds,
    /// then [`VgpuOp::KINDS`], [`VfOp::KINDS`], [`RenderOp::KINDS`], [`EngineOp::KINDS`].
    pub const KINDS: [&'static str; Self::ENGINE_BASE + EngineOp::KINDS.len()] = {
        let parts: [&[&str]; 5] = [
            &Self::BASE_KINDS,
            &VgpuOp::KINDS,
            &VfOp::KINDS,
            &RenderOp::KINDS,
            &EngineOp::KINDS,
        ];
        let mut all = [""; Self::ENGINE_BASE + EngineOp::KINDS.len()];
        let (mut i, mut p) = (0, 0);
        while p < parts.len() {
            let mut j = 0;
            while j < parts[p].len() {
                all[i] = parts[p][j];
                i += 1;
                j += 1;
            }
            p += 1;
        }
        all
    };

    /// The first engine kind in [`Op::KINDS`].
    const ENGINE_BASE: usize = 9 + VgpuOp::KINDS.len() + VfOp::KINDS.len() + RenderOp::KINDS.len();

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
            Self::Vgpu(v) => 9 + v.kind(),
            Self::Vf(v) => 9 + VgpuOp::KINDS.len() + v.kind(),
            Self::Render(r) => 9 + VgpuOp::KINDS.len() + VfOp::KINDS.len() + r.kind(),
            Self::Engine(e) => Self::ENGINE_BASE + e.kind(),
        }
    }
}

/// The `ty` values of [`Op::QueryAdapterInfo`] that name the caps this
/// driver answers: the caps (-1 to -14), then its segment queries (-15 to -20).
pub const QAI_SHORTCUTS: [dxgk_sys::DXGK_QUERYADAPTERINFOTYPE; 20] = [
    dxgk_sys::DXGKQAITYPE_DRIVERCAPS,
    dxgk_sys::DXGKQAITYPE_DIRTYBITTRACKINGCAPS,
    dxgk_sys::DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS,
    dxgk_sys::DXGKQAITYPE_GPUPCAPS,
    dxgk_sys::DXGKQAITYPE_SCATTER_RESERVE,
    // The capability queries of docs/contract.md "Adapter capabilities".
    dxgk_sys::DXGKQAITYPE_WDDMDEVICECAPS,
    dxgk_sys::DXGKQAITYPE_PHYSICALADAPTERCAPS,
    dxgk_sys::DXGKQAITYPE_GPUMMUCAPS,
    dxgk_sys::DXGKQAITYPE_PAGETABLELEVELDESC,
    dxgk_sys::DXGKQAITYPE_HISTORYBUFFERPRECISION,
    dxgk_sys::DXGKQAITYPE_NUMPOWERCOMPONENTS,
    dxgk_sys::DXGKQAITYPE_64BITONLYCAPS,
    dxgk_sys::DXGKQAITYPE_ADAPTERPERFDATA_CAPS,
    dxgk_sys::DXGKQAITYPE_GPUVERSION,
    dxgk_sys::DXGKQAITYPE_QUERYSEGMENT4,
    dxgk_sys::DXGKQAITYPE_QUERYPAGINGBUFFERINFO,
    dxgk_sys::DXGKQAITYPE_QUERYSEGMENTCOUNT,
    dxgk_sys::DXGKQAITYPE_QUERYSEGMENT5,
    dxgk_sys::DXGKQAITYPE_QUERYMMUCOUNT,
    dxgk_sys::DXGKQAITYPE_QUERYMMUS,
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

// ------------------------------------------------ GPU partition, migration

/// Which driver allocation handle (a vGPU reserve's `hAllocation`) a call
/// passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocSel {
    /// The `n`-th most recent handle CreateAllocation returned in this
    /// sequence (0 is the latest; modulo how many; NULL if none yet): live,
    /// destroyed, or from before a restart.
    Issued(u8),
    /// NULL.
    Null,
    /// Any value.
    Forged(u64),
}

/// The VRAM part of a CreateVirtualGpu profile (`Capability[0]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VramSpec {
    /// All zero: not specified (the count's profile applies).
    Default,
    /// Min, Max, Optimal in 4 KiB pages.
    Pages {
        /// `MinValue`.
        min: u16,
        /// `MaxValue`.
        max: u16,
        /// `OptimalValue` (0: unspecified).
        optimal: u16,
    },
    /// Min, Max, Optimal in bytes.
    Raw {
        /// `MinValue`.
        min: u64,
        /// `MaxValue`.
        max: u64,
        /// `OptimalValue`.
        optimal: u64,
    },
}

/// Where SetVirtualGpuResources says VidMm pinned a reserve: in the region
/// of slot `slot` (modulo the count; the region of slot `p` starts at `p`
/// shares of the segment), `pages` pages and `bytes` bytes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// Whose region.
    pub slot: u8,
    /// Pages into it.
    pub pages: u16,
    /// Bytes more (misaligned when not a page multiple).
    pub bytes: u32,
}

/// A memory basis over a VF's reserve, as the OS creates it before it binds
/// the reserve with SetVirtualGpuResources2: the reserve's pages in the
/// region of slot `vf` (see [`Place`]), cut into `1 + pieces % 4` pieces that
/// are listed in VF order but laid out in the region in reverse order,
/// rotated by `rotate`. The size is that of the vGPU in the slot (a share
/// without one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReserveLayout {
    /// The slot.
    pub vf: u32,
    /// Pieces, minus one (modulo 4).
    pub pieces: u8,
    /// Rotation of the layout in the region.
    pub rotate: u8,
    /// A deliberate fault: 0 none, 1 the last piece one page short, 2 the
    /// whole layout one page further (into the next region), 3 whole
    /// region (a share) rather than the reserve size.
    pub fault: u8,
}

/// The `DataSize` / `Data` a Save call passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveCall {
    /// The sizing call: `*DataSize == 0`, `Data == NULL`.
    Size,
    /// The filling call, with a buffer of the bytes the model says are
    /// needed plus `extra` (wrapping down for a short one).
    Fill {
        /// Bytes more (or, negative, fewer) than needed.
        extra: i8,
    },
    /// `Data == NULL` with a non-zero `*DataSize`.
    NullData,
    /// `DataSize == NULL`.
    NullDataSize,
    /// `pArgs == NULL`.
    NullArgs,
}

/// How a restored blob is damaged in transit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// Intact.
    None,
    /// Bit `bit % 8` of byte `at % len` flipped.
    Flip {
        /// Which byte (modulo the length).
        at: u16,
        /// Which bit.
        bit: u8,
    },
    /// The last `1 + by % len` bytes cut.
    Truncate {
        /// How many (see above).
        by: u16,
    },
    /// One byte appended.
    Append(u8),
}

/// The data a Restore call passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobSel {
    /// The `back`-th most recent blob a Save filled in this sequence (0 is
    /// the latest; modulo how many; 64 zero bytes if none yet), damaged as
    /// `damage` says.
    Saved {
        /// Which blob.
        back: u8,
        /// What happened to it on the way.
        damage: Damage,
    },
    /// `DataSize == 0`, `Data` non-NULL.
    Empty,
    /// `Data == NULL`.
    NullData,
    /// `pArgs == NULL`.
    NullArgs,
}

/// One call of the GPU-partition interface, the live-migration DDIs, or the
/// allocation path of a vGPU reserve. `vf` is the raw `PartitionId` /
/// `vfIndex` passed (so unknown ones are reachable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VgpuOp {
    /// `DxgkDdiSetGpuPartitionCount`.
    SetPartitionCount {
        /// `Context`.
        adapter: AdapterSel,
        /// `PartitionCount`.
        count: u32,
    },
    /// `DxgkDdiGetGpuPartitionInfo`.
    GetPartitionInfo {
        /// `Context`.
        adapter: AdapterSel,
        /// `NumGpuPartitionOptions` in (the array's capacity).
        capacity: u8,
        /// `pGpuPartitionOptions == NULL`.
        null_array: bool,
    },
    /// `DxgkDdiCreateVirtualGpu`.
    CreateVgpu {
        /// `Context`.
        adapter: AdapterSel,
        /// `PartitionId`.
        vf: u32,
        /// `Profile.Capability[0]`.
        vram: VramSpec,
        /// `Profile.Capability[1].MinValue` (= `MaxValue`): an engine this
        /// adapter does not have, when non-zero.
        engine: u8,
    },
    /// `DxgkDdiDestroyVirtualGpu`.
    DestroyVgpu {
        /// `Context`.
        adapter: AdapterSel,
        /// `PartitionId`.
        vf: u32,
    },
    /// `DxgkDdiGetVirtualGpuInfo`.
    GetVgpuInfo {
        /// `Context`.
        adapter: AdapterSel,
        /// `PartitionId`.
        vf: u32,
    },
    /// VidMm creates the reserve of the vGPU in slot `vf` (the one that was
    /// there last, if it is gone): `DxgkDdiGetStandardAllocationDriverData`
    /// (VGPU) with the `SegmentInfo` CreateVirtualGpu returned, then
    /// `DxgkDdiCreateAllocation`.
    CreateReserve {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// The slot.
        vf: u32,
    },
    /// `DxgkDdiDestroyAllocation` of one reserve.
    DestroyReserve {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// The handle.
        alloc: AllocSel,
    },
    /// `DxgkDdiCreateMemoryBasis` over a VF's reserve layout (checked as
    /// [`Op::Create`] is).
    ReserveBasis(ReserveLayout),
    /// `DxgkDdiSetVirtualGpuResources` with one entry.
    SetResources {
        /// `Context`.
        adapter: AdapterSel,
        /// `PartitionId`.
        vf: u32,
        /// `DriverAllocationHandle`.
        alloc: AllocSel,
        /// `MemorySegmentId` (0 is the tracked segment VFs live in, else raw).
        segment: u32,
        /// `MemorySegmentOffset`.
        place: Place,
        /// `AllocationSize`: the vGPU's reserve size minus this many pages.
        short: u8,
    },
    /// `DxgkDdiSetVirtualGpuResources2` with one descriptor.
    SetResources2 {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// `vfIndex`.
        vf: u32,
        /// `DriverAllocationHandle`.
        alloc: AllocSel,
        /// `MemoryBasis`.
        basis: HandleSel,
    },
    /// `DxgkDdiSetVirtualFunctionPauseState`.
    Pause {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// `vfIndex`.
        vf: u32,
        /// `bPause` (any non-zero value pauses).
        pause: u8,
    },
    /// `DxgkDdiWriteVirtualizedInterrupt`.
    WriteInterrupt {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// `vfIndex`.
        vf: u32,
        /// `InterruptTableIndex`.
        index: i16,
    },
    /// `DxgkDdiPrepareLiveMigration`.
    Prepare {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// `vfIndex`.
        vf: u32,
        /// `MigrationType` (0 SOURCE, 1 TARGET, others unknown).
        ty: i32,
    },
    /// `DxgkDdiSaveImmutableMigrationData` or `DxgkDdiSaveMutableMigrationData`.
    Save {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// `vfIndex`.
        vf: u32,
        /// The mutable data (else the immutable data).
        mutable: bool,
        /// Which of the two calls, or a fault.
        call: SaveCall,
    },
    /// `DxgkDdiRestoreImmutableMigrationData` or `DxgkDdiRestoreMutableMigrationData`.
    Restore {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// `vfIndex`.
        vf: u32,
        /// The mutable data (else the immutable data).
        mutable: bool,
        /// The data.
        blob: BlobSel,
    },
    /// `DxgkDdiEndLiveMigration`.
    End {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// `vfIndex`.
        vf: u32,
    },
    /// `DxgkDdiSetVirtualFunctionPowerState` (SR-IOV interface).
    SetPower {
        /// `Context`.
        adapter: AdapterSel,
        /// `VirtualFunctionIndex`.
        vf: u32,
        /// `PowerState` (1-4 are D0-D3; others are unknown).
        state: u32,
    },
    /// `DxgkDdiVirtualGpuDriverEscape` (partition interface): the vGPU's
    /// LUID (or another), a header, a payload, and an output buffer.
    Escape {
        /// `Context`.
        adapter: AdapterSel,
        /// `PartitionId`.
        vf: u32,
        /// The LUID is the vGPU's (else it is off by one bit).
        luid_ok: bool,
        /// `Command` (1-3 are QUERY, WRITE_NOTIFY, MSIX; others unknown).
        command: u32,
        /// `PayloadSize` as declared, or `None` for the payload's length.
        declared: Option<u32>,
        /// The payload (for WRITE_NOTIFY: offset u64, length u64), any bytes.
        payload: Vec<u8>,
        /// `OutputBufferSize` (0: `pOutputBuffer` NULL).
        out: u8,
    },
    /// `DxgkDdiQueryVirtualFunctionLuid` (SR-IOV interface, no status).
    QueryLuid {
        /// `Context`.
        adapter: AdapterSel,
        /// `VirtualFunctionIndex`.
        vf: u32,
    },
}

impl VgpuOp {
    /// Names of the kinds, in [`VgpuOp::kind`] order (also the tail of
    /// [`Op::KINDS`]).
    pub const KINDS: [&'static str; 19] = [
        "SetPartitionCount",
        "GetPartitionInfo",
        "CreateVirtualGpu",
        "DestroyVirtualGpu",
        "GetVirtualGpuInfo",
        "CreateReserve",
        "DestroyReserve",
        "ReserveBasis",
        "SetResources",
        "SetResources2",
        "Pause",
        "WriteInterrupt",
        "Prepare",
        "Save",
        "Restore",
        "End",
        "SetPower",
        "Escape",
        "QueryLuid",
    ];

    /// Index of this operation's kind in [`VgpuOp::KINDS`].
    #[must_use]
    pub fn kind(&self) -> usize {
        match self {
            Self::SetPartitionCount { .. } => 0,
            Self::GetPartitionInfo { .. } => 1,
            Self::CreateVgpu { .. } => 2,
            Self::DestroyVgpu { .. } => 3,
            Self::GetVgpuInfo { .. } => 4,
            Self::CreateReserve { .. } => 5,
            Self::DestroyReserve { .. } => 6,
            Self::ReserveBasis(_) => 7,
            Self::SetResources { .. } => 8,
            Self::SetResources2 { .. } => 9,
            Self::Pause { .. } => 10,
            Self::WriteInterrupt { .. } => 11,
            Self::Prepare { .. } => 12,
            Self::Save { .. } => 13,
            Self::Restore { .. } => 14,
            Self::End { .. } => 15,
            Self::SetPower { .. } => 16,
            Self::Escape { .. } => 17,
            Self::QueryLuid { .. } => 18,
        }
    }
}

// ------------------------------------------------ render objects

/// Which device or context handle a render call passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjSel {
    /// The `n`-th most recent handle of that kind the driver returned in
    /// this sequence (0 is the latest; modulo how many; NULL if none yet):
    /// live, destroyed, or from before a restart.
    Issued(u8),
    /// NULL.
    Null,
    /// Any value.
    Forged(u64),
}

/// A render-object DDI (devices and contexts of the adapter under test).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderOp {
    /// `DxgkDdiCreateDevice` (`SystemDevice` or not, no process).
    CreateDevice {
        /// `Flags.SystemDevice`.
        system: bool,
    },
    /// `DxgkDdiDestroyDevice`.
    DestroyDevice {
        /// `hDevice`.
        device: ObjSel,
    },
    /// `DxgkDdiCreateContext` on `device`, node `node`, engine 0.
    CreateContext {
        /// `hDevice`.
        device: ObjSel,
        /// `NodeOrdinal`.
        node: u8,
    },
    /// `DxgkDdiDestroyContext`.
    DestroyContext {
        /// `hContext`.
        context: ObjSel,
    },
}

impl RenderOp {
    /// Names of the render operation kinds, in [`RenderOp::kind`] order.
    pub const KINDS: [&'static str; 4] = [
        "CreateDevice",
        "DestroyDevice",
        "CreateContext",
        "DestroyContext",
    ];

    /// Index of this operation's kind in [`RenderOp::KINDS`].
    #[must_use]
    pub fn kind(&self) -> usize {
        match self {
            Self::CreateDevice { .. } => 0,
            Self::DestroyDevice { .. } => 1,
            Self::CreateContext { .. } => 2,
            Self::DestroyContext { .. } => 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_names_agree() {
        let vgpu_end = 9 + VgpuOp::KINDS.len();
        let vf_end = vgpu_end + VfOp::KINDS.len();
        assert_eq!(&Op::KINDS[9..vgpu_end], &VgpuOp::KINDS[..]);
        assert_eq!(&Op::KINDS[vgpu_end..vf_end], &VfOp::KINDS[..]);
        let render_end = vf_end + RenderOp::KINDS.len();
        assert_eq!(&Op::KINDS[vf_end..render_end], &RenderOp::KINDS[..]);
        assert_eq!(&Op::KINDS[render_end..], &EngineOp::KINDS[..]);
        let op = Op::Render(RenderOp::DestroyContext {
            context: ObjSel::Null,
        });
        assert_eq!(Op::KINDS[op.kind()], "DestroyContext");
    }
}
