//! Model checking of the grace period (`super`) with loom.
//!
//! The model: a published slot names one of three objects (loom
//! `UnsafeCell`s, so loom reports any access to one that is not ordered
//! with its "free"). A reader enters a read section, loads the slot with
//! `SeqCst`, reads the object it names, and leaves; it does this twice
//! (so one of its sections can straddle a writer's synchronize). The writer
//! runs `synchronize` once with nothing to retire (the flip a later stale
//! reader lands behind), then unpublishes object 0 (slot to 1), synchronizes
//! and "frees" object 0 (writes it), then unpublishes 1 (slot to 2),
//! synchronizes and frees 1. A reader still inside with a freed object is a
//! data race loom reports: [`no_reader_inside_survives_synchronize`] passes
//! in every interleaving (to [`PREEMPTIONS`] preemptions, or
//! `LOOM_MAX_PREEMPTIONS`).
//!
//! The reader enters its sections one of three ways ([`Kind`]): counting
//! (`read_on`), claiming its stripe (`read_claim`, Windows) or as its
//! stripe's owner (`read_owned`, the host, claimed at the thread's start, so
//! racing the writer's first scan of owners). A fourth model,
//! [`a_contended_claim_counts`], has two readers claim the same stripe: one
//! holds it, the other counts.
//!
//! And that the model can fail, with deliberately broken variants:
//! - [`Broken::OneWait`]: synchronize waits for the old phase only. A reader
//!   that read the phase before the first synchronize's flip and incremented
//!   after its wait sits under the "old" counter the next synchronize does not
//!   wait for, holding object 0 or 1 when it is freed.
//! - [`Broken::WeakEnter`]: the reader's increment is `Release` (no `SeqCst`
//!   order with its slot load): the store-buffering outcome, the reader loads
//!   the unpublished object while the writer's sum misses its increment.
//! - [`Broken::WeakClaim`]: the same for a claim (an `AcqRel`
//!   compare-exchange, no `SeqCst` order with the slot load).
//! - [`Broken::NoBarrier`]: an owner enters without the fence the writer's
//!   process-wide barrier gives it (as if the writer skipped `membarrier`):
//!   its `held` store and slot load are store-buffered against the writer's.

use loom::cell::UnsafeCell;
use loom::sync::Arc;

use super::Domain;
use crate::kernel::sync::{AtomicU64, Ordering};

/// The default preemption bound.
const PREEMPTIONS: usize = 3;

/// A deliberately broken variant of the grace period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Broken {
    /// The real code.
    None,
    /// One wait: the old phase only.
    OneWait,
    /// The reader's increment `Release`, no `SeqCst` order with its loads.
    WeakEnter,
    /// The claim's compare-exchange `AcqRel`, no `SeqCst` order with its
    /// loads.
    WeakClaim,
    /// An owner's section without the barrier's fence.
    NoBarrier,
}

/// How the model's reader enters its sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counted,
    Claimed,
    Owned,
}

struct World {
    domain: Domain<2>,
    slot: AtomicU64,
    objects: [UnsafeCell<u64>; 3],
}

/// The model of the module docs, on `broken`, the reader entering as `kind`.
fn model(broken: Broken, kind: Kind) {
    let mut domain = Domain::<2>::new();
    domain.broken = broken;
    let world = Arc::new(World {
        domain,
        slot: AtomicU64::new(0),
        objects: core::array::from_fn(|i| UnsafeCell::new(i as u64)),
    });
    let reader = {
        let world = Arc::clone(&world);
        loom::thread::spawn(move || {
            let owner = match kind {
                Kind::Owned => Some(world.domain.claim_owner().expect("a free stripe")),
                Kind::Counted | Kind::Claimed => None,
            };
            for _ in 0..2 {
                let guard = match (&owner, kind) {
                    (Some(owner), _) => world.domain.read_owned(owner),
                    (None, Kind::Claimed) => world.domain.read_claim(1),
                    (None, _) => world.domain.read_on(1),
                };
                let index = world.slot.load(Ordering::SeqCst);
                let object = world.objects.get(index as usize).expect("a slot in range");
                // SAFETY (model): a read the grace period must order before
                // the object's free; loom reports it if it does not.
                let value = object.with(|p| unsafe { *p });
                assert_eq!(value, index, "a freed object was read");
                drop(guard);
            }
            drop(owner);
        })
    };
    world.domain.synchronize();
    for retired in 0..2u64 {
        world.slot.store(retired + 1, Ordering::SeqCst);
        world.domain.synchronize();
        // The free: a write that races any read not ordered before it.
        world.objects[retired as usize].with_mut(|p| unsafe { *p = u64::MAX });
    }
    reader.join().expect("the reader");
}

/// Runs `f` under loom to the bound; returns how many executions.
fn explore(f: impl Fn() + Sync + Send + 'static) -> usize {
    let executions = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&executions);
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(PREEMPTIONS);
    }
    builder.check(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f();
    });
    executions.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether `broken`'s model fails for `kind` (loom panics on the first
/// failing execution).
fn caught(broken: Broken, kind: Kind) -> bool {
    std::panic::catch_unwind(|| explore(move || model(broken, kind))).is_err()
}

/// The real code's model for `kind` passes, exploring the races.
fn passes(kind: Kind) {
    let n = explore(move || model(Broken::None, kind));
    println!("grace ({kind:?}): {n} executions");
    assert!(
        n > 100,
        "the model explores the races (only {n} executions)"
    );
}

#[test]
fn no_reader_inside_survives_synchronize() {
    passes(Kind::Counted);
}

#[test]
fn no_claimed_reader_survives_synchronize() {
    passes(Kind::Claimed);
}

#[test]
fn no_owner_inside_survives_synchronize() {
    passes(Kind::Owned);
}

/// Every broken variant is caught, with the reader kinds it concerns: one
/// wait (counting and owning), a weak increment, a weak claim, an owner
/// without the barrier.
#[test]
fn each_broken_variant_is_caught() {
    for (broken, kind) in [
        (Broken::OneWait, Kind::Counted),
        (Broken::OneWait, Kind::Owned),
        (Broken::WeakEnter, Kind::Counted),
        (Broken::WeakClaim, Kind::Claimed),
        (Broken::NoBarrier, Kind::Owned),
    ] {
        assert!(caught(broken, kind), "{broken:?} passed for {kind:?}");
    }
}

/// Two readers claim stripe 1 while the writer retires object 0: whichever
/// loses the claim counts, and neither holds object 0 past its free.
#[test]
fn a_contended_claim_counts() {
    let n = explore(|| {
        let world = Arc::new(World {
            domain: Domain::<2>::new(),
            slot: AtomicU64::new(0),
            objects: core::array::from_fn(|i| UnsafeCell::new(i as u64)),
        });
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let world = Arc::clone(&world);
                loom::thread::spawn(move || {
                    let guard = world.domain.read_claim(1);
                    let index = world.slot.load(Ordering::SeqCst);
                    let object = world.objects.get(index as usize).expect("in range");
                    // SAFETY (model): as in `model`.
                    let value = object.with(|p| unsafe { *p });
                    assert_eq!(value, index, "a freed object was read");
                    drop(guard);
                })
            })
            .collect();
        world.slot.store(1, Ordering::SeqCst);
        world.domain.synchronize();
        world.objects[0].with_mut(|p| unsafe { *p = u64::MAX });
        readers
            .into_iter()
            .for_each(|r| r.join().expect("a reader"));
    });
    println!("grace (contended claim): {n} executions");
}
