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
//! 7. And that the start rules can fail: the fake DXGKrnl plays the model's
//!    adapter-start sequence (`dxgkrnl-model/src/start/`) before driving the
//!    DDIs, noting every rule it refuses; a second broken miniport (`--cfg
//!    gpup_wine_start_broken`, its own target directory: a reserved
//!    `MiscCaps` bit, rule 2.2j) must be refused by exactly that rule more
//!    than the real image ([`start_rules`]).
//!    `--skip-broken` leaves both broken images out; `--keep` keeps the prefix.

mod images;
mod log;
mod prefix;
mod process;
mod services;
mod session;
mod start_rules;
mod wine;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use self::images::{FAKE_DXGKRNL, checked_image, exports_of, linked_range};
use self::log::{analyze, check_relocated, relevant_wine_lines};
use self::prefix::Prefix;
use self::services::MINIPORT_SERVICE;
use self::session::{print_lines, run_once};
use self::start_rules::{START_BROKEN_CFG, START_BROKEN_RULE};
use self::wine::Wine;
use crate::kernel_image::{
    BROKEN_MARKER, TARGET, build_kernel_image, build_kernel_image_with, is_broken_variant,
    target_dir_of, workspace_root,
};
use crate::package::MINIPORT;

/// The two checks that catch a Destroy which accepts handles it must reject.
const BROKEN_CAUGHT_BY: [&str; 2] = [
    "DxgkDdiDestroyMemoryBasis(forged",
    "DxgkDdiDestroyMemoryBasis(stale",
];

/// The command line's switches.
struct Options {
    /// `--skip-broken`: leave out the deliberately broken miniport.
    skip_broken: bool,
    /// `--keep`: keep the Wine prefix.
    keep: bool,
}

impl Options {
    /// `[--skip-broken] [--keep]`.
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Self {
            skip_broken: false,
            keep: false,
        };
        for arg in args {
            match arg.as_str() {
                "--skip-broken" => options.skip_broken = true,
                "--keep" => options.keep = true,
                other => return Err(format!("wine-smoke: unknown argument {other}")),
            }
        }
        Ok(options)
    }
}

/// The kernel images of the test.
struct Images {
    /// The real miniport, as `cargo xtask package` builds it.
    miniport: PathBuf,
    /// The fake DXGKrnl.
    fake: PathBuf,
    /// The deliberately broken miniport (none with `--skip-broken`).
    broken: Option<PathBuf>,
    /// The miniport that breaks one start rule (none with `--skip-broken`).
    broken_start: Option<PathBuf>,
}

/// `cargo xtask wine-smoke [--skip-broken] [--keep]`.
///
/// # Errors
/// The first step that failed, or the list of problems of a failed run.
pub fn run(args: &[String]) -> Result<(), String> {
    let started = Instant::now();
    let options = Options::parse(args)?;
    let root = workspace_root();
    let target = target_dir_of(&root);
    let work = target.join("wine-smoke");
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;

    let wine = Wine::ensure()?;
    println!("==> {} ({})", wine.version(), wine.loader.display());

    let images = build_images(&root, &work, options.skip_broken)?;
    check_images(&wine, &images)?;

    println!("==> Wine prefix");
    let prefix = Prefix::create(
        &wine,
        work.join("prefix"),
        options.keep,
        &images.miniport,
        &images.fake,
    )?;

    let real_refusals = run_real(&prefix, &work, &images)?;
    if let Some(broken) = &images.broken {
        run_broken(&prefix, &work, broken)?;
    }
    if let Some(broken) = &images.broken_start {
        run_broken_start(&prefix, &work, broken, &real_refusals)?;
    }
    if images.broken.is_some() || images.broken_start.is_some() {
        // The prefix is thrown away; leave the real image in place anyway.
        prefix.install_miniport(&images.miniport)?;
    }
    drop(prefix);
    println!(
        "==> wine-smoke passed in {:.1} s (Wine server stopped{})",
        started.elapsed().as_secs_f64(),
        if options.keep {
            "; prefix kept"
        } else {
            ", prefix removed"
        }
    );
    Ok(())
}

