//! The displib-style `DxgkInitialize`: how a display miniport reaches
//! Dxgkrnl without the WDK's `displib.lib`.
//!
//! The sequence (`docs/contract.md`, registration and the DDI table):
//! 1. load the DXGKrnl service (`ZwLoadDriver`); `STATUS_IMAGE_ALREADY_LOADED`
//!    counts as success, remembered as "not loaded by us";
//! 2. `IoGetDeviceObjectPointer` on `\Device\DxgKrnl`, which references its
//!    file object;
//! 3. send it the internal device control `IOCTL_VIDEO_DDI_FUNC_REGISTER`
//!    (0x23003F, METHOD_NEITHER), whose output buffer receives the address of
//!    Dxgkrnl's initialization routine; wait for the IRP if it is pending;
//! 4. call that routine with the miniport's three arguments;
//! 5. release the file object; on failure, unload DXGKrnl only if step 1
//!    loaded it.
//!
//! The algorithm is written once over [`HandoffServices`], so the host tests
//! drive every branch with a fake kernel; the WDK-free backend implements the
//! trait with its `ntoskrnl.exe` imports.

use dxgk_sys::{
    DRIVER_INITIALIZATION_DATA, NTSTATUS, PDRIVER_OBJECT, STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
    UNICODE_STRING,
};

/// `CTL_CODE(FILE_DEVICE_VIDEO, 0xF, METHOD_NEITHER, FILE_ANY_ACCESS)`: the
/// internal device control whose output is Dxgkrnl's initialization routine.
pub(crate) const IOCTL_VIDEO_DDI_FUNC_REGISTER: u32 = ctl_code(0x23, 0xF, 3, 0);

/// `STATUS_PENDING` (ntstatus.h): the IRP completes later.
pub(crate) const STATUS_PENDING: NTSTATUS = NTSTATUS(0x0000_0103);
/// `STATUS_IMAGE_ALREADY_LOADED` (ntstatus.h): `ZwLoadDriver` of a loaded service.
pub(crate) const STATUS_IMAGE_ALREADY_LOADED: NTSTATUS = NTSTATUS::from_u32(0xC000_010E);
/// `STATUS_PROCEDURE_NOT_FOUND` (ntstatus.h): the device control succeeded
/// but returned no routine.
pub(crate) const STATUS_PROCEDURE_NOT_FOUND: NTSTATUS = NTSTATUS::from_u32(0xC000_007A);

/// The `CTL_CODE` macro of `devioctl.h`.
const fn ctl_code(device_type: u32, function: u32, method: u32, access: u32) -> u32 {
    (device_type << 16) | (access << 14) | (function << 2) | method
}

/// Dxgkrnl's initialization routine, as the device control returns it: the
/// signature of `DxgkInitialize`.
pub(crate) type DxgkInitializeRoutine = unsafe extern "system" fn(
    PDRIVER_OBJECT,
    *mut UNICODE_STRING,
    *mut DRIVER_INITIALIZATION_DATA,
) -> NTSTATUS;

/// The kernel services the hand-off needs, one method per kernel call (or
/// fixed group of calls).
pub(crate) trait HandoffServices {
    /// A referenced file object, released with [`Self::release`].
    type FileObject;
    /// A device object pointer (not referenced on its own).
    type DeviceObject: Copy;
    /// The storage an in-flight device control writes to: completion event,
    /// I/O status block and the output slot.
    type Request;

    /// `ZwLoadDriver` of the DXGKrnl service.
    fn load_dxgkrnl(&mut self) -> NTSTATUS;
    /// `ZwUnloadDriver` of the DXGKrnl service.
    fn unload_dxgkrnl(&mut self);
    /// `IoGetDeviceObjectPointer(\Device\DxgKrnl)`.
    ///
    /// # Errors
    /// The status the kernel failed it with.
    fn open_dxgkrnl(&mut self) -> Result<(Self::FileObject, Self::DeviceObject), NTSTATUS>;
    /// Fresh storage for one device control.
    fn new_request(&mut self) -> Self::Request;
    /// Builds the `IOCTL_VIDEO_DDI_FUNC_REGISTER` IRP (output: the request's
    /// routine slot; completion: the request's event and status block) and
    /// sends it with `IofCallDriver`, returning what that returned.
    ///
    /// The request is reached only through `request`, one raw pointer that
    /// the caller keeps for the request's whole life, so the pointers handed
    /// to the kernel stay valid whatever the caller does in between.
    ///
    /// # Errors
    /// `STATUS_INSUFFICIENT_RESOURCES` if no IRP could be built (nothing was sent).
    ///
    /// # Safety
    /// `request` points to a live request made by [`Self::new_request`] that
    /// neither moves nor is dropped until the IRP has completed: if this
    /// returns `Ok(STATUS_PENDING)`, until [`Self::wait`] on it has returned.
    unsafe fn send_register_ioctl(
        &mut self,
        device: Self::DeviceObject,
        request: *mut Self::Request,
    ) -> Result<NTSTATUS, NTSTATUS>;
    /// Waits for a pending IRP's completion event and returns its final status.
    ///
    /// # Safety
    /// `request` is the pointer given to a `send_register_ioctl` that returned
    /// `Ok(STATUS_PENDING)`, still live and in place.
    unsafe fn wait(&mut self, request: *mut Self::Request) -> NTSTATUS;
    /// The routine a completed request returned (`None` for NULL).
    ///
    /// # Safety
    /// `request` points to a live request whose IRP has completed.
    unsafe fn routine(request: *const Self::Request) -> Option<DxgkInitializeRoutine>;
    /// `ObDereferenceObject` of the file object.
    fn release(&mut self, file: Self::FileObject);
}

