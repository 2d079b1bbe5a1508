//! Where each context's root page table is, as `DxgkDdiSetRootPageTable`
//! last said: the software engine walks it (with the leaf tables its
//! entries name) to translate the GPU VAs of VIRTUAL_FILL and
//! VIRTUAL_TRANSFER (`crate::engine::vaddr`, `docs/engine.md`).
//!
//! SetRootPageTable's reference page gives no IRQL, so it is one of the DDIs
//! that may run above PASSIVE_LEVEL (`crate::ddi::irql::ABOVE_PASSIVE`): it
//! may not take the adapter or render lock, nor allocate. The record is
//! therefore a fixed table of atomics, one entry per context slot of every
//! adapter (`table::PER_ADAPTER` x 64 adapters), keyed by the context's full
//! handle value: a record of an earlier context in the same slot never reads
//! as a later one's. The writer clears the key, stores the fields, then
//! publishes the key (Release); a reader that finds the same key before and
//! after reading the fields (Acquire) has a whole record. Dxgkrnl makes
//! SetRootPageTable a level-1 call (one thread per class at a time) on an
//! idle context, so writers of one slot never race each other.

use crate::foundation::handle::MAX_CAPACITY;
use crate::kernel::sync::{AtomicU64, Ordering};

use super::{ContextHandle, RootPageTable};

struct Record {
    /// The context's handle value (0: none).
    key: AtomicU64,
    /// `segment << 32 | entries`.
    segment_entries: AtomicU64,
    /// Byte offset in the segment.
    offset: AtomicU64,
}

impl Record {
    const fn new() -> Self {
        Self {
            key: AtomicU64::new(0),
            segment_entries: AtomicU64::new(0),
            offset: AtomicU64::new(0),
        }
    }
}

/// One record per context slot number (adapter slot x 64 + context index).
static RECORDS: [Record; MAX_CAPACITY] = [const { Record::new() }; MAX_CAPACITY];

fn key_of(context: ContextHandle) -> u64 {
    u64::try_from(context.to_raw().addr()).unwrap_or(0)
}

/// Records `root` for `context` (lock-free, allocation-free).
pub(crate) fn record(context: ContextHandle, root: RootPageTable) {
    let Some(r) = RECORDS.get(context.slot()) else {
        return;
    };
    r.key.store(0, Ordering::Release);
    r.segment_entries.store(
        (u64::from(root.segment) << 32) | u64::from(root.entries),
        Ordering::Release,
    );
    r.offset.store(root.offset, Ordering::Release);
    r.key.store(key_of(context), Ordering::Release);
}

/// The root page table last recorded for `context`, if any (and whole):
/// for the software engine (issue 17) and the tests.
pub(crate) fn recorded(context: ContextHandle) -> Option<RootPageTable> {
    let r = RECORDS.get(context.slot())?;
    let key = key_of(context);
    if key == 0 || r.key.load(Ordering::Acquire) != key {
        return None;
    }
    let segment_entries = r.segment_entries.load(Ordering::Acquire);
    let offset = r.offset.load(Ordering::Acquire);
    if r.key.load(Ordering::Acquire) != key {
        return None;
    }
    Some(RootPageTable {
        segment: u32::try_from(segment_entries >> 32).unwrap_or(0),
        offset,
        entries: u32::try_from(segment_entries & 0xFFFF_FFFF).unwrap_or(0),
    })
}
