//! What the fake DXGKrnl imports from `ntoskrnl.exe` (raw-dylib, as the
//! miniport does) and the x64 layouts (`wdm.h`) of the I/O manager's
//! structures it reads and writes. The harness checks, before Wine starts,
//! that Wine's `ntoskrnl.exe` exports every function imported here.
//!
//! The layouts are those of the Windows x64 ABI, which Wine's headers follow
//! for binary drivers; only the fields this driver touches are named, and the
//! offsets of those are asserted below.

// WDK names; the structures are declared in full (for their layout) though
// only some fields are read.
#![allow(non_camel_case_types, clippy::upper_case_acronyms, dead_code)]

use dxgk_sys::{BOOLEAN, NTSTATUS, PDEVICE_OBJECT, PDRIVER_OBJECT, PVOID, UNICODE_STRING};

/// `PDRIVER_DISPATCH`.
pub(super) type DriverDispatch = unsafe extern "system" fn(PDEVICE_OBJECT, *mut IRP) -> NTSTATUS;
/// `PDRIVER_UNLOAD`.
pub(super) type DriverUnload = unsafe extern "system" fn(PDRIVER_OBJECT);

/// `IRP_MJ_MAXIMUM_FUNCTION + 1`.
pub(super) const IRP_MJ_COUNT: usize = 28;
/// `IRP_MJ_INTERNAL_DEVICE_CONTROL`.
pub(super) const IRP_MJ_INTERNAL_DEVICE_CONTROL: u8 = 0x0F;
/// `FILE_DEVICE_VIDEO`.
pub(super) const FILE_DEVICE_VIDEO: u32 = 0x23;
/// `IO_NO_INCREMENT`.
pub(super) const IO_NO_INCREMENT: i8 = 0;
/// `NtCurrentProcess()`.
pub(super) const NT_CURRENT_PROCESS: isize = -1;
/// `PAGE_EXECUTE_READWRITE`.
pub(super) const PAGE_EXECUTE_READWRITE: u32 = 0x40;
/// `TRUE` as a `BOOLEAN`.
pub(super) const TRUE: BOOLEAN = 1;
/// `FALSE` as a `BOOLEAN`.
pub(super) const FALSE: BOOLEAN = 0;
/// `STATUS_INVALID_DEVICE_REQUEST`.
pub(super) const STATUS_INVALID_DEVICE_REQUEST: NTSTATUS = NTSTATUS::from_u32(0xC000_0010);
/// `STATUS_OBJECT_NAME_NOT_FOUND`.
pub(super) const STATUS_OBJECT_NAME_NOT_FOUND: NTSTATUS = NTSTATUS::from_u32(0xC000_0034);

/// `DRIVER_OBJECT` (x64, 0x150 bytes).
#[repr(C)]
pub(super) struct DRIVER_OBJECT {
    pub(super) Type: i16,
    pub(super) Size: i16,
    pub(super) DeviceObject: PDEVICE_OBJECT,
    pub(super) Flags: u32,
    pub(super) DriverStart: PVOID,
    pub(super) DriverSize: u32,
    pub(super) DriverSection: PVOID,
    pub(super) DriverExtension: PVOID,
    pub(super) DriverName: UNICODE_STRING,
    pub(super) HardwareDatabase: *mut UNICODE_STRING,
    pub(super) FastIoDispatch: PVOID,
    pub(super) DriverInit: PVOID,
    pub(super) DriverStartIo: PVOID,
    pub(super) DriverUnload: Option<DriverUnload>,
    pub(super) MajorFunction: [Option<DriverDispatch>; IRP_MJ_COUNT],
}

/// `IO_STATUS_BLOCK`.
#[repr(C)]
pub(super) struct IO_STATUS_BLOCK {
    pub(super) Status: NTSTATUS,
    pub(super) Information: usize,
}

/// `IRP` (x64, 0xD0 bytes), with `Tail.Overlay` flattened.
#[repr(C)]
pub(super) struct IRP {
    pub(super) Type: i16,
    pub(super) Size: u16,
    pub(super) AllocationProcessorNumber: u16,
    pub(super) Reserved: u16,
    pub(super) MdlAddress: PVOID,
    pub(super) Flags: u32,
    pub(super) AssociatedIrp: PVOID,
    pub(super) ThreadListEntry: [PVOID; 2],
    pub(super) IoStatus: IO_STATUS_BLOCK,
    pub(super) RequestorMode: i8,
    pub(super) PendingReturned: BOOLEAN,
    pub(super) StackCount: i8,
    pub(super) CurrentLocation: i8,
    pub(super) Cancel: BOOLEAN,
    pub(super) CancelIrql: u8,
    pub(super) ApcEnvironment: i8,
    pub(super) AllocationFlags: u8,
    pub(super) UserIosb: *mut IO_STATUS_BLOCK,
    pub(super) UserEvent: PVOID,
    pub(super) Overlay: [PVOID; 2],
    pub(super) CancelRoutine: PVOID,
    /// METHOD_NEITHER: the caller's output buffer.
    pub(super) UserBuffer: PVOID,
    pub(super) DriverContext: [PVOID; 4],
    pub(super) Thread: PVOID,
    pub(super) AuxiliaryBuffer: PVOID,
    pub(super) ListEntry: [PVOID; 2],
    pub(super) CurrentStackLocation: *mut IO_STACK_LOCATION,
    pub(super) OriginalFileObject: PVOID,
    pub(super) IrpExtension: PVOID,
}

