//! Everything the WDK-free image imports: functions of `ntoskrnl.exe` only,
//! declared with `raw-dylib` so that no import library (and no WDK) is
//! needed to link. `+verbatim` keeps the DLL name as written (without it the
//! import would name `ntoskrnl.exe.dll`).
//!
//! The image test (`cargo xtask package`) fails if the image imports
//! anything else, from any other DLL. `ExAllocatePool2` is deliberately not
//! here: it is resolved at load time (see `pool`), so the image also loads
//! where it is missing.

// Names as in the WDK headers.
#![allow(non_camel_case_types, clippy::upper_case_acronyms)]

use core::ffi::c_void;

use dxgk_sys::{BOOLEAN, LARGE_INTEGER, NTSTATUS, PDEVICE_OBJECT, PVOID, UNICODE_STRING};

/// `PFILE_OBJECT`: only passed through.
pub(super) type PFILE_OBJECT = *mut c_void;
/// `PIRP`: only passed through.
pub(super) type PIRP = *mut c_void;

/// `KEVENT`: a dispatcher header, opaque here. The kernel links it into wait
/// lists, so an initialised event must not move.
#[repr(C, align(8))]
pub(super) struct KEVENT {
    opaque: [u8; 24],
}

impl KEVENT {
    /// Storage for an event, before `KeInitializeEvent`.
    pub(super) const fn uninitialized() -> Self {
        Self { opaque: [0; 24] }
    }
}

/// `IO_STATUS_BLOCK`. `Status` shares its 8 bytes with `Pointer` in the
/// header's union; only `Status` is read.
#[repr(C)]
pub(super) struct IO_STATUS_BLOCK {
    /// The completed request's status.
    pub(super) Status: NTSTATUS,
    /// Request-specific (bytes transferred).
    pub(super) Information: usize,
}

const _: () = {
    assert!(core::mem::size_of::<KEVENT>() == 0x18);
    assert!(core::mem::size_of::<IO_STATUS_BLOCK>() == 0x10);
    assert!(core::mem::offset_of!(IO_STATUS_BLOCK, Information) == 8);
};

/// `NonPagedPoolNx` (POOL_TYPE): non-paged, not executable.
pub(super) const NON_PAGED_POOL_NX: i32 = 512;
/// `POOL_FLAG_NON_PAGED` (POOL_FLAGS): non-paged, not executable.
pub(super) const POOL_FLAG_NON_PAGED: u64 = 0x40;
/// `FILE_ALL_ACCESS`.
pub(super) const FILE_ALL_ACCESS: u32 = 0x001F_01FF;
/// `NotificationEvent` (EVENT_TYPE).
pub(super) const NOTIFICATION_EVENT: i32 = 0;
/// `Executive` (KWAIT_REASON).
pub(super) const EXECUTIVE: i32 = 0;
/// `KernelMode` (KPROCESSOR_MODE).
pub(super) const KERNEL_MODE: i8 = 0;
/// `TRUE` as a `BOOLEAN`.
pub(super) const TRUE: BOOLEAN = 1;
/// `FALSE` as a `BOOLEAN`.
pub(super) const FALSE: BOOLEAN = 0;

/// `ExAllocatePool2`'s signature, for the address `MmGetSystemRoutineAddress` returns.
pub(super) type ExAllocatePool2Fn =
    unsafe extern "system" fn(Flags: u64, NumberOfBytes: usize, Tag: u32) -> PVOID;

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    pub(super) fn ExAllocatePoolWithTag(PoolType: i32, NumberOfBytes: usize, Tag: u32) -> PVOID;
    pub(super) fn ExFreePoolWithTag(P: PVOID, Tag: u32);
    pub(super) fn MmGetSystemRoutineAddress(SystemRoutineName: *mut UNICODE_STRING) -> PVOID;
    pub(super) fn KeBugCheckEx(
        BugCheckCode: u32,
        BugCheckParameter1: usize,
        BugCheckParameter2: usize,
        BugCheckParameter3: usize,
        BugCheckParameter4: usize,
    ) -> !;

    pub(super) fn ZwLoadDriver(DriverServiceName: *mut UNICODE_STRING) -> NTSTATUS;
    pub(super) fn ZwUnloadDriver(DriverServiceName: *mut UNICODE_STRING) -> NTSTATUS;
    pub(super) fn IoGetDeviceObjectPointer(
        ObjectName: *mut UNICODE_STRING,
        DesiredAccess: u32,
        FileObject: *mut PFILE_OBJECT,
        DeviceObject: *mut PDEVICE_OBJECT,
    ) -> NTSTATUS;
    pub(super) fn IoBuildDeviceIoControlRequest(
        IoControlCode: u32,
        DeviceObject: PDEVICE_OBJECT,
        InputBuffer: PVOID,
        InputBufferLength: u32,
        OutputBuffer: PVOID,
        OutputBufferLength: u32,
        InternalDeviceIoControl: BOOLEAN,
        Event: *mut KEVENT,
        IoStatusBlock: *mut IO_STATUS_BLOCK,
    ) -> PIRP;
    /// `IoCallDriver` is a macro over this export.
    pub(super) fn IofCallDriver(DeviceObject: PDEVICE_OBJECT, Irp: PIRP) -> NTSTATUS;
    pub(super) fn KeInitializeEvent(Event: *mut KEVENT, Type: i32, State: BOOLEAN);
    pub(super) fn KeWaitForSingleObject(
        Object: PVOID,
        WaitReason: i32,
        WaitMode: i8,
        Alertable: BOOLEAN,
        Timeout: *mut LARGE_INTEGER,
    ) -> NTSTATUS;
    /// `ObDereferenceObject` is a macro over this export.
    pub(super) fn ObfDereferenceObject(Object: PVOID) -> isize;
}

// The executive-resource routines behind the driver's lock
// (`crate::kernel::resource`); all exported by every x64 Windows and by Wine.
#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    pub(crate) fn ExInitializeResourceLite(Resource: *mut c_void) -> NTSTATUS;
    pub(crate) fn ExDeleteResourceLite(Resource: *mut c_void) -> NTSTATUS;
    pub(crate) fn ExAcquireResourceSharedLite(Resource: *mut c_void, Wait: BOOLEAN) -> BOOLEAN;
    pub(crate) fn ExAcquireResourceExclusiveLite(Resource: *mut c_void, Wait: BOOLEAN) -> BOOLEAN;
    pub(crate) fn ExReleaseResourceLite(Resource: *mut c_void);
    pub(crate) fn KeEnterCriticalRegion();
    pub(crate) fn KeLeaveCriticalRegion();
}

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "C" {
    pub(super) fn DbgPrintEx(ComponentId: u32, Level: u32, Format: *const u8, ...) -> u32;
}
