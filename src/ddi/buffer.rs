//! The raw OS-memory helpers under the trampolines: copies of whole
//! records in and out, byte copies, and the buffers Dxgkrnl sizes
//! ([`OutBuffer`], the one way to write into OS memory, and [`InBuffer`]).
//! Argument blocks go through [`super::arg::ArgBlock`], which is built on
//! these.

use core::ffi::c_void;
use core::ptr::NonNull;

use dxgk_sys::abi::Record;

use crate::foundation::status::{Result, Status};

/// Copies a DDI argument block out of the OS's memory.
///
/// # Safety
/// `p` is NULL or points to a readable `T` (the DDI's contract with Dxgkrnl).
///
/// # Errors
/// `InvalidParameter` for NULL.
pub(crate) unsafe fn read_in<T: Copy>(p: *const T) -> Result<T> {
    if p.is_null() {
        return Err(Status::InvalidParameter);
    }
    // SAFETY: non-NULL, and readable by the caller's contract; unaligned reads
    // are accepted because nothing here depends on the OS aligning its blocks.
    Ok(unsafe { p.read_unaligned() })
}

/// Writes a DDI output block (or an in/out block back) into the OS's memory.
///
/// # Safety
/// `p` is NULL or points to a writable `T` (the DDI's contract with Dxgkrnl).
///
/// # Errors
/// `InvalidParameter` for NULL.
pub(crate) unsafe fn write_out<T: Copy>(p: *mut T, value: T) -> Result<()> {
    if p.is_null() {
        return Err(Status::InvalidParameter);
    }
    // SAFETY: non-NULL, and writable by the caller's contract; unaligned
    // writes are accepted for the same reason as in `read_in`.
    unsafe { p.write_unaligned(value) };
    Ok(())
}

/// Copies `dst.len()` bytes from an OS buffer.
///
/// # Safety
/// `src` is NULL or readable for `dst.len()` bytes, and does not overlap `dst`.
///
/// # Errors
/// `InvalidParameter` for NULL.
pub(crate) unsafe fn copy_in(src: *const c_void, dst: &mut [u8]) -> Result<()> {
    if src.is_null() {
        return Err(Status::InvalidParameter);
    }
    // SAFETY: readable for `dst.len()` bytes (caller's contract), no overlap
    // with a buffer the driver owns.
    unsafe { core::ptr::copy_nonoverlapping(src.cast::<u8>(), dst.as_mut_ptr(), dst.len()) };
    Ok(())
}

/// Copies `src` into an OS buffer.
///
/// # Safety
/// `dst` is NULL or writable for `src.len()` bytes, and does not overlap `src`.
///
/// # Errors
/// `InvalidParameter` for NULL.
pub(crate) unsafe fn copy_out(src: &[u8], dst: *mut c_void) -> Result<()> {
    if dst.is_null() {
        return Err(Status::InvalidParameter);
    }
    // SAFETY: writable for `src.len()` bytes (caller's contract), no overlap
    // with a buffer the driver owns.
    unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst.cast::<u8>(), src.len()) };
    Ok(())
}

/// An output buffer the OS allocated, of a size it stated.
///
/// # Invariants
/// `ptr` is valid for writes of `len` bytes for the duration of the DDI call.
pub(crate) struct OutBuffer {
    ptr: NonNull<u8>,
    len: usize,
}

impl OutBuffer {
    /// Wraps a DDI output buffer.
    ///
    /// # Safety
    /// `ptr` is NULL or valid for writes of `len` bytes until the DDI returns.
    ///
    /// # Errors
    /// `InvalidParameter` for NULL.
    pub(crate) unsafe fn new(ptr: *mut c_void, len: usize) -> Result<Self> {
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or(Status::InvalidParameter)?;
        Ok(Self { ptr, len })
    }

