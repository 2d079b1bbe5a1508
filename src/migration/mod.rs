//! The versioned saved-state format of GPU-P live migration: what
//! `DxgkDdiSave{Immutable,Mutable}MigrationData` write on the source and
//! `DxgkDdiRestore{Immutable,Mutable}MigrationData` check and apply on the
//! target. Platform-free, no panics on any input (see [`codec`]).

pub(crate) mod codec;
pub(crate) mod state;
