//! WDK-free Windows backend: imports from `ntoskrnl.exe` only, through
//! `raw-dylib`, so the image links with the toolchain's `rust-lld` on any
//! host (`cargo xtask package`).
//!
//! It provides the global allocator ([`pool`]), the panic handler
//! (`KeBugCheckEx`), debug output (`DbgPrintEx`), the runtime glue a
//! CRT-less image needs ([`runtime`]) and `DxgkInitialize`: the displib-style
//! hand-off to Dxgkrnl (`crate::kernel::handoff`) over the kernel's routines
//! ([`dxgkrnl`]).

mod clock;
mod dxgkrnl;
mod ntoskrnl;
mod pool;
mod runtime;

/// The lock routines `crate::kernel::resource` calls.
pub(crate) mod os_lock {
    pub(crate) use super::ntoskrnl::{
        ExAcquireResourceExclusiveLite, ExAcquireResourceSharedLite, ExDeleteResourceLite,
        ExInitializeResourceLite, ExReleaseResourceLite, KeEnterCriticalRegion,
        KeLeaveCriticalRegion,
    };
}

use dxgk_sys::{DRIVER_INITIALIZATION_DATA, NTSTATUS, PDRIVER_OBJECT, UNICODE_STRING};

pub(crate) use self::clock::performance_counter;
use self::ntoskrnl::{DbgPrintEx, KeBugCheckEx};
use crate::kernel::line_buffer::LineBuffer;

use crate::kernel::{DPFLTR_IHVVIDEO_ID, DPFLTR_INFO_LEVEL};
/// Bug check code of a Rust panic in this driver ("GPUP"). Parameters: source
/// line, column, address of the file name (not NUL-terminated), its length.
const BUGCHECK_RUST_PANIC: u32 = 0x4750_5550;

#[cfg(not(test))]
#[global_allocator]
static GLOBAL_ALLOCATOR: pool::PoolAllocator = pool::PoolAllocator;

#[cfg(not(test))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let (line, column, file) = info
        .location()
        .map_or((0, 0, ""), |l| (l.line(), l.column(), l.file()));
    let widen = |v: u32| usize::try_from(v).unwrap_or(usize::MAX);
    // SAFETY: bug-checking is the only sound reaction to a broken invariant in
    // kernel mode; the parameters are plain integers (and an address for the
    // debugger to read).
    unsafe {
        KeBugCheckEx(
            BUGCHECK_RUST_PANIC,
            widen(line),
            widen(column),
            file.as_ptr().addr(),
            file.len(),
        )
    }
}

/// The displib-style `DxgkInitialize` (see `crate::kernel::handoff`).
///
/// Also the backend's per-load start: it first resolves the pool routines,
/// before anything is allocated.
///
/// # Safety
/// Called once per load from `DriverEntry` at PASSIVE_LEVEL, with the
/// arguments the I/O manager passed and a live `DRIVER_INITIALIZATION_DATA`.
pub(crate) unsafe fn DxgkInitialize(
    DriverObject: PDRIVER_OBJECT,
    RegistryPath: *mut UNICODE_STRING,
    DriverInitializationData: *mut DRIVER_INITIALIZATION_DATA,
) -> NTSTATUS {
    pool::resolve_pool_routines();
    clock::resolve_clock();
    // SAFETY: the caller's contract is the hand-off's.
    unsafe {
        crate::kernel::handoff::dxgk_initialize(
            &mut dxgkrnl::Kernel,
            DriverObject,
            RegistryPath,
            DriverInitializationData,
        )
    }
}

/// Debug output through `DbgPrintEx(DPFLTR_IHVVIDEO_ID, ...)`, formatted on
/// the stack (no allocation).
pub(crate) fn trace(args: core::fmt::Arguments<'_>) {
    use core::fmt::Write;
    let mut line = LineBuffer::<256>::new();
    // The prefix, then `args` written directly: formatting `args` as a `{}`
    // argument would go through `<Arguments as Display>::fmt`, which calls
    // `core::fmt::write` again (a cycle the image's stack check refuses).
    let _ = line.write_str("gpup_miniport: ");
    let _ = line.write_fmt(args);
    let _ = line.write_char('\n');
    // SAFETY: `line` is a NUL-terminated C string that outlives the call, and
    // the format string consumes exactly one `char *` argument.
    unsafe {
        DbgPrintEx(
            DPFLTR_IHVVIDEO_ID,
            DPFLTR_INFO_LEVEL,
            c"%s".as_ptr().cast(),
            line.as_c_str().as_ptr(),
        )
    };
}
