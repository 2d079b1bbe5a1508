//! proptest strategies for operation sequences: mostly meaningful calls
//! (page-aligned ranges inside the segments, handles the driver issued,
//! buffers that fit) with every kind of fault mixed in. Shrinking works on
//! the symbolic operations, so a counterexample shrinks to few, simple calls.

use proptest::prelude::*;

use crate::ops::*;

mod engine;
mod vf;

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
        277 => op_base(),
        30 => engine::engine_op().prop_map(Op::Engine),
    ]
}

/// One operation other than the engine's (the stream the deliberately
/// wrong models are searched with: engine races would make their shrinks
/// vary from run to run).
fn op_base() -> impl Strategy<Value = Op> {
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
        8 => (adapter(), prop_oneof![8 => -20i32..=-1, 2 => any::<i32>()], qai_buf(4), segment(), qai_buf(16))
            .prop_map(|(adapter, ty, input, segment, output)| Op::QueryAdapterInfo {
                adapter, ty, input, segment, output,
            }),
        1 => Just(Op::StopDevice),
        4 => Just(Op::StartDevice),
        40 => vgpu_op().prop_map(Op::Vgpu),
        24 => vf::vf_op().prop_map(Op::Vf),
        12 => render_op().prop_map(Op::Render),
    ]
}

/// A device or context handle: mostly an issued one.
fn obj() -> impl Strategy<Value = ObjSel> {
    prop_oneof![
        90 => (0u8..4).prop_map(ObjSel::Issued),
        4 => Just(ObjSel::Null),
        6 => any::<u64>().prop_map(ObjSel::Forged),
    ]
}

/// A render-object operation.
pub fn render_op() -> impl Strategy<Value = RenderOp> {
    prop_oneof![
        6 => any::<bool>().prop_map(|system| RenderOp::CreateDevice { system }),
        3 => obj().prop_map(|device| RenderOp::DestroyDevice { device }),
        6 => (obj(), prop_oneof![9 => Just(0u8), 1 => any::<u8>()])
            .prop_map(|(device, node)| RenderOp::CreateContext { device, node }),
        4 => obj().prop_map(|context| RenderOp::DestroyContext { context }),
    ]
}

// ------------------------------------------------ GPU partition, migration

/// A `PartitionId` / `vfIndex`: mostly a slot of the setup count, sometimes
/// one past it or anything.
fn vf() -> impl Strategy<Value = u32> {
    prop_oneof![
        85 => 0u32..4,
        10 => 0u32..9,
        5 => any::<u32>(),
    ]
}

fn alloc() -> impl Strategy<Value = AllocSel> {
    prop_oneof![
        75 => (0u8..3).prop_map(AllocSel::Issued),
        10 => any::<u8>().prop_map(AllocSel::Issued),
        5 => Just(AllocSel::Null),
        10 => any::<u64>().prop_map(AllocSel::Forged),
    ]
}

fn vram() -> impl Strategy<Value = VramSpec> {
    prop_oneof![
        60 => Just(VramSpec::Default),
        // Min = Max = Optimal: an exact request (over a share sometimes).
        15 => (1u16..300).prop_map(|p| VramSpec::Pages { min: p, max: p, optimal: p }),
        15 => (0u16..300, 0u16..1100, 0u16..400)
            .prop_map(|(min, max, optimal)| VramSpec::Pages { min, max, optimal }),
        10 => (any::<u64>(), any::<u64>(), prop_oneof![Just(0u64), any::<u64>()])
            .prop_map(|(min, max, optimal)| VramSpec::Raw { min, max, optimal }),
    ]
}

fn place(vf: u32) -> impl Strategy<Value = Place> {
    let slot = vf as u8;
    prop_oneof![
        80 => Just(Place { slot, pages: 0, bytes: 0 }),
        10 => (0u8..4, 0u16..300).prop_map(|(slot, pages)| Place { slot, pages, bytes: 0 }),
        10 => (any::<u8>(), any::<u16>(), prop_oneof![1u32..4096, any::<u32>()])
            .prop_map(|(slot, pages, bytes)| Place { slot, pages, bytes }),
    ]
}

fn layout(vf: u32) -> impl Strategy<Value = ReserveLayout> {
    (
        any::<u8>(),
        any::<u8>(),
        prop_oneof![85 => Just(0u8), 15 => 1u8..4],
    )
        .prop_map(move |(pieces, rotate, fault)| ReserveLayout {
            vf,
            pieces,
            rotate,
            fault,
        })
}

