//! A small, hand-assembled kernel image for the checker's unit tests: the same
//! shape as the driver (PE32+, AMD64, native subsystem 10.0, exported entry,
//! imports by name from one DLL, non-paged sections, base relocations, a
//! valid checksum), built with `object`'s PE writer, so that every check can
//! be shown to pass on a good image and fail on a changed one without a
//! Windows cross-build.

use object::pe;
use object::write::pe::{NtHeaders, Writer};

use super::{HeaderOffsets, ImagePolicy, pe_checksum};

/// The policy the test image is checked against.
pub const POLICY: ImagePolicy = ImagePolicy {
    entry_symbol: "DriverEntry",
    import_dll: "ntoskrnl.exe",
    required_imports: &["ExFreePoolWithTag", "IofCallDriver"],
    optional_imports: &["memcpy", "memset"],
};

/// What to put in the image.
pub struct TestImage {
    /// The one imported DLL.
    pub dll: &'static str,
    /// Functions imported from it, by name.
    pub imports: Vec<&'static str>,
    /// Extra bytes in `.rdata`.
    pub rdata_text: Vec<u8>,
}

impl Default for TestImage {
    fn default() -> Self {
        Self {
            dll: "ntoskrnl.exe",
            imports: vec!["ExFreePoolWithTag", "IofCallDriver", "memcpy"],
            rdata_text: b"gpup_miniport test image".to_vec(),
        }
    }
}

/// Data directories the `.rdata` layout fills in.
struct Directories {
    import: (u32, u32),
    iat: (u32, u32),
    export: (u32, u32),
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn rva(base: u32, offset: usize) -> u32 {
    base + u32::try_from(offset).expect("small image")
}

impl TestImage {
    /// `.rdata` placed at `base` with the entry point at `entry`: import
    /// descriptors, lookup and address tables, hint/name entries, the DLL
    /// name, an export directory naming `DriverEntry`, and `rdata_text`.
    fn rdata(&self, base: u32, entry: u32) -> (Vec<u8>, Directories) {
        let n = self.imports.len();
        let descriptors = 0;
        let lookup = descriptors + 2 * 20;
        let iat = lookup + (n + 1) * 8;
        let mut names = iat + (n + 1) * 8;
        let mut hint_names = Vec::new();
        for name in &self.imports {
            hint_names.push(names);
            names += 2 + name.len() + 1;
            names += names % 2;
        }
        let dll_name = names;
        let export_dir = (dll_name + self.dll.len() + 1 + 7) & !7;
        let functions = export_dir + 40;
        let name_pointers = functions + 4;
        let ordinals = name_pointers + 4;
        let image_name = ordinals + 2;
        let entry_name = image_name + b"test.sys\0".len();
        let export_end = entry_name + b"DriverEntry\0".len();

        let mut out = Vec::new();
        // One descriptor, then the all-zero terminator.
        put_u32(&mut out, rva(base, lookup));
        put_u32(&mut out, 0);
        put_u32(&mut out, 0);
        put_u32(&mut out, rva(base, dll_name));
        put_u32(&mut out, rva(base, iat));
        out.resize(lookup, 0);
        // The lookup table, then the address table (identical on disk).
        for _ in 0..2 {
            for at in &hint_names {
                put_u64(&mut out, u64::from(rva(base, *at)));
            }
            put_u64(&mut out, 0);
        }
        for name in &self.imports {
            put_u16(&mut out, 0);
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            if out.len() % 2 == 1 {
                out.push(0);
            }
        }
        out.extend_from_slice(self.dll.as_bytes());
        out.push(0);
        out.resize(export_dir, 0);
        // IMAGE_EXPORT_DIRECTORY.
        put_u32(&mut out, 0); // Characteristics
        put_u32(&mut out, 0); // TimeDateStamp
        put_u32(&mut out, 0); // Major/MinorVersion
        put_u32(&mut out, rva(base, image_name));
        put_u32(&mut out, 1); // Base
        put_u32(&mut out, 1); // NumberOfFunctions
        put_u32(&mut out, 1); // NumberOfNames
        put_u32(&mut out, rva(base, functions));
        put_u32(&mut out, rva(base, name_pointers));
        put_u32(&mut out, rva(base, ordinals));
        put_u32(&mut out, entry);
        put_u32(&mut out, rva(base, entry_name));
        put_u16(&mut out, 0);
        out.extend_from_slice(b"test.sys\0");
        out.extend_from_slice(b"DriverEntry\0");
        assert_eq!(out.len(), export_end);
        out.extend_from_slice(&self.rdata_text);
        let size = |from: usize, to: usize| u32::try_from(to - from).expect("small");
        let directories = Directories {
            import: (rva(base, descriptors), 40),
            iat: (rva(base, iat), size(iat, iat + (n + 1) * 8)),
            export: (rva(base, export_dir), size(export_dir, export_end)),
        };
        (out, directories)
    }

