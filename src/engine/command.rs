//! The engine's command format: what `DxgkDdiBuildPagingBuffer` records into
//! a DMA buffer and what the engine executes when that buffer is submitted
//! (`docs/engine.md`, "Command format").
//!
//! Every command is [`COMMAND_SIZE`] bytes, little-endian: a `u32` opcode, the
//! `u32` [`MAGIC`], then seven `u64` operands. A command moves at most
//! [`CHUNK`] bytes, so one paging operation becomes as many commands as its
//! size needs; `MultipassOffset` counts the commands already recorded when a
//! DMA buffer runs out (the operation continues in the next buffer).

use crate::foundation::status::{Result, Status};

/// Bytes of one command.
pub const COMMAND_SIZE: usize = 64;
/// Bytes one TRANSFER or FILL command moves at most (256 KiB): the unit that
/// bounds a buffer's run time (`docs/engine.md`, "TDR bound").
pub const CHUNK: u64 = 256 << 10;
/// Second word of every command ("GPUE"): a buffer of anything else faults.
pub const MAGIC: u32 = 0x4555_5047;
/// Page size of MDL offsets (`MdlOffset` counts 4 KiB pages).
pub const MDL_PAGE: u64 = 4096;

/// One end of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// Bytes of a segment, from a byte offset.
    Segment {
        /// Driver segment id.
        id: u32,
        /// Byte offset in the segment.
        offset: u64,
    },
    /// System memory an MDL describes, from a byte offset into it.
    Mdl {
        /// The MDL's address (opaque: resolved by `crate::kernel::dma`).
        mdl: u64,
        /// Byte offset into the memory it describes.
        offset: u64,
    },
}

impl Location {
    fn advanced(self, by: u64) -> Result<Self> {
        let add = |o: u64| o.checked_add(by).ok_or(Status::InvalidParameter);
        Ok(match self {
            Self::Segment { id, offset } => Self::Segment {
                id,
                offset: add(offset)?,
            },
            Self::Mdl { mdl, offset } => Self::Mdl {
                mdl,
                offset: add(offset)?,
            },
        })
    }

    fn words(self) -> (u64, u64, u64) {
        match self {
            Self::Segment { id, offset } => (u64::from(id), offset, 0),
            Self::Mdl { mdl, offset } => (0, mdl, offset),
        }
    }

    fn from_words(id: u64, a: u64, b: u64) -> Result<Self> {
        match u32::try_from(id).map_err(|_| Status::InvalidParameter)? {
            0 => Ok(Self::Mdl { mdl: a, offset: b }),
            id => Ok(Self::Segment { id, offset: a }),
        }
    }
}

/// One command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Copy `len` bytes.
    Transfer {
        /// Source.
        src: Location,
        /// Destination.
        dst: Location,
        /// Bytes (at most [`CHUNK`]).
        len: u64,
    },
    /// Fill `len` bytes of a segment with a 32-bit pattern.
    Fill {
        /// Destination.
        dst: Location,
        /// Bytes (at most [`CHUNK`]).
        len: u64,
        /// The pattern, repeated from the first byte.
        pattern: u32,
    },
    /// The content of an allocation may be dropped: nothing to do.
    Discard {
        /// The segment.
        segment: u32,
        /// The allocation's offset.
        offset: u64,
    },
    /// MAP/UNMAP_APERTURE_SEGMENT and FLUSH_TLB: recorded, counted at
    /// execution (`docs/engine.md`).
    Recorded {
        /// The `DXGK_BUILDPAGINGBUFFER_OPERATION` value.
        operation: u32,
        /// The operation's first arguments, for diagnostics.
        args: [u64; 3],
    },
    /// Write a monitored fence's new value: at its GPU VA translated
    /// through the root of `context` when the tables map it, else by the
    /// platform's direct path (`docs/engine.md`, O-ENG-2).
    SignalFence {
        /// The paging context (`hSystemContext`) whose root translates.
        context: u64,
        /// The fence's GPU virtual address.
        va: u64,
        /// The value.
        value: u64,
    },
    /// UPDATE_PAGE_TABLE, at most [`PTES_PER_COMMAND`] entries of it:
    /// store `count` hardware entries (`crate::engine::vaddr::pte`) into the
    /// table at `(segment, address)` from entry `start` on.
    WritePtes {
        /// The table's segment (0: system memory, the only one the
        /// geometry places tables in).
        segment: u32,
        /// The table's address in that segment.
        address: u64,
        /// First entry written.
        start: u32,
        /// Entries written (at most [`PTES_PER_COMMAND`]).
        count: u32,
        /// The hardware entries (the first `count` are used).
        ptes: [u64; PTES_PER_COMMAND],
    },
    /// VIRTUAL_FILL: `len` bytes at GPU VA `dst` of the process whose
    /// root `context`'s SetRootPageTable gave, page by page.
    VirtualFill {
        /// The paging context (`hSystemContext`) whose root translates.
        context: u64,
        /// Destination GPU VA.
        dst: u64,
        /// Bytes (at most [`CHUNK`]).
        len: u64,
        /// The pattern, repeated from the first byte.
        pattern: u32,
    },
    /// VIRTUAL_TRANSFER: `len` bytes from GPU VA `src` to GPU VA `dst`.
    VirtualTransfer {
        /// The paging context whose root translates.
        context: u64,
        /// Source GPU VA.
        src: u64,
        /// Destination GPU VA.
        dst: u64,
        /// Bytes (at most [`CHUNK`]).
        len: u64,
    },
}

