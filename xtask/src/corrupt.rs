//! Deliberately corrupted copies of a kernel image: proof that the checker
//! can fail. Each corruption changes one property and keeps the rest valid
//! (the checksum is recomputed unless the checksum is what is corrupted), so
//! the checker must reject the copy for exactly the expected reasons.
//!
//! `cargo xtask package` runs them against the real driver image on every
//! build; the unit tests run them against the synthetic test image.

use std::collections::BTreeSet;

use object::LittleEndian as LE;
use object::pe;
use object::read::pe::{ImageThunkData, PeFile64};

use crate::pe::{
    Check, HeaderOffsets, ImagePolicy, SECTION_CHARACTERISTICS, check_image, optional, pe_checksum,
    rva_to_file_offset,
};

/// One way to break an image.
pub struct Corruption {
    /// What is changed.
    pub name: &'static str,
    /// The checks that must fail on the corrupted copy (and only these).
    pub expect: &'static [Check],
    apply: fn(&mut [u8], &HeaderOffsets, &ImagePolicy) -> Result<(), String>,
    keeps_checksum: bool,
}

fn put_u16(data: &mut [u8], at: usize, v: u16) -> Result<(), String> {
    data.get_mut(at..at + 2)
        .ok_or_else(|| format!("offset {at:#x} out of the file"))?
        .copy_from_slice(&v.to_le_bytes());
    Ok(())
}

fn put_u32(data: &mut [u8], at: usize, v: u32) -> Result<(), String> {
    data.get_mut(at..at + 4)
        .ok_or_else(|| format!("offset {at:#x} out of the file"))?
        .copy_from_slice(&v.to_le_bytes());
    Ok(())
}

fn get_u32(data: &[u8], at: usize) -> Result<u32, String> {
    let bytes = data
        .get(at..at + 4)
        .ok_or_else(|| format!("offset {at:#x} out of the file"))?;
    Ok(u32::from_le_bytes(
        bytes.try_into().map_err(|_| "short read")?,
    ))
}

/// File offset of the `Characteristics` of the section named `name`.
fn section_flags_offset(
    data: &[u8],
    offsets: &HeaderOffsets,
    name: &[u8],
) -> Result<usize, String> {
    (0..offsets.sections)
        .map(|i| offsets.section_header(i))
        .find(|&at| {
            data.get(at..at + 8)
                .is_some_and(|raw| raw.split(|&b| b == 0).next() == Some(name))
        })
        .map(|at| at + SECTION_CHARACTERISTICS)
        .ok_or_else(|| format!("no {} section", String::from_utf8_lossy(name)))
}

/// File offsets of the first import descriptor's DLL name, and of the name
/// of its first import that the policy requires.
fn import_name_offsets(data: &[u8], policy: &ImagePolicy) -> Result<(usize, usize), String> {
    let file = PeFile64::parse(data).map_err(|e| e.to_string())?;
    let table = file
        .import_table()
        .map_err(|e| e.to_string())?
        .ok_or("no import table")?;
    let descriptor = table
        .descriptors()
        .and_then(|mut d| d.next())
        .map_err(|e| e.to_string())?
        .ok_or("no import descriptor")?;
    let dll =
        rva_to_file_offset(data, descriptor.name.get(LE)).ok_or("DLL name not in a section")?;
    let mut thunks = table
        .thunks(descriptor.original_first_thunk.get(LE))
        .map_err(|e| e.to_string())?;
    while let Some(thunk) = thunks
        .next::<pe::ImageNtHeaders64>()
        .map_err(|e| e.to_string())?
    {
        if thunk.is_ordinal() {
            continue;
        }
        let (_, name) = table
            .hint_name(thunk.address())
            .map_err(|e| e.to_string())?;
        if policy.required_imports.iter().any(|r| r.as_bytes() == name) {
            // The name follows the 2-byte hint.
            let at = rva_to_file_offset(data, thunk.address() + 2)
                .ok_or("import name not in a section")?;
            return Ok((dll, at));
        }
    }
    Err("no required import by name".into())
}

