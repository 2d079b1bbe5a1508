//! The software engine's DDI arguments and callbacks: `DxgkDdiBuildPagingBuffer`,
//! `DxgkDdiSubmitCommand(Virtual)`, `DxgkDdiPreemptCommand`, the per-engine
//! TDR DDIs, and the interrupt-path callbacks (`DxgkCbSynchronizeExecution`,
//! `DxgkCbNotifyInterrupt`, `DxgkCbQueueDpc`, `DxgkCbNotifyDpc`).
//!
//! Anonymous unions keep one named field covering the union's bytes (the
//! first alternative's name, as the ABI test requires a header member name);
//! the alternatives the driver reads are the CamelCase helper views below,
//! whose offsets are checked against the table by this file's tests.

use crate::*;

crate::c_enum! {
    /// `DXGK_BUILDPAGINGBUFFER_OPERATION`.
    pub enum DXGK_BUILDPAGINGBUFFER_OPERATION: i32 {
        DXGK_OPERATION_TRANSFER = 0,
        DXGK_OPERATION_FILL = 1,
        DXGK_OPERATION_DISCARD_CONTENT = 2,
        DXGK_OPERATION_READ_PHYSICAL = 3,
        DXGK_OPERATION_WRITE_PHYSICAL = 4,
        DXGK_OPERATION_MAP_APERTURE_SEGMENT = 5,
        DXGK_OPERATION_UNMAP_APERTURE_SEGMENT = 6,
        DXGK_OPERATION_SPECIAL_LOCK_TRANSFER = 7,
        DXGK_OPERATION_VIRTUAL_TRANSFER = 8,
        DXGK_OPERATION_VIRTUAL_FILL = 9,
        DXGK_OPERATION_INIT_CONTEXT_RESOURCE = 10,
        DXGK_OPERATION_UPDATE_PAGE_TABLE = 11,
        DXGK_OPERATION_FLUSH_TLB = 12,
        DXGK_OPERATION_UPDATE_CONTEXT_ALLOCATION = 13,
        DXGK_OPERATION_COPY_PAGE_TABLE_ENTRIES = 14,
        DXGK_OPERATION_NOTIFY_RESIDENCY = 15,
        DXGK_OPERATION_SIGNAL_MONITORED_FENCE = 16,
        DXGK_OPERATION_MAP_APERTURE_SEGMENT2 = 17,
        DXGK_OPERATION_NOTIFY_FENCE_RESIDENCY = 18,
        DXGK_OPERATION_MAP_MMU = 19,
        DXGK_OPERATION_UNMAP_MMU = 20,
        DXGK_OPERATION_NOTIFY_RESIDENCY2 = 21,
        DXGK_OPERATION_NOTIFY_ALLOC = 22,
    }

    /// `DXGK_INTERRUPT_TYPE` (the two this engine reports).
    pub enum DXGK_INTERRUPT_TYPE: i32 {
        DXGK_INTERRUPT_DMA_COMPLETED = 1,
        DXGK_INTERRUPT_DMA_PREEMPTED = 2,
    }
}

