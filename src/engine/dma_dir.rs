//! Where the DMA buffers the engine recorded into lie in kernel memory, by
//! their GPU virtual address or by the record BuildPagingBuffer left in the
//! buffer's private data.
//!
//! A submission names a DMA buffer by an address a CPU engine cannot
//! dereference: SubmitCommandVirtual by its GPU virtual address,
//! SubmitCommand by a physical (aperture) address. But
//! `DxgkDdiBuildPagingBuffer` is given the buffer's kernel address
//! (`pDmaBuffer`, at `DmaBufferWriteOffset` from the buffer's start), its
//! GPU VA (`DmaBufferGpuVirtualAddress`, GpuMmu) and its private data
//! (`pDmaBufferPrivateData`, the `PagingBufferPrivateDataSize` bytes VidMm
//! allocates per paging buffer in non-paged pool, zeroed when the buffer is
//! created, never touched by VidMm, and passed again to the submission).
//! BuildPagingBuffer records the buffer here and writes into its private
//! data a [`Ticket`] naming the entry (a magic, the entry's index and its
//! generation: never an address the submit path would trust); the worker
//! resolves a submitted buffer's bytes through the ticket, whatever address
//! form the submission used, or else through the GPU VA. VidMm keeps a
//! paging buffer (and its mapping) until its fence completes, so a recorded
//! address stays valid while its buffer is in flight.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::foundation::fallible;
use crate::foundation::status::Result;

/// Buffers remembered per engine: VidMm's paging DMA pool holds a few
/// buffers per physical adapter; an entry is replaced when its buffer (its
/// kernel address) or its GPU VA is recorded again, and the oldest is
/// replaced when all are used.
pub const DIRECTORY_ENTRIES: usize = 64;

/// Bytes of the private-data record ([`Ticket::encode`]): the adapter's
/// `PagingBufferPrivateDataSize`.
pub const PRIVATE_DATA_SIZE: usize = 16;

/// The record's magic, "GPPD" little-endian.
const PRIVATE_MAGIC: u32 = 0x4450_5047;

/// The last generation given, shared by every engine's directory: a record
/// left in private data by an earlier engine (an adapter stopped and
/// started again, another adapter) never matches a later entry (until the
/// 2^32 generations wrap).
static GENERATION: AtomicU32 = AtomicU32::new(0);

/// A directory entry as a private-data record names it: valid while the
/// entry's generation is unchanged (an entry given to another buffer gets a
/// new one, so a stale record resolves to nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// The entry's index (below [`DIRECTORY_ENTRIES`]).
    pub index: u8,
    /// The entry's generation (never 0).
    pub generation: u32,
}

