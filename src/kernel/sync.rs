//! Synchronisation primitives, written once for every platform.
//!
//! Atomics come from this module, not from `core` directly, so that the same
//! code runs under the `loom` model checker (`RUSTFLAGS="--cfg loom"`), which
//! substitutes its own atomics and explores every interleaving.
//!
//! [`RwLock`] is the driver's one lock type: a reader-writer lock made for
//! waits at PASSIVE_LEVEL, whose primitive comes from the platform:
//!
//! | platform | primitive |
//! |---|---|
//! | Windows (`wdk` and `raw` backends) | an `ERESOURCE` (`ExAcquireResource{Shared,Exclusive}Lite`) held inside `KeEnterCriticalRegion`/`KeLeaveCriticalRegion`, in non-paged pool of its own, made by `try_new` or, for a static, DriverEntry (`crate::kernel::resource`): acquiring never allocates, fails or retries |
//! | host | `std::sync::RwLock` |
//! | `--cfg loom` | `loom::sync::RwLock` |
//!
//! A waiter sleeps; nothing spins. Locks are taken only at PASSIVE_LEVEL
//! (the DDIs that may run higher, `crate::ddi::irql::ABOVE_PASSIVE`, take
//! none), never recursively, and in the order `docs/locking.md` gives.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

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

/// Under loom, a `SeqCst` fence; elsewhere nothing. Loom models `SeqCst`
/// accesses as acquire/release only (its documented limitation) but models
/// `SeqCst` fences fully; where an argument needs `SeqCst` accesses in C11's
/// single total order (which they already are on every target: on x86-64
/// `xchg` and locked RMWs drain the store buffer, on AArch64 `SeqCst` loads
/// are `ldar`), the fence stands in for that order under loom. Callers say
/// which accesses it follows (`kernel::grace`: a reader's increment and each
/// phase flip; `basis::dirty`: the drain's flip).
#[inline]
pub(crate) fn loom_sc_fence() {
    #[cfg(loom)]
    loom::sync::atomic::fence(Ordering::SeqCst);
}

/// A reader-writer lock for PASSIVE_LEVEL (module docs for the primitive).
///
/// `read` and `write` cannot fail: a poisoned host lock (a test thread that
/// panicked holding it) is used as it is, as the kernel's would be.
pub(crate) struct RwLock<T> {
    #[cfg(loom)]
    inner: loom::sync::RwLock<T>,
    #[cfg(all(not(loom), not(target_os = "windows")))]
    inner: std::sync::RwLock<T>,
    #[cfg(all(not(loom), target_os = "windows"))]
    inner: crate::kernel::resource::ResourceLock<T>,
}

/// Shared access to the value of a [`RwLock`].
#[cfg(loom)]
pub(crate) type ReadGuard<'a, T> = loom::sync::RwLockReadGuard<'a, T>;
/// Exclusive access to the value of a [`RwLock`].
#[cfg(loom)]
pub(crate) type WriteGuard<'a, T> = loom::sync::RwLockWriteGuard<'a, T>;
/// Shared access to the value of a [`RwLock`].
#[cfg(all(not(loom), not(target_os = "windows")))]
pub(crate) type ReadGuard<'a, T> = std::sync::RwLockReadGuard<'a, T>;
/// Exclusive access to the value of a [`RwLock`].
#[cfg(all(not(loom), not(target_os = "windows")))]
pub(crate) type WriteGuard<'a, T> = std::sync::RwLockWriteGuard<'a, T>;
/// Shared access to the value of a [`RwLock`].
#[cfg(all(not(loom), target_os = "windows"))]
pub(crate) type ReadGuard<'a, T> = crate::kernel::resource::ReadGuard<'a, T>;
/// Exclusive access to the value of a [`RwLock`].
#[cfg(all(not(loom), target_os = "windows"))]
pub(crate) type WriteGuard<'a, T> = crate::kernel::resource::WriteGuard<'a, T>;

impl<T> RwLock<T> {
    /// A new unlocked lock, for statics (the adapter table): on Windows its
    /// `ERESOURCE` is made by [`RwLock::prepare`] (DriverEntry). A lock
    /// built at run time uses [`RwLock::try_new`].
    #[cfg(not(loom))]
    pub(crate) const fn new(value: T) -> Self {
        Self {
            #[cfg(not(target_os = "windows"))]
            inner: std::sync::RwLock::new(value),
            #[cfg(target_os = "windows")]
            inner: crate::kernel::resource::ResourceLock::new(value),
        }
    }

    /// A new unlocked lock (loom's cannot be built in const context).
    #[cfg(loom)]
    pub(crate) fn new(value: T) -> Self {
        Self {
            inner: loom::sync::RwLock::new(value),
        }
    }

    /// A new unlocked lock whose primitive is ready (on Windows its
    /// `ERESOURCE` is allocated and initialised here).
    ///
    /// # Errors
    /// `NoMemory` when the primitive cannot be allocated.
    #[cfg(not(loom))]
    pub(crate) fn try_new(value: T) -> Result<Self, crate::foundation::status::Status> {
        #[cfg(target_os = "windows")]
        return Ok(Self {
            inner: crate::kernel::resource::ResourceLock::try_new(value)?,
        });
        #[cfg(not(target_os = "windows"))]
        Ok(Self::new(value))
    }

    /// Makes a static lock's primitive ready, if it is not (a no-op off
    /// Windows, and for a lock made by `try_new`).
    ///
    /// # Errors
    /// `NoMemory` when the primitive cannot be allocated.
    #[cfg(not(loom))]
    pub(crate) fn prepare(&self) -> Result<(), crate::foundation::status::Status> {
        #[cfg(target_os = "windows")]
        return self.inner.prepare();
        #[cfg(not(target_os = "windows"))]
        Ok(())
    }

    /// Releases the primitive of a lock that outlives its last use (the
    /// adapter table's, at DxgkDdiUnload; a no-op off Windows). Nothing may
    /// use the lock concurrently; a later use prepares it again.
    #[cfg(not(loom))]
    pub(crate) fn retire(&self) {
        #[cfg(target_os = "windows")]
        self.inner.retire();
    }

    /// Shared access; waits while a writer holds the lock.
    pub(crate) fn read(&self) -> ReadGuard<'_, T> {
        #[cfg(loom)]
        return self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        #[cfg(all(not(loom), not(target_os = "windows")))]
        return self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        #[cfg(all(not(loom), target_os = "windows"))]
        return self.inner.read();
    }

    /// Exclusive access; waits until readers and any other writer are gone.
    pub(crate) fn write(&self) -> WriteGuard<'_, T> {
        #[cfg(loom)]
        return self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        #[cfg(all(not(loom), not(target_os = "windows")))]
        return self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        #[cfg(all(not(loom), target_os = "windows"))]
        return self.inner.write();
    }

    /// Exclusive access without locking: `&mut self` proves no guard exists.
    #[cfg(not(loom))]
    pub(crate) fn get_mut(&mut self) -> &mut T {
        #[cfg(not(target_os = "windows"))]
        return self
            .inner
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        #[cfg(target_os = "windows")]
        return self.inner.get_mut();
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
