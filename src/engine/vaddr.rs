//! GPU virtual addresses on the CPU engine: the hardware page-table entry
//! UPDATE_PAGE_TABLE stores, the walk that translates a GPU VA through the
//! root SetRootPageTable gave and a leaf table (the geometry of
//! `crate::mmu`), and VIRTUAL_FILL / VIRTUAL_TRANSFER executed page by page
//! through it (`docs/engine.md`, "Virtual addresses").
//!
//! Every table lives in system memory (segment 0, `crate::mmu`): the engine
//! reads and writes its entries through [`EngineHost::read_physical`] and
//! [`EngineHost::write_physical`]. A page the walk finds in a VRAM segment is
//! written through the engine's segment path (`access`), which marks it dirty; a
//! system-memory page through the same physical access as the tables.
//!
//! Nothing here allocates or panics; a VA past the address space or the
//! root, an invalid entry, a write to a read-only page or a table outside
//! segment 0 is an error, which faults the buffer (`Engine::run_buffer`).

use super::access;
use super::{Broken, EngineHost, EngineMemory, Location};
use crate::foundation::status::{Result, Status};
use crate::mmu::{
    LEAF_INDEX_BITS, PAGE_SHIFT, PAGE_SIZE, PAGE_TABLE_SEGMENT_ID, PTE_SIZE, ROOT_INDEX_BITS,
    VIRTUAL_ADDRESS_BITS,
};

/// The hardware page-table entry (8 bytes, `crate::mmu::PTE_SIZE`): the low
/// 11 bits of `DXGK_PTE`'s flags (Valid, Zero, CacheCoherent, ReadOnly,
/// NoExecute, Segment, LargePage) and, from bit 12, the page number
/// (`DXGK_PTE::PageAddress`, the address's upper 52 bits).
pub mod pte {
    /// The entry is valid.
    pub const VALID: u64 = 1 << 0;
    /// Valid and zero: reads return zeros, writes are dropped (tiled
    /// resources).
    pub const ZERO: u64 = 1 << 1;
    /// The page is read-only.
    pub const READ_ONLY: u64 = 1 << 3;
    /// First bit of the 5-bit segment id (0: system memory).
    pub const SEGMENT_SHIFT: u32 = 5;
    /// The flag bits kept from `DXGK_PTE::Flags`.
    pub const FLAGS: u64 = 0x7FF;

    /// The hardware entry for a `DXGK_PTE` (`Flags`, `PageAddress`).
    #[must_use]
    pub const fn from_dxgk(flags: u64, page_address: u64) -> u64 {
        (flags & FLAGS) | ((page_address & ((1 << 52) - 1)) << 12)
    }

    /// The segment id an entry names.
    #[must_use]
    pub const fn segment(entry: u64) -> u32 {
        ((entry >> SEGMENT_SHIFT) & 0x1F) as u32
    }

    /// The byte address (in its segment) of the page or table an entry names.
    #[must_use]
    pub const fn address(entry: u64) -> u64 {
        entry & !0xFFF
    }
}

/// A root page table as SetRootPageTable gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Root {
    /// Its segment (0: system memory).
    pub segment: u32,
    /// Its address in that segment.
    pub address: u64,
    /// Entries it holds.
    pub entries: u32,
}

/// Where a GPU page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Page {
    entry: u64,
}

impl Page {
    fn zero(self) -> bool {
        self.entry & pte::ZERO != 0
    }
    fn read_only(self) -> bool {
        self.entry & pte::READ_ONLY != 0
    }
    /// The location of byte `within` of the page.
    fn at(self, within: u64) -> Result<Target> {
        let address = pte::address(self.entry)
            .checked_add(within)
            .ok_or(Status::InvalidParameter)?;
        Ok(match pte::segment(self.entry) {
            0 => Target::System(address),
            id => Target::Segment(Location::Segment {
                id,
                offset: address,
            }),
        })
    }
}

/// A byte of a page: in a segment, or in system memory (by address).
#[derive(Debug, Clone, Copy)]
enum Target {
    Segment(Location),
    System(u64),
}

