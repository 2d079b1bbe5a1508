//! The NTSTATUS codes the project returns or checks for.

use crate::NTSTATUS;

macro_rules! ntstatus_codes {
    ($( $(#[$meta:meta])* $name:ident = $code:literal; )*) => {
        $( $(#[$meta])* pub const $name: NTSTATUS = NTSTATUS::from_u32($code); )*

        /// Every NTSTATUS code this crate defines, checked by the ABI test.
        pub const NTSTATUS_CODES: &[crate::abi::ConstInfo] = &[ $( crate::abi::ConstInfo {
            name: stringify!($name),
            enum_name: None,
            value: $code as i128,
        } ),* ];

        /// The name of a known code, for diagnostics.
        #[must_use]
        pub fn ntstatus_name(status: NTSTATUS) -> Option<&'static str> {
            match status.as_u32() {
                $( $code => Some(stringify!($name)), )*
                _ => None,
            }
        }
    };
}

ntstatus_codes! {
    /// The operation completed successfully.
    STATUS_SUCCESS = 0x0000_0000;
    /// Unspecified failure.
    STATUS_UNSUCCESSFUL = 0xC000_0001;
    /// The request is not implemented (here: a segment without dirty tracking).
    STATUS_NOT_IMPLEMENTED = 0xC000_0002;
    /// An unknown, stale or NULL object handle.
    STATUS_INVALID_HANDLE = 0xC000_0008;
    /// An invalid argument.
    STATUS_INVALID_PARAMETER = 0xC000_000D;
    /// Not enough memory to complete the request.
    STATUS_NO_MEMORY = 0xC000_0017;
    /// The caller's buffer is too small.
    STATUS_BUFFER_TOO_SMALL = 0xC000_0023;
    /// Data of the wrong kind (here: migration data from an incompatible adapter).
    STATUS_OBJECT_TYPE_MISMATCH = 0xC000_0024;
    /// The interface revision does not match.
    STATUS_REVISION_MISMATCH = 0xC000_0059;
    /// An arithmetic overflow.
    STATUS_INTEGER_OVERFLOW = 0xC000_0095;
    /// A resource limit was reached.
    STATUS_INSUFFICIENT_RESOURCES = 0xC000_009A;
    /// The device is not ready.
    STATUS_DEVICE_NOT_READY = 0xC000_00A3;
    /// The request is not supported.
    STATUS_NOT_SUPPORTED = 0xC000_00BB;
    /// The first parameter is invalid.
    STATUS_INVALID_PARAMETER_1 = 0xC000_00EF;
    /// The second parameter is invalid.
    STATUS_INVALID_PARAMETER_2 = 0xC000_00F0;
    /// The object is not in a state in which the request is allowed.
    STATUS_INVALID_DEVICE_STATE = 0xC000_0184;
    /// The buffer size is invalid.
    STATUS_INVALID_BUFFER_SIZE = 0xC000_0206;
    /// Not found.
    STATUS_NOT_FOUND = 0xC000_0225;
    /// Already registered (here: a host memory configuration naming segment
    /// 1, which the driver's paging aperture always is).
    STATUS_ALREADY_REGISTERED = 0xC000_0718;
}
