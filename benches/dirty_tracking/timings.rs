//! Timings, recorded by every case as criterion drives it.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Criterion's samples per case; its measurement phase calls each routine
/// exactly this many times, after the warm-up calls.
pub(crate) const SAMPLES: usize = 10;

/// Every call of every routine: (iterations, time of those iterations).
pub(crate) static TIMINGS: Mutex<BTreeMap<String, Vec<(u64, Duration)>>> =
    Mutex::new(BTreeMap::new());

/// Runs `iters` rounds of `setup` (untimed) then `op` (timed), both on
/// `state`; returns the time of the `op`s alone.
pub(crate) fn timed_after<S: ?Sized>(
    iters: u64,
    state: &mut S,
    mut setup: impl FnMut(&mut S),
    mut op: impl FnMut(&mut S),
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        setup(state);
        let start = Instant::now();
        op(state);
        total += start.elapsed();
    }
    total
}

pub(crate) fn record(key: &str, iters: u64, time: Duration) -> Duration {
    TIMINGS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key.to_owned())
        .or_default()
        .push((iters, time));
    time
}

/// Median time per iteration over a case's measurement samples (its last
/// [`SAMPLES`] calls), in nanoseconds; `None` if the case did not run.
pub(crate) fn median_ns(key: &str) -> Option<f64> {
    let timings = TIMINGS.lock().unwrap_or_else(PoisonError::into_inner);
    let calls = timings.get(key)?;
    let mut per_iter: Vec<f64> = calls[calls.len().saturating_sub(SAMPLES)..]
        .iter()
        .map(|(iters, time)| time.as_secs_f64() * 1e9 / *iters as f64)
        .collect();
    per_iter.sort_by(f64::total_cmp);
    per_iter.get(per_iter.len() / 2).copied()
}
