//! The global allocator: non-paged, non-executable pool with the project's
//! tag, through `ExAllocatePool2` where the kernel has it (Windows 10 2004 and
//! later), else `ExAllocatePoolWithTag` plus zeroing (older Windows, Wine).
//! Both return zeroed memory, so `alloc_zeroed` is `alloc`.

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, Ordering};

use super::ntoskrnl::{
    ExAllocatePool2Fn, ExAllocatePoolWithTag, ExFreePoolWithTag, MmGetSystemRoutineAddress,
    NON_PAGED_POOL_NX, POOL_FLAG_NON_PAGED,
};
use crate::kernel::nt_string::NtString;
use crate::kernel::pool_block::BlockPlan;

/// The project's pool tag, shown as `Gpup` by pool tools.
pub(super) const POOL_TAG: u32 = u32::from_le_bytes(*b"Gpup");

/// `ExAllocatePool2`'s address, or NULL until resolved or where it is absent.
static EX_ALLOCATE_POOL2: AtomicPtr<c_void> = AtomicPtr::new(null_mut());

/// Looks up `ExAllocatePool2` (once per load, at PASSIVE_LEVEL, before the
/// driver allocates). Until then, and where it is absent, the allocator uses
/// `ExAllocatePoolWithTag`.
pub(super) fn resolve_pool_routines() {
    let mut name = NtString::new(b"ExAllocatePool2");
    let mut name = name.as_unicode_string();
    // SAFETY: called from DriverEntry's thread at PASSIVE_LEVEL (the routine's
    // requirement); `name` describes a live UTF-16 buffer the routine only reads.
    let routine = unsafe { MmGetSystemRoutineAddress(&raw mut name) };
    EX_ALLOCATE_POOL2.store(routine, Ordering::Release);
}

/// A zeroed block of `size` bytes of non-paged pool, or NULL.
fn allocate_block(size: usize) -> *mut u8 {
    let routine = EX_ALLOCATE_POOL2.load(Ordering::Acquire);
    if !routine.is_null() {
        // SAFETY: a non-NULL value was returned by MmGetSystemRoutineAddress
        // for "ExAllocatePool2", whose signature is `ExAllocatePool2Fn`.
        let allocate = unsafe { core::mem::transmute::<*mut c_void, ExAllocatePool2Fn>(routine) };
        // SAFETY: a plain non-paged allocation (callable at IRQL <=
        // DISPATCH_LEVEL); without POOL_FLAG_UNINITIALIZED it zeroes the block.
        return unsafe { allocate(POOL_FLAG_NON_PAGED, size, POOL_TAG) }.cast();
    }
    // SAFETY: a plain non-paged, no-execute allocation (callable at IRQL <=
    // DISPATCH_LEVEL), through the routine every Windows release exports.
    let block = unsafe { ExAllocatePoolWithTag(NON_PAGED_POOL_NX, size, POOL_TAG) }.cast::<u8>();
    if !block.is_null() {
        // SAFETY: `block` is a fresh allocation of `size` writable bytes.
        unsafe { block.write_bytes(0, size) };
    }
    block
}

/// The driver's global allocator.
pub(super) struct PoolAllocator;

// SAFETY: `alloc` returns NULL or memory for `layout` (at least
// `layout.size()` bytes aligned to `layout.align()`, see `BlockPlan`) that
// nothing else uses until `dealloc`, which frees exactly the block `alloc`
// obtained for the same layout.
unsafe impl GlobalAlloc for PoolAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(plan) = BlockPlan::for_layout(layout) else {
            return null_mut();
        };
        let block = allocate_block(plan.request_size());
        if block.is_null() {
            return block;
        }
        let object = block.wrapping_add(plan.object_offset(block.addr()));
        if let BlockPlan::Padded { .. } = plan {
            let header = object
                .wrapping_sub(BlockPlan::HEADER_BEFORE_OBJECT)
                .cast::<*mut u8>();
            // SAFETY: the header word lies inside the block, before the object
            // (`object_offset` >= one word), and is word-aligned because the
            // object is aligned to more than a word.
            unsafe { header.write(block) };
        }
        object
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc_zeroed` is that of `alloc`;
        // every block is zeroed by `allocate_block`.
        unsafe { self.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let block = match BlockPlan::for_layout(layout) {
            Some(BlockPlan::Direct { .. }) => ptr,
            Some(BlockPlan::Padded { .. }) => {
                let header = ptr
                    .wrapping_sub(BlockPlan::HEADER_BEFORE_OBJECT)
                    .cast::<*mut u8>();
                // SAFETY: `ptr` came from `alloc` with this layout, which
                // wrote the block's address in this word.
                unsafe { header.read() }
            }
            // `alloc` never succeeds for such a layout.
            None => return,
        };
        // SAFETY: `block` is a pool block allocated above with this tag.
        unsafe { ExFreePoolWithTag(block.cast(), POOL_TAG) }
    }
}
