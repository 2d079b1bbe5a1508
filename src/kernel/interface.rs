//! Calls from the driver into Dxgkrnl, through the `DXGKRNL_INTERFACE` it
//! received in DxgkDdiStartDevice: the kernel side of the platform seam
//! that the adapter keeps while started.

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

use crate::foundation::status::{Result, Status};

/// A copy of the `DXGKRNL_INTERFACE` Dxgkrnl handed to StartDevice.
///
/// # Invariants
/// The callbacks and `DeviceHandle` stay valid until the adapter is stopped
/// (Dxgkrnl's contract), and the callbacks may be called from any thread at
/// PASSIVE_LEVEL.
#[derive(Clone, Copy)]
pub(crate) struct KernelInterface(DXGKRNL_INTERFACE);

// SAFETY: the interface is a table of function pointers and an opaque handle
// that Dxgkrnl allows to be used from any thread (type invariant).
unsafe impl Send for KernelInterface {}
// SAFETY: shared use from several threads only reads the copy, which is
// never mutated after StartDevice, and calls callbacks Dxgkrnl allows to be
// called from any thread (type invariant).
unsafe impl Sync for KernelInterface {}

/// The callbacks the driver cannot work without; their end bounds the
/// `Size` Dxgkrnl must report.
const REQUIRED_SIZE: usize = core::mem::offset_of!(DXGKRNL_INTERFACE, DxgkCbGetDeviceInformation)
    + core::mem::size_of::<DXGKCB_GET_DEVICE_INFORMATION>();

impl KernelInterface {
    /// Copies the interface, honouring the `Size` Dxgkrnl states.
    ///
    /// # Safety
    /// `p` is NULL or points to a `DXGKRNL_INTERFACE` of at least the `Size`
    /// it states, as Dxgkrnl passes it to StartDevice.
    ///
    /// # Errors
    /// `InvalidParameter` for NULL, a `Size` too small to hold the callbacks
    /// the driver needs, or a NULL `DxgkCbGetDeviceInformation`.
    pub(crate) unsafe fn copy_from(p: *const DXGKRNL_INTERFACE) -> Result<Self> {
        if p.is_null() {
            return Err(Status::InvalidParameter);
        }
        // SAFETY: `p` is non-NULL and points to a `DXGKRNL_INTERFACE`, whose
        // first field is its `ULONG Size` (caller's contract): 4 readable
        // bytes. Unaligned reads are accepted, as for every OS block.
        let size = unsafe { p.cast::<ULONG>().read_unaligned() };
        let size = usize::try_from(size).map_err(|_| Status::InvalidParameter)?;
        if size < REQUIRED_SIZE {
            return Err(Status::InvalidParameter);
        }
        let mut interface = DXGKRNL_INTERFACE::zeroed();
        let n = size.min(core::mem::size_of::<DXGKRNL_INTERFACE>());
        // SAFETY:
        // - source: `p` is readable for its own `Size` bytes (caller's
        //   contract), and `n <= size`;
        // - destination: `interface` is a local of `size_of` >= `n` bytes;
        // - they cannot overlap (a local of this frame vs the OS's block);
        // - any bytes are a valid prefix: `DXGKRNL_INTERFACE` is plain data
        //   (`Record`), its callbacks `Option`s of function pointers whose
        //   NULL is `None`, and fields past `n` stay zero (`None`).
        unsafe {
            core::ptr::copy_nonoverlapping(p.cast::<u8>(), (&raw mut interface).cast::<u8>(), n);
        }
        if interface.DxgkCbGetDeviceInformation.is_none() {
            return Err(Status::InvalidParameter);
        }
        Ok(Self(interface))
    }

    /// `DxgkCbGetDeviceInformation`.
    ///
    /// # Errors
    /// The callback's failure status, mapped to `Unsuccessful` when it is not
    /// one the driver knows.
    pub(crate) fn device_information(&self) -> Result<DXGK_DEVICE_INFO> {
        let callback = self
            .0
            .DxgkCbGetDeviceInformation
            .ok_or(Status::InvalidParameter)?;
        let mut info = DXGK_DEVICE_INFO::zeroed();
        // SAFETY: the callback and `DeviceHandle` come from Dxgkrnl and are valid
        // while started (type invariant); `info` is a live, writable out-parameter.
        let status = unsafe { callback(self.0.DeviceHandle, &raw mut info) };
        if status.is_success() {
            Ok(info)
        } else {
            Err(Status::Unsuccessful)
        }
    }

