//! Simulated VRAM: the bytes of one memory segment, shared between the
//! simulated GPU (writer threads) and Dxgkrnl's copier.
//!
//! # Ownership and ordering
//! Writers and the copier touch the same bytes concurrently, so every 8-byte
//! word is an `AtomicU64` accessed with `Relaxed` loads and stores: a copy
//! racing a write may read a torn page (some old words, some new), never
//! undefined behaviour. What makes the copy *correct* is the protocol the
//! driver documents in `src/basis/bitplane.rs`: a writer stores its data
//! **first** and marks the page through the driver afterwards (the mark is a
//! `Release` RMW); the harvest that reports the page takes its word with an
//! `Acquire` RMW. So a copy made after a harvest sees every write whose mark
//! that harvest reported, and a write still racing the copy leaves its page
//! dirty for the next harvest.
//!
//! # Host memory: a chunk map
//! The segment is a map of [`CHUNK`]-byte chunks, each allocated the first
//! time something stores into it (a `OnceLock`, so racing writers agree on
//! one allocation). An untouched chunk reads as zeros and costs only its map
//! slot (16 bytes per MiB of VRAM), so an 80 GiB segment costs what the
//! workload touches. [`Vram::copy_to`] stores only words that differ (copying
//! zeros into an untouched chunk allocates nothing), and [`Vram::same`]
//! compares two untouched chunks by their map entries, without reading a byte.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes per simulated word.
pub const WORD: u64 = 8;

/// Bytes per chunk of the map: 1 MiB.
pub const CHUNK: u64 = 1 << 20;

/// Words per chunk.
const CHUNK_WORDS: u64 = CHUNK / WORD;

/// One chunk: allocated on first store.
type Chunk = OnceLock<Box<[AtomicU64]>>;

/// The VRAM of one segment.
pub struct Vram {
    chunks: Box<[Chunk]>,
    size: u64,
}

impl core::fmt::Debug for Vram {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Vram")
            .field("size", &self.size())
            .field("touched_chunks", &self.touched_chunks())
            .finish()
    }
}

/// Why simulated VRAM could not be allocated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VramError {
    /// The size is zero or not a multiple of 8 bytes.
    BadSize(u64),
    /// The host could not reserve the memory (the chunk map).
    NoMemory(u64),
}

impl core::fmt::Display for VramError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadSize(size) => write!(
                f,
                "VRAM size {} is not a non-zero multiple of 8 bytes",
                format_size(*size)
            ),
            Self::NoMemory(size) => write!(
                f,
                "cannot reserve the chunk map of {} of VRAM ({} MiB chunks) in host memory",
                format_size(*size),
                CHUNK >> 20
            ),
        }
    }
}

impl std::error::Error for VramError {}

/// A piece of a span that lies inside one chunk: the chunk's index, the
/// first word inside it, and the number of words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece {
    chunk: usize,
    word: usize,
    words: usize,
}

/// The pieces of `[offset, offset + len)` (both multiples of 8), chunk by
/// chunk; `None` if a value does not fit the host's `usize`.
fn pieces(offset: u64, len: u64) -> impl Iterator<Item = Option<Piece>> {
    let mut at = offset;
    let end = offset.saturating_add(len);
    core::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let chunk = at / CHUNK;
        let within = at % CHUNK;
        let take = (CHUNK - within).min(end - at);
        at += take;
        Some((|| {
            Some(Piece {
                chunk: usize::try_from(chunk).ok()?,
                word: usize::try_from(within / WORD).ok()?,
                words: usize::try_from(take / WORD).ok()?,
            })
        })())
    })
}

/// A fresh all-zero chunk.
fn zero_chunk() -> Box<[AtomicU64]> {
    (0..CHUNK_WORDS).map(|_| AtomicU64::new(0)).collect()
}

impl Vram {
    /// All-zero VRAM of `size` bytes; only its chunk map is allocated.
    ///
    /// # Errors
    /// [`VramError`] for a bad size or when the host has no room for the map.
    pub fn new(size: u64) -> Result<Self, VramError> {
        if size == 0 || !size.is_multiple_of(WORD) {
            return Err(VramError::BadSize(size));
        }
        let count = usize::try_from(size.div_ceil(CHUNK)).map_err(|_| VramError::NoMemory(size))?;
        let mut chunks = Vec::new();
        chunks
            .try_reserve_exact(count)
            .map_err(|_| VramError::NoMemory(size))?;
        chunks.resize_with(count, Chunk::new);
        Ok(Self {
            chunks: chunks.into_boxed_slice(),
            size,
        })
    }

