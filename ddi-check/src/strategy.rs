//! proptest strategies for operation sequences: mostly meaningful calls
//! (page-aligned ranges inside the segments, handles the driver issued,
//! buffers that fit) with every kind of fault mixed in. Shrinking works on
//! the symbolic operations, so a counterexample shrinks to few, simple calls.

use proptest::prelude::*;

use crate::ops::*;

fn adapter() -> impl Strategy<Value = AdapterSel> {
    prop_oneof![
        92 => Just(AdapterSel::This),
        2 => Just(AdapterSel::Null),
        2 => any::<u64>().prop_map(AdapterSel::Forged),
        4 => Just(AdapterSel::Removed),
    ]
}

fn segment() -> impl Strategy<Value = SegSel> {
    prop_oneof![
        50 => Just(SegSel::Configured(0)),
        30 => Just(SegSel::Configured(1)),
        10 => Just(SegSel::Configured(2)),
        5 => (0u32..8).prop_map(SegSel::Raw),
        5 => any::<u32>().prop_map(SegSel::Raw),
    ]
}

fn handle() -> impl Strategy<Value = HandleSel> {
    prop_oneof![
        60 => (0u8..3).prop_map(HandleSel::Issued),
        20 => any::<u8>().prop_map(HandleSel::Issued),
        4 => Just(HandleSel::Null),
        4 => any::<u64>().prop_map(HandleSel::Forged),
        6 => (any::<u8>(), prop_oneof![
                (0u32..64).prop_map(|bit| 1u64 << bit),
                any::<u64>(),
            ]).prop_map(|(of, xor)| HandleSel::Tampered { of, xor }),
        6 => Just(HandleSel::Foreign),
    ]
}

fn jitter() -> impl Strategy<Value = u32> {
    prop_oneof![
        92 => Just(0u32),
        5 => 1u32..4096,
        3 => any::<u32>(),
    ]
}

/// An offset: mostly within the first 32 pages (all of the 64 KiB-page
/// segment, and where bases and marks meet in the other), sometimes anywhere
/// in or just past the big segment.
fn offset() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        75 => (0u16..32, jitter()).prop_map(|(pages, jitter)| Bytes::Pages { pages, jitter }),
        22 => (0u16..1100, jitter()).prop_map(|(pages, jitter)| Bytes::Pages { pages, jitter }),
        3 => prop_oneof![any::<u64>(), (0u64..4096).prop_map(|d| u64::MAX - d)].prop_map(Bytes::Raw),
    ]
}

/// A size: mostly a few pages, sometimes zero or large.
fn size() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        60 => (1u16..8, jitter()).prop_map(|(pages, jitter)| Bytes::Pages { pages, jitter }),
        30 => (0u16..40, jitter()).prop_map(|(pages, jitter)| Bytes::Pages { pages, jitter }),
        7 => (0u16..1100, jitter()).prop_map(|(pages, jitter)| Bytes::Pages { pages, jitter }),
        3 => prop_oneof![any::<u64>(), (0u64..4096).prop_map(|d| u64::MAX - d)].prop_map(Bytes::Raw),
    ]
}

/// Ranges that do not overlap: a start, then gaps and sizes of a few pages
/// (fitting both tracked segments) or, sometimes, of more than a 64-page word
/// of the plane (fitting the 4 KiB-page one), in shuffled order (order is
/// free).
fn disjoint_ranges() -> impl Strategy<Value = Vec<RangeSpec>> {
    let size = prop_oneof![85 => 1u16..6, 15 => 60u16..200];
    (0u16..8, proptest::collection::vec((0u16..3, size), 1..4))
        .prop_map(|(start, parts)| {
            let mut at = start;
            parts
                .into_iter()
                .map(|(gap, size)| {
                    at += gap;
                    let r = RangeSpec {
                        offset: Bytes::Pages {
                            pages: at,
                            jitter: 0,
                        },
                        size: Bytes::Pages {
                            pages: size,
                            jitter: 0,
                        },
                    };
                    at += size;
                    r
                })
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
}

/// A mark's length: like [`size`], or long enough to fill whole words.
fn mark_len() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        80 => size(),
        20 => (64u16..400).prop_map(|pages| Bytes::Pages { pages, jitter: 0 }),
    ]
}

fn ranges() -> impl Strategy<Value = Vec<RangeSpec>> {
    let range = || (offset(), size()).prop_map(|(offset, size)| RangeSpec { offset, size });
    prop_oneof![
        65 => disjoint_ranges(),
        25 => proptest::collection::vec(range(), 1..4),
        5 => proptest::collection::vec(range(), 0..=1),
        5 => proptest::collection::vec(range(), 4..12),
    ]
}

