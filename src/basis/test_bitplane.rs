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
    Bitplane::harvest(&span, &mut out, clear, 0).unwrap();
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
                        plane.set(n, 1, 0);
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
    plane.set(62, 70, 0);
    let all = harvest_vec(&plane, 0, 300, false);
    for n in 0..300 {
        assert_eq!(bit(&all, n), (62..132).contains(&n));
    }
    // Out-of-plane requests are clipped, never written.
    plane.set(299, 1000, 0);
    plane.set(5000, 1, 0);
    let all = harvest_vec(&plane, 0, 300, true);
    assert!(bit(&all, 299));
    assert_eq!(harvest_vec(&plane, 0, 300, false), vec![0; 38]);
}

#[test]
fn out_of_range_harvest_writes_nothing() {
    let plane = Bitplane::new(10).unwrap();
    plane.set(0, 10, 0);
    assert_eq!(plane.span(5, 10).err(), Some(Status::InvalidParameter));
    assert_eq!(plane.span(0, 0).err(), Some(Status::InvalidParameter));
    assert_eq!(
        plane.span(u64::MAX, 2).err(),
        Some(Status::InvalidParameter)
    );
    let mut short = [MaybeUninit::new(0x55u8); 1];
    let span = plane.span(0, 10).unwrap();
    assert_eq!(
        Bitplane::harvest(&span, &mut short, true, 0),
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
    assert_eq!(plane.claimed.len(), 3);
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
            plane.set(start, count, 0);
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
    // A whole-plane clearing harvest leaves no bit behind (the blocks stay
    // claimed: only a drain ends an activation).
    assert!(harvest_vec(&plane, 0, total, false).iter().all(|b| *b == 0));
    assert!(plane.words.iter().all(|w| w.load(ORDER) == 0));
}

#[test]
fn marks_claim_every_block_they_touch_once() {
    let plane = Bitplane::new(3 * 64 * BLOCK_BITS).unwrap();
    // Stale words (an earlier activation's, already reported): a claim
    // zeroes them before the mark's bit goes in.
    plane.words[0].store(u64::MAX, ORDER);
    plane.set(BLOCK_BITS - 1, 2, 0);
    assert_eq!(plane.claimed[0].load(ORDER), 0b11);
    assert_eq!(plane.words[0].load(ORDER), 0);
    assert_eq!(plane.tags[0].load(ORDER), live(0));
    plane.set(64 * BLOCK_BITS - 1, 64 * BLOCK_BITS + 2, 0);
    assert_eq!(plane.claimed[0].load(ORDER), 0b11 | 1 << 63);
    assert_eq!(plane.claimed[1].load(ORDER), u64::MAX);
    assert_eq!(plane.claimed[2].load(ORDER), 1);
    // A live block is not claimed again: its bits stay.
    plane.set(3, 1, 0);
    assert_eq!(plane.words[0].load(ORDER), 1 << 3);
    // Clearing harvests leave the blocks claimed (the activation goes on).
    let mut out = [MaybeUninit::new(0u8); 64];
    let block_1 = plane.span(BLOCK_BITS, BLOCK_BITS).unwrap();
    Bitplane::harvest(&block_1, &mut out, true, 0).unwrap();
    assert_eq!(plane.claimed[0].load(ORDER), 0b11 | 1 << 63);
    // In another activation every block is stale again.
    plane.set(4, 1, 2);
    assert_eq!(plane.words[0].load(ORDER), 1 << 4);
    assert_eq!(plane.tags[0].load(ORDER), live(2));
}

#[test]
fn a_mark_that_finds_its_block_being_claimed_goes_late_and_is_reported() {
    let plane = Bitplane::new(2 * BLOCK_BITS).unwrap();
    // Another mark is claiming block 0: its words are being zeroed.
    plane.words[0].store(0xF0, ORDER);
    plane.tags[0].store(claiming(0), ORDER);
    plane.set(1, 1, 0);
    plane.set(66, 3, 0);
    assert_eq!(
        plane.words[0].load(ORDER),
        0xF0,
        "the words are not touched"
    );
    assert_eq!(plane.late[0].load(ORDER), 0b10);
    assert_eq!(plane.late[1].load(ORDER), 0b11100);
    assert_eq!(plane.late_summary[0].load(ORDER), 1);
    assert_eq!(plane.claimed[0].load(ORDER), 1);
    // Queries report the late bits, not the words of a block being claimed.
    assert_eq!(
        harvest_vec(&plane, 0, 72, false),
        [2, 0, 0, 0, 0, 0, 0, 0, 0x1C]
    );
    // The claim completes; marks go to the words; a clearing query takes both.
    plane.words[0].store(0, ORDER);
    plane.tags[0].store(live(0), ORDER);
    plane.set(2, 1, 0);
    assert_eq!(
        harvest_vec(&plane, 0, 72, true),
        [6, 0, 0, 0, 0, 0, 0, 0, 0x1C]
    );
    assert!(
        plane
            .late
            .iter()
            .chain(&plane.words)
            .all(|w| w.load(ORDER) == 0)
    );
}
