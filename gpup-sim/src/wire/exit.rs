//! The exit codes of the two-process mode (`migrate --to`, `target`), to be
//! merged into the simulator's one exit-code table. 0, 1 and 2 keep their
//! meaning (passed, proof or driver failed, bad options); 10..=19 say why
//! the **source** aborted, 20..=29 why the **target** did.

/// Why a wire run ended, as its process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum WireExit {
    /// Every VF migrated and proved identical.
    Passed = 0,
    /// A proof failed (VRAM pages or VF-state fields differ), or a DDI failed
    /// where no abort could help; the source VF kept running.
    Failed = 1,
    /// Bad options (as for every command).
    BadOptions = 2,
    /// Source: the connection dropped (reset, closed, EOF) mid-migration.
    SourceConnectionLost = 10,
    /// Source: a step's timeout fired (connect, send, or waiting for an ack).
    SourceTimeout = 11,
    /// Source: the target refused a saved-state blob (its Restore returned
    /// a failure such as `STATUS_OBJECT_TYPE_MISMATCH`).
    SourceTargetRefused = 12,
    /// Source: the handshake was refused (protocol or driver version, page
    /// size, VF sizes) before anything was paused.
    SourceHandshakeRefused = 13,
    /// Source: Ctrl-C (SIGINT) on the source.
    SourceInterrupted = 14,
    /// Source: the target sent a malformed frame (bad magic, checksum,
    /// length, or a frame out of order).
    SourceProtocolError = 15,
    /// Source: the target reported that it aborted (its own failure or Ctrl-C).
    SourceTargetAborted = 16,
    /// Target: the source's connection dropped mid-migration.
    TargetConnectionLost = 20,
    /// Target: a step's timeout fired (accept, or waiting for the next frame).
    TargetTimeout = 21,
    /// Target: Ctrl-C (SIGINT) on the target.
    TargetInterrupted = 22,
    /// Target: the source sent a malformed frame, or one out of order.
    TargetProtocolError = 23,
    /// Target: the handshake did not match this target; it refused.
    TargetHandshakeRefused = 24,
    /// Target: the source aborted the migration (Abort frame).
    TargetSourceAborted = 25,
    /// Target: one of its DDIs failed (a refused blob among them).
    TargetDriverFailed = 26,
}

impl WireExit {
    /// The process exit code.
    #[must_use]
    pub fn code(self) -> u8 {
        self as u8
    }
}

#[cfg(test)]
mod tests {
    use super::WireExit::*;

    #[test]
    fn the_codes_are_distinct() {
        let all = [
            Passed,
            Failed,
            BadOptions,
            SourceConnectionLost,
            SourceTimeout,
            SourceTargetRefused,
            SourceHandshakeRefused,
            SourceInterrupted,
            SourceProtocolError,
            SourceTargetAborted,
            TargetConnectionLost,
            TargetTimeout,
            TargetInterrupted,
            TargetProtocolError,
            TargetHandshakeRefused,
            TargetSourceAborted,
            TargetDriverFailed,
        ];
        let mut codes: Vec<u8> = all.iter().map(|e| e.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
