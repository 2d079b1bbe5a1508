//! Ordinary (non-vGPU) allocations: the private data this driver's
//! allocations carry, and where each kind may live.
//!
//! With no user-mode driver, the allocation private data is this driver's own
//! 32-byte little-endian record ([`AllocationData`], magic "GPAL"): the kind,
//! the alignment and the size. The kind decides the segment
//! (`../shared/spec/adapter-start.md` 4.5): paging-buffer and DMA-pool
//! allocations in the paging aperture (segment 1), every other kind in the
//! adapter's first VRAM segment.

use crate::foundation::le;
use crate::foundation::status::{Result, Status};

/// "GPAL": the magic of [`AllocationData`].
const MAGIC: u32 = u32::from_le_bytes(*b"GPAL");
/// Version of the [`AllocationData`] layout.
const VERSION: u32 = 1;

/// What an ordinary allocation is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocationKind {
    /// A paging buffer (VidMm's paging DMA pool): the aperture.
    PagingBuffer,
    /// A DMA buffer pool of a context: the aperture.
    DmaPool,
    /// Linear VRAM (a buffer the GPU reads and writes): the first VRAM segment.
    Vram,
}

impl AllocationKind {
    fn code(self) -> u32 {
        match self {
            Self::PagingBuffer => 1,
            Self::DmaPool => 2,
            Self::Vram => 3,
        }
    }

    fn from_code(code: u32) -> Option<Self> {
        match code {
            1 => Some(Self::PagingBuffer),
            2 => Some(Self::DmaPool),
            3 => Some(Self::Vram),
            _ => None,
        }
    }

    /// Whether the kind lives in the paging aperture (else in VRAM).
    #[must_use]
    pub fn in_aperture(self) -> bool {
        matches!(self, Self::PagingBuffer | Self::DmaPool)
    }
}

/// The private data of an ordinary allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocationData {
    /// What it is for.
    pub kind: AllocationKind,
    /// Alignment in bytes (0 = the 4 KiB page).
    pub alignment: u32,
    /// Bytes, non-zero.
    pub size: u64,
}

impl AllocationData {
    /// Encoded size in bytes.
    pub const SIZE: usize = 32;

    /// The private-data bytes.
    #[must_use]
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        let fields: [&[u8]; 5] = [
            &MAGIC.to_le_bytes(),
            &VERSION.to_le_bytes(),
            &self.kind.code().to_le_bytes(),
            &self.alignment.to_le_bytes(),
            &self.size.to_le_bytes(),
        ];
        let mut at = 0usize;
        for f in fields {
            if let Some(dst) = at.checked_add(f.len()).and_then(|end| out.get_mut(at..end)) {
                dst.copy_from_slice(f);
            }
            at = at.saturating_add(f.len());
        }
        out
    }

    /// Decodes private data handed back by Dxgkrnl.
    ///
    /// # Errors
    /// `NotSupported` if the bytes are not this record (wrong size or magic);
    /// `InvalidParameter` for an unknown version or kind, a size of 0, an
    /// alignment that is not 0 or a power of two, or non-zero reserved bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != Self::SIZE {
            return Err(Status::NotSupported);
        }
        // Every field lies inside the `SIZE` bytes checked above.
        let u32_at = |at| le::u32_at(bytes, at).unwrap_or(0);
        if u32_at(0) != MAGIC {
            return Err(Status::NotSupported);
        }
        let kind = AllocationKind::from_code(u32_at(8)).ok_or(Status::InvalidParameter)?;
        let alignment = u32_at(12);
        let size = le::u64_at(bytes, 16).unwrap_or(0);
        if u32_at(4) != VERSION
            || le::u64_at(bytes, 24) != Some(0)
            || size == 0
            || (alignment != 0 && !alignment.is_power_of_two())
        {
            return Err(Status::InvalidParameter);
        }
        Ok(Self {
            kind,
            alignment,
            size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_data_round_trips_and_rejects_others() {
        let data = AllocationData {
            kind: AllocationKind::DmaPool,
            alignment: 4096,
            size: 1 << 20,
        };
        let bytes = data.encode();
        assert_eq!(AllocationData::decode(&bytes), Ok(data));
        assert_eq!(
            AllocationData::decode(&bytes[..31]),
            Err(Status::NotSupported)
        );
        let mut magic = bytes;
        magic[1] ^= 1;
        assert_eq!(AllocationData::decode(&magic), Err(Status::NotSupported));
        for (at, value) in [(4, 2u8), (8, 9), (12, 3), (24, 1)] {
            let mut bad = bytes;
            bad[at] = value;
            assert_eq!(
                AllocationData::decode(&bad),
                Err(Status::InvalidParameter),
                "byte {at}"
            );
        }
        let empty = AllocationData { size: 0, ..data }.encode();
        assert_eq!(
            AllocationData::decode(&empty),
            Err(Status::InvalidParameter)
        );
    }
}
