//! The dirty-tracking hot paths, measured in one run side by side with a peer
//! (rust-vmm `vm-memory`'s `AtomicBitmap`), a naive baseline (a lock around a
//! `Vec<u64>`) and the memory-bandwidth limit (a memcpy of the bitmap's bytes).
//!
//! `cargo bench --bench dirty_tracking` runs everything (about two minutes)
//! and ends with a table of absolute figures, the ratios ours / memcpy and
//! ours / vm-memory, and the targets. Criterion's own report of each
//! case comes first; arguments after `--` are criterion's (a name filter, e.g.
//! `-- harvest/16GiB`).
//!
//! - **harvest**: `DxgkDdiQueryDirtyBitData` with `CLEARDATA` on a whole basis,
//!   called through the driver's DDI table by `dxgkrnl-model`, on adapters
//!   whose segments are 16 and 80 GiB at 4 and 64 KiB pages (the model keeps
//!   metadata only: no VRAM is allocated). Each harvest clears the bits, so
//!   every implementation is re-dirtied with the same pages, through its own
//!   marking API, outside the timed region. The peer harvests with
//!   `get_and_reset` and writes the words into the same output buffer in the
//!   same layout; the baseline copies under its lock and then clears.
//! - **swap floor**: the clearing protocol issue 4 fixes, alone: a plain load
//!   of every word of a plane-sized array of atomics and `swap(0)` of each
//!   non-zero one, with no summary, no DDI and no output, re-dirtied like the
//!   others. No harvest that clears with one atomic RMW per dirty word can be
//!   faster, so its ratios to memcpy and to vm-memory bound what any such
//!   harvest can reach; the table marks a target beyond them out of reach.
//! - **mark**: single-page marks through `gpup_sw_mark_dirty`, one thread and
//!   two threads interleaving pages of the same words.
//! - **lifecycle**: create + start + stop + destroy of a 1-range and a
//!   64-range basis of 1 GiB.
//!
//! The table's figure for a case is the median, over criterion's samples, of
//! the time per iteration, timed by this file (criterion's `iter_custom`).
//!
//! For instruction counts, `DIRTY_TRACKING_CALLGRIND=<plane>/<impl>/<density>`
//! (e.g. `16GiB@4KiB/ours/1%`, `16GiB@4KiB/floor/100%` or
//! `16GiB@4KiB/memcpy/-`) skips criterion and runs that one case's harvest
//! [`CALLGRIND_HARVESTS`] times, each inside `counted`, re-dirtied before each
//! outside it; under
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*counted*'`
//! the `Collected` total divided by that count is the instructions per harvest.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex, PoisonError};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use dxgk_sys::{DXGKARG_CREATEMEMORYBASIS, STATUS_SUCCESS};
use dxgkrnl_model::{Adapter, AdapterConfig, BasisHandle, Driver, MemorySegment, create_args};
use gpup_rng::XorShift64Star;
use vm_memory::bitmap::AtomicBitmap;

// ---------------------------------------------------------------------------
// Allocation counting (per thread), for the table's allocations column.
// ---------------------------------------------------------------------------

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations `f` makes on this thread.
fn allocations_of(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

// ---------------------------------------------------------------------------
// Timings, recorded by every case as criterion drives it.
// ---------------------------------------------------------------------------

/// Criterion's samples per case; its measurement phase calls each routine
/// exactly this many times, after the warm-up calls.
const SAMPLES: usize = 10;

/// Every call of every routine: (iterations, time of those iterations).
static TIMINGS: Mutex<BTreeMap<String, Vec<(u64, Duration)>>> = Mutex::new(BTreeMap::new());

fn record(key: &str, iters: u64, time: Duration) -> Duration {
    TIMINGS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key.to_owned())
        .or_default()
        .push((iters, time));
    time
}

