//! `gpup-sim`: a GPU-P live migration through gpup-miniport's DDI table, on
//! any Linux machine.
//!
//! `gpup-sim migrate` loads the driver into `dxgkrnl-model` (the Dxgkrnl
//! stand-in), creates VFs with scattered VRAM reserves on a source and a
//! target adapter, runs simulated GPU writers on the source, migrates every VF
//! with dirty-bit tracking (pre-copy rounds, pause, final round), proves each
//! destination byte-identical to its source, and prints what it measured and
//! what it modelled. Exit codes: one table for every command, [`exit::TABLE`]
//! (documented in `docs/simulator.md`).

mod estimate;
mod exit;
mod progress;
mod report;
mod svg;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_guard;
mod units;
mod verdict;
mod wire;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use dxgkrnl_model::migration::{
    EngineTraffic, MigrationConfig, MigrationError, MigrationFault, TrackingStart, run,
};
use dxgkrnl_model::writers::{Pattern, Workload, portion};

use exit::Exit;
use units::WorkingSet;

#[derive(Parser)]
#[command(
    name = "gpup-sim",
    version,
    about = "GPU-P live migration through gpup-miniport, on any Linux machine",
    after_help = exit::help()
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate every VF of a source adapter to a target adapter, with
    /// simulated GPU writers running, and prove the copy byte-identical.
    #[command(allow_negative_numbers = true, after_help = exit::help())]
    Migrate(Box<MigrateArgs>),
    /// Wait for a `migrate --to` source and receive its VFs (loopback only).
    Target(wire::TargetArgs),
}

/// Where the writers' writes land.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum PatternArg {
    /// Any slot of the working set, equally likely.
    Uniform,
    /// `--hot-writes` of the writes to the first `--hot-set` of the working set.
    HotSet,
    /// The working set in address order, wrapping.
    Sweep,
}

/// When dirty-bit tracking starts.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum TrackingArg {
    /// As the adapter's caps say (performant: at VF creation).
    Caps,
    /// At migration start, as for an adapter whose tracking is not performant.
    AtMigration,
}

#[derive(Args)]
#[allow(clippy::struct_excessive_bools)]
struct MigrateArgs {
    /// Size of the tracked VRAM segment of each adapter.
    #[arg(long, default_value = "8GiB", value_parser = units::parse_size, value_name = "SIZE")]
    vram: u64,
    /// Number of VFs.
    #[arg(long, default_value = "2", value_parser = units::parse_u32, value_name = "N")]
    vfs: u32,
    /// Dirty-tracking page size of the segment.
    #[arg(long, default_value = "4KiB", value_parser = units::parse_size, value_name = "SIZE")]
    page_size: u64,
    /// Ranges each VF's reserve is scattered over.
    #[arg(long, default_value = "4", value_parser = units::parse_u32, value_name = "N")]
    ranges: u32,
    /// Bytes each VF's GPU writes per second (modelled time).
    #[arg(long, default_value = "1GiB/s", value_parser = units::parse_rate, value_name = "RATE")]
    dirty_rate: u64,
    /// Part of each VF's reserve its GPU writes: a size or a percentage of
    /// the reserve (the default scales with --vram and --vfs).
    #[arg(long, default_value = "25%", value_parser = units::parse_working_set, value_name = "SIZE|PCT")]
    working_set: WorkingSet,
    /// Where the writes land.
    #[arg(long, value_enum, default_value = "hot-set")]
    pattern: PatternArg,
    /// Hot part of the working set (hot-set pattern).
    #[arg(long, default_value = "10%", value_parser = units::parse_positive_fraction, value_name = "PCT")]
    hot_set: f64,
    /// Share of the writes that go to the hot part (hot-set pattern).
    #[arg(long, default_value = "90%", value_parser = units::parse_fraction, value_name = "PCT")]
    hot_writes: f64,
    /// Bytes per write (one mark per write).
    #[arg(long, default_value = "4KiB", value_parser = units::parse_size, value_name = "SIZE")]
    write_size: u64,
    /// Writer threads per VF.
    #[arg(long, default_value = "1", value_parser = units::parse_u32, value_name = "N")]
    writers_per_vf: u32,
    /// Link bandwidth between source and target.
    #[arg(long, default_value = "10Gbit", value_parser = units::parse_link, value_name = "RATE")]
    link: u64,
    /// Downtime budget: pre-copy stops once the pending pages fit in it.
    #[arg(long, default_value = "750ms", value_parser = units::parse_duration, value_name = "DURATION")]
    downtime: u64,
    /// Pre-copy stops after this many rounds (the last one is the blackout).
    #[arg(long, default_value = "30", value_parser = units::parse_u32, value_name = "N")]
    max_rounds: u32,
    /// Refuse a run whose estimated modelled time exceeds this.
    #[arg(long, default_value = estimate::DEFAULT_LIMIT, value_parser = units::parse_duration, value_name = "DURATION")]
    max_modelled_time: u64,
    /// When dirty-bit tracking starts.
    #[arg(long, value_enum, default_value = "caps")]
    tracking: TrackingArg,
    /// Seed of the writers' random streams.
    #[arg(long, default_value = "1", value_parser = units::parse_count, value_name = "N")]
    seed: u64,
    /// Fault injection: each writer skips every N-th mark (the proof must catch it).
    #[arg(long, value_parser = units::parse_positive_count, value_name = "N")]
    drop_one_mark_in: Option<u64>,
    /// Engine traffic: in each pre-copy round, the source adapter's engine
    /// runs N paging operations (FILL, TRANSFER alternately, one page each)
    /// inside the migrating VF's reserve, as the VF's own GPU work would.
    #[arg(long, default_value = "0", value_parser = units::parse_u32, value_name = "N", conflicts_with = "to")]
    engine_traffic: u32,
    /// Fault injection (with --engine-traffic): the engine writes without
    /// marking the pages dirty (the proof must catch it).
    #[arg(long, conflicts_with = "to")]
    engine_drops_marks: bool,
    /// Each writer stops after N writes (the guest's work is done).
    #[arg(long, value_parser = units::parse_positive_count, value_name = "N")]
    write_limit: Option<u64>,
    /// Write the full result as JSON to PATH.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Write a chart (dirty pages per round; blackout against stop-and-copy) as SVG to PATH.
    #[arg(long, value_name = "PATH")]
    svg: Option<PathBuf>,
    /// No progress output (bars on a terminal, plain lines otherwise).
    #[arg(long)]
    quiet: bool,
    /// Two-process mode (`--to`): see `docs/wire.md`.
    #[command(flatten)]
    wire: wire::SourceArgs,
}

