//! The reference model of the GPU-partition and live-migration DDIs: what
//! `docs/contract.md` says of GPU partitioning and live migration, plus the
//! fixed behaviour of the project's migration state machine
//! (`src/migration/machine.rs`'s table) and the saved-state format's sizes
//! (`src/migration/state.rs`'s record table), written from those documents
//! with no code shared with the driver.
//!
//! vGPUs are slots with a model identity (`uid`, standing for the LUID and
//! the reserve's instance number the driver invents); reserves are lists of
//! (segment offset, bytes) pieces in VF address order; saved blobs are
//! symbolic descriptions of what Save wrote, from which the model predicts
//! what a later Restore says. The model never looks at blob bytes.

use dxgk_sys::*;

use super::{Faults, Flaw, Model, SEGMENTS};

mod guest;
mod migration;
mod reserve;
pub mod vf;

pub use guest::EscapeCall;

/// The segment vGPU reserves live in: the first tracked one (index into
/// [`SEGMENTS`]).
pub const VF_SEGMENT: usize = 0;
/// Its page (the dirty-tracking page size, and the scatter granularity).
pub const VF_PAGE: u64 = 4096;
/// The partition counts the adapter offers (the driver's built-in options).
pub const OPTIONS: [u16; 4] = [1, 2, 4, 8];
/// The partition count the checked adapter is given at setup, as Dxgkrnl sets
/// one before the first vGPU.
pub const SETUP_COUNT: u32 = 4;
/// Entries of each VF's MSI-X table.
pub const MSIX_ENTRIES: usize = 4;
/// Bytes of a VF's configuration space, as the mutable data carries it.
pub const CONFIG_BYTES: u64 = 4096;

/// Bytes of the immutable data: a 32-byte header and four records (8-byte
/// record header each): identity (9), driver (10), segments (4 + 16 per
/// tracked VRAM segment of the adapter, format 3), VF resources (20 + 12
/// per reserve, one here).
pub const IMMUTABLE_LEN: u64 =
    32 + (8 + 9) + (8 + 10) + (8 + 4 + 16 * TRACKED_SEGMENTS) + (8 + 20 + 12);

/// How many of [`SEGMENTS`] are tracked: the ones the saved state lists.
const TRACKED_SEGMENTS: u64 = {
    let (mut i, mut n) = (0, 0);
    while i < SEGMENTS.len() {
        if SEGMENTS[i].page.is_some() {
            n += 1;
        }
        i += 1;
    }
    n
};

/// Bytes of the mutable data: header, VF state (13), MSI-X (4 + 2 per entry
/// written: its index only, format 2 on), bases (4 + per basis 9 + 16 per VF run), config space (4 + its
/// bytes).
#[must_use]
pub fn mutable_len(msix: usize, runs: &[Vec<(u64, u64)>], flaw: Flaw) -> u64 {
    let bases: u64 = runs.iter().map(|r| 9 + 16 * r.len() as u64).sum();
    let bases = if flaw == Flaw::MutableSizeForgetsBases {
        0
    } else {
        bases
    };
    32 + (8 + 13) + (8 + 4 + 2 * msix as u64) + (8 + 4 + bases) + (8 + 4 + CONFIG_BYTES)
}

/// Where a VF is in its migration (the driver's documented table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No migration since creation.
    Idle,
    /// Prepare(SOURCE).
    PreparedSource,
    /// SaveImmutable filled a buffer.
    Saving,
    /// SaveMutable filled a buffer.
    Saved,
    /// Prepare(TARGET).
    PreparedTarget,
    /// RestoreImmutable accepted data.
    Restoring,
    /// RestoreMutable accepted data.
    Restored,
    /// EndLiveMigration.
    Ended,
}

