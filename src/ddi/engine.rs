//! The software engine's DDIs (spec 5.2-5.4; `docs/engine.md`): thin
//! trampolines over `crate::engine` and its table (`ddi::engine_table`).
//!
//! | DDI | IRQL (reference page) | what it does |
//! |---|---|---|
//! | BuildPagingBuffer | PASSIVE | records the operation's commands into the DMA buffer, and the record naming the buffer (`engine::dma_dir`) into its private data |
//! | SubmitCommand(Virtual) | up to DISPATCH | copies that record from the private data, queues into the lock-free ring, wakes the worker, returns success |
//! | PreemptCommand | up to DISPATCH | queues a preemption, returns success |
//! | InterruptRoutine | DIRQL | FALSE: no hardware interrupt (completions come through SynchronizeExecution) |
//! | DpcRoutine | DISPATCH | `DxgkCbNotifyDpc` |
//! | QueryEngineStatus, ResetEngine, QueryDependentEngineGroup, Reset/RestartFromTimeout | PASSIVE | against the engine's state |

use dxgk_sys::*;

use super::engine_table::{self as table, with_engine};
use super::{copy_in, read_in, write_out};
use crate::engine::dma_dir::PRIVATE_DATA_SIZE;
use crate::engine::{Broken, COMMAND_SIZE, Command, DmaAddress, Location, PagingOp, Ticket};
use crate::foundation::status::{Result, Status, to_ntstatus};

/// `STATUS_GRAPHICS_INSUFFICIENT_DMA_BUFFER` (ntstatus.h; the ABI tables
/// do not list it): more DMA buffer is needed for the operation.
pub(crate) const STATUS_GRAPHICS_INSUFFICIENT_DMA_BUFFER: NTSTATUS =
    NTSTATUS::from_u32(0xC01E_0001);

/// The engine's paging operation for a `DXGKARG_BUILDPAGINGBUFFER`.
fn paging_op(a: &DXGKARG_BUILDPAGINGBUFFER) -> Result<PagingOp> {
    let loc = |segment: u32, address: u64, offset: u64, mdl_page: u32| -> Result<Location> {
        Ok(if segment == 0 {
            let page = u64::from(mdl_page)
                .checked_mul(crate::engine::command::MDL_PAGE)
                .ok_or(Status::InvalidParameter)?;
            Location::Mdl {
                mdl: address,
                offset: page,
            }
        } else {
            Location::Segment {
                id: segment,
                offset: address
                    .checked_add(offset)
                    .ok_or(Status::InvalidParameter)?,
            }
        })
    };
    let op = a.Operation;
    let recorded = |args: [u64; 3]| {
        Ok(PagingOp::Single(Command::Recorded {
            operation: u32::try_from(op.0).unwrap_or(u32::MAX),
            args,
        }))
    };
    match op {
        DXGK_OPERATION_TRANSFER => {
            let t: BpbTransfer = a.view();
            let at = u64::from(t.TransferOffset);
            Ok(PagingOp::Transfer {
                src: loc(t.SourceSegmentId, t.SourceAddress, at, t.MdlOffset)?,
                dst: loc(
                    t.DestinationSegmentId,
                    t.DestinationAddress,
                    at,
                    t.MdlOffset,
                )?,
                size: t.TransferSize,
            })
        }
        DXGK_OPERATION_FILL => {
            let f: BpbFill = a.view();
            Ok(PagingOp::Fill {
                dst: loc(f.DestinationSegmentId, f.DestinationAddress, 0, 0)?,
                size: f.FillSize,
                pattern: f.FillPattern,
            })
        }
        DXGK_OPERATION_DISCARD_CONTENT => {
            let d: BpbDiscard = a.view();
            Ok(PagingOp::Single(Command::Discard {
                segment: d.SegmentId,
                offset: d.SegmentAddress,
            }))
        }
        DXGK_OPERATION_MAP_APERTURE_SEGMENT | DXGK_OPERATION_UNMAP_APERTURE_SEGMENT => {
            let m: BpbAperture = a.view();
            recorded([m.OffsetInPages, m.NumberOfPages, m.pMdl])
        }
        DXGK_OPERATION_VIRTUAL_TRANSFER => {
            let v: BpbVirtual = a.view();
            Ok(PagingOp::VirtualTransfer {
                context: system_context(a),
                src: v.SourceOrPattern,
                dst: v.DestinationVirtualAddress,
                size: v.SizeInBytes,
            })
        }
        DXGK_OPERATION_VIRTUAL_FILL => {
            let v: BpbVirtual = a.view();
            Ok(PagingOp::VirtualFill {
                context: system_context(a),
                dst: v.DestinationVirtualAddress,
                size: v.SizeInBytes,
                // FillPattern is a UINT; the word's upper half is padding.
                pattern: (v.SourceOrPattern & 0xFFFF_FFFF) as u32,
            })
        }
        DXGK_OPERATION_UPDATE_PAGE_TABLE => {
            let u = UpdatePageTable::of(a);
            Ok(PagingOp::WritePtes {
                segment: u.segment,
                address: u.address,
                start: u.start,
                count: u.count,
            })
        }
        DXGK_OPERATION_FLUSH_TLB => recorded([a.Transfer[0], a.Transfer[1], a.Transfer[2]]),
        DXGK_OPERATION_SIGNAL_MONITORED_FENCE => {
            let s: BpbSignalFence = a.view();
            Ok(PagingOp::Single(Command::SignalFence {
                context: system_context(a),
                va: s.MonitoredFenceGpuVa,
                value: s.MonitoredFenceValue,
            }))
        }
        _ => Ok(PagingOp::Nothing),
    }
}