/// Median time per iteration over a case's measurement samples (its last
/// [`SAMPLES`] calls), in nanoseconds; `None` if the case did not run.
fn median_ns(key: &str) -> Option<f64> {
    let timings = TIMINGS.lock().unwrap_or_else(PoisonError::into_inner);
    let calls = timings.get(key)?;
    let mut per_iter: Vec<f64> = calls[calls.len().saturating_sub(SAMPLES)..]
        .iter()
        .map(|(iters, time)| time.as_secs_f64() * 1e9 / *iters as f64)
        .collect();
    per_iter.sort_by(f64::total_cmp);
    per_iter.get(per_iter.len() / 2).copied()
}

// ---------------------------------------------------------------------------
// What is measured.
// ---------------------------------------------------------------------------

const KIB: u64 = 1024;
const GIB: u64 = 1024 * 1024 * KIB;

/// One bitplane size: a whole segment of `vram` bytes at `page`-byte pages.
#[derive(Clone, Copy)]
struct Plane {
    name: &'static str,
    segment: u32,
    vram: u64,
    page: u64,
}

impl Plane {
    fn pages(self) -> u64 {
        self.vram / self.page
    }
    /// Bytes of bits (also the bytes a harvest writes, and memcpy copies).
    fn bytes(self) -> usize {
        usize::try_from(self.pages() / 8).expect("fits")
    }
}

const PLANES: [Plane; 4] = [
    Plane {
        name: "16GiB@4KiB",
        segment: 1,
        vram: 16 * GIB,
        page: 4 * KIB,
    },
    Plane {
        name: "80GiB@4KiB",
        segment: 2,
        vram: 80 * GIB,
        page: 4 * KIB,
    },
    Plane {
        name: "16GiB@64KiB",
        segment: 3,
        vram: 16 * GIB,
        page: 64 * KIB,
    },
    Plane {
        name: "80GiB@64KiB",
        segment: 4,
        vram: 80 * GIB,
        page: 64 * KIB,
    },
];

/// A dirty density and how its pages are chosen (the same pages for every
/// implementation: the generator is seeded the same way each time).
#[derive(Clone, Copy)]
struct Density {
    label: &'static str,
    fraction: f64,
}

const DENSITIES: [Density; 5] = [
    Density {
        label: "0%",
        fraction: 0.0,
    },
    Density {
        label: "0.1%",
        fraction: 0.001,
    },
    Density {
        label: "1%",
        fraction: 0.01,
    },
    Density {
        label: "50%",
        fraction: 0.5,
    },
    Density {
        label: "100%",
        fraction: 1.0,
    },
];

impl Density {
    /// Calls `f(first_page, pages)` for each run of dirty pages.
    ///
    /// - below 50 %: independent pages, each dirty with probability
    ///   `fraction` (geometric gaps), so at 1 % about 47 % of the 64-page
    ///   words are non-zero, as with real scattered writes;
    /// - 50 %: one run of 32 pages at a random offset in every 64-page word
    ///   (every word non-zero, as with independent 50 % pages, but one mark
    ///   per word keeps re-dirtying quick);
    /// - 100 %: one run of every page.
    fn for_each_run(self, pages: u64, mut f: impl FnMut(u64, u64)) {
        let mut rng = XorShift64Star::from_state(0x9E37_79B9_7F4A_7C15);
        if self.fraction <= 0.0 {
        } else if self.fraction >= 1.0 {
            f(0, pages);
        } else if self.fraction >= 0.5 {
            for word in 0..pages / 64 {
                f(word * 64 + rng.next_u64() % 33, 32);
            }
        } else {
            let ln_clean = (1.0 - self.fraction).ln();
            let mut page = 0u64;
            loop {
                // u in (0, 1]: the gap before the next dirty page is geometric.
                let u = ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
                page += (u.ln() / ln_clean) as u64;
                if page >= pages {
                    break;
                }
                f(page, 1);
                page += 1;
            }
        }
    }

    fn dirty_pages(self, pages: u64) -> u64 {
        let mut n = 0;
        self.for_each_run(pages, |_, len| n += len);
        n
    }
}

