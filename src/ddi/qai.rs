//! `DxgkDdiQueryAdapterInfo`.

use dxgk_sys::*;

use crate::adapter::{caps, registry};
use crate::ddi::arg::ArgBlock;
use crate::ddi::{InBuffer, OutBuffer, initialization_data};
use crate::foundation::status::{Status, to_ntstatus};
use crate::foundation::units::SegmentId;

/// `DxgkDdiQueryAdapterInfo`: answers `DXGKQAITYPE_DRIVERCAPS`,
/// `DXGKQAITYPE_GPUPCAPS` (derived from the DDI table and the dirty-tracking
/// caps, see `caps::gpup_caps`; `STATUS_NOT_SUPPORTED` when partitioning is
/// disabled), `DXGKQAITYPE_DIRTYBITTRACKINGCAPS` and `DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS`
/// (input: the driver segment id; `STATUS_NOT_IMPLEMENTED` for a segment
/// without tracking, `STATUS_INVALID_PARAMETER` for an unknown one),
/// `DXGKQAITYPE_SCATTER_RESERVE` (input `DXGK_QUERYSCATTERRESERVEIN`; the same
/// statuses per segment, `STATUS_NOT_SUPPORTED` when partitioning is
/// disabled), the segment queries (`DXGKQAITYPE_QUERYSEGMENT4` and the PBMM
/// set 42-46, see `qai_segments`); every other type gets `STATUS_NOT_SUPPORTED`.
///
/// Returns `STATUS_INVALID_PARAMETER` for an unknown adapter, NULL arguments or
/// a missing input, `STATUS_INVALID_DEVICE_STATE` before StartDevice, and
/// `STATUS_BUFFER_TOO_SMALL` for an output buffer too small for the answer.
///
/// # Safety
/// Non-NULL pointers, and the buffers they name, are valid as Dxgkrnl passes them.
pub(crate) unsafe extern "system" fn DxgkDdiQueryAdapterInfo(
    hAdapter: HANDLE,
    pQueryAdapterInfo: *const DXGKARG_QUERYADAPTERINFO,
) -> NTSTATUS {
    to_ntstatus(registry::with_adapter(hAdapter, |adapter| {
        // SAFETY: NULL or a readable block (Dxgkrnl's contract).
        let args = unsafe { ArgBlock::new(pQueryAdapterInfo) }?.get();
        let out_len = usize::try_from(args.OutputDataSize).map_err(|_| Status::InvalidParameter)?;
        // SAFETY: the block's `pOutputData` is NULL or holds `OutputDataSize`
        // writable bytes until this DDI returns (Dxgkrnl's contract).
        let mut out = unsafe { OutBuffer::new(args.pOutputData, out_len) }?;
        let in_len = usize::try_from(args.InputDataSize).map_err(|_| Status::InvalidParameter)?;
        // SAFETY: the block's `pInputData` is NULL or holds `InputDataSize`
        // readable bytes until this DDI returns (Dxgkrnl's contract).
        let input = unsafe { InBuffer::new(args.pInputData, in_len) };
        let started = adapter.started()?;
        match args.Type {
            DXGKQAITYPE_DRIVERCAPS => {
                out.write_record(&caps::driver_caps(), caps::DRIVER_CAPS_REQUIRED)
            }
            DXGKQAITYPE_DIRTYBITTRACKINGCAPS => out.write_whole(&caps::dirty_bit_tracking_caps()),
            DXGKQAITYPE_GPUPCAPS => {
                started.partitions()?;
                // The table the driver registers: the caps follow its slots.
                let table = initialization_data();
                out.write_whole(&caps::gpup_caps(
                    &table,
                    caps::dirty_bit_tracking_caps().Value,
                ))
            }
            DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS => {
                let segment = SegmentId(input.read_uint()?);
                out.write_whole(&caps::segment_caps(&started.bases, segment)?)
            }
            DXGKQAITYPE_SCATTER_RESERVE => {
                started.partitions()?;
                let segment = SegmentId(input.read_uint()?);
                out.write_whole(&caps::scatter_reserve(&started.bases, segment)?)
            }
            ty @ (DXGKQAITYPE_QUERYSEGMENT4
            | DXGKQAITYPE_QUERYPAGINGBUFFERINFO
            | DXGKQAITYPE_QUERYSEGMENTCOUNT
            | DXGKQAITYPE_QUERYSEGMENT5
            | DXGKQAITYPE_QUERYMMUCOUNT
            | DXGKQAITYPE_QUERYMMUS) => super::qai_segments::answer(ty, started, &input, &mut out),
            _ => Err(Status::NotSupported),
        }
    }))
}
