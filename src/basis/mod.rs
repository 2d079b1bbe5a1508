//! The memory-basis tracker ([`Tracker`]): memory bases, their dirty-bit tracking, and the
//! software dirty-tracking backend. Platform-free (`no_std + alloc`).
//!
//! # Model
//! - A **memory basis** names an ordered list of disjoint byte ranges in one
//!   tracked segment. It is created by `DxgkDdiCreateMemoryBasis` and named by a
//!   generation-checked [`BasisHandle`].
//! - **Tracking** a basis gives it [`dirty::DirtyBits`]: two
//!   [`bitplane::Bitplane`]s of one bit per page of its ranges, concatenated
//!   in `Ranges[]` order with no padding, and an epoch saying which plane
//!   marks go to. Each basis has its own planes, so two tracked bases over
//!   the same pages are independent: querying (and clearing) one never
//!   clears the other's bits.
//! - **Tracking units** are what the "hardware" switches tracking on for:
//!   512 consecutive pages of a segment. Each has a reference count of the
//!   tracked bases covering it; Start increments, Stop decrements, so stopping
//!   one basis keeps every other one tracked. A mark whose pages lie in units
//!   with a zero count is a no-op without touching any bitplane.
//! - The **software backend** ([`Tracker::mark`]) is what sets bits: whoever
//!   writes VRAM calls it after the write, and it sets the page's bit in every
//!   tracked basis that covers the page.
//!
//! # Synchronisation
//! The tracker lives inside the adapter, behind the adapter's lock (see
//! `adapter::registry`): one reader-writer lock per adapter.
//! - Create, Destroy, Start and Stop take it for writing: they change the
//!   table, the planes' existence and the reference counts, so they exclude
//!   each other and everything else. They never run while a query or a mark
//!   is inside the adapter, so a plane is never freed under a harvester or a
//!   marker.
//! - Queries and marks take it for reading and run concurrently with each
//!   other, on any threads. Everything they share is the planes' `AtomicU64`
//!   words, their summaries (one bit per 512 pages) and the epoch; the
//!   protocol on those is what makes a racing write either reported by this
//!   query or still dirty for the next one: a mark sets its bits inside a
//!   grace-period read section, a whole-basis clearing query flips the
//!   epoch, waits for a grace period and then drains the retired plane with
//!   plain loads and stores (see [`dirty`]); every other query runs
//!   the per-word protocol of [`bitplane`] on the active plane. Queries of one
//!   basis are serialised by its own query lock, which marks never take.
//! - No allocation happens on the query or mark path.

pub(crate) mod bitplane;
pub(crate) mod dirty;
#[cfg(all(test, loom))]
mod model_check;
#[cfg(all(test, loom))]
mod model_flip;

use alloc::vec::Vec;
use core::mem::MaybeUninit;

use bitplane::QuerySpan;
use dirty::DirtyBits;

use crate::foundation::fallible::{push, try_vec};
use crate::foundation::handle::{Handle, Table};
use crate::foundation::status::{Result, Status};
use crate::foundation::units::{PageSize, Segment, SegmentId, Span};

/// Tag byte of memory-basis handles.
pub(crate) const BASIS_TAG: u8 = b'B';

/// A decoded memory-basis handle.
pub(crate) type BasisHandle = Handle<BASIS_TAG>;

/// Pages per tracking unit (log2).
const UNIT_SHIFT: u32 = 9;

/// The most ranges one basis may have. Larger `RangeCount`s are rejected
/// before the ranges are read.
pub(crate) const MAX_RANGES: u64 = 65_536;

/// One range of a basis, in bytes, and where its bits start in the plane.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Range {
    span: Span,
    /// Index of the range's first page in the basis's bitplane (valid when
    /// the basis is page-aligned).
    first_bit: u64,
}

impl Range {
    /// The first and last segment page the range touches.
    fn pages(&self, page: PageSize) -> (u64, u64) {
        (
            page.page_of(self.span.offset),
            page.page_of(self.span.end().saturating_sub(1)),
        )
    }

