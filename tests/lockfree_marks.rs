//! The mark path takes no lock (issue 20 item 3): `gpup_sw_mark_dirty` reaches
//! the adapter's tracked bases through the adapter table's published mark
//! state, inside a grace-period read section (`kernel::grace`), never
//! through the adapter lock. Shown by marks that complete while another
//! thread holds the adapter lock for writing, and by marks racing the basis
//! control DDIs and a stop/start (which unpublish, wait for the marks in
//! flight, then free) with every status as before.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use common::*;
use dxgk_sys::*;

const PAGE: u64 = 4096;

#[test]
fn marks_complete_while_the_adapter_lock_is_held_for_writing() {
    let (_d, adapter) = started();
    let basis = tracked(&adapter, SEG_4K, &[(0, 64 * PAGE)]);
    // The adapter lock is held for writing meanwhile: marks that took it
    // (even shared) would wait.
    let a = &adapter;
    let statuses = sent_while_the_adapter_lock_is_held(a, |tx| {
        let _ = tx.send([
            a.mark_dirty(SEG_4K, 3 * PAGE, PAGE),
            a.mark_dirty(SEG_4K, 10 * PAGE, 2 * PAGE),
            a.mark_dirty(SEG_4K, 64 * MIB, 1),
            a.mark_dirty(42, 0, 1),
        ]);
    });
    assert_eq!(
        statuses
            .first()
            .copied()
            .expect("the marks waited for the adapter lock"),
        [
            STATUS_SUCCESS,
            STATUS_SUCCESS,
            STATUS_INVALID_PARAMETER,
            STATUS_INVALID_PARAMETER
        ]
    );
    let bits = set_bits(&query_all(&adapter, basis, 64, true), 64);
    assert_eq!(bits, vec![3, 10, 11]);
}

#[test]
fn a_stopped_or_removed_adapter_refuses_marks_and_a_restart_takes_them_again() {
    let (d, mut adapter) = started();
    let basis = tracked(&adapter, SEG_4K, &[(0, 8 * PAGE)]);
    assert_eq!(adapter.mark_dirty(SEG_4K, 0, PAGE), STATUS_SUCCESS);
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
    adapter.stop().expect("stop");
    assert_eq!(
        adapter.mark_dirty(SEG_4K, 0, PAGE),
        STATUS_INVALID_PARAMETER,
        "stopped"
    );
    adapter.start().expect("restart");
    let basis = tracked(&adapter, SEG_4K, &[(0, 8 * PAGE)]);
    assert_eq!(adapter.mark_dirty(SEG_4K, PAGE, PAGE), STATUS_SUCCESS);
    assert_eq!(set_bits(&query_all(&adapter, basis, 8, true), 8), vec![1]);
    let stale = adapter.context();
    adapter.remove().expect("remove");
    // The slot is reused by the next adapter: the old handle stays stale.
    let next = d.start_adapter(&layout()).expect("a second adapter");
    // SAFETY: the host export; the handle is only looked up.
    let status = unsafe { gpup_miniport::host::gpup_sw_mark_dirty(stale, SEG_4K, 0, PAGE) };
    assert_eq!(
        status, STATUS_INVALID_PARAMETER,
        "a removed adapter's handle"
    );
    assert_eq!(next.mark_dirty(SEG_4K, 0, PAGE), STATUS_SUCCESS);
}

/// Marks from two threads race Create/Start/Stop/Destroy of another basis:
/// the marks of the basis tracked throughout are never lost, and every
/// status is the one a quiet adapter gives.
#[test]
fn marks_racing_the_control_ddis_lose_nothing() {
    let (_d, adapter) = started();
    let steady = tracked(&adapter, SEG_4K, &[(0, 64 * PAGE)]);
    let stop = AtomicBool::new(false);
    thread::scope(|scope| {
        let a = &adapter;
        let stop = &stop;
        let churn = scope.spawn(move || {
            let mut rounds = 0u32;
            while !stop.load(Ordering::Relaxed) || rounds < 50 {
                let b = tracked(a, SEG_4K, &[(32 * PAGE, 64 * PAGE)]);
                assert_eq!(a.stop_dirty_tracking(b), STATUS_SUCCESS);
                assert_eq!(a.start_dirty_tracking(b), STATUS_SUCCESS);
                assert_eq!(a.destroy_memory_basis(b), STATUS_SUCCESS);
                rounds += 1;
            }
            rounds
        });
        let markers: Vec<_> = (0..2u64)
            .map(|t| {
                scope.spawn(move || {
                    for i in 0..2000u64 {
                        let page = (i * 2 + t) % 64;
                        assert_eq!(a.mark_dirty(SEG_4K, page * PAGE, PAGE), STATUS_SUCCESS);
                    }
                })
            })
            .collect();
        markers.into_iter().for_each(|m| m.join().unwrap());
        stop.store(true, Ordering::Relaxed);
        assert!(churn.join().unwrap() >= 50);
    });
    let bits = set_bits(&query_all(&adapter, steady, 64, true), 64);
    assert_eq!(bits, (0..64).collect::<Vec<_>>(), "a mark was lost");
}
