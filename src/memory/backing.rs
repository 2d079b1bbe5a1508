//! The bytes of the adapter's VRAM: one [`Backing`] per configured memory
//! segment of a started adapter, owned by the driver on every platform.
//!
//! There is no VRAM chip behind this adapter: its segments are driver-owned
//! memory. On Windows that is non-paged pool (the global allocator of both
//! backends, `crate::kernel`), on the host the process heap; the code is the
//! same. The software engine writes it; on the host the model's GPU writers,
//! Dxgkrnl's migration copier and the byte-identical proof read and write the
//! same bytes through `crate::host::vram`.
//!
//! # Lazily committed chunks
//! A segment is a table of [`CHUNK`]-byte chunks (1 MiB), each allocated
//! zeroed the first time something stores into it (zeros written by
//! `write_bytes`, `fill` or `copy_from` commit nothing), by
//! `crate::kernel::lazy::OnceBlock`: racing committers agree on one chunk
//! by a CAS; the loser frees its copy. An untouched chunk reads as zeros.
//! So a segment costs at start only its chunk table, 8 bytes per MiB
//! (**8 KiB per GiB**, 8 MiB per TiB; 2 GiB at `MAX_SEGMENT_SIZE`, 256 TiB,
//! which StartDevice refuses with `STATUS_NO_MEMORY` where the pool cannot
//! give it), and then 1 MiB per chunk touched.
//!
//! Committing a chunk is one non-paged allocation of 1 MiB, zeroed (the
//! pool zeroes it, or the allocator does), done by the writer that first
//! needs it: so a write, fill or copy that may commit is for **PASSIVE_LEVEL
//! callers only** (the software engine's worker thread runs at PASSIVE; the
//! DDIs that run higher never touch VRAM). A commit that fails reports
//! `STATUS_NO_MEMORY`: the operation stops there, the chunks before the one
//! that failed hold the new bytes (as a GPU command that faults leaves its
//! target undefined), and nothing panics. Reads, comparisons and stores
//! into committed chunks allocate nothing, take no lock and are safe at any
//! IRQL the memory is mapped at (non-paged). Every operation is a bounded
//! loop over the chunks of its span, without recursion.
//!
//! # Who may write, and ordering
//! Every 8-byte word is an `AtomicU64` accessed with `Relaxed` loads and
//! stores, so writers and readers may race: a copy racing a write may read a
//! torn page (some old words, some new), never undefined behaviour. What
//! makes a migration copy *correct* is the protocol of
//! `src/basis/bitplane.rs`: a writer stores its data **first** and marks the
//! page dirty afterwards (the mark is a `Release` RMW); the harvest that
//! reports the page takes its word with an `Acquire` RMW. So a copy made
//! after a harvest sees every write whose mark that harvest reported, and a
//! write still racing the copy leaves its page dirty for the next harvest.
//! A chunk's pointer is published with `Release` and read with `Acquire`,
//! which keeps that chain intact across a commit.
//!
//! Byte-granular writes ([`Backing::write_bytes`]) merge a partial word
//! with a compare-and-swap, so two writers of different bytes of one word
//! both land; everything else works in whole, 8-byte aligned words.
//! [`Backing::copy_from`] expects no other writer of its destination span
//! (Dxgkrnl's copier is the only writer of the target's VRAM).

// The software engine is the first caller on Windows; today only the host
// export (`crate::host`) uses the operations.
#![cfg_attr(target_os = "windows", allow(dead_code))]

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::foundation::fallible;
use crate::foundation::status::{Result, Status};
use crate::foundation::units::{Segment, SegmentId};
use crate::kernel::lazy::{OnceBlock, Shared};

/// Bytes per word: the unit of every operation but the byte-granular ones.
pub(crate) const WORD: u64 = 8;
/// Bytes per chunk: 1 MiB, the unit of commitment.
pub(crate) const CHUNK: u64 = 1 << 20;
/// Words per chunk.
const CHUNK_WORDS: usize = 1 << 17;
const _: () = assert!(CHUNK_WORDS as u64 * WORD == CHUNK);

