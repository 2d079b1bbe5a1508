//! One VF's migration work does not block another VF (issue 15, section 2):
//! a RestoreMutableMigrationData of VF 0 is parked, by the driver's host
//! test hook, inside its critical section (VF 0's lock held, with the
//! adapter and partitioning locks shared), and meanwhile VF 1's whole-basis
//! query, a software-backend mark and a WRITE_NOTIFY escape of VF 1 all
//! complete and see each other, and so does the whole life of another basis
//! over VF 1's reserve (Create, Start, a mark, a query, Stop, Destroy: the
//! basis control DDIs take the basis lock exclusively under the adapter lock
//! held shared, issue 20 item 3, so VF 0's migration work does not hold them
//! up, and they do not stall every other VF's DDIs behind a waiting writer). Deterministic: the Restore is parked on a
//! barrier, and released only after the other VF's calls returned (or, on a
//! driver that makes them wait, after the watchdog gave up, so that the test
//! fails instead of hanging).

use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use gpup_miniport::host::{HookPoint, set_test_hook};

use super::*;

#[test]
fn a_restore_held_in_its_critical_section_blocks_no_other_vf() {
    let (_d, s, t) = pair();
    let src = vf(&s, 0);
    let (immutable, mutable) = source_saved(&s, &src);
    let v0 = vf(&t, 0);
    let v1 = vf(&t, 1);
    target_ready(&t, &v0);
    ok(t.restore_migration_data(Immutable, v0.partition, &immutable));
    let (seg, at) = (v1.reserves[0].segment, v1.reserves[0].offset);
    let pages = RESERVE / 4096;
    let basis = tracked(&t, seg, &[(at, RESERVE)]);

    let parked = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    let adapter = t.context().addr();
    {
        let (parked, release) = (Arc::clone(&parked), Arc::clone(&release));
        set_test_hook(Some(Box::new(move |point| {
            if point == (HookPoint::RestoreLocked { adapter, vf: 0 }) {
                parked.wait();
                release.wait();
            }
        })));
    }
    thread::scope(|scope| {
        let t = &t;
        let restorer = scope.spawn(|| t.restore_migration_data(Mutable, 0, &mutable));
        parked.wait();
        // VF 0's Restore is inside its critical section now, until `release`.
        let (tx, rx) = mpsc::channel();
        let v1 = &v1;
        scope.spawn(move || {
            let marked = t.mark_dirty(seg, at, 4096);
            let notified = t.vf_write_notify(v1, 4096, 4096);
            let mut bits = vec![0u8; bytes_for(pages)];
            let queried = t.query_dirty_bits(basis, None, true, &mut bits);
            // Another basis, over pages 8..16 of VF 1's reserve, from
            // creation to destruction.
            let other = t.create_memory_basis(seg, &[(at + 8 * 4096, 8 * 4096)]);
            let lifecycle = other.map(|b| {
                let started = t.start_dirty_tracking(b);
                let marked = t.mark_dirty(seg, at + 9 * 4096, 4096);
                let mut bits = [0u8; 1];
                let queried = t.query_dirty_bits(b, None, true, &mut bits);
                let stopped = t.stop_dirty_tracking(b);
                let destroyed = t.destroy_memory_basis(b);
                ([started, marked, queried, stopped, destroyed], bits[0])
            });
            let _ = tx.send((marked, notified, queried, bits, lifecycle));
        });
        // Only a failure waits here: the calls above return at once.
        let other_vf = rx.recv_timeout(Duration::from_secs(60));
        release.wait();
        let restored = restorer.join().unwrap();
        set_test_hook(None);
        let (marked, notified, queried, bits, lifecycle) = other_vf.expect(
            "VF 1's mark, WRITE_NOTIFY, query or basis control DDIs waited for VF 0's Restore",
        );
        assert_eq!(marked, STATUS_SUCCESS, "mark");
        assert!(notified.is_ok(), "WRITE_NOTIFY: {notified:?}");
        assert_eq!(queried, STATUS_SUCCESS, "query");
        assert_eq!(set_bits(&bits, pages), vec![0, 1], "both writes reported");
        let (statuses, other_bits) = lifecycle.expect("CreateMemoryBasis returned NULL");
        assert_eq!(
            statuses, [STATUS_SUCCESS; 5],
            "Start, mark, query, Stop, Destroy"
        );
        assert_eq!(other_bits, 0b10, "the other basis reported its mark");
        assert_eq!(
            restored, STATUS_SUCCESS,
            "the parked Restore then completed"
        );
    });
}
