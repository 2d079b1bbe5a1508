//! [`HandoffServices`] over the kernel's own routines: the WDK-free
//! replacement for what displib.lib's `DxgkInitialize` calls.

use core::ffi::c_void;
use core::ptr::{NonNull, null_mut};

use dxgk_sys::{NTSTATUS, STATUS_INSUFFICIENT_RESOURCES, STATUS_UNSUCCESSFUL};

use super::ntoskrnl::{
    EXECUTIVE, FALSE, FILE_ALL_ACCESS, IO_STATUS_BLOCK, IoBuildDeviceIoControlRequest,
    IoGetDeviceObjectPointer, IofCallDriver, KERNEL_MODE, KEVENT, KeInitializeEvent,
    KeWaitForSingleObject, NOTIFICATION_EVENT, ObfDereferenceObject, TRUE, ZwLoadDriver,
    ZwUnloadDriver,
};
use crate::kernel::handoff::{
    DxgkInitializeRoutine, HandoffServices, IOCTL_VIDEO_DDI_FUNC_REGISTER,
};
use crate::kernel::nt_string::NtString;

/// The DXGKrnl service's registry key, as `ZwLoadDriver` takes it.
const DXGKRNL_SERVICE: &[u8; 59] = br"\Registry\Machine\System\CurrentControlSet\Services\DXGKrnl";
/// Dxgkrnl's device object.
const DXGKRNL_DEVICE: &[u8; 15] = br"\Device\DxgKrnl";

/// The running kernel (all state is the kernel's).
pub(super) struct Kernel;

/// One `IOCTL_VIDEO_DDI_FUNC_REGISTER` in flight. The kernel holds pointers
/// to all three fields until the IRP completes.
pub(super) struct Request {
    event: KEVENT,
    status: IO_STATUS_BLOCK,
    /// The output buffer: Dxgkrnl writes its routine's address here (NULL,
    /// i.e. `None`, until then). An `Option` of a function pointer has the
    /// layout of a nullable pointer, so any value Dxgkrnl stores is valid.
    routine: Option<DxgkInitializeRoutine>,
}

/// Size of the output buffer, as the IRP's ULONG length.
const ROUTINE_SLOT_BYTES: u32 = {
    let bytes = core::mem::size_of::<Option<DxgkInitializeRoutine>>();
    assert!(bytes == 8);
    8
};

impl HandoffServices for Kernel {
    type FileObject = NonNull<c_void>;
    type DeviceObject = NonNull<c_void>;
    type Request = Request;

    fn load_dxgkrnl(&mut self) -> NTSTATUS {
        let mut name = NtString::new(DXGKRNL_SERVICE);
        let mut name = name.as_unicode_string();
        // SAFETY: PASSIVE_LEVEL (DriverEntry); `name` describes a live buffer
        // that the routine only reads.
        unsafe { ZwLoadDriver(&raw mut name) }
    }

    fn unload_dxgkrnl(&mut self) {
        let mut name = NtString::new(DXGKRNL_SERVICE);
        let mut name = name.as_unicode_string();
        // SAFETY: as for `load_dxgkrnl`. Nothing can be done about a failure
        // here: the load already failed, and that status is what is returned.
        let _ = unsafe { ZwUnloadDriver(&raw mut name) };
    }

    fn open_dxgkrnl(&mut self) -> Result<(Self::FileObject, Self::DeviceObject), NTSTATUS> {
        let mut name = NtString::new(DXGKRNL_DEVICE);
        let mut name = name.as_unicode_string();
        let mut file = null_mut();
        let mut device = null_mut();
        // SAFETY: PASSIVE_LEVEL; `name` describes a live buffer, and the two
        // out-pointers are valid for writes of one pointer each.
        let status = unsafe {
            IoGetDeviceObjectPointer(
                &raw mut name,
                FILE_ALL_ACCESS,
                &raw mut file,
                &raw mut device,
            )
        };
        if !status.is_success() {
            return Err(status);
        }
        match (NonNull::new(file), NonNull::new(device)) {
            (Some(file), Some(device)) => Ok((file, device)),
            (Some(file), None) => {
                self.release(file);
                Err(STATUS_UNSUCCESSFUL)
            }
            (None, _) => Err(STATUS_UNSUCCESSFUL),
        }
    }

    fn new_request(&mut self) -> Request {
        Request {
            event: KEVENT::uninitialized(),
            status: IO_STATUS_BLOCK {
                Status: STATUS_UNSUCCESSFUL,
                Information: 0,
            },
            routine: None,
        }
    }

    unsafe fn send_register_ioctl(
        &mut self,
        device: Self::DeviceObject,
        request: *mut Request,
    ) -> Result<NTSTATUS, NTSTATUS> {
        // Field pointers, all derived from `request` (never through a reference).
        // SAFETY: `request` points to a live request (the caller's contract);
        // this only computes a field's address.
        let event = unsafe { &raw mut (*request).event };
        // SAFETY: `request` points to a live request (the caller's contract);
        // this only computes the address of its `status` field.
        let status = unsafe { &raw mut (*request).status };
        // SAFETY: `request` points to a live request (the caller's contract);
        // this only computes the address of its `routine` field.
        let routine = unsafe { &raw mut (*request).routine }.cast::<c_void>();
        // SAFETY: `event` is in place for the request's life (the caller's
        // contract) and not yet in use.
        unsafe { KeInitializeEvent(event, NOTIFICATION_EVENT, FALSE) };
        // SAFETY: PASSIVE_LEVEL; `device` came from IoGetDeviceObjectPointer
        // and its file object is still referenced; no input buffer; the output
        // buffer, event and status block stay valid until completion (the
        // caller's contract).
        let irp = unsafe {
            IoBuildDeviceIoControlRequest(
                IOCTL_VIDEO_DDI_FUNC_REGISTER,
                device.as_ptr(),
                null_mut(),
                0,
                routine,
                ROUTINE_SLOT_BYTES,
                TRUE,
                event,
                status,
            )
        };
        if irp.is_null() {
            return Err(STATUS_INSUFFICIENT_RESOURCES);
        }
        // SAFETY: a fresh IRP built for `device`; the I/O manager frees it on
        // completion.
        Ok(unsafe { IofCallDriver(device.as_ptr(), irp) })
    }

    unsafe fn wait(&mut self, request: *mut Request) -> NTSTATUS {
        // SAFETY: `request` points to a live request (the caller's contract);
        // this only computes the event's address.
        let event = unsafe { &raw mut (*request).event };
        // SAFETY: PASSIVE_LEVEL; the event was initialised by
        // `send_register_ioctl` and the I/O manager signals it on completion.
        // A kernel-mode, non-alertable wait without timeout cannot fail.
        let _ = unsafe {
            KeWaitForSingleObject(event.cast(), EXECUTIVE, KERNEL_MODE, FALSE, null_mut())
        };
        // SAFETY: the IRP has completed, so the I/O manager has written the
        // status block and no longer uses it.
        unsafe { (*request).status.Status }
    }

    unsafe fn routine(request: *const Request) -> Option<DxgkInitializeRoutine> {
        // SAFETY: the IRP has completed (the caller's contract), so Dxgkrnl's
        // write of the slot is done.
        unsafe { (*request).routine }
    }

    fn release(&mut self, file: Self::FileObject) {
        // SAFETY: drops the one reference IoGetDeviceObjectPointer took.
        let _ = unsafe { ObfDereferenceObject(file.as_ptr()) };
    }
}
