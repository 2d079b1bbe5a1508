//! The table of live adapters.
//!
//! `MiniportDeviceContext` (the `hAdapter` of every DDI) is not a pointer but a
//! handle (`crate::foundation::handle`) naming a slot of this table and the
//! slot's generation, so that an
//! unknown, stale (removed) or forged `hAdapter` is detected by arithmetic and
//! a table lookup, and is never dereferenced.
//!
//! Each slot is guarded by its own [`RwLock`], which is the adapter lock: a
//! DDI at PASSIVE_LEVEL holds it (read or write, see `crate::adapter`) for
//! its whole duration, so `RemoveDevice` (a writer) waits until no DDI still
//! uses the adapter before it is dropped. The DDIs that may run above
//! PASSIVE_LEVEL never take it (`crate::ddi::irql`). Lock order: an adapter
//! lock is the outermost lock, and no DDI holds two adapters' locks
//! (`docs/locking.md`). On Windows each slot's lock owns an `ERESOURCE`,
//! made by [`prepare`] (DriverEntry) and deleted by [`retire`] (Unload).

use core::ffi::c_void;

use crate::adapter::Adapter;
use crate::basis::dirty::Section;
use crate::basis::marks::Marks;
use crate::foundation::handle::{Handle, Slot};
use crate::foundation::status::{Result, Status};
use crate::kernel::lazy::Published;
use crate::kernel::sync::RwLock;

/// How many adapters can exist at once. A host process loading the driver for
/// many parallel tests is the largest user; Windows has a handful at most.
pub(crate) const MAX_ADAPTERS: usize = 64;

/// Tag byte of adapter handles ("G", as in the "GP" tag adapter handles
/// always carried in their top bits).
const ADAPTER_TAG: u8 = b'G';

/// A decoded adapter handle (`MiniportDeviceContext`).
pub(crate) type AdapterHandle = Handle<ADAPTER_TAG>;

static SLOTS: [RwLock<Slot<Adapter>>; MAX_ADAPTERS] =
    [const { RwLock::new(Slot::empty()) }; MAX_ADAPTERS];

/// Per slot, the started adapter's mark state ([`with_marks`]): published
/// when an adapter starts, emptied when it stops or is removed (both under
/// the slot's write lock, by [`with_adapter_mut`] and [`remove`]).
static VIEWS: [Published<Marks>; MAX_ADAPTERS] = [const { Published::empty() }; MAX_ADAPTERS];

/// The `hAdapter` value of `handle`, as a mark view's owner.
fn owner_of(handle: AdapterHandle) -> u64 {
    u64::try_from(handle.to_raw().addr()).unwrap_or(0)
}

/// Makes slot `index`'s mark view match its adapter (`handle`'s): the
/// started adapter's marks, or none. Called with the slot's write lock
/// held, after anything that may start or stop the adapter. Emptying (or
/// replacing) the view waits for the marks in flight (`grace`).
fn sync_view(index: usize, handle: AdapterHandle, adapter: Option<&Adapter>) {
    let Some(view) = VIEWS.get(index) else {
        return;
    };
    let marks = adapter.and_then(|a| a.started().ok()).map(|s| &s.marks);
    match marks {
        Some(marks) if view.holds(marks) => {}
        Some(marks) => match marks.try_clone() {
            Some(published) => {
                published.set_owner(owner_of(handle));
                view.replace(Some(published));
            }
            None => view.replace(None),
        },
        None => {
            if !view.is_empty() {
                view.replace(None);
            }
        }
    }
}

/// Runs `f` on the mark state of the started adapter named by `raw`, inside
/// a grace-period read section: no lock taken, no shared line written by
/// the lookup (the dirty marks' path).
///
/// # Errors
/// `InvalidParameter` for a NULL, forged or stale handle or an adapter that
/// is not started; otherwise what `f` returns.
#[inline]
pub(crate) fn with_marks<R>(
    raw: *mut c_void,
    f: impl FnOnce(&Marks, &Section) -> Result<R>,
) -> Result<R> {
    let handle = decode(raw)?;
    let view = VIEWS.get(handle.slot()).ok_or(Status::InvalidParameter)?;
    let section = crate::basis::dirty::enter();
    let marks = view.get(&section).ok_or(Status::InvalidParameter)?;
    if marks.owner() != owner_of(handle) {
        return Err(Status::InvalidParameter);
    }
    f(marks, &section)
}

