//! What a dirty mark reads, reachable with no lock ([`Marks`]): an adapter's
//! segments, their tracking units' reference counts (atomics), and per
//! basis-table slot the tracked basis there ([`Tracked`]: its ranges and its
//! dirty bits), each in a [`Published`] slot read inside a grace-period read
//! section (`crate::kernel::grace`).
//!
//! The tracker ([`super::Tracker`], behind its own lock) changes it: Start
//! publishes a basis's [`Tracked`] into its slot and then counts its units;
//! Stop (and Destroy of a tracked basis) uncounts them, then empties the
//! slot, which waits for the marks in flight before dropping the slot's
//! reference. Queries reach the same [`Tracked`] through the tracker's own
//! reference. The adapter table publishes each started adapter's [`Marks`]
//! the same way (`adapter::registry`), so a mark looks its adapter up, and
//! everything under it, with loads only.

use alloc::vec::Vec;

use super::dirty::DirtyBits;
use super::dirty::Section;
use super::{Range, UNIT_SHIFT};
use crate::foundation::fallible::{push, try_vec};
use crate::foundation::status::{Result, Status};
use crate::foundation::units::{PageSize, Segment, SegmentId};
use crate::kernel::lazy::Published;
use crate::kernel::sync::{AtomicU32, AtomicU64, Ordering};

/// A tracked basis as marks see it: its ranges and its dirty bits.
pub(crate) struct Tracked {
    /// In `Ranges[]` order, `first_bit` set.
    ranges: Vec<Range>,
    /// Indices into `ranges`, by ascending offset.
    by_offset: Vec<u32>,
    /// The dirty bits.
    pub(super) bits: DirtyBits,
}

impl Tracked {
    /// A copy of a basis's ranges with an all-clear plane of `pages` bits.
    ///
    /// # Errors
    /// `NoMemory`.
    pub(super) fn new(ranges: &[Range], by_offset: &[u32], pages: u64) -> Result<Self> {
        let mut r = try_vec(ranges.len())?;
        for range in ranges {
            push(&mut r, *range)?;
        }
        let mut b = try_vec(by_offset.len())?;
        for i in by_offset {
            push(&mut b, *i)?;
        }
        Ok(Self {
            ranges: r,
            by_offset: b,
            bits: DirtyBits::new(pages)?,
        })
    }

    /// Sets the bits of pages `[first, last]` (segment page numbers) that this
    /// basis covers, inside the mark's read section.
    fn mark(&self, section: &Section, page: PageSize, first: u64, last: u64) {
        if let [r] = self.ranges.as_slice() {
            // One range (the common basis): no search.
            let (r_first, r_last) = r.pages(page);
            if r_first <= last && first <= r_last {
                let from = first.max(r_first);
                let to = last.min(r_last);
                let bit = r.first_bit.saturating_add(from.saturating_sub(r_first));
                self.bits
                    .set(section, bit, to.saturating_sub(from).saturating_add(1));
            }
            return;
        }
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
            self.bits
                .set(section, bit, to.saturating_sub(from).saturating_add(1));
        }
    }
}

/// One segment, as marks see it.
pub(super) struct MarkSegment {
    pub(super) segment: Segment,
    /// Tracking-unit reference counts (empty for untracked segments).
    units: Vec<AtomicU32>,
    /// Per basis-table slot, the tracked basis there (empty for untracked
    /// segments; else one per slot of the table).
    bases: Vec<Published<Tracked>>,
    /// One past the highest slot of `bases` that may be filled: marks look
    /// at `bases[..high]` only.
    high: AtomicU32,
}

impl MarkSegment {
    fn new(segment: Segment, capacity: usize) -> Result<Self> {
        let (units, bases) = match segment.page {
            Some(page) => {
                let n = usize::try_from(page.pages_in(segment.size).div_ceil(1 << UNIT_SHIFT))
                    .map_err(|_| Status::NoMemory)?;
                let mut units = try_vec(n)?;
                (0..n).try_for_each(|_| push(&mut units, AtomicU32::new(0)))?;
                let mut bases = try_vec(capacity)?;
                (0..capacity).try_for_each(|_| push(&mut bases, Published::empty()))?;
                (units, bases)
            }
            None => (Vec::new(), Vec::new()),
        };
        Ok(Self {
            segment,
            units,
            bases,
            high: AtomicU32::new(0),
        })
    }

