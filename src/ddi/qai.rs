//! `DxgkDdiQueryAdapterInfo`: one match from query type to answer; the
//! answers themselves are built in `adapter::caps` (and the layers below),
//! so an arm is one line of input decoding and one write.

use dxgk_sys::*;

use crate::adapter::{caps, registry};
use crate::ddi::arg::ArgBlock;
use crate::ddi::{InBuffer, OutBuffer, initialization_data};
use crate::foundation::status::{Result, Status, to_ntstatus};
use crate::foundation::units::SegmentId;

/// `DxgkDdiQueryAdapterInfo`. Answers, with the input each reads:
/// - `DXGKQAITYPE_WDDMDEVICECAPS` (input `DXGK_WDDMDEVICECAPSIN`, optional):
///   the ONLY type answered in every state, before StartDevice included
///   (`../shared/spec/adapter-start.md` 2.1 step 1);
/// - `DXGKQAITYPE_DRIVERCAPS`: every whole field that fits, at least through
///   `WDDMVersion`;
/// - `DXGKQAITYPE_PHYSICALADAPTERCAPS`, `_GPUMMUCAPS`, `_HISTORYBUFFERPRECISION`
///   (input: the physical adapter index, a `UINT`; only 0 exists) and
///   `_PAGETABLELEVELDESC` (input `DXGK_QUERYPAGETABLELEVELDESCIN`: a level
///   up to the root, adapter 0);
/// - `DXGKQAITYPE_NUMPOWERCOMPONENTS` (a `UINT`, 0), `_64BITONLYCAPS` (a
///   `UINT`, 0), `_ADAPTERPERFDATA_CAPS` and `_GPUVERSION` (zeroed records);
///   their input, if any, is a physical adapter index, which must be 0;
/// - `DXGKQAITYPE_GPUPCAPS` (derived from the DDI table and the
///   dirty-tracking caps, see `caps::gpup_caps`; `STATUS_NOT_SUPPORTED` when
///   partitioning is disabled), `DXGKQAITYPE_DIRTYBITTRACKINGCAPS` and
///   `DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS` (input: the driver segment id;
///   `STATUS_NOT_IMPLEMENTED` for a segment without tracking,
///   `STATUS_INVALID_PARAMETER` for an unknown one),
///   `DXGKQAITYPE_SCATTER_RESERVE` (input `DXGK_QUERYSCATTERRESERVEIN`; the
///   same statuses per segment, `STATUS_NOT_SUPPORTED` when partitioning is
///   disabled);
/// - the segment queries: `DXGKQAITYPE_QUERYSEGMENT4` and the PBMM set
///   42-46 (see `qai_segments`);
/// - every other type: `STATUS_NOT_SUPPORTED`.
///
/// Returns `STATUS_INVALID_PARAMETER` for an unknown adapter, NULL arguments,
/// a missing or malformed input or an input naming something that does not
/// exist, `STATUS_INVALID_DEVICE_STATE` for any type but WDDMDEVICECAPS
/// outside Started, and `STATUS_BUFFER_TOO_SMALL` for an output buffer too
/// small for the answer (nothing is written then).
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
        if args.Type == DXGKQAITYPE_WDDMDEVICECAPS {
            // Asked between AddDevice and StartDevice (spec 2.1 step 1).
            optional_uint(&input, in_len)?;
            return out.write_whole(&caps::wddm_device_caps());
        }
        let started = adapter.started()?;
        match args.Type {
            DXGKQAITYPE_DRIVERCAPS => {
                out.write_record(&caps::driver_caps(), caps::DRIVER_CAPS_REQUIRED)
            }
            DXGKQAITYPE_PHYSICALADAPTERCAPS => {
                out.write_whole(&caps::physical_adapter_caps(input.read_uint()?)?)
            }
            DXGKQAITYPE_GPUMMUCAPS => out.write_whole(&caps::gpummu_caps(input.read_uint()?)?),
            DXGKQAITYPE_PAGETABLELEVELDESC => {
                // `DXGK_QUERYPAGETABLELEVELDESCIN`: two `WORD`s, little-endian.
                let [l0, l1, a0, a1] = input.read_uint()?.to_le_bytes();
                let (level, index) = (u16::from_le_bytes([l0, l1]), u16::from_le_bytes([a0, a1]));
                out.write_whole(&caps::page_table_level(level, index)?)
            }
            DXGKQAITYPE_HISTORYBUFFERPRECISION => {
                out.write_whole(&caps::history_buffer_precision(input.read_uint()?)?)
            }
            DXGKQAITYPE_NUMPOWERCOMPONENTS => {
                caps::physical_adapter(optional_uint(&input, in_len)?)?;
                write_uint(&mut out, caps::POWER_COMPONENTS)
            }
            DXGKQAITYPE_64BITONLYCAPS => {
                caps::physical_adapter(optional_uint(&input, in_len)?)?;
                write_uint(&mut out, caps::SIXTY_FOUR_BIT_ONLY_CAPS)
            }
            DXGKQAITYPE_ADAPTERPERFDATA_CAPS => {
                caps::physical_adapter(optional_uint(&input, in_len)?)?;
                out.write_whole(&caps::adapter_perf_data_caps())
            }
            DXGKQAITYPE_GPUVERSION => {
                caps::physical_adapter(optional_uint(&input, in_len)?)?;
                out.write_whole(&caps::gpu_version())
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
                out.write_whole(&caps::segment_caps(&started.bases.read(), segment)?)
            }
            DXGKQAITYPE_SCATTER_RESERVE => {
                started.partitions()?;
                let segment = SegmentId(input.read_uint()?);
                out.write_whole(&caps::scatter_reserve(&started.bases.read(), segment)?)
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

/// The `UINT` an optional input holds: 0 without an input (`InputDataSize`
/// 0), else the whole `UINT` a present input must hold.
///
/// # Errors
/// `InvalidParameter` for a present input that is NULL or shorter than 4 bytes.
fn optional_uint(input: &InBuffer, len: usize) -> Result<u32> {
    if len == 0 { Ok(0) } else { input.read_uint() }
}

/// Writes a `UINT` answer.
///
/// # Errors
/// `BufferTooSmall` for a buffer shorter than 4 bytes (nothing written).
fn write_uint(out: &mut OutBuffer, value: u32) -> Result<()> {
    let dst = out
        .prefix(core::mem::size_of::<u32>())
        .ok_or(Status::BufferTooSmall)?;
    for (d, b) in dst.iter_mut().zip(value.to_le_bytes()) {
        d.write(b);
    }
    Ok(())
}
