//! Helpers shared by the integration tests: a started adapter with a known
//! memory layout, buffers.

#![allow(dead_code)]

use dxgkrnl_model::{Adapter, AdapterConfig, BasisHandle, Driver, MemorySegment};

/// Segment 1 is always the driver's paging aperture (64 MiB, untracked);
/// the configured VRAM segments follow: segment 2: 64 MiB at 4 KiB pages;
/// segment 3: 32 MiB at 64 KiB pages; segment 4: 8 MiB without dirty tracking.
pub const APERTURE: u32 = dxgkrnl_model::APERTURE_SEGMENT;
/// The VRAM segment of `AdapterConfig::single` and of the built-in configuration.
pub const VRAM: u32 = dxgkrnl_model::FIRST_VRAM_SEGMENT;
pub const SEG_4K: u32 = 2;
pub const SEG_64K: u32 = 3;
pub const SEG_UNTRACKED: u32 = 4;
/// The untracked segment of [`gpup_layout`] (ids have no gaps: it follows SEG_4K).
pub const GPUP_SEG_UNTRACKED: u32 = 3;
pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * KIB;

pub fn layout() -> AdapterConfig {
    AdapterConfig {
        segments: vec![
            MemorySegment {
                id: SEG_4K,
                size: 64 * MIB,
                page_size: 4096,
            },
            MemorySegment {
                id: SEG_64K,
                size: 32 * MIB,
                page_size: 65536,
            },
            MemorySegment {
                id: SEG_UNTRACKED,
                size: 8 * MIB,
                page_size: 0,
            },
        ],
        max_bases: 64,
        partitions: None,
    }
}

/// A loaded driver and a started adapter with [`layout`].
pub fn started() -> (Driver, Adapter) {
    started_with(&layout())
}

pub fn started_with(config: &AdapterConfig) -> (Driver, Adapter) {
    let driver = Driver::load().expect("driver loads");
    let adapter = driver.start_adapter(config).expect("adapter starts");
    (driver, adapter)
}

/// Creates a basis and starts tracking it.
pub fn tracked(adapter: &Adapter, segment: u32, ranges: &[(u64, u64)]) -> BasisHandle {
    let basis = adapter
        .create_memory_basis(segment, ranges)
        .expect("basis created");
    assert_eq!(
        adapter.start_dirty_tracking(basis),
        dxgk_sys::STATUS_SUCCESS
    );
    basis
}

/// Bytes a query of `pages` pages needs.
pub fn bytes_for(pages: u64) -> usize {
    usize::try_from(pages.div_ceil(8)).unwrap()
}

/// Whole-basis query (clearing or not) into an exactly sized buffer.
pub fn query_all(adapter: &Adapter, basis: BasisHandle, pages: u64, clear: bool) -> Vec<u8> {
    let mut buf = vec![0u8; bytes_for(pages)];
    assert_eq!(
        adapter.query_dirty_bits(basis, None, clear, &mut buf),
        dxgk_sys::STATUS_SUCCESS
    );
    buf
}

/// Bit `n` of an RTL_BITMAP-ordered buffer.
pub fn bit(buf: &[u8], n: u64) -> bool {
    let n = usize::try_from(n).unwrap();
    buf[n / 8] >> (n % 8) & 1 == 1
}

/// The set bits of a buffer, as page indices.
pub fn set_bits(buf: &[u8], pages: u64) -> Vec<u64> {
    (0..pages).filter(|&n| bit(buf, n)).collect()
}

/// The GPU-P layout: segment 2 of 256 MiB at 4 KiB pages (the tracked
/// segment the partitions share), segment 3 of 8 MiB untracked; built-in
/// partition options (1, 2, 4, 8).
pub fn gpup_layout() -> AdapterConfig {
    AdapterConfig {
        segments: vec![
            MemorySegment {
                id: SEG_4K,
                size: 256 * MIB,
                page_size: 4096,
            },
            MemorySegment {
                id: GPUP_SEG_UNTRACKED,
                size: 8 * MIB,
                page_size: 0,
            },
        ],
        max_bases: 64,
        partitions: None,
    }
}

pub mod gpup;

/// Runs `work` on another thread while a helper thread holds `adapter`'s lock
/// for writing (`gpup_miniport::host::hold_adapter_lock_for_writing`, parked
/// on a barrier, not a timing), and returns what `work` sent before it
/// finished, or before 60 s passed without a message (a DDI that waits for the
/// lock sends nothing more); then releases the lock and checks the holder got
/// it.
pub fn sent_while_the_adapter_lock_is_held<T: Send>(
    adapter: &Adapter,
    work: impl FnOnce(std::sync::mpsc::Sender<T>) + Send,
) -> Vec<T> {
    use std::sync::{Barrier, mpsc};
    let held = Barrier::new(2);
    let release = Barrier::new(2);
    std::thread::scope(|scope| {
        let holder = scope.spawn(|| {
            gpup_miniport::host::hold_adapter_lock_for_writing(adapter.context(), || {
                held.wait();
                release.wait();
            })
        });
        held.wait();
        let (tx, rx) = mpsc::channel();
        scope.spawn(move || work(tx));
        let sent: Vec<T> =
            std::iter::from_fn(|| rx.recv_timeout(std::time::Duration::from_secs(60)).ok())
                .collect();
        release.wait();
        assert_eq!(holder.join().unwrap(), dxgk_sys::STATUS_SUCCESS);
        sent
    })
}