/// One chunk of a segment.
type Chunk = OnceBlock<CHUNK_WORDS>;

/// The VRAM of one segment (module docs).
///
/// # Invariants
/// `chunks.len() == size.div_ceil(CHUNK)`, `0 < size`.
pub(crate) struct Backing {
    chunks: Vec<Chunk>,
    size: u64,
}

/// A piece of a span inside one chunk: the chunk's index, the first byte
/// inside it and the number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    chunk: usize,
    at: usize,
    len: usize,
}

/// `u64` to `usize` where the value is known to fit (below a chunk size or
/// below a table length); an impossible value becomes `usize::MAX`, which
/// every lookup then refuses.
fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// The runs of `[offset, offset + len)` and of `[other, other + len)`,
/// cut so that neither side's run leaves a chunk: `(mine, theirs)`. For one
/// span, pass the same offset twice.
fn runs(offset: u64, other: u64, len: u64) -> impl Iterator<Item = (Run, Run)> {
    let mut done = 0u64;
    core::iter::from_fn(move || {
        if done >= len {
            return None;
        }
        let (a, b) = (offset.saturating_add(done), other.saturating_add(done));
        let (wa, wb) = (a % CHUNK, b % CHUNK);
        let n = CHUNK
            .saturating_sub(wa)
            .min(CHUNK.saturating_sub(wb))
            .min(len.saturating_sub(done));
        done = done.saturating_add(n);
        let run = |at: u64, within: u64| Run {
            chunk: to_usize(at / CHUNK),
            at: to_usize(within),
            len: to_usize(n),
        };
        Some((run(a, wa), run(b, wb)))
    })
}

/// The words `[at, at + len)` (bytes, both multiples of 8) of a chunk.
fn words_of(chunk: &[AtomicU64], at: usize, len: usize) -> Option<&[AtomicU64]> {
    let first = at / 8;
    chunk.get(first..first.checked_add(len / 8)?)
}

/// A word from 8 little-endian bytes (fewer: the rest zero).
fn le_word(bytes: &[u8]) -> u64 {
    let mut value = [0u8; 8];
    for (v, b) in value.iter_mut().zip(bytes) {
        *v = *b;
    }
    u64::from_le_bytes(value)
}

/// Stores `bytes` at byte `skew` of `word`, keeping its other bytes, by a
/// compare-and-swap (it retries only while another writer changes the same
/// word).
fn merge(word: Option<&AtomicU64>, skew: usize, bytes: &[u8]) {
    let (mut value, mut mask) = ([0u8; 8], [0u8; 8]);
    let slots = value.iter_mut().zip(mask.iter_mut()).skip(skew);
    for ((v, m), b) in slots.zip(bytes) {
        *v = *b;
        *m = 0xff;
    }
    let (value, mask) = (u64::from_le_bytes(value), u64::from_le_bytes(mask));
    if let Some(word) = word {
        // The closure always answers `Some`: the update cannot fail.
        let _ = word.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
            Some((old & !mask) | value)
        });
    }
}

/// Stores `bytes` at byte `at` of a committed chunk (any alignment).
fn store_bytes(chunk: &[AtomicU64], at: usize, bytes: &[u8]) {
    let skew = at % 8;
    let head = if skew == 0 {
        0
    } else {
        8usize.saturating_sub(skew).min(bytes.len())
    };
    let (first, rest) = bytes.split_at_checked(head).unwrap_or((&[], bytes));
    if !first.is_empty() {
        merge(chunk.get(at / 8), skew, first);
    }
    let start = at.saturating_add(head) / 8;
    let whole = rest.chunks_exact(8);
    let tail = whole.remainder();
    let body = whole.len();
    let words = chunk.get(start..).unwrap_or_default();
    for (word, b) in words.iter().zip(rest.chunks_exact(8)) {
        word.store(le_word(b), Ordering::Relaxed);
    }
    if !tail.is_empty() {
        merge(chunk.get(start.saturating_add(body)), 0, tail);
    }
}