/// Decodes an `hAdapter` value without dereferencing it. The DDIs report a
/// bad adapter handle as an invalid parameter, not an invalid handle.
///
/// # Errors
/// `InvalidParameter` for NULL or a value this table never issued the shape of.
fn decode(raw: *mut c_void) -> Result<AdapterHandle> {
    let handle = AdapterHandle::from_raw(raw).map_err(|_| Status::InvalidParameter)?;
    if handle.slot() >= MAX_ADAPTERS {
        return Err(Status::InvalidParameter);
    }
    Ok(handle)
}

/// The lock of the slot `raw` names.
fn slot_of(raw: *mut c_void) -> Result<(AdapterHandle, &'static RwLock<Slot<Adapter>>)> {
    let handle = decode(raw)?;
    let slot = SLOTS.get(handle.slot()).ok_or(Status::InvalidParameter)?;
    Ok((handle, slot))
}

/// Makes every slot's lock ready (DriverEntry, before any adapter exists).
///
/// # Errors
/// `NoMemory` when a lock's primitive cannot be allocated.
pub(crate) fn prepare() -> Result<()> {
    SLOTS.iter().try_for_each(RwLock::prepare)
}

/// Releases every slot's lock primitive (DxgkDdiUnload: no adapter is left
/// and no DDI runs).
pub(crate) fn retire() {
    SLOTS.iter().for_each(RwLock::retire);
}

/// Publishes a new adapter and returns its handle.
///
/// # Errors
/// `InsufficientResources` when every slot is in use or generations are exhausted.
pub(crate) fn insert(adapter: Adapter) -> Result<AdapterHandle> {
    for (index, entry) in SLOTS.iter().enumerate() {
        // A slot in use is passed over under its lock held shared: waiting
        // for it exclusively would wait for the DDIs running on that adapter
        // (and make every later DDI on it queue behind this writer).
        if !entry.read().is_free() {
            continue;
        }
        let mut slot = entry.write();
        if slot.is_free() {
            return slot.publish(index, adapter);
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
    let (handle, entry) = slot_of(raw)?;
    let slot = entry.read();
    f(slot.get(handle).map_err(|_| Status::InvalidParameter)?)
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
    let (handle, entry) = slot_of(raw)?;
    let mut slot = entry.write();
    let result = f(slot.get_mut(handle).map_err(|_| Status::InvalidParameter)?);
    sync_view(handle.slot(), handle, slot.get(handle).ok());
    result
}

/// Runs `f` on the adapter in registry slot `slot`, whatever its generation,
/// holding the slot's read lock: for DDIs whose handles name an object of an
/// adapter (`crate::render`'s devices and contexts carry the slot) rather
/// than the adapter. The object's own generation-checked lookup refuses a
/// handle of an earlier adapter in the same slot.
///
/// # Errors
/// `InvalidHandle` for a slot past the table or holding no adapter;
/// otherwise what `f` returns.
pub(crate) fn with_adapter_in_slot<R>(
    slot: usize,
    f: impl FnOnce(&Adapter) -> Result<R>,
) -> Result<R> {
    let entry = SLOTS.get(slot).ok_or(Status::InvalidHandle)?;
    let slot = entry.read();
    f(slot.value().ok_or(Status::InvalidHandle)?)
}

/// Unpublishes the adapter named by `raw` once no DDI uses it, and returns it.
///
/// # Errors
/// `InvalidParameter` for a NULL, forged or stale handle.
pub(crate) fn remove(raw: *mut c_void) -> Result<Adapter> {
    let (handle, entry) = slot_of(raw)?;
    let mut slot = entry.write();
    let adapter = slot.take(handle).map_err(|_| Status::InvalidParameter)?;
    sync_view(handle.slot(), handle, None);
    Ok(adapter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_round_trip_and_reject_forgeries() {
        let mut slot = Slot::empty();
        let h: AdapterHandle = slot.publish(5, ()).unwrap();
        assert_eq!(decode(h.to_raw()), Ok(h));
        assert!(!h.to_raw().is_null());
        assert_eq!(decode(core::ptr::null_mut()), Err(Status::InvalidParameter));
        let forged = core::ptr::without_provenance_mut(0x1234_5678);
        assert_eq!(decode(forged), Err(Status::InvalidParameter));
        let out_of_range: AdapterHandle = Slot::empty().publish(999, ()).unwrap();
        assert_eq!(decode(out_of_range.to_raw()), Err(Status::InvalidParameter));
        slot.take(h).unwrap();
        let again: AdapterHandle = slot.publish(5, ()).unwrap();
        assert_eq!(slot.get(h), Err(Status::InvalidHandle), "stale");
        assert!(slot.get(again).is_ok());
    }
}
