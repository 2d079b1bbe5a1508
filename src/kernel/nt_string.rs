//! Counted UTF-16 strings (`UNICODE_STRING`) for the names the WDK-free
//! backend passes to the kernel.

use dxgk_sys::UNICODE_STRING;

/// An ASCII name as UTF-16 code units, owned where the caller keeps it.
pub(crate) struct NtString<const N: usize> {
    units: [u16; N],
}

impl<const N: usize> NtString<N> {
    /// Encodes `ascii` (ASCII bytes map one to one onto UTF-16 code units).
    pub(crate) fn new(ascii: &[u8; N]) -> Self {
        const {
            assert!(
                N <= 0x7FFF,
                "a UNICODE_STRING holds at most 32767 code units"
            )
        };
        let mut units = [0_u16; N];
        for (unit, byte) in units.iter_mut().zip(ascii) {
            *unit = u16::from(*byte);
        }
        Self { units }
    }

    /// A `UNICODE_STRING` that describes this string, valid while it lives
    /// and stays in place. Kernel routines taking a `PUNICODE_STRING` input
    /// (`ZwLoadDriver`, `IoGetDeviceObjectPointer`, `MmGetSystemRoutineAddress`)
    /// read it only.
    pub(crate) fn as_unicode_string(&mut self) -> UNICODE_STRING {
        // N <= 0x7FFF (checked at compile time above), so 2 * N fits a USHORT.
        let bytes = u16::try_from(N.saturating_mul(2)).unwrap_or(u16::MAX);
        UNICODE_STRING {
            Length: bytes,
            MaximumLength: bytes,
            Buffer: self.units.as_mut_ptr(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_ascii_as_utf16_with_byte_lengths() {
        let mut name = NtString::new(br"\Device\DxgKrnl");
        let s = name.as_unicode_string();
        assert_eq!((s.Length, s.MaximumLength), (30, 30));
        // SAFETY: `Buffer` points to `name`'s 15 code units, alive here.
        let units = unsafe { core::slice::from_raw_parts(s.Buffer, 15) };
        assert_eq!(String::from_utf16_lossy(units), r"\Device\DxgKrnl");
    }

    #[test]
    fn the_empty_string_has_zero_length() {
        let mut name = NtString::new(b"");
        assert_eq!(name.as_unicode_string().Length, 0);
    }
}