/// Builds the miniport, the fake DXGKrnl and (unless `skip_broken`) the
/// deliberately broken miniport, in its own target directory under `work`.
fn build_images(root: &Path, work: &Path, skip_broken: bool) -> Result<Images, String> {
    println!("==> building gpup_miniport.sys and the fake DXGKrnl ({TARGET}, release, rust-lld)");
    let miniport = build_kernel_image(root, "gpup-miniport", "gpup_miniport")?;
    let fake = build_kernel_image(root, "fake-dxgkrnl", "fake_dxgkrnl")?;
    let broken_build = |cfg: &str, dir: &str| {
        println!("==> building a deliberately broken miniport (--cfg {cfg}, own target directory)");
        build_kernel_image_with(
            root,
            "gpup-miniport",
            "gpup_miniport",
            Some(&work.join(dir)),
            &["--cfg", cfg],
        )
    };
    let (broken, broken_start) = if skip_broken {
        (None, None)
    } else {
        (
            Some(broken_build(BROKEN_MARKER, "broken-target")?),
            Some(broken_build(START_BROKEN_CFG, "broken-start-target")?),
        )
    };
    Ok(Images {
        miniport,
        fake,
        broken,
        broken_start,
    })
}

/// The kernel-image checks on every image, their imports against Wine's
/// `ntoskrnl.exe`, and the broken variant's marker in the broken image only.
fn check_images(wine: &Wine, images: &Images) -> Result<(), String> {
    println!(
        "==> images against Wine's ntoskrnl.exe ({})",
        wine.ntoskrnl.display()
    );
    let exports = exports_of(&wine.ntoskrnl)?;
    checked_image("gpup_miniport.sys", &images.miniport, &MINIPORT, &exports)?;
    checked_image("fake dxgkrnl.sys", &images.fake, &FAKE_DXGKRNL, &exports)?;
    for broken in images.broken.iter().chain(&images.broken_start) {
        checked_image("broken gpup_miniport.sys", broken, &MINIPORT, &exports)?;
        let read = |p: &Path| fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
        if !is_broken_variant(&read(broken)?) || is_broken_variant(&read(&images.miniport)?) {
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
    Ok(())
}

/// The real image in the prefix: every check must pass, and both images must
/// have run relocated. Returns the start rules the fixture refused it by
/// (none once the fixture enforces them).
fn run_real(prefix: &Prefix<'_>, work: &Path, images: &Images) -> Result<Vec<String>, String> {
    println!("==> sc start {MINIPORT_SERVICE}: the real image");
    let real = run_once(prefix, work, "real")?;
    print_lines(&real);
    let mut problems = real.problems();
    if real.finished {
        match check_relocated(
            &real.log,
            linked_range(&images.miniport)?,
            linked_range(&images.fake)?,
        ) {
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
    let refused = start_rules::refusals(&real.log);
    println!(
        "  start rules: {}; refused by {} rule(s){}",
        start_rules::verdict(&real.log).unwrap_or_else(|| "no verdict".to_owned()),
        refused.len(),
        if refused.is_empty() {
            String::new()
        } else {
            format!(
                " (waived while the driver is known not to pass it, rules.rs AWAITING_DRIVER): {}",
                refused.join(", ")
            )
        }
    );
    Ok(refused)
}

/// The broken start image in the same prefix: refused by exactly
/// [`START_BROKEN_RULE`] more than the real image, and nothing else wrong
/// but the checks that rule's refusal leaves unrun.
fn run_broken_start(
    prefix: &Prefix<'_>,
    work: &Path,
    broken: &Path,
    real_refusals: &[String],
) -> Result<(), String> {
    println!(
        "==> sc start {MINIPORT_SERVICE}: the image that breaks start rule {START_BROKEN_RULE} (must be refused)"
    );
    prefix.install_miniport(broken)?;
    let run = run_once(prefix, work, "broken-start")?;
    print_lines(&run);
    let unexpected: Vec<_> = run
        .problems()
        .into_iter()
        .filter(|p| {
            !(p.starts_with("check FAIL ")
                || (p.contains(" passed, ") && p.contains(" failed of ")))
        })
        .collect();
    if !run.finished || !unexpected.is_empty() {
        return Err(format!(
            "the broken start image went wrong otherwise than by its start rule:\n  {}",
            unexpected.join("\n  ")
        ));
    }
    let refused = start_rules::refusals(&run.log);
    let ended = start_rules::ended_at_broken_rule(&run.log);
    let caught = start_rules::compare(real_refusals, &refused, ended)?;
    println!("  rejected, as it must be: {caught}");
    Ok(())
}

/// The broken image in the same prefix: it must be rejected by exactly the
/// [`BROKEN_CAUGHT_BY`] checks, and nothing else may go wrong.
fn run_broken(prefix: &Prefix<'_>, work: &Path, broken: &Path) -> Result<(), String> {
    println!("==> sc start {MINIPORT_SERVICE}: the deliberately broken image (must be rejected)");
    prefix.install_miniport(broken)?;
    let run = run_once(prefix, work, "broken")?;
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
    Ok(())
}