    /// A range as Dxgkrnl passed it; [`Tracker::create`] validates it.
    pub(crate) fn new(offset: u64, size: u64) -> Result<Self> {
        Ok(Self {
            span: Span::new(offset, size)?,
            first_bit: 0,
        })
    }
}

/// A memory basis.
struct Basis {
    /// Index into [`Tracker::segments`].
    segment: usize,
    /// In `Ranges[]` order.
    ranges: Vec<Range>,
    /// Indices into `ranges`, by ascending offset (for marks).
    by_offset: Vec<u32>,
    /// Total pages, when every range is a whole number of pages.
    pages: Option<u64>,
    /// The dirty bits, while tracked.
    plane: Option<DirtyBits>,
}

impl Basis {
    /// Sets the bits of pages `[first, last]` (segment page numbers) that this
    /// basis covers, inside the mark's read section.
    fn mark(&self, section: &dirty::Section, page: PageSize, first: u64, last: u64) {
        let Some(plane) = &self.plane else { return };
        let range = |i: &u32| usize::try_from(*i).ok().and_then(|i| self.ranges.get(i));
        // Ranges are disjoint, so by ascending offset they also end in order.
        let start = self
            .by_offset
            .partition_point(|i| range(i).is_some_and(|r| r.pages(page).1 < first));
        for r in self
            .by_offset
            .get(start..)
            .unwrap_or_default()
            .iter()
            .filter_map(range)
        {
            let (r_first, r_last) = r.pages(page);
            if r_first > last {
                break;
            }
            let from = first.max(r_first);
            let to = last.min(r_last);
            let bit = r.first_bit.saturating_add(from.saturating_sub(r_first));
            plane.set(section, bit, to.saturating_sub(from).saturating_add(1));
        }
    }
}

/// Per-segment state.
struct SegmentState {
    segment: Segment,
    /// Tracking-unit reference counts (empty for untracked segments).
    units: Vec<u32>,
    /// Slots of the tracked bases in this segment (capacity: the table's).
    trackers: Vec<u16>,
}

impl SegmentState {
    /// The units covering pages `[first, last]`.
    fn units_of(&self, first: u64, last: u64) -> &[u32] {
        let (Ok(a), Ok(b)) = (
            usize::try_from(first >> UNIT_SHIFT),
            usize::try_from(last >> UNIT_SHIFT),
        ) else {
            return &[];
        };
        self.units.get(a..=b).unwrap_or_default()
    }

    /// Applies `step` (add or remove one reference) to every unit `ranges` touch.
    fn reference_units(&mut self, page: PageSize, ranges: &[Range], step: fn(u32, u32) -> u32) {
        for r in ranges {
            let (first, last) = r.pages(page);
            self.units_of_mut(first, last)
                .iter_mut()
                .for_each(|u| *u = step(*u, 1));
        }
    }

    fn units_of_mut(&mut self, first: u64, last: u64) -> &mut [u32] {
        let (Ok(a), Ok(b)) = (
            usize::try_from(first >> UNIT_SHIFT),
            usize::try_from(last >> UNIT_SHIFT),
        ) else {
            return &mut [];
        };
        self.units.get_mut(a..=b).unwrap_or_default()
    }
}

/// A read-only view of one memory basis, for the GPU-partitioning code
/// (SetVirtualGpuResources2, the live-migration data).
#[derive(Clone, Copy)]
pub(crate) struct BasisView<'a> {
    /// Its segment.
    pub(crate) segment: SegmentId,
    /// Whether it is tracked (StartDirtyTracking without StopDirtyTracking).
    pub(crate) tracked: bool,
    ranges: &'a [Range],
}

impl BasisView<'_> {
    /// The ranges (segment offset, size in bytes), in `Ranges[]` order.
    pub(crate) fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().map(|r| (r.span.offset, r.span.len))
    }

    /// How many ranges.
    pub(crate) fn range_count(&self) -> usize {
        self.ranges.len()
    }
}

/// What a query asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueryRequest {
    /// `None`: the whole basis; `Some((index, offset, size))`: a span of one range.
    pub(crate) subrange: Option<(u64, u64, u64)>,
    /// Clear the reported bits.
    pub(crate) clear: bool,
}

