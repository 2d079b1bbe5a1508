//! The Save encoder (`super::encode`) against the typed builder it replaced
//! (kept here as the oracle, as it was: a sorted copy of the reserve's
//! pieces, each basis's runs collected into a `Vec`, the typed
//! `MutableState` encoded by `crate::savestate::state`), on many random VF
//! states: byte for byte, in the sizing and the filling call.

use alloc::vec::Vec;

use gpup_rng::XorShift64Star;

use super::encode;
use super::snapshot::{immutable_of, luid_value, ordinal};
use crate::basis::{BasisView, Range, Tracker};
use crate::foundation::fallible::{push, try_vec};
use crate::foundation::status::{Result, Status};
use crate::foundation::units::{PageSize, Segment, SegmentId, VfIndex};
use crate::savestate::state::{BasisState, MsixEntry, MutableState};
use crate::vgpu::allocation::ReserveData;
use crate::vgpu::options::PartitionConfig;
use crate::vgpu::{
    BoundReserve, CAPABILITIES, MSIX_TABLE_SIZE, MsixValue, Partitioning, PinnedReserve, Requested,
    ScatterEntry, Vgpu,
};

/// The old reserve map: a sorted copy of the pieces, made per Save.
struct OldReserveMap {
    pieces: Vec<(u64, u64, u64)>,
}

impl OldReserveMap {
    fn new(reserve: &BoundReserve) -> Result<Self> {
        let mut pieces = try_vec(reserve.pieces().len())?;
        let mut vf = 0u64;
        for &(at, size) in reserve.pieces() {
            push(&mut pieces, (at, size, vf))?;
            vf = vf.saturating_add(size);
        }
        crate::foundation::sort::sort_by_key(&mut pieces, |p| p.0);
        Ok(Self { pieces })
    }

    fn locate(&self, at: u64) -> Option<(u64, u64)> {
        let i = self.pieces.partition_point(|p| p.0 <= at).checked_sub(1)?;
        let &(start, size, vf) = self.pieces.get(i)?;
        let within = at.checked_sub(start)?;
        (within < size).then(|| (vf.saturating_add(within), size.saturating_sub(within)))
    }

    fn runs(&self, basis: &BasisView<'_>) -> Result<Option<Vec<(u64, u64)>>> {
        let mut runs: Vec<(u64, u64)> =
            try_vec(basis.range_count().saturating_add(self.pieces.len()))?;
        for (mut at, mut left) in basis.ranges() {
            while left > 0 {
                let Some((vf, room)) = self.locate(at) else {
                    return Ok(None);
                };
                let n = room.min(left);
                match runs.last_mut() {
                    Some(last) if last.0.saturating_add(last.1) == vf => {
                        last.1 = last.1.saturating_add(n);
                    }
                    _ => push(&mut runs, (vf, n))?,
                }
                at = at.saturating_add(n);
                left = left.saturating_sub(n);
            }
        }
        Ok(Some(runs))
    }
}

/// The old `mutable_of`: the typed state, built with `Vec`s.
fn old_mutable_of(tracker: &Tracker, vgpu: &Vgpu) -> Result<MutableState> {
    let reserve = vgpu.migratable()?;
    let mut msix = try_vec(MSIX_TABLE_SIZE)?;
    for (i, entry) in vgpu.msix().iter().enumerate() {
        if entry.is_some() {
            let index = u16::try_from(i).map_err(|_| Status::InvalidParameter)?;
            push(&mut msix, MsixEntry { index })?;
        }
    }
    let map = OldReserveMap::new(reserve)?;
    let mine = |b: &BasisView<'_>| b.segment == vgpu.segment();
    let mut bases = try_vec(tracker.bases().filter(|b| mine(b)).count())?;
    for b in tracker.bases().filter(|b| mine(b)) {
        if let Some(ranges) = map.runs(&b)? {
            let segment = ordinal(tracker, b.segment)?;
            let tracked = b.tracked;
            push(
                &mut bases,
                BasisState {
                    segment,
                    tracked,
                    ranges,
                },
            )?;
        }
    }
    let snapshot = vgpu.config_space().snapshot();
    let mut config = try_vec(snapshot.len())?;
    config.extend_from_slice(snapshot);
    Ok(MutableState {
        vf_index: vgpu.index(),
        luid: luid_value(vgpu.luid()),
        paused: vgpu.migration().paused(),
        msix,
        bases,
        config,
    })
}

const PAGE: u64 = 4096;

/// What a random state reached, to show the cases are covered.
#[derive(Default)]
struct Reached {
    scattered: usize,
    foreign_bases: usize,
    mine_bases: usize,
    split_runs: usize,
    second_ordinal: usize,
}

