//! Unit tests of the bitplane (`super`).

use super::*;
use gpup_rng::XorShift64Star;

/// Test buffers start initialised (`MaybeUninit::new`), so every byte is.
fn byte(b: &MaybeUninit<u8>) -> u8 {
    // SAFETY: every test buffer is created with `MaybeUninit::new`.
    unsafe { b.assume_init() }
}

fn harvest_vec(plane: &Bitplane, start: u64, count: u64, clear: bool) -> Vec<u8> {
    let n = usize::try_from(count.div_ceil(8)).unwrap();
    let mut out = vec![MaybeUninit::new(0xAAu8); n + 3];
    let span = plane.span(start, count).unwrap();
    assert_eq!(span.bytes(), n);
    Bitplane::harvest(&span, &mut out, clear).unwrap();
    // Bytes past the span are untouched.
    assert!(out[n..].iter().all(|b| byte(b) == 0xAA));
    out[..n].iter().map(byte).collect()
}

fn bit(bytes: &[u8], n: usize) -> bool {
    bytes[n / 8] >> (n % 8) & 1 == 1
}

#[test]
fn harvest_matches_a_bit_by_bit_model_at_every_alignment() {
    // Miri interprets every step: there, a sample of the alignments.
    let (totals, step): (&[u64], usize) = if cfg!(miri) {
        (&[1, 65, 200], 11)
    } else {
        (&[1, 63, 64, 65, 200, 333], 1)
    };
    for &total in totals {
        for start in (0..total.min(70)).step_by(step) {
            for count in [1, 7, 8, 9, 63, 64, 65, 130] {
                if start + count > total {
                    continue;
                }
                let plane = Bitplane::new(total).unwrap();
                let pattern = |n: u64| n.is_multiple_of(3) || n % 7 == 1;
                for n in 0..total {
                    if pattern(n) {
                        plane.set(n, 1);
                    }
                }
                let copy = harvest_vec(&plane, start, count, false);
                let taken = harvest_vec(&plane, start, count, true);
                assert_eq!(copy, taken);
                for i in 0..usize::try_from(count).unwrap() {
                    assert_eq!(
                        bit(&taken, i),
                        pattern(start + i as u64),
                        "total {total} start {start} count {count} bit {i}"
                    );
                }
                // Padding bits of the last byte are zero.
                for i in usize::try_from(count).unwrap()..taken.len() * 8 {
                    assert!(!bit(&taken, i));
                }
                // Only the span was cleared.
                let after = harvest_vec(&plane, 0, total, false);
                for n in 0..total {
                    let in_span = n >= start && n < start + count;
                    assert_eq!(
                        bit(&after, usize::try_from(n).unwrap()),
                        pattern(n) && !in_span
                    );
                }
            }
        }
    }
}

#[test]
fn set_covers_exactly_the_requested_bits() {
    let plane = Bitplane::new(300).unwrap();
    plane.set(62, 70);
    let all = harvest_vec(&plane, 0, 300, false);
    for n in 0..300 {
        assert_eq!(bit(&all, n), (62..132).contains(&n));
    }
    // Out-of-plane requests are clipped, never written.
    plane.set(299, 1000);
    plane.set(5000, 1);
    let all = harvest_vec(&plane, 0, 300, true);
    assert!(bit(&all, 299));
    assert_eq!(harvest_vec(&plane, 0, 300, false), vec![0; 38]);
}

#[test]
fn out_of_range_harvest_writes_nothing() {
    let plane = Bitplane::new(10).unwrap();
    plane.set(0, 10);
    assert_eq!(plane.span(5, 10).err(), Some(Status::InvalidParameter));
    assert_eq!(plane.span(0, 0).err(), Some(Status::InvalidParameter));
    assert_eq!(
        plane.span(u64::MAX, 2).err(),
        Some(Status::InvalidParameter)
    );
    let mut short = [MaybeUninit::new(0x55u8); 1];
    let span = plane.span(0, 10).unwrap();
    assert_eq!(
        Bitplane::harvest(&span, &mut short, true),
        Err(Status::BufferTooSmall)
    );
    assert_eq!(byte(&short[0]), 0x55);
    // Nothing was cleared by the refused harvests.
    assert_eq!(harvest_vec(&plane, 0, 10, false), vec![0xFF, 0x03]);
}

