//! Loading the driver: `DriverEntry` -> `DxgkInitialize` -> the table.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

use crate::status::{Result, check};

/// The signature of a driver's `DriverEntry`.
pub type DriverEntryFn = unsafe extern "system" fn(PDRIVER_OBJECT, *mut UNICODE_STRING) -> NTSTATUS;

pub use crate::mandatory_slots::MANDATORY_SLOTS;

/// Whether the slot named `name` is non-NULL.
pub(crate) fn slot_is_set(table: &DRIVER_INITIALIZATION_DATA, name: &str) -> bool {
    let Some(field) = DRIVER_INITIALIZATION_DATA::ABI
        .fields
        .iter()
        .find(|f| f.name == name)
    else {
        return false;
    };
    // `field` is a pointer-sized slot of `table` (offset and size from the
    // type's own metadata); reading its initialised bytes as an address is sound.
    let slot = core::ptr::from_ref(table)
        .cast::<u8>()
        .wrapping_add(field.offset)
        .cast::<usize>();
    // SAFETY: see above.
    let value = unsafe { slot.read_unaligned() };
    value != 0
}

/// The checks Dxgkrnl makes of a table handed to `DxgkInitialize`: the
/// interface version this stand-in implements (WDDM 3.2) and no NULL in a
/// mandatory slot. Both fail with `STATUS_REVISION_MISMATCH`, as on Windows.
///
/// # Errors
/// `STATUS_REVISION_MISMATCH`, naming the first problem in the error log (stderr).
pub fn validate_table(table: &DRIVER_INITIALIZATION_DATA) -> Result<()> {
    if table.Version != DXGKDDI_INTERFACE_VERSION_WDDM3_2 {
        eprintln!(
            "dxgkrnl-model: DxgkInitialize: interface version {:#x}, this Dxgkrnl implements {:#x}",
            table.Version, DXGKDDI_INTERFACE_VERSION_WDDM3_2
        );
        return Err(STATUS_REVISION_MISMATCH);
    }
    if let Some(missing) = MANDATORY_SLOTS
        .iter()
        .find(|name| !slot_is_set(table, name))
    {
        eprintln!("dxgkrnl-model: DxgkInitialize: mandatory slot {missing} is NULL");
        return Err(STATUS_REVISION_MISMATCH);
    }
    Ok(())
}

/// What `DxgkInitialize` received for one driver object.
struct Registration {
    table: Option<DRIVER_INITIALIZATION_DATA>,
}

// SAFETY: the table is a set of function pointers into the driver image, valid
// from any thread; the model only copies it.
unsafe impl Send for Registration {}

/// The driver objects the model created and has not dropped, by address, so
/// `DxgkInitialize` recognises them without trusting the pointer it is given.
fn live_drivers() -> &'static Mutex<HashMap<usize, Registration>> {
    static LIVE: OnceLock<Mutex<HashMap<usize, Registration>>> = OnceLock::new();
    LIVE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The model's `DxgkInitialize`, which the driver's host build resolves by
/// symbol, as its Windows build resolves displib's.
///
/// # Safety
/// `DriverInitializationData` is NULL or points to a readable table.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn DxgkInitialize(
    DriverObject: PDRIVER_OBJECT,
    RegistryPath: *mut UNICODE_STRING,
    DriverInitializationData: *mut DRIVER_INITIALIZATION_DATA,
) -> NTSTATUS {
    if RegistryPath.is_null() || DriverInitializationData.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    let mut live = live_drivers()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(registration) = live.get_mut(&DriverObject.addr()) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: non-NULL, and the driver passes its own live table.
    let table = unsafe { DriverInitializationData.read_unaligned() };
    match validate_table(&table) {
        Ok(()) => {
            registration.table = Some(table);
            STATUS_SUCCESS
        }
        Err(status) => status,
    }
}

/// The driver object the model passes to `DriverEntry`: opaque to the driver,
/// which only hands it back to `DxgkInitialize`.
struct DriverObject {
    _reserved: [u64; 4],
}

/// A UTF-16 registry path and the `UNICODE_STRING` naming it.
struct RegistryPath {
    _utf16: Vec<u16>,
    string: UNICODE_STRING,
}

