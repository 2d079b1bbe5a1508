//! `DxgkDdiQueryAdapterInfo`, checked against the model's answer bytes.

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

use super::{GUARD, World};
use crate::model::QaiArgs;
use crate::ops::*;

impl World {
    pub(super) fn query_adapter_info(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        ty: i32,
        input: QaiBuf,
        segment: SegSel,
        output: QaiBuf,
    ) -> Result<bool, String> {
        let (h_adapter, adapter_ok) = self.adapter_arg(adapter);
        let ty = qai_type(ty);
        let id = Self::segment_arg(segment).to_le_bytes();
        let (input_bytes, input_size) = match input {
            QaiBuf::Null(n) => (None, usize::from(n)),
            QaiBuf::Size(n) => {
                let mut v: Vec<u8> = id.iter().copied().cycle().take(usize::from(n)).collect();
                v.shrink_to_fit();
                (Some(v), usize::from(n))
            }
        };
        let (output_null, output_size) = match output {
            QaiBuf::Null(n) => (true, usize::from(n)),
            QaiBuf::Size(n) => (false, usize::from(n)),
        };
        let q = QaiArgs {
            ty,
            input: input_bytes,
            input_size,
            output_null,
            output_size,
        };
        let (faults, answer) = self.model.query_adapter_info(adapter_ok, &q);
        // Dxgkrnl's segment-query outputs carry its own pointers: zeroed
        // (a NULL array), never garbage.
        let pattern = if crate::model::segments::is_segment_query(ty) {
            0
        } else {
            0x5Au8 ^ (self.step as u8).wrapping_mul(0x3B)
        };
        let mut out = vec![pattern; output_size + GUARD];
        let mut raw = DXGKARG_QUERYADAPTERINFO::zeroed();
        raw.Type = ty;
        raw.pInputData = q
            .input
            .as_ref()
            .map_or(core::ptr::null_mut(), |v| v.as_ptr().cast_mut().cast());
        raw.InputDataSize = UINT::try_from(input_size).unwrap_or(UINT::MAX);
        raw.pOutputData = if output_null {
            core::ptr::null_mut()
        } else {
            out.as_mut_ptr().cast()
        };
        raw.OutputDataSize = UINT::try_from(output_size).unwrap_or(UINT::MAX);
        let qai = self.table().DxgkDdiQueryAdapterInfo.ok_or("no QAI slot")?;
        // SAFETY: the buffers are NULL or live for their stated sizes.
        let status = unsafe { qai(h_adapter, &raw const raw) };
        self.expect(op, &faults, status)?;
        if let Some(i) = out[output_size..].iter().position(|&b| b != pattern) {
            return Err(self.fail(
                op,
                format!("wrote byte {} past OutputDataSize", output_size + i),
            ));
        }
        if status != STATUS_SUCCESS {
            if let Some(i) = out.iter().position(|&b| b != pattern) {
                return Err(self.fail(op, format!("failed with {status:?} but wrote byte {i}")));
            }
            return Ok(false);
        }
        for (i, want) in answer.iter().enumerate() {
            if let Some(want) = want
                && out[i] != *want
            {
                let got = out[i];
                return Err(self.fail(
                    op,
                    format!("answer byte {i} is {got:#04x}, the model says {want:#04x}"),
                ));
            }
        }
        Ok(true)
    }
}
