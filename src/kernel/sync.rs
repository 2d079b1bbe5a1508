//! Synchronisation primitives, written once for every platform.
//!
//! Atomics come from this module, not from `core` directly, so that the same
//! code runs under the `loom` model checker (`RUSTFLAGS="--cfg loom"`), which
//! substitutes its own atomics and explores every interleaving.
//!
//! [`RwLock`] is a small writer-preferring spin lock. The driver takes locks
//! only at PASSIVE_LEVEL and never raises IRQL, so a preempted holder is simply
//! rescheduled; critical sections are short and never allocate, sleep or call
//! out to the OS. Locks are never taken recursively (a reader that re-enters
//! the same lock while a writer waits would deadlock): each lock documents
//! what it protects and the order in which locks nest.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

#[cfg(not(loom))]
use core::cell::UnsafeCell;
#[cfg(loom)]
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
// Under loom the lock's value lives in loom's cell, so the model checker also
// proves the lock itself: an access it failed to exclude is reported as a race.
#[cfg(loom)]
use loom::cell::UnsafeCell;

/// A new `AtomicU64` holding `value`, for memory read with `SeqCst` (the
/// bitplanes).
///
/// Under loom the value is also written once with a `SeqCst` store. Loom
/// only orders a `SeqCst` load against newer `SeqCst` *stores* when the older
/// value was itself written by one, so it lets such a load read an atomic's
/// initial value after a newer `SeqCst` store; C11 forbids that when the
/// initialisation happens before the store, as it always does here (a plane
/// is built before it is published). Without this, loom reports lost writes
/// that no C11 execution has.
#[inline]
pub(crate) fn new_seq_cst_u64(value: u64) -> AtomicU64 {
    let atomic = AtomicU64::new(value);
    #[cfg(loom)]
    atomic.store(value, Ordering::SeqCst);
    atomic
}

/// Set while a writer holds the lock.
const WRITER: u32 = 1 << 31;
/// Set while a writer waits: new readers stay out, so writers are not starved.
const WRITER_WAITING: u32 = 1 << 30;
/// The reader count lives in the remaining bits.
const READERS: u32 = WRITER_WAITING - 1;

/// A reader-writer spin lock.
///
/// # Invariants
/// `state` holds `WRITER` with no readers, or a reader count with no `WRITER`;
/// `value` is accessed mutably only under `WRITER` and shared only while the
/// reader count is non-zero.
pub(crate) struct RwLock<T> {
    state: AtomicU32,
    value: UnsafeCell<T>,
    /// Under loom, waiters sleep here instead of spinning: loom cannot make
    /// progress when two threads spin at once (each yield lets the other spin
    /// again, and the holder is never scheduled). Only how a blocked thread
    /// waits differs; the protocol on `state` is the same code.
    #[cfg(loom)]
    parking: Parking,
}

/// Where a blocked thread waits under loom: woken by every release.
#[cfg(loom)]
struct Parking {
    mutex: loom::sync::Mutex<()>,
    released: loom::sync::Condvar,
}

// SAFETY: the lock hands out `&T` to several threads at once (needs `T: Sync`)
// and `&mut T` to one thread at a time, possibly not the creating one (needs
// `T: Send`), exactly like `std::sync::RwLock`.
unsafe impl<T: Send + Sync> Sync for RwLock<T> {}
// SAFETY: moving the lock moves the `T` it owns.
unsafe impl<T: Send> Send for RwLock<T> {}

impl<T> RwLock<T> {
    /// A new unlocked lock.
    #[cfg(not(loom))]
    pub(crate) const fn new(value: T) -> Self {
        Self {
            state: AtomicU32::new(0),
            value: UnsafeCell::new(value),
        }
    }

    /// A new unlocked lock (loom's atomics cannot be built in const context).
    #[cfg(loom)]
    pub(crate) fn new(value: T) -> Self {
        Self {
            state: AtomicU32::new(0),
            value: UnsafeCell::new(value),
            parking: Parking {
                mutex: loom::sync::Mutex::new(()),
                released: loom::sync::Condvar::new(),
            },
        }
    }

    /// Waits a little while `blocked(state)`: a spin hint, or under loom a
    /// sleep until the next release.
    #[cfg(not(loom))]
    #[inline]
    fn wait(&self, _blocked: impl Fn(u32) -> bool) {
        core::hint::spin_loop();
    }

    /// Waits a little while `blocked(state)`: a spin hint, or under loom a
    /// sleep until the next release.
    #[cfg(loom)]
    fn wait(&self, blocked: impl Fn(u32) -> bool) {
        let parked = self
            .parking
            .mutex
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A release after this load notifies under the mutex, hence after
        // this thread sleeps: no wake-up is lost.
        if blocked(self.state.load(Ordering::Relaxed)) {
            drop(self.parking.released.wait(parked));
        }
    }

