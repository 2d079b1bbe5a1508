//! The whole sequence (module docs of [`crate::migration`]): load the
//! driver, start both adapters and check their caps, create and program the
//! VFs, run the writers while every VF migrates, collect the writers'
//! totals, tear the targets down and remove both adapters.

use std::time::{Duration, Instant};

use dxgk_sys::{DirtyBitTrackingCaps, GpupCaps, STATUS_UNSUCCESSFUL};

use super::config::{MigrationConfig, MigrationError, SEGMENT, TrackingStart, driver_error};
use super::report::{CapsSummary, MigrationReport, Progress, Side, Step, VfReport};
use super::session::{Run, VfState};
use crate::adapter::{Adapter, StartedCaps};
use crate::loader::Driver;
use crate::vf::{PartitionVfs, VfProvider, status_of};
use crate::vfstate::{program_guest, program_interrupts};
use crate::vram::Vram;
use crate::writers::{Clock, Writer, WriterGroup};

#[cfg(doc)]
use crate::vf::Layout;

/// Runs the migration with VFs created through the partition interface
/// ([`PartitionVfs`]) on both sides, at the configuration's [`Layout`].
///
/// # Errors
/// See [`run_with`].
pub fn run(
    config: &MigrationConfig,
    progress: &mut dyn Progress,
) -> Result<MigrationReport, MigrationError> {
    config.validate()?;
    let mut source = PartitionVfs::new(config.layout()?);
    let mut target = PartitionVfs::new(config.layout()?);
    run_with(config, &mut source, &mut target, progress)
}

/// Runs the migration, creating VFs through the given providers.
///
/// # Errors
/// [`MigrationError`] when the configuration is invalid, the host cannot
/// back the VRAM size, or a DDI fails. A failed proof is reported, not an error.
pub fn run_with(
    config: &MigrationConfig,
    source_vfs: &mut dyn VfProvider,
    target_vfs: &mut dyn VfProvider,
    progress: &mut dyn Progress,
) -> Result<MigrationReport, MigrationError> {
    let wall = Instant::now();
    config.validate()?;
    // Each adapter's VRAM is the driver's backing of its segment, made at
    // StartDevice; a size the host cannot back is refused before any start.
    Vram::check_size(config.vram_size)?;
    let driver = Driver::load().map_err(|status| driver_error("DriverEntry", status))?;
    let source = driver
        .start_adapter(&config.adapter_config())
        .map_err(|status| driver_error("source adapter start", status))?;
    let target = driver
        .start_adapter(&config.adapter_config())
        .map_err(|status| driver_error("target adapter start", status))?;
    let src_vram = Vram::of(source.context(), SEGMENT)?;
    let dst_vram = Vram::of(target.context(), SEGMENT)?;
    let caps = source.caps().clone();
    let page = check_caps(config, &caps, &source, &target)?;
    let performant = caps
        .dirty_bit_tracking
        .contains(DirtyBitTrackingCaps::DirtyBitTrackingPerformant)
        && config.tracking == TrackingStart::FromCaps;
    let mut run = Run {
        config,
        page: u64::from(page),
        performant,
        source: &source,
        target: &target,
        trace: Vec::new(),
        vfs: Vec::new(),
        progress,
        allowed: 0,
        engine: super::engine::queue(config.engine, &source)?,
    };
    run.create_vfs(source_vfs, target_vfs)?;
    let reports = run.migrate_with_writers((&src_vram, &dst_vram), source_vfs, &*target_vfs)?;
    run.teardown_targets(target_vfs)?;
    let trace = core::mem::take(&mut run.trace);
    drop(run);
    let warm_up = Duration::from_nanos(config.workload.fill_time());
    for adapter in [source, target] {
        adapter
            .remove()
            .map_err(|status| driver_error("RemoveDevice", status))?;
    }
    Ok(MigrationReport {
        config: config.clone(),
        caps: CapsSummary {
            gpup: caps.gpup,
            gpup_query: caps.gpup_query,
            dirty_bit_tracking: caps.dirty_bit_tracking,
            page_size: page,
        },
        vfs: reports,
        trace,
        warm_up,
        partition_count: config.vf_count,
        wall: wall.elapsed(),
    })
}