/// One vGPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vgpu {
    /// The model's identity of this vGPU (never reused).
    pub uid: u64,
    /// Reserve bytes Create asked for.
    pub size: u64,
    /// `DXGK_VGPU_CAPABILITY` of the memory: (min, max).
    pub vram: (u64, u64),
    /// The bound reserve's pieces (segment offset, bytes) in VF order.
    pub reserve: Option<Vec<(u64, u64)>>,
    /// The reserve's allocation was destroyed under the vGPU.
    pub revoked: bool,
    /// The pause overlay.
    pub paused: bool,
    /// Migration phase.
    pub phase: Phase,
    /// (uid, vf) of the source named by the restored immutable data.
    pub source: Option<(u64, u32)>,
    /// MSI-X entries written (bit per entry).
    pub msix: u8,
    /// In D0 (`DxgkDdiSetVirtualFunctionPowerState`); D3 at creation and
    /// when the reserve is revoked.
    pub d0: bool,
    /// The reserve was bound by SetVirtualGpuResources2.
    pub scattered: bool,
    /// Its configuration space (`vf::CONFIG_SIZE` bytes).
    pub config: Vec<u8>,
    /// SetVirtualGpuVmBus gave it a handle.
    pub vmbus: bool,
}

impl Vgpu {
    fn migratable(&self) -> bool {
        self.reserve.is_some() && !self.revoked
    }
}

/// One reserve allocation the driver created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alloc {
    /// The vGPU it was made for.
    pub uid: u64,
    /// Still a live handle.
    pub live: bool,
    /// The slot it is bound to.
    pub bound: Option<u32>,
}

/// What a Save wrote, symbolically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blob {
    /// Immutable data of vGPU `uid` in slot `vf`.
    Immutable {
        /// Source vGPU.
        uid: u64,
        /// Its slot.
        vf: u32,
        /// The partition count then.
        count: u32,
        /// Its reserve bytes.
        size: u64,
    },
    /// Mutable data.
    Mutable {
        /// Source vGPU.
        uid: u64,
        /// Its slot.
        vf: u32,
        /// MSI-X entries written.
        msix: u8,
        /// Its memory bases, as VF runs.
        runs: Vec<Vec<(u64, u64)>>,
        /// Its configuration space.
        config: Vec<u8>,
    },
    /// Not a blob Save produced (no blob yet, or damaged, or empty).
    Garbage,
}

/// The partitioning state of the adapter under test.
#[derive(Debug, Clone, Default)]
pub struct Gpu {
    /// 0 until a count is set (after a restart).
    pub count: u32,
    /// `count` slots.
    pub slots: Vec<Option<Vgpu>>,
    /// Every allocation created, in order (the exec's handle list).
    pub allocs: Vec<Alloc>,
    /// The uid of the vGPU each slot held last (for CreateReserve of a gone one).
    pub last_in_slot: Vec<(u32, u64)>,
    /// Every blob a Save filled, in order (the exec's blob list).
    pub blobs: Vec<Blob>,
    next_uid: u64,
}

/// The resolved reserve of a CreateVirtualGpu that must succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreatedVgpu {
    /// Bytes.
    pub size: u64,
    /// (min, max) of the memory capability.
    pub vram: (u64, u64),
}

fn round_down(v: u64) -> u64 {
    v / VF_PAGE * VF_PAGE
}

impl Gpu {
    /// The state after setup: a count of [`SETUP_COUNT`], no vGPU.
    #[must_use]
    pub fn new() -> Self {
        Self {
            count: SETUP_COUNT,
            slots: vec![None; SETUP_COUNT as usize],
            next_uid: 1,
            ..Self::default()
        }
    }

    /// Each partition's most VRAM for `count` partitions.
    #[must_use]
    pub fn share(count: u32) -> u64 {
        round_down(SEGMENTS[VF_SEGMENT].size / u64::from(count.max(1)))
    }

    /// The first byte of slot `slot`'s region (see [`crate::ops::Place`]).
    #[must_use]
    pub fn region(&self, slot: u32) -> u64 {
        let count = self.count.max(1);
        u64::from(slot % count) * Self::share(count)
    }

    /// The vGPU in slot `vf`.
    #[must_use]
    pub fn vgpu(&self, vf: u32) -> Option<&Vgpu> {
        self.slots.get(vf as usize).and_then(Option::as_ref)
    }

    fn vgpu_mut(&mut self, vf: u32) -> Option<&mut Vgpu> {
        self.slots.get_mut(vf as usize).and_then(Option::as_mut)
    }

