//! Executing one command on the CPU.

use super::{Broken, Command, EngineHost, EngineMemory, Location, vaddr};
use crate::foundation::status::{Result, Status};

/// Bytes of the worker's scratch buffer: a TRANSFER moves through it in
/// pieces of this size.
pub const SCRATCH: usize = 64 << 10;

/// Reads `out.len()` bytes at `from`.
pub(super) fn read<H: EngineHost>(host: &H, from: Location, out: &mut [u8]) -> Result<()> {
    match from {
        Location::Segment { id, offset } => host.memory().read(id, offset, out),
        Location::Mdl { mdl, offset } => host.read_system(mdl, offset, out),
    }
}

/// Marks what the engine wrote, unless `marks` is false (only
/// [`super::Broken::DropsMarks`], a test's broken engine).
fn mark<H: EngineHost>(host: &H, marks: bool, id: u32, offset: u64, len: u64) -> Result<()> {
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

fn advance(at: Location, by: usize) -> Result<Location> {
    let by = u64::try_from(by).map_err(|_| Status::InvalidParameter)?;
    let add = |o: u64| o.checked_add(by).ok_or(Status::InvalidParameter);
    Ok(match at {
        Location::Segment { id, offset } => Location::Segment {
            id,
            offset: add(offset)?,
        },
        Location::Mdl { mdl, offset } => Location::Mdl {
            mdl,
            offset: add(offset)?,
        },
    })
}

/// Executes `command`, marking every segment byte it writes dirty (unless
/// `broken` is [`Broken::DropsMarks`]); `Ok(true)` when it did work,
/// `Ok(false)` when it was only recorded.
///
/// # Errors
/// What the memory or the platform refuses; the engine then faults.
pub(super) fn execute<H: EngineHost>(
    host: &H,
    command: &Command,
    scratch: &mut [u8],
    broken: Broken,
) -> Result<bool> {
    let marks = broken != Broken::DropsMarks;
    match *command {
        Command::Transfer { src, dst, len } => {
            let mut left = usize::try_from(len).map_err(|_| Status::InvalidParameter)?;
            let (mut src, mut dst) = (src, dst);
            while left > 0 {
                let n = left.min(scratch.len());
                let piece = scratch.get_mut(..n).ok_or(Status::InvalidParameter)?;
                if piece.is_empty() {
                    return Err(Status::InvalidParameter);
                }
                read(host, src, piece)?;
                write(host, dst, piece, marks)?;
                src = advance(src, n)?;
                dst = advance(dst, n)?;
                left = left.saturating_sub(n);
            }
            Ok(true)
        }
        Command::Fill { dst, len, pattern } => match dst {
            Location::Segment { id, offset } => {
                host.memory().fill(id, offset, len, pattern)?;
                mark(host, marks, id, offset, len)?;
                Ok(true)
            }
            Location::Mdl { .. } => Err(Status::InvalidParameter),
        },
        Command::SignalFence { va, value } => {
            host.signal_fence(va, value)?;
            Ok(true)
        }
        Command::WritePtes {
            segment,
            address,
            start,
            count,
            ptes,
        } => {
            let n = usize::try_from(count).map_err(|_| Status::InvalidParameter)?;
            let ptes = ptes.get(..n).ok_or(Status::InvalidParameter)?;
            vaddr::write_ptes(host, segment, address, start, ptes)
        }
        Command::VirtualFill {
            context,
            dst,
            len,
            pattern,
        } => {
            let root = host.root_table(context).ok_or(Status::InvalidParameter)?;
            vaddr::fill(host, root, (dst, len), pattern, scratch, broken)?;
            Ok(true)
        }
        Command::VirtualTransfer {
            context,
            src,
            dst,
            len,
        } => {
            let root = host.root_table(context).ok_or(Status::InvalidParameter)?;
            vaddr::transfer(host, root, (src, dst), len, scratch, broken)?;
            Ok(true)
        }
        Command::Discard { .. } | Command::Recorded { .. } => Ok(false),
    }
}
