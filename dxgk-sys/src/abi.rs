//! Layout metadata that every type of this crate carries, so that the ABI test
//! (`tests/abi.rs`) can compare it with the WDK-measured tables in `abi/`.
//!
//! Types are declared through the [`records!`](crate::records) and
//! [`c_enum!`](crate::c_enum) macros, which emit the `#[repr(C)]` item and its
//! metadata from one token list, so the metadata cannot drift from the type.

/// One field of a record, as Rust lays it out.
#[derive(Debug, Clone, Copy)]
pub struct FieldInfo {
    /// Field name, identical to the header's member name.
    pub name: &'static str,
    /// `offset_of!` of the field.
    pub offset: usize,
    /// `size_of` of the field's type.
    pub size: usize,
}

/// One `#[repr(C)]` record, as Rust lays it out.
#[derive(Debug, Clone, Copy)]
pub struct RecordInfo {
    /// Rust name, identical to the header's typedef (the C tag is `_` + name).
    pub name: &'static str,
    /// `size_of` of the record.
    pub size: usize,
    /// `align_of` of the record.
    pub align: usize,
    /// Every field, in declaration order.
    pub fields: &'static [FieldInfo],
}

/// One named constant: an enumerator of a C enum, a `#define`, or an NTSTATUS code.
#[derive(Debug, Clone, Copy)]
pub struct ConstInfo {
    /// Constant name, identical to the header's.
    pub name: &'static str,
    /// The enum typedef the constant belongs to, or `None` for macros and NTSTATUS codes.
    pub enum_name: Option<&'static str>,
    /// The value, widened without loss.
    pub value: i128,
}

/// Types whose all-zero bit pattern is a valid value.
///
/// # Safety
/// Implementors must be plain data for which every field is valid when all of
/// its bytes are zero: integers, raw pointers, `Option` of function pointers,
/// arrays of such, and records made only of such fields.
pub unsafe trait Zeroable: Sized {
    /// The all-zero value, which is how the WDK's `RtlZeroMemory` initialises
    /// these structures before use.
    #[must_use]
    fn zeroed() -> Self {
        // SAFETY: the trait's contract says all-zero is a valid `Self`.
        unsafe { core::mem::zeroed() }
    }
}

macro_rules! zeroable_primitives {
    ($($t:ty),* $(,)?) => { $(
        // SAFETY: zero is a valid value of every primitive integer type.
        unsafe impl Zeroable for $t {}
    )* };
}
zeroable_primitives!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

// SAFETY: a null raw pointer is a valid raw pointer.
unsafe impl<T> Zeroable for *mut T {}
// SAFETY: a null raw pointer is a valid raw pointer.
unsafe impl<T> Zeroable for *const T {}
// SAFETY: an array of zeroable elements is zeroable element by element.
unsafe impl<T: Zeroable, const N: usize> Zeroable for [T; N] {}

macro_rules! zeroable_fn_pointers {
    ($(($($arg:ident),*))*) => { $(
        // SAFETY: `Option<fn>` uses the null niche: all-zero is `None`.
        unsafe impl<R, $($arg),*> Zeroable for Option<unsafe extern "system" fn($($arg),*) -> R> {}
        // SAFETY: `Option<fn>` uses the null niche: all-zero is `None`.
        unsafe impl<R, $($arg),*> Zeroable for Option<unsafe extern "C" fn($($arg),*) -> R> {}
    )* };
}
zeroable_fn_pointers! {
    ()
    (A)
    (A, B)
    (A, B, C)
    (A, B, C, D)
    (A, B, C, D, E)
    (A, B, C, D, E, F)
}

/// A `#[repr(C)]` record of this crate, with its layout metadata.
pub trait Record: Zeroable + Copy {
    /// Layout metadata checked by the ABI test.
    const ABI: RecordInfo;
}

/// Proves at compile time that a field type is [`Zeroable`]; used by [`records!`](crate::records).
#[doc(hidden)]
pub const fn assert_zeroable<T: Zeroable>() {}

/// Declares `#[repr(C)]` records together with their [`RecordInfo`] and a
/// [`Zeroable`] implementation that is checked field by field.
#[macro_export]
macro_rules! records {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    )*) => { $(
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty ),*
        }

        impl $name {
            /// Layout metadata checked by the ABI test.
            pub const ABI: $crate::abi::RecordInfo = $crate::abi::RecordInfo {
                name: stringify!($name),
                size: core::mem::size_of::<$name>(),
                align: core::mem::align_of::<$name>(),
                fields: &[ $( $crate::abi::FieldInfo {
                    name: stringify!($field),
                    offset: core::mem::offset_of!($name, $field),
                    size: core::mem::size_of::<$ty>(),
                } ),* ],
            };
        }

        impl $crate::abi::Record for $name {
            const ABI: $crate::abi::RecordInfo = $name::ABI;
        }

        const _: () = { $( $crate::abi::assert_zeroable::<$ty>(); )* };
        // SAFETY: every field type is `Zeroable` (asserted just above), so the
        // all-zero record is valid.
        unsafe impl $crate::abi::Zeroable for $name {}

        impl Default for $name {
            fn default() -> Self {
                <Self as $crate::abi::Zeroable>::zeroed()
            }
        }
    )* };
}

/// Declares a C enum as a transparent newtype over its integer, with one
/// constant per enumerator. A newtype, not a Rust `enum`: values arriving from
/// the OS may be outside the known set, and an out-of-range Rust `enum` would be
/// undefined behaviour.
#[macro_export]
macro_rules! c_enum {
    ($(
        $(#[$meta:meta])*
        pub enum $name:ident : $repr:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $value:expr ),* $(,)?
        }
    )*) => { $(
        $(#[$meta])*
        #[repr(transparent)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub struct $name(pub $repr);

        $(
            #[doc = concat!("`", stringify!($variant), "` = ", stringify!($value), ".")]
            $(#[$vmeta])*
            pub const $variant: $name = $name($value);
        )*

        impl $name {
            /// Every enumerator this crate defines, checked by the ABI test.
            pub const CONSTANTS: &'static [$crate::abi::ConstInfo] = &[ $( $crate::abi::ConstInfo {
                name: stringify!($variant),
                enum_name: Some(stringify!($name)),
                // Widening to i128 is lossless for every C enum representation.
                value: $value as i128,
            } ),* ];
        }

        // SAFETY: a transparent newtype over an integer; zero is valid.
        unsafe impl $crate::abi::Zeroable for $name {}
    )* };
}

/// Declares `#define`d constants together with their [`ConstInfo`] list.
#[macro_export]
macro_rules! macro_constants {
    ($list:ident; $( $(#[$meta:meta])* pub const $name:ident : $ty:ty = $value:expr; )*) => {
        $( $(#[$meta])* pub const $name: $ty = $value; )*

        /// Every `#define` of this group, checked by the ABI test.
        pub const $list: &[$crate::abi::ConstInfo] = &[ $( $crate::abi::ConstInfo {
            name: stringify!($name),
            enum_name: None,
            // Widening to i128 is lossless for every integer constant here.
            value: $name as i128,
        } ),* ];
    };
}

/// Marks `bitflags` types (transparent over an integer) as [`Zeroable`].
#[macro_export]
macro_rules! zeroable_bitflags {
    ($($t:ty),* $(,)?) => { $(
        // SAFETY: a bitflags type is a transparent wrapper of its integer bits;
        // all-zero is the empty set.
        unsafe impl $crate::abi::Zeroable for $t {}
    )* };
}