/// A validated query, ready to write its bits: the span was checked once,
/// by [`Tracker::query`], and is harvested as it is.
pub(crate) struct Harvest<'a> {
    bits: &'a DirtyBits,
    span: QuerySpan<'a>,
    clear: bool,
}

impl Harvest<'_> {
    /// Bytes the caller's buffer must hold: `ceil(pages / 8)`.
    pub(crate) fn bytes_needed(&self) -> usize {
        self.span.bytes()
    }

    /// Writes the span's bits into `out` (only the first
    /// [`Self::bytes_needed`] bytes), clearing them if asked. Once it reads
    /// bits it cannot fail, so bits are never cleared and then lost.
    ///
    /// # Errors
    /// `BufferTooSmall` if `out` is shorter than [`Self::bytes_needed`];
    /// nothing is read, cleared or written then.
    pub(crate) fn write(&self, out: &mut [MaybeUninit<u8>]) -> Result<()> {
        self.bits.harvest(&self.span, out, self.clear)
    }
}

/// The memory-basis tracker of one adapter: its bases, their bitplanes and
/// the tracking units of its segments.
pub(crate) struct Tracker {
    segments: Vec<SegmentState>,
    bases: Table<Basis, BASIS_TAG>,
}

impl Tracker {
    /// A tracker for `segments`, holding at most `capacity` bases.
    ///
    /// # Errors
    /// `InvalidParameter` for a bad capacity; `NoMemory` if allocation fails
    /// (nothing stays allocated then).
    pub(crate) fn new(segments: &[Segment], capacity: usize) -> Result<Self> {
        let bases = Table::new(capacity)?;
        let mut states = try_vec(segments.len())?;
        for segment in segments {
            let units = match segment.page {
                Some(page) => {
                    let pages = page.pages_in(segment.size);
                    let n = usize::try_from(pages.div_ceil(1 << UNIT_SHIFT))
                        .map_err(|_| Status::NoMemory)?;
                    let mut units = try_vec(n)?;
                    units.resize(n, 0);
                    units
                }
                None => Vec::new(),
            };
            let trackers = if segment.page.is_some() {
                try_vec(capacity)?
            } else {
                Vec::new()
            };
            push(
                &mut states,
                SegmentState {
                    segment: *segment,
                    units,
                    trackers,
                },
            )?;
        }
        Ok(Self {
            segments: states,
            bases,
        })
    }

    fn segment_index(&self, id: SegmentId) -> Option<usize> {
        self.segments.iter().position(|s| s.segment.id == id)
    }

    /// `DxgkDdiCreateMemoryBasis`: validates, then publishes. On any error
    /// nothing is kept (the ranges are dropped with the error).
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown or untracked segment, no ranges, too
    /// many ranges, a range outside the segment, or overlapping ranges;
    /// `InsufficientResources` when the table is full; `NoMemory`.
    pub(crate) fn create(
        &mut self,
        segment: SegmentId,
        mut ranges: Vec<Range>,
    ) -> Result<BasisHandle> {
        let index = self
            .segment_index(segment)
            .ok_or(Status::InvalidParameter)?;
        let seg = self
            .segments
            .get(index)
            .ok_or(Status::InvalidParameter)?
            .segment;
        let page = seg.page.ok_or(Status::InvalidParameter)?;
        let count = u64::try_from(ranges.len()).map_err(|_| Status::InvalidParameter)?;
        if count == 0 || count > MAX_RANGES {
            return Err(Status::InvalidParameter);
        }
        if ranges.iter().any(|r| r.span.end() > seg.size) {
            return Err(Status::InvalidParameter);
        }
        if !self.bases.has_room() {
            return Err(Status::InsufficientResources);
        }
        let mut by_offset: Vec<u32> = try_vec(ranges.len())?;
        // Pushed into the reserved capacity: `extend` over a `filter_map`
        // keeps a growth path (and its panic) in the image.
        for i in (0..ranges.len()).filter_map(|i| u32::try_from(i).ok()) {
            push(&mut by_offset, i)?;
        }
        let offset_of = |i: &u32| {
            usize::try_from(*i)
                .ok()
                .and_then(|i| ranges.get(i))
                .map_or(0, |r| r.span.offset)
        };
        crate::foundation::sort::sort_by_key(&mut by_offset, offset_of);
        let sorted = || {
            by_offset
                .iter()
                .filter_map(|i| usize::try_from(*i).ok().and_then(|i| ranges.get(i)))
        };
        if sorted()
            .zip(sorted().skip(1))
            .any(|(a, b)| a.span.end() > b.span.offset)
        {
            return Err(Status::InvalidParameter);
        }
        let aligned = ranges
            .iter()
            .all(|r| page.divides(r.span.offset) && page.divides(r.span.len));
        let pages = if aligned {
            let mut next = 0u64;
            for r in &mut ranges {
                r.first_bit = next;
                next = next
                    .checked_add(page.pages_in(r.span.len))
                    .ok_or(Status::InvalidParameter)?;
            }
            Some(next)
        } else {
            None
        };
        self.bases.insert(Basis {
            segment: index,
            ranges,
            by_offset,
            pages,
            plane: None,
        })
    }

