//! The software engine's operations (issue 17 item 7): paging buffers built
//! with `DxgkDdiBuildPagingBuffer`, submitted with `DxgkDdiSubmitCommand` or
//! `DxgkDdiSubmitCommandVirtual` under increasing fences, preempted, waited
//! for through the stand-in's completion callbacks, and the engine's status
//! and reset DDIs.
//!
//! Every address the engine will dereference at run time (a DMA buffer, an
//! MDL, a monitored fence) is one the checker owns: the operations name
//! them by index, never by value, so no sequence makes the engine touch
//! memory outside the checker's (the host convention of `docs/engine.md`,
//! "Addresses"). Segment offsets and sizes are free, invalid ones included.

use super::{AdapterSel, Bytes, SegSel};

/// System-memory buffers (each with its MDL) the checker owns.
pub const MDLS: u8 = 2;
/// Bytes of each of them (16 pages).
pub const MDL_BYTES: u64 = 16 * 4096;
/// Monitored-fence cells the checker owns.
pub const FENCE_CELLS: u8 = 2;

/// GPU VA pages the checker maps in each 2 MiB region: leaf entries
/// `0..VA_PAGES` of the checker's one leaf table, which every valid root
/// entry names (`docs/proofs.md`).
pub const VA_PAGES: u8 = 8;
/// VRAM pages (of the first segment) a leaf entry may map: targets
/// `0..VA_TARGETS`.
pub const VA_TARGETS: u8 = 12;
/// System pages (segment 0) the checker owns for leaf entries to map:
/// targets `VA_TARGETS..VA_TARGETS + SYS_TARGETS`; a larger target writes
/// an invalid entry.
pub const SYS_TARGETS: u8 = 4;
/// Entries of the root table SetRootPageTable gives: a VA of region
/// `ROOT_ENTRIES` or more is past the root and faults.
pub const ROOT_ENTRIES: u8 = 2;
/// Entries one [`Paging::Map`] writes at most (the engine records 4 per
/// command: up to two commands).
pub const MAP_ENTRIES: u8 = 8;
/// [`Paging::Map`] `flags`: the leaf entries are ReadOnly (a write faults).
pub const MAP_READ_ONLY: u8 = 1;
/// [`Paging::Map`] `flags`: the leaf entries are Zero (reads give zeros,
/// writes are dropped).
pub const MAP_ZERO: u8 = 2;
/// Bytes of a VA region (what one root entry covers).
pub const REGION: u64 = 2 << 20;

/// One end of a paging operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndSel {
    /// A segment (any id) and an offset in it.
    Vram {
        /// `SegmentId`.
        segment: SegSel,
        /// The segment address.
        offset: Bytes,
    },
    /// System memory: the checker's MDL number `n` (`n >= MDLS`: a NULL MDL).
    Mdl(u8),
}

