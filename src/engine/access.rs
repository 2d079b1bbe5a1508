//! The engine's byte access by [`Location`]: a segment (through the VRAM
//! binding, marking what it writes dirty) or system memory through an MDL.
//! Shared by the physical commands (`exec`) and the virtual ones (`vaddr`).

use super::{EngineHost, EngineMemory, Location};
use crate::foundation::status::{Result, Status};

/// Reads `out.len()` bytes at `from`.
pub(super) fn read<H: EngineHost>(host: &H, from: Location, out: &mut [u8]) -> Result<()> {
    match from {
        Location::Segment { id, offset } => host.memory().read(id, offset, out),
        Location::Mdl { mdl, offset } => host.read_system(mdl, offset, out),
    }
}

/// Marks what the engine wrote, unless `marks` is false (only
/// [`super::Broken::DropsMarks`], a test's broken engine).
pub(super) fn mark<H: EngineHost>(
    host: &H,
    marks: bool,
    id: u32,
    offset: u64,
    len: u64,
) -> Result<()> {
    if marks {
        host.mark_dirty(id, offset, len)
    } else {
        Ok(())
    }
}

/// Writes `bytes` at `to`, marking segment bytes dirty unless `marks` is false.
pub(super) fn write<H: EngineHost>(
    host: &H,
    to: Location,
    bytes: &[u8],
    marks: bool,
) -> Result<()> {
    match to {
        Location::Segment { id, offset } => {
            host.memory().write(id, offset, bytes)?;
            let len = u64::try_from(bytes.len()).map_err(|_| Status::InvalidParameter)?;
            mark(host, marks, id, offset, len)
        }
        Location::Mdl { mdl, offset } => host.write_system(mdl, offset, bytes),
    }
}
