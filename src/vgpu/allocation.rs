//! The driver's vGPU allocations: the VRAM reserves Dxgkrnl creates as
//! standard allocations of type `D3DKMDT_STANDARDALLOCATION_VGPU`.
//!
//! - [`ReserveData`] is the allocation private data the driver hands out in
//!   `DxgkDdiGetStandardAllocationDriverData` and reads back in
//!   `DxgkDdiCreateAllocation`: a fixed 32-byte little-endian record with a
//!   magic and a version, encoded and decoded without `unsafe`.
//! - [`Allocations`] is a bounded table of the allocations the driver created,
//!   named by generation-checked handles (the `hAllocation` Dxgkrnl later
//!   passes back as `DriverAllocationHandle` and to DestroyAllocation), so a
//!   stale, forged or foreign handle is detected without dereferencing it.

use crate::foundation::handle::{Handle, Table};
use crate::foundation::le;
use crate::foundation::status::{Result, Status};
use crate::foundation::units::SegmentId;

/// "GPVA": the magic of [`ReserveData`].
const MAGIC: u32 = u32::from_le_bytes(*b"GPVA");
/// Version of the [`ReserveData`] layout.
const VERSION: u32 = 1;

/// What one vGPU allocation is: the reserve CreateVirtualGpu asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReserveData {
    /// Driver segment id.
    pub(crate) segment: SegmentId,
    /// Alignment in bytes.
    pub(crate) alignment: u32,
    /// Bytes.
    pub(crate) size: u64,
    /// The vGPU instance it was asked for (the `PrivateDriverData` of its
    /// segment info).
    pub(crate) instance: u32,
}

impl ReserveData {
    /// Encoded size in bytes.
    pub(crate) const SIZE: usize = 32;

    /// The private-data bytes.
    pub(crate) fn encode(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        let fields: [&[u8]; 6] = [
            &MAGIC.to_le_bytes(),
            &VERSION.to_le_bytes(),
            &self.segment.0.to_le_bytes(),
            &self.alignment.to_le_bytes(),
            &self.size.to_le_bytes(),
            &self.instance.to_le_bytes(),
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
    /// `NotSupported` if the bytes are not this driver's vGPU allocation data
    /// (wrong size or magic: this adapter creates no other allocation);
    /// `InvalidParameter` for an unknown version or non-zero reserved bytes.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != Self::SIZE {
            return Err(Status::NotSupported);
        }
        // Every field lies inside the `SIZE` bytes checked above.
        let u32_at = |at| le::u32_at(bytes, at).unwrap_or(0);
        if u32_at(0) != MAGIC {
            return Err(Status::NotSupported);
        }
        if u32_at(4) != VERSION || u32_at(28) != 0 {
            return Err(Status::InvalidParameter);
        }
        Ok(Self {
            segment: SegmentId(u32_at(8)),
            alignment: u32_at(12),
            size: le::u64_at(bytes, 16).unwrap_or(0),
            instance: u32_at(24),
        })
    }
}

/// One vGPU allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Allocation {
    /// What it reserves.
    pub(crate) reserve: ReserveData,
    /// The vGPU slot it is bound to by SetVirtualGpuResources, if any.
    pub(crate) bound_to: Option<u32>,
}

/// Tag byte of allocation handles.
const ALLOCATION_TAG: u8 = b'A';

/// Allocations an adapter holds at most: two per vGPU of the largest partition count.
pub(crate) const MAX_ALLOCATIONS: usize = 128;

/// A decoded allocation handle: generation-checked like a memory-basis
/// handle, with its own tag, so neither decodes as the other.
pub(crate) type AllocationHandle = Handle<ALLOCATION_TAG>;

/// The adapter's vGPU allocations.
pub(crate) struct Allocations {
    table: Table<Allocation, ALLOCATION_TAG>,
}

