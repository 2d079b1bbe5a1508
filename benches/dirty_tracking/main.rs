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
//! - **swap floor**: the clearing protocol before issue 20 (one `swap(0)`
//!   per dirty word; issue 4's), alone: a plain load
//!   of every word of a plane-sized array of atomics and `swap(0)` of each
//!   non-zero one, with no summary, no DDI and no output, re-dirtied like the
//!   others. No harvest that clears with one atomic RMW per dirty word can be
//!   faster, so its ratios to memcpy and to vm-memory bound what any such
//!   harvest can reach: the old protocol's limit, shown beside ours (which
//!   drains a retired plane with plain loads and stores, `src/basis/dirty.rs`).
//! - **mark**: single-page marks through `gpup_sw_mark_dirty`: one thread,
//!   two threads on disjoint words (each its own half of the pages) and two
//!   threads interleaving pages of the same words. The marks go in passes over
//!   65536 pages with a clearing harvest (untimed) before each pass, so every
//!   mark finds its bit clear and pays its RMW.
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

use std::time::Duration;

use criterion::Criterion;
use dxgk_sys::STATUS_SUCCESS;
use dxgkrnl_model::{AdapterConfig, BasisHandle, Driver, MemorySegment};

mod callgrind;
mod cases;
mod counting;
mod harvest;
mod marks;
mod table;
mod timings;

use callgrind::run_counted;
use cases::PLANES;
use harvest::{AllocTable, bench_harvest};
use marks::{bench_lifecycle, bench_marks};
use table::print_tables;
use timings::SAMPLES;

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
    bench_marks(&mut c, &adapter, bases[0]);
    bench_lifecycle(&mut c, &adapter);
    c.final_summary();
    print_tables(&allocs);
}