fn save_call() -> impl Strategy<Value = SaveCall> {
    prop_oneof![
        35 => Just(SaveCall::Size),
        40 => Just(SaveCall::Fill { extra: 0 }),
        13 => (-3i8..=3).prop_map(|extra| SaveCall::Fill { extra }),
        4 => Just(SaveCall::NullData),
        4 => Just(SaveCall::NullDataSize),
        4 => Just(SaveCall::NullArgs),
    ]
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        80 => Just(Damage::None),
        10 => (any::<u16>(), any::<u8>()).prop_map(|(at, bit)| Damage::Flip { at, bit }),
        5 => any::<u16>().prop_map(|by| Damage::Truncate { by }),
        5 => any::<u8>().prop_map(Damage::Append),
    ]
}

fn blob() -> impl Strategy<Value = BlobSel> {
    prop_oneof![
        88 => (prop_oneof![3 => 0u8..3, 1 => any::<u8>()], damage())
            .prop_map(|(back, damage)| BlobSel::Saved { back, damage }),
        4 => Just(BlobSel::Empty),
        4 => Just(BlobSel::NullData),
        4 => Just(BlobSel::NullArgs),
    ]
}

/// One GPU-partition or migration call, mostly with meaningful arguments.
pub fn vgpu_op() -> impl Strategy<Value = VgpuOp> {
    prop_oneof![
        2 => (adapter(), prop_oneof![8 => prop::sample::select(vec![1u32, 2, 4, 8]), 2 => any::<u32>()])
            .prop_map(|(adapter, count)| VgpuOp::SetPartitionCount { adapter, count }),
        2 => (adapter(), prop_oneof![Just(4u8), Just(8), any::<u8>()], prop::bool::weighted(0.1))
            .prop_map(|(adapter, capacity, null_array)| VgpuOp::GetPartitionInfo { adapter, capacity, null_array }),
        8 => (adapter(), vf(), vram(), prop_oneof![19 => Just(0u8), 1 => any::<u8>()])
            .prop_map(|(adapter, vf, vram, engine)| VgpuOp::CreateVgpu { adapter, vf, vram, engine }),
        5 => (adapter(), vf()).prop_map(|(adapter, vf)| VgpuOp::DestroyVgpu { adapter, vf }),
        3 => (adapter(), vf()).prop_map(|(adapter, vf)| VgpuOp::GetVgpuInfo { adapter, vf }),
        6 => (adapter(), vf()).prop_map(|(adapter, vf)| VgpuOp::CreateReserve { adapter, vf }),
        4 => (adapter(), alloc()).prop_map(|(adapter, alloc)| VgpuOp::DestroyReserve { adapter, alloc }),
        6 => vf().prop_flat_map(layout).prop_map(VgpuOp::ReserveBasis),
        5 => (adapter(), vf().prop_flat_map(|vf| (Just(vf), place(vf))), alloc(),
              prop_oneof![9 => Just(0u32), 1 => any::<u32>()], prop_oneof![9 => Just(0u8), 1 => any::<u8>()])
            .prop_map(|(adapter, (vf, place), alloc, segment, short)| VgpuOp::SetResources {
                adapter, vf, alloc, segment, place, short,
            }),
        5 => (adapter(), vf(), alloc(), handle())
            .prop_map(|(adapter, vf, alloc, basis)| VgpuOp::SetResources2 { adapter, vf, alloc, basis }),
        6 => (adapter(), vf(), prop_oneof![Just(1u8), Just(0u8), any::<u8>()])
            .prop_map(|(adapter, vf, pause)| VgpuOp::Pause { adapter, vf, pause }),
        3 => (adapter(), vf(), prop_oneof![9 => 0i16..4, 1 => any::<i16>()])
            .prop_map(|(adapter, vf, index)| VgpuOp::WriteInterrupt { adapter, vf, index }),
        6 => (adapter(), vf(), prop_oneof![9 => 0i32..2, 1 => any::<i32>()])
            .prop_map(|(adapter, vf, ty)| VgpuOp::Prepare { adapter, vf, ty }),
        10 => (adapter(), vf(), any::<bool>(), save_call())
            .prop_map(|(adapter, vf, mutable, call)| VgpuOp::Save { adapter, vf, mutable, call }),
        8 => (adapter(), vf(), any::<bool>(), blob())
            .prop_map(|(adapter, vf, mutable, blob)| VgpuOp::Restore { adapter, vf, mutable, blob }),
        4 => (adapter(), vf()).prop_map(|(adapter, vf)| VgpuOp::End { adapter, vf }),
        4 => (adapter(), vf(), prop_oneof![8 => prop::sample::select(vec![1u32, 4]), 1 => 2u32..4, 1 => any::<u32>()])
            .prop_map(|(adapter, vf, state)| VgpuOp::SetPower { adapter, vf, state }),
        6 => (adapter(), vf(), prop::bool::weighted(0.9), prop_oneof![9 => 1u32..4, 1 => any::<u32>()],
              prop::option::weighted(0.1, any::<u32>()), (0u64..300, 0u64..300),
              prop::collection::vec(any::<u8>(), 0..49), prop::bool::weighted(0.8), any::<u8>())
            .prop_map(|(adapter, vf, luid_ok, command, declared, (at, len), raw, pages, out)| {
                let payload = match command {
                    2 if pages => [(at * 4096).to_le_bytes(), (len * 4096).to_le_bytes()].concat(),
                    1 | 3 if pages => Vec::new(),
                    _ => raw,
                };
                VgpuOp::Escape { adapter, vf, luid_ok, command, declared, payload, out }
            }),
        2 => (adapter(), vf()).prop_map(|(adapter, vf)| VgpuOp::QueryLuid { adapter, vf }),
    ]
}

