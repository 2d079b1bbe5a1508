//! Strategies for [`VfOp`]: configuration accesses mostly at the registers
//! that matter (command, BARs, MSI-X control, device control with its FLR
//! bit) and sometimes anywhere, out of range or huge; resets, VM-bus
//! handles, QueryInterface with every GUID, size and version, profiles of
//! any count, the FlexIOV DDIs, and CreateAllocation with reserve records
//! (intact or changed) and arbitrary bytes. Blocks pair a change with the
//! call that observes it (the escape's QUERY and MSIX replies), and carry a
//! written configuration space through a whole live migration.

use proptest::prelude::*;

use super::{adapter, migration, shrinkable, v, vf, vf_up, vram};
use crate::ops::*;

/// A register offset: mostly one with behaviour, sometimes any in the
/// space, or past it.
fn offset() -> impl Strategy<Value = u32> {
    prop_oneof![
        70 => prop::sample::select(vec![0x00u32, 0x04, 0x06, 0x0C, 0x10, 0x18, 0x1C, 0x3C, 0x40, 0x42, 0x43, 0x58, 0x59]),
        20 => 0u32..4096,
        5 => 4090u32..4200,
        5 => any::<u32>(),
    ]
}

/// A read length: mostly a register's width, sometimes any, the whole
/// space, or huge.
fn read_len() -> impl Strategy<Value = u32> {
    prop_oneof![
        70 => prop::sample::select(vec![1u32, 2, 4, 8]),
        15 => 0u32..300,
        5 => Just(4096u32),
        5 => 4097u32..9000,
        5 => any::<u32>(),
    ]
}

/// What a write stores: sizing all-ones, enabling values, an FLR, or bytes.
fn write_data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        25 => Just(vec![0xFF; 4]),
        10 => Just(0x0006u16.to_le_bytes().to_vec()),
        10 => Just(0xC000u16.to_le_bytes().to_vec()),
        8 => Just(0x8000u16.to_le_bytes().to_vec()),
        27 => prop::collection::vec(any::<u8>(), 1..9),
        10 => prop::collection::vec(any::<u8>(), 0..300),
        10 => prop::collection::vec(any::<u8>(), 0..3),
    ]
}

fn iface() -> impl Strategy<Value = IfaceSel> {
    prop_oneof![
        25 => Just(IfaceSel::Partition),
        25 => Just(IfaceSel::Sriov),
        25 => Just(IfaceSel::FlexIov),
        10 => Just(IfaceSel::Mitigable),
        15 => any::<[u8; 16]>().prop_map(IfaceSel::Other),
    ]
}

fn priv_data() -> impl Strategy<Value = PrivData> {
    let word = prop_oneof![
        85 => Just(None),
        15 => (0u8..8, prop_oneof![Just(0u32), Just(1), Just(2), any::<u32>()]).prop_map(Some),
    ];
    let len = prop_oneof![90 => Just(None), 10 => any::<u8>().prop_map(Some)];
    let pages = prop_oneof![85 => Just(0i8), 15 => -2i8..3];
    prop_oneof![
        70 => (vf(), pages, word, len).prop_map(|(vf, size_pages, word, len)| PrivData::Reserve {
            vf, size_pages, word, len,
        }),
        15 => prop::collection::vec(any::<u8>(), 0..40).prop_map(PrivData::Raw),
        5 => prop::collection::vec(any::<u8>(), 28..29).prop_map(|tail| {
            [b"GPVA".to_vec(), tail].concat()
        }).prop_map(PrivData::Raw),
        10 => prop_oneof![Just(0u32), Just(32), any::<u32>()].prop_map(PrivData::Null),
    ]
}

