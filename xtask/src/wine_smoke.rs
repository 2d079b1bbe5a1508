//! `cargo xtask wine-smoke`: the real `gpup_miniport.sys` under Wine's NT
//! kernel emulation, with a fake DXGKrnl (`tests/wine/fake-dxgkrnl`) that
//! plays Dxgkrnl's part of the hand-off and drives the DDIs.
//!
//! 1. Installs Wine if it is missing (`apt-get install -y
//!    --no-install-recommends wine wine64`).
//! 2. Builds both kernel images with the WDK-free recipe (the miniport exactly
//!    as `cargo xtask package` builds it), runs the kernel-image checks on
//!    both, and compares their imports with the exports of Wine's
//!    `ntoskrnl.exe`, failing with the list of any that are missing.
//! 3. Makes a throwaway Wine prefix, copies the drivers into
//!    `system32\drivers` and registers their services (kernel drivers,
//!    demand start, one `Group`, so Wine loads them into one `winedevice.exe`
//!    process, where they see each other's devices) before the session starts:
//!    the miniport, the fake as `DXGKrnl`, and the fake's image once more as a
//!    placeholder that holds the preferred base, so the miniport is relocated.
//! 4. Starts a session whose standard error (where `DbgPrint` lines appear
//!    with `WINEDEBUG=warn+debugstr`) is captured, starts the placeholder,
//!    runs `sc start gpup_miniport`, whose `DxgkInitialize` loads the fake
//!    DXGKrnl with `ZwLoadDriver`, and collects the fixture's check lines;
//!    every step has a timeout (a hang is a failure) and the Wine server is
//!    always stopped.
//! 5. Fails on any failed check, a missing last line, an unhandled page
//!    fault or exception, a call to an unimplemented function, a bug check, a
//!    miniport that did not reach RUNNING (non-success `DriverEntry`), a
//!    miniport that ran at its link-time addresses, or a timeout, printing the
//!    Wine lines that matter.
//! 6. Then shows that the test can fail: a deliberately broken miniport
//!    (built with `--cfg gpup_wine_smoke_broken` in its own target directory:
//!    its Destroy answers success for a rejected handle) must be rejected in
//!    the same prefix, by exactly the two Destroy checks that catch that bug.
//!    `--skip-broken` leaves this out; `--keep` keeps the prefix.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use object::read::pe::PeFile64;

use crate::package::{self, TARGET};
use crate::pe::{ImagePolicy, check_image};
use crate::tool;

/// What the fake DXGKrnl's image must import (all from `ntoskrnl.exe`).
pub const FAKE_DXGKRNL: ImagePolicy = ImagePolicy {
    entry_symbol: "DriverEntry",
    import_dll: "ntoskrnl.exe",
    required_imports: &[
        "DbgPrint",
        "IoCreateDevice",
        "IoDeleteDevice",
        "IofCompleteRequest",
        "MmGetSystemRoutineAddress",
        "ObfReferenceObject",
        "RtlEqualUnicodeString",
        "ZwProtectVirtualMemory",
    ],
    optional_imports: &["KeBugCheckEx", "memcmp", "memcpy", "memmove", "memset"],
};

/// Text that only the broken variant's image holds (its trace line), which
/// `cargo xtask package` refuses to find in the image it ships.
pub const BROKEN_MARKER: &str = "gpup_wine_smoke_broken";

/// Whether `image` is the broken variant (holds [`BROKEN_MARKER`]).
pub fn is_broken_variant(image: &[u8]) -> bool {
    let marker = BROKEN_MARKER.as_bytes();
    image.windows(marker.len()).any(|w| w == marker)
}

/// The miniport's service, and the DXGKrnl service its `DxgkInitialize` loads.
const MINIPORT_SERVICE: &str = "gpup_miniport";
const DXGKRNL_SERVICE: &str = "DXGKrnl";
/// A second service of the fake's image, started first: Wine loads the
/// first driver of a process at its preferred base (that of both images) and
/// relocates the later ones, as Windows relocates every driver. This one
/// holds the base (`fake_dxgkrnl::role`), so the miniport runs relocated.
const PLACEHOLDER_SERVICE: &str = "GpupBasePlaceholder";
/// The service group all three drivers share (one `winedevice.exe` per group).
const SERVICE_GROUP: &str = "GpupWineSmoke";

