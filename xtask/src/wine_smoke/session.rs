//! One run in the prefix: a Wine session whose standard error is the log,
//! `sc start` of the placeholder and of the miniport, and what the run says.

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::log::{FIXTURE_PREFIX, MINIPORT_PREFIX, analyze, fixture_lines, summary_of};
use super::prefix::Prefix;
use super::services::{MINIPORT_SERVICE, PLACEHOLDER_SERVICE};

/// What the keep-alive process echoes once the session is up.
const READY: &str = "gpup-wine-smoke-ready";

const SESSION_START_TIMEOUT: Duration = Duration::from_secs(60);
const SC_TIMEOUT: Duration = Duration::from_secs(60);
const CHECKS_TIMEOUT: Duration = Duration::from_secs(60);

/// A running Wine session: a keep-alive process whose standard error (and so
/// that of `services.exe` and `winedevice.exe`, which inherit it) is the log.
/// Dropping it stops the Wine server.
struct Session<'p, 'w> {
    prefix: &'p Prefix<'w>,
    keep_alive: Child,
}

impl<'p, 'w> Session<'p, 'w> {
    fn start(prefix: &'p Prefix<'w>, log: &Path, out: &Path) -> Result<Self, String> {
        let log_file = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let out_file = fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
        let mut command = prefix.command(&prefix.wine.loader, "warn+debugstr");
        command
            .arg("cmd.exe")
            .stdin(Stdio::piped())
            .stdout(out_file)
            .stderr(log_file);
        let keep_alive = command
            .spawn()
            .map_err(|e| format!("cannot start the Wine session: {e}"))?;
        let mut session = Self { prefix, keep_alive };
        if let Some(stdin) = session.keep_alive.stdin.as_mut() {
            write!(stdin, "echo {READY}\r\n").map_err(|e| e.to_string())?;
            stdin.flush().map_err(|e| e.to_string())?;
        }
        let deadline = Instant::now() + SESSION_START_TIMEOUT;
        while !fs::read_to_string(out).unwrap_or_default().contains(READY) {
            if Instant::now() > deadline {
                return Err(format!(
                    "the Wine session did not start within {} s",
                    SESSION_START_TIMEOUT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(session)
    }
}

impl Drop for Session<'_, '_> {
    fn drop(&mut self) {
        self.prefix.stop_server();
        let _ = self.keep_alive.kill();
        let _ = self.keep_alive.wait();
    }
}

/// What one run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    /// The Wine session's standard error.
    pub log: String,
    /// `sc start` of the placeholder: exit status and output, or why it
    /// did not finish.
    pub placeholder: Result<(bool, String), String>,
    /// `sc start` of the miniport, likewise.
    pub sc_start: Result<(bool, String), String>,
    /// The miniport service's state after the run (`sc query`).
    pub state: String,
    /// Whether the fixture's last line appeared before the timeout.
    pub finished: bool,
    /// Seconds from `sc start` to the last line (or the timeout).
    pub seconds: f64,
}

impl Default for Run {
    fn default() -> Self {
        Self {
            log: String::new(),
            placeholder: Err(String::new()),
            sc_start: Err(String::new()),
            state: String::new(),
            finished: false,
            seconds: 0.0,
        }
    }
}

impl Run {
    /// Every reason this run is not a pass (empty: it passed).
    pub fn problems(&self) -> Vec<String> {
        let a = analyze(&self.log);
        let mut problems = Vec::new();
        match &self.placeholder {
            Ok((true, _)) => {}
            Ok((false, output)) => problems.push(format!(
                "sc start {PLACEHOLDER_SERVICE} failed: {}",
                output.trim()
            )),
            Err(why) => problems.push(format!("sc start {PLACEHOLDER_SERVICE}: {why}")),
        }
        match &self.sc_start {
            Err(why) => problems.push(format!("sc start {MINIPORT_SERVICE}: {why}")),
            Ok((false, output)) => problems.push(format!(
                "sc start {MINIPORT_SERVICE} failed (DriverEntry did not succeed): {}",
                output.trim()
            )),
            Ok((true, _)) => {}
        }
        if !self.state.contains("RUNNING") {
            problems.push(format!(
                "{MINIPORT_SERVICE} is not RUNNING after sc start (non-success DriverEntry): {}",
                self.state.trim()
            ));
        }
        problems.extend(a.fatal.iter().map(|l| format!("Wine: {}", l.trim())));
        if !self.finished {
            problems.push(format!(
                "no `N passed, M failed` line from the fake DXGKrnl (within {} s of sc start): it hung, crashed or was never reached",
                CHECKS_TIMEOUT.as_secs()
            ));
        }
        problems.extend(a.failed.iter().map(|l| format!("check {l}")));
        match (a.plan, a.summary) {
            (Some(plan), Some((passed, failed))) => {
                if failed != 0 || passed != plan || a.passed != plan {
                    problems.push(format!(
                        "{passed} passed, {failed} failed of {plan} planned ({} ok lines)",
                        a.passed
                    ));
                }
            }
            (None, _) => problems.push("no plan line from the fake DXGKrnl".into()),
            (_, None) => {}
        }
        problems
    }
}

/// Runs one session of the prefix: `sc start` of the miniport, then collects.
pub fn run_once(prefix: &Prefix<'_>, work: &Path, label: &str) -> Result<Run, String> {
    let log_path = work.join(format!("{label}.log"));
    let out_path = work.join(format!("{label}.keep-alive.out"));
    let mut run = Run::default();
    {
        let _session = Session::start(prefix, &log_path, &out_path)?;
        run.placeholder = prefix
            .wine(&["sc", "start", PLACEHOLDER_SERVICE], "err", SC_TIMEOUT)
            .map(|f| (f.status.success(), format!("{}{}", f.stdout, f.stderr)));
        let started = Instant::now();
        run.sc_start = prefix
            .wine(&["sc", "start", MINIPORT_SERVICE], "err", SC_TIMEOUT)
            .map(|f| (f.status.success(), format!("{}{}", f.stdout, f.stderr)));
        let deadline = started + CHECKS_TIMEOUT;
        loop {
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            let done = fixture_lines(&log).iter().any(|l| summary_of(l).is_some());
            let dead = !analyze(&log).fatal.is_empty();
            let refused = run.sc_start.as_ref().is_ok_and(|(ok, _)| !ok);
            if done || dead || refused || Instant::now() > deadline {
                run.finished = done;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        run.seconds = started.elapsed().as_secs_f64();
        run.state = prefix
            .wine(&["sc", "query", MINIPORT_SERVICE], "-all", SC_TIMEOUT)
            .map(|f| {
                f.stdout
                    .lines()
                    .find(|l| l.contains("STATE"))
                    .unwrap_or("no STATE line")
                    .to_owned()
            })
            .unwrap_or_else(|e| e);
    } // the session ends: the Wine server is stopped
    run.log = fs::read_to_string(&log_path).unwrap_or_default();
    Ok(run)
}

/// Prints the lines of a run that show what happened inside Wine.
pub fn print_lines(run: &Run) {
    for line in run.log.lines() {
        if let Some((_, rest)) = line.split_once(FIXTURE_PREFIX) {
            println!("  | {FIXTURE_PREFIX}{}", rest.trim_end());
        } else if let Some((_, rest)) = line.split_once(MINIPORT_PREFIX) {
            println!("  | {MINIPORT_PREFIX}{}", rest.trim_end());
        } else if line.contains("ExAllocatePool2") {
            println!("  | (Wine) {}", line.trim_end());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as the real run under Wine 8.0 printed them (abridged).
    const PASSING: &str = "\
0044:err:winediag:nodrv_CreateWindow Application tried to create a window, but no driver could be loaded.
0100:warn:debugstr:vDbgPrintExWithPrefix 0000004e:00000008: gpup_miniport: DriverEntry: registering interface version 0x11007
0100:fixme:ntoskrnl:MmGetSystemRoutineAddress L\"ExAllocatePool2\" not found
0100:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: fake-dxgkrnl: plan 3
0100:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: fake-dxgkrnl: ok 1 - IoCreateDevice(\\Device\\DxgKrnl, FILE_DEVICE_VIDEO): STATUS_SUCCESS(0x00000000)
0100:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: fake-dxgkrnl: # loaded
0100:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: fake-dxgkrnl: ok 2 - DxgkDdiAddDevice: STATUS_SUCCESS(0x00000000)
0100:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: fake-dxgkrnl: ok 3 - DxgkDdiRemoveDevice: STATUS_SUCCESS(0x00000000)
0100:warn:debugstr:vDbgPrintExWithPrefix 00000000:00000001: fake-dxgkrnl: 3 passed, 0 failed
";

    fn run_of(log: &str) -> Run {
        Run {
            log: log.to_owned(),
            placeholder: Ok((true, "STATE : 4 RUNNING".into())),
            sc_start: Ok((true, "STATE : 4 RUNNING".into())),
            state: "        STATE              : 4  RUNNING".into(),
            finished: true,
            seconds: 0.2,
        }
    }

    #[test]
    fn a_complete_run_with_every_check_passed_has_no_problem() {
        let analysis = analyze(PASSING);
        assert_eq!(analysis.plan, Some(3));
        assert_eq!(analysis.summary, Some((3, 0)));
        assert_eq!(analysis.passed, 3);
        assert!(run_of(PASSING).problems().is_empty());
    }

    #[test]
    fn a_failed_check_fails_the_run_and_is_named() {
        let log = PASSING
            .replace("fake-dxgkrnl: ok 3", "fake-dxgkrnl: FAIL 3")
            .replace("3 passed, 0 failed", "2 passed, 1 failed");
        let problems = run_of(&log).problems();
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("check FAIL 3 - DxgkDdiRemoveDevice")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p == "2 passed, 1 failed of 3 planned (2 ok lines)"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_summary_short_of_the_plan_fails_even_without_a_failed_line() {
        let log = PASSING.replace("plan 3", "plan 4");
        assert_eq!(
            run_of(&log).problems(),
            ["3 passed, 0 failed of 4 planned (3 ok lines)"]
        );
    }

    #[test]
    fn crashes_unimplemented_calls_and_failed_loads_fail_the_run() {
        for line in [
            "wine: Unhandled page fault on read access to 0000000000000000 at address 0000000180001234 (thread 0100), starting debugger...",
            "wine: Call from 00006FFFFFC3A1D0 to unimplemented function ntoskrnl.exe.ExAllocatePool2, aborting",
            "0100:err:ntoskrnl:ZwLoadDriver failed to create driver L\"\\\\Registry\\\\Machine\\\\System\\\\CurrentControlSet\\\\Services\\\\gpup_miniport\": c0000142",
            "0100:err:ntoskrnl:KeBugCheckEx 47505550 12 5 180004000 20",
        ] {
            let log = format!("{PASSING}{line}\n");
            let problems = run_of(&log).problems();
            assert_eq!(problems, [format!("Wine: {line}")], "{line}");
        }
    }

    #[test]
    fn no_summary_a_stopped_service_or_a_failed_sc_start_fail_the_run() {
        let log: String = PASSING
            .lines()
            .filter(|l| !l.contains("passed,"))
            .map(|l| format!("{l}\n"))
            .collect();
        let mut run = run_of(&log);
        run.finished = false;
        assert!(
            run.problems()[0].starts_with("no `N passed, M failed` line"),
            "{:?}",
            run.problems()
        );

        let mut run = run_of(PASSING);
        run.state = "        STATE              : 1  STOPPED".into();
        run.sc_start = Ok((false, "err:sc:wmain failed to start service 1114".into()));
        let problems = run.problems();
        assert!(
            problems[0].contains("DriverEntry did not succeed"),
            "{problems:?}"
        );
        assert!(problems[1].contains("is not RUNNING"), "{problems:?}");

        let mut run = run_of(PASSING);
        run.sc_start = Err("wine64 sc start gpup_miniport timed out after 60 s (killed)".into());
        assert!(run.problems()[0].contains("timed out"));
    }
}
