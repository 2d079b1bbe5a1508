//! One VF's migration on the source, over the wire: the OS sequence of the
//! modelled mode (`dxgkrnl_model::migration`, sections 5.3 and 5.5) with the
//! target's DDIs on the other end of a [`Conn`]. Every step has a deadline
//! (the connection's); any failure returns an [`Abort`] and
//! [`Source::migrate_vf`] recovers the VF: Abort sent to the target (best
//! effort), EndLiveMigration, unpause, writers resumed. The bits each
//! harvest cleared stay in the VF's `carry` until a migration of it
//! completes, so no page is lost to the next attempt.

use std::io::Write;
use std::time::{Duration, Instant};

use dxgk_sys::NTSTATUS;
use dxgkrnl_model::Adapter;
use dxgkrnl_model::live::{MigrationData, MigrationType};
use dxgkrnl_model::migration::MigrationConfig;
use dxgkrnl_model::vf::{PartitionVfs, VfProvider};
use dxgkrnl_model::vfstate::{VfSnapshot, interrupt_entries};
use dxgkrnl_model::vram::Vram;

use super::frame::{Abort, Conn, Kind, MAX_RUN, Reader};
use super::proof::{decode_snapshot, differing_chunks, hash_chunks, read_run};
use super::vfs::SideVf;
use super::writers::WriterState;

/// A source VF.
#[derive(Debug)]
pub struct SrcVf {
    /// The VF on this adapter.
    pub side: SideVf,
    /// Every page a harvest reported since the VF's last completed migration
    /// (RTL_BITMAP order): what the next attempt's first round sends.
    pub carry: Vec<u8>,
    /// Pages of its reserve.
    pub pages: u64,
    /// Whether it is across (and torn down here).
    pub migrated: bool,
}

/// One measured round.
#[derive(Debug, Clone)]
pub struct Round {
    /// The blackout round (VF paused).
    pub blackout: bool,
    /// Pages sent.
    pub pages: u64,
    /// Bytes on the wire for it (headers included).
    pub wire_bytes: u64,
    /// The harvest's wall time.
    pub harvest: Duration,
    /// Wall time from the first page sent to the target's round ack.
    pub transfer: Duration,
}

/// What a completed VF migration measured.
#[derive(Debug, Clone)]
pub struct VfResult {
    /// The VF.
    pub vf: u32,
    /// Its rounds, the blackout last.
    pub rounds: Vec<Round>,
    /// Why pre-copy stopped.
    pub convergence: &'static str,
    /// Wall time from the source's pause to the target's ack of the mutable restore.
    pub blackout: Duration,
    /// Wall time of the proof (both VFs still paused).
    pub proof: Duration,
    /// Wall time of the whole VF migration.
    pub total: Duration,
    /// Bytes sent for this VF (headers included).
    pub bytes: u64,
    /// VRAM pages the proof hashed.
    pub pages_proved: u64,
    /// The rate its writers achieved on the wall clock since they started, bytes/s.
    pub written_rate: f64,
}

/// Where the protocol stands, for the recovery.
#[derive(Debug, Default)]
pub struct Live {
    prepared: bool,
    paused: bool,
    /// EndLiveMigration's status in the recovery.
    pub end_status: Option<NTSTATUS>,
    /// The phase the migration was in: "start", "pre-copy", "blackout",
    /// "proof (after the mutable restore)" or "commit".
    pub phase: &'static str,
}

/// The source: its adapter, VRAM, VFs and their writers.
pub struct Source<'a> {
    /// What runs.
    pub config: &'a MigrationConfig,
    /// The source adapter.
    pub adapter: &'a Adapter,
    /// Its VRAM.
    pub vram: &'a Vram,
    /// Its VFs.
    pub provider: PartitionVfs,
    /// Page size, bytes.
    pub page: u64,
    /// The VFs, by index.
    pub vfs: Vec<SrcVf>,
    /// Their writers.
    pub writers: &'a [WriterState],
    /// The first round's rate estimate before anything was measured, bytes/s.
    pub first_rate: f64,
    /// The report.
    pub out: &'a mut dyn Write,
    /// When the writers started.
    pub started: Instant,
}

