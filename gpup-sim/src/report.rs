//! The readable report and the JSON result.

use std::fmt::Write as _;
use std::time::Duration;

use dxgk_sys::{DirtyBitTrackingCaps, GpupCaps};
use dxgkrnl_model::migration::{
    Convergence, MigrationReport, Phase, RoundReport, Side, TrackingStart, VfReport,
};
use dxgkrnl_model::writers::Pattern;
use serde_json::{Value, json};

use crate::units::{format_duration, format_link, format_size, ratio};
use crate::verdict;

/// Rounds listed in full; longer runs show the first and last few.
const ROUNDS_SHOWN: usize = 12;

fn ms(d: Duration) -> f64 {
    ratio(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), 1_000_000)
}

fn us(d: Duration) -> f64 {
    ratio(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), 1_000)
}

fn dirty_caps(caps: DirtyBitTrackingCaps) -> String {
    let mut names = Vec::new();
    if caps.contains(DirtyBitTrackingCaps::DirtyBitTrackingSupported) {
        names.push("DirtyBitTrackingSupported");
    }
    if caps.contains(DirtyBitTrackingCaps::DirtyBitTrackingPerformant) {
        names.push("DirtyBitTrackingPerformant");
    }
    if names.is_empty() {
        "none".into()
    } else {
        names.join(" | ")
    }
}

fn gpup_caps(caps: GpupCaps) -> String {
    let names: Vec<&str> = [
        (
            GpupCaps::VirtualMachineHibernation,
            "VirtualMachineHibernation",
        ),
        (GpupCaps::HotDriverUpdate, "HotDriverUpdate"),
        (GpupCaps::LiveMigration, "LiveMigration"),
        (GpupCaps::ScatterMapReserve, "ScatterMapReserve"),
    ]
    .iter()
    .filter(|(bit, _)| caps.contains(*bit))
    .map(|(_, name)| *name)
    .collect();
    if names.is_empty() {
        "0".into()
    } else {
        names.join(" | ")
    }
}

fn round_row(out: &mut String, r: &RoundReport) {
    let phase = match r.phase {
        Phase::Brownout => "brownout",
        Phase::Blackout => "blackout",
    };
    let mut note = String::new();
    if r.whole_reserve {
        note.push_str("  whole reserve (tracking just started)");
    }
    if r.found_after_pause > 0 {
        let _ = write!(note, "  +{} found after the pause", r.found_after_pause);
    }
    let _ = writeln!(
        out,
        "  {:>5}  {:<8}  {:>11}  {:>10}  {:>12}  {:>10}  {:>10}{note}",
        r.round,
        phase,
        r.dirty_pages,
        format_size(r.bytes_sent),
        format_duration(r.transfer),
        format_duration(r.harvest),
        format_duration(r.start),
    );
}

/// One VF's part of the readable report: its reserve, rounds, outcome,
/// live-migration protocol and proof.
fn vf_section(out: &mut String, report: &MigrationReport, vf: &VfReport) {
    vf_reserve(out, vf);
    vf_rounds(out, vf);
    vf_outcome(out, report, vf);
    vf_protocol(out, vf);
    vf_proof(out, vf);
}

/// The VF's reserve and when its tracking started.
fn vf_reserve(out: &mut String, vf: &VfReport) {
    let ranges: Vec<String> = vf
        .source_reserve
        .ranges()
        .iter()
        .map(|(offset, size)| format!("{offset:#x}+{}", format_size(*size)))
        .collect();
    let _ = writeln!(
        out,
        "\nVF {}: reserve {} in {} range(s): {}",
        vf.vf,
        format_size(vf.source_reserve.size()),
        ranges.len(),
        ranges.join(", ")
    );
    let _ = writeln!(
        out,
        "  tracking started at {}",
        if vf.tracked_from_creation {
            "VF creation (performant)"
        } else {
            "migration start: the first round sends the whole reserve"
        }
    );
}

