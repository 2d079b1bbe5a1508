//! The reference model: what `docs/contract.md` (memory bases and dirty-bit
//! tracking) says each call must do, written as directly as possible, with no
//! code shared with the driver.
//!
//! Memory bases are lists of byte ranges; tracked ones have a `Vec<bool>` of
//! dirty pages. A handle is valid exactly when it equals one Create returned
//! on this adapter since its last start and not yet destroyed, whatever its
//! bits: the model never decodes handles.
//!
//! Where a call has several faults at once the specification does not say
//! which one wins, so the model answers the set of statuses any one of them
//! justifies ([`Faults`]); a call without faults must succeed. Whatever the
//! status of a failed call, it must change nothing.

use dxgk_sys::*;

mod caps;
pub mod engine;
pub mod engine_vaddr;
mod engine_virtual;
pub mod render;
pub mod segments;
pub mod vgpu;
pub use vgpu::{Blob, Gpu};

/// `DXGKARG_QUERYDIRTYBITDATAFLAGS_CLEARDATA`: the one flag a query knows.
pub const CLEARDATA: u32 = 1;

/// The most ranges the driver reads from a create block (`RangeCount`
/// above it is refused before any range is read).
pub const MAX_RANGES: u64 = 65_536;

/// One segment of the adapter's memory configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentDef {
    /// Driver segment id.
    pub id: u32,
    /// Size in bytes.
    pub size: u64,
    /// Dirty-tracking page size, or `None` for a segment without tracking.
    pub page: Option<u64>,
}

/// The configuration every checked adapter gets: small VRAM segments (ids
/// from 2: segment 1 is the driver's paging aperture, [`segments::APERTURE`]),
/// so that random offsets hit their edges, two tracking units in the first
/// one, and a small table, so that it fills up.
pub const SEGMENTS: [SegmentDef; 3] = [
    SegmentDef {
        id: 2,
        size: 1024 * 4096,
        page: Some(4096),
    },
    SegmentDef {
        id: 3,
        size: 32 * 65536,
        page: Some(65536),
    },
    SegmentDef {
        id: 4,
        size: 1 << 20,
        page: None,
    },
];

/// How many memory bases a checked adapter holds.
pub const MAX_BASES: usize = 6;

/// The statuses a failed call may return (one per fault it has).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults(pub Vec<NTSTATUS>);

impl Faults {
    fn add(&mut self, status: NTSTATUS) {
        if !self.0.contains(&status) {
            self.0.push(status);
        }
    }

    /// No fault: the call must succeed.
    #[must_use]
    pub fn none(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `status` is what the model allows.
    #[must_use]
    pub fn allows(&self, status: NTSTATUS) -> bool {
        if self.none() {
            status == STATUS_SUCCESS
        } else {
            self.0.contains(&status)
        }
    }
}

/// A memory basis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basis {
    /// Index into [`SEGMENTS`].
    pub segment: usize,
    /// `(SegmentOffset, SizeInBytes)`, in `Ranges[]` order.
    pub ranges: Vec<(u64, u64)>,
    /// The dirty bit of each page, while tracked (ranges concatenated).
    pub dirty: Option<Vec<bool>>,
    /// Bits the model does not know (a faulted engine command may or may
    /// not have written the page): the next query adopts the driver's.
    pub unsure: Vec<bool>,
}

impl Basis {
    fn page(&self) -> u64 {
        SEGMENTS[self.segment].page.unwrap_or(4096)
    }

    /// Whether every range is whole pages (Start's requirement).
    fn aligned(&self) -> bool {
        let page = self.page();
        self.ranges
            .iter()
            .all(|&(o, s)| o.is_multiple_of(page) && s.is_multiple_of(page))
    }

    /// Index of the first bit of range `i`.
    fn first_bit(&self, i: usize) -> u64 {
        self.ranges[..i].iter().map(|r| r.1 / self.page()).sum()
    }
}

