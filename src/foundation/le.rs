//! Little-endian fields of the fixed-layout records this driver exchanges as
//! bytes (escape replies, triage event payloads, allocation private data):
//! reads that say `None` past the end, and a cursor that writes fields in
//! order and never past its buffer.

/// The `u32` at byte `at`, if `bytes` holds all four of its bytes.
pub(crate) fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    bytes
        .get(at..at.checked_add(4)?)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
}

/// The `u64` at byte `at`, if `bytes` holds all eight of its bytes.
pub(crate) fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    bytes
        .get(at..at.checked_add(8)?)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
}

/// Writes fields one after another from the start of a buffer. A field that
/// does not fit whole is not written (the encoders size their buffers for all
/// their fields, so that does not happen).
pub(crate) struct Cursor<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `out`.
    pub(crate) fn new(out: &'a mut [u8]) -> Self {
        Self { out, at: 0 }
    }

    /// Writes `bytes` at the cursor and moves past them.
    pub(crate) fn put(&mut self, bytes: &[u8]) -> &mut Self {
        if let Some(dst) = self
            .at
            .checked_add(bytes.len())
            .and_then(|end| self.out.get_mut(self.at..end))
        {
            dst.copy_from_slice(bytes);
        }
        self.at = self.at.saturating_add(bytes.len());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_never_run_past_the_buffer() {
        let mut buf = [0u8; 14];
        Cursor::new(&mut buf)
            .put(&0x1122_3344u32.to_le_bytes())
            .put(&0x5566_7788_99AA_BBCCu64.to_le_bytes())
            .put(&0xDDEE_FF00u32.to_le_bytes());
        assert_eq!(u32_at(&buf, 0), Some(0x1122_3344));
        assert_eq!(u64_at(&buf, 4), Some(0x5566_7788_99AA_BBCC));
        // The third field did not fit whole: not written at all.
        assert_eq!(&buf[12..], &[0, 0]);
        assert_eq!(u32_at(&buf, 11), None);
        assert_eq!(u64_at(&buf, 7), None);
        assert_eq!(u32_at(&buf, usize::MAX), None);
    }
}
