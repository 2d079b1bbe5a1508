//! The segment queries of `DxgkDdiQueryAdapterInfo` (`../shared/spec/adapter-start.md`
//! 4.1, 4.2): `DXGKQAITYPE_QUERYSEGMENT4` (the LEGACY path) and the PBMM set
//! `QUERYPAGINGBUFFERINFO`, `QUERYSEGMENTCOUNT`, `QUERYSEGMENT5`,
//! `QUERYMMUCOUNT`, `QUERYMMUS`, which an adapter reporting dirty-bit
//! tracking is asked instead. What they say is `crate::adapter::segments`;
//! this file reads the OS's records and writes the answers into the OS's
//! buffers and arrays.
//!
//! Statuses: `STATUS_INVALID_PARAMETER` for a missing or short input, a
//! physical adapter index other than 0, a NULL descriptor array where one is
//! needed (QUERYSEGMENT5, QUERYMMUS) or a `SegmentDescriptorStride` below
//! `sizeof(DXGK_SEGMENTDESCRIPTOR4)` (96); `STATUS_BUFFER_TOO_SMALL` for an
//! output shorter than its record or, on QUERYSEGMENT4's second call, an
//! `NbSegment` below the adapter's segment count.

use core::mem::size_of;

use dxgk_sys::*;

use crate::adapter::Started;
use crate::adapter::segments;
use crate::ddi::{InBuffer, OutBuffer, write_out};
use crate::foundation::status::{Result, Status};

/// Answers one of the segment query types; `NotSupported` for any other.
pub(crate) fn answer(
    ty: DXGK_QUERYADAPTERINFOTYPE,
    started: &Started,
    input: &InBuffer,
    out: &mut OutBuffer,
) -> Result<()> {
    match ty {
        DXGKQAITYPE_QUERYSEGMENT4 => query_segment4(started, input, out),
        DXGKQAITYPE_QUERYPAGINGBUFFERINFO => {
            // SAFETY: integers only.
            let index = unsafe { input.read_prefix::<DXGK_QUERYPAGINGBUFFERINFOIN>() }?;
            segments::check_physical_adapter(index.PhysicalAdapterIndex.into())?;
            paging_buffer_info(out)
        }
        DXGKQAITYPE_QUERYSEGMENTCOUNT => {
            // SAFETY: integers only.
            let index = unsafe { input.read_prefix::<DXGK_QUERYSEGMENTCOUNTIN>() }?;
            segments::check_physical_adapter(index.PhysicalAdapterIndex.into())?;
            out.write_whole(&DXGK_QUERYSEGMENTCOUNTOUT {
                SegmentCount: segments::count(&started.bases.read()),
                Padding: 0,
                Reserved: 0,
            })
        }
        DXGKQAITYPE_QUERYMMUCOUNT => {
            // SAFETY: integers only.
            let index = unsafe { input.read_prefix::<DXGK_QUERYMMUCOUNTIN>() }?;
            segments::check_physical_adapter(index.PhysicalAdapterIndex.into())?;
            out.write_whole(&DXGK_QUERYMMUCOUNTOUT {
                MmuCount: segments::MMU_COUNT,
                Padding: 0,
                Reserved: 0,
            })
        }
        DXGKQAITYPE_QUERYSEGMENT5 => query_segment5(started, input, out),
        DXGKQAITYPE_QUERYMMUS => query_mmus(started, input, out),
        _ => Err(Status::NotSupported),
    }
}

