//! Proof that the stack check can fail: `cargo xtask package` builds the
//! miniport once more with `--cfg gpup_stack_broken` (in its own target
//! directory, so the shipped image is never that variant), whose
//! `DxgkDdiStopDirtyTracking` calls a two-function recursion (`ping` <->
//! `pong`) and a function with a 12 KiB frame (`src/ddi/stack_broken.rs`).
//! The check must reject it for exactly these faults, each found by itself:
//! the cycle, the frame over 4 KiB and the chain over 8 KiB.

use std::fs;
use std::path::Path;

use crate::kernel_image::{build_kernel_image_with, target_dir_of};

/// The cfg that selects the faults.
pub const CFG: &str = "gpup_stack_broken";

/// One fault and how the report must name it.
struct Expected {
    what: &'static str,
    /// Every one of these must be in one failure line.
    words: &'static [&'static str],
}

const EXPECTED: [Expected; 3] = [
    Expected {
        what: "two-function recursion",
        words: &[
            "recursion: a cycle of 2 function(s)",
            "stack_broken::ping",
            "stack_broken::pong",
        ],
    },
    Expected {
        what: "frame over 4 KiB",
        words: &["frame of ", "> 4096", "stack_broken::big_frame"],
    },
    Expected {
        what: "chain over 8 KiB",
        words: &["chain of ", "> 8192", "DxgkDdiStopDirtyTracking"],
    },
];

/// Builds the broken variant and checks that the stack check rejects it for
/// each expected fault and nothing else; returns the lines to print.
///
/// # Errors
/// If the build fails, or the check misses a fault or fails for another
/// reason.
pub fn demonstrate(root: &Path) -> Result<Vec<String>, String> {
    let dir = target_dir_of(root).join("stack-broken");
    let image = build_kernel_image_with(
        root,
        "gpup-miniport",
        "gpup_miniport",
        Some(&dir),
        &["--cfg", CFG],
    )?;
    let data = fs::read(&image).map_err(|e| format!("{}: {e}", image.display()))?;
    let map_path = image.with_extension("map");
    let map = fs::read_to_string(&map_path).map_err(|e| format!("{}: {e}", map_path.display()))?;
    let report = super::check(&data, &map, &super::LIMITS, super::ALLOWED)?;
    judge(&report.failures)
}

/// Matches `failures` against [`EXPECTED`].
fn judge(failures: &[String]) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    for expected in &EXPECTED {
        let found = failures
            .iter()
            .find(|f| expected.words.iter().all(|w| f.contains(w)))
            .ok_or_else(|| {
                format!(
                    "the stack check missed the {} of the --cfg {CFG} build; it reported: {failures:#?}",
                    expected.what
                )
            })?;
        lines.push(format!("rejected: {} -> {found}", expected.what));
    }
    let other: Vec<&String> = failures
        .iter()
        .filter(|f| {
            !EXPECTED
                .iter()
                .any(|e| e.words.iter().all(|w| f.contains(w)))
        })
        .collect();
    if !other.is_empty() {
        return Err(format!(
            "the --cfg {CFG} build fails the stack check for other reasons too: {other:#?}"
        ));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_fault_must_be_reported_and_nothing_else() {
        let all = [
            "recursion: a cycle of 2 function(s): gpup_miniport::ddi::stack_broken::ping <-> gpup_miniport::ddi::stack_broken::pong".to_owned(),
            "frame of 12328 bytes > 4096: gpup_miniport::ddi::stack_broken::big_frame".to_owned(),
            "chain of 12400 bytes > 8192 from gpup_miniport::ddi::basis::DxgkDdiStopDirtyTracking".to_owned(),
        ];
        assert_eq!(judge(&all).expect("all three found").len(), 3);
        // A self-call is not the two-function cycle; a missing fault fails.
        let mut self_call = all.clone();
        self_call[0] =
            "recursion: a cycle of 1 function(s): gpup_miniport::ddi::stack_broken::ping".into();
        assert!(judge(&self_call).is_err());
        assert!(judge(&all[1..]).is_err());
        // Another failure besides them fails too.
        let mut extra = all.to_vec();
        extra.push("0x10 call rax (…) in f: targets not determined and not allow-listed".into());
        assert!(judge(&extra).is_err());
    }
}
