//! The steps of the malformed-data tests: each class of bad immutable or
//! mutable data, refused with a triage event and nothing changed.

use crate::common::*;
use dxgk_sys::*;
use dxgkrnl_model::live::{MigrationData, MigrationType};
use dxgkrnl_model::{Adapter, VgpuInfo, VgpuRequest, take_etw_events};
use gpup_miniport::migration::triage::*;

use MigrationData::{Immutable, Mutable};

use crate::support::*;

/// Truncated, trailing, bit-flipped and other-version immutable data.
pub(crate) fn immutable_framing_is_checked(t: &Adapter, dst: &VgpuInfo, good: &[u8]) {
    let n = good.len();
    // Truncated: every length short of the whole.
    for len in [0, 1, 31, 32, 40, n / 2, n - 1] {
        let e = refused(
            t,
            dst,
            Immutable,
            &good[..len],
            TRIAGE_MALFORMED,
            "truncated",
        );
        assert_eq!(
            e.Detail,
            gpup_miniport::migration::DecodeError::Truncated.code(),
            "{len}"
        );
    }
    // Trailing bytes, after the stated length or resealed into it.
    let mut longer = good.to_vec();
    longer.push(0);
    refused(t, dst, Immutable, &longer, TRIAGE_MALFORMED, "trailing");
    let e = refused(
        t,
        dst,
        Immutable,
        &reseal(longer),
        TRIAGE_MALFORMED,
        "trailing, resealed",
    );
    assert_eq!(
        e.Detail,
        gpup_miniport::migration::DecodeError::TrailingBytes.code()
    );
    // Every single bit flipped.
    for i in 0..n {
        for bit in 0..8 {
            let mut flipped = good.to_vec();
            flipped[i] ^= 1 << bit;
            assert_eq!(
                t.restore_migration_data(Immutable, dst.partition, &flipped),
                STATUS_OBJECT_TYPE_MISMATCH,
                "byte {i} bit {bit}"
            );
        }
    }
    assert_eq!(take_etw_events().len(), n * 8, "one event per refusal");
    // Another format major version (with and without a fixed checksum).
    // (Format 3 is current; 1 carried the source host's MSI-X addresses,
    // 2 named segments by raw driver id.)
    for old in [1, 2] {
        let mut v = good.to_vec();
        v[8] = old;
        refused(
            t,
            dst,
            Immutable,
            &reseal(v),
            TRIAGE_MALFORMED,
            &format!("major {old}, resealed"),
        );
    }
    let mut v2 = good.to_vec();
    v2[8] = 4;
    let e = refused(t, dst, Immutable, &v2, TRIAGE_MALFORMED, "major 4");
    assert_eq!(
        e.Detail,
        gpup_miniport::migration::DecodeError::UnsupportedVersion.code()
    );
    refused(
        t,
        dst,
        Immutable,
        &reseal(v2),
        TRIAGE_MALFORMED,
        "major 4, resealed",
    );
}

/// Mutable data where immutable data belongs.
pub(crate) fn immutable_of_the_wrong_kind(s: &Adapter, t: &Adapter, dst: &VgpuInfo) {
    // Mutable data where immutable data belongs.
    let other = vf(s, 1);
    ok(s.prepare_live_migration(other.partition, MigrationType::Source));
    let _ = s.save_migration_data(Immutable, other.partition).unwrap();
    ok(s.set_vf_pause(other.partition, true));
    let mutable = s.save_migration_data(Mutable, other.partition).unwrap();
    let e = refused(t, dst, Immutable, &mutable, TRIAGE_MALFORMED, "wrong kind");
    assert_eq!(
        e.Detail,
        gpup_miniport::migration::DecodeError::WrongKind.code()
    );
}

