//! The adapter's memory: its local memory segments (VRAM) and the
//! dirty-tracking page size of each, as a validated configuration.
//!
//! On Windows the adapter uses [`MemoryConfig::builtin`]. On the host, a loader
//! may replace it between AddDevice and the first StartDevice through
//! `gpup_host_set_memory_config` (see `host`); that is the only caller
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
#[allow(dead_code)] // Being wired in (issue 16).
pub(crate) const APERTURE_SEGMENT_ID: u32 = 1;
/// The paging aperture's size: 64 MiB.
#[allow(dead_code)] // Being wired in (issue 16).
pub(crate) const APERTURE_SIZE: u64 = 64 << 20;
/// The first driver segment id a VRAM (memory) segment may have.
#[allow(dead_code)] // Being wired in (issue 16).
pub(crate) const FIRST_VRAM_SEGMENT_ID: u32 = 2;

/// The most segments an adapter describes.
pub(crate) const MAX_SEGMENTS: usize = 8;
/// The largest segment accepted (256 TiB), which bounds tracking metadata.
#[cfg_attr(target_os = "windows", allow(dead_code))]
pub(crate) const MAX_SEGMENT_SIZE: u64 = 1 << 48;

/// The built-in configuration: one local segment, id 1, of 1 GiB, tracked
/// with 4 KiB pages, and room for 256 memory bases.
pub(crate) const BUILTIN_SEGMENT_SIZE: u64 = 1 << 30;
/// Page size of the built-in segment.
pub(crate) const BUILTIN_PAGE_SIZE: u32 = 4096;
/// Memory bases per adapter in the built-in configuration.
pub(crate) const BUILTIN_MAX_BASES: usize = 256;

/// Validated memory configuration.
///
/// # Invariants
/// `count <= MAX_SEGMENTS`; the first `count` segments have distinct non-zero
/// ids, non-zero sizes of at most `MAX_SEGMENT_SIZE`, and sizes that are whole
/// pages of their page size; `1 <= max_bases <= handle::MAX_CAPACITY`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemoryConfig {
    segments: [Segment; MAX_SEGMENTS],
    count: usize,
    max_bases: usize,
}

/// A segment as a loader describes it: `page_size` 0 means untracked.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(target_os = "windows", allow(dead_code))]
pub(crate) struct SegmentDesc {
    pub(crate) id: u32,
    pub(crate) size: u64,
    pub(crate) page_size: u32,
}

impl MemoryConfig {
    /// The configuration used unless a loader sets another.
    pub(crate) fn builtin() -> Self {
        let segment = Segment {
            id: SegmentId(1),
            size: BUILTIN_SEGMENT_SIZE,
            page: PageSize::new(BUILTIN_PAGE_SIZE).ok(),
        };
        Self {
            segments: [segment; MAX_SEGMENTS],
            count: 1,
            max_bases: BUILTIN_MAX_BASES,
        }
    }

    /// Validates a configuration.
    ///
    /// # Errors
    /// `InvalidParameter` for no or too many segments, a zero or duplicate id,
    /// a size of 0 or above `MAX_SEGMENT_SIZE`, a page size that is not a
    /// power of two of at least 4096, a size that is not whole pages, or a
    /// base capacity of 0 or above the handle table's maximum.
    #[cfg_attr(target_os = "windows", allow(dead_code))]
    pub(crate) fn new(descs: &[SegmentDesc], max_bases: usize) -> Result<Self> {
        if descs.is_empty()
            || descs.len() > MAX_SEGMENTS
            || max_bases == 0
            || max_bases > handle::MAX_CAPACITY
        {
            return Err(Status::InvalidParameter);
        }
        let mut config = Self::builtin();
        config.max_bases = max_bases;
        config.count = descs.len();
        for (slot, desc) in config.segments.iter_mut().zip(descs) {
            if desc.id == 0 || desc.size == 0 || desc.size > MAX_SEGMENT_SIZE {
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
        let ids = config.segments();
        if ids
            .iter()
            .enumerate()
            .any(|(i, a)| ids.iter().skip(i.saturating_add(1)).any(|b| b.id == a.id))
        {
            return Err(Status::InvalidParameter);
        }
        Ok(config)
    }

    /// The configured segments.
    pub(crate) fn segments(&self) -> &[Segment] {
        self.segments.get(..self.count).unwrap_or_default()
    }

    /// How many memory bases the adapter holds at most.
    pub(crate) fn max_bases(&self) -> usize {
        self.max_bases
    }
}