crate::records! {
    /// `DXGKARG_BUILDPAGINGBUFFER`.
    pub struct DXGKARG_BUILDPAGINGBUFFER {
        /// In/out: where the next command goes; the driver advances it.
        pub pDmaBuffer: PVOID,
        /// In/out: bytes left in the DMA buffer.
        pub DmaSize: UINT,
        /// In/out: the private data of the buffer.
        pub pDmaBufferPrivateData: PVOID,
        /// In/out: bytes of private data left.
        pub DmaBufferPrivateDataSize: UINT,
        /// The operation.
        pub Operation: DXGK_BUILDPAGINGBUFFER_OPERATION,
        /// In/out: the driver's progress across calls for one operation.
        pub MultipassOffset: UINT,
        /// The operation's arguments: the anonymous union, 256 bytes, read
        /// through the views ([`BpbTransfer`], [`BpbFill`], ...).
        pub Transfer: [UINT64; 32],
        /// The paging engine's system context.
        pub hSystemContext: HANDLE,
        /// The DMA buffer's GPU virtual address (GpuMmu).
        pub DmaBufferGpuVirtualAddress: D3DGPU_VIRTUAL_ADDRESS,
        /// Where in the DMA buffer the driver writes (GpuMmu).
        pub DmaBufferWriteOffset: UINT,
    }

    /// `DXGK_SUBMITCOMMANDFLAGS`.
    pub struct DXGK_SUBMITCOMMANDFLAGS {
        /// The bit-field union as one value (bit 0: `Paging`).
        pub Value: UINT,
    }

    /// `DXGKARG_SUBMITCOMMAND`.
    pub struct DXGKARG_SUBMITCOMMAND {
        /// The context (multi-engine aware drivers); NULL for some paging buffers.
        pub hContext: HANDLE,
        /// The segment the DMA buffer lies in (0: contiguous system memory).
        pub DmaBufferSegmentId: UINT,
        /// The DMA buffer's physical (segment) address.
        pub DmaBufferPhysicalAddress: LARGE_INTEGER,
        /// Bytes of the DMA buffer.
        pub DmaBufferSize: UINT,
        /// First byte submitted.
        pub DmaBufferSubmissionStartOffset: UINT,
        /// One past the last byte submitted.
        pub DmaBufferSubmissionEndOffset: UINT,
        /// The private data (a kernel address).
        pub pDmaBufferPrivateData: PVOID,
        /// Bytes of private data.
        pub DmaBufferPrivateDataSize: UINT,
        /// First private-data byte submitted.
        pub DmaBufferPrivateDataSubmissionStartOffset: UINT,
        /// One past the last private-data byte submitted.
        pub DmaBufferPrivateDataSubmissionEndOffset: UINT,
        /// The fence the engine reports on completion.
        pub SubmissionFenceId: UINT,
        /// Unused by a render-less adapter.
        pub VidPnSourceId: UINT,
        /// Unused by a render-less adapter.
        pub FlipInterval: UINT,
        /// The submission's flags.
        pub Flags: DXGK_SUBMITCOMMANDFLAGS,
        /// The engine of the node.
        pub EngineOrdinal: UINT,
        /// The DMA buffer's GPU virtual address.
        pub DmaBufferVirtualAddress: D3DGPU_VIRTUAL_ADDRESS,
        /// The node.
        pub NodeOrdinal: UINT,
    }

    /// `DXGKARG_SUBMITCOMMANDVIRTUAL`.
    pub struct DXGKARG_SUBMITCOMMANDVIRTUAL {
        /// The context.
        pub hContext: HANDLE,
        /// The DMA buffer's GPU virtual address.
        pub DmaBufferVirtualAddress: D3DGPU_VIRTUAL_ADDRESS,
        /// Bytes of the DMA buffer.
        pub DmaBufferSize: UINT,
        /// The private data (a kernel address).
        pub pDmaBufferPrivateData: PVOID,
        /// Bytes of private data.
        pub DmaBufferPrivateDataSize: UINT,
        /// Bytes of UMD private data.
        pub DmaBufferUmdPrivateDataSize: UINT,
        /// The fence the engine reports on completion.
        pub SubmissionFenceId: UINT,
        /// Unused by a render-less adapter.
        pub VidPnSourceId: UINT,
        /// Unused by a render-less adapter.
        pub FlipInterval: UINT,
        /// The submission's flags.
        pub Flags: DXGK_SUBMITCOMMANDFLAGS,
        /// The engine of the node.
        pub EngineOrdinal: UINT,
        /// The node.
        pub NodeOrdinal: UINT,
    }

    /// `DXGK_PREEMPTCOMMANDFLAGS`.
    pub struct DXGK_PREEMPTCOMMANDFLAGS {
        /// The bit-field union as one value (all reserved).
        pub Value: UINT,
    }

    /// `DXGKARG_PREEMPTCOMMAND`.
    pub struct DXGKARG_PREEMPTCOMMAND {
        /// The fence of the preemption request, reported with `DMA_PREEMPTED`.
        pub PreemptionFenceId: UINT,
        /// The node.
        pub NodeOrdinal: UINT,
        /// The engine of the node.
        pub EngineOrdinal: UINT,
        /// Reserved flags.
        pub Flags: DXGK_PREEMPTCOMMANDFLAGS,
    }

    /// `DXGKCB_NOTIFY_INTERRUPT_DATA_FLAGS`.
    pub struct DXGKCB_NOTIFY_INTERRUPT_DATA_FLAGS {
        /// The bit-field union as one value.
        pub Value: UINT,
    }

    /// `DXGKARGCB_NOTIFY_INTERRUPT_DATA`: the anonymous union (64 bytes) is
    /// written through [`NotifyDmaCompleted`] / [`NotifyDmaPreempted`].
    pub struct DXGKARGCB_NOTIFY_INTERRUPT_DATA {
        /// `DXGK_INTERRUPT_*`.
        pub InterruptType: DXGK_INTERRUPT_TYPE,
        /// The union's bytes.
        pub DmaCompleted: [UINT64; 8],
        /// Flags.
        pub Flags: DXGKCB_NOTIFY_INTERRUPT_DATA_FLAGS,
    }

    /// `DXGK_ENGINESTATUS`.
    pub struct DXGK_ENGINESTATUS {
        /// The bit-field union as one value (bit 0: `Responsive`).
        pub Value: UINT,
    }

    /// `DXGKARG_QUERYENGINESTATUS`.
    pub struct DXGKARG_QUERYENGINESTATUS {
        /// The node.
        pub NodeOrdinal: UINT,
        /// The engine of the node.
        pub EngineOrdinal: UINT,
        /// Out: the engine's status.
        pub EngineStatus: DXGK_ENGINESTATUS,
    }

    /// `DXGKARG_RESETENGINE`.
    pub struct DXGKARG_RESETENGINE {
        /// The node.
        pub NodeOrdinal: UINT,
        /// The engine of the node.
        pub EngineOrdinal: UINT,
        /// Out: the last fence aborted by the reset.
        pub LastAbortedFenceId: UINT,
    }

    /// `DXGKARG_QUERYDEPENDENTENGINEGROUP`.
    pub struct DXGKARG_QUERYDEPENDENTENGINEGROUP {
        /// The node.
        pub NodeOrdinal: UINT,
        /// The engine of the node.
        pub EngineOrdinal: UINT,
        /// Out: the nodes reset together with this one.
        pub DependentNodeOrdinalMask: ULONGLONG,
    }
}