/// The paging operation a build records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// `DXGK_OPERATION_FILL` (an MDL destination is refused when run).
    Fill {
        /// Destination.
        dst: EndSel,
        /// `FillSize`.
        size: Bytes,
        /// `FillPattern`.
        pattern: u32,
    },
    /// `DXGK_OPERATION_TRANSFER`: VRAM to VRAM, in, out, or MDL to MDL.
    Transfer {
        /// Source.
        src: EndSel,
        /// Destination.
        dst: EndSel,
        /// `TransferSize`.
        size: Bytes,
        /// `TransferOffset` (added to a segment end's address).
        offset: u32,
        /// `MdlOffset` (4 KiB pages into an MDL end).
        mdl_page: u32,
    },
    /// `DXGK_OPERATION_DISCARD_CONTENT`.
    Discard {
        /// `SegmentId`.
        segment: SegSel,
        /// `SegmentAddress`.
        offset: Bytes,
    },
    /// `DXGK_OPERATION_SIGNAL_MONITORED_FENCE` of the checker's fence cell
    /// `cell` (`cell >= FENCE_CELLS`: GPU VA 0).
    Signal {
        /// Which cell.
        cell: u8,
        /// `MonitoredFenceValue`.
        value: u64,
    },
    /// An operation the engine records without effect: 0
    /// MAP_APERTURE_SEGMENT, 1 UNMAP_APERTURE_SEGMENT, 2 FLUSH_TLB (modulo
    /// 3), with any arguments.
    Recorded {
        /// Which.
        which: u8,
        /// The union's first words.
        args: [u64; 3],
    },
    /// UPDATE_PAGE_TABLE (GPU_PHYSICAL) of `1 + count % MAP_ENTRIES`
    /// entries of the checker's tables from entry `index`: entry `k` is
    /// made of target `target + k` (with `repeat`: `Flags.Repeat`, target
    /// `target` for every entry; the array still holds the others, so an
    /// engine that ignores Repeat differs). `leaf` false: root entries from
    /// `index % (ROOT_ENTRIES + 1)` (the last one past the root's count),
    /// an even target naming the checker's leaf table, an odd one invalid;
    /// `leaf` true: leaf entries from `index % VA_PAGES`, a target mapping
    /// a VRAM page, a system page or nothing (see [`VA_TARGETS`],
    /// [`SYS_TARGETS`]), with `flags` ([`MAP_READ_ONLY`], [`MAP_ZERO`];
    /// an invalid entry keeps them, without Valid).
    Map {
        /// The leaf table rather than the root.
        leaf: bool,
        /// `StartIndex` (reduced as above).
        index: u8,
        /// What the first entry maps.
        target: u8,
        /// `NumPageTableEntries` - 1 (modulo [`MAP_ENTRIES`]).
        count: u8,
        /// `Flags.Repeat`.
        repeat: bool,
        /// Leaf entry flags (bit 0 ReadOnly, bit 1 Zero).
        flags: u8,
    },
    /// VIRTUAL_FILL of the paging context from GPU VA `at` (modulo the
    /// `VA_PAGES` pages) of region `region` (root entry `region`: from
    /// `ROOT_ENTRIES` on, past the root) of `size` bytes (modulo what is
    /// left of the pages + 1).
    VirtualFill {
        /// Destination region.
        region: u8,
        /// Destination VA in it.
        at: u16,
        /// `SizeInBytes`.
        size: u16,
        /// `FillPattern`.
        pattern: u32,
    },
    /// VIRTUAL_TRANSFER of the paging context from GPU VA `from` of
    /// region `regions[0]` to `at` of region `regions[1]` (each modulo the
    /// `VA_PAGES` pages) of `size` bytes (modulo what is left after the
    /// higher of them + 1).
    VirtualTransfer {
        /// Source and destination regions.
        regions: [u8; 2],
        /// Source VA in its region.
        from: u16,
        /// Destination VA in its region.
        at: u16,
        /// `SizeInBytes`.
        size: u16,
    },
    /// Any other `Operation` value (NOTIFY_RESIDENCY(2), NOTIFY_ALLOC,
    /// unknown ones): accepted with nothing written. Values the engine gives
    /// a command are moved to an unknown one.
    Other(u32),
}

/// The end of a submission's span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitEnd {
    /// Where the build stopped writing (the usual submission).
    Built,
    /// Command slot `n` (64 bytes each; past what was built: bytes that are
    /// no command, so the engine faults).
    Slot(u8),
    /// Any byte offset (modulo 4097): not a whole number of commands faults.
    Byte(u16),
}

