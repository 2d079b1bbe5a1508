//! Generation-checked handles and the tables they name: a handle carries a
//! tag byte naming the kind of table, the slot, and the generation the slot
//! had when the value was published. Memory bases (tag "B",
//! `basis`), vGPU allocations (tag "A", `vgpu::allocation`)
//! and adapters (tag "G", `adapter::registry`) are named this way.
//!
//! A handle is never dereferenced. It is decoded arithmetically and looked up:
//! NULL, a value without the tag, a slot past the table, or a generation that
//! is not the slot's current one (a destroyed object, one of another adapter,
//! a forged value) are all rejected with `STATUS_INVALID_HANDLE`. The tag
//! byte is non-zero, so no handle value is NULL.
//!
//! Generations come from one process-wide counter, so they are unique across
//! slots, tables and adapters: a stale handle can never name a later object,
//! here or on another adapter. The 44-bit space is exhausted after 2^44
//! creations, at which point creation fails (`STATUS_INSUFFICIENT_RESOURCES`).
//!
//! [`Table`] is a bounded, heap-allocated table of [`Slot`]s; a table that
//! must be a `static` (the adapter registry, one lock per slot) uses
//! [`Slot`] directly and so shares the encoding and the generation check.

use alloc::vec::Vec;
use core::ffi::c_void;
use core::sync::atomic::{AtomicU64 as UniqueCounter, Ordering as CounterOrdering};

use crate::foundation::status::{Result, Status};

const TAG_SHIFT: u32 = 56;
const TAG_MASK: u64 = 0xFF << TAG_SHIFT;
const SLOT_BITS: u32 = 12;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
const GENERATION_MASK: u64 = (1 << 44) - 1;

/// The largest capacity a table can have (the slot field is 12 bits).
pub(crate) const MAX_CAPACITY: usize = 1 << SLOT_BITS;

/// Process-wide source of generations. Only uniqueness matters, not
/// ordering with other memory, so it is a plain `core` atomic (not modelled
/// under loom) and `Relaxed`.
static NEXT_GENERATION: UniqueCounter = UniqueCounter::new(1);

fn next_generation() -> Result<u64> {
    let g = NEXT_GENERATION.fetch_add(1, CounterOrdering::Relaxed);
    if g == 0 || g > GENERATION_MASK {
        // Exhausted (and kept exhausted: the counter only grows).
        return Err(Status::InsufficientResources);
    }
    Ok(g)
}

/// A decoded handle of a table whose handles carry the tag byte `TAG` in
/// their top byte: handles of different kinds of tables are different types
/// and never decode as each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Handle<const TAG: u8> {
    slot: usize,
    generation: u64,
}

impl<const TAG: u8> Handle<TAG> {
    /// The tag in place.
    const TAG: u64 = (TAG as u64) << TAG_SHIFT;

    /// Decodes a `HANDLE` value, without dereferencing it.
    ///
    /// # Errors
    /// `InvalidHandle` for NULL or a value no table of this kind ever issued
    /// the shape of.
    pub(crate) fn from_raw(raw: *mut c_void) -> Result<Self> {
        let value = u64::try_from(raw.addr()).map_err(|_| Status::InvalidHandle)?;
        if value & TAG_MASK != Self::TAG {
            return Err(Status::InvalidHandle);
        }
        let slot = usize::try_from(value & SLOT_MASK).map_err(|_| Status::InvalidHandle)?;
        let generation = (value >> SLOT_BITS) & GENERATION_MASK;
        if generation == 0 {
            return Err(Status::InvalidHandle);
        }
        Ok(Self { slot, generation })
    }

    /// The `HANDLE` value handed to Dxgkrnl: an integer, with no provenance.
    pub(crate) fn to_raw(self) -> *mut c_void {
        let slot = u64::try_from(self.slot).unwrap_or(SLOT_MASK) & SLOT_MASK;
        let value = Self::TAG | ((self.generation & GENERATION_MASK) << SLOT_BITS) | slot;
        core::ptr::without_provenance_mut(usize::try_from(value).unwrap_or(0))
    }

    /// The slot this handle names.
    pub(crate) fn slot(self) -> usize {
        self.slot
    }
}

/// One slot of a handle table: the value it holds, if any, and the
/// generation that value was published under.
///
/// # Invariants
/// `generation` is 0 until the first publication, and only ever replaced by
/// a fresh one from the process-wide counter.
pub(crate) struct Slot<T> {
    generation: u64,
    value: Option<T>,
}

