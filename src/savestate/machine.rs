//! The per-VF live-migration state machine, and the pause overlay.
//!
//! # Phases
//! ```text
//!            Prepare(SOURCE)            SaveImmutable          SaveMutable (paused)
//!   Idle ------------------> PreparedSource --------> Saving --------------------> Saved
//!    |  ^                          |                    |                           |
//!    |  |                          +------- End --------+----------- End -----------+--> Ended
//!    |  |  Prepare(TARGET)             RestoreImmutable (paused)  RestoreMutable (paused)
//!    +------------------> PreparedTarget ----------> Restoring ------------> Restored
//!       |                      |                          |                      |
//!       |                      +---------- End -----------+-------- End ---------+--> Ended
//!       +---------------------------------- Prepare (from Ended, as from Idle) ---------+
//! ```
//!
//! | call | accepted in | effect | otherwise |
//! |---|---|---|---|
//! | PrepareLiveMigration(SOURCE / TARGET) | Idle, Ended | PreparedSource / PreparedTarget | `STATUS_INVALID_DEVICE_STATE` (a migration is in progress) |
//! | SaveImmutableMigrationData | PreparedSource, Saving, Saved | the filling call moves PreparedSource to Saving; repeatable (the data cannot change) | `STATUS_INVALID_DEVICE_STATE` |
//! | SaveMutableMigrationData | Saving, Saved, **paused** | the filling call moves Saving to Saved; repeatable while paused | `STATUS_INVALID_DEVICE_STATE` (also before SaveImmutable, and when not paused) |
//! | RestoreImmutableMigrationData | PreparedTarget, **paused** | Restoring; **once** (a rejected blob changes nothing, so a retry is allowed) | `STATUS_INVALID_DEVICE_STATE` |
//! | RestoreMutableMigrationData | Restoring, **paused** | Restored; once | `STATUS_INVALID_DEVICE_STATE` |
//! | EndLiveMigration | every phase but Idle and Ended | Ended (from a Prepared phase: the migration was abandoned) | `STATUS_INVALID_DEVICE_STATE` (no migration to end) |
//! | SetVirtualFunctionPauseState | any phase | sets or clears the pause; idempotent | - |
//! | DestroyVirtualGpu | any phase, paused or not | the state is dropped with the vGPU | - |
//!
//! The **pause** is not a phase: `DxgkDdiSetVirtualFunctionPauseState` is
//! also how Dxgkrnl defragments the reserves of VFs that are not migrating,
//! and its documented meaning is an overlay ("when FALSE is passed, that
//! effect is removed and the natural state of the VF should be honored"). So
//! it is a flag beside the phase, which EndLiveMigration leaves as it is (the
//! OS unpauses the target after End). Save and Restore of the mutable data,
//! and Restore of the immutable data, require it (`dirty-bit-tracking.md`
//! section 5: Restore only for paused VFs; SaveMutable after the pause).
//!
//! Ended behaves as Idle for every call (a VF that arrived can be migrated
//! again); it is kept apart so that a second EndLiveMigration is refused and
//! the escape query can tell a VF that took part in a migration.

use crate::foundation::status::{Result, Status};

/// Which side of a migration a VF is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// `DXGK_GPUP_MIGRATIONTYPE_SOURCE`.
    Source,
    /// `DXGK_GPUP_MIGRATIONTYPE_TARGET`.
    Target,
}

/// Where a VF is in its migration (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// No migration since creation.
    Idle,
    /// Prepared as the source.
    PreparedSource,
    /// The immutable data was saved: pre-copy runs.
    Saving,
    /// The mutable data was saved.
    Saved,
    /// Prepared as the target.
    PreparedTarget,
    /// The immutable data was restored.
    Restoring,
    /// The mutable data was restored.
    Restored,
    /// The last migration ended.
    Ended,
}

impl Phase {
    /// The `GPUP_VGPU_MIGRATION_*` value of the escape query.
    pub(crate) fn code(self) -> u32 {
        use super::phase_code::*;
        match self {
            Self::Idle => GPUP_VGPU_MIGRATION_IDLE,
            Self::PreparedSource => GPUP_VGPU_MIGRATION_PREPARED_SOURCE,
            Self::Saving => GPUP_VGPU_MIGRATION_SAVING,
            Self::Saved => GPUP_VGPU_MIGRATION_SAVED,
            Self::PreparedTarget => GPUP_VGPU_MIGRATION_PREPARED_TARGET,
            Self::Restoring => GPUP_VGPU_MIGRATION_RESTORING,
            Self::Restored => GPUP_VGPU_MIGRATION_RESTORED,
            Self::Ended => GPUP_VGPU_MIGRATION_ENDED,
        }
    }
}