/// Hands the miniport's table to Dxgkrnl, as displib's `DxgkInitialize` does.
///
/// # Safety
/// Called from `DriverEntry` at PASSIVE_LEVEL with the driver object and
/// registry path the I/O manager passed, and `data` pointing to a live
/// `DRIVER_INITIALIZATION_DATA`; all three go to Dxgkrnl's routine untouched.
pub(crate) unsafe fn dxgk_initialize<S: HandoffServices>(
    kernel: &mut S,
    driver_object: PDRIVER_OBJECT,
    registry_path: *mut UNICODE_STRING,
    data: *mut DRIVER_INITIALIZATION_DATA,
) -> NTSTATUS {
    if driver_object.is_null() || registry_path.is_null() || data.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    let load = kernel.load_dxgkrnl();
    let loaded_here = load == STATUS_SUCCESS;
    if !loaded_here && load != STATUS_IMAGE_ALREADY_LOADED {
        return load;
    }
    let status = match kernel.open_dxgkrnl() {
        Err(status) => status,
        Ok((file, device)) => {
            let status = match query_routine(kernel, device) {
                // SAFETY: Dxgkrnl returned this routine for exactly this call,
                // with DxgkInitialize's arguments, which are the caller's
                // (contract above). The file object is still referenced, so
                // Dxgkrnl cannot go away during the call.
                Ok(routine) => unsafe { routine(driver_object, registry_path, data) },
                Err(status) => status,
            };
            kernel.release(file);
            status
        }
    };
    if !status.is_success() && loaded_here {
        kernel.unload_dxgkrnl();
    }
    status
}

