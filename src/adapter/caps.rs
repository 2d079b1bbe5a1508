//! The capabilities the adapter reports through `DxgkDdiQueryAdapterInfo`.

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

/// `DXGK_DRIVERCAPS` of this render-less software adapter: WDDM 3.2, no
/// display, no engines of its own. Everything not set here is zero, which
/// means "not supported" for every capability bit.
pub(crate) fn driver_caps() -> DXGK_DRIVERCAPS {
    let mut caps = DXGK_DRIVERCAPS::zeroed();
    caps.WDDMVersion = DXGKDDI_WDDMv3_2;
    caps.HighestAcceptableAddress = LARGE_INTEGER { QuadPart: i64::MAX };
    // No pointer, no overlays, no present: a render-less adapter.
    caps.SupportNonVGA = 1;
    caps
}

/// The smallest `DXGK_DRIVERCAPS` prefix worth writing: through `WDDMVersion`,
/// which Dxgkrnl checks against the table's interface version. Larger buffers
/// get every whole field that fits (the structure grows between WDDM versions).
pub(crate) const DRIVER_CAPS_REQUIRED: usize =
    core::mem::offset_of!(DXGK_DRIVERCAPS, WDDMVersion) + core::mem::size_of::<DXGK_WDDMVERSION>();

/// `DXGK_DIRTY_BIT_TRACKING_CAPS`: supported, and performant (a software
/// bitplane costs one atomic OR per write, cheap enough for the whole life of
/// a VF, so Dxgkrnl starts tracking at VF creation).
pub(crate) fn dirty_bit_tracking_caps() -> DXGK_DIRTY_BIT_TRACKING_CAPS {
    DXGK_DIRTY_BIT_TRACKING_CAPS {
        Value: DirtyBitTrackingCaps::DirtyBitTrackingSupported
            | DirtyBitTrackingCaps::DirtyBitTrackingPerformant,
    }
}

/// `DXGK_DIRTY_BIT_TRACKING_SEGMENT_CAPS` of one segment.
///
/// # Errors
/// `InvalidParameter` for an unknown segment; `NotImplemented` for a segment
/// without dirty tracking.
pub(crate) fn segment_caps(
    engine: &crate::basis::Engine,
    segment: crate::basis::types::SegmentId,
) -> crate::status::Result<DXGK_DIRTY_BIT_TRACKING_SEGMENT_CAPS> {
    use crate::status::Status;
    let segment = engine
        .segments()
        .find(|s| s.id == segment)
        .ok_or(Status::InvalidParameter)?;
    let page = segment.page.ok_or(Status::NotImplemented)?;
    Ok(DXGK_DIRTY_BIT_TRACKING_SEGMENT_CAPS {
        PageSize: page.bytes(),
    })
}