/// `IO_STACK_LOCATION` (x64, 0x48 bytes), with the `DeviceIoControl` view
/// of its `Parameters` union (each ULONG is POINTER_ALIGNMENT on x64).
#[repr(C)]
pub(super) struct IO_STACK_LOCATION {
    pub(super) MajorFunction: u8,
    pub(super) MinorFunction: u8,
    pub(super) Flags: u8,
    pub(super) Control: u8,
    /// `Parameters` is pointer-aligned.
    _pad: u32,
    pub(super) OutputBufferLength: u32,
    _pad0: u32,
    pub(super) InputBufferLength: u32,
    _pad1: u32,
    pub(super) IoControlCode: u32,
    _pad2: u32,
    pub(super) Type3InputBuffer: PVOID,
    pub(super) DeviceObject: PDEVICE_OBJECT,
    pub(super) FileObject: PVOID,
    pub(super) CompletionRoutine: PVOID,
    pub(super) Context: PVOID,
}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<DRIVER_OBJECT>() == 0x150);
    assert!(offset_of!(DRIVER_OBJECT, DriverUnload) == 0x68);
    assert!(offset_of!(DRIVER_OBJECT, MajorFunction) == 0x70);
    assert!(size_of::<IRP>() == 0xD0);
    assert!(offset_of!(IRP, IoStatus) == 0x30);
    assert!(offset_of!(IRP, UserBuffer) == 0x70);
    assert!(offset_of!(IRP, CurrentStackLocation) == 0xB8);
    assert!(size_of::<IO_STACK_LOCATION>() == 0x48);
    assert!(offset_of!(IO_STACK_LOCATION, OutputBufferLength) == 0x08);
    assert!(offset_of!(IO_STACK_LOCATION, InputBufferLength) == 0x10);
    assert!(offset_of!(IO_STACK_LOCATION, IoControlCode) == 0x18);
    assert!(offset_of!(IO_STACK_LOCATION, Type3InputBuffer) == 0x20);
    assert!(offset_of!(IO_STACK_LOCATION, DeviceObject) == 0x28);
    assert!(offset_of!(IO_STACK_LOCATION, FileObject) == 0x30);
};

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    pub(super) fn IoCreateDevice(
        DriverObject: *mut DRIVER_OBJECT,
        DeviceExtensionSize: u32,
        DeviceName: *mut UNICODE_STRING,
        DeviceType: u32,
        DeviceCharacteristics: u32,
        Exclusive: BOOLEAN,
        DeviceObject: *mut PDEVICE_OBJECT,
    ) -> NTSTATUS;
    pub(super) fn IoDeleteDevice(DeviceObject: PDEVICE_OBJECT);
    /// `IoCompleteRequest` is a macro over this export.
    pub(super) fn IofCompleteRequest(Irp: *mut IRP, PriorityBoost: i8);
    /// `ObReferenceObject` is a macro over this export.
    pub(super) fn ObfReferenceObject(Object: PVOID) -> isize;
    pub(super) fn RtlEqualUnicodeString(
        String1: *const UNICODE_STRING,
        String2: *const UNICODE_STRING,
        CaseInSensitive: BOOLEAN,
    ) -> BOOLEAN;
    pub(super) fn MmGetSystemRoutineAddress(SystemRoutineName: *mut UNICODE_STRING) -> PVOID;
    pub(super) fn ZwProtectVirtualMemory(
        ProcessHandle: isize,
        BaseAddress: *mut PVOID,
        RegionSize: *mut usize,
        NewProtect: u32,
        OldProtect: *mut u32,
    ) -> NTSTATUS;
    pub(super) fn KeBugCheckEx(
        BugCheckCode: u32,
        BugCheckParameter1: usize,
        BugCheckParameter2: usize,
        BugCheckParameter3: usize,
        BugCheckParameter4: usize,
    ) -> !;
}

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "C" {
    pub(super) fn DbgPrint(Format: *const u8, ...) -> u32;
}
