//! System memory (segment 0) by physical address: the page tables VidMm
//! gives the software engine (SetRootPageTable's root, an UPDATE_PAGE_TABLE's
//! table, a root entry's leaf) and the system pages a leaf maps
//! (`docs/engine.md`, "Addresses", O-ENG-3).
//!
//! | platform | how |
//! |---|---|
//! | host | the stand-in's convention: the address is the host address of its bytes (`crate::kernel::dma`) |
//! | Windows | one page of system VA reserved at engine attach (`MmAllocateMappingAddress`) and a preallocated one-PFN MDL; per page: the MDL's PFN set, `MmMapLockedPagesWithReservedMapping` (MmCached), copy, `MmUnmapReservedMapping`; the reservation freed at detach (`MmFreeMappingAddress`). The four routines are looked up with `MmGetSystemRoutineAddress`, and used only where `MmAllocateMappingAddressEx` is exported too (Windows 10 2004 and later; Wine exports the four as aborting stubs and lacks it): otherwise access is `NotSupported` |
//!
//! The splitting of a span into pages and its bounds are the plain
//! [`pieces`]; the copy through a mapping is [`read`] and [`write`] over a
//! [`PageMapper`], which the Windows window implements with the kernel's
//! routines and the host tests with pages of their own.
//!
//! The contract relied on (wdm.h, Microsoft's reference pages):
//! `MmAllocateMappingAddress` and `MmFreeMappingAddress` at IRQL <=
//! APC_LEVEL (attach and detach, PASSIVE_LEVEL); the reservation must be
//! unmapped before it is freed. `MmMapLockedPagesWithReservedMapping` and
//! `MmUnmapReservedMapping` at IRQL <= DISPATCH_LEVEL (the engine's worker,
//! PASSIVE_LEVEL), with the reservation's own pool tag, an MDL describing
//! locked-down pages that fits inside the reservation; the mapping returns
//! NULL only for a parameter error (no resource is allocated per call), and
//! its caching type applies only to pages the memory manager has no caching
//! type for (otherwise the page's own type wins).

#[cfg(any(test, target_os = "windows"))]
use core::ptr::NonNull;

use crate::foundation::status::Result;
#[cfg(any(test, target_os = "windows"))]
use crate::foundation::status::Status;

#[cfg(any(test, target_os = "windows"))]
/// Bytes of a page (x64).
pub(crate) const PAGE: u64 = 4096;
#[cfg(any(test, target_os = "windows"))]
/// `PAGE` as a `usize`.
const PAGE_BYTES: usize = 4096;

#[cfg(any(test, target_os = "windows"))]
/// One piece of a span: bytes inside one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece {
    /// The page frame number (`address >> 12`).
    pub(crate) pfn: u64,
    /// Offset of the first byte inside the page.
    pub(crate) within: usize,
    /// Offset of the piece in the caller's buffer.
    pub(crate) at: usize,
    /// Bytes (`within + len <= PAGE`).
    pub(crate) len: usize,
}

#[cfg(any(test, target_os = "windows"))]
/// The pieces of a span, in order (see [`pieces`]).
#[derive(Debug, Clone)]
pub(crate) struct Pieces {
    address: u64,
    len: usize,
    done: usize,
}

#[cfg(any(test, target_os = "windows"))]
impl Iterator for Pieces {
    type Item = Piece;

    fn next(&mut self) -> Option<Piece> {
        if self.done >= self.len {
            return None;
        }
        // No overflow: `pieces` checked `address + len` fits.
        let at = self.address.wrapping_add(self.done as u64);
        let within = (at & (PAGE - 1)) as usize;
        let len = PAGE_BYTES
            .saturating_sub(within)
            .min(self.len.saturating_sub(self.done));
        let piece = Piece {
            pfn: at >> 12,
            within,
            at: self.done,
            len,
        };
        self.done = self.done.saturating_add(len);
        Some(piece)
    }
}

#[cfg(any(test, target_os = "windows"))]
/// Splits `[address, address + len)` into pieces that each stay inside one
/// page.
///
/// # Errors
/// `InvalidParameter` for address 0 or a span past 2^64.
pub(crate) fn pieces(address: u64, len: usize) -> Result<Pieces> {
    let n = u64::try_from(len).map_err(|_| Status::InvalidParameter)?;
    if address == 0 || address.checked_add(n).is_none() {
        return Err(Status::InvalidParameter);
    }
    Ok(Pieces {
        address,
        len,
        done: 0,
    })
}