/// What the target learnt from the immutable data, to check that the
/// mutable data comes from the same source VF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SourceVf {
    /// The source's partition id.
    pub(crate) vf_index: u32,
    /// The source VF's LUID, as a 64-bit value.
    pub(crate) luid: u64,
}

/// One VF's migration state and pause overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VfMigration {
    phase: Phase,
    paused: bool,
    /// Set by RestoreImmutable.
    source: Option<SourceVf>,
}

fn out_of_order<T>() -> Result<T> {
    Err(Status::InvalidDeviceState)
}

impl VfMigration {
    /// A VF just created: idle, running.
    pub(crate) fn new() -> Self {
        Self {
            phase: Phase::Idle,
            paused: false,
            source: None,
        }
    }

    /// The phase.
    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the VF is paused.
    pub(crate) fn paused(&self) -> bool {
        self.paused
    }

    /// The source VF named by the restored immutable data.
    pub(crate) fn source(&self) -> Option<SourceVf> {
        self.source
    }

    /// `DxgkDdiSetVirtualFunctionPauseState`.
    pub(crate) fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// `DxgkDdiPrepareLiveMigration`.
    ///
    /// # Errors
    /// `InvalidDeviceState` while a migration is in progress.
    pub(crate) fn prepare(&mut self, role: Role) -> Result<()> {
        if !matches!(self.phase, Phase::Idle | Phase::Ended) {
            return out_of_order();
        }
        self.phase = match role {
            Role::Source => Phase::PreparedSource,
            Role::Target => Phase::PreparedTarget,
        };
        self.source = None;
        Ok(())
    }

    /// Whether SaveImmutable may run (either call).
    ///
    /// # Errors
    /// `InvalidDeviceState` unless the VF is a prepared source.
    pub(crate) fn check_save_immutable(&self) -> Result<()> {
        match self.phase {
            Phase::PreparedSource | Phase::Saving | Phase::Saved => Ok(()),
            _ => out_of_order(),
        }
    }

    /// SaveImmutable filled the OS's buffer.
    pub(crate) fn saved_immutable(&mut self) {
        if self.phase == Phase::PreparedSource {
            self.phase = Phase::Saving;
        }
    }

    /// Whether SaveMutable may run (either call).
    ///
    /// # Errors
    /// `InvalidDeviceState` before SaveImmutable, on a target, or when the
    /// VF is not paused.
    pub(crate) fn check_save_mutable(&self) -> Result<()> {
        match self.phase {
            Phase::Saving | Phase::Saved if self.paused => Ok(()),
            _ => out_of_order(),
        }
    }

    /// SaveMutable filled the OS's buffer.
    pub(crate) fn saved_mutable(&mut self) {
        if self.phase == Phase::Saving {
            self.phase = Phase::Saved;
        }
    }

    /// Whether RestoreImmutable may run.
    ///
    /// # Errors
    /// `InvalidDeviceState` unless the VF is a prepared, paused target that
    /// has not restored its immutable data yet.
    pub(crate) fn check_restore_immutable(&self) -> Result<()> {
        match self.phase {
            Phase::PreparedTarget if self.paused => Ok(()),
            _ => out_of_order(),
        }
    }

    /// RestoreImmutable accepted data from `source`.
    pub(crate) fn restored_immutable(&mut self, source: SourceVf) {
        if self.phase == Phase::PreparedTarget {
            self.phase = Phase::Restoring;
            self.source = Some(source);
        }
    }

    /// Whether RestoreMutable may run.
    ///
    /// # Errors
    /// `InvalidDeviceState` unless the VF restored its immutable data, has
    /// not restored its mutable data yet, and is paused.
    pub(crate) fn check_restore_mutable(&self) -> Result<()> {
        match self.phase {
            Phase::Restoring if self.paused => Ok(()),
            _ => out_of_order(),
        }
    }

    /// RestoreMutable applied the data.
    pub(crate) fn restored_mutable(&mut self) {
        if self.phase == Phase::Restoring {
            self.phase = Phase::Restored;
        }
    }

