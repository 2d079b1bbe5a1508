//! `gpup-sim migrate --to ADDR`: the source process. It starts its adapter
//! and VFs as the modelled mode does, runs one writer per VF on real clocks,
//! connects to the target, shakes hands (nothing is paused before the
//! target accepted), migrates every VF in turn and prints what it measured.
//! After an abort the VFs not yet across keep running; with `--retry-to`
//! the source tries the next target, whose first round for each VF sends
//! every page harvested since that VF's last completed migration.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use dxgkrnl_model::migration::{MigrationConfig, SEGMENT, TrackingStart};
use dxgkrnl_model::vf::{Layout, PartitionVfs, VfProvider};
use dxgkrnl_model::vfstate::{VfSnapshot, program_guest};
use dxgkrnl_model::vram::Vram;
use dxgkrnl_model::{Adapter, Driver};

use super::frame::{Abort, Conn, INTERRUPTED, Kind, Reader, put_string};
use super::source_vf::{Live, Source, SrcVf, VfResult};
use super::writers::{Writer, WriterState};
use super::{PROTOCOL_VERSION, SourceArgs, loopback, vfs};
use crate::exit::Exit;

/// Runs the source; returns the exit code.
pub fn run(
    config: &MigrationConfig,
    args: &SourceArgs,
    to: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let addrs = match resolve(args, to) {
        Ok(a) => a,
        Err(m) => {
            let _ = writeln!(err, "error: {m}");
            return Exit::BadOptions.code();
        }
    };
    if let Err(e) = Vram::check_size(config.vram_size) {
        let _ = writeln!(err, "error: source VRAM: {e}");
        return Exit::BadOptions.code();
    }
    let Ok(driver) = Driver::load() else {
        let _ = writeln!(err, "error: DriverEntry failed");
        return Exit::CheckFailed.code();
    };
    let (adapter, performant, layout) = match start(&driver, config) {
        Ok(a) => a,
        Err(m) => {
            let _ = writeln!(err, "error: source {m}");
            return Exit::CheckFailed.code();
        }
    };
    // The adapter's VRAM: the driver's backing of its segment.
    let Ok(vram) = Vram::of(adapter.context(), SEGMENT) else {
        let _ = writeln!(
            err,
            "error: the source adapter has no VRAM segment {SEGMENT}"
        );
        return Exit::CheckFailed.code();
    };
    let mut source = Source {
        config,
        adapter: &adapter,
        vram: &vram,
        provider: PartitionVfs::new(layout),
        page: u64::from(config.page_size),
        vfs: Vec::new(),
        writers: &[],
        started: Instant::now(),
        first_rate: args.link_cap.unwrap_or(config.link_bits_per_second) as f64 / 8.0,
        out,
    };
    if let Err(m) = create(&mut source, performant) {
        let _ = writeln!(err, "error: source {m}");
        return Exit::CheckFailed.code();
    }
    let writers: Vec<WriterState> = (0..config.vf_count)
        .map(|_| WriterState::default())
        .collect();
    let timeout = Duration::from_nanos(args.timeout);
    let code = std::thread::scope(|scope| {
        for (i, v) in source.vfs.iter().enumerate() {
            let w = Writer {
                adapter: &adapter,
                vram: &vram,
                reserve: v.side.reserve.clone(),
                workload: &config.workload,
                state: &writers[i],
                id: u64::from(v.side.vf) << 8,
                seed: config.seed,
            };
            scope.spawn(move || w.run());
        }
        source.writers = &writers;
        source.started = Instant::now();
        warm_up(&source);
        let code = attempts(&mut source, &addrs, timeout, args.link_cap, err);
        for w in &writers {
            w.finish();
        }
        code
    });
    let failed = writers
        .iter()
        .map(|w| w.failed_marks.load(Ordering::Relaxed))
        .sum::<u64>();
    teardown(&mut source);
    if failed > 0 {
        let _ = writeln!(err, "error: the driver refused {failed} mark(s)");
    }
    let _ = adapter.remove();
    if failed > 0 && code == 0 {
        Exit::CheckFailed.code()
    } else {
        code
    }
}

/// The source adapter, whether tracking starts at VF creation, and the layout.
fn start(driver: &Driver, config: &MigrationConfig) -> Result<(Adapter, bool, Layout), String> {
    let (adapter, performant) = vfs::start(
        driver,
        config.vram_size,
        config.page_size,
        config.vf_count,
        config.ranges_per_vf,
    )?;
    let layout = config.layout().map_err(|e| e.to_string())?;
    Ok((
        adapter,
        performant && config.tracking == TrackingStart::FromCaps,
        layout,
    ))
}