    /// The vGPUs, by slot.
    pub fn live(&self) -> impl Iterator<Item = (u32, &Vgpu)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i as u32, s.as_ref()?)))
    }

    /// The uid CreateReserve of slot `vf` names: its vGPU's, or the last one's.
    #[must_use]
    pub fn reserve_uid(&self, vf: u32) -> Option<u64> {
        self.vgpu(vf).map(|v| v.uid).or_else(|| {
            self.last_in_slot
                .iter()
                .rev()
                .find(|(s, _)| *s == vf)
                .map(|&(_, u)| u)
        })
    }

    fn by_uid(&self, uid: u64) -> Option<(u32, &Vgpu)> {
        self.live().find(|(_, v)| v.uid == uid)
    }

    fn free(&self) -> u64 {
        let used: u64 = self.live().map(|(_, v)| v.size).sum();
        SEGMENTS[VF_SEGMENT].size.saturating_sub(used)
    }

    fn overlaps_other(&self, vf: u32, pieces: &[(u64, u64)]) -> bool {
        self.live().any(|(p, v)| {
            p != vf
                && v.reserve.as_ref().is_some_and(|r| {
                    r.iter().any(|&(a, s)| {
                        pieces
                            .iter()
                            .any(|&(b, t)| a < b.saturating_add(t) && b < a.saturating_add(s))
                    })
                })
        })
    }
}

/// The faults of a call naming a VF (unknown `vf`: `STATUS_INVALID_PARAMETER`)
/// on an adapter (bad handle: `STATUS_INVALID_PARAMETER`; stopped:
/// `STATUS_INVALID_DEVICE_STATE`).
fn base_faults(model: &Model, adapter_ok: bool) -> Faults {
    let mut f = Faults::default();
    if !adapter_ok {
        f.add(STATUS_INVALID_PARAMETER);
    }
    if !model.started {
        f.add(STATUS_INVALID_DEVICE_STATE);
    }
    f
}

impl Model {
    /// The partitioning state.
    #[must_use]
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    fn vf_faults(&self, adapter_ok: bool, vf: u32) -> (Faults, Option<&Vgpu>) {
        let mut f = base_faults(self, adapter_ok);
        let v = self.gpu.vgpu(vf).filter(|_| self.started);
        if self.started && v.is_none() {
            f.add(STATUS_INVALID_PARAMETER);
        }
        (f, v)
    }

    // ------------------------------------------------------- Partition count

    /// `DxgkDdiSetGpuPartitionCount`.
    #[must_use]
    pub fn set_partition_count(&self, adapter_ok: bool, count: u32) -> Faults {
        let mut f = base_faults(self, adapter_ok);
        if !OPTIONS.iter().any(|&o| u32::from(o) == count) {
            f.add(STATUS_INVALID_PARAMETER);
        } else if count != self.gpu.count && self.gpu.live().next().is_some() {
            f.add(STATUS_INVALID_DEVICE_STATE);
        }
        f
    }

    /// Records a successful SetGpuPartitionCount.
    pub fn partition_count_set(&mut self, count: u32) {
        if count != self.gpu.count {
            self.gpu.count = count;
            self.gpu.slots = vec![None; count as usize];
        }
    }

    /// `DxgkDdiGetGpuPartitionInfo`: the faults (`STATUS_BUFFER_TOO_SMALL`
    /// for a short or NULL array, with the counts written) and the current
    /// count.
    #[must_use]
    pub fn partition_info(&self, adapter_ok: bool, capacity: u32, null_array: bool) -> Faults {
        let mut f = base_faults(self, adapter_ok);
        if capacity < OPTIONS.len() as u32 || null_array {
            f.add(STATUS_BUFFER_TOO_SMALL);
        }
        f
    }

    // ----------------------------------------------------- Create / Destroy

