//! Checks every type and constant of `dxgk-sys` against the WDK-measured
//! tables in `dxgk-sys/abi/` (measured from the WDK headers; made as copies of a
//! shared folder outside the repository, which one ignored test compares them with).
//!
//! - Records: `size_of`, `align_of`, the offset of every field, that no field
//!   overruns the next member, and that every header member has a Rust field
//!   (or shares its offset with one: a union alternative).
//! - Bit-field views (`bitflags` types): every flag's mask equals the header's
//!   bit range, and every named header bit has a flag.
//! - Constants: value and enum of every enumerator, `#define` and NTSTATUS code.
//! - Completeness: every ALL-CAPS `struct`/`enum`/`const` declared in the
//!   crate's source is registered in `RECORDS`/`ENUMS`/`MACRO_CONSTANTS`, and
//!   every `bitflags` type is checked here; anything the table lacks fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use dxgk_sys::abi::{ConstInfo, RecordInfo};
use dxgk_sys::*;

/// One row of `wddm32-x64-layouts.tsv`.
#[derive(Debug, Clone)]
struct Member {
    path: String,
    offset: usize,
    bits: Option<(u32, u32)>,
    ty: String,
}

struct Layouts {
    /// C tag -> members (pseudo-members `.sizeof`/`.align` excluded).
    members: BTreeMap<String, Vec<Member>>,
    /// C tag -> (sizeof, align).
    sizes: BTreeMap<String, (usize, usize)>,
}

fn abi_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("abi")
}

fn load_layouts() -> Layouts {
    let text = std::fs::read_to_string(abi_dir().join("wddm32-x64-layouts.tsv"))
        .expect("dxgk-sys/abi/wddm32-x64-layouts.tsv is part of the repository");
    let mut members: BTreeMap<String, Vec<Member>> = BTreeMap::new();
    let mut sizeof = BTreeMap::new();
    let mut alignof = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 5, "malformed layout row: {line}");
        let offset: usize = cols[2].parse().expect("numeric offset");
        match cols[1] {
            ".sizeof" => {
                sizeof.insert(cols[0].to_string(), offset);
            }
            ".align" => {
                alignof.insert(cols[0].to_string(), offset);
            }
            path => {
                let bits = (cols[3] != "-").then(|| {
                    let (lo, hi) = cols[3].split_once('-').expect("bit range lo-hi");
                    (lo.parse().expect("bit"), hi.parse().expect("bit"))
                });
                members
                    .entry(cols[0].to_string())
                    .or_default()
                    .push(Member {
                        path: path.to_string(),
                        offset,
                        bits,
                        ty: cols[4].to_string(),
                    });
            }
        }
    }
    let sizes = sizeof
        .into_iter()
        .map(|(tag, size)| {
            let align = alignof[&tag];
            (tag, (size, align))
        })
        .collect();
    Layouts { members, sizes }
}

/// Member path with anonymous union/struct levels removed: C code (and the
/// Rust field) names `caps.Value`, not `caps.(anon).Value`.
fn visible(path: &str) -> String {
    path.split('.')
        .filter(|p| *p != "(anon)")
        .collect::<Vec<_>>()
        .join(".")
}

/// A record's members, its (sizeof, align) when the table has them, and
/// where the layout was read from.
type RecordLayout = (Vec<Member>, Option<(usize, usize)>, String);

/// The members of a record relative to the record's start: either the
/// record's own rows, or, for a type the headers only use nested (`GUID`,
/// `LUID`), the rows under its first occurrence inside another record.
/// Returns (members with record-relative offsets and paths, sizeof/align when
/// the table has them, where the layout came from).
fn record_layout(t: &Layouts, name: &str) -> Option<RecordLayout> {
    let tag = format!("_{name}");
    if let Some(rows) = t.members.get(&tag) {
        return Some((rows.clone(), t.sizes.get(&tag).copied(), tag));
    }
    let wanted = [format!("struct _{name}"), format!("union _{name}")];
    for (outer, rows) in &t.members {
        if let Some(head) = rows.iter().find(|m| wanted.contains(&m.ty)) {
            let prefix = format!("{}.", head.path);
            let nested = rows
                .iter()
                .filter(|m| m.path.starts_with(&prefix))
                .map(|m| Member {
                    path: m.path[prefix.len()..].to_string(),
                    offset: m.offset - head.offset,
                    bits: m.bits,
                    ty: m.ty.clone(),
                })
                .collect();
            return Some((nested, None, format!("{outer}.{}", head.path)));
        }
    }
    None
}