impl DXGK_ENGINESTATUS {
    /// The status with `Responsive` (bit 0) as given.
    #[must_use]
    pub fn with_responsive(responsive: bool) -> Self {
        Self {
            Value: UINT::from(responsive),
        }
    }
}

impl DXGK_SUBMITCOMMANDFLAGS {
    /// `Paging` (bit 0): a paging buffer.
    #[must_use]
    pub fn paging(&self) -> bool {
        self.Value & 1 != 0
    }
}

/// The `Transfer` alternative of `DXGKARG_BUILDPAGINGBUFFER` (offsets
/// relative to the union at byte 40).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct BpbTransfer {
    /// The allocation.
    pub hAllocation: u64,
    /// Offset of the transfer in the allocation (bytes).
    pub TransferOffset: UINT,
    /// Bytes to transfer.
    pub TransferSize: u64,
    /// Source segment id (0: system memory, `SourceAddress` is an MDL).
    pub SourceSegmentId: UINT,
    /// Source segment address, or the MDL pointer.
    pub SourceAddress: u64,
    /// Destination segment id (0: system memory).
    pub DestinationSegmentId: UINT,
    /// Destination segment address, or the MDL pointer.
    pub DestinationAddress: u64,
    /// `DXGK_TRANSFERFLAGS`.
    pub Flags: UINT,
    /// First page of the MDL the transfer uses.
    pub MdlOffset: UINT,
}

/// The `Fill` alternative.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct BpbFill {
    /// The allocation.
    pub hAllocation: u64,
    /// Bytes to fill.
    pub FillSize: u64,
    /// The 32-bit pattern.
    pub FillPattern: UINT,
    /// Alignment of the `Destination` struct (8).
    pub _Pad: UINT,
    /// Destination segment id.
    pub DestinationSegmentId: UINT,
    /// Destination segment address.
    pub DestinationAddress: u64,
}

/// The `DiscardContent` alternative.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct BpbDiscard {
    /// The allocation.
    pub hAllocation: u64,
    /// `DXGK_DISCARDCONTENTFLAGS`.
    pub Flags: UINT,
    /// The segment.
    pub SegmentId: UINT,
    /// The segment address.
    pub SegmentAddress: u64,
}