/// Loads the bytes at byte `at` of a chunk into `out` (any alignment); an
/// uncommitted chunk reads as zeros.
fn load_bytes(chunk: Option<&[AtomicU64]>, at: usize, out: &mut [u8]) {
    let Some(chunk) = chunk else {
        out.fill(0);
        return;
    };
    let mut at = at;
    let mut out = out;
    while !out.is_empty() {
        let skew = at % 8;
        let take = 8usize.saturating_sub(skew).min(out.len());
        let value = chunk
            .get(at / 8)
            .map_or(0, |w| w.load(Ordering::Relaxed))
            .to_le_bytes();
        let (dst, rest) = core::mem::take(&mut out)
            .split_at_mut_checked(take)
            .unwrap_or_default();
        for (d, s) in dst.iter_mut().zip(value.iter().skip(skew)) {
            *d = *s;
        }
        at = at.saturating_add(take);
        out = rest;
    }
}

impl Backing {
    /// An all-zero segment of `size` bytes: only its chunk table is
    /// allocated.
    ///
    /// # Errors
    /// `InvalidParameter` for a size of 0; `NoMemory` when the table cannot
    /// be allocated.
    pub(crate) fn new(size: u64) -> Result<Self> {
        if size == 0 {
            return Err(Status::InvalidParameter);
        }
        let count = usize::try_from(size.div_ceil(CHUNK)).map_err(|_| Status::NoMemory)?;
        let mut chunks = fallible::try_vec(count)?;
        for _ in 0..count {
            fallible::push(&mut chunks, Chunk::new())?;
        }
        Ok(Self { chunks, size })
    }

    /// Size in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Chunks committed so far (each [`CHUNK`] bytes of memory).
    pub(crate) fn touched_chunks(&self) -> usize {
        self.chunks.iter().filter(|c| c.is_committed()).count()
    }

