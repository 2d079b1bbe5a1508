//! Helpers of the live-migration tests: two started adapters, running VFs,
//! the source and target sides of a migration, and blob surgery.

use crate::common::*;
use dxgk_sys::*;
use dxgkrnl_model::live::{MigrationData, MigrationType};
use dxgkrnl_model::{Adapter, Driver, VgpuInfo, VgpuRequest, take_etw_events};
use gpup_miniport::migration::triage::*;
use gpup_miniport::vgpu::escape::*;

use MigrationData::{Immutable, Mutable};

pub(crate) const RESERVE: u64 = 16 * MIB;

/// A loaded driver and two started GPU-P adapters with partition count 2.
pub(crate) fn pair() -> (Driver, Adapter, Adapter) {
    let driver = Driver::load().unwrap();
    let start = || {
        let a = driver.start_adapter(&gpup_layout()).unwrap();
        a.set_partition_count(2).unwrap();
        a
    };
    let (s, t) = (start(), start());
    (driver, s, t)
}

/// A running VF of `RESERVE` bytes in `slot` (the model's basis over it, tracked).
pub(crate) fn vf(a: &Adapter, slot: u32) -> VgpuInfo {
    a.create_vgpu(&VgpuRequest {
        partition: Some(slot),
        ..VgpuRequest::vram(RESERVE)
    })
    .unwrap()
}

/// A running VF of `RESERVE` bytes scattered over `pieces`, bound with
/// SetVirtualGpuResources2.
pub(crate) fn scattered_vf(a: &Adapter, slot: u32, pieces: &[(u64, u64)]) -> VgpuInfo {
    a.create_vgpu(&VgpuRequest {
        partition: Some(slot),
        placement: Some(pieces.to_vec()),
        ..VgpuRequest::vram(RESERVE)
    })
    .unwrap()
}

pub(crate) fn info(a: &Adapter, v: &VgpuInfo) -> GPUP_VGPU_ESCAPE_INFO {
    a.vgpu_query(v).unwrap()
}

/// The VF's migration phase (`GPUP_VGPU_MIGRATION_*`).
pub(crate) fn phase(a: &Adapter, v: &VgpuInfo) -> u32 {
    (info(a, v).Flags & GPUP_VGPU_MIGRATION_MASK) >> GPUP_VGPU_MIGRATION_SHIFT
}

pub(crate) fn paused(a: &Adapter, v: &VgpuInfo) -> bool {
    info(a, v).Flags & GPUP_VGPU_FLAG_PAUSED != 0
}

pub(crate) fn ok(status: NTSTATUS) {
    assert_eq!(status, STATUS_SUCCESS);
}

/// The source side up to the pause: prepared, immutable data saved.
pub(crate) fn source_saving(s: &Adapter, v: &VgpuInfo) -> Vec<u8> {
    ok(s.prepare_live_migration(v.partition, MigrationType::Source));
    s.save_migration_data(Immutable, v.partition).unwrap()
}

/// The whole source side: both blobs, the VF paused.
pub(crate) fn source_saved(s: &Adapter, v: &VgpuInfo) -> (Vec<u8>, Vec<u8>) {
    let immutable = source_saving(s, v);
    ok(s.set_vf_pause(v.partition, true));
    let mutable = s.save_migration_data(Mutable, v.partition).unwrap();
    (immutable, mutable)
}

/// The target prepared and paused, ready for RestoreImmutable.
pub(crate) fn target_ready(t: &Adapter, v: &VgpuInfo) {
    ok(t.prepare_live_migration(v.partition, MigrationType::Target));
    ok(t.set_vf_pause(v.partition, true));
}

/// The records of a blob: (type, payload offset, payload length).
pub(crate) fn records(blob: &[u8]) -> Vec<(u16, usize, usize)> {
    let mut out = Vec::new();
    let mut at = 32;
    while at + 8 <= blob.len() {
        let ty = u16::from_le_bytes([blob[at], blob[at + 1]]);
        let len = u32::from_le_bytes(blob[at + 4..at + 8].try_into().unwrap()) as usize;
        out.push((ty, at + 8, len));
        at += 8 + len;
    }
    out
}

/// The payload offset of record `ty`.
pub(crate) fn payload(blob: &[u8], ty: u16) -> usize {
    records(blob).iter().find(|r| r.0 == ty).unwrap().1
}

/// Fixes a modified blob's total length and CRC32C, so that the checks
/// behind the checksum are what rejects it.
pub(crate) fn reseal(mut blob: Vec<u8>) -> Vec<u8> {
    let total = u32::try_from(blob.len()).unwrap();
    blob[16..20].copy_from_slice(&total.to_le_bytes());
    blob[24..28].fill(0);
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&blob);
    blob[24..28].copy_from_slice(&crc.to_le_bytes());
    blob
}

/// Restores `blob` into the paused, prepared target and expects it refused
/// with `STATUS_OBJECT_TYPE_MISMATCH`, one triage event of `reason`, and the
/// VF's phase unchanged. Returns the event.
pub(crate) fn refused(
    t: &Adapter,
    v: &VgpuInfo,
    kind: MigrationData,
    blob: &[u8],
    reason: u32,
    what: &str,
) -> GPUP_MIGRATION_TRIAGE {
    let before = phase(t, v);
    let _ = take_etw_events();
    assert_eq!(
        t.restore_migration_data(kind, v.partition, blob),
        STATUS_OBJECT_TYPE_MISMATCH,
        "{what}"
    );
    let events = take_etw_events();
    assert_eq!(events.len(), 1, "{what}: one event");
    let e = &events[0];
    assert_eq!(
        e.guid,
        gpup_miniport::interfaces::MIGRATION_TRIAGE_EVENT.guid,
        "{what}"
    );
    assert_eq!(e.event_type, TRIAGE_EVENT_TYPE);
    let triage = GPUP_MIGRATION_TRIAGE::decode(&e.payload).expect("a triage payload");
    assert_eq!(triage.Version, TRIAGE_VERSION);
    assert_eq!(triage.VfIndex, v.partition);
    assert_eq!(
        triage.Ddi,
        match kind {
            Immutable => 181,
            Mutable => 182,
        }
    );
    assert_eq!(triage.Reason, reason, "{what}: {triage:?}");
    assert_eq!(phase(t, v), before, "{what}: nothing changed");
    triage
}
