//! VidMm's paging process in the stand-in (issue 17 item 4,
//! `../shared/spec/adapter-start.md` 5.2-5.3): memory moves only through
//! paging buffers the model asks the driver to build
//! (`DxgkDdiBuildPagingBuffer`, the multipass protocol) and submits
//! (`DxgkDdiSubmitCommand`, `Flags.Paging`, on the paging context the
//! start created), each with the next paging fence. Every fence must come
//! back, in order, through the model's own `DxgkCbSynchronizeExecution`,
//! `DxgkCbNotifyInterrupt`, `DxgkCbQueueDpc` and `DxgkCbNotifyDpc`
//! (`dxgkrnl-model/src/callbacks.rs`) within a timeout; what Windows would bugcheck or
//! TDR on is a [`PagingError`].

use std::time::{Duration, Instant};

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use gpup_miniport::HostMdl;

use crate::adapter::Adapter;
use crate::callbacks::{self, Completions};
use crate::records::ContextHandle;

/// `STATUS_GRAPHICS_INSUFFICIENT_DMA_BUFFER`: build the rest into a new buffer.
const INSUFFICIENT_DMA_BUFFER: u32 = 0xC01E_0001;
/// Bytes of each paging DMA buffer the model hands to BuildPagingBuffer by default.
const DMA_BUFFER_BYTES: usize = 4096;
/// `DXGK_SUBMITCOMMANDFLAGS.Paging`.
const FLAG_PAGING: u32 = 1;
/// Aperture-style physical addresses: `APERTURE_PAGE * (1..=APERTURE_SLOTS)`,
/// all below `gpup_miniport::HOST_UNMAPPED`.
const APERTURE_PAGE: u64 = 0x1000;
const APERTURE_SLOTS: u64 = 15;
const _: () = assert!(APERTURE_PAGE * APERTURE_SLOTS < gpup_miniport::HOST_UNMAPPED);

/// A paging buffer and its private data, as VidMm allocates them.
struct PagingBuffer {
    dma: Vec<u8>,
    private: Vec<u8>,
    /// Private-data bytes the driver used (its cursor's advance).
    private_used: usize,
}

/// What Windows would bugcheck (0x119) or TDR on, and model refusals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PagingError {
    /// The adapter has no paging process (not started with the full start).
    NoPagingProcess,
    /// BuildPagingBuffer failed (other than asking for another buffer),
    /// or made no progress.
    Build(NTSTATUS),
    /// SubmitCommand failed: a bugcheck 0x119 on Windows.
    Submit {
        /// The fence of the refused submission.
        fence: u32,
        /// What the driver answered.
        status: NTSTATUS,
    },
    /// The completion callbacks saw a rule broken (an out-of-order fence, a
    /// completion inside SubmitCommand, ...): the recorded violations.
    Violation(Vec<String>),
    /// The fence never completed within the timeout (a TDR).
    NeverCompleted(u32),
    /// The fence completed (NotifyInterrupt) but no DPC delivered it
    /// (NotifyDpc) within the timeout.
    NeverNotified(u32),
}

/// The paging queue of one adapter: its paging context and fences.
pub struct PagingQueue<'a> {
    adapter: &'a Adapter,
    context: HANDLE,
    paging_context: ContextHandle,
    next_fence: u32,
    timeout: Duration,
    dma_bytes: usize,
    /// Private-data bytes per paging buffer (the adapter's answer).
    private_bytes: usize,
    /// Submit at aperture-style addresses instead of host addresses.
    by_aperture: bool,
    /// Submissions made (picks the next aperture-style address).
    submitted: u64,
    /// DMA buffers of a failed operation: the engine may still read them,
    /// so they are never freed (leaked when the queue is dropped).
    retired: Vec<PagingBuffer>,
}

impl Adapter {
    /// The paging queue on this adapter's paging context (fences from 1,
    /// 5 s timeout).
    ///
    /// # Errors
    /// [`PagingError::NoPagingProcess`] without a paging process.
    pub fn paging_queue(&self) -> Result<PagingQueue<'_>, PagingError> {
        let paging = self.paging_process().ok_or(PagingError::NoPagingProcess)?;
        Ok(PagingQueue {
            adapter: self,
            context: core::ptr::without_provenance_mut(paging.paging_context.handle.0),
            paging_context: paging.paging_context.handle,
            next_fence: 1,
            timeout: Duration::from_secs(5),
            dma_bytes: DMA_BUFFER_BYTES,
            private_bytes: self.paging_private_data_size() as usize,
            by_aperture: false,
            submitted: 0,
            retired: Vec::new(),
        })
    }

    /// What the completion callbacks saw of this adapter so far.
    #[must_use]
    pub fn completions(&self) -> Completions {
        callbacks::completions(self.kernel_interface().DeviceHandle)
            .map(|c| c.clone())
            .unwrap_or_default()
    }
}