    /// `Ok` if `[offset, offset + len)` lies inside (it may be empty).
    fn inside(&self, offset: u64, len: u64) -> Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(Status::InvalidParameter),
        }
    }

    /// As [`Self::inside`], and both values whole words.
    fn inside_words(&self, offset: u64, len: u64) -> Result<()> {
        if !offset.is_multiple_of(WORD) || !len.is_multiple_of(WORD) {
            return Err(Status::InvalidParameter);
        }
        self.inside(offset, len)
    }

    /// The words of an aligned run whose chunk is committed.
    fn existing(&self, run: Run) -> Option<&[AtomicU64]> {
        words_of(self.chunks.get(run.chunk)?.get()?, run.at, run.len)
    }

    /// The words of an aligned run, committing its chunk if needed.
    fn committed(&self, run: Run) -> Result<&[AtomicU64]> {
        let chunk = self.chunks.get(run.chunk).ok_or(Status::InvalidParameter)?;
        words_of(chunk.get_or_commit()?, run.at, run.len).ok_or(Status::InvalidParameter)
    }

    /// Stores `bytes` at `offset` (any alignment and length). Zeros bound
    /// for an uncommitted chunk commit nothing.
    ///
    /// # Errors
    /// `InvalidParameter` (nothing stored) for a span that does not lie
    /// inside; `NoMemory` when a chunk cannot be committed (module docs).
    pub(crate) fn write_bytes(&self, offset: u64, bytes: &[u8]) -> Result<()> {
        let len = u64::try_from(bytes.len()).map_err(|_| Status::InvalidParameter)?;
        self.inside(offset, len)?;
        let mut rest = bytes;
        for (run, _) in runs(offset, offset, len) {
            let (these, after) = rest.split_at_checked(run.len).unwrap_or((rest, &[]));
            rest = after;
            let chunk = self.chunks.get(run.chunk).ok_or(Status::InvalidParameter)?;
            let words = if chunk.is_committed() || these.iter().any(|&b| b != 0) {
                chunk.get_or_commit()?
            } else {
                continue;
            };
            store_bytes(words, run.at, these);
        }
        Ok(())
    }

    /// Reads `out.len()` bytes at `offset` into `out` (any alignment and
    /// length; zeros from untouched chunks, which stay untouched).
    ///
    /// # Errors
    /// `InvalidParameter` (`out` unchanged) for a span that does not lie
    /// inside.
    pub(crate) fn read_bytes(&self, offset: u64, out: &mut [u8]) -> Result<()> {
        let len = u64::try_from(out.len()).map_err(|_| Status::InvalidParameter)?;
        self.inside(offset, len)?;
        let mut rest = out;
        for (run, _) in runs(offset, offset, len) {
            let (these, after) = core::mem::take(&mut rest)
                .split_at_mut_checked(run.len)
                .unwrap_or_default();
            rest = after;
            let chunk = self.chunks.get(run.chunk).and_then(|c| c.get());
            load_bytes(chunk.map(|c| c.as_slice()), run.at, these);
        }
        Ok(())
    }

    /// Stores `value(i)` into the `i`-th word of `[offset, offset + len)`.
    ///
    /// # Errors
    /// `InvalidParameter` (nothing stored) for an unaligned span or one that
    /// does not lie inside; `NoMemory` when a chunk cannot be committed.
    pub(crate) fn write_words(
        &self,
        offset: u64,
        len: u64,
        mut value: impl FnMut(u64) -> u64,
    ) -> Result<()> {
        self.inside_words(offset, len)?;
        let mut i = 0u64;
        for (run, _) in runs(offset, offset, len) {
            for word in self.committed(run)? {
                word.store(value(i), Ordering::Relaxed);
                i = i.wrapping_add(1);
            }
        }
        Ok(())
    }

    /// Fills `[offset, offset + len)` with the 8-byte `pattern`
    /// (little-endian); a zero fill commits nothing.
    ///
    /// # Errors
    /// As [`Self::write_words`].
    pub(crate) fn fill(&self, offset: u64, len: u64, pattern: u64) -> Result<()> {
        if pattern != 0 {
            return self.write_words(offset, len, |_| pattern);
        }
        self.inside_words(offset, len)?;
        for (run, _) in runs(offset, offset, len) {
            for word in self.existing(run).unwrap_or_default() {
                word.store(0, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// The word at `offset` (zero in an untouched chunk).
    ///
    /// # Errors
    /// `InvalidParameter` for an unaligned offset or one outside.
    pub(crate) fn read_word(&self, offset: u64) -> Result<u64> {
        self.inside_words(offset, WORD)?;
        let (run, _) = runs(offset, offset, WORD)
            .next()
            .ok_or(Status::InvalidParameter)?;
        Ok(self
            .existing(run)
            .and_then(|w| w.first())
            .map_or(0, |w| w.load(Ordering::Relaxed)))
    }

    /// Copies `len` bytes at `src_offset` of `src` to `offset` of `self`,
    /// storing only the words that differ (the result is that of a plain
    /// copy; zeros copied into an untouched chunk commit nothing). `self`
    /// and `src` may be the same backing if the spans do not overlap.
    ///
    /// # Errors
    /// `InvalidParameter` (nothing copied) for an unaligned span, one either
    /// side does not hold, or overlapping spans of one backing; `NoMemory`
    /// when a destination chunk cannot be committed.
    pub(crate) fn copy_from(
        &self,
        offset: u64,
        src: &Self,
        src_offset: u64,
        len: u64,
    ) -> Result<()> {
        self.inside_words(offset, len)?;
        src.inside_words(src_offset, len)?;
        // Both ends are checked above, so the sums do not overflow.
        let overlap =
            offset < src_offset.saturating_add(len) && src_offset < offset.saturating_add(len);
        if core::ptr::eq(self, src) && overlap && len > 0 {
            return Err(Status::InvalidParameter);
        }
        for (d, s) in runs(offset, src_offset, len) {
            match (src.existing(s), self.existing(d)) {
                // Zeros onto zeros: nothing to do.
                (None, None) => {}
                (None, Some(d)) => d.iter().for_each(|w| w.store(0, Ordering::Relaxed)),
                (Some(s), _) => {
                    for (s, d) in s.iter().zip(self.committed(d)?) {
                        let value = s.load(Ordering::Relaxed);
                        if d.load(Ordering::Relaxed) != value {
                            d.store(value, Ordering::Relaxed);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether `len` bytes at `offset` of `self` equal `len` bytes at
    /// `other_offset` of `other`. Two untouched chunks are equal by their
    /// table entries: nothing is read.
    ///
    /// # Errors
    /// `InvalidParameter` for an unaligned span or one either side does not
    /// hold.
    pub(crate) fn same(
        &self,
        offset: u64,
        other: &Self,
        other_offset: u64,
        len: u64,
    ) -> Result<bool> {
        self.inside_words(offset, len)?;
        other.inside_words(other_offset, len)?;
        let zero = |w: &[AtomicU64]| w.iter().all(|w| w.load(Ordering::Relaxed) == 0);
        for (a, b) in runs(offset, other_offset, len) {
            let equal = match (self.existing(a), other.existing(b)) {
                (None, None) => true,
                (Some(w), None) | (None, Some(w)) => zero(w),
                (Some(a), Some(b)) => a
                    .iter()
                    .zip(b)
                    .all(|(x, y)| x.load(Ordering::Relaxed) == y.load(Ordering::Relaxed)),
            };
            if !equal {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether `len` bytes at `offset` are all zero (untouched chunks by
    /// their table entry).
    ///
    /// # Errors
    /// `InvalidParameter` for an unaligned span or one outside.
    pub(crate) fn is_zero(&self, offset: u64, len: u64) -> Result<bool> {
        self.inside_words(offset, len)?;
        for (run, _) in runs(offset, offset, len) {
            if let Some(words) = self.existing(run)
                && words.iter().any(|w| w.load(Ordering::Relaxed) != 0)
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The backings of a started adapter's VRAM segments, one per configured
/// segment, each shared so that the host export can keep one alive past
/// StopDevice (`crate::host::vram`); on Windows the adapter holds the only
/// reference, and the chunks are freed at StopDevice.
pub(crate) struct Backings {
    segments: Vec<(SegmentId, Shared<Backing>)>,
}

impl Backings {
    /// A zero backing for each segment: only the chunk tables are allocated.
    ///
    /// # Errors
    /// `NoMemory` (nothing kept) when a table cannot be allocated.
    pub(crate) fn new(segments: &[Segment]) -> Result<Self> {
        let mut out = fallible::try_vec(segments.len())?;
        for segment in segments {
            let backing = Shared::try_new(Backing::new(segment.size)?)?;
            fallible::push(&mut out, (segment.id, backing))?;
        }
        Ok(Self { segments: out })
    }

    /// The bytes of segment `id`, for a driver-side writer (the software
    /// engine): `started.vram.segment(id)?.write_bytes(offset, bytes)?`.
    ///
    /// # Errors
    /// `InvalidParameter` when `id` is not a configured VRAM segment.
    #[allow(dead_code)] // The software engine's entry; until it lands, tests only.
    pub(crate) fn segment(&self, id: SegmentId) -> Result<&Backing> {
        self.get(id)
            .map(|shared| &**shared)
            .ok_or(Status::InvalidParameter)
    }

    /// The backing of segment `id`, if it is a configured segment.
    pub(crate) fn get(&self, id: SegmentId) -> Option<&Shared<Backing>> {
        self.segments
            .iter()
            .find(|(segment, _)| *segment == id)
            .map(|(_, backing)| backing)
    }
}

#[cfg(test)]
#[path = "backing_tests.rs"]
mod tests;
