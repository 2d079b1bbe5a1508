//! The kernel-image checker: reads a built `.sys` with the `object` crate and
//! fails unless it is the image the Windows kernel loader expects from this
//! project (see [`Check`] for the list).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use object::LittleEndian as LE;
use object::pe;
use object::read::pe::{ExportTarget, ImageNtHeaders, ImageOptionalHeader, Import, PeFile64};

#[cfg(test)]
pub mod testimage;

/// One property of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    /// PE signature and a PE32+ optional header (magic 0x20b).
    Format,
    /// `IMAGE_FILE_MACHINE_AMD64`.
    Machine,
    /// `IMAGE_SUBSYSTEM_NATIVE`.
    Subsystem,
    /// Subsystem version 10.0 or later.
    SubsystemVersion,
    /// The entry point is the exported entry symbol, in an executable section.
    EntryPoint,
    /// Imports only from the policy's DLL, by name, only expected functions,
    /// all required ones present; no delay-load imports.
    Imports,
    /// No reference to a user-mode runtime DLL anywhere in the file.
    ForbiddenReferences,
    /// Base relocations present (the kernel relocates every driver).
    Relocations,
    /// A non-zero PE checksum equal to the one computed over the file.
    Checksum,
    /// `.text`, `.rdata` and `.data` present and not pageable.
    NonPaged,
    /// No section both writable and executable.
    WritableExecutable,
}

impl Check {
    /// Every check, in report order.
    pub const ALL: [Self; 11] = [
        Self::Format,
        Self::Machine,
        Self::Subsystem,
        Self::SubsystemVersion,
        Self::EntryPoint,
        Self::Imports,
        Self::ForbiddenReferences,
        Self::Relocations,
        Self::Checksum,
        Self::NonPaged,
        Self::WritableExecutable,
    ];

    /// What the check requires, for the report.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Format => "PE32+ image",
            Self::Machine => "machine AMD64",
            Self::Subsystem => "subsystem NATIVE",
            Self::SubsystemVersion => "subsystem version >= 10.0",
            Self::EntryPoint => "entry point = exported entry symbol",
            Self::Imports => "imports: expected functions only",
            Self::ForbiddenReferences => "no msvcrt/vcruntime/ucrt/api-ms/kernel32",
            Self::Relocations => "base relocations present",
            Self::Checksum => "valid PE checksum",
            Self::NonPaged => ".text/.rdata/.data not pageable",
            Self::WritableExecutable => "no writable+executable section",
        }
    }
}

/// What a given kernel image must import and export.
#[derive(Debug, Clone, Copy)]
pub struct ImagePolicy {
    /// The exported symbol the entry point must be (`DriverEntry`).
    pub entry_symbol: &'static str,
    /// The only DLL imports may come from (`ntoskrnl.exe`).
    pub import_dll: &'static str,
    /// Functions the image must import.
    pub required_imports: &'static [&'static str],
    /// Functions the image may import (used by code the compiler may or may
    /// not keep, such as the allocator or the panic handler).
    pub optional_imports: &'static [&'static str],
}

/// Substrings naming user-mode runtime DLLs, which a kernel image must never
/// reference (compared case-insensitively).
pub const FORBIDDEN: &[&str] = &["msvcrt", "vcruntime", "ucrt", "api-ms-", "kernel32"];

/// The outcome of one [`Check`].
#[derive(Debug, Clone)]
pub struct Finding {
    /// Which check.
    pub check: Check,
    /// Whether the image passed it.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// The result of checking one image.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// File size in bytes.
    pub size: usize,
    /// Imported functions as `dll!name`, in import-table order.
    pub imports: Vec<String>,
    /// One finding per check that could be run.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether every check ran and passed.
    pub fn passed(&self) -> bool {
        let ran: Vec<Check> = self.findings.iter().map(|f| f.check).collect();
        ran == Check::ALL && self.findings.iter().all(|f| f.ok)
    }

