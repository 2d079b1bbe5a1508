//! End-to-end GPU-P live migrations through the driver's DDI table, with the
//! byte-by-byte proof, and the deliberately faulty tracker that must fail it.

use std::time::Duration;

use dxgk_sys::STATUS_SUCCESS;
use dxgk_sys::{GpupCaps, STATUS_OBJECT_TYPE_MISMATCH};
use dxgkrnl_model::migration::{
    Convergence, EngineTraffic, MigrationConfig, MigrationError, MigrationFault, MigrationReport,
    NoProgress, Phase, Side, Step, TrackingStart, run,
};
use dxgkrnl_model::writers::{Pattern, Workload};

const MIB: u64 = 1 << 20;
const PAGE: u64 = 4096;
/// 64 MiB / (2 VFs x 3 ranges) = 2730 pages per range, 8190 per VF.
const VF_PAGES: u64 = 3 * 2730;

/// 64 MiB of VRAM, 2 VFs, each scattered over 3 ranges.
fn small() -> MigrationConfig {
    MigrationConfig {
        vram_size: 64 * MIB,
        page_size: 4096,
        vf_count: 2,
        ranges_per_vf: 3,
        workload: Workload {
            dirty_rate: 256 * MIB,
            working_set: 24 * MIB,
            pattern: Pattern::HotSet {
                hot_fraction: 0.1,
                hot_writes: 0.9,
            },
            write_size: 4096,
            writers_per_vf: 1,
            drop_one_mark_in: None,
            write_limit: None,
        },
        link_bits_per_second: 1_000_000_000,
        downtime_budget: Duration::from_millis(50),
        max_rounds: 30,
        tracking: TrackingStart::FromCaps,
        seed: 1,
        fault: MigrationFault::None,
        engine: EngineTraffic::default(),
    }
}

fn steps(report: &MigrationReport, side: Side, vf: u32) -> Vec<Step> {
    report
        .trace
        .iter()
        .filter(|e| e.side == side && e.vf == vf)
        .map(|e| e.step)
        .collect()
}

fn position(steps: &[Step], step: Step) -> usize {
    steps
        .iter()
        .position(|s| *s == step)
        .unwrap_or_else(|| panic!("{step:?} missing from {steps:?}"))
}

#[test]
fn small_scattered_migration_is_byte_identical() {
    let config = small();
    let report = run(&config, &mut NoProgress).expect("migration runs");
    assert!(report.passed());
    assert_eq!(report.vfs.len(), 2);
    for vf in &report.vfs {
        println!(
            "VF {}: {} rounds, {} pages sent, blackout {:?} (stop-and-copy {:?}), {} writes",
            vf.vf,
            vf.rounds.len(),
            vf.bytes_sent / PAGE,
            vf.blackout,
            vf.stop_and_copy,
            vf.writers.writes
        );
        assert_eq!(vf.source_reserve.ranges().len(), 3);
        assert_eq!(vf.proof.pages_compared, VF_PAGES);
        assert!(vf.proof.first_differences.is_empty());
        assert!(
            vf.tracked_from_creation,
            "the driver reports performant tracking"
        );
        assert_eq!(vf.convergence, Convergence::Budget);
        let (last, brownout) = vf.rounds.split_last().unwrap();
        assert_eq!(last.phase, Phase::Blackout);
        assert!(!brownout.is_empty() && brownout.iter().all(|r| r.phase == Phase::Brownout));
        // The first round sends what the VF wrote since its creation: its
        // working set, not the whole reserve.
        assert_eq!(brownout[0].dirty_pages, config.workload.working_set / PAGE);
        assert!(!brownout[0].whole_reserve);
        for r in &vf.rounds {
            assert_eq!(r.bytes_sent, r.dirty_pages * PAGE);
            assert_eq!(
                r.transfer,
                Duration::from_nanos(config.link().transfer_ns(r.bytes_sent))
            );
        }
        assert!(last.transfer <= config.downtime_budget);
        assert!(vf.blackout < vf.stop_and_copy);
        assert_eq!(
            vf.stop_and_copy,
            Duration::from_nanos(config.link().transfer_ns(VF_PAGES * PAGE))
        );
        assert_eq!(vf.writers.marks, vf.writers.writes);
        assert_eq!(vf.writers.dropped_marks, 0);
        // The live-migration protocol moved the VF's state.
        let p = &vf.protocol;
        assert!(p.state_equal(), "{:?}", p.differences);
        assert!(p.immutable_bytes > 32 && p.mutable_bytes > 4096);
        assert_eq!(
            p.source.msix.WrittenMask, 0b1111,
            "the guest wrote all 4 entries"
        );
        assert_eq!(p.target.msix, p.source.msix);
        assert!(p.source.memory_enabled && p.source.msix_enabled);
        assert!(p.source.paused && p.target.paused);
        assert_eq!(p.source.basis_runs, vec![(0, VF_PAGES * PAGE)]);
        assert_eq!(p.target.config, p.source.config);
    }
    assert!(
        report
            .caps
            .gpup
            .contains(GpupCaps::LiveMigration | GpupCaps::ScatterMapReserve)
    );
    assert_eq!(report.partition_count, 2);
}

