//! VRAM as the model's GPU and Dxgkrnl stand-ins see it: the **driver's own
//! backing** of a started adapter's segment (`src/memory/backing.rs`), reached
//! through the driver's host export (`gpup_miniport::host::vram`). The model
//! keeps no copy of its own: the GPU writers ([`crate::writers`]) store into
//! the bytes the driver (and its software engine) owns, Dxgkrnl's migration
//! copier copies them from the source adapter's backing to the target's, and
//! the byte-identical proof compares the two backings.
//!
//! # Ownership and ordering
//! Writers and the copier touch the same bytes concurrently; every 8-byte
//! word is an atomic accessed with `Relaxed` loads and stores, so a copy
//! racing a write may read a torn page, never undefined behaviour. What makes
//! the copy *correct* is the protocol the driver documents in
//! `src/basis/bitplane.rs`: a writer stores its data **first** and marks the
//! page through the driver afterwards (the mark is a `Release` RMW); the
//! harvest that reports the page takes its word with an `Acquire` RMW. So a
//! copy made after a harvest sees every write whose mark that harvest
//! reported, and a write still racing the copy leaves its page dirty for the
//! next harvest.
//!
//! # Cost
//! The backing commits 1 MiB chunks on first non-zero store (8 KiB of chunk
//! table per GiB at start), so an 80 GiB segment costs what the workload
//! touches. [`Vram::copy_to`] stores only words that differ (copying zeros
//! into an untouched chunk commits nothing), and [`Vram::same`] compares two
//! untouched chunks by their table entries, without reading a byte.
//!
//! A [`Vram`] keeps its backing alive past the adapter's stop and removal (the
//! proof may run after teardown).

use dxgk_sys::HANDLE;
use gpup_miniport::host::VramRef;

/// Bytes per simulated word.
pub const WORD: u64 = 8;

/// Bytes per chunk of the driver's backing: 1 MiB.
pub const CHUNK: u64 = gpup_miniport::host::VRAM_CHUNK;

/// The bytes of one VRAM segment of a started adapter.
pub struct Vram {
    backing: VramRef,
}

impl core::fmt::Debug for Vram {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Vram")
            .field("size", &self.size())
            .field("touched_chunks", &self.touched_chunks())
            .finish()
    }
}

/// Why an adapter's VRAM is not available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VramError {
    /// The size is zero or not a multiple of 8 bytes.
    BadSize(u64),
    /// The host cannot hold the chunk table of a segment of this size.
    NoMemory(u64),
    /// The adapter is not started or has no VRAM segment of this id.
    NoSegment(u32),
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
                "cannot reserve the chunk table of {} of VRAM ({} MiB chunks) in host memory",
                format_size(*size),
                CHUNK >> 20
            ),
            Self::NoSegment(id) => write!(f, "the adapter has no started VRAM segment {id}"),
        }
    }
}

impl std::error::Error for VramError {}

impl Vram {
    /// Whether the driver can back a segment of `size` bytes on this host:
    /// a non-zero multiple of 8 whose chunk table (8 bytes per MiB) the host
    /// can reserve. Checked before an adapter of that size is started, so
    /// that an impossible size is a configuration error, not a failed start.
    ///
    /// # Errors
    /// [`VramError::BadSize`] or [`VramError::NoMemory`].
    pub fn check_size(size: u64) -> Result<(), VramError> {
        if size == 0 || !size.is_multiple_of(WORD) {
            return Err(VramError::BadSize(size));
        }
        let table = usize::try_from(size.div_ceil(CHUNK))
            .ok()
            .and_then(|n| n.checked_mul(core::mem::size_of::<usize>()))
            .ok_or(VramError::NoMemory(size))?;
        let mut probe: Vec<u8> = Vec::new();
        probe
            .try_reserve_exact(table)
            .map_err(|_| VramError::NoMemory(size))
    }

