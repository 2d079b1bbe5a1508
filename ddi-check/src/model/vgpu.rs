//! The reference model of the GPU-partition and live-migration DDIs: what
//! `../shared/spec/gpu-partitioning.md` (sections 3, 5, 6) and
//! `../shared/spec/dirty-bit-tracking.md` (sections 3, 5, 6) say, plus the
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
/// segment of the adapter), VF resources (20 + 12 per reserve, one here).
pub const IMMUTABLE_LEN: u64 =
    32 + (8 + 9) + (8 + 10) + (8 + 4 + 16 * SEGMENTS.len() as u64) + (8 + 20 + 12);

/// Bytes of the mutable data: header, VF state (13), MSI-X (4 + 18 per entry
/// written), bases (4 + per basis 9 + 16 per VF run), config space (4 + its
/// bytes).
#[must_use]
pub fn mutable_len(msix: usize, runs: &[Vec<(u64, u64)>], flaw: Flaw) -> u64 {
    let bases: u64 = runs.iter().map(|r| 9 + 16 * r.len() as u64).sum();
    let bases = if flaw == Flaw::MutableSizeForgetsBases {
        0
    } else {
        bases
    };
    32 + (8 + 13) + (8 + 4 + 18 * msix as u64) + (8 + 4 + bases) + (8 + 4 + CONFIG_BYTES)
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

    // ------------------------------------------------------------ Allocations

    /// CreateReserve: the standard-allocation data and CreateAllocation for
    /// the reserve of vGPU `uid` (`None`: no vGPU ever was in the slot; the
    /// exec passes a description no vGPU asked for).
    #[must_use]
    pub fn create_reserve(&self, adapter_ok: bool, uid: Option<u64>) -> Faults {
        let mut f = base_faults(self, adapter_ok);
        if self.started && uid.and_then(|u| self.gpu.by_uid(u)).is_none() {
            f.add(STATUS_INVALID_PARAMETER);
        }
        f
    }

    /// Records a created allocation.
    pub fn reserve_created(&mut self, uid: u64) {
        self.gpu.allocs.push(Alloc {
            uid,
            live: true,
            bound: None,
        });
    }

    /// `DxgkDdiDestroyAllocation` of allocation `index` (`None`: not a handle
    /// the driver issued).
    #[must_use]
    pub fn destroy_reserve(&self, adapter_ok: bool, index: Option<usize>) -> Faults {
        let mut f = base_faults(self, adapter_ok);
        if self.started && !index.is_some_and(|i| self.gpu.allocs[i].live) {
            f.add(STATUS_INVALID_HANDLE);
        }
        f
    }

    /// Records a destroyed allocation: a vGPU it is bound to loses its VRAM.
    pub fn reserve_destroyed(&mut self, index: usize) {
        let a = &mut self.gpu.allocs[index];
        a.live = false;
        if let Some(vf) = a.bound.take()
            && let Some(v) = self.gpu.vgpu_mut(vf)
        {
            v.reserve = None;
            v.revoked = true;
        }
    }

    fn alloc_for(&self, vf: u32, index: Option<usize>) -> bool {
        let uid = self.gpu.vgpu(vf).map(|v| v.uid);
        index.is_some_and(|i| {
            let a = self.gpu.allocs[i];
            a.live && Some(a.uid) == uid && a.bound.is_none()
        })
    }

    /// `DxgkDdiSetVirtualGpuResources` with one entry.
    #[must_use]
    pub fn set_resources(
        &self,
        adapter_ok: bool,
        vf: u32,
        alloc: Option<usize>,
        segment: u32,
        offset: u64,
        size: u64,
    ) -> Faults {
        let (mut f, v) = self.vf_faults(adapter_ok, vf);
        let Some(v) = v else {
            return f;
        };
        if v.reserve.is_some() || v.revoked {
            f.add(STATUS_INVALID_DEVICE_STATE);
        }
        let seg = SEGMENTS[VF_SEGMENT];
        if !self.alloc_for(vf, alloc)
            || segment != seg.id
            || size < v.size
            || !offset.is_multiple_of(VF_PAGE)
            || offset.checked_add(v.size).is_none_or(|e| e > seg.size)
            || self.gpu.overlaps_other(vf, &[(offset, v.size)])
        {
            f.add(STATUS_INVALID_PARAMETER);
        }
        f
    }

    /// Records a successful SetVirtualGpuResources(2).
    pub fn resources_set(&mut self, vf: u32, alloc: usize, pieces: Vec<(u64, u64)>) {
        self.gpu.allocs[alloc].bound = Some(vf);
        if let Some(v) = self.gpu.vgpu_mut(vf) {
            v.reserve = Some(pieces);
        }
    }

    /// `DxgkDdiSetVirtualGpuResources2` with one descriptor: the faults, and
    /// on success the pieces bound.
    #[must_use]
    pub fn set_resources2(
        &self,
        adapter_ok: bool,
        vf: u32,
        alloc: Option<usize>,
        basis: usize,
    ) -> (Faults, Vec<(u64, u64)>) {
        let (mut f, v) = self.vf_faults(adapter_ok, vf);
        let Some(v) = v else {
            return (f, Vec::new());
        };
        if v.reserve.is_some() || v.revoked {
            f.add(STATUS_INVALID_DEVICE_STATE);
        }
        let Some(b) = self.basis(basis) else {
            f.add(STATUS_INVALID_HANDLE);
            if !self.alloc_for(vf, alloc) {
                f.add(STATUS_INVALID_PARAMETER);
            }
            return (f, Vec::new());
        };
        let total = b
            .ranges
            .iter()
            .try_fold(0u64, |sum, r| sum.checked_add(r.1));
        if !self.alloc_for(vf, alloc)
            || b.segment != VF_SEGMENT
            || !b
                .ranges
                .iter()
                .all(|&(o, s)| o.is_multiple_of(VF_PAGE) && s.is_multiple_of(VF_PAGE))
            || total != Some(v.size)
            || self.gpu.overlaps_other(vf, &b.ranges)
        {
            f.add(STATUS_INVALID_PARAMETER);
        }
        (f, b.ranges.clone())
    }

    // -------------------------------------------------- Pause, MSI-X, phases

    /// `DxgkDdiSetVirtualFunctionPauseState`: any phase, idempotent.
    #[must_use]
    pub fn pause(&self, adapter_ok: bool, vf: u32) -> Faults {
        self.vf_faults(adapter_ok, vf).0
    }

    /// Records a pause state.
    pub fn paused(&mut self, vf: u32, pause: bool) {
        if let Some(v) = self.gpu.vgpu_mut(vf) {
            v.paused = pause;
        }
    }

    /// `DxgkDdiWriteVirtualizedInterrupt`: an index inside the table.
    #[must_use]
    pub fn write_interrupt(&self, adapter_ok: bool, vf: u32, index: i16) -> Faults {
        let (mut f, _) = self.vf_faults(adapter_ok, vf);
        if !(0..MSIX_ENTRIES as i16).contains(&index) {
            f.add(STATUS_INVALID_PARAMETER);
        }
        f
    }

    /// Records an MSI-X write.
    pub fn interrupt_written(&mut self, vf: u32, index: i16) {
        if let Some(v) = self.gpu.vgpu_mut(vf) {
            v.msix |= 1 << index;
        }
    }

    /// `DxgkDdiPrepareLiveMigration`: a known type, a VF with its VRAM, no
    /// migration in progress.
    #[must_use]
    pub fn prepare(&self, adapter_ok: bool, vf: u32, ty: i32) -> Faults {
        let (mut f, v) = self.vf_faults(adapter_ok, vf);
        if !(0..=1).contains(&ty) {
            f.add(STATUS_INVALID_PARAMETER);
        }
        if let Some(v) = v
            && (!v.migratable() || !matches!(v.phase, Phase::Idle | Phase::Ended))
        {
            f.add(STATUS_INVALID_DEVICE_STATE);
        }
        f
    }

    /// Records a successful Prepare.
    pub fn prepared(&mut self, vf: u32, ty: i32) {
        if let Some(v) = self.gpu.vgpu_mut(vf) {
            v.phase = if ty == 0 {
                Phase::PreparedSource
            } else {
                Phase::PreparedTarget
            };
            v.source = None;
        }
    }

    /// `DxgkDdiEndLiveMigration`: a migration in progress.
    #[must_use]
    pub fn end(&self, adapter_ok: bool, vf: u32) -> Faults {
        let (mut f, v) = self.vf_faults(adapter_ok, vf);
        if v.is_some_and(|v| matches!(v.phase, Phase::Idle | Phase::Ended)) {
            f.add(STATUS_INVALID_DEVICE_STATE);
        }
        f
    }

    /// Records a successful End (the pause stays).
    pub fn ended(&mut self, vf: u32) {
        if let Some(v) = self.gpu.vgpu_mut(vf) {
            v.phase = Phase::Ended;
        }
    }

    // ----------------------------------------------------------- Save

    /// The VF runs of every memory basis in the VF segment that lies wholly
    /// within `pieces` (bitplane order, adjacent runs merged), in creation
    /// order.
    fn runs_within(&self, pieces: &[(u64, u64)]) -> Vec<Vec<(u64, u64)>> {
        // VF page of each segment page of the reserve.
        let vf_page = |page: u64| {
            let mut at = 0u64;
            for &(o, s) in pieces {
                if (o / VF_PAGE..(o + s) / VF_PAGE).contains(&page) {
                    return Some(at + page - o / VF_PAGE);
                }
                at += s / VF_PAGE;
            }
            None
        };
        let mut out = Vec::new();
        'bases: for (_, b) in self.live.iter().filter(|(_, b)| b.segment == VF_SEGMENT) {
            let mut runs: Vec<(u64, u64)> = Vec::new();
            for &(o, s) in &b.ranges {
                // Page by page (reserves are whole pages, so a byte is in
                // the reserve exactly when its page is), keeping the bytes of
                // each page the range covers: ranges need not be page
                // multiples.
                let (first, end) = (o / VF_PAGE, (o + s).div_ceil(VF_PAGE));
                for page in first..end {
                    let Some(p) = vf_page(page) else {
                        continue 'bases;
                    };
                    // Byte span of this page that the range covers.
                    let lo = o.max(page * VF_PAGE);
                    let hi = (o + s).min((page + 1) * VF_PAGE);
                    let (addr, len) = (p * VF_PAGE + (lo - page * VF_PAGE), hi - lo);
                    match runs.last_mut() {
                        Some(last) if last.0 + last.1 == addr => last.1 += len,
                        _ => runs.push((addr, len)),
                    }
                }
            }
            out.push(runs);
        }
        out
    }

    /// The bytes a Save of `vf` needs, if the VF can be saved (the state
    /// checks aside).
    fn save_len(&self, v: &Vgpu, mutable: bool) -> u64 {
        if !mutable {
            return IMMUTABLE_LEN;
        }
        let runs = self.runs_within(v.reserve.as_deref().unwrap_or_default());
        mutable_len(v.msix.count_ones() as usize, &runs, self.flaw)
    }

    /// The bytes a Save of `vf` needs (whatever its state; `None` without a vGPU).
    #[must_use]
    pub fn save_needed(&self, vf: u32, mutable: bool) -> Option<u64> {
        let v = self.gpu.vgpu(vf).filter(|_| self.started)?;
        Some(self.save_len(v, mutable))
    }

    /// `DxgkDdiSave{Immutable,Mutable}MigrationData`'s faults: `arg_fault`
    /// for a NULL block, NULL `DataSize`, or NULL `Data` with a non-zero
    /// `*DataSize`; `capacity` is `None` for the sizing call, else the
    /// buffer's size (short: `STATUS_BUFFER_TOO_SMALL`).
    #[must_use]
    pub fn save(
        &self,
        adapter_ok: bool,
        vf: u32,
        mutable: bool,
        arg_fault: bool,
        capacity: Option<u64>,
    ) -> Faults {
        let (mut f, v) = self.vf_faults(adapter_ok, vf);
        if arg_fault {
            f.add(STATUS_INVALID_PARAMETER);
        }
        let Some(v) = v else {
            return f;
        };
        let phase_ok = if mutable {
            matches!(v.phase, Phase::Saving | Phase::Saved) && v.paused
        } else {
            matches!(
                v.phase,
                Phase::PreparedSource | Phase::Saving | Phase::Saved
            )
        };
        if !phase_ok || !v.migratable() {
            f.add(STATUS_INVALID_DEVICE_STATE);
        } else if !arg_fault && capacity.is_some_and(|c| c < self.save_len(v, mutable)) {
            f.add(STATUS_BUFFER_TOO_SMALL);
        }
        f
    }

    /// Records a filled Save: the phase moves on and the blob is kept.
    pub fn saved(&mut self, vf: u32, mutable: bool) {
        let Some(v) = self.gpu.vgpu(vf) else {
            return;
        };
        let blob = if mutable {
            Blob::Mutable {
                uid: v.uid,
                vf,
                msix: v.msix,
                runs: self.runs_within(v.reserve.as_deref().unwrap_or_default()),
            }
        } else {
            Blob::Immutable {
                uid: v.uid,
                vf,
                count: self.gpu.count,
                size: v.size,
            }
        };
        self.gpu.blobs.push(blob);
        if let Some(v) = self.gpu.vgpu_mut(vf) {
            v.phase = match (v.phase, mutable) {
                (Phase::PreparedSource, false) => Phase::Saving,
                (Phase::Saving, true) => Phase::Saved,
                (p, _) => p,
            };
        }
    }

    // ----------------------------------------------------------- Restore

    /// `DxgkDdiRestore{Immutable,Mutable}MigrationData` of `blob` (as the
    /// model describes it) into `vf`; `arg_fault` for NULL arguments or data.
    #[must_use]
    pub fn restore(
        &self,
        adapter_ok: bool,
        vf: u32,
        mutable: bool,
        arg_fault: bool,
        blob: &Blob,
    ) -> Faults {
        let (mut f, v) = self.vf_faults(adapter_ok, vf);
        if arg_fault {
            f.add(STATUS_INVALID_PARAMETER);
        }
        let Some(v) = v else {
            return f;
        };
        let phase = if mutable {
            Phase::Restoring
        } else {
            Phase::PreparedTarget
        };
        let paused_ok = v.paused || self.flaw == Flaw::RestoreIgnoresPause;
        if v.phase != phase || !paused_ok || !v.migratable() {
            f.add(STATUS_INVALID_DEVICE_STATE);
            return f;
        }
        let accepted = match (blob, mutable) {
            (Blob::Immutable { count, size, .. }, false) => {
                *count == self.gpu.count && *size == v.size
            }
            (Blob::Mutable { uid, vf, runs, .. }, true) => {
                let ours = self.runs_within(v.reserve.as_deref().unwrap_or_default());
                v.source == Some((*uid, *vf)) && runs.iter().all(|r| ours.contains(r))
            }
            _ => false,
        };
        if !accepted {
            f.add(STATUS_OBJECT_TYPE_MISMATCH);
        }
        f
    }

    /// Records a successful Restore.
    pub fn restored(&mut self, vf: u32, blob: &Blob) {
        if let Some(v) = self.gpu.vgpu_mut(vf) {
            match *blob {
                Blob::Immutable { uid, vf, .. } => {
                    v.phase = Phase::Restoring;
                    v.source = Some((uid, vf));
                }
                Blob::Mutable { msix, .. } => {
                    v.phase = Phase::Restored;
                    v.msix = msix;
                }
                Blob::Garbage => {}
            }
        }
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