/// Every corruption the self-test applies.
pub const CORRUPTIONS: &[Corruption] = &[
    Corruption {
        name: "machine set to i386",
        expect: &[Check::Machine],
        apply: |data, o, _| put_u16(data, o.file_header, pe::IMAGE_FILE_MACHINE_I386.0),
        keeps_checksum: false,
    },
    Corruption {
        name: "optional header magic set to PE32",
        expect: &[Check::Format],
        apply: |data, o, _| put_u16(data, o.optional_header + optional::MAGIC, 0x10B),
        keeps_checksum: false,
    },
    Corruption {
        name: "subsystem set to WINDOWS_GUI",
        expect: &[Check::Subsystem],
        apply: |data, o, _| put_u16(data, o.optional_header + optional::SUBSYSTEM, 2),
        keeps_checksum: false,
    },
    Corruption {
        name: "subsystem version set to 6.3",
        expect: &[Check::SubsystemVersion],
        apply: |data, o, _| {
            put_u16(data, o.optional_header + optional::SUBSYSTEM_VERSION, 6)?;
            put_u16(data, o.optional_header + optional::SUBSYSTEM_VERSION + 2, 3)
        },
        keeps_checksum: false,
    },
    Corruption {
        name: "entry point moved by 16 bytes",
        expect: &[Check::EntryPoint],
        apply: |data, o, _| {
            let at = o.optional_header + optional::ENTRY_POINT;
            let entry = get_u32(data, at)?;
            put_u32(data, at, entry + 16)
        },
        keeps_checksum: false,
    },
    Corruption {
        name: "a required import renamed",
        expect: &[Check::Imports],
        apply: |data, _, policy| {
            let (_, at) = import_name_offsets(data, policy)?;
            let first = data.get_mut(at).ok_or("import name out of the file")?;
            *first = if *first == b'Q' { b'R' } else { b'Q' };
            Ok(())
        },
        keeps_checksum: false,
    },
    Corruption {
        name: "imported DLL renamed to msvcrt.dll",
        expect: &[Check::Imports, Check::ForbiddenReferences],
        apply: |data, _, policy| {
            let (at, _) = import_name_offsets(data, policy)?;
            let len = policy.import_dll.len();
            let replacement = b"msvcrt.dll";
            if replacement.len() > len {
                return Err("DLL name too short to replace".into());
            }
            let name = data
                .get_mut(at..at + len)
                .ok_or("DLL name out of the file")?;
            name.fill(0);
            name[..replacement.len()].copy_from_slice(replacement);
            Ok(())
        },
        keeps_checksum: false,
    },
    Corruption {
        name: "base relocation directory removed",
        expect: &[Check::Relocations],
        apply: |data, o, _| {
            let at = o.optional_header
                + optional::DATA_DIRECTORIES
                + 8 * pe::IMAGE_DIRECTORY_ENTRY_BASERELOC;
            put_u32(data, at, 0)?;
            put_u32(data, at + 4, 0)
        },
        keeps_checksum: false,
    },
    Corruption {
        name: "checksum off by one",
        expect: &[Check::Checksum],
        apply: |data, o, _| {
            let sum = get_u32(data, o.checksum())?;
            put_u32(data, o.checksum(), sum.wrapping_add(1))
        },
        keeps_checksum: true,
    },
    Corruption {
        name: ".text made pageable",
        expect: &[Check::NonPaged],
        apply: |data, o, _| {
            let at = section_flags_offset(data, o, b".text")?;
            let flags = get_u32(data, at)?;
            put_u32(data, at, flags & !pe::IMAGE_SCN_MEM_NOT_PAGED.0)
        },
        keeps_checksum: false,
    },
    Corruption {
        name: ".data made executable",
        expect: &[Check::WritableExecutable],
        apply: |data, o, _| {
            let at = section_flags_offset(data, o, b".data")?;
            let flags = get_u32(data, at)?;
            put_u32(data, at, flags | pe::IMAGE_SCN_MEM_EXECUTE.0)
        },
        keeps_checksum: false,
    },
];

impl Corruption {
    /// A corrupted copy of `image`.
    ///
    /// # Errors
    /// If `image` lacks what this corruption changes.
    pub fn corrupt(&self, image: &[u8], policy: &ImagePolicy) -> Result<Vec<u8>, String> {
        let mut copy = image.to_vec();
        let offsets = HeaderOffsets::locate(&copy)?;
        (self.apply)(&mut copy, &offsets, policy)?;
        if !self.keeps_checksum {
            let sum = pe_checksum(&copy, offsets.checksum());
            put_u32(&mut copy, offsets.checksum(), sum)?;
        }
        Ok(copy)
    }
}

/// Checks that `image` passes and that every corrupted copy of it fails
/// exactly the expected checks. Returns one line per corruption.
///
/// # Errors
/// What went wrong: the image itself fails, or a corrupted copy was accepted
/// or rejected for other reasons than expected.
pub fn self_test(image: &[u8], policy: &ImagePolicy) -> Result<Vec<String>, String> {
    let report = check_image(image, policy);
    if !report.passed() {
        return Err(format!(
            "the image itself fails:\n{}",
            report.render("image")
        ));
    }
    let mut lines = Vec::new();
    for corruption in CORRUPTIONS {
        let copy = corruption.corrupt(image, policy)?;
        let failed = check_image(&copy, policy).failed();
        let expected: BTreeSet<Check> = corruption.expect.iter().copied().collect();
        if failed != expected {
            return Err(format!(
                "corrupted copy ({}) failed {failed:?}, expected exactly {expected:?}",
                corruption.name
            ));
        }
        lines.push(format!(
            "rejected: {} -> failed {failed:?}",
            corruption.name
        ));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pe::testimage::{POLICY, TestImage};

    #[test]
    fn every_corruption_of_the_test_image_fails_exactly_its_checks() {
        let image = TestImage::default().build();
        let lines = self_test(&image, &POLICY).expect("self-test");
        assert_eq!(lines.len(), CORRUPTIONS.len());
    }

    #[test]
    fn every_check_is_shown_to_fail_by_some_corruption() {
        let covered: BTreeSet<Check> = CORRUPTIONS
            .iter()
            .flat_map(|c| c.expect.iter().copied())
            .collect();
        assert_eq!(covered, BTreeSet::from(Check::ALL));
    }

    #[test]
    fn the_self_test_refuses_an_image_that_already_fails() {
        let image = TestImage::default().build();
        let broken = CORRUPTIONS[0].corrupt(&image, &POLICY).expect("corrupt");
        assert!(self_test(&broken, &POLICY).is_err());
    }
}
