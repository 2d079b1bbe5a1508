//! The engine's page tables, VIRTUAL_FILL and VIRTUAL_TRANSFER as the model knows them
//! (`docs/engine.md`, "Virtual addresses"): the checker's root table (the
//! paging context's, given by SetRootPageTable at every start with
//! [`ROOT_ENTRIES`] entries) and one leaf table, which every valid root
//! entry names, whose entries map pages of the first VRAM segment, the
//! checker's system pages (segment 0) or nothing, ReadOnly or Zero.
//! UPDATE_PAGE_TABLE stores its entries (with `Repeat`, the first one each
//! time) when its buffer runs; a VIRTUAL_FILL walks the tables as they are
//! then, page by page: the pages before a fault (an unmapped page, a VA
//! past the root's entries, a read-only page) are written (a Zero page:
//! nothing) and VRAM marked dirty exactly like FILL's, then the buffer
//! faults; a VIRTUAL_TRANSFER likewise, piece by piece (each piece read
//! whole, zeros from a Zero page, then written) (`super::engine` runs the
//! other commands, `super::engine_virtual` these through the tables).

use crate::ops::{REGION, ROOT_ENTRIES};

/// Bytes of a page.
pub const PAGE: u64 = 4096;
/// Entries of each table the model keeps (every index a [`super::engine::Cmd::Map`] can
/// reach).
pub const SLOTS: usize = 16;

/// What a leaf entry maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A page of the first VRAM segment.
    Vram(u64),
    /// The checker's system page `n`.
    Sys(usize),
}

/// A valid leaf entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf {
    /// The page.
    pub frame: Frame,
    /// ReadOnly: a write faults.
    pub read_only: bool,
    /// Zero: reads give zeros, writes are dropped.
    pub zero: bool,
}

/// A byte of a mapped page: the page, and the byte's offset in it.
pub type Loc = (Frame, u64);

/// The pieces a VIRTUAL operation writes (see [`Tables::fill_pieces`]) and
/// whether it runs to the end.
pub type Pieces<T> = (Vec<T>, bool);

/// The tables' content the model predicts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tables {
    /// Root entry `i` is valid (names the leaf table).
    pub root: [bool; SLOTS],
    /// Leaf entry `i`, if valid.
    pub leaf: [Option<Leaf>; SLOTS],
}

impl Tables {
    /// The leaf entry mapping GPU VA `va` and the VA's offset in its page.
    fn translate(&self, va: u64) -> Option<(Leaf, u64)> {
        let region = usize::try_from(va / REGION).ok()?;
        if region >= usize::from(ROOT_ENTRIES) || !*self.root.get(region)? {
            return None;
        }
        let leaf = (*self.leaf.get(usize::try_from(va % REGION / PAGE).ok()?)?)?;
        Some((leaf, va % PAGE))
    }

    /// UPDATE_PAGE_TABLE of `count` entries from `start` of the leaf table
    /// (`leaf`) or the root: `entries[k]` for entry `start + k` (`None`:
    /// invalid; any valid one, for the root: names the leaf table).
    pub fn map(&mut self, leaf: bool, start: u8, count: u8, entries: &[Option<Leaf>]) {
        let start = usize::from(start);
        let n = usize::from(count);
        for (k, e) in entries.iter().take(n).enumerate() {
            if leaf {
                if let Some(slot) = self.leaf.get_mut(start + k) {
                    *slot = *e;
                }
            } else if let Some(slot) = self.root.get_mut(start + k) {
                *slot = e.is_some();
            }
        }
    }

    /// The pieces a VIRTUAL_FILL of `len` bytes at `va` writes, page by
    /// page, until the first fault (an unmapped or read-only page):
    /// (where, `None` for a Zero page: nothing written; bytes of the fill
    /// before the piece; its length). Without a root (`rooted` false)
    /// nothing is written.
    #[must_use]
    pub fn fill_pieces(&self, va: u64, len: u64, rooted: bool) -> Pieces<(Option<Loc>, u64, u64)> {
        let mut pieces = Vec::new();
        if !rooted {
            return (pieces, len == 0);
        }
        let mut done = 0;
        while done < len {
            let at = va + done;
            let n = (PAGE - at % PAGE).min(len - done);
            let Some((page, within)) = self.translate(at).filter(|(p, _)| !p.read_only) else {
                return (pieces, false);
            };
            pieces.push(((!page.zero).then_some((page.frame, within)), done, n));
            done += n;
        }
        (pieces, true)
    }

    /// The pieces a VIRTUAL_TRANSFER of `len` bytes from `src` to `dst`
    /// moves, in order, each inside one source and one destination page:
    /// (source, `None` from a Zero page: zeros; destination, `None` to a
    /// Zero page: dropped; length), until the first piece with an unmapped
    /// end or a read-only destination.
    #[must_use]
    pub fn transfer_pieces(
        &self,
        (src, dst): (u64, u64),
        len: u64,
        rooted: bool,
    ) -> Pieces<(Option<Loc>, Option<Loc>, u64)> {
        let mut pieces = Vec::new();
        if !rooted {
            return (pieces, len == 0);
        }
        let mut done = 0;
        while done < len {
            let (from, to) = (src + done, dst + done);
            let n = (PAGE - from % PAGE).min(PAGE - to % PAGE).min(len - done);
            let (Some((a, i)), Some((b, j))) = (self.translate(from), self.translate(to)) else {
                return (pieces, false);
            };
            if b.read_only {
                return (pieces, false);
            }
            let end = |p: Leaf, w| (!p.zero).then_some((p.frame, w));
            pieces.push((end(a, i), end(b, j), n));
            done += n;
        }
        (pieces, true)
    }
}
