//! The Windows lock primitive behind `crate::kernel::sync::RwLock`: an
//! `ERESOURCE` (a reader-writer lock whose waiters sleep), acquired only at
//! PASSIVE_LEVEL inside `KeEnterCriticalRegion`/`KeLeaveCriticalRegion`, so
//! that no normal kernel APC suspends a holder (Microsoft's rule for
//! executive resources).
//!
//! An initialised `ERESOURCE` is linked into the kernel's list of resources
//! and must not move, while the Rust value owning the lock does (an adapter
//! is built, then published into its slot): so the `ERESOURCE` lives in a
//! non-paged pool block of its own, made by [`ResourceLock::prepare`]
//! (`RwLock::try_new` for the locks built with their state; DriverEntry for
//! the adapter table's static ones) and deleted when the lock drops.
//!
//! The seven routines come from the backend (`raw`: `ntoskrnl.exe` through
//! raw-dylib; `wdk`: `wdk-sys`), as `crate::kernel::os_lock`.

use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicPtr, Ordering};

use crate::foundation::status::Status;
use crate::kernel::os_lock as os;

/// `sizeof(ERESOURCE)` on x64 (0x68), rounded up to the pool's 16 bytes.
const ERESOURCE_SIZE: usize = 0x70;

/// An opaque `ERESOURCE`.
#[repr(C, align(16))]
pub(crate) struct Eresource {
    opaque: [u8; ERESOURCE_SIZE],
}

/// A value behind an `ERESOURCE`.
///
/// # Invariants
/// `resource` is NULL or an initialised `ERESOURCE` this lock owns; `value`
/// is accessed mutably only while the resource is held exclusively, shared
/// only while it is held shared.
pub(crate) struct ResourceLock<T> {
    resource: AtomicPtr<Eresource>,
    value: UnsafeCell<T>,
}

// SAFETY: like `std::sync::RwLock`: `&T` on several threads (`T: Sync`),
// `&mut T` on one thread at a time, maybe not the creating one (`T: Send`).
unsafe impl<T: Send + Sync> Sync for ResourceLock<T> {}
// SAFETY: moving the lock moves the `T` it owns (the ERESOURCE stays put).
unsafe impl<T: Send> Send for ResourceLock<T> {}

impl<T> ResourceLock<T> {
    /// A lock whose `ERESOURCE` is not made yet.
    pub(crate) const fn new(value: T) -> Self {
        Self {
            resource: AtomicPtr::new(core::ptr::null_mut()),
            value: UnsafeCell::new(value),
        }
    }

    /// Makes the `ERESOURCE` if there is none (PASSIVE_LEVEL).
    ///
    /// # Errors
    /// `NoMemory` when the pool block cannot be allocated.
    pub(crate) fn prepare(&self) -> Result<(), Status> {
        if !self.resource.load(Ordering::Acquire).is_null() {
            return Ok(());
        }
        let layout = Layout::new::<Eresource>();
        // SAFETY: a non-zero-sized layout.
        let fresh = unsafe { alloc::alloc::alloc(layout) }.cast::<Eresource>();
        if fresh.is_null() {
            return Err(Status::NoMemory);
        }
        // SAFETY: `fresh` is a non-paged block of the ERESOURCE's size and
        // alignment that nothing else uses; it never moves until freed.
        unsafe { os::ExInitializeResourceLite(fresh.cast()) };
        if self
            .resource
            .compare_exchange(
                core::ptr::null_mut(),
                fresh,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            // Another thread made one first: this one was never used.
            // SAFETY: initialised above, never acquired, and this lock never
            // held it (the exchange failed).
            unsafe { destroy(fresh) };
        }
        Ok(())
    }

    /// The `ERESOURCE`, made on first use if `prepare` was not called; a
    /// failed allocation is retried (only a static lock can get here, and
    /// DriverEntry prepared those).
    fn resource(&self) -> *mut Eresource {
        loop {
            let r = self.resource.load(Ordering::Acquire);
            if !r.is_null() {
                return r;
            }
            let _ = self.prepare();
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

    /// Deletes and frees the `ERESOURCE` of a lock that lives on (a static),
    /// once nothing can use it any more (DxgkDdiUnload, after every adapter
    /// was removed); a later use would make a new one.
    pub(crate) fn retire(&self) {
        // Wait out any holder, then take the resource out of the lock.
        drop(self.write());
        let r = self.resource.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if !r.is_null() {
            // SAFETY: no thread holds or waits for it (nothing calls the
            // driver any more, this function's contract), and it was taken
            // out of the lock above, so it is destroyed once.
            unsafe { destroy(r) };
        }
    }

    /// The value, through `&mut self` (no guard can exist).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T> Drop for ResourceLock<T> {
    fn drop(&mut self) {
        let r = *self.resource.get_mut();
        if !r.is_null() {
            // SAFETY: `&mut self`: no guard holds it, and the lock is
            // dropped, so it is destroyed once.
            unsafe { destroy(r) };
        }
    }
}

/// Deletes an `ERESOURCE` made by `prepare` and frees its block.
///
/// # Safety
/// `r` was initialised by `prepare` (a block of `Eresource`'s layout), no
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