    /// The VRAM of segment `segment` of the started adapter whose
    /// `MiniportDeviceContext` is `adapter` (`Adapter::context`).
    ///
    /// # Errors
    /// [`VramError::NoSegment`] when the adapter is unknown, not started, or
    /// has no such segment.
    pub fn of(adapter: HANDLE, segment: u32) -> Result<Self, VramError> {
        gpup_miniport::host::vram(adapter, segment)
            .map(|backing| Self { backing })
            .ok_or(VramError::NoSegment(segment))
    }

    /// The driver's backing itself (its whole API: any-alignment byte
    /// access, fills, `Status` results).
    #[must_use]
    pub fn backing(&self) -> &VramRef {
        &self.backing
    }

    /// Size in bytes.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.backing.size()
    }

    /// Chunks committed so far (each [`CHUNK`] bytes of host memory).
    #[must_use]
    pub fn touched_chunks(&self) -> usize {
        self.backing.touched_chunks()
    }

    /// Writes `[offset, offset + len)` with values derived from `stamp`
    /// (distinct per stamp, so every write changes the bytes it covers).
    /// Returns `false` for an unaligned span, one that does not lie inside,
    /// or a chunk the driver could not commit.
    pub fn write(&self, offset: u64, len: u64, stamp: u64) -> bool {
        let base = mix(stamp);
        self.backing
            .write_words(offset, len, |i| base.wrapping_add(i))
            .is_ok()
    }

    /// Reads the word at `offset` (zero in an untouched chunk); `None` for
    /// an unaligned offset or one outside.
    #[must_use]
    pub fn read(&self, offset: u64) -> Option<u64> {
        self.backing.read_word(offset).ok()
    }

    /// Appends the bytes of `[offset, offset + len)` to `out` (zeros for
    /// untouched chunks, which stay untouched). Returns `false` (appending
    /// nothing) for a span that does not lie inside.
    pub fn read_bytes(&self, offset: u64, len: u64, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        let Some(end) = usize::try_from(len).ok().and_then(|n| start.checked_add(n)) else {
            return false;
        };
        if offset.checked_add(len).is_none_or(|e| e > self.size()) {
            return false;
        }
        out.resize(end, 0);
        let ok = out
            .get_mut(start..)
            .is_some_and(|tail| self.backing.read_bytes(offset, tail).is_ok());
        if !ok {
            out.truncate(start);
        }
        ok
    }

    /// Stores `bytes` at `offset`; zeros bound for an untouched chunk commit
    /// nothing. Returns `false` for a span that does not lie inside or a
    /// chunk the driver could not commit.
    pub fn write_bytes(&self, offset: u64, bytes: &[u8]) -> bool {
        self.backing.write_bytes(offset, bytes).is_ok()
    }

    /// Copies `len` bytes at `src_offset` of `self` to `dst_offset` of `dst`,
    /// storing only the words that differ. Returns `false` for a span either
    /// side rejects (or a destination chunk that could not be committed).
    ///
    /// `dst` must have no other writer while this runs (Dxgkrnl's copier is
    /// the only writer of the destination VRAM).
    pub fn copy_to(&self, src_offset: u64, dst: &Self, dst_offset: u64, len: u64) -> bool {
        dst.backing
            .copy_from(dst_offset, &self.backing, src_offset, len)
            .is_ok()
    }

    /// Whether `len` bytes at `offset` of `self` equal `len` bytes at
    /// `other_offset` of `other`; `None` for a span either side rejects.
    #[must_use]
    pub fn same(&self, offset: u64, other: &Self, other_offset: u64, len: u64) -> Option<bool> {
        self.backing
            .same(offset, &other.backing, other_offset, len)
            .ok()
    }

    /// Whether `len` bytes at `offset` are all zero; `None` for a span
    /// [`Self::same`] would reject.
    #[must_use]
    pub fn is_zero(&self, offset: u64, len: u64) -> Option<bool> {
        self.backing.is_zero(offset, len).ok()
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
    use crate::{AdapterConfig, Driver};

    const MIB: u64 = 1 << 20;

    fn started(size: u64) -> crate::Adapter {
        Driver::load()
            .unwrap()
            .start_adapter(&AdapterConfig::single(size, 4096))
            .unwrap()
    }

    #[test]
    fn the_model_writes_the_drivers_bytes() {
        let a = started(64 * MIB);
        let segment = a.memory_config().segments[0].id;
        let vram = Vram::of(a.context(), segment).unwrap();
        assert_eq!(vram.size(), 64 * MIB);
        assert!(vram.write(4096, 4096, 7));
        // A second reference from the driver sees the same bytes: there is
        // one backing, the driver's.
        let again = Vram::of(a.context(), segment).unwrap();
        assert!(again.backing().same_backing(vram.backing()));
        assert_eq!(again.read(4096), Some(mix(7)));
        // And so does the C ABI.
        let mut word = [0u8; 8];
        // SAFETY: a live, writable 8-byte buffer.
        let status = unsafe {
            gpup_miniport::host::gpup_host_vram_read(
                a.context(),
                segment,
                4104,
                word.as_mut_ptr(),
                8,
            )
        };
        assert!(status.is_success());
        assert_eq!(u64::from_le_bytes(word), mix(7).wrapping_add(1));
        assert_eq!(
            Vram::of(a.context(), segment + 7).err(),
            Some(VramError::NoSegment(segment + 7))
        );
        // The backing outlives the adapter.
        a.remove().unwrap();
        assert_eq!(vram.read(4096), Some(mix(7)));
    }

    #[test]
    fn write_copy_and_compare_respect_bounds() {
        let (s, t) = (started(64 * 1024), started(64 * 1024));
        let id = s.memory_config().segments[0].id;
        let src = Vram::of(s.context(), id).unwrap();
        let dst = Vram::of(t.context(), id).unwrap();
        assert_eq!(src.same(0, &dst, 0, 64 * 1024), Some(true));
        assert!(src.write(4096, 4096, 7));
        assert_eq!(src.same(4096, &dst, 4096, 4096), Some(false));
        assert!(src.copy_to(4096, &dst, 8192, 4096));
        assert_eq!(src.same(4096, &dst, 8192, 4096), Some(true));
        assert!(!src.write(60 * 1024, 8 * 1024, 1), "past the end");
        assert!(!src.write(3, 8, 1), "unaligned");
        assert!(!src.copy_to(0, &dst, 64 * 1024, 8));
        assert_eq!(src.same(u64::MAX - 7, &dst, 0, 8), None);
        let mut out = vec![1u8];
        assert!(src.read_bytes(4096, 16, &mut out));
        assert_eq!(out.len(), 17);
        assert!(!src.read_bytes(64 * 1024 - 8, 16, &mut out));
        assert_eq!(out.len(), 17, "nothing appended on failure");
    }

    #[test]
    fn every_write_changes_the_bytes_it_covers() {
        let a = started(1 << 20);
        let vram = Vram::of(a.context(), a.memory_config().segments[0].id).unwrap();
        let before: Vec<u64> = (0..512).map(|i| mix(1).wrapping_add(i)).collect();
        assert!(vram.write(0, 4096, 1));
        assert!(vram.write(0, 4096, 2));
        for (i, b) in (0u64..).zip(&before) {
            assert_ne!(vram.read(i * 8), Some(*b));
        }
    }

    #[test]
    fn sizes_are_checked_before_a_start() {
        assert_eq!(Vram::check_size(0), Err(VramError::BadSize(0)));
        assert_eq!(Vram::check_size(12), Err(VramError::BadSize(12)));
        assert_eq!(Vram::check_size(80 << 30), Ok(()));
        assert_eq!(
            Vram::check_size(u64::MAX - 7),
            Err(VramError::NoMemory(u64::MAX - 7))
        );
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
}