/// The `MapApertureSegment` / `UnmapApertureSegment` alternatives (the last
/// two words: `pMdl` and `Flags`/`MdlOffset` for a map, `DummyPage` for an unmap).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct BpbAperture {
    /// The device.
    pub hDevice: u64,
    /// The allocation.
    pub hAllocation: u64,
    /// The aperture segment.
    pub SegmentId: UINT,
    /// First aperture page.
    pub OffsetInPages: u64,
    /// Pages.
    pub NumberOfPages: u64,
    /// Map: the MDL; unmap: the dummy page's address.
    pub pMdl: u64,
    /// Map: `DXGK_MAPAPERTUREFLAGS`.
    pub Flags: UINT,
    /// Map: first page of the MDL.
    pub MdlOffset: UINT,
}

/// `DXGK_BUILDPAGINGBUFFER_TRANSFERVIRTUAL` / `FILLVIRTUAL` (the first words).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct BpbVirtual {
    /// The allocation.
    pub hAllocation: u64,
    /// Offset in the allocation.
    pub AllocationOffsetInBytes: u64,
    /// Bytes.
    pub SizeInBytes: u64,
    /// Transfer: source VA; fill: the pattern in the low 32 bits.
    pub SourceOrPattern: u64,
    /// The destination VA.
    pub DestinationVirtualAddress: u64,
}

/// `DXGK_BUILDPAGINGBUFFER_SIGNALMONITOREDFENCE`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct BpbSignalFence {
    /// The fence's GPU virtual address.
    pub MonitoredFenceGpuVa: u64,
    /// The value to write.
    pub MonitoredFenceValue: u64,
}

/// The `DmaCompleted` alternative of `DXGKARGCB_NOTIFY_INTERRUPT_DATA`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NotifyDmaCompleted {
    /// The fence completed.
    pub SubmissionFenceId: UINT,
    /// The node.
    pub NodeOrdinal: UINT,
    /// The engine.
    pub EngineOrdinal: UINT,
}

/// The `DmaPreempted` alternative.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NotifyDmaPreempted {
    /// The preemption request's fence.
    pub PreemptionFenceId: UINT,
    /// The last fence the engine completed.
    pub LastCompletedFenceId: UINT,
    /// The node.
    pub NodeOrdinal: UINT,
    /// The engine.
    pub EngineOrdinal: UINT,
}

/// A view of the union of a `DXGKARG_BUILDPAGINGBUFFER` as one alternative.
pub trait UnionView: Copy + Default {}
impl UnionView for BpbTransfer {}
impl UnionView for BpbFill {}
impl UnionView for BpbDiscard {}
impl UnionView for BpbAperture {}
impl UnionView for BpbVirtual {}
impl UnionView for BpbSignalFence {}

impl DXGKARG_BUILDPAGINGBUFFER {
    /// The union read as the alternative `V` (plain integers: any bytes are valid).
    #[must_use]
    pub fn view<V: UnionView>(&self) -> V {
        const { assert!(core::mem::size_of::<V>() <= 256) };
        let mut v = V::default();
        let n = core::mem::size_of::<V>();
        let src = self.Transfer.as_ptr().cast::<u8>();
        // SAFETY: `src` is readable for 256 bytes (the union), `n <= 256`;
        // `v` is a local `repr(C)` record of plain integers, `n` bytes long,
        // for which any bytes are a valid value; the two do not overlap.
        unsafe { core::ptr::copy_nonoverlapping(src, (&raw mut v).cast::<u8>(), n) };
        v
    }

    /// Writes `v` into the union as the alternative `V` (the inverse of
    /// [`Self::view`]; the union's bytes past `V` are left as they are).
    pub fn set_view<V: UnionView>(&mut self, v: V) {
        const { assert!(core::mem::size_of::<V>() <= 256) };
        let n = core::mem::size_of::<V>();
        let dst = self.Transfer.as_mut_ptr().cast::<u8>();
        // SAFETY: `v` is a `repr(C)` record of plain integers, readable for
        // `n` bytes; `dst` is writable for 256 bytes (the union), `n <= 256`;
        // the two do not overlap.
        unsafe { core::ptr::copy_nonoverlapping((&raw const v).cast::<u8>(), dst, n) };
    }
}

