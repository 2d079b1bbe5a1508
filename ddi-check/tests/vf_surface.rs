//! The VF-facing operations ([`ddi_check::ops::VfOp`]) can fail: for each
//! deliberate mistake in the model (`Flaw`), a short sequence that the
//! correct model passes is reported as a mismatch with the flawed one, at
//! the operation the mistake concerns. And a sequence reaching every one of
//! them succeeds where it should (a lifecycle of one vGPU seen from the
//! guest side).

use ddi_check::ops::*;
use ddi_check::{Flaw, check_sequence};

const THIS: AdapterSel = AdapterSel::This;

fn vgpu(op: VgpuOp) -> Op {
    Op::Vgpu(op)
}

fn vf(op: VfOp) -> Op {
    Op::Vf(op)
}

/// vGPU 0 created, its reserve allocated and bound at its region.
fn bring_up() -> Vec<Op> {
    vec![
        vgpu(VgpuOp::CreateVgpu {
            adapter: THIS,
            vf: 0,
            vram: VramSpec::Default,
            engine: 0,
        }),
        vgpu(VgpuOp::CreateReserve {
            adapter: THIS,
            vf: 0,
        }),
        vgpu(VgpuOp::SetResources {
            adapter: THIS,
            vf: 0,
            alloc: AllocSel::Issued(0),
            segment: 0,
            place: Place {
                slot: 0,
                pages: 0,
                bytes: 0,
            },
            short: 0,
        }),
    ]
}

fn write(offset: u32, data: &[u8]) -> Op {
    vf(VfOp::WriteConfig {
        adapter: THIS,
        vf: 0,
        offset,
        data: data.to_vec(),
        declared: None,
        null_data: false,
    })
}

fn query_escape(command: u32) -> Op {
    vgpu(VgpuOp::Escape {
        adapter: THIS,
        vf: 0,
        luid_ok: true,
        command,
        declared: None,
        payload: Vec::new(),
        out: 79,
    })
}

/// The correct model passes `ops`; the one with `flaw` reports a mismatch
/// whose text contains `at` (the operation concerned).
fn caught(flaw: Flaw, ops: &[Op], at: &str) {
    let stats = check_sequence(ops, Flaw::None).expect("the correct model agrees");
    assert!(stats.succeeded > 0);
    let why = check_sequence(ops, flaw).expect_err("the flawed model is caught");
    println!("{flaw:?}: {why}");
    assert!(
        why.contains(at),
        "{flaw:?} caught at the wrong place: {why}"
    );
}

#[test]
fn a_model_whose_reset_keeps_the_configuration_is_caught() {
    let mut ops = bring_up();
    ops.extend([
        write(0x04, &[0x06, 0x00]),
        vf(VfOp::Reset {
            adapter: THIS,
            vf: 0,
        }),
    ]);
    caught(Flaw::ResetKeepsConfig, &ops, "Reset");
}

#[test]
fn a_model_whose_writes_change_read_only_bits_is_caught() {
    let mut ops = bring_up();
    ops.push(write(0x00, &[0xFF; 4]));
    caught(Flaw::ConfigIgnoresMask, &ops, "WriteConfig");
}

#[test]
fn a_model_whose_profile_ignores_the_vgpus_is_caught() {
    let mut ops = bring_up();
    ops.push(vf(VfOp::GetProfile {
        adapter: THIS,
        count: 4,
    }));
    caught(Flaw::ProfileIgnoresVgpus, &ops, "GetProfile");
}

#[test]
fn a_model_whose_query_interface_ignores_the_size_is_caught() {
    let ops = [vf(VfOp::QueryInterface {
        adapter: THIS,
        iface: IfaceSel::Sriov,
        size: 119,
        version: 1,
        nulls: 0,
    })];
    // Nothing succeeds in this sequence: check the flaw directly.
    assert!(check_sequence(&ops, Flaw::None).is_ok());
    let why = check_sequence(&ops, Flaw::QueryInterfaceIgnoresSize).unwrap_err();
    assert!(why.contains("QueryInterface"), "{why}");
}

#[test]
fn a_model_that_accepts_any_reserve_record_version_is_caught() {
    let mut ops = bring_up();
    ops.push(vf(VfOp::CreateAllocation {
        adapter: THIS,
        entries: vec![PrivData::Reserve {
            vf: 0,
            size_pages: 0,
            word: Some((1, 2)),
            len: None,
        }],
        declared: None,
        null_array: false,
    }));
    caught(Flaw::AllocationIgnoresVersion, &ops, "CreateAllocation");
}

/// Every VF-facing operation, on a running vGPU, succeeds as the model
/// says, and the ones that change state show it where the guest looks.
#[test]
fn a_vf_seen_from_the_guest_side_matches_the_model() {
    let mut ops = bring_up();
    let this_vf = |op: fn(AdapterSel, u32) -> VfOp| vf(op(THIS, 0));
    ops.extend([
        vf(VfOp::QueryInterface {
            adapter: THIS,
            iface: IfaceSel::FlexIov,
            size: 56,
            version: 2,
            nulls: 0,
        }),
        vf(VfOp::GetProfile {
            adapter: THIS,
            count: 2,
        }),
        this_vf(|adapter, vf| VfOp::VendorAndDevice { adapter, vf }),
        this_vf(|adapter, vf| VfOp::DeviceLocation { adapter, vf }),
        this_vf(|adapter, vf| VfOp::ProbedBars { adapter, vf }),
        this_vf(|adapter, vf| VfOp::MmioRangeCount { adapter, vf }),
        vf(VfOp::MmioRanges {
            adapter: THIS,
            vf: 0,
            bar: 2,
            capacity: 1,
            null_array: false,
        }),
        vf(VfOp::BackingResource {
            adapter: THIS,
            vf: 0,
            index: 3,
            null_resource: false,
        }),
        vf(VfOp::SetVmBus {
            adapter: THIS,
            vf: 0,
            handle: 0x1234,
        }),
        vgpu(VgpuOp::SetPower {
            adapter: THIS,
            vf: 0,
            state: 1,
        }),
        write(0x04, &[0x06, 0x00]),
        write(0x42, &[0x00, 0xC0]),
        write(0x10, &[0xFF; 4]),
        vgpu(VgpuOp::WriteInterrupt {
            adapter: THIS,
            vf: 0,
            index: 2,
        }),
        query_escape(1),
        query_escape(3),
        vf(VfOp::ReadConfig {
            adapter: THIS,
            vf: 0,
            offset: 0,
            len: 4096,
            null_data: false,
        }),
        write(0x58, &[0x00, 0x80]),
        query_escape(1),
        query_escape(3),
        vf(VfOp::CreateAllocation {
            adapter: THIS,
            entries: vec![PrivData::Reserve {
                vf: 0,
                size_pages: 1,
                word: None,
                len: None,
            }],
            declared: None,
            null_array: false,
        }),
    ]);
    let stats = check_sequence(&ops, Flaw::None).expect("driver and model agree");
    let vf_kinds = 9 + VgpuOp::KINDS.len();
    for (i, name) in VfOp::KINDS.iter().enumerate() {
        let (calls, ok) = stats.by_kind[vf_kinds + i];
        if !matches!(*name, "ResetVf" | "UnsupportedSriov" | "NullArgs") {
            assert!(calls >= 1 && ok == calls, "{name}: {ok}/{calls}");
        }
    }
}
