//! The run's verdict: the checks, then the downtime budget, and the two
//! stop-and-copy baselines a blackout is compared with.
//!
//! A blackout is compared with stop-and-copy only when the VF met its budget:
//! a VF that did not converge, or whose blackout exceeded `--downtime`, gets
//! a verdict, not a speed-up.

use std::time::Duration;

use dxgkrnl_model::migration::{Convergence, MigrationReport, VfReport};

use crate::exit::Exit;

/// Whether VF `vf` converged and its blackout fitted the `--downtime` budget.
#[must_use]
pub fn within_budget(report: &MigrationReport, vf: &VfReport) -> bool {
    vf.convergence == Convergence::Budget && vf.blackout <= report.config.downtime_budget
}

/// What went wrong with VF `vf`'s budget, if anything.
#[must_use]
pub fn budget_problem(report: &MigrationReport, vf: &VfReport) -> Option<&'static str> {
    if vf.convergence != Convergence::Budget {
        Some("did not converge")
    } else if vf.blackout > report.config.downtime_budget {
        Some("blackout over the --downtime budget")
    } else {
        None
    }
}

/// Whether VF `vf`'s checks (proof and VF state) passed.
#[must_use]
pub fn checks_passed(vf: &VfReport) -> bool {
    vf.proof.passed() && vf.protocol.state_equal()
}

/// The second baseline: stop-and-copy of only the pages the guest ever
/// wrote (what pre-copy with tracking from VF creation is up against).
#[must_use]
pub fn stop_and_copy_written(report: &MigrationReport, vf: &VfReport) -> Duration {
    let bytes = vf
        .proof
        .pages_written
        .saturating_mul(u64::from(report.caps.page_size));
    Duration::from_nanos(report.config.link().transfer_ns(bytes))
}

/// How many times shorter `blackout` is than `baseline`.
#[must_use]
pub fn times_shorter(baseline: Duration, blackout: Duration) -> f64 {
    baseline.as_secs_f64() / blackout.as_secs_f64().max(1e-9)
}

/// The exit code of a finished run: a failed check first, then a missed
/// budget.
#[must_use]
pub fn exit(report: &MigrationReport) -> Exit {
    if !report.vfs.iter().all(checks_passed) {
        Exit::CheckFailed
    } else if report.vfs.iter().all(|vf| within_budget(report, vf)) {
        Exit::Passed
    } else {
        Exit::OverBudget
    }
}
