//! Host backend (std): the driver as a Linux library for tests, the simulator
//! and benchmarks.
//!
//! `DxgkInitialize` is an external symbol, exactly as displib's is for the
//! Windows image: `dxgkrnl-model` defines it with `#[no_mangle]`, and any other
//! program that defines it can load `libgpup_miniport.so` and call its
//! exported `DriverEntry`.

use dxgk_sys::{DRIVER_INITIALIZATION_DATA, NTSTATUS, PDRIVER_OBJECT, UNICODE_STRING};

unsafe extern "system" {
    /// Hands the DDI table to the Dxgkrnl stand-in that loaded the driver.
    pub(crate) fn DxgkInitialize(
        DriverObject: PDRIVER_OBJECT,
        RegistryPath: *mut UNICODE_STRING,
        DriverInitializationData: *mut DRIVER_INITIALIZATION_DATA,
    ) -> NTSTATUS;
}

/// Writes a trace line to stderr when the `GPUP_TRACE` environment variable is set.
///
/// Straight to the stderr handle, not `eprintln!`: the macro panics when the
/// write fails (a closed pipe, say), and inside a test harness it appends to
/// the harness's capture buffer, an allocation that aborts the process when
/// it fails. Neither may happen on a DDI path; a lost trace line is harmless.
/// The variable is read once, by DriverEntry's first trace line (reading it
/// allocates only when it is set).
pub(crate) fn trace(args: core::fmt::Arguments<'_>) {
    use std::io::Write;
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ENABLED.get_or_init(|| std::env::var_os("GPUP_TRACE").is_some()) {
        let _ = writeln!(std::io::stderr().lock(), "gpup_miniport: {args}");
    }
}

/// A host test's hook (`crate::host::set_test_hook`).
pub(crate) type TestHook = Box<dyn Fn(crate::kernel::HookPoint) + Send + Sync>;

/// The hook, if a test set one. A std lock (host only): read on every call.
static TEST_HOOK: std::sync::RwLock<Option<TestHook>> = std::sync::RwLock::new(None);

/// Replaces the test hook.
pub(crate) fn set_test_hook(hook: Option<TestHook>) {
    *TEST_HOOK
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = hook;
}

/// Calls the test hook, if one is set.
pub(crate) fn test_hook(point: crate::kernel::HookPoint) {
    let hook = TEST_HOOK
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(hook) = hook.as_ref() {
        hook(point);
    }
}

/// The host's performance counter: nanoseconds since the first call, at
/// 1 GHz (the stand-in for `KeQueryPerformanceCounter`).
#[allow(clippy::unnecessary_wraps)] // The Windows backends may have none.
pub(crate) fn performance_counter() -> Option<(u64, u64)> {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    Some((nanos, 1_000_000_000))
}
