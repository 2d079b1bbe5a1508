//! The Windows window onto physical pages (`super`'s table and contract):
//! a one-page system-VA reservation and a preallocated one-PFN MDL. Shared
//! by the `raw` and `wdk` backends; the routines are looked up by name at
//! engine attach, so the image imports nothing new.
//!
//! They are used only where the kernel also exports
//! `MmAllocateMappingAddressEx` (Windows 10 2004 and later, so every kernel
//! a WDDM 3.2 driver runs on): Wine 8.0 exports the four routines as stubs
//! that abort the process when called, and lacks the `Ex` one, so under
//! Wine segment 0 stays `NotSupported` (`cargo xtask wine-smoke`).

#![allow(non_snake_case)]

use alloc::vec::Vec;
use core::ffi::c_void;
use core::ptr::{NonNull, null_mut};
use core::sync::atomic::{AtomicPtr, Ordering};

use dxgk_sys::{PVOID, UNICODE_STRING};

use super::{PAGE, PageMapper};
use crate::foundation::fallible;
use crate::foundation::status::{Result, Status};
use crate::kernel::dma::win::{MDL, MM_CACHED};
use crate::kernel::nt_string::NtString;

/// The reservation's pool tag ("GpPm"), distinct from the allocator's.
const TAG: u32 = u32::from_le_bytes(*b"GpPm");
/// `MDL_PAGES_LOCKED`: the MDL describes locked-down pages.
const MDL_PAGES_LOCKED: i16 = 0x0002;

type AllocateFn = unsafe extern "system" fn(NumberOfBytes: usize, PoolTag: u32) -> PVOID;
type FreeFn = unsafe extern "system" fn(BaseAddress: PVOID, PoolTag: u32);
type MapFn = unsafe extern "system" fn(
    MappingAddress: PVOID,
    PoolTag: u32,
    MemoryDescriptorList: *mut MDL,
    CacheType: i32,
) -> PVOID;
type UnmapFn =
    unsafe extern "system" fn(BaseAddress: PVOID, PoolTag: u32, MemoryDescriptorList: *mut MDL);

// The `raw` backend links ntoskrnl through raw-dylib (the image already
// imports this routine); the `wdk` one through the WDK's ntoskrnl.lib.
#[cfg_attr(
    not(feature = "wdk"),
    link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")
)]
unsafe extern "system" {
    fn MmGetSystemRoutineAddress(SystemRoutineName: *mut UNICODE_STRING) -> PVOID;
}

/// An MDL with room for exactly one PFN (what `MmInitializeMdl` sizes for
/// one page).
#[repr(C)]
struct OnePageMdl {
    header: MDL,
    pfn: u64,
}

impl OnePageMdl {
    /// The MDL of the whole page `pfn`, as `MmInitializeMdl(NULL, PAGE)`
    /// builds it, flagged locked (the pages are VidMm's, resident while the
    /// paging operation naming them runs).
    fn for_page(pfn: u64) -> Self {
        Self {
            header: MDL {
                Next: core::ptr::null_mut(),
                Size: core::mem::size_of::<Self>() as i16,
                MdlFlags: MDL_PAGES_LOCKED,
                AllocationProcessorNumber: 0,
                Reserved: 0,
                Process: core::ptr::null_mut(),
                MappedSystemVa: core::ptr::null_mut(),
                StartVa: core::ptr::null_mut(),
                ByteCount: PAGE as u32,
                ByteOffset: 0,
            },
            pfn,
        }
    }
}
const _: () = assert!(core::mem::size_of::<OnePageMdl>() == 56);

/// The four routines' addresses, or NULL until attach looks them up or
/// where the kernel lacks them. Statics, loaded right before each call, so
/// the image's stack check knows each indirect call's one target
/// (`xtask/src/stack`).
static MM_ALLOCATE_MAPPING_ADDRESS: AtomicPtr<c_void> = AtomicPtr::new(null_mut());
static MM_FREE_MAPPING_ADDRESS: AtomicPtr<c_void> = AtomicPtr::new(null_mut());
static MM_MAP_LOCKED_PAGES_WITH_RESERVED_MAPPING: AtomicPtr<c_void> = AtomicPtr::new(null_mut());
static MM_UNMAP_RESERVED_MAPPING: AtomicPtr<c_void> = AtomicPtr::new(null_mut());

/// Looks `name` up into `slot` (never cleared once set: another engine's
/// window may be using it); whether the kernel exports it.
fn resolve<const N: usize>(slot: &AtomicPtr<c_void>, name: &[u8; N]) -> bool {
    let mut name = NtString::new(name);
    let mut name = name.as_unicode_string();
    // SAFETY: engine attach runs at PASSIVE_LEVEL (the routine's
    // requirement); `name` describes a live UTF-16 buffer the routine only
    // reads.
    let routine = unsafe { MmGetSystemRoutineAddress(&raw mut name) };
    if routine.is_null() {
        return false;
    }
    slot.store(routine, Ordering::Release);
    true
}

/// The reservation and its MDL. Only made once the four routines are
/// resolved (their statics stay set: a later attach stores the same
/// addresses again).
pub(super) struct Window {
    reservation: NonNull<c_void>,
    /// Exactly one element, in non-paged pool (the global allocator).
    mdl: Vec<OnePageMdl>,
}

// SAFETY: the window owns its reservation and MDL; everything that touches
// them takes `&mut self` (one user at a time), and the kernel's routines may
// be called from any thread.
unsafe impl Send for Window {}
// SAFETY: `&Window` gives access to nothing (see `Send`).
unsafe impl Sync for Window {}

