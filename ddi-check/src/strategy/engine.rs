//! Strategies for the software engine's operations ([`EngineOp`]): mostly
//! paging operations inside the segments, built into buffers that hold
//! them, submitted whole and waited for; with sizes and offsets past the
//! segments, MDL fills, NULL fences, partial and ragged spans, preemptions
//! racing the worker, NULL blocks, bad adapters and other nodes mixed in.

use proptest::prelude::*;

use super::{adapter, offset, segment, size};
use crate::ops::*;

fn end() -> impl Strategy<Value = EndSel> {
    prop_oneof![
        85 => (segment(), offset()).prop_map(|(segment, offset)| EndSel::Vram { segment, offset }),
        15 => (0u8..MDLS + 1).prop_map(EndSel::Mdl),
    ]
}

fn paging() -> impl Strategy<Value = Paging> {
    let pattern = prop_oneof![any::<u32>(), Just(0u32)];
    let small = prop_oneof![8 => Just(0u32), 1 => any::<u32>()];
    prop_oneof![
        30 => (end(), size(), pattern).prop_map(|(dst, size, pattern)| Paging::Fill { dst, size, pattern }),
        30 => (end(), end(), size(), small.clone(), prop_oneof![8 => 0u32..4, 1 => any::<u32>()])
            .prop_map(|(src, dst, size, offset, mdl_page)| Paging::Transfer { src, dst, size, offset, mdl_page }),
        5 => (segment(), offset()).prop_map(|(segment, offset)| Paging::Discard { segment, offset }),
        8 => (0u8..FENCE_CELLS + 1, any::<u64>()).prop_map(|(cell, value)| Paging::Signal { cell, value }),
        5 => (any::<u8>(), any::<[u64; 3]>()).prop_map(|(which, args)| Paging::Recorded { which, args }),
        4 => prop_oneof![0u32..32, any::<u32>()].prop_map(Paging::Other),
        10 => map(),
        10 => (region(), any::<u16>(), prop_oneof![any::<u16>(), Just(u16::MAX)], any::<u32>())
            .prop_map(|(region, at, size, pattern)| Paging::VirtualFill { region, at, size, pattern }),
        8 => (region(), region(), any::<u16>(), any::<u16>(), prop_oneof![any::<u16>(), Just(u16::MAX)])
            .prop_map(|(r, q, from, at, size)| Paging::VirtualTransfer { regions: [r, q], from, at, size }),
    ]
}

/// A VA region: mostly root entry 0, now and then entry 1 (valid or not),
/// past the root's entries, anywhere.
fn region() -> impl Strategy<Value = u8> {
    prop_oneof![14 => Just(0u8), 3 => Just(1u8), 1 => Just(ROOT_ENTRIES), 1 => any::<u8>()]
}

/// UPDATE_PAGE_TABLEs: mostly one entry mapping VRAM or a system page,
/// writable; several entries, Repeat, ReadOnly and Zero now and then.
fn map() -> impl Strategy<Value = Paging> {
    (
        any::<bool>(),
        0u8..VA_PAGES,
        prop_oneof![3 => 0u8..VA_TARGETS + SYS_TARGETS, 1 => any::<u8>()],
        prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
        prop::bool::weighted(0.2),
        prop_oneof![5 => Just(0u8), 1 => 0u8..4],
    )
        .prop_map(|(leaf, index, target, count, repeat, flags)| {
            Paging::map(leaf, index, target, count, repeat, flags)
        })
}

fn dma() -> impl Strategy<Value = u16> {
    prop_oneof![80 => Just(4096u16), 15 => (1u16..5).prop_map(|n| n * 64), 5 => any::<u16>()]
}

fn submit_end() -> impl Strategy<Value = SubmitEnd> {
    prop_oneof![
        90 => Just(SubmitEnd::Built),
        5 => any::<u8>().prop_map(SubmitEnd::Slot),
        5 => any::<u16>().prop_map(SubmitEnd::Byte),
    ]
}

fn node() -> impl Strategy<Value = u8> {
    prop_oneof![95 => Just(0u8), 5 => any::<u8>()]
}

/// Builds, mostly well-formed.
fn build() -> impl Strategy<Value = EngineOp> {
    (
        adapter(),
        prop::bool::weighted(0.02),
        paging(),
        dma(),
        prop::bool::weighted(0.02),
        prop_oneof![95 => Just(0u32), 5 => any::<u32>()],
    )
        .prop_map(
            |(adapter, null_args, paging, dma, null_dma, multipass)| EngineOp::Build {
                adapter,
                null_args,
                paging,
                dma,
                null_dma,
                multipass,
            },
        )
}

/// Submissions, mostly of the latest buffer, whole.
fn submit() -> impl Strategy<Value = EngineOp> {
    (
        adapter(),
        prop::bool::weighted(0.02),
        prop_oneof![80 => Just(0u8), 20 => any::<u8>()],
        prop_oneof![95 => Just(0u8), 5 => any::<u8>()],
        submit_end(),
        any::<bool>(),
        prop_oneof![90 => Just(0u8), 10 => any::<u8>()],
    )
        .prop_map(
            |(adapter, null_args, buffer, start, end, by_va, gap)| EngineOp::Submit {
                adapter,
                null_args,
                buffer,
                start,
                end,
                by_va,
                gap,
            },
        )
}

