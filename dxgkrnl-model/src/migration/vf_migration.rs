//! One VF's migration, the protocol of sections 5.3 and 5.5 with the
//! pre-copy rounds between them: the immutable data first, brownout rounds
//! while the VF runs, then the blackout (pause, last harvest, mutable data,
//! last pages), the end of the protocol and the proof.

use std::time::Duration;

use super::bits::{count_bits, mark_all};
use super::config::{EngineTotals, MigrationError};
use super::report::{Convergence, Phase, RoundReport, Side, Step, VfReport};
use super::session::Run;
use crate::live::{MigrationData, MigrationType};
use crate::vf::VfProvider;
use crate::vram::Vram;
use crate::writers::{Clock, WriterGroup, WriterTotals};

/// One VF's migration under way: where it stands in modelled time, and the
/// pages still to send.
struct Migrating {
    /// Index of the VF in [`Run::vfs`].
    i: usize,
    vf: u32,
    /// Modelled time the migration started (a query instant).
    start: u64,
    /// Modelled time now.
    now: u64,
    /// Pages of the reserve.
    pages: u64,
    /// Whether tracking ran from the VF's creation (else it starts now, and
    /// the first round sends the whole reserve).
    tracked_from_creation: bool,
    /// The pages to send, RTL_BITMAP order.
    pending: Vec<u8>,
    /// The rounds so far.
    rounds: Vec<RoundReport>,
    /// The current round, 1-based.
    round: u32,
    /// Whether the current round sends the whole reserve (tracking just started).
    whole_reserve: bool,
    /// What the engine wrote inside the reserve so far.
    engine: EngineTotals,
}

/// What the blackout did.
struct Blackout {
    /// Modelled blackout: the final query's measured time plus the final
    /// round's modelled transfer, nanoseconds.
    ns: u64,
    /// The mutable data saved in the pause.
    mutable: Vec<u8>,
}

