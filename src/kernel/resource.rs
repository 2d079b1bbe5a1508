//! The Windows lock primitive behind `crate::kernel::sync::RwLock`: an
//! `ERESOURCE` (a reader-writer lock whose waiters sleep), acquired only at
//! PASSIVE_LEVEL inside `KeEnterCriticalRegion`/`KeLeaveCriticalRegion`, so
//! that no normal kernel APC suspends a holder (Microsoft's rule for
//! executive resources).
//!
//! An initialised `ERESOURCE` is linked into the kernel's list of resources
//! and must not move, while the Rust value owning the lock does (an adapter
//! is built, then published into its slot): so a lock's `ERESOURCE` lives in
//! a non-paged pool block of its own, deleted when the lock drops. Every
//! lock has it before its first use, so acquiring never allocates, never
//! fails and never retries:
//! - a lock built at run time gets it in [`ResourceLock::try_new`] (through
//!   `RwLock::try_new`; a failure is `NoMemory` there, before the lock
//!   exists);
//! - a static lock (the adapter table's, [`ResourceLock::new`]) gets it in
//!   [`ResourceLock::prepare`], from DriverEntry, whose failure fails the
//!   driver's load; [`ResourceLock::retire`] (DxgkDdiUnload) gives it back.
//!
//! A static lock used unprepared (before DriverEntry's `prepare` or after
//! `retire`, which the driver's order rules out) is neither an allocation
//! retried forever nor a panic: it takes, once and for good, the driver's
//! one [`FALLBACK`] `ERESOURCE`, a static initialised on first use with
//! nothing to allocate (shared by such locks, so only coarser).
//!
//! The seven routines come from the backend (`raw`: `ntoskrnl.exe` through
//! raw-dylib; `wdk`: `wdk-sys`), as `crate::kernel::os_lock`.

use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicPtr, AtomicU8, Ordering};

use crate::foundation::status::Status;
use crate::kernel::os_lock as os;

/// `sizeof(ERESOURCE)` on x64 (0x68), rounded up to the pool's 16 bytes.
const ERESOURCE_SIZE: usize = 0x70;

/// An opaque `ERESOURCE`.
#[repr(C, align(16))]
pub(crate) struct Eresource {
    opaque: [u8; ERESOURCE_SIZE],
}

/// The `ERESOURCE` an unprepared static lock uses (module docs): inside
/// the image's non-paged data, initialised once on first use.
struct Fallback {
    /// 0: not initialised, 1: being initialised, 2: ready.
    state: AtomicU8,
    block: UnsafeCell<MaybeUninit<Eresource>>,
}

// SAFETY: `block` is written once, by the thread that moves `state` from 0
// to 1, before `state` becomes 2; afterwards it is only the kernel's
// thread-safe ERESOURCE.
unsafe impl Sync for Fallback {}

/// See [`Fallback`].
static FALLBACK: Fallback = Fallback {
    state: AtomicU8::new(0),
    block: UnsafeCell::new(MaybeUninit::uninit()),
};

/// [`FALLBACK`]'s `ERESOURCE`, initialised if it is not: no allocation, no
/// failure; a concurrent first user waits only for the few instructions of
/// `ExInitializeResourceLite`, which neither waits nor allocates.
fn fallback() -> *mut Eresource {
    let r = FALLBACK.block.get().cast::<Eresource>();
    loop {
        match FALLBACK
            .state
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Acquire)
        {
            Ok(_) => {
                // SAFETY: this thread alone moved the state from 0, so
                // nothing uses the block; it is in a static and never moves.
                unsafe { os::ExInitializeResourceLite(r.cast()) };
                FALLBACK.state.store(2, Ordering::Release);
                return r;
            }
            Err(2) => return r,
            Err(_) => core::hint::spin_loop(),
        }
    }
}

/// A value behind an `ERESOURCE`.
///
/// # Invariants
/// `resource` is NULL (a static lock not prepared yet), [`FALLBACK`]'s, or
/// an initialised pool `ERESOURCE` this lock owns; `value` is accessed
/// mutably only while the resource is held exclusively, shared only while
/// it is held shared.
pub(crate) struct ResourceLock<T> {
    resource: AtomicPtr<Eresource>,
    value: UnsafeCell<T>,
}

