//! The mark and lifecycle cases.

use std::num::NonZeroUsize;
use std::sync::{Barrier, Mutex, PoisonError};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use dxgk_sys::{DXGKARG_CREATEMEMORYBASIS, STATUS_SUCCESS};
use dxgkrnl_model::{Adapter, BasisHandle, create_args};
use vm_memory::bitmap::AtomicBitmap;

use crate::cases::*;
use crate::timings::*;

/// Pages the mark cases cycle over (the first 256 MiB of the 16 GiB segment).
pub(crate) const MARK_PAGES: u64 = 65_536;

/// How the threads of a mark case share the pages.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Sharing {
    /// Thread `t` of `n` marks pages `t, t + n, t + 2n, ...`: with two
    /// threads both write every word (and every cache line) of the plane.
    SameWords,
    /// Thread `t` of `n` marks its own contiguous `1/n` of the pages: no
    /// word, cache line or summary word is written by two threads.
    Disjoint,
}

/// The page a thread marks `k`-th in a pass.
fn page_of(sharing: Sharing, threads: u64, t: u64, k: u64) -> u64 {
    match sharing {
        Sharing::SameWords => t + k * threads,
        Sharing::Disjoint => t * (MARK_PAGES / threads) + k,
    }
}

/// Marks `iters` pages on each of `threads` threads and returns the longest
/// thread's marking time. The marks go in passes of `MARK_PAGES / threads`
/// pages per thread (each page of the first `MARK_PAGES` once per pass); before
/// each pass thread 0 calls `harvest` (a clearing harvest, untimed) while the
/// others wait, so every mark finds its bit clear and pays its atomic.
pub(crate) fn timed_marks(
    threads: u64,
    sharing: Sharing,
    iters: u64,
    mark: &(dyn Fn(u64) + Sync),
    harvest: &(dyn Fn() + Sync),
) -> Duration {
    let barrier = Barrier::new(usize::try_from(threads).expect("fits"));
    let pass = MARK_PAGES / threads;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    let mut total = Duration::ZERO;
                    let mut done = 0;
                    while done < iters {
                        let n = pass.min(iters - done);
                        barrier.wait();
                        if t == 0 {
                            harvest();
                        }
                        barrier.wait();
                        let start = Instant::now();
                        for k in 0..n {
                            mark(page_of(sharing, threads, t, k));
                        }
                        total += start.elapsed();
                        done += n;
                    }
                    total
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

/// The mark cases: (threads, sharing, key suffix).
pub(crate) const MARK_CASES: [(u64, Sharing, &str); 3] = [
    (1, Sharing::SameWords, "1"),
    (2, Sharing::Disjoint, "2-disjoint"),
    (2, Sharing::SameWords, "2-same"),
];

pub(crate) fn bench_marks(c: &mut Criterion, adapter: &Adapter, basis: BasisHandle) {
    let plane = PLANES[0];
    let peer = AtomicBitmap::new(
        usize::try_from(plane.vram).expect("fits"),
        NonZeroUsize::new(usize::try_from(plane.page).expect("fits")).expect("non-zero"),
    );
    let naive = Mutex::new(vec![0u64; plane.bytes() / 8]);
    let out = Mutex::new(vec![0u8; plane.bytes()]);
    let ours = |page: u64| {
        let status = adapter.mark_dirty(plane.segment, page * plane.page, plane.page);
        debug_assert_eq!(status, STATUS_SUCCESS);
    };
    let ours_harvest = || {
        let mut out = out.lock().unwrap_or_else(PoisonError::into_inner);
        let status = adapter.query_dirty_bits(basis, None, true, &mut out);
        assert_eq!(status, STATUS_SUCCESS);
    };
    let vm = |page: u64| {
        peer.set_addr_range(
            usize::try_from(page * plane.page).expect("fits"),
            usize::try_from(plane.page).expect("fits"),
        );
    };
    let vm_harvest = || drop(peer.get_and_reset());
    let base = |page: u64| naive_mark(&naive, page, 1);
    let base_harvest = || naive.lock().unwrap_or_else(PoisonError::into_inner).fill(0);
    type Case<'a> = (&'a str, &'a (dyn Fn(u64) + Sync), &'a (dyn Fn() + Sync));
    let cases: [Case<'_>; 3] = [
        ("ours", &ours, &ours_harvest),
        ("vm-memory", &vm, &vm_harvest),
        ("naive", &base, &base_harvest),
    ];
    let mut group = c.benchmark_group("mark");
    group.sampling_mode(SamplingMode::Flat);
    for (threads, sharing, suffix) in MARK_CASES {
        group.throughput(Throughput::Elements(threads));
        for (name, mark, harvest) in cases {
            let key = format!("mark/{name}/{suffix}");
            group.bench_function(BenchmarkId::new(name, suffix), |b| {
                b.iter_custom(|iters| {
                    record(
                        &key,
                        iters,
                        timed_marks(threads, sharing, iters, mark, harvest),
                    )
                })
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
