//! The redirection of Wine's `IoGetDeviceObjectPointer` to a lookup of this
//! driver's device. Test fixture only: nothing like it exists on Windows.
//!
//! Why: the miniport's `DxgkInitialize` opens `\Device\DxgKrnl` with
//! `IoGetDeviceObjectPointer`, as displib does. Wine 8's
//! `IoGetDeviceObjectPointer` is a stub: whatever the name, it returns a
//! static device of its own, whose driver has no dispatch routines, and a
//! NULL file object. The miniport rightly rejects that (no file object to
//! release), and even a device control sent to that device would call a NULL
//! dispatch routine. So, for the smoke test, this driver makes the one Wine
//! function do what Windows does for the one name it serves.
//!
//! How: at load, the first [`JUMP_LEN`] bytes of Wine's
//! `IoGetDeviceObjectPointer` (its address from `MmGetSystemRoutineAddress`,
//! the same export the miniport's import table points to) are overwritten with
//! an absolute jump to [`io_get_device_object_pointer`], with the page made
//! writable by `ZwProtectVirtualMemory` for the write and its protection
//! restored after. Both drivers run in one `winedevice.exe` process (they
//! share a service group), so the miniport's call lands here. Unload writes
//! the original bytes back.
//!
//! The lookup answers `\Device\DxgKrnl` (case-insensitively) with this
//! driver's device object, and as the "file object" the same device object
//! with one more reference (`ObfReferenceObject`): the miniport only passes
//! the file object to `ObfDereferenceObject`, which then drops exactly that
//! reference. Any other name is `STATUS_OBJECT_NAME_NOT_FOUND`.

use core::ffi::c_void;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, AtomicU8, Ordering};

use dxgk_sys::{
    NTSTATUS, PDEVICE_OBJECT, PVOID, STATUS_SUCCESS, STATUS_UNSUCCESSFUL, UNICODE_STRING,
};

use super::nt::{
    MmGetSystemRoutineAddress, NT_CURRENT_PROCESS, ObfReferenceObject, PAGE_EXECUTE_READWRITE,
    RtlEqualUnicodeString, STATUS_OBJECT_NAME_NOT_FOUND, TRUE, ZwProtectVirtualMemory,
};
use super::{DEVICE, DEVICE_NAME, TALLY};
use crate::jump::{JUMP_LEN, absolute_jump};
use crate::kernel::nt_string::NtString;

/// The patched function, NULL while no redirection is installed.
static PATCHED: AtomicPtr<u8> = AtomicPtr::new(null_mut());
/// The bytes the jump replaced.
static ORIGINAL: [AtomicU8; JUMP_LEN] = [const { AtomicU8::new(0) }; JUMP_LEN];

/// Signature of `IoGetDeviceObjectPointer`.
type IoGetDeviceObjectPointerFn = unsafe extern "system" fn(
    *mut UNICODE_STRING,
    u32,
    *mut PVOID,
    *mut PDEVICE_OBJECT,
) -> NTSTATUS;

/// Overwrites `JUMP_LEN` bytes of code at `at` with `bytes`.
///
/// # Safety
/// `at` is the start of a function of at least `JUMP_LEN` bytes that no
/// thread is executing.
unsafe fn write_code(at: *mut u8, bytes: &[u8; JUMP_LEN]) -> NTSTATUS {
    let mut base: PVOID = at.cast();
    let mut size = JUMP_LEN;
    let mut old = 0_u32;
    // SAFETY: changes the protection of the pages holding `at..at+JUMP_LEN`
    // (the call rounds the range out to pages); all out-pointers are locals.
    let status = unsafe {
        ZwProtectVirtualMemory(
            NT_CURRENT_PROCESS,
            &raw mut base,
            &raw mut size,
            PAGE_EXECUTE_READWRITE,
            &raw mut old,
        )
    };
    if !status.is_success() {
        return status;
    }
    // SAFETY: the range is now writable, and no thread runs it (contract).
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), at, JUMP_LEN) };
    let mut ignored = 0_u32;
    // SAFETY: restores the protection on the rounded range found above.
    unsafe {
        ZwProtectVirtualMemory(
            NT_CURRENT_PROCESS,
            &raw mut base,
            &raw mut size,
            old,
            &raw mut ignored,
        )
    }
}

