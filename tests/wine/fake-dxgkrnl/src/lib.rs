//! A fake DXGKrnl for the Wine smoke test (`cargo xtask wine-smoke`): a test
//! fixture, never part of the driver package.
//!
//! Built for `x86_64-pc-windows-msvc` with the miniport's WDK-free recipe, it
//! is a kernel driver that Wine's `winedevice.exe` loads when the real
//! `gpup_miniport.sys`'s `DxgkInitialize` calls `ZwLoadDriver` on the DXGKrnl
//! service. It then plays the part of Dxgkrnl, in the same process:
//!
//! 1. `DriverEntry` creates `\Device\DxgKrnl` (`FILE_DEVICE_VIDEO`) and
//!    answers the internal device control `IOCTL_VIDEO_DDI_FUNC_REGISTER`
//!    (0x23003F, METHOD_NEITHER) with the address of its own initialization
//!    routine ([`fixture::dxgk_initialize`]);
//! 2. because Wine 8's `IoGetDeviceObjectPointer` is a stub (it returns a
//!    device of its own with no dispatch routines and no file object), it
//!    redirects that one Wine function to a lookup of its own device
//!    (`driver::redirect`, test fixture only);
//! 3. its initialization routine checks the miniport's
//!    `DRIVER_INITIALIZATION_DATA` and drives the miniport through the table,
//!    in the Windows calling convention, one log line per check, the last
//!    line `N passed, M failed` ([`fixture`]).
//!
//! Registered under any other service name, the image is only a placeholder
//! that holds the address its drivers are linked for ([`role`]), so that the
//! miniport runs relocated, as every driver does on Windows.
//!
//! The check sequence ([`fixture`], [`tally`]) is platform-free: on the host
//! it runs against the host build of the miniport (the tests below), so a
//! change to the DDIs that breaks it shows in `cargo test` before Wine runs.

#![cfg_attr(target_os = "windows", no_std)]
// WDK names for WDK structures and callback parameters.
#![allow(non_snake_case)]
// The fixture's code runs inside the process that hosts the miniport under
// Wine: no panics there either.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

pub mod fixture;
pub mod jump;
/// The slots Dxgkrnl requires, the model's own file (the fixture's table
/// check and the start rules name it).
#[path = "../../../../dxgkrnl-model/src/mandatory_slots.rs"]
mod mandatory_slots;
pub mod role;
pub mod start;
pub mod start_checks;
pub mod tally;

#[cfg(target_os = "windows")]
mod driver;
#[cfg(target_os = "windows")]
mod kernel;
