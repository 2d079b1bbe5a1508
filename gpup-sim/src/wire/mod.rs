//! Live migration between two processes over TCP (loopback only):
//! `gpup-sim target --listen ADDR` and `gpup-sim migrate --to ADDR`.
//!
//! The protocol, its bounds, the measured figures and the abort semantics
//! are documented in `docs/wire.md` (exit codes: `crate::exit`). Layout:
//! `frame` (the framed, checksummed, bounded wire) at the bottom; `proof`
//! (page I/O, BLAKE3 chunk hashes, the VF state's wire form), `vfs` (one
//! side's adapter and VFs) and `writers` (real-clock writers) beside them;
//! `source_vf` (one VF's migration and its recovery) above those; `source`
//! and `target` (the two processes) on top.
//!
//! Addresses must be loopback (127.0.0.0/8 or ::1): the protocol has no
//! authentication and no encryption, and this simulator never listens on
//! or connects to anything else.

mod frame;
mod proof;
mod source;
mod source_vf;
mod target;
#[cfg(test)]
mod tests;
mod vfs;
mod writers;

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};

use clap::{Args, ValueEnum};
use dxgkrnl_model::migration::MigrationConfig;

use crate::units;

/// The protocol version the handshake carries.
pub const PROTOCOL_VERSION: u32 = 1;

/// Options of `migrate` that make it the source of a two-process migration.
#[derive(Args, Debug, Default)]
pub struct SourceArgs {
    /// Migrate to the target process listening at ADDR (loopback only)
    /// instead of modelling the link in one process.
    #[arg(long, value_name = "ADDR")]
    pub to: Option<String>,
    /// After an abort, try the target at ADDR (repeatable); the VFs keep running meanwhile.
    #[arg(long, value_name = "ADDR", requires = "to")]
    pub retry_to: Vec<String>,
    /// Throttle the sender to RATE (a token bucket), e.g. 10Gbit.
    #[arg(long, value_parser = units::parse_link, value_name = "RATE", requires = "to")]
    pub link_cap: Option<u64>,
    /// Deadline of every step (connect, each send, each wait for the target).
    #[arg(long, default_value = "10s", value_parser = units::parse_duration, value_name = "DURATION")]
    pub timeout: u64,
}

/// A fault the target injects (tests of the aborts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Fault {
    /// Close the connection at the end of the first pre-copy round.
    DropInPrecopy,
    /// Close the connection when the mutable data arrives (in the blackout).
    DropInBlackout,
    /// Close the connection right after acknowledging the mutable restore.
    DropAfterRestore,
    /// Flip a bit of the mutable data: the driver refuses it
    /// (`STATUS_OBJECT_TYPE_MISMATCH`).
    CorruptMutable,
    /// Stop reading at the end of the first pre-copy round (the source's timeout fires).
    Stall,
}

/// `gpup-sim target`.
#[derive(Args, Debug)]
pub struct TargetArgs {
    /// Listen at ADDR (loopback only; port 0 picks one, printed on the first line).
    #[arg(long, value_name = "ADDR")]
    pub listen: String,
    /// Size of the target adapter's tracked VRAM segment.
    #[arg(long, default_value = "8GiB", value_parser = units::parse_size, value_name = "SIZE")]
    pub vram: u64,
    /// Dirty-tracking page size of the segment.
    #[arg(long, default_value = "4KiB", value_parser = units::parse_size, value_name = "SIZE")]
    pub page_size: u64,
    /// Ranges each VF's reserve is scattered over on this adapter.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub ranges: u32,
    /// Deadline of every step once a source is connected.
    #[arg(long, default_value = "10s", value_parser = units::parse_duration, value_name = "DURATION")]
    pub timeout: u64,
    /// How long to wait for a source to connect.
    #[arg(long, default_value = "600s", value_parser = units::parse_duration, value_name = "DURATION")]
    pub accept_timeout: u64,
    /// Fault injection (tests).
    #[arg(long, value_enum, hide = true)]
    pub fault: Option<Fault>,
}

/// `addr` resolved, if it is a loopback address.
fn loopback(addr: &str) -> Result<SocketAddr, String> {
    let resolved: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .collect();
    match resolved.first() {
        Some(a) if resolved.iter().all(|a| a.ip().is_loopback()) => Ok(*a),
        _ => Err(format!(
            "{addr} is not a loopback address: the wire protocol has no authentication, so gpup-sim only uses 127.0.0.1 or ::1"
        )),
    }
}

fn on_ctrl_c() {
    let _ =
        ctrlc::set_handler(|| frame::INTERRUPTED.store(true, std::sync::atomic::Ordering::Relaxed));
}

/// `migrate --to`: the source process; returns the exit code.
pub fn source(
    config: &MigrationConfig,
    args: &SourceArgs,
    to: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    on_ctrl_c();
    source::run(config, args, to, out, err)
}

/// `target`: the target process; returns the exit code.
pub fn target(args: &TargetArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    if args.page_size > u64::from(u32::MAX) || args.ranges == 0 || args.ranges > 64 {
        let _ = writeln!(err, "error: bad page size or range count");
        return crate::exit::Exit::BadOptions.code();
    }
    on_ctrl_c();
    target::run(args, out, err)
}
