//! `DxgkDdiVirtualGpuDriverEscape` on one vGPU: the query, the write
//! notification (a stand-in for the VF's GPU writing its VRAM, which marks
//! the dirty pages) and the MSI-X table read-back. The wire format is in
//! [`super::escape`].

use super::escape::*;
use super::{BoundReserve, Power, Vgpu, pci};
use crate::basis::Engine;
use crate::le;
use crate::status::{Result, Status};

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

impl Vgpu {
    /// `DxgkDdiVirtualGpuDriverEscape` (see [`super::escape`] for the format).
    ///
    /// # Errors
    /// As the [`super::escape`] module documents.
    pub(crate) fn escape(
        &self,
        engine: &Engine,
        input: &[u8],
        out_capacity: usize,
    ) -> Result<EscapeReply> {
        let vgpu = self;
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
                let bytes = self.describe().encode();
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
                let reserve = match &vgpu.reserve {
                    Some(r) if vgpu.running() => r,
                    _ => return Err(Status::InvalidDeviceState),
                };
                let end = offset.checked_add(length).ok_or(Status::InvalidParameter)?;
                if end > vgpu.reserve_size {
                    return Err(Status::InvalidParameter);
                }
                reserve.translate(offset, length, |at, len| engine.mark(vgpu.segment, at, len))?;
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

    fn describe(&self) -> GPUP_VGPU_ESCAPE_INFO {
        let vgpu = self;
        let flag = |on: bool, bit: u32| if on { bit } else { 0 };
        GPUP_VGPU_ESCAPE_INFO {
            PartitionId: vgpu.index,
            PowerState: match vgpu.power {
                Power::D0 => 1,
                Power::D3 => 4,
            },
            LuidLowPart: vgpu.luid.LowPart,
            LuidHighPart: vgpu.luid.HighPart,
            ReserveSegmentId: vgpu.segment.0,
            Flags: flag(vgpu.reserve.is_some(), GPUP_VGPU_FLAG_RESERVE_BOUND)
                | flag(vgpu.vmbus.is_some(), GPUP_VGPU_FLAG_VMBUS)
                | flag(vgpu.config.memory_enabled(), GPUP_VGPU_FLAG_MEMORY_ENABLED)
                | flag(vgpu.config.msix_enabled(), GPUP_VGPU_FLAG_MSIX_ENABLED)
                | flag(vgpu.revoked, GPUP_VGPU_FLAG_REVOKED)
                | flag(vgpu.migration.paused(), GPUP_VGPU_FLAG_PAUSED)
                | flag(
                    vgpu.reserve.as_ref().is_some_and(BoundReserve::scattered),
                    GPUP_VGPU_FLAG_SCATTERED,
                )
                | (vgpu.migration.phase().code() << GPUP_VGPU_MIGRATION_SHIFT),
            ReserveOffset: vgpu.reserve.as_ref().map_or(0, BoundReserve::base),
            ReserveSize: vgpu.reserve_size,
            VmBusHandle: vgpu.vmbus.and_then(|h| u64::try_from(h).ok()).unwrap_or(0),
        }
    }
}