#[cfg(any(test, target_os = "windows"))]
/// Maps one physical page at a time into system space.
///
/// # Safety
/// A pointer `map` returns is valid for reads and writes of [`PAGE`] bytes
/// (the page `pfn`, which no one else writes meanwhile) until the matching
/// `unmap`; at most one page is mapped at a time.
pub(crate) unsafe trait PageMapper {
    /// Maps page `pfn`.
    ///
    /// # Errors
    /// What the platform refuses.
    fn map(&mut self, pfn: u64) -> Result<NonNull<u8>>;
    /// Unmaps the page `map` returned.
    fn unmap(&mut self, page: NonNull<u8>);
}

#[cfg(any(test, target_os = "windows"))]
/// Reads `out.len()` bytes at physical address `address`, page by page.
///
/// # Errors
/// As [`pieces`], or a page the mapper refuses (the bytes of the earlier
/// pages are then already copied).
pub(crate) fn read<M: PageMapper>(mapper: &mut M, address: u64, out: &mut [u8]) -> Result<()> {
    for p in pieces(address, out.len())? {
        let end = p.at.checked_add(p.len).ok_or(Status::InvalidParameter)?;
        let dst = out.get_mut(p.at..end).ok_or(Status::InvalidParameter)?;
        let page = mapper.map(p.pfn)?;
        let from = page.as_ptr().wrapping_add(p.within);
        // SAFETY: the page is mapped for PAGE bytes until `unmap` (the
        // mapper's contract) and `within + len <= PAGE` (`pieces`); `dst` is
        // the caller's own buffer, distinct from the mapping.
        unsafe { core::ptr::copy_nonoverlapping(from, dst.as_mut_ptr(), p.len) };
        mapper.unmap(page);
    }
    Ok(())
}

#[cfg(any(test, target_os = "windows"))]
/// Writes `bytes` at physical address `address`, page by page.
///
/// # Errors
/// As [`read`].
pub(crate) fn write<M: PageMapper>(mapper: &mut M, address: u64, bytes: &[u8]) -> Result<()> {
    for p in pieces(address, bytes.len())? {
        let end = p.at.checked_add(p.len).ok_or(Status::InvalidParameter)?;
        let src = bytes.get(p.at..end).ok_or(Status::InvalidParameter)?;
        let page = mapper.map(p.pfn)?;
        let to = page.as_ptr().wrapping_add(p.within);
        // SAFETY: as in `read`, written (the mapping is writable).
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), to, p.len) };
        mapper.unmap(page);
    }
    Ok(())
}

/// The engine's access to segment 0, made at attach and used only by its
/// worker (through `&mut`).
pub(crate) struct Segment0 {
    #[cfg(target_os = "windows")]
    window: Option<win::Window>,
}

impl Segment0 {
    /// The access (engine attach, PASSIVE_LEVEL). On Windows it reserves the
    /// window; where a routine is missing or the reservation fails, every
    /// access is `NotSupported` (as before the window existed).
    ///
    /// # Errors
    /// `NoMemory` for the MDL's block.
    pub(crate) fn new() -> Result<Self> {
        #[cfg(target_os = "windows")]
        {
            let window = win::Window::open()?;
            if window.is_none() {
                crate::trace!("engine: no reserved mapping; segment 0 not reachable");
            }
            Ok(Self { window })
        }
        #[cfg(not(target_os = "windows"))]
        {
            Ok(Self {})
        }
    }

    /// Reads `out.len()` bytes of system memory at `address`.
    ///
    /// # Errors
    /// `NotSupported` on Windows without the window; `InvalidParameter` for
    /// address 0 or overflow; `InsufficientResources` when a page cannot be
    /// mapped.
    pub(crate) fn read(&mut self, address: u64, out: &mut [u8]) -> Result<()> {
        #[cfg(target_os = "windows")]
        {
            let window = self.window.as_mut().ok_or(Status::NotSupported)?;
            read(window, address, out)
        }
        #[cfg(not(target_os = "windows"))]
        {
            super::dma::read_physical(address, out)
        }
    }

    /// Writes `bytes` into system memory at `address`.
    ///
    /// # Errors
    /// As [`Self::read`].
    pub(crate) fn write(&mut self, address: u64, bytes: &[u8]) -> Result<()> {
        #[cfg(target_os = "windows")]
        {
            let window = self.window.as_mut().ok_or(Status::NotSupported)?;
            write(window, address, bytes)
        }
        #[cfg(not(target_os = "windows"))]
        {
            super::dma::write_physical(address, bytes)
        }
    }
}

