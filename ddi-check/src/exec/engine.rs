//! The software engine's operations ([`EngineOp`]) through the driver's
//! table, against [`crate::model::engine`]: builds (every call's status and
//! block, nothing written past the commands), submissions and preemptions
//! (always `STATUS_SUCCESS`), and, whenever the engine must be idle (a
//! [`EngineOp::Wait`], or before any operation that does not race the
//! worker), the fences the stand-in's completion callbacks delivered, the
//! rules they recorded broken, the bytes of the VRAM, system memory and
//! monitored fences the completed buffers wrote, and the fault state.

use core::ffi::c_void;
use std::time::{Duration, Instant};

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use gpup_miniport::HostMdl;
use gpup_miniport::ddi::engine::host as engine_host;

use super::{GUARD, World};
use crate::model::SEGMENTS;
use crate::model::engine::{self as em, BuildAnswer, Cmd, End, Place, Slot};
use crate::ops::*;

/// `STATUS_GRAPHICS_INSUFFICIENT_DMA_BUFFER`.
const INSUFFICIENT_DMA_BUFFER: u32 = 0xC01E_0001;
/// Bytes of every DMA buffer the checker allocates (any span it submits
/// lies inside).
const DMA_BYTES: usize = 4096;
/// Build calls of one operation at most.
const PASSES: usize = 8;
/// The byte the checker fills DMA buffers with: no command.
pub(super) const UNWRITTEN: u8 = 0xCD;
/// Each built buffer's private data (the adapter's `PagingBufferPrivateDataSize`).
const PRIVATE: usize = gpup_miniport::engine::dma_dir::PRIVATE_DATA_SIZE;

/// A DMA buffer a build wrote, kept (unmoved) until the world is dropped;
/// its private data is the last [`PRIVATE`] bytes of `bytes`, after the
/// guard.
pub(super) struct Built {
    bytes: Vec<u8>,
    cmds: Vec<Cmd>,
}

impl Built {
    /// The private data, as Dxgkrnl passes it to the build and submit DDIs.
    fn private(&self) -> (PVOID, u32) {
        let at = self.bytes.as_ptr().addr() + DMA_BYTES + GUARD;
        (core::ptr::with_exposed_provenance_mut(at), PRIVATE as u32)
    }
}

/// What the engine side of a world holds: the memory the engine may reach
/// (owned here, so every address it is given stays valid) and the cursors
/// into what the completion callbacks saw.
pub(super) struct EngineSide {
    pub(super) built: Vec<Built>,
    pub(super) mdl_bytes: Vec<Vec<u8>>,
    /// One per buffer, never moved (the vector is never grown).
    mdls: Vec<HostMdl>,
    cells: Vec<u64>,
    fence: u32,
    seen_completed: usize,
    seen_preempted: usize,
    skipped_base: u64,
    /// The deliberately broken engine the world runs (tests).
    pub(super) broken: engine_host::Broken,
    /// How long a drain waits for the engine.
    pub(super) wait: Duration,
    pub(super) vaddr: super::engine_vaddr::Vaddr,
}

impl EngineSide {
    pub(super) fn new(broken: engine_host::Broken, wait: Duration) -> Self {
        let mut mdl_bytes: Vec<Vec<u8>> = (0..usize::from(MDLS))
            .map(|m| {
                (0..MDL_BYTES as usize)
                    .map(|i| em::mdl_byte(m, i))
                    .collect()
            })
            .collect();
        let mdls = mdl_bytes
            .iter_mut()
            .map(|b| HostMdl {
                Va: b.as_mut_ptr().addr() as u64,
                ByteCount: MDL_BYTES,
            })
            .collect();
        Self {
            built: Vec::new(),
            mdl_bytes,
            mdls,
            cells: vec![0; usize::from(FENCE_CELLS)],
            fence: 0,
            seen_completed: 0,
            seen_preempted: 0,
            skipped_base: 0,
            broken,
            wait,
            vaddr: super::engine_vaddr::Vaddr::new(),
        }
    }

