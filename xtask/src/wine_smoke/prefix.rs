//! A throwaway Wine prefix with the drivers copied in and their services
//! registered.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::process::{Finished, run_with_timeout};
use super::services::{
    DXGKRNL_SERVICE, MINIPORT_SERVICE, PLACEHOLDER_SERVICE, SERVICE_GROUP, services_reg,
};
use super::wine::Wine;
use crate::tool;

const PREFIX_TIMEOUT: Duration = Duration::from_secs(180);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A throwaway Wine prefix with both services registered.
pub struct Prefix<'w> {
    /// The Wine that runs it.
    pub wine: &'w Wine,
    /// `WINEPREFIX`.
    dir: PathBuf,
    /// Whether it is kept after the run (`--keep`).
    keep: bool,
}

impl<'w> Prefix<'w> {
    /// A command of this prefix, headless, with `debug` as `WINEDEBUG`.
    pub fn command(&self, program: &Path, debug: &str) -> Command {
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
    pub fn wine(&self, args: &[&str], debug: &str, timeout: Duration) -> Result<Finished, String> {
        let mut command = self.command(&self.wine.loader, debug);
        command.args(args);
        run_with_timeout(&mut command, timeout, &format!("wine64 {}", args.join(" ")))
    }

    /// Stops every process of the prefix's session and waits for the server.
    pub fn stop_server(&self) {
        let mut kill = self.command(&self.wine.server, "-all");
        kill.arg("-k");
        let _ = run_with_timeout(&mut kill, STOP_TIMEOUT, "wineserver -k");
        let mut wait = self.command(&self.wine.server, "-all");
        wait.arg("-w");
        let _ = run_with_timeout(&mut wait, STOP_TIMEOUT, "wineserver -w");
    }

    /// Creates the prefix (removing any left by an earlier run), copies both
    /// drivers and registers both services.
    pub fn create(
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

    /// `system32\\drivers` of the prefix.
    fn drivers_dir(&self) -> PathBuf {
        self.dir.join("drive_c/windows/system32/drivers")
    }

    /// Puts `image` in place as `gpup_miniport.sys` (between sessions).
    pub fn install_miniport(&self, image: &Path) -> Result<(), String> {
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
