//! The `DXGKRNL_INTERFACE` callbacks the model provides to the driver
//! (`DxgkCbGetDeviceInformation`, `DxgkCbLogEtwEvent`, and the engine's
//! completion path: `DxgkCbSynchronizeExecution`, `DxgkCbNotifyInterrupt`,
//! `DxgkCbQueueDpc`, `DxgkCbNotifyDpc`) and the per-adapter device state
//! they reach through its `DeviceHandle`.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, OnceLock};

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
    /// The driver's `DxgkDdiDpcRoutine`, run for a DPC the driver queued.
    dpc_routine: PDXGKDDI_DPC_ROUTINE,
    /// What the completion callbacks saw.
    completions: Mutex<Completions>,
}

impl DeviceState {
    /// The state of the adapter the driver created for `physical_device`
    /// (its `MiniportDeviceContext` is `miniport_context`), registered.
    pub(crate) fn register(
        physical_device: PDEVICE_OBJECT,
        miniport_context: PVOID,
        dpc_routine: PDXGKDDI_DPC_ROUTINE,
    ) -> Box<Self> {
        let device = Box::new(Self {
            physical_device,
            miniport_context,
            dpc_routine,
            completions: Mutex::new(Completions::default()),
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
        kernel.DxgkCbSynchronizeExecution = Some(synchronize_execution);
        kernel.DxgkCbNotifyInterrupt = Some(notify_interrupt);
        kernel.DxgkCbQueueDpc = Some(queue_dpc);
        kernel.DxgkCbNotifyDpc = Some(notify_dpc);
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

/// The live device state `handle` names, or `None` for anything else.
fn device(handle: HANDLE) -> Option<&'static DeviceState> {
    if !live_devices()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .contains(&handle.addr())
    {
        return None;
    }
    // SAFETY: `handle` is a live `DeviceState` the model owns (checked
    // above); it lives until its adapter is removed, after StopDevice, when
    // the driver no longer calls back with it.
    Some(unsafe { &*handle.cast::<DeviceState>() })
}

/// A test's look at the driver from inside a callback into Dxgkrnl: called
/// with the callback's name and, for `DxgkCbGetDeviceInformation`, the
/// adapter's `MiniportDeviceContext` (NULL for `DxgkCbLogEtwEvent`, which
/// names no device). Per thread: DDIs run on the caller's thread.
pub type CallbackProbe = Box<dyn Fn(&'static str, PVOID)>;

thread_local! {
    static PROBE: RefCell<Option<CallbackProbe>> = const { RefCell::new(None) };
}

/// Installs this thread's [`CallbackProbe`] (`None` removes it).
pub fn set_callback_probe(probe: Option<CallbackProbe>) {
    PROBE.with(|p| *p.borrow_mut() = probe);
}

/// Runs this thread's probe, if any.
fn probe(name: &'static str, context: PVOID) {
    PROBE.with(|p| {
        if let Some(f) = p.borrow().as_ref() {
            f(name, context);
        }
    });
}

/// `DxgkCbGetDeviceInformation`.
unsafe extern "system" fn get_device_information(
    DeviceHandle: HANDLE,
    DeviceInfo: *mut DXGK_DEVICE_INFO,
) -> NTSTATUS {
    let Some(state) = device(DeviceHandle).filter(|_| !DeviceInfo.is_null()) else {
        return STATUS_INVALID_PARAMETER;
    };
    probe("DxgkCbGetDeviceInformation", state.miniport_context);
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
    probe("DxgkCbLogEtwEvent", core::ptr::null_mut());
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

/// What the engine's completion callbacks saw of one adapter (spec 5.3),
/// checked against what Dxgkrnl enforces: a violation is recorded in
/// [`Completions::errors`] where Windows would bugcheck (0x119) or TDR.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Completions {
    /// (node, fence) of each `DXGK_INTERRUPT_DMA_COMPLETED`, in order.
    pub completed: Vec<(u32, u32)>,
    /// (node, preemption fence, last completed fence) of each
    /// `DXGK_INTERRUPT_DMA_PREEMPTED`.
    pub preempted: Vec<(u32, u32, u32)>,
    /// (node, fence) delivered by a DPC: `DxgkCbNotifyDpc` after a
    /// `DxgkCbQueueDpc`, what Dxgkrnl's scheduler then acts on.
    pub delivered: Vec<(u32, u32)>,
    /// Violations of Dxgkrnl's rules, in the order they happened.
    pub errors: Vec<String>,
    /// Completed, not yet delivered by a DPC.
    pending: Vec<(u32, u32)>,
    /// The last completed fence per node.
    last: HashMap<u32, u32>,
    dpc_queued: bool,
    in_sync: bool,
}

thread_local! {
    /// Whether this thread is inside the driver's SubmitCommand: a
    /// completion reported from it is one made inside SubmitCommand (the
    /// engine worker's own completions race submissions legitimately).
    static IN_SUBMIT: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

/// Runs `f` (a call of the driver's SubmitCommand) marked as a submission
/// on this thread, so that a completion reported inside it is an error.
pub fn submitting<R>(f: impl FnOnce() -> R) -> R {
    IN_SUBMIT.with(|s| s.set(true));
    let r = f();
    IN_SUBMIT.with(|s| s.set(false));
    r
}

/// The completions of the adapter whose `DeviceHandle` is `handle`.
pub(crate) fn completions(handle: HANDLE) -> Option<MutexGuard<'static, Completions>> {
    device(handle).map(DeviceState::completions)
}

impl DeviceState {
    fn completions(&self) -> MutexGuard<'_, Completions> {
        self.completions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `DxgkCbSynchronizeExecution`: the adapter has no interrupt object, so,
/// as the decompiled `DpSynchronizeExecution` does then (spec 5.3), the
/// routine is called directly; a DPC it queued then runs the driver's
/// `DxgkDdiDpcRoutine` (as the DPC would once the synchronised section ends).
unsafe extern "system" fn synchronize_execution(
    DeviceHandle: HANDLE,
    SynchronizeRoutine: PKSYNCHRONIZE_ROUTINE,
    Context: PVOID,
    _MessageNumber: ULONG,
    ReturnValue: *mut BOOLEAN,
) -> NTSTATUS {
    let (Some(state), Some(routine)) = (device(DeviceHandle), SynchronizeRoutine) else {
        return STATUS_INVALID_PARAMETER;
    };
    state.completions().in_sync = true;
    // SAFETY: the driver's routine with the context it passed for it.
    let r = unsafe { routine(Context) };
    if !ReturnValue.is_null() {
        // SAFETY: the driver's out-parameter, checked non-NULL.
        unsafe { ReturnValue.write(r) };
    }
    let queued = {
        let mut c = state.completions();
        c.in_sync = false;
        std::mem::take(&mut c.dpc_queued)
    };
    if queued && let Some(dpc) = state.dpc_routine {
        // SAFETY: the driver's DPC routine with its own adapter context.
        unsafe { dpc(state.miniport_context) };
    }
    STATUS_SUCCESS
}

/// `DxgkCbNotifyInterrupt`: records the completion or preemption, checking
/// it is made inside SynchronizeExecution, not inside SubmitCommand, and
/// that a node's `DMA_COMPLETED` fences strictly increase.
unsafe extern "system" fn notify_interrupt(
    DeviceHandle: HANDLE,
    InterruptData: *const DXGKARGCB_NOTIFY_INTERRUPT_DATA,
) {
    let Some(state) = device(DeviceHandle) else {
        return;
    };
    let mut c = state.completions();
    if InterruptData.is_null() {
        c.errors.push("NotifyInterrupt with NULL data".into());
        return;
    }
    // SAFETY: non-NULL; the driver passes a live record for the call.
    let d = unsafe { InterruptData.read_unaligned() };
    if !c.in_sync {
        c.errors
            .push("NotifyInterrupt outside SynchronizeExecution".into());
    }
    if IN_SUBMIT.with(core::cell::Cell::get) {
        c.errors.push("completion inside SubmitCommand".into());
    }
    match d.InterruptType {
        DXGK_INTERRUPT_DMA_COMPLETED => {
            let done = d.completed();
            let (node, fence) = (done.NodeOrdinal, done.SubmissionFenceId);
            if let Some(&last) = c.last.get(&node).filter(|&&l| fence <= l) {
                c.errors.push(format!(
                    "node {node}: fence {fence} completed after {last}: out of order (0x119)"
                ));
            }
            c.last.insert(node, fence);
            c.completed.push((node, fence));
            c.pending.push((node, fence));
        }
        DXGK_INTERRUPT_DMA_PREEMPTED => {
            let p = d.preempted();
            c.preempted
                .push((p.NodeOrdinal, p.PreemptionFenceId, p.LastCompletedFenceId));
        }
        other => c.errors.push(format!("interrupt type {other:?}")),
    }
}

/// `DxgkCbQueueDpc`: the DPC runs when the synchronised routine returns.
unsafe extern "system" fn queue_dpc(DeviceHandle: HANDLE) -> BOOLEAN {
    device(DeviceHandle).map_or(0, |state| {
        state.completions().dpc_queued = true;
        1
    })
}

/// `DxgkCbNotifyDpc`: delivers the completions reported so far.
unsafe extern "system" fn notify_dpc(DeviceHandle: HANDLE) {
    if let Some(state) = device(DeviceHandle) {
        let mut c = state.completions();
        let pending = std::mem::take(&mut c.pending);
        c.delivered.extend(pending);
    }
}