/// The harvesting implementations of one plane size.
struct Harvesters<'a> {
    plane: Plane,
    adapter: &'a Adapter,
    basis: BasisHandle,
    peer: AtomicBitmap,
    naive: Mutex<Vec<u64>>,
}

#[derive(Clone, Copy, PartialEq)]
enum Impl {
    Ours,
    VmMemory,
    Naive,
}

impl Impl {
    const ALL: [Impl; 3] = [Impl::Ours, Impl::VmMemory, Impl::Naive];
    fn name(self) -> &'static str {
        match self {
            Impl::Ours => "ours",
            Impl::VmMemory => "vm-memory",
            Impl::Naive => "naive",
        }
    }
}

/// Calls `f(word, mask)` for each 64-page word of the run `[first, first +
/// pages)` with the run's bits in it.
fn for_each_word(first: u64, pages: u64, mut f: impl FnMut(usize, u64)) {
    let mut bit = first;
    let end = first + pages;
    while bit < end {
        let in_word = (64 - bit % 64).min(end - bit);
        let mask = (u64::MAX >> (64 - in_word)) << (bit % 64);
        f(usize::try_from(bit / 64).expect("fits"), mask);
        bit += in_word;
    }
}

/// The naive baseline's mark: under the lock, OR the run's bits into the words.
fn naive_mark(words: &Mutex<Vec<u64>>, first: u64, pages: u64) {
    let mut words = words.lock().unwrap_or_else(PoisonError::into_inner);
    for_each_word(first, pages, |index, mask| words[index] |= mask);
}

/// The floor of the clearing protocol issue 4 fixes (a plain load of every
/// word, `swap(0)` of each non-zero one): that alone, on a plain array of
/// atomics with no summary, no DDI and no output. No harvest that clears with
/// one atomic RMW per dirty word can take less time than this; its ratios to
/// memcpy and vm-memory bound what the targets can ask of such a harvest.
#[inline(never)]
fn floor_harvest(words: &[AtomicU64]) -> u64 {
    let mut seen = 0;
    for word in words {
        if word.load(Ordering::SeqCst) != 0 {
            seen ^= word.swap(0, Ordering::SeqCst);
        }
    }
    seen
}

/// Re-dirties the floor's words with `density`'s pages.
fn floor_redirty(words: &[AtomicU64], plane: Plane, density: Density) {
    density.for_each_run(plane.pages(), |first, pages| {
        for_each_word(first, pages, |index, mask| {
            words[index].fetch_or(mask, Ordering::SeqCst);
        });
    });
}

impl Harvesters<'_> {
    /// Marks `density`'s pages through `which`'s own marking API.
    fn redirty(&self, which: Impl, density: Density) {
        let page = self.plane.page;
        density.for_each_run(self.plane.pages(), |first, pages| match which {
            Impl::Ours => {
                let status =
                    self.adapter
                        .mark_dirty(self.plane.segment, first * page, pages * page);
                debug_assert_eq!(status, STATUS_SUCCESS);
            }
            Impl::VmMemory => {
                self.peer.set_addr_range(
                    usize::try_from(first * page).expect("fits"),
                    usize::try_from(pages * page).expect("fits"),
                );
            }
            Impl::Naive => naive_mark(&self.naive, first, pages),
        });
    }

    /// Takes and clears every bit into `out` (RTL_BITMAP order).
    #[inline(never)]
    fn harvest(&self, which: Impl, out: &mut [u8]) {
        match which {
            Impl::Ours => {
                let status = self.adapter.query_dirty_bits(self.basis, None, true, out);
                assert_eq!(status, STATUS_SUCCESS);
            }
            Impl::VmMemory => {
                let words = self.peer.get_and_reset();
                for (dst, word) in out.chunks_exact_mut(8).zip(&words) {
                    dst.copy_from_slice(&word.to_le_bytes());
                }
            }
            Impl::Naive => {
                let mut words = self.naive.lock().unwrap_or_else(PoisonError::into_inner);
                for (dst, word) in out.chunks_exact_mut(8).zip(words.iter()) {
                    dst.copy_from_slice(&word.to_le_bytes());
                }
                words.fill(0);
            }
        }
    }
}

