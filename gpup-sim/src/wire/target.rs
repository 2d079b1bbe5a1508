//! `gpup-sim target --listen ADDR`: the target process. It loads the
//! driver, waits for one source, checks its handshake against its own
//! adapter (page size, VF sizes, versions: a mismatch is refused before the
//! source prepares or pauses anything), then creates each VF through the
//! partition interface when the stream asks for it and plays the target's
//! half of the OS sequence. On any abort it tears down what it created
//! (EndLiveMigration for a prepared VF, then the OS's teardown) and exits
//! with a code that says why.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use dxgkrnl_model::live::{MigrationData, MigrationType};
use dxgkrnl_model::migration::SEGMENT;
use dxgkrnl_model::vf::{Layout, PartitionVfs, VfProvider};
use dxgkrnl_model::vfstate::{VfSnapshot, program_interrupts};
use dxgkrnl_model::vram::Vram;
use dxgkrnl_model::{Adapter, Driver};

use super::frame::{Abort, Conn, INTERRUPTED, Kind, MAX_RUN, Reader, put_string};
use super::proof::{encode_snapshot, hash_chunks, write_run};
use super::vfs::{self, SideVf};
use super::{Fault, PROTOCOL_VERSION, TargetArgs, loopback};
use crate::exit::Exit;

/// The seed of this target host's interrupt routing (`interrupt_entries` of
/// host 1): the target's OS programs each VF's MSI-X entries with it, and the
/// source checks the target's entries against it.
pub const TARGET_ROUTING_SEED: u64 = 0;

/// A VF this target created.
struct TgtVf {
    side: SideVf,
    prepared: bool,
}

/// The target's state once the handshake passed.
struct Target<'a> {
    adapter: &'a Adapter,
    vram: &'a Vram,
    provider: PartitionVfs,
    layout: Layout,
    page: u64,
    performant: bool,
    vfs: Vec<TgtVf>,
    fault: Option<Fault>,
    /// Pages received in the current round.
    round_pages: u64,
    out: &'a mut dyn Write,
}

/// Runs the target; returns the exit code.
pub fn run(args: &TargetArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let addr = match loopback(&args.listen) {
        Ok(a) => a,
        Err(m) => {
            let _ = writeln!(err, "error: {m}");
            return Exit::BadOptions.code();
        }
    };
    let listener = match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            let _ = writeln!(err, "error: cannot listen on {addr}: {e}");
            return Exit::BadOptions.code();
        }
    };
    let local = listener.local_addr().map_or(addr, |a| a);
    let _ = writeln!(out, "target: listening on {local}");
    let _ = out.flush();
    let Ok(driver) = Driver::load() else {
        let _ = writeln!(err, "error: DriverEntry failed");
        return Exit::CheckFailed.code();
    };
    let timeout = Duration::from_nanos(args.timeout);
    let stream = match accept(&listener, Duration::from_nanos(args.accept_timeout)) {
        Ok(s) => s,
        Err(a) => {
            let _ = writeln!(err, "target: aborted: {a}");
            return a.target_exit().code();
        }
    };
    let Ok(mut conn) = Conn::new(stream, timeout, None) else {
        return Exit::TargetConnectionLost.code();
    };
    let code = session(args, &driver, &mut conn, out);
    if code != 0 {
        let _ = writeln!(err, "target: exit code {code}");
    }
    code
}

/// Waits for one source, looking at Ctrl-C.
fn accept(listener: &TcpListener, limit: Duration) -> Result<TcpStream, Abort> {
    listener
        .set_nonblocking(true)
        .map_err(|e| Abort::Connection(e.to_string()))?;
    let t = Instant::now();
    loop {
        if INTERRUPTED.load(Ordering::Relaxed) {
            return Err(Abort::Interrupted);
        }
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)
                    .map_err(|e| Abort::Connection(e.to_string()))?;
                return Ok(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if t.elapsed() > limit {
                    return Err(Abort::Timeout(format!("no source connected in {limit:?}")));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(Abort::Connection(e.to_string())),
        }
    }
}

