//! Every DDI at its largest input, timed: the bounded worst case of issue 15
//! section 4 (`docs/escape-and-state.md`, section 3). Not a timed test: it
//! asserts that each call gives the status its page allows, and prints a
//! table of each case's largest input and its time (min / median / max over
//! `RUNS` calls); nothing fails on a slow machine.
//!
//! `cargo bench --bench ddi_worst_case` (or `-- --quick` for 5 runs).
//!
//! The adapter is the largest this bench builds: one 1 GiB segment at 4 KiB
//! pages (262,144 pages, a 32 KiB bitplane). Bounds scale with a segment's
//! page count; the driver's fixed caps are the per-call limits below.

use std::time::{Duration, Instant};

use dxgk_sys::*;
use dxgkrnl_model::live::{MigrationData, MigrationType, msix_entry};
use dxgkrnl_model::{
    Adapter, AdapterConfig, Driver, MemorySegment, Stage, VgpuRequest, take_etw_events,
};
use gpup_miniport::migration::triage::GPUP_MIGRATION_TRIAGE;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const SEGMENT: u32 = 2;
const SEGMENT_BYTES: u64 = 1024 * MIB;
const PAGE: u64 = 4096;
/// `MAX_RANGES` of `DxgkDdiCreateMemoryBasis` (src/basis).
const MAX_RANGES: u64 = 65_536;
/// The saved-state format's largest blob (`MAX_BLOB_LEN`).
const MAX_BLOB: usize = 16 << 20;

struct Row {
    ddi: &'static str,
    input: String,
    times: Vec<Duration>,
}

fn time(runs: usize, mut f: impl FnMut()) -> Vec<Duration> {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort_unstable();
    times
}

fn ok(status: NTSTATUS, what: &str) {
    assert_eq!(status, STATUS_SUCCESS, "{what}");
}

/// 65,536 one-page ranges, every other page, given in descending order (the
/// driver sorts them: the worst input order).
fn worst_ranges(base: u64) -> Vec<(u64, u64)> {
    (0..MAX_RANGES)
        .rev()
        .map(|i| (base + i * 2 * PAGE, PAGE))
        .collect()
}

fn reseal(mut blob: Vec<u8>) -> Vec<u8> {
    let total = u32::try_from(blob.len()).unwrap();
    blob[16..20].copy_from_slice(&total.to_le_bytes());
    blob[24..28].fill(0);
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&blob);
    blob[24..28].copy_from_slice(&crc.to_le_bytes());
    blob
}

/// `blob` grown to exactly `len` bytes by one optional record of a later
/// minor version (which the decoder accepts and skips).
fn padded(blob: &[u8], len: usize) -> Vec<u8> {
    let mut out = blob.to_vec();
    let payload = len - blob.len() - 8;
    out.extend_from_slice(&0x99u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&u32::try_from(payload).unwrap().to_le_bytes());
    out.resize(len, 0xA5);
    let count = u32::from_le_bytes(out[20..24].try_into().unwrap()) + 1;
    out[20..24].copy_from_slice(&count.to_le_bytes());
    reseal(out)
}

fn basis_cases(a: &Adapter, runs: usize, rows: &mut Vec<Row>) {
    let ranges = worst_ranges(0);
    let mut made = Vec::new();
    rows.push(Row {
        ddi: "CreateMemoryBasis",
        input: format!("{MAX_RANGES} ranges, descending"),
        times: time(runs, || {
            made.push(a.create_memory_basis(SEGMENT, &ranges).unwrap())
        }),
    });
    let mut it = made.iter();
    rows.push(Row {
        ddi: "StartDirtyTracking",
        input: format!("basis of {MAX_RANGES} ranges"),
        times: time(runs, || {
            ok(a.start_dirty_tracking(*it.next().unwrap()), "start")
        }),
    });
    let whole = a
        .create_memory_basis(SEGMENT, &[(0, SEGMENT_BYTES)])
        .unwrap();
    ok(a.start_dirty_tracking(whole), "start whole");
    rows.push(Row {
        ddi: "gpup_sw_mark_dirty (WRITE_NOTIFY's mark)",
        input: format!("whole segment, {} pages", SEGMENT_BYTES / PAGE),
        times: time(runs, || ok(a.mark_dirty(SEGMENT, 0, SEGMENT_BYTES), "mark")),
    });
    let mut plane = vec![0u8; (SEGMENT_BYTES / PAGE / 8) as usize];
    rows.push(Row {
        ddi: "QueryDirtyBitData",
        input: format!(
            "whole 1-range basis, {} pages, CLEARDATA",
            SEGMENT_BYTES / PAGE
        ),
        times: time(runs, || {
            ok(a.mark_dirty(SEGMENT, 0, SEGMENT_BYTES), "mark");
            ok(a.query_dirty_bits(whole, None, true, &mut plane), "query");
        }),
    });
    let mut small = vec![0u8; (MAX_RANGES / 8) as usize];
    let first = made[0];
    rows.push(Row {
        ddi: "QueryDirtyBitData",
        input: format!("whole {MAX_RANGES}-range basis, all dirty, CLEARDATA"),
        times: time(runs, || {
            ok(a.mark_dirty(SEGMENT, 0, SEGMENT_BYTES), "mark");
            ok(a.query_dirty_bits(first, None, true, &mut small), "query");
        }),
    });
    let mut it = made.iter();
    rows.push(Row {
        ddi: "StopDirtyTracking",
        input: format!("basis of {MAX_RANGES} ranges"),
        times: time(runs, || {
            ok(a.stop_dirty_tracking(*it.next().unwrap()), "stop")
        }),
    });
    let mut it = made.iter();
    rows.push(Row {
        ddi: "DestroyMemoryBasis",
        input: format!("basis of {MAX_RANGES} ranges"),
        times: time(runs, || {
            ok(a.destroy_memory_basis(*it.next().unwrap()), "destroy")
        }),
    });
    ok(a.stop_dirty_tracking(whole), "stop whole");
    ok(a.destroy_memory_basis(whole), "destroy whole");
}

