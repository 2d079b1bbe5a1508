//! `cargo xtask package`: the WDK-free driver package, built on any host.
//!
//! 1. builds `gpup_miniport.sys` in release for `x86_64-pc-windows-msvc`
//!    with the `raw` kernel backend (`--no-default-features`), linked by the
//!    toolchain's `rust-lld` (the link arguments come from `build.rs`);
//! 2. checks the image ([`crate::pe`]), shows that every corrupted copy of
//!    it is rejected ([`crate::corrupt`]), and compares its import list with
//!    `llvm-readobj`'s;
//! 3. stamps `inf/gpup_miniport.inx` into `gpup_miniport.inf` ([`crate::inf`]);
//! 4. test-signs the image with a throwaway certificate and verifies the
//!    signature ([`crate::sign`]), then checks the signed image again.
//!
//! Output: `target/x86_64-pc-windows-msvc/release/gpup_miniport_package/`
//! with `gpup_miniport.sys`, `gpup_miniport.inf`, `gpup_miniport.cer` (the
//! public test certificate) and `gpup_miniport.pdb`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::pe::{ImagePolicy, check_image};
use crate::{corrupt, inf, sign, tool};

/// The Windows target of the kernel image.
pub const TARGET: &str = "x86_64-pc-windows-msvc";

/// What the miniport's image must import (all from `ntoskrnl.exe`).
pub const MINIPORT: ImagePolicy = ImagePolicy {
    entry_symbol: "DriverEntry",
    import_dll: "ntoskrnl.exe",
    // DriverEntry's hand-off to Dxgkrnl, the pool-routine lookup and the trace.
    required_imports: &[
        "DbgPrintEx",
        "IoBuildDeviceIoControlRequest",
        "IoGetDeviceObjectPointer",
        "IofCallDriver",
        "KeInitializeEvent",
        "KeWaitForSingleObject",
        "MmGetSystemRoutineAddress",
        "ObfDereferenceObject",
        "ZwLoadDriver",
        "ZwUnloadDriver",
    ],
    // Linked only if used: the pool allocator (once the driver allocates),
    // the panic handler (if any panic path survives optimisation), and the
    // memory routines the compiler calls. ExAllocatePool2 is never imported:
    // it is looked up at load time, so the image also loads where it is absent.
    optional_imports: &[
        "ExAllocatePoolWithTag",
        "ExFreePoolWithTag",
        "KeBugCheckEx",
        "memcmp",
        "memcpy",
        "memmove",
        "memset",
    ],
};

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
    if !rustc_args.is_empty() {
        command.arg("--").args(rustc_args);
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if !status.success() {
        return Err(format!("building {package} for {TARGET} failed ({status})"));
    }
    let image = target_dir
        .map_or_else(|| target_dir_of(root), Path::to_path_buf)
        .join(TARGET)
        .join("release")
        .join(format!("{lib_name}.dll"));
    if !image.is_file() {
        return Err(format!("the build produced no {}", image.display()));
    }
    Ok(image)
}

/// The import list as `llvm-readobj --coff-imports` reads it: `dll!name`.
fn readobj_imports(image: &Path) -> Result<Vec<String>, String> {
    let output = tool::run("llvm-readobj", &["--coff-imports", tool::path_str(image)?])?;
    let mut dll = String::new();
    let mut imports = Vec::new();
    for line in output.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("Name: ") {
            dll = name.to_owned();
        } else if let Some(symbol) = line.strip_prefix("Symbol: ") {
            let name = symbol.split(" (").next().unwrap_or(symbol);
            imports.push(format!("{dll}!{name}"));
        }
    }
    Ok(imports)
}

/// Counts of each entry, to compare two lists regardless of order.
fn multiset(items: &[String]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for item in items {
        *counts.entry(item.as_str()).or_insert(0) += 1;
    }
    counts
}

/// Checks one image file and prints its report.
///
/// # Errors
/// If any check fails.
pub fn check_file(image: &Path, policy: &ImagePolicy) -> Result<crate::pe::Report, String> {
    let data = fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
    let report = check_image(&data, policy);
    print!("{}", report.render(&image.display().to_string()));
    if !report.passed() {
        return Err(format!(
            "{} fails the kernel-image checks: {:?}",
            image.display(),
            report.failed()
        ));
    }
    Ok(report)
}

