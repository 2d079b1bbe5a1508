//! The up-front estimate of a run: its modelled duration and the host work
//! (bytes the simulated GPUs write, bytes the copier copies), so that a run
//! that cannot finish in reasonable time is refused before it starts.
//!
//! The estimate replays the convergence policy on the link model with a
//! pessimistic workload: every round's pending set is what the writers could
//! dirty in the round before, up to the working set, as if no page were
//! written twice (a hot-set workload rewrites pages and converges sooner).
//! It is an upper estimate of the rounds, not a prediction of each one.

use std::time::Duration;

use dxgkrnl_model::migration::{Link, MigrationConfig, TrackingStart};
use dxgkrnl_model::vf::Reserve;

use crate::units::{format_duration, format_size};

/// The default `--max-modelled-time`: a run longer than this is refused.
pub const DEFAULT_LIMIT: &str = "10min";

/// What a run will cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// Modelled duration (saturating; past the limit the replay stops).
    pub modelled: Duration,
    /// Whether the replay stopped at the limit (the run takes longer).
    pub beyond_limit: bool,
    /// Bytes the simulated GPUs write on the host.
    pub written: u64,
    /// Bytes the copier copies on the host.
    pub copied: u64,
}

impl Estimate {
    /// One line for the user.
    #[must_use]
    pub fn describe(&self) -> String {
        format!(
            "estimate: {}{} modelled; host work about {} written by the simulated GPUs and {} copied",
            if self.beyond_limit { "more than " } else { "" },
            format_duration(self.modelled),
            format_size(self.written),
            format_size(self.copied),
        )
    }
}

/// The modelled time of `bytes` over `link`, in nanoseconds.
fn send(link: Link, bytes: u64) -> u64 {
    link.transfer_ns(bytes)
}

/// Bytes written at `rate` bytes per second in `ns` nanoseconds.
fn written_in(rate: u64, ns: u64) -> u64 {
    u64::try_from(u128::from(rate) * u128::from(ns) / 1_000_000_000).unwrap_or(u64::MAX)
}

/// Estimates `config` (already validated), stopping once the modelled time
/// passes `limit`.
#[must_use]
pub fn estimate(config: &MigrationConfig, limit: Duration) -> Estimate {
    let limit_ns = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
    let w = &config.workload;
    let link = config.link();
    let page = u64::from(config.page_size);
    let reserve = config
        .layout()
        .ok()
        .and_then(|l| l.reserve(0).map(Reserve::size))
        .unwrap_or(0);
    let budget = u64::try_from(config.downtime_budget.as_nanos()).unwrap_or(u64::MAX);
    // The writers stop after --write-limit writes (each writer).
    let writers_end = w.write_limit.map_or(u64::MAX, |n| w.time_of(n));
    // A round lasts at least the model's query lead.
    let lead = w.time_of(128).max(500_000);
    let round_up = |b: u64| b.div_ceil(page).saturating_mul(page);
    let mut now = w.fill_time();
    let (mut written, mut copied) = (0u64, 0u64);
    for _ in 0..config.vf_count {
        let mut pending = match config.tracking {
            TrackingStart::AtMigration => reserve,
            TrackingStart::FromCaps => round_up(w.working_set).min(reserve),
        };
        let mut rounds = 1u32;
        loop {
            let t = send(link, pending);
            copied = copied.saturating_add(pending);
            if t <= budget || rounds >= config.max_rounds {
                now = now.saturating_add(t);
                break;
            }
            let round = t.max(lead);
            let active = writers_end.saturating_sub(now).min(round);
            now = now.saturating_add(round);
            pending = round_up(written_in(w.dirty_rate, active)).min(round_up(w.working_set));
            rounds += 1;
            if now > limit_ns {
                break;
            }
        }
        // This VF's writers ran until its pause.
        written = written.saturating_add(written_in(w.dirty_rate, now.min(writers_end)));
        if now > limit_ns {
            return Estimate {
                modelled: Duration::from_nanos(now),
                beyond_limit: true,
                written,
                copied,
            };
        }
    }
    Estimate {
        modelled: Duration::from_nanos(now),
        beyond_limit: false,
        written,
        copied,
    }
}
