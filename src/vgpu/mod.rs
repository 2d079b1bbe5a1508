//! GPU partitioning: the partition count, the per-count profiles, the vGPU
//! table indexed by PartitionId (= `vfIndex` = `VirtualFunctionIndex`), each
//! vGPU's VRAM reserve, its synthetic PCI function and its LUID.
//! Platform-free safe code; the DDI trampolines are in `crate::ddi::partition`,
//! `crate::ddi::sriov`, `crate::ddi::allocation` and `crate::ddi::migration`.
//!
//! # The VRAM split
//! Partitions share the adapter's first tracked segment (on Windows the
//! built-in 1 GiB segment tracked in 4 KiB pages). For a partition count `N`
//! each partition may have at most `share(N) = segment size / N`, rounded
//! down to the segment's dirty-tracking page size; that is the profile's
//! maximum and optimum, and one page its minimum. Encode, decode and compute
//! are all zero: this software adapter has no engines.
//!
//! # A vGPU's life
//! 1. `create`: the OS picks a free slot below the count; the driver resolves
//!    the VM's requested capabilities against the count's profile and the free
//!    VRAM, invents a LUID, and asks for one reserve in the tracked segment,
//!    sized and aligned to the dirty-tracking page size. Its segment info's
//!    `PrivateDriverData` is the vGPU's *instance* number, which comes back in
//!    the standard allocation and ties the allocation to this vGPU (and to no
//!    later occupant of the slot).
//! 2. The reserve arrives as a vGPU allocation (`allocation`), pinned by VidMm.
//! 3. `set_resources` binds it: VF address 0 = its segment offset; or
//!    `set_resources2` (`live`) binds the ranges of a memory basis, scattered,
//!    VF address 0 = the first byte of its first range.
//! 4. D0 (`set_power`) runs the vGPU; D3 stops it; the pause overlay
//!    (`live::set_pause`) takes it off the schedule whatever its power state.
//! 5. Live migration (`live`): Prepare, Save or Restore of the immutable and
//!    mutable data, End, over the per-VF state machine of
//!    `crate::migration::machine`.
//! 6. `destroy` frees the slot, in any migration phase (the migration state
//!    goes with it); the allocation and any memory basis over the reserve
//!    outlive it until Dxgkrnl destroys them.
//!
//! # Locking
//! Everything here lives in the adapter's started state, behind the adapter's
//! lock: changes (count, create, destroy, bind, power, config writes, resets,
//! allocations) hold it for writing; queries and escapes for reading.

pub(crate) mod allocation;
pub(crate) mod config;
pub mod escape;
pub(crate) mod live;
mod luid;
pub(crate) mod pci;

use alloc::vec::Vec;
use dxgk_sys::LUID;

use crate::basis::Tracker;
use crate::foundation::fallible;
use crate::foundation::le;
use crate::foundation::status::{Result, Status};
use crate::foundation::units::Segment;
use crate::foundation::units::{PageSize, SegmentId};
use crate::savestate::machine::VfMigration;
use allocation::{AllocationHandle, Allocations, ReserveData};
use config::PartitionConfig;
use escape::*;
use pci::ConfigSpace;

/// Entries of each VF's MSI-X table (the capability's table size + 1).
pub(crate) const MSIX_TABLE_SIZE: usize = pci::MSIX_VECTORS as usize;

/// Capability indices (`DXGK_VGPU_CAPABILITY_TYPE`).
pub(crate) const CAPABILITIES: usize = 4;
/// `DXGK_VGPU_CAPABILITY_MEMORY`.
const MEMORY: usize = 0;

/// One capability of a partition profile (`DXGK_VGPU_PROFILE_CAPABILITY`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ProfileValue {
    pub(crate) total: u64,
    pub(crate) available: u64,
    pub(crate) min: u64,
    pub(crate) max: u64,
    pub(crate) optimal: u64,
}

/// What a VM asks for one capability (`DXGK_VIRTUALGPUCAPABILITY`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Requested {
    pub(crate) min: u64,
    pub(crate) max: u64,
    pub(crate) optimal: u64,
}

/// One capability of a vGPU (`DXGK_VGPU_CAPABILITY`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Capability {
    pub(crate) min: u64,
    pub(crate) max: u64,
    pub(crate) current: u64,
}

/// The reserve a new vGPU asks for (`DXGK_VIRTUALGPUSEGMENTINFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReserveRequest {
    pub(crate) segment: SegmentId,
    pub(crate) size: u64,
    pub(crate) alignment: u32,
    /// Goes out as `PrivateDriverData`.
    pub(crate) instance: u32,
}

/// What CreateVirtualGpu returns.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Created {
    pub(crate) luid: LUID,
    pub(crate) reserve: ReserveRequest,
}

/// One entry of SetVirtualGpuResources, as Dxgkrnl passed it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PinnedReserve {
    pub(crate) allocation: *mut core::ffi::c_void,
    pub(crate) segment: SegmentId,
    pub(crate) offset: u64,
    pub(crate) size: u64,
}

