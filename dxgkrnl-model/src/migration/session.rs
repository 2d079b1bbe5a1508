//! The orchestration's state ([`Run`]: both adapters, each VF's reserves
//! and bases, the trace) and the steps the sequence is made of: VF creation
//! and teardown in the OS's order, the dirty-bit harvest, the page copy, the
//! end of the live-migration protocol, the proof, and the modelled clock
//! the writers run against.

use std::time::{Duration, Instant};

use dxgk_sys::{NTSTATUS, STATUS_SUCCESS, STATUS_UNSUCCESSFUL};

use super::bits::{count_bits, set_bits};
use super::config::{MigrationConfig, MigrationError, MigrationFault, driver_error};
use super::report::{Progress, Proof, ProtocolReport, Side, Step, TraceEvent};
use crate::adapter::Adapter;
use crate::live::MigrationData;
use crate::records::BasisHandle;
use crate::vf::{Reserve, VfProvider, status_of};
use crate::vfstate::{VfSnapshot, interrupt_entries};
use crate::vram::Vram;
use crate::writers::{Clock, WriterGroup};

/// The modelled gap around each query: a query comes half a lead after the
/// round before it ended (or after where the writers were last allowed to
/// go), once every writer got there, and the writers may go on for another
/// half lead while it runs, so every query races live writes. At least 1 ms,
/// and at least [`LEAD_WRITES`] writes of one writer.
const LEAD_NS: u64 = 1_000_000;
/// See [`LEAD_NS`].
const LEAD_WRITES: u64 = 256;

/// One VF on both adapters.
pub(super) struct VfState {
    /// The VF (partition id), the same on both adapters.
    pub(super) vf: u32,
    /// The memory basis over its reserve on the source.
    pub(super) source_basis: BasisHandle,
    /// Its reserve on the source.
    pub(super) source_reserve: Reserve,
    /// The memory basis over its reserve on the target.
    pub(super) target_basis: BasisHandle,
    /// Its reserve on the target.
    pub(super) target_reserve: Reserve,
    /// Whether StartDirtyTracking ran on the source basis.
    pub(super) source_tracking: bool,
    /// Whether StartDirtyTracking ran on the target basis.
    pub(super) target_tracking: bool,
}

/// The orchestration's state.
pub(super) struct Run<'a> {
    /// What is simulated.
    pub(super) config: &'a MigrationConfig,
    /// The dirty-tracking page size, bytes.
    pub(super) page: u64,
    /// Whether tracking starts at VF creation (performant, and not
    /// overridden by [`MigrationConfig::tracking`]).
    pub(super) performant: bool,
    /// The adapter the VFs leave.
    pub(super) source: &'a Adapter,
    /// The adapter the VFs arrive on.
    pub(super) target: &'a Adapter,
    /// Every call of the OS sequence so far.
    pub(super) trace: Vec<TraceEvent>,
    /// The VFs, in creation (and migration) order.
    pub(super) vfs: Vec<VfState>,
    /// Whoever watches the run.
    pub(super) progress: &'a mut dyn Progress,
    /// How far writers may run (modelled): the last target set.
    pub(super) allowed: u64,
    /// The source's paging queue, when the run has engine traffic.
    pub(super) engine: Option<crate::paging::PagingQueue<'a>>,
}