/// Tears down the VFs still here.
fn teardown(source: &mut Source<'_>) {
    for v in source.vfs.iter().filter(|v| !v.migrated) {
        let _ = vfs::teardown(source.adapter, &mut source.provider, &v.side);
    }
}

/// The target and the retry targets, each a loopback address.
fn resolve(args: &SourceArgs, to: &str) -> Result<Vec<SocketAddr>, String> {
    std::iter::once(to)
        .chain(args.retry_to.iter().map(String::as_str))
        .map(loopback)
        .collect()
}

/// Every VF, programmed by the guest.
fn create(source: &mut Source<'_>, performant: bool) -> Result<(), String> {
    for vf in 0..source.config.vf_count {
        let side = vfs::create(source.adapter, &mut source.provider, vf, performant)?;
        let vgpu = source.provider.vgpu(vf).ok_or("no vGPU")?;
        program_guest(source.adapter, vgpu, source.config.seed)
            .map_err(|s| format!("programming VF {vf} failed: {s:?}"))?;
        let pages = side.reserve.size() / source.page;
        source.vfs.push(SrcVf {
            side,
            carry: vec![0u8; pages.div_ceil(8) as usize],
            pages,
            migrated: false,
        });
    }
    Ok(())
}

/// Waits (at most twice the fill time plus 10 s) until every writer filled its working set.
fn warm_up(source: &Source<'_>) {
    let w = &source.config.workload;
    let fill = w.slots().min(w.write_limit.unwrap_or(u64::MAX));
    let limit = Duration::from_nanos(w.fill_time()).saturating_mul(2) + Duration::from_secs(10);
    let t = Instant::now();
    while t.elapsed() < limit
        && !INTERRUPTED.load(Ordering::Relaxed)
        && source
            .writers
            .iter()
            .any(|s| s.writes.load(Ordering::Relaxed) < fill)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Tries each target in turn until every VF is across; returns the exit code.
fn attempts(
    source: &mut Source<'_>,
    addrs: &[SocketAddr],
    timeout: Duration,
    cap: Option<u64>,
    err: &mut dyn Write,
) -> u8 {
    let mut code = Exit::Passed.code();
    for (n, addr) in addrs.iter().enumerate() {
        let _ = writeln!(source.out, "attempt {}: migrating to {addr}", n + 1);
        let started = Instant::now();
        match attempt(source, *addr, timeout, cap) {
            Ok((results, sent)) => {
                report(source.out, &results, started.elapsed(), sent);
                return Exit::Passed.code();
            }
            Err((abort, recovery)) => {
                code = abort.source_exit().code();
                let _ = writeln!(
                    err,
                    "attempt {}: aborted: {abort} (exit code {code})",
                    n + 1
                );
                let _ = writeln!(
                    source.out,
                    "attempt {}: aborted: {abort} (exit code {code})",
                    n + 1
                );
                if let Some((i, live)) = recovery {
                    survived(source, i, &live);
                }
                if abort == Abort::Interrupted {
                    break;
                }
            }
        }
    }
    code
}

type Recovery = Option<(usize, Live)>;

/// One connection: handshake, every VF not yet across, the end marker.
fn attempt(
    source: &mut Source<'_>,
    addr: SocketAddr,
    timeout: Duration,
    cap: Option<u64>,
) -> Result<(Vec<VfResult>, u64), (Abort, Recovery)> {
    let stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| {
        (
            Abort::Connection(format!("connecting to {addr}: {e}")),
            None,
        )
    })?;
    let mut conn =
        Conn::new(stream, timeout, cap).map_err(|e| (Abort::Connection(e.to_string()), None))?;
    handshake(source, &mut conn).map_err(|a| (a, None))?;
    let mut results = Vec::new();
    for i in 0..source.vfs.len() {
        if source.vfs[i].migrated {
            continue;
        }
        let r = source
            .migrate_vf(&mut conn, i)
            .map_err(|(a, live)| (a, Some((i, live))))?;
        let _ = writeln!(
            source.out,
            "  VF {} across: blackout {:.1} ms measured",
            r.vf,
            r.blackout.as_secs_f64() * 1e3
        );
        let v = &mut source.vfs[i];
        source.writers[i].finish();
        let written =
            source.writers[i].writes.load(Ordering::Relaxed) * source.config.workload.write_size;
        let mut r = r;
        r.written_rate = written as f64 / source.started.elapsed().as_secs_f64().max(1e-9);
        v.carry.fill(0);
        v.migrated = true;
        let _ = vfs::teardown(source.adapter, &mut source.provider, &v.side);
        results.push(r);
    }
    conn.send(Kind::EndMigration, &[]).map_err(|a| (a, None))?;
    conn.expect(Kind::Bye, "waiting for the target's goodbye")
        .map_err(|a| (a, None))?;
    Ok((results, conn.sent))
}

