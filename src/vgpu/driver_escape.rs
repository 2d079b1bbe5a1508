//! `DxgkDdiVirtualGpuDriverEscape` on one vGPU: the query, the write
//! notification (a stand-in for the VF's GPU writing its VRAM, which marks
//! the dirty pages) and the MSI-X table read-back. The wire format is in
//! [`super::escape`].

use super::escape::*;
use super::{BoundReserve, Power, Vgpu, pci};
use crate::basis::marks::Marks;
use crate::foundation::le;
use crate::foundation::status::{Result, Status};

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
    /// An empty reply.
    fn empty() -> Self {
        Self {
            bytes: [0; MAX_REPLY],
            len: 0,
        }
    }

    /// A reply of `bytes` (at most [`MAX_REPLY`]).
    fn of(bytes: &[u8]) -> Self {
        let mut reply = Self::empty();
        if let Some(dst) = reply.bytes.get_mut(..bytes.len()) {
            dst.copy_from_slice(bytes);
            reply.len = bytes.len();
        }
        reply
    }

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
        marks: &Marks,
        input: &[u8],
        out_capacity: usize,
    ) -> Result<EscapeReply> {
        let u32_at = |at| le::u32_at(input, at);
        let (Some(low), Some(high), Some(command), Some(payload)) =
            (u32_at(0), u32_at(4), u32_at(8), u32_at(12))
        else {
            return Err(Status::InvalidParameter);
        };
        let payload = usize::try_from(payload).map_err(|_| Status::InvalidParameter)?;
        if GPUP_VGPU_ESCAPE_PREFIX.checked_add(payload) != Some(input.len())
            || low != self.luid.LowPart
            || i32::from_le_bytes(high.to_le_bytes()) != self.luid.HighPart
        {
            return Err(Status::InvalidParameter);
        }
        match command {
            GPUP_VGPU_ESCAPE_QUERY => {
                if payload != 0 {
                    return Err(Status::InvalidParameter);
                }
                if out_capacity < GPUP_VGPU_ESCAPE_INFO::SIZE {
                    return Err(Status::BufferTooSmall);
                }
                Ok(EscapeReply::of(&self.describe().encode()))
            }
            GPUP_VGPU_ESCAPE_WRITE_NOTIFY => {
                let (Some(offset), Some(length), 16) =
                    (le::u64_at(input, 16), le::u64_at(input, 24), payload)
                else {
                    return Err(Status::InvalidParameter);
                };
                self.gpu_wrote(marks, offset, length)?;
                Ok(EscapeReply::empty())
            }
            GPUP_VGPU_ESCAPE_MSIX => {
                if payload != 0 {
                    return Err(Status::InvalidParameter);
                }
                if out_capacity < GPUP_VGPU_ESCAPE_MSIX_TABLE::SIZE {
                    return Err(Status::BufferTooSmall);
                }
                Ok(EscapeReply::of(&self.msix_table().encode()))
            }
            _ => Err(Status::NotSupported),
        }
    }

    /// The VF's GPU wrote `[offset, offset + length)` of its VRAM: the pages
    /// are marked dirty in every tracked basis over them.
    /// The marks take no lock: the adapter's mark state, read inside one
    /// grace-period read section.
    fn gpu_wrote(&self, marks: &Marks, offset: u64, length: u64) -> Result<()> {
        // A paused VF is not scheduled: its GPU writes nothing.
        let reserve = match &self.reserve {
            Some(r) if self.running() => r,
            _ => return Err(Status::InvalidDeviceState),
        };
        let end = offset.checked_add(length).ok_or(Status::InvalidParameter)?;
        if end > self.reserve_size {
            return Err(Status::InvalidParameter);
        }
        let section = crate::basis::dirty::enter();
        reserve.translate(offset, length, |at, len| {
            marks.mark(&section, self.segment, at, len)
        })
    }

    /// The MSI-X table as the escape reports it.
    fn msix_table(&self) -> GPUP_VGPU_ESCAPE_MSIX_TABLE {
        let mut table = GPUP_VGPU_ESCAPE_MSIX_TABLE {
            EntryCount: u32::from(pci::MSIX_VECTORS),
            ..GPUP_VGPU_ESCAPE_MSIX_TABLE::default()
        };
        for (i, (out, entry)) in table.VectorControl.iter_mut().zip(&self.msix).enumerate() {
            if let Some(e) = entry {
                table.WrittenMask |= 1u32
                    .checked_shl(u32::try_from(i).unwrap_or(31))
                    .unwrap_or(0);
                *out = e.vector_control;
            }
        }
        table
    }

    fn describe(&self) -> GPUP_VGPU_ESCAPE_INFO {
        let flag = |on: bool, bit: u32| if on { bit } else { 0 };
        GPUP_VGPU_ESCAPE_INFO {
            PartitionId: self.index,
            PowerState: match self.power {
                Power::D0 => 1,
                Power::D3 => 4,
            },
            LuidLowPart: self.luid.LowPart,
            LuidHighPart: self.luid.HighPart,
            ReserveSegmentId: self.segment.0,
            Flags: flag(self.reserve.is_some(), GPUP_VGPU_FLAG_RESERVE_BOUND)
                | flag(self.vmbus.is_some(), GPUP_VGPU_FLAG_VMBUS)
                | flag(self.config.memory_enabled(), GPUP_VGPU_FLAG_MEMORY_ENABLED)
                | flag(self.config.msix_enabled(), GPUP_VGPU_FLAG_MSIX_ENABLED)
                | flag(self.revoked, GPUP_VGPU_FLAG_REVOKED)
                | flag(self.migration.paused(), GPUP_VGPU_FLAG_PAUSED)
                | flag(
                    self.reserve.as_ref().is_some_and(BoundReserve::scattered),
                    GPUP_VGPU_FLAG_SCATTERED,
                )
                | (self.migration.phase().code() << GPUP_VGPU_MIGRATION_SHIFT),
            ReserveSize: self.reserve_size,
        }
    }
}