/// A deliberate mistake in the model, to show that the checker notices when
/// model and driver disagree (see `tests/state_machine.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// The model as specified.
    None,
    /// The model forgets that CLEARDATA clears the reported bits.
    QueryNeverClears,
    /// The model forgets that Restore (immutable or mutable) needs a paused VF.
    RestoreIgnoresPause,
    /// The model forgets that the mutable data carries the VF's memory bases,
    /// so its Save size is short whenever a basis lies within the reserve.
    MutableSizeForgetsBases,
    /// The model lets a configuration write change read-only bits.
    ConfigIgnoresMask,
    /// The model forgets that ResetVirtualFunction restores the power-on
    /// configuration space.
    ResetKeepsConfig,
    /// The model's profile reports all VRAM available, whatever vGPUs hold.
    ProfileIgnoresVgpus,
    /// The model forgets that QueryInterface needs room for the interface.
    QueryInterfaceIgnoresSize,
    /// The model accepts reserve private data of any version.
    AllocationIgnoresVersion,
}

/// The span a valid query reports: first bit and number of bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The basis's handle.
    pub handle: usize,
    /// First bit.
    pub start: u64,
    /// Number of bits.
    pub count: u64,
}

impl Span {
    /// `ceil(count / 8)`.
    #[must_use]
    pub fn bytes(&self) -> usize {
        usize::try_from(self.count.div_ceil(8)).unwrap_or(usize::MAX)
    }
}

/// One adapter's memory bases, as the specification describes them.
#[derive(Debug, Clone)]
pub struct Model {
    started: bool,
    /// Live bases by handle value, in creation order.
    live: Vec<(usize, Basis)>,
    flaw: Flaw,
    /// GPU partitioning and live migration (see [`vgpu`]).
    gpu: Gpu,
    /// Devices and contexts (see [`render`]).
    pub render: render::Render,
    /// The software engine (see [`engine`]).
    engine: engine::Engine,
}

impl Model {
    /// A started adapter with no bases.
    #[must_use]
    pub fn new(flaw: Flaw) -> Self {
        Self {
            started: true,
            live: Vec::new(),
            flaw,
            gpu: Gpu::new(),
            render: render::Render::default(),
            engine: engine::Engine::new(),
        }
    }

    /// Whether the adapter is started.
    #[must_use]
    pub fn started(&self) -> bool {
        self.started
    }

    /// The live bases, by handle value.
    #[must_use]
    pub fn live(&self) -> &[(usize, Basis)] {
        &self.live
    }

    /// The live basis `handle`.
    #[must_use]
    pub fn basis(&self, handle: usize) -> Option<&Basis> {
        self.live.iter().find(|(h, _)| *h == handle).map(|(_, b)| b)
    }

    fn basis_mut(&mut self, handle: usize) -> Option<&mut Basis> {
        self.live
            .iter_mut()
            .find(|(h, _)| *h == handle)
            .map(|(_, b)| b)
    }

    fn segment(id: u32) -> Option<usize> {
        SEGMENTS.iter().position(|s| s.id == id)
    }

    /// The configured segment `id`, or the aperture.
    fn any_segment(id: u32) -> Option<SegmentDef> {
        (id == segments::APERTURE.id)
            .then_some(segments::APERTURE)
            .or_else(|| Self::segment(id).map(|i| SEGMENTS[i]))
    }

    // ---------------------------------------------------------------- Create

