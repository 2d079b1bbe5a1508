//! The performance counter (`KeQueryPerformanceCounter`), looked up by name
//! once per load at PASSIVE_LEVEL (as `ExAllocatePool2` is, `pool`), so the
//! image imports nothing new and still loads where the routine is absent
//! (Wine's ntoskrnl, which the smoke test runs the image on). Callable at any
//! IRQL once resolved: `DxgkDdiCalibrateGpuClock` runs at DISPATCH_LEVEL.

use core::ffi::c_void;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, Ordering};

use dxgk_sys::LARGE_INTEGER;

use super::ntoskrnl::MmGetSystemRoutineAddress;
use crate::kernel::nt_string::NtString;

/// `KeQueryPerformanceCounter`'s signature.
type KeQueryPerformanceCounterFn =
    unsafe extern "system" fn(PerformanceFrequency: *mut LARGE_INTEGER) -> LARGE_INTEGER;

/// `KeQueryPerformanceCounter`'s address, or NULL until resolved or where absent.
static KE_QUERY_PERFORMANCE_COUNTER: AtomicPtr<c_void> = AtomicPtr::new(null_mut());

/// Looks the routine up (DriverEntry, PASSIVE_LEVEL).
pub(super) fn resolve_clock() {
    let mut name = NtString::new(b"KeQueryPerformanceCounter");
    let mut name = name.as_unicode_string();
    // SAFETY: called from DriverEntry's thread at PASSIVE_LEVEL (the routine's
    // requirement); `name` describes a live UTF-16 buffer the routine only reads.
    let routine = unsafe { MmGetSystemRoutineAddress(&raw mut name) };
    KE_QUERY_PERFORMANCE_COUNTER.store(routine, Ordering::Release);
}

/// The performance counter and its frequency (counts per second), or
/// `None` where the kernel has no `KeQueryPerformanceCounter`.
pub(crate) fn performance_counter() -> Option<(u64, u64)> {
    let routine = KE_QUERY_PERFORMANCE_COUNTER.load(Ordering::Acquire);
    if routine.is_null() {
        return None;
    }
    // SAFETY: a non-NULL value was returned by MmGetSystemRoutineAddress for
    // this name: the routine, with the signature its WDK declaration has.
    let query: KeQueryPerformanceCounterFn = unsafe { core::mem::transmute(routine) };
    let mut frequency = LARGE_INTEGER { QuadPart: 0 };
    // SAFETY: the routine writes the frequency through a live local; callable
    // at any IRQL.
    let count = unsafe { query(&raw mut frequency) };
    Some((
        u64::try_from(count.QuadPart).ok()?,
        u64::try_from(frequency.QuadPart).ok()?,
    ))
}
