//! The memory the software engine reads and writes outside VRAM: submitted
//! DMA buffers, system memory described by MDLs, and monitored fences at
//! GPU virtual addresses (`docs/engine.md`, "Addresses").
//!
//! | what | Windows | host (the stand-in's convention) |
//! |---|---|---|
//! | a DMA buffer BuildPagingBuffer recorded (`crate::engine::dma_dir`), found by the record in its private data (any submission) or by its GPU VA (SubmitCommandVirtual) | its kernel address | its kernel (host) address |
//! | any other DMA buffer address (no record, a stale one, no private data) | not resolved (`NotSupported`: the engine faults, TDR) | the host address of its bytes; an address below [`HOST_UNMAPPED`] (an aperture-style address, which no host process maps) is not resolved, as on Windows |
//! | an MDL | its system mapping (`MappedSystemVa`, or `MmMapLockedPagesSpecifyCache` as `MmGetSystemAddressForMdlSafe` does), bounded by `ByteCount` | a pointer to a [`HostMdl`] |
//! | a monitored fence's GPU VA the paging context's tables do not map (no root, or unmapped; a mapped one is written through the walk, `crate::engine::vaddr`) | not resolved (`NotSupported`: the engine faults) | the host address of its 8 bytes (a VA inside the GPU's address space is refused by the engine's host, `ddi::engine_table`) |
//! | a system-memory (segment 0) address: a page table, or a page one maps | through the engine's one-page reserved mapping, page by page (`crate::kernel::physmap`; `NotSupported` where the kernel lacks the routines, e.g. Wine) | the host address of its bytes (`read_physical`, `write_physical`) |

use crate::foundation::status::{Result, Status};

/// What an MDL pointer names on the host: `ByteCount` bytes at `Va`.
#[cfg(not(target_os = "windows"))]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_snake_case)]
pub struct HostMdl {
    /// Host address of the first byte.
    pub Va: u64,
    /// Bytes described.
    pub ByteCount: u64,
}

/// `[addr + offset, + len)` as a pointer, checked for NULL and overflow.
fn span(addr: u64, offset: u64, len: usize) -> Result<*mut u8> {
    if addr == 0 {
        return Err(Status::InvalidParameter);
    }
    let start = addr.checked_add(offset).ok_or(Status::InvalidParameter)?;
    let n = u64::try_from(len).map_err(|_| Status::InvalidParameter)?;
    start.checked_add(n).ok_or(Status::InvalidParameter)?;
    let start = usize::try_from(start).map_err(|_| Status::InvalidParameter)?;
    Ok(core::ptr::with_exposed_provenance_mut(start))
}

/// Checks `[offset, offset + len)` lies inside `count` bytes.
fn inside(count: u64, offset: u64, len: usize) -> Result<()> {
    let n = u64::try_from(len).map_err(|_| Status::InvalidParameter)?;
    let end = offset.checked_add(n).ok_or(Status::InvalidParameter)?;
    if end > count {
        return Err(Status::InvalidParameter);
    }
    Ok(())
}

/// Copies `out.len()` bytes from kernel address `addr + offset`.
///
/// # Safety
/// `addr + offset` is readable for `out.len()` bytes and not written
/// meanwhile (a DMA buffer VidMm keeps until its fence completes, an MDL's
/// mapping, or the stand-in's own memory).
pub(crate) unsafe fn read_kernel(addr: u64, offset: u64, out: &mut [u8]) -> Result<()> {
    let p = span(addr, offset, out.len())?;
    // SAFETY: readable for `out.len()` bytes (caller's contract); `out` is a
    // distinct buffer of the driver.
    unsafe { core::ptr::copy_nonoverlapping(p.cast_const(), out.as_mut_ptr(), out.len()) };
    Ok(())
}

/// Copies `bytes` to kernel address `addr + offset`.
///
/// # Safety
/// `addr + offset` is writable for `bytes.len()` bytes, which no one else
/// accesses meanwhile.
unsafe fn write_kernel(addr: u64, offset: u64, bytes: &[u8]) -> Result<()> {
    let p = span(addr, offset, bytes.len())?;
    // SAFETY: writable for `bytes.len()` bytes (caller's contract).
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
    Ok(())
}

