//! What this adapter saves for one VF, built from the [`Vgpu`] and the
//! memory bases the dirty-tracking layer holds: the immutable data
//! (identity, driver version, segments, the VF's partition count, LUID and
//! reserve sizes) and the mutable data (pause, the indices of the MSI-X
//! entries written, not their host routing, the
//! configuration space, and the bases that lie within the VF's bound
//! reserve, each as the VF-address runs it covers in bitplane order, so that
//! a contiguous reserve on one side and a scattered one on the other compare
//! equal when bit `n` means the same VF page). Restore builds the same for
//! the target VF and compares.

use alloc::vec::Vec;

use crate::basis::{BasisView, Tracker};
use crate::foundation::fallible::{push, try_vec};
use crate::foundation::status::{Result, Status};
use crate::savestate::state::{
    AdapterIdentity, BasisState, DriverVersion, ImmutableState, MsixEntry, MutableState,
    ReserveSize, SegmentLayout,
};
use crate::vgpu::{BoundReserve, MSIX_TABLE_SIZE, Vgpu, pci};

/// `u16::from_str_radix` of a crate-version component, at compile time.
const fn version_part(text: &str) -> u16 {
    match u16::from_str_radix(text, 10) {
        Ok(v) => v,
        Err(_) => 0,
    }
}

/// This driver's version.
pub(crate) const DRIVER_VERSION: DriverVersion = DriverVersion {
    major: version_part(env!("CARGO_PKG_VERSION_MAJOR")),
    minor: version_part(env!("CARGO_PKG_VERSION_MINOR")),
    patch: version_part(env!("CARGO_PKG_VERSION_PATCH")),
    interface_version: dxgk_sys::DXGKDDI_INTERFACE_VERSION_WDDM3_2,
};

/// The identity the partitioning reports for its VFs.
pub(crate) const IDENTITY: AdapterIdentity = AdapterIdentity {
    vendor_id: pci::VENDOR_ID,
    device_id: pci::DEVICE_ID,
    subsystem_vendor_id: pci::VENDOR_ID,
    subsystem_id: pci::DEVICE_ID,
    revision: pci::REVISION_ID,
};

/// A LUID as the format carries it.
pub(crate) fn luid_value(luid: dxgk_sys::LUID) -> u64 {
    u64::from(luid.LowPart) | (u64::from(luid.HighPart.cast_unsigned()) << 32)
}

/// A bound reserve's pieces by segment offset, with the VF address of each,
/// for mapping basis ranges to VF addresses in `O(log pieces)` each.
struct ReserveMap {
    /// (segment offset, bytes, VF address), ascending segment offset.
    pieces: Vec<(u64, u64, u64)>,
}

impl ReserveMap {
    fn new(reserve: &BoundReserve) -> Result<Self> {
        let mut pieces = try_vec(reserve.pieces().len())?;
        let mut vf = 0u64;
        for &(at, size) in reserve.pieces() {
            push(&mut pieces, (at, size, vf))?;
            vf = vf.saturating_add(size);
        }
        crate::foundation::sort::sort_by_key(&mut pieces, |p| p.0);
        Ok(Self { pieces })
    }

    /// The piece holding segment offset `at`: (VF address of `at`, bytes
    /// of the piece from `at` on).
    fn locate(&self, at: u64) -> Option<(u64, u64)> {
        let i = self.pieces.partition_point(|p| p.0 <= at).checked_sub(1)?;
        let &(start, size, vf) = self.pieces.get(i)?;
        let within = at.checked_sub(start)?;
        (within < size).then(|| (vf.saturating_add(within), size.saturating_sub(within)))
    }

    /// The VF-address runs `basis` covers, in bitplane order, adjacent runs
    /// merged; `None` if any byte of it lies outside the reserve (then it is
    /// not this VF's basis).
    fn runs(&self, basis: &BasisView<'_>) -> Result<Option<Vec<(u64, u64)>>> {
        let mut runs: Vec<(u64, u64)> =
            try_vec(basis.range_count().saturating_add(self.pieces.len()))?;
        for (mut at, mut left) in basis.ranges() {
            while left > 0 {
                let Some((vf, room)) = self.locate(at) else {
                    return Ok(None);
                };
                let n = room.min(left);
                match runs.last_mut() {
                    Some(last) if last.0.saturating_add(last.1) == vf => {
                        last.1 = last.1.saturating_add(n);
                    }
                    _ => {
                        if push(&mut runs, (vf, n)).is_err() {
                            // More runs than ranges plus pieces cannot happen
                            // (each range splits only where a piece ends).
                            return Err(Status::NoMemory);
                        }
                    }
                }
                at = at.saturating_add(n);
                left = left.saturating_sub(n);
            }
        }
        Ok(Some(runs))
    }
}

