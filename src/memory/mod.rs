//! The adapter's memory: its segments (the driver's paging aperture, then the
//! local memory segments, VRAM) and the dirty-tracking page size of each, as
//! a validated configuration.
//!
//! The segment layout follows `../shared/spec/adapter-start.md` 4.5: segment 1
//! is always the paging aperture ([`APERTURE_SEGMENT_ID`]), created here and
//! never part of a loader's configuration; the VRAM segments follow with ids
//! 2, 3, ... in order (a `DXGK_SEGMENTDESCRIPTOR4` array has no id field: a
//! segment's id is its 1-based index in the array, so the ids have no gaps).
//!
//! On Windows the adapter uses [`MemoryConfig::builtin`]. On the host, a loader
//! may replace the VRAM segments between AddDevice and the first StartDevice
//! through `gpup_host_set_memory_config` (see `host`); that is the only caller
//! of the validating constructor today, hence the `dead_code` allowances on
//! Windows builds.

pub(crate) mod backing;

use crate::foundation::handle;
use crate::foundation::status::{Result, Status};
use crate::foundation::units::{PageSize, Segment, SegmentId};

/// The driver segment id of the adapter's paging aperture: a small linear
/// aperture segment, always segment 1, created by the driver (never by a
/// memory configuration) and never tracked; it holds paging and DMA buffers
/// (`PagingBufferSegmentId`). See `../shared/spec/adapter-start.md` 4.5.
pub(crate) const APERTURE_SEGMENT_ID: u32 = 1;
/// The paging aperture's size: 64 MiB (room for the paging DMA pool and the
/// DMA buffers of the one software node; spec 2.4, 4.5).
pub(crate) const APERTURE_SIZE: u64 = 64 << 20;
/// The first driver segment id a VRAM (memory) segment may have.
pub(crate) const FIRST_VRAM_SEGMENT_ID: u32 = 2;

/// The most VRAM segments a configuration gives (the host record's array).
pub(crate) const MAX_VRAM_SEGMENTS: usize = 8;
/// The most segments an adapter describes: the aperture and the VRAM segments.
pub(crate) const MAX_SEGMENTS: usize = MAX_VRAM_SEGMENTS + 1;
/// The largest segment accepted (256 TiB), which bounds tracking metadata.
#[cfg_attr(target_os = "windows", allow(dead_code))]
pub(crate) const MAX_SEGMENT_SIZE: u64 = 1 << 48;

/// The built-in configuration: one VRAM segment, id 2, of 1 GiB, tracked
/// with 4 KiB pages, and room for 256 memory bases.
pub(crate) const BUILTIN_SEGMENT_SIZE: u64 = 1 << 30;
/// Page size of the built-in segment.
pub(crate) const BUILTIN_PAGE_SIZE: u32 = 4096;
/// Memory bases per adapter in the built-in configuration.
pub(crate) const BUILTIN_MAX_BASES: usize = 256;

/// Validated memory configuration.
///
/// # Invariants
/// `1 < count <= MAX_SEGMENTS`; segment `i` (0-based) of the first `count`
/// has id `i + 1`; segment 0 is the aperture (untracked,
/// [`APERTURE_SIZE`]); the others have non-zero sizes of at most
/// `MAX_SEGMENT_SIZE` that are whole pages of their page size;
/// `1 <= max_bases <= handle::MAX_CAPACITY`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemoryConfig {
    segments: [Segment; MAX_SEGMENTS],
    count: usize,
    max_bases: usize,
}

/// A VRAM segment as a loader describes it: `page_size` 0 means untracked.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(target_os = "windows", allow(dead_code))]
pub(crate) struct SegmentDesc {
    pub(crate) id: u32,
    pub(crate) size: u64,
    pub(crate) page_size: u32,
}

/// The paging aperture, segment 1.
const fn aperture() -> Segment {
    Segment {
        id: SegmentId(APERTURE_SEGMENT_ID),
        size: APERTURE_SIZE,
        page: None,
    }
}

impl MemoryConfig {
    /// The configuration used unless a loader sets another: the aperture,
    /// then one 1 GiB VRAM segment tracked in 4 KiB pages (the built-in
    /// configuration tracks every VRAM segment, as live migration needs).
    pub(crate) fn builtin() -> Self {
        let vram = Segment {
            id: SegmentId(FIRST_VRAM_SEGMENT_ID),
            size: BUILTIN_SEGMENT_SIZE,
            page: PageSize::new(BUILTIN_PAGE_SIZE).ok(),
        };
        let mut segments = [vram; MAX_SEGMENTS];
        if let Some(first) = segments.first_mut() {
            *first = aperture();
        }
        Self {
            segments,
            count: 2,
            max_bases: BUILTIN_MAX_BASES,
        }
    }