/// Host addresses below this are never mapped (Linux's default
/// `vm.mmap_min_addr`): the stand-in submits paging buffers at such
/// aperture-style physical addresses to show they are found through their
/// private data only (`dxgkrnl_model::paging`).
#[cfg(not(target_os = "windows"))]
pub const HOST_UNMAPPED: u64 = 0x1_0000;

/// Reads a submitted DMA buffer's bytes by the address SubmitCommand gave,
/// when the engine has not recorded it (`crate::engine::dma_dir`).
///
/// # Errors
/// `NotSupported` on Windows and, on the host, below [`HOST_UNMAPPED`];
/// `InvalidParameter` for NULL or overflow.
pub(crate) fn read_dma(address: u64, offset: u64, out: &mut [u8]) -> Result<()> {
    #[cfg(not(target_os = "windows"))]
    {
        if address < HOST_UNMAPPED {
            return Err(Status::NotSupported);
        }
        // SAFETY: the host convention (module doc): the stand-in submitted
        // the buffer at this host address and keeps it until completion.
        unsafe { read_kernel(address, offset, out) }
    }
    #[cfg(target_os = "windows")]
    {
        let _ = (address, offset, out);
        Err(Status::NotSupported)
    }
}

/// (system address, bytes) of the memory `mdl` describes.
#[cfg(not(target_os = "windows"))]
fn mdl_memory(mdl: u64) -> Result<(u64, u64)> {
    let p: *const HostMdl = span(mdl, 0, core::mem::size_of::<HostMdl>())?
        .cast_const()
        .cast();
    // SAFETY: the host convention: an MDL pointer names a live HostMdl
    // (unaligned read of plain integers).
    let m = unsafe { p.read_unaligned() };
    Ok((m.Va, m.ByteCount))
}

#[cfg(target_os = "windows")]
#[allow(non_snake_case, clippy::upper_case_acronyms)]
pub(super) mod win {
    use core::ffi::c_void;

    /// `MDL` (wdm.h), the header before its PFN array (also the
    /// segment-0 window's, `crate::kernel::physmap`).
    #[repr(C)]
    pub(in crate::kernel) struct MDL {
        pub(in crate::kernel) Next: *mut MDL,
        pub(in crate::kernel) Size: i16,
        pub(in crate::kernel) MdlFlags: i16,
        pub(in crate::kernel) AllocationProcessorNumber: u16,
        pub(in crate::kernel) Reserved: u16,
        pub(in crate::kernel) Process: *mut c_void,
        pub(in crate::kernel) MappedSystemVa: *mut c_void,
        pub(in crate::kernel) StartVa: *mut c_void,
        pub(in crate::kernel) ByteCount: u32,
        pub(in crate::kernel) ByteOffset: u32,
    }
    const _: () = assert!(core::mem::size_of::<MDL>() == 48);

    /// `MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL`.
    pub(super) const MAPPED: i16 = 0x0001 | 0x0004;
    /// `KernelMode`.
    pub(super) const KERNEL_MODE: i8 = 0;
    /// `MmCached`.
    pub(in crate::kernel) const MM_CACHED: i32 = 1;
    /// `HighPagePriority | MdlMappingNoExecute`.
    pub(super) const PRIORITY: u32 = 32 | 0x4000_0000;

    // The `raw` backend links ntoskrnl through raw-dylib; the `wdk` one
    // through the WDK's ntoskrnl.lib.
    #[cfg_attr(
        not(feature = "wdk"),
        link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")
    )]
    unsafe extern "system" {
        pub(super) fn MmMapLockedPagesSpecifyCache(
            MemoryDescriptorList: *mut MDL,
            AccessMode: i8,
            CacheType: i32,
            RequestedAddress: *mut c_void,
            BugCheckOnFailure: u32,
            Priority: u32,
        ) -> *mut c_void;
    }
}

