//! A deliberately broken QueryAdapterInfo, compiled only with
//! `--cfg gpup_wine_start_broken`: `cargo xtask wine-smoke` builds that
//! variant in its own target directory to show that the fake DXGKrnl's start
//! checks (`dxgkrnl-model/src/start/rules.rs`) refuse an image that breaks
//! one start rule: it sets a reserved bit of `DXGK_DRIVERCAPS.MiscCaps`
//! (spec 2.2 j, STATUS_INVALID_PARAMETER) and nothing else. The shipped image
//! never has the cfg, and `cargo xtask package` refuses an image holding its
//! trace text (the `gpup_wine_smoke_broken` marker).

use core::mem::{offset_of, size_of};

use dxgk_sys::*;

use super::qai;

/// The reserved `MiscCaps` bit the broken variant sets.
const RESERVED_MISC_BIT: u32 = 1 << 20;

/// The DRIVERCAPS bytes up to the end of `MiscCaps`.
const MISC_END: usize = offset_of!(DXGK_DRIVERCAPS, MiscCaps) + size_of::<u32>();

/// Installs the broken QueryAdapterInfo in the table.
pub(crate) fn install(table: &mut DRIVER_INITIALIZATION_DATA) {
    table.DxgkDdiQueryAdapterInfo = Some(broken_query_adapter_info);
}

/// The real QueryAdapterInfo, then a reserved `MiscCaps` bit set in a
/// successful DRIVERCAPS answer that holds the field.
///
/// # Safety
/// As `qai::DxgkDdiQueryAdapterInfo`.
unsafe extern "system" fn broken_query_adapter_info(
    hAdapter: HANDLE,
    pQueryAdapterInfo: *const DXGKARG_QUERYADAPTERINFO,
) -> NTSTATUS {
    // SAFETY: the caller's arguments, passed on unchanged.
    let status = unsafe { qai::DxgkDdiQueryAdapterInfo(hAdapter, pQueryAdapterInfo) };
    if !status.is_success() || pQueryAdapterInfo.is_null() {
        return status;
    }
    // SAFETY: non-NULL, and readable by the DDI's contract (the real DDI
    // just read it).
    let args = unsafe { pQueryAdapterInfo.read_unaligned() };
    let fits = usize::try_from(args.OutputDataSize).is_ok_and(|n| n >= MISC_END);
    if args.Type == DXGKQAITYPE_DRIVERCAPS && fits && !args.pOutputData.is_null() {
        crate::trace!(
            "gpup_wine_smoke_broken: DRIVERCAPS with a reserved MiscCaps bit (start rule 2.2j)"
        );
        let misc = args
            .pOutputData
            .cast::<u8>()
            .wrapping_add(offset_of!(DXGK_DRIVERCAPS, MiscCaps))
            .cast::<u32>();
        // SAFETY: `misc` is inside the OutputDataSize bytes Dxgkrnl gave
        // (checked above), which the real DDI just wrote.
        let value = unsafe { misc.read_unaligned() };
        // SAFETY: as above; the same four writable bytes.
        unsafe { misc.write_unaligned(value | RESERVED_MISC_BIT) };
    }
    status
}