    /// The checks that failed (or could not run because the image is not PE32+).
    pub fn failed(&self) -> BTreeSet<Check> {
        self.findings
            .iter()
            .filter(|f| !f.ok)
            .map(|f| f.check)
            .collect()
    }

    /// A human-readable report, one line per check.
    pub fn render(&self, name: &str) -> String {
        let mut out = format!("PE image {name}: {} bytes\n", self.size);
        for f in &self.findings {
            let mark = if f.ok { "ok  " } else { "FAIL" };
            let _ = writeln!(out, "  {mark} {:<42} {}", f.check.describe(), f.detail);
        }
        let _ = writeln!(
            out,
            "  imports ({}): {}",
            self.imports.len(),
            self.imports.join(", ")
        );
        out
    }

    fn push(&mut self, check: Check, ok: bool, detail: impl Into<String>) {
        self.findings.push(Finding {
            check,
            ok,
            detail: detail.into(),
        });
    }
}

/// File offsets of the header fields the checker and the corruption self-test
/// need, located without trusting anything beyond the bounds of `data`.
#[derive(Debug, Clone, Copy)]
pub struct HeaderOffsets {
    /// `IMAGE_FILE_HEADER`.
    pub file_header: usize,
    /// `IMAGE_OPTIONAL_HEADER64`.
    pub optional_header: usize,
    /// The section table.
    pub section_table: usize,
    /// Number of section headers.
    pub sections: usize,
}

/// Offsets inside `IMAGE_OPTIONAL_HEADER64`.
pub mod optional {
    /// `Magic`.
    pub const MAGIC: usize = 0;
    /// `AddressOfEntryPoint`.
    pub const ENTRY_POINT: usize = 16;
    /// `MajorSubsystemVersion` (`MinorSubsystemVersion` follows).
    pub const SUBSYSTEM_VERSION: usize = 48;
    /// `CheckSum`.
    pub const CHECKSUM: usize = 64;
    /// `Subsystem`.
    pub const SUBSYSTEM: usize = 68;
    /// `DataDirectory[0]`.
    pub const DATA_DIRECTORIES: usize = 112;
}

/// Size of one section header; `Characteristics` is its last field.
pub const SECTION_HEADER: usize = 40;
/// Offset of `Characteristics` in a section header.
pub const SECTION_CHARACTERISTICS: usize = 36;

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        data.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        data.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

impl HeaderOffsets {
    /// Locates the headers of a PE32+ image.
    ///
    /// # Errors
    /// A description of what is missing or malformed.
    pub fn locate(data: &[u8]) -> Result<Self, String> {
        if data.get(..2) != Some(b"MZ") {
            return Err("no MZ header".into());
        }
        let nt = usize::try_from(u32_at(data, 0x3C).ok_or("truncated DOS header")?)
            .map_err(|e| e.to_string())?;
        if data.get(nt..nt + 4) != Some(b"PE\0\0") {
            return Err(format!("no PE signature at {nt:#x}"));
        }
        let file_header = nt + 4;
        let optional_header = file_header + 20;
        let magic = u16_at(data, optional_header).ok_or("truncated optional header")?;
        if magic != pe::IMAGE_NT_OPTIONAL_HDR64_MAGIC {
            return Err(format!(
                "optional header magic {magic:#x}, not PE32+ (0x20b)"
            ));
        }
        let optional_size = u16_at(data, file_header + 16).ok_or("truncated file header")?;
        let sections = u16_at(data, file_header + 2).ok_or("truncated file header")?;
        Ok(Self {
            file_header,
            optional_header,
            section_table: optional_header + usize::from(optional_size),
            sections: usize::from(sections),
        })
    }

    /// File offset of the checksum field.
    pub fn checksum(&self) -> usize {
        self.optional_header + optional::CHECKSUM
    }

    /// File offset of section header `index`.
    pub fn section_header(&self, index: usize) -> usize {
        self.section_table + index * SECTION_HEADER
    }
}

