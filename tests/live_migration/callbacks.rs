//! Callbacks into Dxgkrnl are made with no driver lock held (issue 15,
//! section 2): `DxgkCbGetDeviceInformation` from StartDevice and
//! `DxgkCbLogEtwEvent` from a rejected Restore. The model's callback probe
//! asks, from another thread, for the adapter lock for writing (the
//! outermost lock: every other driver lock is taken inside it) and must get
//! it while the callback runs. A lock held by the calling thread would make
//! that writer wait until the callback returned; the probe gives up after a
//! timeout instead, so the test fails rather than hangs (the second test
//! shows the probe catching exactly that).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use dxgkrnl_model::set_callback_probe;
use gpup_miniport::host::hold_adapter_lock_for_writing;

use super::*;

/// Whether another thread gets `adapter`'s lock for writing within `wait`.
fn lock_is_free(adapter: usize, wait: Duration) -> bool {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let status =
            hold_adapter_lock_for_writing(core::ptr::with_exposed_provenance_mut(adapter), || {});
        let _ = tx.send(status);
    });
    matches!(rx.recv_timeout(wait), Ok(STATUS_SUCCESS))
}

#[test]
fn callbacks_into_dxgkrnl_are_made_with_no_driver_lock_held() {
    let seen: Rc<RefCell<Vec<(&'static str, bool)>>> = Rc::default();
    // The adapter a DxgkCbLogEtwEvent belongs to (the callback names none).
    let current = Rc::new(Cell::new(0usize));
    {
        let (seen, current) = (Rc::clone(&seen), Rc::clone(&current));
        set_callback_probe(Some(Box::new(move |name, context| {
            let adapter = if context.is_null() {
                current.get()
            } else {
                context.expose_provenance()
            };
            let free = lock_is_free(adapter, Duration::from_secs(20));
            seen.borrow_mut().push((name, free));
        })));
    }
    let (_d, s, t) = pair();
    let src = vf(&s, 0);
    let (immutable, _) = source_saved(&s, &src);
    let v0 = vf(&t, 0);
    target_ready(&t, &v0);
    ok(t.restore_migration_data(Immutable, v0.partition, &immutable));
    current.set(t.context().expose_provenance());
    // Over the cap: refused unread, with the triage event.
    let status = t.restore_migration_data(Mutable, v0.partition, &vec![0u8; 16 << 20]);
    set_callback_probe(None);
    assert_eq!(status, STATUS_OBJECT_TYPE_MISMATCH);
    assert_eq!(take_etw_events().len(), 1, "the triage event");
    let seen = seen.borrow();
    for name in ["DxgkCbGetDeviceInformation", "DxgkCbLogEtwEvent"] {
        assert!(
            seen.iter().any(|(n, _)| *n == name),
            "{name} was not called"
        );
    }
    for (name, free) in seen.iter() {
        assert!(free, "{name} was called with a driver lock held");
    }
}

/// The probe can fail: a callback made while the calling thread holds the
/// adapter lock (here for writing, as a lifecycle DDI would) is caught.
#[test]
fn the_probe_catches_a_callback_made_under_the_adapter_lock() {
    let (_d, _s, t) = pair();
    let adapter = t.context().expose_provenance();
    let mut free = None;
    let status = hold_adapter_lock_for_writing(t.context(), || {
        free = Some(lock_is_free(adapter, Duration::from_secs(2)));
    });
    assert_eq!(status, STATUS_SUCCESS);
    assert_eq!(free, Some(false));
}
