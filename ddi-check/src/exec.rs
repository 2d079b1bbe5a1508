//! Runs operation sequences through the driver's C ABI and compares every
//! answer with the reference model.
//!
//! Each sequence gets a freshly loaded driver (`DriverEntry` ->
//! `DxgkInitialize` in `dxgkrnl-model`), the adapter under test, a second
//! adapter holding one tracked basis (whose handle is the "foreign" one, and
//! whose bits must stay clean), and the handle of an adapter that was added
//! and removed. DDIs are called through the registered table's function
//! pointers with argument blocks built here, so any `hAdapter`, handle,
//! pointer or size can be passed.
//!
//! Checked at every step: the status (or NULL handle) is one the model
//! allows; a failed call changed nothing (its buffers are untouched, and the
//! model, which it did not change, goes on matching); a query wrote exactly
//! the model's bits into exactly `ceil(pages / 8)` bytes and nothing past
//! them; Create never returns a handle issued before. At the end: every live
//! tracked basis reads back the model's bits, every basis destroys, every
//! handle issued is then dead, and the other adapter's basis is intact.

use core::ffi::c_void;

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::{Adapter, AdapterConfig, BasisHandle, Driver, MemorySegment};

use crate::model::{self, Flaw, MAX_RANGES, Model, QaiArgs, QueryArgs, SEGMENTS};
use crate::ops::*;

mod vgpu;

/// What a run did, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Operations executed.
    pub ops: u64,
    /// Operations that succeeded.
    pub succeeded: u64,
    /// Memory bases created.
    pub created: u64,
    /// Successful queries that reported at least one dirty page.
    pub dirty_reports: u64,
    /// vGPUs created.
    pub vgpus: u64,
    /// Save calls that filled a buffer.
    pub saves: u64,
    /// Successful Restores (immutable or mutable) of data a Save produced.
    pub restores: u64,
    /// Successful RestoreMutable calls: whole migrations (Save and Restore
    /// of both blobs).
    pub migrations: u64,
    /// Restores of damaged data refused with `STATUS_OBJECT_TYPE_MISMATCH`.
    pub corrupt_rejected: u64,
    /// Per operation kind ([`Op::kind`] order): calls and successes.
    pub by_kind: [(u64, u64); Op::KINDS.len()],
}

impl core::fmt::Display for Stats {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} operations ({} succeeded; ", self.ops, self.succeeded)?;
        for (i, (name, (calls, ok))) in Op::KINDS.iter().zip(self.by_kind).enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{name} {ok}/{calls}")?;
        }
        write!(
            f,
            "), {} bases created, {} queries reported dirty pages, {} vGPUs created, \
             {} blobs saved, {} restored ({} whole migrations), {} damaged blobs refused",
            self.created,
            self.dirty_reports,
            self.vgpus,
            self.saves,
            self.restores,
            self.migrations,
            self.corrupt_rejected
        )
    }
}

impl core::ops::AddAssign for Stats {
    fn add_assign(&mut self, o: Self) {
        self.ops += o.ops;
        self.succeeded += o.succeeded;
        self.created += o.created;
        self.dirty_reports += o.dirty_reports;
        self.vgpus += o.vgpus;
        self.saves += o.saves;
        self.restores += o.restores;
        self.migrations += o.migrations;
        self.corrupt_rejected += o.corrupt_rejected;
        for (a, b) in self.by_kind.iter_mut().zip(o.by_kind) {
            a.0 += b.0;
            a.1 += b.1;
        }
    }
}

/// The adapter configuration matching [`model::SEGMENTS`].
#[must_use]
pub fn adapter_config() -> AdapterConfig {
    AdapterConfig {
        segments: SEGMENTS
            .iter()
            .map(|s| MemorySegment {
                id: s.id,
                size: s.size,
                page_size: s.page.map_or(0, |p| u32::try_from(p).unwrap_or(0)),
            })
            .collect(),
        max_bases: u32::try_from(model::MAX_BASES).unwrap_or(1),
        partitions: None,
    }
}

/// Bytes guarding every output buffer past the size passed to the driver.
const GUARD: usize = 16;