/// Installs the redirection; returns the patched address.
///
/// # Errors
/// `STATUS_UNSUCCESSFUL` if the kernel does not export the function, or the
/// status of the protection change.
pub(super) fn install() -> Result<*mut u8, NTSTATUS> {
    let mut name = NtString::new(b"IoGetDeviceObjectPointer");
    let mut name = name.as_unicode_string();
    // SAFETY: PASSIVE_LEVEL (DriverEntry); `name` is a live string read only.
    let at = unsafe { MmGetSystemRoutineAddress(&raw mut name) }.cast::<u8>();
    if at.is_null() {
        return Err(STATUS_UNSUCCESSFUL);
    }
    for (i, saved) in ORIGINAL.iter().enumerate() {
        // SAFETY: `at` starts a function longer than JUMP_LEN bytes (Wine's
        // IoGetDeviceObjectPointer logs, then fills two structures), so
        // `at + i` for `i < JUMP_LEN` is readable code.
        saved.store(unsafe { at.wrapping_add(i).read() }, Ordering::Relaxed);
    }
    let replacement: IoGetDeviceObjectPointerFn = io_get_device_object_pointer;
    let target = u64::try_from(replacement as usize).unwrap_or(0);
    // SAFETY: `at` starts a function longer than JUMP_LEN bytes (see the
    // reads above), and no thread is executing it: DriverEntry runs before
    // any other driver of this process calls the function (the miniport
    // waits in ZwLoadDriver).
    let status = unsafe { write_code(at, &absolute_jump(target)) };
    if !status.is_success() {
        return Err(status);
    }
    PATCHED.store(at, Ordering::Release);
    Ok(at)
}

/// Writes the original bytes back, if the redirection is installed.
pub(super) fn remove() {
    let at = PATCHED.swap(null_mut(), Ordering::AcqRel);
    if at.is_null() {
        return;
    }
    let original = core::array::from_fn(|i| {
        ORIGINAL
            .get(i)
            .map_or(0, |saved| saved.load(Ordering::Relaxed))
    });
    // SAFETY: `at` is the function patched by `install`; at unload no
    // driver of the process calls it any more.
    let _ = unsafe { write_code(at, &original) };
}

/// What Wine's `IoGetDeviceObjectPointer` does while redirected (see the
/// module documentation).
///
/// # Safety
/// As for `IoGetDeviceObjectPointer`: `ObjectName` is a valid string and the
/// out-pointers are writable.
unsafe extern "system" fn io_get_device_object_pointer(
    ObjectName: *mut UNICODE_STRING,
    DesiredAccess: u32,
    FileObject: *mut PVOID,
    DeviceObject: *mut PDEVICE_OBJECT,
) -> NTSTATUS {
    let device: *mut c_void = DEVICE.load(Ordering::Acquire);
    let mut ours = NtString::new(DEVICE_NAME);
    let ours = ours.as_unicode_string();
    let named_ours = !ObjectName.is_null()
        // SAFETY: both strings are valid for reads (the caller's and ours).
        && unsafe { RtlEqualUnicodeString(ObjectName, &raw const ours, TRUE) } != 0;
    let usable =
        named_ours && !device.is_null() && !FileObject.is_null() && !DeviceObject.is_null();
    TALLY.check(
        usable,
        format_args!(
            "IoGetDeviceObjectPointer(\\Device\\DxgKrnl, access {DesiredAccess:#x}) reached the redirection: {}",
            if usable { "our device, referenced as the file object" } else { "not our device" }
        ),
    );
    if !usable {
        return STATUS_OBJECT_NAME_NOT_FOUND;
    }
    // SAFETY: `device` is this driver's live device object (created in
    // DriverEntry, deleted only at unload).
    unsafe { ObfReferenceObject(device) };
    // SAFETY: checked non-NULL; writable by the routine's contract.
    unsafe { FileObject.write(device) };
    // SAFETY: `DeviceObject` checked non-NULL; writable by the routine's
    // contract, like `FileObject`.
    unsafe { DeviceObject.write(device) };
    STATUS_SUCCESS
}
