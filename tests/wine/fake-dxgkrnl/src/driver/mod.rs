//! The kernel driver: `DriverEntry`, the device, its dispatch routines, the
//! redirection, unload, debug output and the panic handler. Windows targets only.

mod nt;
mod redirect;

use core::ffi::c_void;
use core::fmt::Write as _;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, Ordering};

use dxgk_sys::{
    DRIVER_INITIALIZATION_DATA, NTSTATUS, PDEVICE_OBJECT, PDRIVER_OBJECT, STATUS_INVALID_PARAMETER,
    STATUS_SUCCESS, UNICODE_STRING,
};

use self::nt::{
    DRIVER_OBJECT, DbgPrint, DriverDispatch, FALSE, FILE_DEVICE_VIDEO, IO_NO_INCREMENT,
    IO_STATUS_BLOCK, IRP, IRP_MJ_COUNT, IRP_MJ_INTERNAL_DEVICE_CONTROL, IoCreateDevice,
    IoDeleteDevice, IofCompleteRequest, KeBugCheckEx, STATUS_INVALID_DEVICE_REQUEST,
};
use crate::kernel::line_buffer::LineBuffer;
use crate::kernel::nt_string::NtString;
use crate::tally::Tally;
use crate::{fixture, role};

/// Checks this module makes before the fixture's sequence: the device, the
/// redirection, the redirected call and the device control.
const DRIVER_CHECKS: u32 = 4;
/// Every check of a run.
const PLANNED: u32 = DRIVER_CHECKS + fixture::SEQUENCE_CHECKS;

/// `CTL_CODE(FILE_DEVICE_VIDEO, 0xF, METHOD_NEITHER, FILE_ANY_ACCESS)`.
const IOCTL_VIDEO_DDI_FUNC_REGISTER: u32 = 0x0023_003F;
/// Dxgkrnl's device.
const DEVICE_NAME: &[u8; 15] = br"\Device\DxgKrnl";
/// Bug check code of a panic in this fixture ("FAKE").
const BUGCHECK_FIXTURE_PANIC: u32 = 0x4641_4B45;

unsafe extern "C" {
    /// The linker-defined symbol at the first byte of this image (its DOS
    /// header), wherever the loader placed it.
    static __ImageBase: u8;
}

/// The checks of this run, written with `DbgPrint`.
static TALLY: Tally = Tally::new(dbg_print);
/// `\Device\DxgKrnl`, once created.
static DEVICE: AtomicPtr<c_void> = AtomicPtr::new(null_mut());

/// One line through `DbgPrint`, formatted on the stack (Wine shows it on
/// the session's stderr with `WINEDEBUG=warn+debugstr`).
fn dbg_print(args: core::fmt::Arguments<'_>) {
    let mut line = LineBuffer::<512>::new();
    let _ = writeln!(line, "{args}");
    // SAFETY: `line` is a NUL-terminated C string that outlives the call, and
    // the format consumes exactly one `char *` argument.
    unsafe { DbgPrint(c"%s".as_ptr().cast(), line.as_c_str().as_ptr()) };
}

