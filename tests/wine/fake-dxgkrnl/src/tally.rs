//! Counting checks and writing one line per check, in the format the harness
//! (`cargo xtask wine-smoke`) reads:
//!
//! ```text
//! fake-dxgkrnl: plan 24
//! fake-dxgkrnl: ok 1 - what was checked and what was seen
//! fake-dxgkrnl: FAIL 2 - what was checked and what was seen instead
//! fake-dxgkrnl: # a note that is not a check
//! fake-dxgkrnl: 23 passed, 1 failed
//! ```
//!
//! Checks that were planned but never ran (an earlier failure made them
//! impossible) count as failed in the last line.

use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

/// The text every line starts with; the harness collects the lines holding it.
pub const PREFIX: &str = "fake-dxgkrnl:";

/// Where lines go: `DbgPrint` in the Wine run, a buffer in host tests. Each
/// call is one line, without the newline.
pub type Sink = fn(fmt::Arguments<'_>);

/// The running count of checks.
pub struct Tally {
    sink: Sink,
    passed: AtomicU32,
    failed: AtomicU32,
}

impl Tally {
    /// A tally that writes its lines to `sink`.
    #[must_use]
    pub const fn new(sink: Sink) -> Self {
        Self {
            sink,
            passed: AtomicU32::new(0),
            failed: AtomicU32::new(0),
        }
    }

    /// Starts a run of `planned` checks (the harness requires that many passes).
    pub fn plan(&self, planned: u32) {
        self.passed.store(0, Ordering::Relaxed);
        self.failed.store(0, Ordering::Relaxed);
        (self.sink)(format_args!("{PREFIX} plan {planned}"));
    }

    /// Records one check and writes its line; returns `ok`.
    pub fn check(&self, ok: bool, what: fmt::Arguments<'_>) -> bool {
        let counter = if ok { &self.passed } else { &self.failed };
        counter.fetch_add(1, Ordering::Relaxed);
        let number = self.done();
        let mark = if ok { "ok" } else { "FAIL" };
        (self.sink)(format_args!("{PREFIX} {mark} {number} - {what}"));
        ok
    }

    /// Writes a line that is not a check.
    pub fn note(&self, what: fmt::Arguments<'_>) {
        (self.sink)(format_args!("{PREFIX} # {what}"));
    }

    /// Checks run so far.
    #[must_use]
    pub fn done(&self) -> u32 {
        self.passed()
            .saturating_add(self.failed.load(Ordering::Relaxed))
    }

    /// Checks passed so far.
    #[must_use]
    pub fn passed(&self) -> u32 {
        self.passed.load(Ordering::Relaxed)
    }

    /// Writes the last line, counting checks of the plan that never ran as
    /// failed, and returns (passed, failed).
    pub fn finish(&self, planned: u32) -> (u32, u32) {
        let not_run = planned.saturating_sub(self.done());
        if not_run > 0 {
            self.note(format_args!("{not_run} planned checks did not run"));
        }
        let passed = self.passed();
        let failed = self.failed.load(Ordering::Relaxed).saturating_add(not_run);
        (self.sink)(format_args!("{PREFIX} {passed} passed, {failed} failed"));
        (passed, failed)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    thread_local! {
        static LINES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    }

    fn capture(args: fmt::Arguments<'_>) {
        LINES.with(|l| l.borrow_mut().push(args.to_string()));
    }

    #[test]
    fn numbers_checks_and_counts_the_unrun_ones_as_failed() {
        let tally = Tally::new(capture);
        tally.plan(4);
        assert!(tally.check(true, format_args!("first")));
        assert!(!tally.check(false, format_args!("second: {}", 2)));
        tally.note(format_args!("between"));
        assert!(tally.check(true, format_args!("third")));
        assert_eq!(tally.finish(4), (2, 2));
        let lines = LINES.with(|l| l.borrow().clone());
        assert_eq!(
            lines,
            [
                "fake-dxgkrnl: plan 4",
                "fake-dxgkrnl: ok 1 - first",
                "fake-dxgkrnl: FAIL 2 - second: 2",
                "fake-dxgkrnl: # between",
                "fake-dxgkrnl: ok 3 - third",
                "fake-dxgkrnl: # 1 planned checks did not run",
                "fake-dxgkrnl: 2 passed, 2 failed",
            ]
        );
    }
}
