//! The LUIDs the driver invents for its vGPUs.
//!
//! A LUID names a vGPU to user mode (the VM worker, the UMED) for as long as
//! the vGPU lives, and a new vGPU in a reused slot must get a new one. They
//! come from one driver-wide counter, so they are unique across adapters for
//! the life of the loaded driver (2^32 vGPU creations). `HighPart` carries the
//! tag "GP", which keeps them apart from the small LUIDs the kernel hands out
//! (`NtAllocateLocallyUniqueId` counts up from 0 with `HighPart` 0).

use core::sync::atomic::{AtomicU32, Ordering};

use dxgk_sys::LUID;

use crate::foundation::status::{Result, Status};

/// `HighPart` of every vGPU LUID: "GP".
const HIGH_TAG: i32 = 0x4750;

/// The next `LowPart`. Only uniqueness matters, so `Relaxed` (not modelled
/// under loom, like the handle generations).
static NEXT: AtomicU32 = AtomicU32::new(1);

/// A LUID no other vGPU of this driver has had.
///
/// # Errors
/// `InsufficientResources` once 2^32 - 1 LUIDs have been handed out.
pub(crate) fn allocate() -> Result<LUID> {
    let low = NEXT
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_add(1))
        .map_err(|_| Status::InsufficientResources)?;
    Ok(LUID {
        LowPart: low,
        HighPart: HIGH_TAG,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn luids_are_unique() {
        let a = super::allocate().unwrap();
        let b = super::allocate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.HighPart, 0x4750);
    }
}