    /// Whether Dxgkrnl supplied `DxgkCbLogEtwEvent`.
    #[allow(dead_code)]
    pub(crate) fn has_etw(&self) -> bool {
        self.0.DxgkCbLogEtwEvent.is_some()
    }

    /// `DxgkCbLogEtwEvent(guid, event_type, payload)`. Returns whether the
    /// event was handed to Dxgkrnl: not when it supplied no callback (an
    /// interface `Size` that ends before it), or for a payload over 64 KiB.
    pub(crate) fn log_etw_event(&self, guid: &GUID, event_type: u8, payload: &[u8]) -> bool {
        let (Some(callback), Ok(size)) =
            (self.0.DxgkCbLogEtwEvent, USHORT::try_from(payload.len()))
        else {
            return false;
        };
        // SAFETY: the callback comes from Dxgkrnl and is valid while started
        // (type invariant); the GUID and the `size` payload bytes are live,
        // readable borrows for the duration of the call, which only reads them.
        unsafe {
            callback(
                core::ptr::from_ref(guid),
                event_type,
                size,
                payload.as_ptr().cast_mut().cast(),
            );
        }
        true
    }
}

impl KernelInterface {
    /// `DxgkCbSynchronizeExecution(routine, context)`: runs `routine` as
    /// Dxgkrnl runs an interrupt-synchronised routine (spec 5.3). Returns
    /// whether the callback exists and succeeded.
    ///
    /// # Safety
    /// `routine` may be called with `context` at device IRQL before this
    /// returns: both must be valid for that (the engine's completion path).
    // Not inlined: the image's stack check allow-lists the callback call
    // by this function's name (xtask `stack::ALLOWED`).
    #[inline(never)]
    pub(crate) unsafe fn synchronize_execution(
        &self,
        routine: unsafe extern "system" fn(PVOID) -> BOOLEAN,
        context: PVOID,
    ) -> bool {
        let Some(callback) = self.0.DxgkCbSynchronizeExecution else {
            return false;
        };
        let mut ret: BOOLEAN = 0;
        // SAFETY: the callback comes from Dxgkrnl, valid while started (type
        // invariant); routine and context are valid (caller's contract).
        let status =
            unsafe { callback(self.0.DeviceHandle, Some(routine), context, 0, &raw mut ret) };
        status.is_success()
    }

    /// `DxgkCbNotifyInterrupt` (inside the synchronised routine). Returns
    /// whether the callback exists.
    // Not inlined: the image's stack check allow-lists the callback call
    // by this function's name (xtask `stack::ALLOWED`).
    #[inline(never)]
    pub(crate) fn notify_interrupt(&self, data: &DXGKARGCB_NOTIFY_INTERRUPT_DATA) -> bool {
        let Some(callback) = self.0.DxgkCbNotifyInterrupt else {
            return false;
        };
        // SAFETY: Dxgkrnl's callback (type invariant); `data` is a live
        // record it only reads during the call.
        unsafe { callback(self.0.DeviceHandle, core::ptr::from_ref(data)) };
        true
    }

    /// `DxgkCbQueueDpc`: whether the DPC was queued.
    // Not inlined: the image's stack check allow-lists the callback call
    // by this function's name (xtask `stack::ALLOWED`).
    #[inline(never)]
    pub(crate) fn queue_dpc(&self) -> bool {
        let Some(callback) = self.0.DxgkCbQueueDpc else {
            return false;
        };
        // SAFETY: Dxgkrnl's callback (type invariant).
        unsafe { callback(self.0.DeviceHandle) != 0 }
    }

    /// `DxgkCbNotifyDpc` (the DPC routine).
    // Not inlined: the image's stack check allow-lists the callback call
    // by this function's name (xtask `stack::ALLOWED`).
    #[inline(never)]
    pub(crate) fn notify_dpc(&self) {
        if let Some(callback) = self.0.DxgkCbNotifyDpc {
            // SAFETY: Dxgkrnl's callback (type invariant).
            unsafe { callback(self.0.DeviceHandle) };
        }
    }
}
