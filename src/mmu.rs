//! The GpuMmu geometry the adapter describes to VidMm: one source for the
//! `DXGKQAITYPE_GPUMMUCAPS` and `DXGKQAITYPE_PAGETABLELEVELDESC` answers
//! (`adapter::caps`) and for `DxgkDdiGetRootPageTableSize`
//! ([`root_page_table_size`]), so the three cannot disagree.
//!
//! `../shared/spec/adapter-start.md` 2.3 step 6 and 4.4: a GpuMmu adapter
//! answers both queries or fails start; VidMm checks a virtual-address width
//! of 13..=63 bits and 2..=`DXGK_MAX_PAGE_TABLE_LEVEL_COUNT` levels. The
//! software engine runs most paging operations by segment offset, and walks
//! these tables (root, then leaf) only for VIRTUAL_FILL and
//! VIRTUAL_TRANSFER (`crate::engine::vaddr`). The description must be
//! self-consistent.
//!
//! The geometry: two levels of 4 KiB tables of 512 eight-byte entries, each
//! entry of the leaf mapping one 4 KiB page:
//!
//! | level | index bits | entries | table size | covers |
//! |---|---|---|---|---|
//! | 0 (leaf) | 9 (VA bits 12..21) | 512 | 4 KiB | 2 MiB |
//! | 1 (root) | 9 (VA bits 21..30) | 1..=512 (resizable) | 4 KiB (at most) | 1 GiB |
//!
//! so a GPU virtual address has 30 bits (1 GiB per process). Every table lives
//! in system memory (segment id 0), which the WDK documents as capping a table
//! at 4 KiB: that cap is what bounds the root, and keeping the tables out of
//! the VRAM segments keeps them out of the vGPUs' reserves and of dirty
//! tracking. Entries are updated through paging operations
//! (`DXGK_PAGETABLEUPDATE_GPU_PHYSICAL`: `UPDATE_PAGE_TABLE`, which the
//! software engine executes), not by VidMm through a CPU mapping: a peer's
//! bring-up saw VidMm's CPU-virtual update path fail on a software adapter
//! (spec P-Helios, `gpummu.rs`) [inf].

/// Bytes of a GPU page (the leaf entries' coverage).
pub(crate) const PAGE_SIZE: u32 = 4096;
/// Bits of the in-page offset.
pub(crate) const PAGE_SHIFT: u32 = 12;
/// Bytes of one page-table entry (`DXGK_PTE`).
pub(crate) const PTE_SIZE: u32 = 8;
/// Page-table levels: a leaf and a root.
pub(crate) const LEVEL_COUNT: u32 = 2;
/// Virtual-address bits indexing a leaf table.
pub(crate) const LEAF_INDEX_BITS: u32 = 9;
/// Virtual-address bits indexing the root table (at its largest).
pub(crate) const ROOT_INDEX_BITS: u32 = 9;
/// Bits of a GPU virtual address.
pub(crate) const VIRTUAL_ADDRESS_BITS: u32 = PAGE_SHIFT + LEAF_INDEX_BITS + ROOT_INDEX_BITS;
/// The segment every table lives in: 0, system memory.
pub(crate) const PAGE_TABLE_SEGMENT_ID: u32 = 0;
/// Bytes (and alignment) of a leaf table, and the most a root table has.
pub(crate) const TABLE_SIZE: u32 = PTE_SIZE << LEAF_INDEX_BITS;
/// Entries of a full root table.
pub(crate) const MAX_ROOT_ENTRIES: u32 = 1 << ROOT_INDEX_BITS;

// The description must be self-consistent (VidMm's checks, the WDK's
// system-memory cap, tables of whole pages).
const _: () = assert!(VIRTUAL_ADDRESS_BITS >= 13 && VIRTUAL_ADDRESS_BITS <= 63);
const _: () = assert!(LEVEL_COUNT >= 2 && LEVEL_COUNT <= 6);
const _: () = assert!(TABLE_SIZE == PAGE_SIZE);
const _: () = assert!(MAX_ROOT_ENTRIES * PTE_SIZE <= PAGE_SIZE);

/// One level as `DXGK_PAGE_TABLE_LEVEL_DESC` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Level {
    /// Virtual-address bits indexing a table of this level.
    pub(crate) index_bits: u32,
    /// Bytes of one table (the root: its initial, and largest, size).
    pub(crate) table_size: u32,
    /// Alignment of a table.
    pub(crate) alignment: u32,
    /// Segment the tables live in (0: system memory).
    pub(crate) segment: u32,
}

/// Level `index` (0 = the leaf), or `None` past the root.
pub(crate) fn level(index: u32) -> Option<Level> {
    let index_bits = match index {
        0 => LEAF_INDEX_BITS,
        1 => ROOT_INDEX_BITS,
        _ => return None,
    };
    Some(Level {
        index_bits,
        table_size: TABLE_SIZE,
        alignment: TABLE_SIZE,
        segment: PAGE_TABLE_SEGMENT_ID,
    })
}

/// `DxgkDdiGetRootPageTableSize`'s answer for a root of `entries` entries:
/// the bytes of a root table that holds them, whole pages (the WDK asks for a
/// multiple of the page size of the table's segment), and the entries that
/// table really holds (Dxgkrnl's `NumberOfPte` may be raised to it). `None`
/// for more entries than the root can index, which VidMm never asks for with
/// this geometry.
pub(crate) fn root_page_table_size(entries: u32) -> Option<(u64, u32)> {
    if entries > MAX_ROOT_ENTRIES {
        return None;
    }
    let bytes = u64::from(entries.max(1)).checked_mul(u64::from(PTE_SIZE))?;
    let pages = bytes.div_ceil(u64::from(PAGE_SIZE));
    let size = pages.checked_mul(u64::from(PAGE_SIZE))?;
    let held = u32::try_from(size.checked_div(u64::from(PTE_SIZE))?).ok()?;
    Some((size, held.min(MAX_ROOT_ENTRIES)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_levels_cover_exactly_the_virtual_address_bits() {
        let leaf = level(0).expect("leaf");
        let root = level(1).expect("root");
        assert_eq!(level(2), None);
        assert_eq!(
            PAGE_SHIFT + leaf.index_bits + root.index_bits,
            VIRTUAL_ADDRESS_BITS
        );
        assert_eq!(VIRTUAL_ADDRESS_BITS, 30);
        for l in [leaf, root] {
            // A table holds all its entries, fits the system-memory cap, and
            // is aligned to its size.
            assert!(u64::from(PTE_SIZE) << l.index_bits <= u64::from(l.table_size));
            assert!(l.table_size <= 4096);
            assert_eq!(l.alignment, l.table_size);
            assert_eq!(l.segment, 0);
        }
        assert_eq!(1u32 << PAGE_SHIFT, PAGE_SIZE);
    }

    #[test]
    fn the_root_size_is_whole_pages_and_bounded_by_the_root_index() {
        assert_eq!(root_page_table_size(0), Some((4096, 512)));
        assert_eq!(root_page_table_size(1), Some((4096, 512)));
        assert_eq!(root_page_table_size(512), Some((4096, 512)));
        assert_eq!(root_page_table_size(513), None);
        assert_eq!(root_page_table_size(u32::MAX), None);
        for entries in 0..=MAX_ROOT_ENTRIES {
            let (size, held) = root_page_table_size(entries).expect("in range");
            assert_eq!(size % u64::from(PAGE_SIZE), 0);
            assert!(held >= entries);
            assert!(u64::from(held) * u64::from(PTE_SIZE) <= size);
        }
    }
}
