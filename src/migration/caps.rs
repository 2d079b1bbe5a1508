//! The largest migration blobs a Restore accepts, computed before anything
//! is copied or allocated: a larger `DataSize` is refused unread
//! (`STATUS_OBJECT_TYPE_MISMATCH` with the malformed-data triage event, as
//! the spec answers any data that cannot be valid).
//!
//! Each cap is the largest size the records of this format version
//! (`crate::savestate::codec::FORMAT_MAJOR`.`FORMAT_MINOR`) can reach for
//! this adapter and VF, plus [`FORWARD_ALLOWANCE`] for optional records a
//! later minor version may add (which this decoder skips: forward
//! compatibility stays):
//! - immutable: the header, the identity and driver records, a segments
//!   record of every segment the format allows, a resources record of every
//!   reserve it allows;
//! - mutable: the header, the VF-state record, an MSI-X record of every
//!   entry of the VF's table, a configuration record of the largest
//!   configuration space, and a bases record of every basis over the VF's
//!   segment with at most its ranges plus the reserve's pieces as runs each
//!   (a Restore accepts only source bases the target VF has, so no valid
//!   blob lists more).
//!
//! Counting walks the tracker's bases (no allocation); a Restore holds its
//! VF's lock meanwhile.

use crate::basis::Tracker;
use crate::foundation::status::Result;
use crate::savestate::codec::HEADER_LEN;
use crate::savestate::state::{MAX_CONFIG, MAX_RESERVES, MAX_SEGMENTS};
use crate::vgpu::{MSIX_TABLE_SIZE, Vgpu};

/// Bytes a blob may carry beyond the largest this version writes, for the
/// optional records of later minor versions: 64 KiB, far more than a
/// version adds in practice, small enough that copying it is cheap.
pub(crate) const FORWARD_ALLOWANCE: usize = 64 << 10;

/// A record's header: type, flags, payload length.
const RECORD_HEADER: usize = 8;

/// `a * b + c` in `usize`, saturating (a cap only needs to be an upper bound).
fn mul_add(a: usize, b: usize, c: usize) -> usize {
    a.saturating_mul(b).saturating_add(c)
}

/// The sum of `parts`, saturating.
fn sum(parts: &[usize]) -> usize {
    parts.iter().fold(0, |total, n| total.saturating_add(*n))
}

/// The largest immutable blob accepted.
pub(crate) fn immutable_cap() -> usize {
    let identity = sum(&[RECORD_HEADER, 9]);
    let driver = sum(&[RECORD_HEADER, 10]);
    let segments = sum(&[RECORD_HEADER, mul_add(MAX_SEGMENTS, 16, 4)]);
    let resources = sum(&[RECORD_HEADER, mul_add(MAX_RESERVES, 12, 20)]);
    sum(&[
        HEADER_LEN,
        identity,
        driver,
        segments,
        resources,
        FORWARD_ALLOWANCE,
    ])
}

/// The largest mutable blob accepted for `vgpu`.
///
/// # Errors
/// `InvalidDeviceState` for a VF without VRAM.
pub(crate) fn mutable_cap(tracker: &Tracker, vgpu: &Vgpu) -> Result<usize> {
    let pieces = vgpu.migratable()?.pieces().len();
    let vf_state = sum(&[RECORD_HEADER, 13]);
    let msix = sum(&[RECORD_HEADER, mul_add(MSIX_TABLE_SIZE, 2, 4)]);
    let config = sum(&[RECORD_HEADER, 4, MAX_CONFIG]);
    let mut bases = sum(&[RECORD_HEADER, 4]);
    for b in tracker.bases().filter(|b| b.segment == vgpu.segment()) {
        let runs = b.range_count().saturating_add(pieces);
        bases = bases.saturating_add(mul_add(runs, 16, 9));
    }
    let cap = sum(&[HEADER_LEN, vf_state, msix, config, bases, FORWARD_ALLOWANCE]);
    // Never above the format's own limit.
    Ok(cap.min(crate::savestate::codec::MAX_BLOB_LEN))
}
