//! Finding Wine, installing it from Debian's packages if it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::process::run_with_timeout;

const APT_TIMEOUT: Duration = Duration::from_secs(600);

/// An installed Wine.
pub struct Wine {
    /// The 64-bit loader (`wine64`).
    pub loader: PathBuf,
    /// `wineserver`.
    pub server: PathBuf,
    /// Wine's PE `ntoskrnl.exe`.
    pub ntoskrnl: PathBuf,
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
    pub fn ensure() -> Result<Self, String> {
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
    pub fn version(&self) -> String {
        Command::new(&self.loader)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|e| format!("unknown ({e})"))
    }
}