    /// Called after every release (loom only): wakes the sleeping waiters.
    #[cfg(loom)]
    fn released(&self) {
        let _parked = self
            .parking
            .mutex
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.parking.released.notify_all();
    }

    /// Shared access; spins while a writer holds or waits for the lock.
    pub(crate) fn read(&self) -> ReadGuard<'_, T> {
        loop {
            let s = self.state.load(Ordering::Relaxed);
            // PANIC: `s & READERS < READERS` is checked, so `s + 1` cannot overflow.
            #[allow(clippy::arithmetic_side_effects)]
            if s & (WRITER | WRITER_WAITING) == 0
                && s & READERS < READERS
                && self
                    .state
                    .compare_exchange_weak(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return ReadGuard {
                    lock: self,
                    #[cfg(loom)]
                    access: ManuallyDrop::new(self.value.get()),
                };
            }
            self.wait(|s| s & (WRITER | WRITER_WAITING) != 0 || s & READERS == READERS);
        }
    }

    /// Exclusive access; spins until readers and any other writer are gone.
    pub(crate) fn write(&self) -> WriteGuard<'_, T> {
        loop {
            let s = self.state.load(Ordering::Relaxed);
            if s & (WRITER | READERS) == 0 {
                // Acquiring clears WRITER_WAITING; other waiting writers set it again.
                if self
                    .state
                    .compare_exchange_weak(s, WRITER, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return WriteGuard {
                        lock: self,
                        #[cfg(loom)]
                        access: ManuallyDrop::new(self.value.get_mut()),
                    };
                }
            } else if s & WRITER_WAITING == 0 {
                self.state.fetch_or(WRITER_WAITING, Ordering::Relaxed);
            }
            self.wait(|s| s & (WRITER | READERS) != 0);
        }
    }
}

/// Shared access to the value of a [`RwLock`].
pub(crate) struct ReadGuard<'a, T> {
    lock: &'a RwLock<T>,
    /// Loom's record of this shared access; it ends before the lock is released.
    #[cfg(loom)]
    access: ManuallyDrop<loom::cell::ConstPtr<T>>,
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;
    #[cfg(not(loom))]
    fn deref(&self) -> &T {
        // SAFETY: this guard holds a reader count, so no `&mut T` exists.
        unsafe { &*self.lock.value.get() }
    }
    #[cfg(loom)]
    fn deref(&self) -> &T {
        // SAFETY: this guard holds a reader count, so no `&mut T` exists.
        unsafe { loom::cell::ConstPtr::deref(&self.access) }
    }
}

impl<T> Drop for ReadGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: dropped once, here; `access` is not used after this.
        #[cfg(loom)]
        unsafe {
            ManuallyDrop::drop(&mut self.access)
        };
        self.lock.state.fetch_sub(1, Ordering::Release);
        #[cfg(loom)]
        self.lock.released();
    }
}

/// Exclusive access to the value of a [`RwLock`].
pub(crate) struct WriteGuard<'a, T> {
    lock: &'a RwLock<T>,
    /// Loom's record of this exclusive access; it ends before the lock is released.
    #[cfg(loom)]
    access: ManuallyDrop<loom::cell::MutPtr<T>>,
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;
    #[cfg(not(loom))]
    fn deref(&self) -> &T {
        // SAFETY: this guard holds WRITER, so no other reference exists.
        unsafe { &*self.lock.value.get() }
    }
    #[cfg(loom)]
    fn deref(&self) -> &T {
        // SAFETY: this guard holds WRITER, so no other reference exists.
        unsafe { loom::cell::MutPtr::deref(&self.access) }
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    #[cfg(not(loom))]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds WRITER, so no other reference exists.
        unsafe { &mut *self.lock.value.get() }
    }
    #[cfg(loom)]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds WRITER, so no other reference exists.
        unsafe { loom::cell::MutPtr::deref(&self.access) }
    }
}

impl<T> Drop for WriteGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: dropped once, here; `access` is not used after this.
        #[cfg(loom)]
        unsafe {
            ManuallyDrop::drop(&mut self.access)
        };
        // Keep WRITER_WAITING if another writer set it meanwhile.
        self.lock.state.fetch_and(!WRITER, Ordering::Release);
        #[cfg(loom)]
        self.lock.released();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn readers_share_and_writers_exclude() {
        // Miri interprets every step and explores thread interleavings
        // itself: a few rounds suffice there.
        let rounds = if cfg!(miri) { 25 } else { 10_000 };
        let lock = Arc::new(RwLock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = Arc::clone(&lock);
                std::thread::spawn(move || {
                    for _ in 0..rounds {
                        let before = *lock.read();
                        *lock.write() += 1;
                        assert!(*lock.read() > before);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("no panic");
        }
        assert_eq!(*lock.read(), 4 * rounds);
    }
}