/// A vGPU's power state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Power {
    /// Running.
    D0,
    /// Stopped (also its state after creation).
    D3,
}

/// The D-states `DxgkDdiSetVirtualFunctionPowerState` distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PowerRequest {
    /// Run.
    D0,
    /// D1 or D2: not implemented by this VF.
    Intermediate,
    /// Stop.
    D3,
}

/// A reserve bound by SetVirtualGpuResources (one range) or
/// SetVirtualGpuResources2 (the ranges of a memory basis).
///
/// # Invariants
/// `pieces` is non-empty, its pieces are disjoint, each a whole number of the
/// segment's pages, and they add up to the vGPU's reserve size.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BoundReserve {
    allocation: AllocationHandle,
    /// (segment offset, bytes), in VF address order: VF address 0 is the
    /// first byte of `pieces[0]`.
    pieces: Vec<(u64, u64)>,
    /// Bound by SetVirtualGpuResources2.
    scattered: bool,
}

impl BoundReserve {
    /// The segment offset of VF address 0.
    fn base(&self) -> u64 {
        self.pieces.first().map_or(0, |p| p.0)
    }

    /// Calls `each(segment offset, bytes)` for the pieces VF addresses
    /// `[offset, offset + len)` occupy, in order.
    ///
    /// # Errors
    /// `InvalidParameter` if the span leaves the reserve (nothing is visited then).
    fn translate(
        &self,
        offset: u64,
        len: u64,
        mut each: impl FnMut(u64, u64) -> Result<()>,
    ) -> Result<()> {
        let end = offset.checked_add(len).ok_or(Status::InvalidParameter)?;
        let total = self
            .pieces
            .iter()
            .fold(0u64, |sum, p| sum.saturating_add(p.1));
        if end > total {
            return Err(Status::InvalidParameter);
        }
        let mut start = 0u64;
        for &(at, size) in &self.pieces {
            let piece_end = start.saturating_add(size);
            let from = offset.max(start);
            let to = end.min(piece_end);
            if from < to {
                each(
                    at.saturating_add(from.saturating_sub(start)),
                    to.saturating_sub(from),
                )?;
            }
            start = piece_end;
        }
        Ok(())
    }
}

/// One MSI-X table entry (`DXGK_INTERRUPT_TABLE_ENTRY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct MsixValue {
    pub(crate) address: u64,
    pub(crate) data: u32,
    pub(crate) vector_control: u32,
}

/// One vGPU.
struct Vgpu {
    instance: u32,
    luid: LUID,
    caps: [Capability; CAPABILITIES],
    /// The reserve size Create asked for.
    reserve_size: u64,
    reserve: Option<BoundReserve>,
    /// Set when the reserve's allocation was destroyed under the vGPU.
    revoked: bool,
    power: Power,
    wake_armed: bool,
    /// The VM-bus handle, as an opaque value (never dereferenced).
    vmbus: Option<usize>,
    config: ConfigSpace,
    /// The synthetic MSI-X table (`DxgkDdiWriteVirtualizedInterrupt`); `None`
    /// for an entry never written since creation or the last function reset.
    msix: [Option<MsixValue>; MSIX_TABLE_SIZE],
    /// Live-migration state and the pause overlay.
    migration: VfMigration,
}

impl Vgpu {
    fn aperture(&self) -> u64 {
        pci::aperture_size(self.reserve_size)
    }
}

/// One run of pages of a virtual BAR (`DXGK_MMIORANGEINFO`), all emulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MmioRange {
    pub(crate) first_page: u64,
    pub(crate) pages: u32,
}

/// The largest escape reply.
const MAX_REPLY: usize = if GPUP_VGPU_ESCAPE_INFO::SIZE > GPUP_VGPU_ESCAPE_MSIX_TABLE::SIZE {
    GPUP_VGPU_ESCAPE_INFO::SIZE
} else {
    GPUP_VGPU_ESCAPE_MSIX_TABLE::SIZE
};

/// An escape's reply.
pub(crate) struct EscapeReply {
    bytes: [u8; MAX_REPLY],
    len: usize,
}