/// A random partitioning with one bound VF and random bases over it.
fn random_state(rng: &mut XorShift64Star, reached: &mut Reached) -> (Partitioning, Tracker, u32) {
    let mut below = |n: u64| rng.below_mod(n);
    let seg = |id, page: Option<u32>| Segment {
        id: SegmentId(id),
        size: 64 << 20,
        page: page.and_then(|p| PageSize::new(p).ok()),
    };
    let mut segments = Vec::new();
    segments.push(seg(1, None));
    if below(2) == 0 {
        // A tracked segment no partition can use (its id is past 32): the
        // VF's segment is then ordinal 1.
        segments.push(seg(40, Some(65536)));
        reached.second_ordinal += 1;
    }
    segments.push(seg(2, Some(4096)));
    if below(2) == 0 {
        segments.push(seg(3, Some(4096)));
    }
    let mut p = Partitioning::new(&PartitionConfig::builtin(), &segments)
        .unwrap()
        .unwrap();
    let mut tracker = Tracker::new(&segments, 64).unwrap();
    p.set_count(2).unwrap();
    let vf = u32::try_from(below(2)).unwrap();
    let pages = 1 + below(256);
    let mut request = [Requested::default(); CAPABILITIES];
    let size = pages * PAGE;
    request[0] = Requested {
        min: size,
        max: size,
        optimal: size,
    };
    let created = p.create(VfIndex(vf), &request).unwrap();
    let segment = created.reserve.segment;
    let handle = p
        .create_allocations(&[ReserveData {
            segment,
            alignment: 4096,
            size,
            instance: created.reserve.instance,
        }])
        .unwrap()[0];
    bind(
        &mut below,
        &mut p,
        &mut tracker,
        vf,
        handle,
        segment,
        pages,
        reached,
    );
    let reserve = p.vgpu(VfIndex(vf)).unwrap().migratable().unwrap().clone();
    random_bases(&mut below, &mut tracker, segment, &reserve, pages, reached);
    {
        let mut v = p.vgpu_write(VfIndex(vf)).unwrap();
        for _ in 0..below(4) {
            let i = i16::try_from(below(MSIX_TABLE_SIZE as u64)).unwrap();
            let value = MsixValue {
                address: 0xFEE0_0000 + below(256),
                data: u32::try_from(below(1 << 16)).unwrap(),
                vector_control: 0,
            };
            v.write_interrupt(i, value).unwrap();
        }
        for _ in 0..below(16) {
            let len = 1 + below(4);
            let offset = u32::try_from(below(4096 - len)).unwrap();
            let data: Vec<u8> = (0..len).map(|_| below(256) as u8).collect();
            let _ = v.config_write(offset, &data);
        }
        v.migration_mut().set_paused(below(2) == 0);
    }
    (p, tracker, vf)
}

/// Binds the VF's reserve: at a random offset, or scattered over pieces of
/// random sizes laid out in a random order with random gaps (Ranges[], the
/// VF order, is the pieces' order).
#[allow(clippy::too_many_arguments)]
fn bind(
    below: &mut impl FnMut(u64) -> u64,
    p: &mut Partitioning,
    tracker: &mut Tracker,
    vf: u32,
    handle: crate::vgpu::allocation::AllocationHandle,
    segment: SegmentId,
    pages: u64,
    reached: &mut Reached,
) {
    let size = pages * PAGE;
    let segment_pages = (64 << 20) / PAGE;
    if below(2) == 0 {
        let offset = below(segment_pages - pages + 1) * PAGE;
        let entry = PinnedReserve {
            allocation: handle.to_raw(),
            segment,
            offset,
            size,
        };
        p.set_resources(VfIndex(vf), &[entry]).unwrap();
    } else {
        // Pieces of random sizes, laid out in the segment in a random order
        // with random gaps; Ranges[] (VF) order is the pieces' order.
        let mut sizes = Vec::new();
        let mut left = pages;
        while left > 0 {
            let n = 1 + below(left.min(16));
            sizes.push(n);
            left -= n;
        }
        let mut order: Vec<usize> = (0..sizes.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, usize::try_from(below(i as u64 + 1)).unwrap());
        }
        let mut at = below(64);
        let mut offsets = alloc::vec![0u64; sizes.len()];
        for &i in &order {
            offsets[i] = at;
            at += sizes[i] + below(4);
        }
        let ranges = (0..sizes.len())
            .map(|i| Range::new(offsets[i] * PAGE, sizes[i] * PAGE).unwrap())
            .collect();
        let basis = tracker.create(segment, ranges).unwrap();
        let entry = ScatterEntry {
            allocation: handle.to_raw(),
            basis: basis.to_raw(),
        };
        p.set_resources2(tracker, VfIndex(vf), &[entry]).unwrap();
        reached.scattered += 1;
    }
}