impl RegistryPath {
    fn new(path: &str) -> Box<Self> {
        let utf16: Vec<u16> = path.encode_utf16().collect();
        let bytes = u16::try_from(utf16.len() * 2).expect("registry path fits a UNICODE_STRING");
        let mut boxed = Box::new(Self {
            _utf16: utf16,
            string: UNICODE_STRING::zeroed(),
        });
        boxed.string = UNICODE_STRING {
            Length: bytes,
            MaximumLength: bytes,
            Buffer: boxed._utf16.as_mut_ptr(),
        };
        boxed
    }
}

pub(crate) struct DriverInner {
    object: Box<DriverObject>,
    _registry_path: Box<RegistryPath>,
    pub(crate) table: DRIVER_INITIALIZATION_DATA,
}

// SAFETY: the table's function pointers are callable from any thread (the
// driver's DDIs are thread-safe, as Dxgkrnl requires); the boxes are owned.
unsafe impl Send for DriverInner {}
// SAFETY: as above; nothing is mutated after load.
unsafe impl Sync for DriverInner {}

impl Drop for DriverInner {
    fn drop(&mut self) {
        let addr = core::ptr::from_ref::<DriverObject>(&self.object).addr();
        live_drivers()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&addr);
    }
}

/// A loaded driver: `DriverEntry` ran and registered a valid table.
#[derive(Clone)]
pub struct Driver {
    pub(crate) inner: Arc<DriverInner>,
    /// The table the model calls through: the registered one, unless
    /// [`Driver::patched`] replaced entries.
    table: DRIVER_INITIALIZATION_DATA,
}

impl Driver {
    /// Loads `gpup-miniport` (linked into this program) through its `DriverEntry`.
    ///
    /// # Errors
    /// `DriverEntry`'s failure status, e.g. `STATUS_REVISION_MISMATCH` for a
    /// table Dxgkrnl would refuse.
    pub fn load() -> Result<Self> {
        Self::load_entry(gpup_miniport::DriverEntry)
    }

    /// Loads a driver through the given `DriverEntry`.
    ///
    /// # Errors
    /// `DriverEntry`'s failure status; `STATUS_UNSUCCESSFUL` if it returned
    /// success without calling `DxgkInitialize`.
    pub fn load_entry(entry: DriverEntryFn) -> Result<Self> {
        let mut object = Box::new(DriverObject { _reserved: [0; 4] });
        let mut registry_path = RegistryPath::new(
            "\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet\\Services\\gpup_miniport",
        );
        let object_ptr: PDRIVER_OBJECT = (&raw mut *object).cast();
        live_drivers()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(object_ptr.addr(), Registration { table: None });
        // The driver's DxgkInitialize is this crate's; keep it referenced from
        // here so the linker always keeps it, whatever order it sees libraries in.
        std::hint::black_box(DxgkInitialize as unsafe extern "system" fn(_, _, _) -> _);
        // SAFETY: the driver object and registry path are live and owned here
        // for the whole call, as the I/O manager guarantees for DriverEntry.
        let status = unsafe { entry(object_ptr, &raw mut registry_path.string) };
        let registered = live_drivers()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_mut(&object_ptr.addr())
            .and_then(|r| r.table.take());
        // From here on, dropping `inner` unregisters the driver object.
        let mut inner = DriverInner {
            object,
            _registry_path: registry_path,
            table: DRIVER_INITIALIZATION_DATA::zeroed(),
        };
        check(status)?;
        inner.table = registered.ok_or(STATUS_UNSUCCESSFUL)?;
        let table = inner.table;
        Ok(Self {
            inner: Arc::new(inner),
            table,
        })
    }

    /// The table the model calls the driver through.
    #[must_use]
    pub fn table(&self) -> &DRIVER_INITIALIZATION_DATA {
        &self.table
    }

    /// The same loaded driver seen through a table that `patch` edited: a
    /// deliberately broken variant for tests (for example a QueryAdapterInfo
    /// that wraps the driver's and reports inconsistent caps), so that the
    /// model's checks can be shown to refuse what Dxgkrnl would refuse.
    #[must_use]
    pub fn patched(&self, patch: impl FnOnce(&mut DRIVER_INITIALIZATION_DATA)) -> Self {
        let mut table = self.table;
        patch(&mut table);
        Self {
            inner: Arc::clone(&self.inner),
            table,
        }
    }

    /// Unloads the driver through `DxgkDdiUnload` (Dxgkrnl calls it once
    /// every adapter was removed).
    pub fn unload(self) {
        if let Some(unload) = self.table.DxgkDdiUnload {
            // SAFETY: a DDI of the loaded driver, taking no arguments.
            unsafe { unload() };
        }
    }
}
