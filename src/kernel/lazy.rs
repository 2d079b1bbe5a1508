//! Two owning pointers safe code cannot write itself, for the VRAM backing
//! (`crate::memory::backing`): raw allocation and a compare-and-swap of a
//! pointer need `unsafe`, which lives only in `kernel`, `ddi` and `host`.
//!
//! - [`OnceBlock`]: a slot for one block of `N` 64-bit words, allocated
//!   zeroed the first time something needs it and installed by a CAS, so
//!   racing committers agree on one block (the loser frees its copy). Freed
//!   with the slot.
//! - [`Shared`]: a reference-counted box whose creation reports failure
//!   instead of aborting (`alloc::sync::Arc::new` aborts when the
//!   allocation fails, and `Arc::try_new` is not stable), so that the host
//!   can hand out a backing that outlives the adapter that made it.
//!
//! - [`Published`]: a slot holding one reference of a [`Shared`], which
//!   readers reach lock-free inside a grace-period read section
//!   (`crate::kernel::grace`): replacing or clearing it waits for the read
//!   sections in flight (`grace::synchronize`) before it drops the reference
//!   it held. The dirty marks reach an adapter's tracked bases this way.
//!
//! Both allocate through the global allocator: on Windows that is non-paged
//! pool (the `wdk` backend's `WdkAllocator`, the `raw` backend's
//! `ExAllocatePool2(POOL_FLAG_NON_PAGED)`), so allocating is for
//! PASSIVE_LEVEL callers only, like every allocation of the driver.

use alloc::alloc::{Layout, alloc, alloc_zeroed, dealloc};
use core::ptr::{self, NonNull};

use crate::foundation::fallible::OutOfMemory;
use crate::kernel::sync::{AtomicPtr, Ordering};

/// The words of one block: plain atomics (not loom's, which a zeroed
/// allocation would not initialise), accessed by their owner's protocol.
pub(crate) type Words<const N: usize> = [core::sync::atomic::AtomicU64; N];

/// A block of `N` words committed on first use (module docs).
///
/// # Invariants
/// `slot` is null or points to a live, zero-initialised allocation of
/// `Layout::new::<Words<N>>()` made by [`Self::get_or_commit`]; once non-null
/// it never changes until the block is dropped.
pub(crate) struct OnceBlock<const N: usize> {
    slot: AtomicPtr<Words<N>>,
}