fn check_record(t: &Layouts, rec: &RecordInfo, fields_checked: &mut usize) -> Vec<String> {
    let mut errors = Vec::new();
    let Some((rows, sizes, source)) = record_layout(t, rec.name) else {
        return vec![format!("{}: not in the ABI table", rec.name)];
    };
    if let Some((size, align)) = sizes {
        if rec.size != size {
            errors.push(format!(
                "{}: size_of {} != table {size}",
                rec.name, rec.size
            ));
        }
        if rec.align != align {
            errors.push(format!(
                "{}: align_of {} != table {align}",
                rec.name, rec.align
            ));
        }
    }
    // Members as C code names them (anonymous levels flattened), and the
    // offsets of the real top-level members plus the end of the record, to
    // bound each field's size by the next member's offset.
    let top: Vec<&Member> = rows
        .iter()
        .filter(|m| !visible(&m.path).contains('.'))
        .collect();
    let mut boundaries: BTreeSet<usize> = rows
        .iter()
        .filter(|m| !m.path.contains('.'))
        .map(|m| m.offset)
        .collect();
    boundaries.insert(sizes.map_or(rec.size, |s| s.0));
    for f in rec.fields {
        let Some(m) = top.iter().find(|m| visible(&m.path) == f.name) else {
            errors.push(format!(
                "{}.{}: no such member in {source}",
                rec.name, f.name
            ));
            continue;
        };
        if m.offset != f.offset {
            errors.push(format!(
                "{}.{}: offset {} != table {}",
                rec.name, f.name, f.offset, m.offset
            ));
        }
        let next = boundaries
            .range(m.offset + 1..)
            .next()
            .copied()
            .unwrap_or(usize::MAX);
        if f.offset + f.size > next {
            errors.push(format!(
                "{}.{}: {} bytes at {} overrun the next member at {next}",
                rec.name, f.name, f.size, f.offset
            ));
        }
        *fields_checked += 1;
    }
    for m in &top {
        let name = visible(&m.path);
        if name.is_empty() || m.bits.is_some() {
            continue;
        }
        // Covered by name, or by a Rust field whose bytes hold it (a union
        // alternative, or the halves of a LARGE_INTEGER's QuadPart).
        let named = rec.fields.iter().any(|f| f.name == name);
        let covered = rec
            .fields
            .iter()
            .any(|f| (f.offset..f.offset + f.size).contains(&m.offset));
        if !named && !covered {
            errors.push(format!(
                "{}: header member {name} (at {}) has no Rust field",
                rec.name, m.offset
            ));
        }
    }
    errors
}