/// Data from another adapter or another driver.
pub(crate) fn immutable_from_another_adapter_or_driver(t: &Adapter, dst: &VgpuInfo, good: &[u8]) {
    // Another adapter: the vendor id changed, checksum fixed.
    let identity = payload(good, 1);
    let mut adapter = good.to_vec();
    adapter[identity] ^= 0x01;
    let e = refused(
        t,
        dst,
        Immutable,
        &reseal(adapter),
        TRIAGE_ADAPTER,
        "vendor",
    );
    assert_eq!(e.Expected >> 48, 0xFFFE);
    assert_eq!(e.Found >> 48, 0xFFFF);
    let mut revision = good.to_vec();
    revision[identity + 8] = 9;
    let e = refused(
        t,
        dst,
        Immutable,
        &reseal(revision),
        TRIAGE_ADAPTER,
        "revision",
    );
    assert_eq!(e.Detail, 0x0109);
    // Another driver: minor version and interface version.
    let driver = payload(good, 2);
    let mut minor = good.to_vec();
    minor[driver + 2] ^= 0x40;
    refused(t, dst, Immutable, &reseal(minor), TRIAGE_DRIVER, "minor");
    let mut interface = good.to_vec();
    interface[driver + 6] = 0x06;
    let e = refused(
        t,
        dst,
        Immutable,
        &reseal(interface),
        TRIAGE_DRIVER,
        "interface",
    );
    assert_eq!(e.Expected & 0xFFFF_FFFF, 0x1_1007);
    assert_eq!(e.Found & 0xFFFF_FFFF, 0x1_1006);
}

/// Another segment layout, reserve or partition count, or a target VF
/// created differently.
pub(crate) fn immutable_of_another_layout(t: &Adapter, dst: &VgpuInfo, good: &[u8]) {
    // A patch release is compatible (checked last: it succeeds).
    // Another page size for the reserve's segment.
    let segments = payload(good, 3);
    let mut page = good.to_vec();
    page[segments + 4 + 5] = 0x20; // ordinal 0's page size: 4096 -> 8192
    let e = refused(
        t,
        dst,
        Immutable,
        &reseal(page),
        TRIAGE_SEGMENTS,
        "page size",
    );
    assert_eq!((e.Detail, e.Expected, e.Found), (0, 4096, 8192));
    // Another reserve size, and another partition count.
    let resources = payload(good, 4);
    let mut size = good.to_vec();
    size[resources + 20 + 4 + 3] ^= 0x01;
    let e = refused(
        t,
        dst,
        Immutable,
        &reseal(size),
        TRIAGE_RESOURCES,
        "reserve size",
    );
    assert_eq!(e.Expected, RESERVE);
    let mut count = good.to_vec();
    count[resources + 4] = 4;
    refused(
        t,
        dst,
        Immutable,
        &reseal(count),
        TRIAGE_RESOURCES,
        "partition count",
    );
    // A VF created differently on the target (half the reserve).
    let small = t
        .create_vgpu(&VgpuRequest {
            partition: Some(1),
            ..VgpuRequest::vram(RESERVE / 2)
        })
        .unwrap();
    target_ready(t, &small);
    refused(
        t,
        &small,
        Immutable,
        good,
        TRIAGE_RESOURCES,
        "smaller target VF",
    );
}

/// Truncated, trailing, bit-flipped, other-version and immutable data
/// where mutable data belongs.
pub(crate) fn mutable_framing_is_checked(
    t: &Adapter,
    dst: &VgpuInfo,
    good: &[u8],
    immutable: &[u8],
) {
    let n = good.len();
    for len in [0, 31, n / 2, n - 1] {
        refused(t, dst, Mutable, &good[..len], TRIAGE_MALFORMED, "truncated");
    }
    let mut longer = good.to_vec();
    longer.extend_from_slice(&[0; 3]);
    refused(t, dst, Mutable, &longer, TRIAGE_MALFORMED, "trailing");
    let mut flipped = good.to_vec();
    flipped[n / 2] ^= 0x10;
    refused(t, dst, Mutable, &flipped, TRIAGE_MALFORMED, "bit flip");
    let mut v9 = good.to_vec();
    v9[8] = 9;
    refused(t, dst, Mutable, &reseal(v9), TRIAGE_MALFORMED, "major 9");
    refused(
        t,
        dst,
        Mutable,
        immutable,
        TRIAGE_MALFORMED,
        "immutable data",
    );
}

