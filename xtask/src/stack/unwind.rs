//! Stack frames from the image's exception data: every x64 function that
//! touches the stack pointer has a `.pdata` entry (`RUNTIME_FUNCTION`)
//! whose `UNWIND_INFO` lists what its prologue does, which is exactly what
//! it adds to the stack: each `UWOP_PUSH_NONVOL` 8 bytes, `UWOP_ALLOC_SMALL`
//! and `UWOP_ALLOC_LARGE` their size (also the allocations a `__chkstk`
//! probe precedes: the probe does not move the stack pointer, the `sub rsp`
//! after it is the recorded allocation), `UWOP_PUSH_MACHFRAME` 40 or 48.
//! Chained entries (`UNW_FLAG_CHAININFO`, a function's split-off parts) add
//! the frame of the entry they chain to. A function without an entry is a
//! leaf that never moves the stack pointer: the ABI requires one otherwise.

use object::LittleEndian as LE;
use object::pe;
use object::read::pe::PeFile64;

/// One `.pdata` entry: the code range it covers and the bytes its prologue
/// allocates (the return address not included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// First byte of the range (RVA).
    pub begin: u32,
    /// One past the last byte (RVA).
    pub end: u32,
    /// Bytes the prologue pushes and allocates, chained entries included.
    pub bytes: u32,
}

const UNW_FLAG_CHAININFO: u8 = 4;
const RUNTIME_FUNCTION_SIZE: usize = 12;

/// The bytes of the image mapped at `rva`, `len` of them.
pub fn bytes_at<'a>(file: &PeFile64<'a>, data: &'a [u8], rva: u32, len: usize) -> Option<&'a [u8]> {
    let section = file.section_table().section_containing(rva)?;
    let (offset, size) = section.pe_file_range();
    let within = rva.checked_sub(section.virtual_address.get(LE))?;
    if within.checked_add(u32::try_from(len).ok()?)? > size {
        return None;
    }
    let start = usize::try_from(offset.checked_add(within)?).ok()?;
    data.get(start..start.checked_add(len)?)
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

/// Every `.pdata` entry of the image with its frame size.
///
/// # Errors
/// If the exception directory or an `UNWIND_INFO` cannot be read.
pub fn frames(file: &PeFile64<'_>, data: &[u8]) -> Result<Vec<Frame>, String> {
    let dir = file
        .data_directories()
        .get(pe::IMAGE_DIRECTORY_ENTRY_EXCEPTION);
    let Some(dir) = dir.filter(|d| d.size.get(LE) > 0) else {
        return Ok(Vec::new());
    };
    let (rva, size) = (dir.virtual_address.get(LE), dir.size.get(LE));
    let size = usize::try_from(size).map_err(|e| e.to_string())?;
    let table =
        bytes_at(file, data, rva, size).ok_or("the .pdata directory is out of the image")?;
    table
        .chunks_exact(RUNTIME_FUNCTION_SIZE)
        .map(|entry| {
            let (begin, end, info) = runtime_function(entry).ok_or("short .pdata entry")?;
            let bytes = unwind_bytes(file, data, info, 0)?;
            Ok(Frame { begin, end, bytes })
        })
        .collect()
}

fn runtime_function(entry: &[u8]) -> Option<(u32, u32, u32)> {
    Some((u32_at(entry, 0)?, u32_at(entry, 4)?, u32_at(entry, 8)?))
}

/// The bytes the prologue described by the `UNWIND_INFO` at `rva` allocates,
/// following chained entries (`depth` bounds a malformed chain).
fn unwind_bytes(file: &PeFile64<'_>, data: &[u8], rva: u32, depth: u32) -> Result<u32, String> {
    if depth > 16 {
        return Err(format!("UNWIND_INFO at {rva:#x}: chain too long"));
    }
    let bad = || format!("UNWIND_INFO at {rva:#x} is out of the image");
    let head = bytes_at(file, data, rva, 4).ok_or_else(bad)?;
    let (flags, count) = (head[0] >> 3, usize::from(head[2]));
    // Codes, padded to an even count, then the chained RUNTIME_FUNCTION.
    let padded = count + count % 2;
    let len = 4 + padded * 2 + RUNTIME_FUNCTION_SIZE;
    let info = bytes_at(file, data, rva, len)
        .or_else(|| bytes_at(file, data, rva, 4 + padded * 2))
        .ok_or_else(bad)?;
    let mut total = codes_bytes(info.get(4..4 + count * 2).ok_or_else(bad)?)
        .ok_or_else(|| format!("UNWIND_INFO at {rva:#x}: malformed codes"))?;
    if flags & UNW_FLAG_CHAININFO != 0 {
        let chained = info
            .get(4 + padded * 2..)
            .and_then(runtime_function)
            .ok_or_else(bad)?;
        total += unwind_bytes(file, data, chained.2, depth + 1)?;
    }
    Ok(total)
}

/// The bytes a list of unwind codes allocates (`None` if malformed).
pub fn codes_bytes(codes: &[u8]) -> Option<u32> {
    let mut total = 0u32;
    let mut i = 0;
    while i < codes.len() {
        let op_info = *codes.get(i + 1)?;
        let (op, info) = (op_info & 0xf, op_info >> 4);
        let slots = match op {
            // UWOP_PUSH_NONVOL
            0 => {
                total += 8;
                1
            }
            // UWOP_ALLOC_LARGE: size/8 in the next slot, or the size in two.
            1 if info == 0 => {
                total += u32::from(u16_at(codes, i + 2)?) * 8;
                2
            }
            1 => {
                total += u32_at(codes, i + 2)?;
                3
            }
            // UWOP_ALLOC_SMALL
            2 => {
                total += u32::from(info) * 8 + 8;
                1
            }
            // UWOP_SET_FPREG, UWOP_EPILOG (v2): no allocation.
            3 | 6 => 1,
            // UWOP_SAVE_NONVOL, UWOP_SAVE_XMM128: into allocated space.
            4 | 8 => 2,
            // UWOP_SAVE_NONVOL_FAR, UWOP_SAVE_XMM128_FAR
            5 | 9 => 3,
            // UWOP_PUSH_MACHFRAME: with or without an error code.
            10 => {
                total += if info == 0 { 40 } else { 48 };
                1
            }
            _ => return None,
        };
        i += slots * 2;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_and_allocations_add_up() {
        // push rbx; push rsi; sub rsp, 0x28 (ALLOC_SMALL info 4).
        let codes = [0x08, 0x42, 0x02, 0x60, 0x01, 0x30];
        assert_eq!(codes_bytes(&codes), Some(0x28 + 16));
        // sub rsp, 0x1000 (ALLOC_LARGE info 0: 0x200 * 8), after a __chkstk probe.
        assert_eq!(codes_bytes(&[0x10, 0x01, 0x00, 0x02]), Some(0x1000));
        // ALLOC_LARGE info 1: a 32-bit size.
        assert_eq!(
            codes_bytes(&[0x10, 0x11, 0x00, 0x00, 0x01, 0x00]),
            Some(0x1_0000)
        );
        // SAVE_XMM128 allocates nothing; a machine frame with an error code is 48.
        assert_eq!(codes_bytes(&[0x10, 0x08, 0x05, 0x00, 0x00, 0x1a]), Some(48));
        assert_eq!(codes_bytes(&[0x00, 0x0b]), None);
        assert_eq!(codes_bytes(&[0x10, 0x01, 0x00]), None);
    }
}
