//! The GPU-P live-migration DDIs (slots 177-185) through the C ABI: the
//! two-call size protocol of the Save DDIs, the save -> restore round trip
//! between two adapters, every class of malformed or incompatible data
//! (each refused with `STATUS_OBJECT_TYPE_MISMATCH`, a triage event through
//! `DxgkCbLogEtwEvent`, and nothing changed), every out-of-order call
//! (`STATUS_INVALID_DEVICE_STATE`, nothing changed), unknown VFs and bad
//! arguments, Destroy during a migration, SetVirtualGpuResources2,
//! WriteVirtualizedInterrupt, the pause, `DXGKQAITYPE_SCATTER_RESERVE` and
//! GPUPCAPS.

#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

mod callbacks;
#[path = "../common/mod.rs"]
mod common;
mod isolation;
mod malformed;
mod support;

use crate::common::gpup::*;
use crate::common::*;
use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::live::{MigrationData, MigrationType, msix_entry};
use dxgkrnl_model::vfstate::{VfSnapshot, interrupt_entries, program_guest, program_interrupts};
use dxgkrnl_model::{Adapter, BasisHandle, VgpuInfo, VgpuRequest, take_etw_events};
use gpup_miniport::migration::{BlobKind, inspect};
use gpup_miniport::vgpu::escape::*;

use MigrationData::{Immutable, Mutable};

use support::*;

// ---- The two-call size protocol ----