/// Prefix of the fixture's lines (`fake_dxgkrnl::tally::PREFIX`).
const FIXTURE_PREFIX: &str = "fake-dxgkrnl: ";
/// Prefix of the miniport's trace lines.
const MINIPORT_PREFIX: &str = "gpup_miniport: ";
/// What the keep-alive process echoes once the session is up.
const READY: &str = "gpup-wine-smoke-ready";

const APT_TIMEOUT: Duration = Duration::from_secs(600);
const PREFIX_TIMEOUT: Duration = Duration::from_secs(180);
const SESSION_START_TIMEOUT: Duration = Duration::from_secs(60);
const SC_TIMEOUT: Duration = Duration::from_secs(60);
const CHECKS_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

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

/// An installed Wine.
struct Wine {
    /// The 64-bit loader (`wine64`).
    loader: PathBuf,
    /// `wineserver`.
    server: PathBuf,
    /// Wine's PE `ntoskrnl.exe`.
    ntoskrnl: PathBuf,
}

/// The first of `candidates` that exists.
fn first_file(candidates: &[PathBuf]) -> Option<PathBuf> {
    candidates.iter().find(|p| p.is_file()).cloned()
}

/// `name` on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

impl Wine {
    /// Wine as Debian installs it (the loader directly: the `wine` wrapper
    /// warns about a missing 32-bit Wine), or from `PATH`.
    fn find() -> Option<Self> {
        let loader =
            first_file(&[PathBuf::from("/usr/lib/wine/wine64")]).or_else(|| on_path("wine64"))?;
        let server = first_file(&[PathBuf::from("/usr/lib/wine/wineserver")])
            .or_else(|| on_path("wineserver"))?;
        let lib_dirs = [
            "/usr/lib/x86_64-linux-gnu/wine",
            "/usr/lib/wine",
            "/usr/lib64/wine",
            "/usr/local/lib/wine",
        ];
        let ntoskrnl = first_file(
            &lib_dirs
                .iter()
                .map(|d| Path::new(d).join("x86_64-windows").join("ntoskrnl.exe"))
                .collect::<Vec<_>>(),
        )?;
        Some(Self {
            loader,
            server,
            ntoskrnl,
        })
    }

    /// Wine, installed from Debian's packages first if it is missing.
    fn ensure() -> Result<Self, String> {
        if let Some(wine) = Self::find() {
            return Ok(wine);
        }
        println!(
            "==> Wine is not installed: apt-get install -y --no-install-recommends wine wine64"
        );
        let started = Instant::now();
        let install = || {
            let mut apt = Command::new("apt-get");
            apt.env("DEBIAN_FRONTEND", "noninteractive").args([
                "install",
                "-y",
                "-qq",
                "--no-install-recommends",
                "wine",
                "wine64",
            ]);
            run_with_timeout(&mut apt, APT_TIMEOUT, "apt-get install wine wine64")
        };
        let first = install()?;
        if !first.status.success() {
            // The package lists may be missing or stale on a fresh machine.
            let mut update = Command::new("apt-get");
            update.args(["update", "-qq"]);
            run_with_timeout(&mut update, APT_TIMEOUT, "apt-get update")?;
            let second = install()?;
            if !second.status.success() {
                return Err(format!(
                    "apt-get install wine wine64 failed ({}):\n{}{}",
                    second.status, second.stdout, second.stderr
                ));
            }
        }
        println!("  installed in {:.1} s", started.elapsed().as_secs_f64());
        Self::find().ok_or_else(|| {
            "Wine was installed but its wine64, wineserver or x86_64-windows/ntoskrnl.exe cannot be found"
                .to_owned()
        })
    }

    /// `wine64 --version`.
    fn version(&self) -> String {
        Command::new(&self.loader)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|e| format!("unknown ({e})"))
    }
}

/// What a finished process printed.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `command` to completion, killing it after `timeout`.
///
/// # Errors
/// If it cannot start, or it times out (its output so far is included).
fn run_with_timeout(
    command: &mut Command,
    timeout: Duration,
    what: &str,
) -> Result<Finished, String> {
    let dir = std::env::temp_dir().join(format!("gpup-wine-smoke-{}", std::process::id()));
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out_path = dir.join("stdout");
    let err_path = dir.join("stderr");
    let out = fs::File::create(&out_path).map_err(|e| e.to_string())?;
    let err = fs::File::create(&err_path).map_err(|e| e.to_string())?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    let status = wait_with_timeout(&mut child, timeout);
    let stdout = fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = fs::read_to_string(&err_path).unwrap_or_default();
    let _ = fs::remove_dir_all(&dir);
    match status {
        Some(status) => Ok(Finished {
            status,
            stdout,
            stderr,
        }),
        None => Err(format!(
            "{what} timed out after {} s (killed):\n{stdout}{stderr}",
            timeout.as_secs()
        )),
    }
}

