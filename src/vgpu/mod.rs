//! GPU partitioning: the partition count, the per-count profiles, the vGPU
//! table indexed by PartitionId (= `vfIndex` = `VirtualFunctionIndex`), and
//! one `Vgpu` per occupied slot with its VRAM reserve, its synthetic PCI
//! function and its LUID. Platform-free safe code; the DDI trampolines are in
//! `crate::ddi::partition`, `crate::ddi::sriov`, `crate::ddi::allocation` and
//! `crate::ddi::migration`, the per-VF live migration in `crate::migration`.
//!
//! # Who owns what
//! - `Partitioning` is the adapter-wide part: the count, the profiles, the
//!   VRAM accounting (which reserve lies where, the vGPU allocations) and the
//!   vGPU table. Its methods that concern one VF (create, destroy, binding a
//!   reserve) take the raw index and look it up once.
//! - `Vgpu` is one VF. A trampoline resolves `vfIndex` once, with
//!   `Partitioning::vgpu` or `Partitioning::vgpu_mut`: the borrow it gets
//!   back is the checked index, and every per-VF operation is a method of it
//!   (`profile`, `resources`, `power`, `config` and `driver_escape`), which
//!   never looks at another VF nor at the table. A `Vgpu` holds everything
//!   those methods need (its segment and partition count are copied in at
//!   creation; neither can change while it lives), so it can later sit
//!   behind a lock of its own.
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
//!    `set_resources2` binds the ranges of a memory basis, scattered, VF
//!    address 0 = the first byte of its first range.
//! 4. D0 (`power`) runs the vGPU; D3 stops it; the pause overlay
//!    (`Vgpu::set_pause`) takes it off the schedule whatever its power state.
//! 5. Live migration (`crate::migration`): Prepare, Save or Restore of the
//!    immutable and mutable data, End, over the per-VF state machine the
//!    vGPU holds.
//! 6. `destroy` frees the slot, in any migration phase (the migration state
//!    goes with it); the allocation and any memory basis over the reserve
//!    outlive it until Dxgkrnl destroys them.
//!
//! # Locking
//! `Partitioning` sits behind the partitioning lock (`adapter::Started`),
//! and each `Vgpu` behind its own VF lock, inside it (`docs/locking.md`):
//! - adapter-wide changes (count, create, destroy, allocations, binding a
//!   reserve with SetVirtualGpuResources(2), revoking one) hold the
//!   partitioning lock exclusively and reach the VFs with `vgpu_mut`
//!   (`&mut`: no VF lock needed);
//! - per-VF operations (power, config writes, resets, the escape, the
//!   migration DDIs) hold the partitioning lock shared and their VF's lock
//!   (`vgpu_write`, or `vgpu` to read): two VFs' operations never wait for
//!   each other;
//! - adapter-wide reads (profiles, the reserve check) take each VF lock
//!   shared in turn, for fields only the adapter-wide changes write.

pub(crate) mod allocation;
pub(crate) mod config;
mod driver_escape;
pub mod escape;
mod luid;
pub(crate) mod options;
pub(crate) mod pci;
pub(crate) mod power;
pub(crate) mod profile;
pub(crate) mod resources;

use alloc::vec::Vec;
use dxgk_sys::LUID;

use crate::foundation::fallible;
use crate::foundation::status::{Result, Status};
use crate::foundation::units::{PageSize, Segment, SegmentId, VfIndex};
use crate::kernel::sync::{ReadGuard, RwLock, WriteGuard};
use crate::savestate::machine::VfMigration;
use allocation::Allocations;
use options::PartitionConfig;
use pci::ConfigSpace;

pub(crate) use config::MsixValue;
pub(crate) use power::{Power, PowerRequest};
pub(crate) use profile::{CAPABILITIES, Capability, Created, Requested};
pub(crate) use resources::{BoundReserve, PinnedReserve, ScatterEntry};

/// Entries of each VF's MSI-X table (the capability's table size + 1).
pub(crate) const MSIX_TABLE_SIZE: usize = pci::MSIX_VECTORS as usize;

/// One vGPU: everything a per-VF operation reads or changes.
pub(crate) struct Vgpu {
    /// Its slot in the vGPU table.
    index: u32,
    instance: u32,
    luid: LUID,
    caps: [Capability; CAPABILITIES],
    /// The segment its reserve lies in (the partitioning's tracked segment).
    segment: SegmentId,
    /// The partition count it was created under (fixed while a vGPU exists).
    partition_count: u32,
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
    /// Its index (`vfIndex`, `PartitionId`).
    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// `DxgkDdiQueryVirtualFunctionLuid`: the LUID CreateVirtualGpu returned.
    pub(crate) fn luid(&self) -> LUID {
        self.luid
    }

    /// The segment of its reserve.
    pub(crate) fn segment(&self) -> SegmentId {
        self.segment
    }

    /// The partition count it was created under.
    pub(crate) fn partition_count(&self) -> u32 {
        self.partition_count
    }

    /// The reserve size it asked for at creation.
    pub(crate) fn reserve_size(&self) -> u64 {
        self.reserve_size
    }

