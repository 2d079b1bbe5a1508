//! The source side: `DxgkDdiSave{Immutable,Mutable}MigrationData` on one
//! vGPU, with the two-call protocol (`dirty-bit-tracking.md` section 6): a
//! sizing call learns the exact bytes needed and changes nothing; a filling
//! call with a buffer of at least that many bytes gets the blob and moves
//! the state machine on; one with a smaller buffer learns the size again,
//! with nothing changed. The state checks come first: an out-of-order sizing
//! call is refused too. Both calls encode straight from the live state
//! (`super::encode`): nothing is allocated on the blackout path.

use super::encode;
use crate::basis::Tracker;
use crate::foundation::status::{Result, Status};
use crate::vgpu::Vgpu;

/// What a Save call produced.
pub(crate) enum Saved {
    /// The sizing call: the exact bytes needed.
    Size(usize),
    /// The OS's buffer is smaller than the bytes needed (the value).
    TooSmall(usize),
    /// The blob was encoded into the OS's buffer, this many bytes (the state
    /// machine moved on).
    Written(usize),
}

/// The capacity a Save call offers, from the `*DataSize` and whether `Data`
/// is NULL that the OS passed: `None` for the sizing call (`*DataSize == 0`,
/// `Data == NULL`).
///
/// # Errors
/// `InvalidParameter` for `Data == NULL` with a non-zero `*DataSize`.
pub(crate) fn capacity(data_size: u64, data_is_null: bool) -> Result<Option<usize>> {
    match (data_size, data_is_null) {
        (0, true) => Ok(None),
        (_, true) => Err(Status::InvalidParameter),
        // Buffers past the address space cannot exist; treat as "large".
        (n, false) => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
    }
}

/// One Save call: `capacity` is `None` for the sizing call, else the size of
/// the OS's buffer; `out(n)` gives the first `n` bytes of that buffer, into
/// which `encode` writes the blob in place (no allocation on the blackout
/// path). The caller moves the state machine on for [`Saved::Written`].
fn save<'o>(
    capacity: Option<usize>,
    encode: impl Fn(Option<&mut [u8]>) -> Result<usize>,
    out: impl FnOnce(usize) -> Result<&'o mut [u8]>,
) -> Result<Saved> {
    let needed = encode(None)?;
    let Some(capacity) = capacity else {
        return Ok(Saved::Size(needed));
    };
    if capacity < needed {
        return Ok(Saved::TooSmall(needed));
    }
    Ok(Saved::Written(encode(Some(out(needed)?))?))
}

/// `DxgkDdiSaveImmutableMigrationData` (either call of the two-call
/// protocol).
///
/// # Errors
/// `InvalidDeviceState` unless the VF is a prepared source with its VRAM.
pub(crate) fn save_immutable<'o>(
    vgpu: &mut Vgpu,
    tracker: &Tracker,
    capacity: Option<usize>,
    out: impl FnOnce(usize) -> Result<&'o mut [u8]>,
) -> Result<Saved> {
    vgpu.migration().check_save_immutable()?;
    vgpu.migratable()?;
    let saved = save(capacity, |buf| encode::immutable(tracker, vgpu, buf), out)?;
    if let Saved::Written(_) = saved {
        vgpu.migration_mut().saved_immutable();
    }
    Ok(saved)
}

/// `DxgkDdiSaveMutableMigrationData` (either call).
///
/// # Errors
/// `InvalidDeviceState` before SaveImmutable, when the VF is not paused, or
/// without VRAM.
pub(crate) fn save_mutable<'o>(
    vgpu: &mut Vgpu,
    tracker: &Tracker,
    capacity: Option<usize>,
    out: impl FnOnce(usize) -> Result<&'o mut [u8]>,
) -> Result<Saved> {
    vgpu.migration().check_save_mutable()?;
    let saved = save(capacity, |buf| encode::mutable(tracker, vgpu, buf), out)?;
    if let Saved::Written(_) = saved {
        vgpu.migration_mut().saved_mutable();
    }
    Ok(saved)
}
