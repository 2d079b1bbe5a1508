//! The per-VF migration phase as the vGPU escape reports it (bits 8-11 of
//! `GPUP_VGPU_ESCAPE_INFO::Flags`, `vgpu::escape`): public wire
//! values, defined here beside the state machine whose phases they encode,
//! and re-exported by the escape's wire format.

/// No migration since creation.
pub const GPUP_VGPU_MIGRATION_IDLE: u32 = 0;
/// `DxgkDdiPrepareLiveMigration(SOURCE)` done.
pub const GPUP_VGPU_MIGRATION_PREPARED_SOURCE: u32 = 1;
/// The immutable data was saved: pre-copy (brownout) runs.
pub const GPUP_VGPU_MIGRATION_SAVING: u32 = 2;
/// The mutable data was saved (in the pause).
pub const GPUP_VGPU_MIGRATION_SAVED: u32 = 3;
/// `DxgkDdiPrepareLiveMigration(TARGET)` done.
pub const GPUP_VGPU_MIGRATION_PREPARED_TARGET: u32 = 4;
/// The immutable data was restored: VRAM pages arrive.
pub const GPUP_VGPU_MIGRATION_RESTORING: u32 = 5;
/// The mutable data was restored.
pub const GPUP_VGPU_MIGRATION_RESTORED: u32 = 6;
/// `DxgkDdiEndLiveMigration` ended the last migration.
pub const GPUP_VGPU_MIGRATION_ENDED: u32 = 7;
