//! The VRAM backing's throughput where the migration spends it: the GPU
//! writers' stores, Dxgkrnl's copy of dirty pages, and the byte-identical
//! proof, each over 256 MiB in 4 KiB pages of the driver's backing
//! (`src/memory/backing.rs`, through `dxgkrnl_model::vram::Vram`), against a
//! plain peer: the same work as `memset`/`memcpy`/`memcmp` over a
//! `Vec<u8>` (the memory bandwidth limit). A custom harness, not a timed test:
//! it prints min / median over `RUNS` passes and the ratio to the peer, and
//! asserts only that every operation succeeded and the proof passed.
//!
//! `cargo bench --bench vram` (or `-- --quick` for 3 passes).
//!
//! Each pass after the first runs on committed chunks (the steady state of a
//! migration's rounds); the first pass's commit cost is printed separately.

use std::hint::black_box;
use std::time::{Duration, Instant};

use dxgkrnl_model::vram::Vram;
use dxgkrnl_model::{Adapter, AdapterConfig, Driver};

const MIB: u64 = 1 << 20;
const SEGMENT_BYTES: u64 = 1024 * MIB;
const SPAN: u64 = 256 * MIB;
const PAGE: u64 = 4096;

fn adapter() -> (Adapter, Vram) {
    let a = Driver::load()
        .unwrap()
        .start_adapter(&AdapterConfig::single(SEGMENT_BYTES, 4096))
        .unwrap();
    let id = a.memory_config().segments[0].id;
    let vram = Vram::of(a.context(), id).unwrap();
    (a, vram)
}

/// Source page `p` lands at this destination page: scattered, as a
/// migration's reserves may be placed differently on the two adapters.
fn scatter(p: u64) -> u64 {
    let pages = SPAN / PAGE;
    (p * 7919) % pages + pages
}

fn time(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut t: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    t.sort();
    (t[0], t[t.len() / 2])
}

fn gib_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / f64::from(1u32 << 30)
}

fn row(what: &str, (min, median): (Duration, Duration), peer: Duration) {
    println!(
        "{what:<44} min {:>8.1} ms  median {:>8.1} ms  {:>6.2} GiB/s  {:>5.2}x the peer",
        min.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3,
        gib_s(SPAN, min),
        min.as_secs_f64() / peer.as_secs_f64()
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 3 } else { 7 };
    let (_s, src) = adapter();
    let (_t, dst) = adapter();
    let pages = SPAN / PAGE;

    // The peer: plain bytes.
    let mut a = vec![0u8; usize::try_from(SPAN).unwrap()];
    let mut b = vec![0u8; usize::try_from(SPAN).unwrap()];
    let page = usize::try_from(PAGE).unwrap();
    let (peer_write, _) = time(runs, || {
        for (i, p) in a.chunks_exact_mut(page).enumerate() {
            p.fill(i as u8 | 1);
        }
        black_box(&a);
    });
    let (peer_copy, _) = time(runs, || {
        for (i, p) in a.chunks_exact(page).enumerate() {
            let d = usize::try_from(scatter(i as u64) - pages).unwrap() * page;
            b[d..d + page].copy_from_slice(p);
        }
        black_box(&b);
    });
    // The proof's peer compares equal pages (as a passing proof does), and
    // checks each source page for zero (exiting at its first byte).
    let c = a.clone();
    let (peer_cmp, _) = time(runs, || {
        let (mut equal, mut written) = (0u64, 0u64);
        for p in a.chunks_exact(page).zip(c.chunks_exact(page)) {
            written += u64::from(p.0.iter().any(|&x| x != 0));
            equal += u64::from(p.0 == p.1);
        }
        assert_eq!(black_box(equal), black_box(written));
    });

    let commit = Instant::now();
    for p in 0..pages {
        assert!(src.write(p * PAGE, PAGE, p));
    }
    let commit = commit.elapsed();
    let mut stamp = pages;
    let write = time(runs, || {
        for p in 0..pages {
            stamp += 1;
            assert!(src.write(p * PAGE, PAGE, stamp));
        }
    });
    let first_copy = Instant::now();
    for p in 0..pages {
        assert!(src.copy_to(p * PAGE, &dst, scatter(p) * PAGE, PAGE));
    }
    let first_copy = first_copy.elapsed();
    // Steady state: every page changed since the last copy (a full round).
    let copy = time(runs, || {
        for p in 0..pages {
            stamp += 1;
            assert!(src.write(p * PAGE, 8, stamp));
        }
        for p in 0..pages {
            assert!(src.copy_to(p * PAGE, &dst, scatter(p) * PAGE, PAGE));
        }
    });
    let proof = time(runs, || {
        let mut written = 0u64;
        for p in 0..pages {
            written += u64::from(src.is_zero(p * PAGE, PAGE) == Some(false));
            assert_eq!(
                src.same(p * PAGE, &dst, scatter(p) * PAGE, PAGE),
                Some(true)
            );
        }
        assert_eq!(written, pages);
    });
    println!(
        "VRAM backing over {} MiB in {} KiB pages ({runs} passes; peer: memset / memcpy / memcmp of a Vec<u8>)",
        SPAN >> 20,
        PAGE >> 10
    );
    println!(
        "first pass (commits {} chunks): writers {:.1} ms, copier {:.1} ms",
        SPAN >> 20,
        commit.as_secs_f64() * 1e3,
        first_copy.as_secs_f64() * 1e3
    );
    row("writers (4 KiB stamped writes)", write, peer_write);
    row(
        "copier (dirty pages, scattered; +1 word store each)",
        copy,
        peer_copy,
    );
    row("proof (is_zero + same per page)", proof, peer_cmp);
}