    /// Whether `DxgkDdiCreateMemoryBasis` must succeed: a started adapter, a
    /// block, `RangeCount` ranges (1..=MAX_RANGES) in a known tracked segment,
    /// each non-empty, not overflowing, inside the segment, pairwise disjoint,
    /// and room in the table. `ranges` are the ones the driver reads.
    #[must_use]
    pub fn create_succeeds(&self, adapter_ok: bool, args: Option<CreateArgs<'_>>) -> bool {
        let Some(CreateArgs {
            segment,
            count,
            ranges,
        }) = args
        else {
            return false;
        };
        let Some(index) = Self::segment(segment) else {
            return false;
        };
        let seg = SEGMENTS[index];
        adapter_ok
            && self.started
            && seg.page.is_some()
            && (1..=MAX_RANGES).contains(&count)
            && ranges.len() as u64 == count
            && ranges
                .iter()
                .all(|&(o, s)| s != 0 && o.checked_add(s).is_some_and(|end| end <= seg.size))
            && ranges.iter().enumerate().all(|(i, a)| {
                ranges[i + 1..]
                    .iter()
                    .all(|b| a.0 + a.1 <= b.0 || b.0 + b.1 <= a.0)
            })
            && self.live.len() < MAX_BASES
    }

    /// Records a successful create.
    pub fn created(&mut self, handle: usize, segment: u32, ranges: &[(u64, u64)]) {
        let segment = Self::segment(segment).unwrap_or(0);
        self.live.push((
            handle,
            Basis {
                segment,
                ranges: ranges.to_vec(),
                dirty: None,
                unsure: Vec::new(),
            },
        ));
    }

    // ------------------------------------------------ Destroy, Start, Stop

    fn handle_faults(&self, adapter_ok: bool, handle: usize) -> (Faults, Option<&Basis>) {
        let mut faults = Faults::default();
        if !adapter_ok {
            faults.add(STATUS_INVALID_PARAMETER);
        }
        let basis = self.basis(handle).filter(|_| self.started);
        if basis.is_none() {
            faults.add(STATUS_INVALID_HANDLE);
        }
        (faults, basis)
    }

    /// `DxgkDdiDestroyMemoryBasis`: a valid handle is destroyed (an implicit
    /// Stop first if tracked).
    #[must_use]
    pub fn destroy(&self, adapter_ok: bool, handle: usize) -> Faults {
        self.handle_faults(adapter_ok, handle).0
    }

    /// Records a successful destroy.
    pub fn destroyed(&mut self, handle: usize) {
        self.live.retain(|(h, _)| *h != handle);
    }

    /// `DxgkDdiStartDirtyTracking`: not already tracked, ranges whole pages.
    #[must_use]
    pub fn start(&self, adapter_ok: bool, handle: usize) -> Faults {
        let (mut faults, basis) = self.handle_faults(adapter_ok, handle);
        if let Some(b) = basis {
            if b.dirty.is_some() {
                faults.add(STATUS_INVALID_DEVICE_STATE);
            } else if !b.aligned() {
                faults.add(STATUS_INVALID_PARAMETER);
            }
        }
        faults
    }

    /// Records a successful start: all pages clean.
    pub fn started_tracking(&mut self, handle: usize) {
        if let Some(b) = self.basis_mut(handle) {
            let pages = b.ranges.iter().map(|r| r.1 / b.page()).sum::<u64>();
            b.dirty = Some(vec![false; usize::try_from(pages).unwrap_or(0)]);
            b.unsure = vec![false; usize::try_from(pages).unwrap_or(0)];
        }
    }

    /// `DxgkDdiStopDirtyTracking`: must be tracked.
    #[must_use]
    pub fn stop(&self, adapter_ok: bool, handle: usize) -> Faults {
        let (mut faults, basis) = self.handle_faults(adapter_ok, handle);
        if basis.is_some_and(|b| b.dirty.is_none()) {
            faults.add(STATUS_INVALID_DEVICE_STATE);
        }
        faults
    }

    /// Records a successful stop.
    pub fn stopped_tracking(&mut self, handle: usize) {
        if let Some(b) = self.basis_mut(handle) {
            b.dirty = None;
            b.unsure.clear();
        }
    }

    // ----------------------------------------------------------------- Query