fn v(op: VgpuOp) -> Op {
    Op::Vgpu(op)
}

/// A vGPU brought up as the OS does: CreateVirtualGpu, its reserve, then
/// either SetVirtualGpuResources at its region, or a memory basis over the
/// reserve (tracked or not) bound with SetVirtualGpuResources2.
fn vf_up(vf: u32, vram: VramSpec) -> impl Strategy<Value = Vec<Op>> {
    let this = AdapterSel::This;
    (
        any::<bool>(),
        layout(vf),
        prop::bool::weighted(0.6),
        0i16..4,
    )
        .prop_map(move |(scattered, layout, track, msix)| {
            let mut ops = vec![
                v(VgpuOp::CreateVgpu {
                    adapter: this,
                    vf,
                    vram,
                    engine: 0,
                }),
                v(VgpuOp::CreateReserve { adapter: this, vf }),
            ];
            if scattered {
                ops.push(v(VgpuOp::ReserveBasis(layout)));
                if track {
                    ops.push(Op::Start {
                        adapter: this,
                        basis: HandleSel::Issued(0),
                    });
                }
                ops.push(v(VgpuOp::SetResources2 {
                    adapter: this,
                    vf,
                    alloc: AllocSel::Issued(0),
                    basis: HandleSel::Issued(0),
                }));
            } else {
                ops.push(v(VgpuOp::SetResources {
                    adapter: this,
                    vf,
                    alloc: AllocSel::Issued(0),
                    segment: 0,
                    place: Place {
                        slot: vf as u8,
                        pages: 0,
                        bytes: 0,
                    },
                    short: 0,
                }));
            }
            ops.push(v(VgpuOp::GetVgpuInfo { adapter: this, vf }));
            ops.push(v(VgpuOp::WriteInterrupt {
                adapter: this,
                vf,
                index: msix,
            }));
            ops
        })
}

/// The source side: Prepare(SOURCE), SaveImmutable (sizing, filling), pause
/// (unless `!pause`: SaveMutable must then refuse), SaveMutable (sizing,
/// filling).
fn source(vf: u32, call: SaveCall, pause: bool) -> Vec<Op> {
    let this = AdapterSel::This;
    let save = |mutable, call| {
        v(VgpuOp::Save {
            adapter: this,
            vf,
            mutable,
            call,
        })
    };
    vec![
        v(VgpuOp::Prepare {
            adapter: this,
            vf,
            ty: 0,
        }),
        save(false, SaveCall::Size),
        save(false, call),
        v(VgpuOp::Pause {
            adapter: this,
            vf,
            pause: u8::from(pause),
        }),
        save(true, SaveCall::Size),
        save(true, call),
    ]
}

