//! A fixed-size, NUL-terminated line that `core::fmt` writes into, for debug
//! output formatted on the stack (no allocation, any IRQL).

/// A formatted line of at most `N - 1` bytes plus a terminating NUL.
pub(crate) struct LineBuffer<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> LineBuffer<N> {
    /// An empty line.
    pub(crate) const fn new() -> Self {
        const { assert!(N > 0, "room for the NUL") };
        Self {
            bytes: [0; N],
            len: 0,
        }
    }

    /// The line so far, NUL-terminated (a C string).
    pub(crate) fn as_c_str(&self) -> &core::ffi::CStr {
        // `write_str` never writes at or past `N - 1`, and `bytes` starts
        // zeroed, so a NUL is always within `bytes`.
        core::ffi::CStr::from_bytes_until_nul(&self.bytes).unwrap_or(c"")
    }
}

impl<const N: usize> core::fmt::Write for LineBuffer<N> {
    /// Appends `s`, silently truncating what does not fit (keeping the NUL).
    /// NUL bytes inside `s` are replaced by `?` so the line is not cut short.
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = N.saturating_sub(1).saturating_sub(self.len);
        let n = s.len().min(room);
        if let (Some(dst), Some(src)) = (
            self.bytes.get_mut(self.len..self.len.saturating_add(n)),
            s.as_bytes().get(..n),
        ) {
            for (d, &b) in dst.iter_mut().zip(src) {
                *d = if b == 0 { b'?' } else { b };
            }
            self.len = self.len.saturating_add(n);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use core::fmt::Write;

    use super::*;

    #[test]
    fn formats_and_terminates() {
        let mut line = LineBuffer::<32>::new();
        write!(line, "version {:#x}", 0x11007).expect("infallible");
        assert_eq!(line.as_c_str(), c"version 0x11007");
    }

    #[test]
    fn truncates_long_lines_and_keeps_the_nul() {
        let mut line = LineBuffer::<8>::new();
        line.write_str("abcdefghijkl").expect("infallible");
        write!(line, "more").expect("infallible");
        assert_eq!(line.as_c_str(), c"abcdefg");
    }

    #[test]
    fn an_embedded_nul_does_not_cut_the_line() {
        let mut line = LineBuffer::<16>::new();
        write!(line, "a\0b").expect("infallible");
        assert_eq!(line.as_c_str(), c"a?b");
    }
}
