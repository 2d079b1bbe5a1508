//! The model of what the guest side reaches: the VF's power state
//! (`DxgkDdiSetVirtualFunctionPowerState`) and the vGPU escape
//! (`DxgkDdiVirtualGpuDriverEscape`, format in `gpup_miniport::vgpu::escape`):
//! each status, and each reply's bytes.

use dxgk_sys::*;
use gpup_miniport::vgpu::escape::*;

use super::{Phase, VF_SEGMENT, base_faults};
use crate::model::{Faults, Model, SEGMENTS};

/// What an escape call passes, as the model sees it.
#[derive(Debug, Clone, Copy)]
pub struct EscapeCall<'a> {
    /// `PartitionId`.
    pub vf: u32,
    /// `InputBufferSize` (16 + the payload's bytes).
    pub input_len: usize,
    /// The LUID is the vGPU's.
    pub luid_ok: bool,
    /// `Command`.
    pub command: u32,
    /// `PayloadSize`.
    pub declared: u32,
    /// The payload.
    pub payload: &'a [u8],
    /// Output capacity (0 for a NULL buffer).
    pub out: usize,
}

/// The phase code `GPUP_VGPU_ESCAPE_INFO::Flags` carries.
fn phase_code(p: Phase) -> u32 {
    match p {
        Phase::Idle => GPUP_VGPU_MIGRATION_IDLE,
        Phase::PreparedSource => GPUP_VGPU_MIGRATION_PREPARED_SOURCE,
        Phase::Saving => GPUP_VGPU_MIGRATION_SAVING,
        Phase::Saved => GPUP_VGPU_MIGRATION_SAVED,
        Phase::PreparedTarget => GPUP_VGPU_MIGRATION_PREPARED_TARGET,
        Phase::Restoring => GPUP_VGPU_MIGRATION_RESTORING,
        Phase::Restored => GPUP_VGPU_MIGRATION_RESTORED,
        Phase::Ended => GPUP_VGPU_MIGRATION_ENDED,
    }
}

impl Model {
    /// `DxgkDdiSetVirtualFunctionPowerState`: D0 needs a bound reserve, D1
    /// and D2 are not supported, other values are invalid.
    #[must_use]
    pub fn set_power(&self, adapter_ok: bool, vf: u32, state: u32) -> Faults {
        let (mut f, v) = self.vf_faults(adapter_ok, vf);
        if let Some(v) = v {
            match state {
                1 if v.reserve.is_none() => f.add(STATUS_INVALID_DEVICE_STATE),
                1 | 4 => {}
                2 | 3 => f.add(STATUS_NOT_SUPPORTED),
                _ => f.add(STATUS_INVALID_PARAMETER),
            }
        }
        f
    }

    /// `DxgkDdiQueryVirtualFunctionLuid` (no status): whether it writes the
    /// LUID out (a known adapter, started), and whether it is the vGPU's
    /// (else zero: no vGPU in the slot).
    #[must_use]
    pub fn query_luid(&self, adapter_ok: bool, vf: u32) -> (bool, bool) {
        let writes = base_faults(self, adapter_ok).none();
        (writes, writes && self.gpu.vgpu(vf).is_some())
    }

    /// Records a power state set.
    pub fn power_set(&mut self, vf: u32, state: u32) {
        if let Some(v) = self.gpu.vgpu_mut(vf) {
            v.d0 = state == 1;
        }
    }