#[test]
fn the_os_order_is_followed_on_both_adapters() {
    let report = run(&small(), &mut NoProgress).expect("migration runs");
    assert!(report.trace.iter().all(|e| e.status == STATUS_SUCCESS));
    for vf in 0..2 {
        let source = steps(&report, Side::Source, vf);
        let first_query = position(&source, Step::QueryDirtyBitData);
        assert_eq!(
            &source[..first_query],
            &[
                Step::CreateVf,
                Step::CreateMemoryBasis,
                Step::StartDirtyTracking,
                Step::BindReserve,
                Step::ProgramVf,
                Step::PrepareLiveMigration,
                Step::SaveImmutableMigrationData,
            ]
        );
        let pause = position(&source, Step::PauseVf);
        assert!(
            source[first_query..pause]
                .iter()
                .all(|s| *s == Step::QueryDirtyBitData)
        );
        assert_eq!(
            &source[pause..],
            &[
                Step::PauseVf,
                Step::QueryDirtyBitData,
                Step::SaveMutableMigrationData,
                Step::EndLiveMigration,
                Step::DestroyVf,
                Step::StopDirtyTracking,
                Step::DestroyMemoryBasis
            ]
        );
        // The target never sees a query; it is paused from before its
        // immutable data is restored until after End. Its OS programs the
        // interrupt table (this host's routing) as the VM starts, before
        // any Restore (issue 15).
        assert_eq!(
            steps(&report, Side::Target, vf),
            &[
                Step::CreateVf,
                Step::CreateMemoryBasis,
                Step::StartDirtyTracking,
                Step::BindReserve,
                Step::ProgramVf,
                Step::PrepareLiveMigration,
                Step::PauseVf,
                Step::RestoreImmutableMigrationData,
                Step::RestoreMutableMigrationData,
                Step::EndLiveMigration,
                Step::UnpauseVf,
                Step::DestroyVf,
                Step::StopDirtyTracking,
                Step::DestroyMemoryBasis
            ]
        );
        // Across the two adapters: the immutable data is restored before
        // the first page is sent, the mutable data after the last query.
        let at = |side: Side, step: Step| {
            report
                .trace
                .iter()
                .position(|e| e.side == side && e.vf == vf && e.step == step)
                .unwrap()
        };
        assert!(
            at(Side::Target, Step::RestoreImmutableMigrationData)
                < at(Side::Source, Step::QueryDirtyBitData)
        );
        assert!(
            at(Side::Source, Step::SaveMutableMigrationData)
                < at(Side::Target, Step::RestoreMutableMigrationData)
        );
        assert!(
            at(Side::Target, Step::RestoreMutableMigrationData)
                < at(Side::Source, Step::EndLiveMigration)
        );
    }
    // VF 1 keeps running (and its basis stays tracked) while VF 0 migrates.
    let vf0_destroyed = report
        .trace
        .iter()
        .position(|e| e.side == Side::Source && e.vf == 0 && e.step == Step::DestroyMemoryBasis)
        .unwrap();
    let vf1_first_query = report
        .trace
        .iter()
        .position(|e| e.vf == 1 && e.step == Step::QueryDirtyBitData)
        .unwrap();
    assert!(vf0_destroyed < vf1_first_query);
}

