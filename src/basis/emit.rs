//! The output side of a per-word query (`super::bitplane`): span bits in
//! RTL_BITMAP order, from plane words shifted by the span's offset.

use core::mem::MaybeUninit;

/// Writes a harvest's output: span bit `n` to bit `n % 8` of byte `n / 8`, from
/// the plane words in order, shifted down by the span's offset in its first
/// word. Never writes past `out`.
pub(super) struct Emitter<'a> {
    out: &'a mut [MaybeUninit<u8>],
    /// Bytes written so far (`<= out.len()`).
    pos: usize,
    /// `start % 64`.
    shift: u32,
    /// With a shift: the previous word's bits not yet written.
    pending: Option<u64>,
}

impl<'a> Emitter<'a> {
    /// An emitter of a span starting at bit `shift` (`start % 64`) of its
    /// first plane word, into `out`.
    pub(super) fn new(out: &'a mut [MaybeUninit<u8>], shift: u32) -> Self {
        Self {
            out,
            pos: 0,
            shift,
            pending: None,
        }
    }

    /// Whether output words are plane words shifted (no block fast paths).
    pub(super) fn shifted(&self) -> bool {
        self.shift != 0
    }

    /// The next plane word.
    #[inline]
    pub(super) fn push(&mut self, bits: u64) {
        if self.shift == 0 {
            self.write(bits);
            return;
        }
        if let Some(pending) = self.pending {
            // The low `shift` bits of this word complete the previous output word.
            // PANIC: `shift` is in 1..=63 on this branch, so `64 - shift` is in 1..=63.
            #[allow(clippy::arithmetic_side_effects)]
            let high = bits << (64 - self.shift);
            self.write(pending | high);
        }
        self.pending = Some(bits >> self.shift);
    }

    /// `n` plane words that are all zero.
    #[inline]
    pub(super) fn zeros(&mut self, n: usize) {
        if let Some(dst) = self.next_bytes(n.saturating_mul(8)) {
            // Without a shift: the words' bytes, at once.
            dst.fill(MaybeUninit::new(0));
            return;
        }
        let Some(rest) = n.checked_sub(1) else {
            return;
        };
        self.push(0);
        // Nothing is pending now: each further zero word is one zero output word.
        let end = self
            .pos
            .saturating_add(rest.saturating_mul(8))
            .min(self.out.len());
        if let Some(dst) = self.out.get_mut(self.pos..end) {
            dst.fill(MaybeUninit::new(0));
            self.pos = end;
        }
    }

    /// Without a shift, the next `n` output bytes, if the output has them all
    /// (the caller writes them all).
    #[inline]
    pub(super) fn next_bytes(&mut self, n: usize) -> Option<&mut [MaybeUninit<u8>]> {
        if self.shift != 0 {
            return None;
        }
        let end = self.pos.checked_add(n)?;
        let dst = self.out.get_mut(self.pos..end)?;
        self.pos = end;
        Some(dst)
    }

    /// Without a shift, the next `N` output bytes (`N / 8` plane words), if
    /// the output has all of them (the caller writes them all).
    #[inline]
    pub(super) fn next_array<const N: usize>(&mut self) -> Option<&mut [MaybeUninit<u8>; N]> {
        if self.shift != 0 {
            return None;
        }
        let end = self.pos.checked_add(N)?;
        let dst = self.out.get_mut(self.pos..end)?;
        let dst = <&mut [MaybeUninit<u8>; N]>::try_from(dst).ok()?;
        self.pos = end;
        Some(dst)
    }

    /// After the last plane word: the last output word, if it has bytes left.
    pub(super) fn finish(mut self) {
        if let Some(pending) = self.pending.take() {
            self.write(pending);
        }
    }

    /// One output word, little-endian, into as many of the next 8 bytes as `out` has.
    #[inline]
    fn write(&mut self, bits: u64) {
        let bytes = bits.to_le_bytes().map(MaybeUninit::new);
        let end = self.pos.saturating_add(8);
        // A whole word is one 8-byte store: a clearing RMW waits for every
        // store before it to drain, so fewer, wider stores matter.
        if let Some(dst) = self
            .out
            .get_mut(self.pos..end)
            .and_then(|dst| <&mut [MaybeUninit<u8>; 8]>::try_from(dst).ok())
        {
            *dst = bytes;
            self.pos = end;
        } else if let Some(dst) = self.out.get_mut(self.pos..) {
            let n = dst.len();
            for (d, s) in dst.iter_mut().zip(bytes) {
                *d = s;
            }
            self.pos = self.pos.saturating_add(n);
        }
    }
}