/// Waits for `child` up to `timeout`; kills it and returns `None` on timeout.
fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// The names `ntoskrnl` exports (forwarders included).
fn exports_of(ntoskrnl: &Path) -> Result<BTreeSet<String>, String> {
    let data = fs::read(ntoskrnl).map_err(|e| format!("{}: {e}", ntoskrnl.display()))?;
    let file = PeFile64::parse(&*data).map_err(|e| format!("{}: {e}", ntoskrnl.display()))?;
    let table = file
        .export_table()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{} has no export table", ntoskrnl.display()))?;
    let exports = table.exports().map_err(|e| e.to_string())?;
    Ok(exports
        .into_iter()
        .filter_map(|e| e.name.map(|n| String::from_utf8_lossy(n).into_owned()))
        .collect())
}

/// The imports (`dll!name`) of `imports` that `exports` lacks.
fn missing_imports(imports: &[String], exports: &BTreeSet<String>) -> Vec<String> {
    imports
        .iter()
        .filter(|import| {
            let name = import.rsplit('!').next().unwrap_or(import);
            !exports.contains(name)
        })
        .cloned()
        .collect()
}

/// Checks one image, and compares its imports with Wine's exports.
fn checked_image(
    label: &str,
    image: &Path,
    policy: &ImagePolicy,
    exports: &BTreeSet<String>,
) -> Result<(), String> {
    let data = fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
    let report = check_image(&data, policy);
    if !report.passed() {
        return Err(format!(
            "{} fails the kernel-image checks:\n{}",
            image.display(),
            report.render(&image.display().to_string())
        ));
    }
    let missing = missing_imports(&report.imports, exports);
    if !missing.is_empty() {
        return Err(format!(
            "{} imports {} function(s) that Wine's ntoskrnl.exe does not export: {}",
            image.display(),
            missing.len(),
            missing.join(", ")
        ));
    }
    println!(
        "  {label}: {} bytes, kernel-image checks pass; all {} imports exported by Wine's ntoskrnl.exe",
        report.size,
        report.imports.len()
    );
    Ok(())
}

/// Where an image was linked to run: `ImageBase` and `SizeOfImage`.
fn linked_range(image: &Path) -> Result<(u64, u64), String> {
    use object::read::pe::{ImageNtHeaders, ImageOptionalHeader};
    let data = fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
    let file = PeFile64::parse(&*data).map_err(|e| format!("{}: {e}", image.display()))?;
    let optional = file.nt_headers().optional_header();
    Ok((optional.image_base(), u64::from(optional.size_of_image())))
}