/// One call of the VF-facing or remaining GPU-P surface.
pub(super) fn vf_op() -> impl Strategy<Value = VfOp> {
    prop_oneof![
        6 => (adapter(), vf(), offset(), read_len(), prop::bool::weighted(0.03))
            .prop_map(|(adapter, vf, offset, len, null_data)| VfOp::ReadConfig { adapter, vf, offset, len, null_data }),
        8 => (adapter(), vf(), offset(), write_data(),
              prop::option::weighted(0.05, prop_oneof![0u32..5000, any::<u32>()]), prop::bool::weighted(0.03))
            .prop_map(|(adapter, vf, offset, data, declared, null_data)| VfOp::WriteConfig {
                adapter, vf, offset, data, declared, null_data,
            }),
        3 => (adapter(), vf()).prop_map(|(adapter, vf)| VfOp::Reset { adapter, vf }),
        3 => (adapter(), vf(), prop_oneof![9 => 1u64..1000, 1 => Just(0u64), 1 => any::<u64>()])
            .prop_map(|(adapter, vf, handle)| VfOp::SetVmBus { adapter, vf, handle }),
        4 => (adapter(), iface(),
              prop_oneof![6 => prop::sample::select(vec![128u16, 120, 56]), 2 => 0u16..140, 1 => any::<u16>()],
              prop_oneof![7 => Just(1u16), 1 => Just(0u16), 1 => Just(2u16), 1 => any::<u16>()],
              prop_oneof![9 => Just(0u8), 1 => 0u8..8])
            .prop_map(|(adapter, iface, size, version, nulls)| VfOp::QueryInterface {
                adapter, iface, size, version, nulls,
            }),
        3 => (adapter(), prop_oneof![8 => prop::sample::select(vec![1u32, 2, 4, 8]), 2 => any::<u32>()])
            .prop_map(|(adapter, count)| VfOp::GetProfile { adapter, count }),
        2 => (adapter(), vf()).prop_map(|(adapter, vf)| VfOp::MmioRangeCount { adapter, vf }),
        3 => (adapter(), vf(), prop_oneof![8 => prop::sample::select(vec![0u32, 2]), 1 => 0u32..8, 1 => any::<u32>()],
              0u8..4, prop::bool::weighted(0.05))
            .prop_map(|(adapter, vf, bar, capacity, null_array)| VfOp::MmioRanges {
                adapter, vf, bar, capacity, null_array,
            }),
        2 => (adapter(), vf(), any::<u16>(), prop::bool::weighted(0.2))
            .prop_map(|(adapter, vf, index, null_resource)| VfOp::BackingResource { adapter, vf, index, null_resource }),
        2 => (adapter(), vf()).prop_map(|(adapter, vf)| VfOp::ProbedBars { adapter, vf }),
        2 => (adapter(), vf()).prop_map(|(adapter, vf)| VfOp::VendorAndDevice { adapter, vf }),
        1 => (adapter(), vf()).prop_map(|(adapter, vf)| VfOp::DeviceLocation { adapter, vf }),
        1 => (adapter(), vf(), any::<u8>()).prop_map(|(adapter, vf, which)| VfOp::Unsupported { adapter, vf, which }),
        1 => (adapter(), any::<u8>()).prop_map(|(adapter, which)| VfOp::NullArgs { adapter, which }),
        5 => (adapter(), prop::collection::vec(priv_data(), 1..4),
              prop::option::weighted(0.05, prop_oneof![Just(0u32), Just(33), any::<u32>()]),
              prop::bool::weighted(0.03))
            .prop_map(|(adapter, entries, declared, null_array)| VfOp::CreateAllocation {
                adapter, entries, declared, null_array,
            }),
    ]
}

fn this_vf(vf: u32, op: impl FnOnce(AdapterSel, u32) -> VfOp) -> Op {
    Op::Vf(op(AdapterSel::This, vf))
}

/// The escape's QUERY (or MSIX) reply of `vf`: what power, VM bus, memory
/// and MSI-X enables, reserve and migration show.
fn observe(vf: u32, msix: bool) -> Op {
    v(VgpuOp::Escape {
        adapter: AdapterSel::This,
        vf,
        luid_ok: true,
        command: if msix { 3 } else { 1 },
        declared: None,
        payload: Vec::new(),
        out: 79,
    })
}

fn write(vf: u32, offset: u32, data: Vec<u8>) -> Op {
    this_vf(vf, |adapter, vf| VfOp::WriteConfig {
        adapter,
        vf,
        offset,
        data,
        declared: None,
        null_data: false,
    })
}

