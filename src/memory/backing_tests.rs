//! Unit tests of the VRAM backing. Allocation failure of a chunk commit is
//! injected in `tests/alloc_failure` (the process's allocator there).

use super::*;
use std::sync::Barrier;

const MIB: u64 = 1 << 20;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn a_gib_segment_costs_its_chunk_table_until_written() {
    let b = Backing::new(1 << 30).unwrap();
    assert_eq!(b.touched_chunks(), 0);
    assert_eq!(b.chunks.len(), 1024, "8 KiB of table per GiB");
    assert_eq!(b.read_word(0), Ok(0));
    let mut out = [0xAAu8; 24];
    b.read_bytes(5 * MIB + 3, &mut out).unwrap();
    assert_eq!(out, [0; 24], "untouched chunks read as zero");
    assert_eq!(b.touched_chunks(), 0, "reading commits nothing");
    // Zeros into untouched chunks commit nothing, by any operation.
    b.write_bytes(7 * MIB, &[0; 4096]).unwrap();
    b.fill(9 * MIB, 2 * MIB, 0).unwrap();
    let other = Backing::new(1 << 30).unwrap();
    b.copy_from(20 * MIB, &other, 0, 3 * MIB).unwrap();
    assert_eq!(b.touched_chunks(), 0);
    // A write straddling a chunk boundary commits both chunks, only them.
    b.write_bytes(MIB - 4, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    assert_eq!(b.touched_chunks(), 2);
    assert!(b.chunks[0].is_committed() && b.chunks[1].is_committed());
    assert_eq!(
        b.read_word(MIB - 8),
        Ok(u64::from_le_bytes([0, 0, 0, 0, 1, 2, 3, 4]))
    );
    assert_eq!(
        b.read_word(MIB),
        Ok(u64::from_le_bytes([5, 6, 7, 8, 0, 0, 0, 0]))
    );
    assert_eq!(b.is_zero(0, MIB - 8), Ok(true));
    assert_eq!(b.is_zero(0, 2 * MIB), Ok(false));
}

#[test]
fn unaligned_byte_writes_and_reads_match_a_plain_buffer() {
    let size = 3 * MIB + 40; // not a whole number of chunks
    let b = Backing::new(size).unwrap();
    let mut model = vec![0u8; usize::try_from(size).unwrap()];
    let mut rng = Rng(0x1234_5678);
    for round in 0..2000u64 {
        let len = if round % 7 == 0 {
            rng.below(3 * MIB)
        } else {
            rng.below(40)
        };
        let offset = rng.below(size - len + 1);
        let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        b.write_bytes(offset, &data).unwrap();
        let at = usize::try_from(offset).unwrap();
        model[at..at + data.len()].copy_from_slice(&data);
        // Read back a random span around it.
        let rlen = rng.below(64).min(size - offset);
        let mut out = vec![0u8; usize::try_from(rlen).unwrap()];
        b.read_bytes(offset, &mut out).unwrap();
        assert_eq!(out, model[at..at + out.len()], "round {round}");
    }
    let mut all = vec![0u8; model.len()];
    b.read_bytes(0, &mut all).unwrap();
    assert!(all == model, "the whole segment equals the model");
}

#[test]
fn fill_words_copy_and_compare() {
    let a = Backing::new(8 * MIB).unwrap();
    let b = Backing::new(8 * MIB).unwrap();
    assert_eq!(a.same(0, &b, 0, 8 * MIB), Ok(true), "by the tables alone");
    a.fill(MIB - 4096, 8192, 0x0102_0304_0506_0708).unwrap();
    assert_eq!(a.read_word(MIB), Ok(0x0102_0304_0506_0708));
    assert_eq!(a.same(0, &b, 0, 2 * MIB), Ok(false));
    a.write_words(3 * MIB, 64, |i| i * 3).unwrap();
    assert_eq!(a.read_word(3 * MIB + 16), Ok(6));
    // Copy across chunk boundaries on both sides, to another offset.
    b.copy_from(5 * MIB - 2048, &a, MIB - 4096, 8192).unwrap();
    assert_eq!(b.same(5 * MIB - 2048, &a, MIB - 4096, 8192), Ok(true));
    assert_eq!(b.touched_chunks(), 2);
    // Copying zeros over written words clears them.
    b.copy_from(5 * MIB - 2048, &a, 6 * MIB, 8192).unwrap();
    assert_eq!(b.is_zero(5 * MIB - 2048, 8192), Ok(true));
    // A zero fill clears what it covers.
    a.fill(MIB - 4096, 4096, 0).unwrap();
    assert_eq!(a.is_zero(MIB - 4096, 4096), Ok(true));
    assert_eq!(a.is_zero(MIB, 4096), Ok(false));
    // Within one backing: disjoint spans copy, overlapping ones are refused.
    a.copy_from(7 * MIB, &a, MIB, 4096).unwrap();
    assert_eq!(a.same(7 * MIB, &a, MIB, 4096), Ok(true));
    assert_eq!(
        a.copy_from(MIB + 8, &a, MIB, 4096),
        Err(Status::InvalidParameter)
    );
}

#[test]
fn spans_outside_or_unaligned_are_refused_without_effect() {
    let a = Backing::new(MIB).unwrap();
    let b = Backing::new(2 * MIB).unwrap();
    let bad = Err(Status::InvalidParameter);
    assert_eq!(a.write_bytes(MIB - 3, &[1; 4]), bad);
    assert_eq!(a.write_bytes(u64::MAX, &[1]), bad);
    assert_eq!(a.read_bytes(MIB, &mut [0; 1]), bad);
    assert_eq!(a.fill(4, 8, 1), bad, "unaligned offset");
    assert_eq!(a.fill(0, 12, 1), bad, "unaligned length");
    assert_eq!(a.write_words(MIB - 8, 16, |_| 1), bad);
    assert_eq!(a.read_word(MIB), Err(Status::InvalidParameter));
    assert_eq!(a.read_word(4), Err(Status::InvalidParameter));
    assert_eq!(a.copy_from(0, &b, 2 * MIB - 8, 16), bad);
    assert_eq!(b.copy_from(MIB + 8, &a, 0, MIB), bad);
    assert_eq!(
        a.same(0, &b, u64::MAX - 7, 8),
        Err(Status::InvalidParameter)
    );
    assert_eq!(a.is_zero(0, MIB + 8), Err(Status::InvalidParameter));
    assert_eq!(a.touched_chunks(), 0, "nothing was committed");
    assert_eq!(a.write_bytes(MIB, &[]), Ok(()), "an empty span at the end");
    assert_eq!(Backing::new(0).err(), Some(Status::InvalidParameter));
    assert_eq!(Backing::new(u64::MAX).err(), Some(Status::NoMemory));
}

#[test]
fn racing_writers_commit_one_chunk_and_keep_every_byte() {
    let rounds = if cfg!(miri) { 1 } else { 50 };
    for _ in 0..rounds {
        let b = Backing::new(2 * MIB).unwrap();
        let start = Barrier::new(8);
        std::thread::scope(|s| {
            for t in 0..8u8 {
                let (b, start) = (&b, &start);
                s.spawn(move || {
                    start.wait();
                    // Each thread: its own byte of one shared word (merged by
                    // CAS), and its own whole word elsewhere in the chunk.
                    b.write_bytes(4096 + u64::from(t), &[t + 1]).unwrap();
                    b.fill(8192 + 8 * u64::from(t), 8, u64::from(t) + 100)
                        .unwrap();
                });
            }
        });
        assert_eq!(b.touched_chunks(), 1, "the racers agreed on one chunk");
        assert_eq!(
            b.read_word(4096),
            Ok(u64::from_le_bytes([1, 2, 3, 4, 5, 6, 7, 8]))
        );
        for t in 0..8 {
            assert_eq!(b.read_word(8192 + 8 * t), Ok(t + 100));
        }
    }
}

#[test]
fn backings_follow_the_configured_segments() {
    let segments = [
        Segment {
            id: SegmentId(2),
            size: 64 * MIB,
            page: None,
        },
        Segment {
            id: SegmentId(5),
            size: 3 * MIB,
            page: None,
        },
    ];
    let backings = Backings::new(&segments).unwrap();
    assert_eq!(backings.get(SegmentId(2)).map(|b| b.size()), Some(64 * MIB));
    assert_eq!(backings.get(SegmentId(5)).map(|b| b.size()), Some(3 * MIB));
    assert!(backings.get(SegmentId(1)).is_none());
    // The engine's path: (segment, offset, bytes) -> Result.
    backings
        .segment(SegmentId(2))
        .unwrap()
        .write_bytes(8, &[7])
        .unwrap();
    assert_eq!(backings.segment(SegmentId(2)).unwrap().read_word(8), Ok(7));
    assert_eq!(
        backings.segment(SegmentId(1)).err(),
        Some(Status::InvalidParameter)
    );
    let kept = backings.get(SegmentId(5)).unwrap().try_clone().unwrap();
    kept.write_bytes(0, &[9]).unwrap();
    drop(backings);
    assert_eq!(
        kept.read_word(0),
        Ok(9),
        "a reference outlives its adapter's table"
    );
}