    /// `DxgkDdiVirtualGpuDriverEscape`: the allowed statuses, the reply on
    /// success, and the span WRITE_NOTIFY marks (segment offsets, in the
    /// VF's segment).
    #[must_use]
    pub fn escape(
        &self,
        adapter_ok: bool,
        call: &EscapeCall<'_>,
    ) -> (Faults, Vec<u8>, Vec<(u64, u64)>) {
        let (mut f, v) = self.vf_faults(adapter_ok, call.vf);
        if !(GPUP_VGPU_ESCAPE_PREFIX..=GPUP_VGPU_ESCAPE_MAX_INPUT).contains(&call.input_len) {
            f.add(STATUS_INVALID_PARAMETER);
        }
        let Some(v) = v.filter(|_| f.none()) else {
            return (f, Vec::new(), Vec::new());
        };
        if call.declared as usize != call.payload.len() || !call.luid_ok {
            f.add(STATUS_INVALID_PARAMETER);
            return (f, Vec::new(), Vec::new());
        }
        let sized = |f: &mut Faults, size: usize| {
            if !call.payload.is_empty() {
                f.add(STATUS_INVALID_PARAMETER);
            } else if call.out < size {
                f.add(STATUS_BUFFER_TOO_SMALL);
            }
        };
        match call.command {
            GPUP_VGPU_ESCAPE_QUERY => {
                sized(&mut f, GPUP_VGPU_ESCAPE_INFO::SIZE);
                let bound = v.reserve.is_some();
                let flag = |on: bool, bit: u32| if on { bit } else { 0 };
                let info = GPUP_VGPU_ESCAPE_INFO {
                    PartitionId: call.vf,
                    PowerState: if v.d0 { 1 } else { 4 },
                    ReserveSegmentId: SEGMENTS[VF_SEGMENT].id,
                    Flags: flag(bound, GPUP_VGPU_FLAG_RESERVE_BOUND)
                        | flag(v.vmbus, GPUP_VGPU_FLAG_VMBUS)
                        | flag(v.config[0x04] & 0x02 != 0, GPUP_VGPU_FLAG_MEMORY_ENABLED)
                        | flag(v.config[0x43] & 0x80 != 0, GPUP_VGPU_FLAG_MSIX_ENABLED)
                        | flag(v.revoked, GPUP_VGPU_FLAG_REVOKED)
                        | flag(v.paused, GPUP_VGPU_FLAG_PAUSED)
                        | flag(bound && v.scattered, GPUP_VGPU_FLAG_SCATTERED)
                        | (phase_code(v.phase) << GPUP_VGPU_MIGRATION_SHIFT),
                    ReserveSize: v.size,
                    ..GPUP_VGPU_ESCAPE_INFO::default()
                };
                (f, info.encode().to_vec(), Vec::new())
            }
            GPUP_VGPU_ESCAPE_MSIX => {
                sized(&mut f, GPUP_VGPU_ESCAPE_MSIX_TABLE::SIZE);
                let table = GPUP_VGPU_ESCAPE_MSIX_TABLE {
                    EntryCount: 4,
                    WrittenMask: u32::from(v.msix),
                    // ddi-check writes every entry unmasked.
                    VectorControl: [0; 4],
                };
                (f, table.encode().to_vec(), Vec::new())
            }
            GPUP_VGPU_ESCAPE_WRITE_NOTIFY => {
                if call.payload.len() != 16 {
                    f.add(STATUS_INVALID_PARAMETER);
                    return (f, Vec::new(), Vec::new());
                }
                let word = |at: usize| {
                    u64::from_le_bytes(call.payload[at..at + 8].try_into().unwrap_or([0; 8]))
                };
                let (offset, len) = (word(0), word(8));
                let Some(pieces) = v.reserve.as_ref().filter(|_| v.d0 && !v.paused) else {
                    f.add(STATUS_INVALID_DEVICE_STATE);
                    return (f, Vec::new(), Vec::new());
                };
                let Some(end) = offset.checked_add(len).filter(|&e| e <= v.size) else {
                    f.add(STATUS_INVALID_PARAMETER);
                    return (f, Vec::new(), Vec::new());
                };
                let mut spans = Vec::new();
                let mut start = 0u64;
                for &(at, size) in pieces {
                    let (from, to) = (offset.max(start), end.min(start + size));
                    if from < to {
                        spans.push((at + (from - start), to - from));
                    }
                    start += size;
                }
                (f, Vec::new(), spans)
            }
            _ => {
                f.add(STATUS_NOT_SUPPORTED);
                (f, Vec::new(), Vec::new())
            }
        }
    }
}