    /// `DxgkDdiDestroyMemoryBasis`: stops tracking if needed, then frees.
    ///
    /// # Errors
    /// `InvalidHandle` for an unknown, stale or NULL handle.
    pub(crate) fn destroy(&mut self, handle: BasisHandle) -> Result<()> {
        if self.bases.get(handle)?.plane.is_some() {
            self.untrack(handle)?;
        }
        self.bases.remove(handle).map(drop)
    }

    /// `DxgkDdiStartDirtyTracking`: a fresh, all-clear plane, and the basis's
    /// tracking units referenced.
    ///
    /// # Errors
    /// `InvalidHandle`; `InvalidDeviceState` if already tracked;
    /// `InvalidParameter` if a range is not a whole number of pages; `NoMemory`.
    pub(crate) fn start(&mut self, handle: BasisHandle) -> Result<()> {
        let basis = self.bases.get(handle)?;
        if basis.plane.is_some() {
            return Err(Status::InvalidDeviceState);
        }
        let pages = basis.pages.ok_or(Status::InvalidParameter)?;
        let segment = basis.segment;
        let plane = DirtyBits::new(pages)?;
        // Everything below is infallible in effect: the tracker list has room
        // for every basis of the table by construction.
        let slot = u16::try_from(handle.slot()).map_err(|_| Status::InvalidHandle)?;
        let seg = self
            .segments
            .get_mut(segment)
            .ok_or(Status::InvalidParameter)?;
        let page = seg.segment.page.ok_or(Status::InvalidParameter)?;
        if seg.trackers.len() >= seg.trackers.capacity() {
            return Err(Status::InsufficientResources);
        }
        let basis = self.bases.get_mut(handle)?;
        // At most `capacity` bases reference a unit: the count cannot saturate.
        seg.reference_units(page, &basis.ranges, u32::saturating_add);
        push(&mut seg.trackers, slot)?;
        basis.plane = Some(plane);
        Ok(())
    }

    /// `DxgkDdiStopDirtyTracking`.
    ///
    /// # Errors
    /// `InvalidHandle`; `InvalidDeviceState` if not tracked.
    pub(crate) fn stop(&mut self, handle: BasisHandle) -> Result<()> {
        if self.bases.get(handle)?.plane.is_none() {
            return Err(Status::InvalidDeviceState);
        }
        self.untrack(handle)
    }

    fn untrack(&mut self, handle: BasisHandle) -> Result<()> {
        let basis = self.bases.get_mut(handle)?;
        let seg = self
            .segments
            .get_mut(basis.segment)
            .ok_or(Status::InvalidParameter)?;
        let page = seg.segment.page.ok_or(Status::InvalidParameter)?;
        seg.reference_units(page, &basis.ranges, u32::saturating_sub);
        if let Some(i) = seg
            .trackers
            .iter()
            .position(|s| usize::from(*s) == handle.slot())
        {
            seg.trackers.swap_remove(i);
        }
        basis.plane = None;
        Ok(())
    }