/// The paging context the operation runs on (`hSystemContext`): its root
/// page table translates the VIRTUAL operations' GPU VAs when they run.
fn system_context(a: &DXGKARG_BUILDPAGINGBUFFER) -> u64 {
    u64::try_from(a.hSystemContext.addr()).unwrap_or(0)
}

/// `DXGK_BUILDPAGINGBUFFER_UPDATEPAGETABLE`, read from the union's words
/// (x64 layout: `PageTableLevel` at 0, `hAllocation` at 8, the
/// `GpuPhysical` page-table address at 16 (segment id) and 24 (offset),
/// `pPageTableEntries` at 32, `StartIndex` and `NumPageTableEntries` at 40
/// and 44, `Flags` at 52; the adapter's `PageTableUpdateMode` is
/// `GPU_PHYSICAL`, so the address is a segment and an offset).
#[derive(Debug, Clone, Copy)]
struct UpdatePageTable {
    segment: u32,
    address: u64,
    entries: u64,
    start: u32,
    count: u32,
    repeat: bool,
}

impl UpdatePageTable {
    fn of(a: &DXGKARG_BUILDPAGINGBUFFER) -> Self {
        let w = &a.Transfer;
        let low = |x: u64| (x & 0xFFFF_FFFF) as u32;
        Self {
            segment: low(w[2]),
            address: w[3],
            entries: w[4],
            start: low(w[5]),
            count: low(w[5] >> 32),
            repeat: (w[6] >> 32) & 1 != 0,
        }
    }

    /// Stores into `command` (one of the operation's WRITE_PTES commands)
    /// the hardware form of the operation's entries it covers: entries
    /// `first..first + n` of `pPageTableEntries`, or its one entry repeated
    /// (`Flags.Repeat`).
    ///
    /// # Safety
    /// `pPageTableEntries` is readable for `NumPageTableEntries` `DXGK_PTE`s
    /// (one with `Repeat`), as VidMm passes it for the call.
    unsafe fn fill(&self, (first, n): (u32, u32), command: &mut Command) -> Result<()> {
        let Command::WritePtes { ptes, .. } = command else {
            return Ok(());
        };
        if self.entries == 0 {
            return Err(Status::InvalidParameter);
        }
        for (slot, i) in ptes.iter_mut().zip(first..first.saturating_add(n)) {
            let index = if self.repeat { 0 } else { i };
            let at = u64::from(index)
                .checked_mul(16)
                .and_then(|o| self.entries.checked_add(o))
                .and_then(|p| usize::try_from(p).ok())
                .ok_or(Status::InvalidParameter)?;
            let p: *const [u64; 2] = core::ptr::with_exposed_provenance(at);
            // SAFETY: entry `index` of VidMm's `DXGK_PTE` array (16 bytes:
            // the flags, then the page address), readable for this call
            // (this function's contract; `index < NumPageTableEntries`, or
            // 0 with `Repeat`).
            let [flags, page] = unsafe { p.read_unaligned() };
            *slot = crate::engine::vaddr::pte::from_dxgk(flags, page);
        }
        Ok(())
    }
}

