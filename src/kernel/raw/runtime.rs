//! The runtime glue a Rust image needs when no C runtime is linked
//! (`/NODEFAULTLIB`): symbols that the compiler and the precompiled `core`
//! and `alloc` refer to, which the MSVC CRT would otherwise supply.
//!
//! The three symbols the CRT would define are written in assembly rather than
//! as `#[no_mangle]` Rust items, which a cdylib would export: they are the
//! image's own, not part of its interface. Each lives in its own section so
//! that the linker drops it when nothing refers to it.

use core::ffi::c_void;

// The memory routines LLVM emits calls to (copies, fills and comparisons of
// non-trivial size), taken from the kernel's own exports rather than a CRT.
// Declared here, never called by name, so that the linker resolves the
// compiler's calls to ntoskrnl imports.
#[allow(dead_code)]
#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "C" {
    fn memcpy(dest: *mut c_void, src: *const c_void, count: usize) -> *mut c_void;
    fn memmove(dest: *mut c_void, src: *const c_void, count: usize) -> *mut c_void;
    fn memset(dest: *mut c_void, c: i32, count: usize) -> *mut c_void;
    fn memcmp(a: *const c_void, b: *const c_void, count: usize) -> i32;
}

// `_fltused`: referenced by any object that uses floating point (MSVC's
// marker that the CRT's floating-point support is needed). Kernel code may
// use SSE registers on x64; nothing reads the value.
core::arch::global_asm!(
    r#".section .rdata$gpup_fltused,"dr""#,
    ".globl _fltused",
    ".p2align 2",
    "_fltused:",
    ".long 0x9875",
);

// `__chkstk`, with the MSVC x64 contract: called in the prologue of a function
// whose frame is RAX bytes (more than a page), before the function subtracts
// RAX from RSP. It touches every page of the new frame from the top down, so
// that an overflow reaches the stack's guard page in order instead of
// skipping past it, and returns with RSP unchanged and every register but
// R10, R11 and the flags preserved.
core::arch::global_asm!(
    r#".section .text$gpup_chkstk,"xr""#,
    ".globl __chkstk",
    ".p2align 4",
    "__chkstk:",
    // R10: the caller's stack pointer (above our return address).
    "lea r10, [rsp + 8]",
    // R11: the lowest address of the new frame (0 if RAX exceeds it).
    "mov r11, r10",
    "sub r11, rax",
    "jae 2f",
    "xor r11, r11",
    "2:",
    // From the page of the caller's stack pointer, probe one page lower at a
    // time until the page holding R11 has been probed.
    "and r10, -4096",
    "3:",
    "cmp r10, r11",
    "jbe 4f",
    "sub r10, 4096",
    "test qword ptr [r10], r10",
    "jmp 3b",
    "4:",
    "ret",
);

// `__CxxFrameHandler3`: the personality routine named by the unwind tables of
// the precompiled `core` and `alloc`, which are built with unwinding. This
// driver is built with `panic = "abort"`, so no Rust frame ever needs
// cleanup. The stub returns ExceptionContinueSearch (1) for every exception,
// leaving it to the kernel's dispatcher as for any frame without a handler:
// a fault in driver code bug-checks, as it would in a C driver.
core::arch::global_asm!(
    r#".section .text$gpup_cxxframehandler3,"xr""#,
    ".globl __CxxFrameHandler3",
    ".p2align 4",
    "__CxxFrameHandler3:",
    "mov eax, 1",
    "ret",
);