    /// Validates a `DxgkDdiQueryDirtyBitData` request. Nothing is read or
    /// cleared until [`Harvest::write`].
    ///
    /// # Errors
    /// `InvalidHandle`; `InvalidDeviceState` if the basis is not tracked;
    /// `InvalidParameter` for a bad subrange (index, alignment, bounds, overflow).
    pub(crate) fn query(&self, handle: BasisHandle, request: QueryRequest) -> Result<Harvest<'_>> {
        let basis = self.bases.get(handle)?;
        let plane = basis.plane.as_ref().ok_or(Status::InvalidDeviceState)?;
        let (start, count) = match request.subrange {
            None => (0, plane.bits()),
            Some((index, offset, size)) => {
                let page = self
                    .segments
                    .get(basis.segment)
                    .and_then(|s| s.segment.page)
                    .ok_or(Status::InvalidParameter)?;
                let index = usize::try_from(index).map_err(|_| Status::InvalidParameter)?;
                let range = basis.ranges.get(index).ok_or(Status::InvalidParameter)?;
                if !page.divides(offset) || !page.divides(size) {
                    return Err(Status::InvalidParameter);
                }
                let end = offset.checked_add(size).ok_or(Status::InvalidParameter)?;
                if end > range.span.len {
                    return Err(Status::InvalidParameter);
                }
                let start = range
                    .first_bit
                    .checked_add(page.pages_in(offset))
                    .ok_or(Status::InvalidParameter)?;
                (start, page.pages_in(size))
            }
        };
        Ok(Harvest {
            bits: plane,
            span: plane.span(start, count)?,
            clear: request.clear,
        })
    }

    /// The software dirty-tracking backend: records that `[offset, offset +
    /// len)` of `segment` was written. Call it after the write. Marks on
    /// untracked memory are cheap no-ops; a zero-length mark marks nothing.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown segment or a span outside it or
    /// overflowing (nothing is marked then).
    pub(crate) fn mark(&self, segment: SegmentId, offset: u64, len: u64) -> Result<()> {
        let seg = self
            .segments
            .iter()
            .find(|s| s.segment.id == segment)
            .ok_or(Status::InvalidParameter)?;
        let end = offset.checked_add(len).ok_or(Status::InvalidParameter)?;
        if end > seg.segment.size {
            return Err(Status::InvalidParameter);
        }
        let Some(page) = seg.segment.page else {
            return Ok(());
        };
        if len == 0 {
            return Ok(());
        }
        let (first, last) = (page.page_of(offset), page.page_of(end.saturating_sub(1)));
        if seg.units_of(first, last).iter().all(|u| *u == 0) {
            return Ok(());
        }
        // One read section around every plane access (see `dirty`).
        let section = dirty::enter();
        for slot in &seg.trackers {
            if let Some(basis) = self.bases.at(usize::from(*slot)) {
                basis.mark(&section, page, first, last);
            }
        }
        Ok(())
    }

    fn view<'a>(&'a self, basis: &'a Basis) -> Option<BasisView<'a>> {
        Some(BasisView {
            segment: self.segments.get(basis.segment)?.segment.id,
            tracked: basis.plane.is_some(),
            ranges: &basis.ranges,
        })
    }

    /// The basis named by `handle`.
    ///
    /// # Errors
    /// `InvalidHandle` for an unknown, stale or destroyed handle.
    pub(crate) fn basis(&self, handle: BasisHandle) -> Result<BasisView<'_>> {
        let basis = self.bases.get(handle)?;
        self.view(basis).ok_or(Status::InvalidHandle)
    }

    /// Every live basis, in slot order.
    pub(crate) fn bases(&self) -> impl Iterator<Item = BasisView<'_>> {
        self.bases.iter().filter_map(|basis| self.view(basis))
    }

    /// The segments this tracker knows.
    pub(crate) fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.segments.iter().map(|s| &s.segment)
    }
}