impl EscapeReply {
    /// The bytes to copy out.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// Most pages one MMIO range describes (`PageCount` is a ULONG).
const MAX_RANGE_PAGES: u64 = 1 << 31;
/// The MMIO page size the FlexIOV ranges count in.
const MMIO_PAGE: u64 = 4096;

fn round_down(bytes: u64, page: PageSize) -> u64 {
    page.pages_in(bytes)
        .checked_mul(u64::from(page.bytes()))
        .unwrap_or(0)
}

fn round_up(bytes: u64, page: PageSize) -> Option<u64> {
    let p = u64::from(page.bytes());
    bytes
        .checked_add(p.checked_sub(1)?)
        .map(|b| round_down(b, page))
}

/// GPU partitioning state of a started adapter.
pub(crate) struct Partitioning {
    config: PartitionConfig,
    segment: SegmentId,
    segment_size: u64,
    page: PageSize,
    /// 0 until the first SetGpuPartitionCount.
    count: u32,
    /// `count` slots.
    slots: Vec<Option<Vgpu>>,
    allocations: Allocations,
    next_instance: u32,
}

impl Partitioning {
    /// The partitioning state of an adapter with `segments`, or `None` when
    /// the configuration disables it or no segment (with an id of 1 to 32) is tracked.
    ///
    /// # Errors
    /// `NoMemory`.
    pub(crate) fn new(config: &PartitionConfig, segments: &[Segment]) -> Result<Option<Self>> {
        if !config.enabled() {
            return Ok(None);
        }
        // The first tracked segment whose id a segment set (`UINT` bit mask,
        // bit n = segment n + 1) can name.
        let Some((segment, page)) = segments
            .iter()
            .filter(|s| (1..=32).contains(&s.id.0))
            .find_map(|s| s.page.map(|p| (s, p)))
        else {
            return Ok(None);
        };
        Ok(Some(Self {
            config: *config,
            segment: segment.id,
            segment_size: segment.size,
            page,
            count: 0,
            slots: Vec::new(),
            allocations: Allocations::new()?,
            next_instance: 1,
        }))
    }

    /// The partition counts offered.
    pub(crate) fn options(&self) -> &[u16] {
        self.config.options()
    }

