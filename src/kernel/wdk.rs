//! Windows backend over Microsoft's windows-drivers-rs crates (needs the WDK).
//!
//! Kept minimal on purpose: nothing on a machine without the WDK can compile
//! it. `build.rs` links `displib.lib`, which provides `DxgkInitialize`. The
//! logic it would otherwise hold is shared and host-tested: the alignment
//! guard ([`crate::kernel::align_guard`]), the trace's line buffer, the lock
//! ([`crate::kernel::resource`]).

use core::alloc::{GlobalAlloc, Layout};

use dxgk_sys::{DRIVER_INITIALIZATION_DATA, NTSTATUS, PDRIVER_OBJECT, UNICODE_STRING};

use crate::kernel::line_buffer::LineBuffer;

#[cfg(not(test))]
use wdk_panic as _;

/// The lock routines `crate::kernel::resource` calls.
pub(crate) mod os_lock {
    pub(crate) use wdk_sys::ntddk::{
        ExAcquireResourceExclusiveLite, ExAcquireResourceSharedLite, ExDeleteResourceLite,
        ExInitializeResourceLite, ExReleaseResourceLite, KeEnterCriticalRegion,
        KeLeaveCriticalRegion,
    };
}

/// `wdk_alloc::WdkAllocator` behind the alignment guard: it hands out pool
/// blocks aligned to 16 bytes whatever the layout asks (its own FIXME), so a
/// layout asking more gets NULL, which the driver's fallible allocations
/// report as `STATUS_NO_MEMORY`, never a misaligned block.
struct GuardedAllocator;

// SAFETY: forwards to `WdkAllocator` for every layout it serves correctly
// (`align_guard::fits`), and returns NULL, a valid answer, for the others.
unsafe impl GlobalAlloc for GuardedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !crate::kernel::align_guard::fits(layout) {
            return core::ptr::null_mut();
        }
        // SAFETY: the caller's contract.
        unsafe { wdk_alloc::WdkAllocator.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { wdk_alloc::WdkAllocator.dealloc(ptr, layout) }
    }
}

#[cfg(not(test))]
#[global_allocator]
static GLOBAL_ALLOCATOR: GuardedAllocator = GuardedAllocator;

unsafe extern "system" {
    /// displib.lib's hand-off of the DDI table to Dxgkrnl.
    pub(crate) fn DxgkInitialize(
        DriverObject: PDRIVER_OBJECT,
        RegistryPath: *mut UNICODE_STRING,
        DriverInitializationData: *mut DRIVER_INITIALIZATION_DATA,
    ) -> NTSTATUS;
}

/// Debug output through `DbgPrintEx(DPFLTR_IHVVIDEO_ID, DPFLTR_INFO_LEVEL,
/// ...)`, as the `raw` backend: formatted on the stack (no allocation).
pub(crate) fn trace(args: core::fmt::Arguments<'_>) {
    use core::fmt::Write;
    let mut line = LineBuffer::<256>::new();
    let _ = writeln!(line, "gpup_miniport: {args}");
    // SAFETY: `line` is a NUL-terminated C string that outlives the call, and
    // the format string consumes exactly one `char *` argument.
    unsafe {
        wdk_sys::ntddk::DbgPrintEx(
            crate::kernel::DPFLTR_IHVVIDEO_ID,
            crate::kernel::DPFLTR_INFO_LEVEL,
            c"%s".as_ptr().cast(),
            line.as_c_str().as_ptr(),
        )
    };
}

/// `KeQueryPerformanceCounter`: the counter and its frequency.
pub(crate) fn performance_counter() -> Option<(u64, u64)> {
    let mut frequency = wdk_sys::LARGE_INTEGER::default();
    // SAFETY: writes the frequency through a live local; any IRQL.
    let count = unsafe { wdk_sys::ntddk::KeQueryPerformanceCounter(&raw mut frequency) };
    // SAFETY: LARGE_INTEGER is a union whose QuadPart covers it whole.
    let (count, frequency) = unsafe { (count.QuadPart, frequency.QuadPart) };
    Some((u64::try_from(count).ok()?, u64::try_from(frequency).ok()?))
}
