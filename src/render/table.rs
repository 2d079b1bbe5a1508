//! A handle table whose handles also name their adapter: the objects named by
//! handles that come back to the driver without an adapter handle (devices:
//! `DxgkDdiDestroyDevice(hDevice)`, `DxgkDdiCreateContext(hDevice, ..)`;
//! contexts: `DxgkDdiDestroyContext(hContext)`).
//!
//! It is [`Slot`]s published under slot numbers `adapter * PER_ADAPTER + i`:
//! the shared encoding and generation check of `crate::foundation::handle`,
//! with the adapter's registry slot recoverable from the handle by
//! arithmetic ([`adapter_of`]). A handle is still only ever looked up, in the
//! table of the adapter it names, and refused there if stale.

use alloc::vec::Vec;

use crate::foundation::fallible::push;
use crate::foundation::handle::{Handle, MAX_CAPACITY, Slot};
use crate::foundation::status::{Result, Status};

/// Objects of one kind an adapter holds at once (devices, or contexts): the
/// 12-bit slot field holds 64 adapters of 64 each.
pub(crate) const PER_ADAPTER: usize = 64;

/// The adapter registry slot a handle of a [`ScopedTable`] names.
pub(crate) fn adapter_of<const TAG: u8>(handle: Handle<TAG>) -> usize {
    handle.slot().checked_div(PER_ADAPTER).unwrap_or(usize::MAX)
}

/// A bounded table of `T` whose handles carry the owning adapter's slot.
///
/// # Invariants
/// `free` holds exactly the indices of the empty slots, each once;
/// `base + slots.len() <= MAX_CAPACITY`; `handles[i]` is the handle of the
/// value in `slots[i]`, `None` when it is empty.
pub(crate) struct ScopedTable<T, const TAG: u8> {
    base: usize,
    slots: Vec<Slot<T>>,
    handles: Vec<Option<Handle<TAG>>>,
    free: Vec<usize>,
}

impl<T, const TAG: u8> ScopedTable<T, TAG> {
    /// An empty table for the adapter in registry slot `adapter`.
    ///
    /// # Errors
    /// `InvalidParameter` for an adapter slot past the encodable range;
    /// `NoMemory`.
    pub(crate) fn new(adapter: usize) -> Result<Self> {
        let base = adapter
            .checked_mul(PER_ADAPTER)
            .filter(|b| {
                b.checked_add(PER_ADAPTER)
                    .is_some_and(|e| e <= MAX_CAPACITY)
            })
            .ok_or(Status::InvalidParameter)?;
        let mut slots = Vec::new();
        slots
            .try_reserve_exact(PER_ADAPTER)
            .map_err(|_| Status::NoMemory)?;
        let mut handles = Vec::new();
        handles
            .try_reserve_exact(PER_ADAPTER)
            .map_err(|_| Status::NoMemory)?;
        let mut free = Vec::new();
        free.try_reserve_exact(PER_ADAPTER)
            .map_err(|_| Status::NoMemory)?;
        for i in (0..PER_ADAPTER).rev() {
            push(&mut slots, Slot::empty())?;
            push(&mut handles, None)?;
            push(&mut free, i)?;
        }
        Ok(Self {
            base,
            slots,
            handles,
            free,
        })
    }

    fn index(&self, handle: Handle<TAG>) -> Result<usize> {
        handle
            .slot()
            .checked_sub(self.base)
            .filter(|&i| i < PER_ADAPTER)
            .ok_or(Status::InvalidHandle)
    }

    /// Publishes `value` and returns its handle.
    ///
    /// # Errors
    /// `InsufficientResources` when the table is full or generations are exhausted.
    pub(crate) fn insert(&mut self, value: T) -> Result<Handle<TAG>> {
        let &i = self.free.last().ok_or(Status::InsufficientResources)?;
        let slot = self.slots.get_mut(i).ok_or(Status::InsufficientResources)?;
        let number = self
            .base
            .checked_add(i)
            .ok_or(Status::InsufficientResources)?;
        let handle = slot.publish(number, value)?;
        if let Some(h) = self.handles.get_mut(i) {
            *h = Some(handle);
        }
        self.free.pop();
        Ok(handle)
    }

    /// The value `handle` names.
    ///
    /// # Errors
    /// `InvalidHandle` for a stale, foreign or unknown handle.
    pub(crate) fn get(&self, handle: Handle<TAG>) -> Result<&T> {
        let i = self.index(handle)?;
        self.slots.get(i).ok_or(Status::InvalidHandle)?.get(handle)
    }

    /// Unpublishes the value `handle` names and returns it.
    ///
    /// # Errors
    /// `InvalidHandle` for a stale, foreign or unknown handle.
    pub(crate) fn remove(&mut self, handle: Handle<TAG>) -> Result<T> {
        let i = self.index(handle)?;
        let value = self
            .slots
            .get_mut(i)
            .ok_or(Status::InvalidHandle)?
            .take(handle)?;
        if let Some(h) = self.handles.get_mut(i) {
            *h = None;
        }
        // Cannot fail: `free` has room for every slot and `i` was not in it.
        push(&mut self.free, i)?;
        Ok(value)
    }

    /// The handles of every live value for which `keep` is true.
    pub(crate) fn handles_where(
        &self,
        mut keep: impl FnMut(&T) -> bool,
        out: &mut Vec<Handle<TAG>>,
    ) -> Result<()> {
        for (slot, handle) in self.slots.iter().zip(&self.handles) {
            if let (Some(value), Some(handle)) = (slot.value(), handle)
                && keep(value)
            {
                push(out, *handle)?;
            }
        }
        Ok(())
    }

    /// Live values.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        PER_ADAPTER.saturating_sub(self.free.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_name_their_adapter_and_are_generation_checked() {
        let mut a = ScopedTable::<u32, b'T'>::new(3).unwrap();
        let mut b = ScopedTable::<u32, b'T'>::new(4).unwrap();
        let h = a.insert(7).unwrap();
        assert_eq!(adapter_of(h), 3);
        assert_eq!(*a.get(h).unwrap(), 7);
        assert_eq!(b.get(h), Err(Status::InvalidHandle), "another adapter's");
        let g = b.insert(8).unwrap();
        assert_eq!(adapter_of(g), 4);
        assert_eq!(a.remove(h), Ok(7));
        assert_eq!(a.get(h), Err(Status::InvalidHandle), "stale");
        let again = a.insert(9).unwrap();
        assert_ne!(again, h);
        assert!(ScopedTable::<u32, b'T'>::new(64).is_err());
        for _ in 1..PER_ADAPTER {
            a.insert(0).unwrap();
        }
        assert_eq!(a.insert(0), Err(Status::InsufficientResources));
        assert_eq!(a.len(), PER_ADAPTER);
    }
}