impl<const N: usize> OnceBlock<N> {
    /// An empty slot: nothing allocated.
    pub(crate) fn new() -> Self {
        Self {
            slot: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The block, if it was committed. `Acquire`: pairs with the commit's
    /// `Release`, so the zeroes (and anything its committer stored before
    /// publishing through another `Release`) are visible.
    pub(crate) fn get(&self) -> Option<&Words<N>> {
        let p = self.slot.load(Ordering::Acquire);
        // SAFETY:
        // - `p` is null (`as_ref` gives `None`) or a live allocation of
        //   `Words<N>` (the invariant), zero-initialised, and an all-zero
        //   `AtomicU64` is a valid one;
        // - it stays allocated until `self` is dropped, which cannot happen
        //   while the returned borrow of `self` lives;
        // - only shared references are ever made to it, and atomics may be
        //   shared across threads.
        unsafe { p.as_ref() }
    }

    /// Whether the block was committed.
    pub(crate) fn is_committed(&self) -> bool {
        !self.slot.load(Ordering::Relaxed).is_null()
    }

    /// The block, committing it (zeroed) if it was not. Racing callers get
    /// the same block: the first CAS installs its allocation, the others
    /// free theirs. Allocates at most once per call; PASSIVE_LEVEL only.
    ///
    /// # Errors
    /// [`OutOfMemory`] when the block is not committed and cannot be
    /// allocated (nothing changes), or for `N == 0`.
    pub(crate) fn get_or_commit(&self) -> Result<&Words<N>, OutOfMemory> {
        if let Some(words) = self.get() {
            return Ok(words);
        }
        let layout = Layout::new::<Words<N>>();
        if layout.size() == 0 {
            return Err(OutOfMemory);
        }
        // SAFETY: `layout` has a non-zero size (checked above).
        let fresh = unsafe { alloc_zeroed(layout) }.cast::<Words<N>>();
        if fresh.is_null() {
            return Err(OutOfMemory);
        }
        // `Release` on success publishes the zeroes with the pointer;
        // `Acquire` on failure makes the winner's zeroes visible to us.
        let installed = match self.slot.compare_exchange(
            ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => fresh,
            Err(winner) => {
                // SAFETY: `fresh` came from `alloc_zeroed(layout)` above and
                // was never published (the CAS failed), so nothing else
                // refers to it.
                unsafe { dealloc(fresh.cast(), layout) };
                winner
            }
        };
        // SAFETY: `installed` is the slot's non-null pointer (ours or the
        // winner's), which satisfies the invariant; as in `get`, it lives as
        // long as `self` and is only ever shared.
        unsafe { installed.as_ref() }.ok_or(OutOfMemory)
    }
}

impl<const N: usize> Drop for OnceBlock<N> {
    fn drop(&mut self) {
        let p = self.slot.swap(ptr::null_mut(), Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: `p` came from `alloc_zeroed(Layout::new::<Words<N>>())`
            // (the invariant) and is freed once: the slot is null now, and
            // `&mut self` proves no borrow of the block remains.
            unsafe { dealloc(p.cast(), Layout::new::<Words<N>>()) };
        }
    }
}

/// The allocation behind a [`Shared`].
struct SharedBox<T> {
    count: core::sync::atomic::AtomicUsize,
    value: T,
}

/// A reference-counted, immutable box whose creation and cloning report
/// failure instead of aborting (module docs). The value is dropped with its
/// last reference, on the thread that drops it.
///
/// # Invariants
/// `ptr` points to a live `SharedBox<T>` allocated with its `Layout` by
/// [`Self::try_new`], whose `count` equals the number of `Shared`s pointing
/// to it (at least 1).
pub(crate) struct Shared<T> {
    ptr: NonNull<SharedBox<T>>,
    _owns: core::marker::PhantomData<SharedBox<T>>,
}

// SAFETY: a `Shared<T>` gives `&T` to any thread holding one and drops the
// `T` on whichever thread drops the last reference: sound when `T` is both
// `Send` and `Sync`, as for `alloc::sync::Arc`.
unsafe impl<T: Send + Sync> Send for Shared<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send + Sync> Sync for Shared<T> {}

/// References beyond which [`Shared::try_clone`] refuses (as `Arc` does at
/// `isize::MAX`, without aborting).
#[cfg_attr(target_os = "windows", allow(dead_code))] // The host export clones.
const MAX_REFS: usize = isize::MAX.unsigned_abs();

impl<T> Shared<T> {
    /// `value` in a new box with one reference.
    ///
    /// # Errors
    /// [`OutOfMemory`] (and `value` is dropped) when the box cannot be
    /// allocated.
    pub(crate) fn try_new(value: T) -> Result<Self, OutOfMemory> {
        let layout = Layout::new::<SharedBox<T>>();
        // SAFETY: `layout` is never zero-sized: it holds the count.
        let raw = unsafe { alloc(layout) }.cast::<SharedBox<T>>();
        let ptr = NonNull::new(raw).ok_or(OutOfMemory)?;
        let boxed = SharedBox {
            count: core::sync::atomic::AtomicUsize::new(1),
            value,
        };
        // SAFETY: `ptr` is a fresh allocation of `SharedBox<T>`'s layout,
        // properly aligned and not yet initialised or shared.
        unsafe { ptr.as_ptr().write(boxed) };
        Ok(Self {
            ptr,
            _owns: core::marker::PhantomData,
        })
    }

    fn inner(&self) -> &SharedBox<T> {
        // SAFETY: live while `self` holds its reference (the invariant),
        // and only shared references are made to it.
        unsafe { self.ptr.as_ref() }
    }

    /// Another reference to the same value; `None` at `isize::MAX`
    /// references (never reached by any real caller).
    #[cfg_attr(target_os = "windows", allow(dead_code))] // The host export clones.
    pub(crate) fn try_clone(&self) -> Option<Self> {
        // `Relaxed` as in `Arc::clone`: a new reference is made from an
        // existing one, which keeps the box alive meanwhile.
        self.inner()
            .count
            .fetch_update(
                core::sync::atomic::Ordering::Relaxed,
                core::sync::atomic::Ordering::Relaxed,
                |n| n.checked_add(1).filter(|&n| n <= MAX_REFS),
            )
            .ok()?;
        Some(Self {
            ptr: self.ptr,
            _owns: core::marker::PhantomData,
        })
    }

    /// How many references exist now.
    #[cfg(test)]
    pub(crate) fn references(&self) -> usize {
        self.inner()
            .count
            .load(core::sync::atomic::Ordering::Relaxed)
    }
}

impl<T> core::ops::Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner().value
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // `Release`/`Acquire` as in `Arc::drop`: every use of the value
        // through another reference happens before it is dropped.
        if self
            .inner()
            .count
            .fetch_sub(1, core::sync::atomic::Ordering::Release)
            != 1
        {
            return;
        }
        core::sync::atomic::fence(core::sync::atomic::Ordering::Acquire);
        self.drop_last();
    }
}

