//! Typed access to the argument blocks Dxgkrnl passes to the DDIs.
//!
//! A trampoline turns its raw `pArgs` into an [`ArgBlock`] with the one
//! `unsafe` call of this module, [`ArgBlock::new`], whose contract is
//! Dxgkrnl's ("`pArgs` is NULL or a block as Dxgkrnl passes it"). Everything
//! after that is safe and checked:
//! - [`ArgBlock::get`] copies the block's record out (the part Dxgkrnl passed;
//!   the rest reads as zero), so a field read is `block.get().Field`;
//! - [`ArgBlock::update`] (in/out blocks only) reads the record, lets the
//!   caller change fields of the copy, and writes every whole field back
//!   through [`OutBuffer`], the one way to write into OS memory;
//! - [`ArgBlock::entries`] is the view of a counted array the record
//!   describes (trailing the block, or behind a pointer field), its count
//!   checked against a maximum before any entry is read.
//!
//! What "as Dxgkrnl passes it" means for each record type, how many bytes,
//! whether it states its own `Size`, where its array lies and how long it
//! is, is stated once per type by an `unsafe impl` of [`ArgRecord`] (and
//! [`Counted`]) below, not at each field access.
//!
//! Alignment: Dxgkrnl's blocks are naturally aligned, but nothing here
//! relies on it; every access is unaligned, so a block at any address is
//! accepted (the Miri tests pass blocks at odd addresses).

use core::marker::PhantomData;
use core::mem::{offset_of, size_of};
use core::ptr::NonNull;

use dxgk_sys::abi::Record;
use dxgk_sys::*;

use super::buffer::OutBuffer;
use crate::foundation::status::{Result, Status};

/// Access of a block passed read-only (`*const T`).
pub(crate) struct In;
/// Access of a block passed for reading and writing (`*mut T`).
pub(crate) struct InOut;

/// A raw pointer to an argument block, and the access it grants: `*const T`
/// is read-only, `*mut T` in/out. A trampoline whose DDI passes a `*mut`
/// block that is only an input passes `p.cast_const()`.
pub(crate) trait BlockPtr<T> {
    /// [`In`] or [`InOut`].
    type Access;
    /// The pointer, mutable in type only (writes need [`InOut`]).
    fn into_raw(self) -> *mut T;
}

impl<T> BlockPtr<T> for *const T {
    type Access = In;
    fn into_raw(self) -> *mut T {
        self.cast_mut()
    }
}

impl<T> BlockPtr<T> for *mut T {
    type Access = InOut;
    fn into_raw(self) -> *mut T {
        self
    }
}

/// How a record lies in the OS's memory when Dxgkrnl passes it to a DDI.
///
/// # Safety
/// For every block of this type Dxgkrnl passes (the contract of
/// [`ArgBlock::new`]):
/// - its first [`Self::FIXED`] bytes are readable, and writable when it is
///   passed as an in/out block; `FIXED <= size_of::<Self>()`;
/// - with [`Self::SIZE_FIELD`] `Some(at)`, the `ULONG` at byte `at` (inside
///   the first `FIXED` bytes) states how many bytes of the record it
///   passed, all of them accessible as above.
pub(crate) unsafe trait ArgRecord: Record {
    /// Bytes always passed: the whole record, or its header before a counted
    /// trailing array (whose entries Dxgkrnl passes only as many as counted).
    const FIXED: usize = size_of::<Self>();
    /// Where the record states its own size (a `ULONG Size`), if it does:
    /// an older caller passes a shorter record, whose missing fields read as
    /// zero and are never written.
    const SIZE_FIELD: Option<usize> = None;
}

/// Where the entries of a counted array lie.
pub(crate) enum Place<E> {
    /// At this byte offset of the block itself (a trailing `[E; 1]` that
    /// Dxgkrnl extends to the count).
    Trailing(usize),
    /// Behind a pointer field of the block.
    At(*mut E),
}

/// A record that describes an array of `E`: where it lies and how many
/// entries it has.
///
/// # Safety
/// For a `header` read from a block Dxgkrnl passed, [`Self::locate`] returns
/// the array Dxgkrnl passed with it: NULL (for [`Place::At`]) or that many
/// readable entries at that place, writable too when the block is passed as
/// an in/out block. A trailing array starts at or past [`ArgRecord::FIXED`].
pub(crate) unsafe trait Counted<E: Copy>: ArgRecord {
    /// The array's place and its entry count, as the header states them.
    fn locate(header: &Self) -> (Place<E>, u64);
}

