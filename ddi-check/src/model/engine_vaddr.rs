//! The engine's page tables, VIRTUAL_FILL and VIRTUAL_TRANSFER as the model knows them
//! (`docs/engine.md`, "Virtual addresses"): the checker's root table (the
//! paging context's, given by SetRootPageTable at every start) and one leaf
//! table, whose entries `0..VA_PAGES` map pages of the first VRAM segment
//! or nothing. UPDATE_PAGE_TABLE stores an entry when its buffer runs; a
//! VIRTUAL_FILL walks the tables as they are then, page by page: the pages
//! before an unmapped one (or all, without a root) are written and marked
//! dirty exactly like FILL's, then the buffer faults; a VIRTUAL_TRANSFER
//! likewise, piece by piece (each piece read whole, then written) (`super::engine` runs
//! the commands through these tables).

use crate::ops::VA_PAGES;

/// Bytes of a page.
pub const PAGE: u64 = 4096;

/// The tables' content the model predicts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tables {
    /// Root entry 0 is valid (names the leaf table).
    pub root: bool,
    /// Leaf entry `i`: the VRAM page (of the first segment) it maps.
    pub leaf: [Option<u64>; VA_PAGES as usize],
}

impl Tables {
    /// The first segment's offset of GPU VA `va`, if mapped.
    fn translate(&self, va: u64) -> Option<u64> {
        if !self.root {
            return None;
        }
        let page = self.leaf.get(usize::try_from(va / PAGE).ok()?).copied()??;
        Some(page * PAGE + va % PAGE)
    }

    /// Whether a VIRTUAL_FILL of `len` bytes at `va` runs without a fault.
    pub fn fill_runs(&self, va: u64, len: u64, rooted: bool) -> bool {
        let first = va / PAGE;
        let last = (va + len).div_ceil(PAGE);
        len == 0 || (rooted && (first..last).all(|p| self.translate(p * PAGE).is_some()))
    }
}

impl Tables {
    /// UPDATE_PAGE_TABLE of leaf entry `leaf` (`None`: root entry 0) to
    /// `page` (`None`: invalid).
    pub fn map(&mut self, leaf: Option<u8>, page: Option<u64>) {
        match leaf {
            None => self.root = page.is_some(),
            Some(i) => {
                if let Some(e) = self.leaf.get_mut(usize::from(i)) {
                    *e = page;
                }
            }
        }
    }

    /// The pieces a VIRTUAL_FILL of `len` bytes at `va` writes, page by
    /// page, until the first unmapped page: (the first segment's offset,
    /// bytes of the fill before the piece, its length); and whether it
    /// runs to the end (`false`: the engine faults after these pieces).
    /// Without a root (`rooted` false) nothing is written.
    #[must_use]
    pub fn fill_pieces(&self, va: u64, len: u64, rooted: bool) -> (Vec<(u64, u64, u64)>, bool) {
        let mut pieces = Vec::new();
        if !rooted {
            return (pieces, len == 0);
        }
        let mut done = 0;
        while done < len {
            let at = va + done;
            let n = (PAGE - at % PAGE).min(len - done);
            let Some(offset) = self.translate(at) else {
                return (pieces, false);
            };
            pieces.push((offset, done, n));
            done += n;
        }
        (pieces, true)
    }

    /// The pieces a VIRTUAL_TRANSFER of `len` bytes from `src` to `dst`
    /// moves, in order, each inside one source and one destination page:
    /// (source offset, destination offset, length) in the first segment,
    /// until the first piece with an unmapped end; and whether it runs to
    /// the end.
    #[must_use]
    pub fn transfer_pieces(
        &self,
        (src, dst): (u64, u64),
        len: u64,
        rooted: bool,
    ) -> (Vec<(u64, u64, u64)>, bool) {
        let mut pieces = Vec::new();
        if !rooted {
            return (pieces, len == 0);
        }
        let mut done = 0;
        while done < len {
            let (from, to) = (src + done, dst + done);
            let n = (PAGE - from % PAGE).min(PAGE - to % PAGE).min(len - done);
            let (Some(a), Some(b)) = (self.translate(from), self.translate(to)) else {
                return (pieces, false);
            };
            pieces.push((a, b, n));
            done += n;
        }
        (pieces, true)
    }
}