    /// The span a query of `handle` reports, if the basis is live and
    /// tracked and the subrange is valid (`size == 0`: the whole basis;
    /// otherwise range `index`, `[offset, offset + size)`, page multiples,
    /// inside the range).
    #[must_use]
    pub fn query_span(&self, handle: usize, index: u64, offset: u64, size: u64) -> Option<Span> {
        let basis = self.basis(handle).filter(|_| self.started)?;
        let dirty = basis.dirty.as_ref()?;
        if size == 0 {
            return Some(Span {
                handle,
                start: 0,
                count: dirty.len() as u64,
            });
        }
        let i = usize::try_from(index).ok()?;
        let &(_, range_size) = basis.ranges.get(i)?;
        let page = basis.page();
        let end = offset.checked_add(size)?;
        if !offset.is_multiple_of(page) || !size.is_multiple_of(page) || end > range_size {
            return None;
        }
        Some(Span {
            handle,
            start: basis.first_bit(i) + offset / page,
            count: size / page,
        })
    }

    /// `DxgkDdiQueryDirtyBitData`'s faults, for a call with the given
    /// arguments (`args: None` for a NULL argument block).
    #[must_use]
    pub fn query(&self, adapter_ok: bool, args: Option<&QueryArgs>) -> Faults {
        let mut faults = Faults::default();
        if !adapter_ok {
            faults.add(STATUS_INVALID_PARAMETER);
        }
        let Some(a) = args else {
            faults.add(STATUS_INVALID_PARAMETER);
            return faults;
        };
        if a.flags & !CLEARDATA != 0 {
            faults.add(STATUS_INVALID_PARAMETER);
        }
        match self.basis(a.handle).filter(|_| self.started) {
            None => faults.add(STATUS_INVALID_HANDLE),
            Some(b) if b.dirty.is_none() => faults.add(STATUS_INVALID_DEVICE_STATE),
            Some(_) => match self.query_span(a.handle, a.index, a.offset, a.size) {
                None => faults.add(STATUS_INVALID_PARAMETER),
                Some(span) => {
                    if a.buffer_null {
                        faults.add(STATUS_INVALID_PARAMETER);
                    } else if a.buffer_size < span.bytes() {
                        faults.add(STATUS_BUFFER_TOO_SMALL);
                    }
                }
            },
        }
        faults
    }

    /// The bits of `span`, and with `clear` clears them (unless the model
    /// carries [`Flaw::QueryNeverClears`]).
    pub fn harvest(&mut self, span: Span, clear: bool) -> Vec<bool> {
        let flaw = self.flaw;
        let Some(dirty) = self.basis_mut(span.handle).and_then(|b| b.dirty.as_mut()) else {
            return Vec::new();
        };
        let bits = (span.start..span.start + span.count).map(|n| n as usize);
        let out = bits.clone().map(|n| dirty[n]).collect();
        if clear && flaw != Flaw::QueryNeverClears {
            bits.for_each(|n| dirty[n] = false);
        }
        out
    }

    // ------------------------------------------------------------------ Mark

    /// `gpup_sw_mark_dirty`: fails for an unknown adapter or segment, or a
    /// span that overflows or leaves the segment; otherwise every page of the
    /// span that a tracked basis covers becomes dirty in that basis.
    #[must_use]
    pub fn mark(&self, adapter_ok: bool, segment: u32, offset: u64, len: u64) -> Faults {
        let mut faults = Faults::default();
        let inside = Self::any_segment(segment)
            .is_some_and(|s| offset.checked_add(len).is_some_and(|end| end <= s.size));
        if !adapter_ok || !self.started || !inside {
            faults.add(STATUS_INVALID_PARAMETER);
        }
        faults
    }

    /// Records a successful mark.
    pub fn marked(&mut self, segment: u32, offset: u64, len: u64) {
        self.mark_pages(segment, offset, len, false);
    }

    /// Records that the pages of a span may or may not have been marked.
    pub fn marked_unsure(&mut self, segment: u32, offset: u64, len: u64) {
        self.mark_pages(segment, offset, len, true);
    }

