//! Two-process live migration over loopback TCP: `gpup-sim` processes as
//! target and source, a clean run with its proofs, and one test per abort
//! point, each caused from outside the process that must survive it (a
//! target that closes its socket, is killed, refuses a blob, stalls, or
//! gets Ctrl-C). After each abort the source must report its VF running and
//! unpaused, and its retry to a fresh target must prove byte-identical.
//! Every child is killed on drop and every wait has a deadline.
//!
//! The children are this test binary re-executed to run [`child`], which
//! calls the program's `cli` with the arguments in `GPUP_SIM_CHILD` and exits
//! with its code: an integration test spawning the `gpup-sim` binary would
//! make Cargo build the driver library twice (unwinding for the tests,
//! `panic = "abort"` for the binary) under the same unhashed cdylib name
//! (cargo#6313), which breaks the build.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Separates the child's arguments in `GPUP_SIM_CHILD`.
const SEP: char = '\u{1f}';

/// Not a test: the child process's body (a no-op unless `GPUP_SIM_CHILD` is set).
#[test]
fn child() {
    let Ok(args) = std::env::var("GPUP_SIM_CHILD") else {
        return;
    };
    let args = std::iter::once("gpup-sim".to_owned()).chain(args.split(SEP).map(str::to_owned));
    let code = crate::cli(args, &mut std::io::stdout(), &mut std::io::stderr(), false);
    let _ = std::io::Write::flush(&mut std::io::stdout());
    std::process::exit(code.into());
}
/// Every process's deadline.
const DEADLINE: Duration = Duration::from_secs(120);

/// A child that is killed when dropped, with its stdout lines streamed.
struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn spawn(args: &[&str]) -> Self {
        let exe = std::env::current_exe().expect("the test binary");
        let mut child = Command::new(exe)
            .args([
                "--exact",
                "wire::tests::child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("GPUP_SIM_CHILD", args.join(&SEP.to_string()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gpup-sim");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a stdout line containing `text`; returns it.
    fn wait_line(&mut self, text: &str) -> String {
        let until = Instant::now() + DEADLINE;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!("no line containing {text:?}; saw {:#?}", self.seen),
            }
        }
    }

    /// Waits for the exit (killing it at the deadline); returns the code and all stdout and stderr.
    fn finish(mut self) -> (i32, String, String) {
        let until = Instant::now() + DEADLINE;
        let code = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < until,
                "gpup-sim did not exit in {DEADLINE:?}; saw {:#?}",
                self.seen
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        let mut err = String::new();
        let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
        (code, self.seen.join("\n"), err)
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }
}

const VRAM: &str = "32MiB";

/// A target with `extra` options; returns it and its address.
fn target(extra: &[&str]) -> (Proc, String) {
    let mut args = vec![
        "target",
        "--listen",
        "127.0.0.1:0",
        "--vram",
        VRAM,
        "--timeout",
        "20s",
        "--accept-timeout",
        "60s",
    ];
    args.extend_from_slice(extra);
    let mut p = Proc::spawn(&args);
    let line = p.wait_line("listening on");
    let addr = line.rsplit(' ').next().unwrap().to_owned();
    (p, addr)
}

/// A source migrating to `to`, then to each of `retry`.
fn source(to: &str, retry: &[&str], timeout: &str) -> Proc {
    let mut args = vec![
        "migrate",
        "--to",
        to,
        "--vram",
        VRAM,
        "--vfs",
        "2",
        "--working-set",
        "4MiB",
        "--dirty-rate",
        "32MiB/s",
        "--downtime",
        "1ms",
        "--max-rounds",
        "4",
        "--link-cap",
        "2Gbit",
        "--timeout",
        timeout,
    ];
    for r in retry {
        args.extend_from_slice(&["--retry-to", r]);
    }
    Proc::spawn(&args)
}

/// The source's report of a completed migration: both VFs proved.
fn assert_proved(out: &str) {
    assert!(out.contains("migration complete over the wire"), "{out}");
    for vf in 0..2 {
        assert!(
            out.contains(&format!("VF {vf}: proof passed")) && out.contains("VF state identical"),
            "VF {vf} not proved:\n{out}"
        );
    }
    assert!(
        out.contains("blackout") && out.contains("bytes sent"),
        "{out}"
    );
}

/// An abort on attempt 1 that the source survived, then a proved retry.
fn assert_survived_and_retried(out: &str, abort: &str) {
    assert!(
        out.contains(&format!("attempt 1: aborted: {abort}")),
        "abort {abort:?} not reported:\n{out}"
    );
    assert!(
        out.contains(
            "source VF 0 after the abort: running, unpaused; EndLiveMigration STATUS_SUCCESS"
        ),
        "the source VF did not survive:\n{out}"
    );
    assert!(out.contains("attempt 2: migrating to"), "{out}");
    assert_proved(out);
}

#[test]
fn a_loopback_two_process_migration_proves_both_vfs_identical() {
    let (t, addr) = target(&[]);
    let s = source(&addr, &[], "20s");
    let (code, out, err) = s.finish();
    assert_eq!(code, 0, "{out}\n{err}");
    assert_proved(&out);
    assert!(
        out.contains("round 1:") && out.contains("Gbit/s measured"),
        "no measured pre-copy round:\n{out}"
    );
    let (tcode, tout, _) = t.finish();
    assert_eq!(tcode, 0, "{tout}");
    assert!(tout.contains("target: VF 1 arrived and runs"), "{tout}");
}