    fn mdl(&self, n: u8) -> u64 {
        self.mdls
            .get(usize::from(n))
            .map_or(0, |m| core::ptr::from_ref::<HostMdl>(m).addr() as u64)
    }

    fn cell(&mut self, n: u8) -> u64 {
        self.cells
            .get_mut(usize::from(n))
            .map_or(0, |c| core::ptr::from_mut(c).addr() as u64)
    }

    fn next_fence(&mut self, gap: u8) -> u32 {
        self.fence = self.fence.saturating_add(1 + u32::from(gap));
        self.fence
    }
}

/// Operation values the engine records a command for: an `Other` operation
/// with one of them is moved to an unknown value.
const COMMANDED: [DXGK_BUILDPAGINGBUFFER_OPERATION; 10] = [
    DXGK_OPERATION_TRANSFER,
    DXGK_OPERATION_FILL,
    DXGK_OPERATION_DISCARD_CONTENT,
    DXGK_OPERATION_MAP_APERTURE_SEGMENT,
    DXGK_OPERATION_UNMAP_APERTURE_SEGMENT,
    DXGK_OPERATION_VIRTUAL_TRANSFER,
    DXGK_OPERATION_VIRTUAL_FILL,
    DXGK_OPERATION_UPDATE_PAGE_TABLE,
    DXGK_OPERATION_FLUSH_TLB,
    DXGK_OPERATION_SIGNAL_MONITORED_FENCE,
];

fn status_of(found: bool) -> NTSTATUS {
    if found {
        STATUS_SUCCESS
    } else {
        STATUS_INVALID_PARAMETER
    }
}

impl World {
    /// An end's block fields (segment id, address) and its model form
    /// (`None`: the driver's offset arithmetic overflows).
    fn paging_end(&self, end: EndSel, offset: u32, mdl_page: u32) -> ((u32, u64), Option<End>) {
        match end {
            EndSel::Vram {
                segment,
                offset: at,
            } => {
                let id = Self::segment_arg(segment);
                let address = Self::bytes(at, Self::page_of_segment(id));
                let model = address
                    .checked_add(u64::from(offset))
                    .map(|offset| End::Seg { id, offset });
                if id == 0 {
                    // Segment 0 names system memory, the address an MDL:
                    // the engine would dereference any value, so NULL.
                    return (
                        (0, 0),
                        Some(End::Mdl {
                            index: None,
                            offset: 0,
                        }),
                    );
                }
                ((id, address), model)
            }
            EndSel::Mdl(n) => {
                let index = (n < MDLS).then_some(n);
                let model = End::Mdl {
                    index,
                    offset: u64::from(mdl_page) * 4096,
                };
                ((0, self.engine.mdl(n)), Some(model))
            }
        }
    }

