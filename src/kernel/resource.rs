//! The Windows lock primitive behind `crate::kernel::sync::RwLock`: an
//! `ERESOURCE` (a reader-writer lock whose waiters sleep), acquired only at
//! PASSIVE_LEVEL inside `KeEnterCriticalRegion`/`KeLeaveCriticalRegion`, so
//! that no normal kernel APC suspends a holder (Microsoft's rule for
//! executive resources).
//!
//! An initialised `ERESOURCE` is linked into the kernel's list of resources
//! and must not move. Every lock has one before its first use, made where
//! the lock is made, so that acquiring one never allocates, never fails and
//! never retries:
//! - a lock built with its state ([`ResourceLock::try_new`], through
//!   `RwLock::try_new`) moves (an adapter is built, then published into its
//!   slot), so its `ERESOURCE` lives in a non-paged pool block of its own,
//!   allocated there (a failure is `NoMemory` from `try_new`, before the
//!   lock exists) and deleted when the lock drops;
//! - a static lock ([`ResourceLock::new`], the adapter table's) never moves,
//!   so its `ERESOURCE` lives inside it, in the image's non-paged data,
//!   initialised by [`ResourceLock::prepare`] (DriverEntry) with nothing to
//!   allocate, and deleted by [`ResourceLock::retire`] (DxgkDdiUnload). A
//!   use before `prepare` (which DriverEntry rules out) initialises it then:
//!   still no allocation and no failure, only a short wait for a concurrent
//!   initialiser.
//!
//! The seven routines come from the backend (`raw`: `ntoskrnl.exe` through
//! raw-dylib; `wdk`: `wdk-sys`), as `crate::kernel::os_lock`.

use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU8, Ordering};

use crate::foundation::status::Status;
use crate::kernel::os_lock as os;

/// `sizeof(ERESOURCE)` on x64 (0x68), rounded up to the pool's 16 bytes.
const ERESOURCE_SIZE: usize = 0x70;

/// An opaque `ERESOURCE`.
#[repr(C, align(16))]
pub(crate) struct Eresource {
    opaque: [u8; ERESOURCE_SIZE],
}

/// States of a static lock's inline `ERESOURCE`.
const UNINITIALISED: u8 = 0;
const INITIALISING: u8 = 1;
const READY: u8 = 2;

/// Where a lock's `ERESOURCE` is.
enum Storage {
    /// A pool block of its own, initialised (a lock that moves).
    Pooled(NonNull<Eresource>),
    /// Inside the lock (a static, which never moves); `state` says whether
    /// `block` is initialised.
    Inline {
        state: AtomicU8,
        block: UnsafeCell<MaybeUninit<Eresource>>,
    },
}

/// A value behind an `ERESOURCE`.
///
/// # Invariants
/// A `Pooled` block is an initialised `ERESOURCE` this lock owns; an
/// `Inline` block is one once its state is `READY`. `value` is accessed
/// mutably only while the resource is held exclusively, shared only while
/// it is held shared.
pub(crate) struct ResourceLock<T> {
    storage: Storage,
    value: UnsafeCell<T>,
}

// SAFETY: like `std::sync::RwLock`: `&T` on several threads (`T: Sync`),
// `&mut T` on one thread at a time, maybe not the creating one (`T: Send`);
// the ERESOURCE is the kernel's thread-safe object.
unsafe impl<T: Send + Sync> Sync for ResourceLock<T> {}
// SAFETY: moving the lock moves the `T` it owns (a pooled ERESOURCE stays
// put; an inline one belongs to a static, which does not move).
unsafe impl<T: Send> Send for ResourceLock<T> {}

impl<T> ResourceLock<T> {
    /// A static lock: its `ERESOURCE` inside it, initialised by
    /// [`Self::prepare`]. Only for a lock that never moves once used (a
    /// `static`): a lock built at run time uses [`Self::try_new`].
    pub(crate) const fn new(value: T) -> Self {
        Self {
            storage: Storage::Inline {
                state: AtomicU8::new(UNINITIALISED),
                block: UnsafeCell::new(MaybeUninit::uninit()),
            },
            value: UnsafeCell::new(value),
        }
    }

    /// A lock that may move, its `ERESOURCE` made now in a pool block of its
    /// own (PASSIVE_LEVEL).
    ///
    /// # Errors
    /// `NoMemory` when the pool block cannot be allocated (nothing is kept).
    pub(crate) fn try_new(value: T) -> Result<Self, Status> {
        let layout = Layout::new::<Eresource>();
        // SAFETY: a non-zero-sized layout.
        let fresh = unsafe { alloc::alloc::alloc(layout) }.cast::<Eresource>();
        let block = NonNull::new(fresh).ok_or(Status::NoMemory)?;
        // SAFETY: a non-paged block of the ERESOURCE's size and alignment
        // that nothing else uses; it never moves until freed.
        unsafe { os::ExInitializeResourceLite(block.as_ptr().cast()) };
        Ok(Self {
            storage: Storage::Pooled(block),
            value: UnsafeCell::new(value),
        })
    }

    /// Makes a static lock's `ERESOURCE` ready (DriverEntry, PASSIVE_LEVEL);
    /// a no-op for one that is, and for a pooled lock (ready since
    /// `try_new`). Allocates nothing.
    ///
    /// # Errors
    /// None today (the `Result` keeps `RwLock::prepare`'s signature).
    pub(crate) fn prepare(&self) -> Result<(), Status> {
        let _ = self.resource();
        Ok(())
    }