#[test]
fn both_save_ddis_follow_the_two_call_size_protocol() {
    let (_d, s, _t) = pair();
    let v = vf(&s, 0);
    program_guest(&s, &v, 7).unwrap();
    ok(s.prepare_live_migration(v.partition, MigrationType::Source));
    for kind in [Immutable, Mutable] {
        if kind == Mutable {
            ok(s.set_vf_pause(v.partition, true));
        }
        let before = phase(&s, &v);
        // Call 1: DataSize 0, Data NULL: the exact size, nothing else.
        let (status, needed) = s.save_migration_call(kind, v.partition, 0, None);
        ok(status);
        assert!(needed > 32, "{kind:?}: {needed}");
        assert_eq!(phase(&s, &v), before, "the sizing call changes nothing");
        let n = usize::try_from(needed).unwrap();
        // A buffer one byte short: BUFFER_TOO_SMALL, the size needed, untouched.
        let mut buf = vec![0xA5u8; n + 16];
        let (status, size) = s.save_migration_call(kind, v.partition, needed - 1, Some(&mut buf));
        assert_eq!(
            (status, size),
            (STATUS_BUFFER_TOO_SMALL, needed),
            "{kind:?}"
        );
        assert!(buf.iter().all(|&b| b == 0xA5), "buffer untouched");
        assert_eq!(phase(&s, &v), before);
        // A zero size with a buffer is a too-small buffer.
        let (status, size) = s.save_migration_call(kind, v.partition, 0, Some(&mut buf));
        assert_eq!((status, size), (STATUS_BUFFER_TOO_SMALL, needed));
        // A size without a buffer, or no DataSize at all: bad arguments.
        let (status, size) = s.save_migration_call(kind, v.partition, needed, None);
        assert_eq!((status, size), (STATUS_INVALID_PARAMETER, needed));
        let mut block = DXGKARG_GPUP_SAVE_IMMUTABLE_MIGRATION_DATA::zeroed();
        block.vfIndex = v.partition;
        assert_eq!(
            unsafe { s.save_migration_data_raw(kind, &raw mut block) },
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(
            unsafe { s.save_migration_data_raw(kind, core::ptr::null_mut()) },
            STATUS_INVALID_PARAMETER
        );
        // A larger buffer: exactly `needed` bytes written, DataSize = written.
        let (status, size) = s.save_migration_call(kind, v.partition, needed + 16, Some(&mut buf));
        assert_eq!((status, size), (STATUS_SUCCESS, needed));
        assert!(buf[n..].iter().all(|&b| b == 0xA5), "nothing past the blob");
        let expected = match kind {
            Immutable => BlobKind::Immutable,
            Mutable => BlobKind::Mutable,
        };
        assert_eq!(inspect(&buf[..n]), Ok(expected));
        // The exact size works too, and gives the same bytes.
        let mut exact = vec![0u8; n];
        let (status, size) = s.save_migration_call(kind, v.partition, needed, Some(&mut exact));
        assert_eq!((status, size), (STATUS_SUCCESS, needed));
        assert_eq!(exact, buf[..n]);
    }
    assert_eq!(phase(&s, &v), GPUP_VGPU_MIGRATION_SAVED);
}

// ---- The round trip ----

#[test]
fn save_then_restore_moves_the_vf_state_to_the_target() {
    let (_d, s, t) = pair();
    // A contiguous source VF, a target VF scattered over three pieces out of
    // offset order: the state still carries over.
    let src = vf(&s, 1);
    let pieces = [
        (64 * MIB, 4 * MIB),
        (8 * MIB, 8 * MIB),
        (100 * MIB, 4 * MIB),
    ];
    let dst = scattered_vf(&t, 1, &pieces);
    assert_ne!(info(&t, &dst).Flags & GPUP_VGPU_FLAG_SCATTERED, 0);
    program_guest(&s, &src, 42).unwrap();
    let (immutable, mutable) = source_saved(&s, &src);
    assert_eq!(phase(&s, &src), GPUP_VGPU_MIGRATION_SAVED);

    target_ready(&t, &dst);
    assert_eq!(phase(&t, &dst), GPUP_VGPU_MIGRATION_PREPARED_TARGET);
    ok(t.restore_migration_data(Immutable, dst.partition, &immutable));
    assert_eq!(phase(&t, &dst), GPUP_VGPU_MIGRATION_RESTORING);
    let before = t.vgpu_msix(&dst).unwrap();
    assert_eq!(
        before.WrittenMask, 0,
        "nothing applied before the mutable data"
    );
    // The target VM's OS virtualizes the interrupt table from its start and
    // programs this host's routing (issue 15: the Restore must keep it).
    program_interrupts(&t, &dst, 42, 1).unwrap();
    ok(t.restore_migration_data(Mutable, dst.partition, &mutable));
    assert_eq!(phase(&t, &dst), GPUP_VGPU_MIGRATION_RESTORED);
    assert!(take_etw_events().is_empty(), "no event on success");

    let whole = |v: &VgpuInfo| {
        dxgkrnl_model::vf::Reserve::new(v.reserves[0].segment, v.pieces[0].clone()).unwrap()
    };
    let a = VfSnapshot::take(&s, &src, &whole(&src), &src.pieces[0], true).unwrap();
    let b = VfSnapshot::take(&t, &dst, &whole(&dst), &dst.pieces[0], true).unwrap();
    assert_eq!(a.differences(&b), Vec::<String>::new());
    assert_eq!(a.msix.WrittenMask, 0b1111);
    assert_eq!(a.msix, b.msix);
    // The target's entries are the target host's routing, not the source's.
    assert_eq!(
        b.interrupts_differ_from(&interrupt_entries(1, 42, 1)),
        Vec::<String>::new()
    );
    assert_ne!(a.host_msix, b.host_msix, "each host its own addresses");
    assert!(
        !mutable.windows(8).any(|w| a
            .host_msix
            .iter()
            .any(|e| w == e.MessageAddress.to_le_bytes())),
        "no source host interrupt address in the blob"
    );
    assert_eq!(a.config, b.config);
    assert!(b.memory_enabled && b.msix_enabled && b.paused);

    ok(s.end_live_migration(src.partition));
    ok(t.end_live_migration(dst.partition));
    assert_eq!(phase(&t, &dst), GPUP_VGPU_MIGRATION_ENDED);
    assert!(paused(&t, &dst), "End leaves the pause to the OS");
    ok(t.set_vf_pause(dst.partition, false));
    // The arrived VF runs: its GPU writes are marked through the scattered
    // map (VF page 1024 = the second piece's first page).
    t.vf_write_notify(&dst, 4 * MIB, 4096).unwrap();
    let bits = query_all(&t, dst.reserves[0].basis.unwrap(), RESERVE / 4096, true);
    assert_eq!(set_bits(&bits, RESERVE / 4096), vec![1024]);
    // And it can leave again.
    ok(t.prepare_live_migration(dst.partition, MigrationType::Source));
}

/// The target's OS may program the interrupt table after the Restore too
/// (Microsoft's pages fix no order): the Restore neither fills the table
/// with the source's entries nor blocks the OS's later writes.
#[test]
fn restore_keeps_the_interrupt_table_to_the_targets_os() {
    let (_d, s, t) = pair();
    let src = vf(&s, 1);
    let dst = vf(&t, 1);
    program_guest(&s, &src, 9).unwrap();
    let (immutable, mutable) = source_saved(&s, &src);
    target_ready(&t, &dst);
    ok(t.restore_migration_data(Immutable, dst.partition, &immutable));
    ok(t.restore_migration_data(Mutable, dst.partition, &mutable));
    let host = t.vgpu_host_state(dst.partition).unwrap();
    assert!(
        host.Msix.iter().all(|e| e.Written == 0),
        "no source entry applied: {:x?}",
        host.Msix
    );
    program_interrupts(&t, &dst, 9, 1).unwrap();
    assert_eq!(
        t.vgpu_host_state(dst.partition).unwrap().Msix,
        interrupt_entries(1, 9, 1)
    );
    assert_eq!(
        t.vgpu_msix(&dst).unwrap(),
        s.vgpu_msix(&src).unwrap(),
        "the guest sees the same table"
    );
}

// ---- Malformed and incompatible data ----

#[test]
fn malformed_immutable_data_is_refused_and_reported() {
    let (_d, s, t) = pair();
    let src = vf(&s, 0);
    let dst = vf(&t, 0);
    let good = source_saving(&s, &src);
    target_ready(&t, &dst);

    malformed::immutable_framing_is_checked(&t, &dst, &good);
    malformed::immutable_of_the_wrong_kind(&s, &t, &dst);
    malformed::immutable_from_another_adapter_or_driver(&t, &dst, &good);
    malformed::immutable_of_another_layout(&t, &dst, &good);

    // After all that, the good data (with a newer patch level) is accepted.
    let driver = payload(&good, 2);
    let mut patch = good.clone();
    patch[driver + 4] ^= 0x07;
    ok(t.restore_migration_data(Immutable, dst.partition, &reseal(patch)));
    assert_eq!(phase(&t, &dst), GPUP_VGPU_MIGRATION_RESTORING);
}

#[test]
fn malformed_or_foreign_mutable_data_is_refused_and_reported() {
    let (_d, s, t) = pair();
    let src = vf(&s, 0);
    let dst = vf(&t, 0);
    program_guest(&s, &src, 3).unwrap();
    let (immutable, good) = source_saved(&s, &src);
    target_ready(&t, &dst);
    ok(t.restore_migration_data(Immutable, dst.partition, &immutable));
    malformed::mutable_framing_is_checked(&t, &dst, &good, &immutable);
    malformed::mutable_from_another_source(&s, &t, &dst, &good);
    malformed::mutable_msix_and_config_are_checked(&t, &dst, &good);
    malformed::mutable_needs_bases_over_the_vram(&t, &dst, &good);
}

// ---- Out-of-order calls ----

/// Every migration call, as (name, call) on VF `v` of adapter `a`.
type Call = (&'static str, fn(&Adapter, u32, &[u8]) -> NTSTATUS);

fn calls() -> [Call; 7] {
    [
        ("prepare source", |a, v, _| {
            a.prepare_live_migration(v, MigrationType::Source)
        }),
        ("prepare target", |a, v, _| {
            a.prepare_live_migration(v, MigrationType::Target)
        }),
        ("save immutable", |a, v, _| {
            a.save_migration_call(Immutable, v, 0, None).0
        }),
        ("save mutable", |a, v, _| {
            a.save_migration_call(Mutable, v, 0, None).0
        }),
        ("restore immutable", |a, v, b| {
            a.restore_migration_data(Immutable, v, b)
        }),
        ("restore mutable", |a, v, b| {
            a.restore_migration_data(Mutable, v, b)
        }),
        ("end", |a, v, _| a.end_live_migration(v)),
    ]
}

/// Asserts that every call not in `allowed` is refused with
/// `STATUS_INVALID_DEVICE_STATE` in the VF's current state, changing
/// nothing (phase, pause).
fn only(a: &Adapter, v: &VgpuInfo, allowed: &[&str], blob: &[u8], what: &str) {
    for (name, call) in calls() {
        if allowed.contains(&name) {
            continue;
        }
        let (before, was_paused) = (phase(a, v), paused(a, v));
        assert_eq!(
            call(a, v.partition, blob),
            STATUS_INVALID_DEVICE_STATE,
            "{name} in {what}"
        );
        assert_eq!((phase(a, v), paused(a, v)), (before, was_paused), "{name}");
    }
    assert!(take_etw_events().is_empty(), "state errors log nothing");
}

#[test]
fn out_of_order_calls_are_invalid_device_state_and_change_nothing() {
    let (_d, s, t) = pair();
    let src = vf(&s, 0);
    let dst = vf(&t, 0);
    let idle = ["prepare source", "prepare target"];
    only(&s, &src, &idle, &[], "idle");
    only(&s, &src, &idle, &[], "idle");
    ok(s.set_vf_pause(src.partition, true));
    only(&s, &src, &idle, &[], "idle, paused");
    ok(s.set_vf_pause(src.partition, false));

    ok(s.prepare_live_migration(src.partition, MigrationType::Source));
    assert_eq!(phase(&s, &src), GPUP_VGPU_MIGRATION_PREPARED_SOURCE);
    only(&s, &src, &["save immutable", "end"], &[], "prepared source");
    ok(s.set_vf_pause(src.partition, true));
    only(
        &s,
        &src,
        &["save immutable", "end"],
        &[],
        "prepared source, paused",
    );
    ok(s.set_vf_pause(src.partition, false));
    let immutable = s.save_migration_data(Immutable, src.partition).unwrap();
    assert_eq!(phase(&s, &src), GPUP_VGPU_MIGRATION_SAVING);
    only(&s, &src, &["save immutable", "end"], &[], "saving, running");
    ok(s.set_vf_pause(src.partition, true));
    ok(s.set_vf_pause(src.partition, true)); // idempotent
    only(
        &s,
        &src,
        &["save immutable", "save mutable", "end"],
        &[],
        "saving, paused",
    );
    let mutable = s.save_migration_data(Mutable, src.partition).unwrap();
    assert_eq!(phase(&s, &src), GPUP_VGPU_MIGRATION_SAVED);
    // Repeatable while paused, and the data is the same.
    assert_eq!(
        s.save_migration_data(Mutable, src.partition).unwrap(),
        mutable
    );
    assert_eq!(
        s.save_migration_data(Immutable, src.partition).unwrap(),
        immutable
    );
    only(
        &s,
        &src,
        &["save immutable", "save mutable", "end"],
        &[],
        "saved",
    );
    ok(s.set_vf_pause(src.partition, false));
    only(&s, &src, &["save immutable", "end"], &[], "saved, unpaused");
    ok(s.end_live_migration(src.partition));
    assert_eq!(phase(&s, &src), GPUP_VGPU_MIGRATION_ENDED);
    only(&s, &src, &idle, &[], "ended");

    ok(t.prepare_live_migration(dst.partition, MigrationType::Target));
    only(&t, &dst, &["end"], &immutable, "prepared target, running");
    ok(t.set_vf_pause(dst.partition, true));
    only(
        &t,
        &dst,
        &["restore immutable", "end"],
        &immutable,
        "prepared target, paused",
    );
    ok(t.restore_migration_data(Immutable, dst.partition, &immutable));
    only(
        &t,
        &dst,
        &["restore mutable", "end"],
        &mutable,
        "restoring, paused",
    );
    ok(t.set_vf_pause(dst.partition, false));
    only(&t, &dst, &["end"], &mutable, "restoring, running");
    ok(t.set_vf_pause(dst.partition, true));
    ok(t.restore_migration_data(Mutable, dst.partition, &mutable));
    only(&t, &dst, &["end"], &mutable, "restored (once each)");
    ok(t.end_live_migration(dst.partition));
    only(&t, &dst, &idle, &mutable, "target ended");
    // End from a prepared phase abandons the migration.
    ok(t.prepare_live_migration(dst.partition, MigrationType::Target));
    ok(t.end_live_migration(dst.partition));
    assert_eq!(phase(&t, &dst), GPUP_VGPU_MIGRATION_ENDED);
}

#[test]
fn a_vf_without_vram_cannot_take_part() {
    let (_d, s, _t) = pair();
    let unbound = s.create_vgpu_unbound(&VgpuRequest::vram(RESERVE)).unwrap();
    for ty in [MigrationType::Source, MigrationType::Target] {
        assert_eq!(
            s.prepare_live_migration(unbound.partition, ty),
            STATUS_INVALID_DEVICE_STATE
        );
    }
    // A VF whose reserve was destroyed under it, mid-migration.
    let v = vf(&s, 1);
    ok(s.prepare_live_migration(v.partition, MigrationType::Source));
    s.destroy_allocations(&[v.reserves[0].allocation]).unwrap();
    assert_eq!(
        s.save_migration_call(Immutable, v.partition, 0, None).0,
        STATUS_INVALID_DEVICE_STATE
    );
    ok(s.end_live_migration(v.partition));
}

/// Every migration DDI refuses a NULL argument block.
fn null_argument_blocks_are_invalid_parameter(s: &Adapter) {
    unsafe {
        assert_eq!(
            s.prepare_live_migration_raw(core::ptr::null()),
            STATUS_INVALID_PARAMETER
        );
        for kind in [Immutable, Mutable] {
            assert_eq!(
                s.restore_migration_data_raw(kind, core::ptr::null()),
                STATUS_INVALID_PARAMETER
            );
        }
        assert_eq!(
            s.write_virtualized_interrupt_raw(core::ptr::null()),
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(
            s.set_vf_pause_raw(core::ptr::null()),
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(
            s.set_vgpu_resources2_raw(core::ptr::null()),
            STATUS_INVALID_PARAMETER
        );
    }
}

#[test]
fn unknown_vfs_and_bad_arguments_are_invalid_parameter() {
    let (_d, s, _t) = pair();
    let live = vf(&s, 0);
    let bogus: HANDLE = core::ptr::without_provenance_mut(0x1234);
    for vf in [1, 2, 63, u32::MAX] {
        for (name, call) in calls() {
            assert_eq!(
                call(&s, vf, &[1, 2, 3]),
                STATUS_INVALID_PARAMETER,
                "{name} VF {vf}"
            );
        }
        assert_eq!(s.set_vf_pause(vf, true), STATUS_INVALID_PARAMETER);
        assert_eq!(
            s.write_virtualized_interrupt(vf, 0, msix_entry(0xFEE0_0000, 1, 0)),
            STATUS_INVALID_PARAMETER
        );
        let basis = live.reserves[0].basis.unwrap();
        assert_eq!(
            s.set_vgpu_resources2(vf, &[(live.reserves[0].allocation, basis)]),
            STATUS_INVALID_PARAMETER
        );
    }
    // A MigrationType that is neither.
    let args = DXGKARG_GPUP_PREPARE_LIVE_MIGRATION {
        vfIndex: live.partition,
        MigrationType: DXGK_GPUP_MIGRATIONTYPE(2),
    };
    assert_eq!(
        unsafe { s.prepare_live_migration_raw(&raw const args) },
        STATUS_INVALID_PARAMETER
    );
    null_argument_blocks_are_invalid_parameter(&s);
    // A Restore with a NULL Data pointer (on a VF ready for it).
    target_ready(&s, &live);
    let args = DXGKARG_GPUP_RESTORE_IMMUTABLE_MIGRATION_DATA {
        vfIndex: live.partition,
        DataSize: 64,
        Data: core::ptr::null_mut(),
    };
    assert_eq!(
        unsafe { s.restore_migration_data_raw(Immutable, &raw const args) },
        STATUS_INVALID_PARAMETER
    );
    // An absurd DataSize is refused unread, as data that cannot be valid.
    let byte = [0u8; 1];
    let args = DXGKARG_GPUP_RESTORE_IMMUTABLE_MIGRATION_DATA {
        vfIndex: live.partition,
        DataSize: u64::MAX,
        Data: byte.as_ptr().cast_mut(),
    };
    assert_eq!(
        unsafe { s.restore_migration_data_raw(Immutable, &raw const args) },
        STATUS_OBJECT_TYPE_MISMATCH
    );
    let _ = take_etw_events();
    // An unknown adapter.
    let t = s.driver().table();
    unsafe {
        assert_eq!(
            t.DxgkDdiEndLiveMigration.unwrap()(bogus, 0),
            STATUS_INVALID_PARAMETER
        );
        let pause = DXGKARG_SETVIRTUALFUNCTIONPAUSESTATE {
            vfIndex: 0,
            bPause: 1,
        };
        assert_eq!(
            t.DxgkDdiSetVirtualFunctionPauseState.unwrap()(bogus, &raw const pause),
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(
            t.DxgkDdiEndLiveMigration.unwrap()(core::ptr::null_mut(), 0),
            STATUS_INVALID_PARAMETER
        );
    }
}

// ---- Destroy during a migration ----

#[test]
fn destroy_during_a_migration_ends_it_and_keeps_the_bases() {
    let (_d, s, _t) = pair();
    for pause in [false, true] {
        let v = vf(&s, 0);
        let basis = v.reserves[0].basis.unwrap();
        ok(s.prepare_live_migration(v.partition, MigrationType::Source));
        let _ = s.save_migration_data(Immutable, v.partition).unwrap();
        if pause {
            ok(s.set_vf_pause(v.partition, true));
        }
        assert_eq!(
            s.destroy_vgpu_raw(v.partition),
            STATUS_SUCCESS,
            "paused {pause}"
        );
        // The basis is still valid until DestroyMemoryBasis.
        let _ = query_all(&s, basis, RESERVE / 4096, true);
        // The slot is free; a new VF in it starts idle and unpaused.
        assert_eq!(s.end_live_migration(v.partition), STATUS_INVALID_PARAMETER);
        s.destroy_allocations(&[v.reserves[0].allocation]).unwrap();
        let w = s
            .create_vgpu_unbound(&VgpuRequest {
                partition: Some(0),
                ..VgpuRequest::vram(RESERVE)
            })
            .unwrap();
        s.set_vgpu_resources(w.partition, &w.reserves).unwrap();
        assert_eq!(phase(&s, &w), GPUP_VGPU_MIGRATION_IDLE);
        assert!(!paused(&s, &w));
        ok(s.stop_dirty_tracking(basis));
        ok(s.destroy_memory_basis(basis));
        s.destroy_vgpu(w.partition).unwrap();
        // The model's bookkeeping of the first VF: its basis is gone already.
        let _ = s.destroy_vgpu(v.partition);
    }
}

// ---- SetVirtualGpuResources2 ----

/// The VF's GPU writes land where the ranges of its binding say, and the
/// binding outlives the basis it came from.
fn scattered_writes_land_where_the_ranges_say(a: &Adapter, v: &VgpuInfo, good: BasisHandle) {
    let seg = SEG_4K;
    // The VF's GPU writes land where the ranges say: VF page 2048 is the
    // second range's first page (segment offset 4 MiB).
    a.set_vf_power(v.partition, POWER_DEVICE_D0, false).unwrap();
    let tracker = a.create_memory_basis(seg, &[(0, 64 * MIB)]).unwrap();
    ok(a.start_dirty_tracking(tracker));
    a.vf_write_notify(v, 8 * MIB, 4096).unwrap();
    a.vf_write_notify(v, 8 * MIB - 4096, 8192).unwrap();
    let bits = query_all(a, tracker, 64 * MIB / 4096, true);
    let pages = set_bits(&bits, 64 * MIB / 4096);
    assert_eq!(pages, vec![1024, 32 * 256 + 2047]);
    // The basis the binding came from may go; the binding stays.
    ok(a.destroy_memory_basis(good));
    a.vf_write_notify(v, 0, 4096).unwrap();
    let bits = query_all(a, tracker, 64 * MIB / 4096, true);
    assert_eq!(set_bits(&bits, 64 * MIB / 4096), vec![32 * 256]);
}

#[test]
fn set_virtual_gpu_resources2_binds_a_scattered_reserve() {
    let (_d, a) = started_gpup(Some(2));
    let v = a
        .create_vgpu_until(&VgpuRequest::vram(RESERVE), dxgkrnl_model::Stage::Reserved)
        .unwrap();
    let alloc = v.reserves[0].allocation;
    let seg = SEG_4K;
    let pieces = [(32 * MIB, 8 * MIB), (4 * MIB, 8 * MIB)];
    let basis = |ranges: &[(u64, u64)]| a.create_memory_basis(seg, ranges).unwrap();
    let good = basis(&pieces);
    let stale = basis(&pieces);
    ok(a.destroy_memory_basis(stale));
    let forged = BasisHandle(core::ptr::without_provenance_mut(0x4200_0000_0001_0001));
    let null = BasisHandle(core::ptr::null_mut());
    for (what, handle) in [("stale", stale), ("forged", forged), ("NULL", null)] {
        assert_eq!(
            a.set_vgpu_resources2(v.partition, &[(alloc, handle)]),
            STATUS_INVALID_HANDLE,
            "{what}"
        );
    }
    // Another adapter's basis.
    let (_d2, other) = started_gpup(Some(2));
    let foreign = other.create_memory_basis(seg, &pieces).unwrap();
    assert_eq!(
        a.set_vgpu_resources2(v.partition, &[(alloc, foreign)]),
        STATUS_INVALID_HANDLE
    );
    // Ranges that do not add up to the reserve, or are not page multiples,
    // or lie in another segment.
    let short = basis(&[(32 * MIB, 8 * MIB)]);
    let long = basis(&[(32 * MIB, 8 * MIB), (4 * MIB, 12 * MIB)]);
    let ragged = basis(&[(32 * MIB + 512, 8 * MIB), (4 * MIB, 8 * MIB - 512)]);
    for (what, b) in [("short", short), ("long", long), ("unaligned", ragged)] {
        assert_eq!(
            a.set_vgpu_resources2(v.partition, &[(alloc, b)]),
            STATUS_INVALID_PARAMETER,
            "{what}"
        );
    }
    // Not the VF's own allocation; no descriptor; two descriptors.
    let w = a
        .create_vgpu_until(&VgpuRequest::vram(RESERVE), dxgkrnl_model::Stage::Reserved)
        .unwrap();
    assert_eq!(
        a.set_vgpu_resources2(v.partition, &[(w.reserves[0].allocation, good)]),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        a.set_vgpu_resources2(v.partition, &[]),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        a.set_vgpu_resources2(v.partition, &[(alloc, good), (alloc, good)]),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        a.vgpu_query(&v).unwrap().Flags & GPUP_VGPU_FLAG_RESERVE_BOUND,
        0
    );
    // The good one binds, once.
    ok(a.set_vgpu_resources2(v.partition, &[(alloc, good)]));
    let q = a.vgpu_query(&v).unwrap();
    assert_ne!(q.Flags & GPUP_VGPU_FLAG_SCATTERED, 0);
    assert_eq!(
        a.vgpu_host_state(v.partition).unwrap().ReserveOffset,
        32 * MIB,
        "VF address 0 is the first range"
    );
    assert_eq!(
        a.set_vgpu_resources2(v.partition, &[(alloc, good)]),
        STATUS_INVALID_DEVICE_STATE
    );
    assert_eq!(
        a.set_vgpu_resources(v.partition, &v.reserves),
        Err(STATUS_INVALID_DEVICE_STATE)
    );
    // Another VF cannot overlap it, by either DDI.
    let overlapping = basis(&[(36 * MIB, 16 * MIB)]);
    assert_eq!(
        a.set_vgpu_resources2(w.partition, &[(w.reserves[0].allocation, overlapping)]),
        STATUS_INVALID_PARAMETER
    );
    let mut at_four = w.reserves.clone();
    at_four[0].offset = 0;
    assert_eq!(
        a.set_vgpu_resources(w.partition, &at_four),
        Err(STATUS_INVALID_PARAMETER)
    );
    scattered_writes_land_where_the_ranges_say(&a, &v, good);
}

// ---- WriteVirtualizedInterrupt and the pause ----

#[test]
fn interrupt_writes_are_bounds_checked_and_reset_clears_them() {
    let (_d, a) = started_gpup(Some(2));
    let v = a.create_vgpu(&VgpuRequest::vram(RESERVE)).unwrap();
    for index in [-1, 4, 5, i16::MIN, i16::MAX] {
        assert_eq!(
            a.write_virtualized_interrupt(v.partition, index, msix_entry(1, 2, 3)),
            STATUS_INVALID_PARAMETER,
            "{index}"
        );
    }
    assert_eq!(a.vgpu_msix(&v).unwrap().WrittenMask, 0, "nothing written");
    ok(a.write_virtualized_interrupt(v.partition, 3, msix_entry(0xFEE0_1000, 0x41, 1)));
    ok(a.write_virtualized_interrupt(v.partition, 0, msix_entry(0xFEE0_2000, 0x42, 0)));
    let t = a.vgpu_msix(&v).unwrap();
    assert_eq!((t.EntryCount, t.WrittenMask), (4, 0b1001));
    // Changed by issue 15: the escape (user mode) sees the vector control
    // only; the host interrupt address and data are host-only state.
    assert_eq!(t.VectorControl, [0, 0, 0, 1]);
    assert_eq!(t.encode().len(), 24, "no address in the reply");
    let host = a.vgpu_host_state(v.partition).unwrap().Msix;
    assert_eq!(
        (
            host[3].Written,
            host[3].MessageAddress,
            host[3].MessageData,
            host[3].VectorControl
        ),
        (1, 0xFEE0_1000, 0x41, 1)
    );
    assert_eq!(
        host[1],
        gpup_miniport::host::GPUP_HOST_MSIX_ENTRY::default()
    );
    a.reset_vf(v.partition).unwrap();
    assert_eq!(
        a.vgpu_msix(&v).unwrap().WrittenMask,
        0,
        "FLR clears the table"
    );
    // So does an FLR through the config space.
    ok(a.write_virtualized_interrupt(v.partition, 1, msix_entry(1, 1, 0)));
    a.vf_config_write(v.partition, 0x58, &0x8000u16.to_le_bytes())
        .unwrap();
    assert_eq!(a.vgpu_msix(&v).unwrap().WrittenMask, 0);
}

#[test]
fn a_paused_vf_is_not_scheduled_and_the_pause_is_an_overlay() {
    let (_d, a) = started_gpup(Some(2));
    let v = a.create_vgpu(&VgpuRequest::vram(RESERVE)).unwrap();
    a.vf_write_notify(&v, 0, 4096).unwrap();
    ok(a.set_vf_pause(v.partition, true));
    ok(a.set_vf_pause(v.partition, true));
    assert!(paused(&a, &v));
    assert_eq!(
        a.vf_write_notify(&v, 0, 4096),
        Err(STATUS_INVALID_DEVICE_STATE),
        "its GPU does not run"
    );
    assert_eq!(
        phase(&a, &v),
        GPUP_VGPU_MIGRATION_IDLE,
        "no migration involved"
    );
    ok(a.set_vf_pause(v.partition, false));
    ok(a.set_vf_pause(v.partition, false));
    a.vf_write_notify(&v, 0, 4096).unwrap();
    // Power and pause are independent: D3 while paused, D0 again, still paused.
    ok(a.set_vf_pause(v.partition, true));
    a.set_vf_power(v.partition, POWER_DEVICE_D3, false).unwrap();
    a.set_vf_power(v.partition, POWER_DEVICE_D0, false).unwrap();
    assert!(paused(&a, &v));
}

// ---- Caps ----

#[test]
fn scatter_reserve_answers_the_granularity_per_segment() {
    let (_d, a) = started_with(&layout());
    a.set_partition_count(2).unwrap();
    assert_eq!(a.scatter_granularity(SEG_4K), Ok(4096));
    assert_eq!(a.scatter_granularity(SEG_64K), Ok(65536));
    assert_eq!(
        a.scatter_granularity(SEG_UNTRACKED),
        Err(STATUS_NOT_IMPLEMENTED)
    );
    assert_eq!(a.scatter_granularity(9), Err(STATUS_INVALID_PARAMETER));
    let mut out = [0u8; 7];
    assert_eq!(
        a.query_adapter_info_raw(DXGKQAITYPE_SCATTER_RESERVE, &SEG_4K.to_le_bytes(), &mut out),
        STATUS_BUFFER_TOO_SMALL
    );
    let mut out = [0u8; 8];
    assert_eq!(
        a.query_adapter_info_raw(DXGKQAITYPE_SCATTER_RESERVE, &[1, 0], &mut out),
        STATUS_INVALID_PARAMETER,
        "input shorter than DXGK_QUERYSCATTERRESERVEIN"
    );
    // Without partitioning there is no scatter-mapped reserve to ask about.
    let (_d, off) = started_with_partitions(dxgkrnl_model::PartitionConfig {
        enabled: false,
        options: vec![],
    });
    assert_eq!(
        off.query_adapter_info_raw(DXGKQAITYPE_SCATTER_RESERVE, &SEG_4K.to_le_bytes(), &mut out),
        STATUS_NOT_SUPPORTED
    );
}

#[test]
fn gpupcaps_report_live_migration_and_scatter_map_reserve() {
    let (_d, a) = started_gpup(None);
    let caps = a.caps();
    assert_eq!(caps.gpup_query, Some(STATUS_SUCCESS));
    assert_eq!(
        caps.gpup,
        GpupCaps::LiveMigration | GpupCaps::ScatterMapReserve
    );
    assert!(
        caps.dirty_bit_tracking
            .contains(DirtyBitTrackingCaps::DirtyBitTrackingSupported)
    );
    assert!(a.gpu_virtualization().is_some(), "the model kept GPU-P on");
}