/// Page-table entries one WRITE_PTES command carries.
pub const PTES_PER_COMMAND: usize = 4;

const OP_TRANSFER: u32 = 1;
const OP_FILL: u32 = 2;
const OP_DISCARD: u32 = 3;
const OP_RECORDED: u32 = 4;
const OP_SIGNAL: u32 = 5;
const OP_PTES: u32 = 6;
const OP_VFILL: u32 = 7;
const OP_VTRANSFER: u32 = 8;

impl Command {
    /// The command's bytes.
    #[must_use]
    pub fn encode(&self) -> [u8; COMMAND_SIZE] {
        let (op, w): (u32, [u64; 7]) = match *self {
            Self::Transfer { src, dst, len } => {
                let (s0, s1, s2) = src.words();
                let (d0, d1, d2) = dst.words();
                (OP_TRANSFER, [s0, s1, s2, d0, d1, d2, len])
            }
            Self::Fill { dst, len, pattern } => {
                let (d0, d1, d2) = dst.words();
                (OP_FILL, [d0, d1, d2, len, u64::from(pattern), 0, 0])
            }
            Self::Discard { segment, offset } => {
                (OP_DISCARD, [u64::from(segment), offset, 0, 0, 0, 0, 0])
            }
            Self::Recorded { operation, args } => (
                OP_RECORDED,
                [u64::from(operation), args[0], args[1], args[2], 0, 0, 0],
            ),
            Self::SignalFence { context, va, value } => {
                (OP_SIGNAL, [va, value, context, 0, 0, 0, 0])
            }
            Self::WritePtes {
                segment,
                address,
                start,
                count,
                ptes: [p0, p1, p2, p3],
            } => (
                OP_PTES,
                [
                    u64::from(segment) | (u64::from(count) << 32),
                    address,
                    u64::from(start),
                    p0,
                    p1,
                    p2,
                    p3,
                ],
            ),
            Self::VirtualFill {
                context,
                dst,
                len,
                pattern,
            } => (OP_VFILL, [context, dst, len, u64::from(pattern), 0, 0, 0]),
            Self::VirtualTransfer {
                context,
                src,
                dst,
                len,
            } => (OP_VTRANSFER, [context, src, dst, len, 0, 0, 0]),
        };
        let head = u64::from(op) | (u64::from(MAGIC) << 32);
        let mut out = [0u8; COMMAND_SIZE];
        for (chunk, word) in out.chunks_exact_mut(8).zip(core::iter::once(head).chain(w)) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    /// Decodes one command.
    ///
    /// # Errors
    /// `InvalidParameter` for a wrong magic, an unknown opcode, or a length
    /// above [`CHUNK`].
    pub fn decode(bytes: &[u8; COMMAND_SIZE]) -> Result<Self> {
        let mut words = [0u64; 8];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *word = u64::from_le_bytes(b);
        }
        let [head, w0, w1, w2, w3, w4, w5, w6] = words;
        if (head >> 32) != u64::from(MAGIC) {
            return Err(Status::InvalidParameter);
        }
        let check = |len: u64| {
            if len <= CHUNK {
                Ok(len)
            } else {
                Err(Status::InvalidParameter)
            }
        };
        match head & 0xFFFF_FFFF {
            1 => Ok(Self::Transfer {
                src: Location::from_words(w0, w1, w2)?,
                dst: Location::from_words(w3, w4, w5)?,
                len: check(w6)?,
            }),
            2 => Ok(Self::Fill {
                dst: Location::from_words(w0, w1, w2)?,
                len: check(w3)?,
                pattern: u32::try_from(w4).map_err(|_| Status::InvalidParameter)?,
            }),
            3 => Ok(Self::Discard {
                segment: u32::try_from(w0).map_err(|_| Status::InvalidParameter)?,
                offset: w1,
            }),
            4 => Ok(Self::Recorded {
                operation: u32::try_from(w0).map_err(|_| Status::InvalidParameter)?,
                args: [w1, w2, w3],
            }),
            5 => Ok(Self::SignalFence {
                context: w2,
                va: w0,
                value: w1,
            }),
            6 => {
                let count = u32::try_from(w0 >> 32).map_err(|_| Status::InvalidParameter)?;
                if usize::try_from(count).map_or(true, |c| c > PTES_PER_COMMAND) {
                    return Err(Status::InvalidParameter);
                }
                Ok(Self::WritePtes {
                    segment: u32::try_from(w0 & 0xFFFF_FFFF)
                        .map_err(|_| Status::InvalidParameter)?,
                    address: w1,
                    start: u32::try_from(w2).map_err(|_| Status::InvalidParameter)?,
                    count,
                    ptes: [w3, w4, w5, w6],
                })
            }
            7 => Ok(Self::VirtualFill {
                context: w0,
                dst: w1,
                len: check(w2)?,
                pattern: u32::try_from(w3).map_err(|_| Status::InvalidParameter)?,
            }),
            8 => Ok(Self::VirtualTransfer {
                context: w0,
                src: w1,
                dst: w2,
                len: check(w3)?,
            }),
            _ => Err(Status::InvalidParameter),
        }
    }
}

