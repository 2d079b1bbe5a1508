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
    /// Two-process mode, source side: the connection to the target dropped mid-migration; the source VF keeps running, unpaused.
    SourceConnectionLost,
    /// Two-process mode, source side: a step's --timeout fired (connect, send, or waiting for an acknowledgement).
    SourceTimeout,
    /// Two-process mode, source side: the target's Restore refused a saved-state blob (e.g. STATUS_OBJECT_TYPE_MISMATCH).
    SourceTargetRefused,
    /// Two-process mode, source side: protocol or driver version, page size or VF sizes differ; refused before anything was paused.
    SourceHandshakeRefused,
    /// Two-process mode, source side: Ctrl-C on the source.
    SourceInterrupted,
    /// Two-process mode, source side: the target sent a frame with a bad magic, checksum or length, or out of order.
    SourceProtocolError,
    /// Two-process mode, source side: the target reported that it aborted (its own failure or Ctrl-C).
    SourceTargetAborted,
    /// Two-process mode, target side: the source's connection dropped mid-migration; the target tore down what it created.
    TargetConnectionLost,
    /// Two-process mode, target side: a step's timeout fired (--accept-timeout, or waiting for the next frame).
    TargetTimeout,
    /// Two-process mode, target side: Ctrl-C on the target.
    TargetInterrupted,
    /// Two-process mode, target side: the source sent a frame with a bad magic, checksum or length, or out of order.
    TargetProtocolError,
    /// Two-process mode, target side: the source's handshake does not match this target.
    TargetHandshakeRefused,
    /// Two-process mode, target side: the source aborted the migration.
    TargetSourceAborted,
    /// Two-process mode, target side: one of the target's DDIs failed (a refused blob among them).
    TargetDriverFailed,
}

/// Every exit code: the code, its name and what it means (the order of
/// precedence when several apply is the order of [`Exit`]'s codes below 2:
/// a failed check wins over a missed budget).
pub const TABLE: [(Exit, &str, &str); 19] = [
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
    (
        Exit::SourceConnectionLost,
        "source: connection lost",
        "the connection to the target dropped mid-migration; the source VF keeps running, unpaused",
    ),
    (
        Exit::SourceTimeout,
        "source: timeout",
        "a step's --timeout fired (connect, send, or waiting for an acknowledgement)",
    ),
    (
        Exit::SourceTargetRefused,
        "source: target refused",
        "the target's Restore refused a saved-state blob (e.g. STATUS_OBJECT_TYPE_MISMATCH)",
    ),
    (
        Exit::SourceHandshakeRefused,
        "source: handshake refused",
        "protocol or driver version, page size or VF sizes differ; refused before anything was paused",
    ),
    (
        Exit::SourceInterrupted,
        "source: interrupted",
        "Ctrl-C on the source",
    ),
    (
        Exit::SourceProtocolError,
        "source: malformed frame",
        "the target sent a frame with a bad magic, checksum or length, or out of order",
    ),
    (
        Exit::SourceTargetAborted,
        "source: target aborted",
        "the target reported that it aborted (its own failure or Ctrl-C)",
    ),
    (
        Exit::TargetConnectionLost,
        "target: connection lost",
        "the source's connection dropped mid-migration; the target tore down what it created",
    ),
    (
        Exit::TargetTimeout,
        "target: timeout",
        "a step's timeout fired (--accept-timeout, or waiting for the next frame)",
    ),
    (
        Exit::TargetInterrupted,
        "target: interrupted",
        "Ctrl-C on the target",
    ),
    (
        Exit::TargetProtocolError,
        "target: malformed frame",
        "the source sent a frame with a bad magic, checksum or length, or out of order",
    ),
    (
        Exit::TargetHandshakeRefused,
        "target: handshake refused",
        "the source's handshake does not match this target",
    ),
    (
        Exit::TargetSourceAborted,
        "target: source aborted",
        "the source aborted the migration",
    ),
    (
        Exit::TargetDriverFailed,
        "target: driver call failed",
        "one of the target's DDIs failed (a refused blob among them)",
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
            Self::SourceConnectionLost => 10,
            Self::SourceTimeout => 11,
            Self::SourceTargetRefused => 12,
            Self::SourceHandshakeRefused => 13,
            Self::SourceInterrupted => 14,
            Self::SourceProtocolError => 15,
            Self::SourceTargetAborted => 16,
            Self::TargetConnectionLost => 20,
            Self::TargetTimeout => 21,
            Self::TargetInterrupted => 22,
            Self::TargetProtocolError => 23,
            Self::TargetHandshakeRefused => 24,
            Self::TargetSourceAborted => 25,
            Self::TargetDriverFailed => 26,
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