#[test]
fn harvests_across_blocks_and_summary_words_match_a_model() {
    // Three summary words and a partial last block: spans start and end
    // inside words, blocks and summary words, and clearing harvests of
    // part of a block must leave the rest of it reported later.
    let total = 2 * 64 * BLOCK_BITS + 3 * BLOCK_BITS + 77;
    let plane = Bitplane::new(total).unwrap();
    assert_eq!(plane.summary.len(), 3);
    let mut model = vec![false; usize::try_from(total).unwrap()];
    let mut rng = XorShift64Star::from_state(0x9E37_79B9_7F4A_7C15);
    let span = |rng: &mut XorShift64Star| {
        // Word- and block-aligned starts too: they take the fast paths.
        let start = match rng.next_u64() % 3 {
            0 => rng.next_u64() % total / 64 * 64,
            1 => rng.next_u64() % total / BLOCK_BITS * BLOCK_BITS,
            _ => rng.next_u64() % total,
        };
        let len = match rng.next_u64() % 4 {
            0 => 1 + rng.next_u64() % 64,
            1 => 1 + rng.next_u64() % (4 * BLOCK_BITS),
            _ => 1 + rng.next_u64() % (total - start),
        };
        (start, len.min(total - start))
    };
    for op in 0..4000u32 {
        let (start, count) = span(&mut rng);
        if rng.next_u64().is_multiple_of(3) {
            let count = if op.is_multiple_of(2) {
                count.min(5)
            } else {
                count
            };
            plane.set(start, count);
            for n in start..start + count {
                model[usize::try_from(n).unwrap()] = true;
            }
            continue;
        }
        let clear = !rng.next_u64().is_multiple_of(4);
        let got = harvest_vec(&plane, start, count, clear);
        for i in 0..count {
            let n = usize::try_from(start + i).unwrap();
            assert_eq!(
                bit(&got, usize::try_from(i).unwrap()),
                model[n],
                "op {op}: span {start}+{count}, bit {n}"
            );
            if clear {
                model[n] = false;
            }
        }
        for i in usize::try_from(count).unwrap()..got.len() * 8 {
            assert!(!bit(&got, i), "op {op}: padding bit {i} set");
        }
    }
    let all = harvest_vec(&plane, 0, total, true);
    for (n, &dirty) in model.iter().enumerate() {
        assert_eq!(bit(&all, n), dirty, "final bit {n}");
    }
    // A whole-plane clearing harvest leaves nothing behind, summary included.
    assert!(harvest_vec(&plane, 0, total, false).iter().all(|b| *b == 0));
    assert!(plane.summary.iter().all(|s| s.load(ORDER) == 0));
}

#[test]
fn marks_set_the_summary_bit_of_every_block_they_touch() {
    let plane = Bitplane::new(3 * 64 * BLOCK_BITS).unwrap();
    plane.set(BLOCK_BITS - 1, 2);
    assert_eq!(plane.summary[0].load(ORDER), 0b11);
    plane.set(64 * BLOCK_BITS - 1, 64 * BLOCK_BITS + 2);
    assert_eq!(plane.summary[0].load(ORDER), 0b11 | 1 << 63);
    assert_eq!(plane.summary[1].load(ORDER), u64::MAX);
    assert_eq!(plane.summary[2].load(ORDER), 1);
    // A clearing harvest of part of block 0 keeps its summary bit; one of
    // all of block 1 clears it.
    let mut out = [MaybeUninit::new(0u8); 64];
    Bitplane::harvest(&plane.span(0, 10).unwrap(), &mut out, true).unwrap();
    let block_1 = plane.span(BLOCK_BITS, BLOCK_BITS).unwrap();
    Bitplane::harvest(&block_1, &mut out, true).unwrap();
    assert_eq!(plane.summary[0].load(ORDER), 0b01 | 1 << 63);
}