/// A bitflags view of a record field: its flags by name and value.
struct BitView {
    record: &'static RecordInfo,
    field: &'static str,
    flags: Vec<(&'static str, u64)>,
    type_name: &'static str,
}

fn view<F: bitflags::Flags>(record: &'static RecordInfo, field: &'static str) -> BitView
where
    F::Bits: Into<u64>,
{
    BitView {
        record,
        field,
        flags: F::FLAGS
            .iter()
            .filter(|f| f.is_named())
            .map(|f| (f.name(), f.value().bits().into()))
            .collect(),
        type_name: std::any::type_name::<F>()
            .rsplit("::")
            .next()
            .unwrap_or_default(),
    }
}

fn bit_views() -> Vec<BitView> {
    vec![
        view::<QueryAdapterInfoFlags>(&DXGK_QUERYADAPTERINFOFLAGS::ABI, "Value"),
        view::<DriverMiscCaps>(&DXGK_DRIVERCAPS::ABI, "MiscCaps"),
        view::<VidSchCaps>(&DXGK_VIDSCHCAPS::ABI, "Value"),
        view::<VidMmCaps>(&DXGK_VIDMMCAPS::ABI, "Value"),
        view::<PhysicalAdapterFlags>(&DXGK_PHYSICALADAPTERFLAGS::ABI, "Value"),
        view::<DirtyBitTrackingCaps>(&DXGK_DIRTY_BIT_TRACKING_CAPS::ABI, "Value"),
        view::<GpupCaps>(&DXGK_GPUPCAPS::ABI, "Caps"),
        view::<CreateAllocationFlags>(&DXGK_CREATEALLOCATIONFLAGS::ABI, "Value"),
        view::<DestroyAllocationFlags>(&DXGK_DESTROYALLOCATIONFLAGS::ABI, "Value"),
        view::<SegmentFlags>(&DXGK_SEGMENTFLAGS::ABI, "Value"),
        view::<CreateDeviceFlags>(&DXGK_CREATEDEVICEFLAGS::ABI, "Value"),
        view::<CreateContextFlags>(&DXGK_CREATECONTEXTFLAGS::ABI, "Value"),
        view::<ContextInfoCaps>(&DXGK_CONTEXTINFO_CAPS::ABI, "Value"),
        view::<CreateProcessFlags>(&DXGK_CREATEPROCESSFLAGS::ABI, "Value"),
        view::<OpenAllocationFlags>(&DXGK_OPENALLOCATIONFLAGS::ABI, "Value"),
        view::<NodeMetadataFlags>(&DXGK_NODEMETADATA_FLAGS::ABI, "Value"),
    ]
}

fn check_bits(t: &Layouts, v: &BitView, bits_checked: &mut usize) -> Vec<String> {
    let mut errors = Vec::new();
    let (rows, _, _) = record_layout(t, v.record.name).expect("record checked above");
    let field = v
        .record
        .fields
        .iter()
        .find(|f| f.name == v.field)
        .expect("field of the record");
    let in_field = |m: &&Member| m.offset >= field.offset && m.offset < field.offset + field.size;
    // The header's named bit-fields stored in this field's bytes.
    let header_bits: Vec<&Member> = rows
        .iter()
        .filter(|m| m.bits.is_some())
        .filter(in_field)
        .collect();
    for (name, value) in &v.flags {
        let found = header_bits.iter().find(|m| {
            let p = visible(&m.path);
            p == *name || p == format!("{}.{name}", v.field)
        });
        let Some(m) = found else {
            errors.push(format!(
                "{}::{name}: no such bit-field in {}.{}",
                v.type_name, v.record.name, v.field
            ));
            continue;
        };
        let (lo, hi) = m.bits.expect("filtered on bits");
        let shift = (m.offset - field.offset) as u32 * 8 + lo;
        let width = hi - lo + 1;
        let mask = ((1u64 << width) - 1) << shift;
        if *value != mask {
            errors.push(format!(
                "{}::{name}: {value:#x} != header bits {lo}-{hi} at +{} ({mask:#x})",
                v.type_name, m.offset
            ));
        }
        *bits_checked += 1;
    }
    for m in header_bits {
        let name = visible(&m.path);
        let leaf = name.rsplit('.').next().unwrap_or_default();
        if !leaf.starts_with("Reserved") && !v.flags.iter().any(|(n, _)| *n == leaf) {
            errors.push(format!(
                "{}: header bit-field {name} has no flag",
                v.type_name
            ));
        }
    }
    errors
}

fn load_consts() -> BTreeMap<String, (String, String)> {
    let text = std::fs::read_to_string(abi_dir().join("wddm32-x64-consts.tsv"))
        .expect("dxgk-sys/abi/wddm32-x64-consts.tsv is part of the repository");
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 3, "malformed constant row: {line}");
            (
                cols[1].to_string(),
                (cols[0].to_string(), cols[2].to_string()),
            )
        })
        .collect()
}