/// Entry `index` of the table at `(segment, address)`.
fn read_entry<H: EngineHost>(host: &H, segment: u32, address: u64, index: u64) -> Result<u64> {
    if segment != PAGE_TABLE_SEGMENT_ID {
        return Err(Status::InvalidParameter);
    }
    let at = index
        .checked_mul(u64::from(PTE_SIZE))
        .and_then(|o| address.checked_add(o))
        .ok_or(Status::InvalidParameter)?;
    let mut bytes = [0u8; 8];
    host.read_physical(at, &mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

/// The leaf entry mapping `va`: the root entry (VA bits 21..30) names the
/// leaf table, whose entry (VA bits 12..21) names the page. A VA past the
/// address space or the root, or an invalid entry at either level, is an
/// error (the buffer faults). [`Broken::IgnoresLeafIndex`] (tests only)
/// walks as if the leaf index were 0.
fn translate<H: EngineHost>(host: &H, root: Root, va: u64, broken: Broken) -> Result<Page> {
    if va >> VIRTUAL_ADDRESS_BITS != 0 {
        return Err(Status::InvalidParameter);
    }
    let leaf_shift = PAGE_SHIFT + LEAF_INDEX_BITS;
    let root_index = (va >> leaf_shift) & ((1 << ROOT_INDEX_BITS) - 1);
    if root_index >= u64::from(root.entries) {
        return Err(Status::InvalidParameter);
    }
    let table = read_entry(host, root.segment, root.address, root_index)?;
    if table & pte::VALID == 0 {
        return Err(Status::InvalidParameter);
    }
    let leaf_index = if broken == Broken::IgnoresLeafIndex {
        0
    } else {
        (va >> PAGE_SHIFT) & ((1 << LEAF_INDEX_BITS) - 1)
    };
    let entry = read_entry(host, pte::segment(table), pte::address(table), leaf_index)?;
    if entry & pte::VALID == 0 {
        return Err(Status::InvalidParameter);
    }
    Ok(Page { entry })
}

/// Bytes from `va` to the end of its page.
fn page_rest(va: u64) -> u64 {
    u64::from(PAGE_SIZE).saturating_sub(within(va))
}

fn within(va: u64) -> u64 {
    va & u64::from(PAGE_SIZE - 1)
}

/// UPDATE_PAGE_TABLE (one command's part): stores `ptes` into entries
/// `start..` of the table at `(segment, address)`. `Ok(false)` when the
/// platform cannot reach the table (Windows without the segment-0 window,
/// e.g. under Wine, O-ENG-3): the update is
/// then only counted, and a later walk through it faults.
///
/// # Errors
/// A table outside segment 0, or entries past the table's end.
pub(super) fn write_ptes<H: EngineHost>(
    host: &H,
    segment: u32,
    address: u64,
    start: u32,
    ptes: &[u64],
) -> Result<bool> {
    let entries = u64::from(crate::mmu::TABLE_SIZE / PTE_SIZE);
    let count = u64::try_from(ptes.len()).map_err(|_| Status::InvalidParameter)?;
    let end = u64::from(start)
        .checked_add(count)
        .ok_or(Status::InvalidParameter)?;
    if segment != PAGE_TABLE_SEGMENT_ID || end > entries {
        return Err(Status::InvalidParameter);
    }
    for (index, entry) in (u64::from(start)..).zip(ptes) {
        let at = address
            .checked_add(index.saturating_mul(u64::from(PTE_SIZE)))
            .ok_or(Status::InvalidParameter)?;
        match host.write_physical(at, &entry.to_le_bytes()) {
            Ok(()) => {}
            Err(Status::NotSupported) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// VIRTUAL_FILL of `len` bytes at `dst`, page by page, the pattern kept in
/// phase from the first byte. VRAM bytes are marked dirty (unless `broken`
/// is [`Broken::DropsMarks`]).
///
/// # Errors
/// A translation fault, or what the memory refuses.
pub(super) fn fill<H: EngineHost>(
    host: &H,
    root: Root,
    (dst, len): (u64, u64),
    pattern: u32,
    scratch: &mut [u8],
    broken: Broken,
) -> Result<()> {
    let marks = broken != Broken::DropsMarks;
    let mut done = 0u64;
    while done < len {
        let va = dst.checked_add(done).ok_or(Status::InvalidParameter)?;
        let n = page_rest(va).min(len.saturating_sub(done));
        let page = translate(host, root, va, broken)?;
        if page.read_only() {
            return Err(Status::InvalidParameter);
        }
        // The pattern as it stands at byte `done` of the fill.
        let phase = u32::try_from(done & 3).map_err(|_| Status::InvalidParameter)?;
        let rotated = pattern.rotate_right(phase.saturating_mul(8));
        if !page.zero() {
            match page.at(within(va))? {
                Target::Segment(Location::Segment { id, offset }) => {
                    host.memory().fill(id, offset, n, rotated)?;
                    access::mark(host, marks, id, offset, n)?;
                }
                Target::Segment(Location::Mdl { .. }) => return Err(Status::InvalidParameter),
                Target::System(address) => {
                    let bytes = patterned(scratch, n, rotated)?;
                    host.write_physical(address, bytes)?;
                }
            }
        }
        done = done.saturating_add(n);
    }
    Ok(())
}

/// SIGNAL_MONITORED_FENCE through the tables (O-ENG-2): the fence's 8 bytes
/// at GPU VA `va` translated through `root`, written where the leaf entry
/// says (a VRAM page through the engine's segment path, marked; a system
/// page through the segment-0 access). `Ok(false)` when the tables do not
/// translate it (no root, or the walk fails: an unmapped VA, a VA past the
/// root or the address space, a table the platform cannot read): the caller
/// then takes the platform's direct path. [`Broken::FenceSkipsWalk`]
/// (tests only) always answers `Ok(false)`.
///
/// # Errors
/// A read-only page, 8 bytes that cross the page's end, or what the memory
/// refuses.
pub(super) fn write_fence<H: EngineHost>(
    host: &H,
    root: Option<Root>,
    va: u64,
    value: u64,
    broken: Broken,
) -> Result<bool> {
    let Some(root) = root else {
        return Ok(false);
    };
    if broken == Broken::FenceSkipsWalk {
        return Ok(false);
    }
    let Ok(page) = translate(host, root, va, broken) else {
        return Ok(false);
    };
    let bytes = value.to_le_bytes();
    if page.read_only() || page_rest(va) < bytes.len() as u64 {
        return Err(Status::InvalidParameter);
    }
    if page.zero() {
        return Ok(true);
    }
    match page.at(within(va))? {
        Target::Segment(at) => access::write(host, at, &bytes, broken != Broken::DropsMarks)?,
        Target::System(address) => host.write_physical(address, &bytes)?,
    }
    Ok(true)
}

/// The first `n` bytes of `scratch` filled with `pattern` repeated.
fn patterned(scratch: &mut [u8], n: u64, pattern: u32) -> Result<&[u8]> {
    let n = usize::try_from(n).map_err(|_| Status::InvalidParameter)?;
    let piece = scratch.get_mut(..n).ok_or(Status::InvalidParameter)?;
    let p = pattern.to_le_bytes();
    for (b, v) in piece.iter_mut().zip(p.iter().cycle()) {
        *b = *v;
    }
    Ok(piece)
}

/// VIRTUAL_TRANSFER of `len` bytes from `src` to `dst`, in pieces that
/// stay inside one source and one destination page and the scratch buffer.
///
/// # Errors
/// A translation fault, or what the memory refuses.
pub(super) fn transfer<H: EngineHost>(
    host: &H,
    root: Root,
    (src, dst): (u64, u64),
    len: u64,
    scratch: &mut [u8],
    broken: Broken,
) -> Result<()> {
    let marks = broken != Broken::DropsMarks;
    let room = u64::try_from(scratch.len()).map_err(|_| Status::InvalidParameter)?;
    let mut done = 0u64;
    while done < len {
        let from = src.checked_add(done).ok_or(Status::InvalidParameter)?;
        let to = dst.checked_add(done).ok_or(Status::InvalidParameter)?;
        let n = page_rest(from)
            .min(page_rest(to))
            .min(len.saturating_sub(done))
            .min(room);
        if n == 0 {
            return Err(Status::InvalidParameter);
        }
        let source = translate(host, root, from, broken)?;
        let target = translate(host, root, to, broken)?;
        if target.read_only() {
            return Err(Status::InvalidParameter);
        }
        let piece = scratch
            .get_mut(..usize::try_from(n).map_err(|_| Status::InvalidParameter)?)
            .ok_or(Status::InvalidParameter)?;
        if source.zero() {
            piece.fill(0);
        } else {
            match source.at(within(from))? {
                Target::Segment(at) => access::read(host, at, piece)?,
                Target::System(address) => host.read_physical(address, piece)?,
            }
        }
        if !target.zero() {
            match target.at(within(to))? {
                Target::Segment(at) => access::write(host, at, piece, marks)?,
                Target::System(address) => host.write_physical(address, piece)?,
            }
        }
        done = done.saturating_add(n);
    }
    Ok(())
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn an_entry_keeps_the_flags_segment_and_page() {
        let e = pte::from_dxgk(pte::VALID | (2 << pte::SEGMENT_SHIFT) | (1 << 40), 0x1_2345);
        assert_eq!(pte::segment(e), 2);
        assert_eq!(pte::address(e), 0x1234_5000);
        assert_eq!(e & pte::VALID, 1);
        assert_eq!(e & (1 << 40), 0, "reserved flag bits are dropped");
        assert_eq!(page_rest(0x1000), 4096);
        assert_eq!(page_rest(0x1FFF), 1);
    }
}
