//! Does one VF's migration work slow another VF's dirty-bit queries?
//! (issue 15, section 2.) `cargo bench --bench vf_isolation` prints the
//! latency of a whole-basis `DxgkDdiQueryDirtyBitData` (with CLEARDATA) of
//! VF 1, over a 16 MiB reserve at 4 KiB pages (4096 bits), first on an idle
//! adapter and then while another thread runs, back to back, the target side
//! of a live migration of VF 0 whose RestoreMutableMigrationData is of the
//! largest size the driver accepts (a valid blob padded with an optional
//! record of a later minor version up to the cap). A custom harness, not a
//! timed test: it measures and prints, and asserts only that every call
//! succeeded. On the old code (one adapter-wide lock held for the whole of
//! each DDI) the query waited for each Restore's copy and decode.

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dxgk_sys::*;
use dxgkrnl_model::live::MigrationData::{Immutable, Mutable};
use dxgkrnl_model::live::MigrationType;
use dxgkrnl_model::{Adapter, AdapterConfig, Driver, MemorySegment, VgpuRequest, take_etw_events};
use gpup_miniport::migration::triage::GPUP_MIGRATION_TRIAGE;

const MIB: u64 = 1 << 20;
const RESERVE: u64 = 16 * MIB;
/// How long each half queries.
const SPAN: Duration = Duration::from_secs(2);

fn layout() -> AdapterConfig {
    AdapterConfig {
        segments: vec![MemorySegment {
            id: dxgkrnl_model::FIRST_VRAM_SEGMENT,
            size: 256 * MIB,
            page_size: 4096,
        }],
        max_bases: 64,
        partitions: None,
    }
}

fn ok(what: &str, status: NTSTATUS) {
    assert_eq!(status, STATUS_SUCCESS, "{what}");
}

/// Re-seals a blob whose bytes changed: total length and CRC32C.
fn reseal(blob: &mut [u8]) {
    let total = u32::try_from(blob.len()).unwrap();
    blob[16..20].copy_from_slice(&total.to_le_bytes());
    blob[24..28].fill(0);
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(blob);
    blob[24..28].copy_from_slice(&crc.to_le_bytes());
}

/// `blob` padded to `len` bytes with one optional record of an unknown type
/// (what a later minor version may add), sealed again.
fn padded(blob: &[u8], len: usize) -> Vec<u8> {
    let mut out = blob.to_vec();
    let payload = len - blob.len() - 8;
    out.extend(0x7f00u16.to_le_bytes()); // an unknown record type
    out.extend(1u16.to_le_bytes()); // RECORD_OPTIONAL
    out.extend(u32::try_from(payload).unwrap().to_le_bytes());
    out.resize(len, 0xa5);
    let count = u32::from_le_bytes(out[20..24].try_into().unwrap()) + 1;
    out[20..24].copy_from_slice(&count.to_le_bytes());
    reseal(&mut out);
    out
}

/// The cap of VF 0's mutable blob, as the driver reports it in the triage
/// event of an over-cap Restore (`Expected`).
fn mutable_cap(t: &Adapter) -> usize {
    let _ = take_etw_events();
    let status = t.restore_migration_data(Mutable, 0, &vec![0u8; 16 << 20]);
    assert_eq!(status, STATUS_OBJECT_TYPE_MISMATCH);
    let events = take_etw_events();
    let e = GPUP_MIGRATION_TRIAGE::decode(&events[0].payload).unwrap();
    usize::try_from(e.Expected).unwrap()
}

/// One target-side migration of VF 0: Prepare, pause, both Restores, End.
fn migrate_in(t: &Adapter, immutable: &[u8], mutable: &[u8]) {
    ok(
        "prepare",
        t.prepare_live_migration(0, MigrationType::Target),
    );
    ok("pause", t.set_vf_pause(0, true));
    ok(
        "restore immutable",
        t.restore_migration_data(Immutable, 0, immutable),
    );
    ok(
        "restore mutable",
        t.restore_migration_data(Mutable, 0, mutable),
    );
    ok("end", t.end_live_migration(0));
}