    /// `DxgkDdiCreateVirtualGpu`: the faults, and on success the reserve.
    /// `vram` is (Min, Max, Optimal); `engine` a non-zero engine minimum.
    #[must_use]
    pub fn create_vgpu(
        &self,
        adapter_ok: bool,
        vf: u32,
        vram: (u64, u64, u64),
        engine: u64,
    ) -> (Faults, Option<CreatedVgpu>) {
        let mut f = base_faults(self, adapter_ok);
        if !self.started {
            return (f, None);
        }
        let gpu = &self.gpu;
        if gpu.count == 0 || vf >= gpu.count {
            f.add(STATUS_INVALID_PARAMETER);
            return (f, None);
        }
        if gpu.vgpu(vf).is_some() {
            f.add(STATUS_INVALID_DEVICE_STATE);
            return (f, None);
        }
        let share = Gpu::share(gpu.count);
        let (min, max, optimal) = vram;
        let (min, max, target) = if vram == (0, 0, 0) {
            (VF_PAGE.min(share), share, share)
        } else {
            if min > max || (optimal != 0 && (optimal < min || optimal > max)) {
                f.add(STATUS_INVALID_PARAMETER);
            }
            (min, max, if optimal != 0 { optimal } else { share })
        };
        if engine != 0 {
            // An engine this adapter does not have.
            f.add(STATUS_INSUFFICIENT_RESOURCES);
        }
        let limit = max.min(share).min(round_down(gpu.free()));
        let size = if min > limit {
            0
        } else {
            let clamped = target.clamp(min, limit);
            let up = clamped.div_ceil(VF_PAGE) * VF_PAGE;
            if up > limit { round_down(limit) } else { up }
        };
        if size == 0 || size < min {
            f.add(STATUS_INSUFFICIENT_RESOURCES);
        }
        let created = f.none().then_some(CreatedVgpu {
            size,
            vram: (min, max),
        });
        (f, created)
    }

    /// Records a successful CreateVirtualGpu; returns the vGPU's uid.
    pub fn vgpu_created(&mut self, vf: u32, created: CreatedVgpu) -> u64 {
        let uid = self.gpu.next_uid;
        self.gpu.next_uid += 1;
        self.gpu.last_in_slot.push((vf, uid));
        self.gpu.slots[vf as usize] = Some(Vgpu {
            uid,
            size: created.size,
            vram: created.vram,
            reserve: None,
            revoked: false,
            paused: false,
            phase: Phase::Idle,
            source: None,
            msix: 0,
            d0: false,
            scattered: false,
            config: vf::config_layout(created.size).0,
            vmbus: false,
        });
        uid
    }

    /// `DxgkDdiDestroyVirtualGpu`: any phase, paused or not, bound or not.
    #[must_use]
    pub fn destroy_vgpu(&self, adapter_ok: bool, vf: u32) -> Faults {
        self.vf_faults(adapter_ok, vf).0
    }

    /// Records a successful DestroyVirtualGpu: the slot is free, its
    /// allocation unbound (it stays until DestroyAllocation), memory bases
    /// over the reserve stay.
    pub fn vgpu_destroyed(&mut self, vf: u32) {
        self.gpu.slots[vf as usize] = None;
        for a in &mut self.gpu.allocs {
            if a.bound == Some(vf) {
                a.bound = None;
            }
        }
    }

    /// `DxgkDdiGetVirtualGpuInfo`: the faults, and the memory capability
    /// (min, max, current).
    #[must_use]
    pub fn vgpu_info(&self, adapter_ok: bool, vf: u32) -> (Faults, Option<(u64, u64, u64)>) {
        let (f, v) = self.vf_faults(adapter_ok, vf);
        let caps = v.map(|v| (v.vram.0, v.vram.1, v.size));
        (f.clone(), caps.filter(|_| f.none()))
    }

    /// The adapter stopped: every vGPU goes, and (with the partitioning
    /// state) the allocations and the count.
    pub(super) fn gpu_stopped(&mut self) {
        let blobs = core::mem::take(&mut self.gpu.blobs);
        let next_uid = self.gpu.next_uid;
        let mut allocs = core::mem::take(&mut self.gpu.allocs);
        for a in &mut allocs {
            a.live = false;
            a.bound = None;
        }
        self.gpu = Gpu {
            count: 0,
            slots: Vec::new(),
            allocs,
            last_in_slot: Vec::new(),
            blobs,
            next_uid,
        };
    }
}