impl MigrateArgs {
    fn config(&self) -> Result<MigrationConfig, String> {
        let page_size = u32::try_from(self.page_size)
            .map_err(|_| format!("page size {} is too large", self.page_size))?;
        let mut config = MigrationConfig {
            vram_size: self.vram,
            page_size,
            vf_count: self.vfs,
            ranges_per_vf: self.ranges,
            workload: Workload {
                dirty_rate: self.dirty_rate,
                working_set: 0,
                pattern: match self.pattern {
                    PatternArg::Uniform => Pattern::Uniform,
                    PatternArg::HotSet => Pattern::HotSet {
                        hot_fraction: self.hot_set,
                        hot_writes: self.hot_writes,
                    },
                    PatternArg::Sweep => Pattern::Sweep,
                },
                write_size: self.write_size,
                writers_per_vf: self.writers_per_vf,
                drop_one_mark_in: self.drop_one_mark_in,
                write_limit: self.write_limit,
            },
            link_bits_per_second: self.link,
            downtime_budget: Duration::from_nanos(self.downtime),
            max_rounds: self.max_rounds,
            tracking: match self.tracking {
                TrackingArg::Caps => TrackingStart::FromCaps,
                TrackingArg::AtMigration => TrackingStart::AtMigration,
            },
            seed: self.seed,
            fault: MigrationFault::None,
            engine: EngineTraffic {
                ops_per_round: self.engine_traffic,
                drops_marks: self.engine_drops_marks,
            },
        };
        config.workload.working_set = match self.working_set {
            WorkingSet::Bytes(bytes) => bytes,
            WorkingSet::OfReserve(fraction) => {
                // Validate first: the reserve size needs a valid layout.
                config.validate().map_err(|e| e.to_string())?;
                let reserve = config
                    .layout()
                    .map_err(|e| e.to_string())?
                    .reserve(0)
                    .map_or(0, dxgkrnl_model::vf::Reserve::size);
                let bytes = portion(reserve, fraction);
                let bytes = bytes - bytes % self.write_size.max(1);
                if bytes == 0 {
                    return Err(format!(
                        "--working-set {:.4}% of a {} reserve is less than one write of {}",
                        fraction * 100.0,
                        units::format_size(reserve),
                        units::format_size(self.write_size)
                    ));
                }
                bytes
            }
        };
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }
}