/// What a live migration needs of the adapters (the source's `caps`):
/// dirty-bit tracking of [`SEGMENT`] at the configured page size, and on
/// both sides `LiveMigration` (with `ScatterMapReserve` for scattered
/// reserves); then SetGpuPartitionCount(VF count) on both. Returns the page
/// size.
fn check_caps(
    config: &MigrationConfig,
    caps: &StartedCaps,
    source: &Adapter,
    target: &Adapter,
) -> Result<u32, MigrationError> {
    if !caps
        .dirty_bit_tracking
        .contains(DirtyBitTrackingCaps::DirtyBitTrackingSupported)
    {
        return Err(MigrationError::Config(
            "the adapter does not support dirty-bit tracking: no live migration".into(),
        ));
    }
    let page = caps.page_size(SEGMENT).ok_or_else(|| {
        MigrationError::Config(format!("segment {SEGMENT} has no dirty-bit tracking"))
    })?;
    if page != config.page_size {
        return Err(MigrationError::Config(format!(
            "the adapter reports {page}-byte pages, the configuration asked for {}",
            config.page_size
        )));
    }
    let needed = if config.ranges_per_vf > 1 {
        GpupCaps::LiveMigration | GpupCaps::ScatterMapReserve
    } else {
        GpupCaps::LiveMigration
    };
    for (side, adapter) in [("source", source), ("target", target)] {
        let gpup = adapter.caps().gpup;
        if !gpup.contains(needed) {
            return Err(MigrationError::Config(format!(
                "the {side} adapter's GPUPCAPS {:#x} lack {:#x}: no live migration{}",
                gpup.bits(),
                needed.bits(),
                if config.ranges_per_vf > 1 {
                    " of scattered reserves"
                } else {
                    ""
                }
            )));
        }
        adapter
            .set_partition_count(config.vf_count)
            .map_err(|status| driver_error(&format!("{side} SetGpuPartitionCount"), status))?;
    }
    Ok(page)
}

impl Run<'_> {
    /// Every VF on both adapters (step 2 of the sequence), the source's
    /// programmed by the guest; their reserves must be the same size.
    fn create_vfs(
        &mut self,
        source_vfs: &mut dyn VfProvider,
        target_vfs: &mut dyn VfProvider,
    ) -> Result<(), MigrationError> {
        for vf in 0..self.config.vf_count {
            let s = self.create_vf(Side::Source, source_vfs, vf)?;
            let t = self.create_vf(Side::Target, target_vfs, vf)?;
            // The guest lives on the source: it programs its VF.
            let programmed = source_vfs
                .vgpu(vf)
                .ok_or(STATUS_UNSUCCESSFUL)
                .and_then(|vgpu| program_guest(self.source, vgpu, self.config.seed));
            self.record(Side::Source, vf, Step::ProgramVf, status_of(&programmed))?;
            // The target VM starts as a new VM: its OS virtualizes the
            // interrupt table from then on and programs the entries with the
            // target host's routing, before any Restore (which must keep them).
            let routed = target_vfs
                .vgpu(vf)
                .ok_or(STATUS_UNSUCCESSFUL)
                .and_then(|vgpu| program_interrupts(self.target, vgpu, self.config.seed, 1));
            self.record(Side::Target, vf, Step::ProgramVf, status_of(&routed))?;
            if s.1.size() != t.1.size() {
                return Err(MigrationError::Config(format!(
                    "VF {vf}: source reserve {}, target reserve {}",
                    crate::vram::format_size(s.1.size()),
                    crate::vram::format_size(t.1.size())
                )));
            }
            self.vfs.push(VfState {
                vf,
                source_basis: s.0,
                source_reserve: s.1,
                target_basis: t.0,
                target_reserve: t.1,
                source_tracking: self.performant,
                target_tracking: self.performant,
            });
        }
        Ok(())
    }

    /// Starts the source VFs' writers (step 3), migrates every VF while they
    /// run (step 4), stops them, and adds each VF's writer totals to its
    /// report; a mark the driver refused fails the run.
    fn migrate_with_writers(
        &mut self,
        (src_vram, dst_vram): (&Vram, &Vram),
        source_vfs: &mut dyn VfProvider,
        target_vfs: &dyn VfProvider,
    ) -> Result<Vec<VfReport>, MigrationError> {
        let config = self.config;
        let source = self.source;
        let clock = Clock::default();
        let groups: Vec<WriterGroup> = self
            .vfs
            .iter()
            .map(|_| WriterGroup::new(config.workload.writers_per_vf))
            .collect();
        let reserves: Vec<_> = self
            .vfs
            .iter()
            .map(|v| (v.vf, v.source_reserve.clone()))
            .collect();
        let outcome = std::thread::scope(|scope| {
            for ((vf, reserve), group) in reserves.iter().zip(&groups) {
                for index in 0..config.workload.writers_per_vf.max(1) {
                    let writer = Writer {
                        adapter: source,
                        vram: src_vram,
                        reserve,
                        workload: &config.workload,
                        clock: &clock,
                        group,
                        index,
                        id: u64::from(*vf) << 8 | u64::from(index),
                        seed: config.seed,
                    };
                    scope.spawn(move || writer.run());
                }
            }
            let outcome =
                self.migrate_all(&clock, &groups, src_vram, dst_vram, source_vfs, target_vfs);
            for group in &groups {
                group.finish(&clock);
            }
            outcome
        });
        let mut reports = outcome?;
        for (report, group) in reports.iter_mut().zip(&groups) {
            report.writers = group.totals();
            if report.writers.failed_marks > 0 {
                return Err(driver_error(
                    &format!("gpup_sw_mark_dirty (VF {})", report.vf),
                    report.writers.first_failure,
                ));
            }
        }
        Ok(reports)
    }
}