    /// The image, with a valid checksum.
    pub fn build(&self) -> Vec<u8> {
        let text_bytes = [0x48, 0x31, 0xC0, 0xC3]; // xor rax, rax; ret
        let mut buffer = Vec::new();
        let mut w = Writer::new(true, 0x1000, 0x200, &mut buffer);
        w.reserve_dos_header_and_stub();
        w.reserve_nt_headers(16);
        w.reserve_section_headers(4);
        let not_paged = pe::IMAGE_SCN_MEM_NOT_PAGED;
        let text = w.reserve_section(
            *b".text\0\0\0",
            pe::IMAGE_SCN_CNT_CODE | pe::IMAGE_SCN_MEM_EXECUTE | pe::IMAGE_SCN_MEM_READ | not_paged,
            4,
            4,
        );
        let rdata_len = u32::try_from(self.rdata(0, 0).0.len()).expect("small");
        let rdata = w.reserve_section(
            *b".rdata\0\0",
            pe::IMAGE_SCN_CNT_INITIALIZED_DATA | pe::IMAGE_SCN_MEM_READ | not_paged,
            rdata_len,
            rdata_len,
        );
        let data = w.reserve_section(
            *b".data\0\0\0",
            pe::IMAGE_SCN_CNT_INITIALIZED_DATA
                | pe::IMAGE_SCN_MEM_READ
                | pe::IMAGE_SCN_MEM_WRITE
                | not_paged,
            16,
            16,
        );
        w.add_reloc(data.virtual_address, pe::IMAGE_REL_BASED_DIR64);
        w.reserve_reloc_section();
        let entry = text.virtual_address;
        let (rdata_bytes, dirs) = self.rdata(rdata.virtual_address, entry);
        w.set_data_directory(
            pe::IMAGE_DIRECTORY_ENTRY_EXPORT,
            dirs.export.0,
            dirs.export.1,
        );
        w.set_data_directory(
            pe::IMAGE_DIRECTORY_ENTRY_IMPORT,
            dirs.import.0,
            dirs.import.1,
        );
        w.set_data_directory(pe::IMAGE_DIRECTORY_ENTRY_IAT, dirs.iat.0, dirs.iat.1);
        w.write_dos_header_and_stub().expect("DOS header");
        w.write_nt_headers(NtHeaders {
            machine: pe::IMAGE_FILE_MACHINE_AMD64,
            time_date_stamp: 0,
            characteristics: pe::IMAGE_FILE_EXECUTABLE_IMAGE | pe::IMAGE_FILE_LARGE_ADDRESS_AWARE,
            major_linker_version: 14,
            minor_linker_version: 0,
            address_of_entry_point: entry,
            image_base: 0x1_4000_0000,
            major_operating_system_version: 10,
            minor_operating_system_version: 0,
            major_image_version: 0,
            minor_image_version: 0,
            major_subsystem_version: 10,
            minor_subsystem_version: 0,
            subsystem: pe::IMAGE_SUBSYSTEM_NATIVE,
            dll_characteristics: pe::IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE
                | pe::IMAGE_DLLCHARACTERISTICS_NX_COMPAT,
            size_of_stack_reserve: 0x4_0000,
            size_of_stack_commit: 0x1000,
            size_of_heap_reserve: 0,
            size_of_heap_commit: 0,
        });
        w.write_section_headers();
        w.write_section(text.file_offset, &text_bytes);
        w.write_section(rdata.file_offset, &rdata_bytes);
        let mut data_bytes = Vec::new();
        put_u64(&mut data_bytes, 0x1_4000_0000 + u64::from(entry));
        put_u64(&mut data_bytes, 0);
        w.write_section(data.file_offset, &data_bytes);
        w.write_reloc_section();
        let offsets = HeaderOffsets::locate(&buffer).expect("PE32+ headers");
        let sum = pe_checksum(&buffer, offsets.checksum());
        buffer[offsets.checksum()..offsets.checksum() + 4].copy_from_slice(&sum.to_le_bytes());
        buffer
    }
}