/// The address in the fixture's note line `# {what} 0x...`.
fn noted_address(log: &str, what: &str) -> Option<u64> {
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
fn check_relocated(log: &str, miniport: (u64, u64), fake: (u64, u64)) -> Result<String, String> {
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

/// The Windows registry file registering both services.
fn services_reg() -> String {
    let mut reg = String::from("REGEDIT4\r\n");
    for (service, file) in [
        (MINIPORT_SERVICE, "gpup_miniport.sys"),
        (DXGKRNL_SERVICE, "dxgkrnl.sys"),
        (PLACEHOLDER_SERVICE, "gpup_placeholder.sys"),
    ] {
        let _ = write!(
            reg,
            "\r\n[HKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Services\\{service}]\r\n\
             \"Type\"=dword:00000001\r\n\
             \"Start\"=dword:00000003\r\n\
             \"ErrorControl\"=dword:00000001\r\n\
             \"Group\"=\"{SERVICE_GROUP}\"\r\n\
             \"ImagePath\"=\"\\\\SystemRoot\\\\System32\\\\drivers\\\\{file}\"\r\n"
        );
    }
    reg
}

/// A throwaway Wine prefix with both services registered.
struct Prefix<'w> {
    wine: &'w Wine,
    dir: PathBuf,
    keep: bool,
}

impl<'w> Prefix<'w> {
    /// A command of this prefix, headless, with `debug` as `WINEDEBUG`.
    fn command(&self, program: &Path, debug: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env("WINEPREFIX", &self.dir)
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .env("WINEDEBUG", debug)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        command
    }

    /// `wine64 args...` with a timeout.
    fn wine(&self, args: &[&str], debug: &str, timeout: Duration) -> Result<Finished, String> {
        let mut command = self.command(&self.wine.loader, debug);
        command.args(args);
        run_with_timeout(&mut command, timeout, &format!("wine64 {}", args.join(" ")))
    }

    /// Stops every process of the prefix's session and waits for the server.
    fn stop_server(&self) {
        let mut kill = self.command(&self.wine.server, "-all");
        kill.arg("-k");
        let _ = run_with_timeout(&mut kill, STOP_TIMEOUT, "wineserver -k");
        let mut wait = self.command(&self.wine.server, "-all");
        wait.arg("-w");
        let _ = run_with_timeout(&mut wait, STOP_TIMEOUT, "wineserver -w");
    }

    /// Creates the prefix (removing any left by an earlier run), copies both
    /// drivers and registers both services.
    fn create(
        wine: &'w Wine,
        dir: PathBuf,
        keep: bool,
        miniport: &Path,
        fake: &Path,
    ) -> Result<Self, String> {
        let prefix = Self { wine, dir, keep };
        if prefix.dir.exists() {
            prefix.stop_server();
            fs::remove_dir_all(&prefix.dir)
                .map_err(|e| format!("{}: {e}", prefix.dir.display()))?;
        }
        let parent = prefix.dir.parent().ok_or("prefix has no parent")?;
        fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        let reg = parent.join("services.reg");
        fs::write(&reg, services_reg()).map_err(|e| e.to_string())?;
        let started = Instant::now();
        // The first command of a new prefix creates it (wineboot --init),
        // then imports the services.
        let done = prefix.wine(
            &["regedit", "/S", tool::path_str(&reg)?],
            "-all",
            PREFIX_TIMEOUT,
        )?;
        prefix.stop_server();
        if !done.status.success() {
            return Err(format!(
                "creating the prefix and registering the services failed ({}):\n{}{}",
                done.status, done.stdout, done.stderr
            ));
        }
        prefix.install_miniport(miniport)?;
        let drivers = prefix.drivers_dir();
        fs::copy(fake, drivers.join("dxgkrnl.sys")).map_err(|e| e.to_string())?;
        fs::copy(fake, drivers.join("gpup_placeholder.sys")).map_err(|e| e.to_string())?;
        let system = fs::read_to_string(prefix.dir.join("system.reg")).unwrap_or_default();
        let registered = [MINIPORT_SERVICE, DXGKRNL_SERVICE, PLACEHOLDER_SERVICE]
            .iter()
            .all(|s| system.contains(&format!("[System\\\\CurrentControlSet\\\\Services\\\\{s}]")));
        if !registered {
            return Err("the services are not in the prefix's registry after regedit".into());
        }
        println!(
            "  prefix {} created, {MINIPORT_SERVICE}, {DXGKRNL_SERVICE} and {PLACEHOLDER_SERVICE} registered (Group {SERVICE_GROUP}) in {:.1} s",
            prefix.dir.display(),
            started.elapsed().as_secs_f64()
        );
        Ok(prefix)
    }

    fn drivers_dir(&self) -> PathBuf {
        self.dir.join("drive_c/windows/system32/drivers")
    }

    /// Puts `image` in place as `gpup_miniport.sys` (between sessions).
    fn install_miniport(&self, image: &Path) -> Result<(), String> {
        let drivers = self.drivers_dir();
        fs::create_dir_all(&drivers).map_err(|e| e.to_string())?;
        fs::copy(image, drivers.join("gpup_miniport.sys")).map_err(|e| e.to_string())?;
        Ok(())
    }
}

impl Drop for Prefix<'_> {
    fn drop(&mut self) {
        self.stop_server();
        if !self.keep {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

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
struct Run {
    /// The Wine session's standard error.
    log: String,
    /// `sc start` of the placeholder: exit status and output, or why it
    /// did not finish.
    placeholder: Result<(bool, String), String>,
    /// `sc start` of the miniport, likewise.
    sc_start: Result<(bool, String), String>,
    /// The miniport service's state after the run (`sc query`).
    state: String,
    /// Whether the fixture's last line appeared before the timeout.
    finished: bool,
    /// Seconds from `sc start` to the last line (or the timeout).
    seconds: f64,
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

/// The fixture's last line, `N passed, M failed`.
fn summary_of(line: &str) -> Option<(u32, u32)> {
    let (passed, failed) = line.strip_suffix(" failed")?.split_once(" passed, ")?;
    Some((passed.parse().ok()?, failed.parse().ok()?))
}

/// The fixture's lines (without the prefix), in order.
fn fixture_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter_map(|l| {
            l.split_once(FIXTURE_PREFIX)
                .map(|(_, rest)| rest.trim_end())
        })
        .collect()
}

/// What the fixture's lines and Wine's output say about a run.
#[derive(Debug, Default, PartialEq, Eq)]
struct Analysis {
    /// The `plan N` line.
    plan: Option<u32>,
    /// The last line's counts.
    summary: Option<(u32, u32)>,
    /// `ok` lines.
    passed: u32,
    /// `FAIL` lines, whole.
    failed: Vec<String>,
    /// Wine lines matching [`FATAL_PATTERNS`].
    fatal: Vec<String>,
}

fn analyze(log: &str) -> Analysis {
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

impl Run {
    /// Every reason this run is not a pass (empty: it passed).
    fn problems(&self) -> Vec<String> {
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
fn run_once(prefix: &Prefix<'_>, work: &Path, label: &str) -> Result<Run, String> {
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
fn print_lines(run: &Run) {
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

/// The Wine lines worth reading after a failure: all but the headless noise,
/// the last 80.
fn relevant_wine_lines(log: &str) -> String {
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

/// The two checks that catch a Destroy which accepts handles it must reject.
const BROKEN_CAUGHT_BY: [&str; 2] = [
    "DxgkDdiDestroyMemoryBasis(forged",
    "DxgkDdiDestroyMemoryBasis(stale",
];

/// `cargo xtask wine-smoke [--skip-broken] [--keep]`.
///
/// # Errors
/// The first step that failed, or the list of problems of a failed run.
pub fn run(args: &[String]) -> Result<(), String> {
    let started = Instant::now();
    let mut skip_broken = false;
    let mut keep = false;
    for arg in args {
        match arg.as_str() {
            "--skip-broken" => skip_broken = true,
            "--keep" => keep = true,
            other => return Err(format!("wine-smoke: unknown argument {other}")),
        }
    }
    let root = package::workspace_root();
    let target = package::target_dir_of(&root);
    let work = target.join("wine-smoke");
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;

    let wine = Wine::ensure()?;
    println!("==> {} ({})", wine.version(), wine.loader.display());

    println!("==> building gpup_miniport.sys and the fake DXGKrnl ({TARGET}, release, rust-lld)");
    let miniport = package::build_kernel_image(&root, "gpup-miniport", "gpup_miniport")?;
    let fake = package::build_kernel_image(&root, "fake-dxgkrnl", "fake_dxgkrnl")?;
    let broken = if skip_broken {
        None
    } else {
        println!(
            "==> building the deliberately broken miniport (--cfg {BROKEN_MARKER}, own target directory)"
        );
        Some(package::build_kernel_image_with(
            &root,
            "gpup-miniport",
            "gpup_miniport",
            Some(&work.join("broken-target")),
            &["--cfg", BROKEN_MARKER],
        )?)
    };

    println!(
        "==> images against Wine's ntoskrnl.exe ({})",
        wine.ntoskrnl.display()
    );
    let exports = exports_of(&wine.ntoskrnl)?;
    checked_image("gpup_miniport.sys", &miniport, &package::MINIPORT, &exports)?;
    checked_image("fake dxgkrnl.sys", &fake, &FAKE_DXGKRNL, &exports)?;
    if let Some(broken) = &broken {
        checked_image(
            "broken gpup_miniport.sys",
            broken,
            &package::MINIPORT,
            &exports,
        )?;
        let read = |p: &Path| fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
        if !is_broken_variant(&read(broken)?) || is_broken_variant(&read(&miniport)?) {
            return Err(format!(
                "only the broken image may hold the {BROKEN_MARKER:?} marker that cargo xtask package refuses"
            ));
        }
        println!(
            "  the broken image holds the {BROKEN_MARKER:?} marker (cargo xtask package refuses it), the real one does not"
        );
    }
    if exports.contains("ExAllocatePool2") {
        println!("  ExAllocatePool2 (looked up at load, never imported): exported by this Wine");
    } else {
        println!(
            "  ExAllocatePool2 (looked up at load, never imported): not exported by this Wine, \
             so the miniport's allocator must fall back to ExAllocatePoolWithTag"
        );
    }

    println!("==> Wine prefix");
    let prefix = Prefix::create(&wine, work.join("prefix"), keep, &miniport, &fake)?;

    println!("==> sc start {MINIPORT_SERVICE}: the real image");
    let real = run_once(&prefix, &work, "real")?;
    print_lines(&real);
    let mut problems = real.problems();
    if real.finished {
        match check_relocated(&real.log, linked_range(&miniport)?, linked_range(&fake)?) {
            Ok(relocated) => println!("  {relocated}"),
            Err(why) => problems.push(why),
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "the Wine smoke test failed ({} problem(s)):\n  {}\n  relevant Wine lines ({}):\n{}",
            problems.len(),
            problems.join("\n  "),
            work.join("real.log").display(),
            relevant_wine_lines(&real.log)
        ));
    }
    let a = analyze(&real.log);
    println!(
        "  passed: {} of {} checks inside Wine, {:.2} s from sc start to the last line",
        a.passed,
        a.plan.unwrap_or(0),
        real.seconds
    );

    if let Some(broken) = &broken {
        println!(
            "==> sc start {MINIPORT_SERVICE}: the deliberately broken image (must be rejected)"
        );
        prefix.install_miniport(broken)?;
        let run = run_once(&prefix, &work, "broken")?;
        print_lines(&run);
        let problems = run.problems();
        let caught = analyze(&run.log).failed;
        let by_the_right_checks = caught.len() == BROKEN_CAUGHT_BY.len()
            && caught
                .iter()
                .zip(BROKEN_CAUGHT_BY)
                .all(|(line, what)| line.contains(what));
        let only_those = problems
            .iter()
            .filter(|p| !p.starts_with("check FAIL "))
            .all(|p| p.contains(" passed, ") && p.contains(" failed of "));
        if problems.is_empty() || !by_the_right_checks || !only_those {
            return Err(format!(
                "the broken miniport was not rejected as expected (by the two Destroy checks alone):\n  {}",
                if problems.is_empty() {
                    "no problem found".to_owned()
                } else {
                    problems.join("\n  ")
                }
            ));
        }
        println!(
            "  rejected, as it must be: {} of the checks failed ({}), nothing else went wrong",
            caught.len(),
            caught
                .iter()
                .map(|l| l.split(" - ").next().unwrap_or(l))
                .collect::<Vec<_>>()
                .join(", ")
        );
        // The prefix is thrown away; leave the real image in place anyway.
        prefix.install_miniport(&miniport)?;
    }
    drop(prefix);
    println!(
        "==> wine-smoke passed in {:.1} s (Wine server stopped{})",
        started.elapsed().as_secs_f64(),
        if keep {
            "; prefix kept"
        } else {
            ", prefix removed"
        }
    );
    Ok(())
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

    #[test]
    fn the_broken_variant_is_recognised_by_its_marker() {
        assert!(is_broken_variant(
            b"..gpup_miniport: gpup_wine_smoke_broken: Destroy.."
        ));
        assert!(!is_broken_variant(b"gpup_miniport: DriverEntry"));
    }

    #[test]
    fn imports_missing_from_wine_are_listed() {
        let exports: BTreeSet<String> = ["IoCreateDevice", "DbgPrint"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let imports = [
            "ntoskrnl.exe!IoCreateDevice".to_owned(),
            "ntoskrnl.exe!ExAllocatePool2".to_owned(),
        ];
        assert_eq!(
            missing_imports(&imports, &exports),
            ["ntoskrnl.exe!ExAllocatePool2"]
        );
    }

    #[test]
    fn the_services_are_kernel_drivers_in_one_group() {
        let reg = services_reg();
        assert!(reg.starts_with("REGEDIT4\r\n"));
        for service in [MINIPORT_SERVICE, DXGKRNL_SERVICE, PLACEHOLDER_SERVICE] {
            assert!(reg.contains(&format!(
                "[HKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Services\\{service}]"
            )));
        }
        assert_eq!(reg.matches("\"Type\"=dword:00000001").count(), 3);
        assert_eq!(reg.matches("\"Group\"=\"GpupWineSmoke\"").count(), 3);
        assert!(
            reg.contains("\"ImagePath\"=\"\\\\SystemRoot\\\\System32\\\\drivers\\\\dxgkrnl.sys\"")
        );
    }
}