impl<T> Shared<T> {
    /// Drops the value and frees the box: the last reference's part of
    /// `drop`, out of line (as `Arc`'s `drop_slow`), so that the drop glue
    /// inlined into every owner stays a decrement and a call. (Inlined, the
    /// VRAM backing's chunk loop made AddDevice's code hoist pool routines
    /// into registers the image's stack check cannot resolve.)
    #[inline(never)]
    fn drop_last(&mut self) {
        let raw = self.ptr.as_ptr();
        // SAFETY: called once, by `drop` of the last reference (the count
        // reached 0), so nothing else can reach the box; it was initialised
        // by `try_new`.
        unsafe { ptr::drop_in_place(raw) };
        // SAFETY: allocated by `try_new` with this layout, freed once (the
        // last reference is gone and its value was dropped just above).
        unsafe { dealloc(raw.cast(), Layout::new::<SharedBox<T>>()) };
    }
}

/// A slot readers reach lock-free, holding one reference of a [`Shared`]
/// (module docs).
///
/// # Invariants
/// `ptr` is null or the `SharedBox<T>` of a [`Shared`] whose reference this
/// slot owns (made by [`Self::replace`]); that reference is dropped only
/// after the pointer left the slot and a `grace::synchronize` returned.
pub(crate) struct Published<T> {
    ptr: core::sync::atomic::AtomicPtr<SharedBox<T>>,
    _owns: core::marker::PhantomData<Shared<T>>,
}

// SAFETY: the slot hands out `&T` to readers on any thread and drops its
// reference (maybe the last) on whichever thread replaces it: as `Shared`.
unsafe impl<T: Send + Sync> Send for Published<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send + Sync> Sync for Published<T> {}

impl<T> Published<T> {
    /// An empty slot.
    pub(crate) const fn empty() -> Self {
        Self {
            ptr: core::sync::atomic::AtomicPtr::new(ptr::null_mut()),
            _owns: core::marker::PhantomData,
        }
    }

    /// The value published, inside the read section `section`. `SeqCst`:
    /// the grace period's store-buffering argument (`crate::kernel::grace`).
    #[inline]
    pub(crate) fn get<'a, const N: usize>(
        &'a self,
        _section: &'a crate::kernel::grace::Guard<'static, N>,
    ) -> Option<&'a T> {
        let p = self.ptr.load(core::sync::atomic::Ordering::SeqCst);
        // SAFETY: `p` is null (`None`) or a live `SharedBox<T>` this slot
        // holds a reference of (the invariant). The reference is dropped only
        // after a synchronize that began after `p` left the slot, and this
        // read section began before this load saw `p` in it, so that
        // synchronize waits for the section, which outlives the borrow.
        // Only shared references are made to the box.
        unsafe { p.as_ref() }.map(|b| &b.value)
    }

    /// Whether the slot holds `value`'s box.
    pub(crate) fn holds(&self, value: &Shared<T>) -> bool {
        ptr::eq(
            self.ptr.load(core::sync::atomic::Ordering::SeqCst),
            value.ptr.as_ptr(),
        )
    }

    /// Whether the slot is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.ptr
            .load(core::sync::atomic::Ordering::SeqCst)
            .is_null()
    }

    /// Publishes `value` (or empties the slot with `None`). If the slot held
    /// a reference, waits for the read sections in flight
    /// (`grace::synchronize`: PASSIVE_LEVEL, never inside a read section)
    /// and then drops it; an empty slot is filled without waiting.
    pub(crate) fn replace(&self, value: Option<Shared<T>>) {
        let new = value.map_or(ptr::null_mut(), |v| {
            let p = v.ptr.as_ptr();
            core::mem::forget(v);
            p
        });
        let old = self.ptr.swap(new, core::sync::atomic::Ordering::SeqCst);
        if let Some(old) = NonNull::new(old) {
            crate::kernel::grace::synchronize();
            drop(Shared {
                ptr: old,
                _owns: core::marker::PhantomData,
            });
        }
    }
}