    /// Validates a configuration of the VRAM segments (the aperture is added).
    ///
    /// # Errors
    /// - `AlreadyRegistered` for a segment that names id 1, the aperture's;
    /// - `InvalidParameter` for no or too many segments, ids other than 2,
    ///   3, ... in order (0 and duplicates included), a size of 0 or above
    ///   `MAX_SEGMENT_SIZE`, a page size that is neither 0 nor a power of two
    ///   of at least 4096, a size that is not whole pages, or a base capacity
    ///   of 0 or above the handle table's maximum.
    #[cfg_attr(target_os = "windows", allow(dead_code))]
    pub(crate) fn new(descs: &[SegmentDesc], max_bases: usize) -> Result<Self> {
        if descs.iter().any(|d| d.id == APERTURE_SEGMENT_ID) {
            return Err(Status::AlreadyRegistered);
        }
        if descs.is_empty()
            || descs.len() > MAX_VRAM_SEGMENTS
            || max_bases == 0
            || max_bases > handle::MAX_CAPACITY
        {
            return Err(Status::InvalidParameter);
        }
        let mut config = Self::builtin();
        config.max_bases = max_bases;
        config.count = descs.len().saturating_add(1);
        let vram = config.segments.iter_mut().skip(1);
        for ((slot, desc), id) in vram.zip(descs).zip(FIRST_VRAM_SEGMENT_ID..) {
            if desc.id != id || desc.size == 0 || desc.size > MAX_SEGMENT_SIZE {
                return Err(Status::InvalidParameter);
            }
            let page = match desc.page_size {
                0 => None,
                bytes => Some(PageSize::new(bytes)?),
            };
            if page.is_some_and(|p| !p.divides(desc.size)) {
                return Err(Status::InvalidParameter);
            }
            *slot = Segment {
                id: SegmentId(desc.id),
                size: desc.size,
                page,
            };
        }
        Ok(config)
    }

    /// Every segment, by id: the aperture first, then the VRAM segments.
    pub(crate) fn segments(&self) -> &[Segment] {
        self.segments.get(..self.count).unwrap_or_default()
    }

    /// How many memory bases the adapter holds at most.
    pub(crate) fn max_bases(&self) -> usize {
        self.max_bases
    }
}

/// Whether `segment` is the paging aperture.
#[must_use]
pub(crate) fn is_aperture(segment: SegmentId) -> bool {
    segment.0 == APERTURE_SEGMENT_ID
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(id: u32, size: u64, page_size: u32) -> SegmentDesc {
        SegmentDesc {
            id,
            size,
            page_size,
        }
    }

    #[test]
    fn the_aperture_is_always_segment_one_and_vram_follows() {
        let builtin = MemoryConfig::builtin();
        let ids: alloc::vec::Vec<u32> = builtin.segments().iter().map(|s| s.id.0).collect();
        assert_eq!(ids, [1, 2]);
        assert_eq!(builtin.segments()[0], aperture());
        assert_eq!(builtin.segments()[1].size, 1 << 30);
        assert_eq!(builtin.segments()[1].page.map(PageSize::bytes), Some(4096));
        let two = MemoryConfig::new(&[desc(2, 1 << 20, 4096), desc(3, 1 << 20, 0)], 8).unwrap();
        let ids: alloc::vec::Vec<u32> = two.segments().iter().map(|s| s.id.0).collect();
        assert_eq!(ids, [1, 2, 3]);
        assert!(
            two.segments()[2].page.is_none(),
            "untracked VRAM stays possible"
        );
    }

    #[test]
    fn a_configuration_naming_the_aperture_or_leaving_gaps_is_refused() {
        let one = [desc(1, 1 << 20, 4096)];
        assert_eq!(
            MemoryConfig::new(&one, 8).err(),
            Some(Status::AlreadyRegistered)
        );
        let later = [desc(2, 1 << 20, 4096), desc(1, 1 << 20, 4096)];
        assert_eq!(
            MemoryConfig::new(&later, 8).err(),
            Some(Status::AlreadyRegistered)
        );
        for ids in [[3u32, 4], [2, 4], [3, 2], [2, 2], [0, 2]] {
            let descs = ids.map(|id| desc(id, 1 << 20, 4096));
            assert_eq!(
                MemoryConfig::new(&descs, 8).err(),
                Some(Status::InvalidParameter),
                "{ids:?}"
            );
        }
        let nine: alloc::vec::Vec<SegmentDesc> = (2..11).map(|id| desc(id, 4096, 4096)).collect();
        assert_eq!(
            MemoryConfig::new(&nine, 8).err(),
            Some(Status::InvalidParameter)
        );
        let eight = nine.get(..8).unwrap();
        assert_eq!(MemoryConfig::new(eight, 8).unwrap().segments().len(), 9);
    }
}
