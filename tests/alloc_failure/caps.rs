//! A Restore checks its phase and its blob's size before it copies or
//! allocates anything (issue 15, section 2): a blob of the format's old
//! largest size (16 MiB, as an optional unknown record can pad one) in the
//! wrong phase allocates nothing at all, and above the VF's cap it is
//! refused (`STATUS_OBJECT_TYPE_MISMATCH`, a malformed-data triage event
//! naming the cap) without any blob-sized allocation. The old code copied
//! the 16 MiB into a fresh buffer first in both cases.

use dxgk_sys::*;
use dxgkrnl_model::live::MigrationData::{Immutable, Mutable};
use dxgkrnl_model::take_etw_events;
use gpup_miniport::migration::triage::*;

use crate::harness::*;
use crate::migrate::{Shape, migrating};

/// The format's largest blob before the caps: what the old code accepted.
const OLD_MAX: usize = 16 << 20;

#[test]
fn a_restore_in_the_wrong_phase_allocates_nothing_whatever_its_size() {
    // Stage 1: the target VF is prepared and paused, nothing restored: the
    // mutable data comes too early.
    let walked = allocates_nothing(
        "RestoreMutableMigrationData before RestoreImmutable, 16 MiB",
        || (migrating(1, Shape::Contiguous), vec![0u8; OLD_MAX]),
        |(m, blob)| {
            let status = m.t.restore_migration_data(Mutable, m.dst.partition, blob);
            assert_eq!(status, STATUS_INVALID_DEVICE_STATE);
        },
    )
    .unwrap();
    report("caps", &[walked]);
}

#[test]
fn an_over_cap_blob_is_refused_before_any_blob_sized_allocation() {
    for (kind, stage, what) in [
        (Immutable, 1, "RestoreImmutableMigrationData"),
        (Mutable, 3, "RestoreMutableMigrationData"),
    ] {
        let m = migrating(stage, Shape::Contiguous);
        // A well-formed blob padded to 16 MiB: the cap refuses it unread.
        let mut blob = match kind {
            Immutable => m.immutable.clone(),
            Mutable => m.mutable.clone(),
        };
        blob.resize(OLD_MAX, 0);
        let _ = take_etw_events();
        let (status, largest) =
            largest_allocation(|| m.t.restore_migration_data(kind, m.dst.partition, &blob));
        assert_eq!(status, STATUS_OBJECT_TYPE_MISMATCH, "{what}");
        assert!(
            largest < 1 << 20,
            "{what}: a {largest}-byte allocation for a refused 16 MiB blob"
        );
        let events = take_etw_events();
        assert_eq!(events.len(), 1, "{what}: one triage event");
        let e = GPUP_MIGRATION_TRIAGE::decode(&events[0].payload).unwrap();
        assert_eq!(e.Reason, TRIAGE_MALFORMED, "{what}");
        assert_eq!(e.Found, OLD_MAX as u64, "{what}: Found is the DataSize");
        assert!(e.Expected < OLD_MAX as u64, "{what}: Expected is the cap");
        println!("caps: {what} refused 16 MiB (cap {} bytes)", e.Expected);
    }
}