/// A DDI argument block in the OS's memory, checked once.
///
/// # Invariants
/// `ptr` is non-NULL and its first `len` bytes (`len <= size_of::<T>()`) are
/// readable for `'a`, and writable when `A` is [`InOut`]; `T`'s
/// [`ArgRecord`] and [`Counted`] contracts hold for the block.
pub(crate) struct ArgBlock<'a, T, A> {
    ptr: NonNull<T>,
    len: usize,
    marker: PhantomData<(&'a mut T, A)>,
}

impl<'a, T: ArgRecord, A> ArgBlock<'a, T, A> {
    /// Checks a DDI's argument block: non-NULL and, for a record that states
    /// its own size, a `Size` of at least [`ArgRecord::FIXED`] bytes. A
    /// `Size` larger than this driver's record is accepted (a newer caller);
    /// only the fields this driver knows are read.
    ///
    /// # Safety
    /// `p` is NULL or points to a block of `T` as Dxgkrnl passes it to the
    /// DDI (what `T`'s [`ArgRecord`] and [`Counted`] implementations state),
    /// valid for `'a`: readable, and writable too when `p` is a `*mut T`.
    /// Nothing else accesses the block during `'a`. Any alignment.
    ///
    /// # Errors
    /// `InvalidParameter` for NULL or a stated `Size` below `FIXED`.
    pub(crate) unsafe fn new(p: impl BlockPtr<T, Access = A>) -> Result<Self> {
        let ptr = NonNull::new(p.into_raw()).ok_or(Status::InvalidParameter)?;
        let len = match T::SIZE_FIELD {
            None => T::FIXED,
            Some(at) => {
                // Computing the address is safe; only the read below is not.
                let field = ptr.as_ptr().cast::<u8>().wrapping_add(at).cast::<ULONG>();
                // SAFETY: the `ULONG` at `at` lies in the first `FIXED` bytes,
                // which are readable (the `ArgRecord` contract of `T`, which
                // the caller's contract makes hold for this block); any 4
                // bytes are a `ULONG`; unaligned reads accept any address.
                let size = unsafe { field.read_unaligned() };
                let size = usize::try_from(size).map_err(|_| Status::InvalidParameter)?;
                if size < T::FIXED {
                    return Err(Status::InvalidParameter);
                }
                size.min(size_of::<T>())
            }
        };
        Ok(Self {
            ptr,
            len: len.min(size_of::<T>()),
            marker: PhantomData,
        })
    }

    /// A copy of the record: the bytes Dxgkrnl passed, and zero for the rest
    /// (the entries of a trailing array, the fields an older caller lacks).
    pub(crate) fn get(&self) -> T {
        let mut value = T::zeroed();
        // SAFETY:
        // - source: the block's first `len` bytes are readable (invariant);
        // - destination: `value` is a local `T` of `size_of::<T>() >= len` bytes;
        // - a local of this frame cannot overlap the OS's block;
        // - any bytes make a valid `T` prefix: `T: Record` is plain data.
        unsafe {
            core::ptr::copy_nonoverlapping(
                self.ptr.as_ptr().cast::<u8>(),
                (&raw mut value).cast::<u8>(),
                self.len,
            );
        }
        value
    }

    /// The array the record describes, checked: at most `max` entries, and a
    /// non-NULL place. Nothing of the array is read yet.
    ///
    /// # Errors
    /// `InvalidParameter` for a count above `max` or a NULL array pointer.
    pub(crate) fn entries<E: Copy>(&self, max: usize) -> Result<Entries<'a, E, A>>
    where
        T: Counted<E>,
    {
        let (place, count) = T::locate(&self.get());
        let count = usize::try_from(count)
            .ok()
            .filter(|n| *n <= max)
            .ok_or(Status::InvalidParameter)?;
        let first = match place {
            Place::Trailing(at) => self.ptr.as_ptr().cast::<u8>().wrapping_add(at).cast::<E>(),
            Place::At(p) => p,
        };
        Ok(Entries {
            first: NonNull::new(first).ok_or(Status::InvalidParameter)?,
            count,
            marker: PhantomData,
        })
    }
}

impl<T: ArgRecord> ArgBlock<'_, T, InOut> {
    /// Reads the record, lets `change` edit the copy, and writes every whole
    /// field the block holds back (padding as the OS had it). Fields past a
    /// shorter stated `Size` are never written.
    pub(crate) fn update(&mut self, change: impl FnOnce(&mut T)) {
        let mut value = self.get();
        change(&mut value);
        // SAFETY: the block's first `len` bytes are writable for the rest of
        // the DDI call (invariant, `InOut`), and `&mut self` keeps this the
        // only writer.
        if let Ok(mut out) = unsafe { OutBuffer::new(self.ptr.as_ptr().cast(), self.len) } {
            // Cannot fail: nothing is required beyond the fields that fit.
            let _ = out.write_record(&value, 0);
        }
    }
}

