//! A million create/destroy cycles keep memory flat, and a handle from cycle k
//! is rejected in cycle k + 1; the query and mark paths allocate nothing. Its
//! own test binary: the counting allocator below sees every allocation of the
//! process (and, per thread, of the calling thread).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use dxgk_sys::*;
use gpup_rng::XorShift64Star;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Per thread, because the test harness runs tests on parallel threads:
    /// each test measures what its own thread allocates and frees.
    static THREAD_ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static THREAD_LIVE_BYTES: Cell<i64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        THREAD_ALLOCATIONS.with(|n| n.set(n.get() + 1));
        THREAD_LIVE_BYTES.with(|n| n.set(n.get() + layout.size() as i64));
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        THREAD_LIVE_BYTES.with(|n| n.set(n.get() - layout.size() as i64));
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn a_million_create_destroy_cycles_keep_memory_flat_and_old_handles_dead() {
    let (_driver, adapter) = started();
    let cycles = 1_000_000u64;
    let mut previous = None;
    let mut baseline = 0;
    for k in 0..cycles {
        let ranges = [((k % 1000) * 4096, 4096 * (1 + k % 3)), (8 * MIB, 4096)];
        let basis = adapter
            .create_memory_basis(SEG_4K, &ranges)
            .expect("create");
        if k % 2 == 0 {
            assert_eq!(adapter.start_dirty_tracking(basis), STATUS_SUCCESS);
        }
        if let Some(old) = previous {
            assert_ne!(old, basis, "cycle {k} got cycle {}'s handle back", k - 1);
            assert_eq!(adapter.destroy_memory_basis(old), STATUS_INVALID_HANDLE);
            assert_eq!(adapter.start_dirty_tracking(old), STATUS_INVALID_HANDLE);
            assert_eq!(
                adapter.query_dirty_bits(old, None, true, &mut [0u8; 1]),
                STATUS_INVALID_HANDLE
            );
        }
        assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
        previous = Some(basis);
        if k == 1000 {
            baseline = THREAD_LIVE_BYTES.with(Cell::get);
        }
    }
    let end = THREAD_LIVE_BYTES.with(Cell::get);
    println!(
        "churn: {cycles} create/destroy cycles, live heap {baseline} bytes after 1000 cycles and {end} after {cycles}, {} allocations",
        ALLOCATIONS.load(Ordering::Relaxed)
    );
    assert_eq!(end, baseline, "memory is flat");
}

#[test]
fn the_query_and_mark_paths_allocate_nothing() {
    let (_driver, adapter) = started();
    let basis = tracked(
        &adapter,
        SEG_4K,
        &[(0, 4096 * 4096), (32 * MIB, 4096 * 100)],
    );
    let mut buf = vec![0u8; bytes_for(4196)];
    let before = THREAD_ALLOCATIONS.with(Cell::get);
    for i in 0..10_000u64 {
        assert_eq!(
            adapter.mark_dirty(SEG_4K, (i * 7919 % 4096) * 4096, 1),
            STATUS_SUCCESS
        );
        let subrange = (i % 2 == 0).then_some((1, 0, 4096 * 50));
        assert_eq!(
            adapter.query_dirty_bits(basis, subrange, i % 3 != 0, &mut buf),
            STATUS_SUCCESS
        );
    }
    let allocations = THREAD_ALLOCATIONS.with(Cell::get) - before;
    println!("query/mark path: {allocations} allocations in 10000 marks and 10000 queries");
    assert_eq!(allocations, 0);
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
}

#[test]
fn clearing_whole_basis_queries_of_a_16_gib_basis_allocate_nothing() {
    // The benchmarked path (benches/dirty_tracking.rs): one basis over a whole
    // 16 GiB segment of 4 KiB pages (512 KiB of bits), queried with CLEARDATA
    // while clean, sparsely dirty and fully dirty.
    let size = 16u64 << 30;
    let pages = size / 4096;
    let (_driver, adapter) = started_with(&dxgkrnl_model::AdapterConfig::single(size, 4096));
    let basis = tracked(&adapter, VRAM, &[(0, size)]);
    let mut buf = vec![0u8; bytes_for(pages)];
    let mut rng = XorShift64Star::from_state(0x5EED);
    let before = THREAD_ALLOCATIONS.with(Cell::get);
    for round in 0..12u64 {
        // The exact count when known; 1 % of random pages (a few collide) otherwise.
        let expected = match round % 3 {
            0 => Some(0),
            1 => {
                for _ in 0..pages / 100 {
                    let page = rng.below_mod(pages);
                    assert_eq!(adapter.mark_dirty(VRAM, page * 4096, 4096), STATUS_SUCCESS);
                }
                None
            }
            _ => {
                assert_eq!(adapter.mark_dirty(VRAM, 0, size), STATUS_SUCCESS);
                Some(pages)
            }
        };
        assert_eq!(
            adapter.query_dirty_bits(basis, None, true, &mut buf),
            STATUS_SUCCESS
        );
        let dirty: u64 = buf.iter().map(|b| u64::from(b.count_ones())).sum();
        match expected {
            Some(n) => assert_eq!(dirty, n, "round {round}"),
            None => assert!(
                dirty > pages / 101 && dirty <= pages / 100,
                "round {round}: {dirty}"
            ),
        }
    }
    let allocations = THREAD_ALLOCATIONS.with(Cell::get) - before;
    println!(
        "16 GiB basis: {allocations} allocations in 12 clearing whole-basis queries and their marks"
    );
    assert_eq!(allocations, 0);
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
}