/// Writes `ticket`'s record at the start of the buffer's private data,
/// when there is room (`PagingBufferPrivateDataSize` bytes, which VidMm
/// allocated for the buffer); the private-data cursor is not advanced, so
/// every build into the buffer rewrites the one record at its start.
///
/// # Safety
/// `pDmaBufferPrivateData` is NULL or writable for
/// `DmaBufferPrivateDataSize` bytes.
unsafe fn write_private(a: &DXGKARG_BUILDPAGINGBUFFER, ticket: Ticket) {
    let room = usize::try_from(a.DmaBufferPrivateDataSize).unwrap_or(0);
    if room >= PRIVATE_DATA_SIZE {
        // SAFETY: NULL (refused) or writable for at least
        // `PRIVATE_DATA_SIZE` bytes (this function's contract).
        let _ = unsafe { super::copy_out(&ticket.encode(), a.pDmaBufferPrivateData) };
    }
}

/// The ticket a submission's private data holds, if any: NULL, too small,
/// or not a record this driver wrote (zeroed, stale fields) gives `None`.
/// Reads 16 bytes of non-paged pool (the private data's contract):
/// callable at up to DISPATCH_LEVEL.
///
/// # Safety
/// `data` is NULL or readable for `size` bytes.
unsafe fn read_private(data: PVOID, size: UINT) -> Option<Ticket> {
    if usize::try_from(size).ok()? < PRIVATE_DATA_SIZE {
        return None;
    }
    let mut bytes = [0u8; PRIVATE_DATA_SIZE];
    // SAFETY: NULL (refused) or readable for `size >= PRIVATE_DATA_SIZE`
    // bytes (this function's contract).
    unsafe { copy_in(data.cast_const(), &mut bytes) }.ok()?;
    Ticket::decode(&bytes)
}

