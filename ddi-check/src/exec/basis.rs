//! The memory-basis and dirty-tracking DDIs (Create, Destroy, Start, Stop,
//! Query) and the software writer's mark, each checked against the model.

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

use super::{GUARD, World, raw_ptr};
use crate::model::{self, MAX_RANGES, QueryArgs, SEGMENTS, Span};
use crate::ops::*;

/// Which of the three handle-only DDIs [`World::control`] calls.
#[derive(Debug, Clone, Copy)]
pub(super) enum Control {
    /// `DxgkDdiDestroyMemoryBasis`.
    Destroy,
    /// `DxgkDdiStartDirtyTracking`.
    Start,
    /// `DxgkDdiStopDirtyTracking`.
    Stop,
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
    #[allow(clippy::too_many_arguments)]
    pub(super) fn create(
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

    pub(super) fn control(
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
    pub(super) fn query(
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
        self.check_harvest(op, status, &buf, pattern, span, flags)
    }

    /// What a query wrote into `buf` (filled with `pattern` before the call)
    /// against the model: nothing on failure; on success exactly the
    /// model's bits of `span`, and nothing past them.
    fn check_harvest(
        &mut self,
        op: &Op,
        status: NTSTATUS,
        buf: &[u8],
        pattern: u8,
        span: Option<Span>,
        flags: u32,
    ) -> Result<bool, String> {
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
        self.model.adopt_unsure(span, &buf[..span.bytes()]);
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

    pub(super) fn mark(
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
}
