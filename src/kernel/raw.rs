//! WDK-free Windows backend: imports from `ntoskrnl.exe` only, through
//! `raw-dylib`, so the image links with the toolchain's `rust-lld` on any host.
//!
//! This first version provides the allocator, the panic handler and debug
//! output. The displib-style `DxgkInitialize` hand-off to Dxgkrnl is not
//! written yet: until it is, this backend's `DxgkInitialize` fails the load
//! with `STATUS_NOT_IMPLEMENTED` rather than pretend.

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;

use dxgk_sys::{
    DRIVER_INITIALIZATION_DATA, NTSTATUS, PDRIVER_OBJECT, STATUS_NOT_IMPLEMENTED, UNICODE_STRING,
};

/// `POOL_FLAG_NON_PAGED`.
const POOL_FLAG_NON_PAGED: u64 = 0x40;
/// The project's pool tag, shown as `Gpup` by pool tools.
const POOL_TAG: u32 = u32::from_le_bytes(*b"Gpup");
/// `DPFLTR_IHVVIDEO_ID`: the display drivers' DbgPrintEx component.
const DPFLTR_IHVVIDEO_ID: u32 = 79;
/// `DPFLTR_INFO_LEVEL`.
const DPFLTR_INFO_LEVEL: u32 = 3;
/// Bug check code of a Rust panic in this driver ("GPUP").
const BUGCHECK_RUST_PANIC: u32 = 0x4750_5550;
/// Pool blocks are 16-byte aligned; page-sized and larger ones page aligned.
const POOL_ALIGNMENT: usize = 16;
const PAGE_SIZE: usize = 4096;

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn ExAllocatePool2(Flags: u64, NumberOfBytes: usize, Tag: u32) -> *mut c_void;
    fn ExFreePoolWithTag(P: *mut c_void, Tag: u32);
    fn KeBugCheckEx(BugCheckCode: u32, P1: usize, P2: usize, P3: usize, P4: usize) -> !;
}

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "C" {
    fn DbgPrintEx(ComponentId: u32, Level: u32, Format: *const u8, ...) -> u32;
}

/// Non-paged pool allocator.
struct PoolAllocator;

// SAFETY: `alloc` returns NULL or a fresh block of at least `layout.size()`
// bytes aligned to `layout.align()` (alignments the pool cannot guarantee are
// refused with NULL); `dealloc` frees exactly such blocks.
unsafe impl GlobalAlloc for PoolAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let aligned = layout.align() <= POOL_ALIGNMENT
            || (layout.align() <= PAGE_SIZE && layout.size() >= PAGE_SIZE);
        if !aligned {
            return core::ptr::null_mut();
        }
        // SAFETY: a plain non-paged allocation, callable at IRQL <= DISPATCH_LEVEL.
        unsafe { ExAllocatePool2(POOL_FLAG_NON_PAGED, layout.size(), POOL_TAG) }.cast()
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, with the same tag.
        unsafe { ExFreePoolWithTag(ptr.cast(), POOL_TAG) }
    }
}

#[cfg(not(test))]
#[global_allocator]
static GLOBAL_ALLOCATOR: PoolAllocator = PoolAllocator;

#[cfg(not(test))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let line = info
        .location()
        .map_or(0, |l| usize::try_from(l.line()).unwrap_or(0));
    // SAFETY: bug-checking is the only sound reaction to a broken invariant in
    // kernel mode; the parameters are plain integers.
    unsafe { KeBugCheckEx(BUGCHECK_RUST_PANIC, line, 0, 0, 0) }
}

/// The displib-style hand-off is not implemented in this backend yet.
///
/// # Safety
/// Always safe: no argument is read.
pub(crate) unsafe fn DxgkInitialize(
    DriverObject: PDRIVER_OBJECT,
    RegistryPath: *mut UNICODE_STRING,
    DriverInitializationData: *mut DRIVER_INITIALIZATION_DATA,
) -> NTSTATUS {
    let _ = (DriverObject, RegistryPath, DriverInitializationData);
    STATUS_NOT_IMPLEMENTED
}

/// A fixed stack buffer that `fmt::Write` fills, NUL-terminated for DbgPrintEx.
struct LineBuffer {
    bytes: [u8; 256],
    len: usize,
}

impl core::fmt::Write for LineBuffer {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // Keep one byte for the NUL; silently truncate long lines.
        let room = self.bytes.len().saturating_sub(1).saturating_sub(self.len);
        let n = s.len().min(room);
        if let (Some(dst), Some(src)) = (
            self.bytes.get_mut(self.len..self.len.saturating_add(n)),
            s.as_bytes().get(..n),
        ) {
            dst.copy_from_slice(src);
            self.len = self.len.saturating_add(n);
        }
        Ok(())
    }
}

/// Debug output through `DbgPrintEx(DPFLTR_IHVVIDEO_ID, ...)`, formatted on the
/// stack (no allocation).
pub(crate) fn trace(args: core::fmt::Arguments<'_>) {
    use core::fmt::Write;
    let mut line = LineBuffer {
        bytes: [0; 256],
        len: 0,
    };
    let _ = writeln!(line, "gpup_miniport: {args}");
    // SAFETY: `line.bytes` is NUL-terminated (a zero byte is always kept), and
    // the format string consumes exactly one `char*` argument.
    unsafe {
        DbgPrintEx(
            DPFLTR_IHVVIDEO_ID,
            DPFLTR_INFO_LEVEL,
            c"%s".as_ptr().cast(),
            line.bytes.as_ptr(),
        )
    };
}