/// `DxgkDdiBuildPagingBuffer` (PASSIVE_LEVEL): records the operation's
/// commands from `MultipassOffset` on, advancing `pDmaBuffer` and shrinking
/// `DmaSize`; nothing runs now (the engine runs the buffer once submitted).
/// Returns `STATUS_SUCCESS`, or `STATUS_GRAPHICS_INSUFFICIENT_DMA_BUFFER`
/// with `MultipassOffset` = the commands recorded so far when the buffer is
/// full (VidMm submits it and calls again). A NULL block, a NULL DMA buffer
/// or an adapter without an engine get `STATUS_INVALID_PARAMETER`: inputs
/// Dxgkrnl never passes (`docs/engine.md`, "Statuses").
///
/// # Safety
/// `pArgs` is NULL or a `DXGKARG_BUILDPAGINGBUFFER` whose `pDmaBuffer` is
/// writable for `DmaSize` bytes, whose `pDmaBufferPrivateData` is NULL or
/// writable for `DmaBufferPrivateDataSize` bytes, and whose UPDATE_PAGE_TABLE entry array is
/// readable for its entries (Dxgkrnl's contract).
pub(crate) unsafe extern "system" fn DxgkDdiBuildPagingBuffer(
    hAdapter: HANDLE,
    pArgs: *mut DXGKARG_BUILDPAGINGBUFFER,
) -> NTSTATUS {
    let run = || -> Result<bool> {
        // SAFETY: NULL or a readable block (this function's contract).
        let mut a = unsafe { read_in(pArgs.cast_const()) }?;
        // Where this buffer lies, for the worker: recorded in the engine's
        // directory, and named by a ticket in the buffer's private data,
        // which VidMm passes again to the submission (`engine::dma_dir`).
        let start = a.pDmaBuffer.addr().checked_sub(
            usize::try_from(a.DmaBufferWriteOffset).map_err(|_| Status::InvalidParameter)?,
        );
        let len = u64::from(a.DmaBufferWriteOffset).saturating_add(u64::from(a.DmaSize));
        let ticket = with_engine(hAdapter, |job| {
            let start = start.and_then(|s| u64::try_from(s).ok())?;
            let ticket = job.record_dma(a.DmaBufferGpuVirtualAddress, start, len)?;
            (job.engine.broken() != Broken::WritesNoPrivateData).then_some(ticket)
        })
        .ok_or(Status::InvalidParameter)?;
        if let Some(ticket) = ticket {
            // SAFETY: `pDmaBufferPrivateData` is NULL or writable for
            // `DmaBufferPrivateDataSize` bytes (this function's contract).
            unsafe { write_private(&a, ticket) };
        }
        let op = paging_op(&a)?;
        let size = u32::try_from(COMMAND_SIZE).map_err(|_| Status::InvalidParameter)?;
        let mut index = u64::from(a.MultipassOffset);
        let mut done = true;
        let update = UpdatePageTable::of(&a);
        while let Some(mut command) = op.command(index)? {
            if a.DmaSize < size {
                done = false;
                break;
            }
            if a.pDmaBuffer.is_null() {
                return Err(Status::InvalidParameter);
            }
            if let Some(span) = op.pte_span(index) {
                // SAFETY: an UPDATE_PAGE_TABLE's entry array, as VidMm
                // passes it for this call (this function's contract).
                unsafe { update.fill(span, &mut command) }?;
            }
            // SAFETY: `pDmaBuffer` is writable for `DmaSize >= size` bytes
            // (this function's contract).
            unsafe { super::copy_out(&command.encode(), a.pDmaBuffer) }?;
            a.pDmaBuffer = a.pDmaBuffer.wrapping_byte_add(COMMAND_SIZE);
            a.DmaSize = a.DmaSize.saturating_sub(size);
            index = index.saturating_add(1);
        }
        a.MultipassOffset = if done {
            0
        } else {
            u32::try_from(index).map_err(|_| Status::InvalidParameter)?
        };
        // SAFETY: the same block, writable (this function's contract).
        unsafe { write_out(pArgs, a) }?;
        Ok(done)
    };
    match run() {
        Ok(true) => STATUS_SUCCESS,
        Ok(false) => STATUS_GRAPHICS_INSUFFICIENT_DMA_BUFFER,
        Err(e) => e.ntstatus(),
    }
}

/// Queues one submission; returns at once (up to DISPATCH_LEVEL).
fn submit(
    hAdapter: HANDLE,
    fence: u32,
    node: u32,
    engine: u32,
    at: DmaAddress,
    ticket: Option<Ticket>,
    span: (u32, u32),
) {
    let _ = with_engine(hAdapter, |job| {
        let wake = job.engine.submit(fence, node, engine, at, ticket, span);
        if job.engine.broken() == Broken::CompletesInSubmit {
            // The deliberately broken engine (tests): runs the buffer here.
            job.run_now();
        } else if wake {
            job.wake();
        }
    });
}

/// `DxgkDdiSubmitCommand` (up to DISPATCH_LEVEL): queues the buffer into
/// the lock-free ring, with the ticket its private data holds, and wakes
/// the worker; always `STATUS_SUCCESS` (a failure bugchecks 0x119). No
/// allocation, no lock, no wait: the directory is read by the worker.
///
/// # Safety
/// `pArgs` is NULL or a readable `DXGKARG_SUBMITCOMMAND` whose private data
/// is NULL or readable for `DmaBufferPrivateDataSize` bytes (Dxgkrnl's contract).
pub(crate) unsafe extern "system" fn DxgkDdiSubmitCommand(
    hAdapter: HANDLE,
    pArgs: *const DXGKARG_SUBMITCOMMAND,
) -> NTSTATUS {
    // SAFETY: NULL or readable (this function's contract).
    if let Ok(a) = unsafe { read_in(pArgs) } {
        let at = DmaAddress::Physical {
            segment: a.DmaBufferSegmentId,
            address: a.DmaBufferPhysicalAddress.QuadPart.cast_unsigned(),
        };
        // SAFETY: the private data is NULL or readable for its size
        // (Dxgkrnl's contract, this function's).
        let ticket = unsafe { read_private(a.pDmaBufferPrivateData, a.DmaBufferPrivateDataSize) };
        submit(
            hAdapter,
            a.SubmissionFenceId,
            a.NodeOrdinal,
            a.EngineOrdinal,
            at,
            ticket,
            (
                a.DmaBufferSubmissionStartOffset,
                a.DmaBufferSubmissionEndOffset,
            ),
        );
    }
    STATUS_SUCCESS
}