impl Ticket {
    /// The private-data record: the magic, the index, the generation and a
    /// zero word, each a little-endian `u32`.
    #[must_use]
    pub fn encode(self) -> [u8; PRIVATE_DATA_SIZE] {
        let mut out = [0u8; PRIVATE_DATA_SIZE];
        let words = [PRIVATE_MAGIC, u32::from(self.index), self.generation, 0];
        for (chunk, w) in out.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// The ticket a private-data record holds, if it is one this driver
    /// wrote (the magic, an index in range, a non-zero generation, the zero
    /// word); anything else (zeroed private data, another record) is `None`.
    #[must_use]
    pub fn decode(bytes: &[u8; PRIVATE_DATA_SIZE]) -> Option<Self> {
        let mut words = [0u32; 4];
        for (w, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
            *w = u32::from_le_bytes(chunk.try_into().ok()?);
        }
        let [magic, index, generation, zero] = words;
        let in_range = usize::try_from(index).ok()? < DIRECTORY_ENTRIES;
        (magic == PRIVATE_MAGIC && in_range && generation != 0 && zero == 0).then_some(Self {
            index: u8::try_from(index).ok()?,
            generation,
        })
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    va: u64,
    kernel: u64,
    len: u64,
    generation: u32,
}

impl Entry {
    /// The kernel address of `len` bytes at `offset` of this buffer, when
    /// it holds all of them (an empty entry holds none).
    fn at(&self, offset: u64, len: u64) -> Option<u64> {
        let end = offset.checked_add(len)?;
        (self.len != 0 && end <= self.len)
            .then(|| self.kernel.checked_add(offset))
            .flatten()
    }
}

/// The directory.
#[derive(Debug)]
pub struct DmaDirectory {
    entries: Vec<Entry>,
    next: usize,
}

impl DmaDirectory {
    /// An empty directory, allocated now (PASSIVE_LEVEL).
    ///
    /// # Errors
    /// `NoMemory`.
    pub fn new() -> Result<Self> {
        let mut entries = fallible::try_vec(DIRECTORY_ENTRIES)?;
        for _ in 0..DIRECTORY_ENTRIES {
            fallible::push(&mut entries, Entry::default())?;
        }
        Ok(Self { entries, next: 0 })
    }

    /// The next generation (never 0; lock-free, PASSIVE_LEVEL).
    fn next_generation() -> u32 {
        loop {
            let g = GENERATION.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
            if g != 0 {
                return g;
            }
        }
    }

    /// Records that a buffer is `len` bytes at kernel address `kernel`, at
    /// GPU VA `va` (0: none known). Returns the ticket naming its entry, or
    /// `None` (nothing recorded) for a zero address or length. The same
    /// buffer recorded again keeps its entry and generation.
    pub fn record(&mut self, va: u64, kernel: u64, len: u64) -> Option<Ticket> {
        if kernel == 0 || len == 0 {
            return None;
        }
        let same = self
            .entries
            .iter()
            .position(|e| e.len != 0 && e.kernel == kernel);
        let index = match same {
            Some(i) => i,
            None => {
                let i = self
                    .entries
                    .iter()
                    .position(|e| va != 0 && e.va == va)
                    .unwrap_or(self.next);
                if i == self.next {
                    self.next = self.next.wrapping_add(1) % DIRECTORY_ENTRIES;
                }
                let generation = Self::next_generation();
                if let Some(e) = self.entries.get_mut(i) {
                    e.generation = generation;
                }
                i
            }
        };
        if va != 0 {
            // A GPU VA names one buffer: an older entry holding it is stale.
            for (i, e) in self.entries.iter_mut().enumerate() {
                if i != index && e.va == va {
                    e.va = 0;
                }
            }
        }
        let e = self.entries.get_mut(index)?;
        e.va = va;
        e.kernel = kernel;
        e.len = len;
        Some(Ticket {
            index: u8::try_from(index).ok()?,
            generation: e.generation,
        })
    }

    /// The kernel address of `len` bytes at GPU VA `va`, when a recorded
    /// buffer holds all of them.
    #[must_use]
    pub fn resolve(&self, va: u64, len: u64) -> Option<u64> {
        if va == 0 {
            return None;
        }
        self.entries
            .iter()
            .filter(|e| e.va != 0)
            .find_map(|e| e.at(va.checked_sub(e.va)?, len))
    }

    /// The kernel address of `len` bytes at `offset` of the buffer `ticket`
    /// names, when its entry still has the ticket's generation and holds
    /// all of them. With `va` (a SubmitCommandVirtual), an entry recorded
    /// at another GPU VA is not this submission's buffer: `None`.
    #[must_use]
    pub fn resolve_ticket(
        &self,
        ticket: Ticket,
        va: Option<u64>,
        offset: u64,
        len: u64,
    ) -> Option<u64> {
        let e = self.entries.get(usize::from(ticket.index))?;
        let same_va = va.is_none_or(|v| e.va == 0 || e.va == v);
        if e.generation != ticket.generation || !same_va {
            return None;
        }
        e.at(offset, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_buffer_resolves_inside_and_not_outside() {
        let mut d = DmaDirectory::new().unwrap();
        d.record(0x10_0000, 0xAAAA_0000, 4096);
        assert_eq!(d.resolve(0x10_0040, 64), Some(0xAAAA_0040));
        assert_eq!(d.resolve(0x10_0FC0, 65), None, "past the end");
        assert_eq!(d.resolve(0x0F_FFFF, 1), None, "before the start");
        d.record(0x10_0000, 0xBBBB_0000, 4096);
        assert_eq!(d.resolve(0x10_0000, 1), Some(0xBBBB_0000), "re-recorded");
        for i in 0..(DIRECTORY_ENTRIES as u64 + 1) {
            d.record(0x100_0000 + i * 0x1000, 0xC000_0000 + i * 0x1000, 0x1000);
        }
        assert_eq!(d.resolve(0x10_0000, 1), None, "the oldest was replaced");
    }

    #[test]
    fn a_ticket_resolves_its_buffer_until_the_entry_is_given_away() {
        let mut d = DmaDirectory::new().unwrap();
        assert_eq!(d.record(0, 0, 4096), None, "no kernel address");
        let t = d.record(0, 0xAAAA_0000, 4096).unwrap();
        assert_eq!(d.resolve_ticket(t, None, 64, 64), Some(0xAAAA_0040));
        assert_eq!(d.resolve_ticket(t, None, 4095, 2), None, "past the end");
        assert_eq!(
            d.record(0, 0xAAAA_0000, 8192),
            Some(t),
            "same buffer, same ticket"
        );
        assert_eq!(d.resolve_ticket(t, None, 4096, 64), Some(0xAAAA_1000));
        let forged = Ticket {
            generation: t.generation.wrapping_add(1),
            ..t
        };
        assert_eq!(
            d.resolve_ticket(forged, None, 0, 64),
            None,
            "wrong generation"
        );
        for i in 0..DIRECTORY_ENTRIES as u64 {
            d.record(0, 0xC000_0000 + i * 0x1_0000, 0x1000);
        }
        assert_eq!(
            d.resolve_ticket(t, None, 0, 64),
            None,
            "stale: entry reused"
        );
        let v = d.record(0x10_0000, 0xD000_0000, 4096).unwrap();
        assert_eq!(
            d.resolve_ticket(v, Some(0x10_0000), 0, 64),
            Some(0xD000_0000)
        );
        assert_eq!(
            d.resolve_ticket(v, Some(0x20_0000), 0, 64),
            None,
            "another VA"
        );
    }

    #[test]
    fn only_a_record_this_driver_wrote_decodes() {
        let t = Ticket {
            index: 5,
            generation: 9,
        };
        assert_eq!(Ticket::decode(&t.encode()), Some(t));
        assert_eq!(Ticket::decode(&[0; PRIVATE_DATA_SIZE]), None, "zeroed");
        let mut bad = t.encode();
        bad[0] ^= 1;
        assert_eq!(Ticket::decode(&bad), None, "magic");
        let far = Ticket {
            index: u8::try_from(DIRECTORY_ENTRIES).unwrap(),
            generation: 1,
        };
        assert_eq!(Ticket::decode(&far.encode()), None, "index out of range");
        let mut tail = t.encode();
        tail[15] = 1;
        assert_eq!(Ticket::decode(&tail), None, "the zero word");
    }
}