/// The driver's entry point, called by Wine's `ZwLoadDriver` (from the
/// miniport's `DxgkInitialize`).
///
/// # Safety
/// Called once per load by the I/O manager with its driver object.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn DriverEntry(
    DriverObject: PDRIVER_OBJECT,
    RegistryPath: *mut UNICODE_STRING,
) -> NTSTATUS {
    let driver = DriverObject.cast::<DRIVER_OBJECT>();
    if driver.is_null() || RegistryPath.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: the I/O manager's live registry path string.
    let path = unsafe { RegistryPath.read() };
    let units = if path.Buffer.is_null() {
        &[][..]
    } else {
        // SAFETY: `Buffer` holds `Length` bytes of UTF-16, alive during DriverEntry.
        unsafe { core::slice::from_raw_parts(path.Buffer, usize::from(path.Length / 2)) }
    };
    // Taking the address of the linker's symbol reads nothing.
    let base = &raw const __ImageBase;
    if !role::names_service(units, role::DXGKRNL_SERVICE) {
        TALLY.note(format_args!(
            "placeholder image base {base:p}: held so that the next drivers are relocated"
        ));
        // SAFETY: the I/O manager's live driver object, ours to fill in DriverEntry.
        unsafe { (*driver).DriverUnload = Some(unload_placeholder) };
        return STATUS_SUCCESS;
    }
    TALLY.plan(PLANNED);
    let mut major: [Option<DriverDispatch>; IRP_MJ_COUNT] =
        [Some(dispatch_unsupported); IRP_MJ_COUNT];
    if let Some(slot) = major.get_mut(usize::from(IRP_MJ_INTERNAL_DEVICE_CONTROL)) {
        *slot = Some(dispatch_internal_device_control);
    }
    // SAFETY: the I/O manager's live driver object, ours to fill in DriverEntry.
    unsafe { (*driver).MajorFunction = major };
    // SAFETY: the I/O manager's live driver object; its unload routine is
    // ours to set in DriverEntry.
    unsafe { (*driver).DriverUnload = Some(unload) };

    let mut name = NtString::new(DEVICE_NAME);
    let mut name = name.as_unicode_string();
    let mut device: PDEVICE_OBJECT = null_mut();
    // SAFETY: PASSIVE_LEVEL; the driver object is live, `name` a live string
    // and `device` a writable out-parameter.
    let status = unsafe {
        IoCreateDevice(
            driver,
            0,
            &raw mut name,
            FILE_DEVICE_VIDEO,
            0,
            FALSE,
            &raw mut device,
        )
    };
    if !TALLY.check(
        status == STATUS_SUCCESS && !device.is_null(),
        format_args!("IoCreateDevice(\\Device\\DxgKrnl, FILE_DEVICE_VIDEO): {status:?}"),
    ) {
        return if status.is_success() {
            STATUS_INVALID_PARAMETER
        } else {
            status
        };
    }
    DEVICE.store(device, Ordering::Release);

    let redirected = redirect::install();
    TALLY.check(
        redirected.is_ok(),
        format_args!(
            "Wine's IoGetDeviceObjectPointer redirected to this driver's lookup (test fixture only): {redirected:?}"
        ),
    );
    if let Err(status) = redirected {
        DEVICE.store(null_mut(), Ordering::Release);
        // SAFETY: the device created above, not yet known to anyone.
        unsafe { IoDeleteDevice(device) };
        return status;
    }
    TALLY.note(format_args!(
        "image base {base:p}; waiting for IOCTL_VIDEO_DDI_FUNC_REGISTER"
    ));
    STATUS_SUCCESS
}

/// Completes `irp` with `status` and `information`.
///
/// # Safety
/// `irp` is an IRP this driver owns (being dispatched to it); it is freed by
/// the completion and must not be used afterwards.
unsafe fn complete(irp: *mut IRP, status: NTSTATUS, information: usize) -> NTSTATUS {
    // SAFETY: a live IRP being dispatched to this driver (contract).
    unsafe {
        (*irp).IoStatus = IO_STATUS_BLOCK {
            Status: status,
            Information: information,
        }
    };
    // SAFETY: a live IRP dispatched to this driver (contract), completed
    // once here; the I/O manager takes it back and it is not used after.
    unsafe { IofCompleteRequest(irp, IO_NO_INCREMENT) };
    status
}