    /// Writes every whole field of `value` that fits in the buffer, field by
    /// field (padding bytes are left as the OS had them). Structures grow
    /// between WDDM versions: an older Dxgkrnl passes a smaller buffer.
    ///
    /// # Errors
    /// `BufferTooSmall` if the buffer is shorter than `required` bytes.
    pub(crate) fn write_record<T: Record>(&mut self, value: &T, required: usize) -> Result<()> {
        if self.len < required {
            return Err(Status::BufferTooSmall);
        }
        let src = core::ptr::from_ref(value).cast::<u8>();
        for field in T::ABI.fields {
            let Some(end) = field.offset.checked_add(field.size) else {
                continue;
            };
            if end > self.len {
                continue;
            }
            // SAFETY:
            // - source: `field.offset..end` lies inside `*value` (offsets come from
            //   `offset_of!`/`size_of` of `T`'s own fields), and field bytes are
            //   initialised;
            // - destination: `end <= self.len`, within the buffer (type invariant);
            // - the OS buffer cannot overlap a value on this driver's stack.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    src.wrapping_add(field.offset),
                    self.ptr.as_ptr().wrapping_add(field.offset),
                    field.size,
                );
            }
        }
        Ok(())
    }

    /// Writes all of `value`, which must fit whole.
    ///
    /// # Errors
    /// `BufferTooSmall` if the buffer is shorter than `T`.
    pub(crate) fn write_whole<T: Record>(&mut self, value: &T) -> Result<()> {
        self.write_record(value, core::mem::size_of::<T>())
    }

    /// The buffer's first `len` bytes, zeroed, as initialised bytes to
    /// encode into (the Save DDIs' blobs), or `None` if it is shorter. The
    /// buffer is consumed: the bytes are the caller's until the DDI returns,
    /// which the caller's lifetime `'o` may not outlast.
    pub(crate) fn into_zeroed_prefix<'o>(self, len: usize) -> Option<&'o mut [u8]> {
        if len > self.len {
            return None;
        }
        let ptr = self.ptr.as_ptr().cast::<u8>();
        // SAFETY: writable for `self.len >= len` bytes until the DDI returns
        // (`OutBuffer::new`'s contract), and no other reference to them
        // exists (the buffer is consumed).
        unsafe { ptr.write_bytes(0, len) };
        // SAFETY: the `len` bytes were just initialised, and are exclusively
        // ours (above).
        Some(unsafe { core::slice::from_raw_parts_mut(ptr, len) })
    }

    /// Reads a `T` from the start of the buffer: for the in/out records
    /// whose "output" carries the OS's own pointers and sizes
    /// (`DXGK_QUERYSEGMENTOUT4`, `DXGK_QUERYSEGMENTOUT5`, `DXGK_QUERYMMUSOUT`).
    ///
    /// # Safety
    /// Every bit pattern of `T`'s size is a valid `T` (integers and raw
    /// pointers only), and the OS initialised the bytes it passes.
    ///
    /// # Errors
    /// `BufferTooSmall` if the buffer is shorter than `T`.
    pub(crate) unsafe fn read_prefix<T: Copy>(&self) -> Result<T> {
        if self.len < core::mem::size_of::<T>() {
            return Err(Status::BufferTooSmall);
        }
        // SAFETY: `size_of::<T>() <= self.len` readable bytes (type
        // invariant; writable implies readable for the OS's buffer), valid
        // as a `T` by the caller's contract.
        Ok(unsafe { self.ptr.as_ptr().cast::<T>().read_unaligned() })
    }

    /// The buffer's length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The first `len` bytes of the buffer, to write (`None` if it is shorter).
    pub(crate) fn prefix(&mut self, len: usize) -> Option<&mut [core::mem::MaybeUninit<u8>]> {
        if len > self.len {
            return None;
        }
        // SAFETY: `len <= self.len` bytes are writable for the duration of the
        // DDI (type invariant), nothing else refers to the OS buffer during the
        // call, and `MaybeUninit<u8>` makes no claim about their contents. The
        // borrow is tied to `&mut self`, which does not outlive the call.
        Some(unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr().cast(), len) })
    }
}

/// An input buffer the OS passed, of a size it stated.
pub(crate) struct InBuffer {
    ptr: *const u8,
    len: usize,
}

impl InBuffer {
    /// Wraps a DDI input buffer (NULL allowed when `len` is 0).
    ///
    /// # Safety
    /// `ptr` is NULL or valid for reads of `len` bytes until the DDI returns.
    pub(crate) unsafe fn new(ptr: *const c_void, len: usize) -> Self {
        Self {
            ptr: ptr.cast::<u8>(),
            len,
        }
    }

    /// Reads a `T` from the start of the buffer (an input record).
    ///
    /// # Safety
    /// Every bit pattern of `T`'s size is a valid `T` (integers only).
    ///
    /// # Errors
    /// `InvalidParameter` for NULL or a buffer shorter than `T`.
    pub(crate) unsafe fn read_prefix<T: Copy>(&self) -> Result<T> {
        if self.ptr.is_null() || self.len < core::mem::size_of::<T>() {
            return Err(Status::InvalidParameter);
        }
        // SAFETY: non-NULL with `size_of::<T>()` readable bytes (constructor
        // contract), valid as a `T` by the caller's contract.
        Ok(unsafe { self.ptr.cast::<T>().read_unaligned() })
    }

    /// Reads the `UINT` at the start of the buffer.
    ///
    /// # Errors
    /// `InvalidParameter` for NULL or a buffer shorter than 4 bytes.
    pub(crate) fn read_uint(&self) -> Result<u32> {
        if self.ptr.is_null() || self.len < core::mem::size_of::<u32>() {
            return Err(Status::InvalidParameter);
        }
        // SAFETY: non-NULL with at least 4 readable bytes (constructor
        // contract); any 4 bytes are a valid `u32`.
        Ok(unsafe { self.ptr.cast::<u32>().read_unaligned() })
    }
}