impl Run<'_> {
    /// Migrates every VF in turn (the others keep running), each source VF
    /// torn down once it is across; returns the reports in migration order.
    pub(super) fn migrate_all(
        &mut self,
        clock: &Clock,
        groups: &[WriterGroup],
        src: &Vram,
        dst: &Vram,
        source_vfs: &mut dyn VfProvider,
        target_vfs: &dyn VfProvider,
    ) -> Result<Vec<VfReport>, MigrationError> {
        let mut now = self.config.workload.fill_time();
        if now == u64::MAX {
            now = 0;
        }
        now = self.advance(
            clock,
            groups,
            now,
            "warm-up: the VFs fill their working sets (modelled µs)",
        );
        let mut reports = Vec::new();
        for i in 0..self.vfs.len() {
            let vfs = (&*source_vfs, target_vfs);
            let (report, end) = self.migrate(i, now, clock, groups, (src, dst), vfs)?;
            now = end;
            self.teardown_source(i, source_vfs)?;
            reports.push(report);
        }
        Ok(reports)
    }

    /// Migrates VF `i`, starting at modelled time `start` (a query instant);
    /// returns its report and the query instant at which the next VF starts.
    fn migrate(
        &mut self,
        i: usize,
        start: u64,
        clock: &Clock,
        groups: &[WriterGroup],
        vram: (&Vram, &Vram),
        vfs: (&dyn VfProvider, &dyn VfProvider),
    ) -> Result<(VfReport, u64), MigrationError> {
        let mut m = self.begin(i, start)?;
        let immutable = self.send_immutable(&mut m)?;
        // The VF's GPU work on the engine as its migration starts (round 0,
        // before the first harvest), then after each pre-copy round's copy.
        self.engine_round(i, 0, &mut m.engine)?;
        let convergence = self.precopy(&mut m, clock, groups, vram)?;
        let mut blackout = self.blackout(&mut m, clock, groups, vram)?;
        let protocol = self.finish_protocol(i, vfs, immutable.len(), &mut blackout.mutable)?;
        m.now = m.now.saturating_add(blackout.ns);
        let end = m.now;
        // The other VFs run on through this VF's blackout.
        groups[i].finish(clock);
        let next = self.advance(
            clock,
            groups,
            m.now,
            &format!("VF {} blackout (modelled µs)", m.vf),
        );
        let proof = self.prove(i, vram.0, vram.1)?;
        let v = &self.vfs[i];
        let reserve_size = v.source_reserve.size();
        let report = VfReport {
            vf: m.vf,
            source_reserve: v.source_reserve.clone(),
            target_reserve: v.target_reserve.clone(),
            tracked_from_creation: m.tracked_from_creation,
            bytes_sent: m.rounds.iter().map(|r| r.bytes_sent).sum(),
            rounds: m.rounds,
            convergence,
            blackout: Duration::from_nanos(blackout.ns),
            total: Duration::from_nanos(end - start),
            stop_and_copy: Duration::from_nanos(self.config.link().transfer_ns(reserve_size)),
            writers: WriterTotals::default(),
            engine: m.engine,
            proof,
            protocol,
        };
        Ok((report, next))
    }

    /// The state of VF `i`'s migration at its start, `start`; nothing called yet.
    fn begin(&self, i: usize, start: u64) -> Result<Migrating, MigrationError> {
        let v = &self.vfs[i];
        let pages = v.source_reserve.size() / self.page;
        let bytes = usize::try_from(pages.div_ceil(8)).map_err(|_| {
            MigrationError::Config("the reserve's bitmap does not fit in memory".into())
        })?;
        Ok(Migrating {
            i,
            vf: v.vf,
            start,
            now: start,
            pages,
            tracked_from_creation: v.source_tracking,
            pending: vec![0u8; bytes],
            rounds: Vec::new(),
            round: 1,
            whole_reserve: false,
            engine: EngineTotals::default(),
        })
    }

    /// Section 5.3 / 5.5: the source prepares and saves what cannot change;
    /// the target prepares, pauses for the whole transfer, and checks that
    /// data before any page arrives. Then tracking starts if it did not at
    /// creation. Returns the immutable data.
    fn send_immutable(&mut self, m: &mut Migrating) -> Result<Vec<u8>, MigrationError> {
        let vf = m.vf;
        let status = self
            .source
            .prepare_live_migration(vf, MigrationType::Source);
        self.record(Side::Source, vf, Step::PrepareLiveMigration, status)?;
        let immutable = self.save(vf, MigrationData::Immutable)?;
        let status = self
            .target
            .prepare_live_migration(vf, MigrationType::Target);
        self.record(Side::Target, vf, Step::PrepareLiveMigration, status)?;
        let status = self.target.set_vf_pause(vf, true);
        self.record(Side::Target, vf, Step::PauseVf, status)?;
        let status = self
            .target
            .restore_migration_data(MigrationData::Immutable, vf, &immutable);
        self.record(
            Side::Target,
            vf,
            Step::RestoreImmutableMigrationData,
            status,
        )?;
        if !m.tracked_from_creation {
            let basis = self.vfs[m.i].source_basis;
            let status = self.source.start_dirty_tracking(basis);
            self.record(Side::Source, vf, Step::StartDirtyTracking, status)?;
            self.vfs[m.i].source_tracking = true;
            m.whole_reserve = true;
        }
        Ok(immutable)
    }

    /// The brownout rounds: harvest (or, right after tracking started, the
    /// whole reserve), then copy while the writers go on for the round's
    /// modelled transfer time; stop when the pending set fits the downtime
    /// budget, or at the maximum number of rounds. `m.pending` is then what
    /// the blackout sends (with what the VF wrote since).
    fn precopy(
        &mut self,
        m: &mut Migrating,
        clock: &Clock,
        groups: &[WriterGroup],
        (src, dst): (&Vram, &Vram),
    ) -> Result<Convergence, MigrationError> {
        let link = self.config.link();
        let budget = u64::try_from(self.config.downtime_budget.as_nanos()).unwrap_or(u64::MAX);
        let vf = m.vf;
        loop {
            let harvest = if m.whole_reserve {
                // Tracking just started: nothing says which pages the VF
                // wrote before, so the first round sends them all.
                mark_all(&mut m.pending, m.pages);
                Duration::ZERO
            } else {
                self.harvest(m.i, &mut m.pending)?
            };
            let dirty = count_bits(&m.pending);
            let transfer = link.transfer_ns(dirty * self.page);
            if transfer <= budget {
                return Ok(Convergence::Budget);
            }
            if m.round >= self.config.max_rounds {
                return Ok(Convergence::MaxRounds);
            }
            let harvest_ns = u64::try_from(harvest.as_nanos()).unwrap_or(u64::MAX);
            let report = RoundReport {
                round: m.round,
                phase: Phase::Brownout,
                start: Duration::from_nanos(m.now - m.start),
                dirty_pages: dirty,
                bytes_sent: dirty * self.page,
                transfer: Duration::from_nanos(transfer),
                harvest,
                whole_reserve: m.whole_reserve,
                found_after_pause: 0,
            };
            // The VF runs on while its pages travel: the writers go ahead
            // for the round's modelled time while the copier copies.
            let mark = self.release(
                clock,
                m.now.saturating_add(harvest_ns).saturating_add(transfer),
            );
            let round = m.round;
            self.copy(
                m.i,
                &m.pending,
                src,
                dst,
                &format!("VF {vf} round {round}: copying dirty pages"),
            )?;
            // The VF's own GPU work, on the engine, after this round's copy:
            // the next harvest must find what it wrote.
            self.engine_round(m.i, round, &mut m.engine)?;
            self.wait(
                clock,
                groups,
                mark,
                &format!("VF {vf} round {round}: link transfer (modelled µs)"),
            );
            m.now = mark;
            self.progress.round(vf, &report);
            m.rounds.push(report);
            m.whole_reserve = false;
            m.round += 1;
        }
    }

    /// Blackout: pause the VF (its GPU stops, then it is taken off the
    /// schedule), collect what it wrote since the last query, save its
    /// mutable state, send everything pending; the last round's report.
    fn blackout(
        &mut self,
        m: &mut Migrating,
        clock: &Clock,
        groups: &[WriterGroup],
        (src, dst): (&Vram, &Vram),
    ) -> Result<Blackout, MigrationError> {
        let vf = m.vf;
        groups[m.i].pause(clock);
        let status = self.source.set_vf_pause(vf, true);
        self.record(Side::Source, vf, Step::PauseVf, status)?;
        let blackout_start = m.now;
        let mut fresh = vec![0u8; m.pending.len()];
        let final_harvest = self.harvest(m.i, &mut fresh)?;
        let mutable = self.save(vf, MigrationData::Mutable)?;
        let mut found_after_pause = 0u64;
        for (p, f) in m.pending.iter_mut().zip(&fresh) {
            found_after_pause += u64::from((f & !*p).count_ones());
            *p |= f;
        }
        let dirty = count_bits(&m.pending);
        let transfer = self.config.link().transfer_ns(dirty * self.page);
        let ns = u64::try_from(final_harvest.as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(transfer);
        self.copy(
            m.i,
            &m.pending,
            src,
            dst,
            &format!("VF {vf} blackout: copying the last pages"),
        )?;
        let report = RoundReport {
            round: m.round,
            phase: Phase::Blackout,
            start: Duration::from_nanos(blackout_start - m.start),
            dirty_pages: dirty,
            bytes_sent: dirty * self.page,
            transfer: Duration::from_nanos(transfer),
            harvest: final_harvest,
            whole_reserve: m.whole_reserve,
            found_after_pause,
        };
        self.progress.round(vf, &report);
        m.rounds.push(report);
        Ok(Blackout { ns, mutable })
    }
}