/// Hello: protocol and driver version, page size, the VF sizes. The target
/// answers before anything is prepared or paused.
fn handshake(source: &Source<'_>, conn: &mut Conn) -> Result<(), Abort> {
    let mut w = Vec::new();
    w.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    put_string(&mut w, env!("CARGO_PKG_VERSION"));
    w.extend_from_slice(&source.config.page_size.to_le_bytes());
    w.extend_from_slice(&(source.vfs.len() as u32).to_le_bytes());
    for v in &source.vfs {
        w.extend_from_slice(&v.side.reserve.size().to_le_bytes());
    }
    conn.send(Kind::Hello, &[&w])?;
    let payload = conn.expect(Kind::HelloAck, "waiting for the handshake")?;
    let mut r = Reader::new(&payload);
    if r.u32()? == 0 {
        Ok(())
    } else {
        Err(Abort::Handshake(r.string(512)?))
    }
}

/// After an abort: the VF's state read back through the driver, and its
/// writers' progress over 100 ms.
fn survived(source: &mut Source<'_>, i: usize, live: &Live) {
    let v = &source.vfs[i];
    let vf = v.side.vf;
    let before = source.writers[i].writes.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(100));
    let writes = source.writers[i].writes.load(Ordering::Relaxed) - before;
    let paused = source
        .provider
        .vgpu(vf)
        .and_then(|g| {
            VfSnapshot::take(
                source.adapter,
                g,
                &v.side.reserve,
                v.side.reserve.ranges(),
                v.side.tracking,
            )
            .ok()
        })
        .map(|s| s.paused);
    let state = match (paused, source.writers[i].running()) {
        (Some(false), true) => "running, unpaused",
        (Some(true), _) => "STILL PAUSED",
        _ => "NOT RUNNING",
    };
    let kept = v
        .carry
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum::<u64>();
    let _ = writeln!(source.out, "source VF {vf} aborted in the {}", live.phase);
    let _ = writeln!(
        source.out,
        "source VF {vf} after the abort: {state}; EndLiveMigration {}; {writes} writes in the 100 ms after; {kept} pages kept for the next attempt",
        live.end_status
            .map_or_else(|| "not needed".to_owned(), |s| format!("{s:?}")),
    );
}

/// The measured figures.
fn report(out: &mut dyn Write, results: &[VfResult], wall: Duration, sent: u64) {
    let _ = writeln!(
        out,
        "migration complete over the wire (measured on this host):"
    );
    for r in results {
        let pre: Vec<_> = r.rounds.iter().filter(|x| !x.blackout).collect();
        let bytes: u64 = pre.iter().map(|x| x.wire_bytes).sum();
        let secs: f64 = pre.iter().map(|x| x.transfer.as_secs_f64()).sum();
        let rate = if secs > 0.0 {
            bytes as f64 * 8e-9 / secs
        } else {
            0.0
        };
        let last = r.rounds.last();
        let _ = writeln!(
            out,
            "  VF {}: {} pre-copy round(s) ({}), {:.2} Gbit/s measured over them; blackout {:.1} ms measured ({} pages, harvest {:.2} ms); proof {:.1} ms; total {:.1} ms; {} bytes sent",
            r.vf,
            pre.len(),
            r.convergence,
            rate,
            r.blackout.as_secs_f64() * 1e3,
            last.map_or(0, |x| x.pages),
            last.map_or(0.0, |x| x.harvest.as_secs_f64() * 1e3),
            r.proof.as_secs_f64() * 1e3,
            r.total.as_secs_f64() * 1e3,
            r.bytes,
        );
        let _ = writeln!(
            out,
            "  VF {}: proof passed: {} VRAM pages identical (BLAKE3), VF state identical",
            r.vf, r.pages_proved
        );
        let _ = writeln!(
            out,
            "  VF {}: its writers achieved {:.0} MiB/s on the wall clock",
            r.vf,
            r.written_rate / f64::from(1u32 << 20)
        );
    }
    let _ = writeln!(out, "total: {:.3} s, {sent} bytes sent", wall.as_secs_f64());
}