impl<T> Slot<T> {
    /// A slot that never held a value (usable in a `static`).
    pub(crate) const fn empty() -> Self {
        Self {
            generation: 0,
            value: None,
        }
    }

    /// Whether the slot holds no value.
    pub(crate) fn is_free(&self) -> bool {
        self.value.is_none()
    }

    /// Publishes `value` in this slot, which is slot `index` of its table,
    /// under a fresh generation. The slot's previous value, if any, is
    /// dropped: callers publish only into free slots.
    ///
    /// # Errors
    /// `InsufficientResources` when generations are exhausted (the slot is
    /// unchanged then and `value` is dropped).
    pub(crate) fn publish<const TAG: u8>(&mut self, index: usize, value: T) -> Result<Handle<TAG>> {
        let generation = next_generation()?;
        self.generation = generation;
        self.value = Some(value);
        Ok(Handle {
            slot: index,
            generation,
        })
    }

    /// The value, if `handle` names what the slot holds now. The caller found
    /// this slot by `handle.slot()`.
    ///
    /// # Errors
    /// `InvalidHandle` for a stale handle or an empty slot.
    pub(crate) fn get<const TAG: u8>(&self, handle: Handle<TAG>) -> Result<&T> {
        match &self.value {
            Some(value) if self.generation == handle.generation => Ok(value),
            _ => Err(Status::InvalidHandle),
        }
    }

    /// The value, mutably, if `handle` names what the slot holds now.
    ///
    /// # Errors
    /// `InvalidHandle` for a stale handle or an empty slot.
    pub(crate) fn get_mut<const TAG: u8>(&mut self, handle: Handle<TAG>) -> Result<&mut T> {
        match &mut self.value {
            Some(value) if self.generation == handle.generation => Ok(value),
            _ => Err(Status::InvalidHandle),
        }
    }

    /// Unpublishes the value `handle` names and returns it.
    ///
    /// # Errors
    /// `InvalidHandle` for a stale handle or an empty slot.
    pub(crate) fn take<const TAG: u8>(&mut self, handle: Handle<TAG>) -> Result<T> {
        if self.generation != handle.generation {
            return Err(Status::InvalidHandle);
        }
        self.value.take().ok_or(Status::InvalidHandle)
    }

    /// The value, whatever its generation (for iteration by slot index).
    pub(crate) fn value(&self) -> Option<&T> {
        self.value.as_ref()
    }
}

/// A bounded table of `T` addressed by generation-checked handles tagged
/// `TAG`.
///
/// # Invariants
/// `free` holds exactly the indices of the empty slots, each once.
pub(crate) struct Table<T, const TAG: u8> {
    slots: Vec<Slot<T>>,
    free: Vec<u16>,
}

impl<T, const TAG: u8> Table<T, TAG> {
    /// An empty table of `capacity` slots (at most [`MAX_CAPACITY`]).
    ///
    /// # Errors
    /// `InvalidParameter` for a capacity of 0 or above the maximum; `NoMemory`
    /// if the slots cannot be allocated.
    pub(crate) fn new(capacity: usize) -> Result<Self> {
        if capacity == 0 || capacity > MAX_CAPACITY {
            return Err(Status::InvalidParameter);
        }
        let mut slots = Vec::new();
        slots
            .try_reserve_exact(capacity)
            .map_err(|_| Status::NoMemory)?;
        slots.extend((0..capacity).map(|_| Slot::empty()));
        let mut free = Vec::new();
        free.try_reserve_exact(capacity)
            .map_err(|_| Status::NoMemory)?;
        // Reversed, so that slot 0 is handed out first; pushed into the
        // reserved capacity (`extend` over a `filter_map` keeps a growth
        // path, and its panic, in the image).
        for i in (0..capacity).rev().filter_map(|i| u16::try_from(i).ok()) {
            super::fallible::push(&mut free, i)?;
        }
        Ok(Self { slots, free })
    }

    /// Whether a slot is free, i.e. whether [`Self::insert`] would succeed
    /// for lack of slots alone.
    pub(crate) fn has_room(&self) -> bool {
        !self.free.is_empty()
    }

    /// Free slots (a caller publishing several values checks this first, so
    /// that all or none are published).
    pub(crate) fn room(&self) -> usize {
        self.free.len()
    }

