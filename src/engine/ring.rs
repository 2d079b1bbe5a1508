//! The submission ring: a bounded, preallocated, lock-free multi-producer
//! single-consumer queue (Vyukov's bounded queue, each slot's sequence number
//! saying whose turn it is). SubmitCommand and PreemptCommand push at up to
//! DISPATCH_LEVEL (no allocation, no wait, no lock: one CAS loop); the
//! engine's worker is the one consumer.
//!
//! An entry is [`WORDS`] `u64`s, each an atomic, so neither side needs
//! `unsafe`: a producer writes the words (Relaxed) and then publishes the
//! slot's sequence number (Release); the consumer reads the sequence number
//! (Acquire) before the words.

use alloc::vec::Vec;

use crate::foundation::fallible;
use crate::foundation::status::{Result, Status};
use crate::kernel::sync::{AtomicU64, Ordering};

/// Words of one entry.
pub const WORDS: usize = 4;

struct Slot {
    seq: AtomicU64,
    words: [AtomicU64; WORDS],
}

/// The ring.
///
/// # Invariants
/// `slots.len()` is a power of two; `head <= tail <= head + len` (as
/// positions, which never wrap in practice: 2^64 pushes).
pub struct Ring {
    slots: Vec<Slot>,
    mask: u64,
    head: AtomicU64,
    tail: AtomicU64,
}

impl Ring {
    /// A ring of `capacity` entries (a power of two), allocated now.
    ///
    /// # Errors
    /// `InvalidParameter` for a capacity that is not a power of two;
    /// `NoMemory` when the allocation fails.
    pub fn new(capacity: usize) -> Result<Self> {
        if !capacity.is_power_of_two() {
            return Err(Status::InvalidParameter);
        }
        let mut slots = fallible::try_vec(capacity)?;
        for i in 0..capacity {
            let seq = u64::try_from(i).map_err(|_| Status::InvalidParameter)?;
            fallible::push(
                &mut slots,
                Slot {
                    seq: AtomicU64::new(seq),
                    words: core::array::from_fn(|_| AtomicU64::new(0)),
                },
            )?;
        }
        let mask = u64::try_from(capacity)
            .map_err(|_| Status::InvalidParameter)?
            .wrapping_sub(1);
        Ok(Self {
            slots,
            mask,
            head: AtomicU64::new(0),
            tail: AtomicU64::new(0),
        })
    }

    fn slot(&self, pos: u64) -> Option<&Slot> {
        usize::try_from(pos & self.mask)
            .ok()
            .and_then(|i| self.slots.get(i))
    }

    /// Appends an entry; `false` when the ring is full (nothing written).
    /// Lock-free, allocation-free: callable at DISPATCH_LEVEL.
    pub fn push(&self, entry: [u64; WORDS]) -> bool {
        let mut pos = self.tail.load(Ordering::Relaxed);
        loop {
            let Some(slot) = self.slot(pos) else {
                return false;
            };
            let seq = slot.seq.load(Ordering::Acquire);
            if seq == pos {
                match self.tail.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        for (w, v) in slot.words.iter().zip(entry) {
                            w.store(v, Ordering::Relaxed);
                        }
                        slot.seq.store(pos.wrapping_add(1), Ordering::Release);
                        return true;
                    }
                    Err(now) => pos = now,
                }
            } else if seq < pos {
                // The slot still holds the entry of one lap ago: full.
                return false;
            } else {
                pos = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// A deliberately broken push for the loom model (`super::model_ring`):
    /// publishes the slot before writing its words, so the consumer can read
    /// a stale entry.
    #[cfg(all(test, loom))]
    pub(super) fn push_publishing_first(&self, entry: [u64; WORDS]) -> bool {
        let pos = self.tail.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = self.slot(pos) else {
            return false;
        };
        slot.seq.store(pos.wrapping_add(1), Ordering::Release);
        for (w, v) in slot.words.iter().zip(entry) {
            w.store(v, Ordering::Relaxed);
        }
        true
    }

    /// Takes the oldest entry, if one is published. Single consumer.
    pub fn pop(&self) -> Option<[u64; WORDS]> {
        let pos = self.head.load(Ordering::Relaxed);
        let slot = self.slot(pos)?;
        if slot.seq.load(Ordering::Acquire) != pos.wrapping_add(1) {
            return None;
        }
        let mut entry = [0u64; WORDS];
        for (v, w) in entry.iter_mut().zip(&slot.words) {
            *v = w.load(Ordering::Relaxed);
        }
        let lap = self.mask.wrapping_add(1);
        slot.seq.store(pos.wrapping_add(lap), Ordering::Release);
        self.head.store(pos.wrapping_add(1), Ordering::Relaxed);
        Some(entry)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn entries_come_out_in_order_and_a_full_ring_refuses() {
        let r = Ring::new(4).unwrap();
        for i in 0..4 {
            assert!(r.push([i, 0, 0, 0]));
        }
        assert!(!r.push([9, 0, 0, 0]), "full");
        for i in 0..4 {
            assert_eq!(r.pop().map(|e| e[0]), Some(i));
        }
        assert_eq!(r.pop(), None);
        assert!(r.push([5, 0, 0, 0]));
        assert_eq!(r.pop().map(|e| e[0]), Some(5));
        assert!(Ring::new(3).is_err());
    }

    #[test]
    fn concurrent_producers_lose_nothing() {
        let r = std::sync::Arc::new(Ring::new(1024).unwrap());
        let hs: Vec<_> = (0..4u64)
            .map(|t| {
                let r = r.clone();
                std::thread::spawn(move || {
                    for i in 0..200 {
                        assert!(r.push([t, i, 0, 0]));
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let mut last = [None; 4];
        let mut n = 0;
        while let Some([t, i, ..]) = r.pop() {
            let t = usize::try_from(t).unwrap();
            assert!(last[t].is_none_or(|l| l < i), "per-producer order kept");
            last[t] = Some(i);
            n += 1;
        }
        assert_eq!(n, 800);
    }
}
