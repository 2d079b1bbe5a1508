//! Unit tests of the grace period (`super`) on the host.

use super::*;

#[test]
fn stripes_sit_on_their_own_lines() {
    assert_eq!(core::mem::align_of::<Stripe>(), 128);
    assert_eq!(core::mem::size_of::<Stripe>(), 128);
}

/// Starts a synchronize of `domain` on another thread, checks that it has
/// not returned 50 ms later (a reader is inside), calls `leave` (which ends
/// that reader's section) and checks that the synchronize then returns.
fn synchronize_waits_for<const N: usize, R>(
    domain: &'static Domain<N>,
    leave: impl FnOnce() -> R,
) -> R {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering as O};
    let done = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&done);
    let waiter = std::thread::spawn(move || {
        domain.synchronize();
        seen.store(true, O::SeqCst);
    });
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(
        !done.load(O::SeqCst),
        "synchronize returned with a reader inside"
    );
    let left = leave();
    waiter.join().unwrap();
    assert!(done.load(O::SeqCst));
    left
}

#[test]
fn a_reader_inside_holds_synchronize_until_it_leaves() {
    static D: Domain<4> = Domain::new();
    let guard = D.read_on(1);
    synchronize_waits_for(&D, || drop(guard));
    // A reader entering after a synchronize does not hold the next one
    // once it left, on any stripe, in either phase.
    for hint in 0..8 {
        drop(D.read_on(hint));
        D.synchronize();
    }
    assert_eq!(D.in_flight(0) + D.in_flight(1), 0);
}

/// A stripe's owner enters with stores only (no counter moves), holds a
/// synchronize while inside, counts when nested, and gives the stripe
/// back at its thread's exit; threads beyond the stripes count.
#[test]
fn an_owner_inside_holds_synchronize_until_it_leaves() {
    use std::sync::atomic::Ordering as O;
    use std::sync::{Arc, Barrier};
    static D: Domain<2> = Domain::new();
    if cfg!(miri) {
        // No process-wide barrier under Miri: nobody owns a stripe.
        assert!(D.claim_owner().is_none());
        return;
    }
    let inside = Arc::new(Barrier::new(2));
    let leave = Arc::new(Barrier::new(2));
    let owner_thread = {
        let (inside, leave) = (Arc::clone(&inside), Arc::clone(&leave));
        std::thread::spawn(move || {
            let owner = D.claim_owner().expect("a free stripe");
            let index = owner.index;
            let outer = D.read_owned(&owner);
            assert!(outer.held, "an owner's section holds its stripe");
            assert_eq!(D.in_flight(0) + D.in_flight(1), 1);
            let nested = D.read_owned(&owner);
            assert!(!nested.held, "a nested section counts");
            drop(nested);
            inside.wait();
            leave.wait();
            drop(outer);
            index
        })
    };
    inside.wait();
    // The second stripe is free; a third claim finds none.
    let second = D.claim_owner().expect("the other stripe");
    assert!(D.claim_owner().is_none(), "both stripes are owned");
    drop(second);
    let index = synchronize_waits_for(&D, || {
        leave.wait();
        owner_thread.join().unwrap()
    });
    // The thread's exit gave its stripe back.
    assert!(D.stripes.iter().all(|s| s.owner.load(O::SeqCst) == 0));
    assert_eq!(D.stripes[index].held.load(O::SeqCst), 0);
}

/// Many threads on the driver's domain, more than its stripes: owners
/// and counters together; every synchronize returns once they left.
#[test]
fn the_global_domain_reads_and_synchronizes() {
    let g = read();
    drop(g);
    synchronize();
    let threads: Vec<_> = (0..STRIPES + 4)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..if cfg!(miri) { 20 } else { 1000 } {
                    let _g = read();
                }
            })
        })
        .collect();
    synchronize();
    threads.into_iter().for_each(|t| t.join().unwrap());
    synchronize();
}