    /// Size in bytes.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Chunks allocated so far (each [`CHUNK`] bytes of host memory).
    #[must_use]
    pub fn touched_chunks(&self) -> usize {
        self.chunks.iter().filter(|c| c.get().is_some()).count()
    }

    /// Whether `[offset, offset + len)` lies inside with both multiples of 8.
    fn inside(&self, offset: u64, len: u64) -> bool {
        offset.is_multiple_of(WORD)
            && len.is_multiple_of(WORD)
            && offset.checked_add(len).is_some_and(|end| end <= self.size)
    }

    /// The words of one piece if its chunk was ever stored into.
    fn existing(&self, p: Piece) -> Option<&[AtomicU64]> {
        self.chunks
            .get(p.chunk)?
            .get()?
            .get(p.word..p.word.checked_add(p.words)?)
    }

    /// The words of one piece, allocating its chunk if needed.
    fn allocated(&self, p: Piece) -> Option<&[AtomicU64]> {
        self.chunks
            .get(p.chunk)?
            .get_or_init(zero_chunk)
            .get(p.word..p.word.checked_add(p.words)?)
    }

    /// Writes `[offset, offset + len)` with values derived from `stamp`
    /// (distinct per stamp, so every write changes the bytes it covers).
    /// Returns `false` (writing nothing) for an unaligned span or one that
    /// does not lie inside.
    pub fn write(&self, offset: u64, len: u64, stamp: u64) -> bool {
        if !self.inside(offset, len) {
            return false;
        }
        let base = mix(stamp);
        let mut i = 0u64;
        for piece in pieces(offset, len) {
            let Some(words) = piece.and_then(|p| self.allocated(p)) else {
                return false;
            };
            for word in words {
                word.store(base.wrapping_add(i), Ordering::Relaxed);
                i += 1;
            }
        }
        true
    }

    /// Reads the word at `offset` (zero in an untouched chunk); `None` for
    /// an unaligned offset or one outside.
    #[must_use]
    pub fn read(&self, offset: u64) -> Option<u64> {
        if !self.inside(offset, WORD) {
            return None;
        }
        let p = pieces(offset, WORD).next()??;
        Some(
            self.existing(p)
                .and_then(|w| w.first())
                .map_or(0, |w| w.load(Ordering::Relaxed)),
        )
    }

    /// Appends the bytes of `[offset, offset + len)` to `out`, as
    /// little-endian words (zeros for untouched chunks, which stay
    /// untouched). Returns `false` (appending nothing) for an unaligned span
    /// or one that does not lie inside.
    pub fn read_bytes(&self, offset: u64, len: u64, out: &mut Vec<u8>) -> bool {
        if !self.inside(offset, len) {
            return false;
        }
        let start = out.len();
        for piece in pieces(offset, len) {
            let Some(p) = piece else {
                out.truncate(start);
                return false;
            };
            match self.existing(p) {
                Some(words) => {
                    for word in words {
                        out.extend_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
                    }
                }
                None => out.resize(out.len() + p.words * 8, 0),
            }
        }
        true
    }

    /// Stores `bytes` (little-endian words) at `offset`; zeros bound for an
    /// untouched chunk allocate nothing. Returns `false` (storing nothing)
    /// for a length that is not whole words, an unaligned offset or a span
    /// that does not lie inside.
    pub fn write_bytes(&self, offset: u64, bytes: &[u8]) -> bool {
        let Ok(len) = u64::try_from(bytes.len()) else {
            return false;
        };
        if !self.inside(offset, len) {
            return false;
        }
        let mut rest = bytes;
        for piece in pieces(offset, len) {
            let Some(p) = piece else {
                return false;
            };
            let (these, after) = rest.split_at(rest.len().min(p.words * 8));
            rest = after;
            let target = if these.iter().all(|&b| b == 0) {
                self.existing(p)
            } else {
                self.allocated(p)
            };
            for (word, b) in target.unwrap_or_default().iter().zip(these.chunks_exact(8)) {
                let mut value = [0u8; 8];
                value.copy_from_slice(b);
                word.store(u64::from_le_bytes(value), Ordering::Relaxed);
            }
        }
        true
    }