    /// Each tracked page of the span becomes dirty (or, `unsure`, unknown).
    fn mark_pages(&mut self, segment: u32, offset: u64, len: u64, unsure: bool) {
        let Some(index) = Self::segment(segment) else {
            return;
        };
        let Some(page) = SEGMENTS[index].page else {
            return;
        };
        if len == 0 {
            return;
        }
        let (first, last) = (offset / page, (offset + len - 1) / page);
        for (_, basis) in self.live.iter_mut().filter(|(_, b)| b.segment == index) {
            let Some(dirty) = basis.dirty.as_mut() else {
                continue;
            };
            let mut bit = 0u64;
            for &(o, s) in &basis.ranges {
                let (r_first, r_last) = (o / page, (o + s) / page - 1);
                for p in first.max(r_first)..=last.min(r_last) {
                    let n = (bit + p - r_first) as usize;
                    if unsure {
                        basis.unsure[n] |= !dirty[n];
                    } else {
                        dirty[n] = true;
                        basis.unsure[n] = false;
                    }
                }
                bit += s / page;
            }
        }
    }

    /// The bits of `span` the model is unsure of take the driver's value
    /// (`reported`, packed LSB first).
    pub fn adopt_unsure(&mut self, span: Span, reported: &[u8]) {
        let Some(b) = self.basis_mut(span.handle) else {
            return;
        };
        let Some(dirty) = b.dirty.as_mut() else {
            return;
        };
        for i in 0..span.count as usize {
            let n = span.start as usize + i;
            if b.unsure.get(n) == Some(&true) {
                dirty[n] = reported
                    .get(i / 8)
                    .is_some_and(|byte| byte >> (i % 8) & 1 == 1);
                b.unsure[n] = false;
            }
        }
    }

    // ------------------------------------------------------ QueryAdapterInfo

    /// `DxgkDdiQueryAdapterInfo`'s faults, and on success what the first
    /// bytes of the output must be (`None`: not checked).
    #[must_use]
    pub fn query_adapter_info(&self, adapter_ok: bool, q: &QaiArgs) -> (Faults, Vec<Option<u8>>) {
        let mut faults = Faults::default();
        if !adapter_ok {
            faults.add(STATUS_INVALID_PARAMETER);
        }
        if q.output_null {
            faults.add(STATUS_INVALID_PARAMETER);
        }
        // WDDMDEVICECAPS is answered in every state (docs/contract.md).
        if !self.started && q.ty != DXGKQAITYPE_WDDMDEVICECAPS {
            faults.add(STATUS_INVALID_DEVICE_STATE);
        }
        let fits = |n: usize| {
            if q.output_size < n {
                STATUS_BUFFER_TOO_SMALL
            } else {
                STATUS_SUCCESS
            }
        };
        let (status, answer) = match q.ty {
            DXGKQAITYPE_DRIVERCAPS => {
                // Every whole field that fits; Dxgkrnl needs at least WDDMVersion.
                let at = core::mem::offset_of!(DXGK_DRIVERCAPS, WDDMVersion);
                (
                    fits(at + 4),
                    [
                        vec![None; at],
                        DXGKDDI_WDDMv3_2.0.to_le_bytes().map(Some).to_vec(),
                    ]
                    .concat(),
                )
            }
            DXGKQAITYPE_DIRTYBITTRACKINGCAPS => {
                // Supported (bit 0) and performant (bit 1).
                (fits(4), 3u32.to_le_bytes().map(Some).to_vec())
            }
            DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS => match q.input_segment() {
                None => (STATUS_INVALID_PARAMETER, Vec::new()),
                Some(id) => match Self::any_segment(id).map(|s| s.page) {
                    None => (STATUS_INVALID_PARAMETER, Vec::new()),
                    Some(None) => (STATUS_NOT_IMPLEMENTED, Vec::new()),
                    Some(Some(page)) => (
                        fits(4),
                        u32::try_from(page)
                            .unwrap_or(0)
                            .to_le_bytes()
                            .map(Some)
                            .to_vec(),
                    ),
                },
            },
            DXGKQAITYPE_GPUPCAPS => {
                // The built-in partitioning: live migration (bit 2, with dirty
                // tracking and every migration slot) and scatter-map reserves
                // (bit 3).
                (fits(4), 0b1100u32.to_le_bytes().map(Some).to_vec())
            }
            DXGKQAITYPE_SCATTER_RESERVE => match q.input_segment() {
                None => (STATUS_INVALID_PARAMETER, Vec::new()),
                Some(id) => match Self::any_segment(id).map(|s| s.page) {
                    None => (STATUS_INVALID_PARAMETER, Vec::new()),
                    Some(None) => (STATUS_NOT_IMPLEMENTED, Vec::new()),
                    // `SetVGPUResourcesPageSize`: the dirty-tracking page.
                    Some(Some(page)) => (fits(8), page.to_le_bytes().map(Some).to_vec()),
                },
            },
            // The capability queries (model/caps.rs); any other type is
            // not supported.
            _ => match caps::predict(q) {
                Some((statuses, answer)) => {
                    for status in statuses {
                        faults.add(status);
                    }
                    (STATUS_SUCCESS, answer)
                }
                None => segments::answer(q).unwrap_or((STATUS_NOT_SUPPORTED, Vec::new())),
            },
        };
        if status != STATUS_SUCCESS {
            faults.add(status);
        }
        // Only what fits is written.
        (faults, answer.into_iter().take(q.output_size).collect())
    }