/// The counted array of an [`ArgBlock`], of at most the maximum it was
/// checked against.
///
/// # Invariants
/// `first` points to `count` readable entries for `'a`, writable when `A` is
/// [`InOut`] (the [`Counted`] contract).
pub(crate) struct Entries<'a, E, A> {
    first: NonNull<E>,
    count: usize,
    marker: PhantomData<(&'a mut E, A)>,
}

impl<E: Copy, A> Entries<'_, E, A> {
    /// How many entries.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// A copy of entry `i`, or `None` past the end.
    pub(crate) fn get(&self, i: usize) -> Option<E> {
        if i >= self.count {
            return None;
        }
        // SAFETY: `i < count` entries are readable (invariant); any address
        // is accepted by the unaligned read; `E: Copy` is plain data here
        // (a record or a handle).
        Some(unsafe { self.first.as_ptr().wrapping_add(i).read_unaligned() })
    }

    /// Copies of every entry, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = E> + '_ {
        (0..self.count).filter_map(|i| self.get(i))
    }
}

impl<E: Record> Entries<'_, E, InOut> {
    /// Writes every field of `value` into entry `i` (padding as the OS had
    /// it).
    ///
    /// # Errors
    /// `InvalidParameter` past the end (nothing is written then).
    pub(crate) fn set(&mut self, i: usize, value: &E) -> Result<()> {
        if i >= self.count {
            return Err(Status::InvalidParameter);
        }
        let entry = self.first.as_ptr().wrapping_add(i);
        // SAFETY: entry `i < count` is writable for the rest of the DDI call
        // (invariant, `InOut`), and `&mut self` keeps this the only writer.
        let mut out = unsafe { OutBuffer::new(entry.cast(), size_of::<E>()) }?;
        out.write_whole(value)
    }
}

/// Records Dxgkrnl passes whole.
macro_rules! whole_records {
    ($($t:ty),* $(,)?) => { $(
        // SAFETY: Dxgkrnl passes the whole record (its documented contract
        // for the DDI that takes it); it states no size of its own.
        unsafe impl ArgRecord for $t {}
    )* };
}

whole_records! {
    // Adapter lifecycle, QueryAdapterInfo, dirty-bit tracking, allocations.
    DXGK_START_INFO,
    DXGKARG_QUERYADAPTERINFO,
    DXGKARG_QUERYDIRTYBITDATA,
    DXGKARG_GETSTANDARDALLOCATIONDRIVERDATA,
    D3DKMDT_VIRTUALGPUSURFACEDATA,
    DXGKARG_CREATEALLOCATION,
    DXGKARG_DESTROYALLOCATION,
    // GPU partitioning, SR-IOV, live migration.
    DXGKARG_GETGPUPARTITIONINFO,
    DXGKARG_SETGPUPARTITIONCOUNT,
    DXGKARG_GETVIRTUALGPUPROFILE,
    DXGKARG_CREATEVIRTUALGPU,
    DXGKARG_GETVIRTUALGPUINFO,
    DXGKARG_DESTROYVIRTUALGPU,
    DXGK_VIRTUALGPUDRIVERESCAPE,
    DXGKARG_SETVIRTUALGPUVMBUS,
    DXGKARG_READVIRTUALFUNCTIONCONFIG,
    DXGKARG_WRITEVIRTUALFUNCTIONCONFIG,
    DXGKARG_READVIRTUALFUNCTIONCONFIGBLOCK,
    DXGKARG_WRITEVIRTUALFUNCTIONCONFIGBLOCK,
    DXGKARG_RESETVIRTUALFUNCTION,
    DXGKARG_SETVIRTUALFUNCTIONPOWERSTATE,
    DXGKARG_QUERYVIRTUALFUNCTIONLUID,
    DXGKARG_GETVENDORANDDEVICE,
    DXGKARG_GETDEVICELOCATION,
    DXGKARG_GETMMIORANGECOUNT,
    DXGKARG_GETMMIORANGES,
    DXGKARG_GETRESOURCEFORBAR,
    DXGKARG_GETBACKINGRESOURCE,
    DXGKARG_QUERYPROBEDBARS,
    DXGKARG_GPUP_PREPARE_LIVE_MIGRATION,
    DXGKARG_GPUP_SAVE_IMMUTABLE_MIGRATION_DATA,
    DXGKARG_GPUP_SAVE_MUTABLE_MIGRATION_DATA,
    DXGKARG_GPUP_RESTORE_IMMUTABLE_MIGRATION_DATA,
    DXGKARG_GPUP_RESTORE_MUTABLE_MIGRATION_DATA,
    DXGKARG_GPUP_WRITE_VIRTUALIZED_MSIX,
    DXGKARG_SETVIRTUALFUNCTIONPAUSESTATE,
}