/// `DxgkDdiSubmitCommandVirtual` (up to DISPATCH_LEVEL): as SubmitCommand,
/// the buffer named by its GPU virtual address, `[0, DmaBufferSize)`.
///
/// # Safety
/// `pArgs` is NULL or a readable `DXGKARG_SUBMITCOMMANDVIRTUAL`, its
/// private data as in SubmitCommand.
pub(crate) unsafe extern "system" fn DxgkDdiSubmitCommandVirtual(
    hAdapter: HANDLE,
    pArgs: *const DXGKARG_SUBMITCOMMANDVIRTUAL,
) -> NTSTATUS {
    // SAFETY: NULL or readable (this function's contract).
    if let Ok(a) = unsafe { read_in(pArgs) } {
        let at = DmaAddress::Virtual(a.DmaBufferVirtualAddress);
        // SAFETY: as in SubmitCommand.
        let ticket = unsafe { read_private(a.pDmaBufferPrivateData, a.DmaBufferPrivateDataSize) };
        submit(
            hAdapter,
            a.SubmissionFenceId,
            a.NodeOrdinal,
            a.EngineOrdinal,
            at,
            ticket,
            (0, a.DmaBufferSize),
        );
    }
    STATUS_SUCCESS
}

/// `DxgkDdiPreemptCommand` (up to DISPATCH_LEVEL): queues the preemption;
/// never fails. Buffers queued before it are reported preempted with the
/// last fence completed; the one running completes first.
///
/// # Safety
/// `pArgs` is NULL or a readable `DXGKARG_PREEMPTCOMMAND`.
pub(crate) unsafe extern "system" fn DxgkDdiPreemptCommand(
    hAdapter: HANDLE,
    pArgs: *const DXGKARG_PREEMPTCOMMAND,
) -> NTSTATUS {
    // SAFETY: NULL or readable (this function's contract).
    if let Ok(p) = unsafe { read_in(pArgs) } {
        let _ = with_engine(hAdapter, |a| {
            if a.engine
                .preempt(p.PreemptionFenceId, p.NodeOrdinal, p.EngineOrdinal)
            {
                a.wake();
            }
        });
    }
    STATUS_SUCCESS
}

/// `DxgkDdiDpcRoutine` (DISPATCH_LEVEL): `DxgkCbNotifyDpc`, after the
/// engine's synchronised routine queued the DPC. Lock- and allocation-free.
///
/// # Safety
/// Always safe: the context is looked up, never dereferenced.
pub(crate) unsafe extern "system" fn DxgkDdiDpcRoutine(MiniportDeviceContext: PVOID) {
    let _ = with_engine(MiniportDeviceContext, |a| a.kernel.notify_dpc());
}

/// Runs `f` on the engine, for the PASSIVE_LEVEL engine DDIs.
fn on_engine<R>(h: HANDLE, node: u32, f: impl FnOnce(&table::Job) -> R) -> Result<R> {
    if node != 0 {
        return Err(Status::InvalidParameter);
    }
    with_engine(h, f).ok_or(Status::InvalidParameter)
}

/// `DxgkDdiQueryEngineStatus`: `Responsive` unless the engine faulted.
///
/// # Safety
/// `pArgs` is NULL or a readable, writable `DXGKARG_QUERYENGINESTATUS`.
pub(crate) unsafe extern "system" fn DxgkDdiQueryEngineStatus(
    hAdapter: HANDLE,
    pArgs: *mut DXGKARG_QUERYENGINESTATUS,
) -> NTSTATUS {
    to_ntstatus((|| {
        // SAFETY: NULL or readable (this function's contract).
        let mut q = unsafe { read_in(pArgs.cast_const()) }?;
        let responsive = on_engine(hAdapter, q.NodeOrdinal, |a| a.engine.responsive())?;
        q.EngineStatus = DXGK_ENGINESTATUS::with_responsive(responsive);
        // SAFETY: the same block, writable (this function's contract).
        unsafe { write_out(pArgs, q) }
    })())
}