fn main() -> ExitCode {
    let color = std::io::stderr().is_terminal();
    // Unlocked handles: the progress bars' ticker thread writes to stderr too.
    let code = cli(
        std::env::args_os(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
        color,
    );
    ExitCode::from(code)
}

/// The whole program: parses `args` (the program name first), runs the
/// command, writes the report to `out` and errors to `err`, and returns the
/// exit code of [`exit::TABLE`]. Usage errors are coloured when `color` is
/// set.
fn cli<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write, color: bool) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let parsed = match Cli::try_parse_from(args) {
        Ok(parsed) => parsed,
        Err(e) => {
            // --help and --version are "errors" with exit code 0, for stdout.
            let rendered = e.render();
            let text = if color {
                rendered.ansi().to_string()
            } else {
                rendered.to_string()
            };
            let code = u8::try_from(e.exit_code()).unwrap_or(2);
            let _ = if code == 0 {
                write!(out, "{text}")
            } else {
                write!(err, "{text}")
            };
            return code;
        }
    };
    match parsed.command {
        Command::Migrate(args) => migrate(&args, out, err),
        Command::Target(args) => wire::target(&args, out, err),
    }
}

fn migrate(args: &MigrateArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let config = match args.config() {
        Ok(config) => config,
        Err(message) => {
            let _ = writeln!(err, "error: {message}");
            return Exit::BadOptions.code();
        }
    };
    // The outputs are checked before anything runs.
    for path in [&args.json, &args.svg].into_iter().flatten() {
        if let Err(e) = check_writable(path) {
            let _ = writeln!(err, "error: cannot write {}: {e}", path.display());
            return Exit::Io.code();
        }
    }
    // Two-process mode: a real wire and real clocks, so the modelled-time
    // estimate below does not apply.
    if let Some(to) = &args.wire.to {
        return wire::source(&config, &args.wire, to, out, err);
    }
    let limit = Duration::from_nanos(args.max_modelled_time);
    let estimate = estimate::estimate(&config, limit);
    if estimate.beyond_limit || estimate.modelled > limit {
        let _ = writeln!(
            err,
            "error: this run would take {}{} of modelled time, over the {} limit ({}); raise --max-modelled-time to run it anyway, or use a faster --link, a smaller --working-set or fewer --max-rounds",
            if estimate.beyond_limit {
                "more than "
            } else {
                ""
            },
            units::format_duration(estimate.modelled),
            units::format_duration(limit),
            estimate.describe(),
        );
        return Exit::BadOptions.code();
    }
    // Shown before the run (with the progress), and atop the report.
    if !args.quiet {
        let _ = writeln!(err, "{}", estimate.describe());
    }
    let mut bars = progress::Bars::new(args.quiet);
    let report = match run(&config, &mut bars) {
        Ok(report) => report,
        Err(e) => {
            drop(bars);
            let _ = writeln!(err, "error: {e}");
            // A configuration this host cannot run is a bad option too.
            return if matches!(e, MigrationError::Config(_) | MigrationError::Vram(_)) {
                Exit::BadOptions
            } else {
                Exit::CheckFailed
            }
            .code();
        }
    };
    drop(bars);
    let _ = writeln!(out, "{}\n", estimate.describe());
    let _ = write!(out, "{}", report::text(&report));
    let mut exit = verdict::exit(&report);
    if let Some(path) = &args.json {
        let json = report::json(&report);
        let text = serde_json::to_string_pretty(&json).unwrap_or_default();
        exit = written(path, &(text + "\n"), "JSON result", exit, out, err);
    }
    if let Some(path) = &args.svg {
        exit = written(path, &svg::chart(&report), "SVG chart", exit, out, err);
    }
    exit.code()
}

/// Whether `path` can be written: an existing file is opened for writing
/// (not truncated), a new one is created and removed again.
fn check_writable(path: &std::path::Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Err(std::io::Error::other("it is a directory"));
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    if !existed {
        std::fs::remove_file(path)?;
    }
    Ok(())
}

/// Writes `text` to `path`; an error turns `exit` into [`Exit::Io`] unless a
/// check already failed.
fn written(
    path: &std::path::Path,
    text: &str,
    what: &str,
    exit: Exit,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    match std::fs::write(path, text) {
        Ok(()) => {
            let _ = writeln!(out, "{what} written to {}", path.display());
            exit
        }
        Err(e) => {
            let _ = writeln!(err, "error: cannot write {}: {e}", path.display());
            if exit == Exit::CheckFailed {
                exit
            } else {
                Exit::Io
            }
        }
    }
}