/// Attempt 1 to a target with `fault`, attempt 2 to a fresh one.
fn abort_then_retry(fault: &str, abort: &str, step: &str, target_code: i32) {
    let (bad, bad_addr) = target(&["--fault", fault]);
    let (good, good_addr) = target(&[]);
    let s = source(&bad_addr, &[&good_addr], "20s");
    let (code, out, err) = s.finish();
    assert_eq!(code, 0, "{out}\n{err}");
    assert_survived_and_retried(&out, abort);
    assert!(out.contains(step), "not aborted at {step:?}:\n{out}");
    let (bcode, bout, _) = bad.finish();
    assert_eq!(bcode, target_code, "{bout}");
    assert!(
        bout.contains("target: VF 0 torn down (Ok(()))"),
        "the target did not tear down:\n{bout}"
    );
    assert_eq!(good.finish().0, 0);
}

#[test]
fn a_connection_dropped_in_pre_copy_loses_nothing() {
    abort_then_retry(
        "drop-in-precopy",
        "connection lost",
        "aborted in the pre-copy",
        20,
    );
}

#[test]
fn a_connection_dropped_in_the_blackout_loses_nothing() {
    abort_then_retry(
        "drop-in-blackout",
        "connection lost",
        "aborted in the blackout",
        20,
    );
}

#[test]
fn a_connection_dropped_after_the_mutable_restore_loses_nothing() {
    abort_then_retry(
        "drop-after-restore",
        "connection lost",
        "aborted in the proof (after the mutable restore)",
        20,
    );
}

#[test]
fn a_target_that_refuses_the_mutable_blob_loses_nothing() {
    abort_then_retry(
        "corrupt-mutable",
        "the target refused the mutable data (0xc0000024)",
        "aborted in the blackout",
        26,
    );
}

#[test]
fn a_target_killed_in_pre_copy_loses_nothing() {
    let (mut bad, bad_addr) = target(&["--fault", "stall"]);
    let (good, good_addr) = target(&[]);
    let s = source(&bad_addr, &[&good_addr], "60s");
    bad.wait_line("stalling");
    bad.signal("-KILL");
    let (code, out, err) = s.finish();
    assert_eq!(code, 0, "{out}\n{err}");
    assert_survived_and_retried(&out, "connection lost");
    assert_eq!(good.finish().0, 0);
}

#[test]
fn a_stalled_target_times_out_and_loses_nothing() {
    let (bad, bad_addr) = target(&["--fault", "stall"]);
    let (good, good_addr) = target(&[]);
    let s = source(&bad_addr, &[&good_addr], "2s");
    let (code, out, err) = s.finish();
    assert_eq!(code, 0, "{out}\n{err}");
    assert_survived_and_retried(&out, "timeout");
    drop(bad);
    assert_eq!(good.finish().0, 0);
}

#[test]
fn ctrl_c_on_the_target_aborts_both_sides_cleanly() {
    let (mut bad, bad_addr) = target(&["--fault", "stall"]);
    let (good, good_addr) = target(&[]);
    let s = source(&bad_addr, &[&good_addr], "60s");
    bad.wait_line("stalling");
    bad.signal("-INT");
    let (bcode, bout, _) = bad.finish();
    assert_eq!(bcode, 22, "{bout}");
    assert!(bout.contains("target: VF 0 torn down (Ok(()))"), "{bout}");
    let (code, out, err) = s.finish();
    assert_eq!(code, 0, "{out}\n{err}");
    assert_survived_and_retried(&out, "the peer aborted");
    assert_eq!(good.finish().0, 0);
}

#[test]
fn ctrl_c_on_the_source_ends_the_migration_and_leaves_the_vf_running() {
    let (mut bad, bad_addr) = target(&["--fault", "stall"]);
    let s = source(&bad_addr, &[], "60s");
    bad.wait_line("stalling");
    std::thread::sleep(Duration::from_millis(300));
    s.signal("-INT");
    let (code, out, err) = s.finish();
    assert_eq!(code, 14, "{out}\n{err}");
    assert!(out.contains("attempt 1: aborted: interrupted"), "{out}");
    assert!(
        out.contains("source VF 0 after the abort: running, unpaused"),
        "{out}"
    );
}

#[test]
fn a_handshake_mismatch_is_refused_before_anything_is_paused() {
    let (bad, bad_addr) = target(&["--page-size", "8KiB"]);
    let (good, good_addr) = target(&[]);
    let s = source(&bad_addr, &[&good_addr], "20s");
    let (code, out, err) = s.finish();
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("attempt 1: aborted: handshake refused: page size 4096"),
        "{out}"
    );
    assert!(
        !out.contains("after the abort"),
        "something was paused before the handshake:\n{out}"
    );
    assert_proved(&out);
    assert_eq!(bad.finish().0, 24);
    assert_eq!(good.finish().0, 0);
}

#[test]
fn a_non_loopback_address_is_refused() {
    let (code, _, err) = Proc::spawn(&["target", "--listen", "0.0.0.0:0"]).finish();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a loopback address"), "{err}");
}

#[test]
fn a_proof_mismatch_across_the_wire_names_the_pages_and_the_vf_keeps_running() {
    let (t, addr) = target(&[]);
    let mut args = vec![
        "migrate",
        "--to",
        &addr,
        "--vram",
        VRAM,
        "--vfs",
        "2",
        "--working-set",
        "4MiB",
        "--dirty-rate",
        "32MiB/s",
        "--downtime",
        "1ms",
        "--max-rounds",
        "4",
        "--link-cap",
        "2Gbit",
        "--timeout",
        "20s",
    ];
    args.extend_from_slice(&["--drop-one-mark-in", "7"]);
    let (code, out, err) = Proc::spawn(&args).finish();
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("attempt 1: aborted: proof failed: VRAM pages "),
        "{out}"
    );
    assert!(out.contains("differ (BLAKE3 of the chunk)"), "{out}");
    assert!(
        out.contains("source VF 0 after the abort: running, unpaused"),
        "{out}"
    );
    assert_eq!(t.finish().0, 25);
}
