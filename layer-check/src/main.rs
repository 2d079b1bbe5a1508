//! `layer-check [--root PATH] [--crate PACKAGE] [--config FILE] [--metrics | --list]`:
//! prints every violation of the workspace's module rules (exit status 1 if
//! any), with `--metrics` the before/after figures, with `--list` the
//! crates read. See the library documentation for the rules.

use std::path::PathBuf;
use std::process::ExitCode;

struct Args {
    root: PathBuf,
    only: Option<String>,
    config: Option<PathBuf>,
    metrics: bool,
    list: bool,
}

fn parse_args() -> Result<Args, String> {
    // By default the workspace this checker belongs to.
    let default_root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let mut args = Args {
        root: default_root,
        only: None,
        config: None,
        metrics: false,
        list: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--root" => args.root = PathBuf::from(value()?),
            "--crate" => args.only = Some(value()?),
            "--config" => args.config = Some(PathBuf::from(value()?)),
            "--metrics" => args.metrics = true,
            "--list" => args.list = true,
            "-h" | "--help" => {
                return Err("usage: layer-check [--root PATH] [--crate PACKAGE] [--config FILE] [--metrics | --list]".into());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn run() -> Result<bool, String> {
    let args = parse_args()?;
    let config = layer_check::load_config(&args.root, args.config.as_deref())?;
    let analysis = layer_check::analyse(&args.root, config, args.only.as_deref())?;
    if args.list {
        for k in &analysis.crates {
            let root = k.modules.first().map_or("?", |m| m.file.as_str());
            println!(
                "{:<48} {root} ({} modules, {} files)",
                k.label(),
                k.modules.len(),
                k.files.len()
            );
        }
        return Ok(true);
    }
    if args.metrics {
        print!("{}", layer_check::metrics::report(&analysis.crates));
        return Ok(true);
    }
    let violations = layer_check::violations(&analysis);
    for v in &violations {
        println!("{v}");
    }
    let mut counts = std::collections::BTreeMap::new();
    for v in &violations {
        *counts.entry(v.kind).or_insert(0usize) += 1;
    }
    let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    println!(
        "layer-check: {} crates, {} violations{}",
        analysis.crates.len(),
        violations.len(),
        if summary.is_empty() {
            String::new()
        } else {
            format!(" ({})", summary.join(", "))
        }
    );
    Ok(violations.is_empty())
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("layer-check: {e}");
            ExitCode::from(2)
        }
    }
}