/// The target side, after `source`: Prepare(TARGET), pause (unless
/// `!pause`: Restore must then refuse), Restore of the immutable data
/// (`twice`: again, which must be refused) then the mutable data (the two
/// latest blobs), End, unpause.
fn target(vf: u32, immutable: Damage, mutable: Damage, pause: bool, twice: bool) -> Vec<Op> {
    let this = AdapterSel::This;
    let again = twice.then_some(v(VgpuOp::Restore {
        adapter: this,
        vf,
        mutable: false,
        blob: BlobSel::Saved {
            back: 1,
            damage: Damage::None,
        },
    }));
    let mut ops = vec![
        v(VgpuOp::Prepare {
            adapter: this,
            vf,
            ty: 1,
        }),
        v(VgpuOp::Pause {
            adapter: this,
            vf,
            pause: u8::from(pause),
        }),
        v(VgpuOp::Restore {
            adapter: this,
            vf,
            mutable: false,
            blob: BlobSel::Saved {
                back: 1,
                damage: immutable,
            },
        }),
        v(VgpuOp::Restore {
            adapter: this,
            vf,
            mutable: true,
            blob: BlobSel::Saved {
                back: 0,
                damage: mutable,
            },
        }),
        v(VgpuOp::End { adapter: this, vf }),
        v(VgpuOp::Pause {
            adapter: this,
            vf,
            pause: 0,
        }),
    ];
    if let Some(again) = again {
        ops.insert(3, again);
    }
    ops
}

/// A slot reused: its vGPU destroyed, a new one brought up in it, then the
/// old reserve's allocation destroyed late (it must not take the new vGPU's
/// VRAM) and the new vGPU prepared.
fn slot_reuse() -> impl Strategy<Value = Vec<Op>> {
    (0u32..4, vram()).prop_flat_map(|(vf, vram)| {
        vf_up(vf, vram).prop_map(move |up| {
            let this = AdapterSel::This;
            [
                vec![v(VgpuOp::DestroyVgpu { adapter: this, vf })],
                up,
                vec![
                    v(VgpuOp::DestroyReserve {
                        adapter: this,
                        alloc: AllocSel::Issued(1),
                    }),
                    v(VgpuOp::Prepare {
                        adapter: this,
                        vf,
                        ty: 0,
                    }),
                ],
            ]
            .concat()
        })
    })
}

/// Every vGPU destroyed and the partition count changed, then a target of
/// a setup-count share brought up and given an earlier immutable blob: one
/// saved under another count must be refused.
fn recount() -> impl Strategy<Value = Vec<Op>> {
    let share = (crate::model::Gpu::share(crate::model::vgpu::SETUP_COUNT) / 4096) as u16;
    let vram = VramSpec::Pages {
        min: share,
        max: share,
        optimal: share,
    };
    (prop::sample::select(vec![1u32, 2, 4, 8]), 0u32..4, 0u8..3).prop_flat_map(
        move |(count, vf, back)| {
            vf_up(vf, vram).prop_map(move |up| {
                let this = AdapterSel::This;
                let mut ops: Vec<Op> = (0..4)
                    .map(|vf| v(VgpuOp::DestroyVgpu { adapter: this, vf }))
                    .collect();
                ops.push(v(VgpuOp::SetPartitionCount {
                    adapter: this,
                    count,
                }));
                ops.extend(up);
                ops.extend([
                    v(VgpuOp::Prepare {
                        adapter: this,
                        vf,
                        ty: 1,
                    }),
                    v(VgpuOp::Pause {
                        adapter: this,
                        vf,
                        pause: 1,
                    }),
                    v(VgpuOp::Restore {
                        adapter: this,
                        vf,
                        mutable: false,
                        blob: BlobSel::Saved {
                            back,
                            damage: Damage::None,
                        },
                    }),
                ]);
                ops
            })
        },
    )
}

/// A whole live migration from slot `a` to slot `b` on the adapter: both
/// brought up (mostly alike, so that the target fits), the source saved, the
/// target restored, both ended; with damage in transit sometimes.
fn migration() -> impl Strategy<Value = Vec<Op>> {
    let slots = (0u32..4, 1u32..4).prop_map(|(a, d)| (a, (a + d) % 4));
    (slots, vram(), prop::bool::weighted(0.8), vram()).prop_flat_map(|((a, b), va, same, vb)| {
        let vb = if same { va } else { vb };
        (
            vf_up(a, va),
            vf_up(b, vb),
            prop_oneof![9 => Just(SaveCall::Fill { extra: 0 }), 1 => save_call()],
            damage(),
            damage(),
            prop::bool::weighted(0.9),
            prop::bool::weighted(0.9),
            prop::bool::weighted(0.1),
        )
            .prop_map(
                move |(up_a, up_b, call, di, dm, paused_a, paused_b, twice)| {
                    let end = v(VgpuOp::End {
                        adapter: AdapterSel::This,
                        vf: a,
                    });
                    [
                        up_a,
                        up_b,
                        source(a, call, paused_a),
                        target(b, di, dm, paused_b, twice),
                        vec![end],
                    ]
                    .concat()
                },
            )
    })
}

