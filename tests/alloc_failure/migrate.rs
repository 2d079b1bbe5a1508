//! Live migration: a source and a target mid-migration, the Save DDIs
//! shown to allocate nothing, and the walks of the Restore DDIs.

use dxgk_sys::*;
use dxgkrnl_model::live::MigrationData::{self, Immutable, Mutable};
use dxgkrnl_model::live::MigrationType;
use dxgkrnl_model::vfstate::{VfSnapshot, interrupt_entries, program_guest, program_interrupts};
use dxgkrnl_model::{Adapter, Driver, VgpuInfo, VgpuRequest, take_etw_events};
use gpup_miniport::vgpu::escape::*;

use crate::common::*;
use crate::harness::*;
use crate::vgpu::*;

/// A source and a target adapter with a VF each, the guest's state
/// programmed on the source, both prepared and the target paused; then, as
/// far as `stage` says, the immutable data saved (1), restored with the
/// source paused (2), and the mutable data saved (3).
pub(crate) struct Migrating {
    pub(crate) _driver: Driver,
    pub(crate) s: Adapter,
    pub(crate) t: Adapter,
    pub(crate) src: VgpuInfo,
    pub(crate) dst: VgpuInfo,
    pub(crate) immutable: Vec<u8>,
    pub(crate) mutable: Vec<u8>,
}

/// How the source VF's VRAM is laid out.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// One range, one memory basis over it (on both sides).
    Contiguous,
    /// Scattered over [`SCATTER`] on the source (contiguous on the target),
    /// with a second memory basis over VF bytes `[4 MiB, 5 MiB)` on both
    /// sides (tracked on the source only).
    Scattered,
}

pub(crate) fn migrating(stage: u32, shape: Shape) -> Migrating {
    let driver = Driver::load().unwrap();
    let start = || {
        let a = driver.start_adapter(&gpup_layout()).unwrap();
        a.set_partition_count(2).unwrap();
        a
    };
    let (s, t) = (start(), start());
    let src = s
        .create_vgpu(&VgpuRequest {
            partition: Some(0),
            placement: (shape == Shape::Scattered).then(|| SCATTER.to_vec()),
            ..VgpuRequest::vram(VF_RESERVE)
        })
        .unwrap();
    program_guest(&s, &src, 7).unwrap();
    let dst = running_vf(&t, 0);
    // The target VM's OS programs its own interrupt routing (issue 15: the
    // Restore no longer carries the source host's).
    program_interrupts(&t, &dst, 7, 1).unwrap();
    if shape == Shape::Scattered {
        // VF bytes [4 MiB, 5 MiB): the start of the second piece on the source.
        let _ = tracked(&s, SEG_4K, &[(SCATTER[1].0, MIB)]);
        let at = dst.reserves[0].offset + 4 * MIB;
        t.create_memory_basis(SEG_4K, &[(at, MIB)]).unwrap();
    }
    assert_eq!(
        s.prepare_live_migration(0, MigrationType::Source),
        STATUS_SUCCESS
    );
    assert_eq!(
        t.prepare_live_migration(0, MigrationType::Target),
        STATUS_SUCCESS
    );
    assert_eq!(t.set_vf_pause(0, true), STATUS_SUCCESS);
    let mut m = Migrating {
        _driver: driver,
        s,
        t,
        src,
        dst,
        immutable: Vec::new(),
        mutable: Vec::new(),
    };
    if stage >= 1 {
        m.immutable = m.s.save_migration_data(Immutable, 0).unwrap();
    }
    if stage >= 2 {
        assert_eq!(
            m.t.restore_migration_data(Immutable, 0, &m.immutable),
            STATUS_SUCCESS
        );
        assert_eq!(m.s.set_vf_pause(0, true), STATUS_SUCCESS);
    }
    if stage >= 3 {
        m.mutable = m.s.save_migration_data(Mutable, 0).unwrap();
    }
    let _ = take_etw_events();
    m
}

/// The VF's state as the OS reads it.
pub(crate) fn snapshot(a: &Adapter, v: &VgpuInfo) -> VfSnapshot {
    let reserve =
        dxgkrnl_model::vf::Reserve::new(v.reserves[0].segment, v.pieces[0].clone()).unwrap();
    VfSnapshot::take(a, v, &reserve, &v.pieces[0], true).unwrap()
}

/// After the mutable data was restored: the target's state equals the source's.
pub(crate) fn arrived(m: &Migrating) -> Result<(), String> {
    want(
        "target phase",
        phase(&m.t, &m.dst),
        GPUP_VGPU_MIGRATION_RESTORED,
    )?;
    let target = snapshot(&m.t, &m.dst);
    let mut differences = snapshot(&m.s, &m.src).differences(&target);
    differences.extend(target.interrupts_differ_from(&interrupt_entries(m.dst.partition, 7, 1)));
    want("differences", differences, Vec::<String>::new())
}

