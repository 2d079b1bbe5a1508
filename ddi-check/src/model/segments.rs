//! The segment queries of `DxgkDdiQueryAdapterInfo` as the contract states
//! them (`docs/contract.md`, `../shared/spec/adapter-start.md` 4.1-4.2): the
//! paging aperture (segment 1) and the configured [`SEGMENTS`] from id 2,
//! one MMU, paging buffers of 64 KiB in the aperture. The checker plays
//! Dxgkrnl and passes these types a zeroed output (Dxgkrnl never passes a
//! garbage descriptor pointer), so QUERYSEGMENT4 takes its count-only path
//! and QUERYSEGMENT5 / QUERYMMUS see a NULL array.

use dxgk_sys::*;

use super::{QaiArgs, SEGMENTS, SegmentDef};

/// Segment 1: the driver's paging aperture, 64 MiB, untracked.
pub const APERTURE: SegmentDef = SegmentDef {
    id: 1,
    size: 64 << 20,
    page: None,
};

/// Whether `ty` is one of the segment queries (their output is zeroed by
/// the checker, as their records carry OS pointers).
#[must_use]
pub fn is_segment_query(ty: DXGK_QUERYADAPTERINFOTYPE) -> bool {
    matches!(
        ty,
        DXGKQAITYPE_QUERYSEGMENT4
            | DXGKQAITYPE_QUERYPAGINGBUFFERINFO
            | DXGKQAITYPE_QUERYSEGMENTCOUNT
            | DXGKQAITYPE_QUERYSEGMENT5
            | DXGKQAITYPE_QUERYMMUCOUNT
            | DXGKQAITYPE_QUERYMMUS
    )
}

fn le(v: &[u8]) -> Vec<Option<u8>> {
    v.iter().copied().map(Some).collect()
}

/// The status and answer bytes of a segment query, or `None` for another
/// type. `input` must hold the type's input record whose physical adapter
/// index is 0; the output its output record.
#[must_use]
pub fn answer(q: &QaiArgs) -> Option<(NTSTATUS, Vec<Option<u8>>)> {
    let count = u8::try_from(SEGMENTS.len() + 1).unwrap_or(u8::MAX);
    // (input record size, output record size)
    let (input_len, output_len) = match q.ty {
        DXGKQAITYPE_QUERYSEGMENT4 => (4, 40),
        DXGKQAITYPE_QUERYPAGINGBUFFERINFO => (4, 8),
        DXGKQAITYPE_QUERYSEGMENTCOUNT | DXGKQAITYPE_QUERYMMUCOUNT => (8, 8),
        DXGKQAITYPE_QUERYSEGMENT5 => (8, 24),
        DXGKQAITYPE_QUERYMMUS => (2, 32),
        _ => return None,
    };
    let index = q.input.as_ref().and_then(|i| {
        let bytes = i.get(..input_len)?;
        // QUERYSEGMENT4's index is a UINT, the others' a UINT16.
        Some(if input_len == 4 && q.ty == DXGKQAITYPE_QUERYSEGMENT4 {
            u32::from_le_bytes(bytes.try_into().ok()?)
        } else {
            u32::from(u16::from_le_bytes(bytes.get(..2)?.try_into().ok()?))
        })
    });
    if index != Some(0) {
        return Some((STATUS_INVALID_PARAMETER, Vec::new()));
    }
    if q.output_size < output_len {
        return Some((STATUS_BUFFER_TOO_SMALL, Vec::new()));
    }
    let answer = match q.ty {
        DXGKQAITYPE_QUERYSEGMENT4 => {
            // NbSegment, (padding), NULL array, PagingBufferSegmentId 1,
            // PagingBufferSize 64 KiB, 16 bytes of private data (the record
            // naming the buffer), (padding), stride 0.
            let mut a = le(&[count, 0, 0, 0]);
            a.extend([None; 4]);
            a.extend(le(&[0; 8]));
            a.extend(le(&[1, 0, 0, 0, 0, 0, 1, 0, 16, 0, 0, 0]));
            a.extend([None; 4]);
            a.extend(le(&[0; 8]));
            a
        }
        // 64 KiB, 16 bytes of private data, zeros to the end of the output.
        DXGKQAITYPE_QUERYPAGINGBUFFERINFO => {
            let mut a = le(&[0, 0, 1, 0, 16, 0, 0, 0]);
            a.resize(q.output_size, Some(0));
            a
        }
        DXGKQAITYPE_QUERYSEGMENTCOUNT => le(&[count, 0, 0, 0, 0, 0, 0, 0]),
        DXGKQAITYPE_QUERYMMUCOUNT => le(&[1, 0, 0, 0, 0, 0, 0, 0]),
        // The arrays are NULL in the zeroed output.
        _ => return Some((STATUS_INVALID_PARAMETER, Vec::new())),
    };
    Some((STATUS_SUCCESS, answer))
}