    /// The `ERESOURCE`: a pooled lock's block, or a static lock's inline
    /// one, initialised here on its first use if `prepare` did not run.
    /// Never allocates, never fails.
    fn resource(&self) -> *mut Eresource {
        match &self.storage {
            Storage::Pooled(block) => block.as_ptr(),
            Storage::Inline { state, block } => {
                let r = block.get().cast::<Eresource>();
                loop {
                    match state.compare_exchange(
                        UNINITIALISED,
                        INITIALISING,
                        Ordering::Acquire,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => {
                            // SAFETY: this thread alone moved the state out
                            // of UNINITIALISED, so nothing uses the block;
                            // it is inside a static (non-paged image data)
                            // and never moves.
                            unsafe { os::ExInitializeResourceLite(r.cast()) };
                            state.store(READY, Ordering::Release);
                            return r;
                        }
                        Err(READY) => return r,
                        // Another thread is initialising it: a few
                        // instructions of ExInitializeResourceLite, which
                        // neither waits nor allocates.
                        Err(_) => core::hint::spin_loop(),
                    }
                }
            }
        }
    }

    /// Shared access.
    pub(crate) fn read(&self) -> ReadGuard<'_, T> {
        let r = self.resource();
        // SAFETY: PASSIVE_LEVEL (every caller); the guard leaves the region
        // after it releases the resource.
        unsafe { os::KeEnterCriticalRegion() };
        // SAFETY: `r` is this lock's initialised ERESOURCE; inside a critical
        // region at PASSIVE_LEVEL, as the routine requires; Wait = TRUE.
        unsafe { os::ExAcquireResourceSharedLite(r.cast(), 1) };
        ReadGuard {
            lock: self,
            resource: r,
        }
    }

    /// Exclusive access.
    pub(crate) fn write(&self) -> WriteGuard<'_, T> {
        let r = self.resource();
        // SAFETY: as in `read`.
        unsafe { os::KeEnterCriticalRegion() };
        // SAFETY: as in `read`.
        unsafe { os::ExAcquireResourceExclusiveLite(r.cast(), 1) };
        WriteGuard {
            lock: self,
            resource: r,
        }
    }

    /// Deletes a static lock's `ERESOURCE` once nothing can use it any more
    /// (DxgkDdiUnload, after every adapter was removed); a later use would
    /// initialise it again. A no-op for a pooled lock (its drop deletes it).
    pub(crate) fn retire(&self) {
        let Storage::Inline { state, block } = &self.storage else {
            return;
        };
        // Wait out any holder.
        drop(self.write());
        if state
            .compare_exchange(READY, UNINITIALISED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // SAFETY: initialised (it was READY), and no thread holds or
            // waits for it (nothing calls the driver any more, this
            // function's contract); the exchange makes this the one delete.
            unsafe { os::ExDeleteResourceLite(block.get().cast()) };
        }
    }

    /// The value, through `&mut self` (no guard can exist).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T> Drop for ResourceLock<T> {
    fn drop(&mut self) {
        match &mut self.storage {
            // SAFETY: `&mut self`: no guard holds it, and the lock is
            // dropped, so it is destroyed once.
            Storage::Pooled(block) => unsafe { destroy(block.as_ptr()) },
            Storage::Inline { state, block } => {
                if *state.get_mut() == READY {
                    // SAFETY: initialised, and `&mut self`: nobody holds it.
                    unsafe { os::ExDeleteResourceLite(block.get().cast()) };
                }
            }
        }
    }
}

/// Deletes a pooled `ERESOURCE` and frees its block.
///
/// # Safety
/// `r` was initialised by `try_new` (a block of `Eresource`'s layout), no
/// thread holds or waits for it, and it is not used afterwards.
unsafe fn destroy(r: *mut Eresource) {
    // SAFETY: an initialised ERESOURCE nobody holds (the caller's contract).
    unsafe { os::ExDeleteResourceLite(r.cast()) };
    // SAFETY: allocated by `prepare` with this layout, not used any more.
    unsafe { alloc::alloc::dealloc(r.cast(), Layout::new::<Eresource>()) };
}

/// Releases `resource` and leaves the critical region.
///
/// # Safety
/// The current thread holds `resource`, inside the region it entered for it.
unsafe fn release(resource: *mut Eresource) {
    // SAFETY: held by this thread (the caller's contract).
    unsafe { os::ExReleaseResourceLite(resource.cast()) };
    // SAFETY: leaves the region entered when it was acquired.
    unsafe { os::KeLeaveCriticalRegion() };
}

/// Shared access to a [`ResourceLock`]'s value.
pub(crate) struct ReadGuard<'a, T> {
    lock: &'a ResourceLock<T>,
    resource: *mut Eresource,
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: held shared, so no `&mut T` exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> Drop for ReadGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this guard's thread acquired it in `read`.
        unsafe { release(self.resource) };
    }
}

/// Exclusive access to a [`ResourceLock`]'s value.
pub(crate) struct WriteGuard<'a, T> {
    lock: &'a ResourceLock<T>,
    resource: *mut Eresource,
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: held exclusively, so no other reference exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: held exclusively, so no other reference exists.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for WriteGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this guard's thread acquired it in `write`.
        unsafe { release(self.resource) };
    }
}