    /// The block of `paging` and the model's form of it.
    fn paging(&mut self, paging: Paging) -> (DXGKARG_BUILDPAGINGBUFFER, em::Paging) {
        let mut a = DXGKARG_BUILDPAGINGBUFFER::zeroed();
        let size_page = |s: EndSel| match s {
            EndSel::Vram { segment, .. } => Self::page_of_segment(Self::segment_arg(segment)),
            EndSel::Mdl(_) => 4096,
        };
        let model = match paging {
            Paging::Fill { dst, size, pattern } => {
                let ((id, address), end) = self.paging_end(dst, 0, 0);
                let size = Self::bytes(size, size_page(dst));
                a.Operation = DXGK_OPERATION_FILL;
                a.set_view(BpbFill {
                    FillSize: size,
                    FillPattern: pattern,
                    DestinationSegmentId: id,
                    DestinationAddress: address,
                    ..BpbFill::default()
                });
                em::Paging::Split {
                    src: None,
                    dst: end,
                    size,
                    pattern: Some(pattern),
                }
            }
            Paging::Transfer {
                src,
                dst,
                size,
                offset,
                mdl_page,
            } => {
                let ((sid, saddr), s) = self.paging_end(src, offset, mdl_page);
                let ((did, daddr), d) = self.paging_end(dst, offset, mdl_page);
                let size = Self::bytes(size, size_page(dst));
                a.Operation = DXGK_OPERATION_TRANSFER;
                a.set_view(BpbTransfer {
                    TransferOffset: offset,
                    TransferSize: size,
                    SourceSegmentId: sid,
                    SourceAddress: saddr,
                    DestinationSegmentId: did,
                    DestinationAddress: daddr,
                    MdlOffset: mdl_page,
                    ..BpbTransfer::default()
                });
                em::Paging::Split {
                    src: Some(s),
                    dst: d,
                    size,
                    pattern: None,
                }
            }
            Paging::Discard { segment, offset } => {
                let id = Self::segment_arg(segment);
                a.Operation = DXGK_OPERATION_DISCARD_CONTENT;
                a.set_view(BpbDiscard {
                    SegmentId: id,
                    SegmentAddress: Self::bytes(offset, Self::page_of_segment(id)),
                    ..BpbDiscard::default()
                });
                em::Paging::Single(Cmd::Nop)
            }
            Paging::Signal { cell, value } => {
                a.Operation = DXGK_OPERATION_SIGNAL_MONITORED_FENCE;
                a.set_view(BpbSignalFence {
                    MonitoredFenceGpuVa: self.engine.cell(cell),
                    MonitoredFenceValue: value,
                });
                let cell = (cell < FENCE_CELLS).then_some(cell);
                em::Paging::Single(Cmd::Signal { cell, value })
            }
            Paging::Recorded { .. } | Paging::Other(_) => Self::no_effect(&mut a, paging),
            // Map, VirtualFill, VirtualTransfer.
            _ => self.vaddr_paging(&mut a, paging),
        };
        (a, model)
    }

    /// The block of an operation recorded without effect or not at all.
    fn no_effect(a: &mut DXGKARG_BUILDPAGINGBUFFER, paging: Paging) -> em::Paging {
        match paging {
            Paging::Recorded { which, args } => {
                a.Operation = [
                    DXGK_OPERATION_MAP_APERTURE_SEGMENT,
                    DXGK_OPERATION_UNMAP_APERTURE_SEGMENT,
                    DXGK_OPERATION_FLUSH_TLB,
                ][usize::from(which % 3)];
                a.Transfer[..3].copy_from_slice(&args);
                em::Paging::Single(Cmd::Nop)
            }
            Paging::Other(v) => {
                let mut op = DXGK_BUILDPAGINGBUFFER_OPERATION(v as _);
                if COMMANDED.contains(&op) {
                    op = DXGK_BUILDPAGINGBUFFER_OPERATION(0x100 | v as i32);
                }
                a.Operation = op;
                em::Paging::Nothing
            }
            _ => em::Paging::Nothing,
        }
    }

    /// Runs one engine operation; returns whether it succeeded.
    pub(super) fn engine_op(&mut self, op: &Op, e: &EngineOp) -> Result<bool, String> {
        let started = self.model.started();
        match *e {
            EngineOp::Build {
                adapter,
                null_args,
                paging,
                dma,
                null_dma,
                multipass,
            } => self.build(op, adapter, null_args, paging, dma, null_dma, multipass),
            EngineOp::Submit {
                adapter,
                null_args,
                buffer,
                start,
                end,
                by_va,
                gap,
            } => self.submit(op, adapter, null_args, (buffer, start, end), by_va, gap),
            EngineOp::Preempt { adapter, null_args } => {
                let (h, ok) = self.adapter_arg(adapter);
                let fence = self.engine.next_fence(0);
                let mut p = DXGKARG_PREEMPTCOMMAND::zeroed();
                p.PreemptionFenceId = fence;
                let f = self
                    .table()
                    .DxgkDdiPreemptCommand
                    .ok_or("no PreemptCommand")?;
                let args: *const _ = if null_args {
                    core::ptr::null()
                } else {
                    &raw const p
                };
                // SAFETY: a live block or NULL.
                let status = unsafe { f(h, args) };
                self.expect(op, &Default::default(), status)?;
                if ok && started && !null_args {
                    self.model.engine_mut().preempt(fence);
                }
                Ok(true)
            }
            EngineOp::Wait => Ok(true),
            _ => self.engine_control(op, e),
        }
    }