    /// Copies `len` bytes at `src_offset` of `self` to `dst_offset` of `dst`,
    /// storing only the words that differ (the result is the same as a plain
    /// copy; zeros copied into an untouched chunk allocate nothing). Returns
    /// `false` (copying nothing) for a span either side rejects.
    ///
    /// `dst` must have no other writer while this runs (Dxgkrnl's copier is
    /// the only writer of the destination VRAM).
    pub fn copy_to(&self, src_offset: u64, dst: &Self, dst_offset: u64, len: u64) -> bool {
        if !self.inside(src_offset, len) || !dst.inside(dst_offset, len) {
            return false;
        }
        let mut at = 0;
        while at < len {
            // Walk in runs that stay inside one chunk on both sides.
            let run = (CHUNK - (src_offset + at) % CHUNK)
                .min(CHUNK - (dst_offset + at) % CHUNK)
                .min(len - at);
            let (Some(Some(s)), Some(Some(d))) = (
                pieces(src_offset + at, run).next(),
                pieces(dst_offset + at, run).next(),
            ) else {
                return false;
            };
            match (self.existing(s), dst.existing(d)) {
                // Zeros onto zeros: nothing to do.
                (None, None) => {}
                (None, Some(d)) => d.iter().for_each(|w| w.store(0, Ordering::Relaxed)),
                (Some(s), _) => {
                    let Some(d) = dst.allocated(d) else {
                        return false;
                    };
                    for (s, d) in s.iter().zip(d) {
                        let value = s.load(Ordering::Relaxed);
                        if d.load(Ordering::Relaxed) != value {
                            d.store(value, Ordering::Relaxed);
                        }
                    }
                }
            }
            at += run;
        }
        true
    }

    /// Whether `len` bytes at `offset` of `self` equal `len` bytes at
    /// `other_offset` of `other`; `None` for a span either side rejects.
    /// Two untouched chunks are equal by their map entries: nothing is read.
    #[must_use]
    pub fn same(&self, offset: u64, other: &Self, other_offset: u64, len: u64) -> Option<bool> {
        if !self.inside(offset, len) || !other.inside(other_offset, len) {
            return None;
        }
        let zero = |w: &[AtomicU64]| w.iter().all(|w| w.load(Ordering::Relaxed) == 0);
        let mut at = 0;
        while at < len {
            let run = (CHUNK - (offset + at) % CHUNK)
                .min(CHUNK - (other_offset + at) % CHUNK)
                .min(len - at);
            let a = pieces(offset + at, run).next()??;
            let b = pieces(other_offset + at, run).next()??;
            let equal = match (self.existing(a), other.existing(b)) {
                (None, None) => true,
                (Some(w), None) | (None, Some(w)) => zero(w),
                (Some(a), Some(b)) => a
                    .iter()
                    .zip(b)
                    .all(|(x, y)| x.load(Ordering::Relaxed) == y.load(Ordering::Relaxed)),
            };
            if !equal {
                return Some(false);
            }
            at += run;
        }
        Some(true)
    }

    /// Whether `len` bytes at `offset` are all zero (untouched chunks by
    /// their map); `None` for a span [`Self::same`] would reject.
    #[must_use]
    pub fn is_zero(&self, offset: u64, len: u64) -> Option<bool> {
        if !self.inside(offset, len) {
            return None;
        }
        for piece in pieces(offset, len) {
            let p = piece?;
            if let Some(words) = self.existing(p)
                && words.iter().any(|w| w.load(Ordering::Relaxed) != 0)
            {
                return Some(false);
            }
        }
        Some(true)
    }
}
/// `bytes` for a message: with a binary unit (`1.00 GiB`, `4 KiB`, `12 B`),
/// and the exact count where the unit rounds.
#[must_use]
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let (mut unit, mut scale) = (0, 1u64);
    while unit + 1 < UNITS.len() && bytes >= scale * 1024 {
        scale *= 1024;
        unit += 1;
    }
    let name = UNITS.get(unit).copied().unwrap_or("B");
    if bytes.is_multiple_of(scale) {
        format!("{} {name}", bytes / scale)
    } else {
        let whole = bytes / scale;
        let hundredths = (bytes % scale) * 100 / scale;
        format!("{whole}.{hundredths:02} {name} ({bytes} bytes)")
    }
}