impl PagingQueue<'_> {
    /// Sets how long each fence may take to be delivered.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Sets the bytes of each DMA buffer (4 KiB by default): a smaller one
    /// splits an operation over more buffers, so more fences in flight.
    pub fn set_dma_buffer_bytes(&mut self, bytes: usize) {
        self.dma_bytes = bytes.clamp(1, u32::MAX as usize);
    }

    /// Sets the private-data bytes of each paging buffer (by default the
    /// adapter's `PagingBufferPrivateDataSize`; 0: NULL private data, as
    /// VidMm passes for an adapter that reports none).
    pub fn set_private_data_bytes(&mut self, bytes: usize) {
        self.private_bytes = bytes.min(u32::MAX as usize);
    }

    /// Submits every paging buffer at an aperture-style physical address
    /// (a page number below 64 KiB, which no host process maps) instead of
    /// its host address: the engine can then find the buffer's bytes only
    /// through the record BuildPagingBuffer left in its private data.
    pub fn submit_by_aperture_address(&mut self, on: bool) {
        self.by_aperture = on;
    }

    /// The fence the next submission gets.
    #[must_use]
    pub fn next_fence(&self) -> u32 {
        self.next_fence
    }

    /// FILL: `size` bytes at `offset` of `segment` with `pattern`.
    /// Returns the fences it took.
    ///
    /// # Errors
    /// See [`PagingError`].
    pub fn fill(
        &mut self,
        segment: u32,
        offset: u64,
        size: u64,
        pattern: u32,
    ) -> Result<Vec<u32>, PagingError> {
        let mut a = DXGKARG_BUILDPAGINGBUFFER::zeroed();
        a.Operation = DXGK_OPERATION_FILL;
        a.set_view(BpbFill {
            FillSize: size,
            FillPattern: pattern,
            DestinationSegmentId: segment,
            DestinationAddress: offset,
            ..BpbFill::default()
        });
        self.run(a)
    }

    /// TRANSFER `size` bytes between two segment offsets (a move in VRAM).
    ///
    /// # Errors
    /// See [`PagingError`].
    pub fn transfer(
        &mut self,
        src: (u32, u64),
        dst: (u32, u64),
        size: u64,
    ) -> Result<Vec<u32>, PagingError> {
        self.run(transfer_args(src, dst, size))
    }

    /// TRANSFER from system memory (`src`, through an MDL) into `segment`.
    /// After a fence that never completed, an engine that resumes could
    /// still read `src`: a test that gets such an error should keep it.
    ///
    /// # Errors
    /// See [`PagingError`].
    pub fn transfer_in(
        &mut self,
        src: &[u8],
        segment: u32,
        offset: u64,
    ) -> Result<Vec<u32>, PagingError> {
        let mdl = Box::new(HostMdl {
            Va: src.as_ptr().addr() as u64,
            ByteCount: src.len() as u64,
        });
        self.run_with_mdl(mdl, |at, len| {
            transfer_args((0, at), (segment, offset), len)
        })
    }

    /// TRANSFER from `segment` out to system memory (`dst`, through an MDL).
    ///
    /// # Errors
    /// See [`PagingError`].
    pub fn transfer_out(
        &mut self,
        segment: u32,
        offset: u64,
        dst: &mut [u8],
    ) -> Result<Vec<u32>, PagingError> {
        let mdl = Box::new(HostMdl {
            Va: dst.as_mut_ptr().addr() as u64,
            ByteCount: dst.len() as u64,
        });
        self.run_with_mdl(mdl, |at, len| {
            transfer_args((segment, offset), (0, at), len)
        })
    }

    /// `DxgkDdiSetRootPageTable` of the paging context: the paging
    /// process's root table of `entries` entries at system-memory address
    /// `address` (segment 0; on the host, the table's host address).
    pub fn set_root_page_table(&self, address: u64, entries: u32) {
        self.adapter
            .set_root_page_table(self.paging_context, 0, address, entries);
    }

    /// UPDATE_PAGE_TABLE (`DXGK_PAGETABLEUPDATE_GPU_PHYSICAL`): `entries`
    /// (`DXGK_PTE` as (`Flags`, `PageAddress`)) into the table at
    /// system-memory address `table` from entry `start` on; with `repeat`,
    /// the first entry is stored `count` times (`Flags.Repeat`).
    ///
    /// # Errors
    /// See [`PagingError`].
    pub fn update_page_table(
        &mut self,
        table: u64,
        start: u32,
        entries: &[(u64, u64)],
        repeat: Option<u32>,
    ) -> Result<Vec<u32>, PagingError> {
        let ptes: Vec<[u64; 2]> = entries.iter().map(|&(f, p)| [f, p]).collect();
        let count = repeat.unwrap_or(ptes.len() as u32);
        let mut a = DXGKARG_BUILDPAGINGBUFFER::zeroed();
        a.Operation = DXGK_OPERATION_UPDATE_PAGE_TABLE;
        // DXGK_BUILDPAGINGBUFFER_UPDATEPAGETABLE on x64: PageTableLevel (0),
        // hAllocation (8), PageTableAddress.GpuPhysical (16: SegmentId,
        // 24: SegmentOffset), pPageTableEntries (32), StartIndex and
        // NumPageTableEntries (40, 44), Reserved0 and Flags (48, 52),
        // then UpdateMode at 80.
        a.Transfer[2] = 0;
        a.Transfer[3] = table;
        a.Transfer[4] = ptes.as_ptr().addr() as u64;
        a.Transfer[5] = u64::from(start) | (u64::from(count) << 32);
        a.Transfer[6] = u64::from(repeat.is_some()) << 32;
        a.Transfer[10] = DXGK_PAGETABLEUPDATE_GPU_PHYSICAL.0 as u64;
        // The array is read at build time only: `ptes` may go after `run`.
        self.run(a)
    }

    /// VIRTUAL_FILL: `size` bytes at GPU VA `dst` of the paging process.
    ///
    /// # Errors
    /// See [`PagingError`].
    pub fn virtual_fill(
        &mut self,
        dst: u64,
        size: u64,
        pattern: u32,
    ) -> Result<Vec<u32>, PagingError> {
        let mut a = DXGKARG_BUILDPAGINGBUFFER::zeroed();
        a.Operation = DXGK_OPERATION_VIRTUAL_FILL;
        a.set_view(BpbVirtual {
            SizeInBytes: size,
            SourceOrPattern: u64::from(pattern),
            DestinationVirtualAddress: dst,
            ..BpbVirtual::default()
        });
        self.run(a)
    }

    /// VIRTUAL_TRANSFER: `size` bytes from GPU VA `src` to GPU VA `dst`.
    ///
    /// # Errors
    /// See [`PagingError`].
    pub fn virtual_transfer(
        &mut self,
        src: u64,
        dst: u64,
        size: u64,
    ) -> Result<Vec<u32>, PagingError> {
        let mut a = DXGKARG_BUILDPAGINGBUFFER::zeroed();
        a.Operation = DXGK_OPERATION_VIRTUAL_TRANSFER;
        a.set_view(BpbVirtual {
            SizeInBytes: size,
            SourceOrPattern: src,
            DestinationVirtualAddress: dst,
            ..BpbVirtual::default()
        });
        self.run(a)
    }

    /// SIGNAL_MONITORED_FENCE: `value` into the monitored fence at GPU VA
    /// `va` of the paging process (the engine translates it through the
    /// paging context's tables; a VA they do not map is, on the host, the
    /// host address of the fence's 8 bytes).
    ///
    /// # Errors
    /// See [`PagingError`].
    pub fn signal_monitored_fence(&mut self, va: u64, value: u64) -> Result<Vec<u32>, PagingError> {
        let mut a = DXGKARG_BUILDPAGINGBUFFER::zeroed();
        a.Operation = DXGK_OPERATION_SIGNAL_MONITORED_FENCE;
        a.set_view(BpbSignalFence {
            MonitoredFenceGpuVa: va,
            MonitoredFenceValue: value,
        });
        self.run(a)
    }

    /// Runs the operation `args` makes of the MDL's address and length; on
    /// failure the MDL is leaked (the engine may still read it).
    fn run_with_mdl(
        &mut self,
        mdl: Box<HostMdl>,
        args: impl FnOnce(u64, u64) -> DXGKARG_BUILDPAGINGBUFFER,
    ) -> Result<Vec<u32>, PagingError> {
        let at = core::ptr::from_ref::<HostMdl>(&mdl).addr() as u64;
        let r = self.run(args(at, mdl.ByteCount));
        if r.is_err() {
            Box::leak(mdl);
        }
        r
    }

    /// DISCARD_CONTENT of the allocation at `offset` of `segment`.
    ///
    /// # Errors
    /// See [`PagingError`].
    pub fn discard(&mut self, segment: u32, offset: u64) -> Result<Vec<u32>, PagingError> {
        let mut a = DXGKARG_BUILDPAGINGBUFFER::zeroed();
        a.Operation = DXGK_OPERATION_DISCARD_CONTENT;
        a.set_view(BpbDiscard {
            SegmentId: segment,
            SegmentAddress: offset,
            ..BpbDiscard::default()
        });
        self.run(a)
    }

    /// Builds `args` into as many buffers as it takes, submits each with the
    /// next fence, and waits until every fence is delivered in order.
    fn run(&mut self, args: DXGKARG_BUILDPAGINGBUFFER) -> Result<Vec<u32>, PagingError> {
        let buffers = self.build(args)?;
        let mut fences = Vec::new();
        let mut result = Ok(());
        for buf in &buffers {
            let fence = self.next_fence;
            self.next_fence = self.next_fence.wrapping_add(1);
            if let Err(e) = self.submit(buf, fence) {
                result = Err(e);
                break;
            }
            fences.push(fence);
        }
        let waited = result.and_then(|()| self.wait(&fences));
        if waited.is_err() {
            self.retired.extend(buffers);
        }
        waited.map(|()| fences)
    }

    /// The multipass protocol: a new buffer while the driver answers
    /// `STATUS_GRAPHICS_INSUFFICIENT_DMA_BUFFER` with progress kept in
    /// `MultipassOffset`.
    fn build(&self, mut args: DXGKARG_BUILDPAGINGBUFFER) -> Result<Vec<PagingBuffer>, PagingError> {
        let f = self
            .adapter
            .driver()
            .table()
            .DxgkDdiBuildPagingBuffer
            .ok_or(PagingError::Build(STATUS_NOT_SUPPORTED))?;
        let mut out = Vec::new();
        loop {
            let mut buf = vec![0u8; self.dma_bytes];
            let mut private = vec![0u8; self.private_bytes];
            args.pDmaBuffer = buf.as_mut_ptr().cast();
            args.DmaSize = self.dma_bytes as u32;
            args.pDmaBufferPrivateData = if private.is_empty() {
                core::ptr::null_mut()
            } else {
                private.as_mut_ptr().cast()
            };
            args.DmaBufferPrivateDataSize = self.private_bytes as u32;
            args.DmaBufferWriteOffset = 0;
            args.hSystemContext = self.context;
            // SAFETY: a DDI of the loaded driver with a live block whose
            // DMA buffer is writable for DmaSize bytes.
            let status = unsafe { f(self.adapter.context(), &raw mut args) };
            let used = self.dma_bytes.saturating_sub(args.DmaSize as usize);
            buf.truncate(used);
            let private_used = self
                .private_bytes
                .saturating_sub(args.DmaBufferPrivateDataSize as usize);
            let more = status.as_u32() == INSUFFICIENT_DMA_BUFFER;
            if !more && status != STATUS_SUCCESS {
                return Err(PagingError::Build(status));
            }
            if more && (used == 0 || args.MultipassOffset == 0) {
                return Err(PagingError::Build(status));
            }
            out.push(PagingBuffer {
                dma: buf,
                private,
                private_used,
            });
            if !more {
                return Ok(out);
            }
        }
    }

    /// `DxgkDdiSubmitCommand` of a paging buffer on the paging context, with
    /// its private data.
    fn submit(&mut self, buf: &PagingBuffer, fence: u32) -> Result<(), PagingError> {
        let f = self
            .adapter
            .driver()
            .table()
            .DxgkDdiSubmitCommand
            .ok_or(PagingError::Submit {
                fence,
                status: STATUS_NOT_SUPPORTED,
            })?;
        let mut s = DXGKARG_SUBMITCOMMAND::zeroed();
        s.hContext = self.context;
        s.DmaBufferSegmentId = crate::adapter::APERTURE_SEGMENT;
        let address = if self.by_aperture {
            APERTURE_PAGE * (self.submitted % APERTURE_SLOTS + 1)
        } else {
            buf.dma.as_ptr().addr() as u64
        };
        self.submitted = self.submitted.wrapping_add(1);
        s.DmaBufferPhysicalAddress.QuadPart = address as i64;
        s.DmaBufferSize = buf.dma.len() as u32;
        s.DmaBufferSubmissionEndOffset = s.DmaBufferSize;
        if !buf.private.is_empty() {
            s.pDmaBufferPrivateData = buf.private.as_ptr().cast_mut().cast();
        }
        s.DmaBufferPrivateDataSize = buf.private.len() as u32;
        s.DmaBufferPrivateDataSubmissionEndOffset = buf.private_used as u32;
        s.SubmissionFenceId = fence;
        s.Flags.Value = FLAG_PAGING;
        // SAFETY: a DDI of the loaded driver with a live block naming a
        // buffer kept until its fence is delivered (or retired).
        let status = callbacks::submitting(|| unsafe { f(self.adapter.context(), &raw const s) });
        if status == STATUS_SUCCESS {
            Ok(())
        } else {
            Err(PagingError::Submit { fence, status })
        }
    }

    /// Waits until every fence is delivered through NotifyDpc, checking the
    /// callbacks saw no violation.
    fn wait(&self, fences: &[u32]) -> Result<(), PagingError> {
        let until = Instant::now() + self.timeout;
        loop {
            let seen = self.adapter.completions();
            if !seen.errors.is_empty() {
                return Err(PagingError::Violation(seen.errors));
            }
            let missing = fences
                .iter()
                .find(|&&f| !seen.delivered.iter().any(|&(_, d)| d == f));
            let Some(&fence) = missing else {
                return Ok(());
            };
            if Instant::now() >= until {
                return Err(if seen.completed.iter().any(|&(_, c)| c == fence) {
                    PagingError::NeverNotified(fence)
                } else {
                    PagingError::NeverCompleted(fence)
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for PagingQueue<'_> {
    fn drop(&mut self) {
        // The engine may still read a retired buffer: leak it rather than
        // free memory a worker could touch.
        std::mem::forget(std::mem::take(&mut self.retired));
    }
}

/// A TRANSFER; an end with segment 0 names a `HostMdl` by address.
fn transfer_args(src: (u32, u64), dst: (u32, u64), size: u64) -> DXGKARG_BUILDPAGINGBUFFER {
    let mut a = DXGKARG_BUILDPAGINGBUFFER::zeroed();
    a.Operation = DXGK_OPERATION_TRANSFER;
    a.set_view(BpbTransfer {
        TransferSize: size,
        SourceSegmentId: src.0,
        SourceAddress: src.1,
        DestinationSegmentId: dst.0,
        DestinationAddress: dst.1,
        ..BpbTransfer::default()
    });
    a
}

/// Zeroed, page-aligned system memory the stand-in owns (segment 0): page
/// tables and system pages a page table maps. On the host a segment-0
/// address is the host address of its bytes (`docs/engine.md`).
pub struct SystemPages {
    base: *mut u8,
    pages: usize,
}

impl SystemPages {
    const LAYOUT_ALIGN: usize = 4096;

    /// `pages` zeroed 4 KiB pages.
    ///
    /// # Panics
    /// When the host cannot allocate them (a test fixture).
    #[must_use]
    pub fn new(pages: usize) -> Self {
        let layout = Self::layout(pages);
        // SAFETY: a non-zero size (at least one page).
        let base = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!base.is_null(), "out of host memory");
        Self { base, pages }
    }

    fn layout(pages: usize) -> std::alloc::Layout {
        std::alloc::Layout::from_size_align(pages.max(1) * 4096, Self::LAYOUT_ALIGN)
            .expect("a page-aligned layout")
    }

    /// The address of page `index` (its segment-0 address).
    #[must_use]
    pub fn address(&self, index: usize) -> u64 {
        assert!(index < self.pages.max(1));
        self.base.addr() as u64 + (index as u64) * 4096
    }

    /// The bytes of page `index`.
    #[must_use]
    pub fn page(&self, index: usize) -> &[u8] {
        assert!(index < self.pages.max(1));
        let start = self.base.wrapping_add(index * 4096);
        // SAFETY: a page inside the allocation; the engine writes it only
        // while a paging operation runs, which the caller has waited for.
        unsafe { std::slice::from_raw_parts(start, 4096) }
    }

    /// The bytes of page `index`, to write.
    pub fn page_mut(&mut self, index: usize) -> &mut [u8] {
        assert!(index < self.pages.max(1));
        let start = self.base.wrapping_add(index * 4096);
        // SAFETY: a page inside the allocation, borrowed mutably from `self`.
        unsafe { std::slice::from_raw_parts_mut(start, 4096) }
    }

    /// Entry `index` of the 8-byte-entry table in page `page`.
    #[must_use]
    pub fn entry(&self, page: usize, index: usize) -> u64 {
        let b = &self.page(page)[index * 8..index * 8 + 8];
        u64::from_le_bytes(b.try_into().expect("8 bytes"))
    }
}

impl Drop for SystemPages {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.base, Self::layout(self.pages)) };
    }
}
