//! The adapter-start rules and their sequence, the model's own files
//! (`dxgkrnl-model/src/start/`), included here with `#[path]` as
//! `MANDATORY_SLOTS` is, so that the Wine run refuses what the model refuses:
//! plain `core`, no allocation, no panics.

/// The "always" list, named by `rules` through its parent (as in the
/// model's `start`).
use crate::mandatory_slots::MANDATORY_SLOTS;

#[path = "../../../../dxgkrnl-model/src/start/abi.rs"]
pub mod abi;
#[path = "../../../../dxgkrnl-model/src/start/phases.rs"]
mod phases;
#[path = "../../../../dxgkrnl-model/src/start/rules.rs"]
pub mod rules;
#[path = "../../../../dxgkrnl-model/src/start/sequence.rs"]
pub mod sequence;
#[path = "../../../../dxgkrnl-model/src/start/vidmm.rs"]
mod vidmm;
