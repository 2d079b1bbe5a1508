//! The mark and lifecycle cases.

use std::num::NonZeroUsize;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use dxgk_sys::{DXGKARG_CREATEMEMORYBASIS, STATUS_SUCCESS};
use dxgkrnl_model::{Adapter, BasisHandle, create_args};
use vm_memory::bitmap::AtomicBitmap;

use crate::cases::*;
use crate::timings::*;

/// Pages the mark cases cycle over (the first 256 MiB of the 16 GiB segment).
pub(crate) const MARK_PAGES: u64 = 65_536;

/// Marks `iters` pages on each of `threads` threads (thread `t` of `n` marks
/// pages `t, t + n, t + 2n, ...`, so with two threads both write every word)
/// and returns the longest thread's time.
pub(crate) fn timed_marks(threads: u64, iters: u64, mark: &(dyn Fn(u64) + Sync)) -> Duration {
    let barrier = Barrier::new(usize::try_from(threads).expect("fits"));
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    let mut page = t;
                    for _ in 0..iters {
                        mark(page);
                        page += threads;
                        if page >= MARK_PAGES {
                            page = t;
                        }
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("mark thread"))
            .max()
            .unwrap_or_default()
    })
}

pub(crate) fn bench_marks(c: &mut Criterion, adapter: &Adapter) {
    let plane = PLANES[0];
    let peer = AtomicBitmap::new(
        usize::try_from(plane.vram).expect("fits"),
        NonZeroUsize::new(usize::try_from(plane.page).expect("fits")).expect("non-zero"),
    );
    let naive = Mutex::new(vec![0u64; plane.bytes() / 8]);
    let ours = |page: u64| {
        let status = adapter.mark_dirty(plane.segment, page * plane.page, plane.page);
        debug_assert_eq!(status, STATUS_SUCCESS);
    };
    let vm = |page: u64| {
        peer.set_addr_range(
            usize::try_from(page * plane.page).expect("fits"),
            usize::try_from(plane.page).expect("fits"),
        );
    };
    let base = |page: u64| naive_mark(&naive, page, 1);
    let cases: [(&str, &(dyn Fn(u64) + Sync)); 3] =
        [("ours", &ours), ("vm-memory", &vm), ("naive", &base)];
    let mut group = c.benchmark_group("mark");
    group.sampling_mode(SamplingMode::Flat);
    for threads in [1u64, 2] {
        group.throughput(Throughput::Elements(threads));
        for (name, mark) in cases {
            let key = format!("mark/{name}/{threads}");
            group.bench_function(BenchmarkId::new(name, format!("{threads}thr")), |b| {
                b.iter_custom(|iters| record(&key, iters, timed_marks(threads, iters, mark)))
            });
        }
    }
    group.finish();
}

// ---------------------------------------------------------------------------
// Lifecycle.
// ---------------------------------------------------------------------------

pub(crate) fn bench_lifecycle(c: &mut Criterion, adapter: &Adapter) {
    let plane = PLANES[0];
    let one: Vec<(u64, u64)> = vec![(0, GIB)];
    let many: Vec<(u64, u64)> = (0..64).map(|k| ((k * 256) << 20, 16 << 20)).collect();
    let mut group = c.benchmark_group("lifecycle");
    group.sampling_mode(SamplingMode::Flat);
    for (name, ranges) in [("1range", &one), ("64ranges", &many)] {
        // The argument block is Dxgkrnl's, built once.
        let block = create_args(plane.segment, ranges);
        let args = block.as_ptr().cast::<DXGKARG_CREATEMEMORYBASIS>();
        let key = format!("lifecycle/{name}");
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    // SAFETY: `block` is a complete argument block of `ranges.len()` ranges.
                    let raw = unsafe { adapter.create_memory_basis_raw(args) };
                    assert!(!raw.is_null(), "create");
                    let basis = BasisHandle(raw);
                    assert_eq!(adapter.start_dirty_tracking(basis), STATUS_SUCCESS);
                    assert_eq!(adapter.stop_dirty_tracking(basis), STATUS_SUCCESS);
                    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
                }
                record(&key, iters, start.elapsed())
            })
        });
    }
    group.finish();
}