// SAFETY: like `std::sync::RwLock`: `&T` on several threads (`T: Sync`),
// `&mut T` on one thread at a time, maybe not the creating one (`T: Send`).
unsafe impl<T: Send + Sync> Sync for ResourceLock<T> {}
// SAFETY: moving the lock moves the `T` it owns (the ERESOURCE stays put).
unsafe impl<T: Send> Send for ResourceLock<T> {}

/// A new pool block with an initialised `ERESOURCE` (PASSIVE_LEVEL).
fn make() -> Result<*mut Eresource, Status> {
    let layout = Layout::new::<Eresource>();
    // SAFETY: a non-zero-sized layout.
    let fresh = unsafe { alloc::alloc::alloc(layout) }.cast::<Eresource>();
    if fresh.is_null() {
        return Err(Status::NoMemory);
    }
    // SAFETY: `fresh` is a non-paged block of the ERESOURCE's size and
    // alignment that nothing else uses; it never moves until freed.
    unsafe { os::ExInitializeResourceLite(fresh.cast()) };
    Ok(fresh)
}

impl<T> ResourceLock<T> {
    /// A static lock, whose `ERESOURCE` [`Self::prepare`] makes (DriverEntry).
    pub(crate) const fn new(value: T) -> Self {
        Self {
            resource: AtomicPtr::new(core::ptr::null_mut()),
            value: UnsafeCell::new(value),
        }
    }

    /// A lock with its `ERESOURCE` made now (PASSIVE_LEVEL).
    ///
    /// # Errors
    /// `NoMemory` when the pool block cannot be allocated (nothing is kept).
    pub(crate) fn try_new(value: T) -> Result<Self, Status> {
        Ok(Self {
            resource: AtomicPtr::new(make()?),
            value: UnsafeCell::new(value),
        })
    }

    /// Makes a static lock's `ERESOURCE` if it has none (PASSIVE_LEVEL).
    ///
    /// # Errors
    /// `NoMemory` when the pool block cannot be allocated.
    pub(crate) fn prepare(&self) -> Result<(), Status> {
        if !self.resource.load(Ordering::Acquire).is_null() {
            return Ok(());
        }
        let fresh = make()?;
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
            // Another thread made one first (or the lock took the
            // fallback): this one was never used.
            // SAFETY: initialised above, never acquired, and this lock never
            // held it (the exchange failed).
            unsafe { destroy(fresh) };
        }
        Ok(())
    }

    /// The `ERESOURCE`: the lock's own, or for a static lock used
    /// unprepared [`FALLBACK`]'s, taken for good (module docs). Never
    /// allocates, never fails, never retries.
    fn resource(&self) -> *mut Eresource {
        let r = self.resource.load(Ordering::Acquire);
        if !r.is_null() {
            return r;
        }
        let shared = fallback();
        match self.resource.compare_exchange(
            core::ptr::null_mut(),
            shared,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => shared,
            // Prepared meanwhile (or another user took the fallback).
            Err(current) => current,
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
    /// was removed); a later use would need `prepare` again.
    pub(crate) fn retire(&self) {
        // Wait out any holder, then take the resource out of the lock.
        drop(self.write());
        let r = self.resource.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if !r.is_null() && r != fallback() {
            // SAFETY: a pool ERESOURCE no thread holds or waits for (nothing
            // calls the driver any more, this function's contract), taken
            // out of the lock above, so destroyed once. The fallback stays.
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
        if !r.is_null() && r != FALLBACK.block.get().cast::<Eresource>() {
            // SAFETY: `&mut self`: no guard holds it, and the lock is
            // dropped, so it is destroyed once; the fallback is never.
            unsafe { destroy(r) };
        }
    }
}

/// Deletes a pool `ERESOURCE` and frees its block.
///
/// # Safety
/// `r` was initialised by `make` (a block of `Eresource`'s layout), no
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