impl<T> Drop for Published<T> {
    fn drop(&mut self) {
        self.replace(None);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::sync::atomic::{AtomicUsize, Ordering as Std};

    #[test]
    fn a_block_is_committed_once_and_reads_as_zero() {
        let block = OnceBlock::<16>::new();
        assert!(block.get().is_none() && !block.is_committed());
        let words = block.get_or_commit().unwrap();
        assert!(words.iter().all(|w| w.load(Std::Relaxed) == 0));
        words[3].store(7, Std::Relaxed);
        let again = block.get_or_commit().unwrap();
        assert!(core::ptr::eq(words, again), "the same block, not a new one");
        assert_eq!(block.get().unwrap()[3].load(Std::Relaxed), 7);
        assert!(OnceBlock::<0>::new().get_or_commit().is_err());
    }

    #[test]
    fn racing_commits_agree_on_one_block() {
        // Miri checks the losers' frees and the winner's publication.
        let rounds = if cfg!(miri) { 3 } else { 200 };
        for _ in 0..rounds {
            let block = OnceBlock::<64>::new();
            let start = Barrier::new(4);
            let seen: Vec<usize> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..4u64)
                    .map(|i| {
                        let (block, start) = (&block, &start);
                        s.spawn(move || {
                            start.wait();
                            let words = block.get_or_commit().unwrap();
                            // Each thread's store lands in the shared block.
                            words[usize::try_from(i).unwrap()].store(i + 1, Std::Relaxed);
                            core::ptr::from_ref(words) as usize
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert!(seen.iter().all(|&p| p == seen[0]), "one block for all");
            let words = block.get().unwrap();
            for (i, word) in (1u64..).zip(&words[..4]) {
                assert_eq!(word.load(Std::Relaxed), i);
            }
        }
    }

    /// Counts its drops.
    struct Counted<'a>(&'a AtomicUsize);
    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Std::Relaxed);
        }
    }

    #[test]
    fn shared_drops_its_value_with_the_last_reference() {
        let drops = AtomicUsize::new(0);
        let a = Shared::try_new(Counted(&drops)).unwrap();
        let b = a.try_clone().unwrap();
        assert_eq!(a.references(), 2);
        let c = std::thread::scope(|s| s.spawn(|| b.try_clone().unwrap()).join().unwrap());
        drop(a);
        drop(b);
        assert_eq!(drops.load(Std::Relaxed), 0, "one reference left");
        assert_eq!(c.references(), 1);
        drop(c);
        assert_eq!(drops.load(Std::Relaxed), 1);
    }

    #[test]
    fn a_published_value_outlives_the_read_sections_that_reached_it() {
        let drops = AtomicUsize::new(0);
        let slot = Published::empty();
        let value = Shared::try_new(Counted(&drops)).unwrap();
        slot.replace(Some(value.try_clone().unwrap()));
        assert!(slot.holds(&value) && !slot.is_empty());
        drop(value);
        let section = crate::kernel::grace::read();
        let seen = slot.get(&section).map(|c| c.0 as *const AtomicUsize);
        assert_eq!(seen, Some(&raw const drops));
        std::thread::scope(|s| {
            // The replace waits for `section` before it drops the value.
            let clearing = s.spawn(|| slot.replace(None));
            std::thread::sleep(std::time::Duration::from_millis(30));
            assert_eq!(drops.load(Std::Relaxed), 0, "dropped under a reader");
            drop(section);
            clearing.join().unwrap();
        });
        assert_eq!(drops.load(Std::Relaxed), 1);
        let section = crate::kernel::grace::read();
        assert!(slot.get(&section).is_none());
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;

    /// Two threads commit the same block, in every interleaving loom
    /// explores: both get the one the CAS installed (the loser takes the
    /// other branch, which frees its own), and a word stored by one is seen
    /// by the other after a join.
    #[test]
    fn racing_commits_agree_on_one_block_under_loom() {
        loom::model(|| {
            let block = loom::sync::Arc::new(OnceBlock::<4>::new());
            let other = loom::sync::Arc::clone(&block);
            let t = loom::thread::spawn(move || {
                let words = other.get_or_commit().unwrap();
                words[1].store(5, core::sync::atomic::Ordering::Relaxed);
                core::ptr::from_ref(words) as usize
            });
            let mine = core::ptr::from_ref(block.get_or_commit().unwrap()) as usize;
            let theirs = t.join().unwrap();
            assert_eq!(mine, theirs);
            let words = block.get().unwrap();
            assert_eq!(words[1].load(core::sync::atomic::Ordering::Relaxed), 5);
        });
    }
}
