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

use alloc::vec::Vec;
use core::ffi::c_void;
use core::sync::atomic::{AtomicU64 as UniqueCounter, Ordering as CounterOrdering};

use crate::basis::types::SegmentId;
use crate::le;
use crate::status::{Result, Status};

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

/// Tag in the top byte of every allocation handle ("A").
const TAG: u64 = 0x41 << 56;
const TAG_MASK: u64 = 0xFF << 56;
const SLOT_BITS: u32 = 8;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
const GENERATION_MASK: u64 = (1 << 48) - 1;

/// Allocations an adapter holds at most: two per vGPU of the largest partition count.
pub(crate) const MAX_ALLOCATIONS: usize = 128;

/// Process-wide generations: a handle is never valid twice, on any adapter.
static NEXT_GENERATION: UniqueCounter = UniqueCounter::new(1);

/// A decoded allocation handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AllocationHandle {
    slot: usize,
    generation: u64,
}

impl AllocationHandle {
    /// Decodes a `HANDLE` without dereferencing it.
    ///
    /// # Errors
    /// `InvalidHandle` for NULL or a value this driver never issued the shape of.
    pub(crate) fn from_raw(raw: *mut c_void) -> Result<Self> {
        let value = u64::try_from(raw.addr()).map_err(|_| Status::InvalidHandle)?;
        if value & TAG_MASK != TAG {
            return Err(Status::InvalidHandle);
        }
        let slot = usize::try_from(value & SLOT_MASK).map_err(|_| Status::InvalidHandle)?;
        let generation = (value >> SLOT_BITS) & GENERATION_MASK;
        if generation == 0 {
            return Err(Status::InvalidHandle);
        }
        Ok(Self { slot, generation })
    }

    /// The `hAllocation` value handed to Dxgkrnl: an integer, no provenance.
    pub(crate) fn to_raw(self) -> *mut c_void {
        let slot = u64::try_from(self.slot).unwrap_or(SLOT_MASK) & SLOT_MASK;
        let value = TAG | ((self.generation & GENERATION_MASK) << SLOT_BITS) | slot;
        core::ptr::without_provenance_mut(usize::try_from(value).unwrap_or(0))
    }
}

struct Slot {
    generation: u64,
    value: Option<Allocation>,
}

/// The adapter's vGPU allocations.
pub(crate) struct Allocations {
    slots: Vec<Slot>,
}

impl Allocations {
    /// An empty table of [`MAX_ALLOCATIONS`] slots.
    ///
    /// # Errors
    /// `NoMemory`.
    pub(crate) fn new() -> Result<Self> {
        let mut slots = crate::fallible::try_vec(MAX_ALLOCATIONS)?;
        for _ in 0..MAX_ALLOCATIONS {
            crate::fallible::push(
                &mut slots,
                Slot {
                    generation: 0,
                    value: None,
                },
            )?;
        }
        Ok(Self { slots })
    }

    /// Free slots.
    pub(crate) fn room(&self) -> usize {
        self.slots.iter().filter(|s| s.value.is_none()).count()
    }

    /// Publishes an allocation. Callers check [`Self::room`] first when
    /// publishing several, so that all or none are published.
    ///
    /// # Errors
    /// `InsufficientResources` when the table is full or generations are exhausted.
    pub(crate) fn insert(&mut self, reserve: ReserveData) -> Result<AllocationHandle> {
        let (slot, entry) = self
            .slots
            .iter_mut()
            .enumerate()
            .find(|(_, s)| s.value.is_none())
            .ok_or(Status::InsufficientResources)?;
        let generation = NEXT_GENERATION.fetch_add(1, CounterOrdering::Relaxed);
        if generation == 0 || generation > GENERATION_MASK {
            return Err(Status::InsufficientResources);
        }
        entry.generation = generation;
        entry.value = Some(Allocation {
            reserve,
            bound_to: None,
        });
        Ok(AllocationHandle { slot, generation })
    }

    /// The allocation named by `handle`.
    ///
    /// # Errors
    /// `InvalidHandle` for a stale or unknown handle.
    pub(crate) fn get(&self, handle: AllocationHandle) -> Result<&Allocation> {
        match self.slots.get(handle.slot) {
            Some(Slot {
                generation,
                value: Some(a),
            }) if *generation == handle.generation => Ok(a),
            _ => Err(Status::InvalidHandle),
        }
    }

    /// The allocation named by `handle`, mutably.
    ///
    /// # Errors
    /// `InvalidHandle` for a stale or unknown handle.
    pub(crate) fn get_mut(&mut self, handle: AllocationHandle) -> Result<&mut Allocation> {
        match self.slots.get_mut(handle.slot) {
            Some(Slot {
                generation,
                value: Some(a),
            }) if *generation == handle.generation => Ok(a),
            _ => Err(Status::InvalidHandle),
        }
    }

    /// Unpublishes the allocation named by `handle` and returns it.
    ///
    /// # Errors
    /// `InvalidHandle` for a stale or unknown handle.
    pub(crate) fn remove(&mut self, handle: AllocationHandle) -> Result<Allocation> {
        self.get(handle)?;
        self.slots
            .get_mut(handle.slot)
            .and_then(|s| s.value.take())
            .ok_or(Status::InvalidHandle)
    }

    /// Clears every binding (all vGPUs are gone).
    pub(crate) fn unbind_all(&mut self) {
        for a in self.slots.iter_mut().filter_map(|s| s.value.as_mut()) {
            a.bound_to = None;
        }
    }

    /// Clears every binding to vGPU slot `partition` (the vGPU is gone; the
    /// allocations stay until Dxgkrnl destroys them).
    pub(crate) fn unbind(&mut self, partition: u32) {
        for a in self.slots.iter_mut().filter_map(|s| s.value.as_mut()) {
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
        assert_eq!(b.slot, a.slot);
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
