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
//!   built then); the lock's Windows primitive, an `ERESOURCE` in a critical
//!   region, is `resource`, shared by the `wdk` and `raw` backends (each
//!   provides its seven routines as `os_lock`), and `docs/locking.md` gives
//!   the locks' order;
//! - [`KernelInterface`]: the `DXGKRNL_INTERFACE` callbacks a started
//!   adapter calls.
//!
//! No driver logic lives here.

pub(crate) mod sync;

// The grace period the lock-free mark path runs in (SRCU-style); built under
// loom too.
pub(crate) mod grace;

// Lazily committed blocks and a fallible shared box (the VRAM backing's
// allocation), written once for every platform; built under loom too.
pub(crate) mod lazy;

// The Windows lock primitive, shared by the `wdk` and `raw` backends.
#[cfg(all(target_os = "windows", not(loom)))]
mod resource;

#[cfg(not(loom))]
pub(crate) mod dma;
#[cfg(not(loom))]
mod interface;
#[cfg(not(loom))]
pub(crate) mod physmap;
#[cfg(not(loom))]
pub(crate) mod worker;
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
#[cfg(all(not(loom), any(test, target_os = "windows")))]
mod line_buffer;
#[cfg(all(not(loom), any(test, target_os = "windows")))]
mod nt_string;
#[cfg(all(not(loom), any(test, all(target_os = "windows", not(feature = "wdk")))))]
mod pool_block;

/// A point inside a DDI where a host test may run code (park a thread on a
/// barrier): deterministic tests of what one DDI's critical section does not
/// block. Only the host backend calls the hook; on Windows
/// `test_hook` is an empty inline function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg(not(loom))]
pub enum HookPoint {
    /// Inside a Restore's last step: the VF's lock held (with the adapter and
    /// partitioning locks shared), the blob decoded, nothing checked yet.
    RestoreLocked {
        /// The `hAdapter` value.
        adapter: usize,
        /// The VF restored.
        vf: u32,
    },
}

/// Calls the test hook, if a host test set one (nothing on Windows).
#[cfg(all(target_os = "windows", not(loom)))]
#[inline(always)]
pub(crate) fn test_hook(_point: HookPoint) {}

/// The component id of every trace line, on both Windows backends:
/// `DPFLTR_IHVVIDEO_ID`, the display drivers' DbgPrintEx component.
#[cfg(any(test, target_os = "windows"))]
pub(crate) const DPFLTR_IHVVIDEO_ID: u32 = 78;
/// The level of every trace line: `DPFLTR_INFO_LEVEL`.
#[cfg(any(test, target_os = "windows"))]
pub(crate) const DPFLTR_INFO_LEVEL: u32 = 3;

/// The largest alignment the Windows pool allocators give by themselves
/// (`MEMORY_ALLOCATION_ALIGNMENT` on x64), and the guard on it.
#[cfg(all(not(loom), any(test, all(target_os = "windows", feature = "wdk"))))]
pub(crate) mod align_guard {
    use core::alloc::Layout;

    /// `MEMORY_ALLOCATION_ALIGNMENT` on x64.
    pub(crate) const POOL_ALIGNMENT: usize = 16;

    /// Whether a pool block (16-byte aligned) serves `layout`: the `wdk`
    /// backend's allocator refuses (NULL) the layouts that do not fit.
    pub(crate) fn fits(layout: Layout) -> bool {
        layout.align() <= POOL_ALIGNMENT
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn layouts_above_the_pool_alignment_are_refused() {
            let at = |align| Layout::from_size_align(64, align).unwrap();
            assert!(fits(at(8)) && fits(at(16)));
            assert!(!fits(at(32)) && !fits(at(4096)));
        }

        #[test]
        fn both_windows_backends_trace_on_the_display_component() {
            // dpfilter.h: DPFLTR_IHVVIDEO_ID = 78, DPFLTR_INFO_LEVEL = 3; the
            // `wdk` and `raw` backends both pass these two constants.
            assert_eq!(
                (
                    super::super::DPFLTR_IHVVIDEO_ID,
                    super::super::DPFLTR_INFO_LEVEL
                ),
                (78, 3)
            );
        }
    }
}

/// Debug output through the platform's channel (DbgPrintEx on Windows,
/// stderr on the host when `GPUP_TRACE` is set).
#[macro_export]
#[doc(hidden)]
macro_rules! trace {
    ($($arg:tt)*) => { $crate::kernel::trace(format_args!($($arg)*)) };
}
