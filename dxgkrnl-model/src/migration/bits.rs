//! The RTL_BITMAP order of `DxgkDdiQueryDirtyBitData`'s buffer: bit `b` of
//! byte `i` is page `8 * i + b`.

/// The set bits of an RTL_BITMAP-ordered buffer.
pub(super) fn set_bits(bits: &[u8]) -> impl Iterator<Item = u64> + '_ {
    (0u64..).zip(bits).flat_map(|(i, &byte)| {
        (0..8u64)
            .filter(move |b| byte >> b & 1 == 1)
            .map(move |b| i * 8 + b)
    })
}

/// How many bits of `bits` are set.
pub(super) fn count_bits(bits: &[u8]) -> u64 {
    bits.iter().map(|b| u64::from(b.count_ones())).sum()
}

/// Sets the bits of the first `pages` pages of `bits` (the whole reserve:
/// every page pending), leaving the padding bits of the last byte clear.
pub(super) fn mark_all(bits: &mut [u8], pages: u64) {
    bits.fill(0xFF);
    if let Some(last) = bits.last_mut() {
        let tail = pages % 8;
        if tail != 0 {
            *last = (1u8 << tail) - 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmap_helpers_read_rtl_bitmap_order() {
        let bits = [0b1000_0001u8, 0, 0b10];
        assert_eq!(set_bits(&bits).collect::<Vec<_>>(), vec![0, 7, 17]);
        assert_eq!(count_bits(&bits), 3);
    }
}