/// `cargo xtask package`.
///
/// # Errors
/// The first step that failed.
pub fn run() -> Result<(), String> {
    let root = workspace_root();
    println!("==> building gpup_miniport.sys ({TARGET}, release, raw backend, rust-lld)");
    let image = build_kernel_image(&root, "gpup-miniport", "gpup_miniport")?;
    let out_dir = image
        .parent()
        .ok_or("image has no parent directory")?
        .to_path_buf();

    println!("==> checking the image (unsigned; cargo names it .dll)");
    let report = check_file(&image, &MINIPORT)?;
    let data = fs::read(&image).map_err(|e| e.to_string())?;
    if crate::wine_smoke::is_broken_variant(&data) {
        return Err(format!(
            "{} is the Wine smoke test's deliberately broken variant (it holds {:?}): refusing to package it",
            image.display(),
            crate::wine_smoke::BROKEN_MARKER
        ));
    }
    println!("  not the Wine smoke test's broken variant");
    for line in corrupt::self_test(&data, &MINIPORT)? {
        println!("  {line}");
    }
    let readobj = readobj_imports(&image)?;
    if multiset(&readobj) != multiset(&report.imports) {
        return Err(format!(
            "llvm-readobj sees other imports than the checker:\n  llvm-readobj: {readobj:?}\n  checker:      {:?}",
            report.imports
        ));
    }
    println!(
        "  llvm-readobj --coff-imports agrees: {} imports",
        readobj.len()
    );

    let package = out_dir.join("gpup_miniport_package");
    if package.exists() {
        fs::remove_dir_all(&package).map_err(|e| format!("{}: {e}", package.display()))?;
    }
    fs::create_dir_all(&package).map_err(|e| format!("{}: {e}", package.display()))?;

    println!("==> stamping inf/gpup_miniport.inx");
    let template_path = root.join("inf").join("gpup_miniport.inx");
    let template = fs::read_to_string(&template_path)
        .map_err(|e| format!("{}: {e}", template_path.display()))?;
    // xtask shares the workspace version with the driver.
    let stamp = inf::Stamp::now(env!("CARGO_PKG_VERSION"), "amd64", "gpup_miniport.cat")?;
    let inf_text = inf::stamp(&template, &stamp)?;
    fs::write(package.join("gpup_miniport.inf"), inf_text).map_err(|e| e.to_string())?;
    println!(
        "  DriverVer = {}, NTamd64, CatalogFile = {}",
        stamp.driver_ver(),
        stamp.catalog
    );

    println!("==> test-signing");
    let signing = out_dir.join("gpup_miniport_signing");
    if signing.exists() {
        fs::remove_dir_all(&signing).map_err(|e| format!("{}: {e}", signing.display()))?;
    }
    fs::create_dir_all(&signing).map_err(|e| e.to_string())?;
    let cert = sign::make_certificate(&signing)?;
    let signed = package.join("gpup_miniport.sys");
    let signed_result = sign::sign(&cert, &image, &signed);
    // The key signs this one image and is never kept.
    fs::remove_file(&cert.key_pem).map_err(|e| format!("{}: {e}", cert.key_pem.display()))?;
    signed_result?;
    sign::export_der(&cert, &package.join("gpup_miniport.cer"))?;
    for line in sign::verify(&signed, &cert.cert_pem)? {
        println!("  osslsigncode verify: {line}");
    }

    let text = crate::pe::section_file_offset(&data, b".text").ok_or("the image has no .text")?;
    sign::verify_rejects_tampered(
        &signed,
        &cert.cert_pem,
        &signing.join("tampered.sys"),
        text + 0x10,
    )?;
    println!("  osslsigncode verify rejects a copy with one .text byte changed");

    println!("==> checking the signed image");
    let signed_report = check_file(&signed, &MINIPORT)?;

    let pdb = out_dir.join("gpup_miniport.pdb");
    if pdb.is_file() {
        fs::copy(&pdb, package.join("gpup_miniport.pdb")).map_err(|e| e.to_string())?;
    }

    println!("==> package: {}", package.display());
    let mut entries: Vec<_> = fs::read_dir(&package)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        println!(
            "  {:<22} {size:>8} bytes",
            entry.file_name().to_string_lossy()
        );
    }
    println!(
        "  image: {} bytes unsigned, {} signed; {} imports, all from ntoskrnl.exe",
        report.size,
        signed_report.size,
        report.imports.len()
    );
    println!("  no .cat: inf2cat (Windows only) makes the catalog; see README");
    Ok(())
}