// SAFETY: Dxgkrnl passes the header (`SegmentId`, `RangeCount`) and then
// exactly `RangeCount` ranges in place of the one-entry `Ranges`, so the
// fixed part is the header alone, and the ranges are readable at `Ranges`.
unsafe impl ArgRecord for DXGKARG_CREATEMEMORYBASIS {
    const FIXED: usize = offset_of!(DXGKARG_CREATEMEMORYBASIS, Ranges);
}

// SAFETY: `RangeCount` ranges follow the header at `Ranges` (see the
// `ArgRecord` implementation); the block is an input, never written.
unsafe impl Counted<DXGK_MEMORYRANGE> for DXGKARG_CREATEMEMORYBASIS {
    fn locate(header: &Self) -> (Place<DXGK_MEMORYRANGE>, u64) {
        (
            Place::Trailing(offset_of!(DXGKARG_CREATEMEMORYBASIS, Ranges)),
            header.RangeCount,
        )
    }
}

// SAFETY: `pAllocationInfo` is NULL or `NumAllocations` in/out
// `DXGK_ALLOCATIONINFO`s (DxgkDdiCreateAllocation's contract), passed with
// the in/out block.
unsafe impl Counted<DXGK_ALLOCATIONINFO> for DXGKARG_CREATEALLOCATION {
    fn locate(header: &Self) -> (Place<DXGK_ALLOCATIONINFO>, u64) {
        (
            Place::At(header.pAllocationInfo),
            u64::from(header.NumAllocations),
        )
    }
}

// SAFETY: `pAllocationList` is NULL or `NumAllocations` readable handles
// (DxgkDdiDestroyAllocation's contract); the block is read-only.
unsafe impl Counted<HANDLE> for DXGKARG_DESTROYALLOCATION {
    fn locate(header: &Self) -> (Place<HANDLE>, u64) {
        (
            Place::At(header.pAllocationList.cast_mut()),
            u64::from(header.NumAllocations),
        )
    }
}

// SAFETY: Dxgkrnl passes the header (`PartitionId`, `NumMemoryAllocations`)
// and then exactly `NumMemoryAllocations` entries in place of the one-entry
// `MemoryInfo`; the block is an input.
unsafe impl ArgRecord for DXGKARG_SETVIRTUALGPURESOURCES {
    const FIXED: usize = offset_of!(DXGKARG_SETVIRTUALGPURESOURCES, MemoryInfo);
}

// SAFETY: `NumMemoryAllocations` entries follow the header at `MemoryInfo`
// (see the `ArgRecord` implementation).
unsafe impl Counted<DXGK_VIRTUALGPUMEMORYRESOURCE> for DXGKARG_SETVIRTUALGPURESOURCES {
    fn locate(header: &Self) -> (Place<DXGK_VIRTUALGPUMEMORYRESOURCE>, u64) {
        (
            Place::Trailing(offset_of!(DXGKARG_SETVIRTUALGPURESOURCES, MemoryInfo)),
            u64::from(header.NumMemoryAllocations),
        )
    }
}

// SAFETY: Dxgkrnl passes the header (`vfIndex`, `SegmentCount`) and then
// exactly `SegmentCount` descriptors in place of the one-entry
// `SegmentDescriptors`; the block is an input.
unsafe impl ArgRecord for DXGKARG_SETVIRTUALGPURESOURCES2 {
    const FIXED: usize = offset_of!(DXGKARG_SETVIRTUALGPURESOURCES2, SegmentDescriptors);
}

// SAFETY: `SegmentCount` descriptors follow the header at
// `SegmentDescriptors` (see the `ArgRecord` implementation).
unsafe impl Counted<DXGK_GPU_PHYSICAL_RESERVE_DESCRIPTOR> for DXGKARG_SETVIRTUALGPURESOURCES2 {
    fn locate(header: &Self) -> (Place<DXGK_GPU_PHYSICAL_RESERVE_DESCRIPTOR>, u64) {
        (
            Place::Trailing(offset_of!(
                DXGKARG_SETVIRTUALGPURESOURCES2,
                SegmentDescriptors
            )),
            u64::from(header.SegmentCount),
        )
    }
}