/// Runs `iters` harvests of `which`, each after re-dirtying `density`'s pages
/// untimed; returns the time of the harvests alone.
fn timed_harvests(
    h: &Harvesters,
    which: Impl,
    density: Density,
    out: &mut [u8],
    iters: u64,
) -> Duration {
    if density.fraction <= 0.0 {
        // Nothing to re-dirty: time the batch, like memcpy's.
        let start = Instant::now();
        for _ in 0..iters {
            h.harvest(which, out);
            black_box(&mut *out);
        }
        return start.elapsed();
    }
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        h.redirty(which, density);
        let start = Instant::now();
        h.harvest(which, out);
        total += start.elapsed();
        black_box(&mut *out);
    }
    total
}

fn harvest_key(plane: Plane, which: &str, density: &str) -> String {
    format!("harvest/{}/{which}/{density}", plane.name)
}

/// Allocations per harvest, by (plane, implementation, density).
type AllocTable = BTreeMap<(String, &'static str, &'static str), u64>;

fn bench_harvest(
    c: &mut Criterion,
    adapter: &Adapter,
    bases: &[BasisHandle],
    allocs: &mut AllocTable,
) {
    for (plane, &basis) in PLANES.iter().copied().zip(bases) {
        let h = Harvesters {
            plane,
            adapter,
            basis,
            peer: AtomicBitmap::new(
                usize::try_from(plane.vram).expect("fits"),
                NonZeroUsize::new(usize::try_from(plane.page).expect("fits")).expect("non-zero"),
            ),
            naive: Mutex::new(vec![0; plane.bytes() / 8]),
        };
        let mut out = vec![0u8; plane.bytes()];
        let mut group = c.benchmark_group(format!("harvest/{}", plane.name));
        group
            .throughput(Throughput::Bytes(plane.bytes() as u64))
            .sampling_mode(SamplingMode::Flat);

        let src = vec![0x5Au8; plane.bytes()];
        let mut dst = vec![0u8; plane.bytes()];
        let floor: Vec<AtomicU64> = (0..plane.bytes() / 8).map(|_| AtomicU64::new(0)).collect();
        let key = harvest_key(plane, "memcpy", "-");
        group.bench_function("memcpy", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    dst.copy_from_slice(black_box(&src));
                    black_box(&mut dst);
                }
                record(&key, iters, start.elapsed())
            })
        });

        for density in DENSITIES {
            // All three report the same bits, and what each allocates per harvest.
            let mut reference: Option<Vec<u8>> = None;
            for which in Impl::ALL {
                h.redirty(which, density);
                let n = allocations_of(|| h.harvest(which, &mut out));
                allocs.insert((plane.name.to_owned(), which.name(), density.label), n);
                let dirty: u64 = out.iter().map(|b| u64::from(b.count_ones())).sum();
                assert_eq!(
                    dirty,
                    density.dirty_pages(plane.pages()),
                    "{}",
                    which.name()
                );
                match &reference {
                    None => reference = Some(out.clone()),
                    Some(r) => assert!(*r == out, "{} differs from ours", which.name()),
                }
            }
            let key = harvest_key(plane, "floor", density.label);
            group.bench_with_input(
                BenchmarkId::new("swap-floor", density.label),
                &density,
                |b, &density| {
                    b.iter_custom(|iters| {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            floor_redirty(&floor, plane, density);
                            let start = Instant::now();
                            black_box(floor_harvest(black_box(&floor)));
                            total += start.elapsed();
                        }
                        record(&key, iters, total)
                    })
                },
            );
            for which in Impl::ALL {
                let key = harvest_key(plane, which.name(), density.label);
                group.bench_with_input(
                    BenchmarkId::new(which.name(), density.label),
                    &density,
                    |b, &density| {
                        b.iter_custom(|iters| {
                            let time = timed_harvests(&h, which, density, &mut out, iters);
                            record(&key, iters, time)
                        })
                    },
                );
            }
        }
        group.finish();
    }
}

