//! Running the external tools the packaging uses.

use std::path::Path;
use std::process::Command;

/// Debian packages that provide each tool, for the error message.
fn package_of(program: &str) -> &'static str {
    match program {
        "openssl" => "openssl",
        "osslsigncode" => "osslsigncode",
        "llvm-readobj" => "llvm",
        _ => "?",
    }
}

/// Runs `program args...`, returning its standard output.
///
/// # Errors
/// If it cannot be started (with the package to install) or exits non-zero
/// (with its output).
pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program).args(args).output().map_err(|e| {
        format!(
            "cannot run {program}: {e} (on Debian/Ubuntu: apt-get install {})",
            package_of(program)
        )
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "{program} {} failed ({}):\n{stdout}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(stdout)
}

/// A path as UTF-8, for a command line.
///
/// # Errors
/// If it is not UTF-8.
pub fn path_str(path: &Path) -> Result<&str, String> {
    path.to_str()
        .ok_or_else(|| format!("{} is not UTF-8", path.display()))
}
