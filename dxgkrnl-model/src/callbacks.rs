//! The `DXGKRNL_INTERFACE` callbacks the model provides to the driver
//! (`DxgkCbGetDeviceInformation`, `DxgkCbLogEtwEvent`) and the per-adapter
//! device state they reach through its `DeviceHandle`.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

/// What the model knows of an adapter, reached by the driver through the
/// `DeviceHandle` of the `DXGKRNL_INTERFACE`.
///
/// Registered (by address) while it lives; dropping it unregisters it, so a
/// callback given a stale handle refuses it.
pub(crate) struct DeviceState {
    physical_device: PDEVICE_OBJECT,
    miniport_context: PVOID,
    registry_path: Vec<u16>,
}

impl DeviceState {
    /// The state of the adapter the driver created for `physical_device`
    /// (its `MiniportDeviceContext` is `miniport_context`), registered.
    pub(crate) fn register(physical_device: PDEVICE_OBJECT, miniport_context: PVOID) -> Box<Self> {
        let device = Box::new(Self {
            physical_device,
            miniport_context,
            registry_path:
                "\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Video\\{gpup}\\0000"
                    .encode_utf16()
                    .collect(),
        });
        live_devices()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(core::ptr::from_ref::<Self>(&device).addr());
        device
    }

    /// The `DXGKRNL_INTERFACE` the model hands to StartDevice: this device as
    /// its `DeviceHandle`, and the model's callbacks.
    pub(crate) fn kernel_interface(&self) -> DXGKRNL_INTERFACE {
        let mut kernel = DXGKRNL_INTERFACE::zeroed();
        kernel.Size =
            ULONG::try_from(core::mem::size_of::<DXGKRNL_INTERFACE>()).unwrap_or(ULONG::MAX);
        kernel.Version = DXGKDDI_INTERFACE_VERSION_WDDM3_2;
        kernel.DeviceHandle = core::ptr::from_ref::<Self>(self).cast_mut().cast();
        kernel.DxgkCbGetDeviceInformation = Some(get_device_information);
        kernel.DxgkCbLogEtwEvent = Some(log_etw_event);
        kernel
    }
}

impl Drop for DeviceState {
    fn drop(&mut self) {
        live_devices()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&core::ptr::from_ref::<Self>(self).addr());
    }
}

/// The device states alive, by address, so that a callback can tell a
/// `DeviceHandle` it issued from anything else without dereferencing it.
fn live_devices() -> &'static Mutex<HashSet<usize>> {
    static LIVE: OnceLock<Mutex<HashSet<usize>>> = OnceLock::new();
    LIVE.get_or_init(|| Mutex::new(HashSet::new()))
}

/// `DxgkCbGetDeviceInformation`.
unsafe extern "system" fn get_device_information(
    DeviceHandle: HANDLE,
    DeviceInfo: *mut DXGK_DEVICE_INFO,
) -> NTSTATUS {
    if DeviceInfo.is_null()
        || !live_devices()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&DeviceHandle.addr())
    {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: `DeviceHandle` is a live `DeviceState` the model owns (checked above).
    let state = unsafe { &*DeviceHandle.cast::<DeviceState>() };
    let mut info = DXGK_DEVICE_INFO::zeroed();
    info.MiniportDeviceContext = state.miniport_context;
    info.PhysicalDeviceObject = state.physical_device;
    let bytes = u16::try_from(state.registry_path.len() * 2).unwrap_or(u16::MAX);
    info.DeviceRegistryPath = UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: state.registry_path.as_ptr().cast_mut(),
    };
    info.SystemMemorySize = LARGE_INTEGER { QuadPart: 16 << 30 };
    info.HighestPhysicalAddress = LARGE_INTEGER {
        QuadPart: (1 << 46) - 1,
    };
    // SAFETY: non-NULL, and the driver passes a writable DXGK_DEVICE_INFO.
    unsafe { DeviceInfo.write_unaligned(info) };
    STATUS_SUCCESS
}

/// One event the driver logged through `DxgkCbLogEtwEvent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtwEvent {
    /// The event's provider GUID.
    pub guid: GUID,
    /// The event type.
    pub event_type: u8,
    /// The event payload.
    pub payload: Vec<u8>,
}

thread_local! {
    /// The callback has no device argument; DDIs run on the caller's thread,
    /// so a per-thread log attributes each event to the test that caused it.
    static ETW_EVENTS: RefCell<Vec<EtwEvent>> = const { RefCell::new(Vec::new()) };
}

/// The ETW events the driver logged on this thread since the last call.
#[must_use]
pub fn take_etw_events() -> Vec<EtwEvent> {
    ETW_EVENTS.with(|events| std::mem::take(&mut *events.borrow_mut()))
}

/// `DxgkCbLogEtwEvent`.
unsafe extern "system" fn log_etw_event(
    EventGuid: *const GUID,
    Type: UCHAR,
    EventBufferSize: USHORT,
    EventBuffer: PVOID,
) {
    if EventGuid.is_null() || (EventBuffer.is_null() && EventBufferSize != 0) {
        return;
    }
    // SAFETY: non-NULL; the driver passes a readable GUID.
    let guid = unsafe { EventGuid.read_unaligned() };
    let payload = if EventBufferSize == 0 {
        Vec::new()
    } else {
        // SAFETY: the driver passes `EventBufferSize` readable bytes.
        unsafe {
            std::slice::from_raw_parts(EventBuffer.cast::<u8>(), usize::from(EventBufferSize))
        }
        .to_vec()
    };
    ETW_EVENTS.with(|events| {
        events.borrow_mut().push(EtwEvent {
            guid,
            event_type: Type,
            payload,
        })
    });
}
