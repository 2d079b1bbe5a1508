//! Typed values of the memory-basis engine: each raw integer from the OS is
//! converted once, at the trampoline, into one of these.

use crate::foundation::status::{Result, Status};

/// A driver segment id (`DXGK_SEGMENTDESCRIPTOR` numbering, 1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentId(pub u32);

/// A dirty-tracking page size: a power of two, at least 4096 bytes.
///
/// # Invariants
/// `4096 <= 1 << shift <= 1 << 31` (it must fit the `UINT32 PageSize` of the caps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize {
    shift: u32,
}

impl PageSize {
    /// The smallest page size the contract allows.
    pub const MIN: u32 = 4096;

    /// Validates a page size in bytes.
    ///
    /// # Errors
    /// `InvalidParameter` unless `bytes` is a power of two and at least 4096.
    pub fn new(bytes: u32) -> Result<Self> {
        if bytes < Self::MIN || !bytes.is_power_of_two() {
            return Err(Status::InvalidParameter);
        }
        Ok(Self {
            shift: bytes.trailing_zeros(),
        })
    }

    /// The page size in bytes.
    #[must_use]
    pub fn bytes(self) -> u32 {
        // PANIC: shift <= 31 by the type invariant, so this cannot overflow.
        #[allow(clippy::arithmetic_side_effects)]
        let bytes = 1u32 << self.shift;
        bytes
    }

    /// Whether `bytes` is a whole number of pages.
    #[must_use]
    pub fn divides(self, bytes: u64) -> bool {
        bytes.trailing_zeros() >= self.shift
    }

    /// The page holding byte `offset`.
    #[must_use]
    pub fn page_of(self, offset: u64) -> u64 {
        offset >> self.shift
    }

    /// Pages in `bytes`, rounded down.
    #[must_use]
    pub fn pages_in(self, bytes: u64) -> u64 {
        bytes >> self.shift
    }
}

/// A non-empty byte span `[offset, offset + len)` that does not overflow `u64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub offset: u64,
    /// Length in bytes, non-zero.
    pub len: u64,
}

impl Span {
    /// Validates a span.
    ///
    /// # Errors
    /// `InvalidParameter` for an empty span or one whose end overflows.
    pub fn new(offset: u64, len: u64) -> Result<Self> {
        if len == 0 || offset.checked_add(len).is_none() {
            return Err(Status::InvalidParameter);
        }
        Ok(Self { offset, len })
    }

    /// One past the last byte.
    #[must_use]
    pub fn end(self) -> u64 {
        // PANIC: checked in `new`; the fields are only set there.
        #[allow(clippy::arithmetic_side_effects)]
        let end = self.offset + self.len;
        end
    }
}

/// One memory segment as the adapter describes it: what the dirty-tracking
/// layer tracks and the partitioning layer carves VRAM reserves from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    /// Driver segment id.
    pub(crate) id: SegmentId,
    /// Size in bytes.
    pub(crate) size: u64,
    /// Dirty-tracking page size, or `None` for a segment without tracking.
    pub(crate) page: Option<PageSize>,
}

/// A virtual function's index (`vfIndex`, `PartitionId`) as Dxgkrnl passes
/// it: raw and unchecked. The partitioning layer checks it against the
/// partition count once, into its own token; this type only keeps a VF index
/// from being confused with any other `u32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(
    dead_code,
    reason = "the per-VF types of the partitioning layer build on it"
)]
pub(crate) struct VfIndex(pub(crate) u32);