/// A loaded driver with the adapters of one sequence.
pub struct World {
    // Field order is drop order: adapters before the driver.
    adapter: Adapter,
    other: Adapter,
    foreign: BasisHandle,
    removed: usize,
    driver: Driver,
    /// Every handle the adapter under test returned, in order.
    issued: Vec<usize>,
    /// The GPU partition interface GPU-virtualization initialization took
    /// (its functions, called with any `Context`).
    partition: DXGKDDI_GPU_PARTITION_INTERFACE,
    /// Every allocation handle CreateAllocation returned, in order.
    allocs: Vec<usize>,
    /// Every blob a Save filled, in order.
    blobs: Vec<Vec<u8>>,
    /// What CreateVirtualGpu asked for, by model uid.
    asked: std::collections::BTreeMap<u64, vgpu::Asked>,
    /// Every vGPU LUID issued (LowPart, HighPart).
    luids: Vec<(u32, i32)>,
    model: Model,
    stats: Stats,
    step: usize,
}

fn raw_ptr(v: usize) -> *mut c_void {
    core::ptr::without_provenance_mut(v)
}

/// Packs bits LSB-first (RTL_BITMAP order).
fn pack(bits: &[bool]) -> Vec<u8> {
    let mut out = vec![0u8; bits.len().div_ceil(8)];
    for (n, _) in bits.iter().enumerate().filter(|(_, b)| **b) {
        out[n / 8] |= 1 << (n % 8);
    }
    out
}

impl World {
    /// Loads the driver and sets up the adapters.
    ///
    /// # Errors
    /// A description of what failed to set up.
    pub fn new(flaw: Flaw) -> Result<Self, String> {
        let driver = Driver::load().map_err(|s| format!("load: {s:?}"))?;
        let config = adapter_config();
        // Added and removed first, so the adapter under test may reuse its slot.
        let removed = {
            let gone = driver.add_device().map_err(|s| format!("add: {s:?}"))?;
            let ctx = gone.context().addr();
            gone.remove().map_err(|s| format!("remove: {s:?}"))?;
            ctx
        };
        let adapter = driver
            .start_adapter(&config)
            .map_err(|s| format!("start: {s:?}"))?;
        let other = driver
            .start_adapter(&config)
            .map_err(|s| format!("start other: {s:?}"))?;
        let foreign = other
            .create_memory_basis(1, &[(0, 64 * 4096)])
            .ok_or("create on the other adapter")?;
        if other.start_dirty_tracking(foreign) != STATUS_SUCCESS {
            return Err("start on the other adapter".into());
        }
        let partition = adapter
            .gpu_virtualization()
            .ok_or("no GPU partition interface")?
            .partition;
        // As Dxgkrnl does before the first vGPU.
        adapter
            .set_partition_count(model::vgpu::SETUP_COUNT)
            .map_err(|s| format!("set partition count: {s:?}"))?;
        Ok(Self {
            adapter,
            other,
            foreign,
            removed,
            driver,
            issued: Vec::new(),
            partition,
            allocs: Vec::new(),
            blobs: Vec::new(),
            asked: std::collections::BTreeMap::new(),
            luids: Vec::new(),
            model: Model::new(flaw),
            stats: Stats::default(),
            step: 0,
        })
    }