    /// Publishes `value` in a free slot and returns its handle. This is the
    /// last, infallible-in-effect step of a creation: on failure `value` is
    /// dropped and the table is unchanged.
    ///
    /// # Errors
    /// `InsufficientResources` when the table is full or generations are exhausted.
    pub(crate) fn insert(&mut self, value: T) -> Result<Handle<TAG>> {
        let &index = self.free.last().ok_or(Status::InsufficientResources)?;
        let index = usize::from(index);
        let slot = self
            .slots
            .get_mut(index)
            .ok_or(Status::InsufficientResources)?;
        let handle = slot.publish(index, value)?;
        self.free.pop();
        Ok(handle)
    }

    /// The value named by `handle`.
    ///
    /// # Errors
    /// `InvalidHandle` for a stale or unknown handle.
    pub(crate) fn get(&self, handle: Handle<TAG>) -> Result<&T> {
        self.slots
            .get(handle.slot)
            .ok_or(Status::InvalidHandle)?
            .get(handle)
    }

    /// The value named by `handle`, mutably.
    ///
    /// # Errors
    /// `InvalidHandle` for a stale or unknown handle.
    pub(crate) fn get_mut(&mut self, handle: Handle<TAG>) -> Result<&mut T> {
        self.slots
            .get_mut(handle.slot)
            .ok_or(Status::InvalidHandle)?
            .get_mut(handle)
    }

    /// Unpublishes the value named by `handle` and returns it.
    ///
    /// # Errors
    /// `InvalidHandle` for a stale or unknown handle.
    pub(crate) fn remove(&mut self, handle: Handle<TAG>) -> Result<T> {
        let index = u16::try_from(handle.slot).map_err(|_| Status::InvalidHandle)?;
        let value = self
            .slots
            .get_mut(handle.slot)
            .ok_or(Status::InvalidHandle)?
            .take(handle)?;
        // Cannot fail: `free` has capacity for every slot and this one was not in it.
        if self.free.len() < self.free.capacity() {
            self.free.push(index);
        }
        Ok(value)
    }

    /// Every live value, in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().filter_map(|s| s.value.as_ref())
    }

    /// Every live value, mutably, in slot order.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.slots.iter_mut().filter_map(|s| s.value.as_mut())
    }

    /// Number of live values.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.len().saturating_sub(self.free.len())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Tag byte of the tables under test.
    const TEST_TAG: u8 = b'T';
    type TestHandle = Handle<TEST_TAG>;

    #[test]
    fn handles_are_detected_stale_forged_and_null() {
        let mut t = Table::<_, TEST_TAG>::new(2).unwrap();
        let a = t.insert("a").unwrap();
        assert_eq!(*t.get(a).unwrap(), "a");
        assert_eq!(TestHandle::from_raw(a.to_raw()), Ok(a));
        t.remove(a).unwrap();
        assert_eq!(t.get(a), Err(Status::InvalidHandle), "stale");
        assert_eq!(t.remove(a), Err(Status::InvalidHandle), "double remove");
        let b = t.insert("b").unwrap();
        assert_eq!(b.slot(), a.slot(), "the slot is reused ...");
        assert_eq!(
            t.get(a),
            Err(Status::InvalidHandle),
            "... but never the handle"
        );
        assert_eq!(
            TestHandle::from_raw(core::ptr::null_mut()),
            Err(Status::InvalidHandle)
        );
        assert_eq!(
            TestHandle::from_raw(core::ptr::without_provenance_mut(0x1000)),
            Err(Status::InvalidHandle)
        );
        let past_end = TestHandle {
            slot: 7,
            generation: b.generation,
        };
        assert_eq!(t.get(past_end), Err(Status::InvalidHandle));
    }

    #[test]
    fn a_full_table_refuses_and_stays_consistent() {
        let mut t = Table::<_, TEST_TAG>::new(2).unwrap();
        let a = t.insert(1).unwrap();
        let _b = t.insert(2).unwrap();
        assert!(!t.has_room());
        assert_eq!(t.insert(3), Err(Status::InsufficientResources));
        assert_eq!(t.len(), 2);
        t.remove(a).unwrap();
        assert!(t.insert(4).is_ok());
        assert_eq!(
            Table::<u8, TEST_TAG>::new(0).err(),
            Some(Status::InvalidParameter)
        );
        assert_eq!(
            Table::<u8, TEST_TAG>::new(MAX_CAPACITY + 1).err(),
            Some(Status::InvalidParameter)
        );
    }
}
