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
//! The tracker lives inside the started adapter behind its own
//! reader-writer lock, the basis lock (`adapter::Started::bases`), taken
//! under the adapter lock held shared and innermost (`docs/locking.md`).
//! - Create, Destroy, Start and Stop take it for writing: they change the
//!   table, the planes' existence and the reference counts, so they exclude
//!   each other and the tracker's readers; every other DDI of the adapter
//!   (a VF's migration work among them) runs on.
//! - Queries take it for reading only to look their basis up and take a
//!   reference of its planes ([`Harvest`]); they harvest with it released,
//!   concurrently with each other and with marks, on any threads. The
//!   migration code takes it for reading around its reads of the bases.
//! - Marks take **no lock** ([`marks`]): what they read (the segments, the
//!   tracking units' counts as atomics, per table slot the tracked basis
//!   there) is an adapter's [`marks::Marks`], which the adapter table
//!   publishes when the adapter starts; a mark reads it inside a grace-period
//!   read section (`crate::kernel::grace`). Stop and Destroy unpublish a
//!   basis first, then wait for the marks in flight (`grace::synchronize`),
//!   then drop it; a stop of the adapter does the same with its whole
//!   `Marks`. So a plane is never freed under a marker, nor (by the lock)
//!   under a harvester.
//! - Everything queries and marks share is the planes' `AtomicU64` words,
//!   their summaries (one bit per 512 pages) and the epoch; the protocol on
//!   those is what makes a racing write either reported by this query or
//!   still dirty for the next one: a mark sets its bits inside a
//!   grace-period read section, a whole-basis clearing query flips the
//!   epoch, waits for a grace period and then drains the retired plane with
//!   plain loads and stores (see [`dirty`]); every other query runs the
//!   per-word protocol of [`bitplane`] on the active plane. Queries of one basis are
//!   serialised by its own query lock, which marks never take.
//! - No allocation happens on the query or mark path.

pub(crate) mod bitplane;
pub(crate) mod dirty;
mod emit;
pub(crate) mod marks;
#[cfg(all(test, loom))]
mod model_check;
#[cfg(all(test, loom))]
mod model_flip;

use alloc::vec::Vec;
use core::mem::MaybeUninit;

use bitplane::QuerySpan;
use marks::{Marks, Tracked};

