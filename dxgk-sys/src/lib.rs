//! Hand-written Rust declarations of the WDDM 3.2 kernel-mode display driver
//! ABI (`dispmprt.h`, `d3dkmddi.h` subset) that `gpup-miniport` uses.
//!
//! - Names are the header's, so that bindgen output, Microsoft's reference
//!   pages and this crate read alike, and so the ABI test can look every field
//!   up by name in the WDK-measured tables (`abi/`).
//! - Integers by width (`ULONG` = `u32`): never `c_long`/`c_ulong`.
//! - C enums are transparent newtypes, not Rust enums: the OS can pass any value.
//! - Bit-field unions are `bitflags` types whose flag names are the header's
//!   member names, checked bit by bit against the tables.
//! - Every record implements [`abi::Zeroable`], checked field by field, and
//!   `Default` as all-zero (what `RtlZeroMemory` gives C drivers).
//!
//! Naming rule the ABI test enforces: every ALL-CAPS `struct` or `const` this
//! crate declares is a WDK name present in the tables; CamelCase items
//! (`GpupCaps`, `Zeroable`) are Rust helpers.

#![no_std]
#![allow(non_snake_case, non_camel_case_types, non_upper_case_globals)]
#![allow(clippy::upper_case_acronyms)]

pub mod abi;
mod base;
mod dirty;
mod dispmprt;
mod migration;
mod qai;
mod status;

pub use base::*;
pub use dirty::*;
pub use dispmprt::*;
pub use migration::*;
pub use qai::*;
pub use status::*;

crate::macro_constants! {
    INTERFACE_VERSIONS;
    /// `DXGKDDI_INTERFACE_VERSION_WDDM3_0`.
    pub const DXGKDDI_INTERFACE_VERSION_WDDM3_0: ULONG = 0xF003;
    /// `DXGKDDI_INTERFACE_VERSION_WDDM3_1`.
    pub const DXGKDDI_INTERFACE_VERSION_WDDM3_1: ULONG = 0x1_0004;
    /// `DXGKDDI_INTERFACE_VERSION_WDDM3_2`: the version this driver declares.
    pub const DXGKDDI_INTERFACE_VERSION_WDDM3_2: ULONG = 0x1_1007;
}

/// Every record this crate declares, for the ABI test.
pub const RECORDS: &[abi::RecordInfo] = &[
    GUID::ABI,
    LUID::ABI,
    UNICODE_STRING::ABI,
    LARGE_INTEGER::ABI,
    DRIVER_INITIALIZATION_DATA::ABI,
    DXGKRNL_INTERFACE::ABI,
    DXGK_START_INFO::ABI,
    DXGK_DEVICE_INFO::ABI,
    DXGK_QUERYADAPTERINFOFLAGS::ABI,
    DXGKARG_QUERYADAPTERINFO::ABI,
    DXGK_POINTERFLAGS::ABI,
    DXGK_GAMMARAMPCAPS::ABI,
    DXGK_PRESENTATIONCAPS::ABI,
    DXGK_FLIPCAPS::ABI,
    DXGK_VIDSCHCAPS::ABI,
    DXGK_VIDMMCAPS::ABI,
    DXGK_GPUENGINETOPOLOGY::ABI,
    DXGK_VIRTUALADDRESSCAPS_DEPRECATED::ABI,
    DXGK_DMABUFFERCAPS_DEPRECATED::ABI,
    D3DKMDT_PREEMPTION_CAPS::ABI,
    DXGK_HWQUEUEDFLIP_CAPS::ABI,
    DXGK_DRIVERCAPS::ABI,
    DXGK_MEMORYRANGE::ABI,
    DXGKARG_CREATEMEMORYBASIS::ABI,
    DXGKARG_QUERYDIRTYBITDATA::ABI,
    DXGK_DIRTY_BIT_TRACKING_CAPS::ABI,
    DXGK_DIRTY_BIT_TRACKING_SEGMENT_CAPS::ABI,
    DXGK_GPUPCAPS::ABI,
    DXGK_QUERYSCATTERRESERVEIN::ABI,
    DXGK_QUERYSCATTERRESERVEOUT::ABI,
    DXGKARG_GPUP_PREPARE_LIVE_MIGRATION::ABI,
    DXGKARG_GPUP_SAVE_IMMUTABLE_MIGRATION_DATA::ABI,
    DXGKARG_GPUP_SAVE_MUTABLE_MIGRATION_DATA::ABI,
    DXGKARG_GPUP_RESTORE_IMMUTABLE_MIGRATION_DATA::ABI,
    DXGKARG_GPUP_RESTORE_MUTABLE_MIGRATION_DATA::ABI,
    DXGK_INTERRUPT_TABLE_ENTRY::ABI,
    DXGKARG_GPUP_WRITE_VIRTUALIZED_MSIX::ABI,
    DXGK_GPU_PHYSICAL_RESERVE_DESCRIPTOR::ABI,
    DXGKARG_SETVIRTUALGPURESOURCES2::ABI,
    DXGKARG_SETVIRTUALFUNCTIONPAUSESTATE::ABI,
];

/// Every C enum this crate declares, with its enumerators, for the ABI test.
pub const ENUMS: &[(&str, &[abi::ConstInfo])] = &[
    ("DOCKING_STATE", DOCKING_STATE::CONSTANTS),
    ("DEVICE_POWER_STATE", DEVICE_POWER_STATE::CONSTANTS),
    ("POWER_ACTION", POWER_ACTION::CONSTANTS),
    (
        "DXGK_QUERYADAPTERINFOTYPE",
        DXGK_QUERYADAPTERINFOTYPE::CONSTANTS,
    ),
    ("DXGK_WDDMVERSION", DXGK_WDDMVERSION::CONSTANTS),
    (
        "D3DKMDT_GRAPHICS_PREEMPTION_GRANULARITY",
        D3DKMDT_GRAPHICS_PREEMPTION_GRANULARITY::CONSTANTS,
    ),
    (
        "D3DKMDT_COMPUTE_PREEMPTION_GRANULARITY",
        D3DKMDT_COMPUTE_PREEMPTION_GRANULARITY::CONSTANTS,
    ),
    (
        "DXGKARG_QUERYDIRTYBITDATAFLAGS",
        DXGKARG_QUERYDIRTYBITDATAFLAGS::CONSTANTS,
    ),
    (
        "DXGK_GPUP_MIGRATIONTYPE",
        DXGK_GPUP_MIGRATIONTYPE::CONSTANTS,
    ),
];

/// Every `#define` and NTSTATUS code this crate declares, for the ABI test.
pub const MACRO_CONSTANTS: &[&[abi::ConstInfo]] = &[INTERFACE_VERSIONS, NTSTATUS_CODES];