/// One engine operation.
pub fn engine_op() -> impl Strategy<Value = EngineOp> {
    prop_oneof![
        30 => build(),
        30 => submit(),
        6 => (adapter(), prop::bool::weighted(0.03)).prop_map(|(adapter, null_args)| EngineOp::Preempt { adapter, null_args }),
        15 => Just(EngineOp::Wait),
        5 => (adapter(), prop::bool::weighted(0.05), node()).prop_map(|(adapter, null_args, node)| EngineOp::QueryStatus { adapter, null_args, node }),
        5 => (adapter(), prop::bool::weighted(0.05), node()).prop_map(|(adapter, null_args, node)| EngineOp::Reset { adapter, null_args, node }),
        2 => (adapter(), node()).prop_map(|(adapter, node)| EngineOp::DependentGroup { adapter, node }),
        2 => adapter().prop_map(|adapter| EngineOp::Timeout { adapter }),
    ]
}

fn e(op: EngineOp) -> Op {
    Op::Engine(op)
}

/// One paging operation of [`block`] (at `at` pages, `len` long, of kind
/// `kind`), built, submitted, and now and then a preemption after it.
fn paging_work(
    (at, len, pattern, kind, by_va, preempt): (u16, u16, u32, u8, bool, bool),
) -> Vec<Op> {
    let this = AdapterSel::This;
    let vram = |pages: u16| EndSel::Vram {
        segment: SegSel::Configured(0),
        offset: Bytes::Pages { pages, jitter: 0 },
    };
    let mut ops = Vec::new();
    let size = Bytes::Pages {
        pages: len,
        jitter: 0,
    };
    let (paging, before) = virtual_work(at, len, pattern, kind);
    for p in before {
        ops.push(e(EngineOp::build_of(this, p)));
        ops.push(e(EngineOp::submit_built(this, 0, false)));
    }
    let paging = paging.unwrap_or_else(|| match kind {
        0 | 1 => Paging::Fill {
            dst: vram(at),
            size,
            pattern,
        },
        2 => Paging::Transfer {
            src: EndSel::Mdl(pattern as u8 % MDLS),
            dst: vram(at),
            size,
            offset: 0,
            mdl_page: 0,
        },
        _ => Paging::Transfer {
            src: vram(at),
            dst: vram(at / 2 + 40),
            size,
            offset: 0,
            mdl_page: 0,
        },
    });
    ops.push(e(EngineOp::build_of(this, paging)));
    ops.push(e(EngineOp::submit_built(this, 0, by_va)));
    if preempt {
        ops.push(e(EngineOp::Preempt {
            adapter: this,
            null_args: false,
        }));
    }
    ops
}

/// Kind 4 of [`paging_work`]: root entry 0 and leaf entry `at % VA_PAGES`
/// mapped (to VRAM or system page `pattern % (VA_TARGETS + SYS_TARGETS +
/// 2)`: invalid now and then; ReadOnly or Zero one time in eight each),
/// then a VIRTUAL_FILL from that VA page of `len` 512-byte pieces (into the
/// next pages, mapped or not), or (pattern bit 16) a VIRTUAL_TRANSFER of
/// as much from VA page 0 into it. Other kinds: `(None, [])`.
fn virtual_work(at: u16, len: u16, pattern: u32, kind: u8) -> (Option<Paging>, Vec<Paging>) {
    if kind != 4 {
        return (None, Vec::new());
    }
    let index = (at % u16::from(VA_PAGES)) as u8;
    let flags = match (pattern >> 8) % 8 {
        0 => MAP_READ_ONLY,
        1 => MAP_ZERO,
        _ => 0,
    };
    let map = Paging::map_one;
    let target = (pattern % u32::from(VA_TARGETS + SYS_TARGETS + 2)) as u8;
    let maps = vec![map(false, 0, 0, 0), map(true, index, target, flags)];
    let dst = u16::from(index) * 4096 + (pattern >> 20) as u16 % 4096;
    let work = if pattern & (1 << 16) == 0 {
        Paging::VirtualFill {
            region: 0,
            at: dst,
            size: len * 512,
            pattern,
        }
    } else {
        Paging::VirtualTransfer {
            regions: [0, 0],
            from: (pattern >> 4) as u16 % 4096,
            at: dst,
            size: len * 512,
        }
    };
    (Some(work), maps)
}

/// VidMm's usual pattern, so sequences reach completed fences and engine
/// writes under tracked bases often: a basis over some pages of the 4 KiB
/// segment, tracked; paging operations built, submitted, waited for (a
/// preemption among them now and then); then a query of what they marked.
pub fn block() -> impl Strategy<Value = Vec<Op>> {
    let this = AdapterSel::This;
    (
        0u16..24,
        1u16..16,
        proptest::collection::vec(
            (
                0u16..40,
                1u16..8,
                any::<u32>(),
                0u8..5,
                any::<bool>(),
                prop::bool::weighted(0.15),
            ),
            1..4,
        ),
        any::<bool>(),
    )
        .prop_map(move |(first, pages, work, clear)| {
            let mut ops = vec![
                Op::Create {
                    adapter: this,
                    null_args: false,
                    segment: SegSel::Configured(0),
                    ranges: vec![RangeSpec {
                        offset: Bytes::Pages {
                            pages: first,
                            jitter: 0,
                        },
                        size: Bytes::Pages { pages, jitter: 0 },
                    }],
                    count: CountSpec::Exact,
                    misaligned: false,
                },
                Op::Start {
                    adapter: this,
                    basis: HandleSel::Issued(0),
                },
            ];
            ops.extend(work.into_iter().flat_map(paging_work));
            ops.push(e(EngineOp::Wait));
            ops.push(Op::whole_query(
                this,
                HandleSel::Issued(0),
                u32::from(clear),
            ));
            ops
        })
}