use crate::foundation::fallible::{push, try_vec};
use crate::foundation::handle::{Handle, Table};
use crate::foundation::status::{Result, Status};
use crate::foundation::units::{PageSize, Segment, SegmentId, Span};
use crate::kernel::lazy::Shared;

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
    pub(super) fn pages(&self, page: PageSize) -> (u64, u64) {
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
    /// Index into the tracker's segments.
    segment: usize,
    /// In `Ranges[]` order.
    ranges: Vec<Range>,
    /// Indices into `ranges`, by ascending offset (for marks).
    by_offset: Vec<u32>,
    /// Total pages, when every range is a whole number of pages.
    pages: Option<u64>,
    /// Its ranges and dirty bits, while tracked: the tracker's reference
    /// (queries); the marks reach the same through `Marks`.
    tracked: Option<Shared<Tracked>>,
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
/// by [`Tracker::query`]. It holds its own reference of the basis's planes,
/// so it is harvested with no tracker lock held (a Stop meanwhile only
/// drops the tracker's reference: the planes go with this one).
pub(crate) struct Harvest {
    tracked: Shared<Tracked>,
    start: u64,
    count: u64,
    bytes: usize,
    clear: bool,
}

impl Harvest {
    /// Bytes the caller's buffer must hold: `ceil(pages / 8)`.
    pub(crate) fn bytes_needed(&self) -> usize {
        self.bytes
    }

    /// Writes the span's bits into `out` (only the first
    /// [`Self::bytes_needed`] bytes), clearing them if asked. Once it reads
    /// bits it cannot fail, so bits are never cleared and then lost.
    ///
    /// # Errors
    /// `BufferTooSmall` if `out` is shorter than [`Self::bytes_needed`];
    /// nothing is read, cleared or written then.
    pub(crate) fn write(&self, out: &mut [MaybeUninit<u8>]) -> Result<()> {
        let bits = &self.tracked.bits;
        let span: QuerySpan<'_> = bits.span(self.start, self.count)?;
        bits.harvest(&span, out, self.clear)
    }
}

/// The memory-basis tracker of one adapter: its bases, their bitplanes and
/// the tracking units of its segments.
pub(crate) struct Tracker {
    /// What marks read (the tracker's reference; the adapter table
    /// publishes another).
    marks: Shared<Marks>,
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
        let marks = Shared::try_new(Marks::new(segments, capacity)?)?;
        Ok(Self { marks, bases })
    }

    /// What marks read, for the adapter table to publish.
    pub(crate) fn marks(&self) -> &Shared<Marks> {
        &self.marks
    }

    fn segment_index(&self, id: SegmentId) -> Option<usize> {
        self.marks.segments.iter().position(|s| s.segment.id == id)
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
            .marks
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
            tracked: None,
        })
    }

    /// `DxgkDdiDestroyMemoryBasis`: stops tracking if needed, then frees.
    ///
    /// # Errors
    /// `InvalidHandle` for an unknown, stale or NULL handle.
    pub(crate) fn destroy(&mut self, handle: BasisHandle) -> Result<()> {
        if self.bases.get(handle)?.tracked.is_some() {
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
        if basis.tracked.is_some() {
            return Err(Status::InvalidDeviceState);
        }
        let pages = basis.pages.ok_or(Status::InvalidParameter)?;
        let seg = self
            .marks
            .segments
            .get(basis.segment)
            .ok_or(Status::InvalidParameter)?;
        let page = seg.segment.page.ok_or(Status::InvalidParameter)?;
        let tracked = Shared::try_new(Tracked::new(&basis.ranges, &basis.by_offset, pages)?)?;
        let published = tracked.try_clone().ok_or(Status::NoMemory)?;
        // Published before its units are counted: a mark that sees the
        // units counted sees the basis.
        seg.publish(handle.slot(), published)?;
        seg.reference_units(page, &basis.ranges, true);
        self.bases.get_mut(handle)?.tracked = Some(tracked);
        Ok(())
    }

    /// `DxgkDdiStopDirtyTracking`.
    ///
    /// # Errors
    /// `InvalidHandle`; `InvalidDeviceState` if not tracked.
    pub(crate) fn stop(&mut self, handle: BasisHandle) -> Result<()> {
        if self.bases.get(handle)?.tracked.is_none() {
            return Err(Status::InvalidDeviceState);
        }
        self.untrack(handle)
    }

    /// Uncounts the basis's units, unpublishes it (waiting for the marks in
    /// flight), then drops the tracker's reference: its plane is freed here.
    fn untrack(&mut self, handle: BasisHandle) -> Result<()> {
        let basis = self.bases.get(handle)?;
        let seg = self
            .marks
            .segments
            .get(basis.segment)
            .ok_or(Status::InvalidParameter)?;
        let page = seg.segment.page.ok_or(Status::InvalidParameter)?;
        seg.reference_units(page, &basis.ranges, false);
        seg.unpublish(handle.slot());
        self.bases.get_mut(handle)?.tracked = None;
        Ok(())
    }

    /// Validates a `DxgkDdiQueryDirtyBitData` request. Nothing is read or
    /// cleared until [`Harvest::write`].
    ///
    /// # Errors
    /// `InvalidHandle`; `InvalidDeviceState` if the basis is not tracked;
    /// `InvalidParameter` for a bad subrange (index, alignment, bounds, overflow).
    pub(crate) fn query(&self, handle: BasisHandle, request: QueryRequest) -> Result<Harvest> {
        let basis = self.bases.get(handle)?;
        let tracked = basis.tracked.as_ref().ok_or(Status::InvalidDeviceState)?;
        let plane = &tracked.bits;
        let (start, count) = match request.subrange {
            None => (0, plane.bits()),
            Some((index, offset, size)) => {
                let page = self
                    .marks
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
        let bytes = plane.span(start, count)?.bytes();
        Ok(Harvest {
            tracked: tracked.try_clone().ok_or(Status::NoMemory)?,
            start,
            count,
            bytes,
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
    #[cfg(all(test, loom))]
    pub(crate) fn mark(&self, segment: SegmentId, offset: u64, len: u64) -> Result<()> {
        let section = dirty::enter();
        self.marks.mark(&section, segment, offset, len)
    }

    fn view<'a>(&'a self, basis: &'a Basis) -> Option<BasisView<'a>> {
        Some(BasisView {
            segment: self.marks.segments.get(basis.segment)?.segment.id,
            tracked: basis.tracked.is_some(),
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
        self.marks.segments.iter().map(|s| &s.segment)
    }
}
