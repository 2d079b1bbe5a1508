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
//! public test certificate, DER, for Windows), `gpup_miniport.pem` (the same
//! certificate in PEM, for `osslsigncode verify -CAfile`) and
//! `gpup_miniport.pdb`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::kernel_image::{
    BROKEN_MARKER, TARGET, build_kernel_image, is_broken_variant, workspace_root,
};
use crate::pe::{ImagePolicy, check_image};
use crate::{corrupt, inf, sign, stack, tool};

/// What the miniport's image must import (all from `ntoskrnl.exe`).
pub const MINIPORT: ImagePolicy = ImagePolicy {
    entry_symbol: "DriverEntry",
    import_dll: "ntoskrnl.exe",
    // DriverEntry's hand-off to Dxgkrnl, the pool-routine lookup, the trace,
    // the lock (`kernel::resource`: an ERESOURCE in a critical region), the
    // software engine's worker thread and MDL mapping (`kernel::worker`,
    // `kernel::dma`), and the grace period of the lock-free marks
    // (`kernel::grace`: the stripe's processor number, the wait's delay;
    // both exported by Wine's ntoskrnl.exe too).
    required_imports: &[
        "DbgPrintEx",
        "ExAcquireResourceExclusiveLite",
        "ExAcquireResourceSharedLite",
        "ExDeleteResourceLite",
        "ExInitializeResourceLite",
        "ExReleaseResourceLite",
        "IoBuildDeviceIoControlRequest",
        "IoGetDeviceObjectPointer",
        "IofCallDriver",
        "KeDelayExecutionThread",
        "KeEnterCriticalRegion",
        "KeGetCurrentProcessorNumberEx",
        "KeInitializeEvent",
        "KeLeaveCriticalRegion",
        "KeSetEvent",
        "KeWaitForSingleObject",
        "MmGetSystemRoutineAddress",
        "MmMapLockedPagesSpecifyCache",
        "ObfDereferenceObject",
        "PsCreateSystemThread",
        "ZwClose",
        "ZwLoadDriver",
        "ZwUnloadDriver",
        "ZwWaitForSingleObject",
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
    let stack = check_stack(image, &data)?;
    if !stack.passed() {
        return Err(format!(
            "{} fails the stack check:\n  {}",
            image.display(),
            stack.failures.join("\n  ")
        ));
    }
    Ok(report)
}

/// The linker map `rust-lld` wrote beside `image` (same name, `.map`).
pub fn map_beside(image: &Path) -> PathBuf {
    image.with_extension("map")
}

/// Runs the stack check on `image` (whose bytes are `data`) with the linker
/// map beside it, and prints its report.
///
/// # Errors
/// If the map is missing or the image cannot be analysed (a failed check is
/// returned in the report).
pub fn check_stack(image: &Path, data: &[u8]) -> Result<stack::StackReport, String> {
    let map_path = map_beside(image);
    let map = fs::read_to_string(&map_path).map_err(|e| {
        format!(
            "{}: {e} (the stack check names functions from the linker map beside the image; cargo xtask package writes it)",
            map_path.display()
        )
    })?;
    let report = stack::check(data, &map, &stack::LIMITS, stack::ALLOWED)?;
    print!("{}", stack::render(&report));
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
    let (report, data) = check_unsigned(&image)?;

    let package = out_dir.join("gpup_miniport_package");
    if package.exists() {
        fs::remove_dir_all(&package).map_err(|e| format!("{}: {e}", package.display()))?;
    }
    fs::create_dir_all(&package).map_err(|e| format!("{}: {e}", package.display()))?;

    println!("==> stamping inf/gpup_miniport.inx");
    stamp_inf(&root, &package)?;

    println!("==> test-signing");
    let signed = test_sign(&image, &data, &out_dir, &package)?;

    // The stack check of the signed image reads the map beside it.
    fs::copy(map_beside(&image), map_beside(&signed))
        .map_err(|e| format!("copying the linker map: {e}"))?;
    println!("==> checking the signed image");
    let signed_report = check_file(&signed, &MINIPORT)?;

    let pdb = out_dir.join("gpup_miniport.pdb");
    if pdb.is_file() {
        fs::copy(&pdb, package.join("gpup_miniport.pdb")).map_err(|e| e.to_string())?;
    }

    println!("==> package: {}", package.display());
    list_package(&package)?;
    println!(
        "  image: {} bytes unsigned, {} signed; {} imports, all from ntoskrnl.exe",
        report.size,
        signed_report.size,
        report.imports.len()
    );
    println!("  no .cat: inf2cat (Windows only) makes the catalog; see docs/windows.md");
    Ok(())
}

/// Checks the unsigned image: the kernel-image checks, not the Wine smoke
/// test's broken variant, every corrupted copy rejected, and the same imports
/// as `llvm-readobj` sees. Returns the report and the image's bytes.
fn check_unsigned(image: &Path) -> Result<(crate::pe::Report, Vec<u8>), String> {
    let report = check_file(image, &MINIPORT)?;
    let data = fs::read(image).map_err(|e| e.to_string())?;
    if is_broken_variant(&data) {
        return Err(format!(
            "{} is the Wine smoke test's deliberately broken variant (it holds {:?}): refusing to package it",
            image.display(),
            BROKEN_MARKER
        ));
    }
    println!("  not the Wine smoke test's broken variant");
    for line in corrupt::self_test(&data, &MINIPORT)? {
        println!("  {line}");
    }
    println!(
        "==> the stack check rejects a deliberately broken build (--cfg {}, own target directory)",
        stack::demo::CFG
    );
    for line in stack::demo::demonstrate(&workspace_root())? {
        println!("  {line}");
    }
    let readobj = readobj_imports(image)?;
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
    Ok((report, data))
}

/// Stamps `inf/gpup_miniport.inx` into `package/gpup_miniport.inf`, and
/// checks its setup class (ComputeAccelerator, [`inf::check_class`]).
fn stamp_inf(root: &Path, package: &Path) -> Result<(), String> {
    let template_path = root.join("inf").join("gpup_miniport.inx");
    let template = fs::read_to_string(&template_path)
        .map_err(|e| format!("{}: {e}", template_path.display()))?;
    // xtask shares the workspace version with the driver.
    let stamp = inf::Stamp::now(env!("CARGO_PKG_VERSION"), "amd64", "gpup_miniport.cat")?;
    let inf_text = inf::stamp(&template, &stamp)?;
    inf::check_class(&inf_text).map_err(|e| format!("gpup_miniport.inf: {e}"))?;
    fs::write(package.join("gpup_miniport.inf"), inf_text).map_err(|e| e.to_string())?;
    println!(
        "  DriverVer = {}, NTamd64, CatalogFile = {}, Class = {} {}",
        stamp.driver_ver(),
        stamp.catalog,
        inf::CLASS,
        inf::CLASS_GUID
    );
    Ok(())
}

/// Test-signs `image` (whose bytes are `data`) into `package` with a
/// throwaway certificate, verifies the signature and shows that a tampered
/// copy fails it. Returns the signed image's path.
fn test_sign(image: &Path, data: &[u8], out_dir: &Path, package: &Path) -> Result<PathBuf, String> {
    let signing = out_dir.join("gpup_miniport_signing");
    if signing.exists() {
        fs::remove_dir_all(&signing).map_err(|e| format!("{}: {e}", signing.display()))?;
    }
    fs::create_dir_all(&signing).map_err(|e| e.to_string())?;
    let cert = sign::make_certificate(&signing)?;
    let signed = package.join("gpup_miniport.sys");
    let signed_result = sign::sign(&cert, image, &signed);
    // The key signs this one image and is never kept.
    fs::remove_file(&cert.key_pem).map_err(|e| format!("{}: {e}", cert.key_pem.display()))?;
    signed_result?;
    sign::export_der(&cert, &package.join("gpup_miniport.cer"))?;
    // The same certificate in PEM, which `osslsigncode verify -CAfile`
    // needs: the shipped copy is the one the signature is verified against.
    let pem = package.join("gpup_miniport.pem");
    fs::copy(&cert.cert_pem, &pem).map_err(|e| format!("{}: {e}", pem.display()))?;
    for line in sign::verify(&signed, &pem)? {
        println!("  osslsigncode verify: {line}");
    }

    let text = crate::pe::section_file_offset(data, b".text").ok_or("the image has no .text")?;
    sign::verify_rejects_tampered(
        &signed,
        &cert.cert_pem,
        &signing.join("tampered.sys"),
        text + 0x10,
    )?;
    println!("  osslsigncode verify rejects a copy with one .text byte changed");
    Ok(signed)
}

/// Prints the package's files and their sizes.
fn list_package(package: &Path) -> Result<(), String> {
    let mut entries: Vec<_> = fs::read_dir(package)
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
    Ok(())
}