/// Sends `IOCTL_VIDEO_DDI_FUNC_REGISTER` and returns the routine it yields.
fn query_routine<S: HandoffServices>(
    kernel: &mut S,
    device: S::DeviceObject,
) -> Result<DxgkInitializeRoutine, NTSTATUS> {
    let mut storage = kernel.new_request();
    let request = &raw mut storage;
    // SAFETY: `storage` is a local that is neither moved nor dropped before
    // this function returns, and a pending IRP is waited for right below.
    let sent = unsafe { kernel.send_register_ioctl(device, request) }?;
    let status = if sent == STATUS_PENDING {
        // SAFETY: the request just sent pending, and is still in place.
        unsafe { kernel.wait(request) }
    } else {
        sent
    };
    if !status.is_success() {
        return Err(status);
    }
    // SAFETY: the IRP has completed (it did not pend, or was waited for).
    unsafe { S::routine(request) }.ok_or(STATUS_PROCEDURE_NOT_FOUND)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use dxgk_sys::abi::Zeroable;
    use dxgk_sys::{STATUS_INSUFFICIENT_RESOURCES, STATUS_REVISION_MISMATCH, STATUS_UNSUCCESSFUL};

    use super::*;

    /// What the fake kernel was asked to do, in order.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Call {
        Load,
        Unload,
        Open,
        Send,
        Wait,
        Init,
        Release,
    }
    use Call::*;

    thread_local! {
        static LOG: RefCell<Vec<Call>> = const { RefCell::new(Vec::new()) };
        static INIT_STATUS: RefCell<NTSTATUS> = const { RefCell::new(STATUS_SUCCESS) };
        static INIT_ARGS: RefCell<Option<[usize; 3]>> = const { RefCell::new(None) };
    }

    fn log(call: Call) {
        LOG.with(|l| l.borrow_mut().push(call));
    }

    /// Dxgkrnl's initialization routine, as the fake device control returns it.
    unsafe extern "system" fn fake_dxgkrnl_init(
        driver_object: PDRIVER_OBJECT,
        registry_path: *mut UNICODE_STRING,
        data: *mut DRIVER_INITIALIZATION_DATA,
    ) -> NTSTATUS {
        log(Init);
        let args = [driver_object.addr(), registry_path.addr(), data.addr()];
        INIT_ARGS.with(|a| *a.borrow_mut() = Some(args));
        INIT_STATUS.with(|s| *s.borrow())
    }

    /// A kernel whose every answer is configurable.
    struct FakeKernel {
        load: NTSTATUS,
        open: Result<(), NTSTATUS>,
        /// What `IofCallDriver` returns; `None`: no IRP can be built.
        send: Option<NTSTATUS>,
        /// The final status of a pending IRP.
        completion: NTSTATUS,
        /// Whether the device control fills in a routine.
        returns_routine: bool,
        open_files: u32,
    }

    #[derive(Default)]
    struct FakeRequest {
        slot: Option<DxgkInitializeRoutine>,
        in_flight: bool,
    }

    impl HandoffServices for FakeKernel {
        type FileObject = u32;
        type DeviceObject = u32;
        type Request = FakeRequest;

        fn load_dxgkrnl(&mut self) -> NTSTATUS {
            log(Load);
            self.load
        }
        fn unload_dxgkrnl(&mut self) {
            log(Unload);
        }
        fn open_dxgkrnl(&mut self) -> Result<(u32, u32), NTSTATUS> {
            log(Open);
            self.open?;
            self.open_files += 1;
            Ok((7, 0xD0))
        }
        fn new_request(&mut self) -> FakeRequest {
            FakeRequest::default()
        }
        unsafe fn send_register_ioctl(
            &mut self,
            device: u32,
            request: *mut FakeRequest,
        ) -> Result<NTSTATUS, NTSTATUS> {
            log(Send);
            assert_eq!(device, 0xD0, "the IRP goes to the device that was opened");
            let sent = self.send.ok_or(STATUS_INSUFFICIENT_RESOURCES)?;
            // SAFETY: a live request (the trait's contract).
            let request = unsafe { &mut *request };
            if self.returns_routine {
                request.slot = Some(fake_dxgkrnl_init);
            }
            request.in_flight = sent == STATUS_PENDING;
            Ok(sent)
        }
        unsafe fn wait(&mut self, request: *mut FakeRequest) -> NTSTATUS {
            log(Wait);
            // SAFETY: a live request (the trait's contract).
            let request = unsafe { &mut *request };
            assert!(request.in_flight, "wait only for a pending IRP");
            request.in_flight = false;
            self.completion
        }
        unsafe fn routine(request: *const FakeRequest) -> Option<DxgkInitializeRoutine> {
            // SAFETY: a live request (the trait's contract).
            let request = unsafe { &*request };
            assert!(!request.in_flight, "the slot is read only after completion");
            request.slot
        }
        fn release(&mut self, file: u32) {
            log(Release);
            assert_eq!(file, 7, "the file object that was opened is released");
            self.open_files -= 1;
        }
    }

    fn kernel() -> FakeKernel {
        FakeKernel {
            load: STATUS_SUCCESS,
            open: Ok(()),
            send: Some(STATUS_SUCCESS),
            completion: STATUS_SUCCESS,
            returns_routine: true,
            open_files: 0,
        }
    }

    /// Runs the hand-off against `kernel`, with `init` as Dxgkrnl's verdict.
    fn run(mut kernel: FakeKernel, init: NTSTATUS) -> (NTSTATUS, Vec<Call>) {
        LOG.with(|l| l.borrow_mut().clear());
        INIT_STATUS.with(|s| *s.borrow_mut() = init);
        INIT_ARGS.with(|a| *a.borrow_mut() = None);
        let mut data = DRIVER_INITIALIZATION_DATA::zeroed();
        let mut path = UNICODE_STRING::zeroed();
        let driver_object: PDRIVER_OBJECT = core::ptr::without_provenance_mut(0x1000);
        // SAFETY: the fake kernel never dereferences the arguments, and
        // `data` and `path` outlive the call.
        let status =
            unsafe { dxgk_initialize(&mut kernel, driver_object, &raw mut path, &raw mut data) };
        assert_eq!(kernel.open_files, 0, "the file object is always released");
        (status, LOG.with(|l| l.borrow().clone()))
    }

    #[test]
    fn loads_opens_queries_initializes_then_releases() {
        assert_eq!(
            run(kernel(), STATUS_SUCCESS),
            (STATUS_SUCCESS, vec![Load, Open, Send, Init, Release])
        );
    }

    #[test]
    fn passes_the_miniport_arguments_to_dxgkrnl_untouched() {
        let mut data = DRIVER_INITIALIZATION_DATA::zeroed();
        let mut path = UNICODE_STRING::zeroed();
        let driver_object: PDRIVER_OBJECT = core::ptr::without_provenance_mut(0x1000);
        let expected = [
            driver_object.addr(),
            (&raw mut path).addr(),
            (&raw mut data).addr(),
        ];
        // SAFETY: as in `run`.
        let status =
            unsafe { dxgk_initialize(&mut kernel(), driver_object, &raw mut path, &raw mut data) };
        assert_eq!(status, STATUS_SUCCESS);
        assert_eq!(INIT_ARGS.with(|a| *a.borrow()), Some(expected));
    }

    #[test]
    fn already_loaded_dxgkrnl_counts_as_loaded_and_is_never_unloaded() {
        let loaded = || FakeKernel {
            load: STATUS_IMAGE_ALREADY_LOADED,
            ..kernel()
        };
        assert_eq!(
            run(loaded(), STATUS_SUCCESS),
            (STATUS_SUCCESS, vec![Load, Open, Send, Init, Release])
        );
        assert_eq!(
            run(loaded(), STATUS_REVISION_MISMATCH),
            (
                STATUS_REVISION_MISMATCH,
                vec![Load, Open, Send, Init, Release]
            )
        );
        let open_fails = FakeKernel {
            open: Err(STATUS_UNSUCCESSFUL),
            ..loaded()
        };
        assert_eq!(
            run(open_fails, STATUS_SUCCESS),
            (STATUS_UNSUCCESSFUL, vec![Load, Open])
        );
    }

    #[test]
    fn a_failed_load_is_returned_and_nothing_else_happens() {
        let k = FakeKernel {
            load: STATUS_UNSUCCESSFUL,
            ..kernel()
        };
        assert_eq!(run(k, STATUS_SUCCESS), (STATUS_UNSUCCESSFUL, vec![Load]));
    }

    #[test]
    fn a_pending_irp_is_waited_for_and_its_final_status_used() {
        let pending = |completion| FakeKernel {
            send: Some(STATUS_PENDING),
            completion,
            ..kernel()
        };
        assert_eq!(
            run(pending(STATUS_SUCCESS), STATUS_SUCCESS),
            (STATUS_SUCCESS, vec![Load, Open, Send, Wait, Init, Release])
        );
        assert_eq!(
            run(pending(STATUS_UNSUCCESSFUL), STATUS_SUCCESS),
            (
                STATUS_UNSUCCESSFUL,
                vec![Load, Open, Send, Wait, Release, Unload]
            )
        );
    }

    #[test]
    fn every_failure_after_our_own_load_unloads_dxgkrnl_once() {
        let open_fails = FakeKernel {
            open: Err(STATUS_UNSUCCESSFUL),
            ..kernel()
        };
        assert_eq!(
            run(open_fails, STATUS_SUCCESS),
            (STATUS_UNSUCCESSFUL, vec![Load, Open, Unload])
        );
        let no_irp = FakeKernel {
            send: None,
            ..kernel()
        };
        assert_eq!(
            run(no_irp, STATUS_SUCCESS),
            (
                STATUS_INSUFFICIENT_RESOURCES,
                vec![Load, Open, Send, Release, Unload]
            )
        );
        let ioctl_fails = FakeKernel {
            send: Some(STATUS_UNSUCCESSFUL),
            ..kernel()
        };
        assert_eq!(
            run(ioctl_fails, STATUS_SUCCESS),
            (STATUS_UNSUCCESSFUL, vec![Load, Open, Send, Release, Unload])
        );
        assert_eq!(
            run(kernel(), STATUS_REVISION_MISMATCH),
            (
                STATUS_REVISION_MISMATCH,
                vec![Load, Open, Send, Init, Release, Unload]
            ),
            "Dxgkrnl's verdict is returned"
        );
    }

    #[test]
    fn a_successful_ioctl_without_a_routine_is_procedure_not_found() {
        let k = FakeKernel {
            returns_routine: false,
            ..kernel()
        };
        assert_eq!(
            run(k, STATUS_SUCCESS),
            (
                STATUS_PROCEDURE_NOT_FOUND,
                vec![Load, Open, Send, Release, Unload]
            )
        );
    }

    #[test]
    fn null_arguments_are_refused_before_touching_the_kernel() {
        LOG.with(|l| l.borrow_mut().clear());
        let mut data = DRIVER_INITIALIZATION_DATA::zeroed();
        // SAFETY: NULL arguments are refused before any use.
        let status = unsafe {
            dxgk_initialize(
                &mut kernel(),
                core::ptr::null_mut(),
                core::ptr::null_mut(),
                &raw mut data,
            )
        };
        assert_eq!(status, STATUS_INVALID_PARAMETER);
        assert!(LOG.with(|l| l.borrow().is_empty()));
    }

    #[test]
    fn the_register_ioctl_is_0x23003f() {
        assert_eq!(IOCTL_VIDEO_DDI_FUNC_REGISTER, 0x0023_003F);
    }
}