    /// Its migration state and pause overlay.
    pub(crate) fn migration(&self) -> &VfMigration {
        &self.migration
    }

    /// Its migration state and pause overlay, to move on.
    pub(crate) fn migration_mut(&mut self) -> &mut VfMigration {
        &mut self.migration
    }

    /// `DxgkDdiSetVirtualGpuVmBus`: records the handle, replacing any earlier one.
    ///
    /// # Errors
    /// `InvalidParameter` for a NULL handle.
    pub(crate) fn set_vmbus(&mut self, handle: usize) -> Result<()> {
        if handle == 0 {
            return Err(Status::InvalidParameter);
        }
        self.vmbus = Some(handle);
        Ok(())
    }

    /// What only the host may see of this vGPU, never a guest or the escape:
    /// the segment offset of VF address 0 (when bound), the VM-bus handle
    /// (a kernel-mode handle, kept opaque), and the MSI-X entries as
    /// `DxgkDdiWriteVirtualizedInterrupt` wrote them (host interrupt routing).
    /// For `crate::host` only, so built where it is.
    #[cfg(all(not(target_os = "windows"), not(loom)))]
    pub(crate) fn host_view(
        &self,
    ) -> (
        Option<u64>,
        Option<usize>,
        &[Option<MsixValue>; MSIX_TABLE_SIZE],
    ) {
        (
            self.reserve.as_ref().map(BoundReserve::base),
            self.vmbus,
            &self.msix,
        )
    }

    fn aperture(&self) -> u64 {
        pci::aperture_size(self.reserve_size)
    }
}

/// GPU partitioning state of a started adapter: the adapter-wide part.
pub(crate) struct Partitioning {
    config: PartitionConfig,
    segment: SegmentId,
    segment_size: u64,
    page: PageSize,
    /// 0 until the first SetGpuPartitionCount.
    count: u32,
    /// `count` slots; each vGPU behind its own lock (the VF lock).
    slots: Vec<Option<RwLock<Vgpu>>>,
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

    /// The segment a reserve lives in.
    pub(crate) fn segment(&self) -> SegmentId {
        self.segment
    }

    /// The live vGPUs, each read through its VF lock (briefly: the
    /// adapter-wide operations read fields only adapter-wide operations
    /// change, or that never change).
    fn live(&self) -> impl Iterator<Item = ReadGuard<'_, Vgpu>> {
        self.slots.iter().flatten().map(RwLock::read)
    }

    /// The VF lock of `vf`'s vGPU.
    fn cell(&self, vf: VfIndex) -> Result<&RwLock<Vgpu>> {
        let index = usize::try_from(vf.0).map_err(|_| Status::InvalidParameter)?;
        self.slots
            .get(index)
            .and_then(Option::as_ref)
            .ok_or(Status::InvalidParameter)
    }

    /// Resolves `vf` to its vGPU, to read it (its VF lock held shared).
    ///
    /// # Errors
    /// `InvalidParameter` unless `vf` names a vGPU.
    pub(crate) fn vgpu(&self, vf: VfIndex) -> Result<ReadGuard<'_, Vgpu>> {
        self.cell(vf).map(RwLock::read)
    }

    /// Resolves `vf` to its vGPU, to change it (its VF lock held
    /// exclusively): the per-VF operations, under the partitioning's lock
    /// held shared, so that one VF's work never waits for another's.
    ///
    /// # Errors
    /// `InvalidParameter` unless `vf` names a vGPU.
    pub(crate) fn vgpu_write(&self, vf: VfIndex) -> Result<WriteGuard<'_, Vgpu>> {
        self.cell(vf).map(RwLock::write)
    }

    /// Resolves `vf` to its vGPU, to change it, under the partitioning's
    /// lock held exclusively (no VF lock is needed then).
    ///
    /// # Errors
    /// `InvalidParameter` unless `vf` names a vGPU.
    pub(crate) fn vgpu_mut(&mut self, vf: VfIndex) -> Result<&mut Vgpu> {
        let index = usize::try_from(vf.0).map_err(|_| Status::InvalidParameter)?;
        self.slots
            .get_mut(index)
            .and_then(Option::as_mut)
            .map(RwLock::get_mut)
            .ok_or(Status::InvalidParameter)
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

    /// `DxgkDdiDestroyVirtualGpu`: quiesces and frees the vGPU, also during a
    /// migration (in D0 or paused: its migration state ends with it); its
    /// allocation is unbound and stays until DestroyAllocation.
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown or already destroyed partition.
    pub(crate) fn destroy(&mut self, vf: VfIndex) -> Result<()> {
        let index = usize::try_from(vf.0).map_err(|_| Status::InvalidParameter)?;
        let slot = self
            .slots
            .get_mut(index)
            .filter(|s| s.is_some())
            .ok_or(Status::InvalidParameter)?;
        // `&mut self`: no VF lock is held, so the vGPU (and its lock) can go.
        // Dropping the vGPU stops it: nothing of it runs afterwards.
        *slot = None;
        self.allocations.unbind(vf.0);
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
}
