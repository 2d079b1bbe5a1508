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
    tracker: &crate::basis::Tracker,
    segment: crate::foundation::units::SegmentId,
) -> crate::foundation::status::Result<DXGK_DIRTY_BIT_TRACKING_SEGMENT_CAPS> {
    use crate::foundation::status::Status;
    let segment = tracker
        .segments()
        .find(|s| s.id == segment)
        .ok_or(Status::InvalidParameter)?;
    let page = segment.page.ok_or(Status::NotImplemented)?;
    Ok(DXGK_DIRTY_BIT_TRACKING_SEGMENT_CAPS {
        PageSize: page.bytes(),
    })
}

/// `DXGK_QUERYSCATTERRESERVEOUT` of one segment: the granularity of the
/// ranges `DxgkDdiSetVirtualGpuResources2` accepts. The software adapter's
/// "second-phase translation" maps VF VRAM page by page of the segment's
/// dirty-tracking page size, which is also the size and alignment every
/// reserve has, so the two are one value.
///
/// # Errors
/// `InvalidParameter` for an unknown segment; `NotImplemented` for a
/// segment without dirty tracking (no reserve lives there).
pub(crate) fn scatter_reserve(
    tracker: &crate::basis::Tracker,
    segment: crate::foundation::units::SegmentId,
) -> crate::foundation::status::Result<DXGK_QUERYSCATTERRESERVEOUT> {
    Ok(DXGK_QUERYSCATTERRESERVEOUT {
        SetVGPUResourcesPageSize: u64::from(segment_caps(tracker, segment)?.PageSize),
    })
}

/// `DXGK_GPUPCAPS` of an adapter whose DDI table is `table` and whose
/// dirty-bit tracking caps are `dirty`, derived rather than hard-coded:
/// - `LiveMigration` only with dirty-bit tracking supported *and* all nine
///   live-migration slots (177-185) filled, which is what Dxgkrnl checks;
/// - `ScatterMapReserve` only with `DxgkDdiSetVirtualGpuResources2` (slot 184)
///   filled;
/// - no guest hibernation, no hot driver update.
pub(crate) fn gpup_caps(
    table: &DRIVER_INITIALIZATION_DATA,
    dirty: DirtyBitTrackingCaps,
) -> DXGK_GPUPCAPS {
    let migration_slots = [
        table.DxgkDdiPrepareLiveMigration.is_some(),
        table.DxgkDdiSaveImmutableMigrationData.is_some(),
        table.DxgkDdiSaveMutableMigrationData.is_some(),
        table.DxgkDdiEndLiveMigration.is_some(),
        table.DxgkDdiRestoreImmutableMigrationData.is_some(),
        table.DxgkDdiRestoreMutableMigrationData.is_some(),
        table.DxgkDdiWriteVirtualizedInterrupt.is_some(),
        table.DxgkDdiSetVirtualGpuResources2.is_some(),
        table.DxgkDdiSetVirtualFunctionPauseState.is_some(),
    ];
    let mut caps = GpupCaps::empty();
    if dirty.contains(DirtyBitTrackingCaps::DirtyBitTrackingSupported)
        && migration_slots.iter().all(|&filled| filled)
    {
        caps |= GpupCaps::LiveMigration;
    }
    if table.DxgkDdiSetVirtualGpuResources2.is_some() {
        caps |= GpupCaps::ScatterMapReserve;
    }
    DXGK_GPUPCAPS { Caps: caps }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stand-in DDIs to fill the migration slots with: never called, the
    /// caps only look at whether a slot is filled.
    macro_rules! fillers {
        ($($name:ident($arg:ty);)*) => { $(
            unsafe extern "system" fn $name(_: HANDLE, _: $arg) -> NTSTATUS {
                STATUS_SUCCESS
            }
        )* };
    }
    fillers! {
        prepare(*const DXGKARG_GPUP_PREPARE_LIVE_MIGRATION);
        save_immutable(*mut DXGKARG_GPUP_SAVE_IMMUTABLE_MIGRATION_DATA);
        save_mutable(*mut DXGKARG_GPUP_SAVE_MUTABLE_MIGRATION_DATA);
        end(UINT);
        restore_immutable(*const DXGKARG_GPUP_RESTORE_IMMUTABLE_MIGRATION_DATA);
        restore_mutable(*const DXGKARG_GPUP_RESTORE_MUTABLE_MIGRATION_DATA);
        interrupt(*const DXGKARG_GPUP_WRITE_VIRTUALIZED_MSIX);
        resources2(*const DXGKARG_SETVIRTUALGPURESOURCES2);
        pause(*const DXGKARG_SETVIRTUALFUNCTIONPAUSESTATE);
    }

    fn with_migration_slots() -> DRIVER_INITIALIZATION_DATA {
        let mut t = DRIVER_INITIALIZATION_DATA::zeroed();
        t.DxgkDdiPrepareLiveMigration = Some(prepare);
        t.DxgkDdiSaveImmutableMigrationData = Some(save_immutable);
        t.DxgkDdiSaveMutableMigrationData = Some(save_mutable);
        t.DxgkDdiEndLiveMigration = Some(end);
        t.DxgkDdiRestoreImmutableMigrationData = Some(restore_immutable);
        t.DxgkDdiRestoreMutableMigrationData = Some(restore_mutable);
        t.DxgkDdiWriteVirtualizedInterrupt = Some(interrupt);
        t.DxgkDdiSetVirtualGpuResources2 = Some(resources2);
        t.DxgkDdiSetVirtualFunctionPauseState = Some(pause);
        t
    }

    #[test]
    fn live_migration_needs_dirty_tracking_and_all_nine_slots() {
        let supported = dirty_bit_tracking_caps().Value;
        // The driver's own table (all nine slots filled) is checked with the
        // table, in `ddi::tests`; here the slots are filled one by one.
        let empty = DRIVER_INITIALIZATION_DATA::zeroed();
        assert_eq!(gpup_caps(&empty, supported).Caps, GpupCaps::empty());
        // Filling the nine slots flips both bits on ...
        let full = with_migration_slots();
        assert_eq!(
            gpup_caps(&full, supported).Caps,
            GpupCaps::LiveMigration | GpupCaps::ScatterMapReserve
        );
        // ... but never LiveMigration without dirty-bit tracking ...
        assert_eq!(
            gpup_caps(&full, DirtyBitTrackingCaps::empty()).Caps,
            GpupCaps::ScatterMapReserve
        );
        // ... nor with any one of the nine missing.
        let mut partial = full;
        partial.DxgkDdiEndLiveMigration = None;
        assert_eq!(
            gpup_caps(&partial, supported).Caps,
            GpupCaps::ScatterMapReserve
        );
        let mut no_scatter = full;
        no_scatter.DxgkDdiSetVirtualGpuResources2 = None;
        assert_eq!(gpup_caps(&no_scatter, supported).Caps, GpupCaps::empty());
    }
}