fn check_const(table: &BTreeMap<String, (String, String)>, c: &ConstInfo) -> Option<String> {
    let Some((group, text)) = table.get(c.name) else {
        return Some(format!("{}: not in the constants table", c.name));
    };
    let expected: i128 = match text.strip_prefix("0x") {
        Some(hex) => i128::from(u32::from_str_radix(hex, 16).expect("hex NTSTATUS")),
        None => text.parse().expect("decimal constant"),
    };
    if c.value != expected {
        return Some(format!("{}: {} != table {expected}", c.name, c.value));
    }
    match c.enum_name {
        Some(e) if group != &format!("_{e}") && group != e => Some(format!(
            "{}: belongs to {group} in the table, not {e}",
            c.name
        )),
        None if !group.starts_with('(') => {
            Some(format!("{}: the table has it in enum {group}", c.name))
        }
        _ => None,
    }
}

/// ALL-CAPS items declared in the crate's source, and `bitflags` type names.
fn scan_sources() -> (BTreeSet<String>, BTreeSet<String>) {
    let mut caps = BTreeSet::new();
    let mut flags = BTreeSet::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable src dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable source");
            for line in text.lines() {
                let line = line.trim_start();
                for kw in ["pub struct ", "pub union ", "pub enum ", "pub const "] {
                    let Some(rest) = line.strip_prefix(kw) else {
                        continue;
                    };
                    let ident: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    let is_caps = ident.len() > 1
                        && ident
                            .chars()
                            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                    let after = &rest[ident.len()..];
                    if is_caps {
                        caps.insert(ident);
                    } else if kw == "pub struct " && after.starts_with(": u") {
                        flags.insert(ident);
                    }
                }
            }
        }
    }
    (caps, flags)
}

/// Rust-side registries and helpers that are not WDK names, and `NTSTATUS`,
/// a base typedef (`LONG`) that no record table lists on its own.
const NOT_WDK_NAMES: &[&str] = &[
    "RECORDS",
    "ENUMS",
    "MACRO_CONSTANTS",
    "NTSTATUS_CODES",
    "ABI",
    "CONSTANTS",
    "SLOT_COUNT",
    "NTSTATUS",
];