/// (system address, bytes) of the memory `mdl` describes, mapping it as
/// `MmGetSystemAddressForMdlSafe` does (the mapping stays with the MDL and
/// is released with it by its owner, VidMm). PASSIVE_LEVEL (the worker).
#[cfg(target_os = "windows")]
fn mdl_memory(mdl: u64) -> Result<(u64, u64)> {
    let p: *mut win::MDL = span(mdl, 0, core::mem::size_of::<win::MDL>())?.cast();
    // SAFETY: VidMm's paging operation names a locked MDL that stays valid
    // until the operation's fence completes; its header is read once.
    let header = unsafe { p.read_unaligned() };
    let (flags, mapped, count) = (header.MdlFlags, header.MappedSystemVa, header.ByteCount);
    let va = if flags & win::MAPPED != 0 {
        mapped
    } else {
        // SAFETY: a locked MDL (as above), mapped into system space at
        // PASSIVE_LEVEL; NULL on failure (no bugcheck requested).
        unsafe {
            win::MmMapLockedPagesSpecifyCache(
                p,
                win::KERNEL_MODE,
                win::MM_CACHED,
                core::ptr::null_mut(),
                0,
                win::PRIORITY,
            )
        }
    };
    if va.is_null() {
        return Err(Status::InsufficientResources);
    }
    Ok((
        u64::try_from(va.addr()).map_err(|_| Status::InvalidParameter)?,
        u64::from(count),
    ))
}

/// Reads system memory an MDL describes, from byte `offset`.
///
/// # Errors
/// `InvalidParameter` outside the MDL; `InsufficientResources` when it
/// cannot be mapped.
pub(crate) fn read_mdl(mdl: u64, offset: u64, out: &mut [u8]) -> Result<()> {
    let (va, count) = mdl_memory(mdl)?;
    inside(count, offset, out.len())?;
    // SAFETY: inside the MDL's mapped bytes (checked just above), which the
    // paging operation owns until its fence completes.
    unsafe { read_kernel(va, offset, out) }
}

/// Writes system memory an MDL describes, at byte `offset`.
///
/// # Errors
/// As [`read_mdl`].
pub(crate) fn write_mdl(mdl: u64, offset: u64, bytes: &[u8]) -> Result<()> {
    let (va, count) = mdl_memory(mdl)?;
    inside(count, offset, bytes.len())?;
    // SAFETY: as in `read_mdl`, writable (a paging destination).
    unsafe { write_kernel(va, offset, bytes) }
}

/// Writes a monitored fence's 64-bit value at its GPU virtual address.
///
/// # Errors
/// `NotSupported` on Windows.
pub(crate) fn write_fence(va: u64, value: u64) -> Result<()> {
    #[cfg(not(target_os = "windows"))]
    {
        // SAFETY: the host convention: the fence's GPU VA is the host
        // address of its 8 bytes, owned by the stand-in.
        unsafe { write_kernel(va, 0, &value.to_le_bytes()) }
    }
    #[cfg(target_os = "windows")]
    {
        let _ = (va, value);
        Err(Status::NotSupported)
    }
}

/// Reads system memory (segment 0) by the address a page table or a
/// page-table entry gives, by the host convention (Windows:
/// `crate::kernel::physmap`).
///
/// # Errors
/// `InvalidParameter` for NULL or overflow.
#[cfg(not(target_os = "windows"))]
pub(crate) fn read_physical(address: u64, out: &mut [u8]) -> Result<()> {
    // SAFETY: the host convention (module doc): a segment-0 address is the
    // host address of memory the stand-in owns and keeps while the paging
    // operations naming it run.
    unsafe { read_kernel(address, 0, out) }
}

/// Writes system memory (segment 0) by address, by the host convention.
///
/// # Errors
/// As [`read_physical`].
#[cfg(not(target_os = "windows"))]
pub(crate) fn write_physical(address: u64, bytes: &[u8]) -> Result<()> {
    // SAFETY: as in `read_physical`; the engine is the only writer of a page
    // table's entries and of a paging destination while it runs.
    unsafe { write_kernel(address, 0, bytes) }
}