#[test]
fn without_performant_tracking_the_first_round_sends_the_whole_reserve() {
    let config = MigrationConfig {
        tracking: TrackingStart::AtMigration,
        ..small()
    };
    let report = run(&config, &mut NoProgress).expect("migration runs");
    assert!(report.passed());
    for vf in &report.vfs {
        assert!(!vf.tracked_from_creation);
        let first = &vf.rounds[0];
        assert!(first.whole_reserve);
        assert_eq!(first.dirty_pages, VF_PAGES);
        assert_eq!(
            first.harvest,
            Duration::ZERO,
            "no query: tracking just started"
        );
        assert!(
            vf.total > vf.stop_and_copy,
            "pre-copy cannot beat a full copy here"
        );
        let source = steps(&report, Side::Source, vf.vf);
        assert_eq!(
            &source[..3],
            &[Step::CreateVf, Step::CreateMemoryBasis, Step::BindReserve]
        );
        let start = position(&source, Step::StartDirtyTracking);
        assert_eq!(source[start - 1], Step::SaveImmutableMigrationData);
        assert_eq!(source[start + 1], Step::QueryDirtyBitData);
        // Tracking state is the OS's policy per adapter: the target's basis
        // is not tracked, the source's is, and the states still compare equal.
        assert!(vf.protocol.source.tracked && !vf.protocol.target.tracked);
        assert!(vf.protocol.state_equal());
    }
}

#[test]
fn a_writer_faster_than_the_link_never_converges() {
    let mut config = small();
    config.workload.pattern = Pattern::Uniform;
    config.workload.dirty_rate = 1024 * MIB;
    config.max_rounds = 4;
    let report = run(&config, &mut NoProgress).expect("migration runs");
    assert!(
        report.passed(),
        "the proof holds even when pre-copy gives up"
    );
    for vf in &report.vfs {
        assert_eq!(vf.convergence, Convergence::MaxRounds);
        assert_eq!(vf.rounds.len(), 4);
        assert!(vf.blackout > config.downtime_budget);
    }
}

/// The deliberately faulty tracker: every writer skips its 1,000,000th mark.
///
/// Each writer sweeps its VF's whole reserve page by page (8190 pages) and
/// stops after exactly 1,000,000 writes, so the dropped mark is the last
/// write of its page `999_999 % 8190 = 819`. Pre-copy runs until the VF is
/// idle (a zero budget only fits an empty dirty set), in rounds far shorter
/// than a sweep, so the page's previous mark was harvested before the final
/// write landed: nothing reports that write, and VF 0's proof must fail on
/// exactly that page.
///
/// VF 1 runs the same writes while VF 0 migrates, but its first query comes
/// after its writer went idle: the previous sweep's mark of page 819 is still
/// set then, so the page is sent with its final bytes and the lost mark is
/// masked. The proof reports what was lost, not what was dropped.
#[test]
fn a_tracker_that_drops_one_mark_in_a_million_fails_the_proof() {
    let mut config = small();
    config.workload = Workload {
        dirty_rate: 1024 * MIB,
        working_set: VF_PAGES * PAGE,
        pattern: Pattern::Sweep,
        write_size: PAGE,
        writers_per_vf: 1,
        drop_one_mark_in: Some(1_000_000),
        write_limit: Some(1_000_000),
    };
    config.link_bits_per_second = 100_000_000_000;
    config.downtime_budget = Duration::ZERO;
    config.max_rounds = 100_000;
    let report = run(&config, &mut NoProgress).expect("migration runs");
    assert!(!report.passed());
    let vf0 = &report.vfs[0];
    println!("VF 0: {} rounds, proof {:?}", vf0.rounds.len(), vf0.proof);
    assert_eq!(vf0.writers.writes, 1_000_000);
    assert_eq!(vf0.writers.dropped_marks, 1);
    assert_eq!(vf0.proof.differing_pages, 1);
    let page = 999_999 % VF_PAGES;
    let (addr, offset) = vf0.proof.first_differences[0];
    assert_eq!(addr, page * PAGE);
    assert_eq!(
        Some(offset),
        vf0.source_reserve.locate(addr).map(|(o, _)| o)
    );
    let vf1 = &report.vfs[1];
    assert_eq!(vf1.writers.dropped_marks, 1);
    assert!(vf1.proof.passed(), "masked by the unharvested earlier mark");
}