/// `DXGKQAITYPE_QUERYSEGMENT4`, two calls: with `pSegmentDescriptor` NULL
/// it answers the counts and paging-buffer fields only; with an array, it
/// also writes one `DXGK_SEGMENTDESCRIPTOR4` per segment, `stride` bytes
/// apart (the bytes of a stride beyond the 96 of the record are zeroed).
fn query_segment4(started: &Started, input: &InBuffer, out: &mut OutBuffer) -> Result<()> {
    // SAFETY: integers only.
    let index = unsafe { input.read_prefix::<DXGK_QUERYSEGMENTIN4>() }?;
    segments::check_physical_adapter(index.PhysicalAdapterIndex)?;
    // SAFETY: integers and a raw pointer: any bits are a valid record.
    let mut answer = unsafe { out.read_prefix::<DXGK_QUERYSEGMENTOUT4>() }?;
    let count = segments::count(&started.bases.read());
    if !answer.pSegmentDescriptor.is_null() {
        let stride = answer.SegmentDescriptorStride;
        if stride < size_of::<DXGK_SEGMENTDESCRIPTOR4>() {
            return Err(Status::InvalidParameter);
        }
        if answer.NbSegment < u32::from(count) {
            return Err(Status::BufferTooSmall);
        }
        let mut at = 0usize;
        let bases = started.bases.read();
        for (segment, base) in segments::with_bases(&bases) {
            let descriptor = segments::descriptor4(segment, base)?;
            let p = answer.pSegmentDescriptor.wrapping_add(at);
            // SAFETY: the OS's array holds `NbSegment` (>= count)
            // descriptors `stride` bytes apart, writable until this DDI
            // returns (Dxgkrnl's contract): `p..p + stride` lies inside it.
            unsafe { p.write_bytes(0, stride) };
            // SAFETY: as above; `size_of` of the record <= `stride`.
            unsafe { write_out(p.cast::<DXGK_SEGMENTDESCRIPTOR4>(), descriptor) }?;
            at = at.checked_add(stride).ok_or(Status::InvalidParameter)?;
        }
    }
    answer.NbSegment = u32::from(count);
    answer.PagingBufferSegmentId = segments::PAGING_BUFFER_SEGMENT_ID;
    answer.PagingBufferSize = segments::PAGING_BUFFER_SIZE;
    answer.PagingBufferPrivateDataSize = segments::PAGING_BUFFER_PRIVATE_DATA_SIZE;
    out.write_whole(&answer)
}

/// `DXGKQAITYPE_QUERYPAGINGBUFFERINFO`: the two fields of the 26100 header's
/// 8-byte record, into an output of at least 8 bytes; a larger output (the
/// decompiled build reads 16, spec 4.2) gets zeros past them.
fn paging_buffer_info(out: &mut OutBuffer) -> Result<()> {
    let info = segments::paging_buffer_info();
    if out.len() < size_of::<DXGK_QUERYPAGINGBUFFERINFOOUT>() {
        return Err(Status::BufferTooSmall);
    }
    if let Some(bytes) = out.prefix(out.len()) {
        bytes.iter_mut().for_each(|b| {
            b.write(0);
        });
    }
    out.write_record(&info, size_of::<DXGK_QUERYPAGINGBUFFERINFOOUT>())
}

/// `DXGKQAITYPE_QUERYSEGMENT5`: one `DXGK_SEGMENTDESCRIPTOR5` per segment
/// into the OS's array (sized by the QUERYSEGMENTCOUNT answer).
fn query_segment5(started: &Started, input: &InBuffer, out: &mut OutBuffer) -> Result<()> {
    // SAFETY: integers only.
    let index = unsafe { input.read_prefix::<DXGK_QUERYSEGMENTIN5>() }?;
    segments::check_physical_adapter(index.PhysicalAdapterIndex.into())?;
    // SAFETY: a raw pointer and integers: any bits are a valid record.
    let request = unsafe { out.read_prefix::<DXGK_QUERYSEGMENTOUT5>() }?;
    let array = request.SegmentDescriptors;
    if array.is_null() {
        return Err(Status::InvalidParameter);
    }
    let bases = started.bases.read();
    for (i, (segment, base)) in segments::with_bases(&bases).enumerate() {
        let descriptor = segments::descriptor5(segment, base)?;
        // SAFETY: the OS's array holds the QUERYSEGMENTCOUNT answer's
        // number of records, writable until this DDI returns (Dxgkrnl's
        // contract), and `i` is below that count.
        unsafe { write_out(array.wrapping_add(i), descriptor) }?;
    }
    Ok(())
}

/// `DXGKQAITYPE_QUERYMMUS`: the one MMU into the OS's array, and
/// `DisplayMmuId` 0.
fn query_mmus(started: &Started, input: &InBuffer, out: &mut OutBuffer) -> Result<()> {
    // SAFETY: integers only.
    let index = unsafe { input.read_prefix::<DXGK_QUERYMMUSIN>() }?;
    segments::check_physical_adapter(index.PhysicalAdapterIndex.into())?;
    // SAFETY: a raw pointer and integers: any bits are a valid record.
    let mut request = unsafe { out.read_prefix::<DXGK_QUERYMMUSOUT>() }?;
    if request.MmuDescriptors.is_null() {
        return Err(Status::InvalidParameter);
    }
    // SAFETY: the OS's array holds the QUERYMMUCOUNT answer's number (1) of
    // records, writable until this DDI returns (Dxgkrnl's contract).
    unsafe { write_out(request.MmuDescriptors, segments::mmu(&started.bases.read())) }?;
    request.DisplayMmuId = 0;
    request.Reserved0 = 0;
    request.Reserved = [0; 4];
    out.write_whole(&request)
}
