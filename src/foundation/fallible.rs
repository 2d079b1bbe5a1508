//! Allocation that reports failure instead of aborting: the only way driver
//! code allocates. `Vec::push` and friends abort the process (bug-check the
//! kernel) when growing fails, so driver code reserves exactly once and then
//! only fills reserved capacity.

use alloc::vec::Vec;

/// An allocation failed (or would have needed to grow reserved capacity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutOfMemory;

impl From<OutOfMemory> for super::status::Status {
    fn from(_: OutOfMemory) -> Self {
        Self::NoMemory
    }
}

/// An empty `Vec` with room for exactly `n` elements, or `OutOfMemory`
/// without allocating anything.
pub(crate) fn try_vec<T>(n: usize) -> Result<Vec<T>, OutOfMemory> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| OutOfMemory)?;
    Ok(v)
}

/// Appends `value` into capacity reserved beforehand; never reallocates.
pub(crate) fn push<T>(v: &mut Vec<T>, value: T) -> Result<(), OutOfMemory> {
    if v.len() >= v.capacity() {
        return Err(OutOfMemory);
    }
    v.push(value);
    Ok(())
}
