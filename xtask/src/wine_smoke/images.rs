//! The kernel images against Wine: the kernel-image checks, and their
//! imports against the exports of Wine's `ntoskrnl.exe`.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use object::read::pe::PeFile64;

use crate::pe::{ImagePolicy, check_image};

/// What the fake DXGKrnl's image must import (all from `ntoskrnl.exe`).
pub const FAKE_DXGKRNL: ImagePolicy = ImagePolicy {
    entry_symbol: "DriverEntry",
    import_dll: "ntoskrnl.exe",
    required_imports: &[
        "DbgPrint",
        "IoCreateDevice",
        "IoDeleteDevice",
        "IofCompleteRequest",
        "MmGetSystemRoutineAddress",
        "ObfReferenceObject",
        "RtlEqualUnicodeString",
        "ZwProtectVirtualMemory",
    ],
    optional_imports: &["KeBugCheckEx", "memcmp", "memcpy", "memmove", "memset"],
};

/// The names `ntoskrnl` exports (forwarders included).
pub fn exports_of(ntoskrnl: &Path) -> Result<BTreeSet<String>, String> {
    let data = fs::read(ntoskrnl).map_err(|e| format!("{}: {e}", ntoskrnl.display()))?;
    let file = PeFile64::parse(&*data).map_err(|e| format!("{}: {e}", ntoskrnl.display()))?;
    let table = file
        .export_table()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{} has no export table", ntoskrnl.display()))?;
    let exports = table.exports().map_err(|e| e.to_string())?;
    Ok(exports
        .into_iter()
        .filter_map(|e| e.name.map(|n| String::from_utf8_lossy(n).into_owned()))
        .collect())
}

/// The imports (`dll!name`) of `imports` that `exports` lacks.
fn missing_imports(imports: &[String], exports: &BTreeSet<String>) -> Vec<String> {
    imports
        .iter()
        .filter(|import| {
            let name = import.rsplit('!').next().unwrap_or(import);
            !exports.contains(name)
        })
        .cloned()
        .collect()
}

/// Checks one image, and compares its imports with Wine's exports.
pub fn checked_image(
    label: &str,
    image: &Path,
    policy: &ImagePolicy,
    exports: &BTreeSet<String>,
) -> Result<(), String> {
    let data = fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
    let report = check_image(&data, policy);
    if !report.passed() {
        return Err(format!(
            "{} fails the kernel-image checks:\n{}",
            image.display(),
            report.render(&image.display().to_string())
        ));
    }
    let missing = missing_imports(&report.imports, exports);
    if !missing.is_empty() {
        return Err(format!(
            "{} imports {} function(s) that Wine's ntoskrnl.exe does not export: {}",
            image.display(),
            missing.len(),
            missing.join(", ")
        ));
    }
    println!(
        "  {label}: {} bytes, kernel-image checks pass; all {} imports exported by Wine's ntoskrnl.exe",
        report.size,
        report.imports.len()
    );
    Ok(())
}

/// Where an image was linked to run: `ImageBase` and `SizeOfImage`.
pub fn linked_range(image: &Path) -> Result<(u64, u64), String> {
    use object::read::pe::{ImageNtHeaders, ImageOptionalHeader};
    let data = fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
    let file = PeFile64::parse(&*data).map_err(|e| format!("{}: {e}", image.display()))?;
    let optional = file.nt_headers().optional_header();
    Ok((optional.image_base(), u64::from(optional.size_of_image())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_missing_from_wine_are_listed() {
        let exports: BTreeSet<String> = ["IoCreateDevice", "DbgPrint"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let imports = [
            "ntoskrnl.exe!IoCreateDevice".to_owned(),
            "ntoskrnl.exe!ExAllocatePool2".to_owned(),
        ];
        assert_eq!(
            missing_imports(&imports, &exports),
            ["ntoskrnl.exe!ExAllocatePool2"]
        );
    }
}