    /// `DxgkDdiEndLiveMigration`.
    ///
    /// # Errors
    /// `InvalidDeviceState` when no migration is in progress.
    pub(crate) fn end(&mut self) -> Result<()> {
        if matches!(self.phase, Phase::Idle | Phase::Ended) {
            return out_of_order();
        }
        self.phase = Phase::Ended;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHASES: [Phase; 8] = [
        Phase::Idle,
        Phase::PreparedSource,
        Phase::Saving,
        Phase::Saved,
        Phase::PreparedTarget,
        Phase::Restoring,
        Phase::Restored,
        Phase::Ended,
    ];

    fn at(phase: Phase, paused: bool) -> VfMigration {
        VfMigration {
            phase,
            paused,
            source: None,
        }
    }

    const SOURCE: SourceVf = SourceVf {
        vf_index: 1,
        luid: 2,
    };

    /// Every call in every phase, paused or not, against the table of the
    /// module docs: the phase it leaves, or `None` for `InvalidDeviceState`
    /// (which must leave the state as it was).
    #[test]
    fn every_call_in_every_phase_follows_the_table() {
        type Call = fn(&mut VfMigration) -> Result<()>;
        let calls: [(&str, Call); 7] = [
            ("prepare source", |m| m.prepare(Role::Source)),
            ("prepare target", |m| m.prepare(Role::Target)),
            ("save immutable", |m| {
                m.check_save_immutable()?;
                m.saved_immutable();
                Ok(())
            }),
            ("save mutable", |m| {
                m.check_save_mutable()?;
                m.saved_mutable();
                Ok(())
            }),
            ("restore immutable", |m| {
                m.check_restore_immutable()?;
                m.restored_immutable(SOURCE);
                Ok(())
            }),
            ("restore mutable", |m| {
                m.check_restore_mutable()?;
                m.restored_mutable();
                Ok(())
            }),
            ("end", VfMigration::end),
        ];
        use Phase::*;
        let expected = |call: &str, phase: Phase, paused: bool| -> Option<Phase> {
            match (call, phase) {
                ("prepare source", Idle | Ended) => Some(PreparedSource),
                ("prepare target", Idle | Ended) => Some(PreparedTarget),
                ("save immutable", PreparedSource) => Some(Saving),
                ("save immutable", Saving | Saved) => Some(phase),
                ("save mutable", Saving) if paused => Some(Saved),
                ("save mutable", Saved) if paused => Some(Saved),
                ("restore immutable", PreparedTarget) if paused => Some(Restoring),
                ("restore mutable", Restoring) if paused => Some(Restored),
                ("end", Idle | Ended) => None,
                ("end", _) => Some(Ended),
                _ => None,
            }
        };
        for (name, call) in calls {
            for phase in PHASES {
                for paused in [false, true] {
                    let mut m = at(phase, paused);
                    let result = call(&mut m);
                    match expected(name, phase, paused) {
                        Some(next) => {
                            assert_eq!(result, Ok(()), "{name} in {phase:?}, paused {paused}");
                            assert_eq!(m.phase(), next, "{name} in {phase:?}");
                            assert_eq!(m.paused(), paused, "{name} keeps the pause");
                        }
                        None => {
                            assert_eq!(
                                result,
                                Err(Status::InvalidDeviceState),
                                "{name} in {phase:?}, paused {paused}"
                            );
                            assert_eq!(m, at(phase, paused), "unchanged on error");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_whole_migration_on_each_side() {
        let mut s = VfMigration::new();
        s.prepare(Role::Source).unwrap();
        s.check_save_immutable().unwrap();
        s.saved_immutable();
        assert_eq!(s.check_save_mutable(), Err(Status::InvalidDeviceState));
        s.set_paused(true);
        s.set_paused(true);
        s.check_save_mutable().unwrap();
        s.saved_mutable();
        s.end().unwrap();
        assert_eq!(s.end(), Err(Status::InvalidDeviceState), "ended once");
        assert!(s.paused(), "End leaves the pause to the OS");

        let mut t = VfMigration::new();
        t.prepare(Role::Target).unwrap();
        assert_eq!(t.check_restore_immutable(), Err(Status::InvalidDeviceState));
        t.set_paused(true);
        t.check_restore_immutable().unwrap();
        t.restored_immutable(SOURCE);
        assert_eq!(t.source(), Some(SOURCE));
        assert_eq!(t.check_restore_immutable(), Err(Status::InvalidDeviceState));
        t.check_restore_mutable().unwrap();
        t.restored_mutable();
        assert_eq!(t.check_restore_mutable(), Err(Status::InvalidDeviceState));
        t.end().unwrap();
        t.set_paused(false);
        // A VF that arrived can leave again.
        t.prepare(Role::Source).unwrap();
        assert_eq!(t.source(), None);
    }
}