impl DXGKARGCB_NOTIFY_INTERRUPT_DATA {
    /// A `DXGK_INTERRUPT_DMA_COMPLETED` record.
    #[must_use]
    pub fn dma_completed(fence: UINT, node: UINT, engine: UINT) -> Self {
        let mut d = <Self as abi::Zeroable>::zeroed();
        d.InterruptType = DXGK_INTERRUPT_DMA_COMPLETED;
        d.DmaCompleted[0] = u64::from(fence) | (u64::from(node) << 32);
        d.DmaCompleted[1] = u64::from(engine);
        d
    }

    /// A `DXGK_INTERRUPT_DMA_PREEMPTED` record.
    #[must_use]
    pub fn dma_preempted(preemption: UINT, last_completed: UINT, node: UINT, engine: UINT) -> Self {
        let mut d = <Self as abi::Zeroable>::zeroed();
        d.InterruptType = DXGK_INTERRUPT_DMA_PREEMPTED;
        d.DmaCompleted[0] = u64::from(preemption) | (u64::from(last_completed) << 32);
        d.DmaCompleted[1] = u64::from(node) | (u64::from(engine) << 32);
        d
    }

    /// The union read as `DmaCompleted` (x64 is little-endian).
    #[must_use]
    pub fn completed(&self) -> NotifyDmaCompleted {
        let [a, b, ..] = self.DmaCompleted;
        NotifyDmaCompleted {
            SubmissionFenceId: a as u32,
            NodeOrdinal: (a >> 32) as u32,
            EngineOrdinal: b as u32,
        }
    }

    /// The union read as `DmaPreempted`.
    #[must_use]
    pub fn preempted(&self) -> NotifyDmaPreempted {
        let [a, b, ..] = self.DmaCompleted;
        NotifyDmaPreempted {
            PreemptionFenceId: a as u32,
            LastCompletedFenceId: (a >> 32) as u32,
            NodeOrdinal: b as u32,
            EngineOrdinal: (b >> 32) as u32,
        }
    }
}