    /// The current partition count (0 before any SetGpuPartitionCount).
    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    fn live(&self) -> impl Iterator<Item = (u32, &Vgpu)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((u32::try_from(i).ok()?, s.as_ref()?)))
    }

    fn vgpu(&self, partition: u32) -> Result<&Vgpu> {
        let index = usize::try_from(partition).map_err(|_| Status::InvalidParameter)?;
        self.slots
            .get(index)
            .and_then(Option::as_ref)
            .ok_or(Status::InvalidParameter)
    }

    fn vgpu_mut(&mut self, partition: u32) -> Result<&mut Vgpu> {
        let index = usize::try_from(partition).map_err(|_| Status::InvalidParameter)?;
        self.slots
            .get_mut(index)
            .and_then(Option::as_mut)
            .ok_or(Status::InvalidParameter)
    }

    /// VRAM not yet promised to a vGPU.
    fn free(&self) -> u64 {
        let used = self
            .live()
            .fold(0u64, |sum, (_, v)| sum.saturating_add(v.reserve_size));
        self.segment_size.saturating_sub(used)
    }

    /// Each partition's most VRAM for `count` partitions.
    fn share(&self, count: u32) -> u64 {
        round_down(
            self.segment_size.checked_div(u64::from(count)).unwrap_or(0),
            self.page,
        )
    }

    /// `DxgkDdiSetGpuPartitionCount`.
    ///
    /// # Errors
    /// `InvalidParameter` unless `count` is an option; `InvalidDeviceState`
    /// for a change while a vGPU exists; `NoMemory` (nothing changes on error).
    pub(crate) fn set_count(&mut self, count: u32) -> Result<()> {
        if !self.config.offers(count) {
            return Err(Status::InvalidParameter);
        }
        if count == self.count {
            return Ok(());
        }
        if self.live().next().is_some() {
            return Err(Status::InvalidDeviceState);
        }
        let n = usize::try_from(count).map_err(|_| Status::InvalidParameter)?;
        let mut slots = fallible::try_vec(n)?;
        for _ in 0..n {
            fallible::push(&mut slots, None)?;
        }
        self.slots = slots;
        self.count = count;
        Ok(())
    }

    /// `DxgkDdiGetVirtualGpuProfile` for `count` partitions: the flags and
    /// the four capabilities.
    ///
    /// # Errors
    /// `InvalidParameter` unless `count` is an option.
    pub(crate) fn profile(&self, count: u32) -> Result<(u32, [ProfileValue; CAPABILITIES])> {
        if !self.config.offers(count) {
            return Err(Status::InvalidParameter);
        }
        let share = self.share(count);
        let mut caps = [ProfileValue::default(); CAPABILITIES];
        if let Some(memory) = caps.get_mut(MEMORY) {
            *memory = ProfileValue {
                total: self.segment_size,
                available: self.free(),
                min: u64::from(self.page.bytes()).min(share),
                max: share,
                optimal: share,
            };
        }
        Ok((dxgk_sys::DXGK_VIRTUALIZED_HOST_VIRTUAL_DEVICE, caps))
    }

    /// Resolves one requested capability against what the adapter can give.
    fn resolve(
        &self,
        index: usize,
        request: Requested,
        profile: ProfileValue,
    ) -> Result<Capability> {
        let unspecified = request == Requested::default();
        if !unspecified
            && (request.min > request.max
                || (request.optimal != 0
                    && (request.optimal < request.min || request.optimal > request.max)))
        {
            return Err(Status::InvalidParameter);
        }
        let (min, max, target) = if unspecified {
            (profile.min, profile.max, profile.optimal)
        } else {
            let target = if request.optimal != 0 {
                request.optimal
            } else {
                profile.optimal
            };
            (request.min, request.max, target)
        };
        if index != MEMORY {
            // No engines: nothing above zero can be given.
            if min > 0 {
                return Err(Status::InsufficientResources);
            }
            return Ok(Capability {
                min,
                max,
                current: 0,
            });
        }
        let limit = max.min(profile.max).min(round_down(self.free(), self.page));
        if min > limit {
            return Err(Status::InsufficientResources);
        }
        // `min <= limit` (checked above); `max`/`min` rather than `clamp`,
        // which would assert it.
        let clamped = target.max(min).min(limit);
        let mut size = round_up(clamped, self.page).unwrap_or(u64::MAX);
        if size > limit {
            // `limit` is not a page multiple (the VM's Max is not): stay within it.
            size = round_down(limit, self.page);
        }
        if size == 0 || size < min {
            return Err(Status::InsufficientResources);
        }
        Ok(Capability {
            min,
            max,
            current: size,
        })
    }

    /// `DxgkDdiCreateVirtualGpu`: everything is validated and allocated before
    /// the slot is filled, so a failure leaves no trace.
    ///
    /// # Errors
    /// `InvalidParameter` before any count, for a partition at or above the
    /// count, or for a malformed request; `InvalidDeviceState` for an
    /// occupied slot; `InsufficientResources` for a request the adapter
    /// cannot meet; `NoMemory`.
    pub(crate) fn create(
        &mut self,
        partition: u32,
        request: &[Requested; CAPABILITIES],
    ) -> Result<Created> {
        if self.count == 0 || partition >= self.count {
            return Err(Status::InvalidParameter);
        }
        let index = usize::try_from(partition).map_err(|_| Status::InvalidParameter)?;
        if self.slots.get(index).is_some_and(Option::is_some) {
            return Err(Status::InvalidDeviceState);
        }
        let (_, profile) = self.profile(self.count)?;
        let mut caps = [Capability::default(); CAPABILITIES];
        for (i, ((cap, req), prof)) in caps.iter_mut().zip(request).zip(profile).enumerate() {
            *cap = self.resolve(i, *req, prof)?;
        }
        let size = caps.get(MEMORY).map_or(0, |c| c.current);
        let config = ConfigSpace::new(size)?;
        let instance = self.take_instance();
        let luid = luid::allocate()?;
        let vgpu = Vgpu {
            instance,
            luid,
            caps,
            reserve_size: size,
            reserve: None,
            revoked: false,
            power: Power::D3,
            wake_armed: false,
            vmbus: None,
            config,
            msix: [None; MSIX_TABLE_SIZE],
            migration: VfMigration::new(),
        };
        let slot = self.slots.get_mut(index).ok_or(Status::InvalidParameter)?;
        *slot = Some(vgpu);
        Ok(Created {
            luid,
            reserve: ReserveRequest {
                segment: self.segment,
                size,
                alignment: self.page.bytes(),
                instance,
            },
        })
    }

    /// A fresh, non-zero instance number no live vGPU or allocation uses.
    fn take_instance(&mut self) -> u32 {
        loop {
            let candidate = self.next_instance;
            self.next_instance = candidate.checked_add(1).unwrap_or(1);
            let in_use = self.live().any(|(_, v)| v.instance == candidate);
            if candidate != 0 && !in_use {
                return candidate;
            }
        }
    }

    /// `DxgkDdiGetVirtualGpuInfo`.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown partition.
    pub(crate) fn info(&self, partition: u32) -> Result<[Capability; CAPABILITIES]> {
        Ok(self.vgpu(partition)?.caps)
    }

    /// `DxgkDdiSetVirtualGpuResources`: validates every entry, then binds.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown partition, a count other than one
    /// entry per requested reserve, a handle that is not a live vGPU
    /// allocation made for this vGPU (or one already bound), another segment,
    /// a size below the request, an offset not aligned to the page size, a
    /// range outside the segment or overlapping another vGPU's reserve;
    /// `InvalidDeviceState` if resources were already set. Nothing is bound on error.
    pub(crate) fn set_resources(
        &mut self,
        partition: u32,
        entries: &[PinnedReserve],
    ) -> Result<()> {
        let vgpu = self.vgpu(partition)?;
        if vgpu.reserve.is_some() || vgpu.revoked {
            return Err(Status::InvalidDeviceState);
        }
        let [entry] = entries else {
            return Err(Status::InvalidParameter);
        };
        let handle =
            AllocationHandle::from_raw(entry.allocation).map_err(|_| Status::InvalidParameter)?;
        let allocation = self
            .allocations
            .get(handle)
            .map_err(|_| Status::InvalidParameter)?;
        let size = vgpu.reserve_size;
        let end = entry
            .offset
            .checked_add(size)
            .ok_or(Status::InvalidParameter)?;
        let overlaps = self.overlaps_other(partition, &[(entry.offset, size)])?;
        if allocation.reserve.instance != vgpu.instance
            || allocation.reserve.segment != self.segment
            || allocation.reserve.size < size
            || allocation.bound_to.is_some()
            || entry.segment != self.segment
            || entry.size < size
            || !self.page.divides(entry.offset)
            || end > self.segment_size
            || overlaps
        {
            return Err(Status::InvalidParameter);
        }
        let mut pieces = fallible::try_vec(1)?;
        fallible::push(&mut pieces, (entry.offset, size))?;
        self.bind(
            partition,
            BoundReserve {
                allocation: handle,
                pieces,
                scattered: false,
            },
        )
    }

    /// Whether any of `pieces` (segment offset, bytes; pairwise disjoint)
    /// overlaps the bound reserve of a vGPU other than `partition`. Sorts a
    /// copy, then looks each other piece up in it: `O((n + m) log n)`.
    ///
    /// # Errors
    /// `NoMemory`.
    fn overlaps_other(&self, partition: u32, pieces: &[(u64, u64)]) -> Result<bool> {
        let mut sorted = fallible::try_vec(pieces.len())?;
        for &p in pieces {
            fallible::push(&mut sorted, p)?;
        }
        sorted.sort_unstable_by_key(|p| p.0);
        // Disjoint and sorted by offset, so also sorted by end.
        let hits = |at: u64, end: u64| {
            let i = sorted.partition_point(|p| p.0.saturating_add(p.1) <= at);
            sorted.get(i).is_some_and(|p| p.0 < end)
        };
        Ok(self.live().any(|(p, other)| {
            p != partition
                && other.reserve.as_ref().is_some_and(|r| {
                    r.pieces
                        .iter()
                        .any(|&(at, size)| hits(at, at.saturating_add(size)))
                })
        }))
    }

    /// The last, infallible step of SetVirtualGpuResources(2): the
    /// allocation is marked bound and the reserve is the vGPU's.
    fn bind(&mut self, partition: u32, reserve: BoundReserve) -> Result<()> {
        self.vgpu(partition)?;
        self.allocations.get_mut(reserve.allocation)?.bound_to = Some(partition);
        self.vgpu_mut(partition)?.reserve = Some(reserve);
        Ok(())
    }

    /// `DxgkDdiDestroyVirtualGpu`: quiesces and frees the vGPU, also during a
    /// migration (in D0 or paused: its migration state ends with it); its
    /// allocation is unbound and stays until DestroyAllocation.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown or already destroyed partition.
    pub(crate) fn destroy(&mut self, partition: u32) -> Result<()> {
        self.vgpu(partition)?;
        let index = usize::try_from(partition).map_err(|_| Status::InvalidParameter)?;
        if let Some(slot) = self.slots.get_mut(index) {
            // Dropping the vGPU stops it: nothing of it runs afterwards.
            *slot = None;
        }
        self.allocations.unbind(partition);
        Ok(())
    }

    /// Destroys every vGPU (adapter stop or remove).
    pub(crate) fn destroy_all(&mut self) {
        for (p, slot) in self.slots.iter_mut().enumerate() {
            if slot.take().is_some() {
                crate::trace!("vGPU {} destroyed with its adapter", p);
            }
        }
        self.allocations.unbind_all();
    }

    /// `DxgkDdiSetVirtualGpuVmBus`: records the handle, replacing any earlier one.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown partition or a NULL handle.
    pub(crate) fn set_vmbus(&mut self, partition: u32, handle: usize) -> Result<()> {
        let vgpu = self.vgpu_mut(partition)?;
        if handle == 0 {
            return Err(Status::InvalidParameter);
        }
        vgpu.vmbus = Some(handle);
        Ok(())
    }

    /// `DxgkDdiVirtualGpuDriverEscape` (see [`escape`] for the format).
    ///
    /// # Errors
    /// As the [`escape`] module documents.
    pub(crate) fn escape(
        &self,
        engine: &Tracker,
        partition: u32,
        input: &[u8],
        out_capacity: usize,
    ) -> Result<EscapeReply> {
        let vgpu = self.vgpu(partition)?;
        let u32_at = |at| le::u32_at(input, at);
        let u64_at = |at| le::u64_at(input, at);
        let (Some(low), Some(high), Some(command), Some(payload)) =
            (u32_at(0), u32_at(4), u32_at(8), u32_at(12))
        else {
            return Err(Status::InvalidParameter);
        };
        let payload = usize::try_from(payload).map_err(|_| Status::InvalidParameter)?;
        if GPUP_VGPU_ESCAPE_PREFIX.checked_add(payload) != Some(input.len())
            || low != vgpu.luid.LowPart
            || i32::from_le_bytes(high.to_le_bytes()) != vgpu.luid.HighPart
        {
            return Err(Status::InvalidParameter);
        }
        let mut reply = EscapeReply {
            bytes: [0; MAX_REPLY],
            len: 0,
        };
        match command {
            GPUP_VGPU_ESCAPE_QUERY => {
                if payload != 0 {
                    return Err(Status::InvalidParameter);
                }
                if out_capacity < GPUP_VGPU_ESCAPE_INFO::SIZE {
                    return Err(Status::BufferTooSmall);
                }
                let bytes = self.describe(partition, vgpu).encode();
                if let Some(dst) = reply.bytes.get_mut(..bytes.len()) {
                    dst.copy_from_slice(&bytes);
                }
                reply.len = bytes.len();
                Ok(reply)
            }
            GPUP_VGPU_ESCAPE_WRITE_NOTIFY => {
                let (Some(offset), Some(length), 16) = (u64_at(16), u64_at(24), payload) else {
                    return Err(Status::InvalidParameter);
                };
                // A paused VF is not scheduled: its GPU writes nothing.
                let reserve = match (vgpu.power, &vgpu.reserve) {
                    (Power::D0, Some(r)) if !vgpu.migration.paused() => r,
                    _ => return Err(Status::InvalidDeviceState),
                };
                let end = offset.checked_add(length).ok_or(Status::InvalidParameter)?;
                if end > vgpu.reserve_size {
                    return Err(Status::InvalidParameter);
                }
                reserve.translate(offset, length, |at, len| engine.mark(self.segment, at, len))?;
                Ok(reply)
            }
            GPUP_VGPU_ESCAPE_MSIX => {
                if payload != 0 {
                    return Err(Status::InvalidParameter);
                }
                if out_capacity < GPUP_VGPU_ESCAPE_MSIX_TABLE::SIZE {
                    return Err(Status::BufferTooSmall);
                }
                let mut table = GPUP_VGPU_ESCAPE_MSIX_TABLE {
                    EntryCount: u32::from(pci::MSIX_VECTORS),
                    ..GPUP_VGPU_ESCAPE_MSIX_TABLE::default()
                };
                for (i, (out, entry)) in table.Entries.iter_mut().zip(&vgpu.msix).enumerate() {
                    if let Some(e) = entry {
                        table.WrittenMask |= 1u32
                            .checked_shl(u32::try_from(i).unwrap_or(31))
                            .unwrap_or(0);
                        *out = GPUP_VGPU_ESCAPE_MSIX_ENTRY {
                            MessageAddress: e.address,
                            MessageData: e.data,
                            VectorControl: e.vector_control,
                        };
                    }
                }
                let bytes = table.encode();
                if let Some(dst) = reply.bytes.get_mut(..bytes.len()) {
                    dst.copy_from_slice(&bytes);
                }
                reply.len = bytes.len();
                Ok(reply)
            }
            _ => Err(Status::NotSupported),
        }
    }

    fn describe(&self, partition: u32, vgpu: &Vgpu) -> GPUP_VGPU_ESCAPE_INFO {
        let flag = |on: bool, bit: u32| if on { bit } else { 0 };
        GPUP_VGPU_ESCAPE_INFO {
            PartitionId: partition,
            PowerState: match vgpu.power {
                Power::D0 => 1,
                Power::D3 => 4,
            },
            LuidLowPart: vgpu.luid.LowPart,
            LuidHighPart: vgpu.luid.HighPart,
            ReserveSegmentId: self.segment.0,
            Flags: flag(vgpu.reserve.is_some(), GPUP_VGPU_FLAG_RESERVE_BOUND)
                | flag(vgpu.vmbus.is_some(), GPUP_VGPU_FLAG_VMBUS)
                | flag(vgpu.config.memory_enabled(), GPUP_VGPU_FLAG_MEMORY_ENABLED)
                | flag(vgpu.config.msix_enabled(), GPUP_VGPU_FLAG_MSIX_ENABLED)
                | flag(vgpu.revoked, GPUP_VGPU_FLAG_REVOKED)
                | flag(vgpu.migration.paused(), GPUP_VGPU_FLAG_PAUSED)
                | flag(
                    vgpu.reserve.as_ref().is_some_and(|r| r.scattered),
                    GPUP_VGPU_FLAG_SCATTERED,
                )
                | (vgpu.migration.phase().code() << GPUP_VGPU_MIGRATION_SHIFT),
            ReserveOffset: vgpu.reserve.as_ref().map_or(0, BoundReserve::base),
            ReserveSize: vgpu.reserve_size,
            VmBusHandle: vgpu.vmbus.and_then(|h| u64::try_from(h).ok()).unwrap_or(0),
        }
    }

    // ---- SR-IOV ----

    /// `DxgkDdiReadVirtualFunctionConfig`: the `len` bytes at `offset`.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown VF, a length of 0 or a span past 4 KiB.
    pub(crate) fn config_bytes(&self, partition: u32, offset: u32, len: usize) -> Result<&[u8]> {
        self.vgpu(partition)?.config.bytes(offset, len)
    }

    /// `DxgkDdiWriteVirtualFunctionConfig`, with its side effects (an FLR
    /// write resets the VF as `DxgkDdiResetVirtualFunction` does).
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown VF, a length of 0 or a span past 4 KiB.
    pub(crate) fn config_write(&mut self, partition: u32, offset: u32, data: &[u8]) -> Result<()> {
        let vgpu = self.vgpu_mut(partition)?;
        if vgpu.config.write(offset, data)? == pci::WriteEffect::FunctionLevelReset {
            vgpu.wake_armed = false;
            vgpu.msix = [None; MSIX_TABLE_SIZE];
        }
        Ok(())
    }

    /// Checks that `partition` names a vGPU.
    ///
    /// # Errors
    /// `InvalidParameter` otherwise.
    pub(crate) fn check(&self, partition: u32) -> Result<()> {
        self.vgpu(partition).map(drop)
    }

    /// `DxgkDdiQueryProbedBars`.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown VF.
    pub(crate) fn probed_bars(&self, partition: u32) -> Result<[u32; 6]> {
        Ok(pci::probed_bars(self.vgpu(partition)?.reserve_size))
    }

    /// `DxgkDdiGetVendorAndDevice`.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown VF.
    pub(crate) fn vendor_and_device(&self, partition: u32) -> Result<(u16, u16)> {
        self.vgpu(partition)?;
        Ok((pci::VENDOR_ID, pci::DEVICE_ID))
    }

    /// `DxgkDdiQueryVirtualFunctionLuid`.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown VF.
    pub(crate) fn luid(&self, partition: u32) -> Result<LUID> {
        Ok(self.vgpu(partition)?.luid)
    }

    /// `DxgkDdiResetVirtualFunction`: function-level reset. The config space
    /// returns to its power-on values, the MSI-X table is cleared and wake is
    /// disarmed; the power state, the bound reserve, the VM-bus handle, the
    /// pause state and any migration in progress are kept.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown VF.
    pub(crate) fn reset(&mut self, partition: u32) -> Result<()> {
        let vgpu = self.vgpu_mut(partition)?;
        vgpu.config.reset();
        vgpu.wake_armed = false;
        vgpu.msix = [None; MSIX_TABLE_SIZE];
        Ok(())
    }

    /// `DxgkDdiSetVirtualFunctionPowerState`.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown VF; `NotSupported` for D1/D2;
    /// `InvalidDeviceState` for D0 without a bound reserve.
    pub(crate) fn set_power(
        &mut self,
        partition: u32,
        state: PowerRequest,
        wake: bool,
    ) -> Result<()> {
        let vgpu = self.vgpu_mut(partition)?;
        match state {
            PowerRequest::D0 => {
                if vgpu.reserve.is_none() {
                    return Err(Status::InvalidDeviceState);
                }
                vgpu.power = Power::D0;
            }
            PowerRequest::D3 => vgpu.power = Power::D3,
            PowerRequest::Intermediate => return Err(Status::NotSupported),
        }
        vgpu.wake_armed = wake;
        Ok(())
    }

    // ---- FlexIOV ----

    /// `DxgkDdiGetMmioRangeCount`: ranges per virtual BAR.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown VF.
    pub(crate) fn mmio_range_count(&self, partition: u32) -> Result<[u32; 6]> {
        let vgpu = self.vgpu(partition)?;
        let ranges = |size: u64| {
            let pages = size.div_ceil(MMIO_PAGE);
            u32::try_from(pages.div_ceil(MAX_RANGE_PAGES)).unwrap_or(u32::MAX)
        };
        Ok([ranges(pci::BAR0_SIZE), 0, ranges(vgpu.aperture()), 0, 0, 0])
    }

    /// `DxgkDdiGetMmioRanges`: the `n`-th range of virtual BAR `bar`, every
    /// page emulated.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown VF or a BAR without ranges.
    pub(crate) fn mmio_ranges(
        &self,
        partition: u32,
        bar: u32,
    ) -> Result<impl Iterator<Item = MmioRange> + Clone> {
        let vgpu = self.vgpu(partition)?;
        let size = match bar {
            0 => pci::BAR0_SIZE,
            2 => vgpu.aperture(),
            _ => return Err(Status::InvalidParameter),
        };
        let pages = size.div_ceil(MMIO_PAGE);
        let count = pages.div_ceil(MAX_RANGE_PAGES);
        Ok((0..count).map(move |i| {
            let first = i.saturating_mul(MAX_RANGE_PAGES);
            let left = pages.saturating_sub(first).min(MAX_RANGE_PAGES);
            MmioRange {
                first_page: first,
                pages: u32::try_from(left).unwrap_or(u32::MAX),
            }
        }))
    }

    // ---- Allocations ----

    /// Checks a reserve description (from a standard allocation) against the
    /// vGPU it names.
    ///
    /// # Errors
    /// `InvalidParameter` unless a live vGPU has this instance and asked for
    /// exactly this segment, at least this size and this alignment.
    pub(crate) fn check_reserve(&self, reserve: &ReserveData) -> Result<()> {
        let ok = self.live().any(|(_, v)| {
            v.instance == reserve.instance
                && reserve.segment == self.segment
                && reserve.size >= v.reserve_size
                && (reserve.alignment == 0 || reserve.alignment == self.page.bytes())
        });
        if ok {
            Ok(())
        } else {
            Err(Status::InvalidParameter)
        }
    }

    /// The segment a reserve lives in.
    pub(crate) fn segment(&self) -> SegmentId {
        self.segment
    }

    /// `DxgkDdiCreateAllocation` of vGPU reserves: all or nothing.
    ///
    /// # Errors
    /// `InvalidParameter` for a reserve [`Self::check_reserve`] refuses;
    /// `InsufficientResources` if they do not all fit; `NoMemory`.
    pub(crate) fn create_allocations(
        &mut self,
        reserves: &[ReserveData],
    ) -> Result<Vec<AllocationHandle>> {
        for r in reserves {
            self.check_reserve(r)?;
        }
        if self.allocations.room() < reserves.len() {
            return Err(Status::InsufficientResources);
        }
        let mut handles = fallible::try_vec(reserves.len())?;
        for r in reserves {
            let step = self.allocations.insert(*r).and_then(|h| {
                fallible::push(&mut handles, h).map_err(|e| {
                    let _ = self.allocations.remove(h);
                    Status::from(e)
                })
            });
            if let Err(status) = step {
                // Undo the ones published so far: all or nothing.
                for h in handles {
                    let _ = self.allocations.remove(h);
                }
                return Err(status);
            }
        }
        Ok(handles)
    }

    /// `DxgkDdiDestroyAllocation`: every handle is checked first, then all
    /// are destroyed. A reserve still bound to a vGPU is taken from it: the
    /// vGPU stops and can no longer run (its VRAM is gone).
    ///
    /// # Errors
    /// `InvalidHandle` for an unknown, stale or repeated handle (nothing is destroyed).
    pub(crate) fn destroy_allocations(&mut self, handles: &[AllocationHandle]) -> Result<()> {
        for (i, h) in handles.iter().enumerate() {
            self.allocations.get(*h)?;
            if handles.get(..i).unwrap_or_default().contains(h) {
                return Err(Status::InvalidHandle);
            }
        }
        for h in handles {
            let allocation = self.allocations.remove(*h)?;
            if let Some(p) = allocation.bound_to
                && let Ok(vgpu) = self.vgpu_mut(p)
            {
                crate::trace!(
                    "DestroyAllocation: reserve of vGPU {} destroyed under it",
                    p
                );
                vgpu.reserve = None;
                vgpu.revoked = true;
                vgpu.power = Power::D3;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partitioning() -> Partitioning {
        let segments = [Segment {
            id: SegmentId(1),
            size: 64 << 20,
            page: PageSize::new(4096).ok(),
        }];
        Partitioning::new(&PartitionConfig::builtin(), &segments)
            .unwrap()
            .unwrap()
    }

    fn vram(min: u64, max: u64, optimal: u64) -> [Requested; CAPABILITIES] {
        let mut r = [Requested::default(); CAPABILITIES];
        r[MEMORY] = Requested { min, max, optimal };
        r
    }

    #[test]
    fn min_vram_above_the_free_vram_is_refused_and_nothing_is_kept() {
        // The split keeps N x share within the segment, so free VRAM never
        // drops below a share while a slot is free through the DDIs alone;
        // make it so by hand to pin the row of section 6.
        let mut p = partitioning();
        p.set_count(2).unwrap();
        p.create(0, &vram(0, 0, 0)).unwrap();
        if let Some(Some(v)) = p.slots.get_mut(0) {
            v.reserve_size = 60 << 20;
        }
        assert_eq!(p.free(), 4 << 20);
        assert_eq!(
            p.create(1, &vram(8 << 20, 32 << 20, 0)).err(),
            Some(Status::InsufficientResources)
        );
        assert!(p.slots.get(1).is_some_and(Option::is_none), "no trace");
        // A request that fits what is left gets it, clamped to the free VRAM.
        let c = p.create(1, &vram(1 << 20, 32 << 20, 0)).unwrap();
        assert_eq!(c.reserve.size, 4 << 20);
    }

    #[test]
    fn instances_are_never_zero_nor_reused_by_a_live_vgpu() {
        let mut p = partitioning();
        p.set_count(2).unwrap();
        p.next_instance = u32::MAX;
        let a = p.create(0, &vram(0, 0, 0)).unwrap().reserve.instance;
        assert_eq!(a, u32::MAX);
        p.next_instance = u32::MAX;
        let b = p.create(1, &vram(0, 0, 0)).unwrap().reserve.instance;
        assert_eq!(b, 1, "wraps past 0, skipping the live u32::MAX");
    }
}