    // ------------------------------------------------------------ Lifecycle

    /// `DxgkDdiStopDevice`: a started adapter stops and loses its bases.
    #[must_use]
    pub fn stop_device(&self) -> Faults {
        let mut faults = Faults::default();
        if !self.started {
            faults.add(STATUS_INVALID_DEVICE_STATE);
        }
        faults
    }

    /// Records a successful stop.
    pub fn device_stopped(&mut self) {
        self.started = false;
        self.live.clear();
        self.gpu_stopped();
        self.render.stopped();
        self.engine.restarted();
    }

    /// `DxgkDdiStartDevice`: a stopped adapter starts, with no bases.
    #[must_use]
    pub fn start_device(&self) -> Faults {
        let mut faults = Faults::default();
        if self.started {
            faults.add(STATUS_INVALID_DEVICE_STATE);
        }
        faults
    }

    /// Records a successful start.
    pub fn device_started(&mut self) {
        self.started = true;
        self.engine.restarted();
    }
}

/// The concrete arguments of a create, as the driver reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateArgs<'a> {
    /// `SegmentId`.
    pub segment: u32,
    /// `RangeCount`.
    pub count: u64,
    /// The ranges the driver reads (the first `min(count, MAX_RANGES)`).
    pub ranges: &'a [(u64, u64)],
}

/// The concrete arguments of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryArgs {
    /// `MemoryBasis`.
    pub handle: usize,
    /// `SubrangeIndex`.
    pub index: u64,
    /// `SubrangeOffset`.
    pub offset: u64,
    /// `SubrangeSize`.
    pub size: u64,
    /// `Buffer == NULL`.
    pub buffer_null: bool,
    /// `BufferSize`.
    pub buffer_size: usize,
    /// `Flags`.
    pub flags: u32,
}

/// The concrete arguments of a `DxgkDdiQueryAdapterInfo` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QaiArgs {
    /// `Type`.
    pub ty: DXGK_QUERYADAPTERINFOTYPE,
    /// The input bytes (`None`: `pInputData` NULL), of `InputDataSize`.
    pub input: Option<Vec<u8>>,
    /// `InputDataSize` when `input` is `None`.
    pub input_size: usize,
    /// `pOutputData == NULL`.
    pub output_null: bool,
    /// `OutputDataSize`.
    pub output_size: usize,
}

impl QaiArgs {
    /// The segment id the input carries (a `UINT` at its start).
    #[must_use]
    pub fn input_segment(&self) -> Option<u32> {
        let input = self.input.as_ref()?;
        Some(u32::from_le_bytes(input.get(..4)?.try_into().ok()?))
    }
}
