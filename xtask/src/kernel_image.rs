//! Building a kernel image with the WDK-free recipe (`cargo rustc` for
//! `x86_64-pc-windows-msvc`, linked by `rust-lld`), and telling the Wine
//! smoke test's deliberately broken variant from the real image: both
//! `cargo xtask package` and `cargo xtask wine-smoke` build with it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Windows target of the kernel image.
pub const TARGET: &str = "x86_64-pc-windows-msvc";

/// Text that only the broken variant's image holds (its trace line), which
/// `cargo xtask package` refuses to find in the image it ships.
pub const BROKEN_MARKER: &str = "gpup_wine_smoke_broken";

/// Whether `image` is the broken variant (holds [`BROKEN_MARKER`]).
pub fn is_broken_variant(image: &[u8]) -> bool {
    let marker = BROKEN_MARKER.as_bytes();
    image.windows(marker.len()).any(|w| w == marker)
}

/// The workspace root (the driver package).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Cargo's target directory, as cargo resolves it from the environment.
pub fn target_dir_of(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .or_else(|| std::env::var_os("CARGO_BUILD_TARGET_DIR"))
        .map_or_else(|| root.join("target"), PathBuf::from)
}

/// Builds the cdylib of `package` as a kernel image and returns the path of
/// the linked image (named `.dll` by cargo).
///
/// `cargo rustc --crate-type cdylib` builds only the cdylib (the package also
/// declares an rlib for the host tests), which lets the release profile's
/// LTO apply. `rust-lld` comes with the toolchain; `build.rs` supplies the
/// kernel link arguments when it sees it configured.
///
/// # Errors
/// If the build fails.
pub fn build_kernel_image(root: &Path, package: &str, lib_name: &str) -> Result<PathBuf, String> {
    build_kernel_image_with(root, package, lib_name, None, &[])
}

/// [`build_kernel_image`] into `target_dir` (cargo's default when `None`),
/// with `rustc_args` passed to the compilation of `package` itself (not of
/// its dependencies), e.g. a `--cfg` that selects a test-only variant, which
/// then never shares the default target directory with the real image.
///
/// # Errors
/// If the build fails.
pub fn build_kernel_image_with(
    root: &Path,
    package: &str,
    lib_name: &str,
    target_dir: Option<&Path>,
    rustc_args: &[&str],
) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(&cargo);
    command
        .current_dir(root)
        .env("CARGO_TARGET_X86_64_PC_WINDOWS_MSVC_LINKER", "rust-lld")
        .args([
            "rustc",
            "--locked",
            "--release",
            "--package",
            package,
            "--lib",
        ])
        .args([
            "--crate-type",
            "cdylib",
            "--target",
            TARGET,
            "--no-default-features",
        ]);
    if let Some(dir) = target_dir {
        command.env("CARGO_TARGET_DIR", dir);
    }
    let out_dir = target_dir
        .map_or_else(|| target_dir_of(root), Path::to_path_buf)
        .join(TARGET)
        .join("release");
    // The linker map beside the image: the names of the stack check
    // (`crate::stack`), from the same link as the image.
    let map_arg = format!(
        "link-arg=/MAP:{}",
        out_dir.join(format!("{lib_name}.map")).display()
    );
    command.args(["--", "-C", &map_arg]).args(rustc_args);
    let status = command
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if !status.success() {
        return Err(format!("building {package} for {TARGET} failed ({status})"));
    }
    let image = out_dir.join(format!("{lib_name}.dll"));
    if !image.is_file() {
        return Err(format!("the build produced no {}", image.display()));
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_broken_variant_is_recognised_by_its_marker() {
        assert!(is_broken_variant(
            b"..gpup_miniport: gpup_wine_smoke_broken: Destroy.."
        ));
        assert!(!is_broken_variant(b"gpup_miniport: DriverEntry"));
    }
}