/// The number of whole-basis queries made during [`SPAN`], and their
/// median, 99th percentile and maximum latency.
fn measure(
    t: &Adapter,
    basis: dxgkrnl_model::BasisHandle,
    bits: &mut [u8],
) -> (usize, [Duration; 3]) {
    let begin = Instant::now();
    let mut times = Vec::with_capacity(1 << 24);
    while begin.elapsed() < SPAN {
        let start = Instant::now();
        ok("query", t.query_dirty_bits(basis, None, true, bits));
        times.push(start.elapsed());
    }
    times.sort_unstable();
    let n = times.len();
    (n, [times[n / 2], times[n * 99 / 100], times[n - 1]])
}

fn main() {
    let driver = Driver::load().unwrap();
    let start = || {
        let a = driver.start_adapter(&layout()).unwrap();
        a.set_partition_count(2).unwrap();
        a
    };
    let (s, t) = (start(), start());
    let vram = |slot| VgpuRequest {
        partition: Some(slot),
        ..VgpuRequest::vram(RESERVE)
    };
    s.create_vgpu(&vram(0)).unwrap();
    t.create_vgpu(&vram(0)).unwrap();
    let v1 = t.create_vgpu(&vram(1)).unwrap();
    ok(
        "prepare source",
        s.prepare_live_migration(0, MigrationType::Source),
    );
    let immutable = s.save_migration_data(Immutable, 0).unwrap();
    ok("pause source", s.set_vf_pause(0, true));
    let mutable = s.save_migration_data(Mutable, 0).unwrap();

    // The cap, then a blob of exactly that size, accepted.
    ok(
        "prepare target",
        t.prepare_live_migration(0, MigrationType::Target),
    );
    ok("pause target", t.set_vf_pause(0, true));
    ok(
        "restore immutable",
        t.restore_migration_data(Immutable, 0, &immutable),
    );
    let cap = mutable_cap(&t);
    let largest = padded(&mutable, cap);
    ok(
        "restore mutable",
        t.restore_migration_data(Mutable, 0, &largest),
    );
    ok("end", t.end_live_migration(0));

    let (seg, at) = (v1.reserves[0].segment, v1.reserves[0].offset);
    let basis = t.create_memory_basis(seg, &[(at, RESERVE)]).unwrap();
    ok("start tracking", t.start_dirty_tracking(basis));
    let mut bits = vec![0u8; usize::try_from(RESERVE / 4096 / 8).unwrap()];

    let idle = measure(&t, basis, &mut bits);
    let running = AtomicBool::new(true);
    let restores = AtomicU64::new(0);
    let started = Barrier::new(2);
    let (busy, elapsed) = std::thread::scope(|scope| {
        scope.spawn(|| {
            started.wait();
            while running.load(Ordering::Relaxed) {
                migrate_in(&t, &immutable, &largest);
                restores.fetch_add(1, Ordering::Relaxed);
            }
        });
        started.wait();
        let begin = Instant::now();
        let busy = measure(&t, basis, &mut bits);
        let elapsed = begin.elapsed();
        running.store(false, Ordering::Relaxed);
        (busy, elapsed)
    });
    let restores = restores.load(Ordering::Relaxed);
    println!(
        "vf_isolation: whole-basis QueryDirtyBitData of VF 1 (4096 bits, CLEARDATA), {SPAN:?} each"
    );
    println!("  largest mutable blob accepted (the cap): {cap} bytes");
    println!(
        "  {:<36} {:>9} {:>10} {:>10} {:>10}",
        "", "queries", "median", "p99", "max"
    );
    let row = |what: &str, (n, [m, p, x]): (usize, [Duration; 3])| {
        println!("  {what:<36} {n:>9} {m:>10.2?} {p:>10.2?} {x:>10.2?}");
    };
    row("idle", idle);
    row("during restores of VF 0", busy);
    println!(
        "  restores of VF 0 meanwhile: {restores} full target migrations in {elapsed:.2?} ({:.1} per ms)",
        restores as f64 / elapsed.as_secs_f64() / 1000.0
    );
}
