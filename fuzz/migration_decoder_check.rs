//! The property the `migration_decoder` fuzz target checks, shared with the
//! ordinary test that replays its seeds (`tests/migration_corpus.rs`).
//!
//! For an input `data`: the decoder never panics on `data`, nor on `data`
//! resealed (its length field and CRC32C fixed, when it is at least a header
//! long); and for every blob it accepts, the canonical re-encoding is
//! accepted as the same kind and is a fixed point.

use gpup_miniport::migration::{inspect, reencode};

/// Returns `data` with its total length and CRC32C fixed (a copy), or
/// `None` when it is shorter than the 32-byte header.
pub fn resealed(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 32 {
        return None;
    }
    let mut blob = data.to_vec();
    let total = u32::try_from(blob.len()).ok()?;
    blob[16..20].copy_from_slice(&total.to_le_bytes());
    blob[24..28].fill(0);
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&blob);
    blob[24..28].copy_from_slice(&crc.to_le_bytes());
    Some(blob)
}

/// Checks one input (panics on a violation, which is what a fuzz target reports).
pub fn check(data: &[u8]) {
    one(data);
    if let Some(blob) = resealed(data) {
        one(&blob);
    }
}

fn one(data: &[u8]) {
    let kind = inspect(data);
    match reencode(data) {
        Ok((k, canonical)) => {
            assert_eq!(kind, Ok(k), "inspect and reencode agree");
            assert_eq!(inspect(&canonical), Ok(k), "the canonical form decodes");
            let again = reencode(&canonical).expect("the canonical form re-encodes");
            assert_eq!(again, (k, canonical), "the canonical form is a fixed point");
        }
        Err(e) => assert_eq!(kind, Err(e), "inspect and reencode agree"),
    }
}