fn scattered(a: &Adapter, slot: u32, pieces: &[(u64, u64)]) -> dxgkrnl_model::VgpuInfo {
    let bytes = pieces.iter().map(|p| p.1).sum();
    a.create_vgpu(&VgpuRequest {
        partition: Some(slot),
        placement: Some(pieces.to_vec()),
        ..VgpuRequest::vram(bytes)
    })
    .expect("a scattered VF")
}

fn vf_cases(d: &Driver, runs: usize, rows: &mut Vec<Row>) {
    let start = || {
        let a = d.start_adapter(&config()).expect("adapter starts");
        a.set_partition_count(2).unwrap();
        a
    };
    let (s, t) = (start(), start());
    // The VRAM of the most scattered VF: 65,536 one-page pieces, VF order
    // the reverse of segment order.
    let pieces = worst_ranges(0);
    let src = {
        let bytes = MAX_RANGES * PAGE;
        let request = VgpuRequest {
            partition: Some(1),
            placement: Some(pieces.clone()),
            ..VgpuRequest::vram(bytes)
        };
        let t0 = Instant::now();
        s.create_vgpu_until(&request, Stage::Reserved)
            .expect("reserved");
        rows.push(Row {
            ddi: "(model) CreateVirtualGpu + VidMm placement, not a DDI bound",
            input: format!("{MAX_RANGES}-piece reserve"),
            times: vec![t0.elapsed()],
        });
        let basis = s.create_memory_basis(SEGMENT, &pieces).expect("basis");
        ok(s.start_dirty_tracking(basis), "track");
        let t0 = Instant::now();
        let v = s.run_vgpu_with(1, &[basis]).expect("runs");
        rows.push(Row {
            ddi: "SetVirtualGpuResources2 (+ probe, VM bus, D0)",
            input: format!("basis of {MAX_RANGES} pieces, reversed"),
            times: vec![t0.elapsed()],
        });
        v
    };
    let dst = scattered(&t, 1, &pieces);
    guest_cases(&s, &src, runs, rows);
    migration_cases(&s, &t, runs, rows);
    let _ = dst;
}

/// The guest-facing DDIs of the most scattered VF.
fn guest_cases(s: &Adapter, src: &dxgkrnl_model::VgpuInfo, runs: usize, rows: &mut Vec<Row>) {
    let reserve = MAX_RANGES * PAGE;
    rows.push(Row {
        ddi: "VirtualGpuDriverEscape WRITE_NOTIFY",
        input: format!("whole reserve, {MAX_RANGES} pieces"),
        times: time(runs, || s.vf_write_notify(src, 0, reserve).unwrap()),
    });
    rows.push(Row {
        ddi: "VirtualGpuDriverEscape QUERY",
        input: "64-byte input cap".into(),
        times: time(runs, || {
            s.vgpu_query(src).unwrap();
        }),
    });
    let space = vec![0u8; 4096];
    let mut out = vec![0u8; 4096];
    rows.push(Row {
        ddi: "ReadVirtualFunctionConfig",
        input: "offset 0, 4096 bytes".into(),
        times: time(runs, || s.vf_config_read(1, 0, &mut out).unwrap()),
    });
    rows.push(Row {
        ddi: "WriteVirtualFunctionConfig",
        input: "offset 0, 4096 bytes".into(),
        times: time(runs, || s.vf_config_write(1, 0, &space).unwrap()),
    });
    rows.push(Row {
        ddi: "WriteVirtualizedInterrupt",
        input: "one entry (fixed size)".into(),
        times: time(runs, || {
            ok(
                s.write_virtualized_interrupt(1, 3, msix_entry(0xFEE0_0000, 1, 0)),
                "msix",
            )
        }),
    });
}