#[test]
fn the_same_workload_with_a_sound_tracker_passes() {
    let mut config = small();
    config.workload = Workload {
        dirty_rate: 1024 * MIB,
        working_set: VF_PAGES * PAGE,
        pattern: Pattern::Sweep,
        write_size: PAGE,
        writers_per_vf: 1,
        drop_one_mark_in: None,
        write_limit: Some(50_000),
    };
    config.link_bits_per_second = 100_000_000_000;
    config.downtime_budget = Duration::ZERO;
    config.max_rounds = 100_000;
    let report = run(&config, &mut NoProgress).expect("migration runs");
    assert!(report.passed());
}

/// One bit flipped in the mutable data on its way: the target refuses it
/// (`STATUS_OBJECT_TYPE_MISMATCH`) and the run fails at that step.
#[test]
fn corrupted_mutable_data_is_refused_by_the_target() {
    let config = MigrationConfig {
        fault: MigrationFault::CorruptMutableData,
        vf_count: 1,
        ..small()
    };
    match run(&config, &mut NoProgress) {
        Err(MigrationError::Driver { step, status }) => {
            assert_eq!(status, STATUS_OBJECT_TYPE_MISMATCH);
            assert!(step.contains("RestoreMutableMigrationData"), "{step}");
        }
        other => panic!("expected the restore to fail: {other:?}"),
    }
}

/// Without RestoreMutableMigrationData the VRAM still arrives whole, but the
/// target VF lacks the guest's programming: the state check must fail.
#[test]
fn a_skipped_mutable_restore_fails_the_state_check() {
    let config = MigrationConfig {
        fault: MigrationFault::SkipMutableRestore,
        vf_count: 1,
        ..small()
    };
    let report = run(&config, &mut NoProgress).expect("runs");
    let vf = &report.vfs[0];
    assert!(vf.proof.passed(), "the VRAM is byte-identical");
    assert!(!vf.protocol.state_equal());
    println!("{:#?}", vf.protocol.differences);
    // Changed by issue 15: the MSI-X table is the target's OS's to program
    // (it did, as the VM started), not migrated state: it matches anyway.
    assert!(
        !vf.protocol
            .differences
            .iter()
            .any(|d| d.starts_with("MSI-X table") || d.starts_with("MSI-X entry"))
    );
    assert!(
        vf.protocol
            .differences
            .iter()
            .any(|d| d.starts_with("configuration space"))
    );
    assert!(!report.passed());
}

/// A one-range reserve is placed first fit and bound with
/// SetVirtualGpuResources; the protocol is the same.
#[test]
fn contiguous_reserves_migrate_too() {
    let config = MigrationConfig {
        ranges_per_vf: 1,
        ..small()
    };
    let report = run(&config, &mut NoProgress).expect("runs");
    assert!(report.passed());
    for vf in &report.vfs {
        assert_eq!(vf.source_reserve.ranges().len(), 1);
        assert!(vf.protocol.state_equal());
    }
}