/// `DxgkDdiResetEngine`: drops the queued buffers, clears the fault, and
/// reports the last fence aborted.
///
/// # Safety
/// `pArgs` is NULL or a readable, writable `DXGKARG_RESETENGINE`.
pub(crate) unsafe extern "system" fn DxgkDdiResetEngine(
    hAdapter: HANDLE,
    pArgs: *mut DXGKARG_RESETENGINE,
) -> NTSTATUS {
    to_ntstatus((|| {
        // SAFETY: NULL or readable (this function's contract).
        let mut r = unsafe { read_in(pArgs.cast_const()) }?;
        r.LastAbortedFenceId = on_engine(hAdapter, r.NodeOrdinal, |a| a.engine.reset())?;
        // SAFETY: the same block, writable (this function's contract).
        unsafe { write_out(pArgs, r) }
    })())
}

/// `DxgkDdiQueryDependentEngineGroup`: the one node depends on nothing
/// else (mask: itself only).
///
/// # Safety
/// `pArgs` is NULL or a readable, writable `DXGKARG_QUERYDEPENDENTENGINEGROUP`.
pub(crate) unsafe extern "system" fn DxgkDdiQueryDependentEngineGroup(
    hAdapter: HANDLE,
    pArgs: *mut DXGKARG_QUERYDEPENDENTENGINEGROUP,
) -> NTSTATUS {
    to_ntstatus((|| {
        // SAFETY: NULL or readable (this function's contract).
        let mut q = unsafe { read_in(pArgs.cast_const()) }?;
        on_engine(hAdapter, q.NodeOrdinal, |_| ())?;
        q.DependentNodeOrdinalMask = 1;
        // SAFETY: the same block, writable (this function's contract).
        unsafe { write_out(pArgs, q) }
    })())
}

/// `DxgkDdiResetFromTimeout`: resets the engine (queued buffers dropped,
/// fault cleared). An adapter without an engine has nothing to reset.
///
/// # Safety
/// Always safe: the handle is looked up, never dereferenced.
pub(crate) unsafe extern "system" fn DxgkDdiResetFromTimeout(hAdapter: HANDLE) -> NTSTATUS {
    let _ = with_engine(hAdapter, |a| a.engine.reset());
    STATUS_SUCCESS
}

/// `DxgkDdiRestartFromTimeout`: the engine accepts work again (it does
/// from the reset on; nothing more to do).
///
/// # Safety
/// Always safe: the handle is looked up, never dereferenced.
pub(crate) unsafe extern "system" fn DxgkDdiRestartFromTimeout(hAdapter: HANDLE) -> NTSTATUS {
    let _ = with_engine(hAdapter, table::Job::wake);
    STATUS_SUCCESS
}

/// What a host test may see and change of an adapter's engine.
#[cfg(not(target_os = "windows"))]
pub mod host {
    use alloc::sync::Arc;

    use dxgk_sys::HANDLE;

    pub use crate::engine::{Broken, EngineMemory, EngineState};
    pub use crate::foundation::status::Result;
    use crate::foundation::status::Status;

    /// Binds the engine of `h` to `memory` (instead of the VRAM backing).
    ///
    /// # Errors
    /// `InvalidParameter` for an adapter without an engine.
    pub fn bind_memory(h: HANDLE, memory: Arc<dyn EngineMemory>) -> Result<()> {
        super::table::bind_memory(h, super::table::MemoryBinding::Test(memory))
    }

    /// Makes the engine of `h` a deliberately broken one.
    ///
    /// # Errors
    /// `InvalidParameter` for an adapter without an engine.
    pub fn set_broken(h: HANDLE, mode: Broken) -> Result<()> {
        super::with_engine(h, |a| a.engine.set_broken(mode)).ok_or(Status::InvalidParameter)
    }

    /// The engine's state.
    #[must_use]
    pub fn state(h: HANDLE) -> Option<EngineState> {
        super::with_engine(h, |a| a.engine.state())
    }
}