/// The segments the saved state names: the tracked VRAM segments, in driver
/// id order (the paging aperture and untracked VRAM hold no VF data).
fn tracked_vram(tracker: &Tracker) -> impl Iterator<Item = &crate::foundation::units::Segment> {
    tracker.segments().filter(|s| s.page.is_some())
}

/// The saved state's name of segment `id`: its ordinal among
/// [`tracked_vram`] (format 3, see `crate::savestate::state`).
///
/// # Errors
/// `InvalidParameter` for a segment that is not tracked (no VF reserve or
/// basis lies in one).
fn ordinal(tracker: &Tracker, id: crate::foundation::units::SegmentId) -> Result<u32> {
    let at = tracked_vram(tracker)
        .position(|s| s.id == id)
        .ok_or(Status::InvalidParameter)?;
    u32::try_from(at).map_err(|_| Status::InvalidParameter)
}

/// What this adapter saves as the immutable data of `vgpu`.
pub(crate) fn immutable_of(tracker: &Tracker, vgpu: &Vgpu) -> Result<ImmutableState> {
    let mut segments = try_vec(tracked_vram(tracker).count())?;
    for (ordinal, s) in (0u32..).zip(tracked_vram(tracker)) {
        push(
            &mut segments,
            SegmentLayout {
                ordinal,
                page_size: s.page.map_or(0, |p| p.bytes()),
                size: s.size,
            },
        )?;
    }
    let mut reserves = try_vec(1)?;
    push(
        &mut reserves,
        ReserveSize {
            segment: ordinal(tracker, vgpu.segment())?,
            size: vgpu.reserve_size(),
        },
    )?;
    Ok(ImmutableState {
        identity: IDENTITY,
        driver: DRIVER_VERSION,
        segments,
        vf_index: vgpu.index(),
        partition_count: vgpu.partition_count(),
        luid: luid_value(vgpu.luid()),
        reserves,
    })
}

/// The memory bases of the VF's reserve, as VF runs.
pub(crate) fn bases_of(
    tracker: &Tracker,
    vgpu: &Vgpu,
    reserve: &BoundReserve,
) -> Result<Vec<BasisState>> {
    let map = ReserveMap::new(reserve)?;
    let mine = |b: &BasisView<'_>| b.segment == vgpu.segment();
    let mut bases = try_vec(tracker.bases().filter(|b| mine(b)).count())?;
    for b in tracker.bases().filter(|b| mine(b)) {
        if let Some(ranges) = map.runs(&b)? {
            push(
                &mut bases,
                BasisState {
                    segment: ordinal(tracker, b.segment)?,
                    tracked: b.tracked,
                    ranges,
                },
            )?;
        }
    }
    Ok(bases)
}

/// What this adapter saves as the mutable data of `vgpu`.
///
/// # Errors
/// `InvalidDeviceState` for a VF without VRAM; `NoMemory`.
pub(crate) fn mutable_of(tracker: &Tracker, vgpu: &Vgpu) -> Result<MutableState> {
    let reserve = vgpu.migratable()?;
    let mut msix = try_vec(MSIX_TABLE_SIZE)?;
    for (i, entry) in vgpu.msix().iter().enumerate() {
        if entry.is_some() {
            push(
                &mut msix,
                MsixEntry {
                    index: u16::try_from(i).map_err(|_| Status::InvalidParameter)?,
                },
            )?;
        }
    }
    let snapshot = vgpu.config_space().snapshot();
    let mut config = try_vec(snapshot.len())?;
    config.extend_from_slice(snapshot);
    Ok(MutableState {
        vf_index: vgpu.index(),
        luid: luid_value(vgpu.luid()),
        paused: vgpu.migration().paused(),
        msix,
        bases: bases_of(tracker, vgpu, reserve)?,
        config,
    })
}