/// One call of a Save (the sizing call, or the filling call with a buffer
/// of exactly the size the sizing call gave), armed: it must succeed with
/// no allocation at all, and what the source saved must restore on the
/// target (for the mutable data, the VF arrives).
pub(crate) fn save_allocates_nothing(
    name: &str,
    kind: MigrationData,
    fill: bool,
    shape: Shape,
) -> Result<Walked, String> {
    let (stage, phase_after) = match kind {
        Immutable => (0, GPUP_VGPU_MIGRATION_SAVING),
        Mutable => (2, GPUP_VGPU_MIGRATION_SAVED),
    };
    let m = migrating(stage, shape);
    let (status, needed) = m.s.save_migration_call(kind, 0, 0, None);
    expect("sizing call", status, STATUS_SUCCESS)?;
    let mut buf = vec![0xA5u8; needed as usize];
    let ((status, size), points, _, leaked) = armed(None, || {
        if fill {
            m.s.save_migration_call(kind, 0, needed, Some(&mut buf[..]))
        } else {
            m.s.save_migration_call(kind, 0, 0, None)
        }
    });
    expect("Save", status, STATUS_SUCCESS)?;
    want("DataSize", size, needed)?;
    if points != 0 || leaked != 0 {
        return Err(format!(
            "{name}: {points} allocation(s), {leaked} still live"
        ));
    }
    let blob = if fill {
        buf
    } else {
        m.s.save_migration_data(kind, 0)
            .map_err(|e| format!("Save after the sizing call: {e:?}"))?
    };
    want("source phase after", phase(&m.s, &m.src), phase_after)?;
    expect(
        "Restore",
        m.t.restore_migration_data(kind, 0, &blob),
        STATUS_SUCCESS,
    )?;
    match kind {
        Immutable => want(
            "target phase",
            phase(&m.t, &m.dst),
            GPUP_VGPU_MIGRATION_RESTORING,
        )?,
        Mutable => arrived(&m)?,
    }
    Ok(Walked {
        name: name.to_owned(),
        points,
    })
}

pub(crate) fn walk_restore(
    name: &str,
    kind: MigrationData,
    shape: Shape,
) -> Result<Walked, String> {
    let (stage, phase_before) = match kind {
        Immutable => (1, GPUP_VGPU_MIGRATION_PREPARED_TARGET),
        Mutable => (3, GPUP_VGPU_MIGRATION_RESTORING),
    };
    fn blob(m: &Migrating, kind: MigrationData) -> &[u8] {
        match kind {
            Immutable => &m.immutable,
            Mutable => &m.mutable,
        }
    }
    walk(
        name,
        || {
            let m = migrating(stage, shape);
            let before = (
                m.t.vf_config_space(0).unwrap(),
                m.t.vgpu_msix(&m.dst).unwrap(),
            );
            (m, before)
        },
        |(m, _)| m.t.restore_migration_data(kind, 0, blob(m, kind)),
        |(m, _), status| {
            expect("Restore", status, STATUS_SUCCESS)?;
            want("events", take_etw_events(), Vec::new())?;
            if kind == Mutable {
                arrived(m)?;
            }
            Ok(())
        },
        |(m, (config, msix)), status| {
            expect("Restore", status, STATUS_NO_MEMORY)?;
            // No triage event (the data is not at fault), nothing applied.
            want("events", take_etw_events(), Vec::new())?;
            want("target phase", phase(&m.t, &m.dst), phase_before)?;
            if m.t.vf_config_space(0).unwrap() != *config {
                return Err("the configuration space changed".into());
            }
            want("MSI-X table", m.t.vgpu_msix(&m.dst).unwrap(), *msix)?;
            // The target is restorable by a retry, and the VF arrives.
            expect(
                "Restore again",
                m.t.restore_migration_data(kind, 0, blob(m, kind)),
                STATUS_SUCCESS,
            )?;
            if kind == Immutable {
                want(
                    "target phase",
                    phase(&m.t, &m.dst),
                    GPUP_VGPU_MIGRATION_RESTORING,
                )?;
                expect("pause source", m.s.set_vf_pause(0, true), STATUS_SUCCESS)?;
                let mutable =
                    m.s.save_migration_data(Mutable, 0)
                        .map_err(|e| format!("SaveMutable: {e:?}"))?;
                expect(
                    "RestoreMutable",
                    m.t.restore_migration_data(Mutable, 0, &mutable),
                    STATUS_SUCCESS,
                )?;
            }
            arrived(m)
        },
    )
}