// ---------------------------------------------------------------------------
// Marks.
// ---------------------------------------------------------------------------

/// Pages the mark cases cycle over (the first 256 MiB of the 16 GiB segment).
const MARK_PAGES: u64 = 65_536;

/// Marks `iters` pages on each of `threads` threads (thread `t` of `n` marks
/// pages `t, t + n, t + 2n, ...`, so with two threads both write every word)
/// and returns the longest thread's time.
fn timed_marks(threads: u64, iters: u64, mark: &(dyn Fn(u64) + Sync)) -> Duration {
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

fn bench_marks(c: &mut Criterion, adapter: &Adapter) {
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

fn bench_lifecycle(c: &mut Criterion, adapter: &Adapter) {
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

// ---------------------------------------------------------------------------
// The table.
// ---------------------------------------------------------------------------

fn time(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} us", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn opt(v: Option<String>) -> String {
    v.unwrap_or_else(|| "-".to_owned())
}

/// The targets for a density: (min ours/memcpy, min ours/vm-memory).
fn targets(density: &str) -> (Option<f64>, Option<f64>) {
    match density {
        "0%" => (Some(0.8), Some(3.0)),
        "1%" => (Some(0.8), None),
        "100%" => (Some(0.5), Some(1.5)),
        _ => (None, None),
    }
}

fn print_tables(allocs: &AllocTable) {
    let mut met = 0;
    let mut missed = Vec::new();
    println!();
    println!("== harvest: DxgkDdiQueryDirtyBitData(CLEARDATA), whole basis, through the C ABI ==");
    println!("time per harvest (median of {SAMPLES} samples); GB/s = bitmap bytes / time;");
    println!(
        "memcpy copies the bitmap's bytes (reads and writes them); vm-memory = get_and_reset + copy out;"
    );
    println!(
        "naive = Mutex<Vec<u64>>, copy then clear; x = ratio of bandwidths (ours/memcpy) or speed-up (ours vs vm-memory)"
    );
    println!(
        "floor = a plain load of every word and swap(0) of each non-zero one, nothing else (issue 4's clearing"
    );
    println!(
        "protocol alone); floor/memcpy and vm/floor bound the ratios of any harvest that clears with one RMW per dirty word"
    );
    println!();
    println!(
        "{:<24} {:>5} {:>10} {:>7} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}  {:<8} {:>10} {:>8} {:>8}  targets",
        "plane (bitmap)",
        "dirty",
        "ours",
        "GB/s",
        "vm-memory",
        "naive",
        "memcpy",
        "GB/s",
        "/memcpy",
        "/vm-mem",
        "allocs",
        "floor",
        "fl/mcpy",
        "vm/fl"
    );
    for plane in PLANES {
        let bytes = plane.bytes() as f64;
        let memcpy = median_ns(&harvest_key(plane, "memcpy", "-"));
        for density in DENSITIES {
            let get = |which: Impl| median_ns(&harvest_key(plane, which.name(), density.label));
            let (ours, vm, naive) = (get(Impl::Ours), get(Impl::VmMemory), get(Impl::Naive));
            let vs_memcpy = ours.zip(memcpy).map(|(o, m)| m / o);
            let vs_vm = ours.zip(vm).map(|(o, v)| v / o);
            let floor = median_ns(&harvest_key(plane, "floor", density.label));
            let floor_memcpy = floor.zip(memcpy).map(|(f, m)| m / f);
            let vm_floor = floor.zip(vm).map(|(f, v)| v / f);
            let (t_memcpy, t_vm) = targets(density.label);
            let mut verdicts = Vec::new();
            for (target, ratio, bound, what) in [
                (t_memcpy, vs_memcpy, floor_memcpy, "memcpy"),
                (t_vm, vs_vm, vm_floor, "vm"),
            ] {
                if let (Some(target), Some(ratio)) = (target, ratio) {
                    let ok = ratio >= target;
                    verdicts.push(format!(
                        "{what}>={target}:{}",
                        if ok { "ok" } else { "MISS" }
                    ));
                    if ok {
                        met += 1;
                    } else {
                        let why = match bound {
                            Some(b) if b < target => {
                                format!(" (the swap floor alone gives {b:.2}x: out of reach)")
                            }
                            Some(b) => format!(" (the swap floor gives {b:.2}x)"),
                            None => String::new(),
                        };
                        missed.push(format!(
                            "{} {} {what}: {ratio:.2}x < {target}x{why}",
                            plane.name, density.label
                        ));
                    }
                }
            }
            let alloc = |which: Impl| {
                allocs
                    .get(&(plane.name.to_owned(), which.name(), density.label))
                    .map_or_else(|| "-".to_owned(), u64::to_string)
            };
            println!(
                "{:<24} {:>5} {:>10} {:>7} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}  {:<8} {:>10} {:>8} {:>8}  {}",
                format!("{} ({} KiB)", plane.name, plane.bytes() / 1024),
                density.label,
                opt(ours.map(time)),
                opt(ours.map(|o| format!("{:.1}", bytes / o))),
                opt(vm.map(time)),
                opt(naive.map(time)),
                opt(memcpy.map(time)),
                opt(memcpy.map(|m| format!("{:.1}", bytes / m))),
                opt(vs_memcpy.map(|r| format!("{r:.2}x"))),
                opt(vs_vm.map(|r| format!("{r:.1}x"))),
                format!("{}/{}", alloc(Impl::Ours), alloc(Impl::VmMemory)),
                opt(floor.map(time)),
                opt(floor_memcpy.map(|r| format!("{r:.2}x"))),
                opt(vm_floor.map(|r| format!("{r:.1}x"))),
                verdicts.join(" "),
            );
        }
    }

    println!();
    println!("== mark: gpup_sw_mark_dirty, one 4 KiB page per call (16 GiB segment, tracked) ==");
    println!(
        "pages per second (all threads); 2 threads interleave pages, so both write every word"
    );
    println!();
    println!(
        "{:<8} {:>14} {:>14} {:>14} {:>9}",
        "threads", "ours", "vm-memory", "naive", "ours/vm"
    );
    for threads in [1u64, 2] {
        let rate = |name: &str| {
            median_ns(&format!("mark/{name}/{threads}")).map(|ns| threads as f64 * 1e9 / ns)
        };
        let (ours, vm, naive) = (rate("ours"), rate("vm-memory"), rate("naive"));
        let mpps = |r: Option<f64>| opt(r.map(|r| format!("{:.1} M/s", r / 1e6)));
        println!(
            "{:<8} {:>14} {:>14} {:>14} {:>9}",
            threads,
            mpps(ours),
            mpps(vm),
            mpps(naive),
            opt(ours.zip(vm).map(|(o, v)| format!("{:.2}x", o / v)))
        );
    }

    println!();
    println!("== lifecycle: create + start + stop + destroy, 1 GiB of 4 KiB pages ==");
    for (name, what) in [("1range", "1 range"), ("64ranges", "64 ranges of 16 MiB")] {
        println!(
            "{:<22} {:>10}",
            what,
            opt(median_ns(&format!("lifecycle/{name}")).map(time))
        );
    }

    println!();
    println!("harvest targets met: {met} of {}", met + missed.len());
    for m in &missed {
        println!("  missed: {m}");
    }
}

/// Harvests per case in the callgrind mode.
const CALLGRIND_HARVESTS: u64 = 5;

/// What the callgrind mode counts.
#[derive(Clone, Copy)]
enum Counted {
    Harvest(Impl),
    Floor,
    Memcpy,
}

/// One harvest, one pass of the swap floor, or one memcpy of the plane's
/// bytes: the only code the callgrind mode counts.
#[inline(never)]
fn counted(h: &Harvesters, what: Counted, floor: &[AtomicU64], out: &mut [u8], src: &[u8]) {
    match what {
        Counted::Harvest(which) => h.harvest(which, out),
        Counted::Floor => {
            black_box(floor_harvest(floor));
        }
        Counted::Memcpy => out.copy_from_slice(src),
    }
    black_box(out);
}

/// The callgrind mode (see the file's documentation).
fn run_counted(adapter: &Adapter, bases: &[BasisHandle], spec: &str) {
    let mut parts = spec.split('/');
    let (Some(plane), Some(which), Some(density)) = (parts.next(), parts.next(), parts.next())
    else {
        panic!("DIRTY_TRACKING_CALLGRIND is <plane>/<impl>/<density>, not {spec:?}");
    };
    let index = PLANES
        .iter()
        .position(|p| p.name == plane)
        .unwrap_or_else(|| panic!("unknown plane {plane:?}"));
    let plane = PLANES[index];
    let what = match Impl::ALL.into_iter().find(|i| i.name() == which) {
        Some(which) => Counted::Harvest(which),
        None if which == "floor" => Counted::Floor,
        None => Counted::Memcpy,
    };
    let density = DENSITIES
        .into_iter()
        .find(|d| d.label == density)
        .unwrap_or(DENSITIES[0]);
    let h = Harvesters {
        plane,
        adapter,
        basis: bases[index],
        peer: AtomicBitmap::new(
            usize::try_from(plane.vram).expect("fits"),
            NonZeroUsize::new(usize::try_from(plane.page).expect("fits")).expect("non-zero"),
        ),
        naive: Mutex::new(vec![0; plane.bytes() / 8]),
    };
    let src = vec![0x5Au8; plane.bytes()];
    let mut out = vec![0u8; plane.bytes()];
    let floor: Vec<AtomicU64> = (0..plane.bytes() / 8).map(|_| AtomicU64::new(0)).collect();
    for _ in 0..CALLGRIND_HARVESTS {
        match what {
            Counted::Harvest(which) => h.redirty(which, density),
            Counted::Floor => floor_redirty(&floor, plane, density),
            Counted::Memcpy => {}
        }
        counted(&h, what, &floor, &mut out, &src);
    }
    // Words holding a dirty page: the clearing RMWs ours makes per harvest.
    let mut words = vec![false; plane.bytes() / 8];
    density.for_each_run(plane.pages(), |first, pages| {
        for word in first / 64..=(first + pages - 1) / 64 {
            words[usize::try_from(word).expect("fits")] = true;
        }
    });
    println!(
        "{CALLGRIND_HARVESTS} harvests of {spec}: {} dirty pages in {} of {} words each",
        density.dirty_pages(plane.pages()),
        words.iter().filter(|w| **w).count(),
        words.len(),
    );
}

fn main() {
    let driver = Driver::load().expect("driver loads");
    let config = AdapterConfig {
        segments: PLANES
            .iter()
            .map(|p| MemorySegment {
                id: p.segment,
                size: p.vram,
                page_size: u32::try_from(p.page).expect("fits"),
            })
            .collect(),
        max_bases: 16,
        partitions: None,
    };
    let adapter = driver.start_adapter(&config).expect("adapter starts");
    let bases: Vec<BasisHandle> = PLANES
        .iter()
        .map(|p| {
            let basis = adapter
                .create_memory_basis(p.segment, &[(0, p.vram)])
                .expect("basis created");
            assert_eq!(adapter.start_dirty_tracking(basis), STATUS_SUCCESS);
            basis
        })
        .collect();

    if let Ok(spec) = std::env::var("DIRTY_TRACKING_CALLGRIND") {
        run_counted(&adapter, &bases, &spec);
        return;
    }
    let mut c = Criterion::default()
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_millis(150))
        .measurement_time(Duration::from_millis(400))
        .nresamples(5_000)
        .without_plots()
        .configure_from_args();
    let mut allocs = AllocTable::new();
    bench_harvest(&mut c, &adapter, &bases, &mut allocs);
    bench_marks(&mut c, &adapter);
    bench_lifecycle(&mut c, &adapter);
    c.final_summary();
    print_tables(&allocs);
}