#[cfg(target_os = "windows")]
mod win;

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// Pages of its own by PFN, and a log of what was mapped and unmapped.
    struct FakeMapper {
        pages: Vec<(u64, Vec<u8>)>,
        log: Vec<(bool, u64)>,
        mapped: Option<u64>,
    }

    impl FakeMapper {
        fn new(pfns: &[u64]) -> Self {
            Self {
                pages: pfns.iter().map(|&p| (p, alloc::vec![0u8; 4096])).collect(),
                log: Vec::new(),
                mapped: None,
            }
        }
        fn page(&self, pfn: u64) -> &[u8] {
            &self.pages.iter().find(|(p, _)| *p == pfn).unwrap().1
        }
    }

    // SAFETY: a page is its own Vec of 4096 bytes, alive as long as the
    // mapper; one at a time (asserted).
    unsafe impl PageMapper for FakeMapper {
        fn map(&mut self, pfn: u64) -> Result<NonNull<u8>> {
            assert!(self.mapped.is_none(), "two pages mapped at once");
            self.log.push((true, pfn));
            let page = self.pages.iter_mut().find(|(p, _)| *p == pfn);
            let (_, bytes) = page.ok_or(Status::InsufficientResources)?;
            self.mapped = Some(pfn);
            Ok(NonNull::new(bytes.as_mut_ptr()).unwrap())
        }
        fn unmap(&mut self, page: NonNull<u8>) {
            let pfn = self.mapped.take().expect("unmap without map");
            assert_eq!(page.as_ptr().cast_const(), self.page(pfn).as_ptr());
            self.log.push((false, pfn));
        }
    }

    #[test]
    fn a_span_splits_at_every_page_boundary() {
        let all: Vec<Piece> = pieces(0x1_2FF0, 0x2020).unwrap().collect();
        let want = [
            (0x12, 0xFF0, 0, 0x10),
            (0x13, 0, 0x10, 0x1000),
            (0x14, 0, 0x1010, 0x1000),
            (0x15, 0, 0x2010, 0x10),
        ];
        let got: Vec<_> = all.iter().map(|p| (p.pfn, p.within, p.at, p.len)).collect();
        assert_eq!(got, want);
        // Inside one page: one piece; empty: none.
        assert_eq!(pieces(0x5008, 8).unwrap().count(), 1);
        assert_eq!(pieces(0x5008, 0).unwrap().count(), 0);
        // Ends exactly on a boundary: no empty piece after it.
        assert_eq!(pieces(0x5000, 0x1000).unwrap().count(), 1);
    }

    #[test]
    fn null_and_overflowing_spans_are_refused() {
        assert_eq!(pieces(0, 8).err(), Some(Status::InvalidParameter));
        assert_eq!(
            pieces(u64::MAX - 3, 8).err(),
            Some(Status::InvalidParameter)
        );
        assert!(pieces(u64::MAX - 8, 8).is_ok());
    }

    #[test]
    fn a_write_across_pages_lands_in_each_and_reads_back() {
        let mut m = FakeMapper::new(&[7, 8]);
        let bytes: Vec<u8> = (0..32u8).collect();
        write(&mut m, 7 * 4096 + 4080, &bytes).unwrap();
        assert_eq!(&m.page(7)[4080..], &bytes[..16]);
        assert_eq!(&m.page(8)[..16], &bytes[16..]);
        assert_eq!(m.log, [(true, 7), (false, 7), (true, 8), (false, 8)]);
        let mut out = [0u8; 32];
        read(&mut m, 7 * 4096 + 4080, &mut out).unwrap();
        assert_eq!(&out[..], &bytes[..]);
        assert!(m.mapped.is_none());
    }

    #[test]
    fn a_page_that_cannot_be_mapped_stops_the_copy_with_nothing_left_mapped() {
        // Page 8 is not the mapper's: its map fails.
        let mut m = FakeMapper::new(&[7]);
        let r = write(&mut m, 7 * 4096 + 4090, &[1u8; 12]);
        assert_eq!(r, Err(Status::InsufficientResources));
        assert_eq!(&m.page(7)[4090..], &[1u8; 6]);
        assert_eq!(m.log, [(true, 7), (false, 7), (true, 8)]);
        assert!(m.mapped.is_none());
    }
}
