//! Windows base types (`ntdef.h`, `wdm.h` subset), by width.
//!
//! `ULONG`/`UINT` are 32-bit on Windows in every data model; `c_ulong` is not
//! (it is 64-bit on x86_64 Linux), so it is never used here.

use core::ffi::c_void;

/// `UCHAR`, `BYTE`.
pub type UCHAR = u8;
/// `BYTE`.
pub type BYTE = u8;
/// `BOOLEAN`: a byte, 0 = FALSE, anything else = TRUE. Not Rust's `bool`,
/// for which any byte other than 0 or 1 would be undefined behaviour.
pub type BOOLEAN = u8;
/// `USHORT`.
pub type USHORT = u16;
/// `WCHAR`: one UTF-16 code unit.
pub type WCHAR = u16;
/// `INT16`.
pub type INT16 = i16;
/// `ULONG`: 32 bits on Windows.
pub type ULONG = u32;
/// `LONG`: 32 bits on Windows.
pub type LONG = i32;
/// `UINT`.
pub type UINT = u32;
/// `INT`.
pub type INT = i32;
/// `UINT32`.
pub type UINT32 = u32;
/// `UINT64`.
pub type UINT64 = u64;
/// `ULONG64`.
pub type ULONG64 = u64;
/// `ULONGLONG`.
pub type ULONGLONG = u64;
/// `LONGLONG`.
pub type LONGLONG = i64;
/// `SIZE_T`: pointer-sized unsigned.
pub type SIZE_T = usize;
/// `ULONG_PTR`: pointer-sized unsigned.
pub type ULONG_PTR = usize;
/// `PVOID`.
pub type PVOID = *mut c_void;
/// `HANDLE`: an opaque pointer-sized value; never dereferenced by the receiver.
pub type HANDLE = *mut c_void;
/// `D3DGPU_VIRTUAL_ADDRESS`.
pub type D3DGPU_VIRTUAL_ADDRESS = u64;
/// `PDEVICE_OBJECT`: the driver only passes it through.
pub type PDEVICE_OBJECT = *mut c_void;
/// `PDRIVER_OBJECT`: the driver only passes it through.
pub type PDRIVER_OBJECT = *mut c_void;
/// `PCM_RESOURCE_LIST`: the driver only passes it through.
pub type PCM_RESOURCE_LIST = *mut c_void;
/// `PWCH`.
pub type PWCH = *mut WCHAR;

/// `NTSTATUS`: negative values are errors, 0..=0x3FFF_FFFF success,
/// 0x4000_0000..0x7FFF_FFFF informational, 0x8000_0000.. warnings (also negative).
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NTSTATUS(pub i32);

impl NTSTATUS {
    /// `NT_SUCCESS()`: success and informational codes.
    #[must_use]
    pub const fn is_success(self) -> bool {
        self.0 >= 0
    }

    /// The code as the unsigned 32-bit value headers and debuggers print.
    #[must_use]
    pub const fn as_u32(self) -> u32 {
        u32::from_ne_bytes(self.0.to_ne_bytes())
    }

    /// An NTSTATUS from its unsigned 32-bit spelling (`0xC000000D`).
    #[must_use]
    pub const fn from_u32(code: u32) -> Self {
        Self(i32::from_ne_bytes(code.to_ne_bytes()))
    }
}

impl core::fmt::Debug for NTSTATUS {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match crate::ntstatus_name(*self) {
            Some(name) => write!(f, "{name}(0x{:08x})", self.as_u32()),
            None => write!(f, "NTSTATUS(0x{:08x})", self.as_u32()),
        }
    }
}

// SAFETY: a transparent newtype over i32; zero (STATUS_SUCCESS) is valid.
unsafe impl crate::abi::Zeroable for NTSTATUS {}

crate::records! {
    /// `GUID`.
    pub struct GUID {
        /// First group (8 hex digits).
        pub Data1: u32,
        /// Second group.
        pub Data2: u16,
        /// Third group.
        pub Data3: u16,
        /// Last 8 bytes.
        pub Data4: [u8; 8],
    }

    /// `LUID`: a locally unique 64-bit identifier.
    pub struct LUID {
        /// Low 32 bits.
        pub LowPart: ULONG,
        /// High 32 bits.
        pub HighPart: LONG,
    }

    /// `UNICODE_STRING`: counted UTF-16, lengths in bytes, not NUL-terminated.
    pub struct UNICODE_STRING {
        /// Bytes used.
        pub Length: USHORT,
        /// Bytes allocated.
        pub MaximumLength: USHORT,
        /// The UTF-16 code units.
        pub Buffer: PWCH,
    }

    /// `LARGE_INTEGER`, through its `QuadPart` view (the `LowPart`/`HighPart`
    /// view is the same 8 bytes).
    pub struct LARGE_INTEGER {
        /// The 64-bit value.
        pub QuadPart: LONGLONG,
    }
}

impl GUID {
    /// A GUID from its registry spelling's four groups.
    #[must_use]
    pub const fn new(data1: u32, data2: u16, data3: u16, data4: [u8; 8]) -> Self {
        Self {
            Data1: data1,
            Data2: data2,
            Data3: data3,
            Data4: data4,
        }
    }
}

impl PartialEq for GUID {
    fn eq(&self, other: &Self) -> bool {
        self.Data1 == other.Data1
            && self.Data2 == other.Data2
            && self.Data3 == other.Data3
            && self.Data4 == other.Data4
    }
}
impl Eq for GUID {}

impl PartialEq for LUID {
    fn eq(&self, other: &Self) -> bool {
        self.LowPart == other.LowPart && self.HighPart == other.HighPart
    }
}
impl Eq for LUID {}

crate::c_enum! {
    /// `DOCKING_STATE` (only carried in `DXGK_DEVICE_INFO`).
    pub enum DOCKING_STATE: i32 {}

    /// `DEVICE_POWER_STATE`.
    pub enum DEVICE_POWER_STATE: i32 {}

    /// `POWER_ACTION`.
    pub enum POWER_ACTION: i32 {}
}
