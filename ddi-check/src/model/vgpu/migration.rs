//! The model of the live-migration DDIs: pause, the virtualized MSI-X
//! table, the migration phases (Prepare, End), and Save and Restore of the
//! immutable and mutable data.

use dxgk_sys::*;

use super::{Blob, IMMUTABLE_LEN, MSIX_ENTRIES, Phase, VF_PAGE, VF_SEGMENT, Vgpu, mutable_len};
use crate::model::{Faults, Flaw, Model};

impl Model {
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
                config: v.config.clone(),
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
            (
                Blob::Mutable {
                    uid,
                    vf,
                    runs,
                    config,
                    ..
                },
                true,
            ) => {
                let ours = self.runs_within(v.reserve.as_deref().unwrap_or_default());
                // Every read-only bit of the saved space must be ours.
                let (_, mask) = super::vf::config_layout(v.size);
                let same_fixed = (0..config.len()).all(|i| {
                    v.config
                        .get(i)
                        .is_some_and(|o| o & !mask[i] == config[i] & !mask[i])
                });
                v.source == Some((*uid, *vf)) && runs.iter().all(|r| ours.contains(r)) && same_fixed
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
            match blob {
                Blob::Immutable { uid, vf, .. } => {
                    v.phase = Phase::Restoring;
                    v.source = Some((*uid, *vf));
                }
                Blob::Mutable { config, .. } => {
                    // The MSI-X table stays what the target's OS wrote: the
                    // blob carries only which indices the source wrote. The
                    // space takes the saved writable bits.
                    let (_, mask) = super::vf::config_layout(v.size);
                    for (i, (ours, theirs)) in v.config.iter_mut().zip(config).enumerate() {
                        *ours = (*ours & !mask[i]) | (theirs & mask[i]);
                    }
                    v.phase = Phase::Restored;
                }
                Blob::Garbage => {}
            }
        }
    }
}