/// A paging operation as the engine records it, converted from
/// `DXGKARG_BUILDPAGINGBUFFER` by the trampoline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PagingOp {
    /// TRANSFER: `size` bytes from `src` to `dst`.
    Transfer {
        /// Source.
        src: Location,
        /// Destination.
        dst: Location,
        /// Bytes.
        size: u64,
    },
    /// FILL: `size` bytes of `dst` with `pattern`.
    Fill {
        /// Destination.
        dst: Location,
        /// Bytes.
        size: u64,
        /// The pattern.
        pattern: u32,
    },
    /// VIRTUAL_FILL: `size` bytes at GPU VA `dst`, translated through the
    /// root of `context` when run.
    VirtualFill {
        /// The paging context.
        context: u64,
        /// Destination GPU VA.
        dst: u64,
        /// Bytes.
        size: u64,
        /// The pattern.
        pattern: u32,
    },
    /// VIRTUAL_TRANSFER: `size` bytes from GPU VA `src` to GPU VA `dst`.
    VirtualTransfer {
        /// The paging context.
        context: u64,
        /// Source GPU VA.
        src: u64,
        /// Destination GPU VA.
        dst: u64,
        /// Bytes.
        size: u64,
    },
    /// UPDATE_PAGE_TABLE: `count` entries of the table at `(segment,
    /// address)` from entry `start` on. The commands it makes carry zero
    /// entries: the caller stores the entries [`Self::pte_span`] names
    /// (the operation's array is the caller's to read).
    WritePtes {
        /// The table's segment.
        segment: u32,
        /// The table's address.
        address: u64,
        /// First entry.
        start: u32,
        /// Entries.
        count: u32,
    },
    /// One command as is (DISCARD, the recorded operations, SIGNAL).
    Single(Command),
    /// Accepted with nothing written (NOTIFY_RESIDENCY(2), NOTIFY_ALLOC, and
    /// every operation this engine has no command for).
    Nothing,
}

impl PagingOp {
    /// How many commands the operation takes.
    #[must_use]
    pub fn command_count(&self) -> u64 {
        match *self {
            Self::Transfer { size, .. }
            | Self::Fill { size, .. }
            | Self::VirtualFill { size, .. }
            | Self::VirtualTransfer { size, .. } => size.div_ceil(CHUNK),
            Self::WritePtes { count, .. } => u64::from(count).div_ceil(u64::from(PTES)),
            Self::Single(_) => 1,
            Self::Nothing => 0,
        }
    }