/// The VF's rounds: all of them, or the first and last ones.
fn vf_rounds(out: &mut String, vf: &VfReport) {
    let _ = writeln!(
        out,
        "  {:>5}  {:<8}  {:>11}  {:>10}  {:>12}  {:>10}  {:>10}",
        "round", "phase", "dirty pages", "sent", "transfer*", "query†", "at*"
    );
    if vf.rounds.len() <= ROUNDS_SHOWN {
        for r in &vf.rounds {
            round_row(out, r);
        }
    } else {
        for r in &vf.rounds[..ROUNDS_SHOWN - 4] {
            round_row(out, r);
        }
        let _ = writeln!(
            out,
            "  {:>5}  ({} more rounds)",
            "...",
            vf.rounds.len() - ROUNDS_SHOWN + 1
        );
        for r in &vf.rounds[vf.rounds.len() - 3..] {
            round_row(out, r);
        }
    }
}

/// Whether the VF converged, and its blackout against the two
/// stop-and-copy baselines (a ratio only when the budget was met).
fn vf_outcome(out: &mut String, report: &MigrationReport, vf: &VfReport) {
    let config = &report.config;
    let pre_copy = vf.rounds.len().saturating_sub(1);
    let budget = format_duration(config.downtime_budget);
    match vf.convergence {
        Convergence::Budget => {
            let _ = writeln!(
                out,
                "  converged after {pre_copy} pre-copy round(s): the pending set fitted the {budget} budget"
            );
        }
        Convergence::MaxRounds => {
            let _ = writeln!(
                out,
                "  did NOT converge: stopped after {} rounds (--max-rounds)",
                vf.rounds.len()
            );
        }
    }
    let page = u64::from(report.caps.page_size);
    let written = verdict::stop_and_copy_written(report, vf);
    let _ = writeln!(
        out,
        "  stop-and-copy baselines: whole reserve {} ({}); pages ever written {} ({})",
        format_duration(vf.stop_and_copy),
        format_size(vf.source_reserve.size()),
        format_duration(written),
        format_size(vf.proof.pages_written.saturating_mul(page)),
    );
    if verdict::within_budget(report, vf) {
        let _ = writeln!(
            out,
            "  blackout {} within the {budget} budget: {:.1}x shorter than stop-and-copy of the whole reserve, {:.1}x shorter than of the pages ever written; total {}; sent {}",
            format_duration(vf.blackout),
            verdict::times_shorter(vf.stop_and_copy, vf.blackout),
            verdict::times_shorter(written, vf.blackout),
            format_duration(vf.total),
            format_size(vf.bytes_sent),
        );
    } else {
        let _ = writeln!(
            out,
            "  OVER BUDGET: blackout {} against a {budget} budget ({}); total {}; sent {}",
            format_duration(vf.blackout),
            verdict::budget_problem(report, vf).unwrap_or("over budget"),
            format_duration(vf.total),
            format_size(vf.bytes_sent),
        );
    }
}

/// The VF's writers, the live-migration protocol and the VF-state check.
fn vf_protocol(out: &mut String, vf: &VfReport) {
    let w = &vf.writers;
    let _ = writeln!(
        out,
        "  writers: {} writes ({}), {} marks{}",
        w.writes,
        format_size(w.bytes),
        w.marks,
        if w.dropped_marks > 0 {
            format!(", {} marks DROPPED by fault injection", w.dropped_marks)
        } else {
            String::new()
        }
    );
    let e = &vf.engine;
    if e.fills + e.transfers > 0 {
        let _ = writeln!(
            out,
            "  engine: {} FILL + {} TRANSFER paging operations inside the reserve ({} written, {} fences delivered)",
            e.fills,
            e.transfers,
            format_size(e.bytes),
            e.fences,
        );
    }
    let p = &vf.protocol;
    let _ = writeln!(
        out,
        "  live migration: PrepareLiveMigration (SOURCE, TARGET), immutable data {} B saved (2 calls) and restored into the paused target, pause, mutable data {} B saved (2 calls) and restored, EndLiveMigration on both, target unpaused",
        p.immutable_bytes, p.mutable_bytes
    );
    if p.state_equal() {
        let _ = writeln!(
            out,
            "  VF state: target equals source (config space {} B, MSI-X entries written {:#x}, paused, power D{}, basis covering VF pages {})",
            p.source.config.len(),
            p.source.msix.WrittenMask,
            if p.source.power_state == 1 { 0 } else { 3 },
            runs(&p.source.basis_runs),
        );
    } else {
        let _ = writeln!(out, "  VF state: target DIFFERS from source:");
        for d in &p.differences {
            let _ = writeln!(out, "    {d}");
        }
    }
}