/// The handshake, then the stream; tears down and returns the exit code.
fn session(args: &TargetArgs, driver: &Driver, conn: &mut Conn, out: &mut dyn Write) -> u8 {
    let hello = match conn
        .expect(Kind::Hello, "waiting for the handshake")
        .and_then(|p| check_hello(args, &p))
    {
        Ok(h) => h,
        Err(a) => {
            let mut w = 1u32.to_le_bytes().to_vec();
            let reason = match &a {
                Abort::Handshake(m) => m.clone(),
                other => other.to_string(),
            };
            put_string(&mut w, &reason);
            let _ = conn.send(Kind::HelloAck, &[&w]);
            let _ = writeln!(out, "target: refused: {a}");
            return a.target_exit().code();
        }
    };
    let (layout, vfs) = hello;
    let page = args.page_size as u32;
    let started = vfs::start(driver, args.vram, page, vfs, args.ranges);
    // The adapter's VRAM: the driver's backing of its segment.
    let with_vram = started.ok().and_then(|(adapter, performant)| {
        let vram = Vram::of(adapter.context(), SEGMENT).ok()?;
        Some((adapter, performant, vram))
    });
    let Some((adapter, performant, vram)) = with_vram else {
        let mut w = 1u32.to_le_bytes().to_vec();
        put_string(
            &mut w,
            "the target cannot start its adapter or allocate its VRAM",
        );
        let _ = conn.send(Kind::HelloAck, &[&w]);
        return Exit::TargetDriverFailed.code();
    };
    let mut w = 0u32.to_le_bytes().to_vec();
    put_string(&mut w, "");
    let mut target = Target {
        adapter: &adapter,
        vram: &vram,
        provider: PartitionVfs::new(layout.clone()),
        layout,
        page: args.page_size,
        performant,
        vfs: Vec::new(),
        fault: args.fault,
        round_pages: 0,
        out,
    };
    let result = conn
        .send(Kind::HelloAck, &[&w])
        .and_then(|()| target.serve(conn));
    let code = match &result {
        Ok(()) => Exit::Passed.code(),
        Err(a) => {
            let _ = writeln!(
                target.out,
                "target: aborted: {a}; tearing down what it created"
            );
            if !matches!(a, Abort::PeerAborted(_) | Abort::Connection(_)) {
                conn.send_abort(&a.to_string());
            }
            a.target_exit().code()
        }
    };
    target.teardown();
    drop(target);
    let _ = adapter.remove();
    code
}

/// Checks the source's Hello against this target; returns its layout and the VF count.
fn check_hello(args: &TargetArgs, payload: &[u8]) -> Result<(Layout, u32), Abort> {
    let mut r = Reader::new(payload);
    let version = r.u32()?;
    if version != PROTOCOL_VERSION {
        return Err(Abort::Handshake(format!(
            "protocol version {version}, this target speaks {PROTOCOL_VERSION}"
        )));
    }
    let driver = r.string(64)?;
    if driver != env!("CARGO_PKG_VERSION") {
        return Err(Abort::Handshake(format!(
            "driver version {driver}, this target runs {}",
            env!("CARGO_PKG_VERSION")
        )));
    }
    let page = u64::from(r.u32()?);
    if page != args.page_size {
        return Err(Abort::Handshake(format!(
            "page size {page}, this target tracks {}-byte pages",
            args.page_size
        )));
    }
    let vfs = r.u32()?;
    if vfs == 0 || vfs > 32 {
        return Err(Abort::Handshake(format!("{vfs} VFs is not in 1..=32")));
    }
    let layout =
        Layout::new(SEGMENT, args.vram, page, vfs, args.ranges).map_err(Abort::Handshake)?;
    for vf in 0..vfs {
        let size = r.u64()?;
        let mine = layout.reserve(vf).map_or(0, |x| x.size());
        if size != mine {
            return Err(Abort::Handshake(format!(
                "VF {vf} is {size} bytes, this target's would be {mine}"
            )));
        }
    }
    Ok((layout, vfs))
}

fn status_payload(status: dxgk_sys::NTSTATUS) -> [u8; 4] {
    status.0.cast_unsigned().to_le_bytes()
}

