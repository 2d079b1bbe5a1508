//! Where the DMA buffers the engine recorded into lie in kernel memory, by
//! their GPU virtual address.
//!
//! SubmitCommandVirtual names a DMA buffer by its GPU virtual address only,
//! which a CPU engine cannot dereference. But `DxgkDdiBuildPagingBuffer`
//! gives both, for the same buffer: `DmaBufferGpuVirtualAddress` (the
//! buffer's GPU VA, GpuMmu) and `pDmaBuffer` (a kernel address, at
//! `DmaBufferWriteOffset` from the buffer's start). BuildPagingBuffer
//! records the pair here; the worker finds the bytes of a submitted buffer
//! through it. VidMm keeps a paging buffer (and its mapping) until its fence
//! completes, so a recorded address stays valid while its buffer is in flight.

use alloc::vec::Vec;

use crate::foundation::fallible;
use crate::foundation::status::Result;

/// Buffers remembered per engine: VidMm's paging DMA pool holds a few
/// buffers per physical adapter; an entry is replaced when its GPU VA is
/// recorded again, and the oldest is replaced when all are used.
pub const DIRECTORY_ENTRIES: usize = 64;

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    va: u64,
    kernel: u64,
    len: u64,
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

    /// Records that the buffer at GPU VA `va` is `len` bytes at kernel
    /// address `kernel` (both non-zero; otherwise nothing is recorded).
    pub fn record(&mut self, va: u64, kernel: u64, len: u64) {
        if va == 0 || kernel == 0 || len == 0 {
            return;
        }
        let entry = Entry { va, kernel, len };
        if let Some(e) = self.entries.iter_mut().find(|e| e.va == va) {
            *e = entry;
            return;
        }
        if let Some(e) = self.entries.get_mut(self.next) {
            *e = entry;
        }
        self.next = self.next.wrapping_add(1) % DIRECTORY_ENTRIES;
    }

    /// The kernel address of `len` bytes at GPU VA `va`, when a recorded
    /// buffer holds all of them.
    #[must_use]
    pub fn resolve(&self, va: u64, len: u64) -> Option<u64> {
        self.entries.iter().find_map(|e| {
            let from = va.checked_sub(e.va)?;
            let end = from.checked_add(len)?;
            (e.len != 0 && end <= e.len)
                .then(|| e.kernel.checked_add(from))
                .flatten()
        })
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
}