/// Bits of a migration, so that they interleave with everything else.
fn migration_part() -> impl Strategy<Value = Vec<Op>> {
    prop_oneof![
        (0u32..4, vram()).prop_flat_map(|(vf, vram)| vf_up(vf, vram)),
        (0u32..4, save_call(), prop::bool::weighted(0.8))
            .prop_map(|(vf, call, pause)| source(vf, call, pause)),
        (
            0u32..4,
            damage(),
            damage(),
            prop::bool::weighted(0.8),
            any::<bool>()
        )
            .prop_map(|(vf, i, m, pause, twice)| target(vf, i, m, pause, twice)),
        slot_reuse(),
        recount(),
    ]
}

/// The calls of a basis's usual life, so that random sequences reach
/// tracked bases with dirty pages often: create and start; mark and query.
fn block(engine: bool) -> BoxedStrategy<Vec<Op>> {
    if engine {
        prop_oneof![
            124 => block_base(op().boxed()),
            12 => shrinkable(engine::block()),
        ]
        .boxed()
    } else {
        block_base(op_base().boxed()).boxed()
    }
}

/// The blocks other than the engine's, with single operations from `op`.
fn block_base(op: BoxedStrategy<Op>) -> impl Strategy<Value = Vec<Op>> {
    let this = AdapterSel::This;
    let latest = HandleSel::Issued(0);
    prop_oneof![
        50 => op.prop_map(|op| vec![op]),
        6 => shrinkable(migration()),
        10 => shrinkable(migration_part()),
        8 => vf::block(),
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

/// Operations of a block that shrinking may drop one by one (the sequence
/// itself only drops whole blocks): each comes with a flag, always set when
/// generated, that shrinks to "left out".
fn shrinkable(ops: impl Strategy<Value = Vec<Op>>) -> impl Strategy<Value = Vec<Op>> {
    (
        ops,
        proptest::collection::vec(prop::bool::weighted(1.0), 32),
    )
        .prop_map(|(ops, keep)| {
            ops.into_iter()
                .zip(keep.into_iter().chain(core::iter::repeat(true)))
                .filter_map(|(op, keep)| keep.then_some(op))
                .collect()
        })
}

/// A sequence of 1 to `max` operations (more when the last block straddles
/// `max`: a whole migration is one block).
pub fn sequence(max: usize) -> impl Strategy<Value = Vec<Op>> {
    sequence_of(max, true)
}

/// As [`sequence`], without the engine's operations.
pub fn sequence_without_engine(max: usize) -> impl Strategy<Value = Vec<Op>> {
    sequence_of(max, false)
}

fn sequence_of(max: usize, engine: bool) -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(block(engine), 1..=max.div_ceil(2).max(1)).prop_map(move |blocks| {
        let mut ops = Vec::new();
        for b in blocks {
            if ops.len() >= max {
                break;
            }
            ops.extend(b);
        }
        ops
    })
}

/// Runs the random search (`cases` sequences of up to 40 operations, a
/// deterministic stream) against the real driver with the engine `broken`,
/// each fence waited for at most 2 s; the shrunk counterexample and why it
/// failed, or `None` when no sequence catches it. Prints the counterexample.
#[must_use]
pub fn search_broken_engine(broken: crate::Broken, cases: u32) -> Option<(String, Vec<Op>)> {
    use proptest::test_runner::{
        Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
    };
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let result = runner.run(&sequence(40), |ops| {
        crate::check_sequence_with(
            &ops,
            crate::Flaw::None,
            broken,
            std::time::Duration::from_secs(2),
        )
        .map_err(TestCaseError::fail)?;
        Ok(())
    });
    match result {
        Err(TestError::Fail(why, ops)) => {
            println!(
                "{broken:?}: shrunk counterexample ({} operations): {why}\n{ops:#?}",
                ops.len()
            );
            Some((why.to_string(), ops))
        }
        _ => None,
    }
}