    /// The engine's status and reset DDIs (run drained: the engine idle).
    fn engine_control(&mut self, op: &Op, e: &EngineOp) -> Result<bool, String> {
        let started = self.model.started();
        match *e {
            EngineOp::QueryStatus {
                adapter,
                null_args,
                node,
            } => {
                let (h, ok) = self.adapter_arg(adapter);
                let mut q = DXGKARG_QUERYENGINESTATUS::zeroed();
                q.NodeOrdinal = u32::from(node);
                let f = self.table().DxgkDdiQueryEngineStatus.ok_or("no QES")?;
                let args: *mut _ = if null_args {
                    core::ptr::null_mut()
                } else {
                    &raw mut q
                };
                // SAFETY: a live, writable block or NULL.
                let status = unsafe { f(h, args) };
                let valid = ok && started && !null_args && node == 0;
                self.expect_found(op, valid, status)?;
                let responsive = !self.model.engine().faulted;
                if valid && (q.EngineStatus.Value & 1 != 0) != responsive {
                    return Err(self.fail(op, format!("Responsive: the model says {responsive}")));
                }
                Ok(valid)
            }
            EngineOp::Reset {
                adapter,
                null_args,
                node,
            } => {
                let (h, ok) = self.adapter_arg(adapter);
                let mut r = DXGKARG_RESETENGINE::zeroed();
                r.NodeOrdinal = u32::from(node);
                let f = self.table().DxgkDdiResetEngine.ok_or("no ResetEngine")?;
                let args: *mut _ = if null_args {
                    core::ptr::null_mut()
                } else {
                    &raw mut r
                };
                // SAFETY: a live, writable block or NULL.
                let status = unsafe { f(h, args) };
                let valid = ok && started && !null_args && node == 0;
                self.expect_found(op, valid, status)?;
                if valid {
                    let want = self.model.engine_mut().reset();
                    if r.LastAbortedFenceId != want {
                        return Err(self.fail(
                            op,
                            format!(
                                "LastAbortedFenceId {}, the model says {want}",
                                r.LastAbortedFenceId
                            ),
                        ));
                    }
                }
                Ok(valid)
            }
            EngineOp::DependentGroup { adapter, node } => {
                let (h, ok) = self.adapter_arg(adapter);
                let mut d = DXGKARG_QUERYDEPENDENTENGINEGROUP::zeroed();
                d.NodeOrdinal = u32::from(node);
                let f = self
                    .table()
                    .DxgkDdiQueryDependentEngineGroup
                    .ok_or("no QDEG")?;
                // SAFETY: a live, writable block.
                let status = unsafe { f(h, &raw mut d) };
                let valid = ok && started && node == 0;
                self.expect_found(op, valid, status)?;
                if valid && d.DependentNodeOrdinalMask != 1 {
                    return Err(self.fail(op, format!("mask {:#x}", d.DependentNodeOrdinalMask)));
                }
                Ok(valid)
            }
            EngineOp::Timeout { adapter } => {
                let (h, ok) = self.adapter_arg(adapter);
                let reset = self.table().DxgkDdiResetFromTimeout.ok_or("no RFT")?;
                let restart = self.table().DxgkDdiRestartFromTimeout.ok_or("no RsFT")?;
                // SAFETY: takes only the handle, a value.
                let a = unsafe { reset(h) };
                // SAFETY: the same.
                let b = unsafe { restart(h) };
                self.expect(op, &Default::default(), a)?;
                self.expect(op, &Default::default(), b)?;
                if ok && started {
                    self.model.engine_mut().reset();
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn expect_found(&self, op: &Op, valid: bool, status: NTSTATUS) -> Result<(), String> {
        if status == status_of(valid) {
            Ok(())
        } else {
            Err(self.fail(
                op,
                format!("{status:?}, the model says {:?}", status_of(valid)),
            ))
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        null_args: bool,
        paging: Paging,
        dma: u16,
        null_dma: bool,
        multipass: u32,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let ok = ok && self.model.started() && !null_args;
        let (template, model) = self.paging(paging);
        let f = self
            .table()
            .DxgkDdiBuildPagingBuffer
            .ok_or("no BuildPagingBuffer")?;
        let size = u32::from(dma) % (DMA_BYTES as u32 + 1);
        let mut multipass = multipass;
        for _ in 0..PASSES {
            let mut buf = vec![UNWRITTEN; DMA_BYTES + GUARD + PRIVATE];
            let base = if null_dma { 0 } else { buf.as_mut_ptr().addr() };
            let mut a = template;
            a.pDmaBuffer = core::ptr::with_exposed_provenance_mut::<c_void>(base);
            a.DmaSize = size;
            // The private data (after the guard): VidMm zeroes it at creation.
            buf[DMA_BYTES + GUARD..].fill(0);
            a.pDmaBufferPrivateData = buf[DMA_BYTES + GUARD..].as_mut_ptr().cast();
            a.DmaBufferPrivateDataSize = PRIVATE as u32;
            a.DmaBufferWriteOffset = 0;
            a.DmaBufferGpuVirtualAddress = base as u64;
            a.MultipassOffset = multipass;
            let before = a;
            let args: *mut _ = if null_args {
                core::ptr::null_mut()
            } else {
                &raw mut a
            };
            // SAFETY: a live block or NULL; its DMA buffer is NULL or `buf`,
            // writable for `DmaSize` (<= DMA_BYTES) bytes.
            let status = unsafe { f(h, args) };
            let answer = em::Engine::build(ok, &model, multipass, size, null_dma);
            let (want, written, more) = match answer.clone() {
                BuildAnswer::Invalid => (STATUS_INVALID_PARAMETER, Vec::new(), None),
                BuildAnswer::Recorded { written, more } => (
                    if more.is_some() {
                        NTSTATUS::from_u32(INSUFFICIENT_DMA_BUFFER)
                    } else {
                        STATUS_SUCCESS
                    },
                    written,
                    more,
                ),
            };
            if status != want {
                return Err(self.fail(
                    op,
                    format!("{status:?}, the model says {want:?} ({answer:?})"),
                ));
            }
            let n = written.len() * em::COMMAND as usize;
            self.check_build(
                op,
                (&before, &a),
                &buf,
                want == STATUS_INVALID_PARAMETER,
                n,
                more,
            )?;
            if want == STATUS_INVALID_PARAMETER {
                return Ok(false);
            }
            let progress = !written.is_empty();
            if !null_dma {
                self.engine.built.push(Built {
                    bytes: buf,
                    cmds: written,
                });
            }
            match more {
                Some(m) if progress => multipass = m,
                _ => return Ok(true),
            }
        }
        Ok(true)
    }

    fn submit(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        null_args: bool,
        (buffer, start, end): (u8, u8, SubmitEnd),
        by_va: bool,
        gap: u8,
    ) -> Result<bool, String> {
        let n = self.engine.built.len();
        if n == 0 {
            return Ok(false);
        }
        let (h, ok) = self.adapter_arg(adapter);
        let b = &self.engine.built[n - 1 - usize::from(buffer) % n];
        let addr = b.bytes.as_ptr().addr() as u64;
        let private = b.private();
        let start = if by_va { 0 } else { u32::from(start % 65) * 64 };
        let end = match end {
            SubmitEnd::Built => b.cmds.len() as u32 * 64,
            SubmitEnd::Slot(s) => u32::from(s % 65) * 64,
            SubmitEnd::Byte(x) => u32::from(x) % (DMA_BYTES as u32 + 1),
        };
        let slots = (start <= end && (end - start).is_multiple_of(64)).then(|| {
            (start / 64..end / 64)
                .map(|k| b.cmds.get(k as usize).map_or(Slot::Junk, |&c| Slot::Cmd(c)))
                .collect::<Vec<_>>()
        });
        let fence = self.engine.next_fence(gap);
        let status = if by_va {
            let mut s = DXGKARG_SUBMITCOMMANDVIRTUAL::zeroed();
            (s.pDmaBufferPrivateData, s.DmaBufferPrivateDataSize) = private;
            s.DmaBufferVirtualAddress = addr;
            s.DmaBufferSize = end;
            s.SubmissionFenceId = fence;
            s.Flags.Value = 1;
            let f = self.table().DxgkDdiSubmitCommandVirtual.ok_or("no SCV")?;
            let args: *const _ = if null_args {
                core::ptr::null()
            } else {
                &raw const s
            };
            // SAFETY: a live block or NULL naming a buffer kept for the world's life.
            dxgkrnl_model::submitting(|| unsafe { f(h, args) })
        } else {
            let mut s = DXGKARG_SUBMITCOMMAND::zeroed();
            (s.pDmaBufferPrivateData, s.DmaBufferPrivateDataSize) = private;
            s.DmaBufferSegmentId = 1;
            s.DmaBufferPhysicalAddress.QuadPart = addr as i64;
            s.DmaBufferSize = DMA_BYTES as u32;
            s.DmaBufferSubmissionStartOffset = start;
            s.DmaBufferSubmissionEndOffset = end;
            s.SubmissionFenceId = fence;
            s.Flags.Value = 1;
            let f = self
                .table()
                .DxgkDdiSubmitCommand
                .ok_or("no SubmitCommand")?;
            let args: *const _ = if null_args {
                core::ptr::null()
            } else {
                &raw const s
            };
            // SAFETY: a live block or NULL naming a buffer kept for the world's life.
            dxgkrnl_model::submitting(|| unsafe { f(h, args) })
        };
        self.expect(op, &Default::default(), status)?;
        if ok && self.model.started() && !null_args {
            self.model.engine_mut().submitted(fence, slots);
        }
        Ok(true)
    }

    /// Waits until the engine is idle (everything queued completed, left
    /// unrun for a preemption, or stuck behind a fault), then settles the
    /// model against what the callbacks saw and compares the memory.
    ///
    /// # Errors
    /// A violation the callbacks recorded, a fence never completed or never
    /// delivered, or any difference from the model.
    pub(super) fn drain(&mut self, op: &dyn core::fmt::Debug) -> Result<(), String> {
        let (submits, preempts) = self.model.engine().queued();
        if submits + preempts == 0 && self.model.engine().touched.is_empty() {
            return Ok(());
        }
        let ctx = self.adapter.context();
        let until = Instant::now() + self.engine.wait;
        let stuck = self.model.engine().faulted;
        let observe = |w: &Self| {
            let c = w.adapter.completions();
            let state = engine_host::state(ctx);
            (c, state)
        };
        let (seen, state) = loop {
            let (c, state) = observe(self);
            let skipped = state.map_or(0, |s| s.preempted) - self.engine.skipped_base;
            let completed = c.completed.len() - self.engine.seen_completed;
            let reported = c.preempted.len() - self.engine.seen_preempted;
            let idle = stuck
                || state.is_some_and(|s| s.faulted)
                || (completed as u64 + skipped >= submits as u64 && reported >= preempts);
            if !c.errors.is_empty() {
                return Err(self.fail(op, format!("the completion callbacks saw: {:?}", c.errors)));
            }
            if idle && c.delivered.len() == c.completed.len() {
                break (c, state);
            }
            if Instant::now() >= until {
                return Err(self.fail(
                    op,
                    if idle {
                        format!("fences completed but never delivered by a DPC: completed {:?}, delivered {:?}", c.completed, c.delivered)
                    } else {
                        format!("the engine never finished: {submits} buffers and {preempts} preemptions queued, completed {:?}", c.completed)
                    },
                ));
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        let skipped_now = state.map_or(0, |s| s.preempted);
        let observed = em::Observed {
            completed: seen.completed[self.engine.seen_completed..]
                .iter()
                .map(|x| x.1)
                .collect(),
            preempted: seen.preempted[self.engine.seen_preempted..]
                .iter()
                .map(|x| (x.1, x.2))
                .collect(),
            skipped: skipped_now - self.engine.skipped_base,
            faulted: state.is_some_and(|s| s.faulted),
        };
        self.engine.seen_completed = seen.completed.len();
        self.engine.seen_preempted = seen.preempted.len();
        self.engine.skipped_base = skipped_now;
        self.model.settle(&observed).map_err(|e| self.fail(op, e))?;
        self.stats.fences += observed.completed.len() as u64;
        self.compare_memory(op)
    }

    /// The bytes the settled buffers wrote, the system memory and the
    /// monitored fences, against the model (unknown bytes adopted).
    fn compare_memory(&mut self, op: &dyn core::fmt::Debug) -> Result<(), String> {
        let touched = std::mem::take(&mut self.model.engine_mut().touched);
        for (place, offset, len) in touched {
            let mut got = vec![0u8; len as usize];
            self.driver_bytes(place, offset, &mut got)
                .map_err(|e| self.fail(op, e))?;
            let shadow = self.model.engine_mut().shadow_mut(place);
            let at = offset as usize;
            for (k, &g) in got.iter().enumerate() {
                if shadow.unknown[at + k] {
                    shadow.unknown[at + k] = false;
                    shadow.bytes[at + k] = g;
                } else if shadow.bytes[at + k] != g {
                    let want = shadow.bytes[at + k];
                    return Err(self.fail(
                        op,
                        format!("{place:?} byte {:#x}: the engine left {g:#04x}, the model says {want:#04x}", at + k),
                    ));
                }
            }
        }
        for c in 0..usize::from(FENCE_CELLS) {
            // SAFETY: the engine is idle; the cell is the checker's.
            let got = unsafe { core::ptr::from_ref(&self.engine.cells[c]).read_volatile() };
            let want = self.model.engine().cells[c];
            if got != want {
                return Err(self.fail(
                    op,
                    format!("fence cell {c}: {got:#x}, the model says {want:#x}"),
                ));
            }
        }
        Ok(())
    }

    /// At the end of a sequence: the engine drained, then every byte of the
    /// shadowed VRAM compared, if the engine wrote any.
    pub(super) fn engine_finish(&mut self) -> Result<(), String> {
        self.drain(&"finish")?;
        if !self.model.engine().wrote_vram || !self.model.started() {
            return Ok(());
        }
        for (i, s) in SEGMENTS.iter().enumerate() {
            self.model
                .engine_mut()
                .touched
                .push((Place::Vram(i), 0, s.size));
        }
        self.compare_memory(&"finish: the whole VRAM")
    }

    /// After a StartDevice: the new engine starts its counts from zero and
    /// gets the world's broken mode.
    pub(super) fn engine_started(&mut self) {
        self.engine.skipped_base = 0;
        let _ = engine_host::set_broken(self.adapter.context(), self.engine.broken);
        self.vaddr_started();
    }
}