/// `IRP_MJ_INTERNAL_DEVICE_CONTROL`: answers `IOCTL_VIDEO_DDI_FUNC_REGISTER`
/// (METHOD_NEITHER: the output buffer is `Irp->UserBuffer`) with the address
/// of [`initialize`], as Dxgkrnl answers displib.
///
/// # Safety
/// Called by the I/O manager with a live IRP whose current stack location
/// is this driver's.
unsafe extern "system" fn dispatch_internal_device_control(
    _DeviceObject: PDEVICE_OBJECT,
    Irp: *mut IRP,
) -> NTSTATUS {
    // SAFETY: a live IRP (contract).
    let stack = unsafe { (*Irp).CurrentStackLocation };
    // SAFETY: the current stack location of a live IRP: plain data, copied.
    let stack = unsafe { stack.read() };
    // SAFETY: a live IRP (contract).
    let output = unsafe { (*Irp).UserBuffer };
    let routine: fixture::InitializeRoutine = initialize;
    let wanted = stack.MajorFunction == IRP_MJ_INTERNAL_DEVICE_CONTROL
        && stack.IoControlCode == IOCTL_VIDEO_DDI_FUNC_REGISTER;
    let fits = stack.OutputBufferLength >= 8 && !output.is_null();
    TALLY.check(
        wanted && fits,
        format_args!(
            "IRP_MJ_INTERNAL_DEVICE_CONTROL {:#x} (IOCTL_VIDEO_DDI_FUNC_REGISTER, METHOD_NEITHER): {}-byte output at Irp->UserBuffer {output:p}, {}-byte input, FileObject {:p}",
            stack.IoControlCode, stack.OutputBufferLength, stack.InputBufferLength, stack.FileObject
        ),
    );
    if !(wanted && fits) {
        // SAFETY: the IRP being dispatched, not used afterwards.
        return unsafe { complete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0) };
    }
    // SAFETY: METHOD_NEITHER from kernel mode: `UserBuffer` is the caller's
    // output buffer, writable for `OutputBufferLength` (>= 8) bytes.
    unsafe {
        output
            .cast::<Option<fixture::InitializeRoutine>>()
            .write_unaligned(Some(routine))
    };
    // SAFETY: the IRP being dispatched, completed once and not used
    // afterwards.
    unsafe { complete(Irp, STATUS_SUCCESS, 8) }
}

/// Every other major function: not supported.
///
/// # Safety
/// As for [`dispatch_internal_device_control`].
unsafe extern "system" fn dispatch_unsupported(
    _DeviceObject: PDEVICE_OBJECT,
    Irp: *mut IRP,
) -> NTSTATUS {
    // SAFETY: a live IRP (contract).
    let stack = unsafe { (*Irp).CurrentStackLocation };
    // SAFETY: the current stack location of a live IRP: plain data, copied.
    let major = unsafe { (*stack).MajorFunction };
    TALLY.note(format_args!("IRP major function {major:#x} refused"));
    // SAFETY: the IRP being dispatched, not used afterwards.
    unsafe { complete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0) }
}

/// Dxgkrnl's initialization routine, returned by the device control.
///
/// # Safety
/// Called by the miniport's `DxgkInitialize` with its arguments.
unsafe extern "system" fn initialize(
    DriverObject: PDRIVER_OBJECT,
    RegistryPath: *mut UNICODE_STRING,
    DriverInitializationData: *mut DRIVER_INITIALIZATION_DATA,
) -> NTSTATUS {
    // SAFETY: the miniport passes its live table (this routine's contract).
    unsafe {
        fixture::dxgk_initialize(
            &TALLY,
            PLANNED,
            DriverObject,
            RegistryPath,
            DriverInitializationData,
        )
    }
}

/// `DriverUnload`: restores Wine's function and deletes the device.
///
/// # Safety
/// Called once by the I/O manager when the driver unloads.
unsafe extern "system" fn unload(_DriverObject: PDRIVER_OBJECT) {
    redirect::remove();
    let device = DEVICE.swap(null_mut(), Ordering::AcqRel);
    if !device.is_null() {
        // SAFETY: the device created in DriverEntry; nothing uses it any more.
        unsafe { IoDeleteDevice(device) };
    }
}

/// `DriverUnload` of the placeholder: it holds nothing.
///
/// # Safety
/// Called once by the I/O manager when the driver unloads.
unsafe extern "system" fn unload_placeholder(_DriverObject: PDRIVER_OBJECT) {}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let (line, file) = info.location().map_or((0, ""), |l| (l.line(), l.file()));
    TALLY.note(format_args!("PANIC at {file}:{line}"));
    // SAFETY: a broken invariant in a kernel driver ends in a bug check;
    // the parameter is a plain integer.
    unsafe {
        KeBugCheckEx(
            BUGCHECK_FIXTURE_PANIC,
            usize::try_from(line).unwrap_or(0),
            0,
            0,
            0,
        )
    }
}