/// `DXGKDDI_SUBMITCOMMAND`.
pub type PDXGKDDI_SUBMITCOMMAND = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pSubmitCommand: *const DXGKARG_SUBMITCOMMAND,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_SUBMITCOMMANDVIRTUAL`.
pub type PDXGKDDI_SUBMITCOMMANDVIRTUAL = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pSubmitCommandVirtual: *const DXGKARG_SUBMITCOMMANDVIRTUAL,
    ) -> NTSTATUS,
>;
/// `DXGKCB_SYNCHRONIZE_EXECUTION`'s routine: `PKSYNCHRONIZE_ROUTINE`.
pub type PKSYNCHRONIZE_ROUTINE =
    Option<unsafe extern "system" fn(SynchronizeContext: PVOID) -> BOOLEAN>;
/// `DXGKCB_SYNCHRONIZE_EXECUTION`.
pub type DXGKCB_SYNCHRONIZE_EXECUTION = Option<
    unsafe extern "system" fn(
        DeviceHandle: HANDLE,
        SynchronizeRoutine: PKSYNCHRONIZE_ROUTINE,
        Context: PVOID,
        MessageNumber: ULONG,
        ReturnValue: *mut BOOLEAN,
    ) -> NTSTATUS,
>;
/// `DXGKCB_NOTIFY_INTERRUPT`.
pub type DXGKCB_NOTIFY_INTERRUPT = Option<
    unsafe extern "system" fn(DeviceHandle: HANDLE, pArgs: *const DXGKARGCB_NOTIFY_INTERRUPT_DATA),
>;
/// `DXGKCB_QUEUE_DPC`.
pub type DXGKCB_QUEUE_DPC = Option<unsafe extern "system" fn(DeviceHandle: HANDLE) -> BOOLEAN>;
/// `DXGKCB_NOTIFY_DPC`.
pub type DXGKCB_NOTIFY_DPC = Option<unsafe extern "system" fn(DeviceHandle: HANDLE)>;

#[cfg(test)]
mod tests {
    extern crate std;
    use core::mem::offset_of;
    use std::string::String;

    use super::*;

    /// The table's offset of `member` of `_DXGKARG_BUILDPAGINGBUFFER` or
    /// `_DXGKARGCB_NOTIFY_INTERRUPT_DATA`, relative to the union at `base`.
    fn table_offset(record: &str, member: &str, base: usize) -> usize {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/abi/wddm32-x64-layouts.tsv");
        let text: String = std::fs::read_to_string(path).expect("the ABI table");
        let line = text
            .lines()
            .find(|l| {
                let mut c = l.split('\t');
                c.next() == Some(record) && c.next() == Some(member)
            })
            .unwrap_or_else(|| panic!("{record} {member} not in the table"));
        let off: usize = line.split('\t').nth(2).unwrap().parse().unwrap();
        off - base
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "reads the ABI table from disk (Miri isolates the file system)"
    )]
    fn union_views_match_the_table() {
        let r = "_DXGKARG_BUILDPAGINGBUFFER";
        let t = |m: &str| table_offset(r, m, 40);
        assert_eq!(
            offset_of!(BpbTransfer, TransferSize),
            t("(anon).Transfer.TransferSize")
        );
        assert_eq!(
            offset_of!(BpbTransfer, SourceSegmentId),
            t("(anon).Transfer.Source.SegmentId")
        );
        assert_eq!(
            offset_of!(BpbTransfer, SourceAddress),
            t("(anon).Transfer.Source.(anon).pMdl")
        );
        assert_eq!(
            offset_of!(BpbTransfer, DestinationSegmentId),
            t("(anon).Transfer.Destination.SegmentId")
        );
        assert_eq!(
            offset_of!(BpbTransfer, DestinationAddress),
            t("(anon).Transfer.Destination.(anon).pMdl")
        );
        assert_eq!(
            offset_of!(BpbTransfer, MdlOffset),
            t("(anon).Transfer.MdlOffset")
        );
        assert_eq!(offset_of!(BpbFill, FillSize), t("(anon).Fill.FillSize"));
        assert_eq!(
            offset_of!(BpbFill, FillPattern),
            t("(anon).Fill.FillPattern")
        );
        assert_eq!(
            offset_of!(BpbFill, DestinationSegmentId),
            t("(anon).Fill.Destination.SegmentId")
        );
        assert_eq!(
            offset_of!(BpbFill, DestinationAddress),
            t("(anon).Fill.Destination.SegmentAddress")
        );
        assert_eq!(
            offset_of!(BpbDiscard, SegmentId),
            t("(anon).DiscardContent.SegmentId")
        );
        assert_eq!(
            offset_of!(BpbDiscard, SegmentAddress),
            t("(anon).DiscardContent.SegmentAddress")
        );
        assert_eq!(
            offset_of!(BpbAperture, OffsetInPages),
            t("(anon).MapApertureSegment.OffsetInPages")
        );
        assert_eq!(
            offset_of!(BpbAperture, pMdl),
            t("(anon).MapApertureSegment.pMdl")
        );
        assert_eq!(
            offset_of!(BpbAperture, MdlOffset),
            t("(anon).MapApertureSegment.MdlOffset")
        );
        assert_eq!(
            offset_of!(BpbVirtual, DestinationVirtualAddress),
            t("(anon).TransferVirtual.DestinationVirtualAddress")
        );
        assert_eq!(
            offset_of!(BpbVirtual, SourceOrPattern),
            t("(anon).FillVirtual.FillPattern")
        );
        assert_eq!(
            offset_of!(BpbSignalFence, MonitoredFenceValue),
            t("(anon).SignalMonitoredFence.MonitoredFenceValue")
        );
        let n = "_DXGKARGCB_NOTIFY_INTERRUPT_DATA";
        let d = DXGKARGCB_NOTIFY_INTERRUPT_DATA::dma_completed(7, 0, 0);
        assert_eq!(d.completed().SubmissionFenceId, 7);
        assert_eq!(table_offset(n, "(anon).DmaCompleted.NodeOrdinal", 8), 4);
        assert_eq!(table_offset(n, "(anon).DmaCompleted.EngineOrdinal", 8), 8);
        assert_eq!(
            table_offset(n, "(anon).DmaPreempted.LastCompletedFenceId", 8),
            4
        );
        assert_eq!(table_offset(n, "(anon).DmaPreempted.EngineOrdinal", 8), 12);
        let p = DXGKARGCB_NOTIFY_INTERRUPT_DATA::dma_preempted(9, 8, 1, 2);
        let v = p.preempted();
        assert_eq!(
            (
                v.PreemptionFenceId,
                v.LastCompletedFenceId,
                v.NodeOrdinal,
                v.EngineOrdinal
            ),
            (9, 8, 1, 2)
        );
    }
}
