//! Reading a run's log: the fake DXGKrnl's check lines, its notes, and the
//! Wine lines that mean the run went wrong.

use std::fmt::Write as _;

/// Prefix of the fixture's lines (`fake_dxgkrnl::tally::PREFIX`).
pub const FIXTURE_PREFIX: &str = "fake-dxgkrnl: ";
/// Prefix of the miniport's trace lines.
pub const MINIPORT_PREFIX: &str = "gpup_miniport: ";

/// Lines of Wine's output that mean the run went wrong, whatever the checks say.
/// (Wine 8 prints `wine: Unhandled page fault on read access to ...,
/// starting debugger...` and the like from kernelbase, `Unhandled exception`
/// and `page fault on` from winedbg, `wine: Call from ... to unimplemented
/// function ...` from ntdll, `err:ntoskrnl:KeBugCheckEx` for a bug check and
/// `err:ntoskrnl:ZwLoadDriver failed to create driver ...` for a
/// non-success `DriverEntry`.)
const FATAL_PATTERNS: &[&str] = &[
    "wine: Unhandled",
    "Unhandled exception",
    "page fault on",
    "unimplemented function",
    "No implementation for",
    "KeBugCheck",
    "starting debugger",
    "failed to create driver",
];

/// Wine output that is expected on a headless machine and says nothing about
/// the drivers (left out of the lines printed on failure).
const NOISE: &[&str] = &[
    "winediag:nodrv_CreateWindow",
    "systray:initialize_systray",
    "ole:start_rpcss",
    "hid:handle_IRP_MN_QUERY_ID",
];

/// The address in the fixture's note line `# {what} 0x...`.
pub fn noted_address(log: &str, what: &str) -> Option<u64> {
    fixture_lines(log).iter().find_map(|line| {
        let rest = line.strip_prefix("# ")?.strip_prefix(what)?.trim_start();
        let hex = rest.strip_prefix("0x")?;
        let end = hex
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(hex.len());
        u64::from_str_radix(&hex[..end], 16).ok()
    })
}

/// Whether both images ran away from their link-time addresses (Windows
/// always relocates drivers; so does Wine): the fake's runtime image base,
/// and the miniport's `DxgkDdiAddDevice`, against their images' ranges.
///
/// # Errors
/// What was not relocated, or not reported.
pub fn check_relocated(
    log: &str,
    miniport: (u64, u64),
    fake: (u64, u64),
) -> Result<String, String> {
    let add_device = noted_address(log, "DxgkDdiAddDevice at")
        .ok_or("the fake DXGKrnl did not report where DxgkDdiAddDevice is")?;
    let fake_base =
        noted_address(log, "image base").ok_or("the fake DXGKrnl did not report its image base")?;
    let linked_miniport = miniport.0..miniport.0.saturating_add(miniport.1);
    if linked_miniport.contains(&add_device) {
        return Err(format!(
            "gpup_miniport.sys ran at its link-time addresses (DxgkDdiAddDevice at {add_device:#x}, linked for {:#x}..{:#x}): not relocated",
            linked_miniport.start, linked_miniport.end
        ));
    }
    if fake_base == fake.0 {
        return Err(format!(
            "the fake DXGKrnl ran at its link-time base {fake_base:#x}: not relocated"
        ));
    }
    let held = noted_address(log, "placeholder image base")
        .map_or_else(|| "?".to_owned(), |a| format!("{a:#x}"));
    Ok(format!(
        "relocated: gpup_miniport.sys linked for {:#x}, its DxgkDdiAddDevice ran at {add_device:#x}; the fake DXGKrnl linked for {:#x}, loaded at {fake_base:#x} (the placeholder held {held})",
        miniport.0, fake.0
    ))
}

/// The fixture's last line, `N passed, M failed`.
pub fn summary_of(line: &str) -> Option<(u32, u32)> {
    let (passed, failed) = line.strip_suffix(" failed")?.split_once(" passed, ")?;
    Some((passed.parse().ok()?, failed.parse().ok()?))
}

/// The fixture's lines (without the prefix), in order.
pub fn fixture_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter_map(|l| {
            l.split_once(FIXTURE_PREFIX)
                .map(|(_, rest)| rest.trim_end())
        })
        .collect()
}

/// What the fixture's lines and Wine's output say about a run.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Analysis {
    /// The `plan N` line.
    pub plan: Option<u32>,
    /// The last line's counts.
    pub summary: Option<(u32, u32)>,
    /// `ok` lines.
    pub passed: u32,
    /// `FAIL` lines, whole.
    pub failed: Vec<String>,
    /// Wine lines matching [`FATAL_PATTERNS`].
    pub fatal: Vec<String>,
}

/// What `log` says: the fixture's plan, counts and failed lines, and the
/// fatal Wine lines.
pub fn analyze(log: &str) -> Analysis {
    let mut analysis = Analysis::default();
    for line in fixture_lines(log) {
        if let Some(plan) = line.strip_prefix("plan ") {
            analysis.plan = plan.trim().parse().ok();
        } else if line.starts_with("ok ") {
            analysis.passed += 1;
        } else if line.starts_with("FAIL ") {
            analysis.failed.push(line.to_owned());
        } else if let Some(summary) = summary_of(line) {
            analysis.summary = Some(summary);
        }
    }
    analysis.fatal = log
        .lines()
        .filter(|l| FATAL_PATTERNS.iter().any(|p| l.contains(p)))
        .map(str::to_owned)
        .collect();
    analysis
}

/// The Wine lines worth reading after a failure: all but the headless noise,
/// the last 80.
pub fn relevant_wine_lines(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| !l.trim().is_empty() && !NOISE.iter().any(|n| l.contains(n)))
        .collect();
    let skip = lines.len().saturating_sub(80);
    lines[skip..].iter().fold(String::new(), |mut out, l| {
        let _ = writeln!(out, "    {l}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relocation_is_read_from_the_fixture_notes_against_the_linked_ranges() {
        let log = "\
x fake-dxgkrnl: # image base 0x31f9c0000; waiting for IOCTL_VIDEO_DDI_FUNC_REGISTER
x fake-dxgkrnl: # DxgkDdiAddDevice at 0x32a5d1230
";
        assert_eq!(noted_address(log, "image base"), Some(0x3_1f9c_0000));
        assert_eq!(
            noted_address(log, "DxgkDdiAddDevice at"),
            Some(0x3_2a5d_1230)
        );
        let linked = (0x1_8000_0000, 0x2_0000);
        assert!(check_relocated(log, linked, linked).is_ok());
        let at_home = log.replace("0x32a5d1230", "0x180001230");
        assert!(
            check_relocated(&at_home, linked, linked)
                .unwrap_err()
                .contains("not relocated")
        );
        let fake_at_home = log.replace("0x31f9c0000", "0x180000000");
        assert!(
            check_relocated(&fake_at_home, linked, linked)
                .unwrap_err()
                .contains("not relocated")
        );
        assert!(check_relocated("", linked, linked).is_err());
    }
}