impl Run<'_> {
    /// See [`LEAD_NS`].
    fn lead(&self) -> u64 {
        LEAD_NS.max(self.config.workload.time_of(LEAD_WRITES))
    }

    /// The adapter on `side`.
    fn adapter(&self, side: Side) -> &Adapter {
        match side {
            Side::Source => self.source,
            Side::Target => self.target,
        }
    }

    /// Traces a call of the OS sequence; a failing status ends the run.
    pub(super) fn record(
        &mut self,
        side: Side,
        vf: u32,
        step: Step,
        status: NTSTATUS,
    ) -> Result<(), MigrationError> {
        self.trace.push(TraceEvent {
            side,
            vf,
            step,
            status,
        });
        if status.is_success() {
            Ok(())
        } else {
            Err(driver_error(
                &format!("{step:?} ({side:?} VF {vf})"),
                status,
            ))
        }
    }

    /// vGPU creation: the VF and its reserve, one basis over the reserve,
    /// tracking if performant, then the binding (gpu-partitioning.md section 5, steps 7-10).
    pub(super) fn create_vf(
        &mut self,
        side: Side,
        provider: &mut dyn VfProvider,
        vf: u32,
    ) -> Result<(BasisHandle, Reserve), MigrationError> {
        let created = provider.create_vf(self.adapter(side), vf);
        self.record(side, vf, Step::CreateVf, status_of(&created))?;
        let Ok(reserve) = created else {
            return Err(driver_error("CreateVf", status_of(&created)));
        };
        let basis = self
            .adapter(side)
            .create_memory_basis(reserve.segment(), reserve.ranges());
        // CreateMemoryBasis reports failure as a NULL handle only.
        let status = basis.map_or(dxgk_sys::STATUS_UNSUCCESSFUL, |_| STATUS_SUCCESS);
        self.record(side, vf, Step::CreateMemoryBasis, status)?;
        let Some(basis) = basis else {
            return Err(driver_error("CreateMemoryBasis", status));
        };
        if self.performant {
            let status = self.adapter(side).start_dirty_tracking(basis);
            self.record(side, vf, Step::StartDirtyTracking, status)?;
        }
        let bound = provider.bind_reserve(self.adapter(side), vf, &reserve, basis);
        self.record(side, vf, Step::BindReserve, status_of(&bound))?;
        Ok((basis, reserve))
    }

    /// A whole-basis CLEARDATA query into `buf` (zeroed first, as the OS
    /// does), and its measured wall time.
    pub(super) fn harvest(&mut self, i: usize, buf: &mut [u8]) -> Result<Duration, MigrationError> {
        let (vf, basis) = {
            let v = &self.vfs[i];
            (v.vf, v.source_basis)
        };
        buf.fill(0);
        let started = Instant::now();
        let status = self.source.query_dirty_bits(basis, None, true, buf);
        let took = started.elapsed();
        self.record(Side::Source, vf, Step::QueryDirtyBitData, status)?;
        Ok(took)
    }

    /// Copies the pages set in `bits` from source to destination VRAM.
    pub(super) fn copy(
        &mut self,
        i: usize,
        bits: &[u8],
        src: &Vram,
        dst: &Vram,
        label: &str,
    ) -> Result<(), MigrationError> {
        let total = count_bits(bits);
        self.progress.begin(label, total);
        let v = &self.vfs[i];
        let mut done = 0u64;
        for page in set_bits(bits) {
            let addr = page * self.page;
            let (Some((from, _)), Some((to, _))) =
                (v.source_reserve.locate(addr), v.target_reserve.locate(addr))
            else {
                return Err(MigrationError::Config(format!(
                    "VF {}: page {page} reported dirty lies outside its reserve",
                    v.vf
                )));
            };
            if !src.copy_to(from, dst, to, self.page) {
                return Err(MigrationError::Config(format!(
                    "VF {}: page {page} cannot be copied",
                    v.vf
                )));
            }
            done += 1;
            if done.is_multiple_of(4096) {
                self.progress.set(done);
            }
        }
        self.progress.end();
        Ok(())
    }

    /// Lets the writers run past modelled time `now`: to the next query's
    /// instant, half a lead past `now` (or past where they were already
    /// allowed to go), which it returns, and half a lead beyond, so that the
    /// query that follows races live writes.
    #[must_use]
    pub(super) fn release(&mut self, clock: &Clock, now: u64) -> u64 {
        let half = self.lead() / 2;
        let mark = now.max(self.allowed).saturating_add(half);
        self.allowed = mark.saturating_add(half);
        clock.set_watch(mark);
        clock.set_target(self.allowed);
        mark
    }

    /// Waits until every running writer has reached modelled time `mark`.
    pub(super) fn wait(&mut self, clock: &Clock, groups: &[WriterGroup], mark: u64, label: &str) {
        let start = groups
            .iter()
            .map(WriterGroup::progress)
            .min()
            .unwrap_or(mark)
            .min(mark);
        let progress = &mut *self.progress;
        progress.begin(label, mark.saturating_sub(start) / 1000);
        clock.wait_until(
            || groups.iter().all(|g| g.reached(mark)),
            || {
                let at = groups
                    .iter()
                    .map(WriterGroup::progress)
                    .min()
                    .unwrap_or(mark);
                progress.set(at.min(mark).saturating_sub(start) / 1000);
            },
        );
        progress.end();
    }

    /// [`Self::release`], then [`Self::wait`]; returns the query instant.
    #[must_use]
    pub(super) fn advance(
        &mut self,
        clock: &Clock,
        groups: &[WriterGroup],
        now: u64,
        label: &str,
    ) -> u64 {
        let mark = self.release(clock, now);
        self.wait(clock, groups, mark, label);
        mark
    }

    /// Saves VF `vf`'s data on the source with the two-call protocol.
    pub(super) fn save(&mut self, vf: u32, kind: MigrationData) -> Result<Vec<u8>, MigrationError> {
        let saved = self.source.save_migration_data(kind, vf);
        let step = match kind {
            MigrationData::Immutable => Step::SaveImmutableMigrationData,
            MigrationData::Mutable => Step::SaveMutableMigrationData,
        };
        self.record(Side::Source, vf, step, status_of(&saved))?;
        saved.map_err(|status| driver_error(&format!("{step:?}"), status))
    }

    /// The end of section 5.3 / 5.5 once the last pages are across: the
    /// target restores the mutable data, both VFs' states are read and
    /// compared (both still paused), EndLiveMigration on both sides, and the
    /// target VF is unpaused.
    pub(super) fn finish_protocol(
        &mut self,
        i: usize,
        (source_vfs, target_vfs): (&dyn VfProvider, &dyn VfProvider),
        immutable_bytes: usize,
        mutable: &mut [u8],
    ) -> Result<ProtocolReport, MigrationError> {
        let vf = self.vfs[i].vf;
        match self.config.fault {
            MigrationFault::CorruptMutableData => {
                if let Some(byte) = mutable.get_mut(mutable.len() / 2) {
                    *byte ^= 0x10;
                }
            }
            MigrationFault::None | MigrationFault::SkipMutableRestore => {}
        }
        if self.config.fault != MigrationFault::SkipMutableRestore {
            let status = self
                .target
                .restore_migration_data(MigrationData::Mutable, vf, mutable);
            self.record(Side::Target, vf, Step::RestoreMutableMigrationData, status)?;
        }
        let snapshot =
            |adapter: &Adapter, provider: &dyn VfProvider, reserve: &Reserve, tracked: bool| {
                provider
                    .vgpu(vf)
                    .ok_or(STATUS_UNSUCCESSFUL)
                    .and_then(|vgpu| {
                        VfSnapshot::take(adapter, vgpu, reserve, reserve.ranges(), tracked)
                    })
                    .map_err(|status| driver_error(&format!("reading VF {vf}'s state"), status))
            };
        let v = &self.vfs[i];
        let source = snapshot(
            self.source,
            source_vfs,
            &v.source_reserve,
            v.source_tracking,
        )?;
        let target = snapshot(
            self.target,
            target_vfs,
            &v.target_reserve,
            v.target_tracking,
        )?;
        for side in [Side::Source, Side::Target] {
            let status = self.adapter(side).end_live_migration(vf);
            self.record(side, vf, Step::EndLiveMigration, status)?;
        }
        let status = self.target.set_vf_pause(vf, false);
        self.record(Side::Target, vf, Step::UnpauseVf, status)?;
        Ok(ProtocolReport {
            immutable_bytes: immutable_bytes as u64,
            mutable_bytes: mutable.len() as u64,
            differences: {
                let mut d = source.differences(&target);
                d.extend(target.interrupts_differ_from(&interrupt_entries(
                    vf,
                    self.config.seed,
                    1,
                )));
                d
            },
            source,
            target,
        })
    }

    /// Compares VF `i`'s destination VRAM with its source, page by page.
    pub(super) fn prove(
        &mut self,
        i: usize,
        src: &Vram,
        dst: &Vram,
    ) -> Result<Proof, MigrationError> {
        let v = &self.vfs[i];
        let pages = v.source_reserve.size() / self.page;
        self.progress
            .begin(&format!("VF {}: proof (pages compared)", v.vf), pages);
        let mut proof = Proof {
            pages_compared: pages,
            differing_pages: 0,
            pages_written: 0,
            first_differences: Vec::new(),
        };
        for page in 0..pages {
            let addr = page * self.page;
            let (Some((from, _)), Some((to, _))) =
                (v.source_reserve.locate(addr), v.target_reserve.locate(addr))
            else {
                return Err(MigrationError::Config(format!(
                    "VF {}: page {page} is outside its reserve",
                    v.vf
                )));
            };
            // Untouched chunks compare (and count as unwritten) by the map.
            if src.is_zero(from, self.page) == Some(false) {
                proof.pages_written += 1;
            }
            if src.same(from, dst, to, self.page) != Some(true) {
                proof.differing_pages += 1;
                if proof.first_differences.len() < Proof::LISTED {
                    proof.first_differences.push((addr, from));
                }
            }
            if page % 8192 == 0 {
                self.progress.set(page);
            }
        }
        self.progress.end();
        Ok(proof)
    }

    /// The OS's teardown of a VF: destroy the vGPU and free its reserve,
    /// then StopDirtyTracking (if tracking), then DestroyMemoryBasis.
    fn teardown(
        &mut self,
        side: Side,
        i: usize,
        provider: &mut dyn VfProvider,
    ) -> Result<(), MigrationError> {
        let (vf, basis, tracking) = {
            let v = &self.vfs[i];
            match side {
                Side::Source => (v.vf, v.source_basis, v.source_tracking),
                Side::Target => (v.vf, v.target_basis, v.target_tracking),
            }
        };
        let destroyed = provider.destroy_vf(self.adapter(side), vf);
        self.record(side, vf, Step::DestroyVf, status_of(&destroyed))?;
        if tracking {
            let status = self.adapter(side).stop_dirty_tracking(basis);
            self.record(side, vf, Step::StopDirtyTracking, status)?;
        }
        let status = self.adapter(side).destroy_memory_basis(basis);
        self.record(side, vf, Step::DestroyMemoryBasis, status)
    }

    /// Tears down VF `i` on the source (once it is across).
    pub(super) fn teardown_source(
        &mut self,
        i: usize,
        provider: &mut dyn VfProvider,
    ) -> Result<(), MigrationError> {
        self.teardown(Side::Source, i, provider)
    }

    /// Tears down every VF on the target (the end of the run).
    pub(super) fn teardown_targets(
        &mut self,
        provider: &mut dyn VfProvider,
    ) -> Result<(), MigrationError> {
        for i in 0..self.vfs.len() {
            self.teardown(Side::Target, i, provider)?;
        }
        Ok(())
    }
}