/// Random memory bases: over random VF spans of the reserve (in a random
/// order, each translated into its segment ranges), some with a range
/// elsewhere in the segment (then not the VF's), some tracked.
fn random_bases(
    below: &mut impl FnMut(u64) -> u64,
    tracker: &mut Tracker,
    segment: SegmentId,
    reserve: &BoundReserve,
    pages: u64,
    reached: &mut Reached,
) {
    for _ in 0..below(6) {
        let mut cuts: Vec<u64> = (0..1 + below(6)).map(|_| below(pages + 1)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut spans: Vec<(u64, u64)> = cuts.windows(2).map(|w| (w[0], w[1] - w[0])).collect();
        spans.retain(|_| below(3) != 0);
        for i in (1..spans.len()).rev() {
            spans.swap(i, usize::try_from(below(i as u64 + 1)).unwrap());
        }
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for (first, n) in spans {
            reserve
                .translate(first * PAGE, n * PAGE, |at, len| {
                    ranges.push((at, len));
                    Ok(())
                })
                .unwrap();
        }
        if below(4) == 0 {
            let at = below((64 << 20) / PAGE - 8) * PAGE;
            let clear = ranges
                .iter()
                .all(|&(o, l)| at + 8 * PAGE <= o || o + l <= at);
            if clear {
                ranges.push((at, 8 * PAGE));
            }
        }
        if ranges.is_empty() {
            continue;
        }
        let inside = ranges.iter().all(|&(at, len)| {
            reserve
                .pieces()
                .iter()
                .any(|&(o, l)| o <= at && at + len <= o + l)
        });
        if inside {
            reached.mine_bases += 1;
            if ranges.len() > 1 {
                reached.split_runs += 1;
            }
        } else {
            reached.foreign_bases += 1;
        }
        let list = ranges
            .iter()
            .map(|&(at, len)| Range::new(at, len).unwrap())
            .collect();
        let h = tracker.create(segment, list).unwrap();
        if below(2) == 0 {
            tracker.start(h).unwrap();
        }
    }
}

/// Both calls of an encoder: the size, then the bytes of a filling call
/// into a buffer of exactly that size (pre-filled, to catch a gap).
fn both_calls(encode: impl Fn(Option<&mut [u8]>) -> Result<usize>) -> Vec<u8> {
    let n = encode(None).unwrap();
    let mut out = alloc::vec![0xA5u8; n];
    assert_eq!(encode(Some(&mut out)).unwrap(), n);
    out
}

/// Fails with the first differing byte (the blobs are long).
fn same(got: &[u8], want: &[u8], what: &str, round: usize) {
    let at = got.iter().zip(want).position(|(a, b)| a != b);
    assert!(
        at.is_none() && got.len() == want.len(),
        "{what} data, round {round}: {} bytes vs the old encoder's {}, first difference at {at:?}",
        got.len(),
        want.len()
    );
}

#[test]
fn the_streaming_save_writes_the_old_encoders_bytes() {
    let rounds = if cfg!(miri) { 8 } else { 600 };
    let mut rng = XorShift64Star::from_state(0x5A5E_15C0_FFEE_0015);
    let mut reached = Reached::default();
    for round in 0..rounds {
        let (p, tracker, vf) = random_state(&mut rng, &mut reached);
        let v = p.vgpu(VfIndex(vf)).unwrap();
        let old = old_mutable_of(&tracker, &v).unwrap();
        let want = both_calls(|o| old.encode(o));
        let got = both_calls(|o| encode::mutable(&tracker, &v, o));
        same(&got, &want, "mutable", round);
        let old = immutable_of(&tracker, &v).unwrap();
        let want = both_calls(|o| old.encode(o));
        let got = both_calls(|o| encode::immutable(&tracker, &v, o));
        same(&got, &want, "immutable", round);
        // A buffer one byte short is refused by both.
        let n = want.len();
        let mut short = alloc::vec![0u8; n - 1];
        assert_eq!(
            encode::immutable(&tracker, &v, Some(&mut short)),
            Err(Status::BufferTooSmall)
        );
    }
    // The random states reached every case the encoder distinguishes.
    let min = rounds / 8;
    assert!(reached.scattered >= min, "scattered {}", reached.scattered);
    assert!(reached.mine_bases >= min, "mine {}", reached.mine_bases);
    assert!(reached.split_runs >= min, "split {}", reached.split_runs);
    assert!(
        reached.foreign_bases >= min,
        "foreign {}",
        reached.foreign_bases
    );
    assert!(
        reached.second_ordinal >= min,
        "ordinal {}",
        reached.second_ordinal
    );
}