/// The VF's byte-identical proof.
fn vf_proof(out: &mut String, vf: &VfReport) {
    if vf.proof.passed() {
        let _ = writeln!(
            out,
            "  proof: {} pages compared, destination byte-identical to source",
            vf.proof.pages_compared
        );
    } else {
        let _ = writeln!(
            out,
            "  proof: FAILED, {} of {} pages differ; first ones (VF address -> source segment offset):",
            vf.proof.differing_pages, vf.proof.pages_compared
        );
        for (addr, offset) in &vf.proof.first_differences {
            let _ = writeln!(out, "    {addr:#x} -> {offset:#x}");
        }
    }
}

/// VF-address runs, e.g. `[0x0, 0x100000000)`.
fn runs(runs: &[(u64, u64)]) -> String {
    runs.iter()
        .map(|(at, len)| format!("[{at:#x}, {:#x})", at + len))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The readable report: configuration, caps, each VF's rounds, a summary
/// table and the verdict.
#[must_use]
pub fn text(report: &MigrationReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "gpup-sim migrate: GPU-P live migration through gpup-miniport's DDI table (dxgkrnl-model)\n"
    );
    configuration(&mut out, report);
    caps(&mut out, report);
    vfs_created(&mut out, report);
    for vf in &report.vfs {
        vf_section(&mut out, report, vf);
    }
    let _ = writeln!(
        out,
        "\n* modelled (link bandwidth, writers' time); † measured (wall time of QueryDirtyBitData through the C ABI)"
    );
    summary(&mut out, report);
    verdicts(&mut out, report);
    out
}