fn driver(step: &str, status: NTSTATUS) -> Result<(), Abort> {
    if status.is_success() {
        Ok(())
    } else {
        Err(Abort::Driver(format!("{step} failed: {status:?}")))
    }
}

fn acked(payload: &[u8], step: &str) -> Result<(), Abort> {
    let status = Reader::new(payload).u32()?.cast_signed();
    if status >= 0 {
        Ok(())
    } else {
        Err(Abort::Refused(step.into(), status))
    }
}

/// The runs (first page, count) of set bits, at most `max` pages each.
fn runs(bits: &[u8], pages: u64, max: u64) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (i, byte) in (0u64..).zip(bits) {
        if *byte == 0 {
            continue;
        }
        for b in 0..8 {
            let page = i * 8 + b;
            if byte >> b & 1 == 0 || page >= pages {
                continue;
            }
            match out.last_mut() {
                Some((first, n)) if *first + *n == page && *n < max => *n += 1,
                _ => out.push((page, 1)),
            }
        }
    }
    out
}

fn count(bits: &[u8]) -> u64 {
    bits.iter().map(|b| u64::from(b.count_ones())).sum()
}

impl Source<'_> {
    /// Migrates VF index `i` over `conn`; on failure recovers the VF (see
    /// the module docs) and returns the abort with the recovery's outcome.
    ///
    /// # Errors
    /// Why the migration stopped.
    pub fn migrate_vf(&mut self, conn: &mut Conn, i: usize) -> Result<VfResult, (Abort, Live)> {
        let mut live = Live {
            phase: "start",
            ..Live::default()
        };
        match self.try_migrate(conn, i, &mut live) {
            Ok(result) => Ok(result),
            Err(abort) => {
                conn.send_abort(&abort.to_string());
                let vf = self.vfs[i].side.vf;
                if live.prepared {
                    live.end_status = Some(self.adapter.end_live_migration(vf));
                }
                if live.paused {
                    let _ = self.adapter.set_vf_pause(vf, false);
                }
                self.writers[i].resume();
                Err((abort, live))
            }
        }
    }

    fn try_migrate(
        &mut self,
        conn: &mut Conn,
        i: usize,
        live: &mut Live,
    ) -> Result<VfResult, Abort> {
        let start = Instant::now();
        let sent = conn.sent;
        let vf = self.vfs[i].side.vf;
        let size = self.vfs[i].side.reserve.size();
        conn.send(Kind::BeginVf, &[&vf.to_le_bytes(), &size.to_le_bytes()])?;
        driver(
            "PrepareLiveMigration(SOURCE)",
            self.adapter
                .prepare_live_migration(vf, MigrationType::Source),
        )?;
        live.prepared = true;
        let immutable = self
            .adapter
            .save_migration_data(MigrationData::Immutable, vf)
            .map_err(|s| Abort::Driver(format!("SaveImmutableMigrationData failed: {s:?}")))?;
        conn.send(Kind::Immutable, &[&vf.to_le_bytes(), &immutable])?;
        acked(
            &conn.expect(Kind::BlobAck, "waiting for the immutable restore")?,
            "immutable data",
        )?;
        let v = &mut self.vfs[i];
        if !v.side.tracking {
            // Tracking starts now: nothing says which pages the VF wrote
            // before, so every page is owed.
            driver(
                "StartDirtyTracking",
                self.adapter.start_dirty_tracking(v.side.basis),
            )?;
            v.side.tracking = true;
            for page in 0..v.pages {
                v.carry[(page / 8) as usize] |= 1 << (page % 8);
            }
        }
        let mut pending = self.vfs[i].carry.clone();
        live.phase = "pre-copy";
        let (mut rounds, convergence) = self.precopy(conn, i, &mut pending)?;
        live.phase = "blackout";
        let blackout = self.blackout(conn, i, live, &mut pending, &mut rounds)?;
        live.phase = "proof (after the mutable restore)";
        let proving = Instant::now();
        let pages_proved = self.prove(conn, i)?;
        let proof = proving.elapsed();
        live.phase = "commit";
        conn.send(Kind::Commit, &[&vf.to_le_bytes()])?;
        acked(
            &conn.expect(Kind::Resumed, "waiting for the target to resume")?,
            "commit",
        )?;
        driver(
            "EndLiveMigration (source)",
            self.adapter.end_live_migration(vf),
        )?;
        live.prepared = false;
        Ok(VfResult {
            vf,
            rounds,
            convergence,
            blackout,
            proof,
            total: start.elapsed(),
            bytes: conn.sent - sent,
            pages_proved,
            written_rate: 0.0,
        })
    }

    /// A CLEARDATA harvest into `fresh`, OR-ed into the VF's carry and `pending`.
    fn harvest(
        &mut self,
        i: usize,
        fresh: &mut [u8],
        pending: &mut [u8],
    ) -> Result<Duration, Abort> {
        fresh.fill(0);
        let t = Instant::now();
        let v = &mut self.vfs[i];
        driver(
            "QueryDirtyBitData",
            self.adapter
                .query_dirty_bits(v.side.basis, None, true, fresh),
        )?;
        let took = t.elapsed();
        for ((c, p), f) in v.carry.iter_mut().zip(pending.iter_mut()).zip(fresh.iter()) {
            *c |= f;
            *p |= f;
        }
        Ok(took)
    }

    /// Sends the pages set in `pending` as runs, then the end-of-round marker.
    fn send_pages(
        &mut self,
        conn: &mut Conn,
        i: usize,
        pending: &[u8],
        round: u32,
        blackout: bool,
    ) -> Result<u64, Abort> {
        let v = &self.vfs[i];
        let mut buf = Vec::with_capacity(MAX_RUN);
        let mut n = 0;
        for (first, count) in runs(pending, v.pages, MAX_RUN as u64 / self.page) {
            buf.clear();
            let addr = first * self.page;
            if !read_run(
                self.vram,
                &v.side.reserve,
                addr,
                count * self.page,
                &mut buf,
            ) {
                return Err(Abort::Driver(format!(
                    "VF {}: page {first} is outside its reserve",
                    v.side.vf
                )));
            }
            conn.send(
                Kind::Pages,
                &[&v.side.vf.to_le_bytes(), &addr.to_le_bytes(), &buf],
            )?;
            n += count;
        }
        conn.send(
            Kind::EndRound,
            &[
                &round.to_le_bytes(),
                &u32::from(blackout).to_le_bytes(),
                &n.to_le_bytes(),
            ],
        )?;
        Ok(n)
    }

    /// The brownout rounds, stopped by the modelled mode's policy on the
    /// measured rate: when the pending bytes would cross in the downtime
    /// budget, or at the maximum number of rounds.
    fn precopy(
        &mut self,
        conn: &mut Conn,
        i: usize,
        pending: &mut [u8],
    ) -> Result<(Vec<Round>, &'static str), Abort> {
        let mut fresh = vec![0u8; pending.len()];
        let mut rate = self.first_rate;
        let mut rounds = Vec::new();
        let budget = self.config.downtime_budget.as_secs_f64();
        for round in 1.. {
            let harvest = self.harvest(i, &mut fresh, pending)?;
            let pages = count(pending);
            if (pages * self.page) as f64 / rate <= budget {
                return Ok((rounds, "downtime budget"));
            }
            if round >= self.config.max_rounds {
                return Ok((rounds, "max rounds"));
            }
            let (t, sent) = (Instant::now(), conn.sent);
            self.send_pages(conn, i, pending, round, false)?;
            let _ = conn.expect(Kind::RoundAck, "waiting for a round's ack")?;
            let r = Round {
                blackout: false,
                pages,
                wire_bytes: conn.sent - sent,
                harvest,
                transfer: t.elapsed(),
            };
            rate = r.wire_bytes as f64 / r.transfer.as_secs_f64().max(1e-9);
            let _ = writeln!(
                self.out,
                "  VF {} round {round}: {pages} pages, {} bytes in {:.1} ms: {:.2} Gbit/s measured",
                self.vfs[i].side.vf,
                r.wire_bytes,
                r.transfer.as_secs_f64() * 1e3,
                rate * 8e-9
            );
            rounds.push(r);
            pending.fill(0);
        }
        Ok((rounds, "max rounds"))
    }

    /// The blackout: writers parked, the VF paused, the last harvest, the
    /// mutable data saved; everything pending, the end-of-round marker and
    /// the mutable blob sent; over at the target's ack of its restore.
    fn blackout(
        &mut self,
        conn: &mut Conn,
        i: usize,
        live: &mut Live,
        pending: &mut [u8],
        rounds: &mut Vec<Round>,
    ) -> Result<Duration, Abort> {
        let vf = self.vfs[i].side.vf;
        self.writers[i].pause();
        let paused = Instant::now();
        live.paused = true;
        driver(
            "SetVirtualFunctionPauseState(TRUE)",
            self.adapter.set_vf_pause(vf, true),
        )?;
        let mut fresh = vec![0u8; pending.len()];
        let harvest = self.harvest(i, &mut fresh, pending)?;
        let mutable = self
            .adapter
            .save_migration_data(MigrationData::Mutable, vf)
            .map_err(|s| Abort::Driver(format!("SaveMutableMigrationData failed: {s:?}")))?;
        let (t, sent) = (Instant::now(), conn.sent);
        let round = u32::try_from(rounds.len() + 1).unwrap_or(u32::MAX);
        let pages = self.send_pages(conn, i, pending, round, true)?;
        conn.send(Kind::Mutable, &[&vf.to_le_bytes(), &mutable])?;
        let _ = conn.expect(Kind::RoundAck, "waiting for the blackout round's ack")?;
        acked(
            &conn.expect(Kind::BlobAck, "waiting for the mutable restore")?,
            "mutable data",
        )?;
        let blackout = paused.elapsed();
        rounds.push(Round {
            blackout: true,
            pages,
            wire_bytes: conn.sent - sent,
            harvest,
            transfer: t.elapsed(),
        });
        Ok(blackout)
    }

    /// Both VFs paused: the target's chunk hashes and VF state against ours.
    fn prove(&mut self, conn: &mut Conn, i: usize) -> Result<u64, Abort> {
        let v = &self.vfs[i];
        let vf = v.side.vf;
        conn.send(Kind::ProofRequest, &[&vf.to_le_bytes()])?;
        let ours = hash_chunks(self.vram, &v.side.reserve, self.page);
        let vgpu = self
            .provider
            .vgpu(vf)
            .ok_or_else(|| Abort::Driver(format!("VF {vf} has no vGPU")))?;
        let mine = VfSnapshot::take(
            self.adapter,
            vgpu,
            &v.side.reserve,
            v.side.reserve.ranges(),
            v.side.tracking,
        )
        .map_err(|s| Abort::Driver(format!("reading VF {vf}'s state failed: {s:?}")))?;
        let payload = conn.expect(Kind::Proof, "waiting for the target's proof")?;
        let mut r = Reader::new(&payload);
        let n = r.u32()? as usize;
        if n != ours.len() {
            return Err(Abort::Proof(vec![format!(
                "VRAM: {} chunk hashes here, {n} from the target",
                ours.len()
            )]));
        }
        let mut theirs = Vec::with_capacity(n);
        for _ in 0..n {
            let mut h = [0u8; 32];
            h.copy_from_slice(r.bytes(32)?);
            theirs.push(h);
        }
        let target = decode_snapshot(&mut r, &mine)?;
        let mut diffs = differing_chunks(&ours, &theirs, v.pages);
        diffs.extend(mine.differences(&target));
        diffs.extend(target.interrupts_differ_from(&interrupt_entries(
            vf,
            super::target::TARGET_ROUTING_SEED,
            1,
        )));
        if diffs.is_empty() {
            Ok(v.pages)
        } else {
            Err(Abort::Proof(diffs))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::runs;

    #[test]
    fn runs_are_contiguous_pages_cut_at_the_maximum() {
        assert_eq!(
            runs(&[0b1110_0111, 0b1], 16, 2),
            vec![(0, 2), (2, 1), (5, 2), (7, 2)]
        );
        assert_eq!(runs(&[0xFF], 3, 64), vec![(0, 3)]);
    }
}
