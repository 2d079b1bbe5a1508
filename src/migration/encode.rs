//! The Save DDIs' encoder: both blobs written record by record straight
//! from the live state (the [`Vgpu`], its bound reserve and the tracker's
//! memory bases) into the OS's buffer, or only measured for the sizing call.
//! Nothing is allocated and nothing is sorted on this, the blackout, path:
//! the bases' VF runs come from [`ReserveMap`], a binary search over the
//! reserve's pieces as sorted when it was bound, walked twice per basis
//! (once to count its runs, or find that it is not this VF's, once to write
//! them).
//!
//! The bytes are those `crate::savestate::state` writes for the typed
//! [`ImmutableState`](crate::savestate::state::ImmutableState) and
//! [`MutableState`](crate::savestate::state::MutableState) this adapter
//! would build (records, order and limits as its table gives); the unit
//! tests compare the two on many random VF states, the typed builder kept
//! there as the oracle.

use super::snapshot::{DRIVER_VERSION, IDENTITY, ReserveMap, luid_value, ordinal, tracked_vram};
use crate::basis::Tracker;
use crate::foundation::status::{Result, Status};
use crate::savestate::codec::{self, Kind, Records, Writer, record};
use crate::savestate::state::{
    MAX_BASES, MAX_CONFIG, MAX_MSIX, MAX_RANGES, MAX_RESERVES, MAX_SEGMENTS, REC_BASES, REC_CONFIG,
    REC_DRIVER, REC_IDENTITY, REC_MSIX, REC_SEGMENTS, REC_VF_RESOURCES, REC_VF_STATE,
};
use crate::vgpu::{BoundReserve, Vgpu};

/// A count as the format's `u32`.
fn len_u32(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Status::InvalidParameter)
}

/// `InvalidParameter` for a count over the format's limit.
fn check_max(n: usize, max: usize) -> Result<()> {
    if n > max {
        Err(Status::InvalidParameter)
    } else {
        Ok(())
    }
}

/// The immutable data of a VF, as its live state.
struct LiveImmutable<'a> {
    tracker: &'a Tracker,
    vgpu: &'a Vgpu,
    /// The ordinal of the VF's segment.
    segment: u32,
}

impl Records for LiveImmutable<'_> {
    fn write_records(&self, w: &mut Writer<'_>) -> Result<u32> {
        let segments = tracked_vram(self.tracker).count();
        check_max(segments, MAX_SEGMENTS)?;
        check_max(1, MAX_RESERVES)?;
        record(w, REC_IDENTITY, |w| {
            let i = &IDENTITY;
            w.u16(i.vendor_id)?;
            w.u16(i.device_id)?;
            w.u16(i.subsystem_vendor_id)?;
            w.u16(i.subsystem_id)?;
            w.u8(i.revision)
        })?;
        record(w, REC_DRIVER, |w| {
            let d = &DRIVER_VERSION;
            w.u16(d.major)?;
            w.u16(d.minor)?;
            w.u16(d.patch)?;
            w.u32(d.interface_version)
        })?;
        record(w, REC_SEGMENTS, |w| {
            w.u32(len_u32(segments)?)?;
            for (ordinal, s) in (0u32..).zip(tracked_vram(self.tracker)) {
                w.u32(ordinal)?;
                w.u32(s.page.map_or(0, |p| p.bytes()))?;
                w.u64(s.size)?;
            }
            Ok(())
        })?;
        record(w, REC_VF_RESOURCES, |w| {
            let v = self.vgpu;
            w.u32(v.index())?;
            w.u32(v.partition_count())?;
            w.u64(luid_value(v.luid()))?;
            w.u32(1)?;
            w.u32(self.segment)?;
            w.u64(v.reserve_size())
        })?;
        Ok(4)
    }
}

/// The mutable data of a VF, as its live state.
struct LiveMutable<'a> {
    tracker: &'a Tracker,
    vgpu: &'a Vgpu,
    reserve: &'a BoundReserve,
    /// The ordinal of the VF's segment.
    segment: u32,
}

impl LiveMutable<'_> {
    /// The bases record's payload: the VF's bases (those over its segment
    /// with every byte inside its reserve, in slot order), each as its VF
    /// runs. The count is written once known (patched; nothing to patch
    /// when only measuring).
    fn write_bases(&self, w: &mut Writer<'_>) -> Result<()> {
        let map = ReserveMap::new(self.reserve);
        let count_at = w.len();
        w.u32(0)?;
        let mut count = 0usize;
        let segment = self.vgpu.segment();
        for b in self.tracker.bases().filter(|b| b.segment == segment) {
            let Some(runs) = map.run_count(&b) else {
                continue;
            };
            check_max(runs, MAX_RANGES)?;
            w.u32(self.segment)?;
            w.u8(u8::from(b.tracked))?;
            w.u32(len_u32(runs)?)?;
            for run in map.runs(&b) {
                // The count above walked the same runs: none lies outside.
                let (vf, len) = run.map_err(|_| Status::InvalidParameter)?;
                w.u64(vf)?;
                w.u64(len)?;
            }
            count = count.saturating_add(1);
        }
        check_max(count, MAX_BASES)?;
        w.patch_u32(count_at, len_u32(count)?)
    }
}

impl Records for LiveMutable<'_> {
    fn write_records(&self, w: &mut Writer<'_>) -> Result<u32> {
        let v = self.vgpu;
        let written = || v.msix().iter().filter(|e| e.is_some()).count();
        let config = v.config_space().snapshot();
        check_max(written(), MAX_MSIX)?;
        check_max(config.len(), MAX_CONFIG)?;
        record(w, REC_VF_STATE, |w| {
            w.u32(v.index())?;
            w.u64(luid_value(v.luid()))?;
            w.u8(u8::from(v.migration().paused()))
        })?;
        record(w, REC_MSIX, |w| {
            w.u32(len_u32(written())?)?;
            for (i, entry) in v.msix().iter().enumerate() {
                if entry.is_some() {
                    w.u16(u16::try_from(i).map_err(|_| Status::InvalidParameter)?)?;
                }
            }
            Ok(())
        })?;
        record(w, REC_BASES, |w| self.write_bases(w))?;
        record(w, REC_CONFIG, |w| {
            w.u32(len_u32(config.len())?)?;
            w.bytes(config)
        })?;
        Ok(4)
    }
}

/// Encodes the immutable data of `vgpu` into `out`, or measures it when
/// `out` is `None`; returns its length. Allocates nothing.
///
/// # Errors
/// `InvalidParameter` for a VF whose segment is not tracked or a state over
/// the format's limits; `BufferTooSmall`.
pub(crate) fn immutable(tracker: &Tracker, vgpu: &Vgpu, out: Option<&mut [u8]>) -> Result<usize> {
    let segment = ordinal(tracker, vgpu.segment())?;
    let live = LiveImmutable {
        tracker,
        vgpu,
        segment,
    };
    codec::encode(Kind::Immutable, &live, out)
}

/// Encodes the mutable data of `vgpu` into `out`, or measures it when `out`
/// is `None`; returns its length. Allocates nothing.
///
/// # Errors
/// `InvalidDeviceState` for a VF without VRAM; `InvalidParameter` as
/// [`immutable`]; `BufferTooSmall`.
pub(crate) fn mutable(tracker: &Tracker, vgpu: &Vgpu, out: Option<&mut [u8]>) -> Result<usize> {
    let reserve = vgpu.migratable()?;
    let segment = ordinal(tracker, vgpu.segment())?;
    let live = LiveMutable {
        tracker,
        vgpu,
        reserve,
        segment,
    };
    codec::encode(Kind::Mutable, &live, out)
}