/// A vGPU brought up, its space programmed (memory and MSI-X enabled, BARs
/// sized), a VM bus set, probed and observed; then reset (or an FLR
/// written) and observed again; a second reserve allocated for it.
fn vf_life() -> impl Strategy<Value = Vec<Op>> {
    (0u32..4, vram(), any::<bool>(), offset(), write_data()).prop_flat_map(
        |(vf, vram, flr, at, data)| {
            vf_up(vf, vram).prop_map(move |up| {
                let mut ops = up;
                ops.extend([
                    write(vf, 0x04, vec![0x06, 0x00]),
                    write(vf, 0x42, vec![0x00, 0xC0]),
                    write(vf, 0x18, vec![0xFF; 8]),
                    write(vf, at, data.clone()),
                    this_vf(vf, |adapter, vf| VfOp::SetVmBus {
                        adapter,
                        vf,
                        handle: 0x1000 + u64::from(vf),
                    }),
                    this_vf(vf, |adapter, vf| VfOp::ProbedBars { adapter, vf }),
                    this_vf(vf, |adapter, vf| VfOp::VendorAndDevice { adapter, vf }),
                    this_vf(vf, |adapter, vf| VfOp::MmioRangeCount { adapter, vf }),
                    this_vf(vf, |adapter, vf| VfOp::BackingResource {
                        adapter,
                        vf,
                        index: 0,
                        null_resource: false,
                    }),
                    this_vf(vf, |adapter, vf| VfOp::MmioRanges {
                        adapter,
                        vf,
                        bar: 2,
                        capacity: 1,
                        null_array: false,
                    }),
                    observe(vf, false),
                    observe(vf, true),
                    if flr {
                        write(vf, 0x58, vec![0x00, 0x80])
                    } else {
                        this_vf(vf, |adapter, vf| VfOp::Reset { adapter, vf })
                    },
                    observe(vf, false),
                    observe(vf, true),
                    this_vf(vf, |adapter, _| VfOp::CreateAllocation {
                        adapter,
                        entries: vec![PrivData::Reserve {
                            vf,
                            size_pages: 0,
                            word: None,
                            len: None,
                        }],
                        declared: None,
                        null_array: false,
                    }),
                    Op::Vf(VfOp::GetProfile {
                        adapter: AdapterSel::This,
                        count: 4,
                    }),
                    Op::Vf(VfOp::QueryInterface {
                        adapter: AdapterSel::This,
                        iface: [IfaceSel::Partition, IfaceSel::Sriov, IfaceSel::FlexIov]
                            [vf as usize % 3],
                        size: 128,
                        version: 1,
                        nulls: 0,
                    }),
                ]);
                ops
            })
        },
    )
}

/// A whole live migration whose source had its space written first: the
/// target's space must read back what the source had (its writable bits).
fn config_migration() -> impl Strategy<Value = Vec<Op>> {
    (
        migration(),
        prop::collection::vec((offset(), write_data()), 1..4),
    )
        .prop_map(|(mut ops, writes)| {
            let prepare = |ty: i32| {
                ops.iter()
                    .position(|o| matches!(o, Op::Vgpu(VgpuOp::Prepare { ty: t, .. }) if *t == ty))
            };
            let (Some(source), Some(target)) = (prepare(0), prepare(1)) else {
                return ops;
            };
            let (Op::Vgpu(VgpuOp::Prepare { vf: a, .. }), Op::Vgpu(VgpuOp::Prepare { vf: b, .. })) =
                (ops[source].clone(), ops[target].clone())
            else {
                return ops;
            };
            let at = source;
            for (i, (offset, data)) in writes.into_iter().enumerate() {
                ops.insert(at + i, write(a, offset, data));
            }
            ops.push(this_vf(b, |adapter, vf| VfOp::ReadConfig {
                adapter,
                vf,
                offset: 0,
                len: 4096,
                null_data: false,
            }));
            ops.push(observe(b, false));
            ops
        })
}

/// Blocks of VF-facing calls.
pub(super) fn block() -> impl Strategy<Value = Vec<Op>> {
    prop_oneof![
        3 => shrinkable(vf_life()),
        2 => shrinkable(config_migration()),
    ]
}
