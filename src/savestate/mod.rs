//! The GPU-P live-migration saved state, platform-free and below the
//! partitioning layer (it knows no vGPU):
//!
//! - the versioned saved-state format (what
//!   `DxgkDdiSave{Immutable,Mutable}MigrationData` write on the source and
//!   `DxgkDdiRestore{Immutable,Mutable}MigrationData` check and apply on the
//!   target): `codec` (header, records, CRC32C; no panic on any input) and
//!   `state` (the typed contents);
//! - `machine`, the per-VF migration state machine and the pause overlay,
//!   and `phase_code`, its phases as the vGPU escape reports them;
//! - [`triage`], the payload of the `DxgkCbLogEtwEvent` event a rejected
//!   restore reports (public: it is a wire format);
//! - [`inspect`] and [`reencode`], the decoder as a library call, for the
//!   fuzz target and the tests that replay its corpus.
//!
//! The public paths are those of `migration`, which re-exports them.

pub(crate) mod codec;
pub(crate) mod machine;
pub(crate) mod phase_code;
pub(crate) mod state;
pub mod triage;
use alloc::vec::Vec;

pub use codec::DecodeError;
use state::{ImmutableState, MutableState};

/// Which blob a byte string decoded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobKind {
    /// `DxgkDdiSaveImmutableMigrationData`'s.
    Immutable,
    /// `DxgkDdiSaveMutableMigrationData`'s.
    Mutable,
}

/// Decodes `blob` as either kind of migration data, with every check a
/// Restore makes on the format (not the compatibility with an adapter).
///
/// # Errors
/// Why it is not a valid blob: the immutable decoder's error, unless the
/// header says mutable data, then the mutable decoder's.
pub fn inspect(blob: &[u8]) -> Result<BlobKind, DecodeError> {
    match ImmutableState::decode(blob) {
        Ok(_) => Ok(BlobKind::Immutable),
        Err(DecodeError::WrongKind) => MutableState::decode(blob).map(|_| BlobKind::Mutable),
        Err(e) => Err(e),
    }
}

/// Decodes `blob` ([`inspect`]) and encodes what it holds again, in this
/// driver's canonical form (optional records of a newer minor dropped). The
/// canonical form of a blob is a fixed point: `reencode(reencode(b))` equals
/// `reencode(b)`, which the fuzz target checks.
///
/// # Errors
/// As [`inspect`]; `NoMemory` if the copy cannot be allocated.
pub fn reencode(blob: &[u8]) -> Result<(BlobKind, Vec<u8>), DecodeError> {
    fn out(
        kind: BlobKind,
        encode: impl Fn(Option<&mut [u8]>) -> crate::foundation::status::Result<usize>,
    ) -> Result<(BlobKind, Vec<u8>), DecodeError> {
        // A decoded state is within the format's limits: encoding it cannot
        // fail but for memory.
        let n = encode(None).map_err(|_| DecodeError::NoMemory)?;
        let mut bytes =
            crate::foundation::fallible::try_vec(n).map_err(|_| DecodeError::NoMemory)?;
        bytes.resize(n, 0);
        encode(Some(&mut bytes)).map_err(|_| DecodeError::NoMemory)?;
        Ok((kind, bytes))
    }
    match inspect(blob)? {
        BlobKind::Immutable => {
            let state = ImmutableState::decode(blob)?;
            out(BlobKind::Immutable, |o| state.encode(o))
        }
        BlobKind::Mutable => {
            let state = MutableState::decode(blob)?;
            out(BlobKind::Mutable, |o| state.encode(o))
        }
    }
}
