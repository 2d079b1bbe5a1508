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
