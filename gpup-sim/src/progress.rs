//! Progress on stderr for the long phases of a run, and one line per
//! finished round: indicatif bars with an ETA on a terminal; elsewhere (a CI
//! log, a pipe) plain lines at a steady pace, so that a log shows something
//! before the end.

use std::io::{IsTerminal, Write};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dxgkrnl_model::migration::{Phase, Progress, RoundReport};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::units::{format_duration, format_size};

/// Phases shorter than this many units get no bar.
const MIN_UNITS: u64 = 1024;

/// The pace of the plain lines.
pub const PLAIN_INTERVAL: Duration = Duration::from_secs(5);

/// Where plain lines go.
pub type Sink = Arc<Mutex<dyn Write + Send>>;

/// The phase the plain ticker reports.
#[derive(Default)]
struct Current {
    phase: String,
    total: u64,
    done: u64,
    since: Option<Instant>,
}

/// The plain-lines mode: a ticker thread that prints the current phase
/// every interval, and the round lines.
struct Plain {
    sink: Sink,
    current: Arc<Mutex<Current>>,
    stop: Option<Sender<()>>,
    ticker: Option<JoinHandle<()>>,
}

/// How progress is shown.
enum Mode {
    Off,
    Bars(Option<ProgressBar>),
    Plain(Plain),
}

/// Progress for [`Progress`]: bars, plain lines, or nothing.
pub struct Bars {
    mode: Mode,
}

/// `done` of `total` as a line with a percentage and an ETA.
fn plain_line(c: &Current, started: Instant) -> String {
    let elapsed = c.since.map_or(Duration::ZERO, |t| t.elapsed());
    let percent = c.done.saturating_mul(100).checked_div(c.total).unwrap_or(0);
    let eta = if c.done == 0 {
        "ETA unknown".to_owned()
    } else {
        let left = elapsed.mul_f64((c.total.saturating_sub(c.done)) as f64 / c.done as f64);
        format!("ETA {}", format_duration(left))
    };
    format!(
        "[{:>6}] {}: {percent}% ({} of {}), {eta}",
        format_duration(started.elapsed()),
        c.phase,
        c.done,
        c.total
    )
}

impl Plain {
    fn new(sink: Sink, interval: Duration) -> Self {
        let current = Arc::new(Mutex::new(Current::default()));
        let (stop, stopped) = mpsc::channel::<()>();
        let ticker = {
            let (sink, current) = (Arc::clone(&sink), Arc::clone(&current));
            std::thread::spawn(move || {
                let started = Instant::now();
                loop {
                    match stopped.recv_timeout(interval) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                    let line = {
                        let c = current.lock().unwrap_or_else(PoisonError::into_inner);
                        if c.phase.is_empty() {
                            format!(
                                "[{:>6}] running (writers and queries)",
                                format_duration(started.elapsed())
                            )
                        } else {
                            plain_line(&c, started)
                        }
                    };
                    let mut sink = sink.lock().unwrap_or_else(PoisonError::into_inner);
                    let _ = writeln!(sink, "{line}");
                    let _ = sink.flush();
                }
            })
        };
        Self {
            sink,
            current,
            stop: Some(stop),
            ticker: Some(ticker),
        }
    }

    fn with_current(&self, f: impl FnOnce(&mut Current)) {
        f(&mut self.current.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

impl Drop for Plain {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
    }
}

impl Bars {
    /// Bars on stderr if it is a terminal, plain lines on stderr at
    /// [`PLAIN_INTERVAL`] otherwise; nothing if `quiet` is set.
    pub fn new(quiet: bool) -> Self {
        if quiet {
            Self { mode: Mode::Off }
        } else if std::io::stderr().is_terminal() {
            Self {
                mode: Mode::Bars(None),
            }
        } else {
            Self::plain(Arc::new(Mutex::new(std::io::stderr())), PLAIN_INTERVAL)
        }
    }

    /// Plain lines to `sink` every `interval`.
    pub fn plain(sink: Sink, interval: Duration) -> Self {
        Self {
            mode: Mode::Plain(Plain::new(sink, interval)),
        }
    }
}

impl Progress for Bars {
    fn begin(&mut self, phase: &str, total: u64) {
        self.end();
        match &mut self.mode {
            Mode::Off => {}
            Mode::Bars(slot) => {
                if total < MIN_UNITS {
                    return;
                }
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                let style = ProgressStyle::with_template(
                    "{msg:50} [{bar:30}] {percent:>3}% {elapsed} ETA {eta}",
                )
                .map(|s| s.progress_chars("=> "))
                .unwrap_or_else(|_| ProgressStyle::default_bar());
                bar.set_style(style);
                bar.set_message(phase.to_owned());
                bar.enable_steady_tick(Duration::from_millis(200));
                *slot = Some(bar);
            }
            Mode::Plain(plain) => plain.with_current(|c| {
                *c = Current {
                    phase: phase.to_owned(),
                    total,
                    done: 0,
                    since: Some(Instant::now()),
                };
            }),
        }
    }

    fn set(&mut self, done: u64) {
        match &self.mode {
            Mode::Bars(Some(bar)) => bar.set_position(done),
            Mode::Plain(plain) => plain.with_current(|c| c.done = done),
            _ => {}
        }
    }

    fn end(&mut self) {
        match &mut self.mode {
            Mode::Bars(slot) => {
                if let Some(bar) = slot.take() {
                    bar.finish_and_clear();
                }
            }
            Mode::Plain(plain) => plain.with_current(|c| *c = Current::default()),
            Mode::Off => {}
        }
    }

    fn round(&mut self, vf: u32, round: &RoundReport) {
        let phase = match round.phase {
            Phase::Brownout => "brownout",
            Phase::Blackout => "blackout",
        };
        let line = format!(
            "VF {vf} round {:>3} ({phase}): {:>9} dirty pages, {:>10} sent in {} (modelled), query {} (measured)",
            round.round,
            round.dirty_pages,
            format_size(round.bytes_sent),
            format_duration(round.transfer),
            format_duration(round.harvest),
        );
        match &self.mode {
            Mode::Off => {}
            Mode::Bars(_) => eprintln!("{line}"),
            Mode::Plain(plain) => {
                let mut sink = plain.sink.lock().unwrap_or_else(PoisonError::into_inner);
                let _ = writeln!(sink, "{line}");
            }
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        self.end();
    }
}
