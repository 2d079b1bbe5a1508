//! Build script of the driver.
//!
//! - Windows target with the `wdk` feature: the WDK build of windows-drivers-rs
//!   (`wdk_build::configure_wdk_binary_build`) and displib.lib.
//! - Windows target without it (the WDK-free build, `cargo xtask package`):
//!   the link arguments that make the cdylib a kernel-mode image.
//! - Any other target (the Linux host): nothing.
//!
//! The target is read from `CARGO_CFG_TARGET_OS`, not `cfg!(windows)`, which
//! describes the host the script runs on.

use std::env;

/// Link arguments of the WDK-free kernel image, for `lld-link` (the
/// toolchain's `rust-lld`) and MSVC's `link.exe` alike. Public, like
/// [`LLD_NON_PAGED_SECTIONS`], for the build script of the Wine smoke test's
/// fake DXGKrnl (`tests/wine/fake-dxgkrnl/build.rs`), which includes this file.
pub const KERNEL_IMAGE: &[&str] = &[
    // No CRT, no default libraries: every import is a raw-dylib ntoskrnl one.
    "/NODEFAULTLIB",
    // A kernel-mode image for Windows 10 and later.
    "/SUBSYSTEM:NATIVE,10.0",
    "/DRIVER",
    "/ENTRY:DriverEntry",
    // Write the PE checksum, which the kernel's loader checks for drivers.
    "/RELEASE",
];

/// Section attributes that `link.exe /DRIVER` implies but `lld-link` does not
/// set: lld's `/SECTION:name,P` sets IMAGE_SCN_MEM_NOT_PAGED (in link.exe
/// `P` means the opposite, pageable, so these are passed to lld only).
/// `.text` stays execute+read, the data sections read(+write).
pub const LLD_NON_PAGED_SECTIONS: &[&str] = &[
    "/SECTION:.text,ERP",
    "/SECTION:.rdata,RP",
    "/SECTION:.data,RWP",
    "/SECTION:.pdata,RP",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo::rerun-if-changed=build.rs");
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os != "windows" {
        return Ok(());
    }
    if env::var_os("CARGO_FEATURE_WDK").is_some() {
        wdk_image()?;
        return Ok(());
    }
    println!("cargo::rerun-if-env-changed=RUSTC_LINKER");
    // Cargo passes the configured linker (`cargo xtask package` configures
    // `rust-lld`); with none configured, rustc would use link.exe.
    let linker = env::var("RUSTC_LINKER").unwrap_or_default();
    let is_lld = std::path::Path::new(&linker)
        .file_stem()
        .and_then(|stem| stem.to_str())
        .is_some_and(|stem| stem.contains("lld"));
    for arg in KERNEL_IMAGE {
        println!("cargo::rustc-cdylib-link-arg={arg}");
    }
    if is_lld {
        for arg in LLD_NON_PAGED_SECTIONS {
            println!("cargo::rustc-cdylib-link-arg={arg}");
        }
    }
    Ok(())
}

/// The WDK build (Windows host with the WDK only).
#[cfg(all(windows, feature = "wdk"))]
fn wdk_image() -> Result<(), Box<dyn std::error::Error>> {
    wdk_build::configure_wdk_binary_build()?;
    // displib.lib provides DxgkInitialize, the hand-off to Dxgkrnl.
    println!("cargo::rustc-link-lib=static=displib");
    Ok(())
}

/// The `wdk` feature on a host without `wdk-build` (it only builds on
/// Windows): nothing can be configured.
#[cfg(not(all(windows, feature = "wdk")))]
fn wdk_image() -> Result<(), Box<dyn std::error::Error>> {
    Err(
        "the `wdk` feature needs a Windows host with the WDK; on other hosts build with \
         --no-default-features (the WDK-free backend, `cargo xtask package`)"
            .into(),
    )
}
