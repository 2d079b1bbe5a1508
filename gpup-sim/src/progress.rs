//! Progress bars (on stderr, only when it is a terminal) for the long phases
//! of a run, and one line per finished round.

use std::io::IsTerminal;
use std::time::Duration;

use dxgkrnl_model::migration::{Phase, Progress, RoundReport};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::units::{format_duration, format_size};

/// Phases shorter than this many units get no bar.
const MIN_UNITS: u64 = 1024;

/// indicatif bars for [`Progress`].
pub struct Bars {
    enabled: bool,
    bar: Option<ProgressBar>,
}

impl Bars {
    /// Bars on stderr if it is a terminal and `quiet` is not set.
    pub fn new(quiet: bool) -> Self {
        Self {
            enabled: !quiet && std::io::stderr().is_terminal(),
            bar: None,
        }
    }
}

impl Progress for Bars {
    fn begin(&mut self, phase: &str, total: u64) {
        self.end();
        if !self.enabled || total < MIN_UNITS {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{msg:60} [{bar:30}] {percent:>3}% {elapsed}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(phase.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        self.bar = Some(bar);
    }

    fn set(&mut self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    fn end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn round(&mut self, vf: u32, round: &RoundReport) {
        if !self.enabled {
            return;
        }
        let phase = match round.phase {
            Phase::Brownout => "brownout",
            Phase::Blackout => "blackout",
        };
        eprintln!(
            "VF {vf} round {:>3} ({phase}): {:>9} dirty pages, {:>10} sent in {} (modelled), query {} (measured)",
            round.round,
            round.dirty_pages,
            format_size(round.bytes_sent),
            format_duration(round.transfer),
            format_duration(round.harvest),
        );
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        self.end();
    }
}