/// The cap of `vf`'s mutable blob on `t` (`src/migration/caps.rs`), as
/// the driver reports it in the triage event of an over-cap Restore
/// (`Expected`): a `MAX_BLOB` one, refused unread.
fn mutable_cap(t: &Adapter, vf: u32) -> usize {
    let _ = take_etw_events();
    let status = t.restore_migration_data(MigrationData::Mutable, vf, &vec![0u8; MAX_BLOB]);
    assert_eq!(status, STATUS_OBJECT_TYPE_MISMATCH);
    let events = take_etw_events();
    let e = GPUP_MIGRATION_TRIAGE::decode(&events[0].payload).unwrap();
    usize::try_from(e.Expected).unwrap()
}

/// Save and Restore at their largest data.
fn migration_cases(s: &Adapter, t: &Adapter, runs: usize, rows: &mut Vec<Row>) {
    ok(
        s.prepare_live_migration(1, MigrationType::Source),
        "prepare",
    );
    let immutable = s.save_migration_data(MigrationData::Immutable, 1).unwrap();
    ok(s.set_vf_pause(1, true), "pause");
    let t0 = Instant::now();
    let mutable = s.save_migration_data(MigrationData::Mutable, 1).unwrap();
    rows.push(Row {
        ddi: "SaveMutableMigrationData (both calls)",
        input: format!("basis of {MAX_RANGES} pieces: {} bytes", mutable.len()),
        times: vec![t0.elapsed()],
    });
    ok(
        t.prepare_live_migration(1, MigrationType::Target),
        "prepare t",
    );
    ok(t.set_vf_pause(1, true), "pause t");
    ok(
        t.restore_migration_data(MigrationData::Immutable, 1, &immutable),
        "immutable",
    );
    // The largest blob the cap lets through (the per-VF cap of
    // `src/migration/caps.rs`; `MAX_BLOB` is refused unread): it is read
    // whole, checked and refused (a wrong kind here: immutable data in the
    // mutable slot, so the VF stays Restoring and the case can be repeated).
    let cap = mutable_cap(t, 1);
    let big = padded(&immutable, cap);
    rows.push(Row {
        ddi: "RestoreMutableMigrationData (refused)",
        input: format!("{} bytes, sealed, wrong kind", big.len()),
        times: time(runs, || {
            assert_eq!(
                t.restore_migration_data(MigrationData::Mutable, 1, &big),
                STATUS_OBJECT_TYPE_MISMATCH
            )
        }),
    });
    let big_mutable = padded(&mutable, cap);
    let t0 = Instant::now();
    ok(
        t.restore_migration_data(MigrationData::Mutable, 1, &big_mutable),
        "restore",
    );
    rows.push(Row {
        ddi: "RestoreMutableMigrationData (accepted)",
        input: format!(
            "{} bytes: {MAX_RANGES}-piece basis + padding",
            big_mutable.len()
        ),
        times: vec![t0.elapsed()],
    });
}

fn config() -> AdapterConfig {
    AdapterConfig {
        segments: vec![MemorySegment {
            id: SEGMENT,
            size: SEGMENT_BYTES,
            page_size: PAGE as u32,
        }],
        max_bases: 4096,
        partitions: None,
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 5 } else { 30 };
    let driver = Driver::load().expect("driver loads");
    let adapter = driver.start_adapter(&config()).expect("adapter starts");
    let mut rows = Vec::new();
    basis_cases(&adapter, runs, &mut rows);
    vf_cases(&driver, runs, &mut rows);
    println!(
        "\nEvery DDI at its largest input (1 GiB segment, 4 KiB pages; {runs} runs, 1 for one-shot cases)\n"
    );
    println!(
        "| {:<62} | {:<52} | {:>10} | {:>10} | {:>10} |",
        "DDI", "largest input", "min", "median", "max"
    );
    println!(
        "|{:-<64}|{:-<54}|{:->12}|{:->12}|{:->12}|",
        "", "", "", "", ""
    );
    for r in &rows {
        let pick = |i: usize| format!("{:.3?}", r.times[i.min(r.times.len() - 1)]);
        println!(
            "| {:<62} | {:<52} | {:>10} | {:>10} | {:>10} |",
            r.ddi,
            r.input,
            pick(0),
            pick(r.times.len() / 2),
            pick(r.times.len() - 1)
        );
    }
    let worst = rows
        .iter()
        .filter(|r| !r.ddi.starts_with("(model)"))
        .filter_map(|r| r.times.last().map(|t| (t, r.ddi)))
        .max()
        .unwrap();
    println!("\nslowest DDI worst case: {:.3?} ({})", worst.0, worst.1);
}