#[test]
#[cfg_attr(
    miri,
    ignore = "reads the ABI tables from disk (Miri isolates the file system, and parsing them interpreted takes many minutes) to compare layout facts: no unsafe code for Miri to check"
)]
fn every_type_and_constant_matches_the_wdk_tables() {
    let layouts = load_layouts();
    let consts = load_consts();
    let mut errors = Vec::new();

    let mut fields = 0;
    for rec in RECORDS {
        errors.extend(check_record(&layouts, rec, &mut fields));
    }
    let mut bits = 0;
    let views = bit_views();
    for v in &views {
        errors.extend(check_bits(&layouts, v, &mut bits));
    }
    let mut constants = 0;
    for (_, list) in ENUMS {
        for c in *list {
            errors.extend(check_const(&consts, c));
            constants += 1;
        }
    }
    for list in MACRO_CONSTANTS {
        for c in *list {
            errors.extend(check_const(&consts, c));
            constants += 1;
        }
    }

    let (declared, flag_types) = scan_sources();
    let registered: BTreeSet<&str> = RECORDS
        .iter()
        .map(|r| r.name)
        .chain(ENUMS.iter().map(|(n, _)| *n))
        .chain(ENUMS.iter().flat_map(|(_, l)| l.iter().map(|c| c.name)))
        .chain(
            MACRO_CONSTANTS
                .iter()
                .flat_map(|l| l.iter().map(|c| c.name)),
        )
        .chain(NOT_WDK_NAMES.iter().copied())
        .collect();
    for name in &declared {
        if !registered.contains(name.as_str()) {
            errors.push(format!(
                "{name}: declared in dxgk-sys but not registered for the ABI check"
            ));
        }
    }
    for name in &flag_types {
        if !views.iter().any(|v| v.type_name == name) {
            errors.push(format!("bitflags {name}: not checked by bit_views()"));
        }
    }

    println!(
        "ABI check: {} records, {fields} fields, {bits} bit-field flags, {constants} constants \
         ({} source declarations scanned)",
        RECORDS.len(),
        declared.len()
    );
    assert!(
        errors.is_empty(),
        "{} ABI mismatches:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

#[test]
fn driver_initialization_data_has_version_and_192_slots() {
    assert_eq!(
        DRIVER_INITIALIZATION_DATA::ABI.fields.len(),
        1 + DRIVER_INITIALIZATION_DATA::SLOT_COUNT
    );
    assert_eq!(core::mem::size_of::<DRIVER_INITIALIZATION_DATA>(), 1544);
    let slot = |name: &str| {
        DRIVER_INITIALIZATION_DATA::ABI
            .fields
            .iter()
            .position(|f| f.name == name)
            .expect("slot exists")
    };
    assert_eq!(slot("DxgkDdiQueryInterface"), 15);
    assert_eq!(slot("DxgkDdiCreateMemoryBasis"), 172);
    assert_eq!(slot("DxgkDdiSetVirtualFunctionPauseState"), 185);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "reads the ABI tables from disk (Miri isolates the file system, and parsing them interpreted takes many minutes) to compare layout facts: no unsafe code for Miri to check"
)]
fn the_checker_rejects_a_wrong_offset() {
    // A checker that cannot fail proves nothing: feed it a record whose second
    // field is one byte off and a constant with the wrong value.
    let layouts = load_layouts();
    static BAD_FIELDS: [dxgk_sys::abi::FieldInfo; 2] = [
        dxgk_sys::abi::FieldInfo {
            name: "SegmentOffset",
            offset: 0,
            size: 8,
        },
        dxgk_sys::abi::FieldInfo {
            name: "SizeInBytes",
            offset: 9,
            size: 8,
        },
    ];
    let bad = RecordInfo {
        name: "DXGK_MEMORYRANGE",
        size: 16,
        align: 8,
        fields: &BAD_FIELDS,
    };
    let mut n = 0;
    let errors = check_record(&layouts, &bad, &mut n);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("SizeInBytes: offset 9 != table 8")),
        "{errors:?}"
    );

    let wrong = ConstInfo {
        name: "DXGKQAITYPE_DIRTYBITTRACKINGCAPS",
        enum_name: Some("DXGK_QUERYADAPTERINFOTYPE"),
        value: 38,
    };
    assert!(check_const(&load_consts(), &wrong).is_some());
    let unknown = RecordInfo {
        name: "DXGK_NOT_A_TYPE",
        size: 4,
        align: 4,
        fields: &[],
    };
    assert!(!check_record(&layouts, &unknown, &mut n).is_empty());
}

#[test]
#[ignore = "compares dxgk-sys/abi/ with ../shared/abi/, outside this repository: .ci/run runs it (--ignored) where ../shared exists"]
fn abi_tables_are_a_faithful_copy_of_the_shared_ones() {
    // The tables in dxgk-sys/abi/ are this repository's source of truth;
    // this only confirms that they are still the copy they were made as.
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/abi");
    assert!(
        shared.is_dir(),
        "{} is absent: this comparison needs the shared folder beside the checkout",
        shared.display()
    );
    for name in [
        "wddm32-x64-layouts.tsv",
        "wddm32-x64-consts.tsv",
        "README.md",
    ] {
        let ours = std::fs::read(abi_dir().join(name)).expect("copy present");
        let theirs = std::fs::read(shared.join(name)).expect("shared present");
        assert!(
            ours == theirs,
            "dxgk-sys/abi/{name} differs from ../shared/abi/{name}"
        );
    }
}
