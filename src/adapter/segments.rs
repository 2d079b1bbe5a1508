//! The adapter's segments as VidMm is told them: the answers of the LEGACY
//! path's `DXGKQAITYPE_QUERYSEGMENT4` and of the PBMM path's set 42-46
//! (`../shared/spec/adapter-start.md` 4.1, 4.2, 4.5). Both describe the same
//! segments, in id order: segment 1, the paging aperture; then the VRAM
//! segments from id 2. The trampolines that write them into the OS's
//! buffers are `crate::ddi::qai_segments`.
//!
//! Choices (none is checked by public sources beyond what the spec cites):
//! - the segments lie one after another in the software GPU's physical
//!   address space, aperture first: `BaseAddress` of a segment is the sum of
//!   the sizes before it (no two segments overlap);
//! - `CommitLimit` = `Size`; no segment is CPU-visible, none is populated
//!   from system memory, none has a CPU host aperture (spec 4.5);
//! - aperture flags: `Aperture` only; VRAM flags: `LocalBudgetGroup` only;
//! - paging buffers: [`PAGING_BUFFER_SIZE`] bytes in the aperture, with
//!   [`PAGING_BUFFER_PRIVATE_DATA_SIZE`] bytes of private data each (the
//!   record naming the buffer, `crate::engine::dma_dir`);
//! - PBMM: `SegmentType` SYSMEM for the aperture, LOCAL for VRAM;
//!   `SlabSize` 4 KiB (the GpuMmu page); one MMU whose `Size` is the whole
//!   address space of the segments (the header's field is undocumented,
//!   spec 8.9) and `DisplayMmuId` 0 (no display).

use dxgk_sys::*;

use crate::basis::Tracker;
use crate::foundation::status::{Result, Status};
use crate::foundation::units::Segment;
use crate::memory::is_aperture;

/// `PagingBufferSegmentId`: the aperture (spec 4.1: 0 or an aperture segment).
pub(crate) const PAGING_BUFFER_SEGMENT_ID: u32 = crate::memory::APERTURE_SEGMENT_ID;
/// `PagingBufferSize`: 64 KiB per paging buffer, a small part of the 64 MiB
/// aperture that the paging DMA pool (spec 2.4) is carved from.
pub(crate) const PAGING_BUFFER_SIZE: u32 = 64 << 10;
/// `PagingBufferPrivateDataSize`: the record BuildPagingBuffer writes into
/// each paging buffer's private data so that the worker finds the buffer's
/// bytes whatever address SubmitCommand(Virtual) names it by
/// (`crate::engine::dma_dir`, `docs/engine.md` "Addresses"). VidMm
/// allocates it per paging buffer from non-paged pool, zeroed.
pub(crate) const PAGING_BUFFER_PRIVATE_DATA_SIZE: u32 =
    crate::engine::dma_dir::PRIVATE_DATA_SIZE as u32;
/// MMUs the PBMM answers describe: the one GpuMmu.
pub(crate) const MMU_COUNT: u16 = 1;

/// Checks the physical adapter index of a segment query: a lone adapter has
/// only index 0.
///
/// # Errors
/// `InvalidParameter` for any other index.
pub(crate) fn check_physical_adapter(index: u32) -> Result<()> {
    if index == 0 {
        Ok(())
    } else {
        Err(Status::InvalidParameter)
    }
}

/// The segment flags VidMm is given for `segment`.
pub(crate) fn flags(segment: &Segment) -> SegmentFlags {
    if is_aperture(segment.id) {
        SegmentFlags::Aperture
    } else {
        SegmentFlags::LocalBudgetGroup
    }
}

/// Each segment with its `BaseAddress`, in id order.
pub(crate) fn with_bases(tracker: &Tracker) -> impl Iterator<Item = (&Segment, u64)> {
    tracker.segments().scan(0u64, |next, segment| {
        let base = *next;
        // Sizes are at most 2^48 and there are at most 9: no overflow.
        *next = next.saturating_add(segment.size);
        Some((segment, base))
    })
}

/// How many segments VidMm is told of (`NbSegment`, `SegmentCount`).
pub(crate) fn count(tracker: &Tracker) -> u16 {
    u16::try_from(tracker.segments().count()).unwrap_or(u16::MAX)
}

fn large(value: u64) -> Result<LARGE_INTEGER> {
    Ok(LARGE_INTEGER {
        QuadPart: i64::try_from(value).map_err(|_| Status::InvalidParameter)?,
    })
}

fn size_t(value: u64) -> Result<SIZE_T> {
    SIZE_T::try_from(value).map_err(|_| Status::InvalidParameter)
}

/// The `DXGK_SEGMENTDESCRIPTOR4` of `segment` at `base`.
///
/// # Errors
/// `InvalidParameter` if a size does not fit the record (not on 64-bit).
pub(crate) fn descriptor4(segment: &Segment, base: u64) -> Result<DXGK_SEGMENTDESCRIPTOR4> {
    let size = size_t(segment.size)?;
    Ok(DXGK_SEGMENTDESCRIPTOR4 {
        Flags: DXGK_SEGMENTFLAGS {
            Value: flags(segment),
        },
        BaseAddress: large(base)?,
        Size: size,
        CommitLimit: size,
        ..DXGK_SEGMENTDESCRIPTOR4::default()
    })
}

/// The `DXGK_SEGMENTDESCRIPTOR5` of `segment` at `base`.
///
/// # Errors
/// `InvalidParameter` if a size does not fit the record (not on 64-bit).
pub(crate) fn descriptor5(segment: &Segment, base: u64) -> Result<DXGK_SEGMENTDESCRIPTOR5> {
    Ok(DXGK_SEGMENTDESCRIPTOR5 {
        SegmentType: if is_aperture(segment.id) {
            DXGK_SEGMENTTYPE_SYSMEM
        } else {
            DXGK_SEGMENTTYPE_LOCAL
        },
        Flags: DXGK_SEGMENTFLAGS {
            Value: flags(segment),
        },
        BaseAddress: large(base)?,
        Size: segment.size,
        SlabSize: DXGK_PAGESIZE_4KB,
        ..DXGK_SEGMENTDESCRIPTOR5::default()
    })
}

/// `DXGK_QUERYPAGINGBUFFERINFOOUT`: the same paging buffers as QUERYSEGMENT4.
pub(crate) fn paging_buffer_info() -> DXGK_QUERYPAGINGBUFFERINFOOUT {
    DXGK_QUERYPAGINGBUFFERINFOOUT {
        PagingBufferSize: PAGING_BUFFER_SIZE,
        PagingBufferPrivateDataSize: PAGING_BUFFER_PRIVATE_DATA_SIZE,
    }
}

/// The one MMU: its `Size` is the end of the last segment.
pub(crate) fn mmu(tracker: &Tracker) -> DXGK_MMUDESCRIPTOR {
    let end = with_bases(tracker)
        .last()
        .map_or(0, |(s, base)| base.saturating_add(s.size));
    DXGK_MMUDESCRIPTOR {
        Flags: DXGK_MMUFLAGS { Value: 0 },
        Size: end,
    }
}