    /// What the run did so far.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.stats
    }

    fn table(&self) -> &DRIVER_INITIALIZATION_DATA {
        self.driver.table()
    }

    fn fail(&self, op: &dyn core::fmt::Debug, what: String) -> String {
        format!("step {}: {op:?}: {what}", self.step)
    }

    /// `(hAdapter, whether it names the adapter under test)`.
    fn adapter_arg(&self, sel: AdapterSel) -> (*mut c_void, bool) {
        let this = self.adapter.context();
        let v = match sel {
            AdapterSel::This => return (this, true),
            AdapterSel::Null => 0,
            AdapterSel::Forged(v) => usize::try_from(v).unwrap_or(usize::MAX),
            AdapterSel::Removed => self.removed,
        };
        if v == self.other.context().addr() {
            // Not forged after all: the other adapter is not under test.
            return (core::ptr::null_mut(), false);
        }
        (raw_ptr(v), v == this.addr())
    }

    fn segment_arg(sel: SegSel) -> u32 {
        match sel {
            SegSel::Configured(i) => SEGMENTS[usize::from(i) % SEGMENTS.len()].id,
            SegSel::Raw(id) => id,
        }
    }

    fn page_of_segment(id: u32) -> u64 {
        SEGMENTS
            .iter()
            .find(|s| s.id == id)
            .and_then(|s| s.page)
            .unwrap_or(4096)
    }

    fn bytes(b: Bytes, page: u64) -> u64 {
        match b {
            Bytes::Pages { pages, jitter } => u64::from(pages)
                .wrapping_mul(page)
                .wrapping_add(u64::from(jitter)),
            Bytes::Raw(v) => v,
        }
    }

    fn handle_arg(&self, sel: HandleSel) -> usize {
        let issued = |i: u8| {
            if self.issued.is_empty() {
                None
            } else {
                let n = self.issued.len();
                Some(self.issued[n - 1 - usize::from(i) % n])
            }
        };
        match sel {
            HandleSel::Issued(i) => issued(i).unwrap_or(0),
            HandleSel::Null => 0,
            HandleSel::Forged(v) => usize::try_from(v).unwrap_or(usize::MAX),
            HandleSel::Tampered { of, xor } => {
                let xor = usize::try_from(xor).unwrap_or(usize::MAX).max(1);
                issued(of).unwrap_or(0) ^ xor
            }
            HandleSel::Foreign => self.foreign.0.addr(),
        }
    }

    /// Executes one operation and compares it with the model.
    ///
    /// # Errors
    /// The first difference, described.
    pub fn run(&mut self, op: &Op) -> Result<(), String> {
        self.step += 1;
        self.stats.ops += 1;
        let ok = match op {
            Op::Create {
                adapter,
                null_args,
                segment,
                ranges,
                count,
                misaligned,
            } => self.create(
                op,
                *adapter,
                *null_args,
                *segment,
                ranges,
                *count,
                *misaligned,
            )?,
            Op::Destroy { adapter, basis } => {
                self.control(op, Control::Destroy, *adapter, *basis)?
            }
            Op::Start { adapter, basis } => self.control(op, Control::Start, *adapter, *basis)?,
            Op::Stop { adapter, basis } => self.control(op, Control::Stop, *adapter, *basis)?,
            Op::Query {
                adapter,
                null_args,
                basis,
                subrange,
                buffer,
                flags,
            } => self.query(op, *adapter, *null_args, *basis, *subrange, *buffer, *flags)?,
            Op::Mark {
                adapter,
                segment,
                offset,
                len,
            } => self.mark(op, *adapter, *segment, *offset, *len)?,
            Op::QueryAdapterInfo {
                adapter,
                ty,
                input,
                segment,
                output,
            } => self.query_adapter_info(op, *adapter, *ty, *input, *segment, *output)?,
            Op::StopDevice => {
                let faults = self.model.stop_device();
                let status = match self.adapter.stop() {
                    Ok(()) => STATUS_SUCCESS,
                    Err(s) => s,
                };
                self.expect(op, &faults, status)?;
                if status == STATUS_SUCCESS {
                    self.model.device_stopped();
                }
                status == STATUS_SUCCESS
            }
            Op::StartDevice => {
                let faults = self.model.start_device();
                let status = match self.adapter.start() {
                    Ok(_) => STATUS_SUCCESS,
                    Err(s) => s,
                };
                self.expect(op, &faults, status)?;
                if status == STATUS_SUCCESS {
                    self.model.device_started();
                }
                status == STATUS_SUCCESS
            }
            Op::Vgpu(v) => self.vgpu(op, v)?,
        };
        let kind = &mut self.stats.by_kind[op.kind()];
        kind.0 += 1;
        if ok {
            kind.1 += 1;
            self.stats.succeeded += 1;
        }
        Ok(())
    }

    fn expect(&self, op: &Op, faults: &model::Faults, status: NTSTATUS) -> Result<(), String> {
        if faults.allows(status) {
            Ok(())
        } else {
            Err(self.fail(
                op,
                format!(
                    "driver returned {status:?}, the model allows {:?}",
                    if faults.none() {
                        vec![STATUS_SUCCESS]
                    } else {
                        faults.0.clone()
                    }
                ),
            ))
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        null_args: bool,
        segment: SegSel,
        ranges: &[RangeSpec],
        count: CountSpec,
        misaligned: bool,
    ) -> Result<bool, String> {
        let (h_adapter, adapter_ok) = self.adapter_arg(adapter);
        let segment = Self::segment_arg(segment);
        let page = Self::page_of_segment(segment);
        let given: Vec<(u64, u64)> = ranges
            .iter()
            .map(|r| (Self::bytes(r.offset, page), Self::bytes(r.size, page)))
            .collect();
        let declared = match count {
            CountSpec::Exact => given.len() as u64,
            CountSpec::Declared(n) => n,
        };
        // The block holds every given range, and zeroed ones up to a declared
        // count the driver may read; the ranges the driver reads are the first
        // `declared` of those.
        let entries = if declared <= MAX_RANGES {
            given.len().max(usize::try_from(declared).unwrap_or(0))
        } else {
            given.len()
        };
        let mut read = given.clone();
        read.resize(entries, (0, 0));
        read.truncate(usize::try_from(declared.min(MAX_RANGES)).unwrap_or(0));
        let mut block = vec![0u8; usize::from(misaligned) + 16 + 16 * entries.max(1)];
        {
            let b = &mut block[usize::from(misaligned)..];
            b[0..4].copy_from_slice(&segment.to_le_bytes());
            b[8..16].copy_from_slice(&declared.to_le_bytes());
            for (i, &(o, s)) in given.iter().enumerate() {
                b[16 + 16 * i..24 + 16 * i].copy_from_slice(&o.to_le_bytes());
                b[24 + 16 * i..32 + 16 * i].copy_from_slice(&s.to_le_bytes());
            }
        }
        let args: *const DXGKARG_CREATEMEMORYBASIS = if null_args {
            core::ptr::null()
        } else {
            block[usize::from(misaligned)..].as_ptr().cast()
        };
        let succeeds = self.model.create_succeeds(
            adapter_ok,
            (!null_args).then_some(model::CreateArgs {
                segment,
                count: declared,
                ranges: &read,
            }),
        );
        let create = self
            .table()
            .DxgkDdiCreateMemoryBasis
            .ok_or("no Create slot")?;
        // SAFETY: `args` is NULL or a block of at least every range the driver
        // may read (all `declared` when that is within its limit).
        let handle = unsafe { create(h_adapter, args) }.addr();
        if succeeds != (handle != 0) {
            return Err(self.fail(
                op,
                format!(
                    "driver returned handle {handle:#x}, the model expects {} (ranges read: {read:x?})",
                    if succeeds { "a handle" } else { "NULL" }
                ),
            ));
        }
        if handle == 0 {
            return Ok(false);
        }
        if self.issued.contains(&handle) || handle == self.foreign.0.addr() {
            return Err(self.fail(op, format!("driver returned handle {handle:#x} again")));
        }
        self.issued.push(handle);
        self.model.created(handle, segment, &read);
        self.stats.created += 1;
        Ok(true)
    }

    fn control(
        &mut self,
        op: &Op,
        which: Control,
        adapter: AdapterSel,
        basis: HandleSel,
    ) -> Result<bool, String> {
        let (h_adapter, adapter_ok) = self.adapter_arg(adapter);
        let handle = self.handle_arg(basis);
        let table = self.table();
        let (faults, ddi) = match which {
            Control::Destroy => (
                self.model.destroy(adapter_ok, handle),
                table.DxgkDdiDestroyMemoryBasis,
            ),
            Control::Start => (
                self.model.start(adapter_ok, handle),
                table.DxgkDdiStartDirtyTracking,
            ),
            Control::Stop => (
                self.model.stop(adapter_ok, handle),
                table.DxgkDdiStopDirtyTracking,
            ),
        };
        let ddi = ddi.ok_or("missing slot")?;
        // SAFETY: both handles are values; the driver must not dereference them.
        let status = unsafe { ddi(h_adapter, raw_ptr(handle)) };
        self.expect(op, &faults, status)?;
        if status != STATUS_SUCCESS {
            return Ok(false);
        }
        match which {
            Control::Destroy => self.model.destroyed(handle),
            Control::Start => self.model.started_tracking(handle),
            Control::Stop => self.model.stopped_tracking(handle),
        }
        Ok(true)
    }

    #[allow(clippy::too_many_arguments)]
    fn query(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        null_args: bool,
        basis: HandleSel,
        subrange: SubrangeSpec,
        buffer: BufSpec,
        flags: u32,
    ) -> Result<bool, String> {
        let (h_adapter, adapter_ok) = self.adapter_arg(adapter);
        let handle = self.handle_arg(basis);
        let page = self
            .model
            .live()
            .iter()
            .find(|(h, _)| *h == handle)
            .and_then(|(_, b)| SEGMENTS[b.segment].page)
            .unwrap_or(4096);
        let (index, offset, size) = (
            subrange.index,
            Self::bytes(subrange.offset, page),
            Self::bytes(subrange.size, page),
        );
        let span = self.model.query_span(handle, index, offset, size);
        let fit = span.map_or(0, |s| s.bytes());
        let buffer_size = match buffer {
            BufSpec::Fit { extra } => fit.saturating_add_signed(isize::from(extra)),
            BufSpec::Size(n) => usize::from(n) % 4097,
            BufSpec::Null => fit,
        };
        let args = QueryArgs {
            handle,
            index,
            offset,
            size,
            buffer_null: buffer == BufSpec::Null,
            buffer_size,
            flags,
        };
        let faults = self.model.query(adapter_ok, (!null_args).then_some(&args));
        // A fresh pattern per call, so that a byte the driver should have
        // written cannot pass for one it did by matching the pattern.
        let pattern = 0xA5u8 ^ (self.step as u8).wrapping_mul(0x3B);
        let mut buf = vec![pattern; buffer_size + GUARD];
        let mut raw = DXGKARG_QUERYDIRTYBITDATA::zeroed();
        raw.MemoryBasis = raw_ptr(handle);
        raw.SubrangeIndex = index;
        raw.SubrangeOffset = offset;
        raw.SubrangeSize = size;
        raw.Buffer = if args.buffer_null {
            core::ptr::null_mut()
        } else {
            buf.as_mut_ptr().cast()
        };
        raw.BufferSize = buffer_size;
        raw.Flags = flags;
        let p_args: *mut DXGKARG_QUERYDIRTYBITDATA = if null_args {
            core::ptr::null_mut()
        } else {
            &raw mut raw
        };
        let query = self
            .table()
            .DxgkDdiQueryDirtyBitData
            .ok_or("no Query slot")?;
        // SAFETY: `p_args` is NULL or live, and its buffer is NULL or `buf`,
        // writable for `buffer_size` bytes (and more).
        let status = unsafe { query(h_adapter, p_args) };
        self.expect(op, &faults, status)?;
        if status != STATUS_SUCCESS {
            if let Some(i) = buf.iter().position(|&b| b != pattern) {
                return Err(self.fail(op, format!("failed with {status:?} but wrote byte {i}")));
            }
            return Ok(false);
        }
        let Some(span) = span else {
            return Err(self.fail(op, "succeeded without a span".into()));
        };
        let clear = flags & model::CLEARDATA != 0;
        let bits = self.model.harvest(span, clear);
        let expected = pack(&bits);
        let n = expected.len();
        if buf[..n] != expected[..] {
            let first = (0..bits.len()).find(|&i| (buf[i / 8] >> (i % 8) & 1 == 1) != bits[i]);
            return Err(self.fail(
                op,
                format!(
                    "bits differ (first at span page {first:?}): driver {:02x?}, model {:02x?}",
                    &buf[..n],
                    expected
                ),
            ));
        }
        if let Some(i) = buf[n..].iter().position(|&b| b != pattern) {
            return Err(self.fail(
                op,
                format!("wrote byte {} past the {n} the span needs", n + i),
            ));
        }
        if bits.contains(&true) {
            self.stats.dirty_reports += 1;
        }
        Ok(true)
    }

    fn mark(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        segment: SegSel,
        offset: Bytes,
        len: Bytes,
    ) -> Result<bool, String> {
        let (h_adapter, adapter_ok) = self.adapter_arg(adapter);
        let segment = Self::segment_arg(segment);
        let page = Self::page_of_segment(segment);
        let (offset, len) = (Self::bytes(offset, page), Self::bytes(len, page));
        let faults = self.model.mark(adapter_ok, segment, offset, len);
        // SAFETY: the host export of the linked driver; the handle is a value.
        let status =
            unsafe { gpup_miniport::host::gpup_sw_mark_dirty(h_adapter, segment, offset, len) };
        self.expect(op, &faults, status)?;
        if status == STATUS_SUCCESS {
            self.model.marked(segment, offset, len);
        }
        Ok(status == STATUS_SUCCESS)
    }

    fn query_adapter_info(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        ty: i32,
        input: QaiBuf,
        segment: SegSel,
        output: QaiBuf,
    ) -> Result<bool, String> {
        let (h_adapter, adapter_ok) = self.adapter_arg(adapter);
        let ty = qai_type(ty);
        let id = Self::segment_arg(segment).to_le_bytes();
        let (input_bytes, input_size) = match input {
            QaiBuf::Null(n) => (None, usize::from(n)),
            QaiBuf::Size(n) => {
                let mut v: Vec<u8> = id.iter().copied().cycle().take(usize::from(n)).collect();
                v.shrink_to_fit();
                (Some(v), usize::from(n))
            }
        };
        let (output_null, output_size) = match output {
            QaiBuf::Null(n) => (true, usize::from(n)),
            QaiBuf::Size(n) => (false, usize::from(n)),
        };
        let q = QaiArgs {
            ty,
            input: input_bytes,
            input_size,
            output_null,
            output_size,
        };
        let (faults, answer) = self.model.query_adapter_info(adapter_ok, &q);
        let pattern = 0x5Au8 ^ (self.step as u8).wrapping_mul(0x3B);
        let mut out = vec![pattern; output_size + GUARD];
        let mut raw = DXGKARG_QUERYADAPTERINFO::zeroed();
        raw.Type = ty;
        raw.pInputData = q
            .input
            .as_ref()
            .map_or(core::ptr::null_mut(), |v| v.as_ptr().cast_mut().cast());
        raw.InputDataSize = UINT::try_from(input_size).unwrap_or(UINT::MAX);
        raw.pOutputData = if output_null {
            core::ptr::null_mut()
        } else {
            out.as_mut_ptr().cast()
        };
        raw.OutputDataSize = UINT::try_from(output_size).unwrap_or(UINT::MAX);
        let qai = self.table().DxgkDdiQueryAdapterInfo.ok_or("no QAI slot")?;
        // SAFETY: the buffers are NULL or live for their stated sizes.
        let status = unsafe { qai(h_adapter, &raw const raw) };
        self.expect(op, &faults, status)?;
        if let Some(i) = out[output_size..].iter().position(|&b| b != pattern) {
            return Err(self.fail(
                op,
                format!("wrote byte {} past OutputDataSize", output_size + i),
            ));
        }
        if status != STATUS_SUCCESS {
            if let Some(i) = out.iter().position(|&b| b != pattern) {
                return Err(self.fail(op, format!("failed with {status:?} but wrote byte {i}")));
            }
            return Ok(false);
        }
        for (i, want) in answer.iter().enumerate() {
            if let Some(want) = want
                && out[i] != *want
            {
                let got = out[i];
                return Err(self.fail(
                    op,
                    format!("answer byte {i} is {got:#04x}, the model says {want:#04x}"),
                ));
            }
        }
        Ok(true)
    }

    /// The checks at the end of a sequence (see the module documentation).
    ///
    /// # Errors
    /// The first difference, described.
    pub fn finish(mut self) -> Result<Stats, String> {
        // The OS's teardown order (gpu-partitioning.md section 5, step 18):
        // each vGPU, then its allocation, then (below) the memory bases,
        // which outlive the reserve.
        let this = AdapterSel::This;
        let live: Vec<u32> = self.model.gpu().live().map(|(vf, _)| vf).collect();
        for &vf in &live {
            self.run(&Op::Vgpu(VgpuOp::DestroyVgpu { adapter: this, vf }))?;
            // A second destroy of the slot is refused.
            self.run(&Op::Vgpu(VgpuOp::DestroyVgpu { adapter: this, vf }))?;
        }
        let allocs: Vec<usize> = (0..self.allocs.len())
            .filter(|&i| self.model.gpu().allocs[i].live)
            .map(|i| self.allocs[i])
            .collect();
        for handle in allocs {
            let alloc = AllocSel::Forged(handle as u64);
            self.run(&Op::Vgpu(VgpuOp::DestroyReserve {
                adapter: this,
                alloc,
            }))?;
        }
        if self.model.gpu().live().next().is_some()
            || self.model.gpu().allocs.iter().any(|a| a.live)
        {
            return Err(self.fail(&"finish", "vGPUs or reserves survived".into()));
        }
        let live: Vec<usize> = self.model.live().iter().map(|(h, _)| *h).collect();
        for handle in &live {
            let read_back = Op::Query {
                adapter: AdapterSel::This,
                null_args: false,
                basis: HandleSel::Forged(*handle as u64),
                subrange: SubrangeSpec {
                    index: 0,
                    offset: Bytes::Raw(0),
                    size: Bytes::Raw(0),
                },
                buffer: BufSpec::Fit { extra: 0 },
                flags: 0,
            };
            self.run(&read_back)?;
            if self.model.basis(*handle).is_some_and(|b| b.dirty.is_some()) {
                self.run(&Op::Stop {
                    adapter: AdapterSel::This,
                    basis: HandleSel::Forged(*handle as u64),
                })?;
            }
            self.run(&Op::Destroy {
                adapter: AdapterSel::This,
                basis: HandleSel::Forged(*handle as u64),
            })?;
        }
        if !self.model.live().is_empty() {
            return Err(self.fail(&"finish", "bases survived their destroy".into()));
        }
        if self.model.started() {
            for &handle in &self.allocs.clone() {
                let alloc = AllocSel::Forged(handle as u64);
                self.run(&Op::Vgpu(VgpuOp::DestroyReserve {
                    adapter: this,
                    alloc,
                }))?;
            }
        }
        for &handle in &self.issued {
            let start = self
                .table()
                .DxgkDdiStartDirtyTracking
                .ok_or("no Start slot")?;
            // SAFETY: handles are values.
            let status = unsafe { start(self.adapter.context(), raw_ptr(handle)) };
            if status != STATUS_INVALID_HANDLE {
                return Err(self.fail(
                    &"finish",
                    format!("handle {handle:#x} still answers {status:?}"),
                ));
            }
        }
        let mut clean = vec![0xFFu8; 8];
        let status = self
            .other
            .query_dirty_bits(self.foreign, None, false, &mut clean);
        if status != STATUS_SUCCESS || clean != [0; 8] {
            return Err(self.fail(
                &"finish",
                format!("the other adapter's basis answers {status:?} with bits {clean:02x?}"),
            ));
        }
        if self.other.destroy_memory_basis(self.foreign) != STATUS_SUCCESS {
            return Err(self.fail(
                &"finish",
                "the other adapter's basis did not destroy".into(),
            ));
        }
        Ok(self.stats)
    }
}

#[derive(Debug, Clone, Copy)]
enum Control {
    Destroy,
    Start,
    Stop,
}

/// Runs `ops` on a fresh world and checks the end state.
///
/// # Errors
/// The first difference between driver and model, described.
pub fn check_sequence(ops: &[Op], flaw: Flaw) -> Result<Stats, String> {
    let mut world = World::new(flaw)?;
    for op in ops {
        world.run(op)?;
    }
    world.finish()
}