    /// The operation's command number `index`, or `None` past the last.
    ///
    /// # Errors
    /// `InvalidParameter` when an offset overflows.
    pub fn command(&self, index: u64) -> Result<Option<Command>> {
        if index >= self.command_count() {
            return Ok(None);
        }
        let at = index.checked_mul(CHUNK).ok_or(Status::InvalidParameter)?;
        let len_at = |size: u64| size.saturating_sub(at).min(CHUNK);
        Ok(Some(match *self {
            Self::Transfer { src, dst, size } => Command::Transfer {
                src: src.advanced(at)?,
                dst: dst.advanced(at)?,
                len: len_at(size),
            },
            Self::Fill { dst, size, pattern } => {
                // A chunk starts at a multiple of 4 bytes, so the pattern
                // stays in phase across commands.
                Command::Fill {
                    dst: dst.advanced(at)?,
                    len: len_at(size),
                    pattern,
                }
            }
            Self::VirtualFill {
                context,
                dst,
                size,
                pattern,
            } => Command::VirtualFill {
                context,
                dst: dst.checked_add(at).ok_or(Status::InvalidParameter)?,
                len: len_at(size),
                pattern,
            },
            Self::VirtualTransfer {
                context,
                src,
                dst,
                size,
            } => Command::VirtualTransfer {
                context,
                src: src.checked_add(at).ok_or(Status::InvalidParameter)?,
                dst: dst.checked_add(at).ok_or(Status::InvalidParameter)?,
                len: len_at(size),
            },
            Self::WritePtes {
                segment,
                address,
                start,
                ..
            } => {
                let (first, count) = self.pte_span(index).ok_or(Status::InvalidParameter)?;
                Command::WritePtes {
                    segment,
                    address,
                    start: start.checked_add(first).ok_or(Status::InvalidParameter)?,
                    count,
                    ptes: [0; PTES_PER_COMMAND],
                }
            }
            Self::Single(c) => c,
            Self::Nothing => return Ok(None),
        }))
    }

    /// For UPDATE_PAGE_TABLE, command `index`'s entries: (the first one's
    /// index in the operation's array, how many), or `None` past the last.
    #[must_use]
    pub fn pte_span(&self, index: u64) -> Option<(u32, u32)> {
        let Self::WritePtes { count, .. } = *self else {
            return None;
        };
        let first = u32::try_from(index).ok()?.checked_mul(PTES)?;
        let n = count.checked_sub(first).filter(|&n| n > 0)?;
        Some((first, n.min(PTES)))
    }
}

/// [`PTES_PER_COMMAND`] as a `u32`.
const PTES: u32 = PTES_PER_COMMAND as u32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip_and_garbage_is_refused() {
        let cmds = [
            Command::Transfer {
                src: Location::Segment {
                    id: 2,
                    offset: 4096,
                },
                dst: Location::Mdl {
                    mdl: 0xdead_0000,
                    offset: 12,
                },
                len: CHUNK,
            },
            Command::Fill {
                dst: Location::Segment { id: 2, offset: 0 },
                len: 10,
                pattern: 0xAABB_CCDD,
            },
            Command::Discard {
                segment: 3,
                offset: 8,
            },
            Command::Recorded {
                operation: 11,
                args: [1, 2, 3],
            },
            Command::SignalFence {
                context: 0xC0,
                va: 0x1000,
                value: 7,
            },
        ];
        for c in cmds {
            assert_eq!(Command::decode(&c.encode()), Ok(c));
        }
        assert!(Command::decode(&[0; COMMAND_SIZE]).is_err());
        let mut too_long = cmds[0].encode();
        too_long[56..64].copy_from_slice(&(CHUNK + 1).to_le_bytes());
        assert!(Command::decode(&too_long).is_err());
    }

    #[test]
    fn a_big_transfer_splits_into_chunks_that_cover_it_exactly() {
        let op = PagingOp::Transfer {
            src: Location::Segment { id: 2, offset: 100 },
            dst: Location::Segment { id: 3, offset: 0 },
            size: 2 * CHUNK + 5,
        };
        assert_eq!(op.command_count(), 3);
        let mut covered = 0;
        for i in 0..3 {
            let Some(Command::Transfer { src, len, .. }) = op.command(i).unwrap() else {
                panic!("not a transfer");
            };
            assert_eq!(
                src,
                Location::Segment {
                    id: 2,
                    offset: 100 + covered
                }
            );
            covered += len;
        }
        assert_eq!(covered, 2 * CHUNK + 5);
        assert_eq!(op.command(3), Ok(None));
    }
}
