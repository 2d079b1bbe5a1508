//! Resolving the memory the software engine reads and writes outside VRAM:
//! submitted DMA buffers, system memory described by MDLs, and monitored
//! fences at GPU virtual addresses.
//!
//! - Host: the stand-in's convention (`docs/engine.md`, "Addresses"): a DMA
//!   buffer's physical or virtual address, and a fence's GPU virtual
//!   address, are the host addresses of those bytes; an MDL pointer points
//!   to a [`HostMdl`].
//! - Windows: not resolved yet (open question O-ENG-1 of `docs/engine.md`):
//!   every call answers `NotSupported`, so a buffer that needs it faults the
//!   engine (TDR) instead of being silently skipped.

use crate::foundation::status::{Result, Status};

/// What an MDL pointer names on the host: `ByteCount` bytes at `Va`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_snake_case)]
pub struct HostMdl {
    /// Host address of the first byte.
    pub Va: u64,
    /// Bytes described.
    pub ByteCount: u64,
}

#[cfg(not(target_os = "windows"))]
mod imp {
    use super::{HostMdl, Result, Status};

    fn span(addr: u64, offset: u64, len: usize) -> Result<*mut u8> {
        let start = addr.checked_add(offset).ok_or(Status::InvalidParameter)?;
        let len = u64::try_from(len).map_err(|_| Status::InvalidParameter)?;
        start.checked_add(len).ok_or(Status::InvalidParameter)?;
        if addr == 0 {
            return Err(Status::InvalidParameter);
        }
        let start = usize::try_from(start).map_err(|_| Status::InvalidParameter)?;
        Ok(core::ptr::with_exposed_provenance_mut(start))
    }

    /// Copies `out.len()` bytes from host address `addr + offset`.
    ///
    /// # Safety
    /// The stand-in's convention: `addr` is a host address it owns, valid
    /// for the bytes it submitted, and not written meanwhile.
    pub(crate) unsafe fn read_host(addr: u64, offset: u64, out: &mut [u8]) -> Result<()> {
        let p = span(addr, offset, out.len())?;
        // SAFETY: readable for `out.len()` bytes (caller's contract); `out`
        // is a distinct local buffer.
        unsafe { core::ptr::copy_nonoverlapping(p.cast_const(), out.as_mut_ptr(), out.len()) };
        Ok(())
    }

    /// Copies `bytes` to host address `addr + offset`.
    ///
    /// # Safety
    /// As [`read_host`], writable.
    pub(crate) unsafe fn write_host(addr: u64, offset: u64, bytes: &[u8]) -> Result<()> {
        let p = span(addr, offset, bytes.len())?;
        // SAFETY: writable for `bytes.len()` bytes (caller's contract).
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
        Ok(())
    }

    /// The host MDL `mdl` points to.
    ///
    /// # Safety
    /// `mdl` is NULL or the address of a live [`HostMdl`].
    pub(crate) unsafe fn host_mdl(mdl: u64) -> Result<HostMdl> {
        let p: *const HostMdl = span(mdl, 0, core::mem::size_of::<HostMdl>())?
            .cast_const()
            .cast();
        // SAFETY: a live HostMdl (caller's contract); unaligned read.
        Ok(unsafe { p.read_unaligned() })
    }

    /// Checks `[offset, offset + len)` lies inside `mdl`'s bytes.
    pub(crate) fn check(mdl: &HostMdl, offset: u64, len: usize) -> Result<()> {
        let len = u64::try_from(len).map_err(|_| Status::InvalidParameter)?;
        let end = offset.checked_add(len).ok_or(Status::InvalidParameter)?;
        if end > mdl.ByteCount {
            return Err(Status::InvalidParameter);
        }
        Ok(())
    }
}

/// Reads submitted DMA-buffer bytes at `address + offset`.
///
/// # Errors
/// `NotSupported` on Windows; `InvalidParameter` for NULL or overflow.
pub(crate) fn read_dma(address: u64, offset: u64, out: &mut [u8]) -> Result<()> {
    #[cfg(not(target_os = "windows"))]
    {
        // SAFETY: the host convention (module doc): the stand-in submitted
        // the buffer at this host address and keeps it until completion.
        unsafe { imp::read_host(address, offset, out) }
    }
    #[cfg(target_os = "windows")]
    {
        let _ = (address, offset, out);
        Err(Status::NotSupported)
    }
}

/// Reads system memory an MDL describes.
///
/// # Errors
/// `NotSupported` on Windows; `InvalidParameter` outside the MDL.
pub(crate) fn read_mdl(mdl: u64, offset: u64, out: &mut [u8]) -> Result<()> {
    #[cfg(not(target_os = "windows"))]
    {
        // SAFETY: the host convention: an MDL pointer names a live HostMdl
        // whose bytes stay valid while the paging operation runs.
        let m = unsafe { imp::host_mdl(mdl)? };
        imp::check(&m, offset, out.len())?;
        // SAFETY: inside the MDL's bytes (checked just above).
        unsafe { imp::read_host(m.Va, offset, out) }
    }
    #[cfg(target_os = "windows")]
    {
        let _ = (mdl, offset, out);
        Err(Status::NotSupported)
    }
}

/// Writes system memory an MDL describes.
///
/// # Errors
/// As [`read_mdl`].
pub(crate) fn write_mdl(mdl: u64, offset: u64, bytes: &[u8]) -> Result<()> {
    #[cfg(not(target_os = "windows"))]
    {
        // SAFETY: as in `read_mdl`.
        let m = unsafe { imp::host_mdl(mdl)? };
        imp::check(&m, offset, bytes.len())?;
        // SAFETY: inside the MDL's bytes (checked just above).
        unsafe { imp::write_host(m.Va, offset, bytes) }
    }
    #[cfg(target_os = "windows")]
    {
        let _ = (mdl, offset, bytes);
        Err(Status::NotSupported)
    }
}

/// Writes a monitored fence's 64-bit value at its GPU virtual address.
///
/// # Errors
/// As [`read_dma`].
pub(crate) fn write_fence(va: u64, value: u64) -> Result<()> {
    #[cfg(not(target_os = "windows"))]
    {
        // SAFETY: the host convention: the fence's GPU VA is the host
        // address of its 8 bytes, owned by the stand-in.
        unsafe { imp::write_host(va, 0, &value.to_le_bytes()) }
    }
    #[cfg(target_os = "windows")]
    {
        let _ = (va, value);
        Err(Status::NotSupported)
    }
}