impl Target<'_> {
    fn current(&mut self, vf: u32) -> Result<&mut TgtVf, Abort> {
        self.vfs
            .last_mut()
            .filter(|v| v.side.vf == vf && v.prepared)
            .ok_or_else(|| Abort::Protocol(format!("a frame for VF {vf}, which is not migrating")))
    }

    /// Frames until EndMigration.
    fn serve(&mut self, conn: &mut Conn) -> Result<(), Abort> {
        loop {
            let (kind, payload) = conn.recv("waiting for the source")?;
            let mut r = Reader::new(&payload);
            match kind {
                Kind::BeginVf => self.begin(r.u32()?, r.u64()?)?,
                Kind::Immutable => {
                    self.restore(conn, r.u32()?, r.rest(), MigrationData::Immutable)?
                }
                Kind::Pages => self.pages(r.u32()?, r.u64()?, r.rest())?,
                Kind::EndRound => self.end_round(conn, r.u32()?, r.u32()? != 0, r.u64()?)?,
                Kind::Mutable => {
                    let vf = r.u32()?;
                    if self.fault == Some(Fault::DropInBlackout) {
                        conn.close();
                        return Err(Abort::Connection(
                            "fault injection: closed in the blackout".into(),
                        ));
                    }
                    let mut blob = r.rest().to_vec();
                    if self.fault == Some(Fault::CorruptMutable) {
                        let middle = blob.len() / 2;
                        if let Some(b) = blob.get_mut(middle) {
                            *b ^= 0x10;
                        }
                    }
                    self.restore(conn, vf, &blob, MigrationData::Mutable)?;
                    if self.fault == Some(Fault::DropAfterRestore) {
                        conn.close();
                        return Err(Abort::Connection(
                            "fault injection: closed after the mutable restore".into(),
                        ));
                    }
                }
                Kind::ProofRequest => self.proof(conn, r.u32()?)?,
                Kind::Commit => self.commit(conn, r.u32()?)?,
                Kind::EndMigration => {
                    conn.send(Kind::Bye, &[])?;
                    return Ok(());
                }
                other => return Err(Abort::Protocol(format!("unexpected {other:?} frame"))),
            }
        }
    }

    /// BeginVf: create the VF, PrepareLiveMigration(TARGET), pause it for the transfer.
    fn begin(&mut self, vf: u32, size: u64) -> Result<(), Abort> {
        let planned = self.layout.reserve(vf).map_or(0, |x| x.size());
        if size != planned || self.vfs.iter().any(|v| v.side.vf == vf) {
            return Err(Abort::Protocol(format!(
                "BeginVf for VF {vf} of {size} bytes"
            )));
        }
        let side = vfs::create(self.adapter, &mut self.provider, vf, self.performant)
            .map_err(Abort::Driver)?;
        self.vfs.push(TgtVf {
            side,
            prepared: false,
        });
        let status = self
            .adapter
            .prepare_live_migration(vf, MigrationType::Target);
        if !status.is_success() {
            return Err(Abort::Driver(format!(
                "PrepareLiveMigration(TARGET) failed: {status:?}"
            )));
        }
        if let Some(v) = self.vfs.last_mut() {
            v.prepared = true;
        }
        // The target VM starts as a new VM: its OS virtualizes the interrupt
        // table and programs the entries with this host's routing before any
        // Restore (which must keep them), as the modelled mode does.
        self.provider
            .vgpu(vf)
            .ok_or_else(|| Abort::Driver(format!("VF {vf} has no vGPU")))
            .and_then(|vgpu| {
                program_interrupts(self.adapter, vgpu, TARGET_ROUTING_SEED, 1)
                    .map_err(|s| Abort::Driver(format!("WriteVirtualizedInterrupt failed: {s:?}")))
            })?;
        let status = self.adapter.set_vf_pause(vf, true);
        if !status.is_success() {
            return Err(Abort::Driver(format!(
                "SetVirtualFunctionPauseState(TRUE) failed: {status:?}"
            )));
        }
        self.round_pages = 0;
        let _ = writeln!(self.out, "target: VF {vf} created, prepared and paused");
        Ok(())
    }

    /// A saved-state blob, restored verbatim; the status goes back.
    fn restore(
        &mut self,
        conn: &mut Conn,
        vf: u32,
        blob: &[u8],
        kind: MigrationData,
    ) -> Result<(), Abort> {
        self.current(vf)?;
        let status = self.adapter.restore_migration_data(kind, vf, blob);
        conn.send(Kind::BlobAck, &[&status_payload(status)])?;
        if status.is_success() {
            Ok(())
        } else {
            Err(Abort::Refused(format!("{kind:?} data"), status.0))
        }
    }

    /// A run of dirty pages, its bounds checked before it is written.
    fn pages(&mut self, vf: u32, addr: u64, bytes: &[u8]) -> Result<(), Abort> {
        let page = self.page;
        let v = self.current(vf)?;
        let len = bytes.len() as u64;
        let size = v.side.reserve.size();
        if len == 0
            || len > MAX_RUN as u64
            || !addr.is_multiple_of(page)
            || !len.is_multiple_of(page)
            || addr.checked_add(len).is_none_or(|end| end > size)
        {
            return Err(Abort::Protocol(format!(
                "a run of {len} bytes at {addr:#x} does not fit VF {vf}'s {size}-byte reserve in whole pages"
            )));
        }
        let reserve = v.side.reserve.clone();
        if !write_run(self.vram, &reserve, addr, bytes) {
            return Err(Abort::Protocol(format!(
                "a run at {addr:#x} cannot be written"
            )));
        }
        self.round_pages += len / page;
        Ok(())
    }

    /// The end of a round: the page count checked, then the ack.
    fn end_round(
        &mut self,
        conn: &mut Conn,
        round: u32,
        blackout: bool,
        pages: u64,
    ) -> Result<(), Abort> {
        if pages != self.round_pages {
            return Err(Abort::Protocol(format!(
                "round {round}: {pages} pages announced, {} received",
                self.round_pages
            )));
        }
        self.round_pages = 0;
        if !blackout {
            match self.fault {
                Some(Fault::DropInPrecopy) => {
                    conn.close();
                    return Err(Abort::Connection(
                        "fault injection: closed in pre-copy".into(),
                    ));
                }
                Some(Fault::Stall) => {
                    let _ = writeln!(self.out, "target: fault injection: stalling");
                    let t = Instant::now();
                    while !INTERRUPTED.load(Ordering::Relaxed)
                        && t.elapsed() < Duration::from_secs(600)
                    {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    return Err(Abort::Interrupted);
                }
                _ => {}
            }
        }
        conn.send(Kind::RoundAck, &[&round.to_le_bytes(), &0u32.to_le_bytes()])
    }

    /// The VF's chunk hashes and state.
    fn proof(&mut self, conn: &mut Conn, vf: u32) -> Result<(), Abort> {
        let (reserve, tracking) = {
            let v = self.current(vf)?;
            (v.side.reserve.clone(), v.side.tracking)
        };
        let hashes = hash_chunks(self.vram, &reserve, self.page);
        let vgpu = self
            .provider
            .vgpu(vf)
            .ok_or_else(|| Abort::Driver(format!("VF {vf} has no vGPU")))?;
        let snapshot =
            VfSnapshot::take(self.adapter, vgpu, &reserve, reserve.ranges(), tracking)
                .map_err(|s| Abort::Driver(format!("reading VF {vf}'s state failed: {s:?}")))?;
        let mut w = (hashes.len() as u32).to_le_bytes().to_vec();
        for h in &hashes {
            w.extend_from_slice(h);
        }
        w.extend_from_slice(&encode_snapshot(&snapshot));
        conn.send(Kind::Proof, &[&w])
    }

    /// EndLiveMigration, unpause: the VF runs here.
    fn commit(&mut self, conn: &mut Conn, vf: u32) -> Result<(), Abort> {
        self.current(vf)?;
        let mut status = self.adapter.end_live_migration(vf);
        if status.is_success() {
            if let Some(v) = self.vfs.last_mut() {
                v.prepared = false;
            }
            status = self.adapter.set_vf_pause(vf, false);
        }
        conn.send(Kind::Resumed, &[&status_payload(status)])?;
        if !status.is_success() {
            return Err(Abort::Driver(format!(
                "ending VF {vf}'s migration failed: {status:?}"
            )));
        }
        let _ = writeln!(self.out, "target: VF {vf} arrived and runs");
        Ok(())
    }

    /// Everything this target created: EndLiveMigration for a VF still in
    /// migration, then the OS's teardown.
    fn teardown(&mut self) {
        for v in core::mem::take(&mut self.vfs) {
            if v.prepared {
                let _ = self.adapter.end_live_migration(v.side.vf);
            }
            let status = vfs::teardown(self.adapter, &mut self.provider, &v.side);
            let _ = writeln!(self.out, "target: VF {} torn down ({status:?})", v.side.vf);
        }
    }
}