/// The PE image checksum (the algorithm of `CheckSumMappedFile`): the
/// one's-complement-style 16-bit sum of the file, carries folded back in,
/// with the checksum field itself read as zero, plus the file length.
pub fn pe_checksum(data: &[u8], checksum_offset: usize) -> u32 {
    let mut sum: u64 = 0;
    for (index, chunk) in data.chunks(2).enumerate() {
        let at = index * 2;
        if at >= checksum_offset && at < checksum_offset + 4 {
            continue;
        }
        let word = match chunk {
            [lo, hi] => u16::from_le_bytes([*lo, *hi]),
            [lo] => u16::from(*lo),
            _ => 0,
        };
        sum += u64::from(word);
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    // Folding after every addition keeps the sum within 16 bits.
    let folded = u32::try_from(sum).unwrap_or(u32::MAX);
    // The checksum field is 32 bits; the length of an image over 4 GiB
    // (which no loader accepts) would be taken modulo 2^32.
    let length = u32::try_from(data.len() % (1 << 32)).unwrap_or(u32::MAX);
    folded.wrapping_add(length)
}

/// The file offset at which relative virtual address `rva` is stored, if it
/// lies in a section's file data.
pub fn rva_to_file_offset(data: &[u8], rva: u32) -> Option<usize> {
    let file = PeFile64::parse(data).ok()?;
    let (offset, _) = file.section_table().pe_file_range_at(rva)?;
    usize::try_from(offset).ok()
}

/// The file offset of the raw data of the section named `name`.
pub fn section_file_offset(data: &[u8], name: &[u8]) -> Option<usize> {
    let file = PeFile64::parse(data).ok()?;
    let section = file.section_table().iter().find(|s| s.raw_name() == name)?;
    usize::try_from(section.pointer_to_raw_data.get(LE)).ok()
}

/// Checks `data` against every [`Check`] under `policy`.
pub fn check_image(data: &[u8], policy: &ImagePolicy) -> Report {
    let mut report = Report {
        size: data.len(),
        ..Report::default()
    };
    let offsets = match HeaderOffsets::locate(data) {
        Ok(offsets) => offsets,
        Err(why) => {
            report.push(Check::Format, false, why);
            return report;
        }
    };
    let file = match PeFile64::parse(data) {
        Ok(file) => file,
        Err(e) => {
            report.push(Check::Format, false, format!("unreadable PE32+ image: {e}"));
            return report;
        }
    };
    report.push(Check::Format, true, "PE32+ (magic 0x20b)");
    let nt = file.nt_headers();
    let header = nt.file_header();
    let optional = nt.optional_header();

    let machine = header.machine.get(LE);
    report.push(
        Check::Machine,
        machine == pe::IMAGE_FILE_MACHINE_AMD64,
        format!("machine {:#06x}", machine.0),
    );

    let subsystem = optional.subsystem();
    report.push(
        Check::Subsystem,
        subsystem == pe::IMAGE_SUBSYSTEM_NATIVE,
        format!("subsystem {}", subsystem.0),
    );

    let version = (
        optional.major_subsystem_version(),
        optional.minor_subsystem_version(),
    );
    report.push(
        Check::SubsystemVersion,
        version >= (10, 0),
        format!("subsystem version {}.{}", version.0, version.1),
    );

    check_entry_point(&mut report, &file, policy);
    check_imports(&mut report, &file, policy);
    check_forbidden(&mut report, &file, data);
    check_relocations(&mut report, &file);

    let stored = optional.check_sum();
    let computed = pe_checksum(data, offsets.checksum());
    report.push(
        Check::Checksum,
        stored != 0 && stored == computed,
        format!("stored {stored:#010x}, computed {computed:#010x}"),
    );

    check_sections(&mut report, &file);
    report
}

fn check_entry_point(report: &mut Report, file: &PeFile64<'_>, policy: &ImagePolicy) {
    let entry = file.nt_headers().optional_header().address_of_entry_point();
    let exported = file
        .export_table()
        .ok()
        .flatten()
        .and_then(|table| table.exports().ok())
        .and_then(|exports| {
            exports.into_iter().find_map(|e| match (e.name, e.target) {
                (Some(name), ExportTarget::Address(rva))
                    if name == policy.entry_symbol.as_bytes() =>
                {
                    Some(rva)
                }
                _ => None,
            })
        });
    let in_code = file.section_table().iter().any(|s| {
        let start = s.virtual_address.get(LE);
        let len = s.virtual_size.get(LE).max(s.size_of_raw_data.get(LE));
        let flags = s.characteristics.get(LE).0;
        flags & pe::IMAGE_SCN_MEM_EXECUTE.0 != 0 && entry >= start && entry - start < len
    });
    let (ok, detail) = match exported {
        None => (
            false,
            format!("entry {entry:#x}; no export named {}", policy.entry_symbol),
        ),
        Some(rva) if rva != entry => (
            false,
            format!("entry {entry:#x} != {} at {rva:#x}", policy.entry_symbol),
        ),
        Some(_) if !in_code => (
            false,
            format!("entry {entry:#x} is not in an executable section"),
        ),
        Some(_) => (true, format!("entry {entry:#x} = {}", policy.entry_symbol)),
    };
    report.push(Check::EntryPoint, ok, detail);
}

/// Reads the import table: (dll, function name or `#ordinal`) pairs.
fn imports(file: &PeFile64<'_>) -> object::Result<Vec<(String, Result<String, u16>)>> {
    let mut found = Vec::new();
    let Some(table) = file.import_table()? else {
        return Ok(found);
    };
    let mut descriptors = table.descriptors()?;
    while let Some(descriptor) = descriptors.next()? {
        let dll = String::from_utf8_lossy(table.name(descriptor.name.get(LE))?).into_owned();
        let lookup = match descriptor.original_first_thunk.get(LE) {
            0 => descriptor.first_thunk.get(LE),
            rva => rva,
        };
        let mut thunks = table.thunks(lookup)?;
        while let Some(thunk) = thunks.next::<pe::ImageNtHeaders64>()? {
            let import = match table.import::<pe::ImageNtHeaders64>(thunk)? {
                Import::Name(_, name) => Ok(String::from_utf8_lossy(name).into_owned()),
                Import::Ordinal(ordinal) => Err(ordinal),
            };
            found.push((dll.clone(), import));
        }
    }
    Ok(found)
}

/// DLL names of the delay-load import table.
fn delay_imports(file: &PeFile64<'_>) -> object::Result<Vec<String>> {
    let sections = file.section_table();
    let Some(table) = file
        .data_directories()
        .delay_load_import_table(file.data(), &sections)?
    else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    let mut descriptors = table.descriptors()?;
    while let Some(descriptor) = descriptors.next()? {
        names.push(
            String::from_utf8_lossy(table.name(descriptor.dll_name_rva.get(LE))?).into_owned(),
        );
    }
    Ok(names)
}

fn check_imports(report: &mut Report, file: &PeFile64<'_>, policy: &ImagePolicy) {
    let mut problems = Vec::new();
    let imports = match imports(file) {
        Ok(imports) => imports,
        Err(e) => {
            report.push(
                Check::Imports,
                false,
                format!("unreadable import table: {e}"),
            );
            return;
        }
    };
    let mut names = BTreeSet::new();
    for (dll, import) in &imports {
        let shown = match import {
            Ok(name) => format!("{dll}!{name}"),
            Err(ordinal) => format!("{dll}!#{ordinal}"),
        };
        report.imports.push(shown.clone());
        if !dll.eq_ignore_ascii_case(policy.import_dll) {
            problems.push(format!("{shown} is not from {}", policy.import_dll));
            continue;
        }
        match import {
            Err(_) => problems.push(format!("{shown} is imported by ordinal")),
            Ok(name) => {
                let name = name.as_str();
                if !policy.required_imports.contains(&name)
                    && !policy.optional_imports.contains(&name)
                {
                    problems.push(format!("unexpected import {shown}"));
                }
                names.insert(name.to_owned());
            }
        }
    }
    for required in policy.required_imports {
        if !names.contains(*required) {
            problems.push(format!("missing import {}!{required}", policy.import_dll));
        }
    }
    match delay_imports(file) {
        Ok(dlls) if dlls.is_empty() => {}
        Ok(dlls) => problems.push(format!("delay-load imports from {}", dlls.join(", "))),
        Err(e) => problems.push(format!("unreadable delay-load import table: {e}")),
    }
    let ok = problems.is_empty();
    let detail = if ok {
        format!("{} functions from {}", imports.len(), policy.import_dll)
    } else {
        problems.join("; ")
    };
    report.push(Check::Imports, ok, detail);
}

fn check_forbidden(report: &mut Report, file: &PeFile64<'_>, data: &[u8]) {
    let mut dlls: Vec<String> = imports(file)
        .unwrap_or_default()
        .into_iter()
        .map(|(dll, _)| dll)
        .collect();
    dlls.extend(delay_imports(file).unwrap_or_default());
    let lower: Vec<u8> = data.iter().map(u8::to_ascii_lowercase).collect();
    let mut hits = Vec::new();
    for needle in FORBIDDEN {
        if dlls
            .iter()
            .any(|dll| dll.to_ascii_lowercase().contains(needle))
        {
            hits.push(format!("imports a {needle} DLL"));
        } else if let Some(at) = lower
            .windows(needle.len())
            .position(|w| w == needle.as_bytes())
        {
            hits.push(format!("\"{needle}\" at file offset {at:#x}"));
        }
    }
    let ok = hits.is_empty();
    let detail = if ok {
        "none in imports or file bytes".to_owned()
    } else {
        hits.join("; ")
    };
    report.push(Check::ForbiddenReferences, ok, detail);
}

fn check_relocations(report: &mut Report, file: &PeFile64<'_>) {
    let stripped = file.nt_headers().file_header().characteristics.get(LE).0
        & pe::IMAGE_FILE_RELOCS_STRIPPED.0
        != 0;
    let sections = file.section_table();
    let count = match file
        .data_directories()
        .relocation_blocks(file.data(), &sections)
    {
        Ok(Some(mut blocks)) => {
            let mut count = 0_usize;
            let mut malformed = false;
            loop {
                match blocks.next() {
                    Ok(Some(block)) => {
                        count += block.filter(|r| r.typ == pe::IMAGE_REL_BASED_DIR64).count()
                    }
                    Ok(None) => break,
                    Err(_) => {
                        malformed = true;
                        break;
                    }
                }
            }
            if malformed {
                Err("malformed relocation blocks")
            } else {
                Ok(count)
            }
        }
        Ok(None) => Ok(0),
        Err(_) => Err("unreadable base relocation directory"),
    };
    let (ok, detail) = match count {
        Err(why) => (false, why.to_owned()),
        Ok(_) if stripped => (false, "IMAGE_FILE_RELOCS_STRIPPED is set".to_owned()),
        Ok(0) => (false, "no DIR64 base relocations".to_owned()),
        Ok(n) => (true, format!("{n} DIR64 relocations")),
    };
    report.push(Check::Relocations, ok, detail);
}

fn check_sections(report: &mut Report, file: &PeFile64<'_>) {
    let not_paged = pe::IMAGE_SCN_MEM_NOT_PAGED.0;
    let discardable = pe::IMAGE_SCN_MEM_DISCARDABLE.0;
    let mut paged = Vec::new();
    for wanted in [".text", ".rdata", ".data"] {
        let section = file
            .section_table()
            .iter()
            .find(|s| s.raw_name() == wanted.as_bytes());
        match section.map(|s| s.characteristics.get(LE).0) {
            None => paged.push(format!("{wanted} missing")),
            Some(flags) if flags & not_paged == 0 => {
                paged.push(format!("{wanted} pageable ({flags:#010x})"))
            }
            Some(flags) if flags & discardable != 0 => {
                paged.push(format!("{wanted} discardable ({flags:#010x})"))
            }
            Some(_) => {}
        }
    }
    let ok = paged.is_empty();
    let detail = if ok {
        "IMAGE_SCN_MEM_NOT_PAGED on all three".to_owned()
    } else {
        paged.join("; ")
    };
    report.push(Check::NonPaged, ok, detail);

    let wx: Vec<String> = file
        .section_table()
        .iter()
        .filter(|s| {
            let flags = s.characteristics.get(LE).0;
            flags & pe::IMAGE_SCN_MEM_WRITE.0 != 0 && flags & pe::IMAGE_SCN_MEM_EXECUTE.0 != 0
        })
        .map(|s| String::from_utf8_lossy(s.raw_name()).into_owned())
        .collect();
    let count = file.section_table().len();
    let ok = wx.is_empty();
    let detail = if ok {
        format!("{count} sections, none W+X")
    } else {
        format!("W+X: {}", wx.join(", "))
    };
    report.push(Check::WritableExecutable, ok, detail);
}

#[cfg(test)]
mod tests {
    use super::testimage::{POLICY, TestImage};
    use super::*;

    #[test]
    fn a_well_formed_kernel_image_passes_every_check() {
        let image = TestImage::default().build();
        let report = check_image(&image, &POLICY);
        assert!(report.passed(), "{}", report.render("test image"));
        let ran: Vec<Check> = report.findings.iter().map(|f| f.check).collect();
        assert_eq!(ran, Check::ALL, "every check runs, once, in order");
        assert_eq!(
            report.imports,
            [
                "ntoskrnl.exe!ExFreePoolWithTag",
                "ntoskrnl.exe!IofCallDriver",
                "ntoskrnl.exe!memcpy"
            ]
        );
    }

    #[test]
    fn the_checksum_matches_a_value_computed_by_hand() {
        // Words 0x0201 + 0x0403 (+ the checksum field, skipped) + 0x0005:
        // 0x0609, plus the length 8.
        let data = [1, 2, 3, 4, 0xAA, 0xBB, 0xCC, 0xDD];
        assert_eq!(pe_checksum(&data, 4), 0x0201 + 0x0403 + 8);
        let odd = [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0x02];
        // 0xFFFF + 0xFFFF = 0x1FFFE -> folded 0xFFFF; + 0x0002 -> 0x10001 -> 0x0002; + 9.
        assert_eq!(pe_checksum(&odd, 4), 0x0002 + 9);
    }

    #[test]
    fn missing_or_extra_imports_fail_with_their_names() {
        let image = TestImage {
            imports: vec!["ExFreePoolWithTag", "memcpy", "ZwCreateFile"],
            ..TestImage::default()
        }
        .build();
        let report = check_image(&image, &POLICY);
        assert_eq!(report.failed(), BTreeSet::from([Check::Imports]));
        let detail = &report
            .findings
            .iter()
            .find(|f| f.check == Check::Imports)
            .unwrap()
            .detail;
        assert!(
            detail.contains("unexpected import ntoskrnl.exe!ZwCreateFile"),
            "{detail}"
        );
        assert!(
            detail.contains("missing import ntoskrnl.exe!IofCallDriver"),
            "{detail}"
        );
    }

    #[test]
    fn imports_from_another_dll_fail_imports_and_forbidden_references() {
        let image = TestImage {
            dll: "KERNEL32.dll",
            ..TestImage::default()
        }
        .build();
        let failed = check_image(&image, &POLICY).failed();
        assert_eq!(
            failed,
            BTreeSet::from([Check::Imports, Check::ForbiddenReferences])
        );
    }

    #[test]
    fn a_forbidden_name_anywhere_in_the_file_fails() {
        let image = TestImage {
            rdata_text: b"linked against ucrtbase.dll".to_vec(),
            ..TestImage::default()
        }
        .build();
        assert_eq!(
            check_image(&image, &POLICY).failed(),
            BTreeSet::from([Check::ForbiddenReferences])
        );
    }

    #[test]
    fn garbage_is_not_a_pe32_plus_image() {
        let report = check_image(b"MZ not really", &POLICY);
        assert!(!report.passed());
        assert_eq!(report.failed(), BTreeSet::from([Check::Format]));
    }
}
