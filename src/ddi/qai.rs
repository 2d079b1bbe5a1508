//! `DxgkDdiQueryAdapterInfo`.

use dxgk_sys::*;

use crate::adapter::{caps, registry};
use crate::ddi::{OutBuffer, read_in};
use crate::status::{Status, to_ntstatus};

/// `DxgkDdiQueryAdapterInfo`: answers `DXGKQAITYPE_DRIVERCAPS`; every other
/// type gets `STATUS_NOT_SUPPORTED`.
///
/// Returns `STATUS_INVALID_PARAMETER` for an unknown adapter or NULL
/// arguments, `STATUS_INVALID_DEVICE_STATE` before StartDevice, and
/// `STATUS_BUFFER_TOO_SMALL` for an output buffer too small for the answer.
///
/// # Safety
/// Non-NULL pointers, and the buffers they name, are valid as Dxgkrnl passes them.
pub(crate) unsafe extern "system" fn DxgkDdiQueryAdapterInfo(
    hAdapter: HANDLE,
    pQueryAdapterInfo: *const DXGKARG_QUERYADAPTERINFO,
) -> NTSTATUS {
    to_ntstatus(registry::with_adapter(hAdapter, |adapter| {
        // SAFETY: NULL or readable (Dxgkrnl's contract).
        let args = unsafe { read_in(pQueryAdapterInfo) }?;
        let out_len = usize::try_from(args.OutputDataSize).map_err(|_| Status::InvalidParameter)?;
        // SAFETY: `pOutputData` is NULL or holds `OutputDataSize` writable bytes.
        let mut out = unsafe { OutBuffer::new(args.pOutputData, out_len) }?;
        adapter.with_started(|_| match args.Type {
            DXGKQAITYPE_DRIVERCAPS => {
                out.write_record(&caps::driver_caps(), caps::DRIVER_CAPS_REQUIRED)
            }
            _ => Err(Status::NotSupported),
        })
    }))
}
