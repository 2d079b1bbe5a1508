//! `cargo xtask`: project tasks beyond plain cargo (alias in
//! `.cargo/config.toml`).
//!
//! - `cargo xtask package`: the WDK-free driver package (build with
//!   `rust-lld`, image checks, INF stamping, test-signing); see [`package`].
//! - `cargo xtask check-image FILE`: the kernel-image checks, with the
//!   miniport's import policy, and the stack check ([`stack`], which reads
//!   the linker map beside the image), on any `.sys`; see
//!   `docs/image-checks.md`.
//! - `cargo xtask wine-smoke`: the real image under Wine, with a fake
//!   DXGKrnl driving its DDIs; see [`wine_smoke`].

mod corrupt;
mod inf;
mod kernel_image;
mod package;
mod pe;
mod sign;
mod stack;
mod tool;
mod wine_smoke;

use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <task>
  package            build, check, stamp and test-sign the WDK-free driver package
  check-image FILE   run the kernel-image checks (the miniport's import policy) and the stack
                     check on FILE (which reads the linker map FILE.map beside it)
  wine-smoke [--skip-broken] [--keep]
                     run the real .sys under Wine with a fake DXGKrnl that drives its DDIs,
                     then show that a deliberately broken miniport fails the same test";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["package"] => package::run(),
        ["check-image", file] => package::check_file(Path::new(file), &package::MINIPORT).map(drop),
        ["wine-smoke", rest @ ..] => {
            let rest: Vec<String> = rest.iter().map(|s| (*s).to_owned()).collect();
            wine_smoke::run(&rest)
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
