//! The table of live adapters.
//!
//! `MiniportDeviceContext` (the `hAdapter` of every DDI) is not a pointer but a
//! handle naming a slot of this table and the slot's generation, so that an
//! unknown, stale (removed) or forged `hAdapter` is detected by arithmetic and
//! a table lookup, and is never dereferenced.
//!
//! Each slot is guarded by its own [`RwLock`], which is the adapter's lock: a
//! DDI holds it (read or write, see `crate::adapter`) for its whole duration,
//! so `RemoveDevice` (a writer) waits until no DDI still uses the adapter
//! before it is dropped. Lock order: an adapter lock is the outermost lock,
//! and no DDI holds two adapters' locks.

use core::ffi::c_void;

use crate::adapter::Adapter;
use crate::status::{Result, Status};
use crate::sync::RwLock;

/// How many adapters can exist at once. A host process loading the driver for
/// many parallel tests is the largest user; Windows has a handful at most.
pub(crate) const MAX_ADAPTERS: usize = 64;

/// The high 16 bits of every adapter handle: "GP". A value without them is forged.
const TAG: u64 = 0x4750 << 48;
const SLOT_BITS: u32 = 16;
const GENERATION_SHIFT: u32 = SLOT_BITS;

struct SlotState {
    /// Bumped on every insert; a slot whose generation reached `u32::MAX` is
    /// retired, so a wrapped generation can never make an old handle valid again.
    generation: u32,
    adapter: Option<Adapter>,
}

struct Slot {
    state: RwLock<SlotState>,
}

impl Slot {
    const fn new() -> Self {
        Self {
            state: RwLock::new(SlotState {
                generation: 0,
                adapter: None,
            }),
        }
    }
}

static SLOTS: [Slot; MAX_ADAPTERS] = [const { Slot::new() }; MAX_ADAPTERS];

/// A decoded adapter handle (`MiniportDeviceContext`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AdapterHandle {
    slot: usize,
    generation: u32,
}

impl AdapterHandle {
    /// Decodes an `hAdapter` value without dereferencing it.
    ///
    /// # Errors
    /// `InvalidParameter` for NULL or a value this table never issued the shape of.
    pub(crate) fn from_raw(raw: *mut c_void) -> Result<Self> {
        let value = u64::try_from(raw.addr()).map_err(|_| Status::InvalidParameter)?;
        if value & (0xFFFF << 48) != TAG {
            return Err(Status::InvalidParameter);
        }
        let slot =
            usize::from(u16::try_from(value & 0xFFFF).map_err(|_| Status::InvalidParameter)?);
        let generation = u32::try_from((value >> GENERATION_SHIFT) & 0xFFFF_FFFF)
            .map_err(|_| Status::InvalidParameter)?;
        if slot >= MAX_ADAPTERS || generation == 0 {
            return Err(Status::InvalidParameter);
        }
        Ok(Self { slot, generation })
    }

    /// The value handed to Dxgkrnl as `MiniportDeviceContext`.
    pub(crate) fn to_raw(self) -> *mut c_void {
        let slot = u64::try_from(self.slot).unwrap_or(u64::MAX) & 0xFFFF;
        let value = TAG | (u64::from(self.generation) << GENERATION_SHIFT) | slot;
        // A handle is an opaque integer for Dxgkrnl; it carries no provenance.
        core::ptr::without_provenance_mut(usize::try_from(value).unwrap_or(0))
    }
}

/// Publishes a new adapter and returns its handle.
///
/// # Errors
/// `InsufficientResources` when every slot is in use or retired.
pub(crate) fn insert(adapter: Adapter) -> Result<AdapterHandle> {
    for (slot, entry) in SLOTS.iter().enumerate() {
        let mut state = entry.state.write();
        if state.adapter.is_none() && state.generation < u32::MAX {
            // PANIC: `generation < u32::MAX` is checked just above.
            #[allow(clippy::arithmetic_side_effects)]
            let generation = state.generation + 1;
            state.generation = generation;
            state.adapter = Some(adapter);
            return Ok(AdapterHandle { slot, generation });
        }
    }
    Err(Status::InsufficientResources)
}

/// Runs `f` on the adapter named by `raw`, holding the slot's read lock.
///
/// # Errors
/// `InvalidParameter` for a NULL, forged or stale handle; otherwise what `f` returns.
pub(crate) fn with_adapter<R>(
    raw: *mut c_void,
    f: impl FnOnce(&Adapter) -> Result<R>,
) -> Result<R> {
    let handle = AdapterHandle::from_raw(raw)?;
    let entry = SLOTS.get(handle.slot).ok_or(Status::InvalidParameter)?;
    let state = entry.state.read();
    match &state.adapter {
        Some(adapter) if state.generation == handle.generation => f(adapter),
        _ => Err(Status::InvalidParameter),
    }
}

/// Runs `f` on the adapter named by `raw`, holding the slot's write lock:
/// no other DDI runs on this adapter meanwhile.
///
/// # Errors
/// `InvalidParameter` for a NULL, forged or stale handle; otherwise what `f` returns.
pub(crate) fn with_adapter_mut<R>(
    raw: *mut c_void,
    f: impl FnOnce(&mut Adapter) -> Result<R>,
) -> Result<R> {
    let handle = AdapterHandle::from_raw(raw)?;
    let entry = SLOTS.get(handle.slot).ok_or(Status::InvalidParameter)?;
    let mut state = entry.state.write();
    let generation = state.generation;
    match &mut state.adapter {
        Some(adapter) if generation == handle.generation => f(adapter),
        _ => Err(Status::InvalidParameter),
    }
}

/// Unpublishes the adapter named by `raw` once no DDI uses it, and returns it.
///
/// # Errors
/// `InvalidParameter` for a NULL, forged or stale handle.
pub(crate) fn remove(raw: *mut c_void) -> Result<Adapter> {
    let handle = AdapterHandle::from_raw(raw)?;
    let entry = SLOTS.get(handle.slot).ok_or(Status::InvalidParameter)?;
    let mut state = entry.state.write();
    if state.generation != handle.generation {
        return Err(Status::InvalidParameter);
    }
    state.adapter.take().ok_or(Status::InvalidParameter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_round_trip_and_reject_forgeries() {
        let h = AdapterHandle {
            slot: 5,
            generation: 7,
        };
        assert_eq!(AdapterHandle::from_raw(h.to_raw()), Ok(h));
        assert_eq!(
            AdapterHandle::from_raw(core::ptr::null_mut()),
            Err(Status::InvalidParameter)
        );
        let forged = core::ptr::without_provenance_mut(0x1234_5678);
        assert_eq!(
            AdapterHandle::from_raw(forged),
            Err(Status::InvalidParameter)
        );
        let out_of_range =
            core::ptr::without_provenance_mut(usize::try_from(TAG | (1 << 16) | 999).unwrap());
        assert_eq!(
            AdapterHandle::from_raw(out_of_range),
            Err(Status::InvalidParameter)
        );
    }
}
