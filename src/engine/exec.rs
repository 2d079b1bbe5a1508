//! Executing one command on the CPU.

use super::access::{mark, read, write};
use super::{Broken, Command, EngineHost, EngineMemory, Location, vaddr};
use crate::foundation::status::{Result, Status};

/// Bytes of the worker's scratch buffer: a TRANSFER moves through it in
/// pieces of this size.
pub const SCRATCH: usize = 64 << 10;

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
        Command::SignalFence { context, va, value } => {
            let root = host.root_table(context);
            if !vaddr::write_fence(host, root, va, value, broken)? {
                host.signal_fence(va, value)?;
            }
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
