//! The checks of one BuildPagingBuffer call: its block after the call and
//! the DMA buffer's bytes past the commands it wrote.

use dxgk_sys::*;

use gpup_miniport::engine::Ticket;
use gpup_miniport::engine::dma_dir::PRIVATE_DATA_SIZE;

use super::World;
use super::engine::UNWRITTEN;
use crate::ops::Op;

impl World {
    /// The block after a build call (pDmaBuffer advanced and DmaSize shrunk
    /// by the `n` bytes written, MultipassOffset, the rest unchanged; all
    /// unchanged on a refusal; the private-data cursor never advanced),
    /// nothing written past the commands, and after a successful build into
    /// a buffer of at least one byte the private data (`buf`'s last bytes)
    /// holding a record the driver wrote.
    pub(super) fn check_build(
        &self,
        op: &Op,
        (before, a): (&DXGKARG_BUILDPAGINGBUFFER, &DXGKARG_BUILDPAGINGBUFFER),
        buf: &[u8],
        refused: bool,
        n: usize,
        more: Option<u32>,
    ) -> Result<(), String> {
        let multipass = before.MultipassOffset;
        let size = before.DmaSize;
        let used = if refused { 0 } else { n };
        let expect = (
            before.pDmaBuffer.addr() + used,
            before.DmaSize - used as u32,
            if refused {
                multipass
            } else {
                more.unwrap_or(0)
            },
        );
        let got = (a.pDmaBuffer.addr(), a.DmaSize, a.MultipassOffset);
        if got != expect
            || a.Operation != before.Operation
            || a.Transfer != before.Transfer
            || a.DmaBufferGpuVirtualAddress != before.DmaBufferGpuVirtualAddress
            || a.pDmaBufferPrivateData != before.pDmaBufferPrivateData
            || a.DmaBufferPrivateDataSize != before.DmaBufferPrivateDataSize
        {
            return Err(self.fail(
                    op,
                    format!("block (pDmaBuffer, DmaSize, MultipassOffset) = {got:?}, the model says {expect:?}"),
                ));
        }
        // Nothing past the commands (past DmaSize on a refusal).
        let clean_from = if refused { size as usize } else { n };
        let (dma, private) = buf.split_at(buf.len() - PRIVATE_DATA_SIZE);
        if let Some(i) = dma[clean_from..].iter().position(|&b| b != UNWRITTEN) {
            return Err(self.fail(
                op,
                format!("wrote DMA byte {} past {clean_from}", clean_from + i),
            ));
        }
        let record = private.try_into().ok().and_then(Ticket::decode);
        // A buffer of no bytes at all (no write offset, no room) holds no
        // command and is never submitted: the driver records nothing for it.
        let empty = before.DmaBufferWriteOffset == 0 && before.DmaSize == 0;
        if !refused && !before.pDmaBuffer.is_null() && !empty && record.is_none() {
            return Err(self.fail(op, format!("no record in the private data: {private:02x?}")));
        }
        Ok(())
    }
}