impl Window {
    /// Looks the routines up and reserves one page of system VA (engine
    /// attach, PASSIVE_LEVEL). `Ok(None)` where a routine or
    /// `MmAllocateMappingAddressEx` is missing, or the reservation fails.
    ///
    /// # Errors
    /// `NoMemory` for the MDL's block.
    pub(super) fn open() -> Result<Option<Self>> {
        // Only looked for: the mark of a kernel whose reserved mappings are
        // real (see the module doc); never called.
        let real = AtomicPtr::new(null_mut());
        let found = [
            resolve(&real, b"MmAllocateMappingAddressEx"),
            resolve(&MM_ALLOCATE_MAPPING_ADDRESS, b"MmAllocateMappingAddress"),
            resolve(&MM_FREE_MAPPING_ADDRESS, b"MmFreeMappingAddress"),
            resolve(
                &MM_MAP_LOCKED_PAGES_WITH_RESERVED_MAPPING,
                b"MmMapLockedPagesWithReservedMapping",
            ),
            resolve(&MM_UNMAP_RESERVED_MAPPING, b"MmUnmapReservedMapping"),
        ];
        if found.contains(&false) {
            return Ok(None);
        }
        let mut mdl = fallible::try_vec(1)?;
        fallible::push(&mut mdl, OnePageMdl::for_page(0))?;
        let routine = MM_ALLOCATE_MAPPING_ADDRESS.load(Ordering::Acquire);
        if routine.is_null() {
            return Ok(None);
        }
        // SAFETY: a non-NULL value was returned by MmGetSystemRoutineAddress
        // for "MmAllocateMappingAddress", whose signature is `AllocateFn`.
        let allocate = unsafe { core::mem::transmute::<*mut c_void, AllocateFn>(routine) };
        // SAFETY: PASSIVE_LEVEL (<= APC_LEVEL required); a plain reservation
        // of one page under the window's tag, NULL on failure.
        let reservation = unsafe { allocate(PAGE as usize, TAG) };
        let Some(reservation) = NonNull::new(reservation) else {
            return Ok(None);
        };
        Ok(Some(Self { reservation, mdl }))
    }

    fn mdl(&mut self) -> Result<*mut MDL> {
        let mdl = self.mdl.first_mut().ok_or(Status::NoMemory)?;
        Ok(core::ptr::from_mut(mdl).cast::<MDL>())
    }
}

// SAFETY: `map` maps the one page its MDL names into the one-page
// reservation (readable and writable, MmCached unless the page has its own
// caching type) and `unmap` releases it; the reservation holds one page, so
// one mapping at a time, and `read`/`write` always unmap before mapping again.
unsafe impl PageMapper for Window {
    fn map(&mut self, pfn: u64) -> Result<NonNull<u8>> {
        let mdl = self.mdl()?;
        // SAFETY: `mdl` is the window's own block, sized for one PFN; no
        // mapping through it is live (the previous one was unmapped).
        unsafe { mdl.cast::<OnePageMdl>().write(OnePageMdl::for_page(pfn)) };
        let routine = MM_MAP_LOCKED_PAGES_WITH_RESERVED_MAPPING.load(Ordering::Acquire);
        if routine.is_null() {
            return Err(Status::NotSupported);
        }
        // SAFETY: a non-NULL value was returned by MmGetSystemRoutineAddress
        // for "MmMapLockedPagesWithReservedMapping", whose signature is `MapFn`.
        let map = unsafe { core::mem::transmute::<*mut c_void, MapFn>(routine) };
        // SAFETY: the engine's worker (PASSIVE_LEVEL, <= DISPATCH_LEVEL
        // required); the reservation and tag MmAllocateMappingAddress gave;
        // a locked one-page MDL that fits the one-page reservation.
        let va = unsafe { map(self.reservation.as_ptr(), TAG, mdl, MM_CACHED) };
        NonNull::new(va.cast::<u8>()).ok_or(Status::InsufficientResources)
    }

    fn unmap(&mut self, page: NonNull<u8>) {
        let Ok(mdl) = self.mdl() else {
            return;
        };
        let routine = MM_UNMAP_RESERVED_MAPPING.load(Ordering::Acquire);
        if routine.is_null() {
            return;
        }
        // SAFETY: a non-NULL value was returned by MmGetSystemRoutineAddress
        // for "MmUnmapReservedMapping", whose signature is `UnmapFn`.
        let unmap = unsafe { core::mem::transmute::<*mut c_void, UnmapFn>(routine) };
        // SAFETY: the address `map` returned for this MDL, with the
        // reservation's tag; PASSIVE_LEVEL.
        unsafe { unmap(page.as_ptr().cast(), TAG, mdl) };
    }
}

impl Drop for Window {
    /// Frees the reservation (engine detach, PASSIVE_LEVEL: <= APC_LEVEL
    /// required). Nothing is mapped: every `map` is unmapped before
    /// `read`/`write` return.
    fn drop(&mut self) {
        let routine = MM_FREE_MAPPING_ADDRESS.load(Ordering::Acquire);
        if routine.is_null() {
            return;
        }
        // SAFETY: a non-NULL value was returned by MmGetSystemRoutineAddress
        // for "MmFreeMappingAddress", whose signature is `FreeFn`.
        let free = unsafe { core::mem::transmute::<*mut c_void, FreeFn>(routine) };
        // SAFETY: the reservation and tag MmAllocateMappingAddress gave,
        // unmapped, freed once.
        unsafe { free(self.reservation.as_ptr(), TAG) };
    }
}
