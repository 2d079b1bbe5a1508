//! What this adapter saves for one VF, built from the [`Vgpu`] and the
//! memory bases the dirty-tracking layer holds: the immutable data
//! (identity, driver version, segments, the VF's partition count, LUID and
//! reserve sizes) and the mutable data (pause, the indices of the MSI-X
//! entries written, not their host routing, the
//! configuration space, and the bases that lie within the VF's bound
//! reserve, each as the VF-address runs it covers in bitplane order, so that
//! a contiguous reserve on one side and a scattered one on the other compare
//! equal when bit `n` means the same VF page).
//!
//! The Save DDIs write these straight into the OS's buffer from the live
//! state (`super::encode`, nothing allocated); a Restore builds the typed
//! state of the target VF here ([`immutable_of`], [`bases_of`]) and
//! compares. Both map basis ranges to VF runs with [`ReserveMap`], which
//! borrows the reserve's pieces as sorted when it was bound.

use alloc::vec::Vec;

use crate::basis::{BasisView, Tracker};
use crate::foundation::fallible::{push, try_vec};
use crate::foundation::status::{Result, Status};
use crate::savestate::state::{
    AdapterIdentity, BasisState, DriverVersion, ImmutableState, ReserveSize, SegmentLayout,
};
use crate::vgpu::{BoundReserve, Vgpu, pci};

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

/// A bound reserve's pieces by segment offset, with the VF address of each
/// (`BoundReserve::by_offset`, sorted when the reserve was bound), for
/// mapping basis ranges to VF addresses in `O(log pieces)` each: nothing is
/// allocated or sorted here.
#[derive(Clone, Copy)]
pub(crate) struct ReserveMap<'a> {
    /// (segment offset, bytes, VF address), ascending segment offset.
    pieces: &'a [(u64, u64, u64)],
}

impl<'a> ReserveMap<'a> {
    pub(crate) fn new(reserve: &'a BoundReserve) -> Self {
        Self {
            pieces: reserve.by_offset(),
        }
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
    /// merged, walked without allocating (module docs of [`VfRuns`]).
    pub(crate) fn runs<'b>(
        &self,
        basis: &'b BasisView<'b>,
    ) -> VfRuns<'a, impl Iterator<Item = (u64, u64)> + 'b> {
        VfRuns {
            map: *self,
            ranges: basis.ranges(),
            at: 0,
            left: 0,
            pending: None,
            done: false,
        }
    }

    /// How many runs `basis` covers; `None` if any byte of it lies outside
    /// the reserve (then it is not this VF's basis).
    pub(crate) fn run_count(&self, basis: &BasisView<'_>) -> Option<usize> {
        let mut n = 0usize;
        for run in self.runs(basis) {
            run.ok()?;
            n = n.saturating_add(1);
        }
        Some(n)
    }
}

/// A byte of a basis lies outside the VF's reserve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outside;

/// The VF-address runs of a basis's ranges, in bitplane order, adjacent runs
/// merged (a range splits where a piece of the reserve ends); an `Err` at
/// the first byte outside the reserve, then nothing more.
pub(crate) struct VfRuns<'a, I> {
    map: ReserveMap<'a>,
    ranges: I,
    /// The segment offset and bytes left of the range being walked.
    at: u64,
    left: u64,
    /// The run being grown.
    pending: Option<(u64, u64)>,
    done: bool,
}

impl<I: Iterator<Item = (u64, u64)>> Iterator for VfRuns<'_, I> {
    type Item = core::result::Result<(u64, u64), Outside>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            if self.left == 0 {
                if let Some((at, len)) = self.ranges.next() {
                    (self.at, self.left) = (at, len);
                    continue;
                }
                self.done = true;
                return self.pending.take().map(Ok);
            }
            let Some((vf, room)) = self.map.locate(self.at) else {
                self.done = true;
                return Some(Err(Outside));
            };
            let n = room.min(self.left);
            self.at = self.at.saturating_add(n);
            self.left = self.left.saturating_sub(n);
            match self.pending.as_mut() {
                Some(run) if run.0.saturating_add(run.1) == vf => {
                    run.1 = run.1.saturating_add(n);
                }
                _ => {
                    if let Some(run) = self.pending.replace((vf, n)) {
                        return Some(Ok(run));
                    }
                }
            }
        }
    }
}

/// The segments the saved state names: the tracked VRAM segments, in driver
/// id order (the paging aperture and untracked VRAM hold no VF data).
pub(crate) fn tracked_vram(
    tracker: &Tracker,
) -> impl Iterator<Item = &crate::foundation::units::Segment> {
    tracker.segments().filter(|s| s.page.is_some())
}

/// The saved state's name of segment `id`: its ordinal among
/// [`tracked_vram`] (format 3, see `crate::savestate::state`).
///
/// # Errors
/// `InvalidParameter` for a segment that is not tracked (no VF reserve or
/// basis lies in one).
pub(crate) fn ordinal(tracker: &Tracker, id: crate::foundation::units::SegmentId) -> Result<u32> {
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

/// The memory bases of the VF's reserve, as VF runs (what a Restore of the
/// mutable data compares the source's with).
///
/// # Errors
/// `InvalidParameter` for a VF whose segment is not tracked; `NoMemory`.
pub(crate) fn bases_of(
    tracker: &Tracker,
    vgpu: &Vgpu,
    reserve: &BoundReserve,
) -> Result<Vec<BasisState>> {
    let map = ReserveMap::new(reserve);
    let mine = |b: &BasisView<'_>| b.segment == vgpu.segment();
    let mut bases = try_vec(tracker.bases().filter(|b| mine(b)).count())?;
    for b in tracker.bases().filter(|b| mine(b)) {
        let Some(n) = map.run_count(&b) else {
            continue;
        };
        let mut ranges = try_vec(n)?;
        for run in map.runs(&b) {
            push(
                &mut ranges,
                run.map_err(|Outside| Status::InvalidParameter)?,
            )?;
        }
        push(
            &mut bases,
            BasisState {
                segment: ordinal(tracker, b.segment)?,
                tracked: b.tracked,
                ranges,
            },
        )?;
    }
    Ok(bases)
}