    /// The units covering pages `[first, last]`.
    fn units_of(&self, first: u64, last: u64) -> &[AtomicU32] {
        let (Ok(a), Ok(b)) = (
            usize::try_from(first >> UNIT_SHIFT),
            usize::try_from(last >> UNIT_SHIFT),
        ) else {
            return &[];
        };
        self.units.get(a..=b).unwrap_or_default()
    }

    /// Adds one reference (`add`) or removes one to every unit `ranges`
    /// touch. Only the tracker's writers call it, one at a time (its lock).
    pub(super) fn reference_units(&self, page: PageSize, ranges: &[Range], add: bool) {
        for r in ranges {
            let (first, last) = r.pages(page);
            for u in self.units_of(first, last) {
                // At most `capacity` bases reference a unit and each removal
                // follows its addition: neither wraps.
                if add {
                    u.fetch_add(1, Ordering::SeqCst);
                } else {
                    u.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
    }

    /// Publishes `tracked` in `slot` (empty before: no wait).
    ///
    /// # Errors
    /// `InvalidHandle` for a slot past the table.
    pub(super) fn publish(
        &self,
        slot: usize,
        tracked: crate::kernel::lazy::Shared<Tracked>,
    ) -> Result<()> {
        let entry = self.bases.get(slot).ok_or(Status::InvalidHandle)?;
        let high = u32::try_from(slot.saturating_add(1)).map_err(|_| Status::InvalidHandle)?;
        entry.replace(Some(tracked));
        self.high.fetch_max(high, Ordering::SeqCst);
        Ok(())
    }

    /// Empties `slot`: returns once no mark can still reach what it held.
    pub(super) fn unpublish(&self, slot: usize) {
        if let Some(entry) = self.bases.get(slot) {
            entry.replace(None);
        }
        let high = self
            .bases
            .iter()
            .rposition(|b| !b.is_empty())
            .map_or(0, |i| i.saturating_add(1));
        self.high
            .store(u32::try_from(high).unwrap_or(u32::MAX), Ordering::SeqCst);
    }
}

/// An adapter's segments as marks see them (module docs).
pub(crate) struct Marks {
    /// The adapter handle (`hAdapter` value) this is published for, set by
    /// the adapter table before it publishes it (0: none).
    owner: AtomicU64,
    pub(super) segments: Vec<MarkSegment>,
}

impl Marks {
    /// The state of `segments`, no basis tracked, for a table of `capacity`.
    ///
    /// # Errors
    /// `NoMemory`.
    pub(super) fn new(segments: &[Segment], capacity: usize) -> Result<Self> {
        let mut states = try_vec(segments.len())?;
        for segment in segments {
            push(&mut states, MarkSegment::new(*segment, capacity)?)?;
        }
        Ok(Self {
            owner: AtomicU64::new(0),
            segments: states,
        })
    }

    /// The adapter handle this is published for.
    pub(crate) fn owner(&self) -> u64 {
        self.owner.load(Ordering::SeqCst)
    }

    /// Records the adapter handle this is published for.
    pub(crate) fn set_owner(&self, owner: u64) {
        self.owner.store(owner, Ordering::SeqCst);
    }

    /// The software dirty-tracking backend: records that `[offset, offset +
    /// len)` of `segment` was written, inside the read section `section`.
    /// Loads and the planes' atomic ORs only: no lock, no allocation.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown segment or a span outside it or
    /// overflowing (nothing is marked then).
    pub(crate) fn mark(
        &self,
        section: &Section,
        segment: SegmentId,
        offset: u64,
        len: u64,
    ) -> Result<()> {
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
        if seg
            .units_of(first, last)
            .iter()
            .all(|u| u.load(Ordering::SeqCst) == 0)
        {
            return Ok(());
        }
        let high = usize::try_from(seg.high.load(Ordering::SeqCst)).unwrap_or(usize::MAX);
        for entry in seg.bases.get(..high).unwrap_or(&seg.bases) {
            if let Some(tracked) = entry.get(section) {
                tracked.mark(section, page, first, last);
            }
        }
        Ok(())
    }
}
