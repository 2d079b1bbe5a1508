//! The guest-facing calls: `DxgkDdiSetVirtualFunctionPowerState` (SR-IOV
//! interface) and `DxgkDdiVirtualGpuDriverEscape` (partition interface),
//! checked against `crate::model::vgpu::guest`: the status, the reply's
//! bytes and `OutputBufferSize` on success, nothing written on failure, and
//! the dirty pages a WRITE_NOTIFY marks (the model marks the same span, so
//! later queries check them).

use dxgk_sys::*;

use super::UNTOUCHED;
use crate::exec::World;
use crate::model::SEGMENTS;
use crate::model::vgpu::{EscapeCall, VF_SEGMENT};
use crate::ops::*;

impl World {
    /// `DxgkDdiSetVirtualFunctionPowerState`.
    pub(super) fn set_power(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
        state: u32,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let faults = self.model.set_power(ok, vf, state);
        let f = self
            .sriov
            .DxgkDdiSetVirtualFunctionPowerState
            .ok_or("no SR-IOV power slot")?;
        let args = DXGKARG_SETVIRTUALFUNCTIONPOWERSTATE {
            VirtualFunctionIndex: vf,
            PowerState: DEVICE_POWER_STATE(state as i32),
            Wake: 0,
        };
        // SAFETY: the args block is live; `h` is a value.
        let status = unsafe { f(h, &raw const args) };
        self.expect(op, &faults, status)?;
        if status == STATUS_SUCCESS {
            self.model.power_set(vf, state);
        }
        Ok(status == STATUS_SUCCESS)
    }

    /// `DxgkDdiQueryVirtualFunctionLuid`: the vGPU's LUID, zero for an
    /// empty slot, nothing written for a bad adapter.
    pub(super) fn query_luid(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let (writes, known) = self.model.query_luid(ok, vf);
        let f = self
            .sriov
            .DxgkDdiQueryVirtualFunctionLuid
            .ok_or("no SR-IOV LUID slot")?;
        let mut luid = LUID {
            LowPart: 0x5A5A_5A5A,
            HighPart: 0x5A5A_5A5A,
        };
        let mut args = DXGKARG_QUERYVIRTUALFUNCTIONLUID {
            VirtualFunctionIndex: vf,
            pLuid: &raw mut luid,
        };
        // SAFETY: the args block and the LUID are live; `h` is a value.
        unsafe { f(h, &raw mut args) };
        let want = match (writes, known) {
            (false, _) => (0x5A5A_5A5A, 0x5A5A_5A5A),
            (true, false) => (0, 0),
            (true, true) => self.vf_luids.get(&vf).copied().unwrap_or((0, 0)),
        };
        if (luid.LowPart, luid.HighPart) != want {
            return Err(self.fail(op, format!("wrote {luid:?}, the model says {want:x?}")));
        }
        Ok(known)
    }

    /// `DxgkDdiVirtualGpuDriverEscape`.
    pub(super) fn escape(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
        (luid_ok, command, declared): (bool, u32, Option<u32>),
        payload: &[u8],
        out: u8,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let payload = &payload[..payload.len().min(48)];
        let (low, high) = self.vf_luids.get(&vf).copied().unwrap_or((0, 0));
        let low = if luid_ok { low } else { low ^ 1 };
        let declared = declared.unwrap_or(payload.len() as u32);
        let mut input = Vec::with_capacity(16 + payload.len());
        input.extend_from_slice(&low.to_le_bytes());
        input.extend_from_slice(&high.to_le_bytes());
        input.extend_from_slice(&command.to_le_bytes());
        input.extend_from_slice(&declared.to_le_bytes());
        input.extend_from_slice(payload);
        let out = usize::from(out % 80);
        let call = EscapeCall {
            vf,
            input_len: input.len(),
            // A slot without a vGPU has no LUID: any LUID is then wrong,
            // but the unknown VF is refused first.
            luid_ok: luid_ok && self.vf_luids.contains_key(&vf),
            command,
            declared,
            payload,
            out,
        };
        let (faults, mut reply, spans) = self.model.escape(ok, &call);
        if reply.len() == gpup_miniport::vgpu::escape::GPUP_VGPU_ESCAPE_INFO::SIZE {
            // The LUID is the driver's choice, known here, not to the model.
            let (l, hi) = self.vf_luids.get(&vf).copied().unwrap_or((0, 0));
            reply[8..12].copy_from_slice(&l.to_le_bytes());
            reply[12..16].copy_from_slice(&hi.to_le_bytes());
        }
        let mut output = vec![UNTOUCHED as u8; out.max(1)];
        let mut args = DXGK_VIRTUALGPUDRIVERESCAPE {
            PartitionId: vf,
            InputBufferSize: input.len() as u32,
            OutputBufferSize: out as u32,
            pInputBuffer: input.as_mut_ptr().cast(),
            pOutputBuffer: if out == 0 {
                core::ptr::null_mut()
            } else {
                output.as_mut_ptr().cast()
            },
        };
        let f = self.partition_fn(self.partition.DxgkDdiVirtualGpuDriverEscape)?;
        // SAFETY: the args block and both buffers are live for their sizes.
        let status = unsafe { f(h, &raw mut args) };
        self.expect(op, &faults, status)?;
        if status != STATUS_SUCCESS {
            if output.iter().any(|&b| b != UNTOUCHED as u8) || args.OutputBufferSize != out as u32 {
                return Err(self.fail(op, format!("failed with {status:?} but wrote outputs")));
            }
            return Ok(false);
        }
        let written = args.OutputBufferSize as usize;
        if written != reply.len() || output[..written] != reply[..] {
            return Err(self.fail(
                op,
                format!(
                    "replied {:02x?}, the model says {reply:02x?}",
                    &output[..written.min(output.len())]
                ),
            ));
        }
        if output[written..out].iter().any(|&b| b != UNTOUCHED as u8) {
            return Err(self.fail(op, "wrote past its reply".into()));
        }
        for (at, len) in spans {
            self.model.marked(SEGMENTS[VF_SEGMENT].id, at, len);
        }
        Ok(true)
    }
}
