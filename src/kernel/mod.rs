//! The platform seam: the only code that differs between the places the
//! driver runs. Each backend provides `DxgkInitialize`, debug output
//! ([`trace`]), and on Windows the global allocator and panic handler.
//!
//! | target | feature `wdk` | backend |
//! |---|---|---|
//! | Windows | on (default) | `wdk`: windows-drivers-rs (`wdk-alloc`, `wdk-panic`, `wdk`), displib's `DxgkInitialize` |
//! | Windows | off | `raw`: WDK-free, imports from `ntoskrnl.exe` only, its own displib-style `DxgkInitialize` (`handoff`) |
//! | anything else | (ignored) | `host`: std; `DxgkInitialize` is resolved from whoever loads the driver |
//!
//! Beside the backends, two pieces every platform shares:
//! - [`sync`]: the lock and the atomics, written once (and built also under
//!   `--cfg loom`, where they are loom's: only this module of `kernel` is
//!   built then);
//! - [`KernelInterface`]: the `DXGKRNL_INTERFACE` callbacks a started
//!   adapter calls.
//!
//! No driver logic lives here.

pub(crate) mod sync;

#[cfg(not(loom))]
mod interface;
#[cfg(not(loom))]
pub(crate) use interface::KernelInterface;

#[cfg(all(not(target_os = "windows"), not(loom)))]
mod host;
#[cfg(all(not(target_os = "windows"), not(loom)))]
pub(crate) use host::*;

#[cfg(all(target_os = "windows", feature = "wdk"))]
mod wdk;
#[cfg(all(target_os = "windows", feature = "wdk"))]
pub(crate) use self::wdk::*;

#[cfg(all(target_os = "windows", not(feature = "wdk")))]
#[allow(non_snake_case)]
mod raw;
#[cfg(all(target_os = "windows", not(feature = "wdk")))]
pub(crate) use raw::*;

// Platform-free parts of the `raw` backend, compiled into it and into the
// host tests, which drive them without a kernel.
#[cfg(all(not(loom), any(test, all(target_os = "windows", not(feature = "wdk")))))]
mod handoff;
#[cfg(all(not(loom), any(test, all(target_os = "windows", not(feature = "wdk")))))]
mod line_buffer;
#[cfg(all(not(loom), any(test, all(target_os = "windows", not(feature = "wdk")))))]
mod nt_string;
#[cfg(all(not(loom), any(test, all(target_os = "windows", not(feature = "wdk")))))]
mod pool_block;

/// Debug output through the platform's channel (DbgPrintEx on Windows,
/// stderr on the host when `GPUP_TRACE` is set).
#[macro_export]
#[doc(hidden)]
macro_rules! trace {
    ($($arg:tt)*) => { $crate::kernel::trace(format_args!($($arg)*)) };
}
