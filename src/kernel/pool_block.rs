//! How a Rust allocation request (`Layout`) maps onto a pool block.
//!
//! The pool aligns every block to 16 bytes on x64, and blocks of a page or
//! more to a page (ExAllocatePool2 and ExAllocatePoolWithTag, Remarks). A
//! layout that needs more is served from a larger block: the object starts at
//! the first suitably aligned address at least one word into the block, and
//! the word just before it records where the block starts, for the free.

use core::alloc::Layout;

/// `MEMORY_ALLOCATION_ALIGNMENT` on x64: every pool block is this aligned.
pub(crate) const POOL_ALIGNMENT: usize = 16;
/// `PAGE_SIZE` on x64: blocks of this size or more are page aligned.
pub(crate) const PAGE_SIZE: usize = 4096;
/// Size of the back-pointer word in front of a padded object.
const HEADER: usize = core::mem::size_of::<usize>();

/// One allocation's pool block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockPlan {
    /// The pool's own alignment suffices: the object is the block.
    Direct {
        /// Bytes to request.
        size: usize,
    },
    /// The object sits inside a larger block, after a back-pointer word.
    Padded {
        /// Bytes to request: the object's size plus its alignment.
        size: usize,
        /// The object's alignment (a power of two above [`POOL_ALIGNMENT`]).
        align: usize,
    },
}

impl BlockPlan {
    /// The block for `layout`, or `None` when its size cannot be requested
    /// (the padded size overflows).
    pub(crate) fn for_layout(layout: Layout) -> Option<Self> {
        Self::for_size_align(layout.size(), layout.align())
    }

    /// [`Self::for_layout`] on the layout's parts (`align` a power of two).
    /// A `Layout`'s size is at most `isize::MAX` rounded down to `align`, so
    /// the overflow refused here cannot come from a valid layout; it is
    /// checked rather than assumed.
    fn for_size_align(size: usize, align: usize) -> Option<Self> {
        if align <= POOL_ALIGNMENT || (align <= PAGE_SIZE && size >= PAGE_SIZE) {
            return Some(Self::Direct { size });
        }
        // `align` > 16 and a power of two, so the first `align` boundary past
        // the block start is at least 16 bytes in (room for the header) and at
        // most `align` bytes in (so `size + align` bytes always suffice).
        let size = size.checked_add(align)?;
        Some(Self::Padded { size, align })
    }

    /// Bytes to request from the pool.
    pub(crate) fn request_size(self) -> usize {
        match self {
            Self::Direct { size } | Self::Padded { size, .. } => size,
        }
    }

    /// Offset of the object from the start of a block at address `block`
    /// (which the pool aligned to [`POOL_ALIGNMENT`]).
    pub(crate) fn object_offset(self, block: usize) -> usize {
        match self {
            Self::Direct { .. } => 0,
            Self::Padded { align, .. } => {
                let mask = align.wrapping_sub(1);
                let object = block.wrapping_add(align) & !mask;
                object.wrapping_sub(block)
            }
        }
    }

    /// Offset of the back-pointer word from the object (it lies just before).
    pub(crate) const HEADER_BEFORE_OBJECT: usize = HEADER;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(size: usize, align: usize) -> Option<BlockPlan> {
        BlockPlan::for_layout(Layout::from_size_align(size, align).expect("valid layout"))
    }

    #[test]
    fn alignments_the_pool_guarantees_are_served_directly() {
        assert_eq!(plan(24, 8), Some(BlockPlan::Direct { size: 24 }));
        assert_eq!(plan(1, 16), Some(BlockPlan::Direct { size: 1 }));
        assert_eq!(plan(4096, 4096), Some(BlockPlan::Direct { size: 4096 }));
        assert_eq!(plan(10_000, 64), Some(BlockPlan::Direct { size: 10_000 }));
    }

    #[test]
    fn larger_alignments_are_padded_not_refused() {
        assert_eq!(
            plan(100, 64),
            Some(BlockPlan::Padded {
                size: 164,
                align: 64
            })
        );
        assert_eq!(
            plan(100, 4096),
            Some(BlockPlan::Padded {
                size: 4196,
                align: 4096
            })
        );
        assert_eq!(
            plan(4096, 8192),
            Some(BlockPlan::Padded {
                size: 12288,
                align: 8192
            })
        );
    }

    #[test]
    fn a_padded_size_that_overflows_is_refused() {
        assert_eq!(BlockPlan::for_size_align(usize::MAX - 200, 8192), None);
        let largest = isize::MAX.unsigned_abs() - 8191;
        assert_eq!(
            plan(largest, 8192),
            Some(BlockPlan::Padded {
                size: largest + 8192,
                align: 8192
            }),
            "the largest valid layout still has a request size"
        );
    }

    #[test]
    fn padded_objects_are_aligned_inside_the_block_with_room_for_the_header() {
        for align in [32, 64, 128, 4096, 8192] {
            for size in [1, 31, 100, 4095] {
                let Some(p @ BlockPlan::Padded { .. }) = plan(size, align) else {
                    panic!("size {size} align {align} should be padded");
                };
                // Blocks at every 16-byte-aligned address over a few periods.
                for block in (0x10_0000..0x10_0000 + 3 * align).step_by(POOL_ALIGNMENT) {
                    let offset = p.object_offset(block);
                    let object = block + offset;
                    assert_eq!(object % align, 0, "block {block:#x} align {align}");
                    assert!(offset >= BlockPlan::HEADER_BEFORE_OBJECT, "header fits");
                    assert!(offset + size <= p.request_size(), "object fits");
                }
            }
        }
    }

    #[test]
    fn direct_objects_are_the_block() {
        assert_eq!(BlockPlan::Direct { size: 8 }.object_offset(0x1230), 0);
    }
}
