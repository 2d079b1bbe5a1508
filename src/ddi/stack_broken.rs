//! Deliberate stack faults, compiled only with `--cfg gpup_stack_broken`:
//! `cargo xtask package` builds that variant in its own target directory to
//! show that the image's stack check (`xtask/src/stack/`) rejects a
//! two-function recursion and an oversized frame, each reported by itself.
//! The shipped image never has the cfg.

use core::hint::black_box;

/// One half of a mutual recursion (`ping` -> `pong` -> `ping`).
#[inline(never)]
fn ping(n: usize) -> usize {
    if black_box(n) == 0 {
        return 0;
    }
    black_box(pong(black_box(n.saturating_sub(1)))).wrapping_add(1)
}

/// The other half.
#[inline(never)]
fn pong(n: usize) -> usize {
    if black_box(n) == 0 {
        return 1;
    }
    black_box(ping(black_box(n.saturating_sub(1)))).wrapping_add(2)
}

/// A 12 KiB frame: over the 4 KiB frame limit and, with its caller's, the
/// 8 KiB chain limit.
#[inline(never)]
fn big_frame(seed: usize) -> usize {
    let mut buf = [0u8; 12 * 1024];
    black_box(&mut buf);
    buf.get(seed & 0xfff).map_or(0, |b| usize::from(*b))
}

/// Runs both faults; called from `DxgkDdiStopDirtyTracking`.
pub(crate) fn faults(seed: usize) -> usize {
    ping(seed & 3).wrapping_add(big_frame(seed))
}