/// The run's configuration.
fn configuration(out: &mut String, report: &MigrationReport) {
    let c = &report.config;
    let w = &c.workload;
    let _ = writeln!(out, "Configuration");
    let _ = writeln!(
        out,
        "  VRAM       {} per adapter (source and target), one tracked segment of {}-byte pages",
        format_size(c.vram_size),
        c.page_size
    );
    let reserve = report.vfs.first().map_or(0, |v| v.source_reserve.size());
    let _ = writeln!(
        out,
        "  VFs        {}, reserves of {} scattered over {} range(s) each",
        c.vf_count,
        format_size(reserve),
        c.ranges_per_vf
    );
    let _ = writeln!(
        out,
        "  workload   {}/s per VF, working set {}, {}, {} writes, {} writer(s) per VF{}{}",
        format_size(w.dirty_rate),
        format_size(w.working_set),
        w.pattern,
        format_size(w.write_size),
        w.writers_per_vf,
        w.write_limit
            .map(|n| format!(", {n} writes each at most"))
            .unwrap_or_default(),
        w.drop_one_mark_in
            .map(|n| format!(", FAULT INJECTION: every {n}-th mark dropped"))
            .unwrap_or_default(),
    );
    if c.engine.ops_per_round > 0 {
        let _ = writeln!(
            out,
            "  engine     {} paging operation(s) inside the migrating VF's reserve as its migration starts and after each pre-copy round's copy{}",
            c.engine.ops_per_round,
            if c.engine.drops_marks {
                ", FAULT INJECTION: the engine drops its dirty marks"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(
        out,
        "  migration  link {}, downtime budget {}, at most {} rounds, seed {}",
        format_link(c.link_bits_per_second),
        format_duration(c.downtime_budget),
        c.max_rounds,
        c.seed
    );
}

/// The adapter caps read at start.
fn caps(out: &mut String, report: &MigrationReport) {
    let _ = writeln!(out, "\nAdapter caps read at start (source and target)");
    let _ = writeln!(
        out,
        "  DIRTYBITTRACKINGCAPS         {}",
        dirty_caps(report.caps.dirty_bit_tracking)
    );
    let _ = writeln!(
        out,
        "  DIRTYBITTRACKINGSEGMENTCAPS  segment 2: {}-byte pages",
        report.caps.page_size
    );
    match report.caps.gpup_query {
        Some(status) if status.is_success() => {
            let _ = writeln!(
                out,
                "  GPUPCAPS                     {}",
                gpup_caps(report.caps.gpup)
            );
        }
        Some(status) => {
            let _ = writeln!(
                out,
                "  GPUPCAPS                     query failed ({status:?}): counted as 0, as Dxgkrnl does"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  GPUPCAPS                     not asked: the adapter has no GPU partition interface"
            );
        }
    }
}

/// How the VFs were created and their reserves bound.
fn vfs_created(out: &mut String, report: &MigrationReport) {
    let c = &report.config;
    let scattered = c.ranges_per_vf > 1;
    let _ = writeln!(
        out,
        "\nVFs created through DxgkDdiCreateVirtualGpu (the GPU partition interface, partition count {}) on both adapters:",
        report.partition_count
    );
    let _ = writeln!(
        out,
        "  each reserve a standard vGPU allocation pinned {}, bound with {}",
        if scattered {
            format!("at {} scattered range(s)", c.ranges_per_vf)
        } else {
            "in one range".to_owned()
        },
        if scattered {
            "DxgkDdiSetVirtualGpuResources2 over its memory basis"
        } else {
            "DxgkDdiSetVirtualGpuResources"
        }
    );
    if c.tracking == TrackingStart::AtMigration {
        let _ = writeln!(
            out,
            "  (--tracking at-migration: tracking treated as not performant)"
        );
    }
}

/// The summary table, one row per VF: the speed-up over each baseline only
/// for a VF that met its budget.
fn summary(out: &mut String, report: &MigrationReport) {
    let _ = writeln!(out, "\nSummary (times modelled; s&c = stop-and-copy)");
    let _ = writeln!(
        out,
        "  {:>3}  {:>6}  {:>10}  {:>12}  {:>12}  {:>15}  {:>10}  {:>10}  {:>10}  proof   state",
        "VF",
        "rounds",
        "blackout",
        "s&c reserve",
        "s&c written",
        "budget",
        "total",
        "sent",
        "reserve"
    );
    for vf in &report.vfs {
        let written = verdict::stop_and_copy_written(report, vf);
        let budget = if verdict::within_budget(report, vf) {
            format!(
                "met {:.1}x/{:.1}x",
                verdict::times_shorter(vf.stop_and_copy, vf.blackout),
                verdict::times_shorter(written, vf.blackout)
            )
        } else if vf.convergence == Convergence::Budget {
            "EXCEEDED".to_owned()
        } else {
            "NOT CONVERGED".to_owned()
        };
        let _ = writeln!(
            out,
            "  {:>3}  {:>6}  {:>10}  {:>12}  {:>12}  {:>15}  {:>10}  {:>10}  {:>10}  {:<6}  {}",
            vf.vf,
            vf.rounds.len(),
            format_duration(vf.blackout),
            format_duration(vf.stop_and_copy),
            format_duration(written),
            budget,
            format_duration(vf.total),
            format_size(vf.bytes_sent),
            format_size(vf.source_reserve.size()),
            if vf.proof.passed() {
                "passed"
            } else {
                "FAILED"
            },
            if vf.protocol.state_equal() {
                "equal"
            } else {
                "DIFFERS"
            }
        );
    }
}

/// The downtime verdict: met, or which VFs missed it and how.
fn budget_verdict(out: &mut String, report: &MigrationReport) {
    let missed: Vec<String> = report
        .vfs
        .iter()
        .filter_map(|vf| {
            verdict::budget_problem(report, vf).map(|why| {
                format!(
                    "VF {} ({why}: blackout {})",
                    vf.vf,
                    format_duration(vf.blackout)
                )
            })
        })
        .collect();
    let budget = format_duration(report.config.downtime_budget);
    if missed.is_empty() {
        let _ = writeln!(
            out,
            "Downtime budget: MET for all {} VF(s): each converged with a blackout within {budget}.",
            report.vfs.len()
        );
    } else {
        let _ = writeln!(
            out,
            "Downtime budget: MISSED ({budget}) for {}.",
            missed.join(", ")
        );
    }
}

/// What was measured, and the verdicts of the protocol, VF-state and
/// byte-identical checks.
fn verdicts(out: &mut String, report: &MigrationReport) {
    let queries: Vec<Duration> = report
        .vfs
        .iter()
        .flat_map(|v| v.rounds.iter().map(|r| r.harvest))
        .filter(|d| !d.is_zero())
        .collect();
    let slowest = queries.iter().max().copied().unwrap_or_default();
    let _ = writeln!(
        out,
        "\nMeasured: {} QueryDirtyBitData calls, slowest {}; whole run {} wall time (warm-up: {} modelled).",
        report
            .trace
            .iter()
            .filter(|e| e.step == dxgkrnl_model::migration::Step::QueryDirtyBitData)
            .count(),
        format_duration(slowest),
        format_duration(report.wall),
        format_duration(report.warm_up),
    );
    let _ = writeln!(
        out,
        "Live-migration protocol: performed source to target for all {} VF(s) through the driver's DDIs (PrepareLiveMigration, Save/RestoreImmutableMigrationData, SetVirtualFunctionPauseState, Save/RestoreMutableMigrationData, EndLiveMigration).",
        report.vfs.len()
    );
    let unequal: Vec<String> = report
        .vfs
        .iter()
        .filter(|v| !v.protocol.state_equal())
        .map(|v| format!("VF {}", v.vf))
        .collect();
    if unequal.is_empty() {
        let _ = writeln!(
            out,
            "VF-state check: PASSED for all {} VF(s): each target VF's state (configuration space, MSI-X table, pause, power, reserve, basis) equals its source's.",
            report.vfs.len()
        );
    } else {
        let _ = writeln!(out, "VF-state check: FAILED for {}.", unequal.join(", "));
    }
    let pages: u64 = report.vfs.iter().map(|v| v.proof.pages_compared).sum();
    if report.vfs.iter().all(|v| v.proof.passed()) {
        let _ = writeln!(
            out,
            "Byte-identical check: PASSED for all {} VF(s): {pages} pages of destination VRAM equal their source.",
            report.vfs.len()
        );
    } else {
        let failed: Vec<String> = report
            .vfs
            .iter()
            .filter(|v| !v.proof.passed())
            .map(|v| {
                format!(
                    "VF {} ({} of {} pages differ)",
                    v.vf, v.proof.differing_pages, v.proof.pages_compared
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "Byte-identical check: FAILED for {}.",
            failed.join(", ")
        );
    }
    budget_verdict(out, report);
    let exit = verdict::exit(report);
    let name = crate::exit::TABLE
        .iter()
        .find(|(e, _, _)| *e == exit)
        .map_or("", |(_, name, _)| *name);
    let _ = writeln!(out, "Verdict: {name} (exit code {}).", exit.code());
}

fn pattern_json(p: &Pattern) -> Value {
    match p {
        Pattern::Uniform => json!({"kind": "uniform"}),
        Pattern::HotSet {
            hot_fraction,
            hot_writes,
        } => json!({"kind": "hot-set", "hot_fraction": hot_fraction, "hot_writes": hot_writes}),
        Pattern::Sweep => json!({"kind": "sweep"}),
    }
}

fn round_json(r: &RoundReport) -> Value {
    json!({
        "round": r.round,
        "phase": match r.phase { Phase::Brownout => "brownout", Phase::Blackout => "blackout" },
        "start_ms": ms(r.start),
        "dirty_pages": r.dirty_pages,
        "bytes_sent": r.bytes_sent,
        "transfer_ms": ms(r.transfer),
        "harvest_us": us(r.harvest),
        "whole_reserve": r.whole_reserve,
        "found_after_pause": r.found_after_pause,
    })
}

/// The full result as JSON: configuration, caps, per-VF rounds and proof,
/// the OS-sequence trace, and the verdict. Times are in milliseconds
/// (modelled) except `harvest_us` and `wall_ms` (measured).
#[must_use]
pub fn json(report: &MigrationReport) -> Value {
    let c = &report.config;
    let w = &c.workload;
    let vfs: Vec<Value> = report
        .vfs
        .iter()
        .map(|vf| {
            json!({
                "vf": vf.vf,
                "source_ranges": vf.source_reserve.ranges().iter().map(|(o, s)| json!([o, s])).collect::<Vec<_>>(),
                "target_ranges": vf.target_reserve.ranges().iter().map(|(o, s)| json!([o, s])).collect::<Vec<_>>(),
                "reserve_bytes": vf.source_reserve.size(),
                "tracked_from_creation": vf.tracked_from_creation,
                "rounds": vf.rounds.iter().map(round_json).collect::<Vec<_>>(),
                "converged": vf.convergence == Convergence::Budget,
                "blackout_ms": ms(vf.blackout),
                "total_ms": ms(vf.total),
                "bytes_sent": vf.bytes_sent,
                "stop_and_copy_ms": ms(vf.stop_and_copy),
                "stop_and_copy_written_ms": ms(verdict::stop_and_copy_written(report, vf)),
                "within_budget": verdict::within_budget(report, vf),
                "writers": {
                    "writes": vf.writers.writes,
                    "bytes": vf.writers.bytes,
                    "marks": vf.writers.marks,
                    "dropped_marks": vf.writers.dropped_marks,
                },
                "engine": engine_json(&vf.engine),
                "protocol": {
                    "immutable_bytes": vf.protocol.immutable_bytes,
                    "mutable_bytes": vf.protocol.mutable_bytes,
                    "state_equal": vf.protocol.state_equal(),
                    "differences": vf.protocol.differences,
                    "msix_written": vf.protocol.source.msix.WrittenMask,
                    "source_tracked": vf.protocol.source.tracked,
                    "target_tracked": vf.protocol.target.tracked,
                },
                "proof": {
                    "passed": vf.proof.passed(),
                    "pages_compared": vf.proof.pages_compared,
                    "differing_pages": vf.proof.differing_pages,
                    "pages_written": vf.proof.pages_written,
                    "first_differences": vf.proof.first_differences.iter()
                        .map(|(addr, offset)| json!({"vf_address": addr, "segment_offset": offset}))
                        .collect::<Vec<_>>(),
                },
            })
        })
        .collect();
    let trace: Vec<Value> = report
        .trace
        .iter()
        .map(|e| {
            json!({
                "side": match e.side { Side::Source => "source", Side::Target => "target" },
                "vf": e.vf,
                "step": format!("{:?}", e.step),
                "status": format!("{:#010x}", e.status.0.cast_unsigned()),
            })
        })
        .collect();
    let exit = verdict::exit(report);
    json!({
        "passed": report.passed(),
        "exit_code": exit.code(),
        "within_budget": report.vfs.iter().all(|vf| verdict::within_budget(report, vf)),
        "config": {
            "vram_bytes": c.vram_size,
            "page_size": c.page_size,
            "vf_count": c.vf_count,
            "ranges_per_vf": c.ranges_per_vf,
            "dirty_rate_bytes_per_s": w.dirty_rate,
            "working_set_bytes": w.working_set,
            "pattern": pattern_json(&w.pattern),
            "write_size": w.write_size,
            "writers_per_vf": w.writers_per_vf,
            "drop_one_mark_in": w.drop_one_mark_in,
            "write_limit": w.write_limit,
            "link_bits_per_s": c.link_bits_per_second,
            "downtime_budget_ms": ms(c.downtime_budget),
            "max_rounds": c.max_rounds,
            "tracking": match c.tracking { TrackingStart::FromCaps => "caps", TrackingStart::AtMigration => "at-migration" },
            "seed": c.seed,
        },
        "caps": {
            "gpupcaps": report.caps.gpup.bits(),
            "gpupcaps_query_status": report.caps.gpup_query.map(|s| format!("{:#010x}", s.0.cast_unsigned())),
            "dirty_bit_tracking": report.caps.dirty_bit_tracking.bits(),
            "page_size": report.caps.page_size,
        },
        "vf_creation": "DxgkDdiCreateVirtualGpu",
        "reserve_binding": if c.ranges_per_vf > 1 { "DxgkDdiSetVirtualGpuResources2" } else { "DxgkDdiSetVirtualGpuResources" },
        "partition_count": report.partition_count,
        "vfs": vfs,
        "trace": trace,
        "warm_up_ms": ms(report.warm_up),
        "wall_ms": ms(report.wall),
    })
}

/// What the engine wrote inside a VF's reserve (`--engine-traffic`).
fn engine_json(e: &dxgkrnl_model::migration::EngineTotals) -> Value {
    json!({
        "fills": e.fills,
        "transfers": e.transfers,
        "bytes": e.bytes,
        "fences": e.fences,
    })
}
