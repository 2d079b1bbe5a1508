//! The dirty-log test of Linux KVM's selftests (`dirty_log_test.c`), against
//! the driver through its C ABI: writer threads store the current round number
//! into random pages of a simulated VRAM and mark them through the software
//! backend; a harvester queries with CLEARDATA every couple of milliseconds.
//!
//! After each harvest of round R:
//! - every page reported dirty holds R or R - 1;
//! - every page holding R whose bit was clear must be reported by the next
//!   harvest (its mark raced this harvest and must still be pending).
//!
//! The round handshake makes both checks exact: before round R's harvest, the
//! harvester waits until every writer has started an iteration with a round of
//! at least R, so every write carrying R - 2 or less has completed (stored and
//! marked) before round R - 1's harvest.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use dxgk_sys::STATUS_SUCCESS;
use gpup_rng::XorShift64Star;

const PAGE: u64 = 4096;
/// Busy work between writes, to keep the dirty density per round low.
const SPIN_PER_WRITE: u32 = 40;

#[test]
fn query_with_clear_never_loses_a_racing_write() {
    let (_driver, adapter) = started();
    let adapter = Arc::new(adapter);
    // Three ranges, out of order, none a multiple of 64 pages: 7001 + 7003 + 77
    // pages. Enough pages, and writers slow enough, that a page is rarely
    // written twice in one round: a lost mark is then not hidden by a rewrite.
    let ranges = [
        (8000 * PAGE, 7001 * PAGE),
        (100 * PAGE, 7003 * PAGE),
        (15100 * PAGE, 77 * PAGE),
    ];
    let pages: Vec<u64> = ranges
        .iter()
        .flat_map(|&(off, size)| (0..size / PAGE).map(move |p| off / PAGE + p))
        .collect();
    let total = pages.len() as u64;
    let basis = tracked(&adapter, SEG_4K, &ranges);

    // One word of simulated VRAM per page: the round number last written.
    let vram: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let round = Arc::new(AtomicU64::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let writers = 2;
    let seen: Arc<Vec<AtomicU64>> = Arc::new((0..writers).map(|_| AtomicU64::new(0)).collect());
    let writes = Arc::new(AtomicU64::new(0));
    let target_writes = 1_500_000u64;

    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let (adapter, vram, round, stop, seen, writes) = (
                adapter.clone(),
                vram.clone(),
                round.clone(),
                stop.clone(),
                seen.clone(),
                writes.clone(),
            );
            let pages = pages.clone();
            std::thread::spawn(move || {
                let mut rng = XorShift64Star::from_state(0x9E37_79B9_7F4A_7C15 ^ (w as u64 + 1));
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let r = round.load(Ordering::Acquire);
                    seen[w].store(r, Ordering::Release);
                    let i = rng.below_mod(total);
                    vram[usize::try_from(i).unwrap()].store(r, Ordering::Relaxed);
                    assert_eq!(
                        adapter.mark_dirty(SEG_4K, pages[usize::try_from(i).unwrap()] * PAGE, 1),
                        STATUS_SUCCESS
                    );
                    n += 1;
                    for _ in 0..SPIN_PER_WRITE {
                        std::hint::spin_loop();
                    }
                    if n.is_multiple_of(4096) {
                        writes.fetch_add(4096, Ordering::Relaxed);
                    }
                }
                writes.fetch_add(n % 4096, Ordering::Relaxed);
            })
        })
        .collect();

    // Bit i of a harvest is page `pages[i]`: ranges concatenated in their given order.
    let mut must_report_next: Vec<usize> = Vec::new();
    let (mut rounds, mut reported_total, mut violations) = (0u64, 0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buf = vec![0u8; bytes_for(total)];
    loop {
        let r = round.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(1));
        buf.iter_mut().for_each(|b| *b = 0);
        assert_eq!(
            adapter.query_dirty_bits(basis, None, true, &mut buf),
            STATUS_SUCCESS
        );
        rounds += 1;
        for &i in &must_report_next {
            if !bit(&buf, i as u64) {
                violations += 1;
                eprintln!(
                    "round {r}: page {i} held round {} but its mark was lost",
                    r - 1
                );
            }
        }
        must_report_next.clear();
        for i in 0..usize::try_from(total).unwrap() {
            let value = vram[i].load(Ordering::Relaxed);
            if bit(&buf, i as u64) {
                reported_total += 1;
                if value != r && value + 1 != r {
                    violations += 1;
                    eprintln!("round {r}: page {i} reported dirty but holds round {value}");
                }
            } else if value == r {
                must_report_next.push(i);
            }
        }
        // Next round, and the handshake: no writer still carries round r or older.
        round.store(r + 1, Ordering::Release);
        while seen.iter().any(|s| s.load(Ordering::Acquire) <= r) && !stop.load(Ordering::Relaxed) {
            std::hint::spin_loop();
        }
        let enough = rounds >= 100 && writes.load(Ordering::Relaxed) >= target_writes;
        if enough || Instant::now() > deadline {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("writer");
    }
    let written = writes.load(Ordering::Relaxed);
    // Writers are stopped: one last harvest must hold every page still owed.
    buf.iter_mut().for_each(|b| *b = 0);
    assert_eq!(
        adapter.query_dirty_bits(basis, None, true, &mut buf),
        STATUS_SUCCESS
    );
    for &i in &must_report_next {
        if !bit(&buf, i as u64) {
            violations += 1;
        }
    }
    println!(
        "dirty_log: {written} page writes by {writers} writers over {total} pages, {rounds} rounds, \
         {reported_total} pages reported ({:.1} % of the basis per round), {violations} violations",
        100.0 * reported_total as f64 / (rounds as f64 * total as f64)
    );
    assert_eq!(violations, 0);
    assert!(
        written >= 1_000_000,
        "at least 10^6 page writes (got {written})"
    );
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
}
