//! The exit codes of every `gpup-sim` command: one table, printed by
//! `--help`, documented in `docs/simulator.md` (a test compares the two) and
//! shared by the verdicts, I/O errors and bad options.

/// Why `gpup-sim` exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every VF migrated within the downtime budget, byte-identical, with
    /// equal VF state.
    Passed,
    /// A check failed (byte-identical proof or VF-state check), or a DDI of
    /// the driver failed during the run.
    CheckFailed,
    /// Bad options: a value that cannot be parsed or means nothing, a
    /// configuration the model or this host cannot run, or a run whose
    /// estimated modelled time exceeds `--max-modelled-time`.
    BadOptions,
    /// An output file (`--json`, `--svg`) cannot be written: checked before
    /// the migration starts, and again when it is written.
    Io,
    /// The checks passed, but a VF did not converge within `--max-rounds` or
    /// its blackout exceeded the `--downtime` budget.
    OverBudget,
}

/// Every exit code: the code, its name and what it means (the order of
/// precedence when several apply is the order of [`Exit`]'s codes below 2:
/// a failed check wins over a missed budget).
pub const TABLE: [(Exit, &str, &str); 5] = [
    (
        Exit::Passed,
        "passed",
        "every VF migrated within the --downtime budget, byte-identical, with equal VF state",
    ),
    (
        Exit::CheckFailed,
        "check failed",
        "the byte-identical proof or the VF-state check failed, or a driver DDI failed",
    ),
    (
        Exit::BadOptions,
        "bad options",
        "an option is malformed or meaningless, this host cannot run the configuration, or the estimated modelled time exceeds --max-modelled-time",
    ),
    (
        Exit::Io,
        "I/O error",
        "a --json or --svg path cannot be written (checked before the migration starts)",
    ),
    (
        Exit::OverBudget,
        "over budget",
        "the checks passed but a VF did not converge or its blackout exceeded --downtime",
    ),
];

impl Exit {
    /// The process exit code.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::Passed => 0,
            Self::CheckFailed => 1,
            Self::BadOptions => 2,
            Self::Io => 3,
            Self::OverBudget => 4,
        }
    }
}

/// The table as `--help` prints it.
#[must_use]
pub fn help() -> String {
    let mut text = String::from("Exit codes:\n");
    for (exit, name, meaning) in TABLE {
        text.push_str(&format!("  {}  {name}: {meaning}\n", exit.code()));
    }
    text
}