/// splitmix64's finaliser: spreads a write stamp over all 64 bits.
fn mix(stamp: u64) -> u64 {
    let mut z = stamp.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_copy_and_compare_respect_bounds() {
        let src = Vram::new(64 * 1024).unwrap();
        let dst = Vram::new(64 * 1024).unwrap();
        assert_eq!(src.same(0, &dst, 0, 64 * 1024), Some(true));
        assert!(src.write(4096, 4096, 7));
        assert_eq!(src.same(4096, &dst, 4096, 4096), Some(false));
        assert_eq!(src.same(0, &dst, 0, 4096), Some(true));
        assert!(src.copy_to(4096, &dst, 8192, 4096));
        assert_eq!(src.same(4096, &dst, 8192, 4096), Some(true));
        assert_eq!(src.same(4096, &dst, 4096, 4096), Some(false));
        assert!(!src.write(60 * 1024, 8 * 1024, 1), "past the end");
        assert!(!src.write(3, 8, 1), "unaligned");
        assert!(!src.copy_to(0, &dst, 64 * 1024, 8));
        assert_eq!(src.same(u64::MAX - 7, &dst, 0, 8), None);
    }

    #[test]
    fn every_write_changes_the_bytes_it_covers() {
        let vram = Vram::new(4096).unwrap();
        let before: Vec<u64> = (0..512).map(|i| mix(1).wrapping_add(i)).collect();
        assert!(vram.write(0, 4096, 1));
        assert!(vram.write(0, 4096, 2));
        for (i, b) in (0u64..).zip(&before) {
            assert_ne!(vram.read(i * 8), Some(*b));
        }
    }

    #[test]
    fn vram_costs_only_the_chunks_touched() {
        // 80 GiB: only the chunk map is allocated (80 Ki slots).
        let a = Vram::new(80 << 30).unwrap();
        let b = Vram::new(80 << 30).unwrap();
        assert_eq!(a.touched_chunks(), 0);
        assert_eq!(a.same(0, &b, 0, 80 << 30), Some(true), "by the map alone");
        // A write straddling a chunk boundary touches both chunks.
        assert!(a.write(CHUNK - 4096, 8192, 9));
        assert_eq!(a.touched_chunks(), 2);
        assert_eq!(a.same(0, &b, 0, 2 * CHUNK), Some(false));
        assert_eq!(a.is_zero(CHUNK - 4096, 8192), Some(false));
        assert_eq!(a.is_zero(0, CHUNK - 4096), Some(true));
        // Copy to another offset in the other VRAM, across its chunks too.
        assert!(a.copy_to(CHUNK - 4096, &b, 3 * CHUNK - 2048, 8192));
        assert_eq!(a.same(CHUNK - 4096, &b, 3 * CHUNK - 2048, 8192), Some(true));
        assert_eq!(b.touched_chunks(), 2);
        // Copying zeros into untouched VRAM allocates nothing; over touched
        // VRAM it clears it.
        assert!(a.copy_to(40 * CHUNK, &b, 50 * CHUNK, CHUNK));
        assert_eq!(b.touched_chunks(), 2);
        assert!(a.copy_to(10 * CHUNK, &b, 3 * CHUNK - 2048, 8192));
        assert_eq!(b.is_zero(3 * CHUNK - 2048, 8192), Some(true));
        assert_eq!(a.read(80 << 30), None);
        assert_eq!(a.read(4), None);
    }

    #[test]
    fn sizes_in_messages_have_units() {
        assert_eq!(format_size(12), "12 B");
        assert_eq!(format_size(4096), "4 KiB");
        assert_eq!(format_size(1 << 30), "1 GiB");
        assert_eq!(
            format_size((1 << 30) + (1 << 29)),
            "1.50 GiB (1610612736 bytes)"
        );
    }

    #[test]
    fn bad_sizes_are_refused() {
        assert_eq!(Vram::new(0).unwrap_err(), VramError::BadSize(0));
        assert_eq!(Vram::new(12).unwrap_err(), VramError::BadSize(12));
    }
}