/// Another source VF's data, and a source that was not paused.
pub(crate) fn mutable_from_another_source(s: &Adapter, t: &Adapter, dst: &VgpuInfo, good: &[u8]) {
    // Another source VF's mutable data.
    let other = vf(s, 1);
    let (_, foreign) = source_saved(s, &other);
    let e = refused(t, dst, Mutable, &foreign, TRIAGE_OTHER_VF, "other VF");
    assert_eq!(e.Detail, 1);
    // A source that says it was not paused.
    let state = payload(good, 16);
    let mut running = good.to_vec();
    running[state + 12] = 0;
    refused(
        t,
        dst,
        Mutable,
        &reseal(running),
        TRIAGE_NOT_PAUSED,
        "not paused",
    );
}

/// Bad MSI-X entries and a configuration space of another device.
pub(crate) fn mutable_msix_and_config_are_checked(t: &Adapter, dst: &VgpuInfo, good: &[u8]) {
    // An MSI-X entry past the table, and one given twice.
    let msix = payload(good, 17);
    let mut past = good.to_vec();
    past[msix + 4] = 4; // the first entry's index
    let e = refused(t, dst, Mutable, &reseal(past), TRIAGE_MSIX, "index 4");
    assert_eq!((e.Detail, e.Expected), (4, 4));
    let mut twice = good.to_vec();
    twice[msix + 4 + 2] = 0; // the second entry's index: 1 -> 0 (format 2: u16 each)
    refused(t, dst, Mutable, &reseal(twice), TRIAGE_MSIX, "index twice");
    // A configuration space whose read-only bits are another device's.
    let config = payload(good, 19);
    let mut device = good.to_vec();
    device[config + 4 + 2] ^= 0xFF; // device id, low byte
    let e = refused(t, dst, Mutable, &reseal(device), TRIAGE_CONFIG, "device id");
    assert_eq!(e.Detail, 2);
    let mut short = good.to_vec();
    short[config..config + 4].copy_from_slice(&4095u32.to_le_bytes());
    short.remove(config + 4);
    let len_at = records(good).iter().find(|r| r.0 == 19).unwrap().1 - 4;
    short[len_at..len_at + 4].copy_from_slice(&(4 + 4095u32).to_le_bytes());
    let e = refused(
        t,
        dst,
        Mutable,
        &reseal(short),
        TRIAGE_CONFIG,
        "3 KiB space",
    );
    assert_eq!(e.Detail, 4095);
}

/// The target's bases must cover its VRAM as the source's did, in any shape.
pub(crate) fn mutable_needs_bases_over_the_vram(t: &Adapter, dst: &VgpuInfo, good: &[u8]) {
    // No basis of the target VF covers its VRAM as the source's did.
    let basis = dst.reserves[0].basis.unwrap();
    ok(t.stop_dirty_tracking(basis));
    ok(t.destroy_memory_basis(basis));
    let e = refused(t, dst, Mutable, good, TRIAGE_BASES, "no basis");
    assert_eq!((e.Detail, e.Found), (0, 1));
    // A basis over the same VF pages, in another shape, does cover them.
    let halves = [
        (dst.reserves[0].offset, RESERVE / 2),
        (dst.reserves[0].offset + RESERVE / 2, RESERVE / 2),
    ];
    let again = t.create_memory_basis(SEG_4K, &halves).unwrap();
    ok(t.restore_migration_data(Mutable, dst.partition, good));
    // Changed by issue 15: the Restore applies no MSI-X entry (the source
    // wrote all four); the table stays what the target's OS wrote: nothing.
    assert_eq!(t.vgpu_msix(dst).unwrap().WrittenMask, 0);
    ok(t.destroy_memory_basis(again));
}
