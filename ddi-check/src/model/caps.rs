//! The reference model of the capability queries of `docs/contract.md`
//! ("Adapter capabilities"): WDDMDEVICECAPS (the one type answered in every
//! state), PHYSICALADAPTERCAPS, GPUMMUCAPS, PAGETABLELEVELDESC,
//! HISTORYBUFFERPRECISION, NUMPOWERCOMPONENTS, 64BITONLYCAPS,
//! ADAPTERPERFDATA_CAPS and GPUVERSION, written from that document's tables
//! with no code shared with the driver.

use dxgk_sys::*;

use super::QaiArgs;

/// The statuses a capability query may end with (any one of them; empty:
/// it must succeed) and the answer's bytes (`None`: not checked), or `None`
/// for a type this module does not model.
pub(super) fn predict(q: &QaiArgs) -> Option<(Vec<NTSTATUS>, Vec<Option<u8>>)> {
    let mut faults = Vec::new();
    let (index_ok, answer) = match q.ty {
        DXGKQAITYPE_WDDMDEVICECAPS => (optional_uint(q).is_some(), le(0x3200)),
        DXGKQAITYPE_PHYSICALADAPTERCAPS => (q.input_segment() == Some(0), physical_adapter_caps()),
        DXGKQAITYPE_GPUMMUCAPS => (
            q.input_segment() == Some(0),
            // Value, GPU_PHYSICAL, 30 bits, 4096, 2 levels, LegacyBehaviors.
            [0, 2, 30, 4096, 2, 0].iter().flat_map(|&v| le(v)).collect(),
        ),
        DXGKQAITYPE_PAGETABLELEVELDESC => (
            // `LevelIndex` 0 or 1 (low WORD), adapter 0 (high WORD).
            q.input_segment().is_some_and(|v| v <= 1),
            [9, 0, 0, 4096, 4096].iter().flat_map(|&v| le(v)).collect(),
        ),
        DXGKQAITYPE_HISTORYBUFFERPRECISION => (q.input_segment() == Some(0), le(64)),
        DXGKQAITYPE_NUMPOWERCOMPONENTS | DXGKQAITYPE_64BITONLYCAPS => {
            (optional_uint(q) == Some(0), le(0))
        }
        DXGKQAITYPE_ADAPTERPERFDATA_CAPS => (optional_uint(q) == Some(0), vec![Some(0); 28]),
        DXGKQAITYPE_GPUVERSION => (optional_uint(q) == Some(0), vec![Some(0); 128]),
        _ => return None,
    };
    if !index_ok {
        faults.push(STATUS_INVALID_PARAMETER);
    }
    if q.output_size < answer.len() {
        faults.push(STATUS_BUFFER_TOO_SMALL);
    }
    Some((faults, answer))
}

/// The `UINT` of an optional input: 0 without one (`InputDataSize` 0),
/// `None` for a present input that is NULL or shorter than 4 bytes.
fn optional_uint(q: &QaiArgs) -> Option<u32> {
    if q.input_size == 0 {
        Some(0)
    } else {
        q.input_segment()
    }
}

fn le(v: u32) -> Vec<Option<u8>> {
    v.to_le_bytes().map(Some).to_vec()
}

/// `DXGK_PHYSICALADAPTERCAPS`: one node, paging node 0, handle 1,
/// `GpuMmuSupported` (bit 1); the padding after the two `WORD`s and at the
/// end is not checked.
fn physical_adapter_caps() -> Vec<Option<u8>> {
    let words = [1u16, 0]
        .iter()
        .flat_map(|v| v.to_le_bytes().map(Some))
        .collect::<Vec<_>>();
    [
        words,
        vec![None; 4],
        1u64.to_le_bytes().map(Some).to_vec(),
        le(0b10),
        le(0),
        le(0),
        vec![None; 4],
    ]
    .concat()
}