impl Allocations {
    /// An empty table of [`MAX_ALLOCATIONS`] slots.
    ///
    /// # Errors
    /// `NoMemory`.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            table: Table::new(MAX_ALLOCATIONS)?,
        })
    }

    /// Free slots.
    pub(crate) fn room(&self) -> usize {
        self.table.room()
    }

    /// Publishes an allocation. Callers check [`Self::room`] first when
    /// publishing several, so that all or none are published.
    ///
    /// # Errors
    /// `InsufficientResources` when the table is full or generations are exhausted.
    pub(crate) fn insert(&mut self, reserve: ReserveData) -> Result<AllocationHandle> {
        self.table.insert(Allocation {
            reserve,
            bound_to: None,
        })
    }

    /// The allocation named by `handle`.
    ///
    /// # Errors
    /// `InvalidHandle` for a stale or unknown handle.
    pub(crate) fn get(&self, handle: AllocationHandle) -> Result<&Allocation> {
        self.table.get(handle)
    }

    /// The allocation named by `handle`, mutably.
    ///
    /// # Errors
    /// `InvalidHandle` for a stale or unknown handle.
    pub(crate) fn get_mut(&mut self, handle: AllocationHandle) -> Result<&mut Allocation> {
        self.table.get_mut(handle)
    }

    /// Unpublishes the allocation named by `handle` and returns it.
    ///
    /// # Errors
    /// `InvalidHandle` for a stale or unknown handle.
    pub(crate) fn remove(&mut self, handle: AllocationHandle) -> Result<Allocation> {
        self.table.remove(handle)
    }

    /// Clears every binding (all vGPUs are gone).
    pub(crate) fn unbind_all(&mut self) {
        for a in self.table.iter_mut() {
            a.bound_to = None;
        }
    }

    /// Clears every binding to vGPU slot `partition` (the vGPU is gone; the
    /// allocations stay until Dxgkrnl destroys them).
    pub(crate) fn unbind(&mut self, partition: u32) {
        for a in self.table.iter_mut() {
            if a.bound_to == Some(partition) {
                a.bound_to = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> ReserveData {
        ReserveData {
            segment: SegmentId(1),
            alignment: 4096,
            size: 64 << 20,
            instance: 7,
        }
    }

    #[test]
    fn private_data_round_trips_and_rejects_others() {
        let bytes = data().encode();
        assert_eq!(ReserveData::decode(&bytes), Ok(data()));
        assert_eq!(ReserveData::decode(&bytes[..31]), Err(Status::NotSupported));
        let mut other = bytes;
        other[0] ^= 1;
        assert_eq!(ReserveData::decode(&other), Err(Status::NotSupported));
        let mut version = bytes;
        version[4] = 2;
        assert_eq!(ReserveData::decode(&version), Err(Status::InvalidParameter));
        let mut reserved = bytes;
        reserved[31] = 1;
        assert_eq!(
            ReserveData::decode(&reserved),
            Err(Status::InvalidParameter)
        );
    }

    #[test]
    fn handles_are_generation_checked() {
        let mut t = Allocations::new().unwrap();
        let a = t.insert(data()).unwrap();
        assert_eq!(AllocationHandle::from_raw(a.to_raw()), Ok(a));
        assert_eq!(t.get(a).unwrap().reserve, data());
        t.remove(a).unwrap();
        assert_eq!(t.get(a).err(), Some(Status::InvalidHandle));
        let b = t.insert(data()).unwrap();
        assert_eq!(b.slot(), a.slot());
        assert_eq!(t.remove(a).err(), Some(Status::InvalidHandle));
        assert!(AllocationHandle::from_raw(core::ptr::null_mut()).is_err());
        assert!(
            AllocationHandle::from_raw(core::ptr::without_provenance_mut(0x4200_0000_0000_0101))
                .is_err()
        );
        for _ in 1..MAX_ALLOCATIONS {
            t.insert(data()).unwrap();
        }
        assert_eq!(t.room(), 0);
        assert_eq!(t.insert(data()), Err(Status::InsufficientResources));
    }
}
