//! GPU-P live migration of one VF, above the vGPU layer:
//!
//! - the per-VF operations, each on one `crate::vgpu::Vgpu` and the memory
//!   bases of the dirty-tracking layer: `prepare` and `end` here, `save`
//!   (the source side, through `encode`, which writes the blobs straight
//!   from the live state) and `restore` (the target side), over `snapshot`
//!   (what this adapter saves for a VF);
//! - the saved-state format's public API as other crates see it (the
//!   decoder as a library call, the triage event's wire format), defined in
//!   the saved-state layer (`crate::savestate`, below the vGPU layer, which
//!   also holds the per-VF state machine a `Vgpu` carries) and re-exported
//!   here under its public path.

pub(crate) mod caps;
mod encode;
pub(crate) mod restore;
pub(crate) mod save;
mod snapshot;
#[cfg(all(test, not(loom)))]
mod tests;

pub use crate::savestate::triage;
pub use crate::savestate::{BlobKind, DecodeError, inspect, reencode};

use crate::foundation::status::Result;
use crate::savestate::machine::Role;
use crate::vgpu::Vgpu;

/// `DxgkDdiPrepareLiveMigration`.
///
/// # Errors
/// `InvalidDeviceState` while a migration is in progress, or for a VF
/// without VRAM (no reserve bound, or its allocation destroyed under it).
pub(crate) fn prepare(vgpu: &mut Vgpu, role: Role) -> Result<()> {
    vgpu.migratable()?;
    vgpu.migration_mut().prepare(role)
}

/// `DxgkDdiEndLiveMigration`: the VF returns to a non-migrating
/// configuration; the pause stays as it is.
///
/// # Errors
/// `InvalidDeviceState` when no migration is in progress.
pub(crate) fn end(vgpu: &mut Vgpu) -> Result<()> {
    vgpu.migration_mut().end()
}