/// One engine operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineOp {
    /// VidMm builds `paging` with `DxgkDdiBuildPagingBuffer`: a fresh DMA
    /// buffer of `dma` bytes (modulo 4097) per call while the driver answers
    /// `STATUS_GRAPHICS_INSUFFICIENT_DMA_BUFFER` with progress (8 at most).
    Build {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// `pArgs` NULL.
        null_args: bool,
        /// The operation.
        paging: Paging,
        /// `DmaSize` of each buffer.
        dma: u16,
        /// `pDmaBuffer` NULL.
        null_dma: bool,
        /// `MultipassOffset` of the first call (usually 0).
        multipass: u32,
    },
    /// `DxgkDdiSubmitCommand` (or `...Virtual`) of the `buffer`-th most
    /// recent built buffer, from command slot `start` to `end`, with the
    /// next fence (plus `gap`).
    Submit {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// `pArgs` NULL.
        null_args: bool,
        /// Which built buffer (0 the latest; modulo how many).
        buffer: u8,
        /// `DmaBufferSubmissionStartOffset`, in commands.
        start: u8,
        /// `DmaBufferSubmissionEndOffset`.
        end: SubmitEnd,
        /// SubmitCommandVirtual (the buffer named by the GPU VA its build
        /// recorded) rather than SubmitCommand.
        by_va: bool,
        /// Fences skipped before this one.
        gap: u8,
    },
    /// `DxgkDdiPreemptCommand` with the next fence.
    Preempt {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// `pArgs` NULL.
        null_args: bool,
    },
    /// Waits until the engine ran (or preempted, or faulted on) everything
    /// queued, and compares the fences, VRAM, system memory and monitored
    /// fences with the model.
    Wait,
    /// `DxgkDdiQueryEngineStatus`.
    QueryStatus {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// `pArgs` NULL.
        null_args: bool,
        /// `NodeOrdinal`.
        node: u8,
    },
    /// `DxgkDdiResetEngine`.
    Reset {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// `pArgs` NULL.
        null_args: bool,
        /// `NodeOrdinal`.
        node: u8,
    },
    /// `DxgkDdiQueryDependentEngineGroup`.
    DependentGroup {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// `NodeOrdinal`.
        node: u8,
    },
    /// `DxgkDdiResetFromTimeout` then `DxgkDdiRestartFromTimeout`.
    Timeout {
        /// `hAdapter`.
        adapter: AdapterSel,
    },
}

impl Paging {
    /// A [`Paging::Map`] of these fields, in the variant's order (its
    /// documentation says what each means).
    #[must_use]
    pub fn map(leaf: bool, index: u8, target: u8, count: u8, repeat: bool, flags: u8) -> Self {
        Self::Map {
            leaf,
            index,
            target,
            count,
            repeat,
            flags,
        }
    }

    /// [`Self::map`] of one entry, without Repeat.
    #[must_use]
    pub fn map_one(leaf: bool, index: u8, target: u8, flags: u8) -> Self {
        Self::map(leaf, index, target, 0, false, flags)
    }
}

impl EngineOp {
    /// A well-formed BuildPagingBuffer of `paging` into a fresh 4 KiB DMA
    /// buffer, from its start, as VidMm makes it.
    #[must_use]
    pub fn build_of(adapter: AdapterSel, paging: Paging) -> Self {
        Self::Build {
            adapter,
            null_args: false,
            paging,
            dma: 4096,
            null_dma: false,
            multipass: 0,
        }
    }

    /// The submission of the whole of built buffer `buffer` (0: the latest),
    /// through SubmitCommandVirtual when `by_va`.
    #[must_use]
    pub fn submit_built(adapter: AdapterSel, buffer: u8, by_va: bool) -> Self {
        Self::Submit {
            adapter,
            null_args: false,
            buffer,
            start: 0,
            end: SubmitEnd::Built,
            by_va,
            gap: 0,
        }
    }

    /// Names of the kinds, in [`EngineOp::kind`] order.
    pub const KINDS: [&'static str; 8] = [
        "BuildPagingBuffer",
        "SubmitCommand",
        "PreemptCommand",
        "WaitForFences",
        "QueryEngineStatus",
        "ResetEngine",
        "QueryDependentEngineGroup",
        "Reset/RestartFromTimeout",
    ];

    /// Index of this operation's kind in [`EngineOp::KINDS`].
    #[must_use]
    pub fn kind(&self) -> usize {
        match self {
            Self::Build { .. } => 0,
            Self::Submit { .. } => 1,
            Self::Preempt { .. } => 2,
            Self::Wait => 3,
            Self::QueryStatus { .. } => 4,
            Self::Reset { .. } => 5,
            Self::DependentGroup { .. } => 6,
            Self::Timeout { .. } => 7,
        }
    }

    /// Whether the operation may race the engine's worker (the model allows
    /// every outcome the race can have); any other operation first waits
    /// until the engine is idle, so that its answer is determined.
    #[must_use]
    pub fn races_the_worker(&self) -> bool {
        matches!(
            self,
            Self::Build { .. } | Self::Submit { .. } | Self::Preempt { .. }
        )
    }
}