fn count() -> impl Strategy<Value = CountSpec> {
    prop_oneof![
        92 => Just(CountSpec::Exact),
        2 => Just(CountSpec::Declared(0)),
        3 => (0u64..8).prop_map(CountSpec::Declared),
        3 => (crate::model::MAX_RANGES + 1..=u64::MAX).prop_map(CountSpec::Declared),
    ]
}

fn subrange() -> impl Strategy<Value = SubrangeSpec> {
    prop_oneof![
        // Whole basis: index and offset are ignored, so make them noise.
        50 => (prop_oneof![Just(0u64), any::<u64>()], offset())
            .prop_map(|(index, offset)| SubrangeSpec { index, offset, size: Bytes::Raw(0) }),
        50 => (prop_oneof![8 => 0u64..4, 1 => any::<u64>()], offset(), size())
            .prop_map(|(index, offset, size)| SubrangeSpec { index, offset, size }),
    ]
}

fn buffer() -> impl Strategy<Value = BufSpec> {
    prop_oneof![
        75 => Just(BufSpec::Fit { extra: 0 }),
        15 => (-3i8..=3).prop_map(|extra| BufSpec::Fit { extra }),
        5 => any::<u16>().prop_map(BufSpec::Size),
        5 => Just(BufSpec::Null),
    ]
}

fn flags() -> impl Strategy<Value = u32> {
    prop_oneof![
        50 => Just(1u32),
        40 => Just(0u32),
        10 => any::<u32>(),
    ]
}

fn qai_buf(usual: u8) -> impl Strategy<Value = QaiBuf> {
    prop_oneof![
        70 => Just(QaiBuf::Size(usual)),
        15 => (0u8..64).prop_map(QaiBuf::Size),
        15 => (0u8..16).prop_map(QaiBuf::Null),
    ]
}

/// One operation.
pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        36 => (adapter(), prop::bool::weighted(0.02), segment(), ranges(), count(), any::<bool>())
            .prop_map(|(adapter, null_args, segment, ranges, count, misaligned)| Op::Create {
                adapter, null_args, segment, ranges, count, misaligned,
            }),
        12 => (adapter(), handle()).prop_map(|(adapter, basis)| Op::Destroy { adapter, basis }),
        32 => (adapter(), handle()).prop_map(|(adapter, basis)| Op::Start { adapter, basis }),
        12 => (adapter(), handle()).prop_map(|(adapter, basis)| Op::Stop { adapter, basis }),
        48 => (adapter(), prop::bool::weighted(0.02), handle(), subrange(), buffer(), flags())
            .prop_map(|(adapter, null_args, basis, subrange, buffer, flags)| Op::Query {
                adapter, null_args, basis, subrange, buffer, flags,
            }),
        48 => (adapter(), segment(), offset(), size())
            .prop_map(|(adapter, segment, offset, len)| Op::Mark { adapter, segment, offset, len }),
        8 => (adapter(), prop_oneof![8 => -5i32..=-1, 2 => any::<i32>()], qai_buf(4), segment(), qai_buf(16))
            .prop_map(|(adapter, ty, input, segment, output)| Op::QueryAdapterInfo {
                adapter, ty, input, segment, output,
            }),
        1 => Just(Op::StopDevice),
        4 => Just(Op::StartDevice),
    ]
}

/// The calls of a basis's usual life, so that random sequences reach
/// tracked bases with dirty pages often: create and start; mark and query.
fn block() -> impl Strategy<Value = Vec<Op>> {
    let this = AdapterSel::This;
    let latest = HandleSel::Issued(0);
    prop_oneof![
        50 => op().prop_map(|op| vec![op]),
        20 => (segment(), disjoint_ranges()).prop_map(move |(segment, ranges)| vec![
            Op::Create { adapter: this, null_args: false, segment, ranges, count: CountSpec::Exact, misaligned: false },
            Op::Start { adapter: this, basis: latest },
        ]),
        30 => (segment(), offset(), mark_len(), (0u8..3).prop_map(HandleSel::Issued), subrange(), flags()).prop_map(
            move |(segment, offset, len, basis, subrange, flags)| vec![
                Op::Mark { adapter: this, segment, offset, len },
                Op::Query { adapter: this, null_args: false, basis, subrange, buffer: BufSpec::Fit { extra: 0 }, flags },
            ]
        ),
    ]
}

/// A sequence of 1 to `max` operations (a few more when the last block
/// straddles `max`).
pub fn sequence(max: usize) -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(block(), 1..=max.div_ceil(2).max(1))
        .prop_map(|blocks| blocks.into_iter().flatten().collect())
}
